//! The guest's virtual CPU interface (hyp/vgic-v3-sr.c, the GICv3 virtual CPU
//! interface; vgic-v3.c for the fold): `ICC_*_EL1` reads and writes, the candidate
//! across both enabled groups, acknowledge, EOI, deactivation (EOIcount, trapped DIR).

use super::delivery::{ListReg, RunState, SRC_VCPUIF};
use crate::cpuif::{SysReg, Verdict, IDLE_PRIORITY, NR_LRS, SPURIOUS};
use crate::errno::Errno;
use crate::rules::{self as r, Rule};
use crate::trace::{Hop, Layer};
use crate::vgic::{AccessError, Lifecycle, Op, Outcome, Path, Vgic, NR_PRIVATE_IRQS, NR_SGIS};

/// A pending interrupt the CPU interface could take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Candidate {
    intid: u32,
    /// The priority the CPU interface compares.
    priority: u8,
    /// The list register, or `None` for a vSGI presented by the redistributor.
    lr: Option<u32>,
    /// Group 1 (`ICH_LR<n>_EL2.Group`), or Group 0.
    group: bool,
}

impl Vgic {
    /// From the rework, at each exit: "walking the ap_list past the point
    /// that made it into the LRs, and deactivate interrupts that would have
    /// made it onto the LRs if we had the space", one per EOIcount (vgic.c
    /// vgic_fold_lr_state and the overflow list of "KVM: arm64: Add AP-list
    /// overflow split/splice"). An EOI counts whatever EOImode: the
    /// architecture's VirtualWriteEOIR bumps EOIcount for any non-LPI INTID
    /// no list register holds (QEMU icv_eoir_write; KVM's own
    /// __vgic_v3_write_eoir checks EOImode only after that), so with
    /// EOImode 1 a priority drop of an interrupt kept off the list registers
    /// deactivates one (measured on 6.19.14 and 7.3.4).
    pub(super) fn deactivate_overflow(&mut self, v: u32) {
        let mut count = std::mem::take(&mut self.live.eoicount[v as usize]);
        if count == 0 {
            return;
        }
        let overflow = self.live.overflow[v as usize].clone();
        for intid in overflow {
            if count == 0 {
                break;
            }
            let Some(irq) = self.irq_mut(v, intid) else {
                continue;
            };
            if !irq.active {
                continue;
            }
            irq.active = false;
            count -= 1;
            self.emit(
                Hop::new(
                    Layer::Kvm,
                    "ICH_HCR_EL2.EOIcount",
                    "an EOI found no list register: KVM deactivates the first active interrupt it kept off them (the overflow list)",
                )
                .vcpu(v)
                .intid(intid)
                .rule(&r::LR_OVERFLOW_EOICOUNT),
            );
        }
    }

    /// From the rework, `ICH_HCR_EL2.TDIR` is set while an active interrupt
    /// of this vCPU is off the list registers, or an SPI is pending or active
    /// anywhere in the VM ("deactivation of SPIs can occur on any CPU"): the
    /// guest's ICC_DIR_EL1 then traps and KVM deactivates the INTID itself
    /// (vgic-v3.c vgic_v3_deactivate).
    fn dir_trapped(&self, v: u32) -> bool {
        if !self.lr_rework() {
            return false;
        }
        let active_outside = self.lr_order(v).iter().skip(NR_LRS).any(|(_, s)| s.active);
        let spis = (NR_PRIVATE_IRQS..self.state.config.nr_irqs)
            .any(|i| self.irq(0, i).is_some_and(|s| s.active || s.is_pending()));
        active_outside || spis
    }

    pub(super) fn vsgi_blocked_by_cpuif(&self) -> bool {
        !self.host.cpuif_vsgi
    }

    /// The highest-priority pending interrupt the CPU interface of vCPU `v`
    /// sees, of either group: list registers in the pending state whose group
    /// is enabled (`__vgic_v3_highest_priority_lr`; QEMU `hppvi_index`: "Ignore
    /// interrupts if relevant group enable not set") and, on GICv4.1, vSGIs
    /// the resident vPE presents. Ties go to the list register, then the lower
    /// INTID. With no enabled group holding one, the highest pending of a
    /// disabled group, so that the verdict can say which enable stops it.
    fn candidate(&self, v: u32) -> Option<Candidate> {
        let c = self.cpuif(v)?;
        let (en0, en1) = (c.igrpen0, c.igrpen1);
        self.candidate_where(v, |g| if g { en1 } else { en0 })
            .or_else(|| self.candidate_where(v, |_| true))
    }

