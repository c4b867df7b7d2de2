//! One scenario against the real kernel: the VM the scenario's `vm` describes,
//! created as a VMM creates it, and every step as the ioctl or guest
//! instruction it stands for. Each step yields a [`Observed`] in the model's
//! shape (`gicx_core::oracle`), so `gicx conform` can compare the two.
//!
//! The VM: `KVM_CREATE_VM`; the vCPUs (`KVM_CREATE_VCPU`, `KVM_ARM_VCPU_INIT`
//! with `KVM_ARM_PREFERRED_TARGET`, MPIDRs as KVM resets them, which is what
//! `gicx_core::host::vcpu_mpidr` models); the vGICv3 device
//! (`KVM_CREATE_DEVICE`), `GRP_NR_IRQS` = `vm.nr_irqs`, `GRP_ADDR` for the
//! distributor and the (legacy, contiguous) redistributor region, and an ITS
//! device when `vm.its`, in the order QEMU and Firecracker use. Then the steps.
#![allow(unsafe_code)]

use gicx_core::catalogue::Frame;
use gicx_core::cpuif::{Sgi1r, SysReg};
use gicx_core::oracle::{not_applicable, Observed};
use gicx_core::scenario::setup::{AddrKind, DeviceKind};
use gicx_core::scenario::{resolve, Num, Scenario, SgiTargets, Step};
use gicx_core::vgic::{cpu_sysregs::parse_sysreg, vcpu_mpidr};
use gicx_core::vits::command::Command;
use gicx_core::vits::regs;
use kvm_bindings::*;
use kvm_ioctls::{DeviceFd, Kvm, VcpuExit, VcpuFd, VmFd};

use crate::guest::{self, Action, Layout};
use crate::its;
use crate::memory::GuestRam;

/// `KVM_VM_TYPE_ARM_IPA_SIZE(32)`: the IPA size in the VM type's low byte.
const IPA_BITS: u64 = 32;

/// A failure to build the VM before the first step, naming the ioctl.
#[derive(Debug)]
pub struct SetupError(pub String);

fn errno_name(e: &kvm_ioctls::Error) -> String {
    crate::errno::name(e.errno())
}

/// The scenario's guest RAM regions (`vm.memory`) as (base, size).
fn memory_regions(sc: &Scenario) -> Vec<(u64, u64)> {
    sc.vm.memory.regions().map(|r| (r.base, r.size)).collect()
}

/// The VM of one scenario.
pub struct Machine {
    vm: VmFd,
    /// By vCPU id; a VM built by steps has only the ones created so far.
    vcpus: Vec<Option<VcpuFd>>,
    gic: Option<DeviceFd>,
    its: Option<DeviceFd>,
    /// The code slot and `vm.memory` (after `vm`: dropped after the VM).
    ram: GuestRam,
    /// Where the code slot and exit addresses are.
    layout: Layout,
    /// Some vCPU has entered the guest (KVM_RUN succeeded once).
    ran: bool,
    /// A VM built by steps (`create_vm`): the model of the same steps, for
    /// the addresses the steps gave the distributor and each redistributor.
    built: Option<Box<gicx_core::vgic::Vgic>>,
    /// `KVM_ARM_PREFERRED_TARGET`, for vCPUs created by steps.
    kvi: kvm_vcpu_init,
}

// --- KVM_{GET,SET}_ONE_REG ids (Documentation/virt/kvm/api.rst, "ARM64 registers") ------

const CORE: u64 = KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE as u64;
/// `struct kvm_regs` is indexed in 32-bit words: `regs.regs[n]` is word 2n.
fn xreg(n: u64) -> u64 {
    CORE | (2 * n)
}
const PC: u64 = CORE | 64;
const PSTATE: u64 = CORE | 66;
fn sysreg_id(op0: u64, op1: u64, crn: u64, crm: u64, op2: u64) -> u64 {
    KVM_REG_ARM64
        | KVM_REG_SIZE_U64
        | KVM_REG_ARM64_SYSREG as u64
        | (op0 << 14)
        | (op1 << 11)
        | (crn << 7)
        | (crm << 3)
        | op2
}
/// EL1h with D, A, I and F masked: what `KVM_ARM_VCPU_INIT` resets to.
const PSTATE_EL1H_DAIF: u64 = 0x3c5;

fn attr_mpidr(vcpu: u32) -> u64 {
    // KVM_DEV_ARM_VGIC_V3_MPIDR: Aff3..Aff0 in bits 63:32.
    (vcpu_mpidr(vcpu) as u64) << 32
}

