//! Comparing source and destination, with the rules that explain each difference
//! (interrupt state, ID registers, each vCPU's CPU-interface registers).

#[allow(unused_imports)]
use super::*;

// ---- comparing, with the rules that explain each difference -----------------------------------

/// Which part of an interrupt's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IrqField {
    Group,
    Enable,
    Pending,
    Active,
    Priority,
    Config,
    Line,
    Route,
    Vsgi,
}

impl IrqField {
    pub(crate) const ALL: [IrqField; 9] = [
        IrqField::Group,
        IrqField::Enable,
        IrqField::Pending,
        IrqField::Active,
        IrqField::Priority,
        IrqField::Config,
        IrqField::Line,
        IrqField::Route,
        IrqField::Vsgi,
    ];
    pub(crate) fn name(self) -> &'static str {
        match self {
            IrqField::Group => "group",
            IrqField::Enable => "enabled",
            IrqField::Pending => "pending",
            IrqField::Active => "active",
            IrqField::Priority => "priority",
            IrqField::Config => "edge-triggered",
            IrqField::Line => "line level",
            IrqField::Route => "route (Aff2.Aff1.Aff0)",
            IrqField::Vsgi => "hardware vSGI (no active state)",
        }
    }
    /// Bits per IRQ in the register the guest reads it from.
    pub(crate) fn bits(self) -> u32 {
        match self {
            IrqField::Priority => 8,
            IrqField::Config => 2,
            IrqField::Route => 32,
            _ => 1,
        }
    }
    /// The register family's name after `GICD_`/`GICR_`.
    pub(crate) fn family(self) -> Option<&'static str> {
        Some(match self {
            IrqField::Group => "IGROUPR",
            IrqField::Enable => "ISENABLER",
            IrqField::Pending => "ISPENDR",
            IrqField::Active => "ISACTIVER",
            IrqField::Priority => "IPRIORITYR",
            IrqField::Config => "ICFGR",
            IrqField::Route => "IROUTER",
            IrqField::Line | IrqField::Vsgi => return None,
        })
    }
    pub(crate) fn value(self, v: &IrqView) -> u64 {
        match self {
            IrqField::Group => v.group as u64,
            IrqField::Enable => v.enabled as u64,
            IrqField::Pending => v.pending as u64,
            IrqField::Active => v.active as u64,
            IrqField::Priority => v.priority as u64,
            IrqField::Config => (v.edge as u64) << 1,
            IrqField::Line => v.line as u64,
            IrqField::Route => v.route as u64,
            IrqField::Vsgi => v.vsgi as u64,
        }
    }
    /// The KVM handlers whose writes decide this field.
    pub(crate) fn handlers(self) -> &'static [Handler] {
        match self {
            IrqField::Group => &[Handler::Group],
            IrqField::Enable => &[Handler::SetEnable, Handler::ClearEnable],
            IrqField::Pending => &[Handler::SetPending, Handler::ClearPending],
            IrqField::Active => &[Handler::SetActive, Handler::ClearActive],
            IrqField::Priority => &[Handler::Priority],
            IrqField::Config => &[Handler::Config],
            IrqField::Route => &[Handler::Irouter],
            IrqField::Line => &[],
            IrqField::Vsgi => &[Handler::DistCtlr],
        }
    }
}

/// The INTIDs a log entry's accesses covered, with the handler they reached.
pub(crate) fn entry_span(e: &LogEntry) -> Option<(Option<Handler>, u32, u32)> {
    match e.target? {
        Target::LevelInfo => Some((None, e.offset, e.offset + 32 * e.repeat)),
        Target::CpuSysreg => None,
        t => {
            let frame = t.frame()?;
            let d = catalogue::find_by_offset(frame, e.offset)?;
            match d.per_irq {
                Some(p) => {
                    let first = d.intid_at(e.offset)?;
                    let per_word = 32 / p.bits_per_irq as u32;
                    let n = if d.handler == Handler::Irouter {
                        // Two words per IRQ; the upper one decides nothing.
                        e.repeat.div_ceil(2) + u32::from(!e.offset.is_multiple_of(8))
                    } else {
                        per_word.max(1) * e.repeat
                    };
                    Some((Some(d.handler), first, first + n.max(1)))
                }
                None => Some((Some(d.handler), 0, 0)),
            }
        }
    }
}

