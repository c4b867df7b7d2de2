//! The ITS as a person inspects it (the app's ITS view, issue 17): the GITS_*
//! registers read back and decoded field by field, the mappings KVM holds
//! (device → event → LPI → collection → redistributor), the tables in guest
//! memory decoded at ABI revision 0, and the command queue between
//! GITS_CBASER and GITS_CWRITER. Read from the model without changing it: the
//! registers are guest loads on a copy of the ITS (`vgic_its_read_*`), the
//! rest reads [`super::ItsState`] and guest RAM.
//!
//! KVM keeps its mappings in kernel memory (`struct its_device`, `its_ite`,
//! `its_collection`); the guest's device table, ITTs and collection table hold
//! entries only after `KVM_DEV_ARM_ITS_SAVE_TABLES` wrote them
//! (`vgic_its_save_tables_v0`) or before a `RESTORE_TABLES` reads them; the
//! view says so rather than showing empty tables as a fault.

use serde::Serialize;

use super::command::{Command, CMD_SIZE};
use super::observer::NoopObserver;
use super::regs::{self, baser};
use super::tables::{cte, dte, ite, Cte, Dte, Ite, ESZ};
use super::{Bus, CollectionState, Its, LpiState, Redistributors, LPI_OFFSET};
use crate::guest_memory::GuestMemory;

/// The most entries a decoded table lists (the rest are counted, not shown).
pub const MAX_ENTRIES: usize = 256;
/// The most queue slots decoded (a 1 MiB queue holds 32768).
pub const MAX_QUEUE: usize = 256;

/// One field of a register.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FieldReading {
    pub name: &'static str,
    /// Bits, `hi:lo`.
    pub bits: &'static str,
    pub value: u64,
    pub meaning: String,
}

/// A GITS_* register as the guest reads it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RegisterReading {
    pub name: String,
    pub offset: u32,
    pub value: u64,
    pub fields: Vec<FieldReading>,
}

/// One event's way to a vCPU, as KVM holds it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Route {
    pub device: u32,
    pub event: u32,
    pub eventid_bits: u32,
    pub itt_addr: u64,
    pub intid: u32,
    /// `None`: the collection was unmapped (MAPC V=0) after the mapping.
    pub collection: Option<u16>,
    /// The collection's target redistributor (vCPU), if mapped.
    pub vcpu: Option<u32>,
    /// KVM's copy of the LPI's configuration (read at MAPTI and INV).
    pub lpi: Option<LpiState>,
    /// The LPI's byte in the guest's property table (GICR_PROPBASER), if
    /// the table reaches it and guest memory holds it.
    pub property: Option<u8>,
    /// GICR_CTLR.EnableLPIs of the target redistributor.
    pub enable_lpis: Option<bool>,
}

/// An entry read from a table in guest memory.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Entry<T> {
    /// Device ID, event ID or the entry's index.
    pub id: u64,
    pub gpa: u64,
    pub raw: u64,
    #[serde(skip)]
    pub decoded: T,
}

/// A device table entry and its ITT's entries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DeviceEntry {
    pub dte: Entry<Dte>,
    pub ites: Vec<Entry<Ite>>,
    /// Why the ITT could not be read (outside guest memory).
    pub itt_problem: Option<String>,
}

/// A table in guest memory as a GITS_BASER<n> describes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TableReading<T> {
    pub valid: bool,
    pub indirect: bool,
    pub base: u64,
    pub bytes: u64,
    pub entries: Vec<T>,
    /// Entries beyond [`MAX_ENTRIES`], not listed.
    pub more: usize,
    /// Why part of the table could not be read.
    pub problem: Option<String>,
}

/// One slot of the command queue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct QueuedCommand {
    /// Offset in the queue (CREADR/CWRITER units).
    pub offset: u64,
    pub gpa: u64,
    pub words: [u64; 4],
    pub command: Command,
    /// Whether KVM has read it (below GITS_CREADR).
    pub processed: bool,
}

