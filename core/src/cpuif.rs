//! The virtual CPU interface of one vCPU: what a guest reaches through the
//! `ICC_*_EL1` system registers. With `HCR_EL2.IMO` set the hardware redirects
//! them to the `ICV_*` virtual interface, built from `ICH_VMCR_EL2`,
//! `ICH_AP1R<n>_EL2` and the list registers KVM fills; only `ICC_SGI1R_EL1`
//! traps to KVM (sys_regs.c `access_gic_sgi`).
//!
//! KVM carries a software copy of the same behaviour for when it has to trap
//! these registers: `arch/arm64/kvm/hyp/vgic-v3-sr.c` (`__vgic_v3_read_iar`,
//! `__vgic_v3_write_eoir`, `__vgic_v3_write_dir`, `__vgic_v3_get_highest_active_priority`,
//! `__vgic_v3_pri_to_pre`, 4.15+). gicx follows that file and the GICv3
//! architecture for the virtual interface, with a host whose `ICH_VTR_EL2`
//! reports 5 priority and 5 preemption bits (PRIbits = PREbits = 5, as KVM's
//! `VGIC_PRI_BITS`), 16-bit INTIDs, A3V = 1 and 4 list registers.
//!
//! This module holds the saved part ([`CpuIfState`], kept in
//! [`crate::vgic::VgicState`]) and the pure arithmetic; which interrupts are
//! candidates is decided by [`crate::delivery`].
//!
//! ```
//! use gicx_core::cpuif::{CpuIfState, Sgi1r};
//! let mut c = CpuIfState::default();
//! assert_eq!(c.running_priority(), 0xff);
//! c.set_active_priority(0xa0);
//! assert_eq!((c.running_priority(), c.ap1r0), (0xa0, 1 << 20));
//! // SGI 3 to vCPUs 1 and 2 (Aff0 1 and 2 of cluster 0.0.0):
//! assert_eq!(Sgi1r::for_vcpus(3, &[1, 2])[0].encode(), 0x0300_0006);
//! ```

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Implemented priority bits (`ICH_VTR_EL2.PRIbits`, KVM's `VGIC_PRI_BITS`).
pub const PRI_BITS: u32 = 5;
/// Preemption bits (`ICH_VTR_EL2.PREbits`).
pub const PRE_BITS: u32 = 5;
/// `__vgic_v3_bpr_min()` = 8 − PREbits: the reset (and minimum) ICC_BPR1_EL1.
/// With it every implemented priority bit is group priority: 32 preemption levels.
pub const BPR1_MIN: u32 = 8 - PRE_BITS;
/// The minimum ICC_BPR0_EL1: one less than Group 1's (`7 - PREbits`).
pub const BPR0_MIN: u32 = BPR1_MIN - 1;
/// The implemented bits of a priority byte.
pub const PRI_MASK: u8 = 0xF8;
/// `GICv3_IDLE_PRIORITY`: the running priority with nothing active.
pub const IDLE_PRIORITY: u8 = 0xFF;
/// `ICC_IAR1_EL1_SPURIOUS`.
pub const SPURIOUS: u32 = 1023;
/// List registers per vCPU (`ICH_VTR_EL2.ListRegs` + 1 on common hosts).
pub const NR_LRS: usize = 4;

/// ICC_CTLR_EL1 fields.
pub mod icc_ctlr {
    pub const CBPR: u64 = 1 << 0;
    pub const EOIMODE: u64 = 1 << 1;
    pub const PRI_BITS_SHIFT: u32 = 8;
    pub const ID_BITS_SHIFT: u32 = 11;
    pub const A3V: u64 = 1 << 15;
}

/// The saved state of a vCPU's CPU interface (`struct vgic_v3_cpu_if`'s
/// `vgic_vmcr` and `vgic_ap1r[0]`; userspace sees it as
/// `KVM_DEV_ARM_VGIC_GRP_CPU_SYSREGS`). All zero at reset: KVM writes
/// `ICH_VMCR_EL2 = 0` (vgic-v3.c `vgic_v3_enable`), so PMR = 0 masks everything
/// and Group 1 is disabled until the guest sets them up.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default)]
pub struct CpuIfState {
    /// ICC_PMR_EL1 (`ICH_VMCR_EL2.VPMR`): all 8 bits as KVM stores them
    /// (`set_gic_pmr` masks with `ICC_PMR_EL1_MASK` = 0xff); the guest's
    /// ICV_PMR_EL1 reads and compares only the implemented bits ([`PRI_MASK`]).
    pub pmr: u8,
    /// ICC_IGRPEN1_EL1 (`ICH_VMCR_EL2.VENG1`).
    pub igrpen1: bool,
    /// ICC_CTLR_EL1.EOImode (`ICH_VMCR_EL2.VEOIM`): 1 splits priority drop (EOIR) from deactivation (DIR).
    pub eoimode: bool,
    /// ICC_CTLR_EL1.CBPR (`ICH_VMCR_EL2.VCBPR`).
    pub cbpr: bool,
    /// ICC_AP1R0_EL1 (`ICH_AP1R0_EL2`): bit n set = group priority n << 3 is active.
    pub ap1r0: u32,
    /// ICC_IGRPEN0_EL1 (`ICH_VMCR_EL2.VENG0`).
    pub igrpen0: bool,
    /// ICC_BPR0_EL1 (`ICH_VMCR_EL2.VBPR0`, 3 bits), as stored.
    pub bpr0: u8,
    /// ICC_BPR1_EL1 (`ICH_VMCR_EL2.VBPR1`, 3 bits), as stored (`vmcr.abpr`).
    pub bpr1: u8,
    /// ICC_AP0R0_EL1 (`ICH_AP0R0_EL2`).
    pub ap0r0: u32,
    /// `vgic_cpu->num_pri_bits` once a CPU_SYSREGS ICC_CTLR_EL1 restore lowered
    /// it (`set_gic_ctlr`); `None` = the host's [`PRI_BITS`].
    pub num_pri_bits: Option<u8>,
    /// `vgic_cpu->num_id_bits` once an ICC_CTLR_EL1 restore lowered it;
    /// `None` = the host's `ICH_VTR_EL2.IDbits`.
    pub num_id_bits: Option<u8>,
}

/// Why an interrupt is, or is not, signalled to the vCPU.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    /// It is signalled: ICC_IAR1_EL1 would acknowledge it.
    Signalled,
    /// Group 1 is disabled at the CPU interface (ICC_IGRPEN1_EL1 = 0).
    GroupDisabled,
    /// Group 0 is disabled at the CPU interface (ICC_IGRPEN0_EL1 = 0).
    Group0Disabled,
    /// Its priority is not higher than the priority mask.
    MaskedByPmr { priority: u8, pmr: u8 },
    /// Its group priority is not higher than the running priority.
    NotAboveRunning { group_priority: u8, running: u8 },
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Signalled => f.write_str("signalled"),
            Verdict::GroupDisabled => f.write_str("Group 1 disabled (ICC_IGRPEN1_EL1 = 0)"),
            Verdict::Group0Disabled => f.write_str("Group 0 disabled (ICC_IGRPEN0_EL1 = 0)"),
            Verdict::MaskedByPmr { priority, pmr } => write!(
                f,
                "masked: priority {priority:#04x} is not higher than ICC_PMR_EL1 {pmr:#04x}"
            ),
            Verdict::NotAboveRunning {
                group_priority,
                running,
            } => write!(
                f,
                "held: group priority {group_priority:#04x} does not preempt the running priority {running:#04x}"
            ),
        }
    }
}

