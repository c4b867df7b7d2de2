use proptest::prelude::*;

use super::*;
use crate::catalogue::{self, FieldKind, Frame, Handler, CATALOGUE};
use crate::host::GicHw;

fn running(host: &str, config: VmConfig) -> Vgic {
    let mut vm = Vgic::new(Host::parse_compact(host).unwrap(), config);
    assert!(vm.init().ok());
    assert!(vm.run().ok());
    vm
}

#[test]
fn mpidr_maps_back_to_the_vcpu() {
    for i in 0..MAX_VCPUS {
        assert_eq!(mpidr_to_vcpu(vcpu_mpidr(i), MAX_VCPUS), Some(i), "vCPU {i}");
    }
    assert_eq!(vcpu_mpidr(17), 0x101);
    assert_eq!(vcpu_mpidr(4096 + 33), 0x01_0201);
    assert_eq!(
        mpidr_to_vcpu(0x10, 4),
        None,
        "Aff0 >= 16 never names a vCPU"
    );
    assert_eq!(mpidr_to_vcpu(0x3, 3), None);
}

#[test]
fn vm_config_bounds_follow_kvm() {
    assert!(VmConfig::new(4, 992, false).is_ok());
    assert_eq!(
        VmConfig::new(4, 1024, false),
        Err(ConfigError::NrIrqs(1024))
    );
    assert_eq!(
        VmConfig::new(4, 96 + 1, false),
        Err(ConfigError::NrIrqs(97))
    );
    assert_eq!(VmConfig::new(4, 32, false), Err(ConfigError::NrIrqs(32)));
    assert_eq!(VmConfig::new(0, 256, false), Err(ConfigError::Vcpus(0)));
    assert_eq!(VmConfig::new(513, 256, false), Err(ConfigError::Vcpus(513)));
}

#[test]
fn impossible_accesses_are_errors_not_outcomes() {
    let mut vm = running("v3@6.8", VmConfig::default());
    assert_eq!(
        vm.guest_read(Frame::Dist, 0, 0, 12).unwrap_err(),
        AccessError::BadWidth(12)
    );
    assert_eq!(
        vm.guest_write(Frame::Dist, 0, 0, 8, 0x100).unwrap_err(),
        AccessError::ValueTooWide {
            value: 0x100,
            width: 8
        }
    );
    assert!(matches!(
        vm.guest_read(Frame::Dist, 0, 0x1_0000, 32),
        Err(AccessError::OutsideFrame { .. })
    ));
    assert_eq!(
        vm.guest_read(Frame::Dist, 9, 0, 32).unwrap_err(),
        AccessError::NoSuchVcpu { vcpu: 9, vcpus: 4 }
    );
    let mut fresh = Vgic::new(Host::parse_compact("v3@6.8").unwrap(), VmConfig::default());
    assert_eq!(
        fresh.guest_read(Frame::Dist, 0, 0, 32).unwrap_err(),
        AccessError::GuestNotRunning
    );
}

#[test]
fn saved_state_round_trips_and_bad_state_is_refused() {
    let mut vm = running("v4.1@6.17", VmConfig::new(2, 64, true).unwrap());
    vm.guest_write(Frame::Dist, 0, 0x0, 32, 0x102).unwrap();
    vm.guest_write(Frame::Dist, 0, 0x420, 32, 0xa0a0_a0a0)
        .unwrap();
    let json = serde_json::to_string(vm.state()).unwrap();
    let back: VgicState = serde_json::from_str(&json).unwrap();
    assert_eq!(&back, vm.state());
    let host = *vm.host();
    let rebuilt = Vgic::from_state(host, back.clone()).unwrap();
    assert_eq!(
        rebuilt.peek_guest(Frame::Dist, 0, 0x420, 32),
        Some(0xa0a0_a0a0)
    );

    let mut bad = back.clone();
    bad.dist.spis.pop();
    assert!(matches!(
        Vgic::from_state(host, bad),
        Err(StateError::SpiCount { .. })
    ));
    let mut bad = back.clone();
    bad.redists.pop();
    assert!(matches!(
        Vgic::from_state(host, bad),
        Err(StateError::RedistCount { .. })
    ));
    let mut bad = back.clone();
    bad.dist.implementation_rev = 7;
    assert_eq!(
        Vgic::from_state(host, bad).unwrap_err(),
        StateError::Revision(7)
    );
    // The format version: written, read back, and a version this build does not
    // know refused with a message naming both.
    assert_eq!(back.version, VgicState::FORMAT_VERSION);
    assert!(json.contains("\"version\":1"), "{json}");
    let mut bad = back.clone();
    bad.version = 2;
    let err = Vgic::from_state(host, bad).unwrap_err();
    assert_eq!(
        err,
        StateError::Version {
            found: 2,
            expected: 1
        }
    );
    assert!(err.to_string().contains("version 2"), "{err}");
    // A snapshot written before the field existed reads as version 1.
    let old = json.replacen("\"version\":1,", "", 1);
    assert_ne!(old, json);
    let old: VgicState = serde_json::from_str(&old).unwrap();
    assert!(Vgic::from_state(host, old).is_ok());
}

