//! `KVM_DEV_ARM_ITS_SAVE_TABLES` and `KVM_DEV_ARM_ITS_RESTORE_TABLES` at
//! ITS table ABI revision 0 (`vgic_its_save_tables_v0`,
//! `vgic_its_restore_tables_v0` in vgic-its.c;
//! `Documentation/virt/kvm/devices/arm-vgic-its.rst`), bit for bit.
//!
//! Entries are 8 bytes, little endian (`KVM_ITS_*` in vgic.h):
//! - DTE: Valid [63], next device-ID offset [62:49] (0: last), the ITT
//!   address shifted right by 8 in [48:5], event-ID bits - 1 in [4:0]; at
//!   `BASER0 + ID * 8` (flat) or through a level-1 entry (Valid [63], level-2 page [51:16]);
//! - ITE: next event-ID offset [63:48] (0: last), LPI [47:16], ICID [15:0];
//!   at `ITT + event * 8`; an LPI of 0 is an empty entry;
//! - CTE: Valid [63], vCPU number [47:16] (all ones: not mapped), ICID
//!   [15:0]; one after another from BASER1, ended by an invalid entry.
//!
//! A restore walks the tables as `scan_its_table` does, following next
//! offsets, so it cannot loop; its length is bounded by the tables' sizes
//! (device IDs below 65536, collections by their IDs). Pages of guest memory
//! never written hold only empty entries and are stepped over at once; what
//! remains is bounded by [`ENTRY_BUDGET`] so a hostile table cannot make the
//! model run for hours where the kernel would.
//!
//! ```
//! use gicx_core::vits::tables::{dte, ite, cte, Dte, Ite, Cte};
//! let d = Dte { next: 2, itt_addr: 0x4030_0000, eventid_bits: 4 };
//! assert_eq!(dte::decode(dte::encode(&d)), Some(d));
//! assert_eq!(ite::encode(&Ite { next: 1, intid: 8200, icid: 3 }), 0x0001_0000_2008_0003);
//! assert_eq!(cte::encode(&Cte { target: None, icid: 1 }), 0x8000_ffff_ffff_0001);
//! ```

use super::{regs, rules, Bus, Device, Its, ItsError, LPI_OFFSET};
use crate::errno::Errno;
use crate::guest_memory::PAGE_SIZE;
use regs::baser;
use std::collections::BTreeMap;

/// `ABI_0_ESZ`: every entry is 8 bytes.
pub const ESZ: u64 = 8;
/// `VITS_DTE_MAX_DEVID_OFFSET`, `VITS_ITE_MAX_EVENTID_OFFSET`.
pub const DTE_MAX_NEXT: u32 = (1 << 14) - 1;
pub const ITE_MAX_NEXT: u32 = (1 << 16) - 1;
/// The most entries (or untouched pages) one restore reads: the model's bound.
pub const ENTRY_BUDGET: u64 = 1 << 20;

/// A device table entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dte {
    pub next: u32,
    pub itt_addr: u64,
    pub eventid_bits: u32,
}

/// An interrupt translation entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ite {
    pub next: u32,
    pub intid: u32,
    pub icid: u16,
}

/// A collection table entry (`target` None: `COLLECTION_NOT_MAPPED`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cte {
    pub target: Option<u32>,
    pub icid: u16,
}

/// `vgic_its_save_dte` / `vgic_its_restore_dte` encodings.
pub mod dte {
    use super::Dte;
    pub const VALID: u64 = 1 << 63;
    pub const NEXT_SHIFT: u32 = 49;
    pub const NEXT_MASK: u64 = 0x3fff << NEXT_SHIFT;
    pub const ITT_SHIFT: u32 = 5;
    pub const ITT_MASK: u64 = ((1u64 << 44) - 1) << ITT_SHIFT;
    pub const SIZE_MASK: u64 = 0x1f;

    pub fn encode(d: &Dte) -> u64 {
        VALID
            | (d.next as u64) << NEXT_SHIFT
            | ((d.itt_addr >> 8) << ITT_SHIFT) & ITT_MASK
            | (d.eventid_bits.wrapping_sub(1) as u64 & SIZE_MASK)
    }

    /// `None` for an invalid entry.
    pub fn decode(e: u64) -> Option<Dte> {
        (e & VALID != 0).then(|| Dte {
            next: ((e & NEXT_MASK) >> NEXT_SHIFT) as u32,
            itt_addr: ((e & ITT_MASK) >> ITT_SHIFT) << 8,
            eventid_bits: (e & SIZE_MASK) as u32 + 1,
        })
    }
}

