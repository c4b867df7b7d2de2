//! The model: one VM's vGICv3 (distributor + one redistributor per vCPU) on a
//! host, reachable through the guest MMIO path and the VMM's userspace
//! `KVM_{GET,SET,HAS}_DEVICE_ATTR` path.
//!
//! Like rust-vmm's `vm-superio` devices, the live device ([`Vgic`]) is separate
//! from its plain saved state ([`VgicState`]), with [`Vgic::from_state`] and
//! [`Vgic::state`]. Dispatch follows `vgic-mmio.c` (`dispatch_mmio_read`,
//! `vgic_uaccess`, `check_region`) over the [`crate::catalogue`] table; each
//! handler below names the kernel function it reproduces.
//!
//! ```
//! use gicx_core::{host::Host, vgic::{Vgic, VmConfig}, catalogue::Frame};
//! let host = Host::parse_compact("v4.1@6.8").unwrap();
//! let mut vm = Vgic::new(host, VmConfig::default());
//! vm.init();
//! // The 2020 rule: a restored TYPER2 must equal KVM's value exactly.
//! let out = vm.user_write(Frame::Dist, 0, 0xC, 0).unwrap();
//! assert_eq!(out.errno.map(|e| e.as_str()), Some("EINVAL"));
//! assert_eq!(out.rule().unwrap().id, "gicd.typer2.uaccess.exact_match");
//! ```

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::catalogue::{
    self, Frame, GicdCtlr, GicdIidr, GicdIrouter, GicdTyper, GicdTyper2, GicrCtlr, GicrIidr,
    GicrPendbaser, GicrPropbaser, GicrStatusr, GicrTyper, Handler, RegisterDesc, Reset,
};
use crate::cpuif::CpuIfState;
use crate::delivery::Live;
use crate::errno::Errno;
use crate::guest_memory::MemoryLayout;
use crate::host::{Era, Host};
use crate::rules::{self as r, Rule};

/// `VGIC_NR_PRIVATE_IRQS`.
pub const NR_PRIVATE_IRQS: u32 = 32;
/// `VGIC_NR_IRQS_LEGACY` (include/kvm/arm_vgic.h): what `vgic_init` freezes
/// when userspace never set `KVM_DEV_ARM_VGIC_GRP_NR_IRQS` (or a teardown reset it).
pub const VGIC_NR_IRQS_LEGACY: u32 = 256;
/// `VGIC_NR_SGIS`.
pub const NR_SGIS: u32 = 16;
/// `VGIC_MAX_RESERVED`: the largest nr_irqs value KVM accepts is below it (992).
pub const VGIC_MAX_RESERVED: u32 = 1023;
/// The most vCPUs gicx models (KVM's own limit is larger).
pub const MAX_VCPUS: u32 = 512;

/// `GICD_IIDR_PRODUCT_ID` of KVM's distributor ('K', vgic-mmio-v3.c).
pub const PRODUCT_ID_KVM: u64 = 0x4B;
/// `IMPLEMENTER_ARM` (arm-gic-v3.h): the JEP106 code both IIDRs carry.
pub const IMPLEMENTER_ARM: u64 = 0x43B;

/// GICD_IIDR for implementation revision `rev` (`vgic_mmio_read_v3_misc`).
pub const fn gicd_iidr(rev: u8) -> u32 {
    (GicdIidr::PRODUCT_ID.val(PRODUCT_ID_KVM)
        | GicdIidr::REVISION.val(rev as u64)
        | GicdIidr::IMPLEMENTER.val(IMPLEMENTER_ARM)) as u32
}

/// GICR_IIDR (`vgic_mmio_read_v3r_iidr`): no revision.
pub const GICR_IIDR: u64 =
    GicrIidr::PRODUCT_ID.val(PRODUCT_ID_KVM) | GicrIidr::IMPLEMENTER.val(IMPLEMENTER_ARM);

/// `INITIAL_PENDBASER_VALUE` (vgic.h): what `vgic_v3_enable` sets at init.
pub const INITIAL_PENDBASER_VALUE: u64 = 0x580;
/// `INITIAL_PROPBASER_VALUE` (vgic.h): what `vgic_its_create` sets.
pub const INITIAL_PROPBASER_VALUE: u64 = 0x580;

/// Errors in a VM description.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("vcpus = {0}: must be 1..={MAX_VCPUS}")]
    Vcpus(u32),
    #[error("nr_irqs = {0}: KVM_DEV_ARM_VGIC_GRP_NR_IRQS takes 64..=992 in steps of 32 (vgic-kvm-device.c rejects < 64, > VGIC_MAX_RESERVED = 1023, or not a multiple of 32: -EINVAL)")]
    NrIrqs(u32),
}

/// The VM's vGIC configuration, fixed before init.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct VmConfig {
    pub vcpus: u32,
    /// `KVM_DEV_ARM_VGIC_GRP_NR_IRQS`: SGIs + PPIs + SPIs.
    pub nr_irqs: u32,
    /// An in-kernel ITS (`KVM_DEV_TYPE_ARM_VGIC_ITS`) is created.
    pub its: bool,
    /// Guest RAM (`vm.memory`): the memslots the VMM registers, where the ITS
    /// finds its command queue and tables. Empty: the VM has no RAM the GIC
    /// can reach (every table access is -EFAULT).
    #[serde(default, skip_serializing_if = "MemoryLayout::is_empty")]
    pub memory: MemoryLayout,
}

impl Default for VmConfig {
    fn default() -> Self {
        VmConfig {
            vcpus: 4,
            nr_irqs: 256,
            its: false,
            memory: MemoryLayout::default(),
        }
    }
}

impl VmConfig {
    pub fn new(vcpus: u32, nr_irqs: u32, its: bool) -> Result<VmConfig, ConfigError> {
        if !(1..=MAX_VCPUS).contains(&vcpus) {
            return Err(ConfigError::Vcpus(vcpus));
        }
        if !(64..=VGIC_MAX_RESERVED).contains(&nr_irqs) || !nr_irqs.is_multiple_of(32) {
            return Err(ConfigError::NrIrqs(nr_irqs));
        }
        Ok(VmConfig {
            vcpus,
            nr_irqs,
            its,
            memory: MemoryLayout::default(),
        })
    }
    pub fn nr_spis(&self) -> u32 {
        self.nr_irqs - NR_PRIVATE_IRQS
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VmSpec {
    vcpus: Option<u32>,
    nr_irqs: Option<u32>,
    its: Option<bool>,
    memory: Option<MemoryLayout>,
}

impl<'de> Deserialize<'de> for VmConfig {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = VmSpec::deserialize(d)?;
        VmConfig::new(
            s.vcpus.unwrap_or(4),
            s.nr_irqs.unwrap_or(256),
            s.its.unwrap_or(false),
        )
        .map(|c| VmConfig {
            memory: s.memory.unwrap_or_default(),
            ..c
        })
        .map_err(serde::de::Error::custom)
    }
}

pub use crate::host::{mpidr_to_vcpu, vcpu_mpidr};

/// The VM's lifecycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Lifecycle {
    /// Device created, `KVM_DEV_ARM_VGIC_CTRL_INIT` not yet called.
    Created,
    /// Initialised, no vCPU has run.
    Initialised,
    /// The first `KVM_RUN` happened.
    HasRun,
}

/// The state of one interrupt (`struct vgic_irq`, include/kvm/arm_vgic.h).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct IrqState {
    pub group: bool,
    pub enabled: bool,
    pub pending_latch: bool,
    pub line_level: bool,
    pub active: bool,
    pub priority: u8,
    /// `config == VGIC_CONFIG_EDGE`.
    pub edge: bool,
    /// IROUTER affinity (SPIs); the owning vCPU's affinity for private IRQs.
    pub mpidr: u32,
    /// Backed by hardware: a GICv4.1 vSGI (`irq->hw` with INTID < 16).
    pub hw: bool,
    /// Pending state held by the ITS/vPE for a hardware vSGI.
    pub hw_pending: bool,
}

impl IrqState {
    /// `irq_is_pending`: edge reads the latch, level the latch or the line.
    pub fn is_pending(&self) -> bool {
        if self.edge {
            self.pending_latch
        } else {
            self.pending_latch || self.line_level
        }
    }
}

/// Distributor state (`struct vgic_dist`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DistState {
    pub enabled: bool,
    pub nassgireq: bool,
    /// `implementation_rev`: 2 (4.19–5.18) or 3 (5.19+) at creation.
    pub implementation_rev: u8,
    /// Per-VM `nassgicap` (6.17+); before 6.17 derived from the host.
    pub nassgicap: bool,
    pub propbaser: u64,
    pub spis: Vec<IrqState>,
}

/// Redistributor state of one vCPU (`struct vgic_cpu`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedistState {
    /// SGIs 0–15 and PPIs 16–31.
    pub private: Vec<IrqState>,
    /// GICR_CTLR state: EnableLPIs (and RWP, transiently).
    pub ctlr: u32,
    pub pendbaser: u64,
}

/// What the guest has looked at and turned on: migration verdicts compare it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuestObservations {
    /// Register instance (e.g. `GICD_TYPER2`, `GICR_TYPER@vcpu1`) → the value the guest last read.
    pub reads: BTreeMap<String, u64>,
    /// Features the guest turned on, e.g. `nASSGIreq`, `distributor enabled`, `LPIs`.
    pub features: BTreeSet<String>,
}

/// The whole saved state of a VM's vGIC: plain and serialisable.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VgicState {
    /// The layout of this struct ([`VgicState::FORMAT_VERSION`]); snapshots written
    /// before it existed have none and read as version 1. [`Vgic::from_state`]
    /// refuses any other version.
    #[serde(default = "VgicState::first_version")]
    pub version: u32,
    pub config: VmConfig,
    pub lifecycle: Lifecycle,
    pub dist: DistState,
    pub redists: Vec<RedistState>,
    /// Each vCPU's CPU-interface registers (ICH_VMCR_EL2, ICH_AP1R0_EL2); empty
    /// in snapshots older than the delivery model, which load with reset values.
    #[serde(default)]
    pub cpuifs: Vec<CpuIfState>,
    /// `kvm_vm_dead`: a first `KVM_RUN` failed to map the vGIC's resources on a
    /// kernel with [`crate::kernels::VM_DEAD_ON_MAP_FAILURE`]; every later ioctl
    /// on the VM is -EIO.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub vm_dead: bool,
    /// What a failed first `KVM_RUN` left behind on kernels without
    /// [`crate::kernels::VM_DEAD_ON_MAP_FAILURE`] (5.10.223 measured).
    #[serde(default, skip_serializing_if = "FailedRun::is_clear")]
    pub failed_run: FailedRun,
}

impl VgicState {
    /// The layout this build writes and reads. Raise it when a field changes meaning
    /// or a new field has no safe default.
    pub const FORMAT_VERSION: u32 = 1;
    fn first_version() -> u32 {
        1
    }
}

