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
    /// The emulated ITS (`KVM_DEV_TYPE_ARM_VGIC_ITS`): its control frame at
    /// 0x0 and GITS_TRANSLATER's frame at 0x10000 (`KVM_VGIC_V3_ITS_SIZE`,
    /// 2 x 64 KiB). Its registers are the catalogue's ITS part,
    /// [`its::ITS_REGIONS`] with the typed `Gits*` constants (not rows of
    /// [`CATALOGUE`], which the vGIC's dispatch and the app's register list
    /// read); guest accesses go to the ITS base, userspace ones to
    /// `KVM_DEV_ARM_VGIC_GRP_ITS_REGS` on the ITS device.
    Its,
}

impl Frame {
    pub const fn size(self) -> u32 {
        match self {
            Frame::Dist => 0x1_0000,
            Frame::Redist | Frame::Its => 0x2_0000,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Frame::Dist => "dist",
            Frame::Redist => "redist",
            Frame::Its => "its",
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
    /// The field's bits in place.
    pub const fn mask(&self) -> u64 {
        let ones = if self.width >= 64 {
            u64::MAX
        } else {
            (1u64 << self.width) - 1
        };
        ones << self.lsb
    }
    /// [`FieldDesc::mask`] of a field in a 32-bit register.
    pub const fn mask32(&self) -> u32 {
        self.mask() as u32
    }
    /// The field's value in `v`.
    pub const fn get(&self, v: u64) -> u64 {
        (v & self.mask()) >> self.lsb
    }
    /// `value` placed in the field (bits beyond its width dropped).
    pub const fn val(&self, value: u64) -> u64 {
        (value << self.lsb) & self.mask()
    }
    /// Whether the field is non-zero in `v` (one-bit flags).
    pub const fn is_set(&self, v: u64) -> bool {
        v & self.mask() != 0
    }
    /// `v` with the field replaced by `value`.
    pub const fn set(&self, v: u64, value: u64) -> u64 {
        (v & !self.mask()) | self.val(value)
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

impl PerIrq {
    /// A distributor family KVM registers with `REGISTER_DESC_WITH_BITS_PER_IRQ_SHARED`:
    /// INTIDs from 0, bounded by nr_irqs, the private slice RAZ/WI.
    pub const fn shared(bits_per_irq: u8, unit: &'static str) -> PerIrq {
        PerIrq {
            bits_per_irq,
            first_intid: 0,
            kvm_checks_bound: true,
            private_slice_raz_wi: true,
            unit,
        }
    }
    /// A family whose length KVM's table gives plainly (the redistributor's), or that
    /// KVM does not emulate: INTIDs from `first_intid`.
    pub const fn plain(bits_per_irq: u8, first_intid: u32, unit: &'static str) -> PerIrq {
        PerIrq {
            bits_per_irq,
            first_intid,
            kvm_checks_bound: false,
            private_slice_raz_wi: false,
            unit,
        }
    }
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
    /// First era in which userspace may access it before the vGIC is initialised
    /// (`vgic-kvm-device.c: reg_allowed_pre_init`, GICD_IIDR and GICD_TYPER2, 6.17+);
    /// before it, and for every other register, such an access is -EBUSY.
    pub uaccess_before_init_since: Option<Era>,
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

// ---- the typed vocabulary ------------------------------------------------------------------
//
// The table below is written once, through two macros, and gives two things: the
// `CATALOGUE` entries (what dispatch, decoding and the listings read) and, for each
// register family, a type with its offset and named fields, tock-registers style
// (`GicdCtlr::OFFSET`, `GicdCtlr::NASSGIREQ.mask()`, `GicdIrouter::at(n)`), for the
// handlers, recipes, guest profiles and migrations. No offset or field mask is
// written anywhere else.

/// Declares each family's type with its place in the frame, and `CATALOGUE` with one
/// entry per family: `Type = "NAME" @ Frame + offset [bytes per instance; bytes in all]
/// { named RegisterDesc fields }`; whatever an entry leaves out is `BASE`'s.
macro_rules! catalogue {
    ($(
        $(#[$doc:meta])*
        $ty:ident = $name:literal @ $frame:ident + $off:literal [$bytes:literal $(; $len:literal)?]
        { $($k:ident : $v:expr),* $(,)? }
    )*) => {
        $(
            #[doc = concat!("`", $name, "`: its place in the frame (and, where it has them, its fields).")]
            $(#[$doc])*
            #[derive(Clone, Copy, Debug)]
            pub struct $ty;
            impl $ty {
                /// The architectural name (without the index).
                pub const NAME: &'static str = $name;
                pub const FRAME: Frame = Frame::$frame;
                /// Offset of the family (its first instance) in the frame.
                pub const OFFSET: u32 = $off;
                /// Size of one instance, 4 or 8 bytes.
                pub const REG_BYTES: u8 = $bytes;
                /// Bytes the family covers.
                pub const LEN: u32 = catalogue!(@len $bytes $(; $len)?);
                /// Offset of instance `n` (`n` < `LEN / REG_BYTES`).
                pub const fn at(n: u32) -> u32 {
                    Self::OFFSET + n * Self::REG_BYTES as u32
                }
            }
        )*
        /// The catalogue, sorted by (frame, offset). See the module doc.
        pub static CATALOGUE: &[RegisterDesc] = &[$(
            RegisterDesc {
                name: $ty::NAME,
                frame: $ty::FRAME,
                offset: $ty::OFFSET,
                reg_bytes: $ty::REG_BYTES,
                len: $ty::LEN,
                indexed: $ty::LEN > $ty::REG_BYTES as u32,
                $($k: $v,)*
                ..BASE
            },
        )*];
    };
    (@len $bytes:literal) => { $bytes };
    (@len $bytes:literal; $len:literal) => { $len };
}

/// Declares the named fields of a layout as associated constants of its type, and
/// the layout itself (`Type::FIELDS`, in bit order) for the catalogue entry.
macro_rules! fields {
    ($(
        $ty:ident {
            $($c:ident = ($n:literal, $lsb:literal, $w:literal, $kind:ident, $m:literal)),* $(,)?
        }
    )*) => {
        $(
            impl $ty {
                $(
                    #[doc = concat!("`", $n, "`: ", $m)]
                    pub const $c: FieldDesc = FieldDesc::new($n, $lsb, $w, FieldKind::$kind, $m);
                )*
                /// Every field, in bit order.
                pub const FIELDS: &'static [FieldDesc] = &[$(Self::$c),*];
            }
        )*
    };
}

/// The layout of one identification byte (PIDR0..7 but PIDR2, CIDR0..3), shared by
/// both frames.
#[derive(Clone, Copy, Debug)]
pub struct IdWord;

// ---- field layouts -------------------------------------------------------------------------

fields! {
    GicdCtlr {
        ENABLE_GRP0 = ("EnableGrp0", 0, 1, Raz, "Enable Group 0 interrupts. KVM never stores it: reads 0 (Linux guests use Group 1)."),
        ENABLE_GRP1 = ("EnableGrp1", 1, 1, Rw, "Enable Group 1 interrupts (EnableGrp1A/NS; with DS=1 simply EnableGrp1): the distributor enable KVM keeps."),
        ARE_NS = ("ARE_NS", 4, 1, Rao, "Affinity routing enabled. Always 1 in KVM's GICv3 model."),
        DS = ("DS", 6, 1, Rao, "Disable security: always 1 in KVM (a single security state)."),
        NASSGIREQ = ("nASSGIreq", 8, 1, Rw, "GICv4.1: the guest asks for SGIs without an active state, i.e. hardware vSGIs. RES0 unless TYPER2.nASSGIcap (5.7+)."),
        RWP = ("RWP", 31, 1, Raz, "Register write pending: KVM completes every write synchronously, so 0."),
    }
    GicdTyper {
        ITLINES_NUMBER = ("ITLinesNumber", 0, 5, Ro, "Number of SPI lines / 32 - 1: INTIDs up to 32 * (N + 1) - 1 exist."),
        CPUNUMBER = ("CPUNumber", 5, 3, Raz, "Non-affinity-routed CPU count: 0 (ARE is always 1)."),
        ESPI = ("ESPI", 8, 1, Raz, "Extended SPI range: not supported by KVM."),
        NMI = ("NMI", 9, 1, Raz, "Non-maskable interrupts: not supported."),
        SECURITY_EXTN = ("SecurityExtn", 10, 1, Raz, "Two security states: 0."),
        NUM_LPIS = ("num_LPIs", 11, 5, Raz, "0: the number of LPIs is given by IDbits."),
        MBIS = ("MBIS", 16, 1, Raz, "Message-based SPIs (SETSPI): not supported."),
        LPIS = ("LPIS", 17, 1, Ro, "LPIs supported: 1 only with an in-kernel ITS."),
        DVIS = ("DVIS", 18, 1, Raz, "Direct virtual LPI injection: 0 (the guest sees no GICv4)."),
        IDBITS = ("IDbits", 19, 5, Ro, "INTID bits - 1: 15 with an ITS (16-bit INTIDs), else 9."),
        A3V = ("A3V", 24, 1, Raz, "Affinity level 3 values: 0 (Aff3 not supported)."),
        NO1N = ("No1N", 25, 1, Raz, "1-of-N SPI routing unsupported bit: 0, although KVM drops IROUTER.IRM."),
        RSS = ("RSS", 26, 1, Raz, "Range selector support for SGIs: 0 (Aff0 0..15)."),
        ESPI_RANGE = ("ESPI_range", 27, 5, Raz, "Extended SPI range size: 0."),
    }
    GicdIidr {
        IMPLEMENTER = ("Implementer", 0, 12, Ro, "JEP106 code of the implementer: 0x43B (Arm)."),
        REVISION = ("Revision", 12, 4, Ro, "KVM implementation revision: 2 = groups configurable (4.19), 3 = GICR_CTLR.IR/CES (5.19)."),
        VARIANT = ("Variant", 16, 4, Ro, "0."),
        PRODUCT_ID = ("ProductID", 24, 8, Ro, "0x4B, 'K' for KVM."),
    }
    GicdTyper2 {
        VID = ("VID", 0, 5, Raz, "vPE ID bits (GICv4.1 hosts' own distributors): 0 for the guest."),
        VIL = ("VIL", 7, 1, Raz, "VID field is valid: 0."),
        NASSGICAP = ("nASSGIcap", 8, 1, Ro, "GICv4.1: SGIs without active state are available (hardware vSGIs). 5.7+."),
    }
    GicdStatusr {
        RRD = ("RRD", 0, 1, Rao, "Read of a reserved location: KVM reads all-ones."),
        WRD = ("WRD", 1, 1, Rao, "Write to a reserved location."),
        RWOD = ("RWOD", 2, 1, Rao, "Read of a write-only register."),
        WROD = ("WROD", 3, 1, Rao, "Write to a read-only register."),
    }
    GicdSetspiNsr {
        INTID = ("INTID", 0, 13, Raz, "The SPI to set or clear (message-based SPIs): KVM has no MBIS, RAZ/WI."),
    }
    GicdIrouter {
        AFF0 = ("Aff0", 0, 8, Rw, "Affinity level 0 of the target PE."),
        AFF1 = ("Aff1", 8, 8, Rw, "Affinity level 1."),
        AFF2 = ("Aff2", 16, 8, Rw, "Affinity level 2."),
        IRM = ("IRM", 31, 1, Raz, "1-of-N routing: KVM drops it (reads 0)."),
        AFF3 = ("Aff3", 32, 8, Raz, "Affinity level 3: not supported, the upper word is RAZ/WI."),
    }
    GicdSgir {
        SGIINTID = ("SGIINTID", 0, 4, Raz, "Legacy (ARE=0) SGI generation: unused with affinity routing."),
        CPUTARGET_LIST = ("CPUTargetList", 16, 8, Raz, "Legacy target list."),
        TARGET_LIST_FILTER = ("TargetListFilter", 24, 2, Raz, "Legacy filter."),
    }
    GicdPidr2 {
        DES_1 = ("DES_1", 0, 3, Ro, "JEP106 identity bits: 0b011 (Arm), reading 0x3B as a whole."),
        JEDEC = ("JEDEC", 3, 1, Ro, "JEDEC-assigned value is used: 1."),
        ARCH_REV = ("ArchRev", 4, 4, Ro, "Architecture revision: 3 (GICv3)."),
    }
    IdWord {
        VALUE = ("Value", 0, 8, Ro, "Identification byte: KVM reads 0."),
    }
    GicrCtlr {
        ENABLE_LPIS = ("EnableLPIs", 0, 1, Rw, "LPIs enabled for this redistributor (needs an in-kernel ITS)."),
        CES = ("CES", 1, 1, Ro, "Clear Enable Supported: 1 from IIDR revision 3 (5.19+)."),
        IR = ("IR", 2, 1, Ro, "LPI invalidate registers supported (INVLPIR/INVALLR/SYNCR): 1 from IIDR revision 3 (5.19+)."),
        RWP = ("RWP", 3, 1, Ro, "Register write pending: set while LPIs are being disabled (5.19+)."),
        DPG0 = ("DPG0", 24, 1, Raz, "Disable processor selection for Group 0: 0."),
        DPG1NS = ("DPG1NS", 25, 1, Raz, "Disable processor selection for Group 1 NS: 0."),
        DPG1S = ("DPG1S", 26, 1, Raz, "Disable processor selection for Group 1 S: 0."),
        UWP = ("UWP", 31, 1, Raz, "Upstream write pending: 0."),
    }
    GicrIidr {
        IMPLEMENTER = ("Implementer", 0, 12, Ro, "0x43B (Arm)."),
        REVISION = ("Revision", 12, 4, Ro, "0: GICR_IIDR carries no KVM revision."),
        VARIANT = ("Variant", 16, 4, Ro, "0."),
        PRODUCT_ID = ("ProductID", 24, 8, Ro, "0x4B ('K')."),
    }
    GicrTyper {
        PLPIS = ("PLPIS", 0, 1, Ro, "Physical LPIs supported: 1 with an in-kernel ITS."),
        VLPIS = ("VLPIS", 1, 1, Raz, "Virtual LPIs: 0 (no nested GICv4 for the guest)."),
        DIRTY = ("Dirty", 2, 1, Raz, "GICv4.1 VPT dirty: 0."),
        DIRECT_LPI = ("DirectLPI", 3, 1, Raz, "Direct LPI injection registers: 0 (INVLPIR exists from 5.19 without it)."),
        LAST = ("Last", 4, 1, Ro, "Last redistributor of a contiguous region: vgic_mmio_vcpu_rdist_is_last."),
        DPGS = ("DPGS", 5, 1, Raz, "GICR_CTLR.DPG* supported: 0."),
        MPAM = ("MPAM", 6, 1, Raz, "MPAM supported: 0."),
        RVPEID = ("RVPEID", 7, 1, Raz, "GICv4.1 vPE IDs: 0."),
        PROCESSOR_NUMBER = ("Processor_Number", 8, 16, Ro, "vcpu_id & 0xffff."),
        COMMON_LPIAFF = ("CommonLPIAff", 24, 2, Raz, "0."),
        VSGI = ("VSGI", 26, 1, Raz, "GICv4.1 direct vSGIs at the redistributor: 0 (the guest sees GICD_TYPER2 instead)."),
        PPINUM = ("PPInum", 27, 5, Raz, "Extended PPIs: 0."),
        AFF0 = ("Aff0", 32, 8, Ro, "vCPU MPIDR Aff0 = vcpu_id mod 16."),
        AFF1 = ("Aff1", 40, 8, Ro, "Aff1 = (vcpu_id / 16) mod 256."),
        AFF2 = ("Aff2", 48, 8, Ro, "Aff2 = vcpu_id / 4096."),
        AFF3 = ("Aff3", 56, 8, Raz, "Aff3: not reported."),
    }
    GicrWaker {
        PROCESSOR_SLEEP = ("ProcessorSleep", 1, 1, Raz, "KVM: RAZ/WI (the redistributor never sleeps)."),
        CHILDREN_ASLEEP = ("ChildrenAsleep", 2, 1, Raz, "RAZ."),
    }
    GicrPropbaser {
        IDBITS = ("IDbits", 0, 5, Rw, "LPI INTID bits - 1 of the property table."),
        INNER_CACHE = ("InnerCache", 7, 3, Rw, "Inner cacheability; nC and nCnB are sanitised to RaWb."),
        SHAREABILITY = ("Shareability", 10, 2, Rw, "Outer Shareable is sanitised to Inner Shareable."),
        PHYSICAL_ADDRESS = ("PhysicalAddress", 12, 40, Rw, "Bits 51:12 of the LPI property table address."),
        OUTER_CACHE = ("OuterCache", 56, 3, Rw, "Outer cacheability: only SameAsInner (0) or nC (1) kept."),
    }
    GicrPendbaser {
        INNER_CACHE = ("InnerCache", 7, 3, Rw, "Inner cacheability; nC and nCnB are sanitised to RaWb."),
        SHAREABILITY = ("Shareability", 10, 2, Rw, "Outer Shareable is sanitised to Inner Shareable."),
        PHYSICAL_ADDRESS = ("PhysicalAddress", 16, 36, Rw, "Bits 51:16 of the LPI pending table address."),
        OUTER_CACHE = ("OuterCache", 56, 3, Rw, "Outer cacheability: only SameAsInner (0) or nC (1) kept."),
        PTZ = ("PTZ", 62, 1, Raz, "Pending table zero: write-only hint, reads 0."),
    }
    GicrInvlpir {
        INTID = ("INTID", 0, 32, Rw, "The LPI whose cached configuration to invalidate."),
        VPEID = ("vPEID", 32, 16, Raz, "GICv4.1 vPE (upper word): dropped by KVM."),
        V = ("V", 63, 1, Raz, "Virtual: dropped by KVM."),
    }
    GicrSyncr {
        BUSY = ("Busy", 0, 1, Ro, "An invalidation is in progress."),
    }
}

// ---- the table -----------------------------------------------------------------------------

const SRC_DIST: &str = "vgic-mmio-v3.c: vgic_v3_dist_registers[]";
const SRC_RD: &str = "vgic-mmio-v3.c: vgic_v3_rd_registers[]";
const SRC_ARCH_ONLY: &str = "Arm IHI 0069 §12.9 (absent from vgic_v3_dist_registers[])";
const SRC_ARCH_ONLY_RD: &str = "Arm IHI 0069 §12.10 (absent from vgic_v3_rd_registers[])";
const ID_SUMMARY: &str = "Identification register (CoreSight layout).";
const ID_SOURCE: &str = "vgic-mmio-v3.c: GICD_IDREGS/GICR_IDREGS -> vgic_mmio_read_v3_idregs";

use ArchAccess::{Ro as RO, Wo as WO};
use Handler as H;

const ZERO: Reset = Reset::Value(0);

/// What an entry leaves out: a 32-bit RW register KVM has no region for since
/// 4.19, no fields, reset 0, no access before init.
const BASE: RegisterDesc = RegisterDesc {
    name: "",
    suffix: "",
    frame: Frame::Dist,
    offset: 0,
    len: 4,
    reg_bytes: 4,
    indexed: false,
    per_irq: None,
    widths: Widths::W32,
    arch_access: ArchAccess::Rw,
    handler: Handler::Unimplemented,
    kvm_since: Era::V4_19,
    uaccess_before_init_since: None,
    fields: &[],
    reset: ZERO,
    summary: "",
    source: "",
};

catalogue! {
    // ---------------- distributor ----------------
    GicdCtlr = "GICD_CTLR" @ Dist + 0x0000 [4] {
        handler: H::DistCtlr,
        fields: GicdCtlr::FIELDS,
        reset: Reset::Value(0x50),
        summary: "Distributor control: the enable, affinity routing, and (GICv4.1) nASSGIreq.",
        source: "vgic-mmio-v3.c: GICD_CTLR misc region -> vgic_mmio_read_v3_misc / vgic_mmio_write_v3_misc / vgic_mmio_uaccess_write_v3_misc",
    }
    GicdTyper = "GICD_TYPER" @ Dist + 0x0004 [4] {
        arch_access: RO,
        handler: H::DistTyper,
        fields: GicdTyper::FIELDS,
        reset: Reset::Computed("ITLinesNumber from nr_irqs; IDbits 9, or 15 with LPIS with an ITS (0x00480007 at 256 IRQs, no ITS)"),
        summary: "Interrupt controller type: how many SPIs, INTID bits, LPI support.",
        source: "vgic-mmio-v3.c: vgic_mmio_read_v3_misc (case GICD_TYPER)",
    }
    GicdIidr = "GICD_IIDR" @ Dist + 0x0008 [4] {
        arch_access: RO,
        handler: H::DistIidr,
        uaccess_before_init_since: Some(Era::V6_17),
        fields: GicdIidr::FIELDS,
        reset: Reset::Computed("0x4B00243B (revision 2) up to 5.18, 0x4B00343B (revision 3) from 5.19"),
        summary: "Implementer identification, carrying KVM's implementation revision; userspace must restore it first.",
        source: "vgic-mmio-v3.c: vgic_mmio_read_v3_misc (case GICD_IIDR)",
    }
    GicdTyper2 = "GICD_TYPER2" @ Dist + 0x000C [4] {
        arch_access: RO,
        handler: H::DistTyper2,
        uaccess_before_init_since: Some(Era::V6_17),
        fields: GicdTyper2::FIELDS,
        reset: Reset::Computed("0x100 (nASSGIcap) when the VM can have hardware vSGIs (5.7+), else 0"),
        summary: "Interrupt controller type 2: GICv4.1 nASSGIcap, the register of the 2020 migration debate.",
        source: "vgic-mmio-v3.c: vgic_mmio_read_v3_misc (case GICD_TYPER2), 2291ff2f2a56 (5.7)",
    }
    GicdStatusr = "GICD_STATUSR" @ Dist + 0x0010 [4] {
        handler: H::RaoWi,
        fields: GicdStatusr::FIELDS,
        reset: Reset::Value(0xFFFF_FFFF),
        summary: "Error reporting status: KVM reads all-ones and ignores writes.",
        source: "vgic-mmio-v3.c: GICD_STATUSR -> vgic_mmio_read_rao",
    }
    GicdSetspiNsr = "GICD_SETSPI_NSR" @ Dist + 0x0040 [4] {
        arch_access: WO,
        fields: GicdSetspiNsr::FIELDS,
        summary: "Set a message-based SPI (non-secure). KVM has no MBIS.",
        source: SRC_ARCH_ONLY,
    }
    GicdClrspiNsr = "GICD_CLRSPI_NSR" @ Dist + 0x0048 [4] {
        arch_access: WO,
        fields: GicdSetspiNsr::FIELDS,
        summary: "Clear a message-based SPI (non-secure).",
        source: SRC_ARCH_ONLY,
    }
    GicdSetspiSr = "GICD_SETSPI_SR" @ Dist + 0x0050 [4] {
        arch_access: WO,
        fields: GicdSetspiNsr::FIELDS,
        summary: "Set a message-based SPI (secure).",
        source: SRC_ARCH_ONLY,
    }
    GicdClrspiSr = "GICD_CLRSPI_SR" @ Dist + 0x0058 [4] {
        arch_access: WO,
        fields: GicdSetspiNsr::FIELDS,
        summary: "Clear a message-based SPI (secure).",
        source: SRC_ARCH_ONLY,
    }
    GicdIgroupr = "GICD_IGROUPR" @ Dist + 0x0080 [4; 0x80] {
        per_irq: Some(PerIrq::shared(1, "1 = Group 1")),
        handler: H::Group,
        reset: Reset::Computed("0xFFFFFFFF for SPIs: KVM's GICv3 model resets every IRQ to Group 1"),
        summary: "Interrupt group of each SPI.",
        source: SRC_DIST,
    }
    GicdIsenabler = "GICD_ISENABLER" @ Dist + 0x0100 [4; 0x80] {
        per_irq: Some(PerIrq::shared(1, "1 = enabled")),
        handler: H::SetEnable,
        summary: "Set-enable: write 1 to enable an SPI; reads the enables.",
        source: SRC_DIST,
    }
    GicdIcenabler = "GICD_ICENABLER" @ Dist + 0x0180 [4; 0x80] {
        per_irq: Some(PerIrq::shared(1, "1 = enabled")),
        handler: H::ClearEnable,
        summary: "Clear-enable: write 1 to disable an SPI; reads the enables.",
        source: SRC_DIST,
    }
    GicdIspendr = "GICD_ISPENDR" @ Dist + 0x0200 [4; 0x80] {
        per_irq: Some(PerIrq::shared(1, "1 = pending")),
        handler: H::SetPending,
        summary: "Set-pending: the guest sets pending; userspace writes the whole pending latch.",
        source: SRC_DIST,
    }
    GicdIcpendr = "GICD_ICPENDR" @ Dist + 0x0280 [4; 0x80] {
        per_irq: Some(PerIrq::shared(1, "1 = pending")),
        handler: H::ClearPending,
        summary: "Clear-pending: the guest clears pending; userspace reads 0 and writes nothing.",
        source: SRC_DIST,
    }
    GicdIsactiver = "GICD_ISACTIVER" @ Dist + 0x0300 [4; 0x80] {
        per_irq: Some(PerIrq::shared(1, "1 = active")),
        handler: H::SetActive,
        summary: "Set-active: write 1 to activate an SPI; reads the active bits.",
        source: SRC_DIST,
    }
    GicdIcactiver = "GICD_ICACTIVER" @ Dist + 0x0380 [4; 0x80] {
        per_irq: Some(PerIrq::shared(1, "1 = active")),
        handler: H::ClearActive,
        summary: "Clear-active: write 1 to deactivate an SPI; reads the active bits.",
        source: SRC_DIST,
    }
    GicdIpriorityr = "GICD_IPRIORITYR" @ Dist + 0x0400 [4; 0x400] {
        per_irq: Some(PerIrq::shared(8, "priority byte (KVM keeps bits 7:3)")),
        widths: Widths::W8_32,
        handler: H::Priority,
        summary: "Priority of each SPI, one byte each; KVM implements 5 priority bits.",
        source: SRC_DIST,
    }
    GicdItargetsr = "GICD_ITARGETSR" @ Dist + 0x0800 [4; 0x400] {
        per_irq: Some(PerIrq::shared(8, "CPU target byte")),
        widths: Widths::W8_32,
        handler: H::RazWi,
        summary: "Legacy CPU targets: RAZ/WI with affinity routing, which KVM always enables.",
        source: SRC_DIST,
    }
    GicdIcfgr = "GICD_ICFGR" @ Dist + 0x0C00 [4; 0x100] {
        per_irq: Some(PerIrq::shared(2, "bit 1: 1 = edge, 0 = level")),
        handler: H::Config,
        reset: Reset::Computed("0xAAAAAAAA for SPIs: KVM resets SPIs to edge-triggered (VGIC_CONFIG_EDGE)"),
        summary: "Trigger mode of each SPI.",
        source: SRC_DIST,
    }
    GicdIgrpmodr = "GICD_IGRPMODR" @ Dist + 0x0D00 [4; 0x80] {
        per_irq: Some(PerIrq::shared(1, "group modifier")),
        handler: H::RazWi,
        summary: "Group modifier (secure Group 1): RAZ/WI, KVM has one security state.",
        source: SRC_DIST,
    }
    GicdNsacr = "GICD_NSACR" @ Dist + 0x0E00 [4; 0x100] {
        per_irq: Some(PerIrq::plain(2, 0, "non-secure access")),
        summary: "Non-secure access control: not emulated.",
        source: SRC_ARCH_ONLY,
    }
    GicdSgir = "GICD_SGIR" @ Dist + 0x0F00 [4] {
        arch_access: WO,
        fields: GicdSgir::FIELDS,
        summary: "Legacy SGI generation (ARE=0 only): not emulated; SGIs come from ICC_SGI1R_EL1.",
        source: SRC_ARCH_ONLY,
    }
    GicdCpendsgir = "GICD_CPENDSGIR" @ Dist + 0x0F10 [4; 0x10] {
        per_irq: Some(PerIrq::plain(8, 0, "source CPUs")),
        widths: Widths::W8_32,
        summary: "Legacy SGI clear-pending (ARE=0 only): not emulated.",
        source: SRC_ARCH_ONLY,
    }
    GicdSpendsgir = "GICD_SPENDSGIR" @ Dist + 0x0F20 [4; 0x10] {
        per_irq: Some(PerIrq::plain(8, 0, "source CPUs")),
        widths: Widths::W8_32,
        summary: "Legacy SGI set-pending (ARE=0 only): not emulated.",
        source: SRC_ARCH_ONLY,
    }
    GicdInmir = "GICD_INMIR" @ Dist + 0x0F80 [4; 0x80] {
        per_irq: Some(PerIrq::plain(1, 0, "1 = NMI")),
        summary: "Non-maskable interrupt attribute (GICv3.3): not emulated.",
        source: SRC_ARCH_ONLY,
    }
    GicdIgrouprE = "GICD_IGROUPR" @ Dist + 0x1000 [4; 0x80] {
        suffix: "E",
        per_irq: Some(PerIrq::plain(1, 4096, "1 = Group 1")),
        summary: "Extended SPI range group: not emulated (TYPER.ESPI = 0).",
        source: SRC_ARCH_ONLY,
    }
    GicdIsenablerE = "GICD_ISENABLER" @ Dist + 0x1200 [4; 0x80] {
        suffix: "E",
        per_irq: Some(PerIrq::plain(1, 4096, "1 = enabled")),
        summary: "Extended SPI set-enable: not emulated.",
        source: SRC_ARCH_ONLY,
    }
    GicdIcenablerE = "GICD_ICENABLER" @ Dist + 0x1400 [4; 0x80] {
        suffix: "E",
        per_irq: Some(PerIrq::plain(1, 4096, "1 = enabled")),
        summary: "Extended SPI clear-enable: not emulated.",
        source: SRC_ARCH_ONLY,
    }
    GicdIspendrE = "GICD_ISPENDR" @ Dist + 0x1600 [4; 0x80] {
        suffix: "E",
        per_irq: Some(PerIrq::plain(1, 4096, "1 = pending")),
        summary: "Extended SPI set-pending: not emulated.",
        source: SRC_ARCH_ONLY,
    }
    GicdIcpendrE = "GICD_ICPENDR" @ Dist + 0x1800 [4; 0x80] {
        suffix: "E",
        per_irq: Some(PerIrq::plain(1, 4096, "1 = pending")),
        summary: "Extended SPI clear-pending: not emulated.",
        source: SRC_ARCH_ONLY,
    }
    GicdIsactiverE = "GICD_ISACTIVER" @ Dist + 0x1A00 [4; 0x80] {
        suffix: "E",
        per_irq: Some(PerIrq::plain(1, 4096, "1 = active")),
        summary: "Extended SPI set-active: not emulated.",
        source: SRC_ARCH_ONLY,
    }
    GicdIcactiverE = "GICD_ICACTIVER" @ Dist + 0x1C00 [4; 0x80] {
        suffix: "E",
        per_irq: Some(PerIrq::plain(1, 4096, "1 = active")),
        summary: "Extended SPI clear-active: not emulated.",
        source: SRC_ARCH_ONLY,
    }
    GicdIpriorityrE = "GICD_IPRIORITYR" @ Dist + 0x2000 [4; 0x400] {
        suffix: "E",
        per_irq: Some(PerIrq::plain(8, 4096, "priority byte")),
        widths: Widths::W8_32,
        summary: "Extended SPI priority: not emulated.",
        source: SRC_ARCH_ONLY,
    }
    GicdIcfgrE = "GICD_ICFGR" @ Dist + 0x3000 [4; 0x100] {
        suffix: "E",
        per_irq: Some(PerIrq::plain(2, 4096, "trigger mode")),
        summary: "Extended SPI configuration: not emulated.",
        source: SRC_ARCH_ONLY,
    }
    GicdIgrpmodrE = "GICD_IGRPMODR" @ Dist + 0x3400 [4; 0x80] {
        suffix: "E",
        per_irq: Some(PerIrq::plain(1, 4096, "group modifier")),
        summary: "Extended SPI group modifier: not emulated.",
        source: SRC_ARCH_ONLY,
    }
    GicdNsacrE = "GICD_NSACR" @ Dist + 0x3600 [4; 0x100] {
        suffix: "E",
        per_irq: Some(PerIrq::plain(2, 4096, "non-secure access")),
        summary: "Extended SPI non-secure access: not emulated.",
        source: SRC_ARCH_ONLY,
    }
    GicdInmirE = "GICD_INMIR" @ Dist + 0x3B00 [4; 0x80] {
        suffix: "E",
        per_irq: Some(PerIrq::plain(1, 4096, "1 = NMI")),
        summary: "Extended SPI NMI attribute: not emulated.",
        source: SRC_ARCH_ONLY,
    }
    GicdIrouter = "GICD_IROUTER" @ Dist + 0x6000 [8; 0x2000] {
        per_irq: Some(PerIrq::shared(64, "64-bit route")),
        widths: Widths::W32_64,
        handler: H::Irouter,
        fields: GicdIrouter::FIELDS,
        reset: Reset::Computed("0: every SPI routed to Aff 0.0.0, vCPU 0"),
        summary: "Affinity route of each SPI: the target vCPU's Aff2.Aff1.Aff0.",
        source: SRC_DIST,
    }
    GicdIrouterE = "GICD_IROUTER" @ Dist + 0x8000 [8; 0x2000] {
        suffix: "E",
        per_irq: Some(PerIrq::plain(64, 4096, "64-bit route")),
        widths: Widths::W32_64,
        fields: GicdIrouter::FIELDS,
        summary: "Extended SPI routes: not emulated.",
        source: SRC_ARCH_ONLY,
    }
    GicdPidr4 = "GICD_PIDR4" @ Dist + 0xFFD0 [4] {
        arch_access: RO,
        handler: H::IdRegs,
        fields: IdWord::FIELDS,
        summary: ID_SUMMARY,
        source: ID_SOURCE,
    }
    GicdPidr5 = "GICD_PIDR5" @ Dist + 0xFFD4 [4] {
        arch_access: RO,
        handler: H::IdRegs,
        fields: IdWord::FIELDS,
        summary: ID_SUMMARY,
        source: ID_SOURCE,
    }
    GicdPidr6 = "GICD_PIDR6" @ Dist + 0xFFD8 [4] {
        arch_access: RO,
        handler: H::IdRegs,
        fields: IdWord::FIELDS,
        summary: ID_SUMMARY,
        source: ID_SOURCE,
    }
    GicdPidr7 = "GICD_PIDR7" @ Dist + 0xFFDC [4] {
        arch_access: RO,
        handler: H::IdRegs,
        fields: IdWord::FIELDS,
        summary: ID_SUMMARY,
        source: ID_SOURCE,
    }
    GicdPidr0 = "GICD_PIDR0" @ Dist + 0xFFE0 [4] {
        arch_access: RO,
        handler: H::IdRegs,
        fields: IdWord::FIELDS,
        summary: ID_SUMMARY,
        source: ID_SOURCE,
    }
    GicdPidr1 = "GICD_PIDR1" @ Dist + 0xFFE4 [4] {
        arch_access: RO,
        handler: H::IdRegs,
        fields: IdWord::FIELDS,
        summary: ID_SUMMARY,
        source: ID_SOURCE,
    }
    GicdPidr2 = "GICD_PIDR2" @ Dist + 0xFFE8 [4] {
        arch_access: RO,
        handler: H::IdRegs,
        fields: GicdPidr2::FIELDS,
        reset: Reset::Value(0x3B),
        summary: ID_SUMMARY,
        source: ID_SOURCE,
    }
    GicdPidr3 = "GICD_PIDR3" @ Dist + 0xFFEC [4] {
        arch_access: RO,
        handler: H::IdRegs,
        fields: IdWord::FIELDS,
        summary: ID_SUMMARY,
        source: ID_SOURCE,
    }
    GicdCidr0 = "GICD_CIDR0" @ Dist + 0xFFF0 [4] {
        arch_access: RO,
        handler: H::IdRegs,
        fields: IdWord::FIELDS,
        summary: ID_SUMMARY,
        source: ID_SOURCE,
    }
    GicdCidr1 = "GICD_CIDR1" @ Dist + 0xFFF4 [4] {
        arch_access: RO,
        handler: H::IdRegs,
        fields: IdWord::FIELDS,
        summary: ID_SUMMARY,
        source: ID_SOURCE,
    }
    GicdCidr2 = "GICD_CIDR2" @ Dist + 0xFFF8 [4] {
        arch_access: RO,
        handler: H::IdRegs,
        fields: IdWord::FIELDS,
        summary: ID_SUMMARY,
        source: ID_SOURCE,
    }
    GicdCidr3 = "GICD_CIDR3" @ Dist + 0xFFFC [4] {
        arch_access: RO,
        handler: H::IdRegs,
        fields: IdWord::FIELDS,
        summary: ID_SUMMARY,
        source: ID_SOURCE,
    }
    // ---------------- redistributor, RD_base ----------------
    GicrCtlr = "GICR_CTLR" @ Redist + 0x0000 [4] {
        handler: H::RdCtlr,
        fields: GicrCtlr::FIELDS,
        reset: Reset::Computed("0, or 0x6 (IR|CES) with implementation revision 3 (5.19+)"),
        summary: "Redistributor control: LPI enable; IR/CES advertise the invalidation registers.",
        source: "vgic-mmio-v3.c: vgic_mmio_read_v3r_ctlr / vgic_mmio_write_v3r_ctlr",
    }
    GicrIidr = "GICR_IIDR" @ Redist + 0x0004 [4] {
        arch_access: RO,
        handler: H::RdIidr,
        fields: GicrIidr::FIELDS,
        reset: Reset::Value(0x4B00_043B),
        summary: "Redistributor implementer identification (no revision).",
        source: "vgic-mmio-v3.c: vgic_mmio_read_v3r_iidr",
    }
    GicrTyper = "GICR_TYPER" @ Redist + 0x0008 [8] {
        widths: Widths::W32_64,
        arch_access: RO,
        handler: H::RdTyper,
        fields: GicrTyper::FIELDS,
        reset: Reset::Computed("affinity and vcpu_id of this vCPU, PLPIS with an ITS, Last on the last vCPU"),
        summary: "Redistributor type: which vCPU it belongs to, whether it is the last.",
        source: "vgic-mmio-v3.c: vgic_mmio_read_v3r_typer",
    }
    GicrStatusr = "GICR_STATUSR" @ Redist + 0x0010 [4] {
        handler: H::RazWi,
        fields: GicdStatusr::FIELDS,
        summary: "Redistributor error status: RAZ/WI.",
        source: SRC_RD,
    }
    GicrWaker = "GICR_WAKER" @ Redist + 0x0014 [4] {
        handler: H::RazWi,
        fields: GicrWaker::FIELDS,
        summary: "Power management: RAZ/WI, the redistributor is always awake.",
        source: SRC_RD,
    }
    GicrMpamidr = "GICR_MPAMIDR" @ Redist + 0x0018 [4] {
        arch_access: RO,
        summary: "MPAM identification: not emulated.",
        source: SRC_ARCH_ONLY_RD,
    }
    GicrPartidr = "GICR_PARTIDR" @ Redist + 0x001C [4] {
        summary: "MPAM partition: not emulated.",
        source: SRC_ARCH_ONLY_RD,
    }
    GicrSetlpir = "GICR_SETLPIR" @ Redist + 0x0040 [8] {
        widths: Widths::W32_64,
        arch_access: WO,
        summary: "Direct LPI set (DirectLPI = 0): not emulated.",
        source: SRC_ARCH_ONLY_RD,
    }
    GicrClrlpir = "GICR_CLRLPIR" @ Redist + 0x0048 [8] {
        widths: Widths::W32_64,
        arch_access: WO,
        summary: "Direct LPI clear: not emulated.",
        source: SRC_ARCH_ONLY_RD,
    }
    GicrPropbaser = "GICR_PROPBASER" @ Redist + 0x0070 [8] {
        widths: Widths::W32_64,
        handler: H::PropBaser,
        fields: GicrPropbaser::FIELDS,
        reset: Reset::Computed("0, or INITIAL_PROPBASER_VALUE (0x580: inner RaWb, outer SameAsInner, InnerShareable) once an ITS is created (vgic_its_create)"),
        summary: "LPI configuration table base (shared by all redistributors in KVM).",
        source: "vgic-mmio-v3.c: vgic_mmio_read_propbase / vgic_mmio_write_propbase",
    }
    GicrPendbaser = "GICR_PENDBASER" @ Redist + 0x0078 [8] {
        widths: Widths::W32_64,
        handler: H::PendBaser,
        fields: GicrPendbaser::FIELDS,
        // INITIAL_PENDBASER_VALUE, set by vgic_v3_enable at init: no one reads it before.
        reset: Reset::Value(0x580),
        summary: "LPI pending table base of this redistributor.",
        source: "vgic-mmio-v3.c: vgic_mmio_read_pendbase / vgic_mmio_write_pendbase",
    }
    GicrInvlpir = "GICR_INVLPIR" @ Redist + 0x00A0 [8] {
        widths: Widths::W32_64,
        arch_access: WO,
        handler: H::InvLpi,
        kvm_since: Era::V5_19,
        fields: GicrInvlpir::FIELDS,
        summary: "Invalidate one LPI's cached configuration (5.19+).",
        source: "vgic-mmio-v3.c: vgic_mmio_write_invlpi",
    }
    GicrInvallr = "GICR_INVALLR" @ Redist + 0x00B0 [8] {
        widths: Widths::W32_64,
        arch_access: WO,
        handler: H::InvAll,
        kvm_since: Era::V5_19,
        fields: GicrInvlpir::FIELDS,
        summary: "Invalidate all cached LPI configuration (5.19+).",
        source: "vgic-mmio-v3.c: vgic_mmio_write_invall",
    }
    GicrSyncr = "GICR_SYNCR" @ Redist + 0x00C0 [4] {
        arch_access: RO,
        handler: H::Syncr,
        kvm_since: Era::V5_19,
        fields: GicrSyncr::FIELDS,
        summary: "Invalidation synchronisation (5.19+).",
        source: "vgic-mmio-v3.c: vgic_mmio_read_sync",
    }
    GicrPidr4 = "GICR_PIDR4" @ Redist + 0xFFD0 [4] {
        arch_access: RO,
        handler: H::IdRegs,
        fields: IdWord::FIELDS,
        summary: ID_SUMMARY,
        source: ID_SOURCE,
    }
    GicrPidr5 = "GICR_PIDR5" @ Redist + 0xFFD4 [4] {
        arch_access: RO,
        handler: H::IdRegs,
        fields: IdWord::FIELDS,
        summary: ID_SUMMARY,
        source: ID_SOURCE,
    }
    GicrPidr6 = "GICR_PIDR6" @ Redist + 0xFFD8 [4] {
        arch_access: RO,
        handler: H::IdRegs,
        fields: IdWord::FIELDS,
        summary: ID_SUMMARY,
        source: ID_SOURCE,
    }
    GicrPidr7 = "GICR_PIDR7" @ Redist + 0xFFDC [4] {
        arch_access: RO,
        handler: H::IdRegs,
        fields: IdWord::FIELDS,
        summary: ID_SUMMARY,
        source: ID_SOURCE,
    }
    GicrPidr0 = "GICR_PIDR0" @ Redist + 0xFFE0 [4] {
        arch_access: RO,
        handler: H::IdRegs,
        fields: IdWord::FIELDS,
        summary: ID_SUMMARY,
        source: ID_SOURCE,
    }
    GicrPidr1 = "GICR_PIDR1" @ Redist + 0xFFE4 [4] {
        arch_access: RO,
        handler: H::IdRegs,
        fields: IdWord::FIELDS,
        summary: ID_SUMMARY,
        source: ID_SOURCE,
    }
    GicrPidr2 = "GICR_PIDR2" @ Redist + 0xFFE8 [4] {
        arch_access: RO,
        handler: H::IdRegs,
        fields: GicdPidr2::FIELDS,
        reset: Reset::Value(0x3B),
        summary: ID_SUMMARY,
        source: ID_SOURCE,
    }
    GicrPidr3 = "GICR_PIDR3" @ Redist + 0xFFEC [4] {
        arch_access: RO,
        handler: H::IdRegs,
        fields: IdWord::FIELDS,
        summary: ID_SUMMARY,
        source: ID_SOURCE,
    }
    GicrCidr0 = "GICR_CIDR0" @ Redist + 0xFFF0 [4] {
        arch_access: RO,
        handler: H::IdRegs,
        fields: IdWord::FIELDS,
        summary: ID_SUMMARY,
        source: ID_SOURCE,
    }
    GicrCidr1 = "GICR_CIDR1" @ Redist + 0xFFF4 [4] {
        arch_access: RO,
        handler: H::IdRegs,
        fields: IdWord::FIELDS,
        summary: ID_SUMMARY,
        source: ID_SOURCE,
    }
    GicrCidr2 = "GICR_CIDR2" @ Redist + 0xFFF8 [4] {
        arch_access: RO,
        handler: H::IdRegs,
        fields: IdWord::FIELDS,
        summary: ID_SUMMARY,
        source: ID_SOURCE,
    }
    GicrCidr3 = "GICR_CIDR3" @ Redist + 0xFFFC [4] {
        arch_access: RO,
        handler: H::IdRegs,
        fields: IdWord::FIELDS,
        summary: ID_SUMMARY,
        source: ID_SOURCE,
    }
    // ---------------- redistributor, SGI_base (+0x10000) ----------------
    GicrIgroupr0 = "GICR_IGROUPR0" @ Redist + 0x1_0080 [4] {
        per_irq: Some(PerIrq::plain(1, 0, "1 = Group 1")),
        handler: H::Group,
        reset: Reset::Value(0xFFFF_FFFF),
        summary: "Group of this vCPU's SGIs and PPIs.",
        source: SRC_RD,
    }
    GicrIsenabler0 = "GICR_ISENABLER0" @ Redist + 0x1_0100 [4] {
        per_irq: Some(PerIrq::plain(1, 0, "1 = enabled")),
        handler: H::SetEnable,
        reset: Reset::Value(0x0000_FFFF),
        summary: "Set-enable for SGIs and PPIs (SGIs reset enabled).",
        source: SRC_RD,
    }
    GicrIcenabler0 = "GICR_ICENABLER0" @ Redist + 0x1_0180 [4] {
        per_irq: Some(PerIrq::plain(1, 0, "1 = enabled")),
        handler: H::ClearEnable,
        reset: Reset::Value(0x0000_FFFF),
        summary: "Clear-enable for SGIs and PPIs.",
        source: SRC_RD,
    }
    GicrIspendr0 = "GICR_ISPENDR0" @ Redist + 0x1_0200 [4] {
        per_irq: Some(PerIrq::plain(1, 0, "1 = pending")),
        handler: H::SetPending,
        summary: "Set-pending for SGIs and PPIs (HW vSGIs read the hardware pending state).",
        source: SRC_RD,
    }
    GicrIcpendr0 = "GICR_ICPENDR0" @ Redist + 0x1_0280 [4] {
        per_irq: Some(PerIrq::plain(1, 0, "1 = pending")),
        handler: H::ClearPending,
        summary: "Clear-pending for SGIs and PPIs; userspace: RAZ/WI.",
        source: SRC_RD,
    }
    GicrIsactiver0 = "GICR_ISACTIVER0" @ Redist + 0x1_0300 [4] {
        per_irq: Some(PerIrq::plain(1, 0, "1 = active")),
        handler: H::SetActive,
        summary: "Set-active for SGIs and PPIs (HW vSGIs have no active state).",
        source: SRC_RD,
    }
    GicrIcactiver0 = "GICR_ICACTIVER0" @ Redist + 0x1_0380 [4] {
        per_irq: Some(PerIrq::plain(1, 0, "1 = active")),
        handler: H::ClearActive,
        summary: "Clear-active for SGIs and PPIs.",
        source: SRC_RD,
    }
    GicrIpriorityr = "GICR_IPRIORITYR" @ Redist + 0x1_0400 [4; 32] {
        per_irq: Some(PerIrq::plain(8, 0, "priority byte (KVM keeps bits 7:3)")),
        widths: Widths::W8_32,
        handler: H::Priority,
        summary: "Priority of SGIs and PPIs, one byte each.",
        source: SRC_RD,
    }
    GicrIcfgr0 = "GICR_ICFGR0" @ Redist + 0x1_0C00 [4] {
        per_irq: Some(PerIrq::plain(2, 0, "bit 1: 1 = edge")),
        handler: H::Config,
        reset: Reset::Value(0xAAAA_AAAA),
        summary: "SGI trigger modes: always edge, not writable.",
        source: SRC_RD,
    }
    GicrIcfgr1 = "GICR_ICFGR1" @ Redist + 0x1_0C04 [4] {
        per_irq: Some(PerIrq::plain(2, 16, "bit 1: 1 = edge")),
        handler: H::Config,
        summary: "PPI trigger modes: level in KVM, not writable.",
        source: SRC_RD,
    }
    GicrIgrpmodr0 = "GICR_IGRPMODR0" @ Redist + 0x1_0D00 [4] {
        per_irq: Some(PerIrq::plain(1, 0, "group modifier")),
        handler: H::RazWi,
        summary: "Group modifier for SGIs and PPIs: RAZ/WI.",
        source: SRC_RD,
    }
    GicrNsacr = "GICR_NSACR" @ Redist + 0x1_0E00 [4] {
        per_irq: Some(PerIrq::plain(2, 0, "non-secure access")),
        handler: H::RazWi,
        summary: "Non-secure SGI access control: RAZ/WI.",
        source: SRC_RD,
    }
    GicrInmir0 = "GICR_INMIR0" @ Redist + 0x1_0F80 [4] {
        per_irq: Some(PerIrq::plain(1, 0, "1 = NMI")),
        summary: "NMI attribute of SGIs and PPIs (GICv3.3): not emulated.",
        source: SRC_ARCH_ONLY_RD,
    }
}

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

/// The bits `fields` define; the others are RES0 (or RAZ/WI) in the register.
pub const fn defined_bits(fields: &[FieldDesc]) -> u64 {
    let mut bits = 0;
    let mut i = 0;
    while i < fields.len() {
        bits |= fields[i].mask();
        i += 1;
    }
    bits
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
        // The GITS_* registers are not rows of CATALOGUE yet (vits::regs).
        Frame::Its => return None,
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
                Frame::Its => continue,
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

// The ITS and GICv4.1 registers (after the macros above, which it uses).
pub mod its;
