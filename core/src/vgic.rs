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

use serde::{Deserialize, Serialize};

use self::delivery::Live;
use crate::catalogue::{GicdIidr, GicrIidr};
use crate::cpuif::CpuIfState;
use crate::errno::Errno;
use crate::host::{Era, Host};
use crate::rules::{self as r};

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

pub use crate::host::{mpidr_to_vcpu, vcpu_mpidr};

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
    /// KVM's ap_lists, vCPU run states, the host ITS and the trace (vgic/delivery.rs).
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
}

// One concept per file, along the kernel's own files (arch/arm64/kvm/vgic/).
mod access;
mod ap_list;
mod cpu_interface;
pub mod cpu_sysregs;
pub mod delivery;
mod init;
mod irq_line;
pub mod irqfd;
pub mod its_device;
mod level_info;
mod mmio;
mod mmio_irqs;
mod mmio_v3;
pub mod observer;
mod sgi;
mod state;
mod v4;
pub mod vlpi;

pub(crate) use access::Ctx;
pub use access::{Access, AccessError, Op, Outcome, Path, RuleSink};
pub use observer::{AccessObserver, NoopObserver, Recorder};
pub use state::*;

#[cfg(test)]
mod delivery_tests;
#[cfg(test)]
mod tests;
