//! The hidden `gicx bench` (scripts/bench): it lists and runs the core workloads.
//! Only that it works: timings are never asserted.

use assert_cmd::Command;
use gicx_core::workload::WORKLOADS;

fn gicx() -> Command {
    Command::cargo_bin("gicx").unwrap()
}

#[test]
fn lists_every_workload() {
    let out = gicx().args(["bench", "--list"]).assert().success();
    let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    for w in WORKLOADS {
        assert!(text.contains(w.name), "{}", w.name);
    }
}

#[test]
fn a_smoke_run_prints_one_json_measurement_per_workload() {
    let out = gicx()
        .args(["bench", "--smoke", "--json", "guest-mmio", "migrate"])
        .assert()
        .success();
    let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    let names: Vec<String> = text
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            assert!(v["items"].as_u64().unwrap() > 0, "{l}");
            v["name"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(names, ["guest-mmio", "migrate"]);
}

#[test]
fn an_unknown_workload_is_invalid_input() {
    gicx().args(["bench", "nope"]).assert().code(2);
}
