#!/usr/bin/env python3
"""The Markdown report of scripts/bench, from the files it collected in WORK:

machine.env        date, commit, nproc, CPU, memory, load, versions (key=value)
criterion.log      criterion's output, with "GICX_ITEMS name items unit" lines
criterion/         CRITERION_HOME: workload/<name>/new/estimates.json
audit.txt          "default|full seconds threads" per `gicx audit` run
wasm.jsonl         the browser's workload::Measurement objects (release profile)
wasm-app.jsonl     the same in the app's wasm-release profile (full runs only)
sizes.txt          "file raw gzip9 brotli11" of dist/
breakdown.json     scripts/size-breakdown.py: the wasm's bytes by area of the code
app.jsonl          tests/e2e/bench-app.mjs metrics

usage: bench-report.py WORK SMOKE(0|1)
"""
import glob
import json
import math
import os
import statistics
import sys

work, smoke = sys.argv[1], sys.argv[2] == "1"


def lines(name):
    path = os.path.join(work, name)
    return open(path).read().splitlines() if os.path.exists(path) else []


env = dict(l.split("=", 1) for l in lines("machine.env") if "=" in l)

items = {}
order = []
for l in lines("criterion.log"):
    if l.startswith("GICX_ITEMS "):
        _, name, n, unit = l.split()
        items[name] = (int(n), unit)
        order.append(name)

native = {}
for path in glob.glob(os.path.join(work, "criterion", "workload", "*", "new", "estimates.json")):
    key = os.path.basename(os.path.dirname(os.path.dirname(path)))
    native[key] = json.load(open(path))["median"]["point_estimate"] / 1e6  # ms

wasm = {}
for l in lines("wasm.jsonl"):
    m = json.loads(l)
    wasm[m["name"]] = m
wasm_app = {}
for l in lines("wasm-app.jsonl"):
    m = json.loads(l)
    wasm_app[m["name"]] = m

app = {}
for l in lines("app.jsonl"):
    if l.startswith("{"):
        m = json.loads(l)
        app[m["metric"]] = m

audit = {"default": [], "full": []}
threads = {}
for l in lines("audit.txt"):
    mode, secs, th = l.split()
    audit[mode].append(float(secs))
    threads[mode] = th

sizes = [l.split() for l in lines("sizes.txt")]
breakdown = json.load(open(os.path.join(work, "breakdown.json"))) if lines("breakdown.json") else None


def ms(x):
    if x is None:
        return "–"
    if x >= 1000:
        return f"{x / 1000:.2f} s"
    if x >= 10:
        return f"{x:.1f} ms"
    if x >= 1:
        return f"{x:.2f} ms"
    return f"{x * 1000:.1f} µs"


def rate(n, t, unit):
    if not t:
        return "–"
    r = n * 1000 / t
    for div, suffix in ((1e6, "M"), (1e3, "k")):
        if r >= div:
            return f"{r / div:.2f} {suffix} {unit}/s"
    return f"{r:.0f} {unit}/s"


def kb(n):
    return f"{int(n) / 1000:.1f} kB"


out = []
p = out.append
p("# gicx benchmarks")
p("")
p("Written by `scripts/bench` (see README, \"Speed and size\"); do not edit by hand.")
p("")
if smoke:
    p("**Smoke run** (`scripts/bench --smoke`): each benchmark ran once on a tiny instance, only to check that it works. These timings mean nothing.")
    p("")
p(
    f"Measured {env.get('date', '?')} at {env.get('commit', '?')}, on {env.get('nproc', '?')} cores "
    f"({env.get('cpu', '?')}), {env.get('memory', '?')} of memory. Load average (1, 5, 15 min) "
    f"{env.get('load_before', '?')} before and {env.get('load_after', '?')} after: the machine is shared, "
    f"so every figure is a median of repeated runs. {env.get('rustc', '')}; {env.get('chromium', '')}; node {env.get('node', '')}."
)
p("")

