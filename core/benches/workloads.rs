//! Criterion benchmarks of gicx-core's named workloads (`gicx_core::workload`):
//! guest MMIO and userspace accesses per second on realistic traffic, each VMM
//! recipe's save and restore, one migration verdict, a host matrix and the
//! whole-space audit (default and full replay).
//!
//! ```sh
//! cargo bench -p gicx-core --bench workloads            # all
//! cargo bench -p gicx-core --bench workloads -- audit   # a filter
//! ```
//!
//! `scripts/bench` runs these and the same workloads in headless Chromium
//! (web/tests/bench_workloads.rs) for the wasm/native ratio; `gicx bench` times them
//! with `std::time::Instant` the way the browser run does.
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use gicx_core::workload::{Scale, WORKLOADS};

fn workloads(c: &mut Criterion) {
    // scripts/bench --smoke: the tiny instances (with criterion's `--test`: one run each).
    let scale = if std::env::var_os("GICX_BENCH_SMOKE").is_some() {
        Scale::Smoke
    } else {
        Scale::Full
    };
    let mut group = c.benchmark_group("workload");
    for w in WORKLOADS {
        let mut run = w.prepare(scale);
        let items = run().items;
        // For scripts/bench: items per run, to report accesses/s.
        println!("GICX_ITEMS {} {} {}", w.name, items, w.unit);
        // The heavy ones (a matrix, the audit) take 0.1 to 2 s a run: fewer samples.
        let heavy = matches!(w.name, "matrix" | "audit" | "audit-full");
        group.sample_size(if heavy { 10 } else { 30 });
        group.measurement_time(Duration::from_secs(if heavy { 15 } else { 3 }));
        group.warm_up_time(Duration::from_millis(if heavy { 100 } else { 500 }));
        group.throughput(Throughput::Elements(items));
        group.bench_function(w.name, |b| b.iter(&mut run));
    }
    group.finish();
}

criterion_group!(benches, workloads);
criterion_main!(benches);