pub(crate) fn useful_rule(id: &str) -> bool {
    id != r::UACCESS_HANDLER.id && id != r::MIGRATE_REFUSED.id
}

/// The rules of the log entries that wrote `field` of `intids` (SPIs: `vcpu` None).
pub(crate) fn attribute(
    log: &[LogEntry],
    field: IrqField,
    vcpu: Option<u32>,
    intids: &[u32],
) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    let mut family_quirks: Vec<&'static str> = Vec::new();
    let spi = vcpu.is_none();
    for e in log {
        let Some(t) = e.target else {
            if field == IrqField::Vsgi {
                out.extend(e.rules.iter().filter(|x| x.starts_with("vsgi.")));
            }
            continue;
        };
        let (handler, lo, hi) = match entry_span(e) {
            Some(s) => s,
            None => continue,
        };
        let frame_ok = match t {
            Target::Dist => spi || field == IrqField::Vsgi,
            Target::Redist => !spi && Some(e.vcpu) == vcpu,
            Target::LevelInfo => field == IrqField::Line && (spi || Some(e.vcpu) == vcpu),
            Target::CpuSysreg | Target::Its => false,
        };
        if !frame_ok {
            continue;
        }
        let relevant = match handler {
            None => field == IrqField::Line,
            Some(h) => field.handlers().contains(&h),
        };
        if !relevant {
            continue;
        }
        family_quirks.extend(e.rules.iter().filter(|x| x.starts_with("vmm.")));
        let covers = field == IrqField::Vsgi || intids.iter().any(|i| (lo..hi).contains(i));
        if covers {
            out.extend(e.rules.iter().copied().filter(|x| useful_rule(x)));
        }
    }
    if out.is_empty() {
        out.push(r::VMM_NOT_RESTORED.id);
        out.extend(family_quirks);
    }
    dedup(&mut out);
    out
}

pub(crate) fn dedup(v: &mut Vec<&'static str>) {
    let mut seen = BTreeSet::new();
    v.retain(|x| seen.insert(*x));
}

pub(crate) fn list(intids: &[u32]) -> String {
    let s: Vec<String> = intids.iter().map(|i| i.to_string()).collect();
    if intids.len() == 1 {
        format!("INTID {}", s[0])
    } else {
        format!("INTIDs {}", s.join(", "))
    }
}

/// A bank of interrupts to compare: (vCPU for private ones, source, destination, first INTID).
pub(crate) type Bank<'a> = (Option<u32>, &'a [IrqView], &'a [IrqView], u32);

