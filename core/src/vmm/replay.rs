//! The replay engine: a recipe's `Op`s through the model's userspace path (`save`,
//! `restore`, `run_entry`), the saved values, the log and the refusal.

#[allow(unused_imports)]
use super::*;
// ---- replay engine ----------------------------------------------------------------------------

/// Which device-attribute group an access goes to, for saved-value keys and the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    Dist,
    Redist,
    /// `KVM_DEV_ARM_VGIC_GRP_LEVEL_INFO` (offset = first INTID).
    LevelInfo,
    /// `KVM_DEV_ARM_VGIC_GRP_CPU_SYSREGS` (offset = `KVM_DEV_ARM_VGIC_SYSREG` id).
    CpuSysreg,
    /// The ITS device (`GRP_ITS_REGS`: offset = register; `GRP_CTRL`: offset =
    /// attribute), `KVM_DEV_ARM_VGIC_SAVE_PENDING_TABLES` and the RAM copy
    /// ([`its::ItsOp`]). Its values are kept apart from the 32-bit words ([`ItsSaved`]).
    Its,
}

impl Target {
    /// The vGIC device's group for a frame. Recipes save and restore the vGIC
    /// device only (`recipes_address_the_vgic_device_only`); the ITS is another
    /// device, whose registers no recipe reaches through this engine yet.
    pub(crate) fn of(frame: Frame) -> Target {
        match frame {
            Frame::Dist | Frame::Its => Target::Dist,
            Frame::Redist => Target::Redist,
        }
    }
    pub fn frame(self) -> Option<Frame> {
        match self {
            Target::Dist => Some(Frame::Dist),
            Target::Redist => Some(Frame::Redist),
            Target::LevelInfo | Target::CpuSysreg | Target::Its => None,
        }
    }
}

/// A saved value's place, packed in 32 bits (saved states of the frame sweeps hold
/// ~100 000 values, and restores stream through them): the target in bits 31:30, the
/// vCPU (< `MAX_VCPUS` = 512) in bits 29:17, the offset (< 128 KiB) or first INTID
/// in bits 16:0. Keys sort by target, vCPU and offset.
#[inline]
pub(crate) fn key(t: Target, vcpu: u32, off: u32) -> u32 {
    let kind = match t {
        Target::Dist => 0u32,
        Target::Redist => 1,
        Target::LevelInfo => 2,
        // ITS values are not keyed words (`SavedState::its`); never stored here.
        Target::CpuSysreg | Target::Its => 3,
    };
    debug_assert!(
        vcpu < 1 << 13 && off < 1 << 17,
        "vCPU {vcpu}, offset {off:#x}"
    );
    (kind << 30) | (vcpu << 17) | off
}

/// What a save read: one value per (target, vCPU, offset), sorted by key. Two saves
/// that read the same values compare equal (the audit shares restores between them).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct SavedState {
    pub(crate) values: Vec<(u32, u32)>,
    /// Reads made (including fast-replay no-ops, which read 0 and are not stored).
    pub reads: usize,
    /// The ITS's registers and guest RAM as the save took them (VMs with an ITS).
    pub its: ItsSaved,
}

impl SavedState {
    /// `get`, trying the entries after the previous hit first: a restore mostly walks
    /// the saved values in ascending order.
    fn get_near(&self, k: u32, hint: &mut usize) -> u32 {
        for i in [*hint, *hint + 1] {
            if let Some(e) = self.values.get(i) {
                if e.0 == k {
                    *hint = i + 1;
                    return e.1;
                }
            }
        }
        match self.values.binary_search_by_key(&k, |e| e.0) {
            Ok(i) => {
                *hint = i + 1;
                self.values[i].1
            }
            Err(_) => 0,
        }
    }
    pub(crate) fn get(&self, k: u32) -> u32 {
        match self.values.binary_search_by_key(&k, |e| e.0) {
            Ok(i) => self.values[i].1,
            Err(_) => 0,
        }
    }
    /// The value saved for `offset` of `target` (vCPU `vcpu`); 0 if never read.
    pub fn value(&self, target: Target, vcpu: u32, offset: u32) -> u32 {
        self.get(key(target, vcpu, offset))
    }
    /// Number of stored values (the vGIC's words and the ITS's registers).
    pub fn len(&self) -> usize {
        self.values.len() + self.its.regs.len()
    }
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

/// Which words of each frame have a KVM region on a VM, as `KVM_HAS_DEVICE_ATTR`
/// answers on the model. The audit uses it to count accesses to words without a
/// region (rules `uaccess.has_attr.enxio`, `uaccess.no_region`: reads 0, writes
/// succeed and change nothing) instead of dispatching each of crosvm's 49 152 per
/// restore. `gicx migrate` and scenarios never use it; a test checks both give the
/// same verdicts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegionMap {
    dist: Vec<u64>,
    redist: Vec<u64>,
}

