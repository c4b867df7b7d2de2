//! The ITS in migration verdicts (issue 17): what a guest relies on of its ITS
//! ([`ItsView`]) at save and on the destination after its first KVM_RUN, and each
//! difference named by the table entry responsible ([`ItsEntry`]).
//!
//! The view is the ITS's own state (`struct vgic_its` and its lists in
//! `arch/arm64/kvm/vgic/vgic-its.c`: the devices of the device table, their ITTs'
//! entries, the collection table) and each mapped LPI's `vgic_irq` (priority and
//! enable from the property table in guest RAM, `update_lpi_config`; pending from the
//! vGIC): after a restore that is what KVM rebuilt from the tables in guest RAM
//! (`vgic_its_restore_tables_v0`, `vgic_add_lpi`, `vgic_v3_lpi_sync_pending_status`),
//! and what the guest's MSIs reach. The registers are those a guest reads back
//! (GITS_CTLR.Enabled, CBASER, CREADR, CWRITER, BASER0/1).

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::rules as r;
use crate::vgic::Vgic;
use crate::vits::{self, regs, ItsState};
use crate::vmm::{Action, LogEntry, Target};

use super::{dedup, useful_rule, DiffKind, Difference, Subject};

/// The ITS entry a difference is about (in `gicx migrate --json`: `its_entry`, with
/// `table` naming which).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "table", rename_all = "snake_case")]
pub enum ItsEntry {
    /// A GITS_* register, by offset.
    Register { offset: u32 },
    /// A device table entry (MAPD): whether the device is mapped, its event-ID bits.
    Device { device: u32 },
    /// An ITT entry (MAPTI): the LPI and collection an event translates to.
    Event { device: u32, event: u32 },
    /// A collection table entry (MAPC): its target vCPU.
    Collection { collection: u16 },
    /// A mapped LPI's configuration (property table) or pending state, with the
    /// (device, event) that maps it on the source.
    Lpi { intid: u32, device: u32, event: u32 },
}

/// `Difference::subject` in JSON: the ITS entry (only ITS differences serialize it).
pub(super) fn serialize_entry<S: serde::Serializer>(
    s: &Subject,
    ser: S,
) -> Result<S::Ok, S::Error> {
    match s {
        Subject::Its(e) => e.serialize(ser),
        _ => ser.serialize_none(),
    }
}

/// One mapped LPI as the guest sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LpiView {
    pub priority: u8,
    pub enabled: bool,
    pub pending: bool,
}

/// What a guest relies on of its ITS.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct ItsView {
    pub enabled: bool,
    pub cbaser: u64,
    pub creadr: u64,
    pub cwriter: u64,
    /// GITS_BASER0 (device table) and GITS_BASER1 (collection table).
    pub basers: [u64; 2],
    /// Device → its event-ID bits.
    pub devices: BTreeMap<u32, u32>,
    /// (device, event) → (LPI, collection).
    pub events: BTreeMap<(u32, u32), (u32, Option<u16>)>,
    /// Collection → target vCPU (`None`: not mapped).
    pub collections: BTreeMap<u16, Option<u32>>,
    /// LPI → its state.
    pub lpis: BTreeMap<u32, LpiView>,
}

impl ItsView {
    /// The view of `vm`'s ITS; `None` on a VM without one. An ITS no step touched
    /// yet is KVM's freshly created one.
    pub fn of(vm: &Vgic) -> Option<ItsView> {
        if !vm.has_its_device() {
            return None;
        }
        let st = match vm.emulated_its() {
            Some(its) => its.state(),
            None => vits::Its::new(vm.host().kernel).state(),
        };
        Some(ItsView::from_state(&st, |intid| {
            vm.irq(0, intid).map(|i| i.pending_latch)
        }))
    }

    /// The view of a saved ITS; `pending` gives the vGIC's pending state of an LPI
    /// (the ITS's own copy where it has none).
    pub fn from_state(st: &ItsState, pending: impl Fn(u32) -> Option<bool>) -> ItsView {
        let mut v = ItsView {
            enabled: st.enabled,
            cbaser: st.cbaser,
            creadr: st.creadr,
            cwriter: st.cwriter,
            basers: [st.baser_device, st.baser_coll],
            ..Default::default()
        };
        for d in &st.devices {
            v.devices.insert(d.id, d.eventid_bits);
            for i in &d.ites {
                v.events.insert((d.id, i.event), (i.intid, i.collection));
            }
        }
        for c in &st.collections {
            v.collections.insert(c.id, c.target);
        }
        for l in &st.lpis {
            v.lpis.insert(
                l.intid,
                LpiView {
                    priority: l.priority,
                    enabled: l.enabled,
                    pending: pending(l.intid).unwrap_or(l.pending),
                },
            );
        }
        v
    }

