//! The register catalogue: one declarative table of every distributor and
//! redistributor register, KVM-emulated or not. It drives dispatch (which
//! handler an offset reaches), decoding (field layouts), the CLI listing and
//! the UI, like the kernel's `vgic_register_region` tables in
//! `arch/arm64/kvm/vgic/vgic-mmio-v3.c` (`vgic_v3_dist_registers[]`,
//! `vgic_v3_rd_registers[]`).
//!
//! Architecture layout: Arm IHI 0069 (GICv3/v4 architecture specification)
//! §12.9 (GICD_*) and §12.10–12.11 (GICR_*), as encoded in
//! `include/linux/irqchip/arm-gic-v3.h`.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::host::Era;

/// Which frame an offset is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Frame {
    /// The distributor's 64 KiB frame.
    Dist,
    /// One vCPU's redistributor: RD_base at 0x0, SGI_base at 0x10000 (2 x 64 KiB).
    Redist,
}

impl Frame {
    pub fn size(self) -> u32 {
        match self {
            Frame::Dist => 0x1_0000,
            Frame::Redist => 0x2_0000,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Frame::Dist => "dist",
            Frame::Redist => "redist",
        }
    }
}

/// Access widths, as a bit set (like KVM's `VGIC_ACCESS_*bit`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Widths(u8);

impl Widths {
    pub const W8: Widths = Widths(1);
    pub const W32: Widths = Widths(2);
    pub const W64: Widths = Widths(4);
    pub const W8_32: Widths = Widths(3);
    pub const W32_64: Widths = Widths(6);

    pub fn allows(self, bits: u8) -> bool {
        match bits {
            8 => self.0 & 1 != 0,
            32 => self.0 & 2 != 0,
            64 => self.0 & 4 != 0,
            _ => false,
        }
    }
    pub fn list(self) -> Vec<u8> {
        [8u8, 32, 64]
            .into_iter()
            .filter(|b| self.allows(*b))
            .collect()
    }
}

impl fmt::Display for Widths {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let l: Vec<String> = self.list().iter().map(|b| b.to_string()).collect();
        f.write_str(&l.join("/"))
    }
}

/// The architecture's access type for a register.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum ArchAccess {
    #[serde(rename = "RW")]
    Rw,
    #[serde(rename = "RO")]
    Ro,
    #[serde(rename = "WO")]
    Wo,
}

impl ArchAccess {
    pub fn as_str(self) -> &'static str {
        match self {
            ArchAccess::Rw => "RW",
            ArchAccess::Ro => "RO",
            ArchAccess::Wo => "WO",
        }
    }
}

/// The KVM behaviour a region reaches: a small named handler, as in the
/// kernel's table (each variant is implemented in [`crate::vgic`] and cites
/// its kernel function there).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum Handler {
    /// Not in KVM's table: no region. RAZ/WI; `KVM_HAS_DEVICE_ATTR` says ENXIO.
    Unimplemented,
    /// `vgic_mmio_read_raz` / `vgic_mmio_write_wi`.
    RazWi,
    /// `vgic_mmio_read_rao` / `vgic_mmio_write_wi` (GICD_STATUSR).
    RaoWi,
    DistCtlr,
    DistTyper,
    DistIidr,
    DistTyper2,
    Group,
    SetEnable,
    ClearEnable,
    SetPending,
    ClearPending,
    SetActive,
    ClearActive,
    Priority,
    Config,
    Irouter,
    IdRegs,
    RdCtlr,
    RdIidr,
    RdTyper,
    PropBaser,
    PendBaser,
    InvLpi,
    InvAll,
    Syncr,
}

/// What KVM does with a register family, in one word for listings.
impl Handler {
    pub fn kvm_summary(self) -> &'static str {
        match self {
            Handler::Unimplemented => "not emulated: RAZ/WI",
            Handler::RazWi => "RAZ/WI",
            Handler::RaoWi => "RAO/WI",
            Handler::IdRegs => "ID values, WI",
            _ => "emulated",
        }
    }
    pub fn is_emulated(self) -> bool {
        self != Handler::Unimplemented
    }
}

/// How a field behaves, for the decoder and the UI.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum FieldKind {
    /// Read/write state.
    Rw,
    /// Read-only value.
    Ro,
    /// Reads as one in KVM.
    Rao,
    /// Reads as zero in KVM, writes ignored.
    Raz,
}

/// One named field of a register: `name`, bits `lsb..lsb+width`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct FieldDesc {
    pub name: &'static str,
    pub lsb: u8,
    pub width: u8,
    pub kind: FieldKind,
    pub meaning: &'static str,
}

impl FieldDesc {
    pub const fn new(
        name: &'static str,
        lsb: u8,
        width: u8,
        kind: FieldKind,
        meaning: &'static str,
    ) -> Self {
        FieldDesc {
            name,
            lsb,
            width,
            kind,
            meaning,
        }
    }
    pub fn mask(&self) -> u64 {
        let ones = if self.width >= 64 {
            u64::MAX
        } else {
            (1u64 << self.width) - 1
        };
        ones << self.lsb
    }
    pub fn get(&self, v: u64) -> u64 {
        (v & self.mask()) >> self.lsb
    }
    /// `[hi:lo]` or `[b]`.
    pub fn bits(&self) -> String {
        if self.width == 1 {
            format!("[{}]", self.lsb)
        } else {
            format!("[{}:{}]", self.lsb + self.width - 1, self.lsb)
        }
    }
}

/// Per-interrupt layout of a register family: `bits_per_irq` bits for each INTID.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct PerIrq {
    pub bits_per_irq: u8,
    /// INTID of the family's first bit (0 for both GICD and GICR_SGI_base families).
    pub first_intid: u32,
    /// KVM's table gives the region `bits_per_irq`, so `check_region` bounds the
    /// INTID by nr_irqs (distributor families; the redistributor's are plain lengths).
    pub kvm_checks_bound: bool,
    /// `REGISTER_DESC_WITH_BITS_PER_IRQ_SHARED`: INTIDs 0–31 are RAZ/WI here.
    pub private_slice_raz_wi: bool,
    /// What one unit (1, 2, 8 or 64 bits) means.
    pub unit: &'static str,
}

/// The reset value of a register as the guest sees it at creation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Reset {
    Value(u64),
    /// Depends on the host and VM; the sentence says how.
    Computed(&'static str),
}

/// One register family in the catalogue.
#[derive(Debug, Serialize)]
pub struct RegisterDesc {
    /// Architectural name without the index, e.g. `GICD_ISENABLER`.
    pub name: &'static str,
    /// Appended after the index, e.g. `E` for `GICD_ISENABLER<n>E`.
    pub suffix: &'static str,
    pub frame: Frame,
    pub offset: u32,
    /// Bytes the family covers (a plain register: its size).
    pub len: u32,
    /// Size of one instance: 4 or 8.
    pub reg_bytes: u8,
    /// Whether `name` takes an index (`GICD_ISENABLER1`), i.e. an array.
    pub indexed: bool,
    pub per_irq: Option<PerIrq>,
    /// Widths KVM accepts (guest MMIO). Userspace is always 32-bit.
    pub widths: Widths,
    pub arch_access: ArchAccess,
    pub handler: Handler,
    /// First era whose KVM table has the region; before it, no region.
    pub kvm_since: Era,
    pub fields: &'static [FieldDesc],
    pub reset: Reset,
    pub summary: &'static str,
    pub source: &'static str,
}

