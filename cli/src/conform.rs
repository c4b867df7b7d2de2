//! `gicx conform`: the model against recordings of real kernels
//! (`gicx_core::oracle`). Reads recordings (`tests/kvm/**/*.json`, written by
//! `scripts/kvm`) or a runner's raw console output (`--console`, for
//! `gicx-kvm` run natively), finds each recording's scenario, runs it on the
//! model with the recorded kernel's exact version and host kind, and lists
//! every step where the two differ. Exit 0 all agree, 1 a difference, 2
//! invalid input.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Args;
use gicx_core::oracle::{self, Comparison, HostKind, Observed, RecordedKernel, Recording};
use gicx_core::scenario::{self, Scenario};
use serde::Serialize;
use serde_json::Value;

use crate::{fail, read_limited, write_json};

#[derive(Args)]
pub struct ConformArgs {
    /// Directories (searched recursively) or files of recordings.
    #[arg(long = "recordings", default_value = "tests/kvm", num_args = 1..)]
    recordings: Vec<PathBuf>,
    /// Directories (searched recursively) holding the scenarios the recordings name.
    #[arg(long = "scenarios", default_values = ["tests/scenarios", "tests/conformance"], num_args = 1..)]
    scenarios: Vec<PathBuf>,
    /// Instead of recordings: gicx-kvm's console output (GICX-BEGIN/RESULT/END lines).
    #[arg(long, requires_all = ["kind", "kernel"])]
    console: Option<PathBuf>,
    /// With --console: the host kind it ran on (v3, v4.0, v4.0+nov4, v4.1).
    #[arg(long)]
    kind: Option<String>,
    /// With --console: the exact kernel version (e.g. 6.12.118).
    #[arg(long)]
    kernel: Option<String>,
    #[arg(long)]
    json: bool,
    /// The report as Markdown (docs/conformance.md).
    #[arg(long, conflicts_with = "json")]
    markdown: bool,
    /// Also write, for each rule, the real kernels on which a step applying it
    /// agreed with the model (tests/kvm/confirmed.json, read by `gicx rules`
    /// and the app's rule text).
    #[arg(long, value_name = "FILE")]
    confirmed: Option<PathBuf>,
}

/// Per kernel (version key, name, host kind): four counts.
type PerKernel<'a> = BTreeMap<(Vec<u32>, String, &'a str), (usize, usize, usize, usize)>;