impl Machine {
    pub fn new(kvm: &Kvm, sc: &Scenario) -> Result<Machine, SetupError> {
        let cfg = sc.vm;
        let built = match sc.steps.first() {
            Some(Step::CreateVm(s)) => Some(s.ipa_bits.map_or(IPA_BITS, u64::from)),
            _ => None,
        };
        let vm = kvm
            // A 32-bit IPA space (KVM_VM_TYPE_ARM_IPA_SIZE(32), api.rst): every
            // address the runner uses is below 4 GiB, and a smaller stage-2
            // is quicker to tear down under emulation. The vGIC's own checks
            // (vgic_check_iorange against kvm_phys_size) see the same bases.
            // A scenario that starts with `create_vm` names its own size.
            .create_vm_with_type(built.unwrap_or(IPA_BITS))
            .map_err(|e| SetupError(format!("KVM_CREATE_VM: {}", errno_name(&e))))?;
        let regions = memory_regions(sc);
        let layout = Layout::avoiding(&regions).ok_or_else(|| {
            SetupError(
                "vm.memory leaves no 64 KiB below 4 GiB for the runner's code slot and exits"
                    .into(),
            )
        })?;
        let ram = GuestRam::map(&vm, &layout, &guest::image(), &regions)?;
        let mut kvi = kvm_vcpu_init::default();
        vm.get_preferred_target(&mut kvi)
            .map_err(|e| SetupError(format!("KVM_ARM_PREFERRED_TARGET: {}", errno_name(&e))))?;
        if built.is_some() {
            // The steps create the vCPUs and devices (Step::CreateVcpu, ...).
            return Ok(Machine {
                vm,
                vcpus: (0..cfg.vcpus).map(|_| None).collect(),
                gic: None,
                its: None,
                ram,
                layout,
                ran: false,
                built: Some(Box::new(gicx_core::vgic::Vgic::new(sc.host, cfg))),
                kvi,
            });
        }
        let mut vcpus = Vec::with_capacity(cfg.vcpus as usize);
        for i in 0..cfg.vcpus {
            let v = vm
                .create_vcpu(i as u64)
                .map_err(|e| SetupError(format!("KVM_CREATE_VCPU {i}: {}", errno_name(&e))))?;
            v.vcpu_init(&kvi)
                .map_err(|e| SetupError(format!("KVM_ARM_VCPU_INIT {i}: {}", errno_name(&e))))?;
            v.set_one_reg(sysreg_id(3, 0, 12, 0, 0), &layout.vectors().to_le_bytes())
                .map_err(|e| SetupError(format!("VBAR_EL1 of vCPU {i}: {}", errno_name(&e))))?;
            vcpus.push(Some(v));
        }
        let mut dev = kvm_create_device {
            type_: kvm_device_type_KVM_DEV_TYPE_ARM_VGIC_V3,
            fd: 0,
            flags: 0,
        };
        let gic = vm
            .create_device(&mut dev)
            .map_err(|e| SetupError(format!("KVM_CREATE_DEVICE vGICv3: {}", errno_name(&e))))?;
        let nr_irqs: u32 = cfg.nr_irqs;
        set_attr(&gic, KVM_DEV_ARM_VGIC_GRP_NR_IRQS, 0, &nr_irqs)
            .map_err(|e| SetupError(format!("GRP_NR_IRQS {nr_irqs}: {e}")))?;
        set_attr(
            &gic,
            KVM_DEV_ARM_VGIC_GRP_ADDR,
            KVM_VGIC_V3_ADDR_TYPE_DIST as u64,
            &guest::DIST_BASE,
        )
        .map_err(|e| SetupError(format!("GRP_ADDR distributor: {e}")))?;
        set_attr(
            &gic,
            KVM_DEV_ARM_VGIC_GRP_ADDR,
            KVM_VGIC_V3_ADDR_TYPE_REDIST as u64,
            &guest::REDIST_BASE,
        )
        .map_err(|e| SetupError(format!("GRP_ADDR redistributors: {e}")))?;
        let its = if cfg.its {
            let mut dev = kvm_create_device {
                type_: kvm_device_type_KVM_DEV_TYPE_ARM_VGIC_ITS,
                fd: 0,
                flags: 0,
            };
            let its = vm
                .create_device(&mut dev)
                .map_err(|e| SetupError(format!("KVM_CREATE_DEVICE ITS: {}", errno_name(&e))))?;
            set_attr(
                &its,
                KVM_DEV_ARM_VGIC_GRP_ADDR,
                KVM_VGIC_ITS_ADDR_TYPE as u64,
                &guest::ITS_BASE,
            )
            .map_err(|e| SetupError(format!("GRP_ADDR ITS: {e}")))?;
            set_attr(
                &its,
                KVM_DEV_ARM_VGIC_GRP_CTRL,
                KVM_DEV_ARM_VGIC_CTRL_INIT as u64,
                &0u64,
            )
            .map_err(|e| SetupError(format!("ITS CTRL_INIT: {e}")))?;
            Some(its)
        } else {
            None
        };
        Ok(Machine {
            vm,
            vcpus,
            gic: Some(gic),
            its,
            ram,
            layout,
            ran: false,
            built: None,
            kvi,
        })
    }

