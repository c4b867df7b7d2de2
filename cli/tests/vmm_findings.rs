//! `docs/vmm-findings.md` is generated: its prose is `docs/vmm-findings.template.md`,
//! its numbers and tables come from `gicx audit --json`, `gicx matrix --json` and
//! `gicx migrate --json`, run here. This test fails when the committed file differs
//! from what the generator writes today; `scripts/vmm-findings` (this test with
//! `GICX_WRITE_DOCS=1`) rewrites it.
//!
//! Template syntax: `{{KEY}}`, `{{KEY + KEY - 12}}` (sums and differences of
//! numbers), `{{table:NAME}}` (a whole table). An unknown key fails the test,
//! naming the template line. Keys:
//! - `hosts`, `vmms`, `guests`, `vcpus`, `migrations` (per policy), `not-applicable`,
//!   `pairs` (source × destination hosts);
//! - `count.POLICY.VERDICT`, `vmm.VMM.POLICY.VERDICT` (VERDICT also `total`),
//!   `cause.VMM.POLICY.VERDICT.CAUSE` (the audit's cause names);
//! - `stats.sources`, `stats.distinct-saves`, `stats.restores`, `stats.accesses-m`,
//!   `stats.elided-m` (millions);
//! - `diagonal.VMM.VERDICT` (identical-host cells over every guest profile and ITS
//!   setting the VMM makes), `diagonal-cells.VMM`;
//! - `crosvm-refusal.GUEST.ERRNO.REGISTER` (refused crosvm cells of that guest's
//!   matrix by where they were refused);
//! - `case2020.VMM` (the verdict of v4.1@5.7 → v4.0@5.7 with a Linux guest).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

const DOC: &str = "docs/vmm-findings.md";
const TEMPLATE: &str = "docs/vmm-findings.template.md";
const VERDICTS: [&str; 4] = [
    "compatible",
    "rejected",
    "needlessly-rejected",
    "silently-broken",
];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn gicx_json(args: &[&str]) -> Value {
    let out = Command::cargo_bin("gicx")
        .unwrap()
        .current_dir(root())
        .args(args)
        .arg("--json")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    serde_json::from_slice(&out).unwrap_or_else(|e| panic!("gicx {args:?} --json: {e}"))
}

/// 36750 -> "36 750" (the documents' style).
fn grouped(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(' ');
        }
        out.push(c);
    }
    if n < 0 {
        format!("-{out}")
    } else {
        out
    }
}

/// JSON counts use `needlessly_rejected`; the documents say `needlessly-rejected`.
fn count(counts: &Value, verdict: &str) -> i64 {
    counts[verdict.replace('-', "_")]
        .as_i64()
        .unwrap_or_else(|| panic!("no count {verdict} in {counts}"))
}

struct Facts {
    numbers: BTreeMap<String, i64>,
    words: BTreeMap<String, String>,
    tables: BTreeMap<&'static str, String>,
}

