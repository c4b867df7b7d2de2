//! The host side of the GICv4.1 vSGI path, as KVM drives it for one VM: an
//! ITS that accepts `GITS_SGIR` writes and `VSGI` commands, and one vPE per
//! vCPU that is resident on a redistributor while its vCPU runs.
//!
//! This is live state (like KVM's `struct its_vm`, rebuilt when a VM is
//! created), not part of the saved [`crate::vgic::VgicState`]; the pending bit
//! of a hardware vSGI stays in [`crate::vgic::IrqState::hw_pending`].
//!
//! Encodings follow `include/linux/irqchip/arm-gic-v3.h` and the command
//! builders of `drivers/irqchip/irq-gic-v3-its.c` (5.7+): `GITS_SGIR` =
//! vPEID [47:32] | vINTID [3:0]; `VSGI` (command 0x23) DW0 = Enable b8, Clear
//! b9, Group b10, Priority[7:4] in [23:20], vINTID [35:32], DW1 = vPEID
//! [47:32]; `GICR_VPENDBASER` (v4.1) Valid b63, DB b62, PendingLast b61,
//! vGrp0En b59, vGrp1En b58, vPEID [15:0]; `GICR_VSGIR` vPEID [15:0] and
//! `GICR_VSGIPENDR` Busy b31, Pending [15:0] in the redistributor's VLPI frame
//! (RD_base + 128 KiB).
//!
//! gicx numbers vPEs like vCPUs; real vPE IDs come from a host-wide allocator
//! (`its_vpe_id_alloc`).
//!
//! ```
//! use gicx_core::its::{gits_sgir, vsgi_command, VsgiConfig};
//! assert_eq!(gits_sgir(1, 3), 0x1_0000_0003);
//! let cfg = VsgiConfig { enabled: true, group: true, priority: 0xa8 };
//! // Only 4 priority bits travel: 0xa8 is sent as 0xa.
//! assert_eq!(vsgi_command(1, 3, cfg, false), [0x3_00a0_0523, 0x1_0000_0000]);
//! ```

use serde::Serialize;

use crate::vgic::NR_SGIS;

pub use crate::catalogue::its::GICR_VLPI_BASE;
use crate::catalogue::its::{GicrVpendbaser, GicrVsgipendr, GicrVsgir, GitsSgir};

/// `GITS_SGIR`, in the ITS's third 64 KiB frame.
pub const GITS_SGIR: u32 = GitsSgir::OFFSET;
pub const GICR_VPENDBASER: u32 = GicrVpendbaser::OFFSET;
pub const GICR_VSGIR: u32 = GicrVsgir::OFFSET;
pub const GICR_VSGIPENDR: u32 = GicrVsgipendr::OFFSET;
pub const GICR_VSGIPENDR_BUSY: u32 = GicrVsgipendr::BUSY.mask32();
/// `GITS_CMD_VSGI` = `GITS_CMD_GICv4(3)`.
pub const GITS_CMD_VSGI: u64 = 0x23;

/// GICR_VPENDBASER bits in the GICv4.1 layout.
pub mod vpendbaser {
    use crate::catalogue::its::GicrVpendbaser;
    pub const VALID: u64 = GicrVpendbaser::VALID.mask();
    pub const DB: u64 = GicrVpendbaser::DB.mask();
    pub const PENDING_LAST: u64 = GicrVpendbaser::PENDING_LAST.mask();
    pub const VGRP0EN: u64 = GicrVpendbaser::VGRP0EN.mask();
    pub const VGRP1EN: u64 = GicrVpendbaser::VGRP1EN.mask();
}

/// A vSGI's configuration as the ITS holds it (`vpe->sgi_config[i]`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
pub struct VsgiConfig {
    pub enabled: bool,
    pub group: bool,
    /// The priority byte KVM hands over (`irq->priority`).
    pub priority: u8,
}

impl VsgiConfig {
    /// The priority the redistributor uses: `its_encode_sgi_priority` sends
    /// `prio >> 4`, so only bits [7:4] survive.
    pub fn hw_priority(&self) -> u8 {
        self.priority & 0xF0
    }
}