    /// The highest-priority pending interrupt of the groups `enabled` accepts
    /// (`ICC_HPPIR<n>_EL1` without the fallback of [`Self::candidate`]).
    fn candidate_where(&self, v: u32, enabled: impl Fn(bool) -> bool) -> Option<Candidate> {
        if self.live.run.get(v as usize) != Some(&RunState::Running) {
            return None;
        }
        let mut best: Option<Candidate> = None;
        let mut consider = |c: Candidate| {
            if best.is_none_or(|b| c.priority < b.priority) {
                best = Some(c);
            }
        };
        for l in self.list_registers(v) {
            if l.pending && !l.active && enabled(l.group) {
                consider(Candidate {
                    intid: l.intid,
                    priority: l.priority,
                    lr: Some(l.index),
                    group: l.group,
                });
            }
        }
        if let Some(vpe) = self.live.its.vpe(v) {
            if vpe.resident && vpe.vgrp1en && !self.vsgi_blocked_by_cpuif() && enabled(true) {
                for i in 0..NR_SGIS {
                    let cfg = vpe.sgi_config[i as usize];
                    if self.irq(v, i).is_some_and(|s| s.hw && s.hw_pending)
                        && cfg.enabled
                        && cfg.group
                    {
                        consider(Candidate {
                            intid: i,
                            priority: cfg.hw_priority(),
                            lr: None,
                            group: true,
                        });
                    }
                }
            }
        }
        if enabled(true) {
            for (intid, priority) in self.vlpi_candidates(v) {
                consider(Candidate {
                    intid,
                    priority,
                    lr: None,
                    group: true,
                });
            }
        }
        best
    }

    fn status(&self, v: u32) -> Option<(Candidate, Verdict)> {
        let c = self.candidate(v)?;
        Some((
            c,
            self.state.cpuifs[v as usize].admit_in(c.priority, c.group),
        ))
    }

    /// Say what the CPU interface of vCPU `v` signals now.
    pub(super) fn signal_hop(&mut self, v: u32, say_nothing: bool) {
        let run = self.live.run[v as usize];
        if run != RunState::Running {
            if say_nothing {
                self.emit(
                    Hop::new(
                        Layer::CpuInterface,
                        "ICH_VMCR_EL2",
                        format!("vCPU {v} is not running: nothing is signalled"),
                    )
                    .vcpu(v),
                );
            }
            return;
        }
        match self.status(v) {
            None => {
                if say_nothing {
                    self.emit(
                        Hop::new(
                            Layer::CpuInterface,
                            "ICV_HPPIR1_EL1",
                            "nothing pending: no virtual IRQ",
                        )
                        .vcpu(v)
                        .source(SRC_VCPUIF),
                    );
                }
            }
            Some((c, verdict)) => {
                let from = match c.lr {
                    Some(n) => format!("list register {n}"),
                    None if crate::vgic::vlpi::is_lpi(c.intid) => {
                        "the vPE's virtual pending table (direct vLPI)".to_string()
                    }
                    None => "the redistributor (direct vSGI)".to_string(),
                };
                let what = if verdict == Verdict::Signalled {
                    format!(
                        "virtual {} asserted: INTID {} at priority {:#04x} from {from}; ICC_IAR{}_EL1 would return {}",
                        if c.group { "IRQ" } else { "FIQ (Group 0)" },
                        c.intid,
                        c.priority,
                        c.group as u8,
                        c.intid
                    )
                } else {
                    format!(
                        "INTID {} (priority {:#04x}, from {from}) is {verdict}",
                        c.intid, c.priority
                    )
                };
                self.emit(
                    Hop::new(Layer::CpuInterface, "ICV_HPPIR1_EL1", what)
                        .vcpu(v)
                        .intid(c.intid)
                        .source(SRC_VCPUIF),
                );
            }
        }
    }

    fn check_cpu(&self, vcpu: u32) -> Result<(), AccessError> {
        let vcpus = self.n_vcpus();
        if vcpu >= vcpus {
            return Err(AccessError::NoSuchVcpu { vcpu, vcpus });
        }
        if self.state.lifecycle != Lifecycle::HasRun {
            // Before 5.16 a vCPU whose first KVM_RUN failed counts as run and
            // executes the guest with the vGIC unmapped; its CPU interface is
            // the hardware's and answers (measured: 5.10.223 reads ICC_PMR_EL1
            // 0, ICC_IAR1_EL1 1023; vgic/state.rs FailedRun).
            if self.vcpu_in_guest(vcpu) {
                return Ok(());
            }
            return Err(AccessError::GuestNotRunning);
        }
        if self.live.run[vcpu as usize] != RunState::Running {
            return Err(AccessError::VcpuNotRunning { vcpu });
        }
        Ok(())
    }