impl RegisterDesc {
    pub fn end(&self) -> u32 {
        self.offset + self.len
    }
    pub fn contains(&self, frame: Frame, off: u32) -> bool {
        self.frame == frame && off >= self.offset && off < self.end()
    }
    /// Number of instances.
    pub fn count(&self) -> u32 {
        self.len / self.reg_bytes as u32
    }
    /// The display name of instance `index`, e.g. `GICD_IPRIORITYR8`.
    pub fn instance_name(&self, index: u32) -> String {
        if self.indexed {
            format!("{}{}{}", self.name, index, self.suffix)
        } else {
            self.name.to_string()
        }
    }
    /// The pattern name, e.g. `GICD_IPRIORITYR<n>`.
    pub fn pattern(&self) -> String {
        if self.indexed {
            format!("{}<n>{}", self.name, self.suffix)
        } else {
            self.name.to_string()
        }
    }
    /// KVM emulates this family on a host of `era` (the kernel table has it).
    pub fn kvm_region_in(&self, era: Era) -> bool {
        self.handler.is_emulated() && era >= self.kvm_since
    }
    /// INTID covered by byte `off` of this family (per-IRQ families only).
    pub fn intid_at(&self, off: u32) -> Option<u32> {
        self.per_irq
            .map(|p| p.first_intid + (off - self.offset) * 8 / p.bits_per_irq as u32)
    }
}

use FieldKind::{Rao as FO, Raz as FZ, Ro as FR, Rw as FW};

const fn f(
    name: &'static str,
    lsb: u8,
    width: u8,
    kind: FieldKind,
    meaning: &'static str,
) -> FieldDesc {
    FieldDesc::new(name, lsb, width, kind, meaning)
}

// ---- field layouts -------------------------------------------------------------------------

pub static GICD_CTLR_FIELDS: &[FieldDesc] = &[
    f("EnableGrp0", 0, 1, FZ, "Enable Group 0 interrupts. KVM never stores it: reads 0 (Linux guests use Group 1)."),
    f("EnableGrp1", 1, 1, FW, "Enable Group 1 interrupts (EnableGrp1A/NS; with DS=1 simply EnableGrp1): the distributor enable KVM keeps."),
    f("ARE_NS", 4, 1, FO, "Affinity routing enabled. Always 1 in KVM's GICv3 model."),
    f("DS", 6, 1, FO, "Disable security: always 1 in KVM (a single security state)."),
    f("nASSGIreq", 8, 1, FW, "GICv4.1: the guest asks for SGIs without an active state, i.e. hardware vSGIs. RES0 unless TYPER2.nASSGIcap (5.7+)."),
    f("RWP", 31, 1, FZ, "Register write pending: KVM completes every write synchronously, so 0."),
];

pub static GICD_TYPER_FIELDS: &[FieldDesc] = &[
    f(
        "ITLinesNumber",
        0,
        5,
        FR,
        "Number of SPI lines / 32 - 1: INTIDs up to 32 * (N + 1) - 1 exist.",
    ),
    f(
        "CPUNumber",
        5,
        3,
        FZ,
        "Non-affinity-routed CPU count: 0 (ARE is always 1).",
    ),
    f(
        "ESPI",
        8,
        1,
        FZ,
        "Extended SPI range: not supported by KVM.",
    ),
    f("NMI", 9, 1, FZ, "Non-maskable interrupts: not supported."),
    f("SecurityExtn", 10, 1, FZ, "Two security states: 0."),
    f(
        "num_LPIs",
        11,
        5,
        FZ,
        "0: the number of LPIs is given by IDbits.",
    ),
    f(
        "MBIS",
        16,
        1,
        FZ,
        "Message-based SPIs (SETSPI): not supported.",
    ),
    f(
        "LPIS",
        17,
        1,
        FR,
        "LPIs supported: 1 only with an in-kernel ITS.",
    ),
    f(
        "DVIS",
        18,
        1,
        FZ,
        "Direct virtual LPI injection: 0 (the guest sees no GICv4).",
    ),
    f(
        "IDbits",
        19,
        5,
        FR,
        "INTID bits - 1: 15 with an ITS (16-bit INTIDs), else 9.",
    ),
    f(
        "A3V",
        24,
        1,
        FZ,
        "Affinity level 3 values: 0 (Aff3 not supported).",
    ),
    f(
        "No1N",
        25,
        1,
        FZ,
        "1-of-N SPI routing unsupported bit: 0, although KVM drops IROUTER.IRM.",
    ),
    f(
        "RSS",
        26,
        1,
        FZ,
        "Range selector support for SGIs: 0 (Aff0 0..15).",
    ),
    f("ESPI_range", 27, 5, FZ, "Extended SPI range size: 0."),
];

pub static GICD_IIDR_FIELDS: &[FieldDesc] = &[
    f(
        "Implementer",
        0,
        12,
        FR,
        "JEP106 code of the implementer: 0x43B (Arm).",
    ),
    f(
        "Revision",
        12,
        4,
        FR,
        "KVM implementation revision: 2 = groups configurable (4.19), 3 = GICR_CTLR.IR/CES (5.19).",
    ),
    f("Variant", 16, 4, FR, "0."),
    f("ProductID", 24, 8, FR, "0x4B, 'K' for KVM."),
];

pub static GICD_TYPER2_FIELDS: &[FieldDesc] = &[
    f(
        "VID",
        0,
        5,
        FZ,
        "vPE ID bits (GICv4.1 hosts' own distributors): 0 for the guest.",
    ),
    f("VIL", 7, 1, FZ, "VID field is valid: 0."),
    f(
        "nASSGIcap",
        8,
        1,
        FR,
        "GICv4.1: SGIs without active state are available (hardware vSGIs). 5.7+.",
    ),
];

pub static GICD_STATUSR_FIELDS: &[FieldDesc] = &[
    f(
        "RRD",
        0,
        1,
        FO,
        "Read of a reserved location: KVM reads all-ones.",
    ),
    f("WRD", 1, 1, FO, "Write to a reserved location."),
    f("RWOD", 2, 1, FO, "Read of a write-only register."),
    f("WROD", 3, 1, FO, "Write to a read-only register."),
];

pub static SETSPI_FIELDS: &[FieldDesc] = &[f(
    "INTID",
    0,
    13,
    FZ,
    "The SPI to set or clear (message-based SPIs): KVM has no MBIS, RAZ/WI.",
)];

pub static GICD_IROUTER_FIELDS: &[FieldDesc] = &[
    f("Aff0", 0, 8, FW, "Affinity level 0 of the target PE."),
    f("Aff1", 8, 8, FW, "Affinity level 1."),
    f("Aff2", 16, 8, FW, "Affinity level 2."),
    f("IRM", 31, 1, FZ, "1-of-N routing: KVM drops it (reads 0)."),
    f(
        "Aff3",
        32,
        8,
        FZ,
        "Affinity level 3: not supported, the upper word is RAZ/WI.",
    ),
];

pub static GICD_SGIR_FIELDS: &[FieldDesc] = &[
    f(
        "SGIINTID",
        0,
        4,
        FZ,
        "Legacy (ARE=0) SGI generation: unused with affinity routing.",
    ),
    f("CPUTargetList", 16, 8, FZ, "Legacy target list."),
    f("TargetListFilter", 24, 2, FZ, "Legacy filter."),
];

pub static PIDR2_FIELDS: &[FieldDesc] = &[
    f(
        "DES_1",
        0,
        3,
        FR,
        "JEP106 identity bits: 0b011 (Arm), reading 0x3B as a whole.",
    ),
    f("JEDEC", 3, 1, FR, "JEDEC-assigned value is used: 1."),
    f("ArchRev", 4, 4, FR, "Architecture revision: 3 (GICv3)."),
];

pub static ID_WORD_FIELDS: &[FieldDesc] =
    &[f("Value", 0, 8, FR, "Identification byte: KVM reads 0.")];