impl RegionMap {
    /// Ask `KVM_HAS_DEVICE_ATTR` for every word of both frames of a VM like `vm`.
    pub fn probe(vm: &Vgic) -> RegionMap {
        let mut scratch = Vgic::new(*vm.host(), *vm.config());
        let mut bits = |frame: Frame| {
            let words = frame.size() / 4;
            let mut v = vec![0u64; words.div_ceil(64) as usize];
            for w in 0..words {
                // `user_has` without building an Outcome per word.
                let has = scratch
                    .user_access_observed(VgicOp::Has, frame, 0, w * 4, 0, &mut NoopObserver)
                    .is_ok_and(|(_, errno)| errno.is_none());
                if has {
                    v[(w / 64) as usize] |= 1 << (w % 64);
                }
            }
            v
        };
        let dist = bits(Frame::Dist);
        let redist = bits(Frame::Redist);
        RegionMap { dist, redist }
    }
    /// The first offset at or after `off` (below `end`) that has a region, else `end`.
    pub fn next_region(&self, frame: Frame, off: u32, end: u32) -> u32 {
        let v = match frame {
            Frame::Dist => &self.dist,
            Frame::Redist => &self.redist,
            // The vGIC device has no ITS frame.
            Frame::Its => return end,
        };
        let mut w = off / 4;
        let last = end.div_ceil(4);
        while w < last {
            let chunk = v.get((w / 64) as usize).copied().unwrap_or(0) >> (w % 64);
            if chunk != 0 {
                return (4 * (w + chunk.trailing_zeros())).min(end);
            }
            w = (w / 64 + 1) * 64;
        }
        end
    }
    pub fn has(&self, frame: Frame, off: u32) -> bool {
        let w = off / 4;
        let v = match frame {
            Frame::Dist => &self.dist,
            Frame::Redist => &self.redist,
            Frame::Its => return false,
        };
        v.get((w / 64) as usize)
            .is_some_and(|x| x >> (w % 64) & 1 != 0)
    }
}

/// The kind of a logged access.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Read,
    Write,
    Init,
    Run,
    /// A `GRP_CTRL` attribute: SAVE_TABLES, RESTORE_TABLES, SAVE_PENDING_TABLES.
    Ctrl,
    /// Guest RAM copied (save) or loaded (restore).
    Ram,
}

/// One access of a replay, with the model's answer.
#[derive(Clone, Debug, Serialize)]
pub struct LogEntry {
    /// Index of the (first) access in the sequence.
    pub index: usize,
    pub action: Action,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<Target>,
    pub vcpu: u32,
    pub offset: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub register: Option<String>,
    pub value: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errno: Option<Errno>,
    pub rules: Vec<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// Consecutive identical accesses folded into this entry (offsets ascending by 4).
    pub repeat: u32,
}

