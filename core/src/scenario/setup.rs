//! Building the VM by steps, as the KVM selftests do (documented in
//! docs/scenario-format.md, "Building the VM by steps"): `create_vm` (steps[0]
//! only: `KVM_CREATE_VM` with its IPA size), `create_device` (the vGICv3, a
//! second one, a vGICv2, an ITS), `create_vcpu` (any id, any order, before or
//! after the device), `set_addr`/`get_addr` (`KVM_DEV_ARM_VGIC_GRP_ADDR`:
//! distributor, legacy redistributor, redistributor regions, ITS) and
//! `set_nr_irqs` (`KVM_DEV_ARM_VGIC_GRP_NR_IRQS`).
//!
//! Without `create_vm` the VM is the one a VMM builds before the first step
//! (gicx-kvm: every vCPU, the device, NR_IRQS, the distributor and one legacy
//! redistributor region). With it, [`Setup`] is KVM's device-control plane
//! before the vGIC's registers matter: which vCPUs exist and in what order,
//! where each redistributor was placed (`vgic_register_redist_iodev`), and the
//! checks `kvm_vgic_map_resources` makes at the first `KVM_RUN`.
//!
//! Sources (mainline, read at torvalds/linux 0ea5c948cb64 and 02e3858f08fa;
//! 5.10 behaviour from the commits that changed it):
//! vgic-kvm-device.c `vgic_check_iorange`, `kvm_vgic_addr`,
//! `vgic_set_common_attr`, `vgic_v3_parse_attr`; vgic-mmio-v3.c
//! `vgic_register_redist_iodev`, `vgic_register_all_redist_iodevs`,
//! `vgic_v3_alloc_redist_region`, `vgic_v3_set_redist_base`,
//! `vgic_mmio_vcpu_rdist_is_last`; vgic-v3.c `vgic_v3_check_base`,
//! `vgic_v3_map_resources`; vgic-init.c `kvm_vgic_create`, `vgic_init`;
//! arm.c `kvm_arch_vcpu_precreate`; kvm_main.c `kvm_vm_ioctl_create_vcpu`,
//! `kvm_ioctl_create_device`.

use serde::{Deserialize, Serialize};

use super::{check_errno, ErrnoName, Num, ScenarioError, Step};
use crate::errno::Errno;
use crate::rules::{self as r, Rule};
use crate::vgic::{AccessError, Lifecycle, Op, Outcome, Path, Vgic, VmConfig};

/// `KVM_VGIC_V3_DIST_SIZE`.
pub const DIST_SIZE: u64 = 0x1_0000;
/// `KVM_VGIC_V3_REDIST_SIZE`: RD_base and SGI_base frames.
pub const REDIST_SIZE: u64 = 0x2_0000;
/// `KVM_VGIC_V3_ITS_SIZE`.
pub const ITS_SIZE: u64 = 0x2_0000;
/// `VGIC_ADDR_UNDEF`: what `get_addr` reads for an address never set.
pub const ADDR_UNDEF: u64 = u64::MAX;
/// The IPA size gicx-kvm gives a VM a VMM builds (`KVM_VM_TYPE_ARM_IPA_SIZE(32)`).
pub const DEFAULT_IPA_BITS: u8 = 32;

/// `create_vm`: `KVM_CREATE_VM` with `KVM_VM_TYPE_ARM_IPA_SIZE(ipa_bits)`;
/// the VM has no vCPU and no device until later steps create them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateVmStep {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipa_bits: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_rule: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The device `create_device` creates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceKind {
    /// `KVM_DEV_TYPE_ARM_VGIC_V3`.
    VgicV3,
    /// `KVM_DEV_TYPE_ARM_VGIC_V2`.
    VgicV2,
    /// `KVM_DEV_TYPE_ARM_VGIC_ITS`.
    Its,
}

impl DeviceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceKind::VgicV3 => "vgic_v3",
            DeviceKind::VgicV2 => "vgic_v2",
            DeviceKind::Its => "its",
        }
    }
}

/// `create_device`: `KVM_CREATE_DEVICE`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateDeviceStep {
    pub device: DeviceKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_error: Option<ErrnoName>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_rule: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// `create_vcpu`: `KVM_CREATE_VCPU` (and `KVM_ARM_VCPU_INIT`) with vCPU id `id`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateVcpuStep {
    pub id: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_error: Option<ErrnoName>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_rule: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The `KVM_DEV_ARM_VGIC_GRP_ADDR` attribute of a `set_addr`/`get_addr` step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AddrKind {
    /// `KVM_VGIC_V3_ADDR_TYPE_DIST`.
    Dist,
    /// `KVM_VGIC_V3_ADDR_TYPE_REDIST`: the legacy single region.
    Redist,
    /// `KVM_VGIC_V3_ADDR_TYPE_REDIST_REGION`: index, count, base, flags.
    RedistRegion,
    /// `KVM_VGIC_ITS_ADDR_TYPE` on the ITS device.
    Its,
}