pub static GICR_CTLR_FIELDS: &[FieldDesc] = &[
    f("EnableLPIs", 0, 1, FW, "LPIs enabled for this redistributor (needs an in-kernel ITS)."),
    f("CES", 1, 1, FR, "Clear Enable Supported: 1 from IIDR revision 3 (5.19+)."),
    f("IR", 2, 1, FR, "LPI invalidate registers supported (INVLPIR/INVALLR/SYNCR): 1 from IIDR revision 3 (5.19+)."),
    f("RWP", 3, 1, FR, "Register write pending: set while LPIs are being disabled (5.19+)."),
    f("DPG0", 24, 1, FZ, "Disable processor selection for Group 0: 0."),
    f("DPG1NS", 25, 1, FZ, "Disable processor selection for Group 1 NS: 0."),
    f("DPG1S", 26, 1, FZ, "Disable processor selection for Group 1 S: 0."),
    f("UWP", 31, 1, FZ, "Upstream write pending: 0."),
];

pub static GICR_IIDR_FIELDS: &[FieldDesc] = &[
    f("Implementer", 0, 12, FR, "0x43B (Arm)."),
    f(
        "Revision",
        12,
        4,
        FR,
        "0: GICR_IIDR carries no KVM revision.",
    ),
    f("Variant", 16, 4, FR, "0."),
    f("ProductID", 24, 8, FR, "0x4B ('K')."),
];

pub static GICR_TYPER_FIELDS: &[FieldDesc] = &[
    f(
        "PLPIS",
        0,
        1,
        FR,
        "Physical LPIs supported: 1 with an in-kernel ITS.",
    ),
    f(
        "VLPIS",
        1,
        1,
        FZ,
        "Virtual LPIs: 0 (no nested GICv4 for the guest).",
    ),
    f("Dirty", 2, 1, FZ, "GICv4.1 VPT dirty: 0."),
    f(
        "DirectLPI",
        3,
        1,
        FZ,
        "Direct LPI injection registers: 0 (INVLPIR exists from 5.19 without it).",
    ),
    f(
        "Last",
        4,
        1,
        FR,
        "Last redistributor of a contiguous region: vgic_mmio_vcpu_rdist_is_last.",
    ),
    f("DPGS", 5, 1, FZ, "GICR_CTLR.DPG* supported: 0."),
    f("MPAM", 6, 1, FZ, "MPAM supported: 0."),
    f("RVPEID", 7, 1, FZ, "GICv4.1 vPE IDs: 0."),
    f("Processor_Number", 8, 16, FR, "vcpu_id & 0xffff."),
    f("CommonLPIAff", 24, 2, FZ, "0."),
    f(
        "VSGI",
        26,
        1,
        FZ,
        "GICv4.1 direct vSGIs at the redistributor: 0 (the guest sees GICD_TYPER2 instead).",
    ),
    f("PPInum", 27, 5, FZ, "Extended PPIs: 0."),
    f("Aff0", 32, 8, FR, "vCPU MPIDR Aff0 = vcpu_id mod 16."),
    f("Aff1", 40, 8, FR, "Aff1 = (vcpu_id / 16) mod 256."),
    f("Aff2", 48, 8, FR, "Aff2 = vcpu_id / 4096."),
    f("Aff3", 56, 8, FZ, "Aff3: not reported."),
];

pub static GICR_WAKER_FIELDS: &[FieldDesc] = &[
    f(
        "ProcessorSleep",
        1,
        1,
        FZ,
        "KVM: RAZ/WI (the redistributor never sleeps).",
    ),
    f("ChildrenAsleep", 2, 1, FZ, "RAZ."),
];

pub static GICR_PROPBASER_FIELDS: &[FieldDesc] = &[
    f(
        "IDbits",
        0,
        5,
        FW,
        "LPI INTID bits - 1 of the property table.",
    ),
    f(
        "InnerCache",
        7,
        3,
        FW,
        "Inner cacheability; nC and nCnB are sanitised to RaWb.",
    ),
    f(
        "Shareability",
        10,
        2,
        FW,
        "Outer Shareable is sanitised to Inner Shareable.",
    ),
    f(
        "PhysicalAddress",
        12,
        40,
        FW,
        "Bits 51:12 of the LPI property table address.",
    ),
    f(
        "OuterCache",
        56,
        3,
        FW,
        "Outer cacheability: only SameAsInner (0) or nC (1) kept.",
    ),
];

pub static GICR_PENDBASER_FIELDS: &[FieldDesc] = &[
    f(
        "InnerCache",
        7,
        3,
        FW,
        "Inner cacheability; nC and nCnB are sanitised to RaWb.",
    ),
    f(
        "Shareability",
        10,
        2,
        FW,
        "Outer Shareable is sanitised to Inner Shareable.",
    ),
    f(
        "PhysicalAddress",
        16,
        36,
        FW,
        "Bits 51:16 of the LPI pending table address.",
    ),
    f(
        "OuterCache",
        56,
        3,
        FW,
        "Outer cacheability: only SameAsInner (0) or nC (1) kept.",
    ),
    f(
        "PTZ",
        62,
        1,
        FZ,
        "Pending table zero: write-only hint, reads 0.",
    ),
];

pub static GICR_INVLPIR_FIELDS: &[FieldDesc] = &[
    f(
        "INTID",
        0,
        32,
        FW,
        "The LPI whose cached configuration to invalidate.",
    ),
    f(
        "vPEID",
        32,
        16,
        FZ,
        "GICv4.1 vPE (upper word): dropped by KVM.",
    ),
    f("V", 63, 1, FZ, "Virtual: dropped by KVM."),
];

pub static GICR_SYNCR_FIELDS: &[FieldDesc] =
    &[f("Busy", 0, 1, FR, "An invalidation is in progress.")];

// ---- the table -----------------------------------------------------------------------------

const SRC_DIST: &str = "vgic-mmio-v3.c: vgic_v3_dist_registers[]";
const SRC_RD: &str = "vgic-mmio-v3.c: vgic_v3_rd_registers[]";
const SRC_ARCH_ONLY: &str = "Arm IHI 0069 §12.9 (absent from vgic_v3_dist_registers[])";
const SRC_ARCH_ONLY_RD: &str = "Arm IHI 0069 §12.10 (absent from vgic_v3_rd_registers[])";

#[allow(clippy::too_many_arguments)]
const fn plain(
    name: &'static str,
    frame: Frame,
    offset: u32,
    reg_bytes: u8,
    widths: Widths,
    arch_access: ArchAccess,
    handler: Handler,
    kvm_since: Era,
    fields: &'static [FieldDesc],
    reset: Reset,
    summary: &'static str,
    source: &'static str,
) -> RegisterDesc {
    RegisterDesc {
        name,
        suffix: "",
        frame,
        offset,
        len: reg_bytes as u32,
        reg_bytes,
        indexed: false,
        per_irq: None,
        widths,
        arch_access,
        handler,
        kvm_since,
        fields,
        reset,
        summary,
        source,
    }
}