    /// A setup step (`create_device`, `create_vcpu`, `set_addr`, `get_addr`,
    /// `set_nr_irqs`) as its ioctl; `None` for other steps.
    fn setup_step(&mut self, step: &Step) -> Option<Result<Option<u64>, Outcome>> {
        let no_gic = || Outcome::Broken("no vGIC device was created".into());
        Some(match step {
            // Machine::new made the VM with the step's IPA size.
            Step::CreateVm(_) => Ok(None),
            Step::CreateDevice(s) => {
                let type_ = match s.device {
                    DeviceKind::VgicV3 => kvm_device_type_KVM_DEV_TYPE_ARM_VGIC_V3,
                    DeviceKind::VgicV2 => kvm_device_type_KVM_DEV_TYPE_ARM_VGIC_V2,
                    DeviceKind::Its => kvm_device_type_KVM_DEV_TYPE_ARM_VGIC_ITS,
                };
                let mut dev = kvm_create_device {
                    type_,
                    fd: 0,
                    flags: 0,
                };
                match self.vm.create_device(&mut dev) {
                    Ok(fd) => {
                        match s.device {
                            DeviceKind::VgicV3 if self.gic.is_none() => self.gic = Some(fd),
                            DeviceKind::Its => self.its = Some(fd),
                            _ => {}
                        }
                        Ok(None)
                    }
                    Err(e) => Err(Outcome::Errno(errno_name(&e))),
                }
            }
            Step::CreateVcpu(s) => match self.vm.create_vcpu(s.id as u64) {
                Err(e) => Err(Outcome::Errno(errno_name(&e))),
                Ok(v) => {
                    let init = v.vcpu_init(&self.kvi).map_err(|e| {
                        Outcome::Broken(format!("KVM_ARM_VCPU_INIT {}: {}", s.id, errno_name(&e)))
                    });
                    let vbar = v
                        .set_one_reg(
                            sysreg_id(3, 0, 12, 0, 0),
                            &self.layout.vectors().to_le_bytes(),
                        )
                        .map_err(|e| {
                            Outcome::Broken(format!(
                                "VBAR_EL1 of vCPU {}: {}",
                                s.id,
                                errno_name(&e)
                            ))
                        });
                    if let Some(slot) = self.vcpus.get_mut(s.id as usize) {
                        *slot = Some(v);
                    }
                    init.and(vbar).map(|_| None)
                }
            },
            Step::SetAddr(s) | Step::GetAddr(s) => {
                let kind = s.addr.unwrap_or(AddrKind::Dist);
                let (dev, attr) = match kind {
                    AddrKind::Dist => (self.gic.as_ref(), KVM_VGIC_V3_ADDR_TYPE_DIST),
                    AddrKind::Redist => (self.gic.as_ref(), KVM_VGIC_V3_ADDR_TYPE_REDIST),
                    AddrKind::RedistRegion => {
                        (self.gic.as_ref(), KVM_VGIC_V3_ADDR_TYPE_REDIST_REGION)
                    }
                    AddrKind::Its => (self.its.as_ref(), KVM_VGIC_ITS_ADDR_TYPE),
                };
                let Some(dev) = dev else {
                    return Some(Err(no_gic()));
                };
                let null = s.null_pointer == Some(true);
                let r = if matches!(step, Step::SetAddr(_)) {
                    if null {
                        set_attr_null(dev, KVM_DEV_ARM_VGIC_GRP_ADDR, attr as u64).map(|_| None)
                    } else {
                        set_attr(dev, KVM_DEV_ARM_VGIC_GRP_ADDR, attr as u64, &s.attr_value())
                            .map(|_| None)
                    }
                } else {
                    // A region is read by its index, passed in the value.
                    let index = s.index.map_or(0, |n| n.0);
                    get_attr64_from(dev, KVM_DEV_ARM_VGIC_GRP_ADDR, attr as u64, index, null)
                        .map(Some)
                };
                r.map_err(Outcome::Errno)
            }
            Step::SetNrIrqs(s) => match self.gic.as_ref() {
                None => Err(no_gic()),
                Some(g) => {
                    let v = s.value.0 as u32;
                    set_attr(g, KVM_DEV_ARM_VGIC_GRP_NR_IRQS, 0, &v)
                        .map(|_| None)
                        .map_err(Outcome::Errno)
                }
            },
            _ => return None,
        })
    }

    /// Where the guest finds the distributor and vCPU `v`'s redistributor:
    /// gicx-kvm's fixed frames, or those the steps gave a VM built by steps.
    fn frames(&self, v: u32) -> (u64, u64) {
        match self.built.as_deref().and_then(|m| m.setup.as_deref()) {
            Some(st) => (
                st.dist.unwrap_or(guest::DIST_BASE),
                st.redist_base(v)
                    .unwrap_or(guest::REDIST_BASE + v as u64 * guest::REDIST_STRIDE),
            ),
            None => (
                guest::DIST_BASE,
                guest::REDIST_BASE + v as u64 * guest::REDIST_STRIDE,
            ),
        }
    }