# ---- core workloads ------------------------------------------------------------------------
p("## Core workloads, native and in the browser")
p("")
p(
    "Native: criterion's median (`cargo bench -p gicx-core --bench workloads`; release profile: opt-level 3, "
    "fat LTO, one codegen unit). Browser: the same workloads (`gicx_core::workload`) compiled to wasm32 in the "
    "release profile and run in headless Chromium by wasm-bindgen-test-runner, timed with `performance.now()` "
    "(`web/tests/bench_workloads.rs`; median of up to 9 samples, each at least 25 ms, counted after a 500 ms warm-up, the page given its thread back between samples). One thread in both."
)
p("")
p(
    "Last column: the same browser run with the app's own profile (`wasm-release`: opt-level \"z\" for size), "
    "i.e. what the explorer itself gets."
)
p("")
p("| workload | per run | native | native rate | browser (wasm) | browser rate | wasm/native | browser, app profile |")
p("|---|---:|---:|---:|---:|---:|---:|---:|")
ratios = []
for name in order:
    n, unit = items[name]
    nat = native.get(name.replace("/", "_"))
    w = wasm.get(name)
    wt = w["median_ms"] if w else None
    ratio = wt / nat if (wt and nat) else None
    if ratio:
        ratios.append((ratio, name))
    p(
        f"| `{name}` | {n:,} {unit} | {ms(nat)} | {rate(n, nat, unit)} | {ms(wt)} | {rate(n, wt, unit)} | "
        f"{f'{ratio:.2f}' if ratio else '–'} | {ms(wasm_app[name]['median_ms']) if name in wasm_app else '–'} |".replace(",", "\u202f")
    )
p("")
if ratios:
    geo = math.exp(sum(math.log(r) for r, _ in ratios) / len(ratios))
    worst = max(ratios)
    p(f"wasm/native: geometric mean {geo:.2f}, worst {worst[0]:.2f} (`{worst[1]}`).")
    p("")

# ---- the audit as the CLI runs it ----------------------------------------------------------------
p("## The whole-space audit, as `gicx audit` runs it")
p("")
p("| command | threads | median | runs |")
p("|---|---:|---:|---:|")
for mode, cmd in (("default", "gicx audit"), ("full", "gicx audit --full-replay")):
    runs = audit[mode]
    if runs:
        p(f"| `{cmd}` | {threads.get(mode, '?')} | {statistics.median(runs):.3f} s | {len(runs)} |")
p("")
p("(`AuditStats::seconds`: the audit itself, without printing or replaying the counterexamples.)")
p("")

# ---- the app --------------------------------------------------------------------------------
p("## The app: release build in headless Chromium")
p("")
p("`trunk build --release` (profile `wasm-release`, `wasm-opt -Oz`), served from 127.0.0.1:")
p("")
p("| file | raw | gzip -9 | brotli -q 11 |")
p("|---|---:|---:|---:|")
total_raw = total_gz = total_br = 0
for f, raw, gz, br in sizes:
    total_raw += int(raw)
    total_gz += int(gz)
    total_br += int(br)
    kind = f.rsplit(".", 1)[-1]
    p(f"| {kind} (`{f}`) | {kb(raw)} | {kb(gz)} | {kb(br)} |")
p(f"| **total** | **{kb(total_raw)}** | **{kb(total_gz)}** | **{kb(total_br)}** |")
p("")
p(
    "The target is set in gzip; a static host that serves brotli (most do, for `.wasm` too) "
    "sends the brotli column."
)
p("")
if breakdown:
    areas = breakdown["areas"]
    parts_gz = sum(a["gzip"] for a in areas)
    p("### Where the wasm's bytes go")
    p("")
    p(
        "`scripts/size-breakdown.py`: the same wasm optimised as the release build is, with its names kept; "
        "every function body is put in one area by its name and each area is gzipped on its own "
        f"(so the parts add up to {kb(parts_gz)}, a little more than the whole file compresses to). "
        "Generic code instantiated for the app's types counts with whatever asked for it where its name says so "
        "(Yew's component and reducer code around the app counts as the app's); what std instantiates for "
        "the app's types without saying so stays under std."
    )
    p("")
    p("| area | functions | raw | gzip -9 | share of gzip |")
    p("|---|---:|---:|---:|---:|")
    for a in areas:
        if a["raw"]:
            p(f"| {a['area']} | {a['functions'] or '–'} | {kb(a['raw'])} | {kb(a['gzip'])} | {100 * a['gzip'] / parts_gz:.0f} % |")
    p("")
