//! The ITS's register map as KVM emulates it, in the vocabulary of the
//! catalogue's ITS part ([`crate::catalogue::its`], where the offsets, fields
//! and `its_registers[]` table (`ITS_REGIONS`) are written once): the names
//! the ITS model and scenarios use, the field helpers of
//! `include/linux/irqchip/arm-gic-v3.h`, and KVM's sanitising.

use crate::catalogue::its::{
    GitsBaser, GitsCbaser, GitsCidr0, GitsCidr1, GitsCidr2, GitsCidr3, GitsCreadr, GitsCtlr,
    GitsCwriter, GitsIidr, GitsPidr0, GitsPidr1, GitsPidr2, GitsPidr4, GitsTranslater, GitsTyper,
};
pub use crate::catalogue::its::{ItsHandler, ItsRegion, Widths, ITS_FRAME_SIZE, ITS_REGIONS};

pub const GITS_CTLR: u32 = GitsCtlr::OFFSET;
pub const GITS_IIDR: u32 = GitsIidr::OFFSET;
pub const GITS_TYPER: u32 = GitsTyper::OFFSET;
pub const GITS_CBASER: u32 = GitsCbaser::OFFSET;
pub const GITS_CWRITER: u32 = GitsCwriter::OFFSET;
pub const GITS_CREADR: u32 = GitsCreadr::OFFSET;
pub const GITS_BASER: u32 = GitsBaser::OFFSET;
pub const GITS_IDREGS_BASE: u32 = GitsPidr4::OFFSET;
pub const GITS_PIDR4: u32 = GitsPidr4::OFFSET;
pub const GITS_PIDR0: u32 = GitsPidr0::OFFSET;
pub const GITS_PIDR1: u32 = GitsPidr1::OFFSET;
pub const GITS_PIDR2: u32 = GitsPidr2::OFFSET;
pub const GITS_CIDR0: u32 = GitsCidr0::OFFSET;
pub const GITS_CIDR1: u32 = GitsCidr1::OFFSET;
pub const GITS_CIDR2: u32 = GitsCidr2::OFFSET;
pub const GITS_CIDR3: u32 = GitsCidr3::OFFSET;
/// In the second 64 KiB frame.
pub const GITS_TRANSLATER: u32 = GitsTranslater::OFFSET;

/// `GITS_CTLR` fields.
pub mod ctlr {
    use crate::catalogue::its::GitsCtlr;
    pub const ENABLE: u32 = GitsCtlr::ENABLE.mask32();
    pub const QUIESCENT: u32 = GitsCtlr::QUIESCENT.mask32();
}

/// `GITS_IIDR`: revision [15:12] (KVM's table ABI revision), ProductID
/// [31:24] = `PRODUCT_ID_KVM` (0x4b), Implementer = `IMPLEMENTER_ARM` (0x43b).
pub mod iidr {
    use crate::catalogue::its::GitsIidr;
    use crate::vgic::{IMPLEMENTER_ARM, PRODUCT_ID_KVM};
    pub const REV_SHIFT: u32 = GitsIidr::REVISION.lsb as u32;
    pub const REV_MASK: u32 = GitsIidr::REVISION.mask32();
    pub const KVM_ARM: u32 = (GitsIidr::PRODUCT_ID.val(PRODUCT_ID_KVM)
        | GitsIidr::IMPLEMENTER.val(IMPLEMENTER_ARM)) as u32;
}

/// `GITS_TYPER` as `vgic_mmio_read_its_typer` builds it: PLPIS, ITT entry
/// size 8 (encoded 7 in [7:4]), 16 ID bits (15 in [12:8]), 16 device bits
/// (15 in [17:13]); PTA, CIL and the rest 0.
pub mod typer {
    use crate::catalogue::its::GitsTyper;
    pub const PLPIS: u64 = GitsTyper::PLPIS.mask();
    pub const ITT_ENTRY_SIZE_SHIFT: u32 = GitsTyper::ITT_ENTRY_SIZE.lsb as u32;
    pub const IDBITS_SHIFT: u32 = GitsTyper::IDBITS.lsb as u32;
    pub const DEVBITS_SHIFT: u32 = GitsTyper::DEVBITS.lsb as u32;
}

/// `VITS_TYPER_IDBITS`, `VITS_TYPER_DEVBITS`.
pub const VITS_IDBITS: u32 = 16;
pub const VITS_DEVBITS: u32 = 16;