    /// Run `f`, then build an outcome whose rules are those the hops it
    /// emitted show, with `primary` (if any) last, as the deciding rule.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn traced(
        &mut self,
        path: Path,
        op: Op,
        vcpu: u32,
        register: &str,
        f: impl FnOnce(&mut Self, &mut Vec<String>) -> (u64, Option<Errno>, Option<&'static Rule>),
    ) -> Outcome {
        let start = self.live.trace.len();
        let mut notes = Vec::new();
        let (value, errno, primary) = f(self, &mut notes);
        let mut rules: Vec<&'static Rule> = Vec::new();
        for h in self.live.trace.since(start) {
            if let Some(rule) = h.rule.as_deref().and_then(r::by_id) {
                if !rules.iter().any(|x| std::ptr::eq(*x, rule)) {
                    rules.push(rule);
                }
            }
        }
        if let Some(p) = primary {
            rules.retain(|x| !std::ptr::eq(*x, p));
            rules.push(p);
        }
        // A vCPU counted as run before init (vgic/state.rs FailedRun) executes with
        // whatever ICH_VMCR_EL2/ICH_AP*R the physical CPU last held:
        // kvm_vgic_load loads nothing for an uninitialised vGIC.
        if path == Path::Guest
            && self.state.lifecycle == Lifecycle::Created
            && self.state.failed_run.counted_as_run.contains(&vcpu)
        {
            rules.insert(0, &r::CPUIF_UNLOADED);
            notes.push("the vGIC is not initialised: the CPU interface holds what the physical CPU last held".into());
        }
        Outcome {
            path,
            op,
            frame: None,
            vcpu,
            offset: 0,
            width: 64,
            register: Some(register.to_string()),
            value,
            errno,
            rules,
            notes,
            trace: Vec::new(),
        }
    }

