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

use crate::cpuif::CpuIfState;
use crate::host::Era;
use crate::its::{Its, VsgiConfig};
use crate::trace::{Hop, Trace};
use crate::vgic::{IrqState, Vgic};

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
    /// The LPIs forwarded as GICv4 vLPIs (vgic/vlpi.rs).
    pub(crate) vlpis: crate::vgic::vlpi::Vlpis,
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
            vlpis: Default::default(),
        }
    }
}

pub(super) fn cfg_of(irq: &IrqState) -> VsgiConfig {
    VsgiConfig {
        enabled: irq.enabled,
        group: irq.group,
        priority: irq.priority,
    }
}

pub(super) fn list(v: &[u32]) -> String {
    v.iter()
        .map(|x| x.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

pub(super) const SRC_VQUEUE_SGI: &str =
    "vgic-mmio-v3.c: vgic_v3_queue_sgi (5.7+; split out of vgic_v3_dispatch_sgi in 6.7)";
pub(super) const SRC_ITS_SET: &str = "irq-gic-v3-its.c: its_sgi_set_irqchip_state (5.7+)";
pub(super) const SRC_ITS_CFG: &str =
    "irq-gic-v3-its.c: its_configure_sgi -> its_build_vsgi_cmd (5.7+)";
pub(super) const SRC_VCPUIF: &str = "GICv3 virtual CPU interface; vgic-v3-sr.c (4.15+)";

/// The PPIs the arch timer owns from a vCPU's first run: the EL1 virtual (27)
/// and physical (30) timers (arch_timer.c `default_ppi`, `kvm_timer_enable`
/// -> `kvm_vgic_set_owner`; the EL2 timers 26 and 28 exist only with nested
/// virtualisation). Checked on real KVM: KVM_IRQ_LINE of PPI 27 after the
/// first run succeeds and the guest acknowledges nothing (5.10.223, 6.12.118, 7.3.4).
pub const TIMER_PPIS: [u32; 2] = [27, 30];

impl Vgic {
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
}