/// Compare the interrupt state, word by word as the guest would read it.
pub(crate) fn state_differences(
    src: &GuestView,
    dst: &GuestView,
    log: Option<&[LogEntry]>,
) -> Vec<Difference> {
    let mut out = Vec::new();
    let attr = |field: IrqField, vcpu: Option<u32>, intids: &[u32]| -> Vec<&'static str> {
        let mut rules = match log {
            Some(l) => attribute(l, field, vcpu, intids),
            None => Vec::new(),
        };
        rules.push(r::MIGRATE_STATE_CHANGED.id);
        rules
    };
    let flag = |name: &str,
                subject: Subject,
                a: bool,
                b: bool,
                rules: Vec<&'static str>,
                out: &mut Vec<Difference>| {
        if a != b {
            out.push(Difference {
                subject,
                kind: DiffKind::StateChanged,
                register: "GICD_CTLR".into(),
                field: name.into(),
                source: a as u64,
                destination: b as u64,
                reason: format!(
                    "GICD_CTLR.{name} was {} at save and is {} on the destination",
                    a as u8, b as u8
                ),
                rules,
            });
        }
    };
    let ctlr_rules = |log: Option<&[LogEntry]>| -> Vec<&'static str> {
        let mut v: Vec<&'static str> = log
            .unwrap_or(&[])
            .iter()
            .filter(|e| e.target == Some(Target::Dist) && e.offset == 0)
            .flat_map(|e| e.rules.iter().copied().filter(|x| useful_rule(x)))
            .collect();
        if v.is_empty() && log.is_some() {
            v.push(r::VMM_NOT_RESTORED.id);
        }
        v.push(r::MIGRATE_STATE_CHANGED.id);
        dedup(&mut v);
        v
    };
    flag(
        "EnableGrp1",
        Subject::DistEnable,
        src.enabled,
        dst.enabled,
        ctlr_rules(log),
        &mut out,
    );
    flag(
        "nASSGIreq",
        Subject::NassgiReq,
        src.nassgireq,
        dst.nassgireq,
        ctlr_rules(log),
        &mut out,
    );

    // Per-IRQ state: SPIs, then each vCPU's SGIs and PPIs.
    // The arch timer drives its PPIs' lines from the timer registers, which a
    // VMM restores on their own (KVM_REG_ARM_TIMER_*, not modelled): their
    // line level (and the pending state a level line makes) is the timer's,
    // not vGIC state to compare.
    let timer_free = |bank: &[IrqView]| -> Vec<IrqView> {
        let mut bank = bank.to_vec();
        for intid in crate::delivery::TIMER_PPIS {
            if let Some(s) = bank.get_mut(intid as usize) {
                if !s.edge {
                    s.line = false;
                    s.pending = false;
                }
            }
        }
        bank
    };
    let private: Vec<(Vec<IrqView>, Vec<IrqView>)> = (0..src.private.len().min(dst.private.len()))
        .map(|v| (timer_free(&src.private[v]), timer_free(&dst.private[v])))
        .collect();
    let mut banks: Vec<Bank> = vec![(None, &src.spis, &dst.spis, NR_PRIVATE_IRQS)];
    for (v, (a, b)) in private.iter().enumerate() {
        banks.push((Some(v as u32), a, b, 0));
    }
    for (vcpu, a, b, base) in banks {
        if a == b {
            continue;
        }
        for field in IrqField::ALL {
            if field == IrqField::Route && vcpu.is_some()
                || field == IrqField::Vsgi && vcpu.is_none()
            {
                continue;
            }
            let per_word = (32 / field.bits()).max(1);
            let n = a.len().min(b.len()) as u32;
            let mut i = 0;
            while i < n {
                let word_first = (base + i) / per_word * per_word;
                let mut sa = 0u64;
                let mut sb = 0u64;
                let mut changed = Vec::new();
                let mut j = i;
                while j < n && (base + j) / per_word * per_word == word_first {
                    let (x, y) = (field.value(&a[j as usize]), field.value(&b[j as usize]));
                    let shift = ((base + j) % per_word) * field.bits();
                    if field != IrqField::Route {
                        sa |= x << shift;
                        sb |= y << shift;
                    } else {
                        sa = x;
                        sb = y;
                    }
                    if x != y {
                        changed.push(base + j);
                    }
                    j += 1;
                }
                i = j;
                if changed.is_empty() {
                    continue;
                }
                let index = word_first / per_word;
                let register = match (field.family(), vcpu) {
                    (Some(fam), None) => format!("GICD_{fam}{index}"),
                    (Some(fam), Some(v)) => {
                        let fam = match fam {
                            "IPRIORITYR" => format!("IPRIORITYR{index}"),
                            "ICFGR" => format!("ICFGR{index}"),
                            f => format!("{f}0"),
                        };
                        format!("GICR_{fam}@vcpu{v}")
                    }
                    (None, None) => format!("LEVEL_INFO[{}]", word_first / 32 * 32),
                    (None, Some(v)) if field == IrqField::Line => format!("LEVEL_INFO[0]@vcpu{v}"),
                    (None, Some(v)) => format!("SGIs@vcpu{v}"),
                };
                let reason = format!(
                    "{} of {} was {} at save and is {} on the destination",
                    field.name(),
                    list(&changed),
                    render(field, sa),
                    render(field, sb)
                );
                out.push(Difference {
                    subject: Subject::Irq { field, vcpu },
                    kind: DiffKind::StateChanged,
                    register,
                    field: format!("{}: {}", field.name(), list(&changed)),
                    source: sa,
                    destination: sb,
                    rules: attr(field, vcpu, &changed),
                    reason,
                });
            }
        }
    }
    // Each vCPU's CPU interface (KVM_DEV_ARM_VGIC_GRP_CPU_SYSREGS).
    for (v, (a, b)) in src.cpuifs.iter().zip(&dst.cpuifs).enumerate() {
        let fields: [(&str, u32, &str, u64, u64); 8] = [
            (
                "ICC_PMR_EL1",
                ICC_PMR_EL1,
                "priority mask",
                a.pmr.into(),
                b.pmr.into(),
            ),
            (
                "ICC_IGRPEN1_EL1",
                ICC_IGRPEN1_EL1,
                "Group 1 enable",
                a.igrpen1.into(),
                b.igrpen1.into(),
            ),
            (
                "ICC_CTLR_EL1",
                ICC_CTLR_EL1,
                "EOImode",
                a.eoimode.into(),
                b.eoimode.into(),
            ),
            (
                "ICC_AP1R0_EL1",
                ICC_AP1R0_EL1,
                "active priorities",
                a.ap1r0.into(),
                b.ap1r0.into(),
            ),
            (
                "ICC_IGRPEN0_EL1",
                ICC_IGRPEN0_EL1,
                "Group 0 enable",
                a.igrpen0.into(),
                b.igrpen0.into(),
            ),
            (
                "ICC_BPR0_EL1",
                ICC_BPR0_EL1,
                "Group 0 binary point",
                a.bpr0.into(),
                b.bpr0.into(),
            ),
            (
                "ICC_BPR1_EL1",
                ICC_BPR1_EL1,
                "Group 1 binary point",
                a.bpr1.into(),
                b.bpr1.into(),
            ),
            (
                "ICC_AP0R0_EL1",
                ICC_AP0R0_EL1,
                "Group 0 active priorities",
                a.ap0r0.into(),
                b.ap0r0.into(),
            ),
        ];
        for (name, id, what, x, y) in fields {
            if x == y {
                continue;
            }
            out.push(Difference {
                subject: Subject::CpuIf {
                    vcpu: v as u32,
                    sysreg: id,
                },
                kind: DiffKind::StateChanged,
                register: format!("{name}@vcpu{v}"),
                field: what.into(),
                source: x,
                destination: y,
                rules: sysreg_rules(log, v as u32, id),
                reason: format!(
                    "vCPU {v}'s {what} ({name}) was {x:#x} at save and is {y:#x} on the destination"
                ),
            });
        }
    }
    // LPIs and their tables.
    for (v, (a, b)) in src.lpis.iter().zip(&dst.lpis).enumerate() {
        if a != b {
            out.push(Difference {
                subject: Subject::EnableLpis { vcpu: v as u32 },
                kind: DiffKind::StateChanged,
                register: format!("GICR_CTLR@vcpu{v}"),
                field: "EnableLPIs".into(),
                source: *a as u64,
                destination: *b as u64,
                rules: ctlr_like(log, Target::Redist, v as u32, 0),
                reason: format!(
                    "EnableLPIs of vCPU {v} was {} at save and is {} on the destination",
                    *a as u8, *b as u8
                ),
            });
        }
    }
    // A never-programmed LPI table base is not guest state (see GuestView::shown_by).
    if src.propbaser != dst.propbaser && src.propbaser != 0 {
        out.push(Difference {
            subject: Subject::LpiTables,
            kind: DiffKind::StateChanged,
            register: "GICR_PROPBASER".into(),
            field: "value".into(),
            source: src.propbaser,
            destination: dst.propbaser,
            rules: ctlr_like(log, Target::Redist, 0, GicrPropbaser::OFFSET),
            reason: format!("the LPI configuration table base was {:#x} at save and is {:#x} on the destination", src.propbaser, dst.propbaser),
        });
    }
    for (v, (a, b)) in src.pendbaser.iter().zip(&dst.pendbaser).enumerate() {
        if a != b && *a != 0 {
            out.push(Difference {
                subject: Subject::LpiTables,
                kind: DiffKind::StateChanged,
                register: format!("GICR_PENDBASER@vcpu{v}"),
                field: "value".into(),
                source: *a,
                destination: *b,
                rules: ctlr_like(log, Target::Redist, v as u32, GicrPendbaser::OFFSET),
                reason: format!("vCPU {v}'s LPI pending table base was {a:#x} at save and is {b:#x} on the destination"),
            });
        }
    }
    out
}

