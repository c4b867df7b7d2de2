//! Every suggestion is a fix the model verified: replaying the migration with it
//! applied gives `compatible`. Checked here from the outside (the public API, the
//! full logged migration, not the verifier's shared replays) over the audit's whole
//! space, sampled deterministically: hosts × hosts × VMMs × ITS × guests × policies
//! in the audit's order, every `STRIDE`-th combination.

use gicx_core::audit::{audit, audit_hosts, AuditOptions};
use gicx_core::guest::GuestProfile;
use gicx_core::host::Host;
use gicx_core::migrate::{migrate, MigrationSpec, Verdict};
use gicx_core::vgic::RestorePolicy;
use gicx_core::vmm::{ItsSupport, Recipe, RECIPES};

/// A prime, so the sample walks through every VMM, guest, policy and host pair.
const STRIDE: usize = 503;

fn applicable(r: &Recipe, its: bool) -> bool {
    !matches!(
        (r.its, its),
        (ItsSupport::Always, false) | (ItsSupport::Refused, true)
    )
}

/// Each fix of `spec`'s migration, applied, gives a compatible migration; returns how
/// many fixes were checked.
fn check_fixes(spec: &MigrationSpec, what: &str) -> (Verdict, usize) {
    let m = migrate(spec).unwrap_or_else(|e| panic!("{what}: {e}"));
    if m.verdict == Verdict::Compatible {
        assert!(m.suggestion.is_none() && m.fixes.is_empty(), "{what}");
        return (m.verdict, 0);
    }
    assert_eq!(m.suggestion.as_ref(), m.fixes.first(), "{what}");
    for fix in &m.fixes {
        assert!(!fix.changes.is_empty() && !fix.text.is_empty(), "{what}");
        let fixed = fix
            .apply(spec)
            .unwrap_or_else(|e| panic!("{what}: {fix}: {e}"));
        let again = migrate(&fixed).unwrap_or_else(|e| panic!("{what}: {fix}: {e}"));
        assert_eq!(
            again.verdict,
            Verdict::Compatible,
            "{what}: the fix \"{fix}\" ({:?}) gives {:?}",
            fix.changes,
            again.reasons()
        );
    }
    (m.verdict, m.fixes.len())
}

#[test]
fn every_suggestion_of_a_sample_of_the_audit_space_makes_its_migration_compatible() {
    let hosts = audit_hosts();
    let mut n = 0usize;
    let (mut judged, mut broken, mut suggested, mut fixes) = (0, 0, 0, 0);
    for r in RECIPES {
        for its in [false, true] {
            if !applicable(r, its) {
                continue;
            }
            for g in GuestProfile::ALL {
                for policy in RestorePolicy::ALL {
                    for from in &hosts {
                        for to in &hosts {
                            n += 1;
                            if !n.is_multiple_of(STRIDE) {
                                continue;
                            }
                            let spec = MigrationSpec {
                                policy,
                                its,
                                ..MigrationSpec::new(*from, *to, r, g)
                            };
                            let what = format!(
                                "{} its={its} {} {} {} -> {}",
                                r.id,
                                g.as_str(),
                                policy.as_str(),
                                from.compact(),
                                to.compact()
                            );
                            let (v, k) = check_fixes(&spec, &what);
                            judged += 1;
                            if v != Verdict::Compatible {
                                broken += 1;
                                suggested += usize::from(k > 0);
                                fixes += k;
                            }
                        }
                    }
                }
            }
        }
    }
    eprintln!(
        "{judged} of {n} migrations sampled: {broken} not compatible, {suggested} with a verified fix ({fixes} fixes checked)"
    );
    assert_eq!(
        n,
        3 * 100_920,
        "the audit's space: 100 920 migrations per policy"
    );
    assert!(judged >= n / STRIDE && broken > 100, "{judged} {broken}");
    // Most broken migrations have a fix; the rest have none that the model verifies
    // (e.g. accept-any ignores the restored TYPER2, so no order hides nASSGIcap).
    assert!(suggested * 2 > broken, "{suggested} of {broken}");
}

#[test]
fn every_suggestion_of_the_audits_examples_makes_its_migration_compatible() {
    let hosts: Vec<Host> = [
        "v4.1@5.7",
        "v4.0@5.19",
        "v4.1+novsgi@6.8",
        "v4.1@6.17",
        "v5@7.1",
    ]
    .iter()
    .map(|h| Host::parse_compact(h).unwrap())
    .collect();
    let rep = audit(&AuditOptions {
        hosts,
        examples: 3,
        threads: 1,
        ..AuditOptions::default()
    })
    .unwrap();
    let mut checked = 0;
    for e in &rep.examples {
        let spec = MigrationSpec {
            policy: e.policy,
            its: e.its,
            ..MigrationSpec::new(
                Host::parse_compact(&e.from).unwrap(),
                Host::parse_compact(&e.to).unwrap(),
                gicx_core::vmm::recipe(e.vmm).unwrap(),
                e.guest,
            )
        };
        let what = format!("{} {} -> {}", e.vmm, e.from, e.to);
        let Some(fix) = &e.suggestion else { continue };
        let again = migrate(&fix.apply(&spec).unwrap()).unwrap();
        assert_eq!(again.verdict, Verdict::Compatible, "{what}: {fix}");
        checked += 1;
    }
    assert!(
        checked >= 10,
        "{checked} of {} examples",
        rep.examples.len()
    );
}
