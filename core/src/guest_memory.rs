//! Guest RAM as KVM's emulated devices see it: sparse, bounded, and only
//! where the VMM registered memory.
//!
//! KVM's ITS reads its command queue and writes and reads its tables (device
//! table, ITTs, collection table) in guest memory, and the redistributors
//! read the LPI property and pending tables there, all through
//! `kvm_read_guest`/`kvm_write_guest` (`virt/kvm/kvm_main.c`). Those fail
//! with `-EFAULT` when a byte lies outside every memslot the VMM created with
//! `KVM_SET_USER_MEMORY_REGION`, and `kvm_is_visible_gfn` answers whether a
//! page is inside one. This is why a restore whose guest memory is not loaded
//! yet fails with "Bad address".
//!
//! The model keeps the memslots as [`Region`]s and materialises 4 KiB pages
//! only when written (an untouched page of a region reads as zeros), up to a
//! page limit so that hostile input cannot make it grow without bound.
//! [`GuestMemoryState`] is its plain saved state: the regions, the limit and
//! every page that holds a non-zero byte, in hex.
//!
//! ```
//! use gicx_core::guest_memory::{GuestMemory, MemError};
//! let mut mem = GuestMemory::new(16);
//! mem.add_region(0x4000_0000, 0x10_0000).unwrap();
//! mem.write(0x4000_0ff8, &0x1122_3344_5566_7788u64.to_le_bytes()).unwrap();
//! assert_eq!(mem.read_u64(0x4000_0ff8).unwrap(), 0x1122_3344_5566_7788);
//! assert_eq!(mem.read_u64(0x4000_1000).unwrap(), 0); // never written: zeros
//! assert!(matches!(mem.read_u64(0x3fff_fffc), Err(MemError::Unmapped { .. })));
//! ```

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::errno::Errno;

/// The page size of the model (the host's `PAGE_SIZE` on the common 4 KiB
/// arm64 configuration; `kvm_is_visible_gfn` works on these frames).
pub const PAGE_SIZE: u64 = 4096;
/// KVM accepts at most `KVM_USER_MEM_SLOTS` (32 764 on arm64) memslots; the
/// model refuses more regions than this.
pub const MAX_REGIONS: usize = 512;
/// The largest page limit a [`GuestMemory`] accepts (1 GiB of written pages).
pub const MAX_PAGE_LIMIT: usize = 1 << 18;
/// Version of [`GuestMemoryState`].
pub const GUEST_MEMORY_STATE_VERSION: u32 = 1;

/// One memslot: `[base, base + size)` of guest physical addresses.
#[derive(Clone, Copy, Debug, PartialEq, Hash, Eq, Serialize, Deserialize)]
pub struct Region {
    pub base: u64,
    pub size: u64,
}

impl Region {
    fn end(self) -> u64 {
        self.base + self.size
    }
    fn contains(self, gpa: u64) -> bool {
        gpa >= self.base && gpa < self.end()
    }
}

/// At most this many regions in a scenario's `vm.memory` (each a memslot the
/// VMM registers; KVM allows many more, scenarios need a few).
pub const MAX_LAYOUT_REGIONS: usize = 8;

/// The guest RAM a scenario's VM has (`vm.memory`): the memslots the VMM
/// creates with `KVM_SET_USER_MEMORY_REGION` before anything else. A small
/// `Copy` value so that it can live in [`crate::vgic::VmConfig`]; checked
/// like [`GuestMemory::add_region`] when built ([`MemoryLayout::new`]).
///
/// ```
/// use gicx_core::guest_memory::{MemoryLayout, Region};
/// let l = MemoryLayout::new(&[Region { base: 0x5000_0000, size: 0x10_0000 }]).unwrap();
/// assert!(l.contains(0x5000_0ff8, 8) && !l.contains(0x500f_fffc, 8));
/// assert!(MemoryLayout::new(&[Region { base: 0x5000_0800, size: 0x1000 }]).is_err());
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct MemoryLayout {
    regions: [(u64, u64); MAX_LAYOUT_REGIONS],
    len: u8,
}

impl MemoryLayout {
    /// The layout of `regions`, or why KVM (or the model) refuses one of them:
    /// `(index, reason)`.
    pub fn new(regions: &[Region]) -> Result<MemoryLayout, (usize, String)> {
        if regions.len() > MAX_LAYOUT_REGIONS {
            return Err((
                MAX_LAYOUT_REGIONS,
                format!(
                    "{} regions; a scenario may give at most {MAX_LAYOUT_REGIONS}",
                    regions.len()
                ),
            ));
        }
        let mut check = GuestMemory::new(0);
        let mut l = MemoryLayout::default();
        for (i, r) in regions.iter().enumerate() {
            check
                .add_region(r.base, r.size)
                .map_err(|e| (i, e.to_string()))?;
            l.regions[i] = (r.base, r.size);
            l.len += 1;
        }
        Ok(l)
    }

