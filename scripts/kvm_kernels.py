"""Debian's arm64 kernels for scripts/kvm: found, downloaded and unpacked
without installing anything and without touching the system's apt state.

The mirror is the one this machine's own apt configuration names
(/etc/apt/sources.list.d/*.sources or /etc/apt/sources.list); other suites of
the same registry are read through a private apt state directory under the
cache (`apt-get -o Dir::Etc::SourceList=... -o Dir::State::Lists=...`), for
the arm64 architecture only. `apt-get download` fetches the .deb and
`dpkg-deb -x` unpacks it; the `boot/vmlinuz-*` inside is a plain arm64 Image
that QEMU's `-kernel` takes as it is.

Packages: `linux-image-<abi>-arm64-unsigned` carries the Image up to 6.12;
from about 6.16 `linux-binary-<ver>+deb13-arm64` does (the linux-image
package is then empty). Both are searched; the newest version of each series
wins, and the exact upstream and Debian versions are recorded.
"""

from __future__ import annotations

import glob
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

# The suites searched, each with the registry path it lives under ("debian" or
# "debian-security" on the same host as the system's own sources).
SUITES = [
    ("debian", "bullseye"),
    ("debian-security", "bullseye-security"),
    ("debian", "bookworm"),
    ("debian-security", "bookworm-security"),
    ("debian", "bookworm-backports"),
    ("debian", "trixie"),
    ("debian-security", "trixie-security"),
    ("debian", "trixie-backports"),
    ("debian", "sid"),
]

# The series the harness knows how to ask for (at least these; any other
# series found is listed too).
# The packages that may carry a generic arm64 Image, best first for one
# upstream version: linux-binary (6.19+), the unsigned image (up to 6.12),
# the signed image (6.16-6.18 backports publish no unsigned one; its Image
# carries an EFI stub, which QEMU's -kernel boots just the same).
PACKAGE = (
    r"linux-binary-[0-9.]+\+deb[0-9]+-arm64"
    r"|linux-image-[0-9.]+-[0-9]+-arm64-unsigned|linux-image-[0-9.]+\+deb[0-9]+-arm64-unsigned"
    r"|linux-image-[0-9.]+\+deb[0-9]+-arm64"
)


def package_rank(pkg: str) -> int:
    if pkg.startswith("linux-binary-"):
        return 2
    return 1 if pkg.endswith("-unsigned") else 0


WANTED_SERIES = ["5.10", "6.1", "6.12", "6.16", "6.17", "6.18", "6.19", "7.0", "7.1", "7.2", "7.3"]


def system_mirror() -> str:
    """The Debian registry's base URI from the system's apt configuration,
    without the trailing /debian (e.g. `http://host`)."""
    uris: list[str] = []
    for f in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
        for line in Path(f).read_text(errors="replace").splitlines():
            if line.startswith("URIs:"):
                uris += line.split(":", 1)[1].split()
    lists = ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*.list"))
    for f in lists:
        if not os.path.exists(f):
            continue
        for line in Path(f).read_text(errors="replace").splitlines():
            parts = line.split()
            if parts and parts[0] == "deb":
                uris += [p for p in parts[1:] if "://" in p][:1]
    for u in uris:
        u = u.rstrip("/")
        if u.endswith("/debian"):
            return u[: -len("/debian")]
    raise SystemExit(
        "scripts/kvm: no Debian mirror (a URI ending in /debian) in /etc/apt/sources.list*: "
        "the kernels come from the same registry as the system's packages"
    )


