"""scripts/kvm --migrations: real migrations between real kernels.

Two rounds of boots. Round 1 boots each source (kernel, kind) once; its
initramfs holds one job per recipe and guest profile
(`/gicx/migrations/save/*.json`): gicx-kvm prepares the source VM as the
model's migration does (`migrate::source_scenario`), runs the recipe's save
through the device attributes, reads the VM back as its guest and prints
`GICX-SAVED`. Round 2 boots each destination (kernel, kind) once with every
save destined for it (`/gicx/migrations/restore/*.json`): the recipe's restore
on a fresh VM (keeping going past a refused access, as the model's safety
replay does), every vCPU's first KVM_RUN, the guest's readback: `GICX-RESTORED`.

The pairs (`pairs`): the oldest and the newest kernel in both directions;
every two kernels of one series both ways (a stable upgrade and its rollback,
e.g. 6.12.86 <-> 6.12.88, without and with the IIDR fix); each kernel to
itself; GICv3 <-> GICv4.0 and GICv4.0 <-> GICv4.0 with vgic_v4_enable=0 on the
oldest and the newest kernel; and GICv4.0 on the oldest <-> GICv3 on the newest.

Recordings: `tests/kvm/migrations/saves/<kernel>/<kind>/<recipe>-<guest>.json`
and `restores/<from>-<kind>/<to>-<kind>/<recipe>-<guest>.json` (with
`--record`; otherwise under a temporary directory), compared with the model by
`gicx conform-migrations` (the same comparison `cargo test` replays), and
`summary.json` beside them for docs/conformance.md (`report_section`).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import kvm_kernels

ROOT = Path(__file__).resolve().parent.parent
MIGRATIONS = ROOT / "tests" / "kvm" / "migrations"
RECIPES = ["firecracker", "cloud-hypervisor", "qemu", "qemu-2025", "crosvm", "kernel-doc"]
# On QEMU's hosts (no GICv4.1) the legacy profile differs from linux only in
# not reading GICD_TYPER2, which reads 0 on every one of them.
GUESTS = ["linux", "idle"]
# (vcpus, NR_IRQS, ITS) of each recipe's VM, as migrate::source_scenario makes it.
NR_IRQS = {"firecracker": 128, "cloud-hypervisor": 256, "qemu": 288, "qemu-2025": 288, "crosvm": 64, "kernel-doc": 256}
ITS = {"cloud-hypervisor": True}

End = tuple  # (Kernel, kind)


def say(msg: str) -> None:
    print(f"kvm: {msg}", flush=True)


def default_kernels(available: dict[str, list], apt, cache: Path) -> str:
    """The newest kernel of the oldest series and of the newest series that can be
    downloaded, and 6.12.86 and 6.12.88 (the stable upgrade across the
    IIDR-revision fix)."""
    series = list(available)

    def newest(s: str) -> str | None:
        for cand in available[s]:
            try:
                cand.image = kvm_kernels.image_of(apt, cand, cache)
                return cand.upstream
            except (SystemExit, subprocess.CalledProcessError) as e:
                say(f"{cand.package} {cand.debian}: {e}; trying the next candidate")
        return None

    want = [newest(series[0]), "6.12.86", "6.12.88", newest(series[-1])]
    have = {k.upstream for ks in available.values() for k in ks}
    return ",".join(v for v in dict.fromkeys(want) if v in have)


def pairs(kernels: list) -> list[tuple[End, End]]:
    ks = sorted(kernels, key=lambda k: kvm_kernels.version_key(k.upstream))
    old, new = ks[0], ks[-1]
    out: list[tuple[End, End]] = []

    def add(a, ak, b, bk):
        p = ((a, ak), (b, bk))
        if p not in out:
            out.append(p)

    add(old, "v3", new, "v3")
    add(new, "v3", old, "v3")
    for a in ks:
        for b in ks:
            if a is not b and a.series == b.series:
                add(a, "v3", b, "v3")
    for k in ks:
        add(k, "v3", k, "v3")
    for k in [old] if old is new else [old, new]:
        add(k, "v3", k, "v4.0")
        add(k, "v4.0", k, "v3")
        add(k, "v4.0", k, "v4.0+nov4")
        add(k, "v4.0+nov4", k, "v4.0")
    if old is not new:
        add(old, "v4.0", new, "v3")
        add(new, "v3", old, "v4.0")
    return out


def end_name(e: End) -> str:
    return f"{e[0].upstream}-{e[1]}"


def recorded_kernel(b) -> dict:
    return {
        "series": b.kernel.series,
        "upstream": b.kernel.upstream,
        "debian": b.kernel.debian,
        "release": b.begin.get("release", ""),
        "proc_version": b.begin.get("proc_version", ""),
        "package": b.kernel.package,
        "suite": b.kernel.suite,
    }


def lines(b, tag: str) -> list[dict]:
    out = []
    for line in b.console.splitlines():
        t, _, rest = line.strip("\r").partition(" ")
        if t == tag:
            out.append(json.loads(rest))
    return out


def pack(runner: Path, newc, jobs: dict[str, list[tuple[str, dict]]]) -> bytes:
    entries = [
        ("init", 0o100755, runner.read_bytes()),
        ("dev", 0o040755, b""),
        ("proc", 0o040755, b""),
        ("sys", 0o040755, b""),
        ("gicx", 0o040755, b""),
        ("gicx/migrations", 0o040755, b""),
    ]
    for d, files in jobs.items():
        entries.append((f"gicx/migrations/{d}", 0o040755, b""))
        for i, (_, job) in enumerate(files):
            entries.append((f"gicx/migrations/{d}/{i:04d}.json", 0o100644, json.dumps(job).encode()))
    return newc(entries)


def run(a, kernels: list, runner: Path, gicx: Path, boot, newc) -> int:
    """Both rounds, the recordings, the comparison. Exit 0 all agree, 1 otherwise."""
    ps = pairs(kernels)
    recipes = a.recipes.split(",") if getattr(a, "recipes", None) else RECIPES
    guests = GUESTS
    sources = list({end_name(p[0]): p[0] for p in ps}.values())
    dests = list({end_name(p[1]): p[1] for p in ps}.values())
    say(f"migrations: {len(ps)} host pairs x {len(recipes)} recipes x {len(guests)} guests; "
        f"{len(sources)} source boots, {len(dests)} destination boots")
    work = Path(tempfile.mkdtemp(prefix="gicx-kvm-migrations-"))
    root = MIGRATIONS if a.record else work / "migrations"
    failed: list[str] = []
    try:
        # Round 1: saves.
        saves: dict[tuple[str, str, str], Path] = {}  # (end, recipe, guest) -> recording path
        for src in sources:
            jobs = []
            for r in recipes:
                for g in guests:
                    jid = f"{end_name(src)}-{r}-{g}"
                    jobs.append((jid, {"id": jid, "recipe": r, "guest": g, "kind": src[1], "kernel": src[0].upstream}))
            b = boot(src[0], src[1], pack(runner, newc, {"save": jobs}), work)
            got = {x["id"]: x for x in lines(b, "GICX-SAVED")} if not b.error else {}
            say(f"save round, {end_name(src)}: {len(got)}/{len(jobs)} saved in {b.seconds:.1f} s"
                + (f" ({b.error.splitlines()[0]})" if b.error else ""))
            if a.console_dir:
                a.console_dir.mkdir(parents=True, exist_ok=True)
                (a.console_dir / f"save-{end_name(src)}.log").write_text(b.console)
            if a.record:
                shutil.rmtree(root / "saves" / src[0].upstream / src[1], ignore_errors=True)
            for jid, job in jobs:
                line = got.get(jid)
                if line is None or line.get("error"):
                    failed.append(f"save {jid}: {line.get('error') if line else b.error or 'no GICX-SAVED line'}")
                    continue
                rel = Path("saves") / src[0].upstream / src[1] / f"{job['recipe']}-{job['guest']}.json"
                rec = {"recipe": job["recipe"], "guest": job["guest"],
                       "source": {"kernel": recorded_kernel(b), "kind": src[1]}, "save": line}
                (root / rel).parent.mkdir(parents=True, exist_ok=True)
                (root / rel).write_text(json.dumps(rec, indent=1) + "\n")
                saves[(end_name(src), job["recipe"], job["guest"])] = rel

        # Round 2: restores, each destination booted once.
        restores: list[Path] = []
        for dst in dests:
            jobs = []
            for src, d in ps:
                if end_name(d) != end_name(dst):
                    continue
                for r in recipes:
                    for g in guests:
                        rel = saves.get((end_name(src), r, g))
                        if rel is None:
                            continue
                        saved = json.loads((root / rel).read_text())["save"]["saved"]
                        jid = f"{end_name(src)}__{end_name(dst)}-{r}-{g}"
                        jobs.append((jid, {
                            "id": jid, "recipe": r, "vcpus": 2, "nr_irqs": NR_IRQS[r], "its": ITS.get(r, False),
                            "saved": saved,
                        }, rel, src))
            if not jobs:
                continue
            b = boot(dst[0], dst[1], pack(runner, newc, {"restore": [(j[0], j[1]) for j in jobs]}), work)
            got = {x["id"]: x for x in lines(b, "GICX-RESTORED")} if not b.error else {}
            say(f"restore round, {end_name(dst)}: {len(got)}/{len(jobs)} restored in {b.seconds:.1f} s"
                + (f" ({b.error.splitlines()[0]})" if b.error else ""))
            if a.console_dir:
                (a.console_dir / f"restore-{end_name(dst)}.log").write_text(b.console)
            for jid, job, rel, src in jobs:
                line = got.get(jid)
                if line is None or line.get("error"):
                    failed.append(f"restore {jid}: {line.get('error') if line else b.error or 'no GICX-RESTORED line'}")
                    continue
                out = root / "restores" / end_name(src) / end_name(dst) / rel.name
                rec = {"source_save": str(rel), "destination": {"kernel": recorded_kernel(b), "kind": dst[1]}, "restore": line}
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_text(json.dumps(rec, indent=1) + "\n")
                restores.append(out)

        # The comparison with the model.
        r = subprocess.run([str(gicx), "conform-migrations", "--json", *map(str, restores)], cwd=ROOT,
                           capture_output=True, text=True)
        if r.returncode not in (0, 1) or not r.stdout.strip():
            say(f"gicx conform-migrations failed: {r.stderr.strip()}")
            return 1
        rows = json.loads(r.stdout)
        summary = summarise(rows, failed, kernels)
        print(summary["text"], flush=True)
        if a.record:
            (MIGRATIONS / "summary.json").write_text(json.dumps({k: v for k, v in summary.items() if k != "text"}, indent=1) + "\n")
            say(f"wrote {len(restores)} migrations under {MIGRATIONS.relative_to(ROOT)}")
        return 1 if failed or summary["disagreeing"] else 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


def summarise(rows: list[dict], failed: list[str], kernels: list) -> dict:
    ok = [x for x in rows if "comparison" in x]
    comps = [x["comparison"] for x in ok]
    compared = sum(c["compared"] for c in comps)
    dis = [(c, d) for c in comps for d in c["disagreements"]]
    agreeing = sum(1 for c in comps if not c["disagreements"])
    verdicts: dict[str, int] = {}
    for c in comps:
        k = f"{c['kernel_verdict']} (model {c['model_verdict']})"
        verdicts[k] = verdicts.get(k, 0) + 1
    text = [
        f"kvm: {len(rows)} real migrations ({len(failed)} could not run), {agreeing} agree with the model in every "
        f"errno, refusal, saved and guest-visible value and verdict; {compared} items compared, {len(dis)} disagreements",
    ]
    for k, n in sorted(verdicts.items()):
        text.append(f"  kernel {k}: {n}")
    for c, d in dis[:60]:
        text.append(f"  {c['recipe']} {c['guest']} {c['from']} -> {c['to']}: {d['part']} {d['what']}: model {d['model']}, kernel {d['kernel']}")
    if len(dis) > 60:
        text.append(f"  … and {len(dis) - 60} more")
    for f in failed[:20]:
        text.append(f"  could not run: {f}")
    for x in rows:
        if "error" in x:
            text.append(f"  {x['file']}: {x['error']}")
    pairs_seen: dict[tuple[str, str], dict] = {}
    for c in comps:
        p = pairs_seen.setdefault((c["from"], c["to"]), {"from": c["from"], "to": c["to"], "migrations": 0, "agree": 0, "verdicts": {}, "refused": {}})
        p["migrations"] += 1
        p["agree"] += not c["disagreements"]
        p["verdicts"][c["kernel_verdict"]] = p["verdicts"].get(c["kernel_verdict"], 0) + 1
        if c.get("refused"):
            p["refused"][f"{c['recipe']}: {c['refused']}"] = 1
    return {
        "text": "\n".join(text),
        "kernels": [{"upstream": k.upstream, "debian": k.debian, "suite": k.suite} for k in kernels],
        "migrations": len(rows),
        "could_not_run": failed,
        "agreeing": agreeing,
        "disagreeing": len(comps) - agreeing + sum(1 for x in rows if "error" in x),
        "compared": compared,
        "verdicts": verdicts,
        "pairs": list(pairs_seen.values()),
        "disagreements": [{"recipe": c["recipe"], "guest": c["guest"], "from": c["from"], "to": c["to"], **d} for c, d in dis],
    }


def report_section() -> list[str]:
    """docs/conformance.md's section on real migrations, from the committed summary."""
    p = MIGRATIONS / "summary.json"
    if not p.exists():
        return []
    s = json.loads(p.read_text())
    out = [
        "",
        "## Real migrations between real kernels",
        "",
        "`scripts/kvm --migrations --record`: each VMM recipe saves a source VM (2 vCPUs, the VMM's",
        "NR_IRQS, prepared as the model's migration does: `migrate::source_scenario`) on one real",
        "kernel and restores it on another (another boot, same or another GIC version); the guest",
        "then reads back every register the model's differences talk about. `gicx conform-migrations`",
        "(and `cargo test`, `core/tests/migration_recordings.rs`) compares the save, every errno of",
        "the restore, the refusal and every guest-visible value with the model, and the kernels'",
        "verdict and differences with `gicx migrate`'s.",
        "",
        f"**{s['agreeing']} of {s['migrations']} migrations agree in everything**, {s['compared']} items compared,"
        f" {len(s['disagreements'])} disagreements.",
        "",
        "| from | to | migrations | agree | verdicts on the kernels | refused at |",
        "|---|---|---|---|---|---|",
    ]
    for p in s["pairs"]:
        v = ", ".join(f"{k} {n}" for k, n in sorted(p["verdicts"].items()))
        refused = "; ".join(sorted(p["refused"])) or "—"
        out.append(f"| {p['from']} | {p['to']} | {p['migrations']} | {p['agree']} | {v} | {refused} |")
    if s["disagreements"]:
        out += ["", "Disagreements:", ""]
        for d in s["disagreements"]:
            out.append(f"- {d['recipe']} {d['guest']} {d['from']} → {d['to']}, {d['part']} {d['what']}: model {d['model']}, kernel {d['kernel']}")
    return out


def resummarise(gicx: Path) -> int:
    """Rewrite summary.json from the committed recordings and the current model
    (after a model fix, without booting anything): `python3 scripts/kvm_migrations.py`."""
    r = subprocess.run([str(gicx), "conform-migrations", "--json", str(MIGRATIONS)], cwd=ROOT, capture_output=True, text=True)
    if r.returncode not in (0, 1):
        say(f"gicx conform-migrations failed: {r.stderr.strip()}")
        return 1
    rows = json.loads(r.stdout)
    old = json.loads((MIGRATIONS / "summary.json").read_text()) if (MIGRATIONS / "summary.json").exists() else {}

    class K:  # the kernels as the last boots recorded them
        def __init__(self, d):
            self.upstream, self.debian, self.suite = d["upstream"], d.get("debian"), d.get("suite")

    summary = summarise(rows, old.get("could_not_run", []), [K(k) for k in old.get("kernels", [])])
    print(summary["text"])
    (MIGRATIONS / "summary.json").write_text(json.dumps({k: v for k, v in summary.items() if k != "text"}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(resummarise(ROOT / "target" / "release" / "gicx"))