/// The traces of a failed first `KVM_RUN` (`kvm_vgic_map_resources` returning
/// an error) on kernels that tear the vGIC down instead of killing the VM.
///
/// vgic-init.c `kvm_vgic_map_resources` before df5fd75ee305: `if (ret)
/// __kvm_vgic_destroy(kvm);` — `kvm_vgic_dist_destroy` frees the SPIs
/// (`nr_spis = 0`, so a later `vgic_init` freezes the legacy 256 interrupts)
/// and the redistributor regions (`dist->rd_regions`). And arm.c
/// `kvm_vcpu_first_run_init` before cc5705fb1bf1 (5.16) sets
/// `vcpu->arch.has_run_once = true` before mapping: that vCPU's later
/// `KVM_RUN`s skip the mapping and enter the guest, where no distributor
/// device is registered (`vgic_register_dist_iodev` runs only in a mapping
/// that succeeds), so its accesses exit to the VMM.
///
/// Measured on real KVM 5.10.223 (tests/scenarios/kvm-failed-run-5.10.json).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailedRun {
    /// `__kvm_vgic_destroy` ran.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub torn_down: bool,
    /// vCPUs whose failed first `KVM_RUN` still set `has_run_once`.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub counted_as_run: BTreeSet<u32>,
    /// Such a vCPU's `KVM_RUN` succeeded: from then on, as after any
    /// successful run, every vCPU passes through `KVM_RUN` between two steps.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub entered_guest: bool,
}

impl FailedRun {
    pub fn is_clear(&self) -> bool {
        !self.torn_down && self.counted_as_run.is_empty() && !self.entered_guest
    }
}

/// An invalid saved state.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    #[error("state format version {found} is not one this build reads (version {expected}): save it again with a matching gicx")]
    Version { found: u32, expected: u32 },
    #[error("state has {found} SPIs but nr_irqs {nr_irqs} needs {expected}")]
    SpiCount {
        found: usize,
        expected: u32,
        nr_irqs: u32,
    },
    #[error("state has {found} redistributors but vcpus is {expected}")]
    RedistCount { found: usize, expected: u32 },
    #[error("redistributor {vcpu} has {found} private IRQs, expected 32")]
    PrivateCount { vcpu: usize, found: usize },
    #[error("implementation_rev {0} is not 2 or 3")]
    Revision(u8),
    #[error("state has {found} CPU interfaces but vcpus is {expected}")]
    CpuIfCount { found: usize, expected: u32 },
}

/// The access path.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Path {
    /// Guest MMIO (trapped data abort → `dispatch_mmio_read/write`).
    Guest,
    /// VMM `KVM_{GET,SET,HAS}_DEVICE_ATTR` on DIST_REGS/REDIST_REGS.
    User,
}

/// The kind of access.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Op {
    Read,
    Write,
    /// `KVM_HAS_DEVICE_ATTR`.
    Has,
    /// `KVM_DEV_ARM_VGIC_CTRL_INIT`.
    Init,
    /// The first `KVM_RUN`.
    Run,
}

/// The result of one access, with the rules that decided it.
#[derive(Clone, Debug, Serialize)]
pub struct Outcome {
    pub path: Path,
    pub op: Op,
    pub frame: Option<Frame>,
    pub vcpu: u32,
    pub offset: u32,
    pub width: u8,
    /// The register instance addressed, e.g. `GICD_ISENABLER1`.
    pub register: Option<String>,
    /// The value read (reads) or written (writes).
    pub value: u64,
    pub errno: Option<Errno>,
    pub rules: Vec<&'static Rule>,
    /// Side effects and details in words, e.g. "KVM_REQ_RELOAD_GICv4 sent to all vCPUs".
    pub notes: Vec<String>,
    /// The hops of the step this outcome belongs to (filled by the scenario
    /// runner from `Vgic::take_trace`; serialised as the step's `trace`).
    #[serde(skip)]
    pub trace: Vec<crate::trace::Hop>,
}

impl Outcome {
    pub fn ok(&self) -> bool {
        self.errno.is_none()
    }
    /// The deciding rule (the last one applied).
    pub fn rule(&self) -> Option<&'static Rule> {
        self.rules.last().copied()
    }
}

/// An access that cannot be made at all (not a KVM error: a malformed request).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AccessError {
    #[error("width {0} is not an access size: use 8, 16, 32 or 64 bits")]
    BadWidth(u8),
    #[error("userspace device attributes are 32-bit: width {0} is not possible")]
    UserWidth(u8),
    #[error("offset {offset:#x} is outside the {frame} frame (size {size:#x})", frame = frame.as_str())]
    OutsideFrame {
        frame: Frame,
        offset: u32,
        size: u32,
    },
    #[error("vCPU {vcpu} does not exist (the VM has {vcpus})")]
    NoSuchVcpu { vcpu: u32, vcpus: u32 },
    #[error("value {value:#x} does not fit in {width} bits")]
    ValueTooWide { value: u64, width: u8 },
    #[error("the guest cannot access its GIC before the first KVM_RUN: add a `run` step first")]
    GuestNotRunning,
    #[error("{0}")]
    Setup(String),
    #[error("vCPU {vcpu} is not running (a `schedule` step took it off its CPU): schedule it back with {{\"op\": \"schedule\", \"vcpu\": {vcpu}, \"resident\": true}} before it executes instructions")]
    VcpuNotRunning { vcpu: u32 },
}

/// Which rules a restore of GICD_TYPER2 and GICD_IIDR follows: the kernel era's
/// own, or an alternative under design review (issue: migration policies).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RestorePolicy {
    /// The host kernel era's real rules.
    #[default]
    Kernel,
    /// Accept any TYPER2/IIDR and ignore it, as before 5.7 (TYPER2) and 4.19 (IIDR).
    AcceptAny,
    /// The rule proposed in the 2020 discussion (M. Zyngier, 23 Mar 2020): accept a
    /// saved nASSGIcap that is 0 or equal to the host's; the VM then presents the
    /// restored value to its guest. IIDR follows the era's rule.
    Relaxed2020,
}

impl RestorePolicy {
    pub const ALL: [RestorePolicy; 3] = [
        RestorePolicy::Kernel,
        RestorePolicy::AcceptAny,
        RestorePolicy::Relaxed2020,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            RestorePolicy::Kernel => "kernel",
            RestorePolicy::AcceptAny => "accept-any",
            RestorePolicy::Relaxed2020 => "relaxed-2020",
        }
    }
}

impl std::str::FromStr for RestorePolicy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RestorePolicy::ALL
            .into_iter()
            .find(|p| p.as_str() == s.trim())
            .ok_or_else(|| {
                format!("unknown policy {s:?}: expected kernel, accept-any or relaxed-2020")
            })
    }
}

/// One VM's vGIC on one host.
#[derive(Clone, Debug)]
pub struct Vgic {
    pub(crate) host: Host,
    pub(crate) state: VgicState,
    policy: RestorePolicy,
    /// KVM's ap_lists, vCPU run states, the host ITS and the trace (crate::delivery).
    pub(crate) live: Live,
    /// A VM built by scenario steps (`create_vm`): its vCPUs, regions and
    /// addresses (crate::scenario::setup); `None` for the VM a VMM built.
    pub setup: Option<Box<crate::scenario::setup::Setup>>,
    /// What the guest read and turned on, for migration verdicts: analysis, not KVM
    /// state, so neither saved in [`VgicState`] nor restored by [`Vgic::from_state`].
    observed: GuestObservations,
    /// The emulated ITS device (`KVM_DEV_TYPE_ARM_VGIC_ITS`), made on first use
    /// (vgic/its_device.rs). Live only: not in [`VgicState`] yet, so a
    /// migration carries no ITS state (issue 17).
    pub(crate) vits: Option<Box<crate::vits::Its>>,
    /// Guest RAM (`vm.memory`), made on first use.
    pub(crate) memory: Option<Box<crate::guest_memory::GuestMemory>>,
}

fn reset_irq(intid: u32, owner_mpidr: u32) -> IrqState {
    // vgic-init.c: kvm_vgic_dist_init (SPIs: group 1 for GICv3, mpidr 0, edge) and
    // vgic_allocate_private_irqs_locked (SGIs enabled + edge, PPIs level).
    IrqState {
        group: true,
        enabled: intid < NR_SGIS,
        pending_latch: false,
        line_level: false,
        active: false,
        priority: 0,
        edge: !(NR_SGIS..NR_PRIVATE_IRQS).contains(&intid),
        mpidr: if intid < NR_PRIVATE_IRQS {
            owner_mpidr
        } else {
            0
        },
        hw: false,
        hw_pending: false,
    }
}

/// Per-access context: collects the rules and notes.
struct Ctx {
    rules: Vec<&'static Rule>,
    notes: Vec<String>,
    /// Bulk replays ([`Vgic::user_access_lean`]): the notes are not kept (nor formatted).
    lean: bool,
}

impl Ctx {
    fn new() -> Self {
        Ctx {
            rules: Vec::new(),
            notes: Vec::new(),
            lean: false,
        }
    }
    fn rule(&mut self, rule: &'static Rule) {
        if !self.rules.iter().any(|x| std::ptr::eq(*x, rule)) {
            self.rules.push(rule);
        }
    }
    fn note(&mut self, s: impl Into<String>) {
        if !self.lean {
            self.notes.push(s.into());
        }
    }
    /// A note that is formatted only when it is kept.
    fn note_with(&mut self, f: impl FnOnce() -> String) {
        if !self.lean {
            self.notes.push(f());
        }
    }
}

/// `extract_bytes`: `num` bytes at byte `offset` of `data`.
fn extract_bytes(data: u64, offset: u32, num: u8) -> u64 {
    let shifted = data >> (offset * 8);
    if num >= 8 {
        shifted
    } else {
        shifted & ((1u64 << (num as u32 * 8)) - 1)
    }
}

/// `update_64bit_reg`: replace one half (or all) of a 64-bit register.
fn update_64bit_reg(reg: u64, offset: u32, len: u8, val: u64) -> u64 {
    let lower = (offset & 4) * 8;
    let bits = len as u32 * 8;
    let mask = if bits >= 64 {
        u64::MAX
    } else {
        ((1u64 << bits) - 1) << lower
    };
    let val = if bits >= 64 {
        val
    } else {
        val & ((1u64 << bits) - 1)
    };
    (reg & !mask) | (val << lower)
}

// vgic_sanitise_* (vgic-mmio-v3.c) over the GIC_BASER fields (arm-gic-v3.h). The
// RES0 bits (`PROPBASER_RES0_MASK`, `PENDBASER_RES0_MASK`) are the bits outside the
// catalogue's fields; GICR_PROPBASER and GICR_PENDBASER place InnerCache,
// Shareability and OuterCache alike.

fn sanitise_baser(reg: u64, fields: &[catalogue::FieldDesc]) -> u64 {
    let field = |r: u64, fd: catalogue::FieldDesc, f: fn(u64) -> u64| fd.set(r, f(fd.get(r)));
    // OuterShareable (2) -> InnerShareable (1).
    let reg = field(
        reg,
        GicrPropbaser::SHAREABILITY,
        |v| if v == 2 { 1 } else { v },
    );
    // Inner nCnB (0) / nC (1) -> RaWb.
    let reg = field(reg, GicrPropbaser::INNER_CACHE, |v| {
        if v <= 1 {
            GIC_BASER_CACHE_RAWB
        } else {
            v
        }
    });
    // Outer: SameAsInner (0) and nC (1) kept, anything else -> SameAsInner.
    let reg = field(
        reg,
        GicrPropbaser::OUTER_CACHE,
        |v| if v <= 1 { v } else { 0 },
    );
    reg & catalogue::defined_bits(fields)
}
/// `GIC_BASER_RaWb`: arm-gic-v3.h numbers the cacheability field
/// nCnB 0, nC 1, RaWt 2, RaWb 3, WaWt 4, WaWb 5, RaWaWt 6, RaWaWb 7.
const GIC_BASER_CACHE_RAWB: u64 = 3;

