//! Migrations under random inputs.
//! For any state reachable by random guest and userspace writes, `kernel-doc`
//! restores it exactly on an identical host.
use super::*;
use crate::vgic::{Access, Path};
use proptest::prelude::*;

const HOSTS: &[&str] = &[
    "v3@4.19",
    "v4.1@5.7",
    "v4.1+novsgi@5.13",
    "v4.0@5.19",
    "v4.1@6.8",
    "v4.1@6.17",
    "v4.1+novsgi@6.17",
    "v4.1@7.1",
];

/// Offsets worth poking: every per-IRQ family, CTLR/TYPER2/IIDR, the LPI registers.
fn offsets() -> impl Strategy<Value = (Frame, u32, u8)> {
    let dist = prop_oneof![
        Just((Frame::Dist, GicdCtlr::OFFSET, 32u8)),
        Just((Frame::Dist, GicdIidr::OFFSET, 32)),
        Just((Frame::Dist, GicdTyper2::OFFSET, 32)),
        // IGROUPR, ISENABLER, ..., ICACTIVER: seven families 0x80 apart.
        (1u32..8, 0u32..7).prop_map(|(w, f)| {
            let family = GicdIgroupr::OFFSET + GicdIgroupr::LEN * f;
            (Frame::Dist, family + 4 * w, 32)
        }),
        (32u32..256).prop_map(|i| (Frame::Dist, GicdIpriorityr::OFFSET + i, 8)),
        (4u32..32).prop_map(|w| (Frame::Dist, GicdIcfgr::at(w), 32)),
        (32u32..256).prop_map(|i| (Frame::Dist, GicdIrouter::at(i), 64)),
    ];
    let redist = prop_oneof![
        Just((Frame::Redist, GicrCtlr::OFFSET, 32u8)),
        Just((Frame::Redist, GicrPropbaser::OFFSET, 64)),
        Just((Frame::Redist, GicrPendbaser::OFFSET, 64)),
        // GICR_IGROUPR0 ... GICR_ICACTIVER0, 0x80 apart.
        (0u32..7).prop_map(|f| (Frame::Redist, GicrIgroupr0::OFFSET + 0x80 * f, 32)),
        (0u32..32).prop_map(|i| (Frame::Redist, GicrIpriorityr::OFFSET + i, 8)),
    ];
    prop_oneof![3 => dist, 2 => redist]
}

#[derive(Clone, Debug)]
enum Poke {
    /// A guest store or a VMM's KVM_SET_DEVICE_ATTR (its vCPU taken modulo the VM's).
    Reg(Access),
    Level(u32, u32, u32),
}

fn poke() -> impl Strategy<Value = Poke> {
    prop_oneof![
        5 => (offsets(), 0u32..3, any::<u64>()).prop_map(|((f, o, w), v, x)| Poke::Reg(Access::guest_write(f, v, o, w, if w == 64 { x } else { x & ((1 << w) - 1) }))),
        3 => (offsets(), 0u32..3, any::<u32>()).prop_map(|((f, o, w), v, x)| Poke::Reg(Access::user_write(f, v, if w == 64 { o } else { o & !3 }, x))),
        1 => (0u32..3, 0u32..8, any::<u32>()).prop_map(|(v, i, x)| Poke::Level(v, 32 * i, x)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]
    #[test]
    fn kernel_doc_restores_exactly(
        h in proptest::sample::select(HOSTS),
        vcpus in 1u32..=3,
        its in any::<bool>(),
        clear in any::<bool>(),
        pre in proptest::collection::vec(poke(), 0..4),
        post in proptest::collection::vec(poke(), 0..40),
    ) {
        let rc = vmm::recipe("kernel-doc").unwrap();
        let host = Host::parse_compact(h).unwrap();
        let mut vm = Vgic::new(host, VmConfig::new(vcpus, rc.nr_irqs, its).unwrap());
        if clear {
            let _ = vm.user_write(Frame::Dist, 0, 0xC, 0);
        }
        vm.init();
        let apply = |vm: &mut Vgic, p: &Poke, guest_ok: bool| {
            match *p {
                Poke::Reg(a) if guest_ok || a.path == Path::User => {
                    let _ = vm.access(Access { vcpu: a.vcpu % vcpus, ..a });
                }
                Poke::Level(v, i, x) => { let _ = vm.user_level_info(v % vcpus, i, Some(x)); }
                _ => {}
            }
        };
        for p in &pre { apply(&mut vm, p, false); }
        vm.run();
        for p in &post {
            // A VMM writes GICD_CTLR only to restore, before the first run: a write on a
            // running VM latches nASSGIreq without moving the SGIs (no vgic_v4_configure_vsgis),
            // which no restore can reproduce and no VMM does.
            if matches!(p, Poke::Reg(a) if a.path == Path::User && a.frame == Frame::Dist && a.offset == 0) { continue; }
            apply(&mut vm, p, true);
        }
        let (m, _) = migrate_vm(&mut vm, host, rc, RestorePolicy::Kernel).unwrap();
        prop_assert_eq!(m.verdict, Verdict::Compatible, "{:?}", m.reasons());
    }
}
