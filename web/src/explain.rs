//! What a logged step's failure means for the VM, in words for people, and
//! how to get back: the lifecycle errors a user meets by poking in the wrong
//! order. A guest instruction runs only inside `KVM_RUN`, so a guest step
//! before the first run is that run (`scenario::run_step`, as on real KVM);
//! before `KVM_DEV_ARM_VGIC_CTRL_INIT` it fails with -EBUSY, and on kernels
//! with `kernels::VM_DEAD_ON_MAP_FAILURE` the VM is dead from then on.

use gicx_core::errno::Errno;
use gicx_core::rules::{Rule, RUN_BEFORE_INIT, VM_DEAD};
use gicx_core::scenario::{RegStep, SgiTargets, Step, StepReport};
use gicx_core::vgic::Outcome;

use crate::session::Session;

/// Why a step failed, and the undo that recovers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Explanation {
    pub text: String,
    /// The undo position that recovers (the number of steps to keep applied),
    /// when undoing is the way back.
    pub recover_to: Option<usize>,
}

impl Explanation {
    /// The recover button's label.
    pub fn recover_label(&self) -> Option<String> {
        self.recover_to.map(|n| match n {
            0 => "Undo it (back to a fresh VM)".to_string(),
            n => format!("Undo back to after step {n}"),
        })
    }
}

fn has(o: &Outcome, rule: &Rule) -> bool {
    o.rules.iter().any(|r| r.id == rule.id)
}

/// Whether this report is the failed first `KVM_RUN` that killed the VM.
fn killed_the_vm(r: &StepReport) -> bool {
    r.outcome.as_ref().is_some_and(|o| {
        o.errno == Some(Errno::EBUSY) && has(o, &RUN_BEFORE_INIT) && has(o, &VM_DEAD)
    })
}

/// The explanation of applied step `index` of `session`, if its outcome is a
/// lifecycle failure worth one.
pub fn explain(session: &Session, index: usize) -> Option<Explanation> {
    let reports = &session.replay().reports;
    let report = reports.get(index)?;
    let o = report.outcome.as_ref()?;
    let step = session.steps().get(index)?;
    let kernel = session.host().kernel;
    if o.errno == Some(Errno::EBUSY) && has(o, &RUN_BEFORE_INIT) {
        let what = if step.executes_in_guest() {
            "A guest instruction runs only inside KVM_RUN, so this guest step was the VM's \
             first KVM_RUN, and that failed with -EBUSY: the vGIC was never initialised \
             (Init, KVM_DEV_ARM_VGIC_CTRL_INIT). The guest's access never happened."
        } else {
            "The first KVM_RUN failed with -EBUSY: the vGIC was never initialised \
             (Init, KVM_DEV_ARM_VGIC_CTRL_INIT)."
        };
        return Some(if has(o, &VM_DEAD) {
            Explanation {
                text: format!(
                    "{what} On this kernel ({kernel}; 6.12 and later, and stable kernels with \
                     the backport) that failure kills the VM (kvm_vm_dead): every later step \
                     returns -EIO. To recover, undo this step, then Init before the guest runs."
                ),
                recover_to: Some(index),
            }
        } else {
            Explanation {
                text: format!(
                    "{what} This kernel ({kernel}, before 6.12) leaves the VM usable: Init, \
                     then try again."
                ),
                recover_to: None,
            }
        });
    }
    if o.errno == Some(Errno::EIO) && has(o, &VM_DEAD) {
        let died = reports[..index].iter().position(|r| killed_the_vm(r));
        return Some(match died {
            Some(d) => Explanation {
                text: format!(
                    "The VM has been dead since step {} (its first KVM_RUN failed before Init, \
                     kvm_vm_dead): every ioctl returns -EIO before reaching the vGIC. To \
                     recover, undo back to before step {}.",
                    d + 1,
                    d + 1
                ),
                recover_to: Some(d),
            },
            None => Explanation {
                text: "The VM is dead (kvm_vm_dead): every ioctl returns -EIO before reaching \
                       the vGIC."
                    .into(),
                recover_to: None,
            },
        });
    }
    None
}