/// A distributor per-IRQ family (`REGISTER_DESC_WITH_BITS_PER_IRQ_SHARED` when emulated).
#[allow(clippy::too_many_arguments)]
const fn dist_irq(
    name: &'static str,
    suffix: &'static str,
    offset: u32,
    bits_per_irq: u8,
    reg_bytes: u8,
    widths: Widths,
    arch_access: ArchAccess,
    handler: Handler,
    reset: Reset,
    unit: &'static str,
    summary: &'static str,
) -> RegisterDesc {
    let extended = suffix.len() == 1;
    let emulated = !matches!(handler, Handler::Unimplemented);
    RegisterDesc {
        name,
        suffix,
        frame: Frame::Dist,
        offset,
        len: bits_per_irq as u32 * 1024 / 8,
        reg_bytes,
        indexed: true,
        per_irq: Some(PerIrq {
            bits_per_irq,
            first_intid: if extended { 4096 } else { 0 },
            kvm_checks_bound: emulated,
            private_slice_raz_wi: emulated,
            unit,
        }),
        widths,
        arch_access,
        handler,
        kvm_since: Era::V4_19,
        fields: &[],
        reset,
        summary,
        source: if emulated { SRC_DIST } else { SRC_ARCH_ONLY },
    }
}

/// A redistributor SGI_base per-IRQ register (plain length in KVM's table).
#[allow(clippy::too_many_arguments)]
const fn sgi_irq(
    name: &'static str,
    indexed: bool,
    offset: u32,
    len: u32,
    bits_per_irq: u8,
    first_intid: u32,
    widths: Widths,
    arch_access: ArchAccess,
    handler: Handler,
    reset: Reset,
    unit: &'static str,
    summary: &'static str,
) -> RegisterDesc {
    RegisterDesc {
        name,
        suffix: "",
        frame: Frame::Redist,
        offset,
        len,
        reg_bytes: 4,
        indexed,
        per_irq: Some(PerIrq {
            bits_per_irq,
            first_intid,
            kvm_checks_bound: false,
            private_slice_raz_wi: false,
            unit,
        }),
        widths,
        arch_access,
        handler,
        kvm_since: Era::V4_19,
        fields: &[],
        reset,
        summary,
        source: if matches!(handler, Handler::Unimplemented) {
            SRC_ARCH_ONLY_RD
        } else {
            SRC_RD
        },
    }
}

const fn id_reg(
    name: &'static str,
    frame: Frame,
    offset: u32,
    fields: &'static [FieldDesc],
    reset: u64,
) -> RegisterDesc {
    plain(
        name,
        frame,
        offset,
        4,
        Widths::W32,
        ArchAccess::Ro,
        Handler::IdRegs,
        Era::V4_19,
        fields,
        Reset::Value(reset),
        "Identification register (CoreSight layout).",
        "vgic-mmio-v3.c: GICD_IDREGS/GICR_IDREGS -> vgic_mmio_read_v3_idregs",
    )
}

use ArchAccess::{Ro as RO, Rw as RW, Wo as WO};
use Frame::{Dist as D, Redist as R};
use Handler as H;

const E419: Era = Era::V4_19;
const ZERO: Reset = Reset::Value(0);

