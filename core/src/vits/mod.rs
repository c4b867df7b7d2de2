//! KVM's emulated ITS (`KVM_DEV_TYPE_ARM_VGIC_ITS`,
//! `arch/arm64/kvm/vgic/vgic-its.c`): a device of its own, beside the vGICv3.
//!
//! One concept per file, after the kernel's own layout:
//! - [`regs`]: the register map (`its_registers[]`) and field encodings;
//! - [`command`]: the command encodings and `E_ITS_*` codes;
//! - this file: the device (`struct vgic_its`), its guest MMIO and
//!   `KVM_DEV_ARM_VGIC_GRP_ITS_REGS` paths, the command handlers, the
//!   translation (device, event → LPI, collection → vCPU), MSIs and the
//!   plain saved state [`ItsState`];
//! - [`tables`]: `KVM_DEV_ARM_ITS_SAVE_TABLES`/`RESTORE_TABLES` at ABI
//!   revision 0, bit for bit, with bounded scans of hostile tables;
//! - [`observer`]: what leaves the ITS ([`observer::ItsEvent`]);
//! - [`rules`], [`changes`]: each behaviour as a rule, and the commits that
//!   changed them ([`crate::host::KernelVersion::has`] picks per kernel).
//!
//! The ITS touches state KVM keeps elsewhere: guest memory
//! ([`crate::guest_memory::GuestMemory`]) and the redistributors' LPI
//! registers (PROPBASER, PENDBASER, EnableLPIs: [`Redistributors`], until the
//! redistributor model owns them). KVM keeps LPIs (`struct vgic_irq`) in
//! the distributor; the model keeps them here ([`LpiState`]) until LPIs reach
//! the redistributors.
//!
//! ```
//! use gicx_core::guest_memory::GuestMemory;
//! use gicx_core::vits::{command::Command, observer::NoopObserver, Bus, Its, Redistributors};
//! let mut mem = GuestMemory::new(64);
//! mem.add_region(0x4000_0000, 0x100_0000).unwrap();
//! let mut redists = Redistributors::new(2);
//! redists.propbaser = 0x4080_0000 | 15; // property table, 16 ID bits
//! redists.vcpus[1].enable_lpis = true;
//! redists.vcpus[1].pendbaser = 0x4090_0000; // without it, creating the LPI faults
//! let mut its = Its::new("6.12.43".parse().unwrap());
//! its.set_address(0x0808_0000, 40).unwrap();
//! let mut obs = NoopObserver;
//! let mut bus = Bus { mem: &mut mem, redists: &redists, observer: &mut obs };
//! its.setup_for_tests(&mut bus, 0x4000_0000, 0x4010_0000, 0x4020_0000);
//! for cmd in [
//!     Command::Mapd { device: 3, eventid_bits: 4, itt_addr: 0x4030_0000, valid: true },
//!     Command::Mapc { collection: 0, target: 1, valid: true },
//!     Command::Mapti { device: 3, event: 2, intid: 8200, collection: 0 },
//! ] {
//!     its.queue_command(&mut bus, &cmd).unwrap();
//! }
//! assert_eq!(its.translate(3, 2).map(|t| (t.intid, t.vcpu)), Some((8200, Some(1))));
//! assert_eq!(its.signal_msi(&mut bus, 0x0809_0040, Some(3), 2), Ok(1));
//! ```

pub mod changes;
pub mod command;
pub mod inspect;
pub mod observer;
pub mod regs;
pub mod rules;
pub mod tables;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::errno::Errno;
use crate::guest_memory::{GuestMemory, MemError};
use crate::host::KernelVersion;
use crate::rules::Rule;
use command::{Command, CommandError, ItsCode, CMD_SIZE};
use observer::{ItsEvent, ItsObserver};
use regs::{baser, ItsHandler, Widths};

/// `KVM_DEV_ARM_VGIC_GRP_ADDR`, `_GRP_CTRL`, `_GRP_ITS_REGS`.
pub const GRP_ADDR: u32 = 0;
pub const GRP_CTRL: u32 = 4;
pub const GRP_ITS_REGS: u32 = 8;
/// `KVM_VGIC_ITS_ADDR_TYPE`.
pub const ITS_ADDR_TYPE: u64 = 4;
/// The `KVM_DEV_ARM_VGIC_GRP_CTRL` attributes the ITS knows.
pub const CTRL_INIT: u64 = 0;
pub const CTRL_SAVE_TABLES: u64 = 1;
pub const CTRL_RESTORE_TABLES: u64 = 2;
pub const CTRL_RESET: u64 = 4;
/// `VGIC_ADDR_UNDEF`.
pub const ADDR_UNDEF: u64 = u64::MAX;
/// `GIC_LPI_OFFSET`: the first LPI.
pub const LPI_OFFSET: u32 = 8192;
/// `INTERRUPT_ID_BITS_ITS`.
pub const LPI_ID_BITS: u32 = 16;
/// Version of [`ItsState`].
pub const ITS_STATE_VERSION: u32 = 1;

/// What the ITS reads from the redistributors (KVM: `dist->propbaser`,
/// `vgic_cpu->pendbaser`, `vgic_lpis_enabled`). The redistributor model
/// will own these; until then callers pass them in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Redistributors {
    /// GICR_PROPBASER as KVM keeps it (one per VM): address [51:12], IDbits [4:0].
    pub propbaser: u64,
    /// One per vCPU, in vCPU order; its length is `online_vcpus`.
    pub vcpus: Vec<RedistLpis>,
}

/// One redistributor's LPI registers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedistLpis {
    /// GICR_CTLR.EnableLPIs.
    pub enable_lpis: bool,
    /// GICR_PENDBASER: address [51:16].
    pub pendbaser: u64,
}

impl Redistributors {
    /// `nr_vcpus` redistributors with LPIs disabled and the PROPBASER
    /// `vgic_its_create` writes (`INITIAL_PROPBASER_VALUE`, IDbits 0).
    pub fn new(nr_vcpus: u32) -> Redistributors {
        Redistributors {
            propbaser: regs::INITIAL_PROPBASER,
            vcpus: vec![RedistLpis::default(); nr_vcpus as usize],
        }
    }

    fn online(&self) -> u32 {
        self.vcpus.len() as u32
    }

    /// `max_lpis_propbaser`: 1 << min(IDbits + 1, 16).
    pub fn max_lpis(&self) -> u32 {
        let bits = (self.propbaser & 0x1f) as u32 + 1;
        1 << bits.min(LPI_ID_BITS)
    }

    fn prop_address(&self) -> u64 {
        self.propbaser & 0x000f_ffff_ffff_f000
    }
}

/// Everything an ITS operation touches outside the ITS.
pub struct Bus<'a> {
    pub mem: &'a mut GuestMemory,
    pub redists: &'a Redistributors,
    pub observer: &'a mut dyn ItsObserver,
}

impl Bus<'_> {
    fn rule(&mut self, rule: &'static Rule) {
        self.observer.event(&ItsEvent::Rule { rule });
    }
}

