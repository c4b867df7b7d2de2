//! How real VMMs save and restore a vGICv3, as data, and the engine that replays
//! a recipe through the model's userspace path (`Vgic::user_read`,
//! `user_write`, `user_level_info`, `init`): every access is one
//! `KVM_{GET,SET}_DEVICE_ATTR` the VMM makes, in its order, with its widths and
//! the values it writes.
//!
//! Sources (stored snapshots read for this module; the anchors survey,
//! `shared/reference/anchors-survey.md` §C, gives the same lists):
//! - Firecracker `src/vmm/src/arch/aarch64/gic/gicv3/regs/{mod,dist_regs,redist_regs}.rs`
//!   and `gicv3/mod.rs` (`create` → `finalize_device`: NR_IRQS = `IRQ_MAX` = 128, then
//!   `CTRL_INIT`), read at 07c9d9a9/0c3606af/0bd36638; the redistributor order with
//!   GICR_CTLR after the BASERs is the newer list (survey @81b38b9d, found in the index).
//! - cloud-hypervisor `hypervisor/src/kvm/aarch64/gic/{mod,dist_regs}.rs` @3f67b6d3/587a3332
//!   (`set_state`: GICD_CTLR, distributor list, redistributors, ICC, ITS; the ITS device is
//!   always created; ranges from `KVM_DEV_ARM_VGIC_GRP_NR_IRQS`); redistributor passes per the
//!   survey @ae44c297.
//! - QEMU `hw/intc/arm_gicv3_kvm.c` @01b5ab8c (`kvm_arm_gicv3_get/put`, `kvm_dist_putbmp`
//!   writing 0 to the clear registers, the `GICD_IROUTER + 4 * i` loop, CTRL_INIT in
//!   `kvm_arm_gicv3_realize`), and the July 2025 pull (PULL 2/8 "Remove writes to ICPENDR
//!   registers", Message-Id 20250729161650.43758-2-zenghui.yu@linux.dev; b10bd4bd17ac "Write
//!   all 1's to clear enable/active", also in stable 10.0.4).
//! - crosvm `devices/src/irqchip/kvm/aarch64.rs` @03b88b64 (`snapshot`/`restore`,
//!   `get_dist_regs`/`set_dist_regs` sweeping 0..0x10000, `get_redist_regs`/`set_redist_regs`
//!   sweeping 0..0x20000, `AARCH64_GIC_NR_IRQS` = 64, "snapshot of vGIC ITS not supported yet",
//!   `finalize` = CTRL_INIT at VM build).
//! - `Documentation/virt/kvm/devices/arm-vgic-v3.rst` (6.17, eed9b1420907) for `kernel-doc`.
//!
//! CPU-interface registers (`KVM_DEV_ARM_VGIC_GRP_CPU_SYSREGS`, `Vgic::user_sysreg`) are
//! replayed as each VMM's source lists them (SRE, CTLR, IGRPEN0/1, PMR, BPR0/1, AP0R0/AP1R0
//! where it saves them); the ITS device's registers and tables, the LPI pending tables and
//! the guest RAM copy are [`its`]'s ops, placed where each VMM's source does them
//! ([`Op::Its`]); each recipe lists what it skips in [`Recipe::skipped`] with the reason.
//!
//! ```
//! use gicx_core::{host::Host, vgic::{Vgic, VmConfig}, vmm};
//! let fc = vmm::recipe("firecracker").unwrap();
//! let host = Host::parse_compact("v4.1@6.8").unwrap();
//! let config = VmConfig::new(1, fc.nr_irqs, false).unwrap();
//! let mut src = Vgic::new(host, config);
//! src.init();
//! src.run();
//! let saved = vmm::save(&mut src, fc, None).unwrap();
//! let mut dst = Vgic::new(host, config);
//! let r = vmm::restore(&mut dst, fc, &saved, &vmm::RestoreOptions::default());
//! assert!(r.refusal.is_none());
//! assert_eq!(r.accesses, 245 + 24 + 10 + 1, "distributor list, one redistributor, ten ICC accesses (FC_ICC_RESTORE), CTRL_INIT");
//! ```

use std::fmt;

use serde::Serialize;

use crate::catalogue::{
    self, Frame, GicdCtlr, GicdIcactiver, GicdIcenabler, GicdIcfgr, GicdIcpendr, GicdIgroupr,
    GicdIidr, GicdIpriorityr, GicdIrouter, GicdIsactiver, GicdIsenabler, GicdIspendr, GicdStatusr,
    GicdTyper, GicdTyper2, GicrCtlr, GicrIcactiver0, GicrIcenabler0, GicrIcfgr0, GicrIcfgr1,
    GicrIcpendr0, GicrIgroupr0, GicrIpriorityr, GicrIsactiver0, GicrIsenabler0, GicrIspendr0,
    GicrPendbaser, GicrPropbaser, GicrStatusr, GicrTyper, GicrWaker,
};
use crate::errno::Errno;
use crate::host::Era;
use crate::rules::{self as r, Rule};
use crate::vgic::cpu_sysregs::{
    ICC_AP0R0_EL1, ICC_AP1R0_EL1, ICC_BPR0_EL1, ICC_BPR1_EL1, ICC_CTLR_EL1, ICC_IGRPEN0_EL1,
    ICC_IGRPEN1_EL1, ICC_PMR_EL1, ICC_SRE_EL1,
};
use crate::vgic::{Lifecycle, NoopObserver, Op as VgicOp, Outcome, Vgic, VmConfig};

mod recipe;
mod recipes;
mod replay;
#[cfg(test)]
mod tests;
pub use recipe::*;
pub use recipes::*;
pub use replay::*;

mod change;
pub mod its;
pub use change::RecipeChange;
use change::{IDS_RESTORE, IDS_SAVE, LEVELS_RESTORE, LEVELS_SAVE};
use its::{ItsOp, ItsSaved};
