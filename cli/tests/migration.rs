//! `gicx migrate`, `matrix` and `audit` from the outside: output and exit codes.

use assert_cmd::Command;

fn gicx() -> Command {
    Command::cargo_bin("gicx").unwrap()
}

fn hosts_file(hosts: &[&str]) -> tempfile_path::Path {
    tempfile_path::write(&hosts.join("\n"))
}

/// A throwaway file under the target directory (no extra dependency).
mod tempfile_path {
    use std::path::PathBuf;
    pub struct Path(pub PathBuf);
    impl Drop for Path {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }
    pub fn write(text: &str) -> Path {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "gicx-hosts-{}-{}.txt",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::write(&p, text).unwrap();
        Path(p)
    }
}

#[test]
fn migrate_prints_verdict_reasons_and_log() {
    let out = gicx()
        .args([
            "migrate",
            "--from",
            "v4.1@5.7",
            "--to",
            "v4.0@5.7",
            "--vmm",
            "firecracker",
        ])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.contains("verdict: silently-broken (accepted, unsafe)"),
        "{text}"
    );
    assert!(
        text.contains("gicd.ctlr.uaccess.nassgireq_dropped"),
        "{text}"
    );
    assert!(text.contains("suggestion: "), "{text}");
    assert!(text.contains("KVM_DEV_ARM_VGIC_CTRL_INIT"), "{text}");
    assert!(
        text.contains("set ICC_PMR_EL1 vCPU 0"),
        "the CPU interface is replayed: {text}"
    );
    assert!(
        text.contains("ICC_IGRPEN0_EL1"),
        "the Group 0 CPU-interface registers are listed as skipped: {text}"
    );
}

#[test]
fn migrate_json_has_the_refusal() {
    let out = gicx()
        .args([
            "migrate",
            "--from",
            "v4.1@5.7",
            "--to",
            "v4.0@5.7",
            "--vmm",
            "kernel-doc",
            "--json",
        ])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["verdict"], "rejected");
    assert_eq!(v["refusal"]["errno"], "EINVAL");
    assert_eq!(v["refusal"]["register"], "GICD_TYPER2");
    assert_eq!(v["policy"], "kernel");
}

#[test]
fn migrate_json_has_the_suggestion_as_a_structured_fix() {
    let json = |from: &str, to: &str, vmm: &str| -> serde_json::Value {
        let out = gicx()
            .args([
                "migrate", "--from", from, "--to", to, "--vmm", vmm, "--json",
            ])
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        serde_json::from_slice(&out).unwrap()
    };
    let v = json("v3@6.8", "v3@6.8", "qemu");
    assert_eq!(v["verdict"], "silently-broken");
    let s = &v["suggestion"];
    assert_eq!(
        s["changes"],
        serde_json::json!([{"kind": "recipe", "change": "correct", "rule": "vmm.qemu.irouter_stride"}])
    );
    assert!(s["text"].as_str().unwrap().contains("0x6000 + 8*n"), "{s}");
    assert_eq!(v["fixes"][0], *s);
    // A destination kernel from the kernels' data, with IIDR restored before init.
    let v = json("v3@5.13", "v3@6.8", "firecracker");
    assert_eq!(
        v["suggestion"]["changes"],
        serde_json::json!([
            {"kind": "destination-kernel", "kernel": "6.12.88"},
            {"kind": "recipe", "change": "ids-before-init"}
        ])
    );
    // A compatible migration has none.
    let v = json("v3@6.8", "v3@6.8", "kernel-doc");
    assert_eq!(v["verdict"], "compatible");
    assert!(
        v.get("suggestion").is_none() && v.get("fixes").is_none(),
        "{v}"
    );
}

#[test]
fn bad_input_exits_2_naming_the_argument() {
    for (args, needle) in [
        (
            vec![
                "migrate", "--from", "v5@6.1", "--to", "v3@6.1", "--vmm", "qemu",
            ],
            "--from",
        ),
        (
            vec!["migrate", "--from", "v3@6.1", "--to", "v3", "--vmm", "qemu"],
            "--to",
        ),
        (
            vec![
                "migrate", "--from", "v3@6.1", "--to", "v3@6.1", "--vmm", "xen",
            ],
            "--vmm",
        ),
        (
            vec![
                "migrate", "--from", "v3@6.1", "--to", "v3@6.1", "--vmm", "qemu", "--guest", "bsd",
            ],
            "--guest",
        ),
        (
            vec![
                "migrate", "--from", "v3@6.1", "--to", "v3@6.1", "--vmm", "qemu", "--policy", "lax",
            ],
            "--policy",
        ),
        (vec!["migrate", "--to", "v3@6.1", "--vmm", "qemu"], "--from"),
        (
            vec![
                "migrate", "--from", "v3@6.1", "--to", "v3@6.1", "--vmm", "crosvm", "--its",
            ],
            "--vmm",
        ),
        (vec!["matrix", "--vmm", "qemu", "--guest", "bsd"], "--guest"),
        (
            vec![
                "matrix",
                "--vmm",
                "qemu",
                "--hosts",
                "/nonexistent/hosts.txt",
            ],
            "--hosts",
        ),
        (vec!["audit", "--policy", "kernel", "strict"], "--policy"),
    ] {
        let out = gicx()
            .args(&args)
            .assert()
            .code(2)
            .get_output()
            .stderr
            .clone();
        let err = String::from_utf8(out).unwrap();
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}

#[test]
fn matrix_tables_and_json() {
    let f = hosts_file(&["v4.1@5.7", "v4.0@5.7 # a comment", "v4.1@6.17"]);
    let path = f.0.to_str().unwrap();
    let out = gicx()
        .args([
            "matrix",
            "--vmm",
            "kernel-doc",
            "--guest",
            "linux",
            "--hosts",
            path,
            "--markdown",
        ])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("| 1 `v4.1@5.7` | ok | REJ |"), "{text}");
    let out = gicx()
        .args(["matrix", "--vmm", "kernel-doc", "--hosts", path, "--json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["cells"][0][1]["verdict"], "rejected");
    assert_eq!(v["hosts"].as_array().unwrap().len(), 3);
}

#[test]
fn audit_counts_per_policy_side_by_side() {
    let f = hosts_file(&["v4.1@5.7", "v4.0@5.7"]);
    let out = gicx()
        .args([
            "audit",
            "--hosts",
            f.0.to_str().unwrap(),
            "--json",
            "--threads",
            "2",
        ])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let per = v["per_policy"].as_array().unwrap();
    assert_eq!(per.len(), 3);
    assert_eq!(per[1]["policy"], "accept-any");
    assert_eq!(per[1]["counts"]["rejected"], 0, "accept-any never refuses");
    // 2 x 2 hosts, 3 guests, 10 applicable (VMM, ITS) combinations.
    assert_eq!(v["migrations_per_policy"], 4 * 3 * 10);
}