impl LogEntry {
    /// One line: what was done and what came back.
    pub fn summary(&self) -> String {
        let place = match self.target {
            Some(Target::Dist) => format!(
                "{} @{:#06x}",
                self.register.as_deref().unwrap_or("(unmapped)"),
                self.offset
            ),
            Some(Target::Redist) => format!(
                "{} @{:#07x} vCPU {}",
                self.register.as_deref().unwrap_or("(unmapped)"),
                self.offset,
                self.vcpu
            ),
            Some(Target::LevelInfo) => format!("LEVEL_INFO[{}] vCPU {}", self.offset, self.vcpu),
            Some(Target::CpuSysreg) => format!(
                "{} vCPU {}",
                self.register.as_deref().unwrap_or("(unknown ICC register)"),
                self.vcpu
            ),
            Some(Target::Its) => self.register.clone().unwrap_or_default(),
            None => String::new(),
        };
        let rep = if self.repeat > 1 {
            format!(
                " (x{}, to {:#x})",
                self.repeat,
                self.offset + 4 * (self.repeat - 1)
            )
        } else {
            String::new()
        };
        let res = match self.errno {
            Some(e) => e.to_string(),
            None => "ok".into(),
        };
        match self.action {
            Action::Read => format!("get {place}{rep} = {:#x}", self.value),
            Action::Write => format!("set {place}{rep} <- {:#x}: {res}", self.value),
            Action::Init => format!("KVM_DEV_ARM_VGIC_CTRL_INIT: {res}"),
            Action::Run => format!("KVM_RUN: {res}"),
            Action::Ctrl => format!("{place}: {res}"),
            Action::Ram => format!("{place}: {}", self.notes.join("; ")),
        }
    }
}

/// The access a restore stopped at.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Refusal {
    pub errno: Errno,
    /// Register instance, e.g. `GICD_TYPER2`.
    pub register: String,
    pub target: Target,
    pub vcpu: u32,
    pub offset: u32,
    pub value: u32,
    /// Index of the access in the restore sequence.
    pub step: usize,
    pub rules: Vec<&'static str>,
}

/// How to replay a restore.
#[derive(Clone, Copy, Debug, Default)]
pub struct RestoreOptions<'a> {
    /// Continue past refused accesses (the safety replay) instead of stopping.
    pub keep_going: bool,
    /// Keep the step-by-step log.
    pub log: bool,
    /// Count accesses to words without a KVM region instead of dispatching them.
    pub fast: Option<&'a RegionMap>,
    /// With `keep_going`: also keep the VM as the VMM leaves it at the first refused
    /// access (a copy taken right there), so one replay serves both the VMM's restore
    /// and the safety replay (they are the same sequence up to that access).
    pub copy_at_refusal: bool,
    /// Replay the recipe with these changes (a suggested fix); save with the same.
    pub changes: &'a [RecipeChange],
}

/// The result of a restore replay.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Restore {
    /// The first refused access (the VMM stops there unless `keep_going`).
    pub refusal: Option<Refusal>,
    /// Every refused access (more than one only with `keep_going`).
    pub refused: Vec<Refusal>,
    pub log: Vec<LogEntry>,
    /// Accesses made (including CTRL_INIT and counted no-region words).
    pub accesses: usize,
    /// Accesses counted, not dispatched (fast replay).
    pub elided: usize,
    /// With `copy_at_refusal`: the VM, log length, accesses and elided count at the
    /// first refusal.
    #[serde(skip)]
    pub at_refusal: Option<Box<(Vgic, usize, usize, usize)>>,
}

/// A save that failed (the VMM aborts the snapshot).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize)]
#[error("{vmm} cannot save this VM: {reason}")]
pub struct SaveError {
    pub vmm: &'static str,
    pub reason: String,
    pub errno: Option<Errno>,
}

pub(crate) struct Exec<'a> {
    pub(crate) vm: &'a mut Vgic,
    pub(crate) nr_irqs: u32,
    pub(crate) vcpus: u32,
    pub(crate) fast: Option<&'a RegionMap>,
    pub(crate) keep_log: bool,
    pub(crate) keep_going: bool,
    pub(crate) saved: Option<&'a SavedState>,
    pub(crate) out: Vec<(u32, u32)>,
    pub(crate) quirks: Vec<&'static Rule>,
    pub(crate) restore: Restore,
    pub(crate) reads: usize,
    pub(crate) stopped: bool,
    pub(crate) in_pre_init: bool,
    pub(crate) pre_init_busy: bool,
    pub(crate) initialised_early: bool,
    /// Where the last saved value was found.
    pub(crate) hint: usize,
    pub(crate) copy_at_refusal: bool,
    pub(crate) copy_pending: bool,
    /// The rules of an access without a log (its observer), reused from access to access.
    pub(crate) rules: Vec<&'static Rule>,
    pub(crate) changes: &'a [RecipeChange],
    /// What the save took of the ITS and guest RAM.
    pub(crate) its_out: ItsSaved,
}

