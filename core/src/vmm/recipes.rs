//! The recipes: Firecracker, cloud-hypervisor, QEMU (and its 2025 pull), crosvm and the
//! kernel documentation's order, each an `Op` list read from the VMM's source (the
//! module documentation of `vmm` cites them), and `RECIPES`.

#[allow(unused_imports)]
use super::*;
// ---- CPU-interface registers ------------------------------------------------------------------

pub(crate) const fn icc(id: u32) -> Access {
    Access::Sysreg(id)
}
/// The kernel documentation's recipe: the CPU_SYSREGS registers a Linux guest
/// programs (SRE, CTLR, IGRPEN1, PMR, AP1R0), saved and restored in one order. The
/// real VMMs' fuller lists are `QEMU_ICC_LIST` (also cloud-hypervisor's) and
/// `FC_ICC_SAVE`/`FC_ICC_RESTORE`.
pub(crate) const ICC_LIST: [Op; 5] = [
    Op::Write(icc(ICC_SRE_EL1), Saved),
    Op::Write(icc(ICC_CTLR_EL1), Saved),
    Op::Write(icc(ICC_IGRPEN1_EL1), Saved),
    Op::Write(icc(ICC_PMR_EL1), Saved),
    Op::Write(icc(ICC_AP1R0_EL1), Saved),
];
pub(crate) const ICC_RESTORE: &[Op] = &ICC_LIST;
pub(crate) const ICC_SAVE: &[Op] = &saves(ICC_LIST);
/// QEMU hw/intc/arm_gicv3_kvm.c `kvm_arm_gicv3_put` (and `kvm_arm_gicv3_get`,
/// the same order) for each CPU: ICC_SRE_EL1, ICC_CTLR_EL1, ICC_IGRPEN0_EL1,
/// ICC_IGRPEN1_EL1, ICC_PMR_EL1, ICC_BPR0_EL1, ICC_BPR1_EL1, then
/// ICC_AP0R<n>_EL1 and ICC_AP1R<n>_EL1 for n up to what ICC_CTLR_EL1.PRIbits
/// needs (5 bits: n = 0), read at qemu/qemu 01b5ab8c.
pub(crate) const QEMU_ICC_LIST: [Op; 9] = [
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
pub(crate) const QEMU_ICC_RESTORE: &[Op] = &QEMU_ICC_LIST;
pub(crate) const QEMU_ICC_SAVE: &[Op] = &saves(QEMU_ICC_LIST);
/// cloud-hypervisor hypervisor/src/kvm/aarch64/gic/icc_regs.rs @02f146fe
/// (`VGIC_ICC_REGS`, get_icc_regs/set_icc_regs): the same order as QEMU's,
/// AP<g>R<n> by the PRIbits of the saved ICC_CTLR_EL1.
pub(crate) const CH_ICC_SAVE: &[Op] = QEMU_ICC_SAVE;
pub(crate) const CH_ICC_RESTORE: &[Op] = QEMU_ICC_RESTORE;
/// Firecracker src/vmm/src/arch/aarch64/gic/gicv3/regs/icc_regs.rs @055fda4d:
/// `MAIN_VGIC_ICC_REGS` (SRE, CTLR, IGRPEN0, IGRPEN1, PMR, BPR0, BPR1), then
/// `num_priority_bits` reads ICC_CTLR_EL1 again, then `AP_VGIC_ICC_REGS`
/// those the PRIbits implement (AP0R0, AP1R0 with 5 bits); set_icc_regs
/// writes the main list, reads ICC_CTLR_EL1 from the destination, then
/// writes the AP registers.
pub(crate) const FC_ICC_SAVE: &[Op] = &[
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
pub(crate) const FC_ICC_RESTORE: &[Op] = &[
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
pub(crate) const CROSVM_ICC_SAVE: &[Op] = &[
    Op::Read(icc(ICC_CTLR_EL1)),
    Op::Read(icc(ICC_PMR_EL1)),
    Op::Read(icc(ICC_AP1R0_EL1)),
    Op::Read(icc(ICC_SRE_EL1)),
    Op::Read(icc(ICC_IGRPEN1_EL1)),
];
/// crosvm restore: BTreeMap order by encoded id (PMR 0xc230 < AP1R0 0xc648 < CTLR 0xc664 <
/// SRE 0xc665 < IGRPEN1 0xc667).
pub(crate) const CROSVM_ICC_RESTORE: &[Op] = &[
    Op::Write(icc(ICC_PMR_EL1), Saved),
    Op::Write(icc(ICC_AP1R0_EL1), Saved),
    Op::Write(icc(ICC_CTLR_EL1), Saved),
    Op::Write(icc(ICC_SRE_EL1), Saved),
    Op::Write(icc(ICC_IGRPEN1_EL1), Saved),
];
/// Every recipe's RAM copy is one copy where the VMM takes its last one.
pub(crate) const SKIP_RAM_PASSES: Skipped = Skipped {
    what: "live migration's earlier RAM passes (dirty-page tracking) and the ITS base address (KVM_DEV_ARM_VGIC_GRP_ADDR, set when the VMM creates the ITS)",
    reason: "what the guest finds is the last copy of RAM, taken where the recipe's `guest RAM` step is; the ITS base is the same on both sides (the VMM's machine layout)",
};

/// The reads that save what a restore list writes, in its order. The CPU-interface
/// list above is one such pair (QEMU and both Rust VMMs save and restore it in one
/// order); Firecracker and cloud-hypervisor also walk one register list for both (`get_regs`/`set_regs` over
/// `VGIC_DIST_REGS`, `VGIC_RDIST_REGS`, `VGIC_SGI_REGS`), so their save lists are
/// derived from their restore lists rather than written twice. Only saved-value
/// writes (bare, or under a quirk) may be in such a list: anything else fails the build.
pub(crate) const fn saves<const N: usize>(restore: [Op; N]) -> [Op; N] {
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
pub(crate) const DIST_REGS_LIST: [Op; 11] = [
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
pub(crate) const DIST_REGS: &[Op] = &DIST_REGS_LIST;
pub(crate) const DIST_REGS_SAVE: &[Op] = &saves(DIST_REGS_LIST);
/// `VGIC_RDIST_REGS`: the RD_base registers of a vCPU.
pub(crate) const RDIST_REGS_LIST: [Op; 5] = [
    Op::Write(rd(GicrStatusr::OFFSET, 1), Saved),
    Op::Write(rd(GicrWaker::OFFSET, 1), Saved),
    Op::Write(rd(GicrPropbaser::OFFSET, 2), Saved),
    Op::Write(rd(GicrPendbaser::OFFSET, 2), Saved),
    Op::Write(rd(GicrCtlr::OFFSET, 1), Saved),
];
pub(crate) const RDIST_REGS: &[Op] = &RDIST_REGS_LIST;
pub(crate) const RDIST_REGS_SAVE: &[Op] = &saves(RDIST_REGS_LIST);
/// `VGIC_SGI_REGS`: the SGI_base registers of a vCPU.
pub(crate) const SGI_REGS_LIST: [Op; 9] = [
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
pub(crate) const SGI_REGS: &[Op] = &SGI_REGS_LIST;
pub(crate) const SGI_REGS_SAVE: &[Op] = &saves(SGI_REGS_LIST);

// ---- QEMU -------------------------------------------------------------------------------------

/// `kvm_arm_gicv3_get` (which starts with `kvm_arm_gicv3_check`: GICD_TYPER).
/// QEMU with an ITS: the VM stops (SAVE_TABLES, SAVE_PENDING_TABLES, RAM's last pass),
/// then the GICv3's pre_save, then the ITS's (vmm/its.rs).
pub(crate) static QEMU_SAVE_WITH_ITS: &[Op] = &[
    Op::Its(its::QEMU_STOP),
    Op::Seq(QEMU_SAVE),
    Op::Its(its::REGS_SAVE),
];
/// RAM first, then the GICv3's post_load, then the ITS's (`MIG_PRI_GICV3_ITS` after
/// `MIG_PRI_GICV3`).
pub(crate) static QEMU_RESTORE_WITH_ITS: &[Op] = &[
    Op::Its(its::RAM),
    Op::Seq(QEMU_RESTORE),
    Op::Its(its::REGS_RESTORE),
];
pub(crate) static QEMU_2025_RESTORE_WITH_ITS: &[Op] = &[
    Op::Its(its::RAM),
    Op::Seq(QEMU_2025_RESTORE),
    Op::Its(its::REGS_RESTORE),
];

pub(crate) static QEMU_SAVE: &[Op] = &[
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

pub(crate) const QEMU_RESTORE: &[Op] = qemu_restore!(
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
pub(crate) const QEMU_2025_RESTORE: &[Op] = qemu_restore!(
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

pub(crate) const CROSVM_SAVE: &[Op] = &[
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
pub(crate) const CROSVM_REDIST_SWEEP_CORRECTED: &[Op] = &[
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
pub(crate) const CROSVM_DIST_SWEEP_CORRECTED: &[Op] = &[
    Op::Write(sweep(D, 0, GicdIcenabler::OFFSET), Saved),
    Op::Write(sweep(D, GicdIspendr::OFFSET, GicdIcpendr::OFFSET), Saved),
    Op::Write(
        sweep(D, GicdIsactiver::OFFSET, GicdIcactiver::OFFSET),
        Saved,
    ),
    Op::Write(sweep(D, GicdIpriorityr::OFFSET, Frame::Dist.size()), Saved),
];
pub(crate) const fn sweep(frame: Frame, start: u32, end: u32) -> Access {
    Sweep { frame, start, end }
}
pub(crate) const CROSVM_RESTORE: &[Op] = &[
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

pub(crate) const DOC_SAVE: &[Op] = &[
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
pub(crate) const DOC_RESTORE: &[Op] = &[
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
