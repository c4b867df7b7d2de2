//! Guest profiles: what a guest does with its GIC before it is migrated, through
//! the model's guest MMIO path (`Vgic::guest_read`/`guest_write`), so that the
//! model records what the guest looked at (`observed().reads`) and turned on.
//!
//! - `linux`: Linux's GICv3 driver (`drivers/irqchip/irq-gic-v3.c`, 5.19+):
//!   `gic_validate_dist_version` reads GICD_PIDR2; `gic_init_bases` reads GICD_TYPER,
//!   GICD_TYPER2 (5.7+) and, through `gic_enable_quirks`, GICD_IIDR; `gic_dist_init`
//!   disables the distributor, configures every SPI (group 1, disabled, inactive, level,
//!   priority 0xa0, routed to the boot CPU) and re-enables it with nASSGIreq when
//!   TYPER2.nASSGIcap is offered (the sequence kvm-unit-tests arm/micro-bench.c also uses:
//!   disable, write nASSGIreq, enable); `gic_populate_rdist`/`__gic_update_rdist_properties`
//!   read each GICR_TYPER and GICR_CTLR (IR, for direct LPI invalidation, 5.19+);
//!   `gic_cpu_init` enables the SGIs and disables the PPIs. Then a few devices: SPIs 33
//!   and 34 edge, 40 level at priority 0x80, the last SPI level and routed to vCPU 1 (as
//!   a platform-bus device would be), the arch timer PPI 27; and what is in flight when
//!   the VMM pauses it: SPI 33 pending, SPI 34 active (its handler is running), SGI 2
//!   pending on the last vCPU (an IPI).
//!   On a VM with an ITS, both Linux profiles then program LPIs as
//!   `drivers/irqchip/irq-gic-v3-its.c` does (see [`boot_its`]): two PCI devices' MSIs
//!   mapped, one of them pending when the VMM pauses the VM.
//! - `legacy`: the same without TYPER2 and nASSGIreq and without the GICR_CTLR read:
//!   Linux before 5.7, or any guest that never looks at GICv4.1.
//! - `idle`: nothing (firmware, or a VM paused before its kernel touched the GIC).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::catalogue::{
    Frame, GicdCtlr, GicdIcactiver, GicdIcenabler, GicdIcfgr, GicdIgroupr, GicdIidr,
    GicdIpriorityr, GicdIrouter, GicdIsactiver, GicdIsenabler, GicdIspendr, GicdPidr2, GicdTyper,
    GicdTyper2, GicrCtlr, GicrIcactiver0, GicrIcenabler0, GicrIgroupr0, GicrIpriorityr,
    GicrIsenabler0, GicrIspendr0, GicrTyper,
};
use crate::guest_memory::{MemoryLayout, Region};
use crate::vgic::{vcpu_mpidr, AccessError, ConfigError, Vgic, VmConfig};
use crate::vits::regs::{self as its_regs, baser};

/// What the guest did before the migration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GuestProfile {
    Linux,
    Legacy,
    Idle,
}

impl GuestProfile {
    pub const ALL: [GuestProfile; 3] = [
        GuestProfile::Linux,
        GuestProfile::Legacy,
        GuestProfile::Idle,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            GuestProfile::Linux => "linux",
            GuestProfile::Legacy => "legacy",
            GuestProfile::Idle => "idle",
        }
    }

    pub fn summary(self) -> &'static str {
        match self {
            GuestProfile::Linux => "Linux 5.19+: reads TYPER/TYPER2/IIDR/PIDR2 and each GICR_TYPER/GICR_CTLR, sets nASSGIreq when offered, configures SPIs/SGIs/PPIs",
            GuestProfile::Legacy => "an older guest: same configuration, never reads TYPER2 or GICR_CTLR, never sets nASSGIreq",
            GuestProfile::Idle => "a guest that never touched its GIC",
        }
    }

    /// Boot the profile on `vm`, which must have run (`Vgic::run`).
    pub fn boot(self, vm: &mut Vgic) -> Result<(), AccessError> {
        match self {
            GuestProfile::Idle => Ok(()),
            GuestProfile::Linux => boot_linux(vm, true),
            GuestProfile::Legacy => boot_linux(vm, false),
        }
    }
}

impl fmt::Display for GuestProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for GuestProfile {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        GuestProfile::ALL
            .into_iter()
            .find(|g| g.as_str() == s.trim().to_ascii_lowercase())
            .ok_or_else(|| format!("unknown guest profile {s:?}: expected linux, legacy or idle"))
    }
}