    /// The guest reads a CPU-interface system register (`MRS`).
    pub fn sysreg_read(&mut self, vcpu: u32, reg: SysReg) -> Result<Outcome, AccessError> {
        self.check_cpu(vcpu)?;
        Ok(self.traced(Path::Guest, Op::Read, vcpu, reg.name(), |vm, notes| {
            vm.emit(
                Hop::new(Layer::Guest, reg.name(), format!("MRS x0, {}", reg.name()))
                    .vcpu(vcpu)
                    .source(if reg.desc().trapped { "traps to EL2 (HCR_EL2.IMO)" } else { "answered by the ICV_* virtual interface, no trap" }),
            );
            if !reg.readable() {
                notes.push("UNDEFINED: the guest takes an exception".into());
                if matches!(reg, SysReg::IccSgi1rEl1 | SysReg::IccSgi0rEl1) {
                    vm.emit(
                        Hop::new(Layer::Kvm, "access_gic_sgi", "read_from_write_only: an UNDEFINED exception is injected into the guest")
                            .vcpu(vcpu)
                            .rule(&r::SGI1R_READ_UNDEF),
                    );
                    return (0, None, Some(&r::SGI1R_READ_UNDEF));
                }
                vm.emit(
                    Hop::new(Layer::CpuInterface, reg.name(), "write-only: the read is UNDEFINED")
                        .vcpu(vcpu)
                        .rule(&r::CPUIF_UNDEF),
                );
                return (0, None, Some(&r::CPUIF_UNDEF));
            }
            let c = vm.state.cpuifs[vcpu as usize].clone();
            let id_bits = vm.host().ich_vtr_id_bits();
            let (value, rule, what): (u64, &'static Rule, String) = match reg {
                SysReg::IccPmrEl1 => (
                    if vm.host().cpuif_pmr_all_bits {
                        c.pmr as u64
                    } else {
                        (c.pmr & crate::cpuif::PRI_MASK) as u64
                    },
                    &r::CPUIF_PMR,
                    "ICH_VMCR_EL2.VPMR".into(),
                ),
                SysReg::IccIgrpen1El1 => (c.igrpen1 as u64, &r::CPUIF_IGRPEN1, "ICH_VMCR_EL2.VENG1".into()),
                SysReg::IccCtlrEl1 => (
                    c.ctlr(id_bits),
                    &r::CPUIF_CTLR,
                    format!(
                        "EOImode {}, CBPR {}, PRIbits 4, IDbits {id_bits} (the host's ICH_VTR_EL2), A3V 1",
                        c.eoimode as u8, c.cbpr as u8
                    ),
                ),
                SysReg::IccRprEl1 => (
                    c.running_priority() as u64,
                    &r::CPUIF_RPR,
                    if c.ap0r0 | c.ap1r0 == 0 { "nothing active: idle".into() } else { format!("lowest set bit of ICH_AP0R0_EL2 {:#x} | ICH_AP1R0_EL2 {:#x}", c.ap0r0, c.ap1r0) },
                ),
                SysReg::IccAp1r0El1 => (c.ap1r0 as u64, &r::CPUIF_AP1R, "ICH_AP1R0_EL2".into()),
                SysReg::IccAp0r0El1 => (c.ap0r0 as u64, &r::CPUIF_AP0R, "ICH_AP0R0_EL2".into()),
                SysReg::IccIgrpen0El1 => (c.igrpen0 as u64, &r::CPUIF_IGRPEN0, "ICH_VMCR_EL2.VENG0".into()),
                SysReg::IccBpr0El1 => (c.bpr0_effective() as u64, &r::CPUIF_BPR, "ICH_VMCR_EL2.VBPR0".into()),
                SysReg::IccBpr1El1 => (
                    c.bpr1_effective() as u64,
                    &r::CPUIF_BPR,
                    if c.cbpr { "CBPR = 1: ICH_VMCR_EL2.VBPR0 + 1, at most 7".into() } else { "ICH_VMCR_EL2.VBPR1".into() },
                ),
                SysReg::IccHppir0El1 | SysReg::IccHppir1El1 => {
                    let group1 = reg == SysReg::IccHppir1El1;
                    let (en0, en1) = (c.igrpen0, c.igrpen1);
                    let best = vm.candidate_where(vcpu, |g| if g { en1 } else { en0 });
                    match best {
                        Some(b) if b.group == group1 => (b.intid as u64, &r::CPUIF_HPPIR, format!("INTID {} at priority {:#04x} is the highest pending (Group {})", b.intid, b.priority, b.group as u8)),
                        Some(b) => (SPURIOUS as u64, &r::CPUIF_HPPIR, format!("the highest pending, INTID {}, is Group {}: 1023", b.intid, b.group as u8)),
                        None => (SPURIOUS as u64, &r::CPUIF_HPPIR, "nothing pending in an enabled group: 1023".into()),
                    }
                }
                SysReg::IccIar1El1 | SysReg::IccIar0El1 => {
                    let (v, rule) = vm.acknowledge(vcpu, reg == SysReg::IccIar1El1);
                    return (v, None, Some(rule));
                }
                SysReg::IccEoir1El1 | SysReg::IccEoir0El1 | SysReg::IccDirEl1 | SysReg::IccSgi1rEl1 | SysReg::IccSgi0rEl1 => unreachable!("write-only"),
            };
            vm.emit(
                Hop::new(Layer::CpuInterface, reg.name(), format!("reads {value:#x} ({what})"))
                    .vcpu(vcpu)
                    .rule(rule),
            );
            (value, None, Some(rule))
        }))
    }