/// Everything the ITS view shows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Inspection {
    /// Whether a step has used the ITS yet (until then: its reset state).
    pub touched: bool,
    pub base: Option<u64>,
    pub registers: Vec<RegisterReading>,
    pub routes: Vec<Route>,
    pub collections: Vec<CollectionState>,
    /// LPIs KVM knows (mapped by MAPTI/MAPI).
    pub lpis: Vec<LpiState>,
    pub device_table: TableReading<DeviceEntry>,
    pub collection_table: TableReading<Entry<Cte>>,
    pub queue: Vec<QueuedCommand>,
    /// Why the queue could not be read.
    pub queue_problem: Option<String>,
}

/// Inspect `its` (or a fresh one) with the VM's memory and redistributors.
pub fn inspect(
    its: Option<&Its>,
    fresh: Its,
    mem: &GuestMemory,
    redists: &Redistributors,
) -> Inspection {
    let touched = its.is_some();
    let mut copy = its.cloned().unwrap_or(fresh);
    let state = copy.state();
    let registers = read_registers(&mut copy, redists);
    let mut routes = Vec::new();
    for d in &state.devices {
        for i in &d.ites {
            let vcpu = i.collection.and_then(|c| {
                state
                    .collections
                    .iter()
                    .find(|k| k.id == c)
                    .and_then(|k| k.target)
            });
            routes.push(Route {
                device: d.id,
                event: i.event,
                eventid_bits: d.eventid_bits,
                itt_addr: d.itt_addr,
                intid: i.intid,
                collection: i.collection,
                vcpu,
                lpi: state.lpis.iter().find(|l| l.intid == i.intid).copied(),
                property: property_byte(mem, redists, i.intid),
                enable_lpis: vcpu
                    .and_then(|v| redists.vcpus.get(v as usize).map(|r| r.enable_lpis)),
            });
        }
    }
    let (queue, queue_problem) = read_queue(mem, state.cbaser, state.creadr, state.cwriter);
    Inspection {
        touched,
        base: state.base,
        registers,
        routes,
        collections: state.collections.clone(),
        lpis: state.lpis.clone(),
        device_table: read_device_table(mem, state.baser_device),
        collection_table: read_collection_table(mem, state.baser_coll),
        queue,
        queue_problem,
    }
}

/// The LPI's property byte (`GICR_PROPBASER` + INTID − 8192), if inside the
/// table (IDbits) and guest memory.
pub fn property_byte(mem: &GuestMemory, redists: &Redistributors, intid: u32) -> Option<u8> {
    if intid < LPI_OFFSET || intid >= redists.max_lpis() {
        return None;
    }
    let gpa = (redists.propbaser & 0x000f_ffff_ffff_f000) + (intid - LPI_OFFSET) as u64;
    let mut b = [0u8];
    mem.read(gpa, &mut b).ok().map(|()| b[0])
}

const SHOWN: [u32; 9] = [
    regs::GITS_CTLR,
    regs::GITS_IIDR,
    regs::GITS_TYPER,
    regs::GITS_CBASER,
    regs::GITS_CWRITER,
    regs::GITS_CREADR,
    regs::GITS_BASER,
    regs::GITS_BASER + 8,
    regs::GITS_BASER + 16,
];

fn read_registers(its: &mut Its, redists: &Redistributors) -> Vec<RegisterReading> {
    let mut scratch = GuestMemory::new(0);
    let mut observer = NoopObserver;
    let mut bus = Bus {
        mem: &mut scratch,
        redists,
        observer: &mut observer,
    };
    SHOWN
        .iter()
        .map(|&offset| {
            let width = if offset == regs::GITS_CTLR || offset == regs::GITS_IIDR {
                32
            } else {
                64
            };
            let value = its.guest_read(&mut bus, offset, width);
            RegisterReading {
                name: regs::name(offset),
                offset,
                value,
                fields: fields(offset, value),
            }
        })
        .collect()
}

fn bit(v: u64, n: u32) -> u64 {
    (v >> n) & 1
}

fn bits(v: u64, hi: u32, lo: u32) -> u64 {
    (v >> lo) & ((1u64 << (hi - lo + 1)) - 1)
}

fn yes(v: u64, on: &str, off: &str) -> String {
    if v != 0 { on } else { off }.to_string()
}

