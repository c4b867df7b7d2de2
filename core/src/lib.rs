//! gicx-core: the GICv3/v4.1 distributor and redistributors as Linux KVM
//! emulates them, per kernel era and host capability.
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
pub mod permalink;
pub mod readback;
pub mod real_migration;
pub mod rules;
pub mod scenario;
pub mod trace;
pub mod vgic;
pub mod vits;
pub mod vmm;
pub mod workload;
