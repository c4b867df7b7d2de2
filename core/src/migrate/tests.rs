//! Migrations, tested.
use super::*;
use crate::errno::Errno;

#[test]
fn cpu_interface_state_is_compared_per_vcpu() {
    let config = VmConfig::new(2, 64, false).unwrap();
    let mut src = Vgic::new(host("v3@6.8"), config);
    src.init();
    src.run();
    let dst = src.clone();
    src.user_sysreg(1, ICC_PMR_EL1, Some(0xf0));
    src.user_sysreg(1, ICC_IGRPEN1_EL1, Some(1));
    src.user_sysreg(0, ICC_AP1R0_EL1, Some(1 << 20));
    let (a, b) = (GuestView::of(&src), GuestView::of(&dst));
    assert!(!a.shown_by(&b));
    let d = state_differences(&a, &b, Some(&[]));
    let regs: Vec<&str> = d.iter().map(|x| x.register.as_str()).collect();
    assert_eq!(
        regs,
        [
            "ICC_AP1R0_EL1@vcpu0",
            "ICC_PMR_EL1@vcpu1",
            "ICC_IGRPEN1_EL1@vcpu1"
        ]
    );
    assert_eq!(
        d[1].rules,
        [r::VMM_NOT_RESTORED.id, r::MIGRATE_STATE_CHANGED.id]
    );
}

fn host(s: &str) -> Host {
    Host::parse_compact(s).unwrap()
}

/// GICv5 hosts (issue 16): a VM with vSGIs cannot move to one, the same
/// VM created with nASSGIcap cleared (6.17+) can, a v4.0 host's VM moves
/// freely, and back to a v4.1 host only a 6.17+ kernel can hide nASSGIcap.
#[test]
fn migrations_to_and_from_gicv5_hosts() {
    let doc = vmm::recipe("kernel-doc").unwrap();
    let run = |from: &str, to: &str, clear: bool| {
        let mut spec = MigrationSpec::new(host(from), host(to), doc, GuestProfile::Linux);
        spec.clear_nassgicap = clear;
        migrate(&spec).unwrap()
    };
    let m = run("v4.1@6.17", "v5@6.17", false);
    assert_eq!(m.verdict, Verdict::Rejected);
    assert!(m.rules.contains(&r::TYPER2_GICV5_HOST.id), "{:?}", m.rules);
    let s = m.suggestion.unwrap();
    assert!(
        s.text.contains("GICv5") && s.text.contains("nASSGIcap cleared"),
        "{s}"
    );
    let m = run("v4.1@6.12", "v5@7.1", false);
    assert_eq!(m.verdict, Verdict::Rejected);
    assert!(m.suggestion.unwrap().text.contains("before 6.17"));
    assert_eq!(
        run("v4.1@6.17", "v5@6.17", true).verdict,
        Verdict::Compatible
    );
    assert_eq!(
        run("v4.0@6.17", "v5@7.1", false).verdict,
        Verdict::Compatible
    );
    assert_eq!(
        run("v5@6.17", "v4.1@6.17", false).verdict,
        Verdict::Compatible
    );
    assert_eq!(
        run("v5@6.17", "v4.1@6.16", false).verdict,
        Verdict::Rejected
    );
    assert_eq!(
        run("v5@7.1", "v4.0@6.12", false).verdict,
        Verdict::Compatible
    );
}

/// A kernel upgrade to a stable version with the IIDR revision fix and the
/// rollback: same revision both ways, nothing the guest sees changes; from a
/// revision-2 kernel the upgraded host restores revision 2, the rollback to
/// 5.15 refuses revision 3.
#[test]
fn stable_upgrades_and_rollbacks_around_the_iidr_fix() {
    let doc = vmm::recipe("kernel-doc").unwrap();
    let run = |from: &str, to: &str| {
        migrate(&MigrationSpec::new(
            host(from),
            host(to),
            doc,
            GuestProfile::Linux,
        ))
        .unwrap()
    };
    assert_eq!(
        run("v4.1@6.12", "v4.1@6.12.88").verdict,
        Verdict::Compatible
    );
    assert_eq!(
        run("v4.1@6.12.88", "v4.1@6.12").verdict,
        Verdict::Compatible
    );
    assert_eq!(
        run("v4.1@5.15", "v4.1@6.12.88").verdict,
        Verdict::Compatible
    );
    let m = run("v4.1@5.15", "v4.1@6.12.87");
    assert_eq!(m.verdict, Verdict::SilentlyBroken);
    assert!(m.differences.iter().any(|d| d.register == "GICD_IIDR"));
    assert!(m
        .differences
        .iter()
        .any(|d| d.register.starts_with("GICR_CTLR@")));
    assert_eq!(run("v4.1@6.12.88", "v4.1@5.15").verdict, Verdict::Rejected);
}