/// A register's fields as `vgic-its.c` fills them.
pub fn fields(offset: u32, v: u64) -> Vec<FieldReading> {
    let f = |name, b, value, meaning: String| FieldReading {
        name,
        bits: b,
        value,
        meaning,
    };
    match offset {
        regs::GITS_CTLR => vec![
            f(
                "Quiescent",
                "31",
                bit(v, 31),
                yes(
                    bit(v, 31),
                    "no command pending (CREADR = CWRITER)",
                    "commands still pending",
                ),
            ),
            f(
                "Enabled",
                "0",
                bit(v, 0),
                yes(
                    bit(v, 0),
                    "the ITS translates MSIs and reads its queue",
                    "disabled: MSIs are dropped, commands wait",
                ),
            ),
        ],
        regs::GITS_IIDR => vec![
            f(
                "ProductID",
                "31:24",
                bits(v, 31, 24),
                format!("{:#x}: KVM's emulated ITS", bits(v, 31, 24)),
            ),
            f(
                "Revision",
                "15:12",
                bits(v, 15, 12),
                format!("table ABI revision {}", bits(v, 15, 12)),
            ),
            f(
                "Implementer",
                "11:0",
                bits(v, 11, 0),
                format!("{:#x}: Arm", bits(v, 11, 0)),
            ),
        ],
        regs::GITS_TYPER => vec![
            f("CIL", "36", bit(v, 36), "collection IDs are 16 bits".into()),
            f(
                "PTA",
                "19",
                bit(v, 19),
                yes(
                    bit(v, 19),
                    "targets are physical addresses",
                    "targets are vCPU numbers (MAPC, SYNC)",
                ),
            ),
            f(
                "Devbits",
                "17:13",
                bits(v, 17, 13),
                format!("{} device ID bits", bits(v, 17, 13) + 1),
            ),
            f(
                "IDbits",
                "12:8",
                bits(v, 12, 8),
                format!("{} event ID bits", bits(v, 12, 8) + 1),
            ),
            f(
                "ITT_entry_size",
                "7:4",
                bits(v, 7, 4),
                format!("{} bytes per ITT entry", bits(v, 7, 4) + 1),
            ),
            f(
                "Physical",
                "0",
                bit(v, 0),
                yes(bit(v, 0), "physical LPIs supported", "no physical LPIs"),
            ),
        ],
        regs::GITS_CBASER => vec![
            f(
                "Valid",
                "63",
                bit(v, 63),
                yes(
                    bit(v, 63),
                    "the command queue is set",
                    "no command queue yet",
                ),
            ),
            f(
                "Physical_Address",
                "51:12",
                regs::cbaser_address(v),
                format!("queue at {:#x}", regs::cbaser_address(v)),
            ),
            f(
                "Size",
                "7:0",
                bits(v, 7, 0),
                format!(
                    "{} 4 KiB pages ({} commands)",
                    bits(v, 7, 0) + 1,
                    regs::cmd_buffer_size(v) / CMD_SIZE
                ),
            ),
        ],
        regs::GITS_CWRITER | regs::GITS_CREADR => {
            let who = if offset == regs::GITS_CWRITER {
                "where the guest writes its next command"
            } else {
                "where KVM reads next"
            };
            vec![f(
                "Offset",
                "19:5",
                bits(v, 19, 5),
                format!(
                    "{:#x}: {who} (slot {})",
                    regs::cmd_offset(v),
                    regs::cmd_offset(v) / CMD_SIZE
                ),
            )]
        }
        _ => {
            let ty = bits(v, 58, 56);
            let kind = match ty {
                0 => "unimplemented".to_string(),
                baser::TYPE_DEVICE => "device table".into(),
                baser::TYPE_COLLECTION => "collection table".into(),
                t => format!("type {t}"),
            };
            let mut out = vec![
                f(
                    "Valid",
                    "63",
                    bit(v, 63),
                    yes(bit(v, 63), "the table is allocated", "no table"),
                ),
                f(
                    "Indirect",
                    "62",
                    bit(v, 62),
                    yes(bit(v, 62), "two levels: 64 KiB level-2 pages", "flat"),
                ),
                f("Type", "58:56", ty, kind),
            ];
            if ty != 0 {
                out.extend([
                    f(
                        "Entry_Size",
                        "52:48",
                        bits(v, 52, 48),
                        format!("{} bytes per entry", bits(v, 52, 48) + 1),
                    ),
                    f(
                        "Physical_Address",
                        "47:12",
                        regs::baser_address(v),
                        format!("table at {:#x}", regs::baser_address(v)),
                    ),
                    f(
                        "Page_Size",
                        "9:8",
                        bits(v, 9, 8),
                        "64 KiB pages (KVM forces them)".into(),
                    ),
                    f(
                        "Size",
                        "7:0",
                        bits(v, 7, 0),
                        format!("{} pages", regs::baser_nr_pages(v)),
                    ),
                ]);
            }
            out
        }
    }
}

