//! Real migrations, the runner's half (`gicx_core::real_migration` is the
//! other): as PID 1, `/gicx/migrations/save/*.json` ([`SaveJob`]: prepare the
//! source VM a migration starts from, save it with the VMM's recipe through the
//! device attributes, read it back as its guest) prints one `GICX-SAVED` line
//! each, and `/gicx/migrations/restore/*.json` ([`RestoreJob`]: a saved state
//! from another boot, restored on a fresh VM with the same recipe, every vCPU
//! run once, read back) one `GICX-RESTORED` line each.
//!
//! The readback is one guest program run (a loop of 32-bit loads from a table
//! of addresses, then `MRS` of the four ICC registers), not one `KVM_RUN` per
//! register: about 700 loads for QEMU's 288 interrupts cost one run.
#![allow(unsafe_code)]

use std::io::Write;
use std::path::Path;

use gicx_core::catalogue::Frame;
use gicx_core::real_migration::{
    self, AttrDevice, Call, Group, IccReg, Named, Probe, Readback, RestoreJob, RestoredLine,
    SaveJob, SavedLine,
};
use gicx_core::scenario::Scenario;
use gicx_core::vgic::vcpu_mpidr;
use gicx_core::vmm;
use kvm_bindings::*;
use kvm_ioctls::{Kvm, VcpuExit};

use crate::guest::{self, mrs, str, NOP};
use crate::runner::{self, get_attr32, get_attr64, set_attr, Machine};

pub const SAVE_DIR: &str = "/gicx/migrations/save";
pub const RESTORE_DIR: &str = "/gicx/migrations/restore";

/// Where the readback program, its address table and its results live in guest RAM
/// (offsets from the code slot, `Machine::layout().code`; the dispatch program and vectors end at 0x1000).
const PROGRAM: usize = 0x1000;
const TABLE: usize = 0x2000;
const RESULTS: usize = 0xA000;
const MAX_WORDS: usize = (RESULTS - TABLE) / 8;

/// The readback program: `x0` the address table, `x3` the count, `x4` the results.
///
/// ```text
///        nop                  ; the PC after an MMIO exit lands here + 4 (guest.rs)
/// loop:  cbz  x3, icc
///        ldr  x5, [x0], #8
///        ldr  w6, [x5]
///        str  w6, [x4], #4
///        sub  x3, x3, #1
///        b    loop
/// icc:   mrs  x6, <ICC reg>; isb; str w6, [x4], #4     (x4: PMR, IGRPEN1, CTLR, AP1R0)
///        str  xzr, [x10]      ; exit to userspace
///        b    .-4
/// ```
/// Encodings checked with `llvm-mc -triple=aarch64 -show-encoding`.
fn program() -> Vec<u8> {
    const CBZ_X3_PLUS_24: u32 = 0xB400_00C3;
    const LDR_X5_X0_POST8: u32 = 0xF840_8405;
    const LDR_W6_X5: u32 = 0xB940_00A6;
    const STR_W6_X4_POST4: u32 = 0xB800_4486;
    const SUB_X3_X3_1: u32 = 0xD100_0463;
    const B_MINUS_20: u32 = 0x17FF_FFFB;
    let mut w = vec![
        NOP,
        CBZ_X3_PLUS_24,
        LDR_X5_X0_POST8,
        LDR_W6_X5,
        STR_W6_X4_POST4,
        SUB_X3_X3_1,
        B_MINUS_20,
    ];
    for reg in IccReg::ALL {
        w.push(mrs(reg.sysreg().desc().encoding, 6));
        w.push(guest::ISB);
        w.push(STR_W6_X4_POST4);
    }
    w.push(str(64, 31, 10));
    w.push(guest::b(-4));
    w.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// The real kernel as an [`AttrDevice`].
struct Kernel<'a>(&'a Machine);

impl AttrDevice for Kernel<'_> {
    fn call(&mut self, call: &Call) -> Result<u64, String> {
        let gic = self.0.gic()?;
        let (place, write) = match *call {
            Call::Init => {
                return set_attr(
                    gic,
                    KVM_DEV_ARM_VGIC_GRP_CTRL,
                    KVM_DEV_ARM_VGIC_CTRL_INIT as u64,
                    &0u64,
                )
                .map(|_| 0)
            }
            Call::Get { place } => (place, None),
            Call::Set { place, value } => (place, Some(value)),
        };
        // KVM_DEV_ARM_VGIC_V3_MPIDR: Aff3..Aff0 of the vCPU in bits 63:32.
        let mpidr = (vcpu_mpidr(place.vcpu) as u64) << 32;
        match place.group {
            Group::CpuSysreg => {
                let attr = mpidr | place.offset as u64;
                match write {
                    None => get_attr64(gic, KVM_DEV_ARM_VGIC_GRP_CPU_SYSREGS, attr),
                    Some(v) => set_attr(gic, KVM_DEV_ARM_VGIC_GRP_CPU_SYSREGS, attr, &v).map(|_| 0),
                }
            }
            g => {
                let (group, attr) = match g {
                    Group::Dist => (KVM_DEV_ARM_VGIC_GRP_DIST_REGS, place.offset as u64),
                    Group::Redist => (
                        KVM_DEV_ARM_VGIC_GRP_REDIST_REGS,
                        mpidr | place.offset as u64,
                    ),
                    _ => (
                        KVM_DEV_ARM_VGIC_GRP_LEVEL_INFO,
                        mpidr
                            | ((VGIC_LEVEL_INFO_LINE_LEVEL as u64)
                                << KVM_DEV_ARM_VGIC_LINE_LEVEL_INFO_SHIFT)
                            | (place.offset as u64 & KVM_DEV_ARM_VGIC_LINE_LEVEL_INTID_MASK as u64),
                    ),
                };
                match write {
                    None => get_attr32(gic, group, attr).map(u64::from),
                    Some(v) => set_attr(gic, group, attr, &(v as u32)).map(|_| 0),
                }
            }
        }
    }
}