/// Why an ITS operation failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ItsError {
    /// KVM returns `errno`; `rule` is the rule that says so.
    #[error("{what}: {errno} ({rule})")]
    Kvm {
        errno: Errno,
        rule: &'static str,
        what: String,
    },
    /// The kernel dereferences NULL here (a host oops): the ioctl does not
    /// complete normally, so there is no errno.
    #[error("{what}: the host kernel dereferences NULL in {function} (an oops; the ioctl never returns normally)")]
    HostOops {
        function: &'static str,
        what: String,
    },
    /// A state KVM can reach but the model does not represent (named).
    #[error("{what} (gicx does not model this state)")]
    Unmodelled { what: String },
    /// The model's own bound, where KVM would keep going.
    #[error("{what}: refused by gicx, more than {limit} table entries (KVM would keep scanning)")]
    TooLarge { what: String, limit: u64 },
}

impl ItsError {
    fn kvm(errno: Errno, rule: &'static Rule, what: impl Into<String>) -> ItsError {
        ItsError::Kvm {
            errno,
            rule: rule.id,
            what: what.into(),
        }
    }

    /// The errno KVM returns, if it returns one.
    pub fn errno(&self) -> Option<Errno> {
        match self {
            ItsError::Kvm { errno, .. } => Some(*errno),
            ItsError::HostOops { .. } | ItsError::TooLarge { .. } | ItsError::Unmodelled { .. } => {
                None
            }
        }
    }
}

/// A mapped device (`struct its_device`).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Device {
    itt_addr: u64,
    /// 1..=32 (more than 16 only from a restore on kernels without 9ce754ed8e7a).
    eventid_bits: u32,
    ites: BTreeMap<u32, Ite>,
}

/// An interrupt translation entry (`struct its_ite`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Ite {
    intid: u32,
    /// The collection's ID; `None` once MAPC V=0 freed it (KVM's NULL).
    collection: Option<u16>,
}

/// A collection (`struct its_collection`): `target` None is `COLLECTION_NOT_MAPPED`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CollectionState {
    pub id: u16,
    pub target: Option<u32>,
}

/// An LPI (`struct vgic_irq` on the distributor's LPI list).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LpiState {
    pub intid: u32,
    pub target: Option<u32>,
    /// The property table's priority bits [7:2].
    pub priority: u8,
    pub enabled: bool,
    pub pending: bool,
}

/// A translation: the LPI and the vCPU an event reaches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Translation {
    pub intid: u32,
    pub collection: Option<u16>,
    /// `None` if the collection is unmapped (or gone).
    pub vcpu: Option<u32>,
}

/// The plain saved state of the ITS: exactly what `struct vgic_its` and
/// the LPIs it mapped hold.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItsState {
    pub version: u32,
    /// `vgic_its_base`; `None` is `VGIC_ADDR_UNDEF`.
    pub base: Option<u64>,
    pub enabled: bool,
    pub abi_rev: u32,
    pub cbaser: u64,
    pub creadr: u64,
    pub cwriter: u64,
    pub baser_device: u64,
    pub baser_coll: u64,
    pub devices: Vec<DeviceState>,
    /// In KVM's list order (the order a save writes them).
    pub collections: Vec<CollectionState>,
    pub lpis: Vec<LpiState>,
}

/// A saved device.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceState {
    pub id: u32,
    pub itt_addr: u64,
    pub eventid_bits: u32,
    pub ites: Vec<IteState>,
}

/// A saved ITE.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IteState {
    pub event: u32,
    pub intid: u32,
    pub collection: Option<u16>,
}

/// Why an [`ItsState`] cannot be loaded; names the field.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("ITS state, {place}: {reason}")]
pub struct ItsStateError {
    pub place: String,
    pub reason: String,
}

/// The live ITS.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Its {
    kernel: KernelVersion,
    base: Option<u64>,
    enabled: bool,
    abi_rev: u32,
    cbaser: u64,
    creadr: u64,
    cwriter: u64,
    baser_device: u64,
    baser_coll: u64,
    devices: BTreeMap<u32, Device>,
    collections: Vec<CollectionState>,
    lpis: BTreeMap<u32, LpiState>,
}

impl Its {
    /// `vgic_its_create`: disabled, no address, BASER0/1 with their types and
    /// KVM's initial attributes, ABI revision 0 committed.
    pub fn new(kernel: KernelVersion) -> Its {
        let mut its = Its {
            kernel,
            base: None,
            enabled: false,
            abi_rev: 0,
            cbaser: 0,
            creadr: 0,
            cwriter: 0,
            baser_device: regs::INITIAL_BASER | baser::TYPE_DEVICE << baser::TYPE_SHIFT,
            baser_coll: regs::INITIAL_BASER | baser::TYPE_COLLECTION << baser::TYPE_SHIFT,
            devices: BTreeMap::new(),
            collections: Vec::new(),
            lpis: BTreeMap::new(),
        };
        its.commit_abi();
        its
    }

    /// The kernel whose behaviour this ITS follows.
    pub fn kernel(&self) -> KernelVersion {
        self.kernel
    }

    /// `vgic_its_commit_v0`: the BASERs' Entry_Size fields from the ABI (8 bytes).
    fn commit_abi(&mut self) {
        let esz = (tables::ESZ - 1) << baser::ENTRY_SIZE_SHIFT;
        self.baser_device = self.baser_device & !baser::ENTRY_SIZE_MASK | esz;
        self.baser_coll = self.baser_coll & !baser::ENTRY_SIZE_MASK | esz;
    }

    // ------------------------------------------------------------------ attributes

    /// `KVM_SET_DEVICE_ATTR(GRP_ADDR, KVM_VGIC_ITS_ADDR_TYPE)`, in an IPA
    /// space of `ipa_bits` bits.
    pub fn set_address(&mut self, addr: u64, ipa_bits: u32) -> Result<(), ItsError> {
        let r = &rules::ADDR_SET;
        if self.base.is_some() {
            return Err(ItsError::kvm(
                Errno::EEXIST,
                r,
                "the ITS address is already set",
            ));
        }
        if !addr.is_multiple_of(0x1_0000) {
            return Err(ItsError::kvm(
                Errno::EINVAL,
                r,
                format!("ITS address {addr:#x} is not 64 KiB aligned"),
            ));
        }
        let limit = 1u64.checked_shl(ipa_bits).unwrap_or(u64::MAX);
        if addr
            .checked_add(regs::ITS_FRAME_SIZE)
            .is_none_or(|end| end > limit)
        {
            return Err(ItsError::kvm(
                Errno::E2BIG,
                r,
                format!("ITS frame at {addr:#x} ends beyond the {ipa_bits}-bit IPA space"),
            ));
        }
        self.base = Some(addr);
        Ok(())
    }

    /// Any address attribute type but the ITS's: -ENODEV.
    pub fn set_address_type(&mut self, ty: u64, addr: u64, ipa_bits: u32) -> Result<(), ItsError> {
        if ty != ITS_ADDR_TYPE {
            return Err(ItsError::kvm(
                Errno::ENODEV,
                &rules::ADDR_SET,
                format!("address type {ty} is not KVM_VGIC_ITS_ADDR_TYPE (4)"),
            ));
        }
        self.set_address(addr, ipa_bits)
    }

    /// `KVM_GET_DEVICE_ATTR(GRP_ADDR)`: the base or `VGIC_ADDR_UNDEF`.
    pub fn address(&self) -> u64 {
        self.base.unwrap_or(ADDR_UNDEF)
    }