class Apt:
    """apt-get and apt-cache on a private state directory, arm64 only."""

    def __init__(self, cache: Path):
        self.root = cache / "apt"
        for d in ["lists/partial", "cache/archives/partial", "etc/preferences.d", "etc/apt.conf.d"]:
            (self.root / d).mkdir(parents=True, exist_ok=True)
        (self.root / "status").touch()
        self.sources = self.root / "etc" / "sources.list"
        base = system_mirror()
        lines = []
        for path, suite in SUITES:
            lines.append(
                f"deb [arch=arm64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] {base}/{path} {suite} main\n"
            )
        text = "".join(lines)
        if not self.sources.exists() or self.sources.read_text() != text:
            self.sources.write_text(text)
            for f in (self.root / "lists").glob("*_Packages*"):
                f.unlink()

    def opts(self) -> list[str]:
        r = self.root
        return [
            "-o", f"Dir::Etc::SourceList={self.sources}",
            "-o", "Dir::Etc::SourceParts=-",
            "-o", f"Dir::Etc::Preferences={r}/etc/preferences",
            "-o", f"Dir::Etc::PreferencesParts={r}/etc/preferences.d",
            "-o", f"Dir::Etc::Parts={r}/etc/apt.conf.d",
            "-o", f"Dir::State::Lists={r}/lists",
            "-o", f"Dir::State::status={r}/status",
            "-o", f"Dir::Cache={r}/cache",
            "-o", "APT::Architecture=arm64",
            "-o", "APT::Architectures::=arm64",
            "-o", "Acquire::Languages=none",
            "-o", "Debug::NoLocking=1",
            "-o", "APT::Sandbox::User=root",
        ]

    def update(self, max_age_s: int = 12 * 3600) -> None:
        lists = list((self.root / "lists").glob("*_Packages*"))
        import time

        if lists and all(time.time() - f.stat().st_mtime < max_age_s for f in lists):
            return
        print("kvm: apt-get update (private state, arm64, suites: " + ", ".join(s for _, s in SUITES) + ")", flush=True)
        r = subprocess.run(["apt-get", *self.opts(), "-qq", "update"], capture_output=True, text=True)
        if r.returncode != 0:
            # A suite the mirror does not carry (e.g. an archived one) is reported, not fatal,
            # as long as the others were read.
            print(r.stderr.strip(), flush=True)

    def packages(self) -> list[tuple[str, str, str]]:
        """Every (package, version, source) of a package that may hold a kernel Image."""
        r = subprocess.run(
            ["apt-cache", *self.opts(), "search", "--names-only", r"^linux-(image|binary)-.*arm64"],
            capture_output=True,
            text=True,
            check=True,
        )
        names = sorted(
            {
                line.split(" ", 1)[0]
                for line in r.stdout.splitlines()
                if re.fullmatch(PACKAGE, line.split(" ", 1)[0])
            }
        )
        out = []
        if not names:
            return out
        # One madison call for all of them: "pkg | version | host path suite/main arm64 Packages".
        m = subprocess.run(["apt-cache", *self.opts(), "madison", *names], capture_output=True, text=True)
        for line in m.stdout.splitlines():
            parts = [p.strip() for p in line.split("|")]
            if len(parts) >= 3 and parts[0] in names:
                out.append((parts[0], parts[1], parts[2]))
        return out

    def download(self, pkg: str, version: str, dest: Path) -> Path:
        dest.mkdir(parents=True, exist_ok=True)
        have = list(dest.glob(f"{pkg}_*.deb"))
        for h in have:
            if version.replace(":", "%3a") in h.name:
                return h
        # Security suites list versions whose files the mirror no longer serves:
        # remember those for a day rather than asking again on every run.
        gone = dest / "unavailable"
        import time

        key = f"{pkg}={version}"
        if gone.exists():
            for line in gone.read_text().splitlines():
                when, _, k = line.partition(" ")
                if k == key and time.time() - float(when) < 86400:
                    raise SystemExit(f"kvm: {key} could not be downloaded earlier today")
        print(f"kvm: apt-get download {pkg}={version}", flush=True)
        r = subprocess.run(["apt-get", *self.opts(), "-qq", "download", f"{pkg}:arm64={version}"], cwd=dest, capture_output=True, text=True)
        if r.returncode != 0:
            with gone.open("a") as f:
                f.write(f"{time.time()} {key}\n")
            raise SystemExit(f"kvm: apt-get download {key}: {r.stderr.strip().splitlines()[-1] if r.stderr.strip() else r.returncode}")
        got = [h for h in dest.glob(f"{pkg}_*.deb") if version.replace(":", "%3a") in h.name]
        if not got:
            raise SystemExit(f"kvm: apt-get download {pkg}={version} left no .deb in {dest}")
        return got[0]