/// The rules of the replay's accesses to CPU-interface register `id` of `vcpu`.
pub(crate) fn sysreg_rules(log: Option<&[LogEntry]>, vcpu: u32, id: u32) -> Vec<&'static str> {
    let mut v: Vec<&'static str> = log
        .unwrap_or(&[])
        .iter()
        .filter(|e| e.target == Some(Target::CpuSysreg) && e.vcpu == vcpu && e.offset == id)
        .flat_map(|e| e.rules.iter().copied().filter(|x| useful_rule(x)))
        .collect();
    if v.is_empty() && log.is_some() {
        v.push(r::VMM_NOT_RESTORED.id);
    }
    v.push(r::MIGRATE_STATE_CHANGED.id);
    dedup(&mut v);
    v
}

pub(crate) fn ctlr_like(
    log: Option<&[LogEntry]>,
    t: Target,
    vcpu: u32,
    off: u32,
) -> Vec<&'static str> {
    let mut v: Vec<&'static str> = log
        .unwrap_or(&[])
        .iter()
        .filter(|e| e.target == Some(t) && e.vcpu == vcpu && e.offset & !7 == off)
        .flat_map(|e| e.rules.iter().copied().filter(|x| useful_rule(x)))
        .collect();
    if v.is_empty() && log.is_some() {
        v.push(r::VMM_NOT_RESTORED.id);
    }
    v.push(r::MIGRATE_STATE_CHANGED.id);
    dedup(&mut v);
    v
}

