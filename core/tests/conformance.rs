//! Runs every scenario in `tests/conformance/<suite>/`: the checks of the
//! kernel's own vGIC tests (KVM selftests, kvm-unit-tests) translated into
//! scenarios, as `core/tests/scenarios.rs` runs `tests/scenarios/`. Each file
//! must cite the test file, the test function and the commit read; the real
//! kernels' answers to them are in `tests/kvm/` (core/tests/recordings.rs).

use std::fs;
use std::path::{Path, PathBuf};

use gicx_core::scenario;

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let rd = fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let mut entries: Vec<PathBuf> = rd.map(|e| e.unwrap().path()).collect();
    entries.sort();
    for e in entries {
        if e.is_dir() {
            collect(&e, out);
        } else if e.extension().is_some_and(|x| x == "json") {
            out.push(e);
        }
    }
}

fn files() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/conformance");
    let mut out = Vec::new();
    collect(&dir, &mut out);
    out
}

#[test]
fn every_conformance_scenario_passes_on_the_model() {
    let files = files();
    assert!(
        files.len() >= 20,
        "the conformance corpus shrank to {} files",
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
        // The suite is the directory; the description names the test file,
        // the function and the commit (12 hex digits) it was translated from.
        let suite = f.parent().and_then(|p| p.file_name()).unwrap();
        let d = sc.description.as_deref().unwrap_or("");
        let cites_commit = d
            .split(|c: char| !c.is_ascii_hexdigit())
            .any(|w| w.len() >= 12);
        if !d.starts_with("Source: ") || !cites_commit {
            failures.push(format!(
                "{}: the description must start with \"Source: \" and cite the commit read",
                f.display()
            ));
        }
        let stem = f.file_stem().unwrap().to_string_lossy().replace('-', "_");
        if !stem.starts_with(&*suite.to_string_lossy()) {
            failures.push(format!(
                "{}: files are named after their suite ({}-...): recordings are keyed by file name",
                f.display(),
                suite.to_string_lossy().replace('_', "-")
            ));
        }
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

#[test]
fn file_names_are_unique_across_the_scenario_directories() {
    // scripts/kvm and gicx conform find a recording's scenario by file name.
    let mut seen = std::collections::BTreeMap::new();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/scenarios");
    let mut all = Vec::new();
    collect(&root, &mut all);
    all.extend(files());
    for f in all {
        let stem = f.file_stem().unwrap().to_string_lossy().into_owned();
        if let Some(prev) = seen.insert(stem.clone(), f.clone()) {
            panic!(
                "{} and {} share the name {stem}",
                prev.display(),
                f.display()
            );
        }
    }
}
