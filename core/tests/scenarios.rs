//! Runs every scenario in `tests/scenarios/`: the living specification.

use std::collections::BTreeSet;
use std::fs;
use std::path::PathBuf;

use gicx_core::rules;
use gicx_core::scenario;

fn scenario_files() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/scenarios");
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_scenario_passes() {
    let files = scenario_files();
    assert!(
        files.len() >= 40,
        "the corpus shrank to {} files",
        files.len()
    );
    let mut failures = Vec::new();
    for f in &files {
        let text = fs::read_to_string(f).unwrap();
        let sc = match scenario::parse(&text) {
            Ok(sc) => sc,
            Err(e) => {
                failures.push(format!("{}: {e}", f.display()));
                continue;
            }
        };
        assert!(
            sc.description
                .as_deref()
                .is_some_and(|d| d.contains("Source")),
            "{}: the description must cite its source",
            f.display()
        );
        match scenario::run(&sc) {
            Err(e) => failures.push(format!("{}: {e}", f.display())),
            Ok((rep, _)) => {
                for s in rep.failures() {
                    failures.push(format!(
                        "{}: step {} ({}): {}",
                        f.display(),
                        s.index,
                        s.op,
                        s.failures.join("; ")
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Rules no scenario can show, with the reason.
const NOT_OBSERVABLE: &[(&str, &str)] = &[
    (
        "lifecycle.guest_not_running",
        "a guest access before KVM_RUN is refused as invalid input (exit 2), not an outcome",
    ),
    (
        "its.addr.set",
        "the ITS address is a set_addr step, decided by setup.rs (setup.* rules)",
    ),
    (
        "its.addr.get",
        "the ITS address is a get_addr step, decided by setup.rs (setup.* rules)",
    ),
    (
        "its.attr.other_group",
        "no step reaches an ITS attribute group other than ADDR, CTRL and ITS_REGS",
    ),
    (
        "its.save.null_collection_oops",
        "the host kernel oopses: no scenario runs it (its-save-null-collection-7.3 shows the fix)",
    ),
    (
        "its.save.collections_overrun",
        "it takes more than 8192 collections (a 64 KiB collection table): 8193 MAPC steps",
    ),
    (
        "its.restore.dte",
        "a DTE's device ID follows from its place in the table: an ID it cannot hold needs an indirect table of 2^16+ devices",
    ),
    (
        "its.restore.model_bound",
        "gicx's own bound (1 048 576 entries), not KVM's behaviour: vits/tables.rs tests it",
    ),
];

#[test]
fn every_rule_is_pinned_by_a_scenario() {
    let mut pinned = BTreeSet::new();
    // The living specification and the kernel's own tests (tests/conformance/<suite>/).
    let mut files = scenario_files();
    let conformance = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/conformance");
    if let Ok(suites) = fs::read_dir(&conformance) {
        for d in suites.flatten() {
            if let Ok(rd) = fs::read_dir(d.path()) {
                files.extend(
                    rd.flatten()
                        .map(|e| e.path())
                        .filter(|p| p.extension().is_some_and(|x| x == "json")),
                );
            }
        }
    }
    for f in files {
        let v: serde_json::Value = serde_json::from_str(&fs::read_to_string(&f).unwrap()).unwrap();
        collect_expect_rules(&v, &mut pinned);
    }
    for (id, _) in NOT_OBSERVABLE {
        assert!(
            rules::by_id(id).is_some(),
            "NOT_OBSERVABLE names no rule: {id}"
        );
    }
    // The vGIC's rules and the emulated ITS's (rules::every()).
    let missing: Vec<&str> = rules::every()
        .map(|r| r.id)
        .filter(|id| !pinned.contains(*id) && !NOT_OBSERVABLE.iter().any(|(n, _)| n == id))
        .collect();
    assert!(
        missing.is_empty(),
        "rules without a scenario that expects them (expect_rule): {missing:?}"
    );
}

fn collect_expect_rules(v: &serde_json::Value, out: &mut BTreeSet<String>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, x) in m {
                if k == "expect_rule" || k == "expect_rules" {
                    match x {
                        serde_json::Value::String(s) => {
                            out.insert(s.clone());
                        }
                        serde_json::Value::Array(a) => {
                            out.extend(a.iter().filter_map(|s| s.as_str().map(String::from)))
                        }
                        _ => {}
                    }
                } else {
                    collect_expect_rules(x, out);
                }
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|x| collect_expect_rules(x, out)),
        _ => {}
    }
}
