//! The recipes and the replay engine, tested.
use super::*;
use crate::host::Host;

#[test]
fn recipes_address_the_vgic_device_only() {
    // Target::of maps frames to the vGIC device's groups: an ITS frame in a
    // recipe's ops would be replayed on the wrong device.
    for r in RECIPES {
        for ops in [r.save, r.restore] {
            // The ITS device's part is `Op::Its` (vmm/its.rs), never a frame access.
            let json = serde_json::to_string(ops).unwrap();
            assert!(
                !json.contains("\"frame\":\"its\""),
                "{} addresses the ITS frame",
                r.id
            );
            assert!(json.contains("\"dist\""), "{}: no distributor access", r.id);
        }
    }
}

fn fresh(host: &str, recipe: &Recipe, vcpus: u32, its: bool) -> Vgic {
    let cfg = VmConfig::new(vcpus, recipe.nr_irqs, its).unwrap();
    Vgic::new(Host::parse_compact(host).unwrap(), cfg)
}

fn saved_of(host: &str, recipe: &Recipe, vcpus: u32, its: bool) -> SavedState {
    let mut vm = fresh(host, recipe, vcpus, its);
    vm.init();
    vm.run();
    save(&mut vm, recipe, None).unwrap()
}

/// Access counts match the VMMs' own unit tests and the anchors survey (§C.6).
#[test]
fn access_counts_match_the_vmms() {
    let count = |id: &str, vcpus: u32, its: bool| {
        let rc = recipe(id).unwrap();
        let saved = saved_of("v4.1@6.8", rc, vcpus, its);
        let mut vm = fresh("v4.1@6.8", rc, vcpus, its);
        let r = restore(&mut vm, rc, &saved, &RestoreOptions::default());
        assert!(r.refusal.is_none(), "{id}: {:?}", r.refusal);
        r.accesses - 1 // CTRL_INIT
    };
    // Plus, per vCPU, the CPU-interface accesses at PRIbits 5: QEMU and
    // cloud-hypervisor 9 (SRE, CTLR, IGRPEN0, IGRPEN1, PMR, BPR0, BPR1, AP0R0,
    // AP1R0), Firecracker 10 (the same and its num_priority_bits read of CTLR);
    // crosvm 5 (CTLR, PMR, AP1R0, SRE, IGRPEN1).
    const ICC: usize = 9;
    const FC_ICC: usize = 10;
    const CROSVM_ICC: usize = 5;
    // Firecracker: 245 distributor words (its test: 12 registers), 24 per redistributor.
    assert_eq!(count("firecracker", 1, false), 245 + 24 + FC_ICC);
    assert_eq!(count("firecracker", 2, false), 245 + 2 * (24 + FC_ICC));
    // cloud-hypervisor: GICD_CTLR + 568 (its unit test asserts 568) + 24 per vCPU,
    // and with its ITS (always there) the RAM load and set_state's 14 ITS accesses
    // (IIDR, CBASER, CREADR, CWRITER, BASER0..7, RESTORE_TABLES, CTLR).
    const ITS: usize = 1 + 14;
    assert_eq!(count("cloud-hypervisor", 1, true), 1 + 568 + 24 + ICC + ITS);
    // QEMU at num_irq 288: 650 distributor accesses + 8 LEVEL_INFO before July 2025,
    // 642 + 8 after; per vCPU 20 (19 after); plus the TYPER/GICR_TYPER reads (3).
    assert_eq!(count("qemu", 1, false), 3 + 658 + 20 + ICC);
    assert_eq!(count("qemu-2025", 1, false), 3 + 650 + 19 + ICC);
    // crosvm: every word of both frames.
    assert_eq!(
        count("crosvm", 1, false),
        0x2_0000 / 4 + 0x1_0000 / 4 + CROSVM_ICC
    );
}