    /// The guest writes a CPU-interface system register (`MSR`).
    pub fn sysreg_write(
        &mut self,
        vcpu: u32,
        reg: SysReg,
        value: u64,
    ) -> Result<Outcome, AccessError> {
        self.check_cpu(vcpu)?;
        Ok(
            self.traced(Path::Guest, Op::Write, vcpu, reg.name(), |vm, notes| {
                if matches!(reg, SysReg::IccSgi1rEl1 | SysReg::IccSgi0rEl1) {
                    let rule = vm.dispatch_sgi(vcpu, value, reg == SysReg::IccSgi1rEl1);
                    return (value, None, Some(rule));
                }
                vm.emit(
                    Hop::new(
                        Layer::Guest,
                        reg.name(),
                        format!("MSR {}, {value:#x}", reg.name()),
                    )
                    .vcpu(vcpu)
                    .source("answered by the ICV_* virtual interface, no trap"),
                );
                if !reg.writable() {
                    notes.push("UNDEFINED: the guest takes an exception".into());
                    vm.emit(
                        Hop::new(
                            Layer::CpuInterface,
                            reg.name(),
                            "read-only: the write is UNDEFINED",
                        )
                        .vcpu(vcpu)
                        .rule(&r::CPUIF_UNDEF),
                    );
                    return (value, None, Some(&r::CPUIF_UNDEF));
                }
                let rule = match reg {
                    SysReg::IccEoir1El1 => vm.end_of_interrupt(vcpu, value as u32, true),
                    SysReg::IccEoir0El1 => vm.end_of_interrupt(vcpu, value as u32, false),
                    SysReg::IccDirEl1 => vm.deactivate(vcpu, value as u32),
                    _ => {
                        let c = &mut vm.state.cpuifs[vcpu as usize];
                        let (rule, what): (&'static Rule, String) = match reg {
                            SysReg::IccPmrEl1 => {
                                c.pmr = (value as u8) & crate::cpuif::PRI_MASK;
                                let extra = if value > 0xFF || value as u8 & 7 != 0 {
                                    " (unimplemented bits dropped)"
                                } else {
                                    ""
                                };
                                (
                                    &r::CPUIF_PMR,
                                    format!("ICH_VMCR_EL2.VPMR = {:#04x}{extra}", c.pmr),
                                )
                            }
                            SysReg::IccIgrpen1El1 => {
                                c.igrpen1 = value & 1 != 0;
                                (
                                    &r::CPUIF_IGRPEN1,
                                    format!("ICH_VMCR_EL2.VENG1 = {}", c.igrpen1 as u8),
                                )
                            }
                            SysReg::IccCtlrEl1 => {
                                c.write_ctlr(value);
                                (
                                    &r::CPUIF_CTLR,
                                    format!(
                                        "EOImode = {}, CBPR = {} (other bits read-only)",
                                        c.eoimode as u8, c.cbpr as u8
                                    ),
                                )
                            }
                            SysReg::IccAp1r0El1 => {
                                c.ap1r0 = value as u32;
                                (
                                    &r::CPUIF_AP1R,
                                    format!(
                                        "ICH_AP1R0_EL2 = {:#x}: running priority {:#04x}",
                                        c.ap1r0,
                                        c.running_priority()
                                    ),
                                )
                            }
                            SysReg::IccAp0r0El1 => {
                                c.ap0r0 = value as u32;
                                (
                                    &r::CPUIF_AP0R,
                                    format!(
                                        "ICH_AP0R0_EL2 = {:#x}: running priority {:#04x}",
                                        c.ap0r0,
                                        c.running_priority()
                                    ),
                                )
                            }
                            SysReg::IccIgrpen0El1 => {
                                c.igrpen0 = value & 1 != 0;
                                (
                                    &r::CPUIF_IGRPEN0,
                                    format!("ICH_VMCR_EL2.VENG0 = {}", c.igrpen0 as u8),
                                )
                            }
                            SysReg::IccBpr0El1 => {
                                c.write_bpr0(value);
                                (
                                    &r::CPUIF_BPR,
                                    format!("ICH_VMCR_EL2.VBPR0 = {} (at least 2)", c.bpr0),
                                )
                            }
                            SysReg::IccBpr1El1 => {
                                let what = if c.write_bpr1(value) {
                                    format!("ICH_VMCR_EL2.VBPR1 = {} (at least 3)", c.bpr1)
                                } else {
                                    "CBPR = 1: the write is ignored".to_string()
                                };
                                (&r::CPUIF_BPR, what)
                            }
                            _ => unreachable!("handled above"),
                        };
                        vm.emit(
                            Hop::new(Layer::CpuInterface, reg.name(), what)
                                .vcpu(vcpu)
                                .rule(rule),
                        );
                        vm.signal_hop(vcpu, false);
                        rule
                    }
                };
                vm.settle();
                (value, None, Some(rule))
            }),
        )
    }

