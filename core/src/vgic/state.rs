//! The saved state: what KVM holds of one VM's vGIC (`struct vgic_dist`,
//! `struct vgic_cpu`, `struct vgic_irq`), plain serde data (vm-superio's `…State`).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::{MAX_VCPUS, NR_PRIVATE_IRQS, VGIC_MAX_RESERVED};
use crate::cpuif::CpuIfState;
use crate::guest_memory::MemoryLayout;

/// Errors in a VM description.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
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
#[non_exhaustive]
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