impl AddrKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AddrKind::Dist => "dist",
            AddrKind::Redist => "redist",
            AddrKind::RedistRegion => "redist_region",
            AddrKind::Its => "its",
        }
    }
}

/// `set_addr` and `get_addr`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddrStep {
    pub addr: Option<AddrKind>,
    /// The address (`dist`, `redist`, `its`), or a region's base (`redist_region`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<Num>,
    /// `redist_region`: how many redistributors (bits 63:52).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<Num>,
    /// `redist_region`: the region's index (bits 11:0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<Num>,
    /// `redist_region`: flags (bits 15:12, must be 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flags: Option<Num>,
    /// Pass a NULL pointer instead of the value (KVM reads it with get_user: `EFAULT`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub null_pointer: Option<bool>,
    /// `get_addr`: the 64-bit value read back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<Num>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_error: Option<ErrnoName>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_rule: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl AddrStep {
    /// The 64-bit attribute value the step passes: the address, or for
    /// `redist_region` the encoding of the selftests' `REDIST_REGION_ATTR_ADDR`
    /// (count << 52 | (base >> 16) << 16 | flags << 12 | index: the base's
    /// bits below 64 KiB are dropped).
    pub fn attr_value(&self) -> u64 {
        let n = |x: Option<Num>| x.map_or(0, |v| v.0);
        match self.addr {
            Some(AddrKind::RedistRegion) => {
                (n(self.count) << 52)
                    | ((n(self.base) >> 16) << 16) & REGION_BASE_MASK
                    | (n(self.flags) << 12)
                    | n(self.index)
            }
            _ => n(self.base),
        }
    }
}

/// `KVM_VGIC_V3_RDIST_BASE_MASK`: bits 51:16.
pub const REGION_BASE_MASK: u64 = ((1 << 52) - 1) & !0xFFFF;

/// `set_nr_irqs`: `KVM_SET_DEVICE_ATTR` on `KVM_DEV_ARM_VGIC_GRP_NR_IRQS`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NrIrqsStep {
    pub value: Num,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_error: Option<ErrnoName>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_rule: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// One redistributor region (`struct vgic_redist_region`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Region {
    pub index: u32,
    pub base: u64,
    /// 0 for the legacy single region, whose size follows the vCPU count.
    pub count: u32,
    /// The next free slot.
    pub free_index: u32,
}

/// KVM's VM-building state for a scenario that starts with `create_vm`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Setup {
    pub ipa_bits: u8,
    /// The vGICv3 device exists.
    pub vgic: bool,
    /// An ITS device exists (its base, once set).
    pub its: bool,
    pub its_base: Option<u64>,
    /// vCPU ids in creation order (KVM's vCPU index order).
    pub vcpus: Vec<u32>,
    /// Where each vCPU's redistributor is (region position, slot), by creation index.
    pub rd: Vec<Option<(usize, u32)>>,
    /// `nr_spis` was set by `set_nr_irqs` (or `init` gave it its default).
    pub nr_spis_set: bool,
    pub dist: Option<u64>,
    pub regions: Vec<Region>,
}