impl CpuIfState {
    /// `vgic_v3_enable` (vgic-v3.c, at `KVM_DEV_ARM_VGIC_CTRL_INIT` through
    /// `kvm_vgic_vcpu_enable`): `vgic_v3->vgic_vmcr = 0`, "the GIC will
    /// restore the binary points to their reset values". Only a vCPU that
    /// ran before init (a failed first run before 5.16, vgic/state.rs `FailedRun`)
    /// can have set it; measured on 5.10.223: ICC_PMR_EL1 written 0xf0 before
    /// init reads 0 after it.
    pub fn reset_vmcr(&mut self) {
        self.pmr = 0;
        self.igrpen1 = false;
        self.eoimode = false;
        self.cbpr = false;
        self.igrpen0 = false;
        self.bpr0 = 0;
        self.bpr1 = 0;
    }

    /// The binary point the CPU interface uses for Group 0: ICC_BPR0_EL1,
    /// never below its minimum (a value stored before the vCPU first ran reads
    /// as the minimum once it has: [`CpuIfState::through_hardware`]).
    pub fn bpr0_effective(&self) -> u8 {
        self.bpr0.max(BPR0_MIN as u8)
    }

    /// The binary point for Group 1: ICC_BPR1_EL1, or with CBPR = 1 the
    /// Group 0 one plus one, saturated at 7 (`__vgic_v3_get_bpr1`).
    pub fn bpr1_effective(&self) -> u8 {
        if self.cbpr {
            (self.bpr0_effective() + 1).min(7)
        } else {
            self.bpr1.max(BPR1_MIN as u8)
        }
    }

