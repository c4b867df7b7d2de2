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

#[test]
fn readme_lists_every_conformance_file_and_only_existing_ones() {
    // tests/conformance/README.md is the inventory: every check of the suites
    // mapped to the file translating it, or to the reason it is not.
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/conformance");
    let readme = fs::read_to_string(dir.join("README.md")).expect("tests/conformance/README.md");
    let listed: std::collections::BTreeSet<String> = readme
        .split('`')
        .filter(|w| w.ends_with(".json") && w.contains('/'))
        .map(str::to_owned)
        .collect();
    let mut problems = Vec::new();
    for f in files() {
        let rel = f
            .strip_prefix(&dir)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        if !listed.contains(&rel) {
            problems.push(format!("{rel}: not listed in tests/conformance/README.md"));
        }
    }
    for rel in &listed {
        if !dir.join(rel).is_file() {
            problems.push(format!(
                "tests/conformance/README.md lists {rel}, which does not exist"
            ));
        }
    }
    assert!(
        listed.len() >= 20,
        "README lists only {} files",
        listed.len()
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