/// `vgic_its_save_ite` / `vgic_its_restore_ite` encodings.
pub mod ite {
    use super::Ite;
    pub const NEXT_SHIFT: u32 = 48;
    pub const PINTID_SHIFT: u32 = 16;
    pub const PINTID_MASK: u64 = 0xffff_ffff << PINTID_SHIFT;

    pub fn encode(i: &Ite) -> u64 {
        (i.next as u64) << NEXT_SHIFT | (i.intid as u64) << PINTID_SHIFT | i.icid as u64
    }

    /// `None` for an empty entry (LPI 0).
    pub fn decode(e: u64) -> Option<Ite> {
        let intid = ((e & PINTID_MASK) >> PINTID_SHIFT) as u32;
        (intid != 0).then_some(Ite {
            next: (e >> NEXT_SHIFT) as u32,
            intid,
            icid: e as u16,
        })
    }
}

/// `vgic_its_save_cte` / `vgic_its_restore_cte` encodings.
pub mod cte {
    use super::Cte;
    pub const VALID: u64 = 1 << 63;
    pub const RDBASE_SHIFT: u32 = 16;
    /// `COLLECTION_NOT_MAPPED`.
    pub const NOT_MAPPED: u32 = u32::MAX;

    pub fn encode(c: &Cte) -> u64 {
        VALID | (c.target.unwrap_or(NOT_MAPPED) as u64) << RDBASE_SHIFT | c.icid as u64
    }

    /// `None` for an invalid entry (the end of the table).
    pub fn decode(e: u64) -> Option<Cte> {
        (e & VALID != 0).then(|| {
            let t = (e >> RDBASE_SHIFT) as u32;
            Cte {
                target: (t != NOT_MAPPED).then_some(t),
                icid: e as u16,
            }
        })
    }
}

/// What a scanned table holds.
#[derive(Clone, Copy)]
enum Kind {
    /// Level-1 device table entries.
    L1,
    /// DTEs.
    Dte,
    /// ITEs of one device.
    Ite(u32),
}

struct Budget(u64);

impl Budget {
    fn spend(&mut self, n: u64, what: &str) -> Result<(), ItsError> {
        if self.0 < n {
            return Err(ItsError::TooLarge {
                what: format!("{what} ({})", rules::RESTORE_BOUND.id),
                limit: ENTRY_BUDGET,
            });
        }
        self.0 -= n;
        Ok(())
    }
}

fn fault(e: crate::guest_memory::MemError, what: String) -> ItsError {
    ItsError::kvm(e.errno(), &rules::RESTORE_FAULT, format!("{what}: {e}"))
}

fn einval(rule: &'static crate::rules::Rule, what: String) -> ItsError {
    ItsError::kvm(Errno::EINVAL, rule, what)
}

impl Its {
    // ------------------------------------------------------------------ save

    /// `vgic_its_save_tables_v0`: the device table with every ITT, then the
    /// collection table.
    pub(super) fn save_tables(&mut self, bus: &mut Bus) -> Result<(), ItsError> {
        bus.rule(&rules::SAVE_TABLES);
        self.save_device_tables(bus)?;
        self.save_collection_table(bus)
    }

    fn write_entry(
        bus: &mut Bus,
        gpa: u64,
        val: u64,
        what: impl FnOnce() -> String,
    ) -> Result<(), ItsError> {
        bus.mem
            .write_u64(gpa, val)
            .map_err(|e| ItsError::kvm(e.errno(), &rules::SAVE_FAULT, format!("{}: {e}", what())))
    }

    fn save_device_tables(&mut self, bus: &mut Bus) -> Result<(), ItsError> {
        if self.baser_device & baser::VALID == 0 {
            return Ok(());
        }
        let ids: Vec<u32> = self.devices.keys().copied().collect();
        for (n, &id) in ids.iter().enumerate() {
            let Some(eaddr) = self.check_id(bus.mem, true, id) else {
                if self.kernel.has(&super::changes::ITS_SAVE_SKIPS_UNREACHABLE) {
                    bus.rule(&rules::SAVE_UNREACHABLE_SKIP);
                    continue;
                }
                bus.rule(&rules::SAVE_UNREACHABLE_EINVAL);
                return Err(einval(
                    &rules::SAVE_UNREACHABLE_EINVAL,
                    format!(
                        "device {id:#x} has no entry in the device table GITS_BASER0 describes"
                    ),
                ));
            };
            self.save_itt(bus, id)?;
            let dev = &self.devices[&id];
            // compute_next_devid_offset: the next device in the (sorted) list.
            let next = ids.get(n + 1).map_or(0, |&nx| (nx - id).min(DTE_MAX_NEXT));
            let val = dte::encode(&Dte {
                next,
                itt_addr: dev.itt_addr,
                eventid_bits: dev.eventid_bits,
            });
            Self::write_entry(bus, eaddr, val, || {
                format!("DTE of device {id:#x} at {eaddr:#x}")
            })?;
        }
        Ok(())
    }

