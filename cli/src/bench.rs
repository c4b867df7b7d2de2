//! `gicx bench` (hidden): time gicx-core's named workloads natively with
//! `std::time::Instant`, for `scripts/bench` (which runs the same workloads in
//! headless Chromium for the wasm/native ratio). Timings are reported, never asserted.

use std::io::Write;
use std::time::Instant;

use clap::Args;
use gicx_core::workload::{self, MeasureOptions, Scale, WORKLOADS};

#[derive(Args)]
pub struct BenchArgs {
    /// Only these workloads (names as `--list` prints them); default: all.
    names: Vec<String>,
    /// Run each workload once at a tiny scale, only to check that it works.
    #[arg(long)]
    smoke: bool,
    /// Samples per workload (the median is reported).
    #[arg(long, default_value_t = 9)]
    samples: usize,
    /// One JSON object per line instead of a table.
    #[arg(long)]
    json: bool,
    /// List the workloads and exit.
    #[arg(long)]
    list: bool,
}

pub fn cmd_bench(out: &mut impl Write, a: BenchArgs) -> u8 {
    if a.list {
        for w in WORKLOADS {
            let _ = writeln!(out, "{:<24} {}", w.name, w.what);
        }
        return 0;
    }
    let mut chosen = Vec::new();
    for n in &a.names {
        match workload::find(n) {
            Some(w) => chosen.push(w),
            None => return crate::fail(format!("unknown workload {n:?}: see gicx bench --list")),
        }
    }
    if chosen.is_empty() {
        chosen = WORKLOADS.iter().collect();
    }
    let (scale, opts) = if a.smoke {
        (Scale::Smoke, MeasureOptions::smoke())
    } else {
        (
            Scale::Full,
            MeasureOptions {
                samples: a.samples.max(1),
                ..MeasureOptions::default()
            },
        )
    };
    let origin = Instant::now();
    let now = move || origin.elapsed().as_secs_f64() * 1000.0;
    for w in chosen {
        let m = workload::measure(w, scale, &now, opts);
        if a.json {
            let _ = writeln!(out, "{}", serde_json::to_string(&m).unwrap_or_default());
        } else {
            let _ = writeln!(
                out,
                "{:<24} {:>12.3} ms  {:>14.0} {}/s  ({} samples x {} runs)",
                m.name,
                m.median_ms,
                m.per_second(),
                m.unit,
                m.samples_ms.len(),
                m.runs_per_sample
            );
        }
        let _ = out.flush();
    }
    0
}