@dataclass
class Kernel:
    series: str  # "6.12"
    upstream: str  # "6.12.118"
    debian: str  # Debian's package version, "6.12.118-1"
    package: str
    suite: str
    image: Path | None = None

    @property
    def name(self) -> str:
        return self.upstream


def upstream_of(debian_version: str) -> str:
    # "6.12.118-1", "6.1.164-1", "7.3.4-1~bpo13+1", "6.16.3-1~bpo13+1" -> 6.12.118 ...
    v = debian_version.split(":")[-1]
    v = re.split(r"[-~+]", v, maxsplit=1)[0]
    return v


def series_of(upstream: str) -> str:
    return ".".join(upstream.split(".")[:2])


def version_key(v: str) -> tuple:
    return tuple(int(x) if x.isdigit() else 0 for x in re.split(r"[.\-~+]", v))


def resolve(apt: Apt) -> dict[str, list[Kernel]]:
    """Per series, the candidates for its newest kernel, best first: newest
    upstream version, then newest Debian version, then the package most likely
    to hold the Image ([`package_rank`])."""
    by_series: dict[str, list[Kernel]] = {}
    for pkg, version, source in apt.packages():
        up = upstream_of(version)
        s = series_of(up)
        fields = source.split()
        suite = fields[1].split("/")[0] if len(fields) > 1 else source
        by_series.setdefault(s, []).append(Kernel(series=s, upstream=up, debian=version, package=pkg, suite=suite))
    out = {}
    for s, ks in sorted(by_series.items(), key=lambda kv: version_key(kv[0])):
        ks.sort(key=lambda k: (version_key(k.upstream), version_key(k.debian), package_rank(k.package)), reverse=True)
        out[s] = ks
    return out


def image_of(apt: Apt, k: Kernel, cache: Path) -> Path:
    """The unpacked arm64 Image of a kernel package (cached)."""
    out = cache / "kernels" / f"{k.package}_{k.debian}"
    if (out / "Image").exists():
        return out / "Image"
    deb = apt.download(k.package, k.debian, cache / "debs")
    tmp = out.parent / (out.name + ".tmp")
    subprocess.run(["rm", "-rf", str(tmp)], check=True)
    tmp.mkdir(parents=True)
    # Only the Image is needed (the initramfs has no modules; KVM and the GIC are
    # built in): boot/vmlinuz-* up to 6.18, usr/lib/modules/<abi>/vmlinuz in the
    # linux-binary packages from 6.19.
    listing = subprocess.run(["dpkg-deb", "-c", str(deb)], capture_output=True, text=True, check=True).stdout
    paths = [line.split()[-1] for line in listing.splitlines() if line.startswith("-")]
    wanted = [p for p in paths if re.fullmatch(r"\./boot/vmlinuz-.*|\./usr/lib/modules/[^/]+/vmlinuz", p)]
    if not wanted:
        raise SystemExit(f"kvm: {deb.name} holds no kernel Image (boot/vmlinuz-* or usr/lib/modules/*/vmlinuz)")
    subprocess.run(f"dpkg-deb --fsys-tarfile '{deb}' | tar -x -C '{tmp}' '{wanted[0]}'", shell=True, check=True)
    (tmp / "Image").symlink_to(Path(wanted[0]))
    subprocess.run(["rm", "-rf", str(out)], check=True)
    os.replace(tmp, out)
    return out / "Image"