    /// `__vgic_v3_pri_to_pre` for Group 1: the group priority, with the
    /// subpriority bits below the binary point cleared (`priority & 0xF8`
    /// at the reset binary points).
    pub fn group_priority(&self, priority: u8) -> u8 {
        self.group_priority_in(priority, true)
    }

    /// `__vgic_v3_pri_to_pre(pri, vmcr, grp)`: Group 0 keeps the bits above
    /// BPR0 + 1, Group 1 those above BPR1 (QEMU: `icv_gprio_mask`).
    pub fn group_priority_in(&self, priority: u8, group1: bool) -> u8 {
        let bpr = if group1 {
            self.bpr1_effective()
        } else {
            self.bpr0_effective() + 1
        };
        priority & (0xFFu16 << bpr) as u8
    }

    /// `__vgic_v3_get_highest_active_priority`, as ICC_RPR_EL1 reads it.
    pub fn running_priority(&self) -> u8 {
        // Both groups' active priorities count (ICV_RPR_EL1: the highest
        // active priority of either group; `__vgic_v3_get_highest_active_priority`
        // reads ICH_AP0R<n> and ICH_AP1R<n>). Checked on real KVM 6.1.192: a
        // CPU_SYSREGS ICC_AP0R0_EL1 = 1 makes the guest's ICC_RPR_EL1 read 0.
        let active = self.ap0r0 | self.ap1r0;
        if active == 0 {
            IDLE_PRIORITY
        } else {
            (active.trailing_zeros() << BPR1_MIN) as u8
        }
    }

    /// What a vCPU's VMCR looks like after it has been loaded into the
    /// hardware and saved back (vgic_v3_load/vgic_v3_put): binary points below
    /// the CPU interface's minimum read as the minimum (GICv3 architecture,
    /// ICH_VMCR_EL2.VBPR0/VBPR1; QEMU's `ich_vmcr_write` does the same).
    /// Checked on real KVM 6.1.192: BPR0 and BPR1 restored as 0 read back 2
    /// and 3 once the vCPU has run.
    pub fn through_hardware(&mut self) {
        self.bpr0 = self.bpr0.max(BPR0_MIN as u8);
        self.bpr1 = self.bpr1.max(BPR1_MIN as u8);
    }

    /// `__vgic_v3_set_active_priority`: mark the group priority of an
    /// acknowledged Group 1 interrupt active.
    pub fn set_active_priority(&mut self, priority: u8) {
        self.set_active_priority_in(priority, true);
    }

    /// `__vgic_v3_set_active_priority(pri, vmcr, grp)` (QEMU: `icv_activate_irq`):
    /// bit `group priority >> 3` of ICH_AP0R0_EL2 (Group 0) or ICH_AP1R0_EL2.
    pub fn set_active_priority_in(&mut self, priority: u8, group1: bool) {
        let ap = self.group_priority_in(priority, group1) >> BPR1_MIN;
        if group1 {
            self.ap1r0 |= 1 << ap;
        } else {
            self.ap0r0 |= 1 << ap;
        }
    }

    /// The priority drop of the guest's EOI: the highest active priority of
    /// either group goes, Group 0's bit when both groups have it (the
    /// architecture's virtual priority drop, as QEMU implements it:
    /// hw/intc/arm_gicv3_cpuif.c `icv_drop_prio`, "favouring group 0"; KVM's
    /// trap path `__vgic_v3_clear_highest_active_priority` prefers Group 1 at
    /// equal priority, but ICV_EOIR1_EL1 is not trapped). Found by the random
    /// sequences on 5.10.223, 6.1.192 and 6.12.118: AP0R0 = AP1R0 = 1, EOIR1
    /// leaves AP1R0 = 1. Returns the dropped priority, or [`IDLE_PRIORITY`].
    pub fn drop_priority(&mut self) -> u8 {
        if self.ap0r0 == 0 && self.ap1r0 == 0 {
            return IDLE_PRIORITY;
        }
        let c0 = self.ap0r0.trailing_zeros();
        let c1 = self.ap1r0.trailing_zeros();
        let n = if c0 <= c1 {
            self.ap0r0 &= !(1 << c0);
            c0
        } else {
            self.ap1r0 &= !(1 << c1);
            c1
        };
        (n << BPR1_MIN) as u8
    }