/// The step at which the session's VM died, if it is dead.
pub fn died_at(session: &Session) -> Option<usize> {
    if !session.vgic().is_dead() {
        return None;
    }
    session
        .replay()
        .reports
        .iter()
        .position(|r| killed_the_vm(r))
}

/// The end of an SGI's path, for each target vCPU, as the VM is now: whether
/// the vCPU takes it and, if not, what stops it and what to change; and why the
/// software path rather than GICv4.1's hardware vSGIs.
pub fn sgi_outcome(session: &Session, index: usize) -> Vec<String> {
    use gicx_core::delivery::DeliveryPath;
    let Some(Step::Sgi(sgi)) = session.steps().get(index) else {
        return Vec::new();
    };
    let vm = session.vgic();
    if vm.is_dead() {
        return vec![
            "Not delivered: the VM is dead (kvm_vm_dead); undo to before the step that killed it."
                .into(),
        ];
    }
    let vcpus = session.vm().vcpus;
    let targets: Vec<u32> = match &sgi.targets {
        SgiTargets::Others => (0..vcpus).filter(|&v| v != sgi.from).collect(),
        SgiTargets::List(v) => v.clone(),
    };
    let n = sgi.intid;
    let mut lines = Vec::new();
    let mut software = false;
    for v in targets {
        let path = vm.sgi_path(v, n);
        software |= path == DeliveryPath::Software;
        let line = if path == DeliveryPath::Hardware {
            if vm.is_pending_anywhere(v, n) {
                format!("vCPU {v}: delivered by the GICv4.1 hardware (a vSGI, pending at its vPE): KVM took no part.")
            } else {
                format!("vCPU {v}: not pending now (already taken, or never set).")
            }
        } else {
            software_line(
                vm,
                v,
                n,
                &format!("GICR_ISENABLER0 bit {n} of vCPU {v}"),
                "GICR_ISENABLER0",
                v,
            )
        };
        lines.push(line);
    }
    if software {
        let host = session.host();
        let why = if !host.has_gicv4_1() {
            format!(
                "the host ({}) has no GICv4.1 that KVM uses, so SGIs always go through KVM",
                host.compact()
            )
        } else if !host.system_supports_direct_sgis() {
            "the host's CPU interface has no vSGI support".to_string()
        } else if !vm.state().dist.nassgireq {
            "GICD_CTLR.nASSGIreq = 0: the guest has not asked for hardware vSGIs. To change: the guest sets GICD_CTLR.nASSGIreq (bit 8) while the distributor is disabled".to_string()
        } else {
            "this SGI is not backed by a vSGI".to_string()
        };
        lines.push(format!(
            "Software path (KVM's ap_list and list registers), not hardware: {why}."
        ));
    }
    lines
}

