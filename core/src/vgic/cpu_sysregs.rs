//! `KVM_DEV_ARM_VGIC_GRP_CPU_SYSREGS`: userspace reads and writes a vCPU's
//! `ICC_*_EL1` registers (every VMM saves and restores them per vCPU).
//!
//! Source: arch/arm64/kvm/vgic-sys-reg-v3.c (`gic_v3_icc_reg_descs`,
//! `vgic_v3_cpu_sysregs_uaccess`: an id not in the table is -ENXIO, a handler
//! that refuses is -EINVAL; `access_gic_ctlr` (set_gic_ctlr/get_gic_ctlr in
//! later kernels), `access_gic_pmr`, `access_gic_grpen1`, `access_gic_aprn`
//! with `vgic_v3_max_apr_idx`, `access_gic_sre`), read at 035f08016d2b;
//! vgic-kvm-device.c `vgic_v3_attr_regs_access` (-EBUSY before init) and
//! `vgic_v3_parse_attr` (-EINVAL for an MPIDR that matches no vCPU).
//!
//! Every register of KVM's table is held (PMR, BPR0, BPR1, IGRPEN0/1,
//! CTLR.{CBPR,EOImode} with the vCPU's PRIbits/IDbits, AP0R0/AP1R0; ICC_SRE
//! is constant), following the 6.0 accessors (`set_gic_*`/`get_gic_*`, from
//! "KVM: arm64: vgic-v3: Make the userspace accessors use sysreg API"),
//! which behave as the older `access_gic_*` ones did except for the errno of
//! an unknown id ([`crate::kernels::CPU_SYSREGS_SYSREG_API`]). Checked on real
//! KVM 5.10.223, 6.12.118 and 7.3.4 under QEMU (`tests/kvm/`).

use super::*;
use crate::cpuif::{icc_ctlr, SysReg, PRI_BITS};

/// `KVM_DEV_ARM_VGIC_SYSREG(op0, op1, crn, crm, op2)`: the attribute's low 16 bits.
pub const fn sysreg(op0: u32, op1: u32, crn: u32, crm: u32, op2: u32) -> u32 {
    (op0 << 14) | (op1 << 11) | (crn << 7) | (crm << 3) | op2
}

/// The id of a register of the guest's table ([`crate::cpuif::SYSREGS`], one
/// table for both: the guest's `MRS`/`MSR` encoding is the attribute's id).
const fn id(reg: SysReg) -> u32 {
    SysReg::row(reg).attr_id()
}

pub const ICC_PMR_EL1: u32 = id(SysReg::IccPmrEl1);
pub const ICC_BPR0_EL1: u32 = id(SysReg::IccBpr0El1);
/// ICC_AP0R<n>_EL1 = `ICC_AP0R0_EL1 + n`.
pub const ICC_AP0R0_EL1: u32 = id(SysReg::IccAp0r0El1);
/// ICC_AP1R<n>_EL1 = `ICC_AP1R0_EL1 + n`.
pub const ICC_AP1R0_EL1: u32 = id(SysReg::IccAp1r0El1);
pub const ICC_BPR1_EL1: u32 = id(SysReg::IccBpr1El1);
pub const ICC_CTLR_EL1: u32 = id(SysReg::IccCtlrEl1);
/// Not a guest register gicx models (the guest's ICC_SRE_EL1 is not the
/// virtual interface's); userspace sees KVM's `vgic_sre`.
pub const ICC_SRE_EL1: u32 = sysreg(3, 0, 12, 12, 5);
pub const ICC_IGRPEN0_EL1: u32 = id(SysReg::IccIgrpen0El1);
pub const ICC_IGRPEN1_EL1: u32 = id(SysReg::IccIgrpen1El1);

/// `ICC_SRE_EL1` as KVM keeps it (`vgic_sre` = SRE | DFB | DIB).
pub const SRE_VALUE: u64 = 0x7;
/// `ICC_CTLR_EL1.SEIS`; the modelled host's `ICH_VTR_EL2.SEIS` is 0.
const CTLR_SEIS: u64 = 1 << 14;
const CTLR_PRI_BITS_MASK: u64 = 7 << icc_ctlr::PRI_BITS_SHIFT;
const CTLR_ID_BITS_MASK: u64 = 7 << icc_ctlr::ID_BITS_SHIFT;

/// `vgic_v3_max_apr_idx`: the last AP<g>R<n> index the priority bits use.
pub const fn max_apr_idx(pri_bits: u32) -> u32 {
    match pri_bits {
        7 => 3,
        6 => 1,
        _ => 0,
    }
}

