//! ITS commands as KVM decodes them (`its_cmd_get_*` in vgic-its.c): four
//! little-endian 64-bit words, the command number in DW0 [7:0], the device
//! ID in DW0 [63:32], the event ID (or ID/Size) in DW1, the collection in
//! DW2 [15:0], the ITT address in DW2 [51:8], the target in DW2 [47:16], V
//! in DW2 [63]; MOVALL's second target in DW3 [47:16]. And the `E_ITS_*`
//! codes KVM's handlers return (`include/linux/irqchip/arm-gic-v3.h`).
//!
//! ```
//! use gicx_core::vits::command::Command;
//! let mapd = Command::Mapd { device: 2, eventid_bits: 5, itt_addr: 0x8_0000, valid: true };
//! let words = mapd.encode();
//! assert_eq!(words[0], 0x2_0000_0008);
//! assert_eq!(Command::decode(&words), mapd);
//! ```

use std::fmt;

use serde::Serialize;

use crate::errno::Errno;
use crate::guest_memory::MemError;

pub const GITS_CMD_MOVI: u8 = 0x01;
pub const GITS_CMD_INT: u8 = 0x03;
pub const GITS_CMD_CLEAR: u8 = 0x04;
pub const GITS_CMD_SYNC: u8 = 0x05;
pub const GITS_CMD_MAPD: u8 = 0x08;
pub const GITS_CMD_MAPC: u8 = 0x09;
pub const GITS_CMD_MAPTI: u8 = 0x0a;
pub const GITS_CMD_MAPI: u8 = 0x0b;
pub const GITS_CMD_INV: u8 = 0x0c;
pub const GITS_CMD_INVALL: u8 = 0x0d;
pub const GITS_CMD_MOVALL: u8 = 0x0e;
pub const GITS_CMD_DISCARD: u8 = 0x0f;
/// `ITS_CMD_SIZE`.
pub const CMD_SIZE: u64 = 32;

/// One command, decoded as KVM decodes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "cmd", rename_all = "lowercase")]
pub enum Command {
    Mapd {
        device: u32,
        /// DW1 [4:0] + 1.
        eventid_bits: u8,
        itt_addr: u64,
        valid: bool,
    },
    Mapc {
        collection: u16,
        target: u32,
        valid: bool,
    },
    Mapti {
        device: u32,
        event: u32,
        intid: u32,
        collection: u16,
    },
    Mapi {
        device: u32,
        event: u32,
        collection: u16,
    },
    Movi {
        device: u32,
        event: u32,
        collection: u16,
    },
    Discard {
        device: u32,
        event: u32,
    },
    Clear {
        device: u32,
        event: u32,
    },
    Int {
        device: u32,
        event: u32,
    },
    Inv {
        device: u32,
        event: u32,
    },
    Invall {
        collection: u16,
    },
    Sync {
        target: u32,
    },
    Movall {
        from: u32,
        to: u32,
    },
    /// A command number KVM does not handle (VMAPP, VSYNC, …): `-ENODEV`, ignored.
    Other {
        number: u8,
    },
}

fn field(w: &[u64; 4], word: usize, shift: u32, size: u32) -> u64 {
    (w[word] >> shift) & ((1u64 << size) - 1)
}