impl Vgic {
    /// Create the vGIC device (`kvm_vgic_create`) with `nr_irqs` already set.
    pub fn new(host: Host, config: VmConfig) -> Vgic {
        let era = host.era();
        let dist = DistState {
            enabled: false,
            nassgireq: false,
            // KVM_VGIC_IMP_REV_LATEST: 2 from 4.19 (d53c2c29ae0d), 3 from 5.19 (49a1a2c70a7f).
            implementation_rev: if era >= Era::V5_19 { 3 } else { 2 },
            // kvm_vgic_create (6.17+): nassgicap = system_supports_direct_sgis().
            nassgicap: host.system_supports_direct_sgis(),
            // vgic-its.c vgic_its_create (every era): creating the ITS device sets
            // `kvm->arch.vgic.propbaser = INITIAL_PROPBASER_VALUE` (vgic.h: inner RaWb,
            // outer SameAsInner, InnerShareable = 0x580). Seen on real KVM 5.10.223,
            // 6.12.86/88 and 7.3.4 (scripts/kvm --migrations, cloud-hypervisor's VM).
            propbaser: if config.its {
                INITIAL_PROPBASER_VALUE
            } else {
                0
            },
            spis: (NR_PRIVATE_IRQS..config.nr_irqs)
                .map(|i| reset_irq(i, 0))
                .collect(),
        };
        let redists = (0..config.vcpus)
            .map(|v| RedistState {
                private: (0..NR_PRIVATE_IRQS)
                    .map(|i| reset_irq(i, vcpu_mpidr(v)))
                    .collect(),
                ctlr: 0,
                pendbaser: 0,
            })
            .collect();
        Vgic {
            host,
            state: VgicState {
                version: VgicState::FORMAT_VERSION,
                config,
                lifecycle: Lifecycle::Created,
                dist,
                redists,
                cpuifs: vec![CpuIfState::default(); config.vcpus as usize],
                vm_dead: false,
                failed_run: FailedRun::default(),
            },
            policy: RestorePolicy::Kernel,
            live: Live::new(config.vcpus),
            setup: None,
            observed: GuestObservations::default(),
            vits: None,
            memory: None,
        }
    }

    /// Rebuild a device from saved state, checking it is consistent.
    pub fn from_state(host: Host, mut state: VgicState) -> Result<Vgic, StateError> {
        if state.version != VgicState::FORMAT_VERSION {
            return Err(StateError::Version {
                found: state.version,
                expected: VgicState::FORMAT_VERSION,
            });
        }
        let c = &state.config;
        if state.dist.spis.len() != c.nr_spis() as usize {
            return Err(StateError::SpiCount {
                found: state.dist.spis.len(),
                expected: c.nr_spis(),
                nr_irqs: c.nr_irqs,
            });
        }
        if state.redists.len() != c.vcpus as usize {
            return Err(StateError::RedistCount {
                found: state.redists.len(),
                expected: c.vcpus,
            });
        }
        if let Some((vcpu, rd)) = state
            .redists
            .iter()
            .enumerate()
            .find(|(_, rd)| rd.private.len() != 32)
        {
            return Err(StateError::PrivateCount {
                vcpu,
                found: rd.private.len(),
            });
        }
        if !(2..=3).contains(&state.dist.implementation_rev) {
            return Err(StateError::Revision(state.dist.implementation_rev));
        }
        if state.cpuifs.is_empty() {
            state.cpuifs = vec![CpuIfState::default(); state.config.vcpus as usize];
        } else if state.cpuifs.len() != state.config.vcpus as usize {
            return Err(StateError::CpuIfCount {
                found: state.cpuifs.len(),
                expected: state.config.vcpus,
            });
        }
        let vcpus = state.config.vcpus;
        let mut vm = Vgic {
            host,
            state,
            policy: RestorePolicy::Kernel,
            live: Live::new(vcpus),
            setup: None,
            observed: GuestObservations::default(),
            vits: None,
            memory: None,
        };
        vm.rebuild_live();
        Ok(vm)
    }

    /// Select the restore policy for GICD_TYPER2/GICD_IIDR writes from userspace.
    pub fn set_restore_policy(&mut self, policy: RestorePolicy) {
        self.policy = policy;
    }
    pub fn restore_policy(&self) -> RestorePolicy {
        self.policy
    }

    pub fn state(&self) -> &VgicState {
        &self.state
    }
    pub fn into_state(self) -> VgicState {
        self.state
    }
    pub fn host(&self) -> &Host {
        &self.host
    }
    pub fn config(&self) -> &VmConfig {
        &self.state.config
    }
    pub fn lifecycle(&self) -> Lifecycle {
        self.state.lifecycle
    }
    pub fn era(&self) -> Era {
        self.host.era()
    }
    /// What the guest has read and turned on since this `Vgic` was made (not saved:
    /// a VM rebuilt by [`Vgic::from_state`] starts with none).
    pub fn observed(&self) -> &GuestObservations {
        &self.observed
    }

    /// The state of INTID `intid` as seen from vCPU `vcpu` (private IRQs are per vCPU).
    pub fn irq(&self, vcpu: u32, intid: u32) -> Option<&IrqState> {
        if intid >= crate::vits::LPI_OFFSET {
            self.live.lpis.get(&intid)
        } else if intid < NR_PRIVATE_IRQS {
            self.state
                .redists
                .get(vcpu as usize)
                .map(|rd| &rd.private[intid as usize])
        } else {
            self.state.dist.spis.get((intid - NR_PRIVATE_IRQS) as usize)
        }
    }

    /// Mutable access for the delivery layer.
    pub fn irq_mut(&mut self, vcpu: u32, intid: u32) -> Option<&mut IrqState> {
        if intid >= crate::vits::LPI_OFFSET {
            self.live.lpis.get_mut(&intid)
        } else if intid < NR_PRIVATE_IRQS {
            self.state
                .redists
                .get_mut(vcpu as usize)
                .map(|rd| &mut rd.private[intid as usize])
        } else {
            self.state
                .dist
                .spis
                .get_mut((intid - NR_PRIVATE_IRQS) as usize)
        }
    }

    pub fn dist(&self) -> &DistState {
        &self.state.dist
    }

    /// Whether this VM may use hardware vSGIs: the gate of the guest CTLR path and
    /// of TYPER2.nASSGIcap. 5.7–5.12 `has_gicv4_1`; 5.13–6.16 `&& gic_cpuif_has_vsgi()`;
    /// 6.17+ `vgic_supports_direct_sgis(kvm)` = the per-VM `nassgicap`.
    pub fn vm_supports_direct_sgis(&self) -> bool {
        if self.era() >= Era::V6_17
            || (self.policy == RestorePolicy::Relaxed2020 && self.era() >= Era::V5_7)
        {
            self.state.dist.nassgicap
        } else {
            self.host.system_supports_direct_sgis()
        }
    }

    /// The gate of the userspace CTLR path: 5.7–6.16 `has_gicv4_1` only (no CPU-interface
    /// check); 6.17+ `vgic_supports_direct_sgis(kvm)`.
    fn uaccess_nassgireq_allowed(&self) -> bool {
        if self.era() >= Era::V6_17
            || (self.policy == RestorePolicy::Relaxed2020 && self.era() >= Era::V5_7)
        {
            self.state.dist.nassgicap
        } else {
            self.host.has_gicv4_1()
        }
    }

    // ---------------------------------------------------------------- lifecycle

    /// `KVM_DEV_ARM_VGIC_CTRL_INIT` (vgic-init.c `vgic_init`): idempotent.
    pub fn init(&mut self) -> Outcome {
        let mut cx = Ctx::new();
        cx.rule(&r::INIT_OK);
        if self.host.gcie_legacy() {
            // vgic-v5.c vgic_v5_probe: the device being initialised is the
            // GICv3 one KVM registered for FEAT_GCIE_LEGACY (and, 7.1+, beside a
            // native vGICv5 device this VM does not use).
            cx.rule(&r::HOST_GICV5_COMPAT);
            if self.host.kernel >= crate::host::GICV5_NATIVE_KERNEL {
                cx.rule(&r::HOST_GICV5_NATIVE);
            }
        }
        if self.state.lifecycle == Lifecycle::Created {
            if self.state.config.nr_irqs == NR_PRIVATE_IRQS {
                // vgic_init: `if (!dist->nr_spis) dist->nr_spis =
                // VGIC_NR_IRQS_LEGACY - VGIC_NR_PRIVATE_IRQS;` after a teardown
                // freed them (measured: 5.10.223 then reads GICD_TYPER ITLines 7).
                cx.rule(&r::TEARDOWN_ON_MAP_FAILURE);
                cx.note(
                    "nr_spis is 0 after the teardown: vgic_init freezes the legacy 256 interrupts",
                );
                self.state.config.nr_irqs = VGIC_NR_IRQS_LEGACY;
                self.state.dist.spis = (NR_PRIVATE_IRQS..VGIC_NR_IRQS_LEGACY)
                    .map(|i| reset_irq(i, 0))
                    .collect();
            }
            self.state.lifecycle = Lifecycle::Initialised;
            for c in &mut self.state.cpuifs {
                c.reset_vmcr();
            }
            self.alloc_vpes();
            // vgic_init -> kvm_vgic_vcpu_enable -> vgic_v3_enable (vgic-v3.c, every era):
            // `vgic_cpu->pendbaser = INITIAL_PENDBASER_VALUE` (vgic.h: inner RaWb,
            // outer SameAsInner, InnerShareable = 0x580). Seen on real KVM 5.10.223,
            // 6.12.86/88 and 7.3.4 by scripts/kvm --migrations (GICR_PENDBASER reads
            // 0x580 on a VM no guest touched).
            for rd in &mut self.state.redists {
                rd.pendbaser = INITIAL_PENDBASER_VALUE;
            }
            self.irqfd_on_init();
        } else {
            cx.note("already initialised: nothing to do");
        }
        self.outcome(Path::User, Op::Init, None, 0, 0, 0, None, 0, None, cx)
    }

    /// Whether the VM is dead (`kvm_vm_dead`): every ioctl fails with -EIO.
    pub fn is_dead(&self) -> bool {
        self.state.vm_dead
    }

    /// What any ioctl on a dead VM returns (`kvm_vm_ioctl`, `kvm_vcpu_ioctl`,
    /// `kvm_device_ioctl`: `if (kvm->vm_dead) return -EIO;`).
    /// A first `KVM_RUN` whose `vgic_v3_map_resources` refuses the VM's
    /// addresses (a VM built by steps: crate::scenario::setup::first_run),
    /// failing like the run before init does: the VM is dead where the
    /// kernel carries df5fd75ee305.
    pub fn map_resources_failed(&mut self, errno: Errno, rule: &'static Rule) -> Outcome {
        let mut cx = Ctx::new();
        cx.rule(rule);
        if self.host.has(&crate::kernels::VM_DEAD_ON_MAP_FAILURE) {
            cx.rule(&r::VM_DEAD);
            cx.note(
                "kvm_vgic_map_resources failed: kvm_vm_dead, every later ioctl on this VM is -EIO",
            );
            self.state.vm_dead = true;
        }
        self.outcome(Path::User, Op::Run, None, 0, 0, 0, None, 0, Some(errno), cx)
    }

    pub fn dead_outcome(&self) -> Outcome {
        let mut cx = Ctx::new();
        cx.rule(&r::VM_DEAD);
        self.outcome(
            Path::User,
            Op::Run,
            None,
            0,
            0,
            0,
            None,
            0,
            Some(Errno::EIO),
            cx,
        )
    }

