//! How real VMMs save and restore a vGICv3, as data, and the engine that replays
//! a recipe through the model's userspace path (`Vgic::user_read`,
//! `user_write`, `user_level_info`, `init`): every access is one
//! `KVM_{GET,SET}_DEVICE_ATTR` the VMM makes, in its order, with its widths and
//! the values it writes.
//!
//! Sources (stored snapshots read for this module; the anchors survey,
//! `shared/reference/anchors-survey.md` §C, gives the same lists):
//! - Firecracker `src/vmm/src/arch/aarch64/gic/gicv3/regs/{mod,dist_regs,redist_regs}.rs`
//!   and `gicv3/mod.rs` (`create` → `finalize_device`: NR_IRQS = `IRQ_MAX` = 128, then
//!   `CTRL_INIT`), read at 07c9d9a9/0c3606af/0bd36638; the redistributor order with
//!   GICR_CTLR after the BASERs is the newer list (survey @81b38b9d, found in the index).
//! - cloud-hypervisor `hypervisor/src/kvm/aarch64/gic/{mod,dist_regs}.rs` @3f67b6d3/587a3332
//!   (`set_state`: GICD_CTLR, distributor list, redistributors, ICC, ITS; the ITS device is
//!   always created; ranges from `KVM_DEV_ARM_VGIC_GRP_NR_IRQS`); redistributor passes per the
//!   survey @ae44c297.
//! - QEMU `hw/intc/arm_gicv3_kvm.c` @01b5ab8c (`kvm_arm_gicv3_get/put`, `kvm_dist_putbmp`
//!   writing 0 to the clear registers, the `GICD_IROUTER + 4 * i` loop, CTRL_INIT in
//!   `kvm_arm_gicv3_realize`), and the July 2025 pull (PULL 2/8 "Remove writes to ICPENDR
//!   registers", Message-Id 20250729161650.43758-2-zenghui.yu@linux.dev; b10bd4bd17ac "Write
//!   all 1's to clear enable/active", also in stable 10.0.4).
//! - crosvm `devices/src/irqchip/kvm/aarch64.rs` @03b88b64 (`snapshot`/`restore`,
//!   `get_dist_regs`/`set_dist_regs` sweeping 0..0x10000, `get_redist_regs`/`set_redist_regs`
//!   sweeping 0..0x20000, `AARCH64_GIC_NR_IRQS` = 64, "snapshot of vGIC ITS not supported yet",
//!   `finalize` = CTRL_INIT at VM build).
//! - `Documentation/virt/kvm/devices/arm-vgic-v3.rst` (6.17, eed9b1420907) for `kernel-doc`.
//!
//! CPU-interface registers (`KVM_DEV_ARM_VGIC_GRP_CPU_SYSREGS`, `Vgic::user_sysreg`) are
//! replayed as each VMM's source lists them (SRE, CTLR, IGRPEN0/1, PMR, BPR0/1, AP0R0/AP1R0
//! where it saves them); the ITS device's registers and tables, the LPI pending tables and
//! the guest RAM copy are [`its`]'s ops, placed where each VMM's source does them
//! ([`Op::Its`]); each recipe lists what it skips in [`Recipe::skipped`] with the reason.
//!
//! ```
//! use gicx_core::{host::Host, vgic::{Vgic, VmConfig}, vmm};
//! let fc = vmm::recipe("firecracker").unwrap();
//! let host = Host::parse_compact("v4.1@6.8").unwrap();
//! let config = VmConfig::new(1, fc.nr_irqs, false).unwrap();
//! let mut src = Vgic::new(host, config);
//! src.init();
//! src.run();
//! let saved = vmm::save(&mut src, fc, None).unwrap();
//! let mut dst = Vgic::new(host, config);
//! let r = vmm::restore(&mut dst, fc, &saved, &vmm::RestoreOptions::default());
//! assert!(r.refusal.is_none());
//! assert_eq!(r.accesses, 245 + 24 + 10 + 1, "distributor list, one redistributor, ten ICC accesses (FC_ICC_RESTORE), CTRL_INIT");
//! ```

use std::fmt;

use serde::Serialize;

use crate::catalogue::{
    self, Frame, GicdCtlr, GicdIcactiver, GicdIcenabler, GicdIcfgr, GicdIcpendr, GicdIgroupr,
    GicdIidr, GicdIpriorityr, GicdIrouter, GicdIsactiver, GicdIsenabler, GicdIspendr, GicdStatusr,
    GicdTyper, GicdTyper2, GicrCtlr, GicrIcactiver0, GicrIcenabler0, GicrIcfgr0, GicrIcfgr1,
    GicrIcpendr0, GicrIgroupr0, GicrIpriorityr, GicrIsactiver0, GicrIsenabler0, GicrIspendr0,
    GicrPendbaser, GicrPropbaser, GicrStatusr, GicrTyper, GicrWaker,
};
use crate::errno::Errno;
use crate::host::Era;
use crate::rules::{self as r, Rule};
use crate::vgic::cpu_sysregs::{
    ICC_AP0R0_EL1, ICC_AP1R0_EL1, ICC_BPR0_EL1, ICC_BPR1_EL1, ICC_CTLR_EL1, ICC_IGRPEN0_EL1,
    ICC_IGRPEN1_EL1, ICC_PMR_EL1, ICC_SRE_EL1,
};
use crate::vgic::{Lifecycle, NoopObserver, Op as VgicOp, Outcome, Vgic, VmConfig};

mod change;
pub mod its;
pub use change::RecipeChange;
use change::{IDS_RESTORE, IDS_SAVE, LEVELS_RESTORE, LEVELS_SAVE};
use its::{ItsOp, ItsSaved};

/// Where a recipe's source was read.
#[derive(Debug, Serialize)]
pub struct Source {
    pub repo: &'static str,
    pub path: &'static str,
    /// Commit or version the sequence was read at.
    pub commit: &'static str,
    pub note: &'static str,
}

/// Whether the VMM can save a VM with an in-kernel ITS.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ItsSupport {
    /// With or without an ITS.
    Optional,
    /// The VMM always creates an ITS: a VM without one is not a configuration it makes.
    Always,
    /// The VMM refuses to snapshot a VM with an ITS.
    Refused,
}

/// A part of the real sequence the model does not replay, and why.
#[derive(Debug, Serialize)]
pub struct Skipped {
    pub what: &'static str,
    pub reason: &'static str,
}

/// The value a restore write carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Value {
    /// What the save read at the same place (0 where the save never read it).
    Saved,
    /// A constant (QEMU's `~0` and `0` to the clear registers).
    Const(u32),
    /// The saved value masked (QEMU rebuilds ICFGR from its edge bitmap: odd bits only).
    SavedMasked(u32),
}

/// A run of 32-bit device-attribute accesses.
#[derive(Clone, Copy, Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Access {
    /// `count` consecutive registers from `offset`; in the redistributor frame, of the
    /// current vCPU (vCPU 0 outside a [`Op::ForEachVcpu`]).
    Words {
        frame: Frame,
        offset: u32,
        count: u32,
    },
    /// A per-IRQ distributor family at `base`, `bits_per_irq` bits each, for SPIs
    /// 32..nr_irqs: the words from `base + 4 * bits_per_irq` upwards (the loops of all
    /// four VMMs skip the RAZ/WI private slice the same way).
    Spis { base: u32, bits_per_irq: u32 },
    /// QEMU's IROUTER loop: for INTID `i` in 32..nr_irqs, the words at
    /// `0x6000 + stride * i` and `0x6000 + stride * i + 4`.
    IrouterLoop { stride: u32 },
    /// Every word of `[start, end)` of the frame, ascending.
    Sweep { frame: Frame, start: u32, end: u32 },
    /// `KVM_DEV_ARM_VGIC_GRP_LEVEL_INFO` for INTIDs 0..31 of the current vCPU.
    PrivateLevels,
    /// LEVEL_INFO for the SPIs, 32 at a time (vCPU 0).
    SpiLevels,
    /// `KVM_DEV_ARM_VGIC_GRP_CPU_SYSREGS`: one `ICC_*_EL1` register (its
    /// `KVM_DEV_ARM_VGIC_SYSREG` id) of the current vCPU.
    Sysreg(u32),
}