/// The catalogue, sorted by (frame, offset). See the module doc.
pub static CATALOGUE: &[RegisterDesc] = &[
    // ---------------- distributor ----------------
    plain("GICD_CTLR", D, 0x0000, 4, Widths::W32, RW, H::DistCtlr, E419, GICD_CTLR_FIELDS, Reset::Value(0x50),
        "Distributor control: the enable, affinity routing, and (GICv4.1) nASSGIreq.",
        "vgic-mmio-v3.c: GICD_CTLR misc region -> vgic_mmio_read_v3_misc / vgic_mmio_write_v3_misc / vgic_mmio_uaccess_write_v3_misc"),
    plain("GICD_TYPER", D, 0x0004, 4, Widths::W32, RO, H::DistTyper, E419, GICD_TYPER_FIELDS,
        Reset::Computed("ITLinesNumber from nr_irqs; IDbits 9, or 15 with LPIS with an ITS (0x00480007 at 256 IRQs, no ITS)"),
        "Interrupt controller type: how many SPIs, INTID bits, LPI support.",
        "vgic-mmio-v3.c: vgic_mmio_read_v3_misc (case GICD_TYPER)"),
    plain("GICD_IIDR", D, 0x0008, 4, Widths::W32, RO, H::DistIidr, E419, GICD_IIDR_FIELDS,
        Reset::Computed("0x4B00243B (revision 2) up to 5.18, 0x4B00343B (revision 3) from 5.19"),
        "Implementer identification, carrying KVM's implementation revision; userspace must restore it first.",
        "vgic-mmio-v3.c: vgic_mmio_read_v3_misc (case GICD_IIDR)"),
    plain("GICD_TYPER2", D, 0x000C, 4, Widths::W32, RO, H::DistTyper2, E419, GICD_TYPER2_FIELDS,
        Reset::Computed("0x100 (nASSGIcap) when the VM can have hardware vSGIs (5.7+), else 0"),
        "Interrupt controller type 2: GICv4.1 nASSGIcap, the register of the 2020 migration debate.",
        "vgic-mmio-v3.c: vgic_mmio_read_v3_misc (case GICD_TYPER2), 2291ff2f2a56 (5.7)"),
    plain("GICD_STATUSR", D, 0x0010, 4, Widths::W32, RW, H::RaoWi, E419, GICD_STATUSR_FIELDS, Reset::Value(0xFFFF_FFFF),
        "Error reporting status: KVM reads all-ones and ignores writes.",
        "vgic-mmio-v3.c: GICD_STATUSR -> vgic_mmio_read_rao"),
    plain("GICD_SETSPI_NSR", D, 0x0040, 4, Widths::W32, WO, H::Unimplemented, E419, SETSPI_FIELDS, ZERO,
        "Set a message-based SPI (non-secure). KVM has no MBIS.", SRC_ARCH_ONLY),
    plain("GICD_CLRSPI_NSR", D, 0x0048, 4, Widths::W32, WO, H::Unimplemented, E419, SETSPI_FIELDS, ZERO,
        "Clear a message-based SPI (non-secure).", SRC_ARCH_ONLY),
    plain("GICD_SETSPI_SR", D, 0x0050, 4, Widths::W32, WO, H::Unimplemented, E419, SETSPI_FIELDS, ZERO,
        "Set a message-based SPI (secure).", SRC_ARCH_ONLY),
    plain("GICD_CLRSPI_SR", D, 0x0058, 4, Widths::W32, WO, H::Unimplemented, E419, SETSPI_FIELDS, ZERO,
        "Clear a message-based SPI (secure).", SRC_ARCH_ONLY),
    dist_irq("GICD_IGROUPR", "", 0x0080, 1, 4, Widths::W32, RW, H::Group,
        Reset::Computed("0xFFFFFFFF for SPIs: KVM's GICv3 model resets every IRQ to Group 1"),
        "1 = Group 1", "Interrupt group of each SPI."),
    dist_irq("GICD_ISENABLER", "", 0x0100, 1, 4, Widths::W32, RW, H::SetEnable, ZERO, "1 = enabled",
        "Set-enable: write 1 to enable an SPI; reads the enables."),
    dist_irq("GICD_ICENABLER", "", 0x0180, 1, 4, Widths::W32, RW, H::ClearEnable, ZERO, "1 = enabled",
        "Clear-enable: write 1 to disable an SPI; reads the enables."),
    dist_irq("GICD_ISPENDR", "", 0x0200, 1, 4, Widths::W32, RW, H::SetPending, ZERO, "1 = pending",
        "Set-pending: the guest sets pending; userspace writes the whole pending latch."),
    dist_irq("GICD_ICPENDR", "", 0x0280, 1, 4, Widths::W32, RW, H::ClearPending, ZERO, "1 = pending",
        "Clear-pending: the guest clears pending; userspace reads 0 and writes nothing."),
    dist_irq("GICD_ISACTIVER", "", 0x0300, 1, 4, Widths::W32, RW, H::SetActive, ZERO, "1 = active",
        "Set-active: write 1 to activate an SPI; reads the active bits."),
    dist_irq("GICD_ICACTIVER", "", 0x0380, 1, 4, Widths::W32, RW, H::ClearActive, ZERO, "1 = active",
        "Clear-active: write 1 to deactivate an SPI; reads the active bits."),
    dist_irq("GICD_IPRIORITYR", "", 0x0400, 8, 4, Widths::W8_32, RW, H::Priority, ZERO,
        "priority byte (KVM keeps bits 7:3)", "Priority of each SPI, one byte each; KVM implements 5 priority bits."),
    dist_irq("GICD_ITARGETSR", "", 0x0800, 8, 4, Widths::W8_32, RW, H::RazWi, ZERO, "CPU target byte",
        "Legacy CPU targets: RAZ/WI with affinity routing, which KVM always enables."),
    dist_irq("GICD_ICFGR", "", 0x0C00, 2, 4, Widths::W32, RW, H::Config,
        Reset::Computed("0xAAAAAAAA for SPIs: KVM resets SPIs to edge-triggered (VGIC_CONFIG_EDGE)"),
        "bit 1: 1 = edge, 0 = level", "Trigger mode of each SPI."),
    dist_irq("GICD_IGRPMODR", "", 0x0D00, 1, 4, Widths::W32, RW, H::RazWi, ZERO, "group modifier",
        "Group modifier (secure Group 1): RAZ/WI, KVM has one security state."),
    dist_irq("GICD_NSACR", "", 0x0E00, 2, 4, Widths::W32, RW, H::Unimplemented, ZERO, "non-secure access",
        "Non-secure access control: not emulated."),
    plain("GICD_SGIR", D, 0x0F00, 4, Widths::W32, WO, H::Unimplemented, E419, GICD_SGIR_FIELDS, ZERO,
        "Legacy SGI generation (ARE=0 only): not emulated; SGIs come from ICC_SGI1R_EL1.", SRC_ARCH_ONLY),
    RegisterDesc {
        len: 0x10,
        ..dist_irq("GICD_CPENDSGIR", "", 0x0F10, 8, 4, Widths::W8_32, RW, H::Unimplemented, ZERO, "source CPUs",
            "Legacy SGI clear-pending (ARE=0 only): not emulated.")
    },
    RegisterDesc {
        len: 0x10,
        ..dist_irq("GICD_SPENDSGIR", "", 0x0F20, 8, 4, Widths::W8_32, RW, H::Unimplemented, ZERO, "source CPUs",
            "Legacy SGI set-pending (ARE=0 only): not emulated.")
    },
    dist_irq("GICD_INMIR", "", 0x0F80, 1, 4, Widths::W32, RW, H::Unimplemented, ZERO, "1 = NMI",
        "Non-maskable interrupt attribute (GICv3.3): not emulated."),
    dist_irq("GICD_IGROUPR", "E", 0x1000, 1, 4, Widths::W32, RW, H::Unimplemented, ZERO, "1 = Group 1",
        "Extended SPI range group: not emulated (TYPER.ESPI = 0)."),
    dist_irq("GICD_ISENABLER", "E", 0x1200, 1, 4, Widths::W32, RW, H::Unimplemented, ZERO, "1 = enabled",
        "Extended SPI set-enable: not emulated."),
    dist_irq("GICD_ICENABLER", "E", 0x1400, 1, 4, Widths::W32, RW, H::Unimplemented, ZERO, "1 = enabled",
        "Extended SPI clear-enable: not emulated."),
    dist_irq("GICD_ISPENDR", "E", 0x1600, 1, 4, Widths::W32, RW, H::Unimplemented, ZERO, "1 = pending",
        "Extended SPI set-pending: not emulated."),
    dist_irq("GICD_ICPENDR", "E", 0x1800, 1, 4, Widths::W32, RW, H::Unimplemented, ZERO, "1 = pending",
        "Extended SPI clear-pending: not emulated."),
    dist_irq("GICD_ISACTIVER", "E", 0x1A00, 1, 4, Widths::W32, RW, H::Unimplemented, ZERO, "1 = active",
        "Extended SPI set-active: not emulated."),
    dist_irq("GICD_ICACTIVER", "E", 0x1C00, 1, 4, Widths::W32, RW, H::Unimplemented, ZERO, "1 = active",
        "Extended SPI clear-active: not emulated."),
    dist_irq("GICD_IPRIORITYR", "E", 0x2000, 8, 4, Widths::W8_32, RW, H::Unimplemented, ZERO, "priority byte",
        "Extended SPI priority: not emulated."),
    dist_irq("GICD_ICFGR", "E", 0x3000, 2, 4, Widths::W32, RW, H::Unimplemented, ZERO, "trigger mode",
        "Extended SPI configuration: not emulated."),
    dist_irq("GICD_IGRPMODR", "E", 0x3400, 1, 4, Widths::W32, RW, H::Unimplemented, ZERO, "group modifier",
        "Extended SPI group modifier: not emulated."),
    dist_irq("GICD_NSACR", "E", 0x3600, 2, 4, Widths::W32, RW, H::Unimplemented, ZERO, "non-secure access",
        "Extended SPI non-secure access: not emulated."),
    dist_irq("GICD_INMIR", "E", 0x3B00, 1, 4, Widths::W32, RW, H::Unimplemented, ZERO, "1 = NMI",
        "Extended SPI NMI attribute: not emulated."),
    RegisterDesc {
        fields: GICD_IROUTER_FIELDS,
        reset: Reset::Computed("0: every SPI routed to Aff 0.0.0, vCPU 0"),
        source: SRC_DIST,
        ..dist_irq("GICD_IROUTER", "", 0x6000, 64, 8, Widths::W32_64, RW, H::Irouter, ZERO,
            "64-bit route", "Affinity route of each SPI: the target vCPU's Aff2.Aff1.Aff0.")
    },
    RegisterDesc {
        fields: GICD_IROUTER_FIELDS,
        ..dist_irq("GICD_IROUTER", "E", 0x8000, 64, 8, Widths::W32_64, RW, H::Unimplemented, ZERO,
            "64-bit route", "Extended SPI routes: not emulated.")
    },
    id_reg("GICD_PIDR4", D, 0xFFD0, ID_WORD_FIELDS, 0),
    id_reg("GICD_PIDR5", D, 0xFFD4, ID_WORD_FIELDS, 0),
    id_reg("GICD_PIDR6", D, 0xFFD8, ID_WORD_FIELDS, 0),
    id_reg("GICD_PIDR7", D, 0xFFDC, ID_WORD_FIELDS, 0),
    id_reg("GICD_PIDR0", D, 0xFFE0, ID_WORD_FIELDS, 0),
    id_reg("GICD_PIDR1", D, 0xFFE4, ID_WORD_FIELDS, 0),
    id_reg("GICD_PIDR2", D, 0xFFE8, PIDR2_FIELDS, 0x3B),
    id_reg("GICD_PIDR3", D, 0xFFEC, ID_WORD_FIELDS, 0),
    id_reg("GICD_CIDR0", D, 0xFFF0, ID_WORD_FIELDS, 0),
    id_reg("GICD_CIDR1", D, 0xFFF4, ID_WORD_FIELDS, 0),
    id_reg("GICD_CIDR2", D, 0xFFF8, ID_WORD_FIELDS, 0),
    id_reg("GICD_CIDR3", D, 0xFFFC, ID_WORD_FIELDS, 0),
    // ---------------- redistributor, RD_base ----------------
    plain("GICR_CTLR", R, 0x0000, 4, Widths::W32, RW, H::RdCtlr, E419, GICR_CTLR_FIELDS,
        Reset::Computed("0, or 0x6 (IR|CES) with implementation revision 3 (5.19+)"),
        "Redistributor control: LPI enable; IR/CES advertise the invalidation registers.",
        "vgic-mmio-v3.c: vgic_mmio_read_v3r_ctlr / vgic_mmio_write_v3r_ctlr"),
    plain("GICR_IIDR", R, 0x0004, 4, Widths::W32, RO, H::RdIidr, E419, GICR_IIDR_FIELDS, Reset::Value(0x4B00_043B),
        "Redistributor implementer identification (no revision).", "vgic-mmio-v3.c: vgic_mmio_read_v3r_iidr"),
    plain("GICR_TYPER", R, 0x0008, 8, Widths::W32_64, RO, H::RdTyper, E419, GICR_TYPER_FIELDS,
        Reset::Computed("affinity and vcpu_id of this vCPU, PLPIS with an ITS, Last on the last vCPU"),
        "Redistributor type: which vCPU it belongs to, whether it is the last.",
        "vgic-mmio-v3.c: vgic_mmio_read_v3r_typer"),
    plain("GICR_STATUSR", R, 0x0010, 4, Widths::W32, RW, H::RazWi, E419, GICD_STATUSR_FIELDS, ZERO,
        "Redistributor error status: RAZ/WI.", SRC_RD),
    plain("GICR_WAKER", R, 0x0014, 4, Widths::W32, RW, H::RazWi, E419, GICR_WAKER_FIELDS, ZERO,
        "Power management: RAZ/WI, the redistributor is always awake.", SRC_RD),
    plain("GICR_MPAMIDR", R, 0x0018, 4, Widths::W32, RO, H::Unimplemented, E419, &[], ZERO,
        "MPAM identification: not emulated.", SRC_ARCH_ONLY_RD),
    plain("GICR_PARTIDR", R, 0x001C, 4, Widths::W32, RW, H::Unimplemented, E419, &[], ZERO,
        "MPAM partition: not emulated.", SRC_ARCH_ONLY_RD),
    plain("GICR_SETLPIR", R, 0x0040, 8, Widths::W32_64, WO, H::Unimplemented, E419, &[], ZERO,
        "Direct LPI set (DirectLPI = 0): not emulated.", SRC_ARCH_ONLY_RD),
    plain("GICR_CLRLPIR", R, 0x0048, 8, Widths::W32_64, WO, H::Unimplemented, E419, &[], ZERO,
        "Direct LPI clear: not emulated.", SRC_ARCH_ONLY_RD),
    plain("GICR_PROPBASER", R, 0x0070, 8, Widths::W32_64, RW, H::PropBaser, E419, GICR_PROPBASER_FIELDS, ZERO,
        "LPI configuration table base (shared by all redistributors in KVM).",
        "vgic-mmio-v3.c: vgic_mmio_read_propbase / vgic_mmio_write_propbase"),
    plain("GICR_PENDBASER", R, 0x0078, 8, Widths::W32_64, RW, H::PendBaser, E419, GICR_PENDBASER_FIELDS, ZERO,
        "LPI pending table base of this redistributor.",
        "vgic-mmio-v3.c: vgic_mmio_read_pendbase / vgic_mmio_write_pendbase"),
    plain("GICR_INVLPIR", R, 0x00A0, 8, Widths::W32_64, WO, H::InvLpi, Era::V5_19, GICR_INVLPIR_FIELDS, ZERO,
        "Invalidate one LPI's cached configuration (5.19+).", "vgic-mmio-v3.c: vgic_mmio_write_invlpi"),
    plain("GICR_INVALLR", R, 0x00B0, 8, Widths::W32_64, WO, H::InvAll, Era::V5_19, GICR_INVLPIR_FIELDS, ZERO,
        "Invalidate all cached LPI configuration (5.19+).", "vgic-mmio-v3.c: vgic_mmio_write_invall"),
    plain("GICR_SYNCR", R, 0x00C0, 4, Widths::W32, RO, H::Syncr, Era::V5_19, GICR_SYNCR_FIELDS, ZERO,
        "Invalidation synchronisation (5.19+).", "vgic-mmio-v3.c: vgic_mmio_read_sync"),
    id_reg("GICR_PIDR4", R, 0xFFD0, ID_WORD_FIELDS, 0),
    id_reg("GICR_PIDR5", R, 0xFFD4, ID_WORD_FIELDS, 0),
    id_reg("GICR_PIDR6", R, 0xFFD8, ID_WORD_FIELDS, 0),
    id_reg("GICR_PIDR7", R, 0xFFDC, ID_WORD_FIELDS, 0),
    id_reg("GICR_PIDR0", R, 0xFFE0, ID_WORD_FIELDS, 0),
    id_reg("GICR_PIDR1", R, 0xFFE4, ID_WORD_FIELDS, 0),
    id_reg("GICR_PIDR2", R, 0xFFE8, PIDR2_FIELDS, 0x3B),
    id_reg("GICR_PIDR3", R, 0xFFEC, ID_WORD_FIELDS, 0),
    id_reg("GICR_CIDR0", R, 0xFFF0, ID_WORD_FIELDS, 0),
    id_reg("GICR_CIDR1", R, 0xFFF4, ID_WORD_FIELDS, 0),
    id_reg("GICR_CIDR2", R, 0xFFF8, ID_WORD_FIELDS, 0),
    id_reg("GICR_CIDR3", R, 0xFFFC, ID_WORD_FIELDS, 0),
    // ---------------- redistributor, SGI_base (+0x10000) ----------------
    sgi_irq("GICR_IGROUPR0", false, 0x1_0080, 4, 1, 0, Widths::W32, RW, H::Group, Reset::Value(0xFFFF_FFFF), "1 = Group 1",
        "Group of this vCPU's SGIs and PPIs."),
    sgi_irq("GICR_ISENABLER0", false, 0x1_0100, 4, 1, 0, Widths::W32, RW, H::SetEnable, Reset::Value(0x0000_FFFF), "1 = enabled",
        "Set-enable for SGIs and PPIs (SGIs reset enabled)."),
    sgi_irq("GICR_ICENABLER0", false, 0x1_0180, 4, 1, 0, Widths::W32, RW, H::ClearEnable, Reset::Value(0x0000_FFFF), "1 = enabled",
        "Clear-enable for SGIs and PPIs."),
    sgi_irq("GICR_ISPENDR0", false, 0x1_0200, 4, 1, 0, Widths::W32, RW, H::SetPending, ZERO, "1 = pending",
        "Set-pending for SGIs and PPIs (HW vSGIs read the hardware pending state)."),
    sgi_irq("GICR_ICPENDR0", false, 0x1_0280, 4, 1, 0, Widths::W32, RW, H::ClearPending, ZERO, "1 = pending",
        "Clear-pending for SGIs and PPIs; userspace: RAZ/WI."),
    sgi_irq("GICR_ISACTIVER0", false, 0x1_0300, 4, 1, 0, Widths::W32, RW, H::SetActive, ZERO, "1 = active",
        "Set-active for SGIs and PPIs (HW vSGIs have no active state)."),
    sgi_irq("GICR_ICACTIVER0", false, 0x1_0380, 4, 1, 0, Widths::W32, RW, H::ClearActive, ZERO, "1 = active",
        "Clear-active for SGIs and PPIs."),
    sgi_irq("GICR_IPRIORITYR", true, 0x1_0400, 32, 8, 0, Widths::W8_32, RW, H::Priority, ZERO,
        "priority byte (KVM keeps bits 7:3)", "Priority of SGIs and PPIs, one byte each."),
    sgi_irq("GICR_ICFGR0", false, 0x1_0C00, 4, 2, 0, Widths::W32, RW, H::Config, Reset::Value(0xAAAA_AAAA),
        "bit 1: 1 = edge", "SGI trigger modes: always edge, not writable."),
    sgi_irq("GICR_ICFGR1", false, 0x1_0C04, 4, 2, 16, Widths::W32, RW, H::Config, ZERO,
        "bit 1: 1 = edge", "PPI trigger modes: level in KVM, not writable."),
    sgi_irq("GICR_IGRPMODR0", false, 0x1_0D00, 4, 1, 0, Widths::W32, RW, H::RazWi, ZERO, "group modifier",
        "Group modifier for SGIs and PPIs: RAZ/WI."),
    sgi_irq("GICR_NSACR", false, 0x1_0E00, 4, 2, 0, Widths::W32, RW, H::RazWi, ZERO, "non-secure access",
        "Non-secure SGI access control: RAZ/WI."),
    sgi_irq("GICR_INMIR0", false, 0x1_0F80, 4, 1, 0, Widths::W32, RW, H::Unimplemented, ZERO, "1 = NMI",
        "NMI attribute of SGIs and PPIs (GICv3.3): not emulated."),
];

