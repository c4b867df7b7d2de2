//! `gicx migrate` with an ITS: the ITS part of the recipes in the restore log, and ITS
//! differences named by their table entry in text and `--json`.

use assert_cmd::Command;

fn gicx() -> Command {
    Command::cargo_bin("gicx").unwrap()
}

/// The source of tests/scenarios/its-migrate-dte-eventid-bits.json without its
/// `migrate` step: a 7.0 VM whose ITS holds a device with 17 event-ID bits.
fn dte_source() -> std::path::PathBuf {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let text =
        std::fs::read_to_string(root.join("tests/scenarios/its-migrate-dte-eventid-bits.json"))
            .unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let steps = v["steps"].as_array_mut().unwrap();
    steps.retain(|s| s["op"] != "migrate");
    let p = std::env::temp_dir().join(format!("gicx-its-source-{}.json", std::process::id()));
    std::fs::write(&p, serde_json::to_string(&v).unwrap()).unwrap();
    p
}

#[test]
fn a_linux_guest_s_its_travels_with_every_vmm_that_has_one() {
    for vmm in ["qemu", "firecracker", "cloud-hypervisor", "kernel-doc"] {
        let args = [
            "migrate", "--from", "v3@6.12", "--to", "v3@7.3", "--vmm", vmm, "--its",
        ];
        let out = gicx()
            .args(args)
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        let text = String::from_utf8(out).unwrap();
        // QEMU's IROUTER stride breaks its migrations anyway; the ITS is carried by all.
        let json = gicx()
            .args(args)
            .arg("--json")
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
        let its: Vec<_> = v["differences"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d.get("its_entry").is_some())
            .collect();
        assert!(its.is_empty(), "{vmm}: {its:?}");
        for step in [
            "guest RAM",
            "set GITS_CBASER",
            "KVM_DEV_ARM_ITS_RESTORE_TABLES: ok",
            "set GITS_CTLR",
        ] {
            assert!(text.contains(step), "{vmm}: no {step:?} in the restore log");
        }
        assert!(text.contains("vmm.its.sequence"), "{vmm}");
    }
}

#[test]
fn its_differences_name_their_table_entries_in_text_and_json() {
    let src = dte_source();
    let args = [
        "migrate",
        "--scenario",
        src.to_str().unwrap(),
        "--to",
        "v3@7.1",
        "--vmm",
        "kernel-doc",
    ];
    let out = gicx()
        .args(args)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("verdict: rejected"), "{text}");
    assert!(
        text.contains("refused: -EINVAL") && text.contains("to KVM_DEV_ARM_ITS_RESTORE_TABLES"),
        "{text}"
    );
    assert!(text.contains("its.restore.dte_eventid_bits"), "{text}");
    assert!(
        text.contains("ITS device 0x3: device 0x3 was mapped with 17 event-ID bits at save and is unmapped on the destination"),
        "{text}"
    );
    let out = gicx()
        .args(args)
        .arg("--json")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let _ = std::fs::remove_file(&src);
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["verdict"], "rejected");
    let diffs = v["differences"].as_array().unwrap();
    let dev = diffs
        .iter()
        .find(|d| d["its_entry"]["table"] == "device")
        .expect("a device table difference");
    assert_eq!(dev["its_entry"]["device"], 3);
    assert!(dev["rules"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r == "migrate.its.state_changed"));
    assert!(
        diffs.iter().all(|d| d.get("its_entry").is_none()
            || d["register"].as_str().unwrap().contains("ITS")
            || d["register"].as_str().unwrap().starts_with("GITS")
            || d["register"].as_str().unwrap().starts_with("LPI")),
        "{diffs:?}"
    );
}