/// One step of a recipe.
#[derive(Clone, Copy, Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    Read(Access),
    Write(Access, Value),
    /// QEMU's `kvm_dist_putbmp`: for each word of a 1-bit SPI family, write `clear.1`
    /// to the clear register `clear.0` (if any), then the saved word to `set`.
    ClearThenSet {
        clear: Option<(u32, u32)>,
        set: u32,
    },
    /// The ops for every vCPU in turn (redistributor accesses go to that vCPU).
    ForEachVcpu(&'static [Op]),
    /// Read a register and run `then` if `value & mask != 0` (QEMU restores the LPI
    /// tables only if GICR_TYPER.PLPIS).
    IfSet {
        frame: Frame,
        offset: u32,
        mask: u32,
        then: &'static [Op],
    },
    /// `KVM_DEV_ARM_VGIC_CTRL_INIT`.
    Init,
    /// Accesses the kernel documentation asks for before init (6.17+). On `-EBUSY`
    /// (older kernels) the recipe initialises and does them right after init.
    PreInit(&'static [Op]),
    /// The ops carry a known VMM behaviour (its rule is added to their log entries);
    /// `corrected` is the same step without the deviation, which the engine replays
    /// instead when asked to ([`RecipeChange::Correct`], a suggested fix).
    Quirk {
        rule: &'static Rule,
        ops: &'static [Op],
        corrected: &'static [Op],
    },
    /// The ops in order (a named list of the VMM's, e.g. Firecracker's `VGIC_DIST_REGS`).
    Seq(&'static [Op]),
    /// The ITS device's part and guest RAM ([`its`]), on a VM with an ITS.
    Its(&'static [ItsOp]),
}

/// A VMM's save and restore sequence.
#[derive(Debug, Serialize)]
pub struct Recipe {
    /// `firecracker`, `cloud-hypervisor`, `qemu`, `qemu-2025`, `crosvm`, `kernel-doc`.
    pub id: &'static str,
    pub name: &'static str,
    pub summary: &'static str,
    pub source: Source,
    /// `KVM_DEV_ARM_VGIC_GRP_NR_IRQS` the VMM creates its vGIC with.
    pub nr_irqs: u32,
    pub nr_irqs_note: &'static str,
    pub its: ItsSupport,
    pub its_note: &'static str,
    pub save: &'static [Op],
    pub restore: &'static [Op],
    pub skipped: &'static [Skipped],
}

impl fmt::Display for Recipe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id)
    }
}

use Access::{Spis, Sweep, Words};
use Frame::{Dist as D, Redist as R};
use Value::{Const, Saved};

const fn d(offset: u32) -> Access {
    Words {
        frame: D,
        offset,
        count: 1,
    }
}
const fn rd(offset: u32, count: u32) -> Access {
    Words {
        frame: R,
        offset,
        count,
    }
}
const fn spis(base: u32, bits_per_irq: u32) -> Access {
    Spis { base, bits_per_irq }
}

const SKIP_ICC: Skipped = Skipped {
    what: "ICC_IGRPEN0_EL1, ICC_BPR0_EL1, ICC_BPR1_EL1 and ICC_AP0R<n>_EL1 (Group 0 and the binary points; KVM_DEV_ARM_VGIC_GRP_CPU_SYSREGS)",
    reason: "not in this recipe's CPU_SYSREGS list (the qemu, firecracker and cloud-hypervisor recipes replay them); ICC_AP1R1..3 are not accessed with PRIbits = 5 (vgic_v3_max_apr_idx)",
};
/// QEMU's, Firecracker's and cloud-hypervisor's recipes replay every
/// CPU_SYSREGS register the VMM saves; only the AP<g>R<n> beyond the host's
/// PRIbits stay unaccessed.
const SKIP_ICC_BEYOND_PRIBITS: Skipped = Skipped {
    what: "ICC_AP0R1..3_EL1 and ICC_AP1R1..3_EL1",
    reason: "the VMM accesses AP<g>R<n> only up to the vCPU's PRIbits (ICC_CTLR_EL1.PRIbits + 1 = 5 here: index 0), as vgic_v3_max_apr_idx allows (QEMU kvm_arm_gicv3_get/put, Firecracker and cloud-hypervisor icc_regs.rs)",
};

// ---- CPU-interface registers ------------------------------------------------------------------

const fn icc(id: u32) -> Access {
    Access::Sysreg(id)
}
/// The kernel documentation's recipe: the CPU_SYSREGS registers a Linux guest
/// programs (SRE, CTLR, IGRPEN1, PMR, AP1R0), saved and restored in one order. The
/// real VMMs' fuller lists are `QEMU_ICC_LIST` (also cloud-hypervisor's) and
/// `FC_ICC_SAVE`/`FC_ICC_RESTORE`.
const ICC_LIST: [Op; 5] = [
    Op::Write(icc(ICC_SRE_EL1), Saved),
    Op::Write(icc(ICC_CTLR_EL1), Saved),
    Op::Write(icc(ICC_IGRPEN1_EL1), Saved),
    Op::Write(icc(ICC_PMR_EL1), Saved),
    Op::Write(icc(ICC_AP1R0_EL1), Saved),
];
const ICC_RESTORE: &[Op] = &ICC_LIST;
const ICC_SAVE: &[Op] = &saves(ICC_LIST);
/// QEMU hw/intc/arm_gicv3_kvm.c `kvm_arm_gicv3_put` (and `kvm_arm_gicv3_get`,
/// the same order) for each CPU: ICC_SRE_EL1, ICC_CTLR_EL1, ICC_IGRPEN0_EL1,
/// ICC_IGRPEN1_EL1, ICC_PMR_EL1, ICC_BPR0_EL1, ICC_BPR1_EL1, then
/// ICC_AP0R<n>_EL1 and ICC_AP1R<n>_EL1 for n up to what ICC_CTLR_EL1.PRIbits
/// needs (5 bits: n = 0), read at qemu/qemu 01b5ab8c.
const QEMU_ICC_LIST: [Op; 9] = [
    Op::Write(icc(ICC_SRE_EL1), Saved),
    Op::Write(icc(ICC_CTLR_EL1), Saved),
    Op::Write(icc(ICC_IGRPEN0_EL1), Saved),
    Op::Write(icc(ICC_IGRPEN1_EL1), Saved),
    Op::Write(icc(ICC_PMR_EL1), Saved),
    Op::Write(icc(ICC_BPR0_EL1), Saved),
    Op::Write(icc(ICC_BPR1_EL1), Saved),
    Op::Write(icc(ICC_AP0R0_EL1), Saved),
    Op::Write(icc(ICC_AP1R0_EL1), Saved),
];
const QEMU_ICC_RESTORE: &[Op] = &QEMU_ICC_LIST;
const QEMU_ICC_SAVE: &[Op] = &saves(QEMU_ICC_LIST);
/// cloud-hypervisor hypervisor/src/kvm/aarch64/gic/icc_regs.rs @02f146fe
/// (`VGIC_ICC_REGS`, get_icc_regs/set_icc_regs): the same order as QEMU's,
/// AP<g>R<n> by the PRIbits of the saved ICC_CTLR_EL1.
const CH_ICC_SAVE: &[Op] = QEMU_ICC_SAVE;
const CH_ICC_RESTORE: &[Op] = QEMU_ICC_RESTORE;
/// Firecracker src/vmm/src/arch/aarch64/gic/gicv3/regs/icc_regs.rs @055fda4d:
/// `MAIN_VGIC_ICC_REGS` (SRE, CTLR, IGRPEN0, IGRPEN1, PMR, BPR0, BPR1), then
/// `num_priority_bits` reads ICC_CTLR_EL1 again, then `AP_VGIC_ICC_REGS`
/// those the PRIbits implement (AP0R0, AP1R0 with 5 bits); set_icc_regs
/// writes the main list, reads ICC_CTLR_EL1 from the destination, then
/// writes the AP registers.
const FC_ICC_SAVE: &[Op] = &[
    Op::Read(icc(ICC_SRE_EL1)),
    Op::Read(icc(ICC_CTLR_EL1)),
    Op::Read(icc(ICC_IGRPEN0_EL1)),
    Op::Read(icc(ICC_IGRPEN1_EL1)),
    Op::Read(icc(ICC_PMR_EL1)),
    Op::Read(icc(ICC_BPR0_EL1)),
    Op::Read(icc(ICC_BPR1_EL1)),
    Op::Read(icc(ICC_CTLR_EL1)),
    Op::Read(icc(ICC_AP0R0_EL1)),
    Op::Read(icc(ICC_AP1R0_EL1)),
];
const FC_ICC_RESTORE: &[Op] = &[
    Op::Write(icc(ICC_SRE_EL1), Saved),
    Op::Write(icc(ICC_CTLR_EL1), Saved),
    Op::Write(icc(ICC_IGRPEN0_EL1), Saved),
    Op::Write(icc(ICC_IGRPEN1_EL1), Saved),
    Op::Write(icc(ICC_PMR_EL1), Saved),
    Op::Write(icc(ICC_BPR0_EL1), Saved),
    Op::Write(icc(ICC_BPR1_EL1), Saved),
    Op::Read(icc(ICC_CTLR_EL1)),
    Op::Write(icc(ICC_AP0R0_EL1), Saved),
    Op::Write(icc(ICC_AP1R0_EL1), Saved),
];
/// crosvm: ICC_CTLR_EL1 first (for PRIbits), then the registers in BTreeMap order.
const CROSVM_ICC_SAVE: &[Op] = &[
    Op::Read(icc(ICC_CTLR_EL1)),
    Op::Read(icc(ICC_PMR_EL1)),
    Op::Read(icc(ICC_AP1R0_EL1)),
    Op::Read(icc(ICC_SRE_EL1)),
    Op::Read(icc(ICC_IGRPEN1_EL1)),
];
/// crosvm restore: BTreeMap order by encoded id (PMR 0xc230 < AP1R0 0xc648 < CTLR 0xc664 <
/// SRE 0xc665 < IGRPEN1 0xc667).
const CROSVM_ICC_RESTORE: &[Op] = &[
    Op::Write(icc(ICC_PMR_EL1), Saved),
    Op::Write(icc(ICC_AP1R0_EL1), Saved),
    Op::Write(icc(ICC_CTLR_EL1), Saved),
    Op::Write(icc(ICC_SRE_EL1), Saved),
    Op::Write(icc(ICC_IGRPEN1_EL1), Saved),
];
/// Every recipe's RAM copy is one copy where the VMM takes its last one.
const SKIP_RAM_PASSES: Skipped = Skipped {
    what: "live migration's earlier RAM passes (dirty-page tracking) and the ITS base address (KVM_DEV_ARM_VGIC_GRP_ADDR, set when the VMM creates the ITS)",
    reason: "what the guest finds is the last copy of RAM, taken where the recipe's `guest RAM` step is; the ITS base is the same on both sides (the VMM's machine layout)",
};

