//! gicx-core's benchmark workloads (`gicx_core::workload`) timed in headless Chromium
//! with `performance.now()`, for the wasm/native ratio of `scripts/bench`. Every test
//! here is `#[ignore]`d: `scripts/test`'s browser stage skips them, and
//! `scripts/bench` runs them in release mode with `--include-ignored`:
//!
//! ```sh
//! cargo test -p gicx-web --target wasm32-unknown-unknown --release --test bench_workloads \
//!     -- --include-ignored full_      # or smoke_all
//! ```
//!
//! Each result is one console line `GICX_BENCH {json}` (a `workload::Measurement`).
//! Timings are printed, never asserted.
#![cfg(target_arch = "wasm32")]

use gicx_core::workload::{self, MeasureOptions, Sampler, Scale, WORKLOADS};
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = performance, js_name = now)]
    fn performance_now() -> f64;
}

/// Give the thread back to the page (a task later), so ChromeDriver, which calls a
/// renderer busy for 30 s hung, hears from it between samples.
async fn yield_to_page() {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        let _ = web_sys::window()
            .expect("a window")
            .set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, 0);
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}

async fn report(name: &str, scale: Scale, opts: MeasureOptions) {
    let w = workload::find(name).expect("a workload name");
    let mut sampler = Sampler::new(w, scale, &performance_now, opts);
    while !sampler.done(&performance_now) {
        yield_to_page().await;
        sampler.sample(&performance_now);
    }
    let m = sampler.finish();
    console_log!(
        "GICX_BENCH {}",
        serde_json::to_string(&m).expect("measurements serialise")
    );
}

#[wasm_bindgen_test]
#[ignore = "a benchmark: scripts/bench --smoke runs it"]
async fn smoke_all() {
    for w in WORKLOADS {
        report(w.name, Scale::Smoke, MeasureOptions::smoke()).await;
    }
}

macro_rules! full {
    ($($f:ident => $name:literal),* $(,)?) => {$(
        #[wasm_bindgen_test]
        #[ignore = "a benchmark: scripts/bench runs it"]
        async fn $f() {
            report($name, Scale::Full, MeasureOptions::default()).await;
        }
    )*};
}

full! {
    full_01_guest_mmio => "guest-mmio",
    full_02_userspace => "userspace",
    full_03_recipe_firecracker => "recipe/firecracker",
    full_04_recipe_cloud_hypervisor => "recipe/cloud-hypervisor",
    full_05_recipe_qemu => "recipe/qemu",
    full_06_recipe_qemu_2025 => "recipe/qemu-2025",
    full_07_recipe_crosvm => "recipe/crosvm",
    full_08_recipe_kernel_doc => "recipe/kernel-doc",
    full_09_migrate => "migrate",
    full_10_matrix => "matrix",
    full_11_audit => "audit",
    full_12_audit_full => "audit-full",
}

/// Every workload has a browser test above.
#[wasm_bindgen_test]
fn every_workload_has_a_browser_benchmark() {
    let src = include_str!("bench_workloads.rs");
    for w in WORKLOADS {
        assert!(src.contains(&format!("=> \"{}\"", w.name)), "{}", w.name);
    }
}