    /// Where the guest finds the ITS: gicx-kvm's fixed frame, or the one the
    /// steps gave a VM built by steps.
    fn its_base(&self) -> u64 {
        self.built
            .as_deref()
            .and_then(|m| m.setup.as_deref())
            .and_then(|st| st.its_base)
            .unwrap_or(guest::ITS_BASE)
    }

    /// `its_command`: what a guest driver's `its_send_single_command` does.
    /// The 32 bytes go into the queue at GITS_CBASER + GITS_CWRITER (both
    /// read back from the ITS, GRP_ITS_REGS), through this process's mapping
    /// of guest RAM (the guest's own store would land there too); then the
    /// first vCPU stores the next GITS_CWRITER (64-bit), on which KVM
    /// processes the queue (`vgic_mmio_write_its_cwriter` →
    /// `vgic_its_process_commands`), and loads GITS_CREADR, the step's value.
    fn its_command(&mut self, cmd: &Command) -> Result<Option<u64>, Outcome> {
        let its = self
            .its
            .as_ref()
            .ok_or_else(|| Outcome::Broken("no ITS device was created before this step".into()))?;
        let slot = its::queue_slot(its).map_err(Outcome::Errno)?;
        self.ram
            .write(slot.gpa, &its::command_bytes(cmd))
            .map_err(|u| {
                Outcome::Broken(format!(
                    "the command queue at {:#x} (GITS_CBASER + GITS_CWRITER) is outside vm.memory ({:#x} is unmapped): the guest cannot write its command",
                    slot.gpa, u.gpa
                ))
            })?;
        let base = self.its_base();
        let v = self.created().first().copied().unwrap_or(0);
        self.exec(
            v,
            Action::Store { width: 64 },
            base + regs::GITS_CWRITER as u64,
            slot.next_cwriter,
        )?;
        self.exec(
            v,
            Action::Load { width: 64 },
            base + regs::GITS_CREADR as u64,
            0,
        )
    }

    fn created(&self) -> Vec<u32> {
        (0..self.vcpus.len() as u32)
            .filter(|&v| self.vcpus[v as usize].is_some())
            .collect()
    }

    /// Run one step.
    pub fn step(&mut self, index: usize, step: &Step) -> Observed {
        let o = self.step_inner(index, step);
        if let Some(model) = self.built.as_deref_mut() {
            // Follow the VM's addresses as the model places them.
            let _ = gicx_core::scenario::run_step(model, index, step);
        }
        o
    }

    fn step_inner(&mut self, index: usize, step: &Step) -> Observed {
        let mut o = Observed::new(index, step.op());
        if let Some(why) = not_applicable(step) {
            o.na = Some(why.into());
            return o;
        }
        let result: Result<Option<u64>, Outcome> = match self.setup_step(step) {
            Some(r) => r,
            None => self.dispatch(step),
        };
        if !self.ran && (matches!(step, Step::Run(_)) || step.executes_in_guest()) && result.is_ok()
        {
            self.ran = true;
        }
        // The scenario format's time model (core vgic/ap_list.rs `settle`): between
        // two steps every vCPU passes through KVM once, syncing its list
        // registers back (vgic_sync_hwstate, vgic_prune_ap_list) and flushing
        // its ap_list into them (vgic_flush_hwstate). One KVM_RUN per vCPU
        // doing nothing gives the real kernel the same chance.
        if self.ran {
            for v in self.created() {
                if let Err(e) = self.exec(v, Action::Nothing, 0, 0) {
                    o.na = Some(format!(
                        "settling vCPU {v} after the step failed: {}",
                        e.text()
                    ));
                    return o;
                }
            }
        }
        match result {
            Ok(Some(v)) => o.value = Some(Num(v)),
            Ok(None) => {}
            Err(Outcome::Errno(e)) => o.errno = Some(e),
            Err(Outcome::Exception { kind, esr }) => {
                o.exception = Some(kind);
                o.value = esr.map(Num);
            }
            Err(Outcome::Broken(why)) => o.na = Some(why),
        }
        o
    }