/// The reads that save what a restore list writes, in its order. The CPU-interface
/// list above is one such pair (QEMU and both Rust VMMs save and restore it in one
/// order); Firecracker and cloud-hypervisor also walk one register list for both (`get_regs`/`set_regs` over
/// `VGIC_DIST_REGS`, `VGIC_RDIST_REGS`, `VGIC_SGI_REGS`), so their save lists are
/// derived from their restore lists rather than written twice. Only saved-value
/// writes (bare, or under a quirk) may be in such a list: anything else fails the build.
const fn saves<const N: usize>(restore: [Op; N]) -> [Op; N] {
    let mut out = restore;
    let mut i = 0;
    while i < N {
        out[i] = match restore[i] {
            Op::Write(a, Saved) => Op::Read(a),
            Op::Quirk {
                ops: [Op::Write(a, Saved)],
                ..
            } => Op::Read(*a),
            _ => panic!("a list shared by save and restore holds only writes of saved values"),
        };
        i += 1;
    }
    out
}

// ---- Firecracker and cloud-hypervisor -----------------------------------------------------------

// cloud-hypervisor's GICv3 code came from Firecracker's: both walk the same register
// lists (`VGIC_DIST_REGS`, `VGIC_RDIST_REGS`, `VGIC_SGI_REGS`), in a different order
// (see each recipe). Firecracker's `VGIC_DIST_REGS` ("Order is taken from qemu")
// starts with GICD_CTLR; cloud-hypervisor's leaves it out and writes it separately,
// first, which comes to the same accesses.

/// The distributor list after GICD_CTLR.
const DIST_REGS_LIST: [Op; 11] = [
    Op::Write(d(GicdStatusr::OFFSET), Saved),
    Op::Quirk {
        rule: &r::VMM_CLEAR_WITH_SAVED_BITS,
        ops: &[Op::Write(spis(GicdIcenabler::OFFSET, 1), Saved)],
        corrected: &[Op::Write(spis(GicdIcenabler::OFFSET, 1), Const(!0))],
    },
    Op::Write(spis(GicdIsenabler::OFFSET, 1), Saved),
    Op::Write(spis(GicdIgroupr::OFFSET, 1), Saved),
    Op::Write(spis(GicdIrouter::OFFSET, 64), Saved),
    Op::Write(spis(GicdIcfgr::OFFSET, 2), Saved),
    Op::Write(spis(GicdIcpendr::OFFSET, 1), Saved),
    Op::Write(spis(GicdIspendr::OFFSET, 1), Saved),
    Op::Quirk {
        rule: &r::VMM_CLEAR_WITH_SAVED_BITS,
        ops: &[Op::Write(spis(GicdIcactiver::OFFSET, 1), Saved)],
        corrected: &[Op::Write(spis(GicdIcactiver::OFFSET, 1), Const(!0))],
    },
    Op::Write(spis(GicdIsactiver::OFFSET, 1), Saved),
    Op::Write(spis(GicdIpriorityr::OFFSET, 8), Saved),
];
const DIST_REGS: &[Op] = &DIST_REGS_LIST;
const DIST_REGS_SAVE: &[Op] = &saves(DIST_REGS_LIST);
/// `VGIC_RDIST_REGS`: the RD_base registers of a vCPU.
const RDIST_REGS_LIST: [Op; 5] = [
    Op::Write(rd(GicrStatusr::OFFSET, 1), Saved),
    Op::Write(rd(GicrWaker::OFFSET, 1), Saved),
    Op::Write(rd(GicrPropbaser::OFFSET, 2), Saved),
    Op::Write(rd(GicrPendbaser::OFFSET, 2), Saved),
    Op::Write(rd(GicrCtlr::OFFSET, 1), Saved),
];
const RDIST_REGS: &[Op] = &RDIST_REGS_LIST;
const RDIST_REGS_SAVE: &[Op] = &saves(RDIST_REGS_LIST);
/// `VGIC_SGI_REGS`: the SGI_base registers of a vCPU.
const SGI_REGS_LIST: [Op; 9] = [
    Op::Write(rd(GicrIgroupr0::OFFSET, 1), Saved),
    Op::Quirk {
        rule: &r::VMM_CLEAR_WITH_SAVED_BITS,
        ops: &[Op::Write(rd(GicrIcenabler0::OFFSET, 1), Saved)],
        corrected: &[Op::Write(rd(GicrIcenabler0::OFFSET, 1), Const(!0))],
    },
    Op::Write(rd(GicrIsenabler0::OFFSET, 1), Saved),
    Op::Write(rd(GicrIcfgr0::OFFSET, 2), Saved),
    Op::Write(rd(GicrIcpendr0::OFFSET, 1), Saved),
    Op::Write(rd(GicrIspendr0::OFFSET, 1), Saved),
    Op::Quirk {
        rule: &r::VMM_CLEAR_WITH_SAVED_BITS,
        ops: &[Op::Write(rd(GicrIcactiver0::OFFSET, 1), Saved)],
        corrected: &[Op::Write(rd(GicrIcactiver0::OFFSET, 1), Const(!0))],
    },
    Op::Write(rd(GicrIsactiver0::OFFSET, 1), Saved),
    Op::Write(rd(GicrIpriorityr::OFFSET, 8), Saved),
];
const SGI_REGS: &[Op] = &SGI_REGS_LIST;
const SGI_REGS_SAVE: &[Op] = &saves(SGI_REGS_LIST);

// ---- QEMU -------------------------------------------------------------------------------------