const D: Frame = Frame::Dist;
const R: Frame = Frame::Redist;
/// `GICD_INT_DEF_PRI` (include/linux/irqchip/arm-gic-common.h): 0xa0 in every byte.
const DEF_PRI: u64 = 0xa0a0_a0a0;

fn boot_linux(vm: &mut Vgic, v4_1_aware: bool) -> Result<(), AccessError> {
    let nr = vm.config().nr_irqs;
    let vcpus = vm.config().vcpus;
    let last = vcpus - 1;
    let w = |vm: &mut Vgic, f: Frame, cpu: u32, off: u32, width: u8, v: u64| {
        vm.guest_write(f, cpu, off, width, v).map(|_| ())
    };
    // gic_validate_dist_version, gic_init_bases, gic_enable_quirks.
    vm.guest_read(D, 0, GicdPidr2::OFFSET, 32)?;
    vm.guest_read(D, 0, GicdTyper::OFFSET, 32)?;
    vm.guest_read(D, 0, GicdIidr::OFFSET, 32)?;
    let typer2 = if v4_1_aware {
        vm.guest_read(D, 0, GicdTyper2::OFFSET, 32)?.value
    } else {
        0
    };
    // gic_dist_init: disable, wait for RWP, configure the SPIs (gic_dist_config).
    w(vm, D, 0, GicdCtlr::OFFSET, 32, 0)?;
    for n in 1..nr / 32 {
        w(vm, D, 0, GicdIgroupr::at(n), 32, 0xFFFF_FFFF)?; // group 1
        w(vm, D, 0, GicdIcactiver::at(n), 32, 0xFFFF_FFFF)?;
        w(vm, D, 0, GicdIcenabler::at(n), 32, 0xFFFF_FFFF)?;
    }
    for n in 2..nr / 16 {
        w(vm, D, 0, GicdIcfgr::at(n), 32, 0)?; // level
    }
    for n in 8..nr / 4 {
        w(vm, D, 0, GicdIpriorityr::at(n), 32, DEF_PRI)?;
    }
    for i in 32..nr {
        w(vm, D, 0, GicdIrouter::at(i), 64, vcpu_mpidr(0) as u64)?; // route to the boot CPU
    }
    let mut ctlr = GicdCtlr::ARE_NS.mask();
    if GicdTyper2::NASSGICAP.is_set(typer2) {
        // "Enabling SGIs without active state": only while the distributor is disabled.
        ctlr |= GicdCtlr::NASSGIREQ.mask();
        w(vm, D, 0, GicdCtlr::OFFSET, 32, ctlr)?;
    }
    // EnableGrp1A | EnableGrp1 (EnableGrp0 with DS=1: KVM ignores it).
    let enable = GicdCtlr::ENABLE_GRP1.mask() | GicdCtlr::ENABLE_GRP0.mask();
    w(vm, D, 0, GicdCtlr::OFFSET, 32, ctlr | enable)?;

    // Each CPU: find its redistributor, then gic_cpu_init.
    for cpu in 0..vcpus {
        vm.guest_read(R, cpu, GicrTyper::OFFSET, 64)?;
        if v4_1_aware {
            vm.guest_read(R, cpu, GicrCtlr::OFFSET, 32)?; // IR (5.19+)
        }
        w(vm, R, cpu, GicrIgroupr0::OFFSET, 32, 0xFFFF_FFFF)?;
        w(vm, R, cpu, GicrIcactiver0::OFFSET, 32, 0xFFFF_FFFF)?;
        w(vm, R, cpu, GicrIcenabler0::OFFSET, 32, 0xFFFF_0000)?; // PPIs off
        w(vm, R, cpu, GicrIsenabler0::OFFSET, 32, 0x0000_FFFF)?; // SGIs on
        for n in 0..8 {
            w(vm, R, cpu, GicrIpriorityr::at(n), 32, DEF_PRI)?;
        }
        w(vm, R, cpu, GicrIsenabler0::OFFSET, 32, 1 << 27)?; // the virtual timer PPI
    }

    // Devices: SPIs 33 and 34 edge (ICFGR2 bits 3 and 5), SPI 40 level at 0x80,
    // the last SPI level and routed to the last vCPU.
    w(vm, D, 0, GicdIcfgr::at(2), 32, (1 << 3) | (1 << 5))?;
    w(vm, D, 0, GicdIpriorityr::OFFSET + 40, 8, 0x80)?; // INTID 40's byte
    w(vm, D, 0, GicdIrouter::at(34), 64, vcpu_mpidr(last) as u64)?;
    w(
        vm,
        D,
        0,
        GicdIrouter::at(nr - 1),
        64,
        vcpu_mpidr(last) as u64,
    )?;
    for intid in [33, 34, 40, nr - 1] {
        w(
            vm,
            D,
            0,
            GicdIsenabler::at(intid / 32),
            32,
            1 << (intid % 32),
        )?;
    }
    // In flight at the pause: SPI 33 pending, SPI 34 active, an IPI (SGI 2) pending.
    w(vm, D, 0, GicdIspendr::at(1), 32, 1 << 1)?;
    w(vm, D, 0, GicdIsactiver::at(1), 32, 1 << 2)?;
    w(vm, R, last, GicrIspendr0::OFFSET, 32, 1 << 2)?;
    if vm.has_its_device() && !vm.config().memory.is_empty() {
        boot_its(vm)?;
    }
    Ok(())
}

