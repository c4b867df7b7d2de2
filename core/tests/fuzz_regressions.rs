//! Replays the hostile inputs kept in `fuzz/regressions/<target>/` (crashes
//! `scripts/fuzz` found, plus hand-made ones) through the same code the fuzz
//! targets drive, and a few generated at run time (too big to keep as files).
//! Each must be refused with the error it is listed with below: the place it
//! names (a scenario's JSON path, a link's part) and a piece of the reason.
//! Not panicking is not enough: an input accepted, or refused for another
//! reason or at another place, fails. A new file without a line in `EXPECTED`
//! fails too, naming it.

use std::collections::BTreeSet;
use std::fs;
use std::path::PathBuf;

use gicx_core::catalogue::Frame;
use gicx_core::host::Host;
use gicx_core::vgic::{Vgic, VgicState};
use gicx_core::{permalink, scenario};

/// (target, file, place, a piece of the reason).
/// - `scenario_parse`: place = `ScenarioError.path` (`""` for the whole document);
/// - `snapshot_decode`: place = `json` (serde refuses the text; the reason has
///   its line and column) or `state` (`Vgic::from_state` refuses the content);
/// - `permalink_decode`: place = `PermalinkError.part`.
const EXPECTED: &[(&str, &str, &str, &str)] = &[
    (
        "scenario_parse",
        "65-bit-value.json",
        "steps[0]",
        "\"0x1_0000_0000_0000_0000\" does not fit in 64 bits",
    ),
    (
        "scenario_parse",
        "deep-nesting.json",
        "[0]",
        "invalid type: sequence",
    ),
    (
        "scenario_parse",
        "kernel-4.14.json",
        "host",
        "kernel 4.14 is older than 4.19",
    ),
    (
        "scenario_parse",
        "nr-irqs-1024.json",
        "vm",
        "nr_irqs = 1024: KVM_DEV_ARM_VGIC_GRP_NR_IRQS takes 64..=992",
    ),
    (
        "scenario_parse",
        "offset-overflow.json",
        "steps[0].offset",
        "0xffffffffffffffff is outside the dist frame",
    ),
    (
        "scenario_parse",
        "register-typo.json",
        "steps[1].reg",
        "did you mean GICD_TYPER2",
    ),
    (
        "scenario_parse",
        "truncated-huge-number.json",
        "steps[0].?",
        "EOF while parsing",
    ),
    (
        "scenario_parse",
        "unknown-op.json",
        "steps[0].op",
        "unknown variant `poke`",
    ),
    (
        "scenario_parse",
        "vcpus-zero.json",
        "vm",
        "vcpus = 0: must be 1..=512",
    ),
    (
        "snapshot_decode",
        "cpuifs-too-many.json",
        "state",
        "2 CPU interfaces but vcpus is 1",
    ),
    (
        "snapshot_decode",
        "empty-vectors.json",
        "state",
        "0 SPIs but nr_irqs 64 needs 32",
    ),
    (
        "snapshot_decode",
        "redists-missing.json",
        "state",
        "0 redistributors but vcpus is 1",
    ),
    (
        "snapshot_decode",
        "revision-7.json",
        "state",
        "implementation_rev 7 is not 2 or 3",
    ),
    (
        "snapshot_decode",
        "truncated.json",
        "json",
        "EOF while parsing",
    ),
    (
        "snapshot_decode",
        "vcpus-4096.json",
        "json",
        "vcpus = 4096: must be 1..=512",
    ),
    (
        "permalink_decode",
        "bad-base64.txt",
        "payload",
        "not base64url",
    ),
    (
        "permalink_decode",
        "empty-payload.txt",
        "payload",
        "ends early",
    ),
    (
        "permalink_decode",
        "future-version.txt",
        "version",
        "\"v99\" is not a version this gicx reads",
    ),
    (
        "permalink_decode",
        "not-json-inside.txt",
        "scenario",
        "invalid type: integer `12`",
    ),
];

fn dir(target: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/regressions")
        .join(target)
}

