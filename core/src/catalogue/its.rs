//! The catalogue's ITS part: the registers of KVM's emulated ITS
//! (`its_registers[]` in `arch/arm64/kvm/vgic/vgic-its.c`, read at
//! torvalds/linux b5e26cd12f34) and the GICv4.1 registers of the host side of
//! the vSGI path (`GITS_SGIR`, the redistributor's VLPI frame), with their
//! offsets and named fields written once, tock-registers style
//! (`GitsCtlr::ENABLE.mask()`, `GicrVpendbaser::VALID`), after
//! `include/linux/irqchip/arm-gic-v3.h`. `vits::regs` and `its` use these;
//! `gicx regs` lists them.
//!
//! The ITS frame is `KVM_VGIC_V3_ITS_SIZE` (2 × 64 KiB); `GITS_TRANSLATER`
//! (0x1_0040) has no region: KVM does not emulate a guest's store to it.
//!
//! ```
//! use gicx_core::catalogue::its::{GitsBaser, GitsCtlr, ITS_REGIONS};
//! assert_eq!(GitsCtlr::OFFSET, 0);
//! assert_eq!(GitsCtlr::QUIESCENT.mask(), 1 << 31);
//! assert_eq!(GitsBaser::at(3), 0x118);
//! assert!(ITS_REGIONS.iter().any(|r| r.name == "GITS_CREADR" && r.offset == 0x90));
//! ```

use serde::Serialize;

use super::{FieldDesc, FieldKind};