#[test]
fn the_guest_observations_record_what_it_read_and_enabled() {
    let mut vm = running("v4.1@6.8", VmConfig::default());
    vm.guest_read(Frame::Dist, 0, 0xC, 32).unwrap();
    vm.guest_read(Frame::Redist, 2, 0x8, 32).unwrap();
    vm.guest_write(Frame::Dist, 0, 0x0, 32, 0x100).unwrap();
    vm.guest_write(Frame::Dist, 0, 0x0, 32, 0x102).unwrap();
    let o = vm.observed();
    assert_eq!(o.reads.get("GICD_TYPER2"), Some(&0x100));
    assert!(o.reads.contains_key("GICR_TYPER@vcpu2"));
    assert!(o.features.contains("nASSGIreq") && o.features.contains("distributor enabled"));
}

#[test]
fn configure_vsgis_moves_pending_state_both_ways() {
    let mut vm = running("v4.1@6.8", VmConfig::new(2, 64, false).unwrap());
    // SGI 3 pending in software on vCPU 1, then switch to hardware.
    vm.guest_write(Frame::Redist, 1, 0x1_0200, 32, 1 << 3)
        .unwrap();
    assert!(vm.irq(1, 3).unwrap().pending_latch);
    vm.guest_write(Frame::Dist, 0, 0x0, 32, 0x100).unwrap();
    let irq = vm.irq(1, 3).unwrap();
    assert!(irq.hw && irq.hw_pending && !irq.pending_latch);
    assert_eq!(vm.peek_user(Frame::Redist, 1, 0x1_0200), Some(1 << 3));
    // And back: the hardware pending bit returns to the latch.
    vm.guest_write(Frame::Dist, 0, 0x0, 32, 0x0).unwrap();
    let irq = vm.irq(1, 3).unwrap();
    assert!(!irq.hw && irq.pending_latch && !irq.hw_pending);
}

/// Bits a guest read of `desc` may ever return on a host of `era`, per the
/// catalogue's field kinds and KVM's per-IRQ encodings.
fn possible_bits(vm: &Vgic, frame: Frame, off: u32, width: u8) -> u64 {
    let all = if width == 64 {
        u64::MAX
    } else {
        (1u64 << width) - 1
    };
    let Some(d) = catalogue::find_by_offset(frame, off) else {
        return 0;
    };
    if !d.kvm_region_in(vm.era()) {
        return 0;
    }
    let byte = (off - d.offset) % d.reg_bytes as u32;
    let shift = byte * 8;
    let mask_fields = |extra: u64| -> u64 {
        let m = d
            .fields
            .iter()
            .filter(|f| f.kind != FieldKind::Raz)
            .fold(extra, |m, f| m | f.mask());
        (m >> shift) & all
    };
    match d.handler {
        Handler::RaoWi => all,
        Handler::Priority => 0xF8F8_F8F8_F8F8_F8F8 & all,
        Handler::Config => 0xAAAA_AAAA & all,
        Handler::IdRegs => 0xFF,
        Handler::RdIidr => 0x4B00_043B,
        Handler::Irouter => 0xFF_FFFF >> shift,
        // GICR_CTLR: the RAZ kinds above are the guest-invisible control bits.
        Handler::RdCtlr => 0xF,
        Handler::PropBaser | Handler::PendBaser => {
            let defined = catalogue::defined_bits(catalogue::GicrPropbaser::FIELDS)
                | catalogue::defined_bits(catalogue::GicrPendbaser::FIELDS);
            (defined >> shift) & all
        }
        Handler::DistCtlr
        | Handler::DistTyper
        | Handler::DistIidr
        | Handler::DistTyper2
        | Handler::RdTyper
        | Handler::Syncr => mask_fields(0),
        _ if d.per_irq.is_some() => all,
        _ => mask_fields(0),
    }
}