/// `kvm_arm_gicv3_get` (which starts with `kvm_arm_gicv3_check`: GICD_TYPER).
/// QEMU with an ITS: the VM stops (SAVE_TABLES, SAVE_PENDING_TABLES, RAM's last pass),
/// then the GICv3's pre_save, then the ITS's (vmm/its.rs).
static QEMU_SAVE_WITH_ITS: &[Op] = &[
    Op::Its(its::QEMU_STOP),
    Op::Seq(QEMU_SAVE),
    Op::Its(its::REGS_SAVE),
];
/// RAM first, then the GICv3's post_load, then the ITS's (`MIG_PRI_GICV3_ITS` after
/// `MIG_PRI_GICV3`).
static QEMU_RESTORE_WITH_ITS: &[Op] = &[
    Op::Its(its::RAM),
    Op::Seq(QEMU_RESTORE),
    Op::Its(its::REGS_RESTORE),
];
static QEMU_2025_RESTORE_WITH_ITS: &[Op] = &[
    Op::Its(its::RAM),
    Op::Seq(QEMU_2025_RESTORE),
    Op::Its(its::REGS_RESTORE),
];

static QEMU_SAVE: &[Op] = &[
    Op::Read(d(GicdTyper::OFFSET)),
    Op::Read(rd(GicrTyper::OFFSET, 2)),
    Op::Read(d(GicdCtlr::OFFSET)),
    Op::ForEachVcpu(&[
        Op::Read(rd(GicrCtlr::OFFSET, 1)),
        Op::Read(rd(GicrStatusr::OFFSET, 1)),
        Op::Read(rd(GicrWaker::OFFSET, 1)),
        Op::Read(rd(GicrIgroupr0::OFFSET, 1)),
        Op::Read(rd(GicrIsenabler0::OFFSET, 1)),
        Op::Read(rd(GicrIcfgr1::OFFSET, 1)),
        Op::Read(Access::PrivateLevels),
        Op::Read(rd(GicrIspendr0::OFFSET, 1)),
        Op::Read(rd(GicrIsactiver0::OFFSET, 1)),
        Op::Read(rd(GicrIpriorityr::OFFSET, 8)),
    ]),
    Op::IfSet {
        frame: R,
        offset: GicrTyper::OFFSET,
        mask: GicrTyper::PLPIS.mask32(),
        then: &[Op::ForEachVcpu(&[
            Op::Read(rd(GicrPropbaser::OFFSET, 2)),
            Op::Read(rd(GicrPendbaser::OFFSET, 2)),
        ])],
    },
    Op::Read(d(GicdStatusr::OFFSET)),
    Op::Read(spis(GicdIgroupr::OFFSET, 1)),
    Op::Read(spis(GicdIsenabler::OFFSET, 1)),
    Op::Read(Access::SpiLevels),
    Op::Read(spis(GicdIspendr::OFFSET, 1)),
    Op::Read(spis(GicdIsactiver::OFFSET, 1)),
    Op::Read(spis(GicdIcfgr::OFFSET, 2)),
    Op::Read(spis(GicdIpriorityr::OFFSET, 8)),
    Op::Quirk {
        rule: &r::VMM_QEMU_IROUTER_STRIDE,
        ops: &[Op::Read(Access::IrouterLoop { stride: 4 })],
        corrected: &[Op::Read(Access::IrouterLoop { stride: 8 })],
    },
    Op::ForEachVcpu(QEMU_ICC_SAVE),
];

/// `kvm_arm_gicv3_put` (the distributor part differs between the two QEMU recipes).
macro_rules! qemu_restore {
    ($redist_pending:expr, $enable:expr, $pending:expr, $active:expr) => {
        &[
            // kvm_arm_gicv3_realize: NR_IRQS then CTRL_INIT, long before the incoming migration.
            Op::Init,
            // kvm_arm_gicv3_check, then GICR_TYPER of CPU 0.
            Op::Read(d(GicdTyper::OFFSET)),
            Op::Read(rd(GicrTyper::OFFSET, 2)),
            Op::Write(d(GicdCtlr::OFFSET), Saved),
            Op::IfSet {
                frame: R,
                offset: GicrTyper::OFFSET,
                mask: GicrTyper::PLPIS.mask32(),
                then: &[Op::ForEachVcpu(&[
                    Op::Write(rd(GicrPropbaser::OFFSET, 2), Saved),
                    Op::Write(rd(GicrPendbaser::OFFSET, 2), Saved),
                ])],
            },
            Op::ForEachVcpu(&[
                Op::Write(rd(GicrCtlr::OFFSET, 1), Saved),
                Op::Write(rd(GicrStatusr::OFFSET, 1), Saved),
                Op::Write(rd(GicrWaker::OFFSET, 1), Saved),
                Op::Write(rd(GicrIgroupr0::OFFSET, 1), Saved),
                Op::Write(rd(GicrIcenabler0::OFFSET, 1), Const(!0)),
                Op::Write(rd(GicrIsenabler0::OFFSET, 1), Saved),
                // half_shuffle32(edge_trigger >> 16) << 1: only the odd (edge) bits survive.
                Op::Write(rd(GicrIcfgr1::OFFSET, 1), Value::SavedMasked(0xAAAA_AAAA)),
                Op::Write(Access::PrivateLevels, Saved),
                $redist_pending,
                Op::Write(rd(GicrIspendr0::OFFSET, 1), Saved),
                Op::Write(rd(GicrIcactiver0::OFFSET, 1), Const(!0)),
                Op::Write(rd(GicrIsactiver0::OFFSET, 1), Saved),
                Op::Write(rd(GicrIpriorityr::OFFSET, 8), Saved),
            ]),
            Op::Write(d(GicdStatusr::OFFSET), Saved),
            $enable,
            Op::Write(spis(GicdIgroupr::OFFSET, 1), Saved),
            Op::Quirk {
                rule: &r::VMM_QEMU_IROUTER_STRIDE,
                ops: &[Op::Write(Access::IrouterLoop { stride: 4 }, Saved)],
                corrected: &[Op::Write(Access::IrouterLoop { stride: 8 }, Saved)],
            },
            Op::Write(spis(GicdIcfgr::OFFSET, 2), Value::SavedMasked(0xAAAA_AAAA)),
            Op::Write(Access::SpiLevels, Saved),
            $pending,
            $active,
            Op::Write(spis(GicdIpriorityr::OFFSET, 8), Saved),
            Op::ForEachVcpu(QEMU_ICC_RESTORE),
        ]
    };
}

const QEMU_RESTORE: &[Op] = qemu_restore!(
    Op::Write(rd(GicrIcpendr0::OFFSET, 1), Const(!0)),
    Op::Quirk {
        rule: &r::VMM_QEMU_CLEAR_ZERO,
        ops: &[Op::ClearThenSet {
            clear: Some((GicdIcenabler::OFFSET, 0)),
            set: GicdIsenabler::OFFSET
        }],
        corrected: &[Op::ClearThenSet {
            clear: Some((GicdIcenabler::OFFSET, !0)),
            set: GicdIsenabler::OFFSET
        }]
    },
    Op::Quirk {
        rule: &r::VMM_QEMU_CLEAR_ZERO,
        ops: &[Op::ClearThenSet {
            clear: Some((GicdIcpendr::OFFSET, 0)),
            set: GicdIspendr::OFFSET
        }],
        corrected: &[Op::ClearThenSet {
            clear: None,
            set: GicdIspendr::OFFSET
        }]
    },
    Op::Quirk {
        rule: &r::VMM_QEMU_CLEAR_ZERO,
        ops: &[Op::ClearThenSet {
            clear: Some((GicdIcactiver::OFFSET, 0)),
            set: GicdIsactiver::OFFSET
        }],
        corrected: &[Op::ClearThenSet {
            clear: Some((GicdIcactiver::OFFSET, !0)),
            set: GicdIsactiver::OFFSET
        }]
    }
);
const QEMU_2025_RESTORE: &[Op] = qemu_restore!(
    // "Remove writes to ICPENDR registers": nothing before GICR_ISPENDR0.
    Op::Seq(&[]),
    Op::ClearThenSet {
        clear: Some((GicdIcenabler::OFFSET, !0)),
        set: GicdIsenabler::OFFSET
    },
    Op::ClearThenSet {
        clear: None,
        set: GicdIspendr::OFFSET
    },
    Op::ClearThenSet {
        clear: Some((GicdIcactiver::OFFSET, !0)),
        set: GicdIsactiver::OFFSET
    }
);

// ---- crosvm -----------------------------------------------------------------------------------