#[test]
fn the_source_scenario_is_the_source_a_migration_prepares() {
    for from in crate::audit::audit_hosts() {
        for recipe in vmm::RECIPES {
            for guest in GuestProfile::ALL {
                let spec = MigrationSpec::new(from, from, recipe, guest);
                let want = prepare_source(&spec).unwrap();
                let sc = source_scenario(from, recipe, guest);
                scenario::validate(&sc).unwrap();
                let mut got = Vgic::new(sc.host, sc.vm);
                for (i, step) in sc.steps.iter().enumerate() {
                    let rep = scenario::run_step(&mut got, i, step).unwrap();
                    assert!(rep.failures.is_empty(), "{:?}", rep.failures);
                }
                assert_eq!(
                    got.state(),
                    want.state(),
                    "{} {} {guest}",
                    from.compact(),
                    recipe.id
                );
            }
        }
    }
}

/// A migrate step after the steps that built its source: the source can be built
/// again with a fix, so source-side fixes are verified and suggested; without the
/// origin only fixes that keep the live source are.
#[test]
fn a_scenario_step_suggests_source_fixes_when_its_origin_is_known() {
    let qemu = vmm::recipe("qemu").unwrap();
    let mut sc = source_scenario(host("v4.1@6.17"), qemu, GuestProfile::Linux);
    let n = sc.steps.len();
    sc.steps.push(scenario::Step::Migrate(MigrateStep {
        to: HostArg(host("v4.0@6.17")),
        vmm: "qemu".into(),
        policy: None,
        expect_verdict: None,
        expect_error: None,
        expect_rule: None,
        expect_rules: Vec::new(),
        note: None,
    }));
    let (rep, _) = scenario::run(&sc).unwrap();
    let m = rep.steps[n].migration.as_ref().unwrap();
    assert_eq!(m.verdict, Verdict::SilentlyBroken);
    let fix = m.suggestion.as_ref().unwrap();
    assert!(fix.changes.contains(&Change::ClearNassgicap), "{fix}");
    assert!(
        fix.changes.contains(&Change::Recipe(RecipeChange::Correct(
            &r::VMM_QEMU_IROUTER_STRIDE
        ))),
        "{fix}"
    );
    // The same spec as a profile migration gives the same suggestion.
    let spec = MigrationSpec {
        its: sc.vm.its,
        ..MigrationSpec::new(
            host("v4.1@6.17"),
            host("v4.0@6.17"),
            qemu,
            GuestProfile::Linux,
        )
    };
    assert_eq!(migrate(&spec).unwrap().suggestion.as_ref(), Some(fix));
    // Without the origin: the live source cannot be created again with nASSGIcap
    // cleared, and no fix that keeps it makes the migration compatible.
    let mut vm = Vgic::new(sc.host, sc.vm);
    for (i, step) in sc.steps[..n].iter().enumerate() {
        scenario::run_step(&mut vm, i, step).unwrap();
    }
    let (m, _) = migrate_vm(&mut vm, host("v4.0@6.17"), qemu, RestorePolicy::Kernel).unwrap();
    assert!(m.fixes.iter().all(|f| f.keeps_source()), "{:?}", m.fixes);
    assert!(m.suggestion.is_none(), "{:?}", m.suggestion);
}

fn go(from: &str, to: &str, vmm: &str, guest: GuestProfile, policy: RestorePolicy) -> Migration {
    let mut spec = MigrationSpec::new(host(from), host(to), vmm::recipe(vmm).unwrap(), guest);
    spec.policy = policy;
    migrate(&spec).unwrap()
}

#[test]
fn identical_hosts_kernel_doc_is_compatible() {
    for g in GuestProfile::ALL {
        for h in ["v4.1@6.17", "v3@4.19", "v4.1+novsgi@5.13", "v4.0@7.1"] {
            let m = go(h, h, "kernel-doc", g, RestorePolicy::Kernel);
            assert_eq!(m.verdict, Verdict::Compatible, "{h} {g}: {:?}", m.reasons());
        }
    }
}

#[test]
fn the_2020_case_per_vmm() {
    use Verdict::*;
    let want = [
        ("firecracker", SilentlyBroken),
        ("cloud-hypervisor", SilentlyBroken),
        ("qemu", SilentlyBroken),
        ("qemu-2025", SilentlyBroken),
        ("crosvm", Rejected),
        ("kernel-doc", Rejected),
    ];
    for (vmm, v) in want {
        let m = go(
            "v4.1@5.7",
            "v4.0@5.7",
            vmm,
            GuestProfile::Linux,
            RestorePolicy::Kernel,
        );
        assert_eq!(m.verdict, v, "{vmm}: {:?}", m.reasons());
        if v == Rejected {
            let f = m.refusal.as_ref().unwrap();
            assert_eq!(
                (f.errno, f.register.as_str()),
                (Errno::EINVAL, "GICD_TYPER2"),
                "{vmm}"
            );
        } else {
            assert!(
                m.differences.iter().any(|d| d.field == "nASSGIreq"),
                "{vmm}"
            );
        }
        assert!(m.suggestion.is_some(), "{vmm}");
    }
    // A guest that never looked at TYPER2: the exact-match refusal was needless.
    let m = go(
        "v4.1@5.7",
        "v4.0@5.7",
        "kernel-doc",
        GuestProfile::Legacy,
        RestorePolicy::Kernel,
    );
    assert_eq!(m.verdict, NeedlesslyRejected, "{:?}", m.reasons());
    // crosvm refuses it too, but its sweep would have broken it anyway.
    let m = go(
        "v4.1@5.7",
        "v4.0@5.7",
        "crosvm",
        GuestProfile::Legacy,
        RestorePolicy::Kernel,
    );
    assert_eq!(m.verdict, Rejected, "{:?}", m.reasons());
}