    /// A `run` step: `KVM_RUN` on every vCPU in order, stopping at the first
    /// that fails (as `gicx-kvm` does). The first one maps the vGIC
    /// (`kvm_vgic_map_resources` → `vgic_v3_map_resources`).
    pub fn run(&mut self) -> Outcome {
        let mut cx = Ctx::new();
        for v in 0..self.state.config.vcpus {
            if let Some(e) = self.run_vcpu(v, &mut cx) {
                return self.outcome(Path::User, Op::Run, None, v, 0, 0, None, 0, Some(e), cx);
            }
        }
        self.outcome(Path::User, Op::Run, None, 0, 0, 0, None, 0, None, cx)
    }

    /// The `KVM_RUN` a guest step on vCPU `vcpu` needs (the runner executes
    /// the step's instructions on that vCPU).
    pub fn run_on(&mut self, vcpu: u32) -> Outcome {
        let mut cx = Ctx::new();
        let vcpu = vcpu.min(self.state.config.vcpus.saturating_sub(1));
        let errno = self.run_vcpu(vcpu, &mut cx);
        self.outcome(Path::User, Op::Run, None, vcpu, 0, 0, None, 0, errno, cx)
    }

    /// Whether a vCPU can execute guest instructions: the vGIC is mapped, or
    /// (before 5.16) the vCPU's failed first run counted as a run.
    pub fn vcpu_in_guest(&self, vcpu: u32) -> bool {
        self.state.lifecycle == Lifecycle::HasRun
            || self.state.failed_run.counted_as_run.contains(&vcpu)
    }

    /// After a step (`ran`: it made a `KVM_RUN` that succeeded). Between two
    /// steps every vCPU passes through `KVM_RUN` once (the
    /// format's time model, `gicx-kvm`'s settling): once a vCPU ran the guest
    /// without the vGIC mapped, the others make their first run then, which
    /// maps the vGIC (after init) or fails and counts as a run (before 5.16).
    pub fn after_step(&mut self, ran: bool) {
        if self.state.lifecycle == Lifecycle::HasRun || self.state.vm_dead {
            return;
        }
        if ran && !self.state.failed_run.counted_as_run.is_empty() {
            self.state.failed_run.entered_guest = true;
        }
        if !self.state.failed_run.entered_guest {
            return;
        }
        let mut cx = Ctx::new();
        for v in 0..self.state.config.vcpus {
            let _ = self.run_vcpu(v, &mut cx);
        }
    }

    /// One vCPU's `KVM_RUN`: its first run maps the vGIC (arm.c
    /// `kvm_vcpu_first_run_init` / `kvm_arch_vcpu_run_pid_change`); an error
    /// there is the ioctl's.
    fn run_vcpu(&mut self, vcpu: u32, cx: &mut Ctx) -> Option<Errno> {
        if self.state.lifecycle == Lifecycle::HasRun {
            cx.rule(&r::RUN_OK);
            cx.note("vCPUs already ran: vgic_ready, nothing to map");
            return None;
        }
        if self.state.failed_run.counted_as_run.contains(&vcpu) {
            if self.state.lifecycle == Lifecycle::Initialised {
                // kvm_vgic_load loads the VMCR once the vGIC is initialised
                // (vgic_v3_load), and vgic_v3_put reads it back: the binary
                // points come back at the hardware's minimum (measured on
                // 5.10.223: ICC_BPR0_EL1 2, ICC_BPR1_EL1 3 after init and a run).
                if let Some(c) = self.state.cpuifs.get_mut(vcpu as usize) {
                    c.through_hardware();
                }
            }
            cx.rule(&r::FAILED_RUN_COUNTS_AS_RUN);
            cx.note(format!(
                "vCPU {vcpu}'s failed first KVM_RUN set has_run_once: it enters the guest without mapping the vGIC"
            ));
            return None;
        }
        if self.state.lifecycle == Lifecycle::Initialised {
            cx.rule(&r::RUN_OK);
            self.state.lifecycle = Lifecycle::HasRun;
            // vgic_v3_map_resources: `if (kvm_vgic_global_state.has_gicv4_1)
            // vgic_v4_configure_vsgis(kvm);` (5.7+, unchanged in 6.17).
            // KVM_RUN loads the vCPU (vgic_v4_load) before kvm_vgic_map_resources.
            self.first_run();
            if self.host.has_gicv4_1() {
                self.configure_vsgis(cx);
            }
            return None;
        }
        // Lifecycle::Created: vgic_v3_map_resources is -EBUSY.
        if self.host.has(&crate::kernels::VM_DEAD_ON_MAP_FAILURE) {
            cx.rule(&r::RUN_BEFORE_INIT);
            cx.rule(&r::VM_DEAD);
            cx.note(
                "kvm_vgic_map_resources failed: kvm_vm_dead, every later ioctl on this VM is -EIO",
            );
            self.state.vm_dead = true;
            return Some(Errno::EBUSY);
        }
        cx.rule(&r::TEARDOWN_ON_MAP_FAILURE);
        cx.note("kvm_vgic_map_resources failed: __kvm_vgic_destroy freed the SPIs (nr_spis = 0) and the redistributor regions");
        self.tear_down();
        if !self.host.has(&crate::kernels::RUN_ONCE_BY_PID) {
            cx.rule(&r::FAILED_RUN_COUNTS_AS_RUN);
            cx.note(format!(
                "has_run_once was set before the mapping failed: vCPU {vcpu}'s next KVM_RUN enters the guest"
            ));
            self.state.failed_run.counted_as_run.insert(vcpu);
        }
        cx.rule(&r::RUN_BEFORE_INIT);
        Some(Errno::EBUSY)
    }

    /// `__kvm_vgic_destroy` after a failed mapping (before df5fd75ee305):
    /// `kvm_vgic_dist_destroy` frees the SPIs and sets `nr_spis = 0`.
    fn tear_down(&mut self) {
        self.state.failed_run.torn_down = true;
        self.state.config.nr_irqs = NR_PRIVATE_IRQS;
        self.state.dist.spis.clear();
    }

    /// `vgic_v4_configure_vsgis`: move every vCPU's SGIs to or from hardware
    /// according to `nassgireq` (vgic-v4.c, 5.7+).
    pub fn configure_vsgis(&mut self, cx_out: &mut impl RuleSink) {
        use crate::trace::{Hop, Layer};
        let mut cx = Ctx::new();
        let to_hw = self.state.dist.nassgireq;
        // No per-vPE SGI domain without a vSGI-capable CPU interface (5.13+), and
        // nothing to map without vPEs.
        let can_map = self.host.system_supports_direct_sgis() && !self.live.its.vpes.is_empty();
        self.emit(
            Hop::new(
                Layer::Kvm,
                "vgic_v4_configure_vsgis",
                format!(
                    "nASSGIreq = {}: kvm_arm_halt_guest, every vCPU exits; {}",
                    to_hw as u8,
                    if to_hw {
                        "each vCPU's software SGIs move to hardware"
                    } else {
                        "each vCPU's hardware SGIs (if any) come back to software"
                    }
                ),
            )
            .source("vgic-v4.c: vgic_v4_configure_vsgis (5.7+)"),
        );
        let mut moved = 0;
        let mut active = Vec::new();
        let mut stranded = Vec::new();
        for v in 0..self.state.config.vcpus {
            if to_hw {
                if can_map {
                    let (m, a) = self.enable_vsgis(v);
                    moved += m;
                    active.extend(a.into_iter().map(|i| (v, i)));
                }
            } else {
                let (m, s) = self.disable_vsgis(v);
                moved += m;
                stranded.extend(s.into_iter().map(|i| (v, i)));
            }
        }
        if to_hw && !can_map {
            cx.rule(&r::VSGI_NO_SGI_DOMAIN);
            self.emit(
                Hop::new(
                    Layer::Kvm,
                    "vgic_v4_enable_vsgis",
                    "no per-vPE SGI domain (irq_find_mapping finds nothing, the kernel WARNs): the SGIs stay in software",
                )
                .rule(&r::VSGI_NO_SGI_DOMAIN),
            );
        } else if to_hw {
            cx.rule(&r::VSGI_ENABLE);
            cx.note_with(|| format!("vgic_v4_configure_vsgis: {moved} SGIs moved to hardware (all vCPUs halted meanwhile)"));
        } else {
            cx.rule(&r::VSGI_DISABLE);
            cx.note_with(|| {
                format!("vgic_v4_configure_vsgis: {moved} SGIs moved back to software")
            });
        }
        for (v, i) in &active {
            cx.rule(&r::VSGI_ACTIVE_STAYS);
            cx.note_with(|| format!(
                "vCPU {v} SGI {i} was active: the active state stays in the software bit, the vSGI itself has none"
            ));
        }
        if !stranded.is_empty() {
            cx.rule(&r::VSGI_DISABLE_NOT_QUEUED);
            cx.note_with(|| {
                format!("pending again in software but on no ap_list (vCPU, SGI): {stranded:?}")
            });
        }
        self.emit(
            Hop::new(Layer::Kvm, "kvm_arm_resume_guest", "the vCPUs resume")
                .source("vgic-v4.c: vgic_v4_configure_vsgis"),
        );
        self.settle();
        for rule in cx.rules {
            cx_out.push_rule(rule);
        }
        for n in cx.notes {
            cx_out.push_note(n);
        }
    }

    // ---------------------------------------------------------------- public accessors

    /// A guest MMIO read of `width` bits at `offset` of `frame`, by vCPU `vcpu`
    /// (for the redistributor frame: the redistributor of vCPU `vcpu`).
    pub fn guest_read(
        &mut self,
        frame: Frame,
        vcpu: u32,
        offset: u32,
        width: u8,
    ) -> Result<Outcome, AccessError> {
        self.guest_access(Op::Read, frame, vcpu, offset, width, 0)
    }

    /// A guest MMIO write.
    pub fn guest_write(
        &mut self,
        frame: Frame,
        vcpu: u32,
        offset: u32,
        width: u8,
        value: u64,
    ) -> Result<Outcome, AccessError> {
        self.guest_access(Op::Write, frame, vcpu, offset, width, value)
    }

    /// `KVM_GET_DEVICE_ATTR` on DIST_REGS (vcpu ignored: vCPU 0) or REDIST_REGS (vcpu's MPIDR).
    pub fn user_read(
        &mut self,
        frame: Frame,
        vcpu: u32,
        offset: u32,
    ) -> Result<Outcome, AccessError> {
        self.user_access(Op::Read, frame, vcpu, offset, 0)
    }

    /// `KVM_SET_DEVICE_ATTR`.
    pub fn user_write(
        &mut self,
        frame: Frame,
        vcpu: u32,
        offset: u32,
        value: u32,
    ) -> Result<Outcome, AccessError> {
        self.user_access(Op::Write, frame, vcpu, offset, value as u64)
    }

    /// `KVM_HAS_DEVICE_ATTR` (`vgic_v3_has_attr_regs`).
    pub fn user_has(
        &mut self,
        frame: Frame,
        vcpu: u32,
        offset: u32,
    ) -> Result<Outcome, AccessError> {
        self.user_access(Op::Has, frame, vcpu, offset, 0)
    }

    /// Read a register as the guest would, without recording an observation and
    /// without the lifecycle check (for views and comparisons).
    pub fn peek_guest(&self, frame: Frame, vcpu: u32, offset: u32, width: u8) -> Option<u64> {
        let mut copy = self.clone();
        copy.state.lifecycle = Lifecycle::HasRun;
        copy.dispatch(Path::Guest, Op::Read, frame, vcpu, offset, width, 0)
            .ok()
            .map(|o| o.value)
    }