const CROSVM_SAVE: &[Op] = &[
    Op::ForEachVcpu(&[
        Op::Seq(CROSVM_ICC_SAVE),
        Op::Read(Sweep {
            frame: R,
            start: 0,
            end: Frame::Redist.size(),
        }),
    ]),
    Op::Read(Sweep {
        frame: D,
        start: 0,
        end: Frame::Dist.size(),
    }),
];
/// The sweep without the clear registers: every word but GICR_ICENABLER0,
/// GICR_ICPENDR0 and GICR_ICACTIVER0, which would clear what ISENABLER0, ISPENDR0 and
/// ISACTIVER0 just restored (the correction of [`r::VMM_CROSVM_SWEEP`]).
const CROSVM_REDIST_SWEEP_CORRECTED: &[Op] = &[
    Op::Write(sweep(R, 0, GicrIcenabler0::OFFSET), Saved),
    Op::Write(sweep(R, GicrIspendr0::OFFSET, GicrIcpendr0::OFFSET), Saved),
    Op::Write(
        sweep(R, GicrIsactiver0::OFFSET, GicrIcactiver0::OFFSET),
        Saved,
    ),
    Op::Write(
        sweep(R, GicrIpriorityr::OFFSET, Frame::Redist.size()),
        Saved,
    ),
];
/// The same for the distributor: every word but GICD_ICENABLER<n>, GICD_ICPENDR<n> and
/// GICD_ICACTIVER<n>.
const CROSVM_DIST_SWEEP_CORRECTED: &[Op] = &[
    Op::Write(sweep(D, 0, GicdIcenabler::OFFSET), Saved),
    Op::Write(sweep(D, GicdIspendr::OFFSET, GicdIcpendr::OFFSET), Saved),
    Op::Write(
        sweep(D, GicdIsactiver::OFFSET, GicdIcactiver::OFFSET),
        Saved,
    ),
    Op::Write(sweep(D, GicdIpriorityr::OFFSET, Frame::Dist.size()), Saved),
];
const fn sweep(frame: Frame, start: u32, end: u32) -> Access {
    Sweep { frame, start, end }
}
const CROSVM_RESTORE: &[Op] = &[
    // KvmKernelIrqChip::finalize at VM build: CTRL_INIT before any restore.
    Op::Init,
    Op::ForEachVcpu(&[
        Op::Seq(CROSVM_ICC_RESTORE),
        Op::Quirk {
            rule: &r::VMM_CROSVM_SWEEP,
            ops: &[Op::Write(
                Sweep {
                    frame: R,
                    start: 0,
                    end: Frame::Redist.size(),
                },
                Saved,
            )],
            corrected: CROSVM_REDIST_SWEEP_CORRECTED,
        },
    ]),
    Op::Quirk {
        rule: &r::VMM_CROSVM_SWEEP,
        ops: &[Op::Write(
            Sweep {
                frame: D,
                start: 0,
                end: Frame::Dist.size(),
            },
            Saved,
        )],
        corrected: CROSVM_DIST_SWEEP_CORRECTED,
    },
];

// ---- the kernel documentation's order ---------------------------------------------------------

const DOC_SAVE: &[Op] = &[
    Op::Read(d(GicdIidr::OFFSET)),
    Op::Read(d(GicdTyper2::OFFSET)),
    Op::Read(d(GicdCtlr::OFFSET)),
    Op::Read(spis(GicdIgroupr::OFFSET, 1)),
    Op::Read(spis(GicdIcfgr::OFFSET, 2)),
    Op::Read(spis(GicdIpriorityr::OFFSET, 8)),
    Op::Read(spis(GicdIrouter::OFFSET, 64)),
    Op::Read(Access::SpiLevels),
    Op::Read(spis(GicdIsenabler::OFFSET, 1)),
    Op::Read(spis(GicdIspendr::OFFSET, 1)),
    Op::Read(spis(GicdIsactiver::OFFSET, 1)),
    Op::ForEachVcpu(&[
        Op::Read(rd(GicrPropbaser::OFFSET, 2)),
        Op::Read(rd(GicrPendbaser::OFFSET, 2)),
        Op::Read(rd(GicrCtlr::OFFSET, 1)),
        Op::Read(rd(GicrIgroupr0::OFFSET, 1)),
        Op::Read(rd(GicrIpriorityr::OFFSET, 8)),
        Op::Read(Access::PrivateLevels),
        Op::Read(rd(GicrIsenabler0::OFFSET, 1)),
        Op::Read(rd(GicrIspendr0::OFFSET, 1)),
        Op::Read(rd(GicrIsactiver0::OFFSET, 1)),
    ]),
    Op::ForEachVcpu(ICC_SAVE),
];
const DOC_RESTORE: &[Op] = &[
    // "GICD_IIDR ... should be restored before any other register"; 6.17: IIDR and
    // TYPER2.nASSGIcap may be written before KVM_DEV_ARM_VGIC_CTRL_INIT.
    Op::PreInit(&[
        Op::Write(d(GicdIidr::OFFSET), Saved),
        Op::Write(d(GicdTyper2::OFFSET), Saved),
    ]),
    Op::Init,
    Op::Write(d(GicdCtlr::OFFSET), Saved),
    Op::Write(spis(GicdIgroupr::OFFSET, 1), Saved),
    Op::Write(spis(GicdIcfgr::OFFSET, 2), Saved),
    Op::Write(spis(GicdIpriorityr::OFFSET, 8), Saved),
    Op::Write(spis(GicdIrouter::OFFSET, 64), Saved),
    Op::Write(Access::SpiLevels, Saved),
    Op::ClearThenSet {
        clear: Some((GicdIcenabler::OFFSET, !0)),
        set: GicdIsenabler::OFFSET,
    },
    // Userspace ISPENDR writes the whole latch: no clear register needed.
    Op::Write(spis(GicdIspendr::OFFSET, 1), Saved),
    Op::ClearThenSet {
        clear: Some((GicdIcactiver::OFFSET, !0)),
        set: GicdIsactiver::OFFSET,
    },
    // Every redistributor's LPI tables before any GICR_CTLR.EnableLPIs (arm-vgic-its.rst order).
    Op::ForEachVcpu(&[
        Op::Write(rd(GicrPropbaser::OFFSET, 2), Saved),
        Op::Write(rd(GicrPendbaser::OFFSET, 2), Saved),
    ]),
    Op::ForEachVcpu(&[
        Op::Write(rd(GicrCtlr::OFFSET, 1), Saved),
        Op::Write(rd(GicrIgroupr0::OFFSET, 1), Saved),
        Op::Write(rd(GicrIpriorityr::OFFSET, 8), Saved),
        Op::Write(Access::PrivateLevels, Saved),
        Op::Write(rd(GicrIcenabler0::OFFSET, 1), Const(!0)),
        Op::Write(rd(GicrIsenabler0::OFFSET, 1), Saved),
        Op::Write(rd(GicrIspendr0::OFFSET, 1), Saved),
        Op::Write(rd(GicrIcactiver0::OFFSET, 1), Const(!0)),
        Op::Write(rd(GicrIsactiver0::OFFSET, 1), Saved),
    ]),
    // arm-vgic-v3.rst CPU_SYSREGS, after the redistributors.
    Op::ForEachVcpu(ICC_RESTORE),
];