    /// `vgic_its_has_attr`.
    pub fn has_attr(&self, group: u32, attr: u64) -> Result<(), ItsError> {
        let r = &rules::HAS_ATTR;
        let ok = match group {
            GRP_ADDR => attr == ITS_ADDR_TYPE,
            GRP_CTRL => matches!(
                attr,
                CTRL_INIT | CTRL_RESET | CTRL_SAVE_TABLES | CTRL_RESTORE_TABLES
            ),
            GRP_ITS_REGS => {
                let align = if attr < regs::GITS_TYPER as u64 || attr >= regs::GITS_PIDR4 as u64 {
                    3
                } else {
                    7
                };
                if attr & align != 0 {
                    return Err(ItsError::kvm(
                        Errno::EINVAL,
                        r,
                        format!("ITS register offset {attr:#x} is misaligned"),
                    ));
                }
                u32::try_from(attr)
                    .ok()
                    .and_then(regs::find_region)
                    .is_some()
            }
            _ => false,
        };
        if ok {
            Ok(())
        } else {
            Err(ItsError::kvm(
                Errno::ENXIO,
                r,
                format!("group {group} attribute {attr:#x} is not an ITS attribute"),
            ))
        }
    }

    /// `KVM_SET_DEVICE_ATTR(GRP_CTRL, attr)`: `vgic_its_ctrl`.
    pub fn ctrl(&mut self, bus: &mut Bus, attr: u64) -> Result<(), ItsError> {
        match attr {
            CTRL_INIT => {
                bus.rule(&rules::CTRL_INIT_NOP);
                Ok(())
            }
            CTRL_RESET => {
                bus.rule(&rules::RESET);
                self.reset(bus);
                Ok(())
            }
            CTRL_SAVE_TABLES => self.save_tables(bus),
            CTRL_RESTORE_TABLES => self.restore_tables(bus),
            _ if self.kernel.has(&changes::ITS_CTRL_UNKNOWN_ENXIO) => {
                bus.rule(&rules::CTRL_UNKNOWN_ENXIO);
                Err(ItsError::kvm(
                    Errno::ENXIO,
                    &rules::CTRL_UNKNOWN_ENXIO,
                    format!("GRP_CTRL attribute {attr} is not one the ITS knows"),
                ))
            }
            _ => {
                bus.rule(&rules::CTRL_UNKNOWN_IGNORED);
                Ok(())
            }
        }
    }

    /// `vgic_its_reset`.
    fn reset(&mut self, bus: &mut Bus) {
        self.baser_coll &= !baser::VALID;
        self.baser_device &= !baser::VALID;
        self.cbaser = 0;
        self.creadr = 0;
        self.cwriter = 0;
        self.enabled = false;
        self.free_all_devices(bus);
        self.free_all_collections();
    }

    // ------------------------------------------------------------------ guest MMIO

    /// A guest load of `width` bits at `offset` in the ITS frame.
    pub fn guest_read(&mut self, bus: &mut Bus, offset: u32, width: u8) -> u64 {
        match self.guest_region(bus, offset, width) {
            Some(h) => self.read_reg(bus, h, offset, width as u32 / 8),
            None => 0,
        }
    }

    /// A guest store.
    pub fn guest_write(&mut self, bus: &mut Bus, offset: u32, width: u8, value: u64) {
        if let Some(h) = self.guest_region(bus, offset, width) {
            match h {
                ItsHandler::Iidr => bus.rule(&rules::IIDR_READ),
                ItsHandler::Typer => bus.rule(&rules::TYPER_READ),
                ItsHandler::Creadr => bus.rule(&rules::CREADR_GUEST_WI),
                ItsHandler::IdRegs => bus.rule(&rules::IDREGS),
                _ => self.write_reg(bus, h, offset, width as u32 / 8, value),
            }
        }
    }

    /// `vgic_get_mmio_region` + `check_region` for a guest access.
    fn guest_region(&self, bus: &mut Bus, offset: u32, width: u8) -> Option<ItsHandler> {
        let Some(region) = regs::find_region(offset) else {
            bus.rule(if offset == regs::GITS_TRANSLATER {
                &rules::GUEST_TRANSLATER_IGNORED
            } else {
                &rules::GUEST_NO_REGION
            });
            return None;
        };
        let len = width as u32 / 8;
        let allowed = match region.widths {
            Widths::W32 => width == 32,
            Widths::W32W64 => width == 32 || width == 64,
        };
        if !allowed || !offset.is_multiple_of(len.max(1)) {
            bus.rule(&rules::GUEST_BAD_WIDTH);
            return None;
        }
        Some(region.handler)
    }

    fn read_reg(&mut self, bus: &mut Bus, h: ItsHandler, offset: u32, len: u32) -> u64 {
        let reg = match h {
            ItsHandler::Ctlr => {
                bus.rule(&rules::CTLR_READ);
                let mut v = 0u32;
                if self.creadr == self.cwriter {
                    v |= regs::ctlr::QUIESCENT;
                }
                if self.enabled {
                    v |= regs::ctlr::ENABLE;
                }
                return v as u64;
            }
            ItsHandler::Iidr => {
                bus.rule(&rules::IIDR_READ);
                return self.iidr() as u64;
            }
            ItsHandler::Typer => {
                bus.rule(&rules::TYPER_READ);
                Self::typer()
            }
            ItsHandler::Cbaser => self.cbaser,
            ItsHandler::Cwriter => self.cwriter,
            ItsHandler::Creadr => self.creadr,
            ItsHandler::Baser => match (offset - regs::GITS_BASER) / 8 {
                0 => self.baser_device,
                1 => self.baser_coll,
                _ => {
                    bus.rule(&rules::BASER_UNIMPLEMENTED);
                    0
                }
            },
            ItsHandler::IdRegs => {
                bus.rule(&rules::IDREGS);
                return regs::idreg(offset) as u64;
            }
        };
        regs::extract_bytes(reg, offset, len)
    }

    /// `GITS_IIDR`.
    pub fn iidr(&self) -> u32 {
        (self.abi_rev << regs::iidr::REV_SHIFT) & regs::iidr::REV_MASK | regs::iidr::KVM_ARM
    }

    /// `GITS_TYPER` (`vgic_mmio_read_its_typer`).
    pub fn typer() -> u64 {
        use regs::typer::*;
        PLPIS
            | (tables::ESZ - 1) << ITT_ENTRY_SIZE_SHIFT
            | ((regs::VITS_IDBITS - 1) as u64) << IDBITS_SHIFT
            | ((regs::VITS_DEVBITS - 1) as u64) << DEVBITS_SHIFT
    }

    /// The guest write handlers (also the userspace ones where a region has none).
    fn write_reg(&mut self, bus: &mut Bus, h: ItsHandler, offset: u32, len: u32, val: u64) {
        match h {
            ItsHandler::Ctlr => self.write_ctlr(bus, val),
            ItsHandler::Cbaser => {
                bus.rule(&rules::CBASER_WRITE);
                if self.enabled {
                    return;
                }
                let r = regs::update_64bit_reg(self.cbaser, offset, len, val);
                // vgic_sanitise_its_cbaser: cacheability, then address bits [15:12] cleared.
                self.cbaser = regs::sanitise_cacheability(r) & !0xf000;
                self.creadr = 0;
                self.cwriter = 0;
            }
            ItsHandler::Cwriter => {
                bus.rule(&rules::CWRITER_WRITE);
                let r = regs::cmd_offset(regs::update_64bit_reg(self.cwriter, offset, len, val));
                if r >= regs::cmd_buffer_size(self.cbaser) {
                    return;
                }
                self.cwriter = r;
                self.process_commands(bus);
            }
            ItsHandler::Baser => self.write_baser(bus, offset, len, val),
            ItsHandler::Iidr | ItsHandler::Typer | ItsHandler::Creadr | ItsHandler::IdRegs => {}
        }
    }