impl Exec<'_> {
    pub(crate) fn ops(&mut self, ops: &[Op], vcpu: u32) {
        for op in ops {
            if self.stopped || (self.in_pre_init && self.pre_init_busy) {
                return;
            }
            match op {
                Op::Read(a) => self.access(a, vcpu, None),
                Op::Write(a, v) => self.access(a, vcpu, Some(*v)),
                Op::ClearThenSet { clear, set } => {
                    let words = (self.nr_irqs - 32).div_ceil(32);
                    for w in 0..words {
                        let off = 4 + 4 * w;
                        if let Some((base, value)) = clear {
                            self.word(Target::Dist, 0, base + off, Some(Value::Const(*value)));
                        }
                        self.word(Target::Dist, 0, set + off, Some(Value::Saved));
                        if self.stopped {
                            return;
                        }
                    }
                }
                Op::ForEachVcpu(inner) => {
                    for v in 0..self.vcpus {
                        self.ops(inner, v);
                    }
                }
                Op::IfSet {
                    frame,
                    offset,
                    mask,
                    then,
                } => {
                    // The VMM tests a value it read earlier in the sequence (QEMU's
                    // `redist_typer`); read it only if it has not.
                    let k = key(Target::of(*frame), 0, *offset);
                    let v = match self.out.iter().rev().find(|e| e.0 == k) {
                        Some(e) => e.1,
                        None => self.word(Target::of(*frame), 0, *offset, None),
                    };
                    if v & mask != 0 {
                        self.ops(then, vcpu);
                    }
                }
                Op::Init => {
                    if !self.initialised_early {
                        self.init();
                    }
                }
                Op::PreInit(inner) => {
                    self.in_pre_init = true;
                    self.pre_init_busy = false;
                    self.ops(inner, vcpu);
                    self.in_pre_init = false;
                    if self.pre_init_busy && !self.stopped {
                        self.init();
                        self.initialised_early = true;
                        self.ops(inner, vcpu);
                    }
                }
                Op::Quirk {
                    rule,
                    ops,
                    corrected,
                } => {
                    if self.changes.contains(&RecipeChange::Correct(rule)) {
                        self.ops(corrected, vcpu);
                    } else {
                        self.quirks.push(rule);
                        self.ops(ops, vcpu);
                        self.quirks.pop();
                    }
                }
                Op::Seq(inner) => self.ops(inner, vcpu),
                Op::Its(inner) => self.its_ops(inner),
            }
        }
    }

    pub(crate) fn access(&mut self, a: &Access, vcpu: u32, write: Option<Value>) {
        match *a {
            Access::Words {
                frame,
                offset,
                count,
            } => {
                let vcpu = if frame == Frame::Dist { 0 } else { vcpu };
                for i in 0..count {
                    self.word(Target::of(frame), vcpu, offset + 4 * i, write);
                }
            }
            Access::Spis { base, bits_per_irq } => {
                let words = ((self.nr_irqs - 32) * bits_per_irq).div_ceil(32);
                let start = base + 4 * bits_per_irq;
                for i in 0..words {
                    self.word(Target::Dist, 0, start + 4 * i, write);
                }
            }
            Access::IrouterLoop { stride } => {
                for i in 32..self.nr_irqs {
                    let off = GicdIrouter::OFFSET + stride * i;
                    self.word(Target::Dist, 0, off, write);
                    self.word(Target::Dist, 0, off + 4, write);
                }
            }
            Access::Sweep { frame, start, end } => {
                let vcpu = if frame == Frame::Dist { 0 } else { vcpu };
                let mut off = start;
                while off < end && !self.stopped {
                    let run = self.no_region_run(frame, off, end);
                    if run > 0 {
                        self.elide(Target::of(frame), vcpu, off, run, write.is_some());
                        off += 4 * run;
                    } else {
                        self.word(Target::of(frame), vcpu, off, write);
                        off += 4;
                    }
                }
            }
            Access::PrivateLevels => {
                self.word(Target::LevelInfo, vcpu, 0, write);
            }
            Access::Sysreg(id) => {
                self.word(Target::CpuSysreg, vcpu, id, write);
            }
            Access::SpiLevels => {
                let mut intid = 32;
                while intid < self.nr_irqs {
                    self.word(Target::LevelInfo, 0, intid, write);
                    intid += 32;
                }
            }
        }
    }

    /// Fast replay: how many words from `off` (below `end`) have no KVM region on this
    /// (initialised) VM; 0 when replaying in full.
    pub(crate) fn no_region_run(&self, frame: Frame, off: u32, end: u32) -> u32 {
        let Some(map) = self.fast else { return 0 };
        if self.vm.lifecycle() == Lifecycle::Created {
            return 0;
        }
        (map.next_region(frame, off, end) - off) / 4
    }

    /// Count `n` no-region words from `off` as the no-op successes KVM gives them
    /// (reads 0, writes ignored: vgic_uaccess_read/write with no region).
    pub(crate) fn elide(&mut self, t: Target, vcpu: u32, off: u32, n: u32, write: bool) {
        let index = self.restore.accesses;
        self.restore.accesses += n as usize;
        self.restore.elided += n as usize;
        if !write {
            self.reads += n as usize;
        }
        if self.keep_log {
            for i in 0..n {
                self.log_elided(t, vcpu, off + 4 * i, write, 0, index + i as usize);
            }
        }
    }

    pub(crate) fn init(&mut self) {
        let o = self.vm.init();
        let index = self.restore.accesses;
        self.restore.accesses += 1;
        self.record(Action::Init, None, 0, 0, 0, o, index);
    }

    /// One 32-bit access; returns the value read (or written).
    pub(crate) fn word(&mut self, t: Target, vcpu: u32, off: u32, write: Option<Value>) -> u32 {
        if self.stopped {
            return 0;
        }
        // Fast replay: a word KVM has no region for, on an initialised VM, reads 0 and
        // ignores writes with success (vgic_uaccess_read/write); nothing to dispatch.
        if let Some(frame) = t.frame() {
            if self.no_region_run(frame, off, off + 4) == 1 {
                self.elide(t, vcpu, off, 1, write.is_some());
                return 0;
            }
        }
        let k = key(t, vcpu, off);
        let value = match write {
            None => 0,
            Some(Value::Const(c)) => c,
            Some(Value::Saved) => self.saved.map_or(0, |s| s.get_near(k, &mut self.hint)),
            Some(Value::SavedMasked(m)) => {
                self.saved.map_or(0, |s| s.get_near(k, &mut self.hint)) & m
            }
        };
        let index = self.restore.accesses;
        self.restore.accesses += 1;
        // Without a log, the register accesses are watched by `self.rules` alone:
        // the same path as `user_read`/`user_write`, no Outcome (no register name,
        // no notes formatted); the rules are kept in case the access is refused.
        if let (false, Some(frame)) = (self.keep_log, t.frame()) {
            let op = if write.is_some() {
                VgicOp::Write
            } else {
                VgicOp::Read
            };
            self.rules.clear();
            let answer = self.vm.user_access_observed(
                op,
                frame,
                vcpu,
                off,
                u64::from(value),
                &mut self.rules,
            );
            let got = match answer {
                Ok((v, errno)) => {
                    let got = if write.is_none() { v as u32 } else { value };
                    if write.is_none() && errno.is_none() {
                        self.reads += 1;
                        self.out.push((k, got));
                    }
                    if let Some(errno) = errno {
                        let rules = std::mem::take(&mut self.rules);
                        self.refused_lean(t, vcpu, off, value, index, errno, &rules);
                        self.rules = rules;
                    }
                    got
                }
                Err(e) => {
                    self.refuse(Refusal {
                        errno: Errno::EINVAL,
                        register: format!("{t:?}+{off:#x}: {e}"),
                        target: t,
                        vcpu,
                        offset: off,
                        value,
                        step: index,
                        rules: vec![],
                    });
                    return 0;
                }
            };
            self.take_copy_if_pending();
            return got;
        }
        let outcome = match (t, write) {
            (Target::LevelInfo, w) => Ok(self.vm.user_level_info(vcpu, off, w.map(|_| value))),
            (Target::CpuSysreg, w) => {
                Ok(self.vm.user_sysreg(vcpu, off, w.map(|_| u64::from(value))))
            }
            (_, None) => self
                .vm
                .user_read(t.frame().unwrap_or(Frame::Dist), vcpu, off),
            (_, Some(_)) => self
                .vm
                .user_write(t.frame().unwrap_or(Frame::Dist), vcpu, off, value),
        };
        let o = match outcome {
            Ok(o) => o,
            Err(e) => {
                // Recipes stay inside the frames and the VM's vCPUs: a bug, reported as a refusal.
                self.refuse(Refusal {
                    errno: Errno::EINVAL,
                    register: format!("{t:?}+{off:#x}: {e}"),
                    target: t,
                    vcpu,
                    offset: off,
                    value,
                    step: index,
                    rules: vec![],
                });
                return 0;
            }
        };
        let got = if write.is_none() {
            o.value as u32
        } else {
            value
        };
        if write.is_none() && o.errno.is_none() {
            self.reads += 1;
            self.out.push((k, got));
        }
        if let Some(errno) = o.errno {
            let pre_init_busy = self.in_pre_init
                && errno == Errno::EBUSY
                && o.rules.iter().any(|r| r.id == r::UACCESS_BEFORE_INIT.id);
            if pre_init_busy {
                self.pre_init_busy = true;
                let mut o = o;
                o.rules.push(&r::VMM_PREINIT_FALLBACK);
                o.notes.push("kernel before 6.17: the recipe initialises the vGIC and writes this register right after".into());
                let action = if write.is_some() {
                    Action::Write
                } else {
                    Action::Read
                };
                self.record(action, Some(t), vcpu, off, got, o, index);
                return got;
            }
            let mut rules: Vec<&'static str> = self.quirks.iter().map(|r| r.id).collect();
            rules.extend(o.rules.iter().map(|r| r.id));
            rules.push(r::MIGRATE_REFUSED.id);
            self.refuse(Refusal {
                errno,
                register: o
                    .register
                    .clone()
                    .unwrap_or_else(|| format!("{t:?}+{off:#x}")),
                target: t,
                vcpu,
                offset: off,
                value,
                step: index,
                rules,
            });
        }
        let action = if write.is_some() {
            Action::Write
        } else {
            Action::Read
        };
        self.record(action, Some(t), vcpu, off, got, o, index);
        self.take_copy_if_pending();
        got
    }

    /// With `copy_at_refusal`: the VM as the VMM leaves it, right after the first refusal.
    #[inline]
    pub(crate) fn take_copy_if_pending(&mut self) {
        if self.copy_pending {
            self.take_copy();
        }
    }

    #[cold]
    pub(crate) fn take_copy(&mut self) {
        self.copy_pending = false;
        let r = &self.restore;
        self.restore.at_refusal = Some(Box::new((
            self.vm.clone(),
            r.log.len(),
            r.accesses,
            r.elided,
        )));
    }

    /// A refused access without a log: the same handling as the logged path's
    /// (the pre-init fallback, or a refusal with the quirks' and the outcome's rules).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn refused_lean(
        &mut self,
        t: Target,
        vcpu: u32,
        off: u32,
        value: u32,
        index: usize,
        errno: Errno,
        outcome_rules: &[&'static Rule],
    ) {
        if self.in_pre_init
            && errno == Errno::EBUSY
            && outcome_rules
                .iter()
                .any(|r| r.id == r::UACCESS_BEFORE_INIT.id)
        {
            self.pre_init_busy = true;
            return;
        }
        let mut rules: Vec<&'static str> = self.quirks.iter().map(|r| r.id).collect();
        rules.extend(outcome_rules.iter().map(|r| r.id));
        rules.push(r::MIGRATE_REFUSED.id);
        let frame = t.frame().unwrap_or(Frame::Dist);
        self.refuse(Refusal {
            errno,
            register: catalogue::instance_at(frame, off)
                .map(|r| r.name())
                .unwrap_or_else(|| format!("{t:?}+{off:#x}")),
            target: t,
            vcpu,
            offset: off,
            value,
            step: index,
            rules,
        });
    }

    pub(crate) fn refuse(&mut self, refusal: Refusal) {
        if self.restore.refusal.is_none() {
            self.restore.refusal = Some(refusal.clone());
            self.copy_pending = self.copy_at_refusal;
        }
        self.restore.refused.push(refusal);
        if !self.keep_going {
            self.stopped = true;
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn record(
        &mut self,
        action: Action,
        t: Option<Target>,
        vcpu: u32,
        off: u32,
        value: u32,
        o: Outcome,
        index: usize,
    ) {
        if !self.keep_log {
            return;
        }
        let mut rules: Vec<&'static str> = self.quirks.iter().map(|r| r.id).collect();
        rules.extend(o.rules.iter().map(|r| r.id));
        let entry = LogEntry {
            index,
            action,
            target: t,
            vcpu,
            offset: off,
            register: o.register,
            value,
            errno: o.errno,
            rules,
            notes: o.notes,
            repeat: 1,
        };
        // Fold runs of identical, note-free accesses to consecutive words.
        if let Some(last) = self.restore.log.last_mut() {
            if entry.errno.is_none()
                && entry.notes.is_empty()
                && last.errno.is_none()
                && last.notes.is_empty()
                && last.action == entry.action
                && last.target == entry.target
                && entry.target != Some(Target::CpuSysreg)
                && last.vcpu == entry.vcpu
                && last.rules == entry.rules
                && last.offset + 4 * last.repeat == entry.offset
                && (entry.register.is_none()
                    || last.register.is_none()
                    || same_family(&last.register, &entry.register))
                && (entry.action == Action::Read || last.value == entry.value)
            {
                last.repeat += 1;
                return;
            }
        }
        self.restore.log.push(entry);
    }

    pub(crate) fn log_elided(
        &mut self,
        t: Target,
        vcpu: u32,
        off: u32,
        write: bool,
        value: u32,
        index: usize,
    ) {
        let mut rules: Vec<&'static str> = self.quirks.iter().map(|r| r.id).collect();
        rules.push(r::HAS_ATTR_ENXIO.id);
        rules.push(r::UACCESS_NO_REGION.id);
        let action = if write { Action::Write } else { Action::Read };
        if let Some(last) = self.restore.log.last_mut() {
            if last.rules == rules
                && last.action == action
                && last.target == Some(t)
                && last.vcpu == vcpu
                && last.offset + 4 * last.repeat == off
            {
                last.repeat += 1;
                return;
            }
        }
        self.restore.log.push(LogEntry {
            index,
            action,
            target: Some(t),
            vcpu,
            offset: off,
            register: catalogue::instance_at(t.frame().unwrap_or(Frame::Dist), off).map(|r| r.name()),
            value,
            errno: None,
            rules,
            notes: vec!["fast replay: no KVM region here on this VM, counted as the no-op success KVM returns".into()],
            repeat: 1,
        });
    }
}

pub(crate) fn same_family(a: &Option<String>, b: &Option<String>) -> bool {
    let stem = |s: &Option<String>| {
        s.as_deref().map(|x| {
            x.trim_end_matches(|c: char| c.is_ascii_digit() || c == 'E')
                .to_string()
        })
    };
    stem(a) == stem(b)
}

pub(crate) fn exec<'a>(
    vm: &'a mut Vgic,
    saved: Option<&'a SavedState>,
    opts: &RestoreOptions<'a>,
) -> Exec<'a> {
    let VmConfig { vcpus, nr_irqs, .. } = *vm.config();
    Exec {
        vm,
        nr_irqs,
        vcpus,
        fast: opts.fast,
        keep_log: opts.log,
        keep_going: opts.keep_going,
        saved,
        out: Vec::new(),
        quirks: Vec::new(),
        restore: Restore::default(),
        reads: 0,
        stopped: false,
        in_pre_init: false,
        pre_init_busy: false,
        initialised_early: false,
        hint: 0,
        copy_at_refusal: opts.copy_at_refusal && opts.keep_going,
        copy_pending: false,
        rules: Vec::new(),
        changes: opts.changes,
        its_out: ItsSaved::default(),
    }
}

