//! Replays the hostile inputs kept in `fuzz/regressions/<target>/` (crashes
//! `scripts/fuzz` found, plus hand-made ones) through the same code the fuzz
//! targets drive: each must be refused with a located error, never a panic.

use std::fs;
use std::path::PathBuf;

use gicx_core::catalogue::Frame;
use gicx_core::host::Host;
use gicx_core::vgic::{Vgic, VgicState};
use gicx_core::{permalink, scenario};

fn inputs(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/regressions")
        .join(target);
    let mut v: Vec<_> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .map(|p| (p.display().to_string(), fs::read(&p).unwrap()))
        .collect();
    v.sort();
    assert!(!v.is_empty(), "{} holds no inputs", dir.display());
    v
}

#[test]
fn hostile_scenarios_are_refused_with_a_place() {
    for (name, data) in inputs("scenario_parse") {
        let text = String::from_utf8_lossy(&data);
        match scenario::parse(&text) {
            Ok(sc) => {
                let _ = scenario::run(&sc);
            }
            Err(e) => assert!(!e.message.is_empty(), "{name}: an error without a reason"),
        }
    }
}

#[test]
fn hostile_snapshots_are_refused() {
    for (name, data) in inputs("snapshot_decode") {
        let Ok(state) = serde_json::from_slice::<VgicState>(&data) else {
            continue;
        };
        let host = Host::parse_compact("v4.1@6.17").unwrap();
        match Vgic::from_state(host, state) {
            Ok(mut vm) => {
                let _ = vm.user_read(Frame::Dist, 0, 0x104);
                let _ = vm.run();
            }
            Err(e) => assert!(!e.to_string().is_empty(), "{name}"),
        }
    }
}

#[test]
fn hostile_links_are_refused_naming_the_part() {
    for (name, data) in inputs("permalink_decode") {
        let text = String::from_utf8_lossy(&data);
        let err = permalink::decode(text.trim_end()).expect_err(&name);
        assert!(!err.to_string().is_empty(), "{name}");
    }
}