    /// Every other step as its ioctl or guest instruction.
    fn dispatch(&mut self, step: &Step) -> Result<Option<u64>, Outcome> {
        let no_gic = || Outcome::Broken("no vGIC device was created before this step".into());
        let no_its = || Outcome::Broken("no ITS device was created before this step".into());
        match step {
            Step::UserRead(s) | Step::UserWrite(s) | Step::UserHas(s) => {
                let Ok(r) = resolve(s, "") else {
                    return Err(Outcome::Broken("the register does not resolve".into()));
                };
                let group = match r.frame {
                    Frame::Dist => KVM_DEV_ARM_VGIC_GRP_DIST_REGS,
                    Frame::Redist => KVM_DEV_ARM_VGIC_GRP_REDIST_REGS,
                    // KVM_DEV_ARM_VGIC_GRP_ITS_REGS on the ITS device, 64-bit values.
                    Frame::Its => {
                        let its = self.its.as_ref().ok_or_else(no_its)?;
                        let offset = r.offset as u64;
                        return match step {
                            Step::UserRead(_) => its::reg_read(its, offset).map(Some),
                            Step::UserWrite(_) => {
                                its::reg_write(its, offset, s.value.map_or(0, |n| n.0))
                                    .map(|_| None)
                            }
                            _ => its::reg_has(its, offset).map(|_| None),
                        }
                        .map_err(Outcome::Errno);
                    }
                };
                let attr = attr_mpidr(r.vcpu) | r.offset as u64;
                match step {
                    Step::UserRead(_) => {
                        get_attr32(self.gic.as_ref().ok_or_else(no_gic)?, group, attr)
                            .map(|v| Some(v as u64))
                    }
                    Step::UserWrite(_) => {
                        let v = s.value.map_or(0, |n| n.0) as u32;
                        set_attr(self.gic.as_ref().ok_or_else(no_gic)?, group, attr, &v)
                            .map(|_| None)
                    }
                    _ => has_attr(self.gic.as_ref().ok_or_else(no_gic)?, group, attr).map(|_| None),
                }
                .map_err(Outcome::Errno)
            }
            Step::Init(_) => set_attr(
                self.gic.as_ref().ok_or_else(no_gic)?,
                KVM_DEV_ARM_VGIC_GRP_CTRL,
                KVM_DEV_ARM_VGIC_CTRL_INIT as u64,
                &0u64,
            )
            .map(|_| None)
            .map_err(Outcome::Errno),
            Step::Run(_) => {
                let mut r = Ok(None);
                for v in self.created() {
                    r = self.exec(v, Action::Nothing, 0, 0);
                    if r.is_err() {
                        break;
                    }
                }
                r
            }
            Step::GuestRead(s) | Step::GuestWrite(s) => {
                let Ok(r) = resolve(s, "") else {
                    return Err(Outcome::Broken("the register does not resolve".into()));
                };
                let width = s.width.unwrap_or(32);
                let (dist, redist) = self.frames(r.vcpu);
                let (addr, accessor) = match r.frame {
                    Frame::Dist => (dist + r.offset as u64, r.vcpu),
                    // A redistributor's registers are the same from any vCPU: vCPU 0 reads them.
                    Frame::Redist => (redist + r.offset as u64, 0),
                    // The ITS frame (both 64 KiB pages) from the step's vCPU.
                    Frame::Its => (self.its_base() + r.offset as u64, r.vcpu),
                };
                if matches!(step, Step::GuestRead(_)) {
                    self.exec(accessor, Action::Load { width }, addr, 0)
                } else {
                    self.exec(
                        accessor,
                        Action::Store { width },
                        addr,
                        s.value.map_or(0, |n| n.0),
                    )
                    .map(|_| None)
                }
            }
            Step::LevelInfoRead(s) | Step::LevelInfoWrite(s) => {
                let attr = attr_mpidr(s.vcpu.unwrap_or(0))
                    | ((VGIC_LEVEL_INFO_LINE_LEVEL as u64)
                        << KVM_DEV_ARM_VGIC_LINE_LEVEL_INFO_SHIFT)
                    | (s.intid as u64 & KVM_DEV_ARM_VGIC_LINE_LEVEL_INTID_MASK as u64);
                match step {
                    Step::LevelInfoRead(_) => get_attr32(
                        self.gic.as_ref().ok_or_else(no_gic)?,
                        KVM_DEV_ARM_VGIC_GRP_LEVEL_INFO,
                        attr,
                    )
                    .map(|v| Some(v as u64)),
                    _ => {
                        let v = s.value.map_or(0, |n| n.0) as u32;
                        set_attr(
                            self.gic.as_ref().ok_or_else(no_gic)?,
                            KVM_DEV_ARM_VGIC_GRP_LEVEL_INFO,
                            attr,
                            &v,
                        )
                        .map(|_| None)
                    }
                }
                .map_err(Outcome::Errno)
            }
            Step::CpuSysregsRead(s) | Step::CpuSysregsWrite(s) => {
                let id = parse_sysreg(&s.reg).unwrap_or(0xFFFF);
                let attr = attr_mpidr(s.vcpu.unwrap_or(0)) | id as u64;
                match step {
                    Step::CpuSysregsRead(_) => get_attr64(
                        self.gic.as_ref().ok_or_else(no_gic)?,
                        KVM_DEV_ARM_VGIC_GRP_CPU_SYSREGS,
                        attr,
                    )
                    .map(Some),
                    _ => {
                        let v: u64 = s.value.map_or(0, |n| n.0);
                        set_attr(
                            self.gic.as_ref().ok_or_else(no_gic)?,
                            KVM_DEV_ARM_VGIC_GRP_CPU_SYSREGS,
                            attr,
                            &v,
                        )
                        .map(|_| None)
                    }
                }
                .map_err(Outcome::Errno)
            }
            Step::IrqLine(s) => {
                let irq = if s.intid < 32 {
                    let v = s.vcpu.unwrap_or(0);
                    (KVM_ARM_IRQ_TYPE_PPI << KVM_ARM_IRQ_TYPE_SHIFT)
                        | ((v & 0xFF) << KVM_ARM_IRQ_VCPU_SHIFT)
                        | (((v >> 8) & 0xF) << KVM_ARM_IRQ_VCPU2_SHIFT)
                        | s.intid
                } else {
                    (KVM_ARM_IRQ_TYPE_SPI << KVM_ARM_IRQ_TYPE_SHIFT) | (s.intid & 0xFFFF)
                };
                self.vm
                    .set_irq_line(irq, s.level)
                    .map(|_| None)
                    .map_err(|e| Outcome::Errno(errno_name(&e)))
            }
            Step::SysregRead(s) => self.exec(s.vcpu, Action::ReadSysreg(s.reg), 0, 0),
            Step::SysregWrite(s) => self
                .exec(
                    s.vcpu,
                    Action::WriteSysreg(s.reg),
                    0,
                    s.value.map_or(0, |n| n.0),
                )
                .map(|_| None),
            Step::Ack(s) => self.exec(s.vcpu, Action::ReadSysreg(SysReg::IccIar1El1), 0, 0),
            Step::Eoi(s) => self
                .exec(
                    s.vcpu,
                    Action::WriteSysreg(SysReg::IccEoir1El1),
                    0,
                    s.intid as u64,
                )
                .map(|_| None),
            Step::Deactivate(s) => self
                .exec(
                    s.vcpu,
                    Action::WriteSysreg(SysReg::IccDirEl1),
                    0,
                    s.intid as u64,
                )
                .map(|_| None),
            Step::Sgi(s) => {
                // Exactly the writes the model's `sgi` shorthand makes.
                let writes = match &s.targets {
                    SgiTargets::Others => vec![Sgi1r::others(s.intid as u8)],
                    SgiTargets::List(l) => Sgi1r::for_vcpus(s.intid as u8, l),
                };
                let mut r = Ok(None);
                for w in writes {
                    r = self
                        .exec(
                            s.from,
                            Action::WriteSysreg(SysReg::IccSgi1rEl1),
                            0,
                            w.encode(),
                        )
                        .map(|_| None);
                    if r.is_err() {
                        break;
                    }
                }
                r
            }
            Step::MemWrite(s) | Step::MemRead(s) => {
                // The VMM's own loads and stores through its mapping of guest
                // RAM: no ioctl, nothing KVM can refuse (the scenario's
                // validation keeps `addr` inside vm.memory).
                let n = s.width.unwrap_or(64) as usize / 8;
                let addr = s.addr.0;
                let r = if matches!(step, Step::MemWrite(_)) {
                    let bytes = s.value.map_or(0, |v| v.0).to_le_bytes();
                    self.ram.write(addr, &bytes[..n]).map(|_| None)
                } else {
                    let mut b = [0u8; 8];
                    self.ram
                        .read(addr, &mut b[..n])
                        .map(|_| Some(u64::from_le_bytes(b)))
                };
                r.map_err(|u| {
                    Outcome::Broken(format!(
                        "guest address {:#x} is outside every vm.memory slot",
                        u.gpa
                    ))
                })
            }
            Step::ItsCommand(s) => self.its_command(&s.command()),
            Step::Msi(s) => its::signal_msi(
                &self.vm,
                s.addr.0,
                s.data.0 as u32,
                s.devid.map(|d| d.0 as u32),
            )
            .map(Some)
            .map_err(Outcome::Errno),
            Step::ItsCtrl(s) => its::ctrl(self.its.as_ref().ok_or_else(no_its)?, s.attr.0)
                .map(|_| None)
                .map_err(Outcome::Errno),
            Step::SavePendingTables(_) => its::ctrl(
                self.gic.as_ref().ok_or_else(no_gic)?,
                KVM_DEV_ARM_VGIC_SAVE_PENDING_TABLES as u64,
            )
            .map(|_| None)
            .map_err(Outcome::Errno),
            Step::Schedule(_)
            | Step::Migrate(_)
            | Step::ForwardMsi(_)
            | Step::UnforwardMsi(_)
            | Step::DeviceMsi(_) => Err(Outcome::Broken("not applicable: handled before".into())),
            _ => Err(Outcome::Broken("a setup step: handled before".into())),
        }
    }