#[test]
fn qemu_irouter_loop_covers_only_the_lower_half() {
    let rc = recipe("qemu").unwrap();
    let mut src = fresh("v3@6.8", rc, 2, false);
    src.init();
    src.run();
    // Route SPI 100 and SPI 200 to vCPU 1.
    src.guest_write(Frame::Dist, 0, GicdIrouter::OFFSET + 8 * 100, 64, 1)
        .unwrap();
    src.guest_write(Frame::Dist, 0, GicdIrouter::OFFSET + 8 * 200, 64, 1)
        .unwrap();
    let saved = save(&mut src, rc, None).unwrap();
    let mut dst = fresh("v3@6.8", rc, 2, false);
    let r = restore(&mut dst, rc, &saved, &RestoreOptions::default());
    assert!(r.refusal.is_none());
    assert_eq!(
        dst.irq(0, 100).unwrap().mpidr,
        1,
        "144 = 288/2: INTID 100 is covered"
    );
    assert_eq!(
        dst.irq(0, 200).unwrap().mpidr,
        0,
        "INTID 200 is never written"
    );
}

#[test]
fn crosvm_sweep_clears_what_it_restored() {
    let rc = recipe("crosvm").unwrap();
    let mut src = fresh("v3@6.8", rc, 1, false);
    src.init();
    src.run();
    src.guest_write(Frame::Dist, 0, GicdIsenabler::OFFSET + 4, 32, 0b10)
        .unwrap();
    let saved = save(&mut src, rc, None).unwrap();
    let mut dst = fresh("v3@6.8", rc, 1, false);
    let r = restore(
        &mut dst,
        rc,
        &saved,
        &RestoreOptions {
            log: true,
            ..Default::default()
        },
    );
    assert!(r.refusal.is_none());
    assert!(
        !dst.irq(0, 33).unwrap().enabled,
        "ICENABLER after ISENABLER with the same bits"
    );
    assert!(
        !dst.irq(0, 0).unwrap().enabled,
        "the SGI enables go the same way"
    );
    assert!(r
        .log
        .iter()
        .any(|e| e.rules.contains(&"vmm.crosvm.sweep")
            && e.rules.contains(&"irq.enable.clear.uaccess")));
    assert!(
        r.log.len() < 2_000,
        "runs of no-region words fold: {}",
        r.log.len()
    );
}

#[test]
fn fast_replay_equals_full_replay() {
    for id in ["crosvm", "qemu", "firecracker"] {
        let rc = recipe(id).unwrap();
        for (s, t) in [
            ("v4.1@5.13", "v4.1@6.17"),
            ("v4.1@6.17", "v4.0@5.7"),
            ("v3@4.19", "v4.1@7.1"),
        ] {
            let mut src = fresh(s, rc, 2, false);
            src.init();
            src.run();
            src.guest_write(Frame::Dist, 0, GicdIsenabler::OFFSET + 4, 32, 0xF0)
                .unwrap();
            let full = save(&mut src, rc, None).unwrap();
            let map = RegionMap::probe(&src);
            let fast = save(&mut src, rc, Some(&map)).unwrap();
            // The fast save stores no zero read at a word without a region; both read the same.
            assert!(
                full.values.iter().all(|(k, v)| fast.get(*k) == *v),
                "{id} {s}"
            );
            assert!(
                fast.values.iter().all(|(k, v)| full.get(*k) == *v),
                "{id} {s}"
            );
            let mut a = fresh(t, rc, 2, false);
            let mut b = fresh(t, rc, 2, false);
            let ra = restore(&mut a, rc, &full, &RestoreOptions::default());
            let map = RegionMap::probe(&b);
            let rb = restore(
                &mut b,
                rc,
                &fast,
                &RestoreOptions {
                    fast: Some(&map),
                    ..Default::default()
                },
            );
            assert_eq!(ra.refusal, rb.refusal, "{id} {s} -> {t}");
            assert_eq!(a.state(), b.state(), "{id} {s} -> {t}");
            assert_eq!(ra.accesses, rb.accesses);
        }
    }
}

#[test]
fn region_maps_depend_only_on_era_and_shape() {
    // The audit keys its RegionMap cache by (era, nr_irqs, its).
    for era in Era::ALL {
        let mut maps = Vec::new();
        for gic in ["v3", "v4.0", "v4.1", "v4.1+novsgi", "v4.1+nov4"] {
            let host = Host::parse_compact(&format!("{gic}@{}", era.as_str())).unwrap();
            let vm = Vgic::new(host, VmConfig::new(1, 64, false).unwrap());
            maps.push(RegionMap::probe(&vm));
        }
        assert!(maps.windows(2).all(|w| w[0] == w[1]), "{era}");
    }
}

