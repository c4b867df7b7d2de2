//! gicx-core: the GICv3/v4.1 distributor and redistributors as Linux KVM
//! emulates them, per kernel era and host capability.
//!
//! The types an embedder starts from are re-exported here: a [`Host`] (GIC
//! hardware and kernel) and a [`VmConfig`] make a [`Vgic`], whose accesses
//! return an [`Outcome`] naming the [`Rule`]s that decided it; a [`Scenario`]
//! is a list of steps run against one; [`VgicState`] is its saved state.
//!
//! ```
//! use gicx_core::{Frame, Host, Vgic, VmConfig};
//! let mut vm = Vgic::new(Host::parse_compact("v3@6.12.118").unwrap(), VmConfig::default());
//! vm.init();
//! // GICD_TYPER2 from userspace before 6.17 on a GICv3 host: 0, decided by a rule.
//! let out = vm.user_read(Frame::Dist, 0, 0xC).unwrap();
//! assert_eq!(out.value, 0);
//! assert!(!out.rules.is_empty());
//! let saved = vm.state().clone();
//! assert!(Vgic::from_state(*vm.host(), saved).is_ok());
//! ```
#![forbid(unsafe_code)]

pub mod audit;
pub mod catalogue;
pub mod confirmed;
pub mod cpuif;
pub use vgic::delivery;
#[cfg(feature = "differential")]
pub mod differential;
pub mod errno;
pub mod guest;
pub mod guest_memory;
pub mod host;
pub mod its;
pub mod kernels;
pub mod migrate;
pub mod number;
pub mod oracle;
#[cfg(feature = "permalink")]
pub mod permalink;
pub mod readback;
pub mod real_migration;
pub mod rules;
pub mod scenario;
pub mod trace;
pub mod vgic;
pub mod vits;
pub mod vm_snapshot;
pub mod vmm;
#[cfg(feature = "workload")]
pub mod workload;

pub use catalogue::{Frame, CATALOGUE};
pub use host::{Era, Host, KernelVersion};
pub use rules::{Applies, Rule};
pub use scenario::{Scenario, Step};
pub use vgic::{
    Access, AccessError, AccessObserver, NoopObserver, Op, Outcome, Path, Recorder, RestorePolicy,
    Vgic, VgicState, VmConfig,
};