/// Declares each register's type with its offset (and, with `[n]`, its
/// instances: `at(i)`), in the frame named after `@`.
macro_rules! its_registers {
    ($(
        $(#[$doc:meta])*
        $ty:ident = $name:literal @ $frame:literal + $off:literal [$bytes:literal $(; $n:literal)?]
    )*) => {
        $(
            #[doc = concat!("`", $name, "` (", $frame, "): its offset and fields.")]
            $(#[$doc])*
            #[derive(Clone, Copy, Debug)]
            pub struct $ty;
            impl $ty {
                /// The architectural name (without the index).
                pub const NAME: &'static str = $name;
                /// The frame it lives in.
                pub const FRAME: &'static str = $frame;
                /// Offset in its frame (the first instance's).
                pub const OFFSET: u32 = $off;
                /// Size of one instance, 4 or 8 bytes.
                pub const REG_BYTES: u8 = $bytes;
                /// Offset of instance `n`.
                pub const fn at(n: u32) -> u32 {
                    Self::OFFSET + n * Self::REG_BYTES as u32
                }
            }
        )*
    };
}

its_registers! {
    GitsCtlr = "GITS_CTLR" @ "ITS" + 0x0000 [4]
    GitsIidr = "GITS_IIDR" @ "ITS" + 0x0004 [4]
    GitsTyper = "GITS_TYPER" @ "ITS" + 0x0008 [8]
    GitsCbaser = "GITS_CBASER" @ "ITS" + 0x0080 [8]
    GitsCwriter = "GITS_CWRITER" @ "ITS" + 0x0088 [8]
    GitsCreadr = "GITS_CREADR" @ "ITS" + 0x0090 [8]
    /// Eight of them (`GITS_BASER<n>`), 0x100..0x140.
    GitsBaser = "GITS_BASER" @ "ITS" + 0x0100 [8; 8]
    /// The identification registers start here (`GITS_IDREGS_BASE`).
    GitsPidr4 = "GITS_PIDR4" @ "ITS" + 0xffd0 [4]
    GitsPidr0 = "GITS_PIDR0" @ "ITS" + 0xffe0 [4]
    GitsPidr1 = "GITS_PIDR1" @ "ITS" + 0xffe4 [4]
    GitsPidr2 = "GITS_PIDR2" @ "ITS" + 0xffe8 [4]
    GitsCidr0 = "GITS_CIDR0" @ "ITS" + 0xfff0 [4]
    GitsCidr1 = "GITS_CIDR1" @ "ITS" + 0xfff4 [4]
    GitsCidr2 = "GITS_CIDR2" @ "ITS" + 0xfff8 [4]
    GitsCidr3 = "GITS_CIDR3" @ "ITS" + 0xfffc [4]
    /// In the second 64 KiB frame; KVM has no region for it.
    GitsTranslater = "GITS_TRANSLATER" @ "ITS" + 0x1_0040 [4]
    /// GICv4.1, in the host ITS's third 64 KiB frame.
    GitsSgir = "GITS_SGIR" @ "ITS" + 0x2_0020 [8]
    /// GICv4.1, in the redistributor's VLPI frame (RD_base + 128 KiB).
    GicrVpropbaser = "GICR_VPROPBASER" @ "VLPI" + 0x0070 [8]
    GicrVpendbaser = "GICR_VPENDBASER" @ "VLPI" + 0x0078 [8]
    GicrVsgir = "GICR_VSGIR" @ "VLPI" + 0x0080 [4]
    GicrVsgipendr = "GICR_VSGIPENDR" @ "VLPI" + 0x0088 [4]
}

/// `KVM_VGIC_V3_ITS_SIZE`.
pub const ITS_FRAME_SIZE: u64 = 2 * 0x1_0000;
/// The redistributor's VLPI frame (RD_base + 128 KiB).
pub const GICR_VLPI_BASE: u32 = 0x2_0000;

fields! {
    GitsCtlr {
        ENABLE = ("Enabled", 0, 1, Rw, "The ITS translates and processes commands."),
        QUIESCENT = ("Quiescent", 31, 1, Ro, "No command or translation in flight: always 1 in KVM."),
    }
    GitsIidr {
        IMPLEMENTER = ("Implementer", 0, 12, Ro, "IMPLEMENTER_ARM (0x43b)."),
        REVISION = ("Revision", 12, 4, Rw, "KVM's table ABI revision (0); userspace may write only a supported one."),
        PRODUCT_ID = ("ProductID", 24, 8, Ro, "PRODUCT_ID_KVM (0x4b)."),
    }
    GitsTyper {
        PLPIS = ("Physical", 0, 1, Ro, "Physical LPIs supported: 1."),
        ITT_ENTRY_SIZE = ("ITT_entry_size", 4, 4, Ro, "Bytes per ITT entry - 1: 7 (8-byte entries)."),
        IDBITS = ("IDbits", 8, 5, Ro, "EventID bits - 1: 15 (VITS_TYPER_IDBITS 16)."),
        DEVBITS = ("Devbits", 13, 5, Ro, "DeviceID bits - 1: 15 (VITS_TYPER_DEVBITS 16)."),
    }
    GitsCbaser {
        SIZE = ("Size", 0, 8, Rw, "4 KiB pages of the command queue - 1."),
        SHAREABILITY = ("Shareability", 10, 2, Rw, "Outer Shareable is sanitised to Inner Shareable."),
        PHYSICAL_ADDRESS = ("Physical_Address", 12, 40, Rw, "The command queue's address, bits [51:12]."),
        OUTER_CACHE = ("OuterCache", 53, 3, Rw, "Anything but SameAsInner/nC is sanitised to SameAsInner."),
        INNER_CACHE = ("InnerCache", 59, 3, Rw, "nCnB and nC are sanitised to RaWb."),
        VALID = ("Valid", 63, 1, Rw, "The command queue is valid."),
    }
    GitsCwriter {
        CMD_OFFSET = ("Offset", 5, 15, Rw, "Byte offset of the next command, in 32-byte units (ITS_CMD_OFFSET)."),
    }
    GitsBaser {
        SIZE = ("Size", 0, 8, Rw, "64 KiB pages of the table - 1 (GITS_BASER_NR_PAGES)."),
        PAGE_SIZE = ("Page_Size", 8, 2, Rw, "KVM supports 64 KiB pages only (2)."),
        SHAREABILITY = ("Shareability", 10, 2, Rw, "Outer Shareable is sanitised to Inner Shareable."),
        PHYSICAL_ADDRESS = ("Physical_Address", 12, 36, Rw, "The table's address: bits [47:16], and [15:12] as PA[51:48]."),
        ENTRY_SIZE = ("Entry_Size", 48, 5, Ro, "Bytes per entry - 1 (8 for both tables)."),
        OUTER_CACHE = ("OuterCache", 53, 3, Rw, "Anything but SameAsInner/nC is sanitised to SameAsInner."),
        TYPE = ("Type", 56, 3, Ro, "Device table (1) or collection table (4)."),
        INNER_CACHE = ("InnerCache", 59, 3, Rw, "nCnB and nC are sanitised to RaWb."),
        INDIRECT = ("Indirect", 62, 1, Rw, "Two-level table."),
        VALID = ("Valid", 63, 1, Rw, "The table is valid."),
    }
    GitsSgir {
        VINTID = ("vINTID", 0, 4, Rw, "The vSGI."),
        VPEID = ("vPEID", 32, 16, Rw, "The target vPE."),
    }
    GicrVpendbaser {
        VPEID = ("vPEID", 0, 16, Rw, "GICv4.1: the vPE made resident."),
        VGRP1EN = ("vGrp1En", 58, 1, Rw, "GICv4.1: the vPE's Group 1 enable."),
        VGRP0EN = ("vGrp0En", 59, 1, Rw, "GICv4.1: the vPE's Group 0 enable."),
        PENDING_LAST = ("PendingLast", 61, 1, Ro, "Something was pending when the vPE was made non-resident."),
        DB = ("Doorbell", 62, 1, Rw, "GICv4.1: ring the vPE's doorbell when an interrupt arrives while it is not resident."),
        VALID = ("Valid", 63, 1, Rw, "The vPE is resident."),
    }
    GicrVsgir {
        VPEID = ("vPEID", 0, 16, Rw, "The vPE whose vSGI pending state GICR_VSGIPENDR reports."),
    }
    GicrVsgipendr {
        PENDING = ("Pending", 0, 16, Ro, "One bit per vSGI."),
        BUSY = ("Busy", 31, 1, Ro, "The read is not complete yet."),
    }
}

/// Which accesses a region takes (`VGIC_ACCESS_32bit`, `VGIC_ACCESS_64bit`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Widths {
    W32,
    W32W64,
}

/// What a region's accesses do (the handler functions of `its_registers[]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum ItsHandler {
    Ctlr,
    Iidr,
    Typer,
    Cbaser,
    Cwriter,
    Creadr,
    Baser,
    IdRegs,
}