    fn write_ctlr(&mut self, bus: &mut Bus, val: u64) {
        let enable = val as u32 & regs::ctlr::ENABLE != 0;
        if !self.enabled
            && enable
            && (self.baser_device & baser::VALID == 0
                || self.baser_coll & baser::VALID == 0
                || self.cbaser & baser::VALID == 0)
        {
            bus.rule(&rules::CTLR_ENABLE_NEEDS_TABLES);
            return;
        }
        bus.rule(&rules::CTLR_WRITE);
        self.enabled = enable;
        self.process_commands(bus);
    }

    fn write_baser(&mut self, bus: &mut Bus, offset: u32, len: u32, val: u64) {
        let index = (offset - regs::GITS_BASER) / 8;
        if index > 1 {
            bus.rule(&rules::BASER_UNIMPLEMENTED);
            return;
        }
        bus.rule(&rules::BASER_WRITE);
        if self.enabled {
            return;
        }
        let (old, ty, clear) = if index == 0 {
            (self.baser_device, baser::TYPE_DEVICE, 0)
        } else {
            (self.baser_coll, baser::TYPE_COLLECTION, baser::INDIRECT)
        };
        let mut r = regs::update_64bit_reg(old, offset, len, val);
        r &= !baser::RO_MASK;
        r &= !clear;
        r |= (tables::ESZ - 1) << baser::ENTRY_SIZE_SHIFT;
        r |= ty << baser::TYPE_SHIFT;
        r = regs::sanitise_cacheability(r);
        r = r & !baser::PAGE_SIZE_MASK | baser::PAGE_SIZE_64K;
        if index == 0 {
            self.baser_device = r;
        } else {
            self.baser_coll = r;
        }
        if r & baser::VALID == 0 {
            bus.rule(&rules::BASER_INVALID_UNMAPS);
            if index == 0 {
                self.free_all_devices(bus);
            } else {
                self.free_all_collections();
            }
        }
    }

    // ------------------------------------------------------------------ userspace registers

    fn user_region(&self, offset: u64) -> Result<(&'static regs::ItsRegion, u32), ItsError> {
        let align = if offset < regs::GITS_TYPER as u64 || offset >= regs::GITS_PIDR4 as u64 {
            3
        } else {
            7
        };
        if offset & align != 0 {
            return Err(ItsError::kvm(
                Errno::EINVAL,
                &rules::UACCESS_ALIGNMENT,
                format!(
                    "ITS_REGS offset {offset:#x} is not {}-byte aligned",
                    align + 1
                ),
            ));
        }
        if self.base.is_none() {
            return Err(ItsError::kvm(
                Errno::ENXIO,
                &rules::UACCESS_NO_BASE,
                "ITS_REGS access before the ITS address is set",
            ));
        }
        let region = u32::try_from(offset)
            .ok()
            .and_then(regs::find_region)
            .ok_or_else(|| {
                ItsError::kvm(
                    Errno::ENXIO,
                    &rules::UACCESS_NO_REGION,
                    format!("no ITS register at offset {offset:#x}"),
                )
            })?;
        let len = if region.widths == Widths::W32W64 {
            8
        } else {
            4
        };
        Ok((region, len))
    }

    /// `KVM_GET_DEVICE_ATTR(GRP_ITS_REGS, offset)`.
    pub fn user_read(&mut self, bus: &mut Bus, offset: u64) -> Result<u64, ItsError> {
        let (region, len) = self.user_region(offset)?;
        bus.rule(&rules::UACCESS_HANDLER);
        Ok(self.read_reg(bus, region.handler, offset as u32, len))
    }

    /// `KVM_SET_DEVICE_ATTR(GRP_ITS_REGS, offset)`.
    pub fn user_write(&mut self, bus: &mut Bus, offset: u64, value: u64) -> Result<(), ItsError> {
        let (region, len) = self.user_region(offset)?;
        bus.rule(&rules::UACCESS_HANDLER);
        match region.handler {
            ItsHandler::Iidr => {
                let r = &rules::IIDR_UACCESS;
                bus.rule(r);
                let rev = ((value as u32) & regs::iidr::REV_MASK) >> regs::iidr::REV_SHIFT;
                if rev >= 1 {
                    return Err(ItsError::kvm(
                        Errno::EINVAL,
                        r,
                        format!(
                            "GITS_IIDR revision {rev}: KVM knows only ITS table ABI revision 0"
                        ),
                    ));
                }
                self.abi_rev = rev;
                self.commit_abi();
                Ok(())
            }
            ItsHandler::Creadr => {
                let r = &rules::CREADR_UACCESS;
                bus.rule(r);
                if self.enabled {
                    return Err(ItsError::kvm(
                        Errno::EBUSY,
                        r,
                        "GITS_CREADR cannot be restored while the ITS is enabled",
                    ));
                }
                let off = regs::cmd_offset(value);
                if off >= regs::cmd_buffer_size(self.cbaser) {
                    return Err(ItsError::kvm(
                        Errno::EINVAL,
                        r,
                        format!(
                            "GITS_CREADR {off:#x} is beyond the {}-byte command queue",
                            regs::cmd_buffer_size(self.cbaser)
                        ),
                    ));
                }
                self.creadr = off;
                Ok(())
            }
            h => {
                self.write_reg(bus, h, offset as u32, len, value);
                Ok(())
            }
        }
    }

    // ------------------------------------------------------------------ commands

    /// `vgic_its_process_commands`.
    fn process_commands(&mut self, bus: &mut Bus) {
        if !self.enabled {
            if self.creadr != self.cwriter {
                bus.rule(&rules::CMD_ONLY_WHEN_ENABLED);
            }
            return;
        }
        let base = regs::cbaser_address(self.cbaser);
        let size = regs::cmd_buffer_size(self.cbaser);
        while self.cwriter != self.creadr {
            let gpa = base + self.creadr;
            let mut buf = [0u8; CMD_SIZE as usize];
            match bus.mem.read(gpa, &mut buf) {
                Ok(()) => {
                    let mut words = [0u64; 4];
                    for (i, w) in words.iter_mut().enumerate() {
                        *w = u64::from_le_bytes(buf[i * 8..i * 8 + 8].try_into().unwrap_or([0; 8]));
                    }
                    let command = Command::decode(&words);
                    let error = self.handle_command(bus, &command).err();
                    if error.is_some() {
                        bus.rule(&rules::CMD_ERROR_IGNORED);
                    }
                    bus.observer.event(&ItsEvent::Command {
                        gpa,
                        offset: self.creadr,
                        command,
                        error,
                    });
                }
                Err(_) => {
                    bus.rule(&rules::CMD_READ_FAULT);
                    bus.observer.event(&ItsEvent::CommandUnreadable {
                        gpa,
                        offset: self.creadr,
                    });
                }
            }
            self.creadr += CMD_SIZE;
            if self.creadr == size {
                self.creadr = 0;
            }
        }
    }