/// Non-zero 8-byte entries of `[base, base + len)`, stepping over pages never
/// written; at most `room` of them, and a count of the rest.
fn nonzero(
    mem: &GuestMemory,
    base: u64,
    len: u64,
    room: usize,
) -> Result<(Vec<(u64, u64)>, usize), String> {
    const PAGE: u64 = 4096;
    let mut out = Vec::new();
    let mut more = 0;
    let mut gpa = base;
    let end = base.saturating_add(len);
    while gpa < end {
        if mem.page_is_untouched(gpa) {
            if !mem.is_visible(gpa) {
                return Err(format!("{gpa:#x} is outside the VM's memory (vm.memory)"));
            }
            gpa = (gpa / PAGE + 1) * PAGE;
            continue;
        }
        let v = mem.read_u64(gpa).map_err(|e| e.to_string())?;
        if v != 0 {
            if out.len() < room {
                out.push((gpa, v));
            } else {
                more += 1;
            }
        }
        gpa += ESZ;
    }
    Ok((out, more))
}

fn read_device_table(mem: &GuestMemory, reg: u64) -> TableReading<DeviceEntry> {
    let mut t = table(reg);
    if !t.valid {
        return t;
    }
    let mut dtes: Vec<(u64, u64, u64)> = Vec::new();
    let mut more = 0;
    if t.indirect {
        match nonzero(mem, t.base, t.bytes, MAX_ENTRIES) {
            Ok((l1, m)) => {
                more += m;
                for (gpa, v) in l1 {
                    if v & (1 << 63) == 0 {
                        continue;
                    }
                    let first = (gpa - t.base) / ESZ * (0x1_0000 / ESZ);
                    let l2 = v & 0x000f_ffff_ffff_0000;
                    match nonzero(mem, l2, 0x1_0000, MAX_ENTRIES - dtes.len().min(MAX_ENTRIES)) {
                        Ok((e, m)) => {
                            more += m;
                            dtes.extend(e.into_iter().map(|(g, v)| (first + (g - l2) / ESZ, g, v)));
                        }
                        Err(e) => t.problem = Some(format!("level-2 page at {l2:#x}: {e}")),
                    }
                }
            }
            Err(e) => t.problem = Some(e),
        }
    } else {
        match nonzero(mem, t.base, t.bytes, MAX_ENTRIES) {
            Ok((e, m)) => {
                more += m;
                dtes.extend(e.into_iter().map(|(g, v)| ((g - t.base) / ESZ, g, v)));
            }
            Err(e) => t.problem = Some(e),
        }
    }
    t.more = more;
    for (id, gpa, raw) in dtes {
        let Some(d) = dte::decode(raw) else { continue };
        let len = (1u64 << d.eventid_bits.min(32)) * ESZ;
        let (ites, itt_problem) = match nonzero(mem, d.itt_addr, len, MAX_ENTRIES) {
            Ok((e, _)) => (
                e.into_iter()
                    .filter_map(|(g, v)| {
                        ite::decode(v).map(|i| Entry {
                            id: (g - d.itt_addr) / ESZ,
                            gpa: g,
                            raw: v,
                            decoded: i,
                        })
                    })
                    .collect(),
                None,
            ),
            Err(e) => (Vec::new(), Some(e)),
        };
        t.entries.push(DeviceEntry {
            dte: Entry {
                id,
                gpa,
                raw,
                decoded: d,
            },
            ites,
            itt_problem,
        });
    }
    t
}

fn read_collection_table(mem: &GuestMemory, reg: u64) -> TableReading<Entry<Cte>> {
    let mut t = table(reg);
    if !t.valid {
        return t;
    }
    match nonzero(mem, t.base, t.bytes, MAX_ENTRIES) {
        Ok((e, more)) => {
            t.more = more;
            t.entries = e
                .into_iter()
                .filter_map(|(g, v)| {
                    cte::decode(v).map(|c| Entry {
                        id: (g - t.base) / ESZ,
                        gpa: g,
                        raw: v,
                        decoded: c,
                    })
                })
                .collect();
        }
        Err(e) => t.problem = Some(e),
    }
    t
}