/// One region of `its_registers[]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct ItsRegion {
    pub name: &'static str,
    pub offset: u32,
    pub len: u32,
    pub widths: Widths,
    pub handler: ItsHandler,
    /// The named fields (none for the ID registers).
    pub fields: &'static [FieldDesc],
    /// The kernel functions (guest read, guest write, userspace write).
    pub source: &'static str,
}

/// `its_registers[]`, sorted by offset.
pub static ITS_REGIONS: &[ItsRegion] = &[
    ItsRegion {
        name: GitsCtlr::NAME,
        offset: GitsCtlr::OFFSET,
        len: 4,
        widths: Widths::W32,
        handler: ItsHandler::Ctlr,
        fields: GitsCtlr::FIELDS,
        source: "vgic_mmio_read_its_ctlr, vgic_mmio_write_its_ctlr",
    },
    ItsRegion {
        name: GitsIidr::NAME,
        offset: GitsIidr::OFFSET,
        len: 4,
        widths: Widths::W32,
        handler: ItsHandler::Iidr,
        fields: GitsIidr::FIELDS,
        source: "vgic_mmio_read_its_iidr, its_mmio_write_wi, vgic_mmio_uaccess_write_its_iidr",
    },
    ItsRegion {
        name: GitsTyper::NAME,
        offset: GitsTyper::OFFSET,
        len: 8,
        widths: Widths::W32W64,
        handler: ItsHandler::Typer,
        fields: GitsTyper::FIELDS,
        source: "vgic_mmio_read_its_typer, its_mmio_write_wi",
    },
    ItsRegion {
        name: GitsCbaser::NAME,
        offset: GitsCbaser::OFFSET,
        len: 8,
        widths: Widths::W32W64,
        handler: ItsHandler::Cbaser,
        fields: GitsCbaser::FIELDS,
        source: "vgic_mmio_read_its_cbaser, vgic_mmio_write_its_cbaser",
    },
    ItsRegion {
        name: GitsCwriter::NAME,
        offset: GitsCwriter::OFFSET,
        len: 8,
        widths: Widths::W32W64,
        handler: ItsHandler::Cwriter,
        fields: GitsCwriter::FIELDS,
        source: "vgic_mmio_read_its_cwriter, vgic_mmio_write_its_cwriter",
    },
    ItsRegion {
        name: GitsCreadr::NAME,
        offset: GitsCreadr::OFFSET,
        len: 8,
        widths: Widths::W32W64,
        handler: ItsHandler::Creadr,
        fields: GitsCwriter::FIELDS,
        source: "vgic_mmio_read_its_creadr, its_mmio_write_wi, vgic_mmio_uaccess_write_its_creadr",
    },
    ItsRegion {
        name: "GITS_BASER<n>",
        offset: GitsBaser::OFFSET,
        len: 0x40,
        widths: Widths::W32W64,
        handler: ItsHandler::Baser,
        fields: GitsBaser::FIELDS,
        source: "vgic_mmio_read_its_baser, vgic_mmio_write_its_baser",
    },
    ItsRegion {
        name: "GITS_PIDR/CIDR",
        offset: GitsPidr4::OFFSET,
        len: 0x30,
        widths: Widths::W32,
        handler: ItsHandler::IdRegs,
        fields: &[],
        source: "vgic_mmio_read_its_idregs, its_mmio_write_wi",
    },
];

/// A GICv4.1 register of the host side (not emulated for guests).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct HostRegister {
    pub name: &'static str,
    /// `ITS` (the host ITS) or `VLPI` (the redistributor's VLPI frame).
    pub frame: &'static str,
    pub offset: u32,
    pub reg_bytes: u8,
    pub fields: &'static [FieldDesc],
}

macro_rules! host_registers {
    ($($ty:ident),* $(,)?) => {
        /// The GICv4.1 registers of the host's vSGI path, for `gicx regs --frame its`.
        pub static GICV4_1_REGISTERS: &[HostRegister] = &[$(
            HostRegister {
                name: $ty::NAME,
                frame: $ty::FRAME,
                offset: $ty::OFFSET,
                reg_bytes: $ty::REG_BYTES,
                fields: $ty::FIELDS,
            },
        )*];
    };
}

impl GicrVpropbaser {
    /// Not modelled field by field (KVM programs it from the VM's property table).
    pub const FIELDS: &'static [FieldDesc] = &[];
}

host_registers!(
    GitsSgir,
    GicrVpropbaser,
    GicrVpendbaser,
    GicrVsgir,
    GicrVsgipendr
);