    /// [`Vgic::peek_guest`] of several registers (frame, vCPU, offset, width) with one
    /// copy of the VM, for reads without side effects (ID and capability registers).
    pub fn peek_guest_many(&self, regs: &[(Frame, u32, u32, u8)]) -> Vec<Option<u64>> {
        if regs.is_empty() {
            return Vec::new();
        }
        let mut copy = self.clone();
        copy.state.lifecycle = Lifecycle::HasRun;
        regs.iter()
            .map(|&(frame, vcpu, offset, width)| {
                copy.dispatch(Path::Guest, Op::Read, frame, vcpu, offset, width, 0)
                    .ok()
                    .map(|o| o.value)
            })
            .collect()
    }

    /// Read a register as userspace would (ignoring lifecycle errors).
    pub fn peek_user(&self, frame: Frame, vcpu: u32, offset: u32) -> Option<u64> {
        let mut copy = self.clone();
        if copy.state.lifecycle == Lifecycle::Created {
            copy.state.lifecycle = Lifecycle::Initialised;
        }
        copy.dispatch(Path::User, Op::Read, frame, vcpu, offset, 32, 0)
            .ok()
            .filter(|o| o.ok())
            .map(|o| o.value)
    }

    fn guest_access(
        &mut self,
        op: Op,
        frame: Frame,
        vcpu: u32,
        offset: u32,
        width: u8,
        value: u64,
    ) -> Result<Outcome, AccessError> {
        if ![8, 16, 32, 64].contains(&width) {
            return Err(AccessError::BadWidth(width));
        }
        if width < 64 && value >> width != 0 {
            return Err(AccessError::ValueTooWide { value, width });
        }
        self.check_frame(frame, offset)?;
        if vcpu >= self.state.config.vcpus {
            return Err(AccessError::NoSuchVcpu {
                vcpu,
                vcpus: self.state.config.vcpus,
            });
        }
        if self.state.lifecycle != Lifecycle::HasRun {
            // The accessing vCPU: the distributor's from the step, vCPU 0 for a
            // redistributor (gicx-kvm's convention, docs/scenario-format.md).
            let accessor = if frame == Frame::Dist { vcpu } else { 0 };
            if !self.state.failed_run.counted_as_run.contains(&accessor) {
                return Err(AccessError::GuestNotRunning);
            }
            if frame == Frame::Dist {
                // No KVM io device at the distributor's address: the data
                // abort becomes KVM_EXIT_MMIO (io_mem_abort), the VMM's to handle.
                let mut cx = Ctx::new();
                cx.rule(&r::FAILED_RUN_COUNTS_AS_RUN);
                cx.rule(&r::GUEST_UNMAPPED_DIST_EXITS);
                cx.note(
                    "the distributor was never mapped: the access exits to the VMM (KVM_EXIT_MMIO)",
                );
                let register = crate::catalogue::instance_at(frame, offset).map(|x| x.name());
                return Ok(self.outcome(
                    Path::Guest,
                    op,
                    Some(frame),
                    vcpu,
                    offset,
                    width,
                    register,
                    value,
                    None,
                    cx,
                ));
            }
            // Redistributors are registered as the vCPUs are created
            // (vgic_register_redist_iodev): they answer.
        }
        let out = self.dispatch(Path::Guest, op, frame, vcpu, offset, width, value)?;
        if op == Op::Read {
            if let Some(name) = &out.register {
                let key = if frame == Frame::Redist {
                    format!("{name}@vcpu{vcpu}")
                } else {
                    name.clone()
                };
                self.observed.reads.insert(key, out.value);
            }
        } else {
            // The running vCPUs exit and re-enter before the next step (crate::delivery).
            self.settle();
        }
        Ok(out)
    }

    fn user_access(
        &mut self,
        op: Op,
        frame: Frame,
        vcpu: u32,
        offset: u32,
        value: u64,
    ) -> Result<Outcome, AccessError> {
        self.check_frame(frame, offset)?;
        let out = self.dispatch(Path::User, op, frame, vcpu, offset, 32, value)?;
        if op == Op::Write {
            self.settle();
        }
        Ok(out)
    }

    /// The userspace path (`KVM_{GET,SET,HAS}_DEVICE_ATTR`) for bulk replays
    /// (crate::vmm without a log): the same checks, dispatch and handlers as
    /// [`Vgic::user_read`]/[`Vgic::user_write`]/[`Vgic::user_has`], but no [`Outcome`]:
    /// returns the value and errno, leaves the rules in `rules` (cleared first, its
    /// allocation reused), and neither formats notes nor names the register.
    pub(crate) fn user_access_lean(
        &mut self,
        op: Op,
        frame: Frame,
        vcpu: u32,
        offset: u32,
        value: u32,
        rules: &mut Vec<&'static Rule>,
    ) -> Result<(u64, Option<Errno>), AccessError> {
        self.check_frame(frame, offset)?;
        rules.clear();
        let mut cx = Ctx {
            rules: std::mem::take(rules),
            notes: Vec::new(),
            lean: true,
        };
        let out = self.dispatch_in(
            Path::User,
            op,
            frame,
            vcpu,
            offset,
            32,
            value as u64,
            &mut cx,
        );
        *rules = cx.rules;
        if op == Op::Write {
            self.settle();
        }
        Ok(out)
    }