    /// Whether a pending Group 1 interrupt of `priority` is signalled
    /// (`__vgic_v3_highest_priority_lr` + the PMR and running-priority checks of
    /// `__vgic_v3_read_iar`).
    pub fn admit(&self, priority: u8) -> Verdict {
        self.admit_in(priority, true)
    }

    /// Whether a pending interrupt of `priority` in Group 1 (`group1`) or
    /// Group 0 is signalled: its group enabled (ICH_VMCR_EL2.VENG1/VENG0),
    /// its priority below PMR, its group priority (by that group's binary
    /// point) above the running priority (`__vgic_v3_read_iar`; QEMU
    /// `icv_hppi_can_preempt`).
    pub fn admit_in(&self, priority: u8, group1: bool) -> Verdict {
        if group1 && !self.igrpen1 {
            return Verdict::GroupDisabled;
        }
        if !group1 && !self.igrpen0 {
            return Verdict::Group0Disabled;
        }
        if self.pmr & PRI_MASK <= priority {
            return Verdict::MaskedByPmr {
                priority,
                pmr: self.pmr & PRI_MASK,
            };
        }
        let pre = self.group_priority_in(priority, group1);
        let running = self.running_priority();
        if running <= pre {
            return Verdict::NotAboveRunning {
                group_priority: pre,
                running,
            };
        }
        Verdict::Signalled
    }

    /// ICC_BPR0_EL1 written by the guest: values below the minimum set the
    /// minimum (GICv3 architecture, ICV_BPR0_EL1; `__vgic_v3_write_bpr0`).
    pub fn write_bpr0(&mut self, v: u64) {
        self.bpr0 = ((v & 7) as u8).max(BPR0_MIN as u8);
    }

    /// ICC_BPR1_EL1 written by the guest: ignored with CBPR = 1, else
    /// raised to the minimum (`__vgic_v3_write_bpr1`). Returns whether it was kept.
    pub fn write_bpr1(&mut self, v: u64) -> bool {
        if self.cbpr {
            return false;
        }
        self.bpr1 = ((v & 7) as u8).max(BPR1_MIN as u8);
        true
    }

    /// ICC_CTLR_EL1 as the guest reads it (ICV_CTLR_EL1, `__vgic_v3_read_ctlr`):
    /// PRIbits and IDbits (`host_id_bits`, 0 = 16, 1 = 24) from the host's `ICH_VTR_EL2`.
    pub fn ctlr(&self, host_id_bits: u64) -> u64 {
        let mut v = ((PRI_BITS as u64 - 1) << icc_ctlr::PRI_BITS_SHIFT)
            | (host_id_bits << icc_ctlr::ID_BITS_SHIFT)
            | icc_ctlr::A3V;
        if self.eoimode {
            v |= icc_ctlr::EOIMODE;
        }
        if self.cbpr {
            v |= icc_ctlr::CBPR;
        }
        v
    }

    /// `__vgic_v3_write_ctlr`: only CBPR and EOImode are writable.
    pub fn write_ctlr(&mut self, v: u64) {
        self.cbpr = v & icc_ctlr::CBPR != 0;
        self.eoimode = v & icc_ctlr::EOIMODE != 0;
    }
}

/// The fields of an `ICC_SGI1R_EL1` value (GICv3 architecture; arm-gic-v3.h
/// `ICC_SGI1R_*`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Sgi1r {
    /// INTID [27:24].
    pub intid: u8,
    /// TargetList [15:0]: one bit per Aff0 value 0–15.
    pub target_list: u16,
    /// Aff1 [23:16].
    pub aff1: u8,
    /// Aff2 [39:32].
    pub aff2: u8,
    /// IRM [40]: 1 = every PE but the sender.
    pub irm: bool,
    /// RS [47:44]: range selector (KVM ignores it: no RSS).
    pub rs: u8,
    /// Aff3 [55:48].
    pub aff3: u8,
}

