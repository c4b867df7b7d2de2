//! Every rule the corpus (tests/scenarios, tests/conformance) emits is emitted
//! only on hosts whose kernel is inside the rule's typed range
//! (`rules::Applies`); rules that are not kernel behaviour (gicx's own, a
//! policy, a VMM) are exempt. A migration step's rules may come from its
//! source (the scenario's host) or its destination.

use std::fs;
use std::path::{Path, PathBuf};

use gicx_core::host::{Host, KernelVersion};
use gicx_core::rules::{self, Applies};
use gicx_core::scenario;

fn json_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let p = e.unwrap().path();
        if p.is_dir() {
            json_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "json") {
            out.push(p);
        }
    }
}

fn check(
    id: &str,
    kernels: &[KernelVersion],
    place: &str,
    seen: &mut usize,
    wrong: &mut Vec<String>,
) {
    let Some(rule) = rules::by_id(id) else {
        wrong.push(format!("{place}: unknown rule {id}"));
        return;
    };
    if let Applies::Kernels(range) = rule.eras {
        *seen += 1;
        if !kernels.iter().any(|k| range.contains(*k)) {
            wrong.push(format!(
                "{place}: rule {id} ({range}) emitted on {}",
                kernels
                    .iter()
                    .map(|k| k.to_string())
                    .collect::<Vec<_>>()
                    .join(" / ")
            ));
        }
    }
}

#[test]
fn every_rule_the_corpus_emits_is_inside_its_range() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    json_files(&root.join("tests/scenarios"), &mut files);
    json_files(&root.join("tests/conformance"), &mut files);
    files.sort();
    assert!(files.len() >= 200, "the corpus shrank to {}", files.len());
    let (mut seen, mut wrong) = (0usize, Vec::new());
    for f in &files {
        let sc = scenario::parse(&fs::read_to_string(f).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        let Ok((rep, _)) = scenario::run(&sc) else {
            continue;
        };
        for s in &rep.steps {
            let place = format!("{} step {} ({})", f.display(), s.index, s.op);
            let mut kernels = vec![sc.host.kernel];
            if let Some(m) = &s.migration {
                let to = Host::parse_compact(&m.to)
                    .unwrap_or_else(|e| panic!("{place}: destination {}: {e}", m.to));
                kernels.push(to.kernel);
                for id in &m.rules {
                    check(id, &kernels, &place, &mut seen, &mut wrong);
                }
            }
            let outcome_rules = s.outcome.iter().flat_map(|o| o.rules.iter().map(|r| r.id));
            let hop_rules = s.trace().iter().filter_map(|h| h.rule.as_deref());
            for id in outcome_rules.chain(hop_rules) {
                check(id, &kernels, &place, &mut seen, &mut wrong);
            }
        }
    }
    assert!(
        seen > 1000,
        "only {seen} kernel rules emitted: the check saw too little"
    );
    wrong.sort();
    wrong.dedup();
    assert!(
        wrong.is_empty(),
        "{} rules emitted outside their ranges:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

/// The ranges print as the rule lists always showed them.
#[test]
fn ranges_print_as_before() {
    let text = |id: &str| rules::by_id(id).unwrap().eras.to_string();
    assert_eq!(text("gicd.typer2.uaccess.exact_match"), "5.7-6.16");
    assert_eq!(text("its.cmd.movall.every_lpi"), "6.10-7.1 (not 6.12.118)");
    assert_eq!(
        text("its.save.null_collection_skipped"),
        "7.3+, 6.1.192, 6.12.118, 7.2.13"
    );
    assert_eq!(
        text("lifecycle.vm_dead"),
        "6.12+ (stable backports: gicx kernels)"
    );
    assert_eq!(text("migrate.verdict.compatible"), "gicx");
    let k = |s: &str| s.parse::<KernelVersion>().unwrap();
    let dead = rules::by_id("lifecycle.vm_dead").unwrap().eras;
    assert!(dead.contains(k("6.1.170")) && !dead.contains(k("6.1.169")));
    let movall = rules::by_id("its.cmd.movall.every_lpi").unwrap().eras;
    assert!(movall.contains(k("6.12.117")) && !movall.contains(k("6.12.118")));
}