/// One vPE (`struct its_vpe`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Vpe {
    pub id: u32,
    /// `vpe->resident`: GICR_VPENDBASER.Valid on some redistributor.
    pub resident: bool,
    /// The group enables written at the last schedule.
    pub vgrp0en: bool,
    pub vgrp1en: bool,
    /// Made non-resident with GICR_VPENDBASER.DB = 1 and no doorbell fired yet.
    pub doorbell_armed: bool,
    /// `vpe->pending_last`: KVM believes an interrupt is pending for the vPE.
    pub pending_last: bool,
    /// A doorbell fired since the vPE last left its redistributor.
    pub doorbell_fired: bool,
    /// `vpe->sgi_config`.
    pub sgi_config: [VsgiConfig; NR_SGIS as usize],
}

impl Vpe {
    pub fn new(id: u32) -> Vpe {
        Vpe {
            id,
            resident: false,
            vgrp0en: false,
            vgrp1en: false,
            doorbell_armed: false,
            pending_last: false,
            doorbell_fired: false,
            sgi_config: [VsgiConfig::default(); NR_SGIS as usize],
        }
    }

    /// The GICR_VPENDBASER value last written for this vPE (v4.1 layout).
    pub fn vpendbaser(&self) -> u64 {
        let mut v = GicrVpendbaser::VPEID.val(self.id as u64);
        if self.resident {
            v |= vpendbaser::VALID;
            if self.vgrp0en {
                v |= vpendbaser::VGRP0EN;
            }
            if self.vgrp1en {
                v |= vpendbaser::VGRP1EN;
            }
        } else {
            if self.doorbell_armed {
                v |= vpendbaser::DB;
            }
            if self.pending_last {
                v |= vpendbaser::PENDING_LAST;
            }
        }
        v
    }
}

/// The host ITS as one VM sees it: its vPEs (none when the VM uses no GICv4).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize)]
pub struct Its {
    pub vpes: Vec<Vpe>,
}

impl Its {
    /// `vgic_v4_init`: one vPE per vCPU.
    pub fn with_vpes(n: u32) -> Its {
        Its {
            vpes: (0..n).map(Vpe::new).collect(),
        }
    }
    pub fn vpe(&self, vcpu: u32) -> Option<&Vpe> {
        self.vpes.get(vcpu as usize)
    }
    pub fn vpe_mut(&mut self, vcpu: u32) -> Option<&mut Vpe> {
        self.vpes.get_mut(vcpu as usize)
    }
}

/// The value `its_sgi_set_irqchip_state` writes to `GITS_SGIR`.
pub fn gits_sgir(vpeid: u32, vintid: u32) -> u64 {
    GitsSgir::VPEID.val(vpeid as u64) | GitsSgir::VINTID.val(vintid as u64)
}

/// The two command doublewords `its_build_vsgi_cmd` writes (DW2/DW3 are 0).
pub fn vsgi_command(vpeid: u32, vintid: u32, cfg: VsgiConfig, clear: bool) -> [u64; 2] {
    let dw0 = GITS_CMD_VSGI
        | (cfg.enabled as u64) << 8
        | (clear as u64) << 9
        | (cfg.group as u64) << 10
        | ((cfg.priority >> 4) as u64) << 20
        | (vintid as u64 & 0xF) << 32;
    let dw1 = (vpeid as u64 & 0xFFFF) << 32;
    [dw0, dw1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vpendbaser_shows_residency_and_doorbell() {
        let mut v = Vpe::new(2);
        v.resident = true;
        v.vgrp1en = true;
        assert_eq!(v.vpendbaser(), vpendbaser::VALID | vpendbaser::VGRP1EN | 2);
        v.resident = false;
        v.doorbell_armed = true;
        assert_eq!(v.vpendbaser(), vpendbaser::DB | 2);
    }

    #[test]
    fn vsgi_priority_keeps_four_bits() {
        let a = VsgiConfig {
            enabled: true,
            group: true,
            priority: 0xA0,
        };
        let b = VsgiConfig {
            priority: 0xA8,
            ..a
        };
        assert_eq!(a.hw_priority(), b.hw_priority());
        assert_eq!(vsgi_command(0, 1, a, true), vsgi_command(0, 1, b, true));
        assert_eq!(vsgi_command(0, 1, a, true)[0] & (1 << 9), 1 << 9);
    }
}