impl Sgi1r {
    pub fn decode(v: u64) -> Sgi1r {
        Sgi1r {
            target_list: (v & 0xFFFF) as u16,
            aff1: ((v >> 16) & 0xFF) as u8,
            intid: ((v >> 24) & 0xF) as u8,
            aff2: ((v >> 32) & 0xFF) as u8,
            irm: (v >> 40) & 1 != 0,
            rs: ((v >> 44) & 0xF) as u8,
            aff3: ((v >> 48) & 0xFF) as u8,
        }
    }

    pub fn encode(&self) -> u64 {
        self.target_list as u64
            | (self.aff1 as u64) << 16
            | ((self.intid & 0xF) as u64) << 24
            | (self.aff2 as u64) << 32
            | (self.irm as u64) << 40
            | ((self.rs & 0xF) as u64) << 44
            | (self.aff3 as u64) << 48
    }

    /// IRM = 1: the SGI goes to every vCPU but the sender.
    pub fn others(intid: u8) -> Sgi1r {
        Sgi1r {
            intid,
            irm: true,
            ..Sgi1r::default()
        }
    }

    /// The writes a guest makes to send `intid` to `vcpus`: one per
    /// Aff3.Aff2.Aff1 cluster of 16 (as Linux's `gic_ipi_send_mask` does), in
    /// the order the clusters first appear. gicx's vCPU MPIDRs follow
    /// [`crate::host::vcpu_mpidr`].
    pub fn for_vcpus(intid: u8, vcpus: &[u32]) -> Vec<Sgi1r> {
        let mut out: Vec<Sgi1r> = Vec::new();
        for &v in vcpus {
            let mpidr = crate::host::vcpu_mpidr(v);
            let (aff2, aff1, aff0) = ((mpidr >> 16) as u8, (mpidr >> 8) as u8, mpidr & 0xF);
            match out.iter_mut().find(|s| s.aff2 == aff2 && s.aff1 == aff1) {
                Some(s) => s.target_list |= 1 << aff0,
                None => out.push(Sgi1r {
                    intid,
                    target_list: 1 << aff0,
                    aff1,
                    aff2,
                    ..Sgi1r::default()
                }),
            }
        }
        out
    }

    /// The MPIDRs (Aff2.Aff1.Aff0, as [`crate::host::mpidr_to_vcpu`] takes
    /// them) a targeted (IRM = 0) write names; `None` for a non-zero Aff3,
    /// which no gicx vCPU has.
    pub fn target_mpidrs(&self) -> Vec<Option<u32>> {
        (0..16u32)
            .filter(|b| self.target_list >> b & 1 != 0)
            .map(|b| {
                (self.aff3 == 0)
                    .then_some(((self.aff2 as u32) << 16) | ((self.aff1 as u32) << 8) | b)
            })
            .collect()
    }
}

impl fmt::Display for Sgi1r {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "INTID {}", self.intid)?;
        if self.irm {
            f.write_str(", IRM = 1 (every PE but the sender)")?;
        } else {
            write!(
                f,
                ", Aff3.Aff2.Aff1 = {}.{}.{}, TargetList {:#06x}",
                self.aff3, self.aff2, self.aff1, self.target_list
            )?;
        }
        if self.rs != 0 {
            write!(f, ", RS = {} (ignored)", self.rs)?;
        }
        Ok(())
    }
}

/// How a system register may be accessed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SysRegAccess {
    ReadOnly,
    WriteOnly,
    ReadWrite,
}

/// The CPU-interface system registers gicx models.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SysReg {
    IccPmrEl1,
    IccIgrpen1El1,
    IccCtlrEl1,
    IccIar1El1,
    IccEoir1El1,
    IccDirEl1,
    IccRprEl1,
    IccAp1r0El1,
    IccSgi1rEl1,
    IccIgrpen0El1,
    IccIar0El1,
    IccEoir0El1,
    IccHppir0El1,
    IccHppir1El1,
    IccBpr0El1,
    IccBpr1El1,
    IccAp0r0El1,
    IccSgi0rEl1,
}

