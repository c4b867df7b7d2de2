//! The recipe language: a VMM's save/restore as data (`Op`, `Access`, `Value`), the
//! `Recipe` with its source and what it skips.

#[allow(unused_imports)]
use super::*;
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

pub(crate) use Access::{Spis, Sweep, Words};
pub(crate) use Frame::{Dist as D, Redist as R};
pub(crate) use Value::{Const, Saved};

pub(crate) const fn d(offset: u32) -> Access {
    Words {
        frame: D,
        offset,
        count: 1,
    }
}
pub(crate) const fn rd(offset: u32, count: u32) -> Access {
    Words {
        frame: R,
        offset,
        count,
    }
}
pub(crate) const fn spis(base: u32, bits_per_irq: u32) -> Access {
    Spis { base, bits_per_irq }
}

pub(crate) const SKIP_ICC: Skipped = Skipped {
    what: "ICC_IGRPEN0_EL1, ICC_BPR0_EL1, ICC_BPR1_EL1 and ICC_AP0R<n>_EL1 (Group 0 and the binary points; KVM_DEV_ARM_VGIC_GRP_CPU_SYSREGS)",
    reason: "not in this recipe's CPU_SYSREGS list (the qemu, firecracker and cloud-hypervisor recipes replay them); ICC_AP1R1..3 are not accessed with PRIbits = 5 (vgic_v3_max_apr_idx)",
};
/// QEMU's, Firecracker's and cloud-hypervisor's recipes replay every
/// CPU_SYSREGS register the VMM saves; only the AP<g>R<n> beyond the host's
/// PRIbits stay unaccessed.
pub(crate) const SKIP_ICC_BEYOND_PRIBITS: Skipped = Skipped {
    what: "ICC_AP0R1..3_EL1 and ICC_AP1R1..3_EL1",
    reason: "the VMM accesses AP<g>R<n> only up to the vCPU's PRIbits (ICC_CTLR_EL1.PRIbits + 1 = 5 here: index 0), as vgic_v3_max_apr_idx allows (QEMU kvm_arm_gicv3_get/put, Firecracker and cloud-hypervisor icc_regs.rs)",
};