    fn check_frame(&self, frame: Frame, offset: u32) -> Result<(), AccessError> {
        if offset >= frame.size() {
            return Err(AccessError::OutsideFrame {
                frame,
                offset,
                size: frame.size(),
            });
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn outcome(
        &self,
        path: Path,
        op: Op,
        frame: Option<Frame>,
        vcpu: u32,
        offset: u32,
        width: u8,
        register: Option<String>,
        value: u64,
        errno: Option<Errno>,
        cx: Ctx,
    ) -> Outcome {
        Outcome {
            path,
            op,
            frame,
            vcpu,
            offset,
            width,
            register,
            value,
            errno,
            rules: cx.rules,
            notes: cx.notes,
            trace: Vec::new(),
        }
    }

    /// The checks `vgic_v3_parse_attr` and `vgic_v3_attr_regs_access`
    /// (vgic-kvm-device.c, 4.19+) make for every device-attribute group before its
    /// handler, as the groups outside the register frames (CPU_SYSREGS, LEVEL_INFO)
    /// meet them: the MPIDR names no vCPU (-EINVAL), the vGIC is not initialised
    /// (-EBUSY). (DIST_REGS/REDIST_REGS go through `dispatch_in`, which has the
    /// 6.17 pre-init exceptions.)
    fn attr_precheck(&self, vcpu: u32, cx: &mut Ctx) -> Option<Errno> {
        if vcpu >= self.state.config.vcpus {
            cx.rule(&r::UACCESS_BAD_MPIDR);
            return Some(Errno::EINVAL);
        }
        if self.state.lifecycle == Lifecycle::Created {
            cx.rule(&r::UACCESS_BEFORE_INIT);
            return Some(Errno::EBUSY);
        }
        None
    }

    // ---------------------------------------------------------------- dispatch

    /// `dispatch_mmio_*` (guest) and `vgic_v3_attr_regs_access` + `vgic_uaccess` /
    /// `vgic_v3_has_attr_regs` (userspace).
    #[allow(clippy::too_many_arguments)]
    fn dispatch(
        &mut self,
        path: Path,
        op: Op,
        frame: Frame,
        vcpu: u32,
        off: u32,
        width: u8,
        value: u64,
    ) -> Result<Outcome, AccessError> {
        let register = catalogue::instance_at(frame, off).map(|r| r.name());
        let mut cx = Ctx::new();
        let (v, errno) = self.dispatch_in(path, op, frame, vcpu, off, width, value, &mut cx);
        Ok(self.outcome(
            path,
            op,
            Some(frame),
            vcpu,
            off,
            width,
            register,
            v,
            errno,
            cx,
        ))
    }

    /// The dispatch itself: the value read (or written) and the errno; the rules and
    /// notes go to `cx`.
    #[allow(clippy::too_many_arguments)]
    fn dispatch_in(
        &mut self,
        path: Path,
        op: Op,
        frame: Frame,
        vcpu: u32,
        off: u32,
        width: u8,
        value: u64,
        cx: &mut Ctx,
    ) -> (u64, Option<Errno>) {
        let era = self.era();
        let nr_irqs = self.state.config.nr_irqs;

        // Which vCPU: the guest's own (dist) or the redistributor's owner; for
        // userspace DIST_REGS vCPU 0 (mpidr ignored), REDIST_REGS the attr's MPIDR.
        let target_vcpu = match (path, frame) {
            (Path::User, Frame::Dist) => 0,
            _ => vcpu,
        };
        if path == Path::User && target_vcpu >= self.state.config.vcpus {
            cx.rule(&r::UACCESS_BAD_MPIDR);
            cx.note_with(|| format!("no vCPU has the MPIDR of vCPU {vcpu}"));
            return (0, Some(Errno::EINVAL));
        }

        // Find the KVM region and apply check_region (width, alignment, nr_irqs bound).
        let desc = catalogue::find_by_offset(frame, off).filter(|d| d.kvm_region_in(era));
        let len_bytes = width / 8;
        let region: Result<&'static RegisterDesc, &'static Rule> = match desc {
            None => Err(if path == Path::Guest {
                &r::DISPATCH_GUEST_NO_REGION
            } else {
                &r::UACCESS_NO_REGION
            }),
            Some(d) => {
                if width == 16 || !d.widths.allows(width) || !off.is_multiple_of(len_bytes as u32) {
                    Err(&r::DISPATCH_GUEST_BAD_WIDTH)
                } else if d.per_irq.is_some_and(|p| p.kvm_checks_bound)
                    && d.intid_at(off).unwrap_or(0) >= nr_irqs
                {
                    Err(&r::DISPATCH_INTID_BEYOND_NR_IRQS)
                } else {
                    Ok(d)
                }
            }
        };

        if op == Op::Has {
            // vgic_v3_has_attr_regs: no init check; aligned 32-bit region or -ENXIO.
            // GICR_STATUSR sits out of offset order in vgic_v3_rd_registers[]
            // (before GICR_IIDR), so the binary search of vgic_find_mmio_region
            // never finds it: -ENXIO, though reads and writes, which fall back
            // to RAZ/WI when nothing is found, behave as its handlers would.
            if frame == Frame::Redist && off == GicrStatusr::OFFSET {
                cx.rule(&r::HAS_ATTR_GICR_STATUSR_UNSORTED);
                return (0, Some(Errno::ENXIO));
            }
            let ok = off.is_multiple_of(4) && region.is_ok();
            cx.rule(if ok {
                &r::HAS_ATTR_OK
            } else {
                &r::HAS_ATTR_ENXIO
            });
            if let Err(why) = region {
                cx.rule(why);
            }
            let errno = (!ok).then_some(Errno::ENXIO);
            return (0, errno);
        }

        if path == Path::User && self.state.lifecycle == Lifecycle::Created {
            // vgic_v3_attr_regs_access: `if (!(vgic_initialized(dev->kvm) || reg_allowed_pre_init(attr)))`.
            // The catalogue's `uaccess_before_init_since` column (GICD_IIDR, GICD_TYPER2).
            let pre_init_ok = desc
                .filter(|d| d.offset == off)
                .and_then(|d| d.uaccess_before_init_since)
                .is_some_and(|since| era >= since);
            if pre_init_ok {
                cx.rule(&r::UACCESS_PRE_INIT_ALLOWED);
            } else {
                cx.rule(&r::UACCESS_BEFORE_INIT);
                return (0, Some(Errno::EBUSY));
            }
        }

        let d = match region {
            Err(why) => {
                cx.rule(why);
                let v = if op == Op::Write { value } else { 0 };
                return (v, None);
            }
            Ok(d) => d,
        };
        if path == Path::User {
            cx.rule(&r::UACCESS_HANDLER);
        }

        // The distributor's private slice (INTIDs 0–31) of a shared per-IRQ register.
        if let Some(p) = d.per_irq {
            if p.private_slice_raz_wi && d.intid_at(off).unwrap_or(0) < NR_PRIVATE_IRQS {
                cx.rule(&r::DISPATCH_PRIVATE_SLICE_RAZ_WI);
                let v = if op == Op::Write { value } else { 0 };
                return (v, None);
            }
        }

        match op {
            Op::Read => (self.handle_read(d, path, target_vcpu, off, width, cx), None),
            _ => (
                value,
                self.handle_write(d, path, target_vcpu, off, width, value, cx),
            ),
        }
    }

    /// The IRQs an access to a per-IRQ region covers: (first INTID, count).
    fn irq_span(d: &RegisterDesc, off: u32, width: u8) -> (u32, u32) {
        let p = d.per_irq.expect("per-IRQ region");
        let first = d.intid_at(off).unwrap_or(0);
        (first, (width as u32 / p.bits_per_irq as u32).max(1))
    }

    fn handle_read(
        &mut self,
        d: &RegisterDesc,
        path: Path,
        vcpu: u32,
        off: u32,
        width: u8,
        cx: &mut Ctx,
    ) -> u64 {
        let era = self.era();
        let byte = off - d.offset;
        let v: u64 = match d.handler {
            Handler::Unimplemented => unreachable!("filtered by kvm_region_in"),
            Handler::RazWi => {
                cx.rule(&r::RAZ_WI);
                0
            }
            Handler::RaoWi => {
                cx.rule(&r::STATUSR_RAO);
                0xFFFF_FFFF
            }
            Handler::DistCtlr => {
                cx.rule(&r::CTLR_READ);
                let dist = &self.state.dist;
                GicdCtlr::ARE_NS.mask()
                    | GicdCtlr::DS.mask()
                    | GicdCtlr::ENABLE_GRP1.val(dist.enabled as u64)
                    | GicdCtlr::NASSGIREQ.val(dist.nassgireq as u64)
            }
            Handler::DistTyper => {
                cx.rule(&r::TYPER_READ);
                self.typer() as u64
            }
            Handler::DistIidr => {
                cx.rule(&r::IIDR_READ);
                gicd_iidr(self.state.dist.implementation_rev) as u64
            }
            Handler::DistTyper2 => {
                if era < Era::V5_7 {
                    cx.rule(&r::TYPER2_READ_PRE_5_7);
                } else {
                    cx.rule(&r::TYPER2_READ);
                }
                if self.host.gcie_legacy() {
                    cx.rule(&r::TYPER2_GICV5_HOST);
                }
                self.typer2() as u64
            }
            Handler::IdRegs => {
                cx.rule(&r::IDREGS_READ);
                // vgic_mmio_read_v3_idregs: PIDR2 (ArchRev 3), the others 0: the
                // catalogue's reset values.
                match d.reset {
                    Reset::Value(v) => v,
                    Reset::Computed(_) => 0,
                }
            }
            Handler::Group
            | Handler::SetEnable
            | Handler::ClearEnable
            | Handler::SetPending
            | Handler::ClearPending
            | Handler::SetActive
            | Handler::ClearActive
            | Handler::Priority
            | Handler::Config => {
                let (first, n) = Self::irq_span(d, off, width);
                self.read_irqs(d.handler, path, vcpu, first, n, cx)
            }
            Handler::Irouter => {
                cx.rule(&r::IROUTER_READ);
                let (intid, _) = Self::irq_span(d, off, width);
                if off & 4 != 0 {
                    0
                } else {
                    let mpidr = self.irq(vcpu, intid).map(|i| i.mpidr).unwrap_or(0) as u64;
                    extract_bytes(mpidr, off & 7, width / 8)
                }
            }
            Handler::RdCtlr => {
                cx.rule(&r::GICR_CTLR_READ);
                let mut v = self.state.redists[vcpu as usize].ctlr as u64;
                if era >= Era::V5_19 && self.state.dist.implementation_rev >= 3 {
                    v |= GicrCtlr::IR.mask() | GicrCtlr::CES.mask();
                }
                v
            }
            Handler::RdIidr => {
                cx.rule(&r::GICR_IIDR);
                GICR_IIDR
            }
            Handler::RdTyper => {
                cx.rule(&r::GICR_TYPER);
                let mut typer = self.gicr_typer(vcpu);
                // Before 28e9d4bce3be (5.13) vgic_mmio_read_v3r_typer set Last
                // only when the access address was the last redistributor's
                // guest address; a userspace access passes a frame offset, so
                // a VMM never saw Last. Measured: 5.10.223 reads vCPU 1 of 2
                // as 0x100, 6.12.86 and later as 0x110.
                if path == Path::User && !self.host.has(&crate::kernels::USERSPACE_GICR_TYPER_LAST)
                {
                    cx.rule(&r::GICR_TYPER_UACCESS_NO_LAST);
                    typer &= !GicrTyper::LAST.mask();
                }
                extract_bytes(typer, byte & 7, width / 8)
            }
            Handler::PropBaser => {
                cx.rule(&r::BASER_WRITE);
                extract_bytes(self.state.dist.propbaser, byte & 7, width / 8)
            }
            Handler::PendBaser => {
                cx.rule(&r::PENDBASER_PTZ);
                extract_bytes(
                    self.state.redists[vcpu as usize].pendbaser & !GicrPendbaser::PTZ.mask(),
                    byte & 7,
                    width / 8,
                )
            }
            Handler::InvLpi | Handler::InvAll => {
                cx.rule(&r::INVL_IGNORED);
                0
            }
            Handler::Syncr => {
                cx.rule(&r::SYNCR);
                0
            }
        };
        v
    }

    /// GICD_TYPER (`vgic_mmio_read_v3_misc`).
    pub fn typer(&self) -> u32 {
        let its = self.state.config.its;
        // INTERRUPT_ID_BITS_ITS = 16 with GICD_TYPER_LPIS, else INTERRUPT_ID_BITS_SPIS = 10.
        let id_bits: u64 = if its { 16 } else { 10 };
        (GicdTyper::ITLINES_NUMBER.val((self.state.config.nr_irqs / 32 - 1) as u64)
            | GicdTyper::IDBITS.val(id_bits - 1)
            | GicdTyper::LPIS.val(its as u64)) as u32
    }

    /// GICD_TYPER2 as the guest reads it.
    pub fn typer2(&self) -> u32 {
        if self.era() >= Era::V5_7 && self.vm_supports_direct_sgis() {
            GicdTyper2::NASSGICAP.mask() as u32
        } else {
            0
        }
    }

    /// GICR_TYPER of vCPU `vcpu` (`vgic_mmio_read_v3r_typer`). gicx lays all
    /// redistributors out in one region in vCPU order, so only the last is Last.
    pub fn gicr_typer(&self, vcpu: u32) -> u64 {
        // The teardown freed dist->rd_regions: no redistributor is the last
        // of its region any more (measured: 5.10.223 reads vCPU 1 of 2 as 0x100).
        // A VM built by steps places redistributors in regions
        // (vgic_mmio_vcpu_rdist_is_last, crate::scenario::setup).
        let last = crate::scenario::setup::typer_last(self.setup.as_deref(), vcpu)
            .unwrap_or(vcpu + 1 == self.state.config.vcpus)
            && !self.state.failed_run.torn_down;
        // The vCPU's MPIDR Aff2.Aff1.Aff0 in GICR_TYPER's Aff0..Aff2.
        ((vcpu_mpidr(vcpu) as u64) << GicrTyper::AFF0.lsb)
            | GicrTyper::PROCESSOR_NUMBER.val(vcpu as u64)
            | GicrTyper::PLPIS.val(self.state.config.its as u64)
            | GicrTyper::LAST.val(last as u64)
    }

    fn read_irqs(
        &mut self,
        h: Handler,
        path: Path,
        vcpu: u32,
        first: u32,
        n: u32,
        cx: &mut Ctx,
    ) -> u64 {
        let era = self.era();
        let mut v = 0u64;
        match h {
            Handler::Group => cx.rule(&r::GROUP),
            Handler::SetEnable | Handler::ClearEnable => cx.rule(&r::ENABLE_READ),
            Handler::SetPending => cx.rule(if path == Path::Guest {
                &r::PENDING_READ_GUEST
            } else {
                &r::PENDING_READ_UACCESS
            }),
            Handler::ClearPending => {
                if path == Path::User {
                    cx.rule(&r::ICPENDR_UACCESS);
                    return 0;
                }
                cx.rule(&r::PENDING_READ_GUEST)
            }
            Handler::SetActive | Handler::ClearActive => {
                cx.rule(&r::ACTIVE_READ);
                if path == Path::Guest {
                    cx.note("GICv3: the other vCPUs are halted around a guest access to IS/ICACTIVER of another vCPU's or shared IRQs");
                }
            }
            Handler::Priority => cx.rule(&r::PRIORITY),
            Handler::Config => cx.rule(&r::CONFIG_READ),
            _ => {}
        }
        let hw_sgis =
            (first..first + n).any(|i| i < NR_SGIS && self.irq(vcpu, i).is_some_and(|s| s.hw));
        if hw_sgis && era >= Era::V5_7 {
            match h {
                // Both paths ask the ITS driver (vgic-mmio.c __read_pending).
                Handler::SetPending | Handler::ClearPending => {
                    cx.rule(&r::VSGI_PENDING_READ);
                    self.vsgi_read_pending(vcpu);
                }
                Handler::SetActive | Handler::ClearActive => {
                    use crate::trace::{Hop, Layer};
                    self.emit(
                        Hop::new(
                            Layer::Kvm,
                            "vgic_mmio_read_active",
                            "hardware SGIs have no active state: their bits read 0",
                        )
                        .vcpu(vcpu)
                        .rule(&r::ACTIVE_READ),
                    );
                }
                _ => {}
            }
        }
        for i in 0..n {
            let Some(irq) = self.irq(vcpu, first + i) else {
                continue;
            };
            let bit: u64 = match h {
                Handler::Group => irq.group as u64,
                Handler::SetEnable | Handler::ClearEnable => irq.enabled as u64,
                Handler::SetPending | Handler::ClearPending => {
                    let p = if irq.hw && era >= Era::V5_7 {
                        irq.hw_pending
                    } else if path == Path::User {
                        irq.pending_latch
                    } else {
                        irq.is_pending()
                    };
                    p as u64
                }
                Handler::SetActive | Handler::ClearActive => (irq.active && !irq.hw) as u64,
                Handler::Priority => irq.priority as u64,
                Handler::Config => 2 * irq.edge as u64,
                _ => 0,
            };
            let bpi = match h {
                Handler::Priority => 8,
                Handler::Config => 2,
                _ => 1,
            };
            v |= bit << (i * bpi);
        }
        v
    }

    #[allow(clippy::too_many_arguments)]
    fn handle_write(
        &mut self,
        d: &RegisterDesc,
        path: Path,
        vcpu: u32,
        off: u32,
        width: u8,
        value: u64,
        cx: &mut Ctx,
    ) -> Option<Errno> {
        let byte = off - d.offset;
        match d.handler {
            Handler::Unimplemented => unreachable!("filtered by kvm_region_in"),
            Handler::RazWi => cx.rule(&r::RAZ_WI),
            Handler::RaoWi => cx.rule(&r::STATUSR_RAO),
            Handler::IdRegs => cx.rule(&r::IDREGS_READ),
            Handler::DistCtlr => self.write_ctlr(path, value as u32, cx),
            Handler::DistTyper => cx.rule(&r::RO_WRITE_IGNORED),
            Handler::DistIidr => {
                if path == Path::User {
                    return self.uaccess_write_iidr(value as u32, cx);
                }
                cx.rule(&r::RO_WRITE_IGNORED)
            }
            Handler::DistTyper2 => {
                if path == Path::User {
                    return self.uaccess_write_typer2(value as u32, cx);
                }
                cx.rule(&r::RO_WRITE_IGNORED)
            }
            Handler::Group
            | Handler::SetEnable
            | Handler::ClearEnable
            | Handler::SetPending
            | Handler::ClearPending
            | Handler::SetActive
            | Handler::ClearActive
            | Handler::Priority
            | Handler::Config => {
                let (first, n) = Self::irq_span(d, off, width);
                self.write_irqs(d.handler, path, vcpu, first, n, value, cx);
            }
            Handler::Irouter => {
                cx.rule(&r::IROUTER_WRITE);
                let (intid, _) = Self::irq_span(d, off, width);
                if off & 4 != 0 {
                    cx.note("upper word (Aff3): ignored");
                } else {
                    // vgic_mmio_write_irouter keeps Aff2.Aff1.Aff0 (IRM dropped, Aff3 RAZ/WI).
                    let aff = GicdIrouter::AFF0.mask()
                        | GicdIrouter::AFF1.mask()
                        | GicdIrouter::AFF2.mask();
                    let mpidr = (value & aff) as u32;
                    if value & !aff != 0 {
                        cx.note_with(|| format!("dropped bits {:#x} (IRM/Aff3)", value & !aff));
                    }
                    let vcpus = self.state.config.vcpus;
                    if let Some(irq) = self.irq_mut(vcpu, intid) {
                        irq.mpidr = mpidr;
                    }
                    match mpidr_to_vcpu(mpidr, vcpus) {
                        Some(t) => cx.note_with(|| format!("INTID {intid} now targets vCPU {t}")),
                        None => cx.rule(&r::IROUTER_NO_VCPU),
                    }
                }
            }
            Handler::RdCtlr => self.write_gicr_ctlr(vcpu, value as u32, cx),
            Handler::RdIidr => cx.rule(&r::RAZ_WI),
            Handler::RdTyper => {
                cx.rule(if path == Path::User {
                    &r::GICR_TYPER_UACCESS_WI
                } else {
                    &r::RO_WRITE_IGNORED
                });
            }
            Handler::PropBaser | Handler::PendBaser => {
                if self.lpis_enabled(vcpu) {
                    cx.rule(&r::BASER_LOCKED);
                } else {
                    cx.rule(&r::BASER_WRITE);
                    if d.handler == Handler::PropBaser {
                        let old = self.state.dist.propbaser;
                        self.state.dist.propbaser = sanitise_baser(
                            update_64bit_reg(old, byte, width / 8, value),
                            GicrPropbaser::FIELDS,
                        );
                    } else {
                        let rd = &mut self.state.redists[vcpu as usize];
                        rd.pendbaser = sanitise_baser(
                            update_64bit_reg(rd.pendbaser, byte, width / 8, value),
                            GicrPendbaser::FIELDS,
                        );
                    }
                }
            }
            Handler::InvLpi | Handler::InvAll => {
                if off & 4 != 0 || !self.lpis_enabled(vcpu) {
                    cx.rule(&r::INVL_IGNORED);
                } else {
                    cx.rule(&r::INVL_DONE);
                    // vgic_its_inv_lpi (INTID = the low 32 bits) / vgic_its_invall.
                    let intid = (d.handler == Handler::InvLpi).then_some(value as u32);
                    self.redist_invalidate(vcpu, intid);
                }
            }
            Handler::Syncr => cx.rule(&r::RAZ_WI),
        }
        None
    }

    fn lpis_enabled(&self, vcpu: u32) -> bool {
        self.state.redists[vcpu as usize].ctlr & GicrCtlr::ENABLE_LPIS.mask32() != 0
    }

    /// GICR_CTLR write (`vgic_mmio_write_v3r_ctlr`).
    fn write_gicr_ctlr(&mut self, vcpu: u32, val: u32, cx: &mut Ctx) {
        if !self.state.config.its {
            cx.rule(&r::GICR_CTLR_NO_ITS);
            return;
        }
        cx.rule(&r::GICR_CTLR_WRITE);
        let era = self.era();
        let lpis_were_on = self.lpis_enabled(vcpu);
        let rd = &mut self.state.redists[vcpu as usize];
        let want = val & GicrCtlr::ENABLE_LPIS.mask32() != 0;
        if era >= Era::V5_19 {
            // atomic_cmpxchg: enable only from 0, disable only from EnableLPIs (RWP while flushing).
            if want && rd.ctlr == 0 {
                rd.ctlr = GicrCtlr::ENABLE_LPIS.mask32();
                cx.note("vgic_enable_lpis: the pending table is read");
            } else if !want && rd.ctlr == GicrCtlr::ENABLE_LPIS.mask32() {
                rd.ctlr = 0;
                cx.note("EnableLPIs -> RWP -> 0: pending LPIs flushed, ITS cache invalidated");
            }
        } else {
            let was = rd.ctlr != 0;
            rd.ctlr = if want {
                GicrCtlr::ENABLE_LPIS.mask32()
            } else {
                0
            };
            if !was && want {
                cx.note("vgic_enable_lpis: the pending table is read");
            }
        }
        if want {
            self.observed.features.insert("LPIs".into());
        }
        // vgic_flush_pending_lpis / vgic_enable_lpis (vgic/its_device.rs).
        match (lpis_were_on, self.lpis_enabled(vcpu)) {
            (true, false) => self.flush_pending_lpis(vcpu),
            (false, true) => self.sync_lpi_pending_table(vcpu),
            _ => {}
        }
    }

    /// GICD_CTLR writes: guest (`vgic_mmio_write_v3_misc`) and userspace
    /// (`vgic_mmio_uaccess_write_v3_misc`, case GICD_CTLR).
    fn write_ctlr(&mut self, path: Path, val: u32, cx: &mut Ctx) {
        let era = self.era();
        if path == Path::User && era >= Era::V5_7 {
            cx.rule(&r::CTLR_UACCESS_LATCH);
            let mut val = val;
            if val & GicdCtlr::NASSGIREQ.mask32() != 0 && !self.uaccess_nassgireq_allowed() {
                cx.rule(&r::CTLR_UACCESS_NASSGIREQ_DROPPED);
                val &= !GicdCtlr::NASSGIREQ.mask32();
            }
            let was_hwsgi = self.state.dist.nassgireq;
            self.state.dist.enabled = val & GicdCtlr::ENABLE_GRP1.mask32() != 0;
            self.state.dist.nassgireq = val & GicdCtlr::NASSGIREQ.mask32() != 0;
            if self.state.lifecycle == Lifecycle::HasRun && was_hwsgi != self.state.dist.nassgireq {
                use crate::trace::{Hop, Layer};
                cx.note("the VM has run: nothing calls vgic_v4_configure_vsgis now, the SGIs stay where they are");
                self.emit(
                    Hop::new(
                        Layer::Kvm,
                        "vgic_mmio_uaccess_write_v3_misc",
                        "nASSGIreq changed on a VM that has run: no vgic_v4_configure_vsgis, no reload; the SGIs stay on their current path",
                    )
                    .rule(&r::CTLR_UACCESS_LATCH),
                );
            } else if self.state.dist.nassgireq {
                cx.note("nASSGIreq latched; the SGIs move to hardware at the first KVM_RUN (vgic_v3_map_resources)");
            }
            return;
        }
        if path == Path::User {
            cx.rule(&r::CTLR_UACCESS_GUEST_PATH);
        }
        cx.rule(&r::CTLR_GUEST_WRITE);
        let dist = &mut self.state.dist;
        let was_enabled = dist.enabled;
        let is_hwsgi = dist.nassgireq;
        dist.enabled = val & GicdCtlr::ENABLE_GRP1.mask32() != 0;
        let mut val = val;
        if era < Era::V5_7 {
            // 4.19–5.6: no nASSGIreq at all.
            val &= !GicdCtlr::NASSGIREQ.mask32();
        } else {
            if !self.vm_supports_direct_sgis() && val & GicdCtlr::NASSGIREQ.mask32() != 0 {
                cx.rule(&r::CTLR_GUEST_NASSGIREQ_NO_SUPPORT);
                val &= !GicdCtlr::NASSGIREQ.mask32();
            }
            let dist = &self.state.dist;
            if was_enabled && dist.enabled {
                if (val & GicdCtlr::NASSGIREQ.mask32() != 0) != is_hwsgi {
                    cx.rule(&r::CTLR_GUEST_NASSGIREQ_RO_ENABLED);
                }
                val &= !GicdCtlr::NASSGIREQ.mask32();
                if is_hwsgi {
                    val |= GicdCtlr::NASSGIREQ.mask32();
                }
            }
        }
        self.state.dist.nassgireq = val & GicdCtlr::NASSGIREQ.mask32() != 0;
        if path == Path::Guest {
            if self.state.dist.enabled {
                self.observed.features.insert("distributor enabled".into());
            }
            if self.state.dist.nassgireq {
                self.observed.features.insert("nASSGIreq".into());
            }
        }
        if era >= Era::V5_7 && is_hwsgi != self.state.dist.nassgireq {
            cx.rule(&r::CTLR_GUEST_NASSGIREQ_SWITCH);
            self.configure_vsgis(cx);
        }
        let now_enabled = self.state.dist.enabled;
        let reload_gate = era >= Era::V5_7
            && if era >= Era::V6_17 {
                self.vm_supports_direct_sgis()
            } else {
                self.host.has_gicv4_1()
            };
        if reload_gate && was_enabled != now_enabled {
            cx.rule(&r::CTLR_GUEST_RELOAD);
            cx.note("KVM_REQ_RELOAD_GICv4 sent to every vCPU: vgic_v4_put + vgic_v4_load, vGrp1En follows the enable");
            self.reload_gicv4();
        } else if !was_enabled && now_enabled {
            cx.note("vgic_kick_vcpus: kicks the vCPUs whose ap_list holds a pending interrupt");
        }
        if !was_enabled && now_enabled {
            self.report_unqueued();
        }
    }

    /// Userspace GICD_TYPER2 write per era (`vgic_mmio_uaccess_write_v3_misc`).
    fn uaccess_write_typer2(&mut self, val: u32, cx: &mut Ctx) -> Option<Errno> {
        let era = self.era();
        let reg = self.typer2();
        match self.policy {
            RestorePolicy::Kernel => {}
            RestorePolicy::AcceptAny => {
                cx.rule(&r::POLICY_ACCEPT_ANY);
                return None;
            }
            RestorePolicy::Relaxed2020 => {
                let host_cap = if self.host.system_supports_direct_sgis() {
                    GicdTyper2::NASSGICAP.mask32()
                } else {
                    0
                };
                if val == 0 || val == host_cap {
                    cx.rule(&r::POLICY_RELAXED_2020_ACCEPT);
                    self.state.dist.nassgicap = val & GicdTyper2::NASSGICAP.mask32() != 0;
                    return None;
                }
                cx.rule(&r::POLICY_RELAXED_2020_REFUSE);
                return Some(Errno::EINVAL);
            }
        }
        if era < Era::V5_7 {
            cx.rule(&r::TYPER2_UACCESS_IGNORED);
            return None;
        }
        if era < Era::V6_17 {
            cx.rule(&r::TYPER2_UACCESS_EXACT);
            if val != reg {
                cx.note_with(|| format!("KVM's GICD_TYPER2 is {reg:#x}, the write is {val:#x}"));
                return Some(Errno::EINVAL);
            }
            return None;
        }
        if val == reg {
            cx.rule(&r::TYPER2_UACCESS_EQUAL);
            return None;
        }
        if self.state.lifecycle != Lifecycle::Created {
            cx.rule(&r::TYPER2_UACCESS_BUSY);
            return Some(Errno::EBUSY);
        }
        if (reg ^ val) & !GicdTyper2::NASSGICAP.mask32() != 0 {
            cx.rule(&r::TYPER2_UACCESS_OTHER_BITS);
            return Some(Errno::EINVAL);
        }
        if !self.host.system_supports_direct_sgis() && val != 0 {
            cx.rule(&r::TYPER2_UACCESS_UNSUPPORTED);
            if self.host.gcie_legacy() {
                cx.rule(&r::TYPER2_GICV5_HOST);
            }
            return Some(Errno::EINVAL);
        }
        cx.rule(&r::TYPER2_UACCESS_SET_CAP);
        self.state.dist.nassgicap = val & GicdTyper2::NASSGICAP.mask32() != 0;
        cx.note_with(|| format!("nassgicap = {}", self.state.dist.nassgicap as u8));
        None
    }

    /// Userspace GICD_IIDR write per era (`vgic_mmio_uaccess_write_v3_misc`).
    fn uaccess_write_iidr(&mut self, val: u32, cx: &mut Ctx) -> Option<Errno> {
        let era = self.era();
        let reg = gicd_iidr(self.state.dist.implementation_rev);
        if self.policy == RestorePolicy::AcceptAny {
            cx.rule(&r::POLICY_ACCEPT_ANY);
            return None;
        }
        if era < Era::V5_19 {
            cx.rule(&r::IIDR_UACCESS_EXACT);
            if val != reg {
                cx.note_with(|| {
                    format!("KVM's GICD_IIDR is {reg:#010x}, the write is {val:#010x}")
                });
                return Some(Errno::EINVAL);
            }
            return None;
        }
        if (reg ^ val) as u64 & !GicdIidr::REVISION.mask() != 0 {
            cx.rule(&r::IIDR_UACCESS_FIELDS);
            cx.note_with(|| format!("KVM's GICD_IIDR is {reg:#010x}: ProductID/Variant/Implementer of {val:#010x} differ"));
            return Some(Errno::EINVAL);
        }
        let written_rev = GicdIidr::REVISION.get(val as u64) as u8;
        // Mainline 7.1, and stable kernels from their backport on (kernels.rs).
        if !self.host.has(&crate::kernels::IIDR_REVISION_RESTORE) {
            cx.rule(&r::IIDR_UACCESS_REV_NOOP);
            if written_rev != self.state.dist.implementation_rev {
                cx.note_with(|| format!(
                    "revision {written_rev} written, revision {} kept: the kernel reads the revision from its own value",
                    self.state.dist.implementation_rev
                ));
            }
            return None;
        }
        cx.rule(&r::IIDR_UACCESS_REV_SET);
        match written_rev {
            2 | 3 => {
                self.state.dist.implementation_rev = written_rev;
                None
            }
            _ => Some(Errno::EINVAL),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn write_irqs(
        &mut self,
        h: Handler,
        path: Path,
        vcpu: u32,
        first: u32,
        n: u32,
        value: u64,
        cx: &mut Ctx,
    ) {
        let era = self.era();
        let guest = path == Path::Guest;
        // Timer PPIs are the host's (HW-mapped) once the vCPU has run.
        let has_run = self.state.lifecycle == Lifecycle::HasRun;
        match h {
            Handler::Group => cx.rule(&r::GROUP),
            Handler::SetEnable => cx.rule(if guest {
                &r::ENABLE_SET_GUEST
            } else {
                &r::ENABLE_SET_UACCESS
            }),
            Handler::ClearEnable => cx.rule(if guest {
                &r::ENABLE_CLEAR_GUEST
            } else {
                &r::ENABLE_CLEAR_UACCESS
            }),
            Handler::SetPending => cx.rule(if guest {
                &r::PENDING_SET_GUEST
            } else if era >= Era::V6_8 {
                &r::PENDING_WRITE_UACCESS_6_8
            } else {
                &r::PENDING_WRITE_UACCESS
            }),
            Handler::ClearPending => {
                if !guest {
                    cx.rule(&r::ICPENDR_UACCESS);
                    return;
                }
                cx.rule(&r::PENDING_CLEAR_GUEST)
            }
            Handler::SetActive => cx.rule(&r::ACTIVE_SET),
            Handler::ClearActive => cx.rule(&r::ACTIVE_CLEAR),
            Handler::Priority => cx.rule(&r::PRIORITY),
            Handler::Config => cx.rule(&r::CONFIG_WRITE),
            _ => {}
        }
        /// What a write does to a hardware SGI at the ITS, after the loop.
        enum HwOp {
            Config(&'static str),
            UaccessEnableOnly,
            SetPending,
            ClearPending,
        }
        let mut lost_vsgi = Vec::new();
        let mut hw_ops: Vec<(u32, HwOp)> = Vec::new();
        // vgic_queue_irq_unlock calls of the handler (write_group, write_senable,
        // write_spending, change_active).
        // (A bit per INTID of the access, i.e. in ascending INTID order: n <= 64.)
        let mut requeue = 0u64;
        for i in 0..n {
            let intid = first + i;
            let Some(irq) = self.irq_mut(vcpu, intid) else {
                continue;
            };
            let hw_sgi = irq.hw && intid < NR_SGIS;
            let set = value >> i & 1 != 0;
            match h {
                Handler::Group => {
                    irq.group = set;
                    if hw_sgi {
                        hw_ops.push((intid, HwOp::Config("its_prop_update_vsgi (group)")));
                    } else {
                        requeue |= 1 << i;
                    }
                }
                Handler::SetEnable if set => {
                    irq.enabled = true;
                    if hw_sgi {
                        hw_ops.push((
                            intid,
                            if guest {
                                HwOp::Config("enable_irq -> its_sgi_unmask_irq")
                            } else {
                                HwOp::UaccessEnableOnly
                            },
                        ));
                    } else {
                        requeue |= 1 << i;
                    }
                }
                Handler::ClearEnable if set => {
                    irq.enabled = false;
                    if hw_sgi {
                        hw_ops.push((
                            intid,
                            if guest {
                                HwOp::Config("disable_irq_nosync -> its_sgi_mask_irq")
                            } else {
                                HwOp::UaccessEnableOnly
                            },
                        ));
                    }
                }
                Handler::SetPending => {
                    if guest {
                        if set {
                            if hw_sgi {
                                hw_ops.push((intid, HwOp::SetPending));
                            } else {
                                irq.pending_latch = true;
                                requeue |= 1 << i;
                            }
                        }
                    } else if hw_sgi && era >= Era::V6_8 {
                        hw_ops.push((
                            intid,
                            if set {
                                HwOp::SetPending
                            } else {
                                HwOp::ClearPending
                            },
                        ));
                    } else {
                        if hw_sgi {
                            lost_vsgi.push(intid);
                        } else if set {
                            requeue |= 1 << i;
                        }
                        irq.pending_latch = set;
                    }
                }
                Handler::ClearPending if set => {
                    if hw_sgi {
                        hw_ops.push((intid, HwOp::ClearPending));
                    } else {
                        irq.pending_latch = false;
                    }
                }
                Handler::SetActive | Handler::ClearActive if set => {
                    if hw_sgi {
                        irq.active = false;
                    } else if !guest && crate::delivery::TIMER_PPIS.contains(&intid) && has_run {
                        // vgic-mmio.c vgic_hw_irq_change_active: the timer's
                        // PPIs are mapped to the host's once the vCPU ran, and
                        // a userspace write (is_uaccess) leaves their active
                        // state alone. Measured on 5.10.223 (vgic_irq.c
                        // test_restore_active, tests/conformance/vgic_irq).
                    } else {
                        irq.active = h == Handler::SetActive;
                        if irq.active {
                            requeue |= 1 << i;
                        }
                    }
                }
                Handler::Priority => {
                    let b = (value >> (i * 8)) as u8;
                    irq.priority = b & 0xF8;
                    if hw_sgi {
                        hw_ops.push((intid, HwOp::Config("its_prop_update_vsgi (priority)")));
                    }
                }
                Handler::Config if intid >= NR_PRIVATE_IRQS => {
                    irq.edge = value >> (i * 2 + 1) & 1 != 0;
                }
                _ => {}
            }
        }
        if !lost_vsgi.is_empty() {
            cx.rule(&r::PENDING_VSGI_UACCESS_LOST);
            cx.note_with(|| {
                format!(
                "SGIs {lost_vsgi:?} are hardware-backed: only the unused software latch changed"
            )
            });
        }
        if !hw_ops.is_empty() {
            let ids: Vec<u32> = hw_ops.iter().map(|(i, _)| *i).collect();
            cx.note_with(|| {
                format!("hardware vSGIs {ids:?} updated at the ITS (VSGI command / GITS_SGIR)")
            });
        }
        for (intid, op) in hw_ops {
            match op {
                HwOp::Config(why) => {
                    cx.rule(&r::VSGI_CONFIG_UPDATE);
                    self.vsgi_update_config(vcpu, intid, why);
                }
                HwOp::UaccessEnableOnly => {
                    cx.rule(&r::VSGI_CONFIG_UPDATE);
                    self.vsgi_uaccess_enable_only(vcpu, intid);
                }
                HwOp::SetPending => self.vsgi_set_pending(vcpu, intid),
                HwOp::ClearPending => {
                    cx.rule(&r::VSGI_PENDING_CLEAR);
                    self.vsgi_clear_pending(vcpu, intid);
                }
            }
        }
        for i in 0..n {
            if requeue >> i & 1 != 0 {
                self.queue_irq(vcpu, first + i);
            }
        }
        if h == Handler::Priority && value & 0x0707_0707 & ((1u64 << (n * 8)) - 1) != 0 {
            cx.note("low 3 bits of each priority byte dropped (5 priority bits)");
        }
        if h == Handler::Config && first < NR_PRIVATE_IRQS {
            cx.note("SGI/PPI trigger modes are fixed: the write changes nothing");
        }
    }
}

/// Where configure_vsgis reports its rules: an access context or a trace.
pub trait RuleSink {
    fn push_rule(&mut self, rule: &'static Rule);
    fn push_note(&mut self, note: String);
}

impl RuleSink for Ctx {
    fn push_rule(&mut self, rule: &'static Rule) {
        self.rule(rule)
    }
    fn push_note(&mut self, note: String) {
        self.note(note)
    }
}

impl RuleSink for Outcome {
    fn push_rule(&mut self, rule: &'static Rule) {
        self.rules.push(rule)
    }
    fn push_note(&mut self, note: String) {
        self.notes.push(note)
    }
}

pub mod cpu_sysregs;
pub mod irqfd;
pub mod its_device;
mod level_info;

#[cfg(test)]
mod tests;