/// Guest RAM of a VM a VMM builds for a migration: none without an ITS; with one,
/// 16 MiB at [`RAM_BASE`] (where the ITS's tables, the command queue and the LPI
/// tables live, and where `gicx-kvm` maps `vm.memory`).
pub fn vm_config(vcpus: u32, nr_irqs: u32, its: bool) -> Result<VmConfig, ConfigError> {
    let mut c = VmConfig::new(vcpus, nr_irqs, its)?;
    if its {
        c.memory = MemoryLayout::new(&[Region {
            base: RAM_BASE,
            size: RAM_SIZE,
        }])
        .expect("one aligned region is a valid layout");
    }
    Ok(c)
}

/// Where [`vm_config`]'s RAM starts, and its size.
pub const RAM_BASE: u64 = 0x5000_0000;
pub const RAM_SIZE: u64 = 0x100_0000;

/// The guest's LPI and ITS memory (all in [`vm_config`]'s RAM).
pub mod its_layout {
    use super::RAM_BASE;
    /// The flat device table: one 64 KiB page (8192 device IDs of 8 bytes).
    pub const DEVICE_TABLE: u64 = RAM_BASE;
    /// The collection table: one 64 KiB page.
    pub const COLLECTION_TABLE: u64 = RAM_BASE + 0x10_0000;
    /// The command queue: 64 KiB (`ITS_CMD_QUEUE_SZ`), CBASER.Size = 15.
    pub const COMMAND_QUEUE: u64 = RAM_BASE + 0x20_0000;
    /// ITTs, 256-byte aligned, one per device from here.
    pub const ITT_BASE: u64 = RAM_BASE + 0x30_0000;
    /// The LPI property table (GICR_PROPBASER), 16 ID bits.
    pub const PROP_TABLE: u64 = RAM_BASE + 0x80_0000;
    /// vCPU n's pending table at PEND_TABLES + n * 64 KiB.
    pub const PEND_TABLES: u64 = RAM_BASE + 0x90_0000;
}

/// The PCI devices whose MSIs the guest maps: (device ID = requester ID, vectors,
/// first LPI). Linux allocates LPIs in chunks of 32 from 8192 (`alloc_lpi_range`).
pub const MSI_DEVICES: [(u32, u32, u32); 2] = [
    // virtio-net at 00:01.0: config, rx, tx.
    (0x8, 3, 8192),
    // virtio-blk at 00:02.0: config, requests.
    (0x10, 2, 8224),
];
/// The MSI in flight when the VMM pauses the VM: virtio-net's rx vector (event 1,
/// LPI 8193), signalled (`KVM_SIGNAL_MSI`, as an irqfd would) and not yet taken.
pub const PENDING_MSI: (u32, u32) = (0x8, 1);
/// `LPI_PROP_DEFAULT_PRIO` (0xa0) | `LPI_PROP_GROUP1` (bit 1) | `LPI_PROP_ENABLED`.
const LPI_PROP: u64 = 0xa0 | 0x2 | 0x1;