/// Where interrupt `n` stands on vCPU `v`'s software path (KVM's ap_list and
/// list registers), with what stops it and what to change. `enable` names its
/// enable bit for people; `enable_reg`/`reg_vcpu` read it back.
fn software_line(
    vm: &gicx_core::vgic::Vgic,
    v: u32,
    n: u32,
    enable: &str,
    enable_reg: &str,
    reg_vcpu: u32,
) -> String {
    use gicx_core::cpuif::Verdict;
    let what = if n < 16 { "SGI" } else { "INTID" };
    if let Some(lr) = vm.list_registers(v).into_iter().find(|lr| lr.intid == n) {
        let cpuif = vm.cpuif(v).cloned().unwrap_or_default();
        if lr.active && !lr.pending {
            return format!(
                "vCPU {v}: taken (active in list register {}); it ends with an EOI.",
                lr.index
            );
        }
        return match cpuif.admit_in(lr.priority, lr.group) {
            Verdict::Signalled => format!(
                "vCPU {v}: delivered: {what} {n} is in list register {} and the vCPU takes it at its next ICC_IAR{}_EL1 read.",
                lr.index,
                lr.group as u8
            ),
            Verdict::Group0Disabled => format!(
                "vCPU {v}: pending in list register {} but not signalled: it is Group 0 (GICD_IGROUPR/GICR_IGROUPR0 bit clear) and ICC_IGRPEN0_EL1 = 0. To change: the guest writes 1 to ICC_IGRPEN0_EL1, or puts the interrupt in Group 1.",
                lr.index
            ),
            Verdict::GroupDisabled => format!(
                "vCPU {v}: pending in list register {} but not signalled: ICC_IGRPEN1_EL1 = 0 (the guest has not enabled Group 1 interrupts). To change: the guest writes 1 to ICC_IGRPEN1_EL1.",
                lr.index
            ),
            Verdict::MaskedByPmr { priority, pmr } => format!(
                "vCPU {v}: pending but masked: its priority {priority:#x} is not higher than ICC_PMR_EL1 = {pmr:#x}. To change: the guest raises ICC_PMR_EL1 (e.g. 0xf0) or gives the interrupt a higher priority (a lower IPRIORITYR value)."
            ),
            Verdict::NotAboveRunning { group_priority, running } => format!(
                "vCPU {v}: pending, waiting: its group priority {group_priority:#x} is not higher than the running priority {running:#x}. It is taken once the active interrupt ends (EOI)."
            ),
        };
    }
    if !vm.is_pending_anywhere(v, n) {
        return format!("vCPU {v}: not pending now (already taken, or never set).");
    }
    let enabled = gicx_core::catalogue::lookup(enable_reg)
        .ok()
        .and_then(|r| gicx_core::readback::read_back(vm, &r, reg_vcpu).guest)
        .is_none_or(|bits| bits >> (n % 32) & 1 == 1);
    if !vm.state().dist.enabled {
        format!("vCPU {v}: pending but not forwarded: the distributor is disabled (GICD_CTLR.EnableGrp1A = 0). To change: the guest sets it (writes 0x12 to GICD_CTLR).")
    } else if !enabled {
        format!("vCPU {v}: pending but not forwarded: {what} {n} is disabled ({enable} is 0). To change: the guest sets that bit.")
    } else {
        format!("vCPU {v}: pending; KVM puts it in a list register when the vCPU next enters the guest.")
    }
}

/// The end of an SPI's path as the VM is now: the vCPU it reached and whether
/// it takes it, or where it stops and what to change.
pub fn spi_outcome(session: &Session, index: usize) -> Vec<String> {
    let Some(Step::IrqLine(line)) = session.steps().get(index) else {
        return Vec::new();
    };
    let vm = session.vgic();
    if vm.is_dead() {
        return vec![
            "Not delivered: the VM is dead (kvm_vm_dead); undo to before the step that killed it."
                .into(),
        ];
    }
    let n = line.intid;
    if n < 32 {
        return Vec::new();
    }
    let vcpus = session.vm().vcpus;
    if let Some(v) = (0..vcpus).find(|&v| vm.list_registers(v).iter().any(|lr| lr.intid == n)) {
        return vec![software_line(vm, v, n, "", "", 0)];
    }
    if !vm.is_pending_anywhere(0, n) {
        return vec![if line.level {
            format!("INTID {n}: not pending now (already taken, or its line went low).")
        } else {
            format!("INTID {n}: not pending: its line is low. To change: raise it (Level high).")
        }];
    }
    let reg = format!("GICD_ISENABLER{}", n / 32);
    vec![
        software_line(vm, 0, n, &format!("{reg} bit {}", n % 32), &reg, 0).replacen(
            "vCPU 0: ",
            &format!("INTID {n}: "),
            1,
        ),
    ]
}

/// A message from the core or serde as a person should read it: no Markdown
/// backticks, no Rust type names ("expected struct HostSpec" → "expected an
/// object").
pub fn plain(message: &str) -> String {
    let mut out = message.replace('`', "");
    for (rust, words) in [
        ("expected struct ", "expected an object"),
        ("expected enum ", "expected one of the names allowed here"),
    ] {
        while let Some(at) = out.find(rust) {
            let rest = &out[at + rust.len()..];
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            out = format!("{}{}{}", &out[..at], words, &rest[end..]);
        }
    }
    for (rust, words) in [
        ("expected u8", "expected a whole number (0–255)"),
        ("expected u16", "expected a whole number (0–65535)"),
        ("expected u32", "expected a whole number"),
        ("expected u64", "expected a whole number"),
        ("expected a boolean", "expected true or false"),
    ] {
        out = out.replace(rust, words);
    }
    out
}