    /// ICC_IAR1_EL1 (`group1`) or ICC_IAR0_EL1 (`__vgic_v3_read_iar`; QEMU
    /// `icv_iar_read`): the highest-priority pending interrupt of the enabled
    /// groups is acknowledged only through its own group's register. Returns
    /// the INTID and the deciding rule.
    fn acknowledge(&mut self, v: u32, group1: bool) -> (u64, &'static Rule) {
        let at = if group1 {
            "ICV_IAR1_EL1"
        } else {
            "ICV_IAR0_EL1"
        };
        let status = self.status(v);
        let (c, verdict) = match status {
            None => {
                self.emit(
                    Hop::new(Layer::CpuInterface, at, "no pending interrupt in the list registers or from the redistributor: 1023")
                        .vcpu(v)
                        .rule(&r::CPUIF_SPURIOUS),
                );
                return (SPURIOUS as u64, &r::CPUIF_SPURIOUS);
            }
            Some(s) => s,
        };
        if c.group != group1
            && verdict != Verdict::GroupDisabled
            && verdict != Verdict::Group0Disabled
        {
            self.emit(
                Hop::new(
                    Layer::CpuInterface,
                    at,
                    format!(
                        "the highest-priority pending interrupt, INTID {} (priority {:#04x}), is Group {}: 1023",
                        c.intid, c.priority, c.group as u8
                    ),
                )
                .vcpu(v)
                .intid(c.intid)
                .rule(&r::CPUIF_IAR_OTHER_GROUP),
            );
            return (SPURIOUS as u64, &r::CPUIF_IAR_OTHER_GROUP);
        }
        if verdict != Verdict::Signalled || c.group != group1 {
            self.emit(
                Hop::new(
                    Layer::CpuInterface,
                    at,
                    format!(
                        "INTID {} (priority {:#04x}) is {verdict}: 1023",
                        c.intid, c.priority
                    ),
                )
                .vcpu(v)
                .intid(c.intid)
                .rule(&r::CPUIF_SPURIOUS),
            );
            return (SPURIOUS as u64, &r::CPUIF_SPURIOUS);
        }
        let iar_rule = if group1 {
            &r::CPUIF_IAR
        } else {
            &r::CPUIF_IAR0
        };
        let cif = &mut self.state.cpuifs[v as usize];
        cif.set_active_priority_in(c.priority, group1);
        let (ap, rpr) = (
            if group1 { cif.ap1r0 } else { cif.ap0r0 },
            cif.running_priority(),
        );
        let apr = if group1 {
            "ICH_AP1R0_EL2"
        } else {
            "ICH_AP0R0_EL2"
        };
        match c.lr {
            Some(n) => {
                let mut kept = false;
                if let Some(irq) = self.irq_mut(v, c.intid) {
                    irq.active = true;
                    // vgic_v3_populate_lr clears an edge interrupt's latch when
                    // it writes the list register pending; a level interrupt's
                    // latch stays until the list register comes back invalid
                    // (vgic_v3_fold_lr_state: "Clear soft pending state when
                    // level irqs have been acked", `!(val & ICH_LR_STATE)`).
                    if irq.edge {
                        irq.pending_latch = false;
                    } else {
                        kept = irq.pending_latch;
                    }
                }
                if kept {
                    self.emit(
                        Hop::new(
                            Layer::Kvm,
                            "vgic_v3_fold_lr_state",
                            "level-triggered: its pending latch stays set while it is active (it reads pending), and goes when the list register is invalid again after deactivation",
                        )
                        .vcpu(v)
                        .intid(c.intid)
                        .rule(&r::LEVEL_LATCH_UNTIL_DEACTIVATION),
                    );
                }
                self.emit(
                    Hop::new(
                        Layer::CpuInterface,
                        at,
                        format!("returns {}: ICH_LR{n}_EL2 pending -> active; {apr} = {ap:#x}, running priority {rpr:#04x}", c.intid),
                    )
                    .vcpu(v)
                    .intid(c.intid)
                    .rule(iar_rule),
                );
            }
            None if crate::vgic::vlpi::is_lpi(c.intid) => {
                if let Some(irq) = self.irq_mut(v, c.intid) {
                    irq.hw_pending = false;
                }
                self.emit(
                    Hop::new(
                        Layer::CpuInterface,
                        "ICV_IAR1_EL1",
                        format!("returns {}: a direct vLPI from the virtual pending table (its bit clears), no list register, no active state; ICH_AP1R0_EL2 = {ap:#x}, running priority {rpr:#04x}", c.intid),
                    )
                    .vcpu(v)
                    .intid(c.intid)
                    .rule(&crate::vgic::vlpi::ACK),
                );
            }
            None => {
                if let Some(irq) = self.irq_mut(v, c.intid) {
                    irq.hw_pending = false;
                }
                self.emit(
                    Hop::new(
                        Layer::Redistributor,
                        "vPE pending table",
                        format!(
                            "vSGI {} acknowledged: its pending bit clears; it has no active state",
                            c.intid
                        ),
                    )
                    .vcpu(v)
                    .intid(c.intid)
                    .source(
                        "GICv4.1 architecture (vSGIs without active state, GICD_CTLR.nASSGIreq)",
                    ),
                );
                self.emit(
                    Hop::new(
                        Layer::CpuInterface,
                        "ICV_IAR1_EL1",
                        format!("returns {}: a direct vSGI, no list register; ICH_AP1R0_EL2 = {ap:#x}, running priority {rpr:#04x}", c.intid),
                    )
                    .vcpu(v)
                    .intid(c.intid)
                    .rule(&r::CPUIF_IAR),
                );
            }
        }
        self.resync_lrs(v);
        self.settle();
        (c.intid as u64, iar_rule)
    }