    /// `vgic_its_handle_command`.
    fn handle_command(&mut self, bus: &mut Bus, cmd: &Command) -> Result<(), CommandError> {
        match *cmd {
            Command::Mapd {
                device,
                eventid_bits,
                itt_addr,
                valid,
            } => {
                bus.rule(&rules::CMD_MAPD);
                self.cmd_mapd(bus, device, eventid_bits as u32, itt_addr, valid)
            }
            Command::Mapc {
                collection,
                target,
                valid,
            } => {
                bus.rule(&rules::CMD_MAPC);
                self.cmd_mapc(bus, collection, target, valid)
            }
            Command::Mapti {
                device,
                event,
                intid,
                collection,
            } => {
                bus.rule(&rules::CMD_MAPTI);
                self.cmd_mapi(bus, device, event, intid, collection)
            }
            Command::Mapi {
                device,
                event,
                collection,
            } => {
                bus.rule(&rules::CMD_MAPTI);
                self.cmd_mapi(bus, device, event, event, collection)
            }
            Command::Movi {
                device,
                event,
                collection,
            } => {
                bus.rule(&rules::CMD_MOVI);
                self.cmd_movi(bus, device, event, collection)
            }
            Command::Discard { device, event } => {
                bus.rule(&rules::CMD_DISCARD);
                self.cmd_discard(bus, device, event)
            }
            Command::Clear { device, event } => {
                bus.rule(&rules::CMD_CLEAR);
                let ite = self
                    .find_ite(device, event)
                    .ok_or(ItsCode::E_ITS_CLEAR_UNMAPPED_INTERRUPT)?;
                if let Some(l) = self.lpis.get_mut(&ite.intid) {
                    l.pending = false;
                }
                bus.observer
                    .event(&ItsEvent::LpiCleared { intid: ite.intid });
                Ok(())
            }
            Command::Int { device, event } => {
                bus.rule(&rules::CMD_INT);
                match self.trigger(bus, device, event) {
                    Ok(()) => Ok(()),
                    Err(Trigger::Unmapped) => Err(ItsCode::E_ITS_INT_UNMAPPED_INTERRUPT.into()),
                    // -EBUSY from vgic_its_resolve_lpi: dropped like any error.
                    Err(Trigger::Busy(reason)) => Err(CommandError::Errno {
                        errno: Errno::EBUSY,
                        reason,
                    }),
                }
            }
            Command::Inv { device, event } => {
                bus.rule(&rules::CMD_INV);
                let ite = self
                    .find_ite(device, event)
                    .ok_or(ItsCode::E_ITS_INV_UNMAPPED_INTERRUPT)?;
                self.update_lpi_config(bus, ite.intid, None)
            }
            Command::Invall { collection } => {
                bus.rule(&rules::CMD_INVALL);
                let vcpu = self
                    .collection(collection)
                    .and_then(|c| c.target)
                    .ok_or(ItsCode::E_ITS_INVALL_UNMAPPED_COLLECTION)?;
                // vgic_its_invall: errors of update_lpi_config are ignored.
                let intids: Vec<u32> = self
                    .lpis
                    .values()
                    .filter(|l| l.target == Some(vcpu))
                    .map(|l| l.intid)
                    .collect();
                for intid in intids {
                    let _ = self.update_lpi_config(bus, intid, Some(vcpu));
                }
                Ok(())
            }
            Command::Sync { .. } => {
                bus.rule(&rules::CMD_SYNC);
                Ok(())
            }
            Command::Movall { from, to } => {
                bus.rule(&rules::CMD_MOVALL);
                let online = bus.redists.online();
                if from >= online || to >= online {
                    return Err(ItsCode::E_ITS_MOVALL_PROCNUM_OOR.into());
                }
                if from != to {
                    // 6.10 (11f4f8f3e6e0) walks every LPI with no target test
                    // until the fix (7.2, and 6.12.118: UNCONFIRMED commit).
                    let every = self.kernel.has(&changes::ITS_MOVALL_EVERY_LPI)
                        && !self.kernel.has(&changes::ITS_MOVALL_SOURCE_ONLY);
                    if every {
                        bus.rule(&rules::CMD_MOVALL_EVERY_LPI);
                    }
                    let intids: Vec<u32> = self
                        .lpis
                        .values()
                        .filter(|l| every || l.target == Some(from))
                        .map(|l| l.intid)
                        .collect();
                    for intid in intids {
                        self.set_target(bus, intid, Some(to));
                    }
                }
                Ok(())
            }
            Command::Other { number } => Err(CommandError::Unknown { number }),
        }
    }

    /// `vgic_its_check_id` for the device (BASER0) or collection (BASER1)
    /// table: whether `id` has an entry there, and its address.
    pub(crate) fn check_id(&self, mem: &GuestMemory, device_table: bool, id: u32) -> Option<u64> {
        let reg = if device_table {
            self.baser_device
        } else {
            self.baser_coll
        };
        let l1_size = regs::baser_nr_pages(reg) * 0x1_0000;
        let base = regs::baser_address(reg);
        let esz = ((reg & baser::ENTRY_SIZE_MASK) >> baser::ENTRY_SIZE_SHIFT) + 1;
        let max = if device_table {
            1u64 << regs::VITS_DEVBITS
        } else {
            1 << 16
        };
        let id = id as u64;
        if id >= max {
            return None;
        }
        if reg & baser::INDIRECT == 0 {
            if id >= l1_size / esz {
                return None;
            }
            let addr = base + id * esz;
            return mem.is_visible(addr).then_some(addr);
        }
        let index = id / (0x1_0000 / esz);
        if index >= l1_size / 8 {
            return None;
        }
        let l1 = mem.read_u64(base + index * 8).ok()?;
        if l1 & (1 << 63) == 0 {
            return None;
        }
        let addr = (l1 & 0x000f_ffff_ffff_0000) + (id % (0x1_0000 / esz)) * esz;
        mem.is_visible(addr).then_some(addr)
    }

    /// `vgic_its_check_event_id`.
    fn check_event_id(&self, mem: &GuestMemory, dev: &Device, event: u32) -> bool {
        if (event as u64) >= 1u64 << dev.eventid_bits {
            return false;
        }
        mem.is_visible(dev.itt_addr + event as u64 * tables::ESZ)
    }

    fn cmd_mapd(
        &mut self,
        bus: &mut Bus,
        device: u32,
        bits: u32,
        itt_addr: u64,
        valid: bool,
    ) -> Result<(), CommandError> {
        let gpa = self
            .check_id(bus.mem, true, device)
            .ok_or(ItsCode::E_ITS_MAPD_DEVICE_OOR)?;
        if valid && bits > regs::VITS_IDBITS {
            return Err(ItsCode::E_ITS_MAPD_ITTSIZE_OOR.into());
        }
        if self.devices.contains_key(&device) {
            self.free_device(bus, device);
        }
        if !valid {
            if self.kernel.has(&changes::ITS_CLEAR_ENTRY_ON_UNMAP) {
                bus.rule(&rules::CMD_MAPD_UNMAP_CLEARS);
                bus.mem.write_u64(gpa, 0)?;
            }
            return Ok(());
        }
        self.devices.insert(
            device,
            Device {
                itt_addr,
                eventid_bits: bits,
                ites: BTreeMap::new(),
            },
        );
        Ok(())
    }