/// Fields shared by `GITS_CBASER` and `GITS_BASER<n>`.
pub mod baser {
    use crate::catalogue::its::GitsBaser;
    pub const VALID: u64 = GitsBaser::VALID.mask();
    pub const INDIRECT: u64 = GitsBaser::INDIRECT.mask();
    pub const INNER_CACHE_SHIFT: u32 = GitsBaser::INNER_CACHE.lsb as u32;
    pub const TYPE_SHIFT: u32 = GitsBaser::TYPE.lsb as u32;
    pub const TYPE_MASK: u64 = GitsBaser::TYPE.mask();
    pub const OUTER_CACHE_SHIFT: u32 = GitsBaser::OUTER_CACHE.lsb as u32;
    pub const ENTRY_SIZE_SHIFT: u32 = GitsBaser::ENTRY_SIZE.lsb as u32;
    pub const ENTRY_SIZE_MASK: u64 = GitsBaser::ENTRY_SIZE.mask();
    pub const SHAREABILITY_SHIFT: u32 = GitsBaser::SHAREABILITY.lsb as u32;
    pub const PAGE_SIZE_SHIFT: u32 = GitsBaser::PAGE_SIZE.lsb as u32;
    pub const PAGE_SIZE_MASK: u64 = GitsBaser::PAGE_SIZE.mask();
    pub const PAGE_SIZE_64K: u64 = GitsBaser::PAGE_SIZE.val(2);
    pub const TYPE_DEVICE: u64 = 1;
    pub const TYPE_COLLECTION: u64 = 4;
    /// `GITS_BASER_RO_MASK`: entry size and type.
    pub const RO_MASK: u64 = ENTRY_SIZE_MASK | TYPE_MASK;
    /// `GIC_BASER_CACHE_*` and `GIC_BASER_*Shareable` values.
    pub const CACHE_NCNB: u64 = 0;
    pub const CACHE_NC: u64 = 1;
    pub const CACHE_RAWB: u64 = 3;
    pub const CACHE_SAME_AS_INNER: u64 = 0;
    pub const INNER_SHAREABLE: u64 = 1;
    pub const OUTER_SHAREABLE: u64 = 2;
}

/// `GITS_BASER_NR_PAGES`: the table's size in 64 KiB pages.
pub fn baser_nr_pages(reg: u64) -> u64 {
    GitsBaser::SIZE.get(reg) + 1
}

/// `GITS_BASER_ADDR_48_to_52`: bits [47:16], and [15:12] as PA[51:48].
pub fn baser_address(reg: u64) -> u64 {
    (reg & 0x0000_ffff_ffff_0000) | ((reg & 0xf000) << 36)
}

/// `GITS_CBASER_ADDRESS`: bits [51:12].
pub fn cbaser_address(reg: u64) -> u64 {
    reg & GitsCbaser::PHYSICAL_ADDRESS.mask()
}

/// `ITS_CMD_BUFFER_SIZE`: (Size + 1) 4 KiB pages.
pub fn cmd_buffer_size(cbaser: u64) -> u64 {
    (GitsCbaser::SIZE.get(cbaser) + 1) << 12
}

/// `ITS_CMD_OFFSET`: bits [19:5] of CWRITER/CREADR.
pub fn cmd_offset(reg: u64) -> u64 {
    reg & GitsCwriter::CMD_OFFSET.mask()
}

/// `vgic_sanitise_field` with KVM's three sanitisers
/// (`vgic-mmio-v3.c`): Outer Shareable becomes Inner Shareable; inner
/// non-cacheable (nCnB, nC) becomes RaWb; outer anything but
/// SameAsInner/nC becomes SameAsInner.
pub fn sanitise_cacheability(reg: u64) -> u64 {
    use baser::*;
    let field = |r: u64, shift: u32, mask: u64| (r >> shift) & mask;
    let set = |r: u64, shift: u32, mask: u64, v: u64| (r & !(mask << shift)) | (v << shift);
    let mut r = reg;
    if field(r, SHAREABILITY_SHIFT, 3) == OUTER_SHAREABLE {
        r = set(r, SHAREABILITY_SHIFT, 3, INNER_SHAREABLE);
    }
    let inner = field(r, INNER_CACHE_SHIFT, 7);
    if inner == CACHE_NCNB || inner == CACHE_NC {
        r = set(r, INNER_CACHE_SHIFT, 7, CACHE_RAWB);
    }
    let outer = field(r, OUTER_CACHE_SHIFT, 7);
    if outer != CACHE_SAME_AS_INNER && outer != CACHE_NC {
        r = set(r, OUTER_CACHE_SHIFT, 7, CACHE_SAME_AS_INNER);
    }
    r
}

/// `INITIAL_BASER_VALUE`: RaWb inner, SameAsInner outer, Inner Shareable, 64 KiB pages.
pub const INITIAL_BASER: u64 = baser::CACHE_RAWB << baser::INNER_CACHE_SHIFT
    | baser::INNER_SHAREABLE << baser::SHAREABILITY_SHIFT
    | baser::PAGE_SIZE_64K;

/// `INITIAL_PROPBASER_VALUE` (`vgic_its_create` writes it to the
/// distributor's PROPBASER): RaWb, Inner Shareable, IDbits 0 (so every
/// MAPTI is out of range until the guest programs GICR_PROPBASER).
pub const INITIAL_PROPBASER: u64 = 3 << 7 | 1 << 10;

/// `vgic_find_mmio_region`: the region holding `offset`, if any.
pub fn find_region(offset: u32) -> Option<&'static ItsRegion> {
    ITS_REGIONS
        .iter()
        .find(|r| offset >= r.offset && offset - r.offset < r.len)
}