p("`tests/e2e/bench-app.mjs` (playwright-core, Debian's Chromium, 1280×800; fresh context and empty cache for each load):")
p("")
p("| metric | median | min | max | runs | what |")
p("|---|---:|---:|---:|---:|---|")
for key, m in app.items():
    if "skipped" in m:
        p(f"| `{key}` | – | – | – | 0 | skipped: {m['skipped']} |")
        continue
    extra = f" ({m['registers_listed']} registers listed)" if "registers_listed" in m else ""
    p(f"| `{key}` | {m['median']:.1f} ms | {m['min']:.1f} ms | {m['max']:.1f} ms | {len(m['samples'])} | {m.get('what', '')}{extra} |")
p("")

# ---- targets ----------------------------------------------------------------------------------
def status(ok):
    return "met" if ok else "**missed**"


p("## Targets")
p("")
p("| target | now | |")
p("|---|---|---|")
if sizes:
    p(f"| release build ≤ 300 kB gzip (wasm + JS + CSS) | {kb(total_gz)} (brotli: {kb(total_br)}) | {status(total_gz <= 300_000)} |")
fr = app.get("first_render")
if fr:
    p(f"| first interactive render < 300 ms | {fr['median']:.0f} ms (painted: {app.get('first_render_frame', {}).get('median', 0):.0f} ms) | {status(fr['median'] < 300)} |")
for key in ("poke_read", "poke_write", "log_step", "lesson_step", "matrix_cell"):
    m = app.get(key)
    if m and "skipped" not in m:
        frame = app.get(f"{key}_frame", {}).get("median")
        p(
            f"| `{key}` re-rendered < 16 ms (median{', ' + str(m['registers_listed']) + ' registers listed' if m.get('registers_listed') else ''}) | {m['median']:.1f} ms to the DOM, "
            f"{frame:.1f} ms to the end of the frame that paints it | {status(m['median'] < 16)} |"
        )
if audit["default"]:
    d = statistics.median(audit["default"])
    line = f"| whole-space audit < 1 s native | {d:.2f} s (`gicx audit`, {threads.get('default')} threads)"
    if audit["full"]:
        line += f"; full replay {statistics.median(audit['full']):.2f} s"
    p(line + f" | {status(d < 1)} |")
wa = wasm.get("audit")
if wa:
    line = f"| whole-space audit < 3 s in the browser | {wa['median_ms'] / 1000:.2f} s (one thread)"
    wf = wasm.get("audit-full")
    if wf:
        line += f"; full replay {wf['median_ms'] / 1000:.2f} s"
    wz = wasm_app.get("audit")
    if wz:
        line += f"; as the app ships it (opt-level z): {wz['median_ms'] / 1000:.2f} s"
        wzf = wasm_app.get("audit-full")
        if wzf:
            line += f", full replay {wzf['median_ms'] / 1000:.2f} s"
    worst_ms = max(wa["median_ms"], wz["median_ms"] if wz else 0)
    ia = app.get("audit_in_app")
    if ia and "skipped" not in ia:
        line += f"; in the app (\"Run audit\", click to counts shown, in slices with a progress bar): {ia['median'] / 1000:.2f} s"
        worst_ms = max(worst_ms, ia["median"])
    p(line + f" | {status(worst_ms < 3000)} |")
if ratios:
    p(f"| wasm/native ≤ 2 on the core workloads | worst {worst[0]:.2f} (`{worst[1]}`), geometric mean {geo:.2f} | {status(worst[0] <= 2)} |")
p("")
print("\n".join(out))