    /// ICC_EOIR1_EL1 (`group1`) or ICC_EOIR0_EL1 (`__vgic_v3_write_eoir`;
    /// QEMU `icv_eoir_write`): the priority drop takes the highest active
    /// priority whatever its group; deactivation needs the interrupt's group
    /// to be the register's and its group priority to be the dropped one.
    fn end_of_interrupt(&mut self, v: u32, vid: u32, group1: bool) -> &'static Rule {
        let at = if group1 {
            "ICV_EOIR1_EL1"
        } else {
            "ICV_EOIR0_EL1"
        };
        let eoi_rule = if group1 {
            &r::CPUIF_EOI
        } else {
            &r::CPUIF_EOI0
        };
        if (1020..=1023).contains(&vid) {
            self.emit(
                Hop::new(
                    Layer::CpuInterface,
                    at,
                    format!("INTID {vid} is special: the write is ignored"),
                )
                .vcpu(v)
                .rule(&r::CPUIF_EOI_SPECIAL),
            );
            return &r::CPUIF_EOI_SPECIAL;
        }
        let cif = &mut self.state.cpuifs[v as usize];
        let before = cif.running_priority();
        let dropped = cif.drop_priority();
        let after = cif.running_priority();
        let what = if dropped == IDLE_PRIORITY {
            "priority drop: no active priority to drop (the guest EOIs more than it acknowledged)"
                .to_string()
        } else {
            format!("priority drop: running priority {before:#04x} -> {after:#04x}")
        };
        self.emit(
            Hop::new(Layer::CpuInterface, at, what)
                .vcpu(v)
                .intid(vid)
                .rule(eoi_rule),
        );
        let lr = self
            .list_registers(v)
            .into_iter()
            .find(|l| l.intid == vid && l.active);
        let eoimode = self.state.cpuifs[v as usize].eoimode;
        match lr {
            // QEMU icv_eoir_write: with no active priority "it is CONSTRAINED
            // UNPREDICTABLE whether the list registers are checked [...]; we
            // choose not to": no EOIcount.
            None if dropped == IDLE_PRIORITY => {}
            None => self.no_active_lr(v, vid),
            Some(_) if eoimode => {
                self.emit(
                    Hop::new(
                        Layer::CpuInterface,
                        at,
                        "EOImode = 1: it stays active until ICC_DIR_EL1",
                    )
                    .vcpu(v)
                    .intid(vid)
                    .rule(&r::CPUIF_DIR),
                );
            }
            Some(l) => {
                let pre = self.state.cpuifs[v as usize].group_priority_in(l.priority, group1);
                if l.group != group1 {
                    self.emit(
                        Hop::new(
                            Layer::CpuInterface,
                            at,
                            format!("the interrupt is Group {}, not this register's: no deactivation", l.group as u8),
                        )
                        .vcpu(v)
                        .intid(vid)
                        .source("vgic-v3-sr.c: __vgic_v3_write_eoir (\"If priorities or group do not match, the guest has fscked-up\"); QEMU icv_eoir_write"),
                    );
                } else if pre != dropped {
                    self.emit(
                        Hop::new(
                            Layer::CpuInterface,
                            at,
                            format!("the dropped priority {dropped:#04x} is not this interrupt's ({pre:#04x}): no deactivation"),
                        )
                        .vcpu(v)
                        .intid(vid)
                        .source("vgic-v3-sr.c: __vgic_v3_write_eoir (\"the guest has fscked-up\")"),
                    );
                } else {
                    self.deactivate_lr(v, &l);
                }
            }
        }
        self.resync_lrs(v);
        self.settle();
        self.signal_hop(v, true);
        eoi_rule
    }

    /// ICC_DIR_EL1 (`__vgic_v3_write_dir`).
    fn deactivate(&mut self, v: u32, vid: u32) -> &'static Rule {
        if (1020..=1023).contains(&vid) {
            self.emit(
                Hop::new(
                    Layer::CpuInterface,
                    "ICV_DIR_EL1",
                    format!("INTID {vid} is special: the write is ignored"),
                )
                .vcpu(v)
                .rule(&r::CPUIF_EOI_SPECIAL),
            );
            return &r::CPUIF_EOI_SPECIAL;
        }
        if !self.state.cpuifs[v as usize].eoimode {
            self.emit(
                Hop::new(
                    Layer::CpuInterface,
                    "ICV_DIR_EL1",
                    "EOImode = 0: the write has no effect",
                )
                .vcpu(v)
                .intid(vid)
                .rule(&r::CPUIF_DIR),
            );
            return &r::CPUIF_DIR;
        }
        let lr = self
            .list_registers(v)
            .into_iter()
            .find(|l| l.intid == vid && l.active);
        match lr {
            None if self.dir_trapped(v) && self.irq(v, vid).is_some_and(|s| s.active) => {
                if let Some(irq) = self.irq_mut(v, vid) {
                    irq.active = false;
                }
                self.emit(
                    Hop::new(
                        Layer::Kvm,
                        "vgic_v3_deactivate",
                        "ICH_HCR_EL2.TDIR: the DIR traps and KVM deactivates the interrupt it kept off the list registers",
                    )
                    .vcpu(v)
                    .intid(vid)
                    .rule(&r::LR_OVERFLOW_DIR_TRAP),
                );
            }
            None => self.no_active_lr(v, vid),
            Some(l) => {
                self.emit(
                    Hop::new(Layer::CpuInterface, "ICV_DIR_EL1", "deactivate")
                        .vcpu(v)
                        .intid(vid)
                        .rule(&r::CPUIF_DIR),
                );
                self.deactivate_lr(v, &l);
            }
        }
        self.resync_lrs(v);
        self.settle();
        self.signal_hop(v, true);
        &r::CPUIF_DIR
    }

    fn no_active_lr(&mut self, v: u32, vid: u32) {
        if crate::vgic::vlpi::is_lpi(vid) && self.irq(v, vid).is_some_and(|s| s.hw) {
            self.emit(
                Hop::new(
                    Layer::CpuInterface,
                    "ICH_HCR_EL2.EOIcount",
                    "a direct vLPI has no active state and no list register: nothing to deactivate, EOIcount unchanged",
                )
                .vcpu(v)
                .intid(vid)
                .rule(&crate::vgic::vlpi::ACK),
            );
            return;
        }
        if self.lr_rework() {
            self.live.eoicount[v as usize] += 1;
        }
        let why = if vid < NR_SGIS && self.irq(v, vid).is_some_and(|s| s.hw) {
            "a directly injected vSGI has no active state and no list register"
        } else {
            "no list register holds it active"
        };
        self.emit(
            Hop::new(
                Layer::CpuInterface,
                "ICH_HCR_EL2.EOIcount",
                format!("{why}: nothing to deactivate, EOIcount + 1"),
            )
            .vcpu(v)
            .intid(vid)
            .rule(&r::CPUIF_EOI_NO_LR),
        );
    }

    fn deactivate_lr(&mut self, v: u32, l: &ListReg) {
        let Some(irq) = self.irq_mut(v, l.intid) else {
            return;
        };
        irq.active = false;
        let level = !irq.edge;
        let latch_cleared = level && irq.pending_latch;
        if level {
            // vgic_v3_fold_lr_state: the list register is invalid now.
            irq.pending_latch = false;
        }
        let again = irq.enabled && irq.is_pending();
        let what = match (again, level) {
            (true, true) => "deactivated; the line is still high, so it is pending again (KVM resamples it at the EOI maintenance interrupt)".to_string(),
            (true, false) => format!("ICH_LR{} pending+active -> pending: deactivated, the next one is already pending", l.index),
            (false, _) => format!("ICH_LR{} active -> invalid: deactivated", l.index),
        };
        self.emit(
            Hop::new(Layer::CpuInterface, format!("ICH_LR{}_EL2", l.index), what)
                .vcpu(v)
                .intid(l.intid),
        );
        if latch_cleared {
            self.emit(
                Hop::new(
                    Layer::Kvm,
                    "vgic_v3_fold_lr_state",
                    "level-triggered and deactivated: its pending latch is cleared (only the line can keep it pending)",
                )
                .vcpu(v)
                .intid(l.intid)
                .rule(&r::LEVEL_LATCH_UNTIL_DEACTIVATION),
            );
        }
    }
}
