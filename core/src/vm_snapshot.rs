//! The saved state of a VM's whole interrupt hardware, as one plain serde file:
//! the vGIC ([`VgicState`]), its ITS ([`ItsState`], a device of its own:
//! `KVM_DEV_TYPE_ARM_VGIC_ITS`, never folded into the vGIC's state) and guest RAM
//! ([`GuestMemoryState`]: the ITS's tables, the command queue and the LPI property and
//! pending tables live there), vm-superio style (`state()` / `from_state()`).
//!
//! Files written before the ITS was saved hold a bare `VgicState`: [`VmSnapshot::from_json`]
//! still reads them (no ITS, no RAM).
//!
//! ```
//! use gicx_core::{guest::{self, GuestProfile}, host::Host, vgic::Vgic, vm_snapshot::VmSnapshot};
//! let host = Host::parse_compact("v3@6.12").unwrap();
//! let mut vm = Vgic::new(host, guest::vm_config(2, 256, true).unwrap());
//! vm.init();
//! vm.run();
//! GuestProfile::Linux.boot(&mut vm).unwrap();
//! let json = serde_json::to_string(&VmSnapshot::of(&vm)).unwrap();
//! let back = VmSnapshot::from_json(&json).unwrap().restore(host).unwrap();
//! assert_eq!(back.state(), vm.state());
//! assert_eq!(back.emulated_its().unwrap().state(), vm.emulated_its().unwrap().state());
//! assert!(back.irq(0, 8193).unwrap().pending_latch, "the pending MSI travels");
//! ```

use serde::{Deserialize, Serialize};

use crate::guest_memory::{GuestMemory, GuestMemoryState, GuestMemoryStateError};
use crate::host::Host;
use crate::vgic::{StateError, Vgic, VgicState};
use crate::vits::{Its, ItsState, ItsStateError};

/// A VM's vGIC, ITS and guest RAM.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VmSnapshot {
    /// [`VmSnapshot::FORMAT_VERSION`].
    pub format: u32,
    pub vgic: VgicState,
    /// The ITS device, once it was used (a VM with an ITS that nothing touched has
    /// KVM's freshly created one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub its: Option<ItsState>,
    /// Guest RAM the devices reached (pages never written are zero).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<GuestMemoryState>,
}

/// Why a snapshot cannot be loaded: the part, and the reason.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SnapshotError {
    #[error("snapshot: not JSON of a VM snapshot or a vGIC state: {0}")]
    Json(String),
    #[error("snapshot format {found} is not one this gicx reads (expected {expected})")]
    Format { found: u32, expected: u32 },
    #[error("snapshot, vgic: {0}")]
    Vgic(#[from] StateError),
    #[error("snapshot, its: {0}")]
    Its(#[from] ItsStateError),
    #[error("snapshot, memory: {0}")]
    Memory(#[from] GuestMemoryStateError),
    #[error("snapshot, its: the vGIC's VM has no ITS (vgic.config.its is false)")]
    ItsWithoutDevice,
}

impl VmSnapshot {
    pub const FORMAT_VERSION: u32 = 1;

    /// The snapshot of `vm`.
    pub fn of(vm: &Vgic) -> VmSnapshot {
        VmSnapshot {
            format: Self::FORMAT_VERSION,
            vgic: vm.state().clone(),
            its: vm.emulated_its().map(Its::state),
            memory: vm.guest_memory_state(),
        }
    }

    /// Read a snapshot, or a bare `VgicState` (files written before the ITS was saved).
    pub fn from_json(text: &str) -> Result<VmSnapshot, SnapshotError> {
        let v: serde_json::Value =
            serde_json::from_str(text).map_err(|e| SnapshotError::Json(e.to_string()))?;
        if v.get("vgic").is_some() {
            serde_json::from_value(v).map_err(|e| SnapshotError::Json(e.to_string()))
        } else {
            let vgic: VgicState =
                serde_json::from_value(v).map_err(|e| SnapshotError::Json(e.to_string()))?;
            Ok(VmSnapshot {
                format: Self::FORMAT_VERSION,
                vgic,
                its: None,
                memory: None,
            })
        }
    }

    /// Rebuild the VM on `host`, checking every part.
    pub fn restore(&self, host: Host) -> Result<Vgic, SnapshotError> {
        if self.format != Self::FORMAT_VERSION {
            return Err(SnapshotError::Format {
                found: self.format,
                expected: Self::FORMAT_VERSION,
            });
        }
        let mut vm = Vgic::from_state(host, self.vgic.clone())?;
        if self.its.is_some() && !self.vgic.config.its {
            return Err(SnapshotError::ItsWithoutDevice);
        }
        let its = match &self.its {
            Some(s) => Some(Its::from_state(host.kernel, s)?),
            None => None,
        };
        let memory = match &self.memory {
            Some(m) => Some(GuestMemory::from_state(m)?),
            None => None,
        };
        vm.load_its_device(its, memory);
        Ok(vm)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::guest::{self, GuestProfile};

    fn booted() -> (Host, Vgic) {
        let host = Host::parse_compact("v3@7.3").unwrap();
        let mut vm = Vgic::new(host, guest::vm_config(2, 256, true).unwrap());
        vm.init();
        vm.run();
        GuestProfile::Linux.boot(&mut vm).unwrap();
        (host, vm)
    }

    #[test]
    fn the_its_and_ram_travel_and_msis_still_translate() {
        let (host, vm) = booted();
        let snap = VmSnapshot::of(&vm);
        assert!(snap.its.is_some() && snap.memory.is_some());
        let mut back = snap.restore(host).unwrap();
        let t = back.emulated_its().unwrap().translate(0x10, 1).unwrap();
        assert_eq!(t.intid, 8225);
        let msi =
            crate::vgic::its_device::DEFAULT_ITS_BASE + crate::vits::regs::GITS_TRANSLATER as u64;
        assert_eq!(back.signal_msi(msi, Some(0x10), 1).unwrap().value, 1);
        assert!(back.irq(0, 8225).unwrap().pending_latch);
    }

    #[test]
    fn old_files_without_the_its_still_read() {
        let (host, vm) = booted();
        let old = serde_json::to_string(vm.state()).unwrap();
        let snap = VmSnapshot::from_json(&old).unwrap();
        assert!(snap.its.is_none() && snap.memory.is_none());
        assert_eq!(snap.restore(host).unwrap().state(), vm.state());
    }

    #[test]
    fn bad_parts_are_named() {
        let (host, vm) = booted();
        let mut snap = VmSnapshot::of(&vm);
        snap.format = 9;
        assert!(matches!(
            snap.restore(host),
            Err(SnapshotError::Format { found: 9, .. })
        ));
        let mut snap = VmSnapshot::of(&vm);
        snap.its.as_mut().unwrap().abi_rev = 3;
        let e = snap.restore(host).unwrap_err().to_string();
        assert!(e.starts_with("snapshot, its: ITS state, abi_rev"), "{e}");
        let mut snap = VmSnapshot::of(&vm);
        snap.vgic.config.its = false;
        assert!(snap.restore(host).is_err());
        assert!(VmSnapshot::from_json("{\"vgic\": 1}").is_err());
        assert!(VmSnapshot::from_json("[").is_err());
    }
}