/// Run vCPU `v` from `pc` (RAM offset) with `x0`, `x3`, `x4` set, to the exit store.
fn run_at(m: &mut Machine, v: usize, pc: usize, x0: u64, x3: u64, x4: u64) -> Result<(), String> {
    const CORE: u64 = KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE as u64;
    let xreg = |n: u64| CORE | (2 * n);
    let layout = m.layout();
    let vcpu = m.vcpu_mut(v).ok_or_else(|| format!("no vCPU {v}"))?;
    for (id, val) in [
        (xreg(0), x0),
        (xreg(2), 0),
        (xreg(3), x3),
        (xreg(4), x4),
        (xreg(10), layout.exit),
        (xreg(11), layout.exception),
        (CORE | 66, 0x3c5), // PSTATE: EL1h, DAIF masked
        (CORE | 64, layout.code + pc as u64),
    ] {
        vcpu.set_one_reg(id, &val.to_le_bytes())
            .map_err(|e| format!("KVM_SET_ONE_REG {id:#x}: {}", crate::errno::name(e.errno())))?;
    }
    match vcpu.run() {
        Ok(VcpuExit::MmioWrite(a, _)) if a == layout.exit => Ok(()),
        Ok(VcpuExit::MmioWrite(a, _)) if a == layout.exception => {
            Err("the guest took an exception".into())
        }
        Ok(other) => Err(format!("unexpected exit {other:?}")),
        Err(e) => Err(crate::errno::name(e.errno())),
    }
}

/// Every vCPU's first `KVM_RUN` (entry 0 of the dispatch program: nothing).
fn run_all_vcpus(m: &mut Machine) -> Option<String> {
    for v in 0..m.vcpu_count() {
        if let Err(e) = run_at(m, v, 0, 0, 0, 0) {
            return Some(e);
        }
    }
    None
}

/// The guest's and the VMM's reads of every register in `plan`.
fn readback(m: &mut Machine, plan: &[Named]) -> Readback {
    let mut addrs: Vec<u64> = Vec::new();
    for n in plan {
        if let Probe::Mmio {
            frame,
            vcpu,
            offset,
            words,
        } = n.probe
        {
            let base = match frame {
                Frame::Dist => guest::DIST_BASE,
                Frame::Redist => guest::REDIST_BASE + vcpu as u64 * guest::REDIST_STRIDE,
                Frame::Its => guest::ITS_BASE,
            };
            for w in 0..words as u64 {
                addrs.push(base + offset as u64 + 4 * w);
            }
        }
    }
    let vcpus = m.vcpu_count();
    let mut words: Vec<Result<Vec<u32>, String>> = Vec::with_capacity(vcpus);
    for v in 0..vcpus {
        // vCPU 0 reads the frames (a redistributor reads the same from any vCPU);
        // each vCPU reads its own ICC registers.
        let n = if v == 0 {
            addrs.len().min(MAX_WORDS)
        } else {
            0
        };
        let ram = m.ram();
        for (i, a) in addrs[..n].iter().enumerate() {
            ram[TABLE + 8 * i..TABLE + 8 * i + 8].copy_from_slice(&a.to_le_bytes());
        }
        let code = m.layout().code;
        let results = code + RESULTS as u64;
        let r = run_at(m, v, PROGRAM, code + TABLE as u64, n as u64, results).map(|_| {
            let ram = m.ram();
            (0..n + IccReg::ALL.len())
                .map(|i| {
                    let at = RESULTS + 4 * i;
                    u32::from_le_bytes(ram[at..at + 4].try_into().unwrap_or_default())
                })
                .collect()
        });
        words.push(r);
    }
    let mut next = 0usize;
    let mut out = Readback::default();
    for n in plan {
        let got: Result<u64, String> = match n.probe {
            Probe::Mmio { words: k, .. } => {
                let r = words[0].as_ref().map_err(Clone::clone).and_then(|w| {
                    (0..k as usize).try_fold(0u64, |acc, j| {
                        w.get(next + j)
                            .filter(|_| next + j < w.len() - IccReg::ALL.len())
                            .map(|x| acc | (*x as u64) << (32 * j))
                            .ok_or_else(|| "beyond the readback table".to_string())
                    })
                });
                next += k as usize;
                r
            }
            Probe::Icc { vcpu, reg } => {
                let i = IccReg::ALL.iter().position(|r| *r == reg).unwrap_or(0);
                match words.get(vcpu as usize) {
                    Some(Ok(w)) => {
                        let base = if vcpu == 0 {
                            w.len() - IccReg::ALL.len()
                        } else {
                            0
                        };
                        Ok(w[base + i] as u64)
                    }
                    Some(Err(e)) => Err(e.clone()),
                    None => Err(format!("no vCPU {vcpu}")),
                }
            }
            Probe::Level { vcpu, intid } => Kernel(&*m).call(&Call::Get {
                place: real_migration::Place {
                    group: Group::LevelInfo,
                    vcpu,
                    offset: intid,
                },
            }),
        };
        out.push(&n.name, got);
    }
    out
}