type Refusal = (Errno, &'static Rule);

impl Setup {
    pub fn new(ipa_bits: u8) -> Setup {
        Setup {
            ipa_bits,
            vgic: false,
            its: false,
            its_base: None,
            vcpus: Vec::new(),
            rd: Vec::new(),
            nr_spis_set: false,
            dist: None,
            regions: Vec::new(),
        }
    }

    fn phys_size(&self) -> u64 {
        1u64 << self.ipa_bits
    }

    /// Whether vCPU `id` exists.
    pub fn has_vcpu(&self, id: u32) -> bool {
        self.vcpus.contains(&id)
    }

    /// `vgic_v3_rd_region_size`: a legacy region covers the vCPUs online now.
    fn region_size(&self, r: &Region, online: usize) -> u64 {
        if r.count == 0 {
            online as u64 * REDIST_SIZE
        } else {
            r.count as u64 * REDIST_SIZE
        }
    }

    /// `vgic_check_iorange` (f25c5e4dafd8, 5.16: EEXIST, alignment, wrap,
    /// then E2BIG for a base or an end beyond the IPA space); before it
    /// `vgic_check_ioaddr` (E2BIG for a base beyond the IPA mask only, then
    /// alignment, then EEXIST).
    fn check_iorange(
        &self,
        host: &crate::host::Host,
        set: bool,
        addr: u64,
        align: u64,
        size: u64,
    ) -> Result<(), Refusal> {
        let phys = self.phys_size();
        if host.has(&crate::kernels::VGIC_CHECK_IORANGE) {
            if set {
                return Err((Errno::EEXIST, &r::SETUP_ADDR_SET_TWICE));
            }
            if !addr.is_multiple_of(align)
                || !size.is_multiple_of(align)
                || addr.checked_add(size).is_none()
            {
                return Err((Errno::EINVAL, &r::SETUP_ADDR_ALIGNMENT));
            }
            if addr & !(phys - 1) != 0 || addr + size > phys {
                return Err((Errno::E2BIG, &r::SETUP_ADDR_BEYOND_IPA));
            }
        } else {
            if addr & !(phys - 1) != 0 {
                return Err((Errno::E2BIG, &r::SETUP_ADDR_BEYOND_IPA));
            }
            if !addr.is_multiple_of(align) {
                return Err((Errno::EINVAL, &r::SETUP_ADDR_ALIGNMENT));
            }
            if set {
                return Err((Errno::EEXIST, &r::SETUP_ADDR_SET_TWICE));
            }
        }
        Ok(())
    }

    /// `vgic_v3_rdist_overlap`.
    fn rdist_overlap(&self, base: u64, size: u64, online: usize) -> bool {
        self.regions.iter().any(|r| {
            base.saturating_add(size) > r.base
                && base < r.base.saturating_add(self.region_size(r, online))
        })
    }

    /// `vgic_v3_check_base` with `online` vCPUs: the distributor and each
    /// region within the IPA space (5.16+: `vgic_check_iorange`; before: no
    /// wrap only) and the distributor clear of every region.
    fn check_base(&self, host: &crate::host::Host, online: usize) -> bool {
        if let Some(d) = self.dist {
            if d.checked_add(DIST_SIZE).is_none() {
                return false;
            }
        }
        for r in &self.regions {
            let sz = self.region_size(r, online);
            if host.has(&crate::kernels::VGIC_CHECK_IORANGE) {
                if self
                    .check_iorange(host, false, r.base, 0x1_0000, sz)
                    .is_err()
                {
                    return false;
                }
            } else if r.base.checked_add(sz).is_none() {
                return false;
            }
        }
        match self.dist {
            None => true,
            Some(d) => !self.rdist_overlap(d, DIST_SIZE, online),
        }
    }

    /// `vgic_v3_rdist_free_slot`: the first region, in index order, with room.
    fn free_slot(&self) -> Option<usize> {
        self.regions
            .iter()
            .position(|r| !(r.count != 0 && r.free_index >= r.count))
    }

    /// `vgic_register_redist_iodev` for the vCPU of creation index `ci`, with
    /// `online` vCPUs online.
    fn register(&mut self, host: &crate::host::Host, ci: usize, online: usize) -> Result<(), ()> {
        if self.rd[ci].is_some() {
            return Ok(());
        }
        let Some(pos) = self.free_slot() else {
            return Ok(());
        };
        if !self.check_base(host, online) {
            return Err(());
        }
        let slot = self.regions[pos].free_index;
        self.rd[ci] = Some((pos, slot));
        self.regions[pos].free_index += 1;
        Ok(())
    }

    /// Where vCPU `id`'s redistributor is, once placed.
    pub fn redist_base(&self, id: u32) -> Option<u64> {
        let ci = self.vcpus.iter().position(|&v| v == id)?;
        let (pos, slot) = self.rd[ci]?;
        Some(self.regions[pos].base + slot as u64 * REDIST_SIZE)
    }

    /// `vgic_mmio_vcpu_rdist_is_last` (5.13+, 28e9d4bce3be): the last
    /// redistributor placed in its region and, for a full counted region, no
    /// other region with redistributors starts where it ends. A vCPU with
    /// no region is never Last.
    pub fn is_last(&self, id: u32) -> bool {
        let Some(ci) = self.vcpus.iter().position(|&v| v == id) else {
            return false;
        };
        let Some((pos, slot)) = self.rd[ci] else {
            return false;
        };
        let r = &self.regions[pos];
        if slot + 1 < r.free_index {
            return false;
        }
        if r.count != 0 && slot + 1 == r.count {
            let end = r.base + r.count as u64 * REDIST_SIZE;
            if self
                .regions
                .iter()
                .any(|o| o.base == end && o.free_index > 0)
            {
                return false;
            }
        }
        true
    }

    /// `vgic_v3_map_resources`' address checks at the first `KVM_RUN`
    /// (before its `vgic_initialized` check, which gives -EBUSY).
    pub fn map_check(&self, host: &crate::host::Host) -> Option<Refusal> {
        if self.rd.iter().any(|x| x.is_none()) {
            return Some((Errno::ENXIO, &r::SETUP_RUN_NO_REDIST));
        }
        if self.dist.is_none() {
            return Some((Errno::ENXIO, &r::SETUP_RUN_NO_DIST));
        }
        if !self.check_base(host, self.vcpus.len()) {
            return Some((Errno::EINVAL, &r::SETUP_RUN_CHECK_BASE));
        }
        None
    }
}

fn outcome(op: Op, what: &str, value: u64, res: Result<(), Refusal>, ok: &'static Rule) -> Outcome {
    let (errno, rule) = match res {
        Ok(()) => (None, ok),
        Err((e, r)) => (Some(e), r),
    };
    Outcome {
        path: Path::User,
        op,
        frame: None,
        vcpu: 0,
        offset: 0,
        width: 64,
        register: Some(what.to_string()),
        value,
        errno,
        rules: vec![rule],
        notes: Vec::new(),
        trace: Vec::new(),
    }
}

fn result_text(o: &Outcome, read: bool) -> String {
    match o.errno {
        Some(e) => e.to_string(),
        None if read => format!("{:#x}", o.value),
        None => "ok".into(),
    }
}

/// Validation of the setup steps; `None` for other steps. `built` says
/// whether steps[0] is `create_vm`.
pub(super) fn validate(
    step: &Step,
    index: usize,
    vm: &VmConfig,
    built: bool,
    vgic_before: bool,
    its_before: bool,
    p: &str,
) -> Option<Result<(), ScenarioError>> {
    let need_built = |op: &str| {
        if built {
            Ok(())
        } else {
            Err(ScenarioError::at(
                p,
                format!("{op} builds the VM by steps: the scenario must start with {{\"op\": \"create_vm\"}}"),
            ))
        }
    };
    let need_vgic = |op: &str| {
        if vgic_before {
            Ok(())
        } else {
            Err(ScenarioError::at(
                p,
                format!("{op} needs the vGIC device: add {{\"op\": \"create_device\", \"device\": \"vgic_v3\"}} before it"),
            ))
        }
    };
    Some(match step {
        Step::CreateVm(s) => {
            if index != 0 {
                return Some(Err(ScenarioError::at(
                    p,
                    "create_vm can only be the first step (KVM_CREATE_VM makes the VM the other steps act on)",
                )));
            }
            match s.ipa_bits {
                Some(b) if !(32..=40).contains(&b) => Err(ScenarioError::at(
                    format!("{p}.ipa_bits"),
                    format!("{b}: gicx models IPA sizes of 32 to 40 bits (KVM's minimum is 32; most hosts allow 40)"),
                )),
                _ => Ok(()),
            }
        }
        Step::CreateDevice(s) => need_built("create_device").and_then(|_| {
            if s.device == DeviceKind::Its && !vm.its {
                Err(ScenarioError::at(
                    format!("{p}.device"),
                    "the model's VM has no ITS: set vm.its to true to create one",
                ))
            } else {
                Ok(())
            }
        }),
        Step::CreateVcpu(s) => need_built("create_vcpu").and_then(|_| {
            if s.id >= vm.vcpus {
                Err(ScenarioError::at(
                    format!("{p}.id"),
                    format!(
                        "vCPU id {} is beyond the model's VM (vm.vcpus = {}): vm.vcpus bounds the ids a scenario creates",
                        s.id, vm.vcpus
                    ),
                ))
            } else {
                Ok(())
            }
        }),
        Step::SetAddr(s) | Step::GetAddr(s) if s.addr == Some(AddrKind::Its) && !its_before => {
            Err(ScenarioError::at(
                format!("{p}.addr"),
                "the ITS address is an attribute of the ITS device: add {\"op\": \"create_device\", \"device\": \"its\"} before it",
            ))
        }
        Step::SetAddr(s) | Step::GetAddr(s) => {
            let set = matches!(step, Step::SetAddr(_));
            let op = step.op();
            need_built(op)
                .and_then(|_| need_vgic(op))
                .and_then(|_| validate_addr(s, set, p))
        }
        Step::SetNrIrqs(s) => need_built("set_nr_irqs")
            .and_then(|_| need_vgic("set_nr_irqs"))
            .and_then(|_| {
                let v = s.value.0;
                let valid = (64..=1023).contains(&v) && v % 32 == 0;
                if valid && s.expect_error.is_none() && v != vm.nr_irqs as u64 {
                    Err(ScenarioError::at(
                        format!("{p}.value"),
                        format!(
                            "a successful GRP_NR_IRQS makes the VM's nr_irqs {v}: write \"nr_irqs\": {v} in vm (it is {})",
                            vm.nr_irqs
                        ),
                    ))
                } else {
                    Ok(())
                }
            }),
        _ => return None,
    })
}

fn validate_addr(s: &AddrStep, set: bool, p: &str) -> Result<(), ScenarioError> {
    let Some(kind) = s.addr else {
        return Err(ScenarioError::at(
            format!("{p}.addr"),
            "missing `addr`: \"dist\", \"redist\", \"redist_region\" or \"its\"",
        ));
    };
    let unused = |field: &str, why: &str| {
        Err(ScenarioError::at(
            format!("{p}.{field}"),
            format!("`{field}` is not used here: {why}"),
        ))
    };
    let region = kind == AddrKind::RedistRegion;
    if !region {
        for (f, v) in [("count", s.count), ("index", s.index), ("flags", s.flags)] {
            if v.is_some() {
                return unused(f, "only redist_region has it");
            }
        }
    }
    if set {
        if s.expect.is_some() {
            return unused("expect", "set_addr reads nothing");
        }
        if s.base.is_none() && s.null_pointer != Some(true) {
            return Err(ScenarioError::at(p, "set_addr needs a `base`"));
        }
        if region {
            let n = |x: Option<Num>| x.map_or(0, |v| v.0);
            if n(s.count) > 0xFFF {
                return Err(ScenarioError::at(
                    format!("{p}.count"),
                    "the region's count is 12 bits (63:52)",
                ));
            }
            if n(s.index) > 0xFFF {
                return Err(ScenarioError::at(
                    format!("{p}.index"),
                    "the region's index is 12 bits (11:0)",
                ));
            }
            if n(s.flags) > 0xF {
                return Err(ScenarioError::at(
                    format!("{p}.flags"),
                    "the region's flags are 4 bits (15:12)",
                ));
            }
            if n(s.base) >> 52 != 0 {
                return Err(ScenarioError::at(
                    format!("{p}.base"),
                    "a region's base is bits 51:16 of the attribute",
                ));
            }
        }
    } else {
        if s.base.is_some() || s.count.is_some() || s.flags.is_some() {
            return unused(
                "base",
                "get_addr reads the address (a region is chosen by `index`)",
            );
        }
        if region && s.index.is_none() && s.null_pointer != Some(true) {
            return Err(ScenarioError::at(
                p,
                "get_addr of a redist_region needs the region's `index`",
            ));
        }
    }
    Ok(())
}

/// A setup step's summary, outcome and failures; `None` for other steps.
pub(super) fn run(vm: &mut Vgic, step: &Step) -> Option<Result<super::delivery::Ran, AccessError>> {
    let mut failures = Vec::new();
    let host = *vm.host();
    let (summary, o) = match step {
        Step::CreateVm(s) => {
            let bits = s.ipa_bits.unwrap_or(DEFAULT_IPA_BITS);
            vm.setup = Some(Box::new(Setup::new(bits)));
            let o = outcome(
                Op::Write,
                "KVM_CREATE_VM",
                bits as u64,
                Ok(()),
                &r::SETUP_CREATE_VM,
            );
            (
                format!("KVM_CREATE_VM (IPA size {bits} bits): no vCPU, no device"),
                o,
            )
        }
        Step::CreateDevice(s) => {
            let Some(st) = vm.setup.as_deref_mut() else {
                return Some(Err(not_built()));
            };
            let mut ok: &'static Rule = &r::SETUP_CREATE_DEVICE;
            let res = match s.device {
                // kvm_ioctl_create_device: no ops registered for the type.
                // kvm_register_vgic_device registers vgic-v2 only when the
                // host can emulate GICv2 (a GICv3 with GICV, which gicx's
                // hosts and QEMU's GICv3 do not have).
                DeviceKind::VgicV2 => Err((Errno::ENODEV, &r::SETUP_DEVICE_NO_V2)),
                DeviceKind::VgicV3 if st.vgic => Err((Errno::EEXIST, &r::SETUP_DEVICE_EXISTS)),
                DeviceKind::VgicV3 => {
                    st.vgic = true;
                    Ok(())
                }
                // vgic_its_create checks nothing about the vGIC: an ITS
                // device can come first.
                DeviceKind::Its => {
                    if !st.vgic {
                        ok = &r::SETUP_ITS_WITHOUT_VGIC;
                    }
                    st.its = true;
                    Ok(())
                }
            };
            let o = outcome(Op::Write, "KVM_CREATE_DEVICE", 0, res, ok);
            check_errno(&o, &s.expect_error, &mut failures);
            (
                format!(
                    "KVM_CREATE_DEVICE {}: {}",
                    s.device.as_str(),
                    result_text(&o, false)
                ),
                o,
            )
        }
        Step::CreateVcpu(s) => {
            let initialised = vm.state().lifecycle != Lifecycle::Created;
            let Some(st) = vm.setup.as_deref_mut() else {
                return Some(Err(not_built()));
            };
            // kvm_vm_ioctl_create_vcpu: kvm_arch_vcpu_precreate (-EBUSY)
            // first; the id is found taken only after kvm_arch_vcpu_create
            // placed a redistributor, whose slot the destroyed vCPU keeps.
            // From 7.3 (kernels::CREATE_VCPU_ID_FIRST, measured) a taken id
            // is -EEXIST before the precreate check, with no redistributor placed.
            let id_first = host.has(&crate::kernels::CREATE_VCPU_ID_FIRST);
            let res = if id_first && st.has_vcpu(s.id) {
                Err((Errno::EEXIST, &r::SETUP_VCPU_EXISTS))
            } else if st.vgic && initialised {
                Err((Errno::EBUSY, &r::SETUP_VCPU_AFTER_INIT))
            } else if st.has_vcpu(s.id) {
                let online = st.vcpus.len();
                if st.vgic {
                    st.rd.push(None);
                    let _ = st.register(&host, online, online);
                    st.rd.pop();
                }
                Err((Errno::EEXIST, &r::SETUP_VCPU_EXISTS))
            } else {
                // kvm_arch_vcpu_create -> kvm_vgic_vcpu_init ->
                // vgic_register_redist_iodev, before online_vcpus counts it.
                let online = st.vcpus.len();
                let before = st.clone();
                st.vcpus.push(s.id);
                st.rd.push(None);
                if st.vgic && st.register(&host, online, online).is_err() {
                    *st = before;
                    Err((Errno::EINVAL, &r::SETUP_VCPU_REDIST_CHECK))
                } else {
                    Ok(())
                }
            };
            let o = outcome(
                Op::Write,
                "KVM_CREATE_VCPU",
                s.id as u64,
                res,
                &r::SETUP_CREATE_VCPU,
            );
            check_errno(&o, &s.expect_error, &mut failures);
            (
                format!("KVM_CREATE_VCPU {}: {}", s.id, result_text(&o, false)),
                o,
            )
        }
        Step::SetAddr(s) | Step::GetAddr(s) => {
            let set = matches!(step, Step::SetAddr(_));
            let ran = vm.state().lifecycle == Lifecycle::HasRun;
            let Some(st) = vm.setup.as_deref_mut() else {
                return Some(Err(not_built()));
            };
            let kind = s.addr.unwrap_or(AddrKind::Dist);
            let (res, value) = if set {
                (set_addr(st, &host, s, kind, ran), s.attr_value())
            } else {
                match get_addr(st, s, kind) {
                    Ok(v) => (Ok(()), v),
                    Err(e) => (Err(e), 0),
                }
            };
            let ok = if set {
                &r::SETUP_ADDR_SET
            } else {
                &r::SETUP_ADDR_GET
            };
            let o = outcome(
                if set { Op::Write } else { Op::Read },
                "KVM_DEV_ARM_VGIC_GRP_ADDR",
                value,
                res,
                ok,
            );
            check_errno(&o, &s.expect_error, &mut failures);
            if let (Some(Num(e)), None) = (s.expect, o.errno) {
                if o.value != e {
                    failures.push(format!("expected {e:#x}, read {:#x}", o.value));
                }
            }
            let summary = if set {
                format!(
                    "GRP_ADDR {} <- {value:#x}: {}",
                    kind.as_str(),
                    result_text(&o, false)
                )
            } else {
                format!("GRP_ADDR {} = {}", kind.as_str(), result_text(&o, true))
            };
            (summary, o)
        }
        Step::SetNrIrqs(s) => {
            let ready = vm.state().lifecycle == Lifecycle::HasRun;
            let initialised = vm.state().lifecycle != Lifecycle::Created;
            let Some(st) = vm.setup.as_deref_mut() else {
                return Some(Err(not_built()));
            };
            let v = s.value.0;
            let res = if !(64..=1023).contains(&v) || v % 32 != 0 {
                Err((Errno::EINVAL, &r::SETUP_NR_IRQS_BAD))
            } else if ready || initialised || st.nr_spis_set {
                Err((Errno::EBUSY, &r::SETUP_NR_IRQS_BUSY))
            } else {
                st.nr_spis_set = true;
                Ok(())
            };
            let o = outcome(
                Op::Write,
                "KVM_DEV_ARM_VGIC_GRP_NR_IRQS",
                v,
                res,
                &r::SETUP_NR_IRQS_SET,
            );
            check_errno(&o, &s.expect_error, &mut failures);
            (format!("GRP_NR_IRQS <- {v}: {}", result_text(&o, false)), o)
        }
        _ => return None,
    };
    Some(Ok((summary, o, failures)))
}

fn not_built() -> AccessError {
    AccessError::Setup("this step builds the VM by steps: start the scenario with create_vm".into())
}

fn set_addr(
    st: &mut Setup,
    host: &crate::host::Host,
    s: &AddrStep,
    kind: AddrKind,
    _ran: bool,
) -> Result<(), Refusal> {
    // kvm_vgic_addr: get_user of the value first.
    if s.null_pointer == Some(true) {
        return Err((Errno::EFAULT, &r::SETUP_ADDR_EFAULT));
    }
    let addr = s.attr_value();
    match kind {
        AddrKind::Dist => {
            st.check_iorange(host, st.dist.is_some(), addr, 0x1_0000, DIST_SIZE)?;
            st.dist = Some(addr);
            Ok(())
        }
        AddrKind::Its => {
            if !st.its {
                return Err((Errno::ENXIO, &r::SETUP_ADDR_SET));
            }
            st.check_iorange(host, st.its_base.is_some(), addr, 0x1_0000, ITS_SIZE)?;
            st.its_base = Some(addr);
            Ok(())
        }
        AddrKind::Redist => set_redist_base(st, host, 0, addr, 0),
        AddrKind::RedistRegion => {
            let count = ((addr >> 52) & 0xFFF) as u32;
            let flags = (addr >> 12) & 0xF;
            let index = (addr & 0xFFF) as u32;
            if count == 0 || flags != 0 {
                return Err((Errno::EINVAL, &r::SETUP_REGION_BAD_ATTR));
            }
            set_redist_base(st, host, index, addr & REGION_BASE_MASK, count)
        }
    }
}

/// `vgic_v3_set_redist_base`: `vgic_v3_alloc_redist_region`, then every
/// existing vCPU's redistributor placed (`vgic_register_all_redist_iodevs`);
/// if one cannot be, the region is dropped again.
fn set_redist_base(
    st: &mut Setup,
    host: &crate::host::Host,
    index: u32,
    base: u64,
    count: u32,
) -> Result<(), Refusal> {
    let online = st.vcpus.len();
    // 4612d98f58c7 (5.16): a legacy region is sized for the vCPUs online.
    let size = if count != 0 {
        count as u64 * REDIST_SIZE
    } else if host.has(&crate::kernels::VGIC_CHECK_IORANGE) {
        online as u64 * REDIST_SIZE
    } else {
        0
    };
    // Before d9b201e99c61 (5.13): `if (!count && !list_empty(rd_regions))
    // return -EINVAL;` came first.
    if count == 0 && !st.regions.is_empty() && !host.has(&crate::kernels::REDIST_BASE_ERROR_CODES) {
        return Err((Errno::EINVAL, &r::SETUP_ADDR_SET_TWICE));
    }
    if base.checked_add(size).is_none() {
        return Err((Errno::EINVAL, &r::SETUP_ADDR_ALIGNMENT));
    }
    if let Some(last) = st.regions.last() {
        if count == 0 && last.count != 0 {
            return Err((Errno::EINVAL, &r::SETUP_REDIST_MIX));
        }
        if count == 0 {
            return Err((Errno::EEXIST, &r::SETUP_ADDR_SET_TWICE));
        }
        if last.count == 0 {
            // A region after the legacy one: vgic_v3_alloc_redist_region's
            // `index != rdreg->index + 1` (the legacy region is index 0).
            if index != last.index + 1 {
                return Err((Errno::EINVAL, &r::SETUP_REDIST_MIX));
            }
        } else if index != last.index + 1 {
            return Err((Errno::EINVAL, &r::SETUP_REGION_INDEX));
        }
    } else if index != 0 {
        return Err((Errno::EINVAL, &r::SETUP_REGION_INDEX));
    }
    if count == 0 {
        if let Some(d) = st.dist {
            if base.saturating_add(size) > d && base < d + DIST_SIZE {
                return Err((Errno::EINVAL, &r::SETUP_REGION_OVERLAP));
            }
        }
    }
    if st.rdist_overlap(base, size, online) {
        return Err((Errno::EINVAL, &r::SETUP_REGION_OVERLAP));
    }
    st.check_iorange(host, false, base, 0x1_0000, size)?;
    let before = st.clone();
    st.regions.push(Region {
        index,
        base,
        count,
        free_index: 0,
    });
    for ci in 0..st.vcpus.len() {
        if st.register(host, ci, online).is_err() {
            *st = before;
            return Err((Errno::EINVAL, &r::SETUP_REGION_CHECK_BASE));
        }
    }
    Ok(())
}

fn get_addr(st: &Setup, s: &AddrStep, kind: AddrKind) -> Result<u64, Refusal> {
    match kind {
        AddrKind::Dist => Ok(st.dist.unwrap_or(ADDR_UNDEF)),
        AddrKind::Redist => Ok(st.regions.first().map_or(ADDR_UNDEF, |r| r.base)),
        AddrKind::Its => {
            if !st.its {
                return Err((Errno::ENXIO, &r::SETUP_ADDR_SET));
            }
            Ok(st.its_base.unwrap_or(ADDR_UNDEF))
        }
        AddrKind::RedistRegion => {
            if s.null_pointer == Some(true) {
                return Err((Errno::EFAULT, &r::SETUP_ADDR_EFAULT));
            }
            let index = s.index.map_or(0, |v| v.0) as u32 & 0xFFF;
            let Some(r) = st.regions.iter().find(|r| r.index == index) else {
                return Err((Errno::ENOENT, &r::SETUP_REGION_ENOENT));
            };
            Ok(index as u64 | r.base | (r.count as u64) << 52)
        }
    }
}

/// Checks a built VM makes before a device-attribute or `KVM_IRQ_LINE` step
/// reaches the vGIC: `vgic_v3_parse_attr` finds the vCPU by MPIDR (-EINVAL
/// when it was not created; DIST_REGS use the first vCPU created).
pub(super) fn missing_vcpu(vm: &Vgic, step: &Step) -> Option<Outcome> {
    let st = vm.setup.as_deref()?;
    let vcpu = match step {
        Step::UserRead(s) | Step::UserWrite(s) | Step::UserHas(s) => {
            let r = super::resolve(s, "").ok()?;
            match r.frame {
                crate::catalogue::Frame::Redist => Some(r.vcpu),
                // GRP_ITS_REGS on the ITS device: no vCPU involved.
                crate::catalogue::Frame::Its => None,
                crate::catalogue::Frame::Dist => {
                    if st.vcpus.is_empty() {
                        Some(u32::MAX)
                    } else {
                        None
                    }
                }
            }
        }
        Step::LevelInfoRead(s) | Step::LevelInfoWrite(s) => Some(s.vcpu.unwrap_or(0)),
        Step::CpuSysregsRead(s) | Step::CpuSysregsWrite(s) => Some(s.vcpu.unwrap_or(0)),
        Step::IrqLine(s) if s.intid < crate::vgic::NR_PRIVATE_IRQS => Some(s.vcpu.unwrap_or(0)),
        _ => None,
    }?;
    if st.has_vcpu(vcpu) {
        return None;
    }
    let rule: &'static Rule = if matches!(step, Step::IrqLine(_)) {
        &r::IRQ_LINE_EINVAL
    } else {
        &r::UACCESS_BAD_MPIDR
    };
    Some(outcome(
        Op::Read,
        "vCPU not created",
        0,
        Err((Errno::EINVAL, rule)),
        rule,
    ))
}