    /// Run vCPU `v` through one program entry; the value of `x1` afterwards for loads and MRS.
    fn exec(
        &mut self,
        v: u32,
        action: Action,
        addr: u64,
        value: u64,
    ) -> Result<Option<u64>, Outcome> {
        let Some(vcpu) = self.vcpus.get_mut(v as usize).and_then(Option::as_mut) else {
            return Err(Outcome::Broken(format!("vCPU {v} does not exist")));
        };
        let set = |vcpu: &VcpuFd, id: u64, val: u64| {
            vcpu.set_one_reg(id, &val.to_le_bytes())
                .map(|_| ())
                .map_err(|e| {
                    Outcome::Broken(format!("KVM_SET_ONE_REG {id:#x}: {}", errno_name(&e)))
                })
        };
        set(vcpu, xreg(0), addr)?;
        set(vcpu, xreg(1), value)?;
        set(vcpu, xreg(2), action.entry())?;
        let layout = self.layout;
        set(vcpu, xreg(10), layout.exit)?;
        set(vcpu, xreg(11), layout.exception)?;
        set(vcpu, PSTATE, PSTATE_EL1H_DAIF)?;
        set(vcpu, PC, layout.code)?;
        let (ran, hung) = crate::watchdog::guard(|| vcpu.run());
        if hung {
            return Err(Outcome::Broken(format!(
                "KVM_RUN of vCPU {v} did not return within {} s (interrupted by the watchdog)",
                crate::watchdog::LIMIT.as_secs()
            )));
        }
        let exit = match ran {
            Ok(VcpuExit::MmioWrite(a, _)) if a == layout.exit => None,
            Ok(VcpuExit::MmioWrite(a, _)) if a == layout.exception => Some("exception".to_string()),
            Ok(VcpuExit::MmioWrite(a, _)) => Some(format!("mmio-exit write {a:#x}")),
            Ok(VcpuExit::MmioRead(a, _)) => Some(format!("mmio-exit read {a:#x}")),
            Ok(other) => Some(format!("exit {other:?}")),
            Err(e) => return Err(Outcome::Errno(errno_name(&e))),
        };
        let get = |vcpu: &VcpuFd, id: u64| -> Result<u64, Outcome> {
            let mut b = [0u8; 8];
            vcpu.get_one_reg(id, &mut b).map_err(|e| {
                Outcome::Broken(format!("KVM_GET_ONE_REG {id:#x}: {}", errno_name(&e)))
            })?;
            Ok(u64::from_le_bytes(b))
        };
        match exit {
            None => match action {
                Action::Load { .. } | Action::ReadSysreg(_) => Ok(Some(get(vcpu, xreg(1))?)),
                _ => Ok(None),
            },
            Some(e) if e == "exception" => {
                let esr = get(vcpu, sysreg_id(3, 0, 5, 2, 0))?;
                // ESR_EL1.EC 0: unknown reason, what an UNDEFINED instruction gives.
                let kind = if esr >> 26 == 0 { "undef" } else { "abort" };
                Err(Outcome::Exception {
                    kind: kind.into(),
                    esr: (kind != "undef").then_some(esr),
                })
            }
            Some(other) => Err(Outcome::Exception {
                kind: other,
                esr: None,
            }),
        }
    }
}