    fn cmd_mapc(
        &mut self,
        bus: &mut Bus,
        id: u16,
        target: u32,
        valid: bool,
    ) -> Result<(), CommandError> {
        if target >= bus.redists.online() {
            return Err(ItsCode::E_ITS_MAPC_PROCNUM_OOR.into());
        }
        if !valid {
            self.free_collection(id);
            return Ok(());
        }
        match self.collections.iter().position(|c| c.id == id) {
            None => {
                if self.check_id(bus.mem, false, id as u32).is_none() {
                    return Err(ItsCode::E_ITS_MAPC_COLLECTION_OOR.into());
                }
                self.collections.push(CollectionState {
                    id,
                    target: Some(target),
                });
            }
            Some(i) => {
                self.collections[i].target = Some(target);
                // update_affinity_collection
                let intids: Vec<u32> = self
                    .devices
                    .values()
                    .flat_map(|d| d.ites.values())
                    .filter(|ite| ite.collection == Some(id))
                    .map(|ite| ite.intid)
                    .collect();
                for intid in intids {
                    self.set_target(bus, intid, Some(target));
                }
            }
        }
        Ok(())
    }

    fn cmd_mapi(
        &mut self,
        bus: &mut Bus,
        device: u32,
        event: u32,
        intid: u32,
        coll: u16,
    ) -> Result<(), CommandError> {
        let dev = self
            .devices
            .get(&device)
            .ok_or(ItsCode::E_ITS_MAPTI_UNMAPPED_DEVICE)?;
        if !self.check_event_id(bus.mem, dev, event) {
            return Err(ItsCode::E_ITS_MAPTI_ID_OOR.into());
        }
        if intid < LPI_OFFSET || intid >= bus.redists.max_lpis() {
            return Err(ItsCode::E_ITS_MAPTI_PHYSICALID_OOR.into());
        }
        if dev.ites.contains_key(&event) {
            bus.rule(&rules::CMD_MAPTI_EXISTING);
            return Ok(());
        }
        // 7.3 (measured, commit not identified): an LPI another ITE maps is
        // not shared any more; the command is dropped.
        if self.lpis.contains_key(&intid) && self.kernel.has(&changes::ITS_MAPTI_LPI_IN_USE) {
            bus.rule(&rules::CMD_MAPTI_LPI_IN_USE);
            return Err(ItsCode::E_ITS_MAPTI_PHYSICALID_OOR.into());
        }
        let mut new_coll = false;
        if self.collection(coll).is_none() {
            if self.check_id(bus.mem, false, coll as u32).is_none() {
                return Err(ItsCode::E_ITS_MAPC_COLLECTION_OOR.into());
            }
            self.collections.push(CollectionState {
                id: coll,
                target: None,
            });
            new_coll = true;
        }
        let vcpu = self.collection(coll).and_then(|c| c.target);
        if let Err(e) = self.add_lpi(bus, intid, vcpu) {
            if new_coll {
                self.free_collection(coll);
            }
            return Err(e.into());
        }
        if let Some(d) = self.devices.get_mut(&device) {
            d.ites.insert(
                event,
                Ite {
                    intid,
                    collection: Some(coll),
                },
            );
        }
        Ok(())
    }

    fn cmd_movi(
        &mut self,
        bus: &mut Bus,
        device: u32,
        event: u32,
        coll: u16,
    ) -> Result<(), CommandError> {
        let ite = self
            .find_ite(device, event)
            .ok_or(ItsCode::E_ITS_MOVI_UNMAPPED_INTERRUPT)?;
        let mapped = |c: Option<&CollectionState>| c.is_some_and(|c| c.target.is_some());
        if !mapped(ite.collection.and_then(|c| self.collection(c))) {
            return Err(ItsCode::E_ITS_MOVI_UNMAPPED_COLLECTION.into());
        }
        let Some(target) = self.collection(coll).and_then(|c| c.target) else {
            return Err(ItsCode::E_ITS_MOVI_UNMAPPED_COLLECTION.into());
        };
        if let Some(i) = self
            .devices
            .get_mut(&device)
            .and_then(|d| d.ites.get_mut(&event))
        {
            i.collection = Some(coll);
        }
        self.set_target(bus, ite.intid, Some(target));
        Ok(())
    }

    fn cmd_discard(&mut self, bus: &mut Bus, device: u32, event: u32) -> Result<(), CommandError> {
        let ite = self
            .find_ite(device, event)
            .ok_or(ItsCode::E_ITS_DISCARD_UNMAPPED_INTERRUPT)?;
        if ite
            .collection
            .and_then(|c| self.collection(c))
            .and_then(|c| c.target)
            .is_none()
        {
            return Err(ItsCode::E_ITS_DISCARD_UNMAPPED_INTERRUPT.into());
        }
        let itt = self.devices[&device].itt_addr;
        if let Some(d) = self.devices.get_mut(&device) {
            d.ites.remove(&event);
        }
        self.put_lpi(bus, ite.intid);
        if self.kernel.has(&changes::ITS_CLEAR_ENTRY_ON_UNMAP) {
            bus.rule(&rules::CMD_DISCARD_CLEARS);
            bus.mem.write_u64(itt + event as u64 * tables::ESZ, 0)?;
        }
        Ok(())
    }

    fn find_ite(&self, device: u32, event: u32) -> Option<Ite> {
        self.devices.get(&device)?.ites.get(&event).copied()
    }

    fn collection(&self, id: u16) -> Option<&CollectionState> {
        self.collections.iter().find(|c| c.id == id)
    }

    /// `vgic_its_free_collection`: its ITEs keep no collection (NULL).
    fn free_collection(&mut self, id: u16) {
        if let Some(i) = self.collections.iter().position(|c| c.id == id) {
            for d in self.devices.values_mut() {
                for ite in d.ites.values_mut() {
                    if ite.collection == Some(id) {
                        ite.collection = None;
                    }
                }
            }
            self.collections.remove(i);
        }
    }

    fn free_all_collections(&mut self) {
        let ids: Vec<u16> = self.collections.iter().map(|c| c.id).collect();
        for id in ids {
            self.free_collection(id);
        }
    }

    /// `vgic_its_free_device`: every ITE goes, with its LPI if unused.
    fn free_device(&mut self, bus: &mut Bus, device: u32) {
        if let Some(d) = self.devices.remove(&device) {
            for ite in d.ites.values() {
                self.put_lpi(bus, ite.intid);
            }
        }
    }

    fn free_all_devices(&mut self, bus: &mut Bus) {
        let ids: Vec<u32> = self.devices.keys().copied().collect();
        for id in ids {
            self.free_device(bus, id);
        }
    }

    /// How many ITEs map `intid` (KVM's refcount on the LPI).
    fn lpi_refs(&self, intid: u32) -> usize {
        self.devices
            .values()
            .flat_map(|d| d.ites.values())
            .filter(|i| i.intid == intid)
            .count()
    }

    /// `vgic_put_irq` after an ITE went: the LPI goes with its last mapping.
    fn put_lpi(&mut self, bus: &mut Bus, intid: u32) {
        if self.lpi_refs(intid) == 0 && self.lpis.remove(&intid).is_some() {
            bus.observer.event(&ItsEvent::LpiUnmapped { intid });
        }
    }