/// What `irq-gic-v3-its.c` does on a VM with an ITS, in its order, through the guest
/// MMIO path (and the guest's own stores to its RAM):
/// - `its_probe_one`: GITS_TYPER, GITS_CTLR (quiescent); `its_alloc_tables`: each
///   GITS_BASER<n> read, then programmed Valid with its table (flat; one 64 KiB page
///   each, which holds the device IDs used here); GITS_CBASER with the 64 KiB queue,
///   GITS_CWRITER = 0; `its_enable_quirks`/`its_init`: GITS_CTLR.Enabled = 1.
/// - `its_cpu_init_lpis` per CPU: GICR_PROPBASER (the property table, 16 ID bits),
///   GICR_PENDBASER (its pending table), GICR_CTLR.EnableLPIs.
/// - `its_cpu_init_collections`: MAPC collection n → vCPU n (GITS_TYPER.PTA = 0: the
///   processor number), INVALL.
/// - per device (`its_msi_prepare` → `its_create_device`): MAPD with an ITT sized for
///   its vectors; per vector (`its_irq_domain_activate`): MAPTI event → LPI on the
///   boot CPU's collection; `its_unmask_irq`: the LPI's property byte (priority 0xa0,
///   Group 1, enabled) and INV; then SYNC.
/// - the VMM signals [`PENDING_MSI`] just before it pauses the VM.
pub fn boot_its(vm: &mut Vgic) -> Result<(), AccessError> {
    // The audit boots hundreds of 2-vCPU sources: their steps are made once.
    static TWO_VCPUS: std::sync::OnceLock<Vec<crate::scenario::Step>> = std::sync::OnceLock::new();
    let vcpus = vm.config().vcpus;
    let other;
    let steps = if vcpus == 2 {
        TWO_VCPUS.get_or_init(|| its_steps(2))
    } else {
        other = its_steps(vcpus);
        &other
    };
    for (i, step) in steps.iter().enumerate() {
        let rep = crate::scenario::run_step(vm, i, step)?;
        if let Some(e) = rep.outcome.as_ref().and_then(|o| o.errno) {
            return Err(AccessError::Setup(format!(
                "the guest's ITS setup failed at {}: {e}",
                rep.summary
            )));
        }
    }
    Ok(())
}