    fn save_itt(&mut self, bus: &mut Bus, id: u32) -> Result<(), ItsError> {
        let skip_null = self.kernel.has(&super::changes::ITS_SAVE_NULL_COLLECTION);
        // ad1e686e2378 (7.3): next offsets between saved ITEs; before it, to
        // the next mapped event whether saved or not.
        let next_saved = self.kernel.has(&super::changes::ITS_SAVE_ITE_NEXT_VALID);
        let dev = &self.devices[&id];
        let itt = dev.itt_addr;
        let ites: Vec<(u32, super::Ite)> = dev.ites.iter().map(|(&e, &i)| (e, i)).collect();
        // The ITEs written: those with a collection (all of them before
        // c6c156d931c3, where a NULL collection oopses on the way).
        let saved: Vec<usize> = (0..ites.len())
            .filter(|&k| !skip_null || ites[k].1.collection.is_some())
            .collect();
        for (n, &k) in saved.iter().enumerate() {
            let (event, ite) = ites[k];
            let Some(icid) = ite.collection else {
                bus.rule(&rules::SAVE_NULL_COLLECTION_OOPS);
                return Err(ItsError::HostOops {
                    function: "vgic_its_save_ite",
                    what: format!(
                        "device {id:#x} event {event}: its collection was unmapped by MAPC V=0"
                    ),
                });
            };
            if skip_null && saved.len() != ites.len() {
                bus.rule(&rules::SAVE_NULL_COLLECTION_SKIP);
            }
            let following = if next_saved {
                saved.get(n + 1).copied()
            } else {
                if saved.len() != ites.len() && k + 1 < ites.len() && !saved.contains(&(k + 1)) {
                    bus.rule(&rules::SAVE_NULL_COLLECTION_NEXT_STALE);
                }
                Some(k + 1).filter(|&k2| k2 < ites.len())
            };
            let next = following.map_or(0, |k2| (ites[k2].0 - event).min(ITE_MAX_NEXT));
            let gpa = itt + event as u64 * ESZ;
            let val = ite::encode(&Ite {
                next,
                intid: ite.intid,
                icid,
            });
            Self::write_entry(bus, gpa, val, || {
                format!("ITE of device {id:#x} event {event} at {gpa:#x}")
            })?;
        }
        Ok(())
    }

    fn save_collection_table(&mut self, bus: &mut Bus) -> Result<(), ItsError> {
        let reg = self.baser_coll;
        if reg & baser::VALID == 0 {
            return Ok(());
        }
        let mut gpa = regs::baser_address(reg);
        let max = regs::baser_nr_pages(reg) * 0x1_0000;
        let mut filled = 0;
        for c in self.collections.clone() {
            if filled == max {
                bus.rule(&rules::SAVE_COLLECTIONS_OVERRUN);
            }
            let val = cte::encode(&Cte {
                target: c.target,
                icid: c.id,
            });
            Self::write_entry(bus, gpa, val, || {
                format!("CTE of collection {} at {gpa:#x}", c.id)
            })?;
            gpa += ESZ;
            filled += ESZ;
        }
        if filled == max {
            return Ok(());
        }
        Self::write_entry(bus, gpa, 0, || {
            format!("the collection table's terminator at {gpa:#x}")
        })
    }

    // ------------------------------------------------------------------ restore

    /// `vgic_its_restore_tables_v0`: collections first, then devices with
    /// their ITTs; on error nothing stays mapped (from 8c5e74c90bb5, 5.19).
    /// Before it what was restored before the failure stays: the
    /// collections, and the devices before the one that failed (a device
    /// whose ITT fails is freed by `vgic_its_restore_dte` itself).
    pub(super) fn restore_tables(&mut self, bus: &mut Bus) -> Result<(), ItsError> {
        bus.rule(&rules::RESTORE_TABLES);
        let undo = self.kernel.has(&super::changes::ITS_RESTORE_UNDO);
        let mut budget = Budget(ENTRY_BUDGET);
        if let Err(e) = self.restore_collection_table(bus) {
            if undo {
                self.free_all_collections();
            } else {
                bus.rule(&rules::RESTORE_NO_UNDO);
            }
            return Err(e);
        }
        if let Err(e) = self.restore_device_tables(bus, &mut budget) {
            if undo {
                self.free_all_devices(bus);
                self.free_all_collections();
            } else {
                bus.rule(&rules::RESTORE_NO_UNDO);
            }
            return Err(e);
        }
        Ok(())
    }