    /// Whether `dst` shows the guest what this view showed. A never-programmed command
    /// queue base (its reset value 0) is not guest state: any restore that writes it
    /// back reads KVM's sanitised 0x1800000000000000 (inner RaWb,
    /// `vgic_sanitise_its_baser`), as with GICR_PROPBASER ([`super::GuestView::shown_by`]).
    pub fn shown_by(&self, dst: &ItsView) -> bool {
        self.registers_shown_by(dst)
            && self.devices == dst.devices
            && self.events == dst.events
            && self.collections == dst.collections
            && self.lpis == dst.lpis
    }

    fn registers_shown_by(&self, dst: &ItsView) -> bool {
        self.registers()
            .iter()
            .zip(dst.registers())
            .all(|(a, b)| a.2 == b.2 || a.0 == regs::GITS_CBASER && a.2 == 0)
    }

    /// What differs, by kind (for [`super::SourceSnapshot::causes`]).
    pub fn causes(&self, dst: &ItsView, out: &mut BTreeSet<String>) {
        if !self.registers_shown_by(dst) {
            out.insert("GITS registers".into());
        }
        if self.devices != dst.devices {
            out.insert("ITS device table".into());
        }
        if self.events != dst.events {
            out.insert("ITS event mappings (ITT)".into());
        }
        if self.collections != dst.collections {
            out.insert("ITS collection table".into());
        }
        let cfg = |l: &LpiView| (l.priority, l.enabled);
        let lpi = |f: &dyn Fn(&LpiView, &LpiView) -> bool| {
            self.lpis
                .iter()
                .any(|(i, a)| dst.lpis.get(i).is_none_or(|b| f(a, b)))
        };
        if lpi(&|a, b| cfg(a) != cfg(b)) {
            out.insert("LPI configuration".into());
        }
        if lpi(&|a, b| a.pending != b.pending) {
            out.insert("LPI pending".into());
        }
    }

    fn registers(&self) -> [(u32, &'static str, u64); 6] {
        [
            (regs::GITS_CTLR, "GITS_CTLR", self.enabled as u64),
            (regs::GITS_CBASER, "GITS_CBASER", self.cbaser),
            (regs::GITS_CREADR, "GITS_CREADR", self.creadr),
            (regs::GITS_CWRITER, "GITS_CWRITER", self.cwriter),
            (regs::GITS_BASER, "GITS_BASER0", self.basers[0]),
            (regs::GITS_BASER + 8, "GITS_BASER1", self.basers[1]),
        ]
    }
}

/// The rules of the restore's ITS steps: the register writes at `offset`, or the
/// table restore (RESTORE_TABLES and the RAM load) for `offset` None.
fn its_rules(log: Option<&[LogEntry]>, offset: Option<u32>) -> Vec<&'static str> {
    let mut v: Vec<&'static str> = log
        .unwrap_or(&[])
        .iter()
        .filter(|e| e.target == Some(Target::Its))
        .filter(|e| match offset {
            Some(o) => e.action == Action::Write && e.offset == o,
            None => {
                e.action == Action::Ram
                    || e.action == Action::Ctrl && e.offset == vits::CTRL_RESTORE_TABLES as u32
            }
        })
        .flat_map(|e| e.rules.iter().copied().filter(|x| useful_rule(x)))
        .collect();
    if v.is_empty() && log.is_some() {
        v.push(r::VMM_NOT_RESTORED.id);
    }
    v.push(r::MIGRATE_ITS_STATE_CHANGED.id);
    dedup(&mut v);
    v
}

fn diff(
    entry: ItsEntry,
    register: String,
    field: String,
    (source, destination): (u64, u64),
    rules: Vec<&'static str>,
    reason: String,
) -> Difference {
    Difference {
        kind: DiffKind::StateChanged,
        register,
        field,
        source,
        destination,
        rules,
        reason,
        subject: Subject::Its(entry),
    }
}