pub(crate) fn render(field: IrqField, v: u64) -> String {
    match field {
        IrqField::Priority | IrqField::Route => format!("{v:#x}"),
        _ if v <= 1 => v.to_string(),
        _ => format!("{v:#x}"),
    }
}

/// Compare ID registers: changes, and capabilities that appeared.
pub(crate) fn id_differences(
    src: &SourceSnapshot,
    dst: &Vgic,
    log: Option<&[LogEntry]>,
) -> Vec<Difference> {
    let mut out = Vec::new();
    for (id, sv) in &src.ids {
        let dv = id.peek(dst);
        if dv == *sv {
            continue;
        }
        let rr = catalogue::lookup(&id.name).ok();
        let fields: Vec<String> = match rr {
            Some(rr) => {
                let a = catalogue::decode(&rr, *sv);
                let b = catalogue::decode(&rr, dv);
                a.iter()
                    .zip(&b)
                    .filter(|(x, y)| x.value != y.value)
                    .map(|(x, y)| format!("{} {:#x} -> {:#x}", x.name, x.value, y.value))
                    .collect()
            }
            None => vec![],
        };
        let appeared = dv & !sv != 0 && sv & !dv == 0;
        let mut rules: Vec<&'static str> = Vec::new();
        if let Some(log) = log {
            // Writes to this register, or, for GICR_CTLR.IR/CES, to GICD_IIDR (the revision).
            let iidr_dependent = id.frame == Frame::Redist && id.offset == GicrCtlr::OFFSET;
            for e in log {
                let hit = e.target.and_then(|t| t.frame()) == Some(id.frame)
                    && e.offset == id.offset
                    && (id.frame == Frame::Dist || e.vcpu == id.vcpu);
                let iidr = iidr_dependent
                    && e.target == Some(Target::Dist)
                    && e.offset == GicdIidr::OFFSET;
                if (hit || iidr) && e.action == vmm::Action::Write {
                    rules.extend(e.rules.iter().copied().filter(|x| useful_rule(x)));
                }
            }
            if rules.is_empty() {
                rules.push(r::VMM_NOT_RESTORED.id);
            }
        }
        // What the destination presents, and why (the model's read rule).
        let mut probe = dst.clone();
        if let Ok(o) = probe.guest_read(id.frame, id.vcpu, id.offset, id.width) {
            rules.extend(o.rules.iter().map(|x| x.id).filter(|x| useful_rule(x)));
        }
        rules.push(if appeared {
            r::MIGRATE_CAPABILITY_APPEARED.id
        } else {
            r::MIGRATE_ID_CHANGED.id
        });
        dedup(&mut rules);
        let what = if fields.is_empty() {
            "value".to_string()
        } else {
            fields.join(", ")
        };
        let reason = if appeared {
            format!(
                "{} read {sv:#x} on the source and reads {dv:#x} on the destination ({what}): a capability appears; KVM keeps guest-visible ID values fixed across migration, and a guest that reboots here may start using it and can then no longer migrate back",
                id.key
            )
        } else {
            format!(
                "{} read {sv:#x} on the source and reads {dv:#x} on the destination ({what})",
                id.key
            )
        };
        out.push(Difference {
            subject: Subject::IdRegister {
                frame: id.frame,
                vcpu: id.vcpu,
                offset: id.offset,
            },
            kind: if appeared {
                DiffKind::CapabilityAppeared
            } else {
                DiffKind::IdChanged
            },
            register: id.key.clone(),
            field: what,
            source: *sv,
            destination: dv,
            rules,
            reason,
        });
    }
    out
}