/// Every recipe.
pub static RECIPES: &[Recipe] = &[
    Recipe {
        id: "firecracker",
        name: "Firecracker",
        summary: "one list for save and restore (\"order taken from qemu\"): distributor first, then each vCPU's redistributor; saved enable/active bits written to the clear registers first",
        source: Source {
            repo: "firecracker-microvm/firecracker",
            path: "src/vmm/src/arch/aarch64/gic/gicv3/regs/{mod,dist_regs,redist_regs}.rs, gicv3/mod.rs",
            commit: "07c9d9a9 / 0c3606af / 0bd36638 (redistributor list with GICR_CTLR after the BASERs: 81b38b9d, 2026-08)",
            note: "restore_state: set_dist_regs, then per vCPU set_redist_regs and set_icc_regs; GICv3::create runs finalize_device (NR_IRQS, CTRL_INIT) before any restore",
        },
        nr_irqs: 128,
        nr_irqs_note: "layout::IRQ_MAX = 128 (IRQ_BASE 32 + 96 legacy GSIs)",
        its: ItsSupport::Optional,
        its_note: "save_state: SAVE_PENDING_TABLES and SAVE_TABLES first, the ITS registers after the redistributors; restore_state: the ITS after the redistributors (its_regs.rs @9fcdb794); the memory file is written after the state and loaded before it",
        save: &[
            Op::Its(its::FLUSH),
            Op::ForEachVcpu(&[
                Op::Seq(RDIST_REGS_SAVE),
                Op::Seq(SGI_REGS_SAVE),
                Op::Seq(FC_ICC_SAVE),
            ]),
            Op::Its(its::REGS_SAVE),
            Op::Read(d(GicdCtlr::OFFSET)),
            Op::Seq(DIST_REGS_SAVE),
            Op::Its(its::RAM),
        ],
        restore: &[
            Op::Its(its::RAM),
            Op::Init,
            Op::Write(d(GicdCtlr::OFFSET), Saved),
            Op::Seq(DIST_REGS),
            Op::ForEachVcpu(&[
                Op::Seq(RDIST_REGS),
                Op::Seq(SGI_REGS),
                Op::Seq(FC_ICC_RESTORE),
            ]),
            Op::Its(its::REGS_RESTORE),
        ],
        skipped: &[
            SKIP_ICC_BEYOND_PRIBITS,
            SKIP_RAM_PASSES,
            Skipped {
                what: "line levels (KVM_DEV_ARM_VGIC_GRP_LEVEL_INFO)",
                reason: "Firecracker does not save them: nothing to replay",
            },
        ],
    },
    Recipe {
        id: "cloud-hypervisor",
        name: "Cloud Hypervisor",
        summary: "GICD_CTLR first, the distributor list, then the redistributors in two passes over all vCPUs; ranges follow NR_IRQS read on each side",
        source: Source {
            repo: "cloud-hypervisor/cloud-hypervisor",
            path: "hypervisor/src/kvm/aarch64/gic/{mod,dist_regs,redist_regs}.rs",
            commit: "3f67b6d3 / 587a3332 (redistributor passes: ae44c297, 2026-08)",
            note: "KvmGicV3Its::set_state: write_ctlr, set_dist_regs, set_redist_regs, set_icc_regs, ITS; init_device_attributes creates the ITS and runs CTRL_INIT at VM creation",
        },
        nr_irqs: 256,
        nr_irqs_note: "layout::IRQ_NUM = 256; the register ranges are recomputed from KVM_DEV_ARM_VGIC_GRP_NR_IRQS on the destination (same value for VMs this VMM creates)",
        its: ItsSupport::Always,
        its_note: "KvmGicV3Its always creates the ITS device; pause flushes SAVE_PENDING_TABLES then SAVE_TABLES (save_data_tables), state() reads the ITS registers last, set_state writes them after the ICC registers (gic/mod.rs @010be29f)",
        save: &[
            Op::Its(its::FLUSH),
            Op::Read(d(GicdCtlr::OFFSET)),
            Op::Seq(DIST_REGS_SAVE),
            Op::ForEachVcpu(RDIST_REGS_SAVE),
            Op::ForEachVcpu(SGI_REGS_SAVE),
            Op::ForEachVcpu(CH_ICC_SAVE),
            Op::Its(its::REGS_SAVE),
            Op::Its(its::RAM),
        ],
        restore: &[
            Op::Its(its::RAM),
            Op::Init,
            Op::Write(d(GicdCtlr::OFFSET), Saved),
            Op::Seq(DIST_REGS),
            Op::ForEachVcpu(RDIST_REGS),
            Op::ForEachVcpu(SGI_REGS),
            Op::ForEachVcpu(CH_ICC_RESTORE),
            Op::Its(its::REGS_RESTORE),
        ],
        skipped: &[
            SKIP_ICC_BEYOND_PRIBITS,
            SKIP_RAM_PASSES,
            Skipped {
                what: "line levels (KVM_DEV_ARM_VGIC_GRP_LEVEL_INFO)",
                reason: "cloud-hypervisor does not save them: nothing to replay",
            },
            Skipped {
                what: "KVM_DEV_ARM_VGIC_GRP_NR_IRQS read before each range",
                reason: "not a register access; both VMs use the recipe's NR_IRQS",
            },
        ],
    },
    Recipe {
        id: "qemu",
        name: "QEMU (before the July 2025 fixes)",
        summary: "redistributors first (ICENABLER0/ICPENDR0/ICACTIVER0 = ~0 before each set register), then the distributor with 0 written to the clear registers, IROUTER at a 4-byte stride, LEVEL_INFO saved and restored",
        source: Source {
            repo: "qemu/qemu",
            path: "hw/intc/arm_gicv3_kvm.c",
            commit: "01b5ab8c (same sequence at f2a1cf91)",
            note: "kvm_arm_gicv3_get (pre_save) / kvm_arm_gicv3_put (post_load); CTRL_INIT in kvm_arm_gicv3_realize; put also runs at device reset, which on a fresh destination writes reset values that the migration's put overwrites",
        },
        nr_irqs: 288,
        nr_irqs_note: "the virt machine: 256 SPIs + 32 (s->num_irq)",
        its: ItsSupport::Optional,
        its_note: "virt has an ITS by default (its=on); GICR_PROPBASER/PENDBASER are restored only when GICR_TYPER.PLPIS",
        save: QEMU_SAVE_WITH_ITS,
        restore: QEMU_RESTORE_WITH_ITS,
        skipped: &[SKIP_ICC_BEYOND_PRIBITS, SKIP_RAM_PASSES],
    },
    Recipe {
        id: "qemu-2025",
        name: "QEMU (after the July 2025 fixes)",
        summary: "as qemu, with ~0 written to GICD_ICENABLER/ICACTIVER and no ICPENDR writes (b10bd4bd17ac, ICPENDR removal); the IROUTER stride is unchanged",
        source: Source {
            repo: "qemu/qemu",
            path: "hw/intc/arm_gicv3_kvm.c",
            commit: "01b5ab8c + [PULL 2/8] \"Remove writes to ICPENDR registers\" (2025-08-01) + b10bd4bd17ac \"Write all 1's to clear enable/active\" (stable 10.0.4)",
            note: "Z. Yu, qemu-devel 2025-07-30, Message-Id 20250729161650.43758-1-zenghui.yu@linux.dev, reviewed by P. Maydell",
        },
        nr_irqs: 288,
        nr_irqs_note: "the virt machine: 256 SPIs + 32 (s->num_irq)",
        its: ItsSupport::Optional,
        its_note: "as qemu",
        save: QEMU_SAVE_WITH_ITS,
        restore: QEMU_2025_RESTORE_WITH_ITS,
        skipped: &[SKIP_ICC_BEYOND_PRIBITS, SKIP_RAM_PASSES],
    },
    Recipe {
        id: "crosvm",
        name: "crosvm",
        summary: "per vCPU the whole 128 KiB redistributor, then the whole 64 KiB distributor, every 32-bit word in ascending order, replaying the values read",
        source: Source {
            repo: "google/crosvm",
            path: "devices/src/irqchip/kvm/aarch64.rs",
            commit: "03b88b64 (survey: f1e797a6; added by 35bd2439e, 2025-03-07)",
            note: "KvmKernelIrqChip::snapshot/restore: per vCPU set_cpu_vgic_regs, set_redist_regs, mp_state; then set_dist_regs",
        },
        nr_irqs: 64,
        nr_irqs_note: "AARCH64_GIC_NR_IRQS = 64 (32 SPIs)",
        its: ItsSupport::Refused,
        its_note: "snapshot() returns \"snapshot of vGIC ITS not supported yet\" when an ITS exists",
        save: CROSVM_SAVE,
        restore: CROSVM_RESTORE,
        skipped: &[
            SKIP_ICC,
            Skipped {
                what: "KVM_DEV_ARM_VGIC_SAVE_PENDING_TABLES and the vCPUs' mp_state",
                reason: "LPI tables and vCPU power state are not modelled",
            },
        ],
    },
    Recipe {
        id: "kernel-doc",
        name: "the kernel documentation's order",
        summary: "GICD_IIDR first and GICD_TYPER2 before init where the kernel allows it (6.17+; else right after init), then the distributor, LPI tables, redistributors; ~0 to the clear registers, IROUTER at its 8-byte stride, LEVEL_INFO",
        source: Source {
            repo: "torvalds/linux",
            path: "Documentation/virt/kvm/devices/arm-vgic-v3.rst, arm-vgic-its.rst",
            commit: "6.17 (eed9b1420907 \"Describe VGICv3 registers writable pre-init\")",
            note: "not a real VMM: the sequence the UAPI documentation asks for, as a reference point",
        },
        nr_irqs: 256,
        nr_irqs_note: "KVM's default (CTRL_INIT without NR_IRQS sets 256)",
        its: ItsSupport::Optional,
        its_note: "GICR_PROPBASER/PENDBASER of every vCPU before any GICR_CTLR",
        save: &[Op::Its(its::DOC_SAVE), Op::Seq(DOC_SAVE)],
        restore: &[
            Op::Its(its::RAM),
            Op::Seq(DOC_RESTORE),
            Op::Its(its::DOC_RESTORE),
        ],
        skipped: &[SKIP_ICC, SKIP_RAM_PASSES],
    },
];