/// A register instance: a family and an index into it.
#[derive(Clone, Copy, Debug)]
pub struct RegRef {
    pub desc: &'static RegisterDesc,
    pub index: u32,
}

impl RegRef {
    pub fn name(&self) -> String {
        self.desc.instance_name(self.index)
    }
    /// Offset of the instance in its frame.
    pub fn offset(&self) -> u32 {
        self.desc.offset + self.index * self.desc.reg_bytes as u32
    }
}

/// Errors naming a register.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LookupError {
    #[error("unknown register {name:?}{}", suggestion.as_ref().map(|s| format!(" (did you mean {s}?)")).unwrap_or_default())]
    Unknown {
        name: String,
        suggestion: Option<String>,
    },
    #[error("{name} takes no index: write {base}")]
    NotIndexed { name: String, base: String },
    #[error("{name} needs an index, e.g. {example}")]
    NeedsIndex { name: String, example: String },
    #[error("index {index} is out of range for {pattern} (0..{count})")]
    IndexOutOfRange {
        index: u64,
        pattern: String,
        count: u32,
    },
}

/// All families of a frame.
pub fn frame_registers(frame: Frame) -> impl Iterator<Item = &'static RegisterDesc> {
    CATALOGUE.iter().filter(move |r| r.frame == frame)
}