/// Every difference the guest could see on `dst`, explained from `log` where given.
pub fn differences(
    src: &SourceSnapshot,
    dst: &Vgic,
    dst_view: &GuestView,
    log: Option<&[LogEntry]>,
) -> Vec<Difference> {
    let mut d = id_differences(src, dst, log);
    if !src.view.shown_by(dst_view) {
        d.extend(state_differences(&src.view, dst_view, log));
        if let (Some(a), Some(b)) = (&src.view.its, &dst_view.its) {
            d.extend(its::differences(a, b, log));
        }
    }
    d
}

// ---- suggestions ------------------------------------------------------------------------------

// Suggestions are structured fixes, each verified by a replay: see `fix.rs`.

impl Recipe {
    /// Whether the restore sequence restores line levels.
    pub fn restore_uses_level_info(&self) -> bool {
        fn walk(ops: &[vmm::Op]) -> bool {
            ops.iter().any(|op| match op {
                vmm::Op::Write(vmm::Access::PrivateLevels | vmm::Access::SpiLevels, _) => true,
                vmm::Op::ForEachVcpu(i)
                | vmm::Op::PreInit(i)
                | vmm::Op::Quirk { ops: i, .. }
                | vmm::Op::Seq(i) => walk(i),
                vmm::Op::IfSet { then, .. } => walk(then),
                _ => false,
            })
        }
        walk(self.restore)
    }
    /// Whether a sequence sweeps whole frames (the audit counts no-region words for those).
    pub fn sweeps(&self) -> bool {
        fn walk(ops: &[vmm::Op]) -> bool {
            ops.iter().any(|op| match op {
                vmm::Op::Read(vmm::Access::Sweep { .. })
                | vmm::Op::Write(vmm::Access::Sweep { .. }, _) => true,
                vmm::Op::ForEachVcpu(i)
                | vmm::Op::PreInit(i)
                | vmm::Op::Quirk { ops: i, .. }
                | vmm::Op::Seq(i) => walk(i),
                vmm::Op::IfSet { then, .. } => walk(then),
                _ => false,
            })
        }
        walk(self.restore) || walk(self.save)
    }
}