/// Run the recipe's save sequence on `vm` (reads only). Fails where the VMM would
/// refuse to snapshot (crosvm with an ITS) or a read fails (a VM never initialised).
pub fn save(
    vm: &mut Vgic,
    recipe: &Recipe,
    fast: Option<&RegionMap>,
) -> Result<SavedState, SaveError> {
    save_with(vm, recipe, fast, &[])
}

/// [`save`] with the recipe changed by `changes` (a suggested fix).
pub fn save_with(
    vm: &mut Vgic,
    recipe: &Recipe,
    fast: Option<&RegionMap>,
    changes: &[RecipeChange],
) -> Result<SavedState, SaveError> {
    if recipe.its == ItsSupport::Refused && vm.config().its {
        return Err(SaveError {
            vmm: recipe.id,
            reason: recipe.its_note.to_string(),
            errno: None,
        });
    }
    let opts = RestoreOptions {
        keep_going: false,
        log: false,
        fast,
        copy_at_refusal: false,
        changes,
    };
    let mut x = exec(vm, None, &opts);
    if changes.contains(&RecipeChange::IdsBeforeInit) {
        x.ops(IDS_SAVE, 0);
    }
    x.ops(recipe.save, 0);
    if changes.contains(&RecipeChange::LevelInfo) {
        x.ops(LEVELS_SAVE, 0);
    }
    if let Some(r) = x.restore.refusal {
        return Err(SaveError {
            vmm: recipe.id,
            reason: format!("reading {} failed with {}", r.register, r.errno),
            errno: Some(r.errno),
        });
    }
    let mut values = x.out;
    values.sort_by_key(|e| e.0);
    values.dedup_by_key(|e| e.0);
    Ok(SavedState {
        values,
        reads: x.reads,
        its: x.its_out,
    })
}