    /// The regions, in the order given.
    pub fn regions(&self) -> impl Iterator<Item = Region> + '_ {
        self.regions[..self.len as usize]
            .iter()
            .map(|&(base, size)| Region { base, size })
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether every byte of `[gpa, gpa + len)` is inside the regions.
    pub fn contains(&self, gpa: u64, len: u64) -> bool {
        let mut m = GuestMemory::new(0);
        for r in self.regions() {
            let _ = m.add_region(r.base, r.size);
        }
        m.mapped(gpa, len)
    }

    /// Guest memory with these regions, nothing written yet, materialising at
    /// most `page_limit` pages.
    pub fn memory(&self, page_limit: usize) -> GuestMemory {
        let mut m = GuestMemory::new(page_limit);
        for r in self.regions() {
            // Checked by `new`.
            let _ = m.add_region(r.base, r.size);
        }
        m
    }
}

impl Serialize for MemoryLayout {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = s.serialize_seq(Some(self.len as usize))?;
        for r in self.regions() {
            seq.serialize_element(&RegionSpec {
                base: format!("{:#x}", r.base),
                size: format!("{:#x}", r.size),
            })?;
        }
        seq.end()
    }
}

impl<'de> Deserialize<'de> for MemoryLayout {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let specs = Vec::<RegionNumbers>::deserialize(d)?;
        let regions: Vec<Region> = specs
            .iter()
            .map(|r| Region {
                base: r.base.0,
                size: r.size.0,
            })
            .collect();
        MemoryLayout::new(&regions).map_err(|(i, why)| D::Error::custom(format!("[{i}]: {why}")))
    }
}

#[derive(Serialize)]
struct RegionSpec {
    base: String,
    size: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RegionNumbers {
    base: crate::scenario::Num,
    size: crate::scenario::Num,
}

/// Why a guest memory access or change failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MemError {
    /// `kvm_read_guest`/`kvm_write_guest` on a byte outside every memslot: -EFAULT.
    #[error("guest address {gpa:#x} (+{len} bytes) is outside every memory region the VM mapped: KVM fails the access with -EFAULT")]
    Unmapped { gpa: u64, len: u64 },
    /// The model's bound on materialised pages.
    #[error(
        "writing at {gpa:#x} needs more than the {limit} guest pages this model keeps (-ENOMEM)"
    )]
    Limit { gpa: u64, limit: usize },
    /// A region that cannot be added.
    #[error("memory region {base:#x}+{size:#x}: {reason}")]
    BadRegion {
        base: u64,
        size: u64,
        reason: &'static str,
    },
}

impl MemError {
    /// The errno KVM returns for this failure.
    pub fn errno(&self) -> Errno {
        match self {
            MemError::Unmapped { .. } => Errno::EFAULT,
            MemError::Limit { .. } => Errno::ENOMEM,
            MemError::BadRegion { .. } => Errno::EINVAL,
        }
    }
}

/// Why a [`GuestMemoryState`] cannot be loaded; names the field.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("guest memory state, {place}: {reason}")]
pub struct GuestMemoryStateError {
    pub place: String,
    pub reason: String,
}

/// Sparse, bounded guest RAM.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct GuestMemory {
    regions: Vec<Region>,
    /// Page frame number → contents. Only pages written at least once.
    pages: BTreeMap<u64, Box<[u8]>>,
    limit: usize,
}

/// The plain saved state of [`GuestMemory`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuestMemoryState {
    pub version: u32,
    pub regions: Vec<Region>,
    /// The most pages the model materialises.
    pub page_limit: usize,
    /// Every page holding a non-zero byte: its guest physical address and its
    /// 4096 bytes as 8192 lowercase hex digits.
    pub pages: Vec<PageState>,
}

/// One saved page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageState {
    pub gpa: u64,
    pub hex: String,
}

impl GuestMemory {
    /// Empty guest memory (no region) that materialises at most `page_limit`
    /// pages (clamped to [`MAX_PAGE_LIMIT`]).
    pub fn new(page_limit: usize) -> GuestMemory {
        GuestMemory {
            regions: Vec::new(),
            pages: BTreeMap::new(),
            limit: page_limit.min(MAX_PAGE_LIMIT),
        }
    }