/// The family containing `off` in `frame`, if any.
#[inline]
pub fn find_by_offset(frame: Frame, off: u32) -> Option<&'static RegisterDesc> {
    // Dispatch calls this on every access (VMM sweeps make ~50k per restore, the
    // audit's full replay ~90 million): one load from a per-word index.
    let index = word_index();
    let words = match frame {
        Frame::Dist => &index.0,
        Frame::Redist => &index.1,
    };
    match words.get((off / 4) as usize) {
        None | Some(&NO_FAMILY) => None,
        Some(&SEARCH) => search_by_offset(frame, off),
        Some(&i) => Some(&CATALOGUE[i as usize]),
    }
}

/// Binary search: CATALOGUE is sorted by (frame, offset) without overlaps (see the tests).
fn search_by_offset(frame: Frame, off: u32) -> Option<&'static RegisterDesc> {
    let i = CATALOGUE.partition_point(|r| (r.frame, r.end()) <= (frame, off));
    CATALOGUE.get(i).filter(|r| r.contains(frame, off))
}

/// Word index entries: no family in the word, or a word that more than one family (or
/// a family and a gap) share, which the binary search resolves.
const NO_FAMILY: u8 = u8::MAX;
const SEARCH: u8 = u8::MAX - 1;

/// For each 32-bit word of each frame, the CATALOGUE index of the family that covers
/// the whole word. Built once (about 48 KiB), on first use.
fn word_index() -> &'static (Vec<u8>, Vec<u8>) {
    static INDEX: std::sync::OnceLock<(Vec<u8>, Vec<u8>)> = std::sync::OnceLock::new();
    INDEX.get_or_init(|| {
        assert!(
            CATALOGUE.len() < SEARCH as usize,
            "the index holds u8 positions"
        );
        let mut dist = vec![NO_FAMILY; (Frame::Dist.size() / 4) as usize];
        let mut redist = vec![NO_FAMILY; (Frame::Redist.size() / 4) as usize];
        for (i, r) in CATALOGUE.iter().enumerate() {
            let words = match r.frame {
                Frame::Dist => &mut dist,
                Frame::Redist => &mut redist,
            };
            let (first, end) = (r.offset / 4, r.end().div_ceil(4));
            for w in first..end.min(words.len() as u32) {
                let whole = r.offset <= 4 * w && 4 * w + 4 <= r.end();
                let slot = &mut words[w as usize];
                *slot = if whole && *slot == NO_FAMILY {
                    i as u8
                } else {
                    SEARCH
                };
            }
        }
        // A word a family covers only in part also holds a gap: search there too.
        (dist, redist)
    })
}

/// The instance at `off` (rounded down to the instance start).
pub fn instance_at(frame: Frame, off: u32) -> Option<RegRef> {
    find_by_offset(frame, off).map(|desc| RegRef {
        desc,
        index: (off - desc.offset) / desc.reg_bytes as u32,
    })
}

/// Resolve an architectural name with an optional decimal index, case-insensitive:
/// `GICD_CTLR`, `gicd_isenabler1`, `GICD_IROUTER40`, `GICD_ISENABLER3E`, `GICR_TYPER`.
pub fn lookup(name: &str) -> Result<RegRef, LookupError> {
    let up = name.trim().to_ascii_uppercase();
    // Exact plain register first.
    if let Some(desc) = CATALOGUE.iter().find(|r| !r.indexed && r.name == up) {
        return Ok(RegRef { desc, index: 0 });
    }
    // Indexed: NAME<digits>SUFFIX.
    for desc in CATALOGUE.iter().filter(|r| r.indexed) {
        let Some(rest) = up.strip_prefix(desc.name) else {
            continue;
        };
        let Some(digits) = rest.strip_suffix(desc.suffix) else {
            continue;
        };
        if digits.is_empty() {
            if desc.suffix.is_empty() && rest.is_empty() {
                return Err(LookupError::NeedsIndex {
                    name: name.to_string(),
                    example: desc.instance_name(1),
                });
            }
            continue;
        }
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let index: u64 = digits.parse().unwrap_or(u64::MAX);
        if index >= desc.count() as u64 {
            return Err(LookupError::IndexOutOfRange {
                index,
                pattern: desc.pattern(),
                count: desc.count(),
            });
        }
        return Ok(RegRef {
            desc,
            index: index as u32,
        });
    }
    // A plain register written with an index?
    let stem = up.trim_end_matches(|c: char| c.is_ascii_digit());
    if stem != up {
        if let Some(desc) = CATALOGUE.iter().find(|r| !r.indexed && r.name == stem) {
            return Err(LookupError::NotIndexed {
                name: name.to_string(),
                base: desc.name.to_string(),
            });
        }
    }
    Err(LookupError::Unknown {
        name: name.to_string(),
        suggestion: suggest(&up),
    })
}

