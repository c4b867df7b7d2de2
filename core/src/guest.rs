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
use crate::vgic::{vcpu_mpidr, AccessError, Vgic};

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
    Ok(())
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