fn facts() -> Facts {
    let mut n: BTreeMap<String, i64> = BTreeMap::new();
    let mut words = BTreeMap::new();
    let audit = gicx_json(&["audit"]);
    let hosts = audit["hosts"].as_array().unwrap().len() as i64;
    n.insert("hosts".into(), hosts);
    n.insert("pairs".into(), hosts * hosts);
    n.insert(
        "vmms".into(),
        audit["vmms"].as_array().unwrap().len() as i64,
    );
    n.insert(
        "guests".into(),
        audit["guests"].as_array().unwrap().len() as i64,
    );
    n.insert("vcpus".into(), audit["vcpus"].as_i64().unwrap());
    n.insert(
        "migrations".into(),
        audit["migrations_per_policy"].as_i64().unwrap(),
    );
    let policies: Vec<String> = audit["per_policy"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["policy"].as_str().unwrap().to_string())
        .collect();
    for p in audit["per_policy"].as_array().unwrap() {
        let policy = p["policy"].as_str().unwrap();
        n.insert(
            "not-applicable".into(),
            p["not_applicable"].as_i64().unwrap(),
        );
        for v in VERDICTS {
            n.insert(format!("count.{policy}.{v}"), count(&p["counts"], v));
        }
    }
    for row in audit["per_vmm"].as_array().unwrap() {
        let (vmm, policy) = (
            row["vmm"].as_str().unwrap(),
            row["policy"].as_str().unwrap(),
        );
        let mut total = 0;
        for v in VERDICTS {
            let c = count(&row["counts"], v);
            total += c;
            n.insert(format!("vmm.{vmm}.{policy}.{v}"), c);
        }
        n.insert(format!("vmm.{vmm}.{policy}.total"), total);
    }
    for c in audit["causes"].as_array().unwrap() {
        n.insert(
            format!(
                "cause.{}.{}.{}.{}",
                c["vmm"].as_str().unwrap(),
                c["policy"].as_str().unwrap(),
                c["verdict"].as_str().unwrap(),
                c["cause"].as_str().unwrap()
            ),
            c["count"].as_i64().unwrap(),
        );
    }
    let s = &audit["stats"];
    for (key, field) in [
        ("stats.sources", "sources"),
        ("stats.distinct-saves", "distinct_saves"),
        ("stats.restores", "restores"),
    ] {
        n.insert(key.into(), s[field].as_i64().unwrap());
    }
    let millions = |x: &Value| format!("{:.1} M", x.as_f64().unwrap() / 1e6);
    words.insert("stats.accesses-m".to_string(), millions(&s["accesses"]));
    words.insert("stats.elided-m".to_string(), millions(&s["elided"]));

    // Identical-host cells, over each guest profile and ITS setting the VMM makes.
    for (vmm, its_settings) in [
        ("firecracker", &[false, true][..]),
        ("qemu", &[false, true][..]),
        ("kernel-doc", &[false, true][..]),
    ] {
        let mut cells = 0;
        for guest in audit["guests"].as_array().unwrap() {
            for &its in its_settings {
                let mut args = vec!["matrix", "--vmm", vmm, "--guest", guest.as_str().unwrap()];
                if its {
                    args.push("--its");
                }
                let m = gicx_json(&args);
                for (i, row) in m["cells"].as_array().unwrap().iter().enumerate() {
                    let v = row[i]["verdict"].as_str().unwrap().to_string();
                    *n.entry(format!("diagonal.{vmm}.{v}")).or_default() += 1;
                    cells += 1;
                }
            }
        }
        for v in VERDICTS {
            n.entry(format!("diagonal.{vmm}.{v}")).or_default();
        }
        n.insert(format!("diagonal-cells.{vmm}"), cells);
    }
    // Where crosvm's sweep is refused, for the Linux guest.
    let m = gicx_json(&["matrix", "--vmm", "crosvm", "--guest", "linux"]);
    for cell in m["cells"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r.as_array().unwrap())
    {
        if let Some(r) = cell["refusal"].as_str() {
            // "-EINVAL at GICD_TYPER2" -> crosvm-refusal.linux.EINVAL.GICD_TYPER2
            let key = r.trim_start_matches('-').replacen(" at ", ".", 1);
            *n.entry(format!("crosvm-refusal.linux.{key}")).or_default() += 1;
        }
    }
    // The ITS: every VMM that saves one, Linux guest with an ITS (mapped devices, a
    // pending MSI), every source x destination; cells whose verdict involves an ITS
    // difference (migrate.its.state_changed).
    for vmm in [
        "firecracker",
        "cloud-hypervisor",
        "qemu",
        "qemu-2025",
        "kernel-doc",
    ] {
        let m = gicx_json(&["matrix", "--vmm", vmm, "--guest", "linux", "--its"]);
        let cells: Vec<&Value> = m["cells"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|r| r.as_array().unwrap())
            .collect();
        let changed = cells
            .iter()
            .filter(|c| {
                c["rules"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|r| r == "migrate.its.state_changed")
            })
            .count();
        n.insert(format!("its.{vmm}.cells"), cells.len() as i64);
        n.insert(format!("its.{vmm}.changed"), changed as i64);
    }
    // The 2020 case per VMM.
    for vmm in audit["vmms"].as_array().unwrap() {
        let vmm = vmm.as_str().unwrap();
        let m = gicx_json(&[
            "migrate", "--from", "v4.1@5.7", "--to", "v4.0@5.7", "--vmm", vmm,
        ]);
        words.insert(
            format!("case2020.{vmm}"),
            m["verdict"].as_str().unwrap().replace('-', " "),
        );
    }

    let mut tables = BTreeMap::new();
    let mut t = format!("| verdict | {} |\n|---|", policies.join(" | "));
    t += &"---:|".repeat(policies.len());
    for v in VERDICTS {
        t += &format!("\n| {} |", v.replace('-', " "));
        for p in &policies {
            t += &format!(" {} |", grouped(n[&format!("count.{p}.{v}")]));
        }
    }
    tables.insert("counts", t);
    let mut t = String::from(
        "| VMM | compatible | rejected | needlessly rejected | silently broken |\n|---|---|---|---|---|",
    );
    for vmm in audit["vmms"].as_array().unwrap() {
        let vmm = vmm.as_str().unwrap();
        t += &format!("\n| {vmm} |");
        for v in VERDICTS {
            let cells: Vec<String> = policies
                .iter()
                .map(|p| grouped(n[&format!("vmm.{vmm}.{p}.{v}")]))
                .collect();
            t += &format!(" {} |", cells.join(" / "));
        }
    }
    tables.insert("per-vmm", t);
    let first = &policies[0];
    let mut t =
        String::from("| VMM | refused (rejected) | accepted (silently broken) |\n|---|---|---|");
    for vmm in audit["vmms"].as_array().unwrap() {
        let vmm = vmm.as_str().unwrap();
        let list = |verdict: &str| {
            let items: Vec<String> = audit["causes"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|c| {
                    c["vmm"] == vmm && c["policy"] == first.as_str() && c["verdict"] == verdict
                })
                .map(|c| {
                    format!(
                        "{} {}",
                        c["cause"].as_str().unwrap(),
                        grouped(c["count"].as_i64().unwrap())
                    )
                })
                .collect();
            if items.is_empty() {
                "none".to_string()
            } else {
                items.join(", ")
            }
        };
        t += &format!(
            "\n| {vmm} | {} | {} |",
            list("rejected"),
            list("silently-broken")
        );
    }
    tables.insert("causes", t);
    Facts {
        numbers: n,
        words,
        tables,
    }
}