    fn restore_collection_table(&mut self, bus: &mut Bus) -> Result<(), ItsError> {
        let reg = self.baser_coll;
        if reg & baser::VALID == 0 {
            return Ok(());
        }
        let mut gpa = regs::baser_address(reg);
        let max = regs::baser_nr_pages(reg) * 0x1_0000;
        let mut read = 0;
        while read < max {
            let val = bus
                .mem
                .read_u64(gpa)
                .map_err(|e| fault(e, format!("collection table entry at {gpa:#x}")))?;
            let Some(c) = cte::decode(val) else {
                return Ok(());
            };
            if let Some(t) = c.target {
                if t >= bus.redists.online() {
                    bus.rule(&rules::RESTORE_CTE);
                    return Err(einval(
                        &rules::RESTORE_CTE,
                        format!(
                            "CTE at {gpa:#x}: collection {} targets vCPU {t}, the VM has {}",
                            c.icid,
                            bus.redists.online()
                        ),
                    ));
                }
            }
            if self.collection(c.icid).is_some() {
                bus.rule(&rules::RESTORE_CTE);
                return Err(ItsError::kvm(
                    Errno::EEXIST,
                    &rules::RESTORE_CTE,
                    format!("CTE at {gpa:#x}: collection {} is already mapped", c.icid),
                ));
            }
            if self.check_id(bus.mem, false, c.icid as u32).is_none() {
                bus.rule(&rules::RESTORE_CTE);
                return Err(einval(&rules::RESTORE_CTE, format!("CTE at {gpa:#x}: collection {} has no entry in the table GITS_BASER1 describes", c.icid)));
            }
            self.collections.push(super::CollectionState {
                id: c.icid,
                target: c.target,
            });
            gpa += ESZ;
            read += ESZ;
        }
        Ok(())
    }

    fn restore_device_tables(
        &mut self,
        bus: &mut Bus,
        budget: &mut Budget,
    ) -> Result<(), ItsError> {
        let reg = self.baser_device;
        if reg & baser::VALID == 0 {
            return Ok(());
        }
        let base = regs::baser_address(reg);
        let size = regs::baser_nr_pages(reg) * 0x1_0000;
        let kind = if reg & baser::INDIRECT != 0 {
            Kind::L1
        } else {
            Kind::Dte
        };
        self.scan(bus, budget, base, size, 0, kind).map(|_| ())
    }

    /// `scan_its_table`: read entries from `base` while inside `len` bytes,
    /// stepping by each entry's next offset; `Ok(true)` if the table ended
    /// without a last entry, `Ok(false)` if one said "last".
    fn scan(
        &mut self,
        bus: &mut Bus,
        budget: &mut Budget,
        base: u64,
        len: u64,
        start_id: u64,
        kind: Kind,
    ) -> Result<bool, ItsError> {
        let mut gpa = base;
        let mut left = len;
        let mut id = start_id;
        loop {
            let what = || match kind {
                Kind::L1 => format!("device table level-1 entry {id} at {gpa:#x}"),
                Kind::Dte => format!("DTE of device {id:#x} at {gpa:#x}"),
                Kind::Ite(d) => format!("ITE of device {d:#x} event {id} at {gpa:#x}"),
            };
            let val = bus.mem.read_u64(gpa).map_err(|e| fault(e, what()))?;
            if val == 0 && bus.mem.page_is_untouched(gpa) {
                // Every entry of a never-written page is empty (next: +1):
                // step to the page's end in one go.
                let in_page = (PAGE_SIZE - gpa % PAGE_SIZE) / ESZ;
                let steps = in_page.min(left.div_ceil(ESZ)).max(1);
                budget.spend(1, &what())?;
                let bytes = steps * ESZ;
                if bytes >= left {
                    return Ok(true);
                }
                id += steps;
                gpa += bytes;
                left -= bytes;
                continue;
            }
            budget.spend(1, &what())?;
            let next = match kind {
                Kind::L1 => self.handle_l1(bus, budget, id, val)?,
                Kind::Dte => self.restore_dte(bus, budget, id, val, gpa)?,
                Kind::Ite(d) => self.restore_ite(bus, d, id, val, gpa)?,
            };
            if next == 0 {
                return Ok(false);
            }
            let bytes = next * ESZ;
            if bytes >= left {
                return Ok(true);
            }
            id += next;
            gpa += bytes;
            left -= bytes;
        }
    }

