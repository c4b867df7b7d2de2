//! Every subcommand of `gicx --help` from the outside: exit 0 when it did its work,
//! 1 where the subcommand reports a difference (`run`: an expectation failed;
//! `conform`, `conform-migrations`: the model and a real kernel disagree), and 2 on
//! bad input or usage, with a message on standard error that names the argument
//! or the place. `migrate`, `matrix` and `audit` print verdicts: a refused or a
//! silently broken migration is their result, not a failure, so they exit 0.

use std::path::{Path, PathBuf};

use assert_cmd::Command;

/// The workspace root, where `tests/` lives.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn gicx() -> Command {
    let mut c = Command::cargo_bin("gicx").unwrap();
    c.current_dir(root());
    c
}

/// Runs `gicx args`, checks the exit code and returns (stdout, stderr).
fn exits(args: &[&str], code: i32) -> (String, String) {
    let out = gicx().args(args).assert().code(code).get_output().clone();
    (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// A bad-input run: exit 2, and standard error contains every `needle`.
fn refuses(args: &[&str], needles: &[&str]) {
    let (_, err) = exits(args, 2);
    for n in needles {
        assert!(err.contains(n), "gicx {args:?}: {n:?} not in {err}");
    }
}

/// A throwaway directory under the system's temporary directory, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "gicx-exit-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&p).unwrap();
        Scratch(p)
    }
    /// Writes `text` to `rel` (creating directories) and returns its path as a string.
    fn write(&self, rel: &str, text: &str) -> String {
        let p = self.0.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_string()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn help_lists_exactly_the_subcommands_tested_here() {
    let (out, _) = exits(&["--help"], 0);
    let listed: Vec<&str> = out
        .lines()
        .skip_while(|l| *l != "Commands:")
        .skip(1)
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(
        listed,
        [
            "run",
            "regs",
            "decode",
            "rules",
            "eras",
            "kernels",
            "migrate",
            "matrix",
            "audit",
            "conform",
            "conform-migrations",
            "help"
        ],
        "a new subcommand needs its exit codes tested here"
    );
    // No subcommand is a usage error; an unknown one too.
    let (_, err) = exits(&[], 2);
    assert!(err.contains("Usage: gicx <COMMAND>"), "{err}");
    refuses(&["frobnicate"], &["unrecognized subcommand 'frobnicate'"]);
}

const FAILING_SCENARIO: &str = r#"{
  "host": {"gic": "v3", "kernel": "6.8"},
  "steps": [
    {"op": "init"},
    {"op": "user_read", "reg": "GICD_TYPER2", "expect": "0x100"}
  ]
}"#;

#[test]
fn run_exit_codes() {
    let (out, _) = exits(&["run", "tests/scenarios/ctlr-4.19-no-nassgireq.json"], 0);
    assert!(out.contains("1 passed, 0 failed"), "{out}");

    // A GICv3 host reads TYPER2 as 0: the expectation fails, exit 1, and it says where.
    let s = Scratch::new("run");
    let f = s.write("typer2.json", FAILING_SCENARIO);
    let (out, _) = exits(&["run", &f], 1);
    assert!(out.contains("0 passed, 1 failed"), "{out}");
    assert!(out.contains("GICD_TYPER2"), "{out}");

    refuses(&["run"], &["<FILES>"]);
    refuses(&["run", "/nonexistent/x.json"], &["/nonexistent/x.json"]);
    let typo = s.write(
        "typo.json",
        r#"{"host": {"gic": "v3", "kernel": "6.8"}, "steps": [{"op": "user_read", "reg": "GICD_TYPR2"}]}"#,
    );
    refuses(
        &["run", &typo],
        &["steps[0].reg", "did you mean GICD_TYPER2"],
    );
    let syntax = s.write("syntax.json", "{\n  \"steps\": [,]\n}\n");
    refuses(&["run", &syntax], &["syntax.json", "line 2"]);
}

#[test]
fn regs_exit_codes() {
    let (out, _) = exits(&["regs", "--frame", "dist"], 0);
    assert!(out.contains("GICD_TYPER2"), "{out}");
    assert!(!out.contains("GICR_TYPER"), "only the distributor: {out}");
    let (out, _) = exits(&["regs", "--kernel", "5.10", "--json"], 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(v.as_array().is_some_and(|a| !a.is_empty()));
    refuses(&["regs", "--kernel", "4.14"], &["4.14", "older than 4.19"]);
    refuses(&["regs", "--kernel", "six"], &["six"]);
    let (out, _) = exits(&["regs", "--frame", "its"], 0);
    assert!(
        out.contains("GITS_CBASER") && out.contains("Valid[63]"),
        "{out}"
    );
    assert!(
        out.contains("GICR_VSGIPENDR") && out.contains("Busy[31]"),
        "{out}"
    );
    assert!(!out.contains("GICD_"), "only the ITS part: {out}");
    let (out, _) = exits(&["regs", "--frame", "its", "--json"], 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["its"].as_array().map(Vec::len), Some(8), "{out}");
    refuses(&["regs", "--frame", "gits"], &["--frame", "gits"]);
}

#[test]
fn decode_exit_codes() {
    let (out, _) = exits(&["decode", "GICD_TYPER2", "0x100", "--json"], 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(out.contains("nASSGIcap"), "{v}");
    refuses(
        &["decode", "GICD_TYPR2", "0x1"],
        &["GICD_TYPR2", "did you mean GICD_TYPER2"],
    );
    refuses(&["decode", "GICD_TYPER2", "0xZZ"], &["\"0xZZ\"", "number"]);
    refuses(
        &["decode", "GICD_TYPER2", "0x100", "--host", "v9@6.8"],
        &["\"v9\""],
    );
    refuses(&["decode", "GICD_TYPER2"], &["<VALUE>"]);
}

#[test]
fn rules_eras_kernels_exit_codes() {
    let (out, _) = exits(&["rules", "--json"], 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(v.as_array().is_some_and(|a| a.len() > 10), "{out}");
    // The ITS's rules are in the project's list, with their eras.
    let ctrl = v.as_array().and_then(|a| {
        a.iter()
            .find(|r| r["id"] == "its.ctrl.unknown_enxio")
            .map(|r| r["eras"].clone())
    });
    assert_eq!(ctrl, Some(serde_json::json!("6.17+")), "{out}");
    let (out, _) = exits(&["rules"], 0);
    assert!(out.contains("its.cmd.sync"), "{out}");
    let (out, _) = exits(&["eras"], 0);
    assert!(out.starts_with("4.19"), "{out}");
    assert!(out.contains("\n7.1"), "{out}");
    let (out, _) = exits(&["kernels", "--json"], 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(v.as_array().is_some_and(|a| !a.is_empty()), "{out}");
    refuses(&["rules", "--markdown"], &["--markdown"]);
    refuses(&["eras", "extra"], &["'extra'"]);
    refuses(&["kernels", "--all"], &["--all"]);
}

#[test]
fn migrate_matrix_audit_exit_0_for_every_verdict_2_for_bad_input() {
    // Refused by the destination (kernel-doc writes TYPER2, 5.7 demands an exact
    // match): the verdict is printed, the command succeeded.
    let (out, _) = exits(
        &[
            "migrate",
            "--from",
            "v4.1@5.7",
            "--to",
            "v4.0@5.7",
            "--vmm",
            "kernel-doc",
        ],
        0,
    );
    assert!(out.contains("verdict: rejected (refused"), "{out}");
    let (out, _) = exits(
        &[
            "migrate",
            "--from",
            "v4.1@6.17",
            "--to",
            "v4.1@6.17",
            "--vmm",
            "kernel-doc",
        ],
        0,
    );
    assert!(out.contains("verdict: compatible"), "{out}");
    refuses(
        &["migrate", "--from", "v4.1@5.7", "--vmm", "qemu"],
        &["--to"],
    );
    refuses(
        &[
            "migrate",
            "--scenario",
            "/nonexistent/s.json",
            "--to",
            "v3@6.8",
            "--vmm",
            "qemu",
        ],
        &["--scenario /nonexistent/s.json"],
    );
    refuses(
        &[
            "migrate",
            "--from",
            "v3@6.8",
            "--to",
            "v3@6.8",
            "--vmm",
            "qemu",
            "--json",
            "--markdown",
        ],
        &["--json", "--markdown"],
    );

    let s = Scratch::new("hosts");
    let hosts = s.write("hosts.txt", "v4.1@5.7\nv4.0@5.7\n");
    let (out, _) = exits(
        &["matrix", "--vmm", "kernel-doc", "--hosts", &hosts, "--json"],
        0,
    );
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["cells"][0][1]["verdict"], "rejected");
    let bad = s.write("bad-hosts.txt", "v4.1@5.7\nv4.2@5.7\n");
    refuses(
        &["matrix", "--vmm", "qemu", "--hosts", &bad],
        &["--hosts", "bad-hosts.txt", "v4.2"],
    );
    refuses(&["matrix", "--vmm", "xen"], &["--vmm", "xen"]);

    let (out, _) = exits(&["audit", "--hosts", &hosts, "--json"], 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(v["per_policy"][0]["counts"]["rejected"].as_u64().unwrap() > 0);
    refuses(
        &["audit", "--hosts", &hosts, "--threads", "0"],
        &["--threads"],
    );
    refuses(&["audit", "--examples", "many"], &["--examples", "many"]);
}

/// A recording of a real kernel (6.1.192, GICv3) with one observed value changed.
fn tampered_recording(s: &Scratch) -> String {
    let rel = "6.1.192/v3/cpu-sysregs-uaccess.json";
    let text = std::fs::read_to_string(root().join("tests/kvm").join(rel)).unwrap();
    let needle = "{\"index\":3,\"op\":\"cpu_sysregs_read\",\"value\":247}";
    assert!(
        text.contains(needle),
        "the recording changed: update this test"
    );
    s.write(
        rel,
        &text.replace(
            needle,
            "{\"index\":3,\"op\":\"cpu_sysregs_read\",\"value\":246}",
        ),
    )
}

#[test]
fn conform_exit_codes() {
    let s = Scratch::new("conform");
    let rel = "6.1.192/v3/cpu-sysregs-uaccess.json";
    let good = s.write(
        &format!("good/{rel}"),
        &std::fs::read_to_string(root().join("tests/kvm").join(rel)).unwrap(),
    );
    let (out, _) = exits(&["conform", "--recordings", &good], 0);
    assert!(
        out.contains("1 recordings, ") && out.contains(" steps compared, 0 differ"),
        "{out}"
    );

    let bad = tampered_recording(&s);
    let (out, _) = exits(&["conform", "--recordings", &bad, "--json"], 1);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let row = &v[0];
    assert_eq!(row["scenario"], "cpu-sysregs-uaccess");
    let d = &row["differences"];
    assert_eq!(d.as_array().map(Vec::len), Some(1), "{row}");
    assert_eq!(
        (&d[0]["index"], &d[0]["model"], &d[0]["kernel"]),
        (&3.into(), &"0xf7".into(), &"0xf6".into()),
        "{row}"
    );

    refuses(
        &["conform", "--recordings", "/nonexistent/rec"],
        &["/nonexistent/rec"],
    );
    let junk = s.write("junk/6.1.192/v3/x.json", "[1, 2");
    refuses(&["conform", "--recordings", &junk], &["x.json"]);
}

#[test]
fn conform_migrations_exit_codes() {
    let dir = root().join("tests/kvm/migrations");
    let restore = "restores/7.3.4-v3/7.3.4-v3/firecracker-idle.json";
    let save = "saves/7.3.4/v3/firecracker-idle.json";
    let (out, _) = exits(
        &["conform-migrations", dir.join(restore).to_str().unwrap()],
        0,
    );
    assert!(out.contains("1 migrations, 1 agree"), "{out}");

    // The same migration with the kernel's read-back GICD_CTLR changed.
    let s = Scratch::new("migrations");
    let text = std::fs::read_to_string(dir.join(restore)).unwrap();
    assert!(
        text.contains("\"GICD_CTLR\": 80,"),
        "the recording changed: update this test"
    );
    let bad = s.write(
        restore,
        &text.replace("\"GICD_CTLR\": 80,", "\"GICD_CTLR\": 82,"),
    );
    s.write(save, &std::fs::read_to_string(dir.join(save)).unwrap());
    let (out, _) = exits(&["conform-migrations", &bad], 1);
    assert!(out.contains("1 migrations, 0 agree"), "{out}");
    assert!(out.contains("GICD_CTLR"), "{out}");

    refuses(
        &["conform-migrations", "/nonexistent/migrations"],
        &["/nonexistent/migrations: no such file or directory"],
    );
}