/// One row of the system-register table.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct SysRegDesc {
    #[serde(skip)]
    pub reg: SysReg,
    pub name: &'static str,
    /// (op0, op1, CRn, CRm, op2), as in `S3_0_C12_C12_0`.
    pub encoding: (u8, u8, u8, u8, u8),
    pub access: SysRegAccess,
    /// Traps to KVM (otherwise the hardware's ICV_* interface answers).
    pub trapped: bool,
    pub summary: &'static str,
}

impl SysRegDesc {
    /// The register's id in `KVM_DEV_ARM_VGIC_GRP_CPU_SYSREGS`
    /// (`KVM_DEV_ARM_VGIC_SYSREG(op0, op1, crn, crm, op2)`, the attribute's low 16 bits).
    pub const fn attr_id(&self) -> u32 {
        let (op0, op1, crn, crm, op2) = self.encoding;
        ((op0 as u32) << 14)
            | ((op1 as u32) << 11)
            | ((crn as u32) << 7)
            | ((crm as u32) << 3)
            | op2 as u32
    }

    /// The generic encoding, e.g. `S3_0_C12_C12_0`.
    pub fn encoding_name(&self) -> String {
        let (a, b, c, d, e) = self.encoding;
        format!("S{a}_{b}_C{c}_C{d}_{e}")
    }
}

/// The system registers, one row each (GICv3 architecture; arm-gic-v3.h `SYS_ICC_*`).
/// The same table gives the ids of `KVM_DEV_ARM_VGIC_GRP_CPU_SYSREGS`
/// ([`SysRegDesc::attr_id`], `crate::vgic::cpu_sysregs`) and the runner's
/// `MRS`/`MSR` instructions. Group 0 (`ICC_*0_EL1`, CRm = 8) is not trapped
/// by KVM (`ICH_HCR_EL2.TALL0` only with `kvm-arm.vgic_v3_group0_trap` or an
/// erratum: vgic-v3.c `vcpu_set_ich_hcr`), so the ICV_* interface answers.
pub static SYSREGS: &[SysRegDesc] = &SYSREG_TABLE;