/// [`boot_its`] as scenario steps (what it runs, and what
/// [`crate::migrate::source_scenario`] shows), for a VM of `vcpus` vCPUs.
pub fn its_steps(vcpus: u32) -> Vec<crate::scenario::Step> {
    use its_layout::*;
    use serde_json::json;
    let hex = |v: u64| format!("{v:#x}");
    let mut v = vec![
        json!({"op": "guest_read", "reg": "GITS_TYPER", "width": 64, "note": "its_probe_one reads GITS_TYPER"}),
        json!({"op": "guest_read", "reg": "GITS_CTLR", "note": "its_probe_one: the ITS is quiescent"}),
    ];
    for (n, table, what) in [
        (0u32, DEVICE_TABLE, "device"),
        (1, COLLECTION_TABLE, "collection"),
    ] {
        let reg = format!("GITS_BASER{n}");
        v.push(json!({"op": "guest_read", "reg": reg, "width": 64, "note": "its_alloc_tables reads the table's type and entry size"}));
        // Type and Entry_Size are read-only: KVM keeps them whatever is written.
        v.push(json!({"op": "guest_write", "reg": reg, "width": 64,
            "value": hex(baser::VALID | baser::PAGE_SIZE_64K | table),
            "note": format!("its_setup_baser: the {what} table, one 64 KiB page, Valid")}));
    }
    v.push(json!({"op": "guest_write", "reg": "GITS_CBASER", "width": 64, "value": hex(baser::VALID | COMMAND_QUEUE | 15), "note": "its_alloc_tables: the 64 KiB command queue (ITS_CMD_QUEUE_SZ)"}));
    v.push(json!({"op": "guest_write", "reg": "GITS_CWRITER", "width": 64, "value": 0}));
    v.push(json!({"op": "guest_write", "reg": "GITS_CTLR", "value": its_regs::ctlr::ENABLE, "note": "its_probe_one: GITS_CTLR.Enabled"}));
    for cpu in 0..vcpus {
        v.push(json!({"op": "guest_write", "reg": "GICR_PROPBASER", "vcpu": cpu, "width": 64, "value": hex(PROP_TABLE | 15), "note": "its_cpu_init_lpis: the property table, 16 ID bits"}));
        v.push(json!({"op": "guest_write", "reg": "GICR_PENDBASER", "vcpu": cpu, "width": 64, "value": hex(PEND_TABLES + 0x1_0000 * cpu as u64), "note": "its_cpu_init_lpis: this CPU's pending table"}));
        v.push(json!({"op": "guest_write", "reg": "GICR_CTLR", "vcpu": cpu, "value": GicrCtlr::ENABLE_LPIS.mask(), "note": "its_cpu_init_lpis: EnableLPIs"}));
    }
    for cpu in 0..vcpus {
        v.push(json!({"op": "its_command", "cmd": "mapc", "collection": cpu, "target": cpu, "note": "its_cpu_init_collections: collection n on CPU n (GITS_TYPER.PTA = 0)"}));
        v.push(json!({"op": "its_command", "cmd": "invall", "collection": cpu}));
    }
    for (i, (device, vectors, first_lpi)) in MSI_DEVICES.into_iter().enumerate() {
        v.push(json!({"op": "its_command", "cmd": "mapd", "device": device, "eventid_bits": 2,
            "itt_addr": hex(ITT_BASE + 0x100 * i as u64), "note": "its_create_device: the device's ITT"}));
        for event in 0..vectors {
            let intid = first_lpi + event;
            v.push(json!({"op": "its_command", "cmd": "mapti", "device": device, "event": event, "intid": intid, "collection": 0,
                "note": "its_irq_domain_activate: the vector's LPI on the boot CPU's collection"}));
            v.push(json!({"op": "mem_write", "addr": hex(PROP_TABLE + (intid - 8192) as u64), "width": 8, "value": hex(LPI_PROP),
                "note": "its_unmask_irq: priority 0xa0, Group 1, enabled"}));
            v.push(json!({"op": "its_command", "cmd": "inv", "device": device, "event": event}));
        }
        v.push(json!({"op": "its_command", "cmd": "sync", "target": 0}));
    }
    let translater = crate::vgic::its_device::DEFAULT_ITS_BASE + its_regs::GITS_TRANSLATER as u64;
    v.push(json!({"op": "msi", "addr": hex(translater), "data": PENDING_MSI.1, "devid": PENDING_MSI.0,
        "note": "the VMM signals virtio-net's rx vector (KVM_SIGNAL_MSI) just before the pause: LPI 8193 pending"}));
    v.into_iter()
        .map(|x| serde_json::from_value(x).expect("the guest's ITS steps are valid scenario steps"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::Host;
    use crate::vgic::VmConfig;

    fn booted(host: &str, g: GuestProfile) -> Vgic {
        let mut vm = Vgic::new(
            Host::parse_compact(host).unwrap(),
            VmConfig::new(2, 64, false).unwrap(),
        );
        vm.init();
        vm.run();
        g.boot(&mut vm).unwrap();
        vm
    }

    #[test]
    fn linux_takes_vsgis_where_offered() {
        let vm = booted("v4.1@6.17", GuestProfile::Linux);
        assert!(vm.dist().nassgireq && vm.dist().enabled);
        assert!(vm.irq(0, 1).unwrap().hw, "SGIs moved to hardware");
        assert!(
            vm.irq(1, 2).unwrap().hw_pending,
            "the IPI is pending in hardware"
        );
        for key in [
            "GICD_TYPER2",
            "GICD_IIDR",
            "GICD_PIDR2",
            "GICR_TYPER@vcpu1",
            "GICR_CTLR@vcpu0",
        ] {
            assert!(vm.observed().reads.contains_key(key), "{key}");
        }
        let vm = booted("v4.0@6.17", GuestProfile::Linux);
        assert!(!vm.dist().nassgireq && vm.dist().enabled);
        assert!(vm.irq(1, 2).unwrap().pending_latch);
    }

    #[test]
    fn legacy_never_looks_at_gicv4_1() {
        let vm = booted("v4.1@6.17", GuestProfile::Legacy);
        assert!(!vm.dist().nassgireq && vm.dist().enabled);
        assert!(!vm.observed().reads.contains_key("GICD_TYPER2"));
        assert!(vm.irq(0, 34).unwrap().active && vm.irq(0, 33).unwrap().pending_latch);
        assert_eq!(vm.irq(0, 63).unwrap().mpidr, 1);
        let idle = booted("v4.1@6.17", GuestProfile::Idle);
        assert!(idle.observed().reads.is_empty() && !idle.dist().enabled);
    }
}