fn host_strategy() -> impl Strategy<Value = Host> {
    (
        prop::sample::select(GicHw::ALL.to_vec()),
        any::<bool>(),
        any::<bool>(),
        prop::sample::select(Era::ALL.to_vec()),
        0u16..3,
    )
        .prop_map(|(gic, cpuif, v4, era, bump)| {
            // A GICv5 host exists from 6.17 and has no v4.1 CPU interface.
            let (era, cpuif) = if gic == GicHw::V5 {
                (era.max(Era::V6_17), false)
            } else {
                (era, cpuif)
            };
            let v = era.version();
            let kernel = format!("{}.{}", v.major, v.minor + bump);
            Host::new(gic, cpuif, v4, kernel.parse().unwrap()).unwrap()
        })
}

#[derive(Clone, Debug)]
struct Acc {
    guest: bool,
    frame: Frame,
    vcpu: u32,
    off: u32,
    width: u8,
    value: u64,
    write: bool,
}

fn access_strategy() -> impl Strategy<Value = Acc> {
    (
        any::<bool>(),
        prop_oneof![Just(Frame::Dist), Just(Frame::Redist)],
        0u32..5,
        prop_oneof![
            0u32..0x1_0000,
            0x1_0000u32..0x2_0000,
            prop::sample::select(vec![0u32, 4, 8, 0xC, 0x10, 0x6100, 0x1_0200, 0x70, 0x78])
        ],
        prop::sample::select(vec![8u8, 16, 32, 64]),
        any::<u64>(),
        any::<bool>(),
    )
        .prop_map(|(guest, frame, vcpu, off, width, value, write)| {
            let off = off % frame.size();
            Acc {
                guest,
                frame,
                vcpu,
                off,
                width,
                value,
                write,
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    /// No access panics for any offset, width and value on any host and era, on
    /// either path; impossible requests come back as errors.
    #[test]
    fn no_access_panics(host in host_strategy(), its in any::<bool>(), accs in prop::collection::vec(access_strategy(), 1..40)) {
        let mut vm = Vgic::new(host, VmConfig::new(4, 96, its).unwrap());
        for (i, a) in accs.iter().enumerate() {
            if i == accs.len() / 3 { vm.init(); }
            if i == accs.len() / 2 { vm.run(); }
            let value = if a.width == 64 { a.value } else { a.value & ((1u64 << a.width) - 1) };
            let r = match (a.guest, a.write) {
                (true, false) => vm.guest_read(a.frame, a.vcpu, a.off, a.width),
                (true, true) => vm.guest_write(a.frame, a.vcpu, a.off, a.width, value),
                (false, false) => vm.user_read(a.frame, a.vcpu, a.off),
                (false, true) => vm.user_write(a.frame, a.vcpu, a.off, value as u32),
            };
            if let Ok(o) = r {
                prop_assert!(!o.rules.is_empty(), "every outcome names its rule: {:?}", a);
            }
        }
    }

    /// A guest read never returns bits KVM would not.
    #[test]
    fn guest_reads_only_return_bits_kvm_can_produce(host in host_strategy(), its in any::<bool>(), accs in prop::collection::vec(access_strategy(), 1..60)) {
        let mut vm = Vgic::new(host, VmConfig::new(4, 96, its).unwrap());
        vm.init();
        vm.run();
        for a in &accs {
            let value = if a.width == 64 { a.value } else { a.value & ((1u64 << a.width) - 1) };
            if a.write {
                let _ = if a.guest { vm.guest_write(a.frame, a.vcpu, a.off, a.width, value) } else { vm.user_write(a.frame, a.vcpu, a.off, value as u32) };
            } else if let Ok(o) = vm.guest_read(a.frame, a.vcpu, a.off, a.width) {
                let possible = possible_bits(&vm, a.frame, a.off, a.width);
                prop_assert_eq!(o.value & !possible, 0, "{:?} read {:#x}, possible {:#x} ({:?})", a, o.value, possible, o.register);
            }
        }
    }
}

#[test]
fn every_catalogue_register_is_reachable_on_both_paths() {
    let mut vm = running("v4.1@7.1", VmConfig::new(4, 992, true).unwrap());
    for r in CATALOGUE {
        let g = vm.guest_read(r.frame, 0, r.offset, 32).unwrap();
        assert!(!g.rules.is_empty(), "{}", r.name);
        let u = vm.user_read(r.frame, 0, r.offset).unwrap();
        assert!(u.ok(), "{} userspace read failed: {:?}", r.name, u.errno);
        let has = vm.user_has(r.frame, 0, r.offset).unwrap();
        // GICR_STATUSR is a region the binary search never finds (it is out of
        // order in vgic_v3_rd_registers[]): HAS_ATTR says -ENXIO.
        let findable = r.kvm_region_in(Era::V7_1) && r.name != "GICR_STATUSR";
        assert_eq!(has.ok(), findable, "HAS_ATTR of {}", r.name);
    }
}

#[test]
fn user_sysreg_follows_vgic_sys_reg_v3() {
    use super::cpu_sysregs::*;
    let config = VmConfig::new(2, 64, false).unwrap();
    let host = Host::parse_compact("v3@6.8").unwrap();
    let errno = |o: Outcome| (o.errno, o.rule().map(|r| r.id));
    // Before CTRL_INIT: -EBUSY; a vCPU that does not exist: -EINVAL (checked first).
    let mut vm = Vgic::new(host, config);
    assert_eq!(
        errno(vm.user_sysreg(0, ICC_PMR_EL1, None)),
        (Some(Errno::EBUSY), Some("uaccess.before_init"))
    );
    assert_eq!(
        errno(vm.user_sysreg(2, ICC_PMR_EL1, None)),
        (Some(Errno::EINVAL), Some("uaccess.bad_mpidr"))
    );
    let mut vm = running("v3@6.8", config);
    assert_eq!(
        errno(vm.user_sysreg(5, ICC_PMR_EL1, Some(0xf0))),
        (Some(Errno::EINVAL), Some("uaccess.bad_mpidr"))
    );
    // PMR keeps all 8 bits (set_gic_pmr, checked on real KVM); IGRPEN1 bit 0.
    assert!(vm.user_sysreg(1, ICC_PMR_EL1, Some(0xf7)).ok());
    assert_eq!(vm.user_sysreg(1, ICC_PMR_EL1, None).value, 0xf7);
    assert!(vm.user_sysreg(1, ICC_IGRPEN1_EL1, Some(1)).ok());
    assert!(vm.state().cpuifs[1].igrpen1 && !vm.state().cpuifs[0].igrpen1);
    // CTLR: PRIbits 5 (field 4), IDbits 16, A3V; only CBPR/EOImode are stored.
    let ctlr = vm.user_sysreg(0, ICC_CTLR_EL1, None).value;
    assert_eq!(ctlr, 4 << 8 | 1 << 15);
    assert!(vm.user_sysreg(0, ICC_CTLR_EL1, Some(ctlr | 2)).ok());
    assert!(vm.state().cpuifs[0].eoimode);
    for bad in [
        ctlr | 7 << 8,     // PRIbits 8 > 5
        ctlr | 1 << 11,    // 24-bit IDs > 16
        ctlr | 1 << 14,    // SEIS the host lacks
        ctlr & !(1 << 15), // A3V differs
    ] {
        assert_eq!(
            errno(vm.user_sysreg(0, ICC_CTLR_EL1, Some(bad))),
            (Some(Errno::EINVAL), Some("icc.uaccess.ctlr.host_mismatch")),
            "{bad:#x}"
        );
    }
    assert!(
        vm.state().cpuifs[0].eoimode,
        "a refused write changes nothing"
    );
    // Fewer PRIbits are accepted.
    assert!(vm.user_sysreg(0, ICC_CTLR_EL1, Some(3 << 8 | 1 << 15)).ok());
    // SRE must be 1.
    assert_eq!(vm.user_sysreg(0, ICC_SRE_EL1, None).value, 7);
    assert_eq!(
        vm.user_sysreg(0, ICC_SRE_EL1, Some(0)).errno,
        Some(Errno::EINVAL)
    );
    assert!(vm.user_sysreg(0, ICC_SRE_EL1, Some(7)).ok());
    // AP1R0 is held; AP1R1..3 lie beyond 5 priority bits.
    assert!(vm.user_sysreg(0, ICC_AP1R0_EL1, Some(1 << 20)).ok());
    assert_eq!(vm.state().cpuifs[0].ap1r0, 1 << 20);
    assert_eq!(
        errno(vm.user_sysreg(0, ICC_AP1R0_EL1 + 1, Some(1))),
        (Some(Errno::EINVAL), Some("icc.uaccess.apr.beyond_pribits"))
    );
    // Group 0 and the binary points are held as written; BPR1 follows BPR0 under CBPR.
    assert!(vm.user_sysreg(0, ICC_BPR0_EL1, Some(0xfa)).ok());
    assert_eq!(vm.user_sysreg(0, ICC_BPR0_EL1, None).value, 2, "3 bits");
    assert!(vm.user_sysreg(0, ICC_IGRPEN0_EL1, Some(1)).ok());
    assert_eq!(vm.user_sysreg(0, ICC_IGRPEN0_EL1, None).value, 1);
    assert!(vm.user_sysreg(0, ICC_BPR1_EL1, Some(4)).ok());
    assert_eq!(vm.user_sysreg(0, ICC_BPR1_EL1, None).value, 4);
    assert!(vm
        .user_sysreg(0, ICC_CTLR_EL1, Some(3 << 8 | 1 << 15 | 1))
        .ok());
    assert_eq!(
        vm.user_sysreg(0, ICC_BPR1_EL1, None).value,
        3,
        "CBPR: min(BPR0 + 1, 7)"
    );
    // Not a register at all: -ENOENT from 6.0 (the sysreg API), -ENXIO before.
    assert_eq!(
        errno(vm.user_sysreg(0, 0x1234, None)),
        (Some(Errno::ENOENT), Some("icc.uaccess.unknown"))
    );
    let mut old = running("v3@5.10", config);
    assert_eq!(old.user_sysreg(0, 0x1234, None).errno, Some(Errno::ENXIO));
}

/// The catalogue's `Reset::Value`s are what a fresh VM (created, initialised, run
/// once, nothing written) reads, for every instance, on the guest path (the widest
/// width KVM allows) and on the userspace path (32-bit words), on every era and GIC.
#[test]
fn every_reset_value_is_what_a_fresh_vm_reads() {
    use crate::catalogue::Reset;
    for era in Era::ALL {
        for (gic, its) in [("v3", false), ("v4.1", true)] {
            let host = format!("{gic}@{}", era.as_str());
            // nr_irqs 992: every SPI instance exists; 2 vCPUs: redistributors of both kinds.
            let mut vm = running(&host, VmConfig::new(2, 992, its).unwrap());
            for r in CATALOGUE {
                let Reset::Value(reset) = r.reset else {
                    continue;
                };
                for index in 0..r.count() {
                    let off = r.offset + index * r.reg_bytes as u32;
                    let name = r.instance_name(index);
                    // Only the SPIs' instances: the distributor's private slice is RAZ.
                    if r.per_irq.is_some_and(|p| p.private_slice_raz_wi)
                        && r.intid_at(off).unwrap_or(0) < NR_PRIVATE_IRQS
                    {
                        continue;
                    }
                    for vcpu in 0..2 {
                        let width = if r.widths.allows(r.reg_bytes * 8) {
                            r.reg_bytes * 8
                        } else {
                            32
                        };
                        let g = vm.guest_read(r.frame, vcpu, off, width).unwrap();
                        assert_eq!(g.value, reset, "guest {name} vCPU {vcpu} on {host}");
                        let mut user = 0;
                        for word in 0..r.reg_bytes as u32 / 4 {
                            let u = vm.user_read(r.frame, vcpu, off + 4 * word).unwrap();
                            assert!(u.ok(), "user {name} on {host}: {:?}", u.errno);
                            user |= u.value << (32 * word);
                        }
                        assert_eq!(user, reset, "user {name} vCPU {vcpu} on {host}");
                    }
                }
            }
        }
    }
}