const SYSREG_TABLE: [SysRegDesc; 18] = [
    SysRegDesc { reg: SysReg::IccPmrEl1, name: "ICC_PMR_EL1", encoding: (3, 0, 4, 6, 0), access: SysRegAccess::ReadWrite, trapped: false,
        summary: "Priority mask: only interrupts of numerically lower priority are signalled (5 implemented bits)." },
    SysRegDesc { reg: SysReg::IccIgrpen1El1, name: "ICC_IGRPEN1_EL1", encoding: (3, 0, 12, 12, 7), access: SysRegAccess::ReadWrite, trapped: false,
        summary: "Group 1 interrupt enable at the CPU interface (bit 0)." },
    SysRegDesc { reg: SysReg::IccCtlrEl1, name: "ICC_CTLR_EL1", encoding: (3, 0, 12, 12, 4), access: SysRegAccess::ReadWrite, trapped: false,
        summary: "Control: EOImode (bit 1) splits priority drop from deactivation, CBPR (bit 0); PRIbits/IDbits/A3V read-only." },
    SysRegDesc { reg: SysReg::IccIar1El1, name: "ICC_IAR1_EL1", encoding: (3, 0, 12, 12, 0), access: SysRegAccess::ReadOnly, trapped: false,
        summary: "Acknowledge: returns the INTID of the signalled Group 1 interrupt and makes it active, or 1023." },
    SysRegDesc { reg: SysReg::IccEoir1El1, name: "ICC_EOIR1_EL1", encoding: (3, 0, 12, 12, 1), access: SysRegAccess::WriteOnly, trapped: false,
        summary: "End of interrupt: priority drop, and with EOImode = 0 deactivation." },
    SysRegDesc { reg: SysReg::IccDirEl1, name: "ICC_DIR_EL1", encoding: (3, 0, 12, 11, 1), access: SysRegAccess::WriteOnly, trapped: false,
        summary: "Deactivate an interrupt (EOImode = 1 only)." },
    SysRegDesc { reg: SysReg::IccRprEl1, name: "ICC_RPR_EL1", encoding: (3, 0, 12, 11, 3), access: SysRegAccess::ReadOnly, trapped: false,
        summary: "Running priority: the highest active group priority, 0xFF when idle." },
    SysRegDesc { reg: SysReg::IccAp1r0El1, name: "ICC_AP1R0_EL1", encoding: (3, 0, 12, 9, 0), access: SysRegAccess::ReadWrite, trapped: false,
        summary: "Active priorities of Group 1: bit n = group priority n << 3 is active (32 levels)." },
    SysRegDesc { reg: SysReg::IccSgi1rEl1, name: "ICC_SGI1R_EL1", encoding: (3, 0, 12, 11, 5), access: SysRegAccess::WriteOnly, trapped: true,
        summary: "Generate a Group 1 SGI: INTID, TargetList with Aff3.Aff2.Aff1, or IRM = 1 for all but self. Traps to KVM." },
    SysRegDesc { reg: SysReg::IccIgrpen0El1, name: "ICC_IGRPEN0_EL1", encoding: (3, 0, 12, 12, 6), access: SysRegAccess::ReadWrite, trapped: false,
        summary: "Group 0 interrupt enable at the CPU interface (bit 0)." },
    SysRegDesc { reg: SysReg::IccIar0El1, name: "ICC_IAR0_EL1", encoding: (3, 0, 12, 8, 0), access: SysRegAccess::ReadOnly, trapped: false,
        summary: "Acknowledge Group 0: the INTID of the signalled interrupt if the highest-priority pending one is Group 0, else 1023." },
    SysRegDesc { reg: SysReg::IccEoir0El1, name: "ICC_EOIR0_EL1", encoding: (3, 0, 12, 8, 1), access: SysRegAccess::WriteOnly, trapped: false,
        summary: "End of a Group 0 interrupt: priority drop, and with EOImode = 0 deactivation of a Group 0 interrupt." },
    SysRegDesc { reg: SysReg::IccHppir0El1, name: "ICC_HPPIR0_EL1", encoding: (3, 0, 12, 8, 2), access: SysRegAccess::ReadOnly, trapped: false,
        summary: "The highest-priority pending interrupt if it is Group 0 (no PMR or running-priority check), else 1023." },
    SysRegDesc { reg: SysReg::IccHppir1El1, name: "ICC_HPPIR1_EL1", encoding: (3, 0, 12, 12, 2), access: SysRegAccess::ReadOnly, trapped: false,
        summary: "The highest-priority pending interrupt if it is Group 1 (no PMR or running-priority check), else 1023." },
    SysRegDesc { reg: SysReg::IccBpr0El1, name: "ICC_BPR0_EL1", encoding: (3, 0, 12, 8, 3), access: SysRegAccess::ReadWrite, trapped: false,
        summary: "Group 0 binary point: priority bits above BPR0 + 1 are the group priority (minimum 2)." },
    SysRegDesc { reg: SysReg::IccBpr1El1, name: "ICC_BPR1_EL1", encoding: (3, 0, 12, 12, 3), access: SysRegAccess::ReadWrite, trapped: false,
        summary: "Group 1 binary point (minimum 3); with ICC_CTLR_EL1.CBPR = 1 it reads BPR0 + 1 and writes are ignored." },
    SysRegDesc { reg: SysReg::IccAp0r0El1, name: "ICC_AP0R0_EL1", encoding: (3, 0, 12, 8, 4), access: SysRegAccess::ReadWrite, trapped: false,
        summary: "Active priorities of Group 0: bit n = group priority n << 3 is active." },
    SysRegDesc { reg: SysReg::IccSgi0rEl1, name: "ICC_SGI0R_EL1", encoding: (3, 0, 12, 11, 7), access: SysRegAccess::WriteOnly, trapped: true,
        summary: "Generate a Group 0 SGI: the fields of ICC_SGI1R_EL1, but only targets whose SGI is Group 0 get it. Traps to KVM." },
];

impl SysReg {
    /// The row of `reg`, usable in constants (the `KVM_DEV_ARM_VGIC_SYSREG` ids).
    pub const fn row(reg: SysReg) -> &'static SysRegDesc {
        let mut i = 0;
        while i < SYSREG_TABLE.len() {
            if SYSREG_TABLE[i].reg as u8 == reg as u8 {
                return &SYSREG_TABLE[i];
            }
            i += 1;
        }
        panic!("every SysReg has a row")
    }

    pub fn desc(self) -> &'static SysRegDesc {
        Self::row(self)
    }
    pub fn name(self) -> &'static str {
        self.desc().name
    }
    pub fn readable(self) -> bool {
        self.desc().access != SysRegAccess::WriteOnly
    }
    pub fn writable(self) -> bool {
        self.desc().access != SysRegAccess::ReadOnly
    }
}