/// The first `KVM_RUN` of a built VM: `vgic_v3_map_resources`' address checks
/// come before its `vgic_initialized` check, and a failure marks the VM dead
/// where the kernel does (`kvm_vgic_map_resources`).
pub(super) fn first_run(vm: &mut Vgic) -> Option<Outcome> {
    let st = vm.setup.as_deref()?;
    if vm.state().lifecycle == Lifecycle::HasRun || !st.vgic {
        return None;
    }
    let (errno, rule) = st.map_check(vm.host())?;
    Some(vm.map_resources_failed(errno, rule))
}

/// What `init` needs of a built VM that the model cannot represent otherwise:
/// the vGIC sizes its redistributors on the vCPUs that exist.
pub(super) fn check_init(vm: &Vgic) -> Result<(), AccessError> {
    let Some(st) = vm.setup.as_deref() else {
        return Ok(());
    };
    let n = vm.state().config.vcpus;
    if st.vcpus.len() as u32 != n {
        return Err(AccessError::Setup(format!(
            "init with {} vCPUs created: the model's VM has vm.vcpus = {n}, so every id 0-{} must be created before init (KVM sizes the vGIC on the vCPUs that exist)",
            st.vcpus.len(),
            n - 1
        )));
    }
    Ok(())
}

/// A vCPU step on a built VM needs that vCPU to exist.
pub(super) fn check_vcpu_exists(vm: &Vgic, vcpu: u32) -> Result<(), AccessError> {
    match vm.setup.as_deref() {
        Some(st) if !st.has_vcpu(vcpu) => Err(AccessError::Setup(format!(
            "vCPU {vcpu} was not created (create_vcpu) before this step"
        ))),
        _ => Ok(()),
    }
}

/// Mark `init` as having given `nr_spis` its default (`vgic_init`: 224 SPIs).
pub(super) fn after_init(vm: &mut Vgic) {
    if let Some(st) = vm.setup.as_deref_mut() {
        st.nr_spis_set = true;
    }
}

/// GICR_TYPER.Last of vCPU `vcpu` in a built VM (`None`: not a built VM).
pub fn typer_last(setup: Option<&Setup>, vcpu: u32) -> Option<bool> {
    setup.map(|s| s.is_last(vcpu))
}

/// A read expectation, optionally under a mask: `(value & mask) == expect`.
pub fn check_masked(expect: Option<Num>, mask: Option<Num>, got: u64, failures: &mut Vec<String>) {
    let Some(Num(e)) = expect else {
        return;
    };
    match mask {
        Some(Num(m)) if got & m != e => failures.push(format!(
            "expected {e:#x} under mask {m:#x}, read {got:#x} ({:#x} under the mask)",
            got & m
        )),
        None if got != e => failures.push(format!("expected {e:#x}, read {got:#x}")),
        _ => {}
    }
}
