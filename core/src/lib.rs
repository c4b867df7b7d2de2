//! gicx-core: the GICv3/v4.1 distributor and redistributors as Linux KVM
//! emulates them, per kernel era and host capability.
#![forbid(unsafe_code)]

pub mod catalogue;
pub mod errno;
pub mod host;
pub mod rules;
pub mod scenario;
pub mod vgic;
