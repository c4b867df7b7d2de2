//! Linux errno values returned by the KVM device API.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The errno values KVM's vGIC device attributes can return
/// (`Documentation/virt/kvm/devices/arm-vgic-v3.rst`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Errno {
    ENOENT,
    EIO,
    /// `KVM_IRQFD` before the vGIC is initialised (eventfd.c kvm_irqfd_assign).
    EAGAIN,
    ENXIO,
    E2BIG,
    ENOMEM,
    EACCES,
    EFAULT,
    EBUSY,
    EEXIST,
    ENODEV,
    EINVAL,
}

impl Errno {
    pub const ALL: [Errno; 12] = [
        Errno::ENOENT,
        Errno::EIO,
        Errno::EAGAIN,
        Errno::ENXIO,
        Errno::E2BIG,
        Errno::ENOMEM,
        Errno::EACCES,
        Errno::EFAULT,
        Errno::EBUSY,
        Errno::EEXIST,
        Errno::ENODEV,
        Errno::EINVAL,
    ];

    /// The positive errno number on Linux (asm-generic/errno-base.h).
    pub fn code(self) -> i32 {
        match self {
            Errno::ENOENT => 2,
            Errno::EIO => 5,
            Errno::EAGAIN => 11,
            Errno::ENXIO => 6,
            Errno::E2BIG => 7,
            Errno::ENOMEM => 12,
            Errno::EACCES => 13,
            Errno::EFAULT => 14,
            Errno::EBUSY => 16,
            Errno::EEXIST => 17,
            Errno::ENODEV => 19,
            Errno::EINVAL => 22,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Errno::ENOENT => "ENOENT",
            Errno::EIO => "EIO",
            Errno::EAGAIN => "EAGAIN",
            Errno::ENXIO => "ENXIO",
            Errno::E2BIG => "E2BIG",
            Errno::ENOMEM => "ENOMEM",
            Errno::EACCES => "EACCES",
            Errno::EFAULT => "EFAULT",
            Errno::EBUSY => "EBUSY",
            Errno::EEXIST => "EEXIST",
            Errno::ENODEV => "ENODEV",
            Errno::EINVAL => "EINVAL",
        }
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "-{}", self.as_str())
    }
}

impl FromStr for Errno {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim().trim_start_matches('-').to_ascii_uppercase();
        Errno::ALL
            .into_iter()
            .find(|e| e.as_str() == t)
            .ok_or_else(|| format!("unknown errno {s:?}: expected one of EINVAL, EBUSY, ENXIO, EFAULT, ENOENT, EIO, EEXIST, E2BIG, ENODEV, ENOMEM, EACCES, EAGAIN"))
    }
}