/// A step in words, without running it: what the Log shows for undone steps
/// and the lessons use as a step's title.
pub fn title(step: &Step) -> String {
    fn reg(r: &RegStep) -> String {
        match (&r.reg, r.offset) {
            (Some(name), _) => name.clone(),
            (None, Some(off)) => format!(
                "offset {:#06x} of the {}",
                off.0,
                r.frame.map(|f| f.as_str()).unwrap_or("distributor")
            ),
            (None, None) => "a register".into(),
        }
    }
    fn vcpu(v: Option<u32>) -> String {
        v.map(|v| format!(" (vCPU {v})")).unwrap_or_default()
    }
    fn value(v: Option<gicx_core::scenario::Num>) -> String {
        v.map(|v| format!("{:#x}", v.0))
            .unwrap_or_else(|| "a value".into())
    }
    match step {
        Step::GuestRead(r) => format!("The guest reads {}{}", reg(r), vcpu(r.vcpu)),
        Step::GuestWrite(r) => format!(
            "The guest writes {} to {}{}",
            value(r.value),
            reg(r),
            vcpu(r.vcpu)
        ),
        Step::UserRead(r) => format!(
            "The VMM reads {}{} (KVM_GET_DEVICE_ATTR)",
            reg(r),
            vcpu(r.vcpu)
        ),
        Step::UserWrite(r) => format!(
            "The VMM writes {} to {}{} (KVM_SET_DEVICE_ATTR)",
            value(r.value),
            reg(r),
            vcpu(r.vcpu)
        ),
        Step::UserHas(r) => format!(
            "The VMM asks whether KVM has {}{} (KVM_HAS_DEVICE_ATTR)",
            reg(r),
            vcpu(r.vcpu)
        ),
        Step::Init(_) => "Initialise the vGIC (KVM_DEV_ARM_VGIC_CTRL_INIT)".into(),
        Step::Run(_) => "Run the vCPUs for the first time (KVM_RUN)".into(),
        Step::LevelInfoRead(l) => format!(
            "The VMM reads the line levels of INTIDs {}–{}{} (LEVEL_INFO)",
            l.intid,
            l.intid + 31,
            vcpu(l.vcpu)
        ),
        Step::LevelInfoWrite(l) => format!(
            "The VMM sets the line levels of INTIDs {}–{} to {}{} (LEVEL_INFO)",
            l.intid,
            l.intid + 31,
            value(l.value),
            vcpu(l.vcpu)
        ),
        Step::CpuSysregsRead(c) => format!("The VMM reads {}{} (CPU_SYSREGS)", c.reg, vcpu(c.vcpu)),
        Step::CpuSysregsWrite(c) => format!(
            "The VMM writes {} to {}{} (CPU_SYSREGS)",
            value(c.value),
            c.reg,
            vcpu(c.vcpu)
        ),
        Step::Migrate(m) => format!("Migrate the VM to {} with {}", m.to.0.compact(), m.vmm),
        Step::Sgi(s) => format!(
            "vCPU {} sends SGI {} to {}",
            s.from,
            s.intid,
            match &s.targets {
                SgiTargets::Others => "every other vCPU".to_string(),
                SgiTargets::List(v) if v.len() == 1 => format!("vCPU {}", v[0]),
                SgiTargets::List(v) => format!(
                    "vCPUs {}",
                    v.iter().map(u32::to_string).collect::<Vec<_>>().join(", ")
                ),
            }
        ),
        Step::IrqLine(l) => format!(
            "The VMM {} the line of INTID {}{} (KVM_IRQ_LINE)",
            if l.level { "raises" } else { "lowers" },
            l.intid,
            vcpu(l.vcpu)
        ),
        Step::Ack(a) => format!(
            "vCPU {} acknowledges its highest-priority pending interrupt (ICC_IAR1_EL1)",
            a.vcpu
        ),
        Step::Eoi(e) => format!("vCPU {} ends interrupt {} (ICC_EOIR1_EL1)", e.vcpu, e.intid),
        Step::Deactivate(e) => format!(
            "vCPU {} deactivates interrupt {} (ICC_DIR_EL1)",
            e.vcpu, e.intid
        ),
        Step::Schedule(s) if s.resident => format!("vCPU {} is scheduled onto a CPU", s.vcpu),
        Step::Schedule(s) => format!(
            "vCPU {} leaves its CPU ({})",
            s.vcpu,
            if s.wfi.unwrap_or(true) {
                "blocked in WFI"
            } else {
                "preempted"
            }
        ),
        Step::SysregRead(s) => format!("vCPU {} reads {}", s.vcpu, s.reg),
        Step::SysregWrite(s) => format!("vCPU {} writes {} to {}", s.vcpu, value(s.value), s.reg),
        Step::CreateVm(s) => match s.ipa_bits {
            Some(bits) => format!("The VMM creates the VM ({bits}-bit IPA space)"),
            None => "The VMM creates the VM".into(),
        },
        Step::CreateDevice(s) => format!("The VMM creates the {} device", s.device.as_str()),
        Step::CreateVcpu(s) => format!("The VMM creates vCPU {}", s.id),
        Step::SetAddr(s) => format!(
            "The VMM sets the {} base address{}",
            s.addr.map_or("vGIC", |a| a.as_str()),
            s.base
                .map(|b| format!(" to {:#x}", b.0))
                .unwrap_or_default()
        ),
        Step::GetAddr(s) => format!(
            "The VMM reads the {} base address",
            s.addr.map_or("vGIC", |a| a.as_str())
        ),
        Step::SetNrIrqs(s) => format!("The VMM sets the number of interrupts to {}", s.value.0),
        Step::MemWrite(m) => format!(
            "The VMM writes {} to guest memory at {:#x}",
            value(m.value),
            m.addr.0
        ),
        Step::MemRead(m) => format!("The VMM reads guest memory at {:#x}", m.addr.0),
        Step::ItsCommand(c) => format!(
            "The guest queues an ITS {} command (GITS_CWRITER)",
            c.cmd.as_str().to_uppercase()
        ),
        Step::Msi(m) => format!(
            "The VMM signals an MSI: data {} to {:#x}{} (KVM_SIGNAL_MSI)",
            m.data.0,
            m.addr.0,
            m.devid
                .map(|d| format!(" from device {:#x}", d.0))
                .unwrap_or_default()
        ),
        Step::ItsCtrl(c) => format!("The VMM sets the ITS control attribute {}", c.attr),
        Step::SavePendingTables(_) => {
            "The VMM saves the LPI pending tables (KVM_DEV_ARM_VGIC_SAVE_PENDING_TABLES)".into()
        }
        Step::ForwardMsi(f) => format!(
            "VFIO forwards device {:#x}'s MSI (event {}, host IRQ {}) to the guest as a GICv4 vLPI",
            f.device_id.0, f.event_id.0, f.host_irq.0
        ),
        Step::UnforwardMsi(f) => format!(
            "VFIO stops forwarding host IRQ {} (kvm_vgic_v4_unset_forwarding)",
            f.host_irq.0
        ),
        Step::DeviceMsi(d) => format!(
            "The passthrough device {:#x} signals MSI event {}",
            d.device_id.0, d.event_id.0
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gicx_core::host::Host;
    use gicx_core::scenario::{LifecycleStep, RegStep, Step};

    fn guest_read() -> Step {
        Step::GuestRead(RegStep {
            reg: Some("GICD_CTLR".into()),
            ..Default::default()
        })
    }

    #[test]
    fn a_guest_step_before_init_kills_the_vm_on_6_12_and_undo_recovers() {
        let mut s = Session::default();
        s.push(guest_read(), &[]).unwrap();
        s.push(Step::Init(LifecycleStep::default()), &[]).unwrap();
        let e = explain(&s, 0).unwrap();
        assert!(
            e.text
                .contains("first KVM_RUN, and that failed with -EBUSY"),
            "{}",
            e.text
        );
        assert!(e.text.contains("kills the VM"), "{}", e.text);
        assert_eq!(e.recover_to, Some(0));
        assert_eq!(e.recover_label().unwrap(), "Undo it (back to a fresh VM)");
        let later = explain(&s, 1).unwrap();
        assert!(later.text.contains("dead since step 1"), "{}", later.text);
        assert_eq!(later.recover_to, Some(0));
        assert_eq!(died_at(&s), Some(0));
    }

    #[test]
    fn steps_have_titles_for_people() {
        assert_eq!(title(&guest_read()), "The guest reads GICD_CTLR");
        assert_eq!(
            title(&Step::Init(LifecycleStep::default())),
            "Initialise the vGIC (KVM_DEV_ARM_VGIC_CTRL_INIT)"
        );
        let sc = gicx_core::scenario::parse(
            r#"{"host": {"gic": "v4.1", "kernel": "6.17"}, "vm": {"vcpus": 2}, "steps": [{"op": "sgi", "from": 0, "intid": 3, "targets": [1]}]}"#,
        )
        .unwrap();
        assert_eq!(title(&sc.steps[0]), "vCPU 0 sends SGI 3 to vCPU 1");
        // The VMM's setup steps, in words too.
        let step = |json: &str| serde_json::from_str::<Step>(json).unwrap();
        assert_eq!(
            title(&step(
                r#"{"op": "set_addr", "addr": "dist", "base": "0x8000000"}"#
            )),
            "The VMM sets the dist base address to 0x8000000"
        );
        assert_eq!(
            title(&step(r#"{"op": "create_vcpu", "id": 2}"#)),
            "The VMM creates vCPU 2"
        );
    }

    #[test]
    fn an_sgi_says_whether_it_is_taken_and_why_not() {
        let mut s = Session::default();
        let sc = gicx_core::scenario::parse(
            r#"{"host": {"gic": "v4.1", "kernel": "6.17"}, "vm": {"vcpus": 2}, "steps": [{"op": "init"}, {"op": "sgi", "from": 0, "intid": 3, "targets": [1]}]}"#,
        )
        .unwrap();
        s.reconfigure(sc.host, sc.vm);
        for step in sc.steps {
            s.push(step, &[]).unwrap();
        }
        let lines = sgi_outcome(&s, 1);
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(lines[0].starts_with("vCPU 1: "), "{lines:?}");
        assert!(
            lines[0].contains("ICC_IGRPEN1_EL1 = 0") || lines[0].contains("disabled"),
            "{lines:?}"
        );
        assert!(lines[1].contains("nASSGIreq = 0"), "{lines:?}");
    }

    #[test]
    fn messages_lose_backticks_and_rust_type_names() {
        assert_eq!(
            plain("invalid type: string \"v4.1@6.17\", expected struct HostSpec at line 1"),
            "invalid type: string \"v4.1@6.17\", expected an object at line 1"
        );
        assert_eq!(plain("use an `sgi` step"), "use an sgi step");
        let e = gicx_core::scenario::parse(
            r#"{"host": {"gic": "v3", "kernel": "6.8"}, "vm": {"vcpus": "two"}, "steps": []}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(
            !plain(&e).contains("u32") && !plain(&e).contains('`'),
            "{e}"
        );
    }

    #[test]
    fn an_spi_says_where_it_stops() {
        let mut s = Session::default();
        let sc = gicx_core::scenario::parse(
            r#"{"host": {"gic": "v3", "kernel": "6.8"}, "vm": {"vcpus": 2}, "steps": [{"op": "init"}, {"op": "run"}, {"op": "irq_line", "intid": 40, "level": true}]}"#,
        )
        .unwrap();
        s.reconfigure(sc.host, sc.vm);
        for step in sc.steps {
            s.push(step, &[]).unwrap();
        }
        let lines = spi_outcome(&s, 2);
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(
            lines[0].starts_with("INTID 40: pending but not forwarded"),
            "{lines:?}"
        );
    }

    #[test]
    fn before_6_12_the_vm_survives() {
        let mut s = Session::default();
        s.reconfigure(Host::parse_compact("v3@5.10").unwrap(), s.vm());
        s.push(guest_read(), &[]).unwrap();
        let e = explain(&s, 0).unwrap();
        assert!(e.text.contains("leaves the VM usable"), "{}", e.text);
        assert_eq!(e.recover_to, None);
        assert_eq!(died_at(&s), None);
        s.push(Step::Init(LifecycleStep::default()), &[]).unwrap();
        assert_eq!(explain(&s, 1), None);
    }
}