/// The recipe named `id` (case-insensitive).
pub fn recipe(id: &str) -> Result<&'static Recipe, UnknownVmm> {
    let t = id.trim().to_ascii_lowercase();
    RECIPES
        .iter()
        .find(|r| r.id == t)
        .ok_or_else(|| UnknownVmm(id.to_string()))
}

/// An unknown VMM name.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown VMM {0:?}: expected firecracker, cloud-hypervisor, qemu, qemu-2025, crosvm or kernel-doc")]
pub struct UnknownVmm(pub String);

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
    fn of(frame: Frame) -> Target {
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
fn key(t: Target, vcpu: u32, off: u32) -> u32 {
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
    values: Vec<(u32, u32)>,
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
    fn get(&self, k: u32) -> u32 {
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

struct Exec<'a> {
    vm: &'a mut Vgic,
    nr_irqs: u32,
    vcpus: u32,
    fast: Option<&'a RegionMap>,
    keep_log: bool,
    keep_going: bool,
    saved: Option<&'a SavedState>,
    out: Vec<(u32, u32)>,
    quirks: Vec<&'static Rule>,
    restore: Restore,
    reads: usize,
    stopped: bool,
    in_pre_init: bool,
    pre_init_busy: bool,
    initialised_early: bool,
    /// Where the last saved value was found.
    hint: usize,
    copy_at_refusal: bool,
    copy_pending: bool,
    /// The rules of an access without a log (its observer), reused from access to access.
    rules: Vec<&'static Rule>,
    changes: &'a [RecipeChange],
    /// What the save took of the ITS and guest RAM.
    its_out: ItsSaved,
}

impl Exec<'_> {
    fn ops(&mut self, ops: &[Op], vcpu: u32) {
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

    fn access(&mut self, a: &Access, vcpu: u32, write: Option<Value>) {
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
    fn no_region_run(&self, frame: Frame, off: u32, end: u32) -> u32 {
        let Some(map) = self.fast else { return 0 };
        if self.vm.lifecycle() == Lifecycle::Created {
            return 0;
        }
        (map.next_region(frame, off, end) - off) / 4
    }

    /// Count `n` no-region words from `off` as the no-op successes KVM gives them
    /// (reads 0, writes ignored: vgic_uaccess_read/write with no region).
    fn elide(&mut self, t: Target, vcpu: u32, off: u32, n: u32, write: bool) {
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

    fn init(&mut self) {
        let o = self.vm.init();
        let index = self.restore.accesses;
        self.restore.accesses += 1;
        self.record(Action::Init, None, 0, 0, 0, o, index);
    }

    /// One 32-bit access; returns the value read (or written).
    fn word(&mut self, t: Target, vcpu: u32, off: u32, write: Option<Value>) -> u32 {
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
    fn take_copy_if_pending(&mut self) {
        if self.copy_pending {
            self.take_copy();
        }
    }

    #[cold]
    fn take_copy(&mut self) {
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
    fn refused_lean(
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

    fn refuse(&mut self, refusal: Refusal) {
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
    fn record(
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

    fn log_elided(
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

fn same_family(a: &Option<String>, b: &Option<String>) -> bool {
    let stem = |s: &Option<String>| {
        s.as_deref().map(|x| {
            x.trim_end_matches(|c: char| c.is_ascii_digit() || c == 'E')
                .to_string()
        })
    };
    stem(a) == stem(b)
}

fn exec<'a>(
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::Host;

    #[test]
    fn recipes_address_the_vgic_device_only() {
        // Target::of maps frames to the vGIC device's groups: an ITS frame in a
        // recipe's ops would be replayed on the wrong device.
        for r in RECIPES {
            for ops in [r.save, r.restore] {
                // The ITS device's part is `Op::Its` (vmm/its.rs), never a frame access.
                let json = serde_json::to_string(ops).unwrap();
                assert!(
                    !json.contains("\"frame\":\"its\""),
                    "{} addresses the ITS frame",
                    r.id
                );
                assert!(json.contains("\"dist\""), "{}: no distributor access", r.id);
            }
        }
    }

    fn fresh(host: &str, recipe: &Recipe, vcpus: u32, its: bool) -> Vgic {
        let cfg = VmConfig::new(vcpus, recipe.nr_irqs, its).unwrap();
        Vgic::new(Host::parse_compact(host).unwrap(), cfg)
    }

    fn saved_of(host: &str, recipe: &Recipe, vcpus: u32, its: bool) -> SavedState {
        let mut vm = fresh(host, recipe, vcpus, its);
        vm.init();
        vm.run();
        save(&mut vm, recipe, None).unwrap()
    }

    /// Access counts match the VMMs' own unit tests and the anchors survey (§C.6).
    #[test]
    fn access_counts_match_the_vmms() {
        let count = |id: &str, vcpus: u32, its: bool| {
            let rc = recipe(id).unwrap();
            let saved = saved_of("v4.1@6.8", rc, vcpus, its);
            let mut vm = fresh("v4.1@6.8", rc, vcpus, its);
            let r = restore(&mut vm, rc, &saved, &RestoreOptions::default());
            assert!(r.refusal.is_none(), "{id}: {:?}", r.refusal);
            r.accesses - 1 // CTRL_INIT
        };
        // Plus, per vCPU, the CPU-interface accesses at PRIbits 5: QEMU and
        // cloud-hypervisor 9 (SRE, CTLR, IGRPEN0, IGRPEN1, PMR, BPR0, BPR1, AP0R0,
        // AP1R0), Firecracker 10 (the same and its num_priority_bits read of CTLR);
        // crosvm 5 (CTLR, PMR, AP1R0, SRE, IGRPEN1).
        const ICC: usize = 9;
        const FC_ICC: usize = 10;
        const CROSVM_ICC: usize = 5;
        // Firecracker: 245 distributor words (its test: 12 registers), 24 per redistributor.
        assert_eq!(count("firecracker", 1, false), 245 + 24 + FC_ICC);
        assert_eq!(count("firecracker", 2, false), 245 + 2 * (24 + FC_ICC));
        // cloud-hypervisor: GICD_CTLR + 568 (its unit test asserts 568) + 24 per vCPU,
        // and with its ITS (always there) the RAM load and set_state's 14 ITS accesses
        // (IIDR, CBASER, CREADR, CWRITER, BASER0..7, RESTORE_TABLES, CTLR).
        const ITS: usize = 1 + 14;
        assert_eq!(count("cloud-hypervisor", 1, true), 1 + 568 + 24 + ICC + ITS);
        // QEMU at num_irq 288: 650 distributor accesses + 8 LEVEL_INFO before July 2025,
        // 642 + 8 after; per vCPU 20 (19 after); plus the TYPER/GICR_TYPER reads (3).
        assert_eq!(count("qemu", 1, false), 3 + 658 + 20 + ICC);
        assert_eq!(count("qemu-2025", 1, false), 3 + 650 + 19 + ICC);
        // crosvm: every word of both frames.
        assert_eq!(
            count("crosvm", 1, false),
            0x2_0000 / 4 + 0x1_0000 / 4 + CROSVM_ICC
        );
    }

    #[test]
    fn qemu_irouter_loop_covers_only_the_lower_half() {
        let rc = recipe("qemu").unwrap();
        let mut src = fresh("v3@6.8", rc, 2, false);
        src.init();
        src.run();
        // Route SPI 100 and SPI 200 to vCPU 1.
        src.guest_write(Frame::Dist, 0, GicdIrouter::OFFSET + 8 * 100, 64, 1)
            .unwrap();
        src.guest_write(Frame::Dist, 0, GicdIrouter::OFFSET + 8 * 200, 64, 1)
            .unwrap();
        let saved = save(&mut src, rc, None).unwrap();
        let mut dst = fresh("v3@6.8", rc, 2, false);
        let r = restore(&mut dst, rc, &saved, &RestoreOptions::default());
        assert!(r.refusal.is_none());
        assert_eq!(
            dst.irq(0, 100).unwrap().mpidr,
            1,
            "144 = 288/2: INTID 100 is covered"
        );
        assert_eq!(
            dst.irq(0, 200).unwrap().mpidr,
            0,
            "INTID 200 is never written"
        );
    }

    #[test]
    fn crosvm_sweep_clears_what_it_restored() {
        let rc = recipe("crosvm").unwrap();
        let mut src = fresh("v3@6.8", rc, 1, false);
        src.init();
        src.run();
        src.guest_write(Frame::Dist, 0, GicdIsenabler::OFFSET + 4, 32, 0b10)
            .unwrap();
        let saved = save(&mut src, rc, None).unwrap();
        let mut dst = fresh("v3@6.8", rc, 1, false);
        let r = restore(
            &mut dst,
            rc,
            &saved,
            &RestoreOptions {
                log: true,
                ..Default::default()
            },
        );
        assert!(r.refusal.is_none());
        assert!(
            !dst.irq(0, 33).unwrap().enabled,
            "ICENABLER after ISENABLER with the same bits"
        );
        assert!(
            !dst.irq(0, 0).unwrap().enabled,
            "the SGI enables go the same way"
        );
        assert!(r.log.iter().any(|e| e.rules.contains(&"vmm.crosvm.sweep")
            && e.rules.contains(&"irq.enable.clear.uaccess")));
        assert!(
            r.log.len() < 2_000,
            "runs of no-region words fold: {}",
            r.log.len()
        );
    }

    #[test]
    fn fast_replay_equals_full_replay() {
        for id in ["crosvm", "qemu", "firecracker"] {
            let rc = recipe(id).unwrap();
            for (s, t) in [
                ("v4.1@5.13", "v4.1@6.17"),
                ("v4.1@6.17", "v4.0@5.7"),
                ("v3@4.19", "v4.1@7.1"),
            ] {
                let mut src = fresh(s, rc, 2, false);
                src.init();
                src.run();
                src.guest_write(Frame::Dist, 0, GicdIsenabler::OFFSET + 4, 32, 0xF0)
                    .unwrap();
                let full = save(&mut src, rc, None).unwrap();
                let map = RegionMap::probe(&src);
                let fast = save(&mut src, rc, Some(&map)).unwrap();
                // The fast save stores no zero read at a word without a region; both read the same.
                assert!(
                    full.values.iter().all(|(k, v)| fast.get(*k) == *v),
                    "{id} {s}"
                );
                assert!(
                    fast.values.iter().all(|(k, v)| full.get(*k) == *v),
                    "{id} {s}"
                );
                let mut a = fresh(t, rc, 2, false);
                let mut b = fresh(t, rc, 2, false);
                let ra = restore(&mut a, rc, &full, &RestoreOptions::default());
                let map = RegionMap::probe(&b);
                let rb = restore(
                    &mut b,
                    rc,
                    &fast,
                    &RestoreOptions {
                        fast: Some(&map),
                        ..Default::default()
                    },
                );
                assert_eq!(ra.refusal, rb.refusal, "{id} {s} -> {t}");
                assert_eq!(a.state(), b.state(), "{id} {s} -> {t}");
                assert_eq!(ra.accesses, rb.accesses);
            }
        }
    }

    #[test]
    fn region_maps_depend_only_on_era_and_shape() {
        // The audit keys its RegionMap cache by (era, nr_irqs, its).
        for era in Era::ALL {
            let mut maps = Vec::new();
            for gic in ["v3", "v4.0", "v4.1", "v4.1+novsgi", "v4.1+nov4"] {
                let host = Host::parse_compact(&format!("{gic}@{}", era.as_str())).unwrap();
                let vm = Vgic::new(host, VmConfig::new(1, 64, false).unwrap());
                maps.push(RegionMap::probe(&vm));
            }
            assert!(maps.windows(2).all(|w| w[0] == w[1]), "{era}");
        }
    }

    #[test]
    fn kernel_doc_falls_back_after_init_before_6_17() {
        let rc = recipe("kernel-doc").unwrap();
        let saved = saved_of("v3@6.8", rc, 1, false);
        let mut vm = fresh("v3@6.8", rc, 1, false);
        let r = restore(
            &mut vm,
            rc,
            &saved,
            &RestoreOptions {
                log: true,
                ..Default::default()
            },
        );
        assert!(r.refusal.is_none(), "{:?}", r.refusal);
        assert!(r.log[0].rules.contains(&"vmm.preinit_fallback"));
        assert_eq!(r.log[1].action, Action::Init);
        let saved = saved_of("v4.1@6.17", rc, 1, false);
        let mut vm = fresh("v4.1@6.17", rc, 1, false);
        let r = restore(
            &mut vm,
            rc,
            &saved,
            &RestoreOptions {
                log: true,
                ..Default::default()
            },
        );
        assert!(r.refusal.is_none());
        assert_eq!(
            r.log[2].action,
            Action::Init,
            "IIDR, TYPER2, then CTRL_INIT"
        );
    }

    #[test]
    fn every_saved_value_a_restore_needs_was_read() {
        // A restore's `Saved` value must come from a save read at the same place.
        for rc in RECIPES {
            // With an ITS where the VMM allows one, so that conditional LPI-table steps run.
            let its = rc.its != ItsSupport::Refused;
            let saved = saved_of("v4.1@6.17", rc, 2, its);
            let mut vm = fresh("v4.1@6.17", rc, 2, its);
            let mut x = exec(&mut vm, Some(&saved), &RestoreOptions::default());
            x.ops(rc.restore, 0);
            assert!(
                x.restore.refusal.is_none(),
                "{}: {:?}",
                rc.id,
                x.restore.refusal
            );
            let mut missing = Vec::new();
            check_saved(rc.restore, &saved, rc.nr_irqs, 2, &mut missing);
            assert!(
                missing.is_empty(),
                "{}: restore reads unsaved {missing:x?}",
                rc.id
            );
        }
    }

    fn check_saved(ops: &[Op], saved: &SavedState, nr: u32, vcpus: u32, missing: &mut Vec<u32>) {
        let need = |k: u32, missing: &mut Vec<u32>| {
            if saved.values.binary_search_by_key(&k, |e| e.0).is_err() {
                missing.push(k);
            }
        };
        for op in ops {
            match op {
                Op::Write(a, Value::Saved | Value::SavedMasked(_)) => {
                    for v in 0..vcpus {
                        match *a {
                            Access::Words {
                                frame,
                                offset,
                                count,
                            } => {
                                for i in 0..count {
                                    need(
                                        key(
                                            Target::of(frame),
                                            if frame == Frame::Dist { 0 } else { v },
                                            offset + 4 * i,
                                        ),
                                        missing,
                                    );
                                }
                            }
                            Access::Spis { base, bits_per_irq } => {
                                for i in 0..((nr - 32) * bits_per_irq).div_ceil(32) {
                                    need(
                                        key(Target::Dist, 0, base + 4 * bits_per_irq + 4 * i),
                                        missing,
                                    );
                                }
                            }
                            Access::PrivateLevels => need(key(Target::LevelInfo, v, 0), missing),
                            Access::Sysreg(id) => need(key(Target::CpuSysreg, v, id), missing),
                            _ => {}
                        }
                    }
                }
                Op::ClearThenSet { set, .. } => {
                    for w in 0..(nr - 32).div_ceil(32) {
                        need(key(Target::Dist, 0, set + 4 + 4 * w), missing);
                    }
                }
                Op::ForEachVcpu(inner)
                | Op::PreInit(inner)
                | Op::Quirk { ops: inner, .. }
                | Op::Seq(inner) => check_saved(inner, saved, nr, vcpus, missing),
                Op::IfSet { then, .. } => check_saved(then, saved, nr, vcpus, missing),
                _ => {}
            }
        }
    }
}