    /// `vgic_add_lpi`: reuse an existing LPI as it is, or create one reading
    /// its configuration and (with a target) pending bit from guest memory.
    fn add_lpi(&mut self, bus: &mut Bus, intid: u32, vcpu: Option<u32>) -> Result<(), MemError> {
        if self.lpis.contains_key(&intid) {
            bus.rule(&rules::LPI_SHARED);
            return Ok(());
        }
        bus.rule(&rules::LPI_CONFIG_FROM_MEMORY);
        let prop = Self::read_prop(bus, intid)?;
        let mut lpi = LpiState {
            intid,
            target: vcpu,
            priority: prop & 0xfc,
            enabled: prop & 1 != 0,
            pending: false,
        };
        if let Some(v) = vcpu {
            bus.rule(&rules::LPI_PENDING_FROM_TABLE);
            let pendbase = bus
                .redists
                .vcpus
                .get(v as usize)
                .map_or(0, |r| r.pendbaser & 0x000f_ffff_ffff_0000);
            let ptr = pendbase + (intid / 8) as u64;
            let mut b = [0u8];
            bus.mem.read(ptr, &mut b)?;
            let bit = 1u8 << (intid % 8);
            lpi.pending = b[0] & bit != 0;
            if lpi.pending {
                bus.mem.write(ptr, &[b[0] & !bit])?;
            }
        }
        bus.observer.event(&ItsEvent::LpiConfigured {
            intid,
            priority: lpi.priority,
            enabled: lpi.enabled,
        });
        self.lpis.insert(intid, lpi);
        if lpi.pending {
            if let Some(v) = vcpu {
                bus.observer.event(&ItsEvent::LpiPending { intid, vcpu: v });
            }
        }
        Ok(())
    }

    fn read_prop(bus: &mut Bus, intid: u32) -> Result<u8, MemError> {
        let mut b = [0u8];
        bus.mem.read(
            bus.redists.prop_address() + (intid - LPI_OFFSET) as u64,
            &mut b,
        )?;
        Ok(b[0])
    }

    /// `update_lpi_config`, optionally only if the LPI targets `filter`.
    fn update_lpi_config(
        &mut self,
        bus: &mut Bus,
        intid: u32,
        filter: Option<u32>,
    ) -> Result<(), CommandError> {
        let prop = Self::read_prop(bus, intid)?;
        if let Some(l) = self.lpis.get_mut(&intid) {
            if filter.is_none() || filter == l.target {
                l.priority = prop & 0xfc;
                l.enabled = prop & 1 != 0;
                bus.observer.event(&ItsEvent::LpiConfigured {
                    intid,
                    priority: l.priority,
                    enabled: l.enabled,
                });
            }
        }
        Ok(())
    }

    /// `update_affinity`.
    fn set_target(&mut self, bus: &mut Bus, intid: u32, vcpu: Option<u32>) {
        if let Some(l) = self.lpis.get_mut(&intid) {
            l.target = vcpu;
            if let Some(v) = vcpu {
                bus.observer
                    .event(&ItsEvent::LpiTargeted { intid, vcpu: v });
            }
        }
    }

    /// `vgic_its_resolve_lpi` + `vgic_its_trigger_msi`.
    fn trigger(&mut self, bus: &mut Bus, device: u32, event: u32) -> Result<(), Trigger> {
        if !self.enabled {
            return Err(Trigger::Busy(
                "the ITS is disabled (GITS_CTLR.Enable is 0)".into(),
            ));
        }
        let ite = self.find_ite(device, event).ok_or(Trigger::Unmapped)?;
        let vcpu = ite
            .collection
            .and_then(|c| self.collection(c))
            .and_then(|c| c.target)
            .ok_or(Trigger::Unmapped)?;
        let Some(r) = bus.redists.vcpus.get(vcpu as usize) else {
            return Err(Trigger::Unmapped);
        };
        if !r.enable_lpis {
            return Err(Trigger::Busy(format!(
                "vCPU {vcpu} has GICR_CTLR.EnableLPIs clear"
            )));
        }
        if let Some(l) = self.lpis.get_mut(&ite.intid) {
            l.pending = true;
            if let Some(t) = l.target {
                bus.observer.event(&ItsEvent::LpiPending {
                    intid: ite.intid,
                    vcpu: t,
                });
            }
        }
        Ok(())
    }

    // ------------------------------------------------------------------ MSIs

    /// `KVM_SIGNAL_MSI` (`vgic_its_inject_msi`): `address` is the doorbell the
    /// device wrote, `devid` the requester ID (`None`: no
    /// `KVM_MSI_VALID_DEVID`), `data` the event ID. 1 delivered, 0 blocked.
    pub fn signal_msi(
        &mut self,
        bus: &mut Bus,
        address: u64,
        devid: Option<u32>,
        data: u32,
    ) -> Result<u32, ItsError> {
        let r = &rules::MSI_BAD_ADDRESS;
        let Some(devid) = devid else {
            bus.rule(r);
            return Err(ItsError::kvm(
                Errno::EINVAL,
                r,
                "KVM_SIGNAL_MSI without KVM_MSI_VALID_DEVID",
            ));
        };
        let hit = self
            .base
            .is_some_and(|b| address >= b && address - b < regs::ITS_FRAME_SIZE);
        if !hit {
            bus.rule(r);
            return Err(ItsError::kvm(
                Errno::EINVAL,
                r,
                format!("MSI address {address:#x} is not in the ITS frame"),
            ));
        }
        match self.trigger(bus, devid, data) {
            Ok(()) => {
                bus.rule(&rules::MSI_DELIVERED);
                Ok(1)
            }
            Err(Trigger::Unmapped) => {
                bus.rule(&rules::MSI_BLOCKED);
                Ok(0)
            }
            Err(Trigger::Busy(why)) => {
                bus.rule(&rules::MSI_BUSY);
                Err(ItsError::kvm(
                    Errno::EBUSY,
                    &rules::MSI_BUSY,
                    format!("MSI device {devid:#x} event {data}: {why}"),
                ))
            }
        }
    }

    // ------------------------------------------------------------------ inspection

    /// Where (device, event) leads: its LPI, collection and vCPU.
    pub fn translate(&self, device: u32, event: u32) -> Option<Translation> {
        let ite = self.find_ite(device, event)?;
        Some(Translation {
            intid: ite.intid,
            collection: ite.collection,
            vcpu: ite
                .collection
                .and_then(|c| self.collection(c))
                .and_then(|c| c.target),
        })
    }

    /// The LPIs the ITS mapped.
    pub fn lpis(&self) -> impl Iterator<Item = &LpiState> {
        self.lpis.values()
    }

    /// `vgic_its_inv_lpi` (a GICR_INVLPIR write, 5.19+): re-read the LPI's
    /// configuration from the property table (a failed read changes nothing).
    pub fn inv_lpi(&mut self, bus: &mut Bus, intid: u32) {
        let _ = self.update_lpi_config(bus, intid, None);
    }

    /// `vgic_its_invall` (a GICR_INVALLR write, 5.19+): re-read the
    /// configuration of every LPI targeting `vcpu`.
    pub fn inv_all(&mut self, bus: &mut Bus, vcpu: u32) {
        let intids: Vec<u32> = self
            .lpis
            .values()
            .filter(|l| l.target == Some(vcpu))
            .map(|l| l.intid)
            .collect();
        for intid in intids {
            let _ = self.update_lpi_config(bus, intid, Some(vcpu));
        }
    }

    /// Set an LPI's pending state (the vGIC's `pending_latch` changed: the
    /// guest acknowledged it). Unknown INTIDs are ignored.
    pub fn set_lpi_pending(&mut self, intid: u32, pending: bool) {
        if let Some(l) = self.lpis.get_mut(&intid) {
            l.pending = pending;
        }
    }