fn table<T>(reg: u64) -> TableReading<T> {
    TableReading {
        valid: reg & baser::VALID != 0,
        indirect: reg & baser::INDIRECT != 0,
        base: regs::baser_address(reg),
        bytes: regs::baser_nr_pages(reg) * 0x1_0000,
        entries: Vec::new(),
        more: 0,
        problem: None,
    }
}

/// The queue's slots from its start to GITS_CWRITER (a guest fills it in
/// order; KVM reads from CREADR up to CWRITER, `vgic_its_process_commands`).
fn read_queue(
    mem: &GuestMemory,
    cbaser: u64,
    creadr: u64,
    cwriter: u64,
) -> (Vec<QueuedCommand>, Option<String>) {
    if cbaser & baser::VALID == 0 {
        return (Vec::new(), None);
    }
    let base = regs::cbaser_address(cbaser);
    let mut out = Vec::new();
    let mut offset = 0;
    while offset < cwriter && out.len() < MAX_QUEUE {
        let gpa = base + offset;
        let mut words = [0u64; 4];
        for (k, w) in words.iter_mut().enumerate() {
            match mem.read_u64(gpa + 8 * k as u64) {
                Ok(v) => *w = v,
                Err(e) => {
                    return (
                        out,
                        Some(format!("slot {} at {gpa:#x}: {e}", offset / CMD_SIZE)),
                    )
                }
            }
        }
        out.push(QueuedCommand {
            offset,
            gpa,
            words,
            command: Command::decode(&words),
            processed: offset < creadr,
        });
        offset += CMD_SIZE;
    }
    (out, None)
}

