//! Interrupt delivery, end to end: how an interrupt travels from its source
//! (a guest's `ICC_SGI1R_EL1` write, a VMM's `KVM_IRQ_LINE`, a register write)
//! to the guest's CPU interface, and every hop on the way.
//!
//! Two paths exist:
//! - **software** (every host): KVM latches the interrupt pending, adds it to
//!   the target vCPU's `ap_list` (`vgic_queue_irq_unlock`), and on the vCPU's
//!   next entry writes it into a list register (`vgic_flush_lr_state`); the
//!   guest acknowledges it from the list register through its virtual CPU
//!   interface;
//! - **hardware** (GICv4.1 host, `vgic_v4_enable`, a vSGI-capable CPU interface,
//!   and the guest set `GICD_CTLR.nASSGIreq`): KVM writes `GITS_SGIR`, the
//!   redistributor holding the target vPE makes the vSGI pending and presents
//!   it to the CPU interface directly, or, if the vPE is not resident, keeps it
//!   in the vPE's pending table and perhaps rings the vPE's doorbell.
//!
//! The live parts (KVM's ap_lists, which vCPUs run, the ITS and its vPEs, the
//! trace) are in [`Live`], outside the saved [`crate::vgic::VgicState`]; the CPU
//! interfaces' registers are saved ([`crate::cpuif::CpuIfState`]).
//!
//! Timing model: gicx assumes every running vCPU exits and re-enters between
//! two steps (a timer tick), so KVM's fold, `vgic_prune_ap_list` and
//! `vgic_flush_lr_state` happen at the end of each step.
//!
//! ```
//! use gicx_core::{host::Host, vgic::{Vgic, VmConfig}, cpuif::SysReg, catalogue::Frame};
//! use gicx_core::delivery::DeliveryPath;
//! let mut vm = Vgic::new(Host::parse_compact("v3@6.8").unwrap(), VmConfig::default());
//! vm.init();
//! vm.run();
//! vm.guest_write(Frame::Dist, 0, 0, 32, 0x12).unwrap(); // GICD_CTLR: ARE_NS | EnableGrp1
//! vm.sysreg_write(1, SysReg::IccPmrEl1, 0xf0).unwrap();
//! vm.sysreg_write(1, SysReg::IccIgrpen1El1, 1).unwrap();
//! vm.sysreg_write(0, SysReg::IccSgi1rEl1, 0x0300_0002).unwrap(); // SGI 3 to vCPU 1
//! assert_eq!(vm.sgi_path(1, 3), DeliveryPath::Software);
//! let ack = vm.sysreg_read(1, SysReg::IccIar1El1).unwrap();
//! assert_eq!(ack.value, 3);
//! assert!(vm.take_trace().iter().any(|h| h.at.starts_with("ICH_LR0_EL2")));
//! ```

use serde::{Deserialize, Serialize};

use crate::cpuif::{CpuIfState, Sgi1r, SysReg, Verdict, IDLE_PRIORITY, NR_LRS, SPURIOUS};
use crate::errno::Errno;
use crate::host::Era;
use crate::its::{self, Its, VsgiConfig};
use crate::rules::{self as r, Rule};
use crate::trace::{Hop, Layer, Trace};
use crate::vgic::{
    mpidr_to_vcpu, AccessError, IrqState, Lifecycle, Op, Outcome, Path, Vgic, NR_PRIVATE_IRQS,
    NR_SGIS,
};

/// Which way an SGI travels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryPath {
    /// KVM's ap_list and list registers.
    Software,
    /// GITS_SGIR, the redistributor and the vPE (GICv4.1).
    Hardware,
}

impl DeliveryPath {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryPath::Software => "software",
            DeliveryPath::Hardware => "hardware",
        }
    }
}

/// Whether a vCPU runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    /// Before the first `KVM_RUN`.
    NotStarted,
    /// Loaded and running guest code (its vPE, if any, is resident).
    Running,
    /// Blocked in WFI (`kvm_vcpu_wfi`), its vPE non-resident with a doorbell request.
    Wfi,
    /// Preempted (`vcpu_put`), its vPE non-resident without a doorbell.
    Preempted,
}

/// One list register as KVM programs it (`vgic_v3_populate_lr`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct ListReg {
    pub index: u32,
    pub intid: u32,
    pub pending: bool,
    pub active: bool,
    pub priority: u8,
    pub group: bool,
}

impl ListReg {
    /// `ICH_LR<n>_EL2`: State [63:62] (pending b62, active b63), Group b60,
    /// Priority [55:48], vINTID [31:0].
    pub fn value(&self) -> u64 {
        (self.active as u64) << 63
            | (self.pending as u64) << 62
            | (self.group as u64) << 60
            | (self.priority as u64) << 48
            | self.intid as u64
    }
    pub fn state(&self) -> &'static str {
        match (self.pending, self.active) {
            (true, true) => "pending+active",
            (true, false) => "pending",
            (false, true) => "active",
            (false, false) => "invalid",
        }
    }
}

/// The live delivery state of a VM: rebuilt, never saved.
#[derive(Clone, Debug, Default)]
pub struct Live {
    pub(crate) its: Its,
    /// `vgic_cpu->ap_list_head` per vCPU: INTIDs (private ones are that vCPU's).
    pub(crate) ap_lists: Vec<Vec<u32>>,
    pub(crate) run: Vec<RunState>,
    /// The list registers last shown in the trace, per vCPU.
    pub(crate) shown_lrs: Vec<Vec<ListReg>>,
    /// From the 6.19 overflow rework: the ap_list entries the last flush left
    /// out of the list registers, in order (`overflow_ap_list_head`).
    pub(crate) overflow: Vec<Vec<u32>>,
    /// EOIs and deactivations since the last entry that found no list
    /// register (`ICH_HCR_EL2.EOIcount`), per vCPU.
    pub(crate) eoicount: Vec<u32>,
    pub(crate) trace: Trace,
    /// The LPIs' `struct vgic_irq`s (Group 1, edge; `mpidr` is the target
    /// vCPU's), kept in line with the emulated ITS (vgic/its_device.rs).
    pub(crate) lpis: std::collections::BTreeMap<u32, IrqState>,
    /// GSI routing, irqfds and resample eventfds (vgic/irqfd.rs).
    pub(crate) irqfd: crate::vgic::irqfd::Irqfds,
}

impl Live {
    pub(crate) fn new(vcpus: u32) -> Live {
        let n = vcpus as usize;
        Live {
            its: Its::default(),
            ap_lists: vec![Vec::new(); n],
            run: vec![RunState::NotStarted; n],
            shown_lrs: vec![Vec::new(); n],
            overflow: vec![Vec::new(); n],
            eoicount: vec![0; n],
            trace: Trace::default(),
            lpis: std::collections::BTreeMap::new(),
            irqfd: Default::default(),
        }
    }
}

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

fn cfg_of(irq: &IrqState) -> VsgiConfig {
    VsgiConfig {
        enabled: irq.enabled,
        group: irq.group,
        priority: irq.priority,
    }
}