/// Every file of `target`'s corpus, with its expectation; fails on a file without one.
fn cases(target: &str) -> Vec<(String, Vec<u8>, &'static str, &'static str)> {
    let d = dir(target);
    let on_disk: BTreeSet<String> = fs::read_dir(&d)
        .unwrap_or_else(|e| panic!("{}: {e}", d.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let listed: BTreeSet<String> = EXPECTED
        .iter()
        .filter(|e| e.0 == target)
        .map(|e| e.1.to_string())
        .collect();
    let unlisted: Vec<_> = on_disk.difference(&listed).collect();
    assert!(
        unlisted.is_empty(),
        "{}: no expected error for {unlisted:?}: add a line to EXPECTED",
        d.display()
    );
    let missing: Vec<_> = listed.difference(&on_disk).collect();
    assert!(
        missing.is_empty(),
        "{}: {missing:?} are listed but gone",
        d.display()
    );
    EXPECTED
        .iter()
        .filter(|e| e.0 == target)
        .map(|&(_, file, place, reason)| {
            let data = fs::read(d.join(file)).unwrap();
            (format!("{target}/{file}"), data, place, reason)
        })
        .collect()
}

fn check(name: &str, got: Result<(), (String, String)>, place: &str, reason: &str) {
    match got {
        Ok(()) => panic!("{name}: accepted, but should be refused at {place:?} ({reason})"),
        Err((p, r)) => {
            assert_eq!(p, place, "{name}: refused at another place ({r})");
            assert!(
                r.contains(reason),
                "{name}: refused for another reason: {r:?} (expected {reason:?})"
            );
        }
    }
}

fn scenario_verdict(text: &str) -> Result<(), (String, String)> {
    let sc = scenario::parse(text).map_err(|e| (e.path, e.message))?;
    // Accepted inputs run (this is what the fuzz target does) without panicking.
    let _ = scenario::run(&sc);
    Ok(())
}

#[test]
fn hostile_scenarios_are_refused_at_their_place() {
    for (name, data, place, reason) in cases("scenario_parse") {
        check(
            &name,
            scenario_verdict(&String::from_utf8_lossy(&data)),
            place,
            reason,
        );
    }
}

#[test]
fn oversized_scenarios_are_refused_by_the_limits() {
    let big = " ".repeat(scenario::MAX_SCENARIO_BYTES + 1);
    check(
        "4 MiB + 1 byte",
        scenario_verdict(&big),
        "",
        "the limit is 4194304",
    );
    let steps = vec![r#"{"op": "init"}"#; scenario::MAX_STEPS + 1].join(",");
    let many = format!(r#"{{"host": "v3@6.8", "steps": [{steps}]}}"#);
    check(
        "100 001 steps",
        scenario_verdict(&many),
        "steps",
        "100001 steps; the limit is 100000",
    );
}

#[test]
fn hostile_snapshots_are_refused() {
    for (name, data, place, reason) in cases("snapshot_decode") {
        let got = serde_json::from_slice::<VgicState>(&data)
            .map_err(|e| ("json".to_string(), e.to_string()))
            .and_then(|state| {
                let host = Host::parse_compact("v4.1@6.17").unwrap();
                let mut vm = Vgic::from_state(host, state)
                    .map_err(|e| ("state".to_string(), e.to_string()))?;
                let _ = vm.user_read(Frame::Dist, 0, 0x104);
                let _ = vm.run();
                Ok(())
            });
        check(&name, got, place, reason);
    }
}

fn link_verdict(text: &str) -> Result<(), (String, String)> {
    permalink::decode(text)
        .map(|_| ())
        .map_err(|e| (e.part, e.reason))
}

#[test]
fn hostile_links_are_refused_naming_the_part() {
    for (name, data, place, reason) in cases("permalink_decode") {
        let text = String::from_utf8_lossy(&data);
        check(&name, link_verdict(text.trim_end()), place, reason);
    }
}

#[test]
fn oversized_links_are_refused_by_the_limits() {
    let long = format!("v1.{}", "A".repeat(permalink::MAX_LINK_BYTES));
    check(
        "a link over 64 KiB",
        link_verdict(&long),
        "link",
        "the limit is 65536",
    );
    // 5 MiB of spaces deflate to a few kilobytes: a decompression bomb.
    let bomb = permalink::link_text(&miniz_oxide::deflate::compress_to_vec(
        &vec![b' '; 5 << 20],
        9,
    ));
    assert!(bomb.len() < permalink::MAX_LINK_BYTES, "{}", bomb.len());
    check(
        "a DEFLATE bomb",
        link_verdict(&bomb),
        "payload",
        "expands to more than 4194304 bytes",
    );
}