/// Run the recipe's restore sequence on a freshly created `vm` (create it with the
/// recipe's NR_IRQS and the source's vCPUs and ITS). Stops at the first refused
/// access unless `opts.keep_going`. Does not run the VM.
pub fn restore(
    vm: &mut Vgic,
    recipe: &Recipe,
    saved: &SavedState,
    opts: &RestoreOptions,
) -> Restore {
    let mut x = exec(vm, Some(saved), opts);
    if opts.changes.contains(&RecipeChange::IdsBeforeInit) {
        x.ops(IDS_RESTORE, 0);
    }
    x.ops(recipe.restore, 0);
    if opts.changes.contains(&RecipeChange::LevelInfo) {
        x.ops(LEVELS_RESTORE, 0);
    }
    x.restore
}

/// The first KVM_RUN after a restore, as a log entry.
pub fn run_entry(vm: &mut Vgic, index: usize) -> LogEntry {
    let o = vm.run();
    LogEntry {
        index,
        action: Action::Run,
        target: None,
        vcpu: 0,
        offset: 0,
        register: None,
        value: 0,
        errno: o.errno,
        rules: o.rules.iter().map(|r| r.id).collect(),
        notes: o.notes,
        repeat: 1,
    }
}

/// The era whose region table a [`RegionMap`] reflects, with the VM shape it depends on.
pub fn region_key(vm: &Vgic) -> (Era, u32, bool) {
    (vm.era(), vm.config().nr_irqs, vm.config().its)
}