/// Every ITS difference between the source's view and the destination's, each
/// naming its table entry, explained from the restore `log` where given.
pub fn differences(src: &ItsView, dst: &ItsView, log: Option<&[LogEntry]>) -> Vec<Difference> {
    let mut out = Vec::new();
    if src.shown_by(dst) {
        return out;
    }
    for ((off, name, a), (_, _, b)) in src.registers().into_iter().zip(dst.registers()) {
        if a != b && !(off == regs::GITS_CBASER && a == 0) {
            out.push(diff(
                ItsEntry::Register { offset: off },
                name.into(),
                "value".into(),
                (a, b),
                its_rules(log, Some(off)),
                format!("{name} read {a:#x} at save and reads {b:#x} on the destination"),
            ));
        }
    }
    let tables = || its_rules(log, None);
    let ids: BTreeSet<u32> = src
        .devices
        .keys()
        .chain(dst.devices.keys())
        .copied()
        .collect();
    for device in ids {
        let (a, b) = (src.devices.get(&device), dst.devices.get(&device));
        if a == b {
            continue;
        }
        let show = |x: Option<&u32>| {
            x.map_or("unmapped".to_string(), |n| {
                format!("mapped with {n} event-ID bits")
            })
        };
        out.push(diff(
            ItsEntry::Device { device },
            format!("ITS device {device:#x}"),
            "device table entry (MAPD)".into(),
            (a.map_or(0, |n| *n as u64), b.map_or(0, |n| *n as u64)),
            tables(),
            format!(
                "device {device:#x} was {} at save and is {} on the destination: its MSIs {}",
                show(a),
                show(b),
                if b.is_none() {
                    "are dropped"
                } else {
                    "translate differently"
                }
            ),
        ));
    }
    let keys: BTreeSet<(u32, u32)> = src
        .events
        .keys()
        .chain(dst.events.keys())
        .copied()
        .collect();
    for (device, event) in keys {
        let (a, b) = (
            src.events.get(&(device, event)),
            dst.events.get(&(device, event)),
        );
        if a == b {
            continue;
        }
        let show = |x: Option<&(u32, Option<u16>)>| match x {
            None => "unmapped".to_string(),
            Some((l, Some(c))) => format!("LPI {l} in collection {c}"),
            Some((l, None)) => format!("LPI {l} with no collection"),
        };
        out.push(diff(
            ItsEntry::Event { device, event },
            format!("ITS device {device:#x} event {event}"),
            "interrupt translation entry (MAPTI)".into(),
            (a.map_or(0, |x| x.0 as u64), b.map_or(0, |x| x.0 as u64)),
            tables(),
            format!(
                "device {device:#x} event {event} translated to {} at save and to {} on the destination",
                show(a),
                show(b)
            ),
        ));
    }
    let cols: BTreeSet<u16> = src
        .collections
        .keys()
        .chain(dst.collections.keys())
        .copied()
        .collect();
    for collection in cols {
        let (a, b) = (
            src.collections.get(&collection),
            dst.collections.get(&collection),
        );
        if a == b {
            continue;
        }
        let show = |x: Option<&Option<u32>>| match x {
            Some(Some(v)) => format!("vCPU {v}"),
            Some(None) => "no vCPU".to_string(),
            None => "absent".to_string(),
        };
        let val = |x: Option<&Option<u32>>| x.copied().flatten().map_or(u64::MAX, u64::from);
        out.push(diff(
            ItsEntry::Collection { collection },
            format!("ITS collection {collection}"),
            "collection table entry (MAPC)".into(),
            (val(a), val(b)),
            tables(),
            format!(
                "collection {collection} targeted {} at save and {} on the destination",
                show(a),
                show(b)
            ),
        ));
    }
    // Each LPI the source mapped, named by the event that maps it there.
    let mapper: BTreeMap<u32, (u32, u32)> = src
        .events
        .iter()
        .map(|(&(d, e), &(l, _))| (l, (d, e)))
        .collect();
    for (&intid, a) in &src.lpis {
        let b = dst.lpis.get(&intid);
        if b == Some(a) {
            continue;
        }
        let (device, event) = mapper.get(&intid).copied().unwrap_or((u32::MAX, u32::MAX));
        let entry = ItsEntry::Lpi {
            intid,
            device,
            event,
        };
        let who = format!("LPI {intid} (device {device:#x} event {event})");
        let Some(b) = b else {
            out.push(diff(
                entry,
                format!("LPI {intid}"),
                "mapped".into(),
                (1, 0),
                tables(),
                format!("{who} existed at save and does not on the destination"),
            ));
            continue;
        };
        if (a.priority, a.enabled) != (b.priority, b.enabled) {
            out.push(diff(
                entry,
                format!("LPI {intid}"),
                "configuration (property table: priority, enable)".into(),
                (
                    (a.priority | a.enabled as u8) as u64,
                    (b.priority | b.enabled as u8) as u64,
                ),
                tables(),
                format!(
                    "{who} had priority {:#x}, {} at save and priority {:#x}, {} on the destination",
                    a.priority,
                    if a.enabled { "enabled" } else { "disabled" },
                    b.priority,
                    if b.enabled { "enabled" } else { "disabled" }
                ),
            ));
        }
        if a.pending != b.pending {
            let mut rules = tables();
            rules.insert(0, vits::rules::LPI_PENDING_FROM_TABLE.id);
            out.push(diff(
                entry,
                format!("LPI {intid}"),
                "pending".into(),
                (a.pending as u64, b.pending as u64),
                rules,
                format!(
                    "{who} was {} at save and is {} on the destination",
                    if a.pending { "pending" } else { "not pending" },
                    if b.pending { "pending" } else { "not pending" }
                ),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::guest::{GuestProfile, MSI_DEVICES, PENDING_MSI};
    use crate::host::Host;
    use crate::migrate::{migrate, MigrationSpec, Verdict};
    use crate::vmm::{self, its::ItsOp, Op, Recipe};

    fn spec(vmm: &str, from: &str, to: &str) -> MigrationSpec {
        let mut s = MigrationSpec::new(
            Host::parse_compact(from).unwrap(),
            Host::parse_compact(to).unwrap(),
            vmm::recipe(vmm).unwrap(),
            GuestProfile::Linux,
        );
        s.its = true;
        s
    }

    #[test]
    fn a_linux_guest_maps_its_devices_and_has_an_msi_pending() {
        let src = crate::migrate::prepare_source(&spec("qemu", "v3@6.12", "v3@6.12")).unwrap();
        let v = ItsView::of(&src).unwrap();
        assert!(v.enabled);
        assert_eq!(v.devices.len(), MSI_DEVICES.len());
        assert_eq!(v.events.len(), 5);
        assert_eq!(v.collections.len(), 2);
        let (intid, _) = v.events[&PENDING_MSI];
        assert_eq!(intid, 8193);
        assert!(v.lpis[&8193].pending && v.lpis[&8193].enabled);
        assert_eq!(v.lpis[&8193].priority, 0xa0);
        assert!(!v.lpis[&8192].pending);
    }

    #[test]
    fn every_vmm_with_an_its_carries_it() {
        for id in [
            "qemu",
            "qemu-2025",
            "firecracker",
            "cloud-hypervisor",
            "kernel-doc",
        ] {
            for (from, to) in [("v3@6.12", "v3@6.12"), ("v3@5.10", "v3@7.3")] {
                let m = migrate(&spec(id, from, to)).unwrap();
                let its: Vec<_> = m
                    .differences
                    .iter()
                    .filter(|d| matches!(d.subject, Subject::Its(_)))
                    .collect();
                assert!(its.is_empty(), "{id} {from} -> {to}: {its:?}");
                assert!(
                    m.restore_log.iter().any(|e| e.action == Action::Ctrl
                        && e.offset == vits::CTRL_RESTORE_TABLES as u32
                        && e.errno.is_none()),
                    "{id}: RESTORE_TABLES replayed"
                );
            }
        }
    }

    /// RAM copied before the tables are saved: the destination restores an empty ITS
    /// and the pending MSI is lost, named by its entries.
    #[test]
    fn ram_copied_before_save_tables_loses_the_its() {
        // The kernel-doc recipe with its RAM copy moved before SAVE_TABLES.
        static EARLY: &[ItsOp] = &[ItsOp::Ram, ItsOp::SaveTables, ItsOp::SavePendingTables];
        let kd = vmm::recipe("kernel-doc").unwrap();
        let save: &'static [Op] = Box::leak(
            vec![Op::Its(EARLY), Op::Its(vmm::its::REGS_SAVE), kd.save[1]].into_boxed_slice(),
        );
        let early: &'static Recipe = Box::leak(Box::new(Recipe {
            id: kd.id,
            name: kd.name,
            summary: kd.summary,
            source: vmm::Source {
                repo: kd.source.repo,
                path: kd.source.path,
                commit: kd.source.commit,
                note: kd.source.note,
            },
            nr_irqs: kd.nr_irqs,
            nr_irqs_note: kd.nr_irqs_note,
            its: kd.its,
            its_note: kd.its_note,
            save,
            restore: kd.restore,
            skipped: kd.skipped,
        }));
        let mut s = spec("kernel-doc", "v3@6.12", "v3@6.12");
        s.vmm = early;
        let m = migrate(&s).unwrap();
        assert_eq!(m.verdict, Verdict::SilentlyBroken);
        let subjects: Vec<Subject> = m.differences.iter().map(|d| d.subject).collect();
        assert!(subjects.contains(&Subject::Its(ItsEntry::Device { device: 0x8 })));
        assert!(subjects.contains(&Subject::Its(ItsEntry::Event {
            device: 0x8,
            event: 1
        })));
        assert!(subjects.contains(&Subject::Its(ItsEntry::Lpi {
            intid: 8193,
            device: 0x8,
            event: 1
        })));
        let d = m
            .differences
            .iter()
            .find(|d| d.subject == Subject::Its(ItsEntry::Device { device: 0x8 }))
            .unwrap();
        assert!(
            d.rules.contains(&vits::rules::RESTORE_TABLES.id),
            "{:?}",
            d.rules
        );
        assert!(d.rules.contains(&r::MIGRATE_ITS_STATE_CHANGED.id));
    }
}