/// One recording, compared.
#[derive(Serialize)]
struct Row {
    scenario: String,
    kernel: String,
    upstream: String,
    kind: HostKind,
    #[serde(flatten)]
    comparison: Comparison,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

pub fn cmd_conform(out: &mut impl Write, a: ConformArgs) -> u8 {
    let recordings = match &a.console {
        Some(path) => match console_recordings(path, a.kind.as_deref(), a.kernel.as_deref()) {
            Ok(r) => r,
            Err(e) => return fail(e),
        },
        None => {
            let mut files = Vec::new();
            for r in &a.recordings {
                collect_json(r, &mut files);
            }
            if files.is_empty() {
                return fail(format!(
                    "no recordings in {}: run scripts/kvm --record",
                    a.recordings
                        .iter()
                        .map(|p| p.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            let mut recs = Vec::new();
            for f in files {
                let text = match read_limited(&f.to_string_lossy()) {
                    Ok(t) => t,
                    Err(e) => return fail(format!("{}: {e}", f.display())),
                };
                match serde_json::from_str::<Recording>(&text) {
                    Ok(r) => recs.push(r),
                    Err(e) => return fail(format!("{}: not a recording: {e}", f.display())),
                }
            }
            recs
        }
    };
    let mut index: BTreeMap<String, PathBuf> = BTreeMap::new();
    for d in &a.scenarios {
        let mut files = Vec::new();
        collect_json(d, &mut files);
        for f in files {
            if let Some(stem) = f.file_stem() {
                index
                    .entry(stem.to_string_lossy().into_owned())
                    .or_insert(f);
            }
        }
    }
    let mut cache: BTreeMap<PathBuf, Result<Scenario, String>> = BTreeMap::new();
    let mut rows = Vec::new();
    let mut confirmed: BTreeMap<&str, std::collections::BTreeSet<(Vec<u32>, String)>> =
        BTreeMap::new();
    for rec in &recordings {
        let stem = rec.stem().to_string();
        let scenario = match index.get(&stem) {
            Some(p) => cache
                .entry(p.clone())
                .or_insert_with(|| {
                    read_limited(&p.to_string_lossy())
                        .and_then(|t| scenario::parse(&t).map_err(|e| e.to_string()))
                        .map_err(|e| format!("{}: {e}", p.display()))
                })
                .clone(),
            None => Err(format!(
                "no scenario {stem}.json in the scenario directories"
            )),
        };
        if let (Some(_), Ok(sc)) = (&a.confirmed, &scenario) {
            if let Ok(ids) = oracle::confirmed_rules(sc, rec) {
                let label = format!("{} {}", rec.kernel.upstream, rec.kind.as_str());
                for id in ids {
                    confirmed
                        .entry(id)
                        .or_default()
                        .insert((version_key(&rec.kernel.upstream), label.clone()));
                }
            }
        }
        let (comparison, error) = match scenario.and_then(|sc| oracle::replay(&sc, rec)) {
            Ok(c) => (c, None),
            Err(e) => (Comparison::default(), Some(e)),
        };
        rows.push(Row {
            scenario: stem,
            kernel: rec.kernel_name().to_string(),
            upstream: rec.kernel.upstream.clone(),
            kind: rec.kind,
            comparison,
            error,
        });
    }
    if let Some(path) = &a.confirmed {
        // Rule id -> "6.12.118 v3" labels, oldest kernel first (core::confirmed reads it).
        let table: BTreeMap<&str, Vec<String>> = confirmed
            .into_iter()
            .map(|(id, set)| (id, set.into_iter().map(|(_, label)| label).collect()))
            .collect();
        let text = serde_json::to_string_pretty(&table).unwrap_or_else(|_| "{}".into()) + "\n";
        if let Err(e) = std::fs::write(path, text) {
            return fail(format!("{}: {e}", path.display()));
        }
    }
    rows.sort_by(|x, y| {
        (version_key(&x.upstream), x.kind.as_str(), &x.scenario).cmp(&(
            version_key(&y.upstream),
            y.kind.as_str(),
            &y.scenario,
        ))
    });
    let bad = rows
        .iter()
        .any(|r| r.error.is_some() || !r.comparison.differences.is_empty());
    if a.json {
        write_json(out, &rows);
    } else if a.markdown {
        print_markdown(out, &rows);
    } else {
        print_text(out, &rows);
    }
    u8::from(bad)
}

/// Sort key: 6.12.118 after 6.1.192, 7.3.4 after 6.19.
fn version_key(v: &str) -> Vec<u32> {
    v.split(['.', '-', '+', '~'])
        .map(|p| p.parse().unwrap_or(0))
        .collect()
}

fn collect_json(p: &Path, out: &mut Vec<PathBuf>) {
    if p.is_file() {
        out.push(p.to_path_buf());
    } else if let Ok(rd) = std::fs::read_dir(p) {
        let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
        entries.sort();
        for e in entries {
            if e.is_dir() {
                // Migrations (two boots each) are compared by `gicx conform-migrations`;
                // random-sequence records (tests/kvm/random) are summaries, not recordings.
                if e.file_name()
                    .is_some_and(|n| n == "migrations" || n == "random")
                {
                    continue;
                }
                collect_json(&e, out);
            } else if e.extension().is_some_and(|x| x == "json")
                && e.file_name().is_some_and(|n| n != "confirmed.json")
            {
                out.push(e);
            }
        }
    }
}

/// Recordings from a runner's console output.
fn console_recordings(
    path: &Path,
    kind: Option<&str>,
    kernel: Option<&str>,
) -> Result<Vec<Recording>, String> {
    let kind: HostKind = serde_json::from_value(Value::String(kind.unwrap_or_default().into()))
        .map_err(|_| "--kind: expected v3, v4.0, v4.0+nov4 or v4.1".to_string())?;
    let upstream = kernel.unwrap_or_default().to_string();
    let text =
        read_limited(&path.to_string_lossy()).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut begin = Value::Null;
    let mut recs = Vec::new();
    let mut ended = false;
    for (n, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        let at = |e: serde_json::Error| format!("{}:{}: {e}", path.display(), n + 1);
        if let Some(j) = line.strip_prefix("GICX-BEGIN ") {
            begin = serde_json::from_str(j).map_err(at)?;
        } else if let Some(j) = line.strip_prefix("GICX-RESULT ") {
            #[derive(serde::Deserialize)]
            struct Raw {
                file: String,
                steps: Vec<Observed>,
                #[serde(default)]
                setup_error: Option<String>,
            }
            let raw: Raw = serde_json::from_str(j).map_err(at)?;
            recs.push(Recording {
                file: raw.file,
                scenario: None,
                kernel: RecordedKernel {
                    series: upstream.split('.').take(2).collect::<Vec<_>>().join("."),
                    upstream: upstream.clone(),
                    debian: None,
                    release: begin["release"].as_str().unwrap_or_default().into(),
                    proc_version: begin["proc_version"].as_str().unwrap_or_default().into(),
                    package: None,
                    suite: None,
                },
                kind,
                host: Value::Null,
                steps: raw.steps,
                setup_error: raw.setup_error,
                crash: None,
            });
        } else if line.starts_with("GICX-END") {
            ended = true;
        }
    }
    if !ended {
        return Err(format!(
            "{}: no GICX-END line: the runner did not finish",
            path.display()
        ));
    }
    Ok(recs)
}

fn print_text(out: &mut impl Write, rows: &[Row]) {
    let mut by_kernel: PerKernel = BTreeMap::new();
    for r in rows {
        let e = by_kernel
            .entry((version_key(&r.upstream), r.kernel.clone(), r.kind.as_str()))
            .or_default();
        e.0 += 1;
        e.1 += r.comparison.compared;
        e.2 += r.comparison.differences.len();
        e.3 += usize::from(r.error.is_some());
    }
    for ((_, kernel, kind), (n, compared, differ, errors)) in &by_kernel {
        let _ = writeln!(
            out,
            "{kernel} {kind}: {n} scenarios, {compared} steps compared, {differ} differ{}",
            if *errors > 0 {
                format!(", {errors} not comparable")
            } else {
                String::new()
            }
        );
    }
    for r in rows {
        if let Some(e) = &r.error {
            let _ = writeln!(
                out,
                "  {} on {} {}: {e}",
                r.scenario,
                r.kernel,
                r.kind.as_str()
            );
        }
        if let Some(c) = &r.comparison.crashed {
            let _ = writeln!(
                out,
                "  {} on {} {}: the kernel crashed, not compared: {c}",
                r.scenario,
                r.kernel,
                r.kind.as_str()
            );
        }
        for d in &r.comparison.differences {
            let _ = writeln!(
                out,
                "  {} on {} {}: steps[{}] {}: model {}, kernel {}",
                r.scenario,
                r.kernel,
                r.kind.as_str(),
                d.index,
                d.op,
                d.model,
                d.kernel
            );
        }
    }
    let compared: usize = rows.iter().map(|r| r.comparison.compared).sum();
    let differ: usize = rows.iter().map(|r| r.comparison.differences.len()).sum();
    let _ = writeln!(
        out,
        "{} recordings, {compared} steps compared, {differ} differ",
        rows.len()
    );
}

fn print_markdown(out: &mut impl Write, rows: &[Row]) {
    let _ = writeln!(
        out,
        "| kernel | host | scenarios | steps compared | n/a | differ |"
    );
    let _ = writeln!(out, "|---|---|---:|---:|---:|---:|");
    let mut by_kernel: PerKernel = BTreeMap::new();
    for r in rows {
        let e = by_kernel
            .entry((version_key(&r.upstream), r.kernel.clone(), r.kind.as_str()))
            .or_default();
        e.0 += 1;
        e.1 += r.comparison.compared;
        e.2 += r.comparison.not_applicable;
        e.3 += r.comparison.differences.len() + usize::from(r.error.is_some());
    }
    for ((_, kernel, kind), (n, compared, na, differ)) in &by_kernel {
        let _ = writeln!(
            out,
            "| {kernel} | {kind} | {n} | {compared} | {na} | {differ} |"
        );
    }
    let diffs: Vec<&Row> = rows
        .iter()
        .filter(|r| r.error.is_some() || !r.comparison.differences.is_empty())
        .collect();
    if !diffs.is_empty() {
        let _ = writeln!(
            out,
            "\n| scenario | kernel | host | step | model | kernel |"
        );
        let _ = writeln!(out, "|---|---|---|---|---|---|");
        for r in diffs {
            if let Some(e) = &r.error {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | – | {e} | |",
                    r.scenario,
                    r.kernel,
                    r.kind.as_str()
                );
            }
            for d in &r.comparison.differences {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | steps[{}] {} | {} | {} |",
                    r.scenario,
                    r.kernel,
                    r.kind.as_str(),
                    d.index,
                    d.op,
                    d.model,
                    d.kernel
                );
            }
        }
    }
}