    /// Add a memslot. Like `KVM_SET_USER_MEMORY_REGION`, the base and size
    /// must be page aligned, the size non-zero, and regions may not overlap
    /// (`-EINVAL`, `-EEXIST` in KVM; both are refused here with the reason).
    pub fn add_region(&mut self, base: u64, size: u64) -> Result<(), MemError> {
        let bad = |reason| MemError::BadRegion { base, size, reason };
        if size == 0 {
            return Err(bad("the size is zero"));
        }
        if !base.is_multiple_of(PAGE_SIZE) || !size.is_multiple_of(PAGE_SIZE) {
            return Err(bad("base and size must be multiples of 4 KiB"));
        }
        let Some(end) = base.checked_add(size) else {
            return Err(bad("the region wraps past the end of the address space"));
        };
        if end > 1 << 52 {
            return Err(bad(
                "the region ends beyond 52-bit guest physical addresses",
            ));
        }
        if self.regions.iter().any(|r| base < r.end() && r.base < end) {
            return Err(bad("it overlaps a region already mapped"));
        }
        if self.regions.len() >= MAX_REGIONS {
            return Err(bad("too many regions (the model keeps at most 512)"));
        }
        self.regions.push(Region { base, size });
        self.regions.sort_by_key(|r| r.base);
        Ok(())
    }

    /// The memslots, sorted by base.
    pub fn regions(&self) -> &[Region] {
        &self.regions
    }

    /// The page limit.
    pub fn page_limit(&self) -> usize {
        self.limit
    }

    /// How many pages are materialised.
    pub fn pages_in_use(&self) -> usize {
        self.pages.len()
    }

    /// `kvm_is_visible_gfn(gpa >> PAGE_SHIFT)`: whether the page holding
    /// `gpa` is inside a memslot.
    pub fn is_visible(&self, gpa: u64) -> bool {
        let page = gpa & !(PAGE_SIZE - 1);
        self.regions.iter().any(|r| r.contains(page))
    }

    /// Whether every byte of `[gpa, gpa + len)` is mapped.
    fn mapped(&self, gpa: u64, len: u64) -> bool {
        let Some(last) = gpa.checked_add(len.saturating_sub(1)) else {
            return false;
        };
        let mut at = gpa;
        loop {
            let Some(r) = self.regions.iter().find(|r| r.contains(at)) else {
                return false;
            };
            if last < r.end() {
                return true;
            }
            at = r.end();
        }
    }

    /// Whether the page holding `gpa` was never written (reads as zeros).
    /// The tables' scans use it to step over untouched memory in O(1).
    pub fn page_is_untouched(&self, gpa: u64) -> bool {
        !self.pages.contains_key(&(gpa / PAGE_SIZE))
    }

    /// `kvm_read_guest`: fill `buf` from `gpa`, or -EFAULT if any byte is unmapped.
    pub fn read(&self, gpa: u64, buf: &mut [u8]) -> Result<(), MemError> {
        let len = buf.len() as u64;
        if !self.mapped(gpa, len) {
            return Err(MemError::Unmapped { gpa, len });
        }
        // One page at a time.
        let mut done = 0usize;
        while done < buf.len() {
            let a = gpa + done as u64;
            let in_page = (a % PAGE_SIZE) as usize;
            let n = (PAGE_SIZE as usize - in_page).min(buf.len() - done);
            let dst = &mut buf[done..done + n];
            match self.pages.get(&(a / PAGE_SIZE)) {
                Some(p) => dst.copy_from_slice(&p[in_page..in_page + n]),
                None => dst.fill(0),
            }
            done += n;
        }
        Ok(())
    }

    /// `kvm_write_guest`: copy `data` to `gpa`, or -EFAULT if any byte is
    /// unmapped (nothing is written then).
    pub fn write(&mut self, gpa: u64, data: &[u8]) -> Result<(), MemError> {
        let len = data.len() as u64;
        if !self.mapped(gpa, len) {
            return Err(MemError::Unmapped { gpa, len });
        }
        // Count the pages this write would add before touching any.
        let first = gpa / PAGE_SIZE;
        let last = (gpa + len.saturating_sub(1)) / PAGE_SIZE;
        let new = (first..=last)
            .filter(|p| !self.pages.contains_key(p))
            .count();
        if !data.is_empty() && self.pages.len() + new > self.limit {
            return Err(MemError::Limit {
                gpa,
                limit: self.limit,
            });
        }
        let mut done = 0usize;
        while done < data.len() {
            let a = gpa + done as u64;
            let in_page = (a % PAGE_SIZE) as usize;
            let n = (PAGE_SIZE as usize - in_page).min(data.len() - done);
            let page = self
                .pages
                .entry(a / PAGE_SIZE)
                .or_insert_with(|| vec![0u8; PAGE_SIZE as usize].into_boxed_slice());
            page[in_page..in_page + n].copy_from_slice(&data[done..done + n]);
            done += n;
        }
        Ok(())
    }