#[test]
fn kernel_doc_falls_back_after_init_before_6_17() {
    let rc = recipe("kernel-doc").unwrap();
    let saved = saved_of("v3@6.8", rc, 1, false);
    let mut vm = fresh("v3@6.8", rc, 1, false);
    let r = restore(
        &mut vm,
        rc,
        &saved,
        &RestoreOptions {
            log: true,
            ..Default::default()
        },
    );
    assert!(r.refusal.is_none(), "{:?}", r.refusal);
    assert!(r.log[0].rules.contains(&"vmm.preinit_fallback"));
    assert_eq!(r.log[1].action, Action::Init);
    let saved = saved_of("v4.1@6.17", rc, 1, false);
    let mut vm = fresh("v4.1@6.17", rc, 1, false);
    let r = restore(
        &mut vm,
        rc,
        &saved,
        &RestoreOptions {
            log: true,
            ..Default::default()
        },
    );
    assert!(r.refusal.is_none());
    assert_eq!(
        r.log[2].action,
        Action::Init,
        "IIDR, TYPER2, then CTRL_INIT"
    );
}

#[test]
fn every_saved_value_a_restore_needs_was_read() {
    // A restore's `Saved` value must come from a save read at the same place.
    for rc in RECIPES {
        // With an ITS where the VMM allows one, so that conditional LPI-table steps run.
        let its = rc.its != ItsSupport::Refused;
        let saved = saved_of("v4.1@6.17", rc, 2, its);
        let mut vm = fresh("v4.1@6.17", rc, 2, its);
        let mut x = exec(&mut vm, Some(&saved), &RestoreOptions::default());
        x.ops(rc.restore, 0);
        assert!(
            x.restore.refusal.is_none(),
            "{}: {:?}",
            rc.id,
            x.restore.refusal
        );
        let mut missing = Vec::new();
        check_saved(rc.restore, &saved, rc.nr_irqs, 2, &mut missing);
        assert!(
            missing.is_empty(),
            "{}: restore reads unsaved {missing:x?}",
            rc.id
        );
    }
}

fn check_saved(ops: &[Op], saved: &SavedState, nr: u32, vcpus: u32, missing: &mut Vec<u32>) {
    let need = |k: u32, missing: &mut Vec<u32>| {
        if saved.values.binary_search_by_key(&k, |e| e.0).is_err() {
            missing.push(k);
        }
    };
    for op in ops {
        match op {
            Op::Write(a, Value::Saved | Value::SavedMasked(_)) => {
                for v in 0..vcpus {
                    match *a {
                        Access::Words {
                            frame,
                            offset,
                            count,
                        } => {
                            for i in 0..count {
                                need(
                                    key(
                                        Target::of(frame),
                                        if frame == Frame::Dist { 0 } else { v },
                                        offset + 4 * i,
                                    ),
                                    missing,
                                );
                            }
                        }
                        Access::Spis { base, bits_per_irq } => {
                            for i in 0..((nr - 32) * bits_per_irq).div_ceil(32) {
                                need(
                                    key(Target::Dist, 0, base + 4 * bits_per_irq + 4 * i),
                                    missing,
                                );
                            }
                        }
                        Access::PrivateLevels => need(key(Target::LevelInfo, v, 0), missing),
                        Access::Sysreg(id) => need(key(Target::CpuSysreg, v, id), missing),
                        _ => {}
                    }
                }
            }
            Op::ClearThenSet { set, .. } => {
                for w in 0..(nr - 32).div_ceil(32) {
                    need(key(Target::Dist, 0, set + 4 + 4 * w), missing);
                }
            }
            Op::ForEachVcpu(inner)
            | Op::PreInit(inner)
            | Op::Quirk { ops: inner, .. }
            | Op::Seq(inner) => check_saved(inner, saved, nr, vcpus, missing),
            Op::IfSet { then, .. } => check_saved(then, saved, nr, vcpus, missing),
            _ => {}
        }
    }
}