#[test]
fn capability_appearing_is_unsafe_and_policies_differ() {
    let m = go(
        "v4.0@5.13",
        "v4.1@5.13",
        "kernel-doc",
        GuestProfile::Linux,
        RestorePolicy::Kernel,
    );
    assert_eq!(m.verdict, Verdict::Rejected);
    assert!(m
        .differences
        .iter()
        .any(|d| d.kind == DiffKind::CapabilityAppeared));
    let m = go(
        "v4.0@5.13",
        "v4.1@5.13",
        "kernel-doc",
        GuestProfile::Linux,
        RestorePolicy::Relaxed2020,
    );
    assert_eq!(m.verdict, Verdict::Compatible, "{:?}", m.reasons());
    let m = go(
        "v4.0@5.13",
        "v4.1@5.13",
        "kernel-doc",
        GuestProfile::Linux,
        RestorePolicy::AcceptAny,
    );
    assert_eq!(m.verdict, Verdict::SilentlyBroken);
    assert!(m
        .reasons()
        .iter()
        .any(|x| x.contains("no longer migrate back")));
}

#[test]
fn crosvm_loses_enables_on_identical_hosts() {
    let m = go(
        "v3@6.8",
        "v3@6.8",
        "crosvm",
        GuestProfile::Linux,
        RestorePolicy::Kernel,
    );
    assert_eq!(m.verdict, Verdict::SilentlyBroken);
    let d = m
        .differences
        .iter()
        .find(|d| d.register == "GICR_ISENABLER0@vcpu0")
        .unwrap();
    assert!(
        d.rules.contains(&"vmm.crosvm.sweep") && d.rules.contains(&"irq.enable.clear.uaccess"),
        "{d:?}"
    );
}

#[test]
fn qemu_loses_high_routes_only() {
    let m = go(
        "v3@6.8",
        "v3@6.8",
        "qemu",
        GuestProfile::Linux,
        RestorePolicy::Kernel,
    );
    assert_eq!(m.verdict, Verdict::SilentlyBroken);
    assert_eq!(m.differences.len(), 1, "{:?}", m.reasons());
    let d = &m.differences[0];
    assert_eq!(d.register, "GICD_IROUTER287");
    assert!(
        d.rules.contains(&"vmm.not_restored") && d.rules.contains(&"vmm.qemu.irouter_stride"),
        "{d:?}"
    );
}

#[test]
fn iidr_revision_across_5_19() {
    // 5.19 -> 5.13: revision 3 to 2; FC never writes IIDR.
    let m = go(
        "v3@5.19",
        "v3@5.13",
        "firecracker",
        GuestProfile::Linux,
        RestorePolicy::Kernel,
    );
    assert_eq!(m.verdict, Verdict::SilentlyBroken);
    assert!(m.differences.iter().any(|d| d.register == "GICD_IIDR"));
    assert!(m
        .differences
        .iter()
        .any(|d| d.register == "GICR_CTLR@vcpu0"));
    // kernel-doc writes IIDR first: 5.13 wants the exact value.
    let m = go(
        "v3@5.19",
        "v3@5.13",
        "kernel-doc",
        GuestProfile::Linux,
        RestorePolicy::Kernel,
    );
    assert_eq!(m.verdict, Verdict::Rejected);
    assert_eq!(m.refusal.as_ref().unwrap().register, "GICD_IIDR");
    // 5.13 -> 6.8: the write is accepted and changes nothing; 5.13 -> 7.1 honours it.
    let m = go(
        "v3@5.13",
        "v3@6.8",
        "kernel-doc",
        GuestProfile::Linux,
        RestorePolicy::Kernel,
    );
    assert_eq!(m.verdict, Verdict::SilentlyBroken);
    assert!(m.rules.contains(&"gicd.iidr.uaccess.revision_noop"));
    let m = go(
        "v3@5.13",
        "v3@7.1",
        "kernel-doc",
        GuestProfile::Linux,
        RestorePolicy::Kernel,
    );
    assert_eq!(m.verdict, Verdict::Compatible, "{:?}", m.reasons());
}

#[test]
fn clearing_nassgicap_before_init_makes_v4_1_to_v4_0_work() {
    let mut spec = MigrationSpec::new(
        host("v4.1@6.17"),
        host("v4.0@6.17"),
        vmm::recipe("kernel-doc").unwrap(),
        GuestProfile::Linux,
    );
    assert_eq!(migrate(&spec).unwrap().verdict, Verdict::Rejected);
    spec.clear_nassgicap = true;
    let m = migrate(&spec).unwrap();
    assert_eq!(m.verdict, Verdict::Compatible, "{:?}", m.reasons());
    spec.from = host("v4.1@6.8");
    assert!(matches!(migrate(&spec), Err(MigrateError::Source(_))));
}