/// The catalogue name closest to `name` (edit distance), for error messages.
pub fn suggest(name: &str) -> Option<String> {
    let up = name.to_ascii_uppercase();
    let stem = up.trim_end_matches(|c: char| c.is_ascii_digit());
    let mut best: Option<(usize, &RegisterDesc)> = None;
    for r in CATALOGUE {
        // Plain registers compare whole names (GICD_TYPER2), families their stem.
        let d = if r.indexed {
            edit_distance(stem, r.name)
        } else {
            edit_distance(&up, r.name)
        };
        if best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, r));
        }
    }
    best.filter(|(d, _)| *d <= 3.max(stem.len() / 4))
        .map(|(_, r)| {
            if r.indexed {
                let digits = &up[stem.len()..];
                if digits.is_empty() {
                    r.instance_name(1)
                } else {
                    format!("{}{}{}", r.name, digits, r.suffix)
                }
            } else {
                r.name.to_string()
            }
        })
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// One decoded field of a value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DecodedField {
    pub name: String,
    pub bits: String,
    pub value: u64,
    pub meaning: String,
}

/// Decode `value` as instance `r`: named fields, or for per-IRQ families one
/// entry per INTID.
pub fn decode(r: &RegRef, value: u64) -> Vec<DecodedField> {
    if let Some(p) = r.desc.per_irq {
        let bpi = p.bits_per_irq as u32;
        let per_reg = r.desc.reg_bytes as u32 * 8 / bpi;
        let first = r.desc.intid_at(r.offset()).unwrap_or(0);
        if !r.desc.fields.is_empty() {
            // IROUTER: fields per instance.
            return decode_fields(r.desc.fields, value);
        }
        return (0..per_reg)
            .map(|i| {
                let lsb = (i * bpi) as u8;
                let fd = FieldDesc::new("", lsb, bpi as u8, FieldKind::Rw, "");
                DecodedField {
                    name: format!("INTID {}", first + i),
                    bits: fd.bits(),
                    value: fd.get(value),
                    meaning: p.unit.to_string(),
                }
            })
            .collect();
    }
    decode_fields(r.desc.fields, value)
}

fn decode_fields(fields: &[FieldDesc], value: u64) -> Vec<DecodedField> {
    fields
        .iter()
        .map(|fd| DecodedField {
            name: fd.name.to_string(),
            bits: fd.bits(),
            value: fd.get(value),
            meaning: fd.meaning.to_string(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_word_index_agrees_with_the_binary_search() {
        for frame in [Frame::Dist, Frame::Redist] {
            for off in 0..frame.size() + 8 {
                assert_eq!(
                    find_by_offset(frame, off).map(|r| r as *const RegisterDesc),
                    search_by_offset(frame, off).map(|r| r as *const RegisterDesc),
                    "{frame:?} {off:#x}"
                );
            }
        }
    }

    #[test]
    fn catalogue_is_sorted_and_non_overlapping() {
        for frame in [Frame::Dist, Frame::Redist] {
            let regs: Vec<_> = frame_registers(frame).collect();
            for w in regs.windows(2) {
                assert!(
                    w[0].end() <= w[1].offset,
                    "{} overlaps {}",
                    w[0].pattern(),
                    w[1].pattern()
                );
            }
            assert!(regs.iter().all(|r| r.end() <= frame.size()));
        }
        // find_by_offset's binary search needs a global (frame, offset) order.
        assert!(CATALOGUE
            .windows(2)
            .all(|w| (w[0].frame, w[0].offset) < (w[1].frame, w[1].offset)));
        for frame in [Frame::Dist, Frame::Redist] {
            for off in (0..frame.size()).step_by(2) {
                let linear = CATALOGUE.iter().find(|r| r.contains(frame, off));
                assert!(
                    std::ptr::eq(
                        find_by_offset(frame, off).map_or(std::ptr::null(), |r| r),
                        linear.map_or(std::ptr::null(), |r| r)
                    ),
                    "{frame:?} {off:#x}"
                );
            }
        }
    }

    #[test]
    fn fields_fit_their_register_and_do_not_overlap() {
        for r in CATALOGUE {
            let mut seen = 0u64;
            for fd in r.fields {
                assert!(
                    fd.lsb as u32 + fd.width as u32 <= r.reg_bytes as u32 * 8,
                    "{}.{}",
                    r.name,
                    fd.name
                );
                assert_eq!(seen & fd.mask(), 0, "{}.{} overlaps", r.name, fd.name);
                seen |= fd.mask();
            }
        }
    }

    #[test]
    fn names_resolve_to_kernel_offsets() {
        let off = |n: &str| lookup(n).unwrap().offset();
        assert_eq!(off("GICD_CTLR"), 0x0);
        assert_eq!(off("gicd_typer2"), 0xC);
        assert_eq!(off("GICD_ISENABLER1"), 0x104);
        assert_eq!(off("GICD_IPRIORITYR8"), 0x420);
        assert_eq!(off("GICD_IROUTER40"), 0x6140);
        assert_eq!(off("GICD_ICFGR2"), 0xC08);
        assert_eq!(off("GICD_ISENABLER3E"), 0x120C);
        assert_eq!(off("GICR_TYPER"), 0x8);
        assert_eq!(off("GICR_ISENABLER0"), 0x10100);
        assert_eq!(off("GICR_IPRIORITYR7"), 0x1041C);
        assert_eq!(off("GICD_PIDR2"), 0xFFE8);
    }

    #[test]
    fn bad_names_say_why() {
        assert!(matches!(
            lookup("GICD_CTLR0"),
            Err(LookupError::NotIndexed { .. })
        ));
        assert!(matches!(
            lookup("GICD_ISENABLER"),
            Err(LookupError::NeedsIndex { .. })
        ));
        assert!(matches!(
            lookup("GICD_ISENABLER32"),
            Err(LookupError::IndexOutOfRange { .. })
        ));
        match lookup("GICD_ISENABLR1") {
            Err(LookupError::Unknown { suggestion, .. }) => {
                assert_eq!(suggestion.as_deref(), Some("GICD_ISENABLER1"))
            }
            other => panic!("{other:?}"),
        }
        match lookup("GICD_TYPR2") {
            Err(LookupError::Unknown { suggestion, .. }) => {
                assert_eq!(suggestion.as_deref(), Some("GICD_TYPER2"))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn kvm_table_matches_the_kernel() {
        // vgic_v3_dist_registers[] regions, by first offset and length.
        let emulated: Vec<(u32, u32)> = frame_registers(Frame::Dist)
            .filter(|r| r.handler.is_emulated() && r.handler != Handler::IdRegs)
            .map(|r| (r.offset, r.len))
            .collect();
        assert!(emulated.contains(&(0x80, 0x80)) && emulated.contains(&(0x6000, 0x2000)));
        assert_eq!(
            lookup("GICD_IROUTER32")
                .unwrap()
                .desc
                .per_irq
                .unwrap()
                .bits_per_irq,
            64
        );
        assert!(!lookup("GICR_INVLPIR")
            .unwrap()
            .desc
            .kvm_region_in(Era::V5_13));
        assert!(lookup("GICR_INVLPIR")
            .unwrap()
            .desc
            .kvm_region_in(Era::V5_19));
    }

    #[test]
    fn decode_names_fields_and_intids() {
        let ctlr = lookup("GICD_CTLR").unwrap();
        let d = decode(&ctlr, 0x152);
        let get = |n: &str| d.iter().find(|f| f.name == n).unwrap().value;
        assert_eq!(
            (
                get("EnableGrp1"),
                get("ARE_NS"),
                get("DS"),
                get("nASSGIreq")
            ),
            (1, 1, 1, 1)
        );
        let en = decode(&lookup("GICD_ISENABLER1").unwrap(), 0b101);
        assert_eq!(en.len(), 32);
        assert_eq!(
            (en[0].name.as_str(), en[0].value, en[1].value),
            ("INTID 32", 1, 0)
        );
        let cfg = decode(&lookup("GICR_ICFGR1").unwrap(), 0);
        assert_eq!(cfg[0].name, "INTID 16");
    }
}