/// The value of `{{expr}}`: a table, a word, or a sum/difference of numbers.
fn eval(expr: &str, f: &Facts) -> Result<String, String> {
    let expr = expr.trim();
    if let Some(name) = expr.strip_prefix("table:") {
        return f
            .tables
            .get(name)
            .cloned()
            .ok_or_else(|| format!("no table {name:?} (tables: {:?})", f.tables.keys()));
    }
    if let Some(w) = f.words.get(expr) {
        return Ok(w.clone());
    }
    // Terms are separated by " + " and " - " (keys may hold single spaces: the
    // audit's cause names do).
    let mut terms = vec![(1i64, String::new())];
    let mut rest = expr;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix(" + ") {
            terms.push((1, String::new()));
            rest = r;
        } else if let Some(r) = rest.strip_prefix(" - ") {
            terms.push((-1, String::new()));
            rest = r;
        } else {
            let c = rest.chars().next().unwrap();
            terms.last_mut().unwrap().1.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    let mut total = 0i64;
    for (sign, tok) in &terms {
        let tok = tok.as_str();
        let v = match tok.parse::<i64>() {
            Ok(v) => v,
            Err(_) => *f.numbers.get(tok).ok_or_else(|| {
                let near: Vec<&String> = f
                    .numbers
                    .keys()
                    .chain(f.words.keys())
                    .filter(|k| k.split('.').next() == tok.split('.').next())
                    .collect();
                format!("unknown key {tok:?} (keys of that kind: {near:?})")
            })?,
        };
        total += sign * v;
    }
    Ok(grouped(total))
}

fn render(template: &str, f: &Facts) -> Result<String, String> {
    let mut out = String::new();
    for (no, line) in template.split_inclusive('\n').enumerate() {
        let mut rest = line;
        while let Some(start) = rest.find("{{") {
            out.push_str(&rest[..start]);
            let end = rest[start..]
                .find("}}")
                .ok_or_else(|| format!("{TEMPLATE}:{}: \"{{{{\" without \"}}}}\"", no + 1))?
                + start;
            out.push_str(
                &eval(&rest[start + 2..end], f)
                    .map_err(|e| format!("{TEMPLATE}:{}: {e}", no + 1))?,
            );
            rest = &rest[end + 2..];
        }
        out.push_str(rest);
    }
    Ok(out)
}

#[test]
fn vmm_findings_md_is_what_the_generator_writes() {
    let template = std::fs::read_to_string(root().join(TEMPLATE)).unwrap();
    let text = render(&template, &facts()).unwrap_or_else(|e| panic!("{e}"));
    let doc = root().join(DOC);
    if std::env::var_os("GICX_WRITE_DOCS").is_some() {
        std::fs::write(&doc, &text).unwrap();
        eprintln!("wrote {DOC}");
        return;
    }
    let committed = std::fs::read_to_string(&doc).unwrap_or_default();
    if committed != text {
        let line = committed
            .lines()
            .zip(text.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(committed.lines().count().min(text.lines().count()));
        panic!(
            "{DOC} differs from what its generator writes today, first at line {}:\n  committed: {:?}\n  generated: {:?}\n\
             Edit {TEMPLATE} (not {DOC}) and run scripts/vmm-findings.",
            line + 1,
            committed.lines().nth(line).unwrap_or("(end of file)"),
            text.lines().nth(line).unwrap_or("(end of file)")
        );
    }
}

#[test]
fn the_template_language_refuses_unknown_keys_naming_the_line() {
    let f = Facts {
        numbers: BTreeMap::from([("count.kernel.compatible".to_string(), 15235)]),
        words: BTreeMap::new(),
        tables: BTreeMap::new(),
    };
    assert_eq!(
        render("a {{count.kernel.compatible - 235}} b\n", &f).unwrap(),
        "a 15 000 b\n"
    );
    let e = render("x\ny {{count.kernel.compatibel}}\n", &f).unwrap_err();
    assert!(
        e.contains(":2: unknown key \"count.kernel.compatibel\""),
        "{e}"
    );
    assert!(e.contains("count.kernel.compatible"), "{e}");
    let e = render("{{count.kernel.compatible * 2}}", &f).unwrap_err();
    assert!(
        e.contains("unknown key \"count.kernel.compatible * 2\""),
        "{e}"
    );
    let e = render("{{table:nope}}", &f).unwrap_err();
    assert!(e.contains("no table \"nope\""), "{e}");
}