impl Command {
    /// `its_cmd_get_*`.
    pub fn decode(w: &[u64; 4]) -> Command {
        let device = field(w, 0, 32, 32) as u32;
        let event = field(w, 1, 0, 32) as u32;
        let collection = field(w, 2, 0, 16) as u16;
        let target = field(w, 2, 16, 32) as u32;
        let valid = field(w, 2, 63, 1) == 1;
        match field(w, 0, 0, 8) as u8 {
            GITS_CMD_MAPD => Command::Mapd {
                device,
                eventid_bits: field(w, 1, 0, 5) as u8 + 1,
                itt_addr: field(w, 2, 8, 44) << 8,
                valid,
            },
            GITS_CMD_MAPC => Command::Mapc {
                collection,
                target,
                valid,
            },
            GITS_CMD_MAPTI => Command::Mapti {
                device,
                event,
                intid: field(w, 1, 32, 32) as u32,
                collection,
            },
            GITS_CMD_MAPI => Command::Mapi {
                device,
                event,
                collection,
            },
            GITS_CMD_MOVI => Command::Movi {
                device,
                event,
                collection,
            },
            GITS_CMD_DISCARD => Command::Discard { device, event },
            GITS_CMD_CLEAR => Command::Clear { device, event },
            GITS_CMD_INT => Command::Int { device, event },
            GITS_CMD_INV => Command::Inv { device, event },
            GITS_CMD_INVALL => Command::Invall { collection },
            GITS_CMD_SYNC => Command::Sync { target },
            GITS_CMD_MOVALL => Command::Movall {
                from: target,
                to: field(w, 3, 16, 32) as u32,
            },
            number => Command::Other { number },
        }
    }

    /// The four words a guest driver writes for this command (the inverse of
    /// [`Command::decode`] on the fields KVM reads).
    pub fn encode(&self) -> [u64; 4] {
        let dev = |d: u32| (d as u64) << 32;
        let mut w = [0u64; 4];
        match *self {
            Command::Mapd {
                device,
                eventid_bits,
                itt_addr,
                valid,
            } => {
                w[0] = GITS_CMD_MAPD as u64 | dev(device);
                w[1] = (eventid_bits.saturating_sub(1) & 0x1f) as u64;
                w[2] = itt_addr & 0x000f_ffff_ffff_ff00 | (valid as u64) << 63;
            }
            Command::Mapc {
                collection,
                target,
                valid,
            } => {
                w[0] = GITS_CMD_MAPC as u64;
                w[2] = collection as u64 | (target as u64) << 16 | (valid as u64) << 63;
            }
            Command::Mapti {
                device,
                event,
                intid,
                collection,
            } => {
                w[0] = GITS_CMD_MAPTI as u64 | dev(device);
                w[1] = event as u64 | (intid as u64) << 32;
                w[2] = collection as u64;
            }
            Command::Mapi {
                device,
                event,
                collection,
            } => {
                w[0] = GITS_CMD_MAPI as u64 | dev(device);
                w[1] = event as u64;
                w[2] = collection as u64;
            }
            Command::Movi {
                device,
                event,
                collection,
            } => {
                w[0] = GITS_CMD_MOVI as u64 | dev(device);
                w[1] = event as u64;
                w[2] = collection as u64;
            }
            Command::Discard { device, event }
            | Command::Clear { device, event }
            | Command::Int { device, event }
            | Command::Inv { device, event } => {
                w[0] = self.number() as u64 | dev(device);
                w[1] = event as u64;
            }
            Command::Invall { collection } => {
                w[0] = GITS_CMD_INVALL as u64;
                w[2] = collection as u64;
            }
            Command::Sync { target } => {
                w[0] = GITS_CMD_SYNC as u64;
                w[2] = (target as u64) << 16;
            }
            Command::Movall { from, to } => {
                w[0] = GITS_CMD_MOVALL as u64;
                w[2] = (from as u64) << 16;
                w[3] = (to as u64) << 16;
            }
            Command::Other { number } => w[0] = number as u64,
        }
        w
    }

    /// The command number.
    pub fn number(&self) -> u8 {
        match self {
            Command::Mapd { .. } => GITS_CMD_MAPD,
            Command::Mapc { .. } => GITS_CMD_MAPC,
            Command::Mapti { .. } => GITS_CMD_MAPTI,
            Command::Mapi { .. } => GITS_CMD_MAPI,
            Command::Movi { .. } => GITS_CMD_MOVI,
            Command::Discard { .. } => GITS_CMD_DISCARD,
            Command::Clear { .. } => GITS_CMD_CLEAR,
            Command::Int { .. } => GITS_CMD_INT,
            Command::Inv { .. } => GITS_CMD_INV,
            Command::Invall { .. } => GITS_CMD_INVALL,
            Command::Sync { .. } => GITS_CMD_SYNC,
            Command::Movall { .. } => GITS_CMD_MOVALL,
            Command::Other { number } => *number,
        }
    }
}