    /// Whether GITS_CTLR.Enable is set.
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// Write `cmd` into the command queue at CWRITER and advance CWRITER by
    /// one command through the guest path (a driver's `its_send_single_command`).
    pub fn queue_command(&mut self, bus: &mut Bus, cmd: &Command) -> Result<(), MemError> {
        let gpa = regs::cbaser_address(self.cbaser) + self.cwriter;
        let mut bytes = [0u8; CMD_SIZE as usize];
        for (i, w) in cmd.encode().iter().enumerate() {
            bytes[i * 8..i * 8 + 8].copy_from_slice(&w.to_le_bytes());
        }
        bus.mem.write(gpa, &bytes)?;
        let next = (self.cwriter + CMD_SIZE) % regs::cmd_buffer_size(self.cbaser);
        self.guest_write(bus, regs::GITS_CWRITER, 64, next);
        Ok(())
    }

    /// Program a working ITS as a guest driver does (its_init /
    /// its_cpu_init_collections): a flat device table at `device_table`
    /// (one 64 KiB page), a collection table at `collection_table`, a 4 KiB
    /// command queue at `queue`, then Enable. For examples and tests.
    pub fn setup_for_tests(
        &mut self,
        bus: &mut Bus,
        device_table: u64,
        collection_table: u64,
        queue: u64,
    ) {
        self.guest_write(bus, regs::GITS_BASER, 64, device_table | baser::VALID);
        self.guest_write(
            bus,
            regs::GITS_BASER + 8,
            64,
            collection_table | baser::VALID,
        );
        self.guest_write(bus, regs::GITS_CBASER, 64, queue | baser::VALID);
        self.guest_write(bus, regs::GITS_CTLR, 32, regs::ctlr::ENABLE as u64);
    }

    // ------------------------------------------------------------------ saved state

    /// The plain saved state.
    pub fn state(&self) -> ItsState {
        ItsState {
            version: ITS_STATE_VERSION,
            base: self.base,
            enabled: self.enabled,
            abi_rev: self.abi_rev,
            cbaser: self.cbaser,
            creadr: self.creadr,
            cwriter: self.cwriter,
            baser_device: self.baser_device,
            baser_coll: self.baser_coll,
            devices: self
                .devices
                .iter()
                .map(|(&id, d)| DeviceState {
                    id,
                    itt_addr: d.itt_addr,
                    eventid_bits: d.eventid_bits,
                    ites: d
                        .ites
                        .iter()
                        .map(|(&event, i)| IteState {
                            event,
                            intid: i.intid,
                            collection: i.collection,
                        })
                        .collect(),
                })
                .collect(),
            collections: self.collections.clone(),
            lpis: self.lpis.values().copied().collect(),
        }
    }

    /// Load a saved state for a kernel, checking every field.
    pub fn from_state(kernel: KernelVersion, s: &ItsState) -> Result<Its, ItsStateError> {
        let err = |place: String, reason: String| ItsStateError { place, reason };
        if s.version != ITS_STATE_VERSION {
            return Err(err(
                "version".into(),
                format!(
                    "{} is not a version this gicx reads (expected {ITS_STATE_VERSION})",
                    s.version
                ),
            ));
        }
        if s.abi_rev != 0 {
            return Err(err(
                "abi_rev".into(),
                format!("{}: KVM knows only ITS table ABI revision 0", s.abi_rev),
            ));
        }
        if let Some(b) = s.base {
            if !b.is_multiple_of(0x1_0000) {
                return Err(err(
                    "base".into(),
                    format!("{b:#x} is not a 64 KiB aligned address"),
                ));
            }
        }
        let size = regs::cmd_buffer_size(s.cbaser);
        for (name, v) in [("creadr", s.creadr), ("cwriter", s.cwriter)] {
            if regs::cmd_offset(v) != v || v >= size {
                return Err(err(
                    name.into(),
                    format!("{v:#x} is not a command offset inside the {size}-byte queue"),
                ));
            }
        }
        let mut its = Its::new(kernel);
        its.base = s.base;
        its.enabled = s.enabled;
        its.cbaser = s.cbaser;
        its.creadr = s.creadr;
        its.cwriter = s.cwriter;
        its.baser_device = s.baser_device;
        its.baser_coll = s.baser_coll;
        for (i, c) in s.collections.iter().enumerate() {
            if its.collection(c.id).is_some() {
                return Err(err(
                    format!("collections[{i}]"),
                    format!("collection {} appears twice", c.id),
                ));
            }
            its.collections.push(*c);
        }
        for (i, l) in s.lpis.iter().enumerate() {
            let place = format!("lpis[{i}]");
            if l.intid < LPI_OFFSET {
                return Err(err(
                    place,
                    format!("INTID {} is not an LPI (below 8192)", l.intid),
                ));
            }
            if l.priority & 3 != 0 {
                return Err(err(
                    place,
                    format!("priority {:#x} has bits [1:0] set", l.priority),
                ));
            }
            if its.lpis.insert(l.intid, *l).is_some() {
                return Err(err(place, format!("LPI {} appears twice", l.intid)));
            }
        }
        let mut prev = None;
        for (i, d) in s.devices.iter().enumerate() {
            let place = format!("devices[{i}]");
            if prev.is_some_and(|p| p >= d.id) {
                return Err(err(
                    place,
                    format!("device {} is not in increasing ID order", d.id),
                ));
            }
            prev = Some(d.id);
            if !(1..=32).contains(&d.eventid_bits) {
                return Err(err(
                    format!("{place}.eventid_bits"),
                    format!("{} is outside 1..=32", d.eventid_bits),
                ));
            }
            let mut ites = BTreeMap::new();
            for (j, ite) in d.ites.iter().enumerate() {
                let p = format!("{place}.ites[{j}]");
                if (ite.event as u64) >= 1u64 << d.eventid_bits {
                    return Err(err(
                        p,
                        format!(
                            "event {} is beyond the device's {} event-ID bits",
                            ite.event, d.eventid_bits
                        ),
                    ));
                }
                if !its.lpis.contains_key(&ite.intid) {
                    return Err(err(p, format!("LPI {} is not in lpis", ite.intid)));
                }
                if let Some(c) = ite.collection {
                    if its.collection(c).is_none() {
                        return Err(err(p, format!("collection {c} is not in collections")));
                    }
                }
                if ites
                    .insert(
                        ite.event,
                        Ite {
                            intid: ite.intid,
                            collection: ite.collection,
                        },
                    )
                    .is_some()
                {
                    return Err(err(p, format!("event {} appears twice", ite.event)));
                }
            }
            its.devices.insert(
                d.id,
                Device {
                    itt_addr: d.itt_addr,
                    eventid_bits: d.eventid_bits,
                    ites,
                },
            );
        }
        if let Some(l) = its.lpis.values().find(|l| its.lpi_refs(l.intid) == 0) {
            return Err(err(
                "lpis".into(),
                format!("LPI {} is mapped by no ITE", l.intid),
            ));
        }
        Ok(its)
    }
}

/// Why `vgic_its_trigger_msi` did not make an LPI pending.
enum Trigger {
    /// A positive `E_ITS_INT_UNMAPPED_INTERRUPT`.
    Unmapped,
    /// `-EBUSY`, with why.
    Busy(String),
}