impl fmt::Display for SysReg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An unknown system-register name.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown CPU-interface register {0:?}: gicx models {list}", list = SYSREGS.iter().map(|d| d.name).collect::<Vec<_>>().join(", "))]
pub struct UnknownSysReg(pub String);

impl FromStr for SysReg {
    type Err = UnknownSysReg;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim().to_ascii_uppercase();
        SYSREGS
            .iter()
            .find(|d| d.name == t || d.encoding_name() == t)
            .map(|d| d.reg)
            .ok_or_else(|| UnknownSysReg(s.to_string()))
    }
}

impl Serialize for SysReg {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for SysReg {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sgi1r_round_trips_and_groups_clusters() {
        let v = 0x0012_310B_07A1_8001u64;
        assert_eq!(Sgi1r::decode(v).encode(), v);
        // vCPUs 1 and 17 live in clusters 0.0.0 and 0.0.1 (Aff1 = 1).
        let w = Sgi1r::for_vcpus(5, &[1, 17, 2]);
        assert_eq!(w.len(), 2);
        assert_eq!((w[0].target_list, w[0].aff1), (0b110, 0));
        assert_eq!((w[1].target_list, w[1].aff1), (0b10, 1));
        assert_eq!(w[1].encode(), 0x0501_0002);
        assert_eq!(Sgi1r::others(2).encode(), 0x100_0200_0000);
        assert_eq!(w[1].target_mpidrs(), vec![Some(0x101)]);
        let far = Sgi1r {
            aff3: 1,
            target_list: 1,
            ..Sgi1r::default()
        };
        assert_eq!(far.target_mpidrs(), vec![None]);
    }

    #[test]
    fn priorities_follow_the_kvm_cpuif_emulation() {
        let mut c = CpuIfState {
            pmr: 0xF0,
            igrpen1: true,
            ..CpuIfState::default()
        };
        assert_eq!(c.admit(0xA0), Verdict::Signalled);
        assert_eq!(
            c.admit(0xF0),
            Verdict::MaskedByPmr {
                priority: 0xF0,
                pmr: 0xF0
            }
        );
        c.set_active_priority(0x80);
        assert_eq!(c.running_priority(), 0x80);
        // Same group priority: no preemption; higher: preempts.
        assert!(matches!(c.admit(0x80), Verdict::NotAboveRunning { .. }));
        assert_eq!(c.admit(0x78), Verdict::Signalled);
        c.set_active_priority(0x40);
        assert_eq!(c.running_priority(), 0x40);
        assert_eq!(c.drop_priority(), 0x40);
        assert_eq!(c.drop_priority(), 0x80);
        assert_eq!(c.drop_priority(), IDLE_PRIORITY);
        c.igrpen1 = false;
        assert_eq!(c.admit(0), Verdict::GroupDisabled);
    }

    #[test]
    fn ctlr_reads_the_host_fields_and_keeps_two_bits() {
        let mut c = CpuIfState::default();
        assert_eq!(c.ctlr(0), 0x8400);
        assert_eq!(c.ctlr(1), 0x8c00, "QEMU's 24-bit INTIDs");
        c.write_ctlr(0xFFFF_FFFF);
        assert_eq!(c.ctlr(0), 0x8403);
        assert!(c.eoimode && c.cbpr);
    }

    #[test]
    fn sysreg_names_parse() {
        assert_eq!("icc_iar1_el1".parse::<SysReg>(), Ok(SysReg::IccIar1El1));
        assert_eq!("S3_0_C12_C11_5".parse::<SysReg>(), Ok(SysReg::IccSgi1rEl1));
        assert_eq!("icc_iar0_el1".parse::<SysReg>(), Ok(SysReg::IccIar0El1));
        let e = "ICC_ASGI1R_EL1".parse::<SysReg>().unwrap_err();
        assert!(e.to_string().contains("ICC_IAR0_EL1"), "{e}");
        assert_eq!(SysReg::row(SysReg::IccPmrEl1).attr_id(), 0xc230);
        assert_eq!(SysReg::row(SysReg::IccIgrpen1El1).attr_id(), 0xc667);
        for d in SYSREGS {
            assert_eq!(d.reg.desc().name, d.name);
        }
    }
}