/// A register's name for messages (`GITS_BASER3`, `GITS_PIDR2`, or the offset).
pub fn name(offset: u32) -> String {
    match find_region(offset) {
        Some(r) if r.handler == ItsHandler::Baser => {
            format!("GITS_BASER{}", (offset - GITS_BASER) / 8)
        }
        Some(r) if r.handler == ItsHandler::IdRegs => match offset {
            GITS_PIDR4 => "GITS_PIDR4".into(),
            GITS_PIDR0..GITS_CIDR0 if offset.is_multiple_of(4) => {
                format!("GITS_PIDR{}", (offset - GITS_PIDR0) / 4)
            }
            GITS_CIDR0..=GITS_CIDR3 if offset.is_multiple_of(4) => {
                format!("GITS_CIDR{}", (offset - GITS_CIDR0) / 4)
            }
            _ => format!("GITS ID register @{offset:#x}"),
        },
        Some(r) => r.name.to_string(),
        None if offset == GITS_TRANSLATER => "GITS_TRANSLATER".into(),
        None => format!("ITS offset {offset:#x}"),
    }
}

/// `GITS_PIDR*`/`GITS_CIDR*` as `vgic_mmio_read_its_idregs` returns them.
pub fn idreg(offset: u32) -> u32 {
    match offset {
        GITS_PIDR0 => 0x92,
        GITS_PIDR1 => 0xb4,
        GITS_PIDR2 => 0x3b, // GIC_PIDR2_ARCH_GICv3 | 0x0b
        GITS_PIDR4 => 0x40,
        GITS_CIDR0 => 0x0d,
        GITS_CIDR1 => 0xf0,
        GITS_CIDR2 => 0x05,
        GITS_CIDR3 => 0xb1,
        _ => 0,
    }
}

/// `extract_bytes`: `len` bytes of `reg` from byte `offset & 7`.
pub fn extract_bytes(reg: u64, offset: u32, len: u32) -> u64 {
    let shifted = reg >> ((offset & 7) * 8);
    if len >= 8 {
        shifted
    } else {
        shifted & ((1u64 << (len * 8)) - 1)
    }
}

/// `update_64bit_reg`: replace `len` bytes of `reg` at byte `offset & 7`.
pub fn update_64bit_reg(reg: u64, offset: u32, len: u32, val: u64) -> u64 {
    let lower = (offset & 7) * 8;
    if len >= 8 {
        return val;
    }
    let mask = ((1u64 << (len * 8)) - 1) << lower;
    (reg & !mask) | ((val << lower) & mask)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_are_sorted_and_disjoint() {
        for w in ITS_REGIONS.windows(2) {
            assert!(
                w[0].offset + w[0].len <= w[1].offset,
                "{} / {}",
                w[0].name,
                w[1].name
            );
        }
        assert!(find_region(GITS_TRANSLATER).is_none());
        assert_eq!(find_region(0x138).unwrap().handler, ItsHandler::Baser);
        assert!(find_region(0x140).is_none());
        assert_eq!(name(0x118), "GITS_BASER3");
    }

    #[test]
    fn field_helpers_follow_the_kernel_macros() {
        assert_eq!(
            baser_address(0x0000_1234_5678_0000 | 0x3000),
            0x0003_1234_5678_0000
        );
        assert_eq!(cmd_buffer_size(0), 4096);
        assert_eq!(cmd_buffer_size(0xff), 1 << 20);
        assert_eq!(cmd_offset(0xffff_ffff), 0xf_ffe0);
        assert_eq!(extract_bytes(0x1122_3344_5566_7788, 4, 4), 0x1122_3344);
        assert_eq!(
            update_64bit_reg(0x1122_3344_5566_7788, 4, 4, 0xaabb_ccdd),
            0xaabb_ccdd_5566_7788
        );
        assert_eq!(
            update_64bit_reg(0x1122_3344_5566_7788, 0, 4, 0xaabb_ccdd),
            0x1122_3344_aabb_ccdd
        );
    }

    #[test]
    fn sanitising_fixes_what_kvm_fixes() {
        use baser::*;
        let outer_share = OUTER_SHAREABLE << SHAREABILITY_SHIFT;
        assert_eq!(
            sanitise_cacheability(outer_share) >> SHAREABILITY_SHIFT & 3,
            INNER_SHAREABLE
        );
        // inner nC -> RaWb; outer RaWb (3) -> SameAsInner
        let r = sanitise_cacheability(CACHE_NC << INNER_CACHE_SHIFT | 3 << OUTER_CACHE_SHIFT);
        assert_eq!(r >> INNER_CACHE_SHIFT & 7, CACHE_RAWB);
        assert_eq!(r >> OUTER_CACHE_SHIFT & 7, CACHE_SAME_AS_INNER);
        // inner WaWb (5) and outer nC stay
        let r = sanitise_cacheability(5 << INNER_CACHE_SHIFT | CACHE_NC << OUTER_CACHE_SHIFT);
        assert_eq!(r, 5 << INNER_CACHE_SHIFT | CACHE_NC << OUTER_CACHE_SHIFT);
    }
}