// ---- for migration.rs: the parts of a VM a migration's save and restore drive ----------

impl Machine {
    /// The vGICv3 device (its device attributes).
    pub(crate) fn gic(&self) -> Result<&DeviceFd, String> {
        self.gic
            .as_ref()
            .ok_or_else(|| "the VM has no vGIC device".to_string())
    }

    /// vCPU `i`.
    pub(crate) fn vcpu_mut(&mut self, i: usize) -> Option<&mut VcpuFd> {
        self.vcpus.get_mut(i).and_then(Option::as_mut)
    }

    pub(crate) fn vcpu_count(&self) -> usize {
        self.vcpus.len()
    }

    /// The runner's code slot as bytes (offset 0 is `layout().code`).
    pub(crate) fn ram(&mut self) -> &mut [u8] {
        self.ram.code()
    }

    /// Where the code slot and the exit addresses are in this VM.
    pub(crate) fn layout(&self) -> Layout {
        self.layout
    }
}

impl Outcome {
    fn text(&self) -> String {
        match self {
            Outcome::Errno(e) => e.clone(),
            Outcome::Exception { kind, .. } => kind.clone(),
            Outcome::Broken(w) => w.clone(),
        }
    }
}

/// How a step failed.
enum Outcome {
    Errno(String),
    Exception {
        kind: String,
        esr: Option<u64>,
    },
    /// The runner could not carry the step out (not KVM's answer).
    Broken(String),
}

pub(crate) fn set_attr<T>(dev: &DeviceFd, group: u32, attr: u64, val: &T) -> Result<(), String> {
    let a = kvm_device_attr {
        flags: 0,
        group,
        attr,
        addr: val as *const T as u64,
    };
    dev.set_device_attr(&a).map_err(|e| errno_name(&e))
}

/// `KVM_SET_DEVICE_ATTR` with a NULL value pointer (KVM's get_user: -EFAULT).
fn set_attr_null(dev: &DeviceFd, group: u32, attr: u64) -> Result<(), String> {
    let a = kvm_device_attr {
        flags: 0,
        group,
        attr,
        addr: 0,
    };
    dev.set_device_attr(&a).map_err(|e| errno_name(&e))
}