/// The `E_ITS_*` codes of KVM's command handlers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[allow(non_camel_case_types)]
pub enum ItsCode {
    E_ITS_MOVI_UNMAPPED_INTERRUPT,
    E_ITS_MOVI_UNMAPPED_COLLECTION,
    E_ITS_INT_UNMAPPED_INTERRUPT,
    E_ITS_CLEAR_UNMAPPED_INTERRUPT,
    E_ITS_MAPD_DEVICE_OOR,
    E_ITS_MAPD_ITTSIZE_OOR,
    E_ITS_MAPC_PROCNUM_OOR,
    E_ITS_MAPC_COLLECTION_OOR,
    E_ITS_MAPTI_UNMAPPED_DEVICE,
    E_ITS_MAPTI_ID_OOR,
    E_ITS_MAPTI_PHYSICALID_OOR,
    E_ITS_INV_UNMAPPED_INTERRUPT,
    E_ITS_INVALL_UNMAPPED_COLLECTION,
    E_ITS_MOVALL_PROCNUM_OOR,
    E_ITS_DISCARD_UNMAPPED_INTERRUPT,
}

impl ItsCode {
    /// The value in `arm-gic-v3.h`.
    pub fn value(self) -> u32 {
        use ItsCode::*;
        match self {
            E_ITS_MOVI_UNMAPPED_INTERRUPT => 0x010107,
            E_ITS_MOVI_UNMAPPED_COLLECTION => 0x010109,
            E_ITS_INT_UNMAPPED_INTERRUPT => 0x010307,
            E_ITS_CLEAR_UNMAPPED_INTERRUPT => 0x010507,
            E_ITS_MAPD_DEVICE_OOR => 0x010801,
            E_ITS_MAPD_ITTSIZE_OOR => 0x010802,
            E_ITS_MAPC_PROCNUM_OOR => 0x010902,
            E_ITS_MAPC_COLLECTION_OOR => 0x010903,
            E_ITS_MAPTI_UNMAPPED_DEVICE => 0x010a04,
            E_ITS_MAPTI_ID_OOR => 0x010a05,
            E_ITS_MAPTI_PHYSICALID_OOR => 0x010a06,
            E_ITS_INV_UNMAPPED_INTERRUPT => 0x010c07,
            E_ITS_INVALL_UNMAPPED_COLLECTION => 0x010d09,
            E_ITS_MOVALL_PROCNUM_OOR => 0x010e01,
            E_ITS_DISCARD_UNMAPPED_INTERRUPT => 0x010f07,
        }
    }
}

/// Why a command failed (KVM drops it either way).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CommandError {
    /// A handler's `E_ITS_*` code.
    Its { code: ItsCode },
    /// A guest memory access the handler made failed (-EFAULT).
    Memory { gpa: u64, reason: String },
    /// A command number KVM does not handle (-ENODEV).
    Unknown { number: u8 },
    /// A negative errno from the handler (INT on a disabled ITS or a vCPU
    /// with LPIs off: -EBUSY).
    Errno { errno: Errno, reason: String },
}

impl From<ItsCode> for CommandError {
    fn from(code: ItsCode) -> Self {
        CommandError::Its { code }
    }
}

impl From<MemError> for CommandError {
    fn from(e: MemError) -> Self {
        let gpa = match e {
            MemError::Unmapped { gpa, .. } | MemError::Limit { gpa, .. } => gpa,
            MemError::BadRegion { base, .. } => base,
        };
        CommandError::Memory {
            gpa,
            reason: e.to_string(),
        }
    }
}

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CommandError::Its { code } => write!(f, "{code:?} ({:#x})", code.value()),
            CommandError::Memory { reason, .. } => f.write_str(reason),
            CommandError::Unknown { number } => {
                write!(f, "command {number:#04x} is not one KVM handles (-ENODEV)")
            }
            CommandError::Errno { errno, reason } => write!(f, "{reason} ({errno})"),
        }
    }
}