/// The register's name, or `None` if `gic_v3_icc_reg_descs` has no such id.
pub fn sysreg_name(reg: u32) -> Option<String> {
    Some(match reg {
        ICC_PMR_EL1 => "ICC_PMR_EL1".into(),
        ICC_BPR0_EL1 => "ICC_BPR0_EL1".into(),
        r if (ICC_AP0R0_EL1..ICC_AP0R0_EL1 + 4).contains(&r) => {
            format!("ICC_AP0R{}_EL1", r - ICC_AP0R0_EL1)
        }
        r if (ICC_AP1R0_EL1..ICC_AP1R0_EL1 + 4).contains(&r) => {
            format!("ICC_AP1R{}_EL1", r - ICC_AP1R0_EL1)
        }
        ICC_BPR1_EL1 => "ICC_BPR1_EL1".into(),
        ICC_CTLR_EL1 => "ICC_CTLR_EL1".into(),
        ICC_SRE_EL1 => "ICC_SRE_EL1".into(),
        ICC_IGRPEN0_EL1 => "ICC_IGRPEN0_EL1".into(),
        ICC_IGRPEN1_EL1 => "ICC_IGRPEN1_EL1".into(),
        _ => return None,
    })
}

/// A register named as [`sysreg_name`] names it, or a `KVM_DEV_ARM_VGIC_SYSREG` id.
pub fn parse_sysreg(s: &str) -> Option<u32> {
    let t = s.trim();
    if t.starts_with("0x") || t.starts_with("0X") {
        // The one number parser (no sign, `_` separators), as scenario numbers.
        return crate::number::parse_bits(t, 16).ok().map(|v| v as u32);
    }
    let up = t.to_ascii_uppercase();
    (ICC_PMR_EL1..=ICC_IGRPEN1_EL1).find(|id| sysreg_name(*id).as_deref() == Some(up.as_str()))
}

/// The vCPU's `num_pri_bits` and `num_id_bits` (`vgic_v3_enable` sets them
/// from `ICH_VTR_EL2`; a CTLR restore may lower them).
fn vcpu_bits(c: &crate::cpuif::CpuIfState, host: &Host) -> (u32, u64) {
    (
        c.num_pri_bits.map_or(PRI_BITS, u32::from),
        c.num_id_bits.map_or(host.ich_vtr_id_bits(), u64::from),
    )
}

/// ICC_CTLR_EL1 as `get_gic_ctlr` reads it (SEIS 0 and A3V 1: the host's
/// `ICH_VTR_EL2`, the same on QEMU and common silicon).
fn ctlr_value(c: &crate::cpuif::CpuIfState, host: &Host) -> u64 {
    let (pri_bits, id_bits) = vcpu_bits(c, host);
    ((pri_bits as u64 - 1) << icc_ctlr::PRI_BITS_SHIFT)
        | (id_bits << icc_ctlr::ID_BITS_SHIFT)
        | icc_ctlr::A3V
        | if c.cbpr { icc_ctlr::CBPR } else { 0 }
        | if c.eoimode { icc_ctlr::EOIMODE } else { 0 }
}

/// A register that stores its value in the VMCR: `set_gic_*`/`get_gic_*`.
fn vmcr_field(slot: &mut u8, mask: u8, w: Option<u64>) -> (u64, Option<Errno>) {
    match w {
        Some(v) => {
            *slot = v as u8 & mask;
            (v, None)
        }
        None => (*slot as u64, None),
    }
}