/// `KVM_GET_DEVICE_ATTR` of a 64-bit value that goes in too (a redistributor
/// region's index), or with a NULL pointer.
fn get_attr64_from(
    dev: &DeviceFd,
    group: u32,
    attr: u64,
    initial: u64,
    null: bool,
) -> Result<u64, String> {
    let mut v: u64 = initial;
    let mut a = kvm_device_attr {
        flags: 0,
        group,
        attr,
        addr: if null { 0 } else { &mut v as *mut u64 as u64 },
    };
    // SAFETY: `addr` points at a live u64 (GRP_ADDR values are 64-bit) or is
    // NULL, which KVM refuses with -EFAULT without writing.
    unsafe { dev.get_device_attr(&mut a) }.map_err(|e| errno_name(&e))?;
    Ok(v)
}

pub(crate) fn has_attr(dev: &DeviceFd, group: u32, attr: u64) -> Result<(), String> {
    let a = kvm_device_attr {
        flags: 0,
        group,
        attr,
        addr: 0,
    };
    dev.has_device_attr(&a).map_err(|e| errno_name(&e))
}

pub(crate) fn get_attr32(dev: &DeviceFd, group: u32, attr: u64) -> Result<u32, String> {
    let mut v: u32 = 0;
    let mut a = kvm_device_attr {
        flags: 0,
        group,
        attr,
        addr: &mut v as *mut u32 as u64,
    };
    // SAFETY: `addr` points at a live u32, the size KVM writes for these groups
    // (DIST_REGS, REDIST_REGS, LEVEL_INFO are 32-bit, arm-vgic-v3.rst).
    unsafe { dev.get_device_attr(&mut a) }.map_err(|e| errno_name(&e))?;
    Ok(v)
}

pub(crate) fn get_attr64(dev: &DeviceFd, group: u32, attr: u64) -> Result<u64, String> {
    let mut v: u64 = 0;
    let mut a = kvm_device_attr {
        flags: 0,
        group,
        attr,
        addr: &mut v as *mut u64 as u64,
    };
    // SAFETY: `addr` points at a live u64, the size of CPU_SYSREGS values.
    unsafe { dev.get_device_attr(&mut a) }.map_err(|e| errno_name(&e))?;
    Ok(v)
}

/// Run a whole scenario on a fresh VM.
/// Where one scenario's time went on the real kernel, in milliseconds:
/// creating the VM, its vCPUs and devices; the steps; tearing it down.
#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
pub struct Timings {
    pub setup: f64,
    pub steps: f64,
    pub teardown: f64,
}

/// [`run`], timed.
pub fn run_timed(kvm: &Kvm, sc: &Scenario) -> (Result<Vec<Observed>, SetupError>, Timings) {
    let ms = |t: std::time::Instant| t.elapsed().as_secs_f64() * 1000.0;
    let mut t = Timings::default();
    let start = std::time::Instant::now();
    let mut m = match Machine::new(kvm, sc) {
        Ok(m) => m,
        Err(e) => {
            t.setup = ms(start);
            return (Err(e), t);
        }
    };
    t.setup = ms(start);
    let start = std::time::Instant::now();
    let steps = sc
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| m.step(i, s))
        .collect();
    t.steps = ms(start);
    let start = std::time::Instant::now();
    reap(m);
    t.teardown = ms(start);
    (Ok(steps), t)
}

/// VMs being torn down in the background, oldest first.
static REAPING: std::sync::Mutex<Vec<std::thread::JoinHandle<()>>> =
    std::sync::Mutex::new(Vec::new());
/// At most this many VMs wait for their teardown at once.
const MAX_REAPING: usize = 32;

/// Tear a VM down on another thread. Closing a VM's last fd runs
/// `kvm_destroy_vm` in that `close`, which on newer kernels waits for RCU/SRCU
/// grace periods: 3.7 s per VM on 7.3.4 under QEMU's emulation against
/// 0.03 s on 6.12.118 (measured with the runner's `ms.teardown`). Teardowns
/// in parallel share those waits; nothing observable by the next scenario
/// depends on the old VM being gone (each scenario has its own VM).
pub(crate) fn reap(m: Machine) {
    let mut reaping = REAPING.lock().unwrap_or_else(|e| e.into_inner());
    if reaping.len() >= MAX_REAPING {
        let _ = reaping.remove(0).join();
    }
    reaping.push(std::thread::spawn(move || drop(m)));
}

/// Wait until every VM handed to [`reap`] is gone (before PID 1 powers off).
pub fn reap_all() {
    let handles = std::mem::take(&mut *REAPING.lock().unwrap_or_else(|e| e.into_inner()));
    for h in handles {
        let _ = h.join();
    }
}

pub fn run(kvm: &Kvm, sc: &Scenario) -> Result<Vec<Observed>, SetupError> {
    let mut m = Machine::new(kvm, sc)?;
    Ok(sc
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| m.step(i, s))
        .collect())
}