/// A command in words: `MAPTI device 0x3 event 2 → LPI 8200, collection 0`.
pub fn describe(c: &Command) -> String {
    match *c {
        Command::Mapd {
            device,
            eventid_bits,
            itt_addr,
            valid,
        } if valid => {
            format!("MAPD device {device:#x}: {eventid_bits} event ID bits, ITT at {itt_addr:#x}")
        }
        Command::Mapd { device, .. } => format!("MAPD device {device:#x} V=0 (unmap)"),
        Command::Mapc {
            collection,
            target,
            valid,
        } if valid => {
            format!("MAPC collection {collection} → vCPU {target}")
        }
        Command::Mapc { collection, .. } => format!("MAPC collection {collection} V=0 (unmap)"),
        Command::Mapti {
            device,
            event,
            intid,
            collection,
        } => {
            format!("MAPTI device {device:#x} event {event} → LPI {intid}, collection {collection}")
        }
        Command::Mapi {
            device,
            event,
            collection,
        } => {
            format!("MAPI device {device:#x} event {event} → LPI {event}, collection {collection}")
        }
        Command::Movi {
            device,
            event,
            collection,
        } => {
            format!("MOVI device {device:#x} event {event} → collection {collection}")
        }
        Command::Discard { device, event } => format!("DISCARD device {device:#x} event {event}"),
        Command::Clear { device, event } => format!("CLEAR device {device:#x} event {event}"),
        Command::Int { device, event } => format!("INT device {device:#x} event {event}"),
        Command::Inv { device, event } => format!("INV device {device:#x} event {event}"),
        Command::Invall { collection } => format!("INVALL collection {collection}"),
        Command::Sync { target } => format!("SYNC vCPU {target}"),
        Command::Movall { from, to } => format!("MOVALL vCPU {from} → vCPU {to}"),
        Command::Other { number } => format!("command {number:#04x} (KVM does not handle it)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::guest_memory::{MemoryLayout, Region};
    use crate::host::KernelVersion;

    fn setup() -> (Its, GuestMemory, Redistributors) {
        let kernel: KernelVersion = "6.12".parse().unwrap();
        let layout = MemoryLayout::new(&[Region {
            base: 0x5000_0000,
            size: 0x100_0000,
        }])
        .unwrap();
        let mut mem = layout.memory(4096);
        let mut redists = Redistributors::new(2);
        redists.propbaser = 0x5080_000f;
        redists.vcpus[1].enable_lpis = true;
        redists.vcpus[1].pendbaser = 0x5090_0000;
        mem.write(0x5080_0008, &[0xa1]).unwrap();
        let mut its = Its::new(kernel);
        its.set_address(0x0808_0000, 32).unwrap();
        let mut obs = NoopObserver;
        let mut bus = Bus {
            mem: &mut mem,
            redists: &redists,
            observer: &mut obs,
        };
        its.setup_for_tests(&mut bus, 0x5000_0000, 0x5010_0000, 0x5020_0000);
        for c in [
            Command::Mapd {
                device: 3,
                eventid_bits: 4,
                itt_addr: 0x5030_0000,
                valid: true,
            },
            Command::Mapc {
                collection: 0,
                target: 1,
                valid: true,
            },
            Command::Mapti {
                device: 3,
                event: 2,
                intid: 8200,
                collection: 0,
            },
        ] {
            its.queue_command(&mut bus, &c).unwrap();
        }
        (its, mem, redists)
    }

    #[test]
    fn routes_registers_and_queue_follow_the_commands() {
        let (its, mut mem, redists) = setup();
        let fresh = Its::new(its.kernel());
        let i = inspect(Some(&its), fresh.clone(), &mem, &redists);
        assert!(i.touched);
        assert_eq!(i.routes.len(), 1);
        let r = &i.routes[0];
        assert_eq!(
            (r.device, r.event, r.intid, r.collection, r.vcpu),
            (3, 2, 8200, Some(0), Some(1))
        );
        assert_eq!((r.property, r.enable_lpis), (Some(0xa1), Some(true)));
        assert_eq!(i.queue.len(), 3);
        assert!(i.queue.iter().all(|q| q.processed));
        assert_eq!(
            describe(&i.queue[2].command),
            "MAPTI device 0x3 event 2 → LPI 8200, collection 0"
        );
        let ctlr = &i.registers[0];
        assert_eq!((ctlr.name.as_str(), ctlr.value), ("GITS_CTLR", 0x8000_0001));
        let cwriter = i
            .registers
            .iter()
            .find(|r| r.name == "GITS_CWRITER")
            .unwrap();
        assert_eq!(cwriter.value, 0x60);
        assert_eq!(
            i.registers
                .iter()
                .find(|r| r.name == "GITS_BASER0")
                .unwrap()
                .fields[2]
                .meaning,
            "device table"
        );
        // The guest's tables are empty until KVM saves them.
        assert!(i.device_table.valid && i.device_table.entries.is_empty());
        let mut its = its;
        let mut obs = NoopObserver;
        let mut bus = Bus {
            mem: &mut mem,
            redists: &redists,
            observer: &mut obs,
        };
        its.guest_write(&mut bus, regs::GITS_CTLR, 32, 0);
        its.ctrl(&mut bus, super::super::CTRL_SAVE_TABLES).unwrap();
        let i = inspect(Some(&its), fresh, &mem, &redists);
        assert_eq!(i.device_table.entries.len(), 1);
        let d = &i.device_table.entries[0];
        assert_eq!(
            (d.dte.id, d.dte.decoded.itt_addr, d.dte.decoded.eventid_bits),
            (3, 0x5030_0000, 4)
        );
        assert_eq!(d.ites.len(), 1);
        assert_eq!(
            (
                d.ites[0].id,
                d.ites[0].decoded.intid,
                d.ites[0].decoded.icid
            ),
            (2, 8200, 0)
        );
        assert_eq!(i.collection_table.entries.len(), 1);
        assert_eq!(i.collection_table.entries[0].decoded.target, Some(1));
    }

    #[test]
    fn an_untouched_its_shows_its_reset_registers() {
        let (its, mem, redists) = setup();
        let i = inspect(None, Its::new(its.kernel()), &mem, &redists);
        assert!(!i.touched && i.routes.is_empty() && i.queue.is_empty());
        assert_eq!(i.registers[0].value & 1, 0, "disabled at reset");
        assert!(!i.device_table.valid);
    }

    #[test]
    fn a_table_outside_guest_memory_is_named() {
        let mem = GuestMemory::new(16);
        let t = read_collection_table(&mem, baser::VALID | 0x9000_0000);
        assert!(t.problem.unwrap().contains("outside the VM's memory"));
    }
}