fn list(v: &[u32]) -> String {
    v.iter()
        .map(|x| x.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

const SRC_VQUEUE_SGI: &str =
    "vgic-mmio-v3.c: vgic_v3_queue_sgi (5.7+; split out of vgic_v3_dispatch_sgi in 6.7)";
const SRC_ITS_SET: &str = "irq-gic-v3-its.c: its_sgi_set_irqchip_state (5.7+)";
const SRC_ITS_CFG: &str = "irq-gic-v3-its.c: its_configure_sgi -> its_build_vsgi_cmd (5.7+)";
const SRC_VCPUIF: &str = "GICv3 virtual CPU interface; vgic-v3-sr.c (4.15+)";

/// The PPIs the arch timer owns from a vCPU's first run: the EL1 virtual (27)
/// and physical (30) timers (arch_timer.c `default_ppi`, `kvm_timer_enable`
/// -> `kvm_vgic_set_owner`; the EL2 timers 26 and 28 exist only with nested
/// virtualisation). Checked on real KVM: KVM_IRQ_LINE of PPI 27 after the
/// first run succeeds and the guest acknowledges nothing (5.10.223, 6.12.118, 7.3.4).
pub const TIMER_PPIS: [u32; 2] = [27, 30];

impl Vgic {
    // ------------------------------------------------------------------ observation

    /// Take the hops emitted since the last take: the one way observation
    /// leaves the model.
    pub fn take_trace(&mut self) -> Vec<Hop> {
        self.live.trace.take()
    }

    /// The single funnel every hop goes through.
    pub(crate) fn emit(&mut self, hop: Hop) {
        self.live.trace.push(hop);
    }

    /// The CPU-interface registers of vCPU `vcpu`.
    pub fn cpuif(&self, vcpu: u32) -> Option<&CpuIfState> {
        self.state.cpuifs.get(vcpu as usize)
    }

    /// The host ITS as this VM uses it (no vPEs when the VM uses no GICv4).
    pub fn its(&self) -> &Its {
        &self.live.its
    }

    pub fn run_state(&self, vcpu: u32) -> Option<RunState> {
        self.live.run.get(vcpu as usize).copied()
    }

    /// KVM's ap_list of vCPU `vcpu`, in list order.
    pub fn ap_list(&self, vcpu: u32) -> &[u32] {
        self.live
            .ap_lists
            .get(vcpu as usize)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// Which path SGI `intid` of vCPU `vcpu` takes now.
    pub fn sgi_path(&self, vcpu: u32, intid: u32) -> DeliveryPath {
        match self.irq(vcpu, intid) {
            Some(irq) if irq.hw => DeliveryPath::Hardware,
            _ => DeliveryPath::Software,
        }
    }

    /// Whether INTID `intid` (as vCPU `vcpu` sees it) is pending, in software
    /// or in hardware.
    pub fn is_pending_anywhere(&self, vcpu: u32, intid: u32) -> bool {
        self.irq(vcpu, intid)
            .map(|i| if i.hw { i.hw_pending } else { i.is_pending() })
            .unwrap_or(false)
    }

    /// Whether this VM gets vPEs (`vgic_v4_init` runs): 5.7–6.16
    /// `vgic_supports_direct_msis` = `has_gicv4_1 || (has_gicv4 && ITS)`; 6.17+
    /// `vgic_supports_direct_irqs` = direct MSIs (not if the VM cleared
    /// nASSGIcap on a vSGI host) or direct SGIs (`nassgicap`); before 5.7
    /// `has_gicv4 && ITS`.
    pub fn vpes_allocated(&self) -> bool {
        let h = &self.host;
        let its = self.state.config.its;
        let era = self.era();
        if era >= Era::V6_17 {
            let sgis = self.state.dist.nassgicap;
            // Deliberately conflated (82221a4e66f0): a VM that cleared nASSGIcap on a
            // vSGI host gets no vPEs for vLPIs either.
            let msis = (sgis || !h.system_supports_direct_sgis()) && h.has_gicv4() && its;
            msis || sgis
        } else if era >= Era::V5_7 {
            h.has_gicv4_1() || (h.has_gicv4() && its)
        } else {
            h.has_gicv4() && its
        }
    }

    /// Whether this host has the 6.19 list-register overflow rework
    /// (`crate::kernels::LR_OVERFLOW_REWORK`).
    fn lr_rework(&self) -> bool {
        self.host.has(&crate::kernels::LR_OVERFLOW_REWORK)
    }

    /// vCPU `vcpu`'s ap_list as `vgic_flush_lr_state` walks it, sorted by
    /// `vgic_irq_cmp` (stable), idle entries left out. Before the 6.19
    /// rework: active first, then pending and enabled by priority. From the
    /// rework: "Pending interrupts must have priority over active interrupts.
    /// This also excludes pending+active interrupts. This ensures that a guest
    /// can perform priority drops on any number of interrupts, and yet be
    /// presented the next pending one" (vgic.c, the comment above
    /// vgic_flush_lr_state): pending, enabled and not active first by
    /// priority, then the active ones in list order.
    fn lr_order(&self, vcpu: u32) -> Vec<(u32, &IrqState)> {
        let mut entries: Vec<(u32, &IrqState)> = self
            .ap_list(vcpu)
            .iter()
            .filter_map(|&i| self.irq(vcpu, i).map(|s| (i, s)))
            .filter(|(_, s)| s.active || (s.enabled && s.is_pending()))
            .collect();
        if self.lr_rework() {
            let pend = |s: &IrqState| s.enabled && s.is_pending() && !s.active;
            entries.sort_by(|(_, a), (_, b)| {
                pend(b).cmp(&pend(a)).then_with(|| {
                    if pend(a) && pend(b) {
                        a.priority.cmp(&b.priority)
                    } else {
                        std::cmp::Ordering::Equal
                    }
                })
            });
            return entries;
        }
        entries.sort_by(|(_, a), (_, b)| {
            b.active
                .cmp(&a.active)
                .then_with(|| {
                    let pa = a.enabled && a.is_pending();
                    let pb = b.enabled && b.is_pending();
                    pb.cmp(&pa)
                })
                .then_with(|| {
                    if a.active || b.active {
                        std::cmp::Ordering::Equal
                    } else {
                        a.priority.cmp(&b.priority)
                    }
                })
        });
        entries
    }

    /// The list registers KVM would program for vCPU `vcpu` now: the first
    /// [`NR_LRS`] entries of [`Self::lr_order`].
    pub fn list_registers(&self, vcpu: u32) -> Vec<ListReg> {
        self.lr_order(vcpu)
            .into_iter()
            .take(NR_LRS)
            .enumerate()
            .map(|(n, (intid, s))| ListReg {
                index: n as u32,
                intid,
                // "Software resampling doesn't work very well if we allow P+A":
                // a level interrupt is written active only while active.
                pending: s.is_pending() && (s.edge || !s.active),
                active: s.active,
                priority: s.priority,
                group: s.group,
            })
            .collect()
    }

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
    fn deactivate_overflow(&mut self, v: u32) {
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

    // ------------------------------------------------------------------ lifecycle hooks

    /// `vgic_v4_init` at `KVM_DEV_ARM_VGIC_CTRL_INIT`.
    pub(crate) fn alloc_vpes(&mut self) {
        if !self.vpes_allocated() || !self.live.its.vpes.is_empty() {
            return;
        }
        let n = self.state.config.vcpus;
        self.live.its = Its::with_vpes(n);
        self.emit(
            Hop::new(
                Layer::Kvm,
                "vgic_v4_init",
                format!("{n} vPEs allocated (its_alloc_vcpu_irqs), one doorbell interrupt each, vPE IDs 0..{n}"),
            )
            .source("vgic-v4.c: vgic_v4_init (4.16+)"),
        );
    }

    /// The first `KVM_RUN`: every vCPU runs and its vPE (if any) is loaded.
    pub(crate) fn first_run(&mut self) {
        for v in 0..self.state.config.vcpus {
            self.live.run[v as usize] = RunState::Running;
            self.vpe_load(v);
        }
        self.settle();
    }

    /// Rebuild the live state from saved state (`from_state`): what KVM's
    /// restore path (uaccess writes, which queue what is pending) and the first
    /// run leave behind.
    pub(crate) fn rebuild_live(&mut self) {
        let n = self.state.config.vcpus;
        let trace = std::mem::take(&mut self.live.trace);
        self.live = Live::new(n);
        self.live.trace = trace;
        if self.state.lifecycle >= Lifecycle::Initialised && self.vpes_allocated() {
            self.live.its = Its::with_vpes(n);
            for v in 0..n {
                for i in 0..NR_SGIS {
                    let cfg = self.irq(v, i).map(cfg_of).unwrap_or_default();
                    if let Some(vpe) = self.live.its.vpe_mut(v) {
                        vpe.sgi_config[i as usize] = cfg;
                    }
                }
            }
        }
        if self.state.lifecycle == Lifecycle::HasRun {
            let enabled = self.state.dist.enabled;
            for v in 0..n {
                self.live.run[v as usize] = RunState::Running;
                if let Some(vpe) = self.live.its.vpe_mut(v) {
                    vpe.resident = true;
                    vpe.vgrp1en = enabled;
                }
            }
        }
        for v in 0..n {
            for i in 0..NR_PRIVATE_IRQS {
                if let Some(t) = self.oracle(v, i, None) {
                    self.live.ap_lists[t as usize].push(i);
                }
            }
        }
        for i in NR_PRIVATE_IRQS..self.state.config.nr_irqs {
            if let Some(t) = self.oracle(0, i, None) {
                self.live.ap_lists[t as usize].push(i);
            }
        }
        for v in 0..n {
            self.live.shown_lrs[v as usize] = self.list_registers(v);
        }
    }

    /// `KVM_REQ_RELOAD_GICv4` (distributor enable changed): every running
    /// vCPU does `vgic_v4_put` + `vgic_v4_load`, picking up vGrp1En.
    pub(crate) fn reload_gicv4(&mut self) {
        for v in 0..self.state.config.vcpus {
            if self.live.run[v as usize] != RunState::Running || self.live.its.vpe(v).is_none() {
                continue;
            }
            self.emit(
                Hop::new(
                    Layer::Kvm,
                    "check_vcpu_requests",
                    "KVM_REQ_RELOAD_GICv4: vgic_v4_put + vgic_v4_load",
                )
                .vcpu(v)
                .rule(&r::CTLR_GUEST_RELOAD),
            );
            if let Some(vpe) = self.live.its.vpe_mut(v) {
                vpe.resident = false;
            }
            self.vpe_load(v);
        }
    }

    /// Report interrupts that are latched pending and enabled but on no
    /// ap_list (after the distributor was re-enabled, or SGIs came back from
    /// hardware): `vgic_kick_vcpus` does not find them.
    pub(crate) fn report_unqueued(&mut self) {
        let mut stranded: Vec<(u32, u32)> = Vec::new();
        let n = self.state.config.vcpus;
        for v in 0..n {
            for i in 0..NR_PRIVATE_IRQS {
                if self.is_unqueued(v, i) {
                    stranded.push((v, i));
                }
            }
        }
        for i in NR_PRIVATE_IRQS..self.state.config.nr_irqs {
            if self.is_unqueued(0, i) && self.target_of(0, i).is_some() {
                stranded.push((self.target_of(0, i).unwrap_or(0), i));
            }
        }
        for (v, i) in stranded {
            self.emit(
                Hop::new(
                    Layer::Kvm,
                    "vgic_kick_vcpus",
                    "latched pending but on no ap_list: the kick does not find it, it waits until something requeues it",
                )
                .vcpu(v)
                .intid(i)
                .rule(&r::DIST_DISABLED_UNQUEUED),
            );
        }
    }

    fn is_unqueued(&self, owner: u32, intid: u32) -> bool {
        let Some(irq) = self.irq(owner, intid) else {
            return false;
        };
        !irq.hw
            && irq.enabled
            && irq.is_pending()
            && self.state.dist.enabled
            && self.holder(owner, intid).is_none()
    }

    // ------------------------------------------------------------------ KVM's software path

    fn n_vcpus(&self) -> u32 {
        self.state.config.vcpus
    }

    /// `irq->target_vcpu`: the owner of a private IRQ, IROUTER's vCPU for an SPI.
    fn target_of(&self, owner: u32, intid: u32) -> Option<u32> {
        if intid < NR_PRIVATE_IRQS {
            Some(owner)
        } else {
            let irq = self.irq(owner, intid)?;
            mpidr_to_vcpu(irq.mpidr, self.n_vcpus())
        }
    }

    /// `irq->vcpu`: the vCPU whose ap_list holds the IRQ.
    fn holder(&self, owner: u32, intid: u32) -> Option<u32> {
        if intid < NR_PRIVATE_IRQS {
            self.live
                .ap_lists
                .get(owner as usize)
                .filter(|l| l.contains(&intid))
                .map(|_| owner)
        } else {
            self.live
                .ap_lists
                .iter()
                .position(|l| l.contains(&intid))
                .map(|p| p as u32)
        }
    }

    /// `vgic_target_oracle`.
    fn oracle(&self, owner: u32, intid: u32, holder: Option<u32>) -> Option<u32> {
        let irq = self.irq(owner, intid)?;
        if irq.active {
            return holder.or_else(|| self.target_of(owner, intid));
        }
        if irq.enabled && irq.is_pending() {
            if !self.state.dist.enabled {
                return None;
            }
            return self.target_of(owner, intid);
        }
        None
    }

    /// `vgic_queue_irq_unlock`.
    pub(crate) fn queue_irq(&mut self, owner: u32, intid: u32) {
        let Some(irq) = self.irq(owner, intid).cloned() else {
            return;
        };
        if let Some(h) = self.holder(owner, intid) {
            if irq.is_pending() || irq.active {
                self.emit(
                    Hop::new(
                        Layer::Kvm,
                        "vgic_queue_irq_unlock",
                        format!("already on vCPU {h}'s ap_list: KVM_REQ_IRQ_PENDING and kvm_vcpu_kick(vCPU {h})"),
                    )
                    .vcpu(h)
                    .intid(intid)
                    .rule(&r::QUEUE),
                );
                self.note_kick(h);
            }
            return;
        }
        match self.oracle(owner, intid, None) {
            Some(t) => {
                self.live.ap_lists[t as usize].push(intid);
                self.emit(
                    Hop::new(
                        Layer::Kvm,
                        "vgic_queue_irq_unlock",
                        format!("vgic_target_oracle: vCPU {t}; added to its ap_list, KVM_REQ_IRQ_PENDING and kvm_vcpu_kick(vCPU {t})"),
                    )
                    .vcpu(t)
                    .intid(intid)
                    .rule(&r::QUEUE),
                );
                self.note_kick(t);
            }
            None if irq.is_pending() => {
                let hop = Hop::new(Layer::Kvm, "vgic_target_oracle", "").intid(intid);
                let hop = if !irq.enabled {
                    Hop {
                        what: "disabled (ISENABLER): it stays latched pending, on no ap_list"
                            .into(),
                        ..hop.rule(&r::QUEUE)
                    }
                } else if !self.state.dist.enabled {
                    Hop {
                        what: "the distributor is disabled: forwarded nowhere, it stays latched pending".into(),
                        ..hop.rule(&r::DIST_DISABLED_UNQUEUED)
                    }
                } else {
                    Hop {
                        what: format!("IROUTER {:#x} names no vCPU: never delivered", irq.mpidr),
                        ..hop.rule(&r::IROUTER_NO_VCPU)
                    }
                };
                self.emit(hop);
            }
            None => {}
        }
    }

    /// What a kick means for a vCPU that is not running.
    fn note_kick(&mut self, v: u32) {
        let what = match self.live.run[v as usize] {
            RunState::Running => return,
            RunState::Wfi => "blocked in WFI: the kick wakes it if kvm_vgic_vcpu_pending_irq sees the interrupt above its PMR; it runs again at the next `schedule`",
            RunState::Preempted => "not running (preempted): it takes the interrupt when it is scheduled again",
            RunState::NotStarted => "has not run yet: it takes the interrupt after the first KVM_RUN",
        };
        self.emit(Hop::new(Layer::Kvm, "kvm_vcpu_kick", format!("vCPU {v} {what}")).vcpu(v));
    }

    /// The end of a step: every running vCPU exits (fold + `vgic_prune_ap_list`)
    /// and re-enters (`vgic_flush_lr_state`).
    #[inline]
    pub(crate) fn settle(&mut self) {
        // No vCPU runs before the first KVM_RUN (a restore writes thousands of words first).
        if self.state.lifecycle == Lifecycle::HasRun {
            self.settle_running();
        }
    }

    fn settle_running(&mut self) {
        let n = self.n_vcpus();
        self.irqfd_notify_acked();
        for v in 0..n {
            if self.live.run[v as usize] == RunState::Running {
                self.timer_drives_its_lines(v);
                if let Some(c) = self.state.cpuifs.get_mut(v as usize) {
                    c.through_hardware();
                }
                self.deactivate_overflow(v);
                self.prune(v);
            }
        }
        for v in 0..n {
            if self.live.run[v as usize] == RunState::Running {
                self.flush(v);
            }
        }
    }

    /// A running vCPU's timer PPIs carry the arch timer's output
    /// (kvm_timer_update_irq -> kvm_vgic_inject_irq with the timer as owner):
    /// gicx guests never enable their timers (CNTV_CTL_EL0/CNTP_CTL_EL0 reset
    /// to 0), so the line is low whatever userspace wrote through LEVEL_INFO.
    /// Checked on real KVM 5.10.223, 6.12.118, 7.3.4: LEVEL_INFO of PPIs
    /// written 0xffff0000 reads back 0xb7ff0000 once the vCPUs have run.
    fn timer_drives_its_lines(&mut self, v: u32) {
        for intid in TIMER_PPIS {
            if let Some(irq) = self.irq_mut(v, intid) {
                irq.line_level = false;
            }
        }
    }

    /// `vgic_prune_ap_list`.
    fn prune(&mut self, v: u32) {
        let items = std::mem::take(&mut self.live.ap_lists[v as usize]);
        let mut keep = Vec::with_capacity(items.len());
        for intid in items {
            let Some(irq) = self.irq(v, intid).cloned() else {
                continue;
            };
            let target = if irq.active {
                Some(v)
            } else if irq.enabled && irq.is_pending() && self.state.dist.enabled {
                self.target_of(v, intid)
            } else {
                None
            };
            match target {
                Some(t) if t == v => keep.push(intid),
                Some(t) => {
                    self.live.ap_lists[t as usize].push(intid);
                    self.emit(
                        Hop::new(
                            Layer::Kvm,
                            "vgic_prune_ap_list",
                            format!(
                                "moves from vCPU {v}'s ap_list to vCPU {t}'s (its route changed)"
                            ),
                        )
                        .vcpu(t)
                        .intid(intid),
                    );
                }
                None => {
                    if irq.enabled && irq.is_pending() {
                        self.emit(
                            Hop::new(
                                Layer::Kvm,
                                "vgic_prune_ap_list",
                                format!("leaves vCPU {v}'s ap_list although still latched pending: the distributor is disabled"),
                            )
                            .vcpu(v)
                            .intid(intid)
                            .rule(&r::DIST_DISABLED_UNQUEUED),
                        );
                    }
                }
            }
        }
        let moved_in = std::mem::take(&mut self.live.ap_lists[v as usize]);
        keep.extend(moved_in);
        self.live.ap_lists[v as usize] = keep;
    }

    /// `vgic_flush_lr_state`: show list registers that gained an entry.
    fn flush(&mut self, v: u32) {
        let lrs = self.list_registers(v);
        let old = std::mem::take(&mut self.live.shown_lrs[v as usize]);
        let key = |l: &ListReg| (l.intid, l.pending, l.active);
        let mut changed = false;
        for l in &lrs {
            if !old.iter().any(|o| key(o) == key(l)) && (l.pending || l.active) {
                changed = true;
                self.emit(
                    Hop::new(
                        Layer::Kvm,
                        format!("ICH_LR{}_EL2", l.index),
                        format!(
                            "vgic_flush_lr_state: {:#018x} = vINTID {}, {}, priority {:#04x}, Group {}",
                            l.value(),
                            l.intid,
                            l.state(),
                            l.priority,
                            l.group as u8
                        ),
                    )
                    .vcpu(v)
                    .intid(l.intid)
                    .rule(&r::LR_FLUSH),
                );
            }
        }
        let mut overflow_moved = false;
        if self.lr_rework() {
            let overflow: Vec<u32> = self
                .lr_order(v)
                .iter()
                .skip(NR_LRS)
                .map(|(i, _)| *i)
                .collect();
            overflow_moved = overflow != self.live.overflow[v as usize];
            self.live.overflow[v as usize] = overflow;
        }
        let waiting = self.lr_order(v).len().saturating_sub(NR_LRS);
        if (changed || overflow_moved) && waiting > 0 {
            let hop = if self.lr_rework() {
                Hop::new(
                    Layer::Kvm,
                    "vgic_flush_lr_state",
                    format!("pending interrupts first, then active ones: {waiting} wait on the overflow list (NPIE/LRENPIE/UIE maintenance interrupts requested)"),
                )
                .rule(&r::LR_OVERFLOW_PENDING_FIRST)
            } else {
                Hop::new(
                    Layer::Kvm,
                    "vgic_flush_lr_state",
                    format!("{waiting} more wait on the ap_list (underflow maintenance interrupt requested)"),
                )
            };
            self.emit(hop.vcpu(v));
        }
        self.live.shown_lrs[v as usize] = lrs;
        if changed {
            self.signal_hop(v, false);
        }
    }

    /// Forget the list-register changes the CPU interface itself made
    /// (acknowledge, deactivate): they are not KVM flushes.
    fn resync_lrs(&mut self, v: u32) {
        self.live.shown_lrs[v as usize] = self.list_registers(v);
    }

    // ------------------------------------------------------------------ the CPU interface

    fn vsgi_blocked_by_cpuif(&self) -> bool {
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
    fn signal_hop(&mut self, v: u32, say_nothing: bool) {
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
            // 0, ICC_IAR1_EL1 1023; vgic.rs FailedRun).
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
    fn traced(
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
        // A vCPU counted as run before init (vgic.rs FailedRun) executes with
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
        if level {
            // ICH_LR_EOI: the fold notifies the irqfd resamplers (vgic/irqfd.rs).
            self.irqfd_lr_eoi(l.intid);
        }
    }

    // ------------------------------------------------------------------ SGIs

    /// A guest write to ICC_SGI1R_EL1 (`access_gic_sgi` → `vgic_v3_dispatch_sgi`).
    /// Returns the rule of the path taken.
    /// `allow_group1`: ICC_SGI1R_EL1 (true) or ICC_SGI0R_EL1 (false; sys_regs.c
    /// access_gic_sgi: `g1 = false` for SGI0R and ASGI1R).
    fn dispatch_sgi(&mut self, from: u32, value: u64, allow_group1: bool) -> &'static Rule {
        let s = Sgi1r::decode(value);
        let n = self.n_vcpus();
        let name = if allow_group1 {
            "ICC_SGI1R_EL1"
        } else {
            "ICC_SGI0R_EL1"
        };
        self.emit(
            Hop::new(Layer::Guest, name, format!("MSR {name}, {value:#x}: {s}"))
                .vcpu(from)
                .intid(s.intid as u32)
                .source("GICv3 architecture: ICC_SGI0R_EL1/ICC_SGI1R_EL1 (trap to EL2 while HCR_EL2.IMO = 1)"),
        );
        self.emit(
            Hop::new(
                Layer::Kvm,
                "access_gic_sgi",
                format!(
                    "trap: access_gic_sgi -> vgic_v3_dispatch_sgi(allow_group1 = {allow_group1})"
                ),
            )
            .vcpu(from)
            .rule(&r::SGI_DISPATCH),
        );
        let mut targets = Vec::new();
        if s.irm {
            targets.extend((0..n).filter(|&c| c != from));
        } else {
            for m in s.target_mpidrs() {
                match m.and_then(|m| mpidr_to_vcpu(m, n)) {
                    Some(t) => targets.push(t),
                    None => self.emit(
                        Hop::new(
                            Layer::Kvm,
                            "kvm_mpidr_to_vcpu",
                            match m {
                                Some(m) => format!("no vCPU has MPIDR {m:#x}: skipped"),
                                None => format!("Aff3 = {}: no vCPU has it, skipped", s.aff3),
                            },
                        )
                        .rule(&r::SGI_NO_TARGET),
                    ),
                }
            }
        }
        let intid = s.intid as u32;
        let mut rule = &r::SGI_SOFTWARE;
        for &t in &targets {
            // vgic_v3_queue_sgi: "An access targeting Group0 SGIs can only
            // generate those, while an access targeting Group1 SGIs can
            // generate interrupts of either group."
            if !allow_group1 && self.irq(t, intid).is_some_and(|s| s.group) {
                self.emit(
                    Hop::new(
                        Layer::Kvm,
                        "vgic_v3_queue_sgi",
                        "ICC_SGI0R_EL1 generates Group 0 SGIs only: this SGI is Group 1, nothing is made pending",
                    )
                    .vcpu(t)
                    .intid(intid)
                    .rule(&r::SGI0R_GROUP0_ONLY),
                );
                rule = &r::SGI0R_GROUP0_ONLY;
                continue;
            }
            if self.queue_sgi(t, intid) == DeliveryPath::Hardware {
                rule = &r::SGI_HARDWARE;
            }
        }
        self.settle();
        if targets.is_empty() {
            rule = &r::SGI_DISPATCH;
        }
        rule
    }

    /// `vgic_v3_queue_sgi`: one target.
    fn queue_sgi(&mut self, t: u32, intid: u32) -> DeliveryPath {
        let hw = self.irq(t, intid).is_some_and(|s| s.hw);
        if !hw {
            if let Some(irq) = self.irq_mut(t, intid) {
                irq.pending_latch = true;
            }
            self.emit(
                Hop::new(
                    Layer::Kvm,
                    "vgic_v3_queue_sgi",
                    "software SGI: pending_latch = 1",
                )
                .vcpu(t)
                .intid(intid)
                .source(SRC_VQUEUE_SGI)
                .rule(&r::SGI_SOFTWARE),
            );
            self.queue_irq(t, intid);
            DeliveryPath::Software
        } else {
            self.emit(
                Hop::new(
                    Layer::Kvm,
                    "vgic_v3_queue_sgi",
                    "irq->hw: irq_set_irqchip_state(host_irq, IRQCHIP_STATE_PENDING, true)",
                )
                .vcpu(t)
                .intid(intid)
                .source(SRC_VQUEUE_SGI)
                .rule(&r::SGI_HARDWARE),
            );
            self.vsgi_set_pending(t, intid);
            DeliveryPath::Hardware
        }
    }

    // ------------------------------------------------------------------ the GICv4.1 path

    /// `its_sgi_set_irqchip_state(d, PENDING, true)`: a write to GITS_SGIR.
    pub(crate) fn vsgi_set_pending(&mut self, v: u32, intid: u32) {
        if let Some(irq) = self.irq_mut(v, intid) {
            irq.hw_pending = true;
        }
        let val = its::gits_sgir(v, intid);
        self.emit(
            Hop::new(
                Layer::Its,
                "GITS_SGIR",
                format!("GITS_SGIR <- {val:#x} (vPEID {v}, vINTID {intid}): no command queue, the ITS forwards it to the vPE's redistributor"),
            )
            .vcpu(v)
            .intid(intid)
            .source(SRC_ITS_SET),
        );
        self.vsgi_arrive(v, intid);
    }

    /// The redistributor receives a vSGI for vPE `v`.
    fn vsgi_arrive(&mut self, v: u32, intid: u32) {
        let blocked = self.vsgi_blocked_by_cpuif();
        let Some(vpe) = self.live.its.vpe(v).cloned() else {
            self.emit(
                Hop::new(
                    Layer::Redistributor,
                    "vPE",
                    "no vPE exists for this vCPU: the vSGI goes nowhere",
                )
                .vcpu(v)
                .intid(intid),
            );
            return;
        };
        let cfg = vpe.sgi_config[intid as usize];
        let cfg_text = format!(
            "Enable {}, Group {}, priority {:#04x}",
            cfg.enabled as u8,
            cfg.group as u8,
            cfg.hw_priority()
        );
        if vpe.resident {
            self.emit(
                Hop::new(
                    Layer::Redistributor,
                    "GICR_VPENDBASER",
                    format!(
                        "vPE {v} is resident (vGrp1En {}): vSGI {intid} pending ({cfg_text})",
                        vpe.vgrp1en as u8
                    ),
                )
                .vcpu(v)
                .intid(intid)
                .rule(&r::VSGI_RESIDENT),
            );
            let held = if blocked {
                Some((
                    "the CPU interface predates GICv4.1: the vSGI is not presented",
                    &r::VSGI_CPUIF_PRE_V4_1,
                ))
            } else if !cfg.group {
                Some((
                    "Group 0 and vGrp0En = 0: never presented",
                    &r::VSGI_GROUP0_NEVER,
                ))
            } else if !cfg.enabled {
                Some((
                    "disabled in the vPE's configuration: it stays pending",
                    &r::VSGI_CONFIG_UPDATE,
                ))
            } else if !vpe.vgrp1en {
                Some((
                    "vGrp1En = 0 (the distributor was disabled when the vPE was loaded): held",
                    &r::VPE_LOAD,
                ))
            } else {
                None
            };
            if let Some((what, rule)) = held {
                self.emit(
                    Hop::new(Layer::Redistributor, "GICR_VPENDBASER", what)
                        .vcpu(v)
                        .intid(intid)
                        .rule(rule),
                );
            }
            self.signal_hop(v, false);
            return;
        }
        self.emit(
            Hop::new(
                Layer::Redistributor,
                "virtual pending table",
                format!("vPE {v} is not resident: vSGI {intid} is recorded in its pending table ({cfg_text})"),
            )
            .vcpu(v)
            .intid(intid)
            .rule(&r::VSGI_NOT_RESIDENT),
        );
        let eligible = cfg.enabled && cfg.group && vpe.vgrp1en;
        if vpe.doorbell_armed && eligible {
            if let Some(p) = self.live.its.vpe_mut(v) {
                p.doorbell_armed = false;
                p.doorbell_fired = true;
                p.pending_last = true;
            }
            self.emit(
                Hop::new(
                    Layer::Redistributor,
                    "GICR_VPENDBASER.DB",
                    "the vPE's default doorbell fires (a physical LPI to the host)",
                )
                .vcpu(v)
                .intid(intid)
                .rule(&r::VSGI_DOORBELL),
            );
            self.emit(
                Hop::new(
                    Layer::Kvm,
                    "vgic_v4_doorbell_handler",
                    format!("pending_last = true, KVM_REQ_IRQ_PENDING, kvm_vcpu_kick(vCPU {v}): the vCPU leaves WFI and runs at the next `schedule`"),
                )
                .vcpu(v)
                .source("vgic-v4.c: vgic_v4_doorbell_handler (5.7+ for GICv4.1)"),
            );
        } else if vpe.doorbell_armed {
            self.emit(
                Hop::new(
                    Layer::Redistributor,
                    "GICR_VPENDBASER.DB",
                    "no doorbell: the vSGI or its group is disabled",
                )
                .vcpu(v)
                .intid(intid),
            );
        } else {
            let why = if vpe.doorbell_fired {
                "the doorbell already fired"
            } else {
                "none was requested (the vCPU was preempted, not blocked in WFI)"
            };
            self.emit(
                Hop::new(
                    Layer::Redistributor,
                    "GICR_VPENDBASER.DB",
                    format!("no doorbell: {why}; the vSGI waits for the vPE to be scheduled"),
                )
                .vcpu(v)
                .intid(intid),
            );
        }
    }

    /// `its_sgi_set_irqchip_state(d, PENDING, false)`: a VSGI command with Clear = 1.
    pub(crate) fn vsgi_clear_pending(&mut self, v: u32, intid: u32) {
        if let Some(irq) = self.irq_mut(v, intid) {
            irq.hw_pending = false;
        }
        let cfg = self
            .live
            .its
            .vpe(v)
            .map(|p| p.sgi_config[intid as usize])
            .unwrap_or_default();
        let cmd = its::vsgi_command(v, intid, cfg, true);
        self.emit(
            Hop::new(
                Layer::Its,
                "VSGI",
                format!(
                    "VSGI Clear = 1 (DW0 {:#x}, DW1 {:#x}): pending cleared",
                    cmd[0], cmd[1]
                ),
            )
            .vcpu(v)
            .intid(intid)
            .rule(&r::VSGI_PENDING_CLEAR),
        );
    }

    /// `its_sgi_get_irqchip_state` for every hardware SGI of vCPU `v`:
    /// GICR_VSGIR / GICR_VSGIPENDR on the vPE's redistributor. Returns the
    /// Pending[15:0] bits.
    pub(crate) fn vsgi_read_pending(&mut self, v: u32) -> u16 {
        let mut bits = 0u16;
        let mut count = 0;
        for i in 0..NR_SGIS {
            if let Some(s) = self.irq(v, i) {
                if s.hw {
                    count += 1;
                    if s.hw_pending {
                        bits |= 1 << i;
                    }
                }
            }
        }
        let here = if self.live.its.vpe(v).is_some_and(|p| p.resident) {
            "the redistributor the vPE is resident on"
        } else {
            "the redistributor of the CPU the vPE last ran on"
        };
        self.emit(
            Hop::new(
                Layer::Kvm,
                "irq_get_irqchip_state",
                format!("{count} hardware SGIs: IRQCHIP_STATE_PENDING asked of the ITS driver"),
            )
            .vcpu(v)
            .source("vgic-mmio.c: __read_pending / vgic-v4.c: vgic_v4_disable_vsgis (5.7+)"),
        );
        self.emit(
            Hop::new(
                Layer::Redistributor,
                "GICR_VSGIR/GICR_VSGIPENDR",
                format!(
                    "on {here}: GICR_VSGIR <- {v} (vPEID), poll GICR_VSGIPENDR until Busy (bit 31) = 0: Pending[15:0] = {bits:#06x}"
                ),
            )
            .vcpu(v)
            .rule(&r::VSGI_PENDING_READ),
        );
        bits
    }

    /// Send a hardware SGI's configuration to the ITS (`its_configure_sgi(d, false)`).
    pub(crate) fn vsgi_update_config(&mut self, v: u32, intid: u32, why: &str) {
        let Some(irq) = self.irq(v, intid) else {
            return;
        };
        let cfg = cfg_of(irq);
        if let Some(vpe) = self.live.its.vpe_mut(v) {
            vpe.sgi_config[intid as usize] = cfg;
        }
        let cmd = its::vsgi_command(v, intid, cfg, false);
        self.emit(
            Hop::new(
                Layer::Its,
                "VSGI",
                format!(
                    "{why}: VSGI vPEID {v} vINTID {intid} Enable {} Group {} Priority {:#x} (DW0 {:#x})",
                    cfg.enabled as u8,
                    cfg.group as u8,
                    cfg.priority >> 4,
                    cmd[0]
                ),
            )
            .vcpu(v)
            .intid(intid)
            .source(SRC_ITS_CFG)
            .rule(&r::VSGI_CONFIG_UPDATE),
        );
        self.note_priority_bits(v, intid, cfg);
        if self.irq(v, intid).is_some_and(|s| s.hw_pending) {
            self.signal_hop(v, false);
        }
    }

    /// Say so when a priority loses bits on its way to the ITS.
    fn note_priority_bits(&mut self, v: u32, intid: u32, cfg: VsgiConfig) {
        if cfg.priority & 0x0F != 0 {
            self.emit(
                Hop::new(
                    Layer::Its,
                    "VSGI",
                    format!(
                        "priority {:#04x} travels as {:#x} (4 bits): the redistributor presents it at {:#04x}",
                        cfg.priority,
                        cfg.priority >> 4,
                        cfg.hw_priority()
                    ),
                )
                .vcpu(v)
                .intid(intid)
                .rule(&r::VSGI_PRIORITY_4BIT),
            );
        }
    }

    /// A userspace write changed only KVM's enable flag of a hardware SGI.
    pub(crate) fn vsgi_uaccess_enable_only(&mut self, v: u32, intid: u32) {
        let vpe_enabled = self
            .live
            .its
            .vpe(v)
            .map(|p| p.sgi_config[intid as usize].enabled);
        self.emit(
            Hop::new(
                Layer::Kvm,
                "vgic_uaccess_write_senable/cenable",
                format!(
                    "only KVM's enabled flag changes; the vPE keeps Enable = {}",
                    vpe_enabled
                        .map(|e| (e as u8).to_string())
                        .unwrap_or("-".into())
                ),
            )
            .vcpu(v)
            .intid(intid)
            .rule(&r::VSGI_CONFIG_UPDATE),
        );
    }

    /// `vgic_v4_enable_vsgis` for one vCPU. Returns (SGIs moved, SGIs that were active).
    pub(crate) fn enable_vsgis(&mut self, v: u32) -> (u32, Vec<u32>) {
        let mut moved = Vec::new();
        let mut pending = Vec::new();
        let mut active = Vec::new();
        for i in 0..NR_SGIS {
            let Some(irq) = self.irq_mut(v, i) else {
                continue;
            };
            if irq.hw {
                continue;
            }
            irq.hw = true;
            let cfg = cfg_of(irq);
            if irq.pending_latch {
                pending.push(i);
            }
            irq.hw_pending = irq.pending_latch;
            irq.pending_latch = false;
            if irq.active {
                active.push(i);
            }
            if let Some(vpe) = self.live.its.vpe_mut(v) {
                vpe.sgi_config[i as usize] = cfg;
            }
            moved.push(i);
        }
        if moved.is_empty() {
            return (0, active);
        }
        let first = self
            .live
            .its
            .vpe(v)
            .map(|p| p.sgi_config[moved[0] as usize])
            .unwrap_or_default();
        self.emit(
            Hop::new(
                Layer::Kvm,
                "vgic_v4_enable_vsgis",
                format!("SGIs {} become irq->hw; enable, group and priority copied to the vPE (vgic_v4_sync_sgi_config)", list(&moved)),
            )
            .vcpu(v)
            .rule(&r::VSGI_ENABLE),
        );
        self.emit(
            Hop::new(
                Layer::Its,
                "VSGI",
                format!(
                    "{} VSGI commands (irq_domain_activate_irq -> its_sgi_irq_domain_activate), e.g. SGI {}: DW0 {:#x}",
                    moved.len(),
                    moved[0],
                    its::vsgi_command(v, moved[0], first, false)[0]
                ),
            )
            .vcpu(v)
            .source(SRC_ITS_CFG),
        );
        for &i in &moved {
            if let Some(cfg) = self.live.its.vpe(v).map(|p| p.sgi_config[i as usize]) {
                self.note_priority_bits(v, i, cfg);
            }
        }
        let not_pending = moved.len() - pending.len();
        if not_pending > 0 {
            self.emit(
                Hop::new(Layer::Its, "VSGI", format!("{not_pending} VSGI Clear = 1 commands: irq_set_irqchip_state(PENDING, false) for the SGIs not pending"))
                    .vcpu(v)
                    .source(SRC_ITS_SET),
            );
        }
        for &i in &pending {
            self.emit(
                Hop::new(
                    Layer::Kvm,
                    "vgic_v4_enable_vsgis",
                    "the pending latch moves to hardware and is cleared",
                )
                .vcpu(v)
                .intid(i)
                .rule(&r::VSGI_ENABLE),
            );
            let val = its::gits_sgir(v, i);
            self.emit(
                Hop::new(
                    Layer::Its,
                    "GITS_SGIR",
                    format!("GITS_SGIR <- {val:#x} (vPEID {v}, vINTID {i})"),
                )
                .vcpu(v)
                .intid(i)
                .source(SRC_ITS_SET),
            );
            self.vsgi_arrive(v, i);
        }
        for &i in &active {
            self.emit(
                Hop::new(
                    Layer::Kvm,
                    "vgic_v4_enable_vsgis",
                    "was active: the active state stays in KVM's state and its list register",
                )
                .vcpu(v)
                .intid(i)
                .rule(&r::VSGI_ACTIVE_STAYS),
            );
        }
        (moved.len() as u32, active)
    }

    /// `vgic_v4_disable_vsgis` for one vCPU. Returns (SGIs moved, SGIs left
    /// latched pending on no ap_list).
    pub(crate) fn disable_vsgis(&mut self, v: u32) -> (u32, Vec<u32>) {
        let hw: Vec<u32> = (0..NR_SGIS)
            .filter(|&i| self.irq(v, i).is_some_and(|s| s.hw))
            .collect();
        if hw.is_empty() {
            return (0, Vec::new());
        }
        self.vsgi_read_pending(v);
        let mut stranded = Vec::new();
        for &i in &hw {
            if let Some(irq) = self.irq_mut(v, i) {
                irq.hw = false;
                irq.pending_latch = irq.hw_pending;
                irq.hw_pending = false;
                if irq.pending_latch {
                    stranded.push(i);
                }
            }
        }
        self.emit(
            Hop::new(
                Layer::Its,
                "VSGI",
                format!("{} VSGI Clear = 1 commands (irq_domain_deactivate_irq -> its_sgi_irq_domain_deactivate)", hw.len()),
            )
            .vcpu(v)
            .source(SRC_ITS_CFG),
        );
        self.emit(
            Hop::new(
                Layer::Kvm,
                "vgic_v4_disable_vsgis",
                format!(
                    "SGIs {} are software again; pending_latch <- hardware pending",
                    list(&hw)
                ),
            )
            .vcpu(v)
            .rule(&r::VSGI_DISABLE),
        );
        for &i in &stranded {
            self.emit(
                Hop::new(Layer::Kvm, "vgic_v4_disable_vsgis", "latched pending but not queued on the ap_list: not delivered until something requeues it")
                    .vcpu(v)
                    .intid(i)
                    .rule(&r::VSGI_DISABLE_NOT_QUEUED),
            );
        }
        (hw.len() as u32, stranded)
    }

    // ------------------------------------------------------------------ vPE residency

    /// `vgic_v4_load` → `its_make_vpe_resident(vpe, false, vgic.enabled)`.
    fn vpe_load(&mut self, v: u32) {
        let enabled = self.state.dist.enabled;
        let v4_1 = self.host.has_gicv4_1();
        let Some(vpe) = self.live.its.vpe_mut(v) else {
            return;
        };
        if vpe.resident {
            return;
        }
        vpe.resident = true;
        vpe.vgrp0en = false;
        vpe.vgrp1en = enabled;
        vpe.doorbell_armed = false;
        vpe.pending_last = false;
        let val = vpe.vpendbaser();
        let what = if v4_1 {
            format!(
                "<- {val:#x}: vPE {v} resident (Valid 1, vGrp0En 0, vGrp1En {})",
                enabled as u8
            )
        } else {
            format!("vPE {v} resident (GICv4.0: GICR_VPROPBASER/GICR_VPENDBASER with Valid 1; vLPIs only, no vSGIs)")
        };
        self.emit(
            Hop::new(Layer::Redistributor, "GICR_VPENDBASER", what)
                .vcpu(v)
                .rule(&r::VPE_LOAD),
        );
        let pending: Vec<u32> = (0..NR_SGIS)
            .filter(|&i| self.irq(v, i).is_some_and(|s| s.hw && s.hw_pending))
            .collect();
        if !pending.is_empty() {
            self.emit(
                Hop::new(
                    Layer::Redistributor,
                    "virtual pending table",
                    format!(
                        "the redistributor scans the vPE's pending table: vSGIs {} pending",
                        list(&pending)
                    ),
                )
                .vcpu(v),
            );
            self.signal_hop(v, false);
        }
    }

    /// `vgic_v4_put` → `its_make_vpe_non_resident(vpe, IN_WFI)`.
    fn vpe_put(&mut self, v: u32, wfi: bool) {
        let cpuif_ok = !self.vsgi_blocked_by_cpuif();
        if !self.host.has_gicv4_1() {
            let Some(vpe) = self.live.its.vpe_mut(v) else {
                return;
            };
            if !vpe.resident {
                return;
            }
            vpe.resident = false;
            vpe.pending_last = !wfi;
            let what = if wfi {
                format!("vPE {v} leaves (GICv4.0): the doorbells of its vLPIs are enabled while it blocks; GICv4.0 has no vSGIs")
            } else {
                format!("vPE {v} leaves (GICv4.0), PendingLast set: no doorbell")
            };
            self.emit(
                Hop::new(Layer::Redistributor, "GICR_VPENDBASER", what)
                    .vcpu(v)
                    .rule(&r::VPE_PUT),
            );
            return;
        }
        let deliverable: Vec<u32> = (0..NR_SGIS)
            .filter(|&i| {
                self.irq(v, i).is_some_and(|s| s.hw && s.hw_pending)
                    && self.live.its.vpe(v).is_some_and(|p| {
                        let c = p.sgi_config[i as usize];
                        c.enabled && c.group && p.vgrp1en && cpuif_ok
                    })
            })
            .collect();
        let Some(vpe) = self.live.its.vpe_mut(v) else {
            return;
        };
        if !vpe.resident {
            return;
        }
        vpe.resident = false;
        vpe.doorbell_fired = false;
        if wfi {
            let pending_last = !deliverable.is_empty();
            vpe.pending_last = pending_last;
            vpe.doorbell_armed = !pending_last;
            let val = vpe.vpendbaser() | its::vpendbaser::DB;
            let what = if pending_last {
                format!("<- {val:#x}: vPE {v} leaves (Valid 0, DB 1); PendingLast reads back 1: vSGIs {} already pending, no doorbell will come and the vCPU does not stay blocked", list(&deliverable))
            } else {
                format!("<- {val:#x}: vPE {v} leaves (Valid 0, DB 1); PendingLast reads back 0: a doorbell will fire when a vSGI arrives")
            };
            self.emit(
                Hop::new(Layer::Redistributor, "GICR_VPENDBASER", what)
                    .vcpu(v)
                    .rule(&r::VPE_PUT),
            );
        } else {
            vpe.pending_last = true;
            vpe.doorbell_armed = false;
            let val = vpe.vpendbaser();
            self.emit(
                Hop::new(
                    Layer::Redistributor,
                    "GICR_VPENDBASER",
                    format!("<- {val:#x}: vPE {v} leaves (Valid 0, DB 0, PendingLast 1: \"we'll be back\")"),
                )
                .vcpu(v)
                .rule(&r::VPE_PUT),
            );
        }
    }

    /// Schedule vCPU `vcpu` in (`resident`: `vcpu_load`) or out (`vcpu_put`, or
    /// blocking in WFI when `wfi`). The outcome's value is 1 if, for a vCPU put
    /// in WFI, a doorbell is armed, or, for a vCPU loaded, a doorbell fired
    /// while it was away.
    pub fn schedule(
        &mut self,
        vcpu: u32,
        resident: bool,
        wfi: bool,
    ) -> Result<Outcome, AccessError> {
        let vcpus = self.n_vcpus();
        if vcpu >= vcpus {
            return Err(AccessError::NoSuchVcpu { vcpu, vcpus });
        }
        if self.state.lifecycle != Lifecycle::HasRun {
            return Err(AccessError::GuestNotRunning);
        }
        Ok(self.traced(Path::User, Op::Run, vcpu, "vCPU scheduling", |vm, notes| {
            let state = vm.live.run[vcpu as usize];
            let has_vpe = vm.live.its.vpe(vcpu).is_some();
            let primary: &'static Rule = if has_vpe {
                if resident { &r::VPE_LOAD } else { &r::VPE_PUT }
            } else {
                &r::NO_VPE
            };
            if resident {
                if state == RunState::Running {
                    notes.push(format!("vCPU {vcpu} is already running"));
                    return (0, None, Some(primary));
                }
                vm.emit(
                    Hop::new(Layer::Kvm, "vcpu_load", "kvm_arch_vcpu_load -> kvm_vgic_load -> vgic_v3_load, vgic_v4_load")
                        .vcpu(vcpu)
                        .source("arm.c: kvm_arch_vcpu_load; vgic-v4.c: vgic_v4_load"),
                );
                vm.live.run[vcpu as usize] = RunState::Running;
                if has_vpe {
                    vm.vpe_load(vcpu);
                } else {
                    vm.emit(Hop::new(Layer::Kvm, "vgic_v4_load", "no vPE for this VM: nothing to make resident").vcpu(vcpu).rule(&r::NO_VPE));
                }
                vm.live.shown_lrs[vcpu as usize].clear();
                vm.settle();
                vm.signal_hop(vcpu, true);
                let fired = vm.live.its.vpe(vcpu).is_some_and(|p| p.doorbell_fired);
                (fired as u64, None, Some(primary))
            } else {
                if state != RunState::Running {
                    notes.push(format!("vCPU {vcpu} is not running"));
                    return (0, None, Some(primary));
                }
                let how = if wfi {
                    "kvm_vcpu_wfi -> kvm_arch_vcpu_blocking -> vgic_v4_put (IN_WFI set: doorbell wanted)"
                } else {
                    "vcpu_put -> kvm_arch_vcpu_put -> vgic_v4_put (not in WFI: no doorbell)"
                };
                vm.emit(Hop::new(Layer::Kvm, if wfi { "kvm_vcpu_wfi" } else { "vcpu_put" }, how).vcpu(vcpu).source("arm.c; vgic-v4.c: vgic_v4_put"));
                vm.live.run[vcpu as usize] = if wfi { RunState::Wfi } else { RunState::Preempted };
                if has_vpe {
                    vm.vpe_put(vcpu, wfi);
                } else {
                    vm.emit(Hop::new(Layer::Kvm, "vgic_v4_put", "no vPE for this VM: SGIs for this vCPU wait on its ap_list and kvm_vcpu_kick wakes it").vcpu(vcpu).rule(&r::NO_VPE));
                }
                if wfi && vm.sw_wakeup_pending(vcpu) {
                    vm.emit(
                        Hop::new(Layer::Kvm, "kvm_vgic_vcpu_pending_irq", "an interrupt above PMR is already on the ap_list: the vCPU does not stay blocked")
                            .vcpu(vcpu)
                            .source("vgic.c: kvm_vgic_vcpu_pending_irq"),
                    );
                }
                let armed = vm.live.its.vpe(vcpu).is_some_and(|p| p.doorbell_armed);
                (armed as u64, None, Some(primary))
            }
        }))
    }

    /// `kvm_vgic_vcpu_pending_irq` over the software ap_list.
    fn sw_wakeup_pending(&self, v: u32) -> bool {
        let pmr = self.state.cpuifs[v as usize].pmr & crate::cpuif::PRI_MASK;
        self.state.dist.enabled
            && self.ap_list(v).iter().any(|&i| {
                self.irq(v, i)
                    .is_some_and(|s| s.is_pending() && s.enabled && !s.active && s.priority < pmr)
            })
    }

    // ------------------------------------------------------------------ KVM_IRQ_LINE

    /// `KVM_IRQ_LINE` for an SPI (`vcpu` ignored) or a PPI of `vcpu`
    /// (`kvm_vm_ioctl_irq_line` → `kvm_vgic_inject_irq`). KVM's errors come back
    /// as the outcome's errno.
    /// `KVM_IRQ_LINE`. The timer PPIs ([`TIMER_PPIS`]) belong to the arch
    /// timer once the vCPU has run: injecting them from userspace does nothing.
    pub fn irq_line(&mut self, intid: u32, level: bool, vcpu: Option<u32>) -> Outcome {
        let owner = if intid < NR_PRIVATE_IRQS {
            vcpu.unwrap_or(0)
        } else {
            0
        };
        self.traced(Path::User, Op::Write, owner, "KVM_IRQ_LINE", |vm, _notes| {
            let (ty, field) = if intid < NR_PRIVATE_IRQS {
                ("PPI", (2u32 << 24) | ((vcpu.unwrap_or(0) & 0xFF) << 16) | intid)
            } else {
                ("SPI", (1u32 << 24) | intid)
            };
            vm.emit(
                Hop::new(
                    Layer::Kvm,
                    "KVM_IRQ_LINE",
                    format!("irq = {field:#010x} (KVM_ARM_IRQ_TYPE_{ty}, INTID {intid}), level = {}: kvm_vm_ioctl_irq_line -> kvm_vgic_inject_irq", level as u8),
                )
                .intid(intid)
                .rule(&r::IRQ_LINE),
            );
            // arm.c kvm_vm_ioctl_irq_line: a PPI needs an existing vCPU and
            // INTID 16-31 before kvm_vgic_inject_irq's vgic_lazy_init (-EBUSY).
            let bad_ppi = intid < NR_PRIVATE_IRQS
                && (intid < NR_SGIS || vcpu.is_none_or(|v| v >= vm.n_vcpus()));
            if vm.state.lifecycle == Lifecycle::Created && !bad_ppi {
                vm.emit(Hop::new(Layer::Kvm, "vgic_lazy_init", "the vGIC is not initialised and GICv3 is never initialised lazily: -EBUSY").rule(&r::IRQ_LINE_BEFORE_INIT));
                return (level as u64, Some(Errno::EBUSY), Some(&r::IRQ_LINE_BEFORE_INIT));
            }
            let bad = bad_ppi || intid >= vm.state.config.nr_irqs;
            if bad {
                vm.emit(Hop::new(Layer::Kvm, "kvm_vgic_inject_irq", "no such interrupt for this ioctl: -EINVAL").intid(intid).rule(&r::IRQ_LINE_EINVAL));
                return (level as u64, Some(Errno::EINVAL), Some(&r::IRQ_LINE_EINVAL));
            }
            let Some(irq) = vm.irq(owner, intid).cloned() else {
                return (level as u64, Some(Errno::EINVAL), Some(&r::IRQ_LINE_EINVAL));
            };
            if vm.state.lifecycle == Lifecycle::HasRun && TIMER_PPIS.contains(&intid) {
                vm.emit(
                    Hop::new(
                        Layer::Kvm,
                        "vgic_validate_injection",
                        "the arch timer owns this PPI since the vCPU first ran (kvm_timer_enable -> kvm_vgic_set_owner): an injection without the owner is dropped, the ioctl succeeds",
                    )
                    .intid(intid)
                    .rule(&r::IRQ_LINE_TIMER_OWNED),
                );
                return (level as u64, None, Some(&r::IRQ_LINE_TIMER_OWNED));
            }
            let change = if irq.edge { level } else { irq.line_level != level };
            if !change {
                let what = if irq.edge { "edge-triggered and the level is low: ignored" } else { "the line is already at this level: nothing changes" };
                vm.emit(Hop::new(Layer::Kvm, "vgic_validate_injection", what).intid(intid).rule(&r::IRQ_LINE_NO_CHANGE));
                return (level as u64, None, Some(&r::IRQ_LINE_NO_CHANGE));
            }
            if let Some(s) = vm.irq_mut(owner, intid) {
                if s.edge {
                    s.pending_latch = true;
                } else {
                    s.line_level = level;
                }
            }
            let what = if irq.edge {
                "edge-triggered: pending_latch = 1".to_string()
            } else {
                format!("level-triggered: line_level = {}", level as u8)
            };
            vm.emit(Hop::new(Layer::Kvm, "kvm_vgic_inject_irq", what).intid(intid).rule(&r::IRQ_LINE));
            if intid >= NR_PRIVATE_IRQS {
                let route = match vm.target_of(0, intid) {
                    Some(t) => format!("GICD_IROUTER{intid} = {:#x}: vCPU {t}", irq.mpidr),
                    None => format!("GICD_IROUTER{intid} = {:#x}: no such vCPU", irq.mpidr),
                };
                vm.emit(Hop::new(Layer::Kvm, "kvm_mpidr_to_vcpu", route).intid(intid).source("vgic-mmio-v3.c: vgic_mmio_write_irouter (target_vcpu)"));
            }
            vm.queue_irq(owner, intid);
            vm.settle();
            (level as u64, None, Some(&r::IRQ_LINE))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::Frame;
    use crate::catalogue::GicdCtlr;
    use crate::host::Host;
    use crate::vgic::VmConfig;

    fn vm(host: &str) -> Vgic {
        let mut vm = Vgic::new(Host::parse_compact(host).unwrap(), VmConfig::default());
        vm.init();
        vm.run();
        for v in 0..4 {
            vm.sysreg_write(v, SysReg::IccPmrEl1, 0xF0).unwrap();
            vm.sysreg_write(v, SysReg::IccIgrpen1El1, 1).unwrap();
        }
        vm.take_trace();
        vm
    }

    /// The Linux guest's GICD_CTLR sequence (irq-gic-v3.c gic_dist_init).
    fn linux_dist_init(vm: &mut Vgic) {
        vm.guest_write(Frame::Dist, 0, 0, 32, 0).unwrap();
        let ctlr = (GicdCtlr::ARE_NS.mask()
            | GicdCtlr::ENABLE_GRP1.mask()
            | GicdCtlr::NASSGIREQ.mask()
            | GicdCtlr::ENABLE_GRP0.mask()) as u32;
        vm.guest_write(Frame::Dist, 0, 0, 32, ctlr as u64).unwrap();
    }

    fn sgi(vm: &mut Vgic, from: u32, intid: u8, to: &[u32]) {
        for w in Sgi1r::for_vcpus(intid, to) {
            vm.sysreg_write(from, SysReg::IccSgi1rEl1, w.encode())
                .unwrap();
        }
    }

    fn ack(vm: &mut Vgic, v: u32) -> u64 {
        vm.sysreg_read(v, SysReg::IccIar1El1).unwrap().value
    }

    #[test]
    fn an_sgi_takes_the_hardware_path_on_gicv4_1() {
        let mut vm = vm("v4.1@6.8");
        linux_dist_init(&mut vm);
        assert!(vm.dist().nassgireq);
        sgi(&mut vm, 0, 2, &[1]);
        assert_eq!(vm.sgi_path(1, 2), DeliveryPath::Hardware);
        let hops = vm.take_trace();
        let layers: Vec<Layer> = hops.iter().map(|h| h.layer).collect();
        for l in Layer::ALL {
            assert!(layers.contains(&l), "{l:?} missing in {hops:#?}");
        }
        assert!(hops
            .iter()
            .any(|h| h.at == "GITS_SGIR" && h.what.contains("0x100000002")));
        assert_eq!(ack(&mut vm, 1), 2);
        assert!(!vm.is_pending_anywhere(1, 2));
        assert_eq!(vm.cpuif(1).unwrap().running_priority(), 0);
        vm.sysreg_write(1, SysReg::IccEoir1El1, 2).unwrap();
        assert!(vm
            .take_trace()
            .iter()
            .any(|h| h.rule.as_deref() == Some("cpuif.eoi.no_active_lr")));
        assert_eq!(vm.cpuif(1).unwrap().running_priority(), IDLE_PRIORITY);
    }

    #[test]
    fn the_same_guest_stays_on_the_software_path_elsewhere() {
        for host in [
            "v3@6.8",
            "v4.0@6.8",
            "v4.1+nov4@6.8",
            "v4.1+novsgi@5.15",
            "v4.1@5.4",
        ] {
            let mut vm = vm(host);
            linux_dist_init(&mut vm);
            assert!(!vm.dist().nassgireq, "{host}");
            sgi(&mut vm, 0, 2, &[1, 3]);
            assert_eq!(vm.sgi_path(1, 2), DeliveryPath::Software, "{host}");
            assert_eq!(vm.list_registers(3)[0].intid, 2, "{host}");
            assert_eq!(ack(&mut vm, 1), 2, "{host}");
            assert!(vm.irq(1, 2).unwrap().active);
            vm.sysreg_write(1, SysReg::IccEoir1El1, 2).unwrap();
            assert!(!vm.irq(1, 2).unwrap().active, "{host}");
            assert!(vm.ap_list(1).is_empty(), "{host}");
        }
    }

    #[test]
    fn pmr_and_running_priority_decide_what_is_taken() {
        let mut vm = vm("v3@6.8");
        vm.guest_write(Frame::Dist, 0, 0, 32, 0x12).unwrap();
        // SGI 1 at 0x80, SGI 2 at 0x40 (GICR_IPRIORITYR0 of vCPU 1).
        vm.guest_write(Frame::Redist, 1, 0x10400, 32, 0x0040_8000)
            .unwrap();
        sgi(&mut vm, 0, 1, &[1]);
        assert_eq!(ack(&mut vm, 1), 1);
        sgi(&mut vm, 0, 2, &[1]);
        assert_eq!(ack(&mut vm, 1), 2, "0x40 preempts 0x80");
        sgi(&mut vm, 0, 1, &[1]);
        assert_eq!(ack(&mut vm, 1), 1023, "0x80 does not preempt 0x40");
        vm.sysreg_write(1, SysReg::IccEoir1El1, 2).unwrap();
        assert_eq!(
            ack(&mut vm, 1),
            1023,
            "SGI 1 is pending and active: not taken again"
        );
        vm.sysreg_write(1, SysReg::IccEoir1El1, 1).unwrap();
        assert_eq!(ack(&mut vm, 1), 1);
        vm.sysreg_write(1, SysReg::IccEoir1El1, 1).unwrap();
        vm.sysreg_write(1, SysReg::IccPmrEl1, 0x80).unwrap();
        sgi(&mut vm, 0, 1, &[1]);
        assert_eq!(ack(&mut vm, 1), 1023, "masked by PMR");
        vm.sysreg_write(1, SysReg::IccPmrEl1, 0x88).unwrap();
        assert_eq!(ack(&mut vm, 1), 1);
    }

    #[test]
    fn sgis_pending_move_both_ways_and_come_back_unqueued() {
        let mut vm = vm("v4.1@6.8");
        vm.guest_write(Frame::Dist, 0, 0, 32, 0x12).unwrap();
        vm.sysreg_write(1, SysReg::IccIgrpen1El1, 0).unwrap();
        sgi(&mut vm, 0, 3, &[1]);
        assert_eq!(vm.ap_list(1), &[3]);
        // Disable, set nASSGIreq, enable: the latch moves to hardware.
        vm.guest_write(Frame::Dist, 0, 0, 32, 0x10).unwrap();
        vm.guest_write(Frame::Dist, 0, 0, 32, 0x110).unwrap();
        assert!(vm.irq(1, 3).unwrap().hw && vm.irq(1, 3).unwrap().hw_pending);
        vm.guest_write(Frame::Dist, 0, 0, 32, 0x112).unwrap();
        assert!(vm.its().vpe(1).unwrap().vgrp1en);
        let ispendr = vm.user_read(Frame::Redist, 1, 0x10200).unwrap();
        assert_eq!(ispendr.value, 1 << 3);
        assert!(vm
            .take_trace()
            .iter()
            .any(|h| h.at == "GICR_VSGIR/GICR_VSGIPENDR"));
        // And back: the hardware pending state returns to the latch, unqueued.
        vm.guest_write(Frame::Dist, 0, 0, 32, 0x10).unwrap();
        vm.guest_write(Frame::Dist, 0, 0, 32, 0x12).unwrap();
        let irq = vm.irq(1, 3).unwrap();
        assert!(!irq.hw && irq.pending_latch);
        assert!(vm.ap_list(1).is_empty());
        vm.sysreg_write(1, SysReg::IccIgrpen1El1, 1).unwrap();
        assert_eq!(ack(&mut vm, 1), 1023, "stranded: on no ap_list");
        sgi(&mut vm, 0, 3, &[1]);
        assert_eq!(ack(&mut vm, 1), 3, "another SGI requeues it");
    }

    #[test]
    fn a_blocked_vcpu_is_woken_by_the_doorbell() {
        let mut vm = vm("v4.1@6.17");
        linux_dist_init(&mut vm);
        vm.schedule(1, false, true).unwrap();
        assert!(vm.its().vpe(1).unwrap().doorbell_armed);
        assert_eq!(
            vm.sysreg_read(1, SysReg::IccIar1El1).unwrap_err(),
            AccessError::VcpuNotRunning { vcpu: 1 }
        );
        sgi(&mut vm, 0, 5, &[1]);
        let p = vm.its().vpe(1).unwrap();
        assert!(p.doorbell_fired && p.pending_last && !p.doorbell_armed);
        let o = vm.schedule(1, true, false).unwrap();
        assert_eq!(o.value, 1);
        assert_eq!(ack(&mut vm, 1), 5);
        // Preempted: no doorbell, the vSGI waits.
        vm.schedule(2, false, false).unwrap();
        sgi(&mut vm, 0, 6, &[2]);
        assert!(!vm.its().vpe(2).unwrap().doorbell_fired);
        assert!(vm.is_pending_anywhere(2, 6));
        vm.schedule(2, true, false).unwrap();
        assert_eq!(ack(&mut vm, 2), 6);
    }

    #[test]
    fn vsgi_priorities_have_four_bits() {
        let mut vm = vm("v4.1@6.8");
        linux_dist_init(&mut vm);
        // SGI 1 at 0xa8, SGI 2 at 0xa0: equal in hardware, so the lower INTID wins.
        vm.guest_write(Frame::Redist, 1, 0x10400, 32, 0x00a0_a800)
            .unwrap();
        sgi(&mut vm, 0, 2, &[1]);
        sgi(&mut vm, 0, 1, &[1]);
        assert_eq!(ack(&mut vm, 1), 1);
        assert_eq!(vm.cpuif(1).unwrap().running_priority(), 0xa0);
    }

    #[test]
    fn old_snapshots_load_and_live_state_is_rebuilt() {
        let mut vm = vm("v4.1@6.8");
        linux_dist_init(&mut vm);
        sgi(&mut vm, 0, 3, &[1]);
        let host = *vm.host();
        let mut json = serde_json::to_value(vm.state()).unwrap();
        let again = Vgic::from_state(host, serde_json::from_value(json.clone()).unwrap()).unwrap();
        assert_eq!(again.state(), vm.state());
        assert!(again.its().vpe(1).unwrap().resident);
        json.as_object_mut().unwrap().remove("cpuifs");
        let mut old = Vgic::from_state(host, serde_json::from_value(json).unwrap()).unwrap();
        assert_eq!(old.cpuif(3), Some(&CpuIfState::default()));
        old.sysreg_write(1, SysReg::IccPmrEl1, 0xf0).unwrap();
        old.sysreg_write(1, SysReg::IccIgrpen1El1, 1).unwrap();
        assert_eq!(
            ack(&mut old, 1),
            3,
            "the vSGI is still pending in the restored vPE"
        );
    }

    #[test]
    fn level_spis_come_back_until_the_line_drops() {
        let mut vm = vm("v3@6.8");
        vm.guest_write(Frame::Dist, 0, 0, 32, 0x12).unwrap();
        // SPI 40: level (ICFGR2 bit 17 = 0), routed to vCPU 2, enabled.
        vm.guest_write(Frame::Dist, 0, 0xC08, 32, 0).unwrap();
        vm.guest_write(Frame::Dist, 0, 0x6000 + 8 * 40, 64, 2)
            .unwrap();
        vm.guest_write(Frame::Dist, 0, 0x104, 32, 1 << 8).unwrap();
        assert!(vm.irq_line(40, true, None).ok());
        assert_eq!(ack(&mut vm, 2), 40);
        vm.sysreg_write(2, SysReg::IccEoir1El1, 40).unwrap();
        assert_eq!(ack(&mut vm, 2), 40, "still high");
        vm.sysreg_write(2, SysReg::IccEoir1El1, 40).unwrap();
        vm.irq_line(40, false, None);
        assert_eq!(ack(&mut vm, 2), 1023);
        assert_eq!(
            vm.irq_line(40, false, None).rule().unwrap().id,
            "kvm.irq_line.no_change"
        );
        assert_eq!(vm.irq_line(2, true, None).errno, Some(Errno::EINVAL));
        assert_eq!(vm.irq_line(999, true, None).errno, Some(Errno::EINVAL));
    }
}
