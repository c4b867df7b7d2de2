//! Random differential testing on the real kernel (issue 12, "Random
//! differential testing"): `gicx_core::differential` draws random access
//! sequences, runs each on the model and here on a fresh VM of this kernel's
//! `/dev/kvm` ([`runner::run`]), and shrinks every disagreement to a short
//! scenario file.
//!
//! Asked for in one of two ways, with one output line, `GICX-RANDOM {report}`
//! (a `DifferentialReport` plus `kind`, `kernel` and `seconds`), printed after
//! the scenarios and before `GICX-END`:
//! - under `scripts/kvm`, by the file `/gicx/config.json`:
//!   `{"kind": "v3", "kernel": "6.12.118", "random": {"cases": 10000, "seed": 1}}`
//!   (`kind` is how QEMU was booted, `oracle::HostKind`; `kernel` the upstream
//!   version the model runs as);
//! - natively: `gicx-kvm --random N [--seed S] --kind K [--kernel V] [FILE...]`,
//!   `--kernel` defaulting to the running kernel's release.

use std::time::Instant;

use gicx_core::differential::{self, DifferentialReport};
use gicx_core::host::{Host, KernelVersion};
use gicx_core::oracle::HostKind;
use kvm_ioctls::Kvm;
use serde::Deserialize;

use crate::runner;

/// Where `scripts/kvm` puts the boot's configuration in the initramfs.
pub const CONFIG_FILE: &str = "/gicx/config.json";

/// What to run: `cases` sequences from `seed` against the model's `host`.
#[derive(Clone, Debug)]
pub struct RandomConfig {
    pub kind: HostKind,
    /// The kernel as given (`6.12.118`), for the report.
    pub kernel: String,
    /// `kind` at `kernel`: the model's side.
    pub host: Host,
    pub cases: u32,
    pub seed: u64,
}

impl RandomConfig {
    pub fn new(
        kind: HostKind,
        kernel: &str,
        cases: u32,
        seed: u64,
    ) -> Result<RandomConfig, String> {
        let version: KernelVersion = kernel.parse().map_err(|e| format!("kernel: {e}"))?;
        let host = kind.host(version).map_err(|e| format!("kernel: {e}"))?;
        Ok(RandomConfig {
            kind,
            kernel: kernel.to_string(),
            host,
            cases,
            seed,
        })
    }
}

/// `/gicx/config.json` as far as this module reads it (other keys are the
/// harness's business and are ignored).
#[derive(Deserialize)]
struct ConfigFile {
    kind: HostKind,
    kernel: String,
    random: Option<RandomSpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RandomSpec {
    cases: u32,
    #[serde(default)]
    seed: u64,
}

/// The random run `path` asks for: `None` when the file does not exist or
/// has no `random`, an error naming the file when it cannot be read.
pub fn from_file(path: &str) -> Option<Result<RandomConfig, String>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => return Some(Err(format!("{path}: {e}"))),
    };
    let file: ConfigFile = match serde_json::from_str(&text) {
        Ok(f) => f,
        Err(e) => return Some(Err(format!("{path}: {e}"))),
    };
    let spec = file.random?;
    Some(
        RandomConfig::new(file.kind, &file.kernel, spec.cases, spec.seed)
            .map_err(|e| format!("{path}: {e}")),
    )
}

/// Take `--random N`, `--seed S`, `--kind K` and `--kernel V` out of the
/// command line (the rest are scenario files): `None` without `--random`.
pub fn take_args(args: &mut Vec<String>) -> Option<Result<RandomConfig, String>> {
    let mut flag = |name: &str| -> Option<Result<String, String>> {
        let i = args.iter().position(|a| a == name)?;
        if i + 1 >= args.len() {
            args.remove(i);
            return Some(Err(format!("{name} needs a value")));
        }
        let v = args.remove(i + 1);
        args.remove(i);
        Some(Ok(v))
    };
    let cases = flag("--random");
    let seed = flag("--seed");
    let kind = flag("--kind");
    let kernel = flag("--kernel");
    let cases = cases?;
    Some((|| {
        let cases: u32 = cases?.parse().map_err(|e| format!("--random: {e}"))?;
        let seed: u64 = match seed {
            Some(s) => s?.parse().map_err(|e| format!("--seed: {e}"))?,
            None => 0,
        };
        let kind = kind.ok_or("--random needs --kind v3|v4.0|v4.0+nov4|v4.1")??;
        let kind: HostKind = serde_json::from_value(serde_json::Value::String(kind.clone()))
            .map_err(|_| format!("--kind {kind}: expected v3, v4.0, v4.0+nov4 or v4.1"))?;
        let kernel = match kernel {
            Some(k) => k?,
            None => std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .map(|s| s.trim().to_string())
                .map_err(|e| {
                    format!("--kernel not given and the running kernel's release is unknown: {e}")
                })?,
        };
        RandomConfig::new(kind, &kernel, cases, seed)
    })())
}

/// Run the sequences: the model against this kernel, a fresh VM per case
/// (and per shrinking step). Progress goes to stderr every 1000 cases.
pub fn run(kvm: &Kvm, cfg: &RandomConfig) -> DifferentialReport {
    // A hung vCPU (seen on 6.19+ under QEMU) costs the watchdog's limit: keep
    // it short here, where a hang only makes the rest of one case not applicable.
    crate::watchdog::set_limit(std::time::Duration::from_secs(1));
    let start = Instant::now();
    let mut runs = 0u64;
    let report = differential::run(cfg.cases, cfg.seed, cfg.host, |sc| {
        runs += 1;
        if runs.is_multiple_of(1000) {
            eprintln!(
                "gicx-kvm: random: {runs} runs of {} cases, {:.1} s",
                cfg.cases,
                start.elapsed().as_secs_f64()
            );
        }
        runner::run(kvm, sc).map_err(|e| e.0)
    });
    crate::watchdog::set_limit(crate::watchdog::LIMIT);
    report
}

/// The `GICX-RANDOM` line's JSON: the report, or `{"error": ...}`.
pub fn line(kvm: &Kvm, cfg: &Result<RandomConfig, String>) -> serde_json::Value {
    let cfg = match cfg {
        Ok(c) => c,
        Err(e) => return serde_json::json!({ "error": e }),
    };
    let start = Instant::now();
    let report = run(kvm, cfg);
    let mut v = serde_json::to_value(&report)
        .unwrap_or_else(|e| serde_json::json!({ "error": e.to_string() }));
    if let Some(o) = v.as_object_mut() {
        o.insert("kind".into(), cfg.kind.as_str().into());
        o.insert("kernel".into(), cfg.kernel.clone().into());
        o.insert("seconds".into(), start.elapsed().as_secs_f64().into());
    }
    v
}