fn new_machine(kvm: &Kvm, sc: &Scenario) -> Result<Machine, String> {
    let mut m = Machine::new(kvm, sc).map_err(|e| e.0)?;
    let p = program();
    // Written before the VM first runs, like the dispatch program (guest.rs).
    m.ram()[PROGRAM..PROGRAM + p.len()].copy_from_slice(&p);
    Ok(m)
}

fn save_one(kvm: &Kvm, job: &SaveJob) -> SavedLine {
    let mut line = SavedLine {
        id: job.id.clone(),
        ..SavedLine::default()
    };
    let (sc, recipe) = match (job.scenario(), vmm::recipe(&job.recipe)) {
        (Ok(sc), Ok(r)) => (sc, r),
        (Err(e), _) => {
            line.error = Some(e);
            return line;
        }
        (_, Err(e)) => {
            line.error = Some(e.to_string());
            return line;
        }
    };
    let mut m = match new_machine(kvm, &sc) {
        Ok(m) => m,
        Err(e) => {
            line.error = Some(e);
            return line;
        }
    };
    line.source_steps = sc
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| m.step(i, s))
        .collect();
    line.saved = real_migration::save(&mut Kernel(&m), recipe, &sc.vm, false);
    line.readback = readback(&mut m, &real_migration::readback_plan(&sc.vm));
    runner::reap(m);
    line
}

fn restore_one(kvm: &Kvm, job: &RestoreJob) -> RestoredLine {
    let mut line = RestoredLine {
        id: job.id.clone(),
        ..RestoredLine::default()
    };
    let (config, recipe) = match (job.config(), vmm::recipe(&job.recipe)) {
        (Ok(c), Ok(r)) => (c, r),
        (Err(e), _) => {
            line.error = Some(e);
            return line;
        }
        (_, Err(e)) => {
            line.error = Some(e.to_string());
            return line;
        }
    };
    // Machine::new reads only the VM's shape: the host is the kernel it runs on.
    let host = match gicx_core::host::Host::simple(gicx_core::host::GicHw::V3, "6.12") {
        Ok(h) => h,
        Err(e) => {
            line.error = Some(e.to_string());
            return line;
        }
    };
    let sc = Scenario {
        name: None,
        description: None,
        note: None,
        host,
        vm: config,
        steps: Vec::new(),
    };
    let mut m = match new_machine(kvm, &sc) {
        Ok(m) => m,
        Err(e) => {
            line.error = Some(e);
            return line;
        }
    };
    line.restore = real_migration::restore(&mut Kernel(&m), recipe, &config, &job.saved, false);
    line.run = run_all_vcpus(&mut m);
    line.readback = readback(&mut m, &real_migration::readback_plan(&config));
    runner::reap(m);
    line
}

fn files(dir: &str) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    v.sort();
    v
}

fn parse<T: serde::de::DeserializeOwned>(p: &Path) -> Result<T, String> {
    let text = std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", p.display()))
}

/// Run every save and restore job in the initramfs; returns how many.
pub fn run(kvm: &Kvm, out: &mut impl Write) -> usize {
    let mut n = 0;
    for f in files(SAVE_DIR) {
        let line = match parse::<SaveJob>(&f) {
            Ok(job) => save_one(kvm, &job),
            Err(e) => SavedLine {
                id: f.display().to_string(),
                error: Some(e),
                ..SavedLine::default()
            },
        };
        let _ = writeln!(
            out,
            "GICX-SAVED {}",
            serde_json::to_string(&line).unwrap_or_default()
        );
        let _ = out.flush();
        n += 1;
    }
    for f in files(RESTORE_DIR) {
        let line = match parse::<RestoreJob>(&f) {
            Ok(job) => restore_one(kvm, &job),
            Err(e) => RestoredLine {
                id: f.display().to_string(),
                error: Some(e),
                ..RestoredLine::default()
            },
        };
        let _ = writeln!(
            out,
            "GICX-RESTORED {}",
            serde_json::to_string(&line).unwrap_or_default()
        );
        let _ = out.flush();
        n += 1;
    }
    n
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_program_fits_before_the_table() {
        assert!(super::PROGRAM + super::program().len() <= super::TABLE);
    }
}