impl Vgic {
    /// `KVM_GET_DEVICE_ATTR` (`write == None`) or `KVM_SET_DEVICE_ATTR` on
    /// `KVM_DEV_ARM_VGIC_GRP_CPU_SYSREGS` for register `reg`
    /// (`KVM_DEV_ARM_VGIC_SYSREG` encoding, e.g. [`ICC_PMR_EL1`]) of vCPU `vcpu`.
    pub fn user_sysreg(&mut self, vcpu: u32, reg: u32, write: Option<u64>) -> Outcome {
        let mut cx = Ctx::new();
        let op = if write.is_some() { Op::Write } else { Op::Read };
        let name = sysreg_name(reg);
        let done = |vm: &Vgic, cx: Ctx, value: u64, errno: Option<Errno>| {
            let name = Some(name.clone().unwrap_or_else(|| format!("SYSREG {reg:#06x}")));
            vm.outcome(Path::User, op, None, vcpu, reg, 64, name, value, errno, cx)
        };
        if let Some(errno) = self.attr_precheck(vcpu, &mut cx) {
            return done(self, cx, 0, Some(errno));
        }
        let host = self.host;
        let Some(c) = self.state.cpuifs.get_mut(vcpu as usize) else {
            cx.rule(&r::UACCESS_BAD_MPIDR);
            return done(self, cx, 0, Some(Errno::EINVAL));
        };
        let ap0r = ICC_AP0R0_EL1..ICC_AP0R0_EL1 + 4;
        let ap1r = ICC_AP1R0_EL1..ICC_AP1R0_EL1 + 4;
        let flag = |slot: &mut bool, w: Option<u64>| match w {
            Some(v) => {
                *slot = v & 1 != 0;
                (v, None)
            }
            None => (*slot as u64, None),
        };
        let (value, errno) = match (reg, write) {
            (ICC_PMR_EL1, w) => {
                cx.rule(&r::ICC_UACCESS_PMR);
                vmcr_field(&mut c.pmr, 0xff, w)
            }
            (ICC_BPR0_EL1, w) => {
                cx.rule(&r::ICC_UACCESS_BPR0);
                vmcr_field(&mut c.bpr0, 7, w)
            }
            (ICC_BPR1_EL1, w) => {
                cx.rule(&r::ICC_UACCESS_BPR1);
                match (c.cbpr, w) {
                    (false, w) => vmcr_field(&mut c.bpr1, 7, w),
                    (true, Some(v)) => {
                        cx.note("CBPR = 1: ICC_BPR1_EL1 follows BPR0 and the write is ignored");
                        (v, None)
                    }
                    (true, None) => (u64::from(c.bpr0 + 1).min(7), None),
                }
            }
            (ICC_IGRPEN0_EL1, w) => {
                cx.rule(&r::ICC_UACCESS_IGRPEN0);
                flag(&mut c.igrpen0, w)
            }
            (ICC_IGRPEN1_EL1, w) => {
                cx.rule(&r::ICC_UACCESS_IGRPEN1);
                flag(&mut c.igrpen1, w)
            }
            (ICC_CTLR_EL1, None) => {
                cx.rule(&r::ICC_UACCESS_CTLR_READ);
                (ctlr_value(c, &host), None)
            }
            (ICC_CTLR_EL1, Some(v)) => {
                // set_gic_ctlr: each check in the kernel's order; PRIbits is
                // stored before IDbits is checked.
                let (vcpu_pri, vcpu_id) = vcpu_bits(c, &host);
                let pri_bits = ((v & CTLR_PRI_BITS_MASK) >> icc_ctlr::PRI_BITS_SHIFT) as u32 + 1;
                let id_bits = (v & CTLR_ID_BITS_MASK) >> icc_ctlr::ID_BITS_SHIFT;
                let seis = v & CTLR_SEIS != 0;
                let a3v = v & icc_ctlr::A3V != 0;
                let refused = if pri_bits > vcpu_pri {
                    true
                } else {
                    c.num_pri_bits = Some(pri_bits as u8);
                    if id_bits > vcpu_id {
                        true
                    } else {
                        c.num_id_bits = Some(id_bits as u8);
                        seis || !a3v
                    }
                };
                if refused {
                    cx.rule(&r::ICC_UACCESS_CTLR_HOST_MISMATCH);
                    cx.note_with(|| {
                        format!(
                            "PRIbits {pri_bits} (vCPU {vcpu_pri}), IDbits {id_bits} (vCPU {vcpu_id}), SEIS {} (host 0), A3V {} (host 1)",
                            seis as u8, a3v as u8
                        )
                    });
                    (v, Some(Errno::EINVAL))
                } else {
                    cx.rule(&r::ICC_UACCESS_CTLR_WRITE);
                    c.cbpr = v & icc_ctlr::CBPR != 0;
                    c.eoimode = v & icc_ctlr::EOIMODE != 0;
                    (v, None)
                }
            }
            (ICC_SRE_EL1, None) => {
                cx.rule(&r::ICC_UACCESS_SRE);
                (SRE_VALUE, None)
            }
            (ICC_SRE_EL1, Some(v)) => {
                cx.rule(&r::ICC_UACCESS_SRE);
                if v & 1 == 0 {
                    cx.note("ICC_SRE_EL1.SRE must be 1: KVM's vGICv3 has no memory-mapped CPU interface");
                    (v, Some(Errno::EINVAL))
                } else {
                    (v, None)
                }
            }
            (r, w) if ap0r.contains(&r) || ap1r.contains(&r) => {
                let group1 = ap1r.contains(&r);
                let n = r - if group1 { ICC_AP1R0_EL1 } else { ICC_AP0R0_EL1 };
                let (pri_bits, _) = vcpu_bits(c, &host);
                if n > max_apr_idx(pri_bits) {
                    cx.rule(&r::ICC_UACCESS_APR_BEYOND_PRIBITS);
                    (w.unwrap_or(0), Some(Errno::EINVAL))
                } else {
                    cx.rule(&r::ICC_UACCESS_APR);
                    let slot = if group1 { &mut c.ap1r0 } else { &mut c.ap0r0 };
                    match w {
                        Some(v) => {
                            *slot = v as u32;
                            (v, None)
                        }
                        None => (*slot as u64, None),
                    }
                }
            }
            (_, w) => {
                cx.rule(&r::ICC_UACCESS_UNKNOWN);
                let errno = if host.has(&crate::kernels::CPU_SYSREGS_SYSREG_API) {
                    Errno::ENOENT
                } else {
                    Errno::ENXIO
                };
                (w.unwrap_or(0), Some(errno))
            }
        };
        done(self, cx, value, errno)
    }
}