    /// A little-endian u64 at `gpa`.
    pub fn read_u64(&self, gpa: u64) -> Result<u64, MemError> {
        let mut b = [0u8; 8];
        self.read(gpa, &mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    /// Write a little-endian u64 at `gpa`.
    pub fn write_u64(&mut self, gpa: u64, value: u64) -> Result<(), MemError> {
        self.write(gpa, &value.to_le_bytes())
    }

    /// The saved state: regions, limit and every page holding a non-zero byte.
    pub fn state(&self) -> GuestMemoryState {
        GuestMemoryState {
            version: GUEST_MEMORY_STATE_VERSION,
            regions: self.regions.clone(),
            page_limit: self.limit,
            pages: self
                .pages
                .iter()
                .filter(|(_, p)| p.iter().any(|&b| b != 0))
                .map(|(pfn, p)| {
                    let mut hex = String::with_capacity(p.len() * 2);
                    for b in p.iter() {
                        let _ = write!(hex, "{b:02x}");
                    }
                    PageState {
                        gpa: pfn * PAGE_SIZE,
                        hex,
                    }
                })
                .collect(),
        }
    }

    /// Load a saved state, checking every field.
    pub fn from_state(state: &GuestMemoryState) -> Result<GuestMemory, GuestMemoryStateError> {
        let err = |place: String, reason: String| GuestMemoryStateError { place, reason };
        if state.version != GUEST_MEMORY_STATE_VERSION {
            return Err(err(
                "version".into(),
                format!(
                    "{} is not a version this gicx reads (expected {GUEST_MEMORY_STATE_VERSION})",
                    state.version
                ),
            ));
        }
        if state.page_limit > MAX_PAGE_LIMIT {
            return Err(err(
                "page_limit".into(),
                format!(
                    "{} exceeds the largest limit, {MAX_PAGE_LIMIT}",
                    state.page_limit
                ),
            ));
        }
        if state.pages.len() > state.page_limit {
            return Err(err(
                "pages".into(),
                format!(
                    "{} pages exceed the page limit {}",
                    state.pages.len(),
                    state.page_limit
                ),
            ));
        }
        let mut mem = GuestMemory::new(state.page_limit);
        for (i, r) in state.regions.iter().enumerate() {
            mem.add_region(r.base, r.size)
                .map_err(|e| err(format!("regions[{i}]"), e.to_string()))?;
        }
        for (i, p) in state.pages.iter().enumerate() {
            let place = format!("pages[{i}]");
            if !p.gpa.is_multiple_of(PAGE_SIZE) {
                return Err(err(place, format!("gpa {:#x} is not page aligned", p.gpa)));
            }
            if !mem.mapped(p.gpa, PAGE_SIZE) {
                return Err(err(
                    place,
                    format!("gpa {:#x} is outside every region", p.gpa),
                ));
            }
            if mem.pages.contains_key(&(p.gpa / PAGE_SIZE)) {
                return Err(err(place, format!("page {:#x} appears twice", p.gpa)));
            }
            let bytes = decode_hex(&p.hex).map_err(|r| err(format!("{place}.hex"), r))?;
            mem.pages
                .insert(p.gpa / PAGE_SIZE, bytes.into_boxed_slice());
        }
        Ok(mem)
    }
}

fn decode_hex(s: &str) -> Result<Vec<u8>, String> {
    if s.len() != 2 * PAGE_SIZE as usize {
        return Err(format!(
            "{} hex digits, expected {} (one page)",
            s.len(),
            2 * PAGE_SIZE
        ));
    }
    s.as_bytes()
        .chunks(2)
        .enumerate()
        .map(|(i, pair)| {
            let digit = |c: u8| match c {
                b'0'..=b'9' => Ok(c - b'0'),
                b'a'..=b'f' => Ok(c - b'a' + 10),
                b'A'..=b'F' => Ok(c - b'A' + 10),
                _ => Err(format!("byte {i}: {:?} is not a hex digit", c as char)),
            };
            Ok(digit(pair[0])? << 4 | digit(pair[1])?)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mem() -> GuestMemory {
        let mut m = GuestMemory::new(8);
        m.add_region(0x1000, 0x2000).unwrap();
        m.add_region(0x3000, 0x1000).unwrap(); // adjacent: accesses may span both
        m.add_region(0x10_0000, 0x1000).unwrap();
        m
    }

    #[test]
    fn reads_outside_regions_fault_like_kvm_read_guest() {
        let m = mem();
        let mut b = [0u8; 8];
        assert_eq!(
            m.read(0xffc, &mut b),
            Err(MemError::Unmapped { gpa: 0xffc, len: 8 })
        );
        assert_eq!(m.read(0xffc, &mut b).unwrap_err().errno(), Errno::EFAULT);
        // Spanning two adjacent regions is fine; into a hole is not.
        assert!(m.read(0x2ffc, &mut b).is_ok());
        assert!(m.read(0x3ffc, &mut b).is_err());
        assert!(m.read(u64::MAX - 3, &mut b).is_err());
    }

    #[test]
    fn writes_outside_regions_fault_and_change_nothing() {
        let mut m = mem();
        assert!(m.write(0x3ffc, &[1; 8]).is_err());
        assert_eq!(m.pages_in_use(), 0);
        assert_eq!(m.read_u64(0x3ff8).unwrap(), 0);
    }

    #[test]
    fn visibility_is_per_page() {
        let m = mem();
        assert!(m.is_visible(0x1000));
        assert!(m.is_visible(0x3fff));
        assert!(!m.is_visible(0x4000));
        assert!(!m.is_visible(0xfff));
    }

    #[test]
    fn the_page_limit_bounds_growth() {
        let mut m = GuestMemory::new(2);
        m.add_region(0, 0x10_0000).unwrap();
        m.write(0, &[1]).unwrap();
        m.write(0x1000, &[1]).unwrap();
        let e = m.write(0x2000, &[1]).unwrap_err();
        assert_eq!(
            e,
            MemError::Limit {
                gpa: 0x2000,
                limit: 2
            }
        );
        assert_eq!(e.errno(), Errno::ENOMEM);
        // Rewriting a page already held needs no new page.
        m.write(0x10, &[2; 16]).unwrap();
        assert_eq!(m.pages_in_use(), 2);
    }

    #[test]
    fn bad_regions_are_refused_with_the_reason() {
        let mut m = mem();
        for (base, size, reason) in [
            (0x1800, 0x1000, "multiples of 4 KiB"),
            (0x2000, 0x1000, "overlaps"),
            (0x20_0000, 0, "zero"),
            (u64::MAX - 0xfff, 0x2000, "wraps"),
            (1 << 52, 0x1000, "52-bit"),
        ] {
            let e = m.add_region(base, size).unwrap_err().to_string();
            assert!(e.contains(reason), "{e}");
        }
    }

    #[test]
    fn state_round_trips_and_keeps_only_non_zero_pages() {
        let mut m = mem();
        m.write_u64(0x1ff8, 0xdead_beef_0000_0001).unwrap();
        m.write(0x10_0000, &[0; 8]).unwrap(); // materialised but zero: not saved
        let s = m.state();
        assert_eq!(s.pages.len(), 1);
        assert_eq!(s.pages[0].gpa, 0x1000);
        let json = serde_json::to_string(&s).unwrap();
        let back: GuestMemoryState = serde_json::from_str(&json).unwrap();
        let m2 = GuestMemory::from_state(&back).unwrap();
        assert_eq!(m2.read_u64(0x1ff8).unwrap(), 0xdead_beef_0000_0001);
        assert_eq!(m2.state(), s);
    }

    #[test]
    fn hostile_states_are_refused_naming_the_field() {
        let mut m = mem();
        m.write(0x1000, &[7]).unwrap();
        let good = m.state();
        let mut s = good.clone();
        s.version = 9;
        assert!(GuestMemory::from_state(&s)
            .unwrap_err()
            .to_string()
            .contains("version"));
        let mut s = good.clone();
        s.pages[0].gpa = 0x9000;
        let e = GuestMemory::from_state(&s).unwrap_err();
        assert_eq!(e.place, "pages[0]");
        let mut s = good.clone();
        s.pages[0].hex.truncate(10);
        assert_eq!(
            GuestMemory::from_state(&s).unwrap_err().place,
            "pages[0].hex"
        );
        let mut s = good.clone();
        s.pages[0].hex.replace_range(0..1, "g");
        assert!(GuestMemory::from_state(&s)
            .unwrap_err()
            .reason
            .contains("hex digit"));
        let mut s = good.clone();
        s.pages.push(s.pages[0].clone());
        assert!(GuestMemory::from_state(&s)
            .unwrap_err()
            .reason
            .contains("twice"));
        let mut s = good;
        s.page_limit = MAX_PAGE_LIMIT + 1;
        assert_eq!(GuestMemory::from_state(&s).unwrap_err().place, "page_limit");
    }
}