    /// `handle_l1_dte`: 1 to go on; the level-2 scan's 0 ends everything.
    fn handle_l1(
        &mut self,
        bus: &mut Bus,
        budget: &mut Budget,
        id: u64,
        val: u64,
    ) -> Result<u64, ItsError> {
        if val & (1 << 63) == 0 {
            return Ok(1);
        }
        let l2 = val & 0x000f_ffff_ffff_0000;
        let per_page = 0x1_0000 / ESZ;
        let went_through = self.scan(bus, budget, l2, 0x1_0000, id * per_page, Kind::Dte)?;
        Ok(went_through as u64)
    }

    /// `vgic_its_restore_dte`.
    fn restore_dte(
        &mut self,
        bus: &mut Bus,
        budget: &mut Budget,
        id: u64,
        val: u64,
        gpa: u64,
    ) -> Result<u64, ItsError> {
        let Some(d) = dte::decode(val) else {
            return Ok(1);
        };
        bus.rule(&rules::RESTORE_DTE);
        if d.eventid_bits > regs::VITS_IDBITS {
            if self
                .kernel
                .has(&super::changes::ITS_RESTORE_DTE_EVENTID_BITS)
            {
                bus.rule(&rules::RESTORE_DTE_EVENTID_BITS);
                return Err(einval(
                    &rules::RESTORE_DTE_EVENTID_BITS,
                    format!(
                        "DTE at {gpa:#x}: device {id:#x} has {} event-ID bits, the ITS 16",
                        d.eventid_bits
                    ),
                ));
            }
            bus.rule(&rules::RESTORE_DTE_OVERSIZED_SCAN);
        }
        let dev_id = u32::try_from(id)
            .ok()
            .filter(|&i| self.check_id(bus.mem, true, i).is_some());
        let Some(dev_id) = dev_id else {
            return Err(einval(&rules::RESTORE_DTE, format!("DTE at {gpa:#x}: device {id:#x} has no entry in the device table GITS_BASER0 describes")));
        };
        if self.devices.contains_key(&dev_id) {
            return Err(ItsError::Unmodelled {
                what: format!("DTE at {gpa:#x}: device {dev_id:#x} is already mapped; KVM would list it twice"),
            });
        }
        self.devices.insert(
            dev_id,
            Device {
                itt_addr: d.itt_addr,
                eventid_bits: d.eventid_bits,
                ites: BTreeMap::new(),
            },
        );
        // vgic_its_restore_itt: BIT_ULL(bits) * esz goes through an `int size`.
        let max_size = (1u64 << d.eventid_bits) * ESZ;
        let len = max_size as u32 as i32 as i64 as u64;
        if let Err(e) = self.scan(bus, budget, d.itt_addr, len, 0, Kind::Ite(dev_id)) {
            self.free_device(bus, dev_id);
            return Err(e);
        }
        Ok(d.next as u64)
    }

    /// `vgic_its_restore_ite`.
    fn restore_ite(
        &mut self,
        bus: &mut Bus,
        dev_id: u32,
        event: u64,
        val: u64,
        gpa: u64,
    ) -> Result<u64, ItsError> {
        let Some(e) = ite::decode(val) else {
            return Ok(1);
        };
        let r = &rules::RESTORE_ITE;
        bus.rule(r);
        let at = || format!("ITE at {gpa:#x} (device {dev_id:#x} event {event})");
        if e.intid < LPI_OFFSET {
            return Err(einval(
                r,
                format!("{}: INTID {} is not an LPI", at(), e.intid),
            ));
        }
        let dev = &self.devices[&dev_id];
        if event + e.next as u64 >= 1u64 << dev.eventid_bits {
            return Err(einval(
                r,
                format!(
                    "{}: next offset {} goes past the device's {} event-ID bits",
                    at(),
                    e.next,
                    dev.eventid_bits
                ),
            ));
        }
        let Some(coll) = self.collection(e.icid).copied() else {
            return Err(einval(
                r,
                format!("{}: collection {} was not restored", at(), e.icid),
            ));
        };
        let event32 = u32::try_from(event)
            .ok()
            .filter(|&ev| self.check_event_id(bus.mem, dev, ev));
        let Some(event32) = event32 else {
            return Err(einval(
                r,
                format!("{}: the event's entry is not in guest memory", at()),
            ));
        };
        self.add_lpi(bus, e.intid, coll.target)
            .map_err(|m| fault(m, format!("{}: creating LPI {}", at(), e.intid)))?;
        if let Some(d) = self.devices.get_mut(&dev_id) {
            d.ites.insert(
                event32,
                super::Ite {
                    intid: e.intid,
                    collection: Some(e.icid),
                },
            );
        }
        Ok(e.next as u64)
    }
}
