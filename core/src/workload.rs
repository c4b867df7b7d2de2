//! Named benchmark workloads: the same code timed natively (criterion in
//! `core/benches/workloads.rs`, `gicx bench` with `std::time::Instant`) and in the
//! browser (`web/tests/bench_workloads.rs` with `performance.now()`), so that
//! `scripts/bench` can report a wasm/native ratio of like for like.
//!
//! Each workload is realistic traffic, not one register in a loop: a Linux guest's
//! GIC MMIO at boot and while it runs, the VMMs' save and restore sequences, a
//! migration verdict, a full host matrix and the whole-space audit. [`Workload::prepare`]
//! does the set-up (booting source VMs) untimed and returns the timed part.
//!
//! ```
//! use gicx_core::workload::{self, Scale};
//! let w = workload::find("guest-mmio").unwrap();
//! let mut run = w.prepare(Scale::Smoke);
//! let work = run();
//! assert!(work.items > 100, "a Linux boot makes hundreds of accesses");
//! ```

use crate::audit::{self, AuditOptions};
use crate::catalogue::{
    Frame, GicdCtlr, GicdIcactiver, GicdIcenabler, GicdIcfgr, GicdIgroupr, GicdIidr,
    GicdIpriorityr, GicdIrouter, GicdIsactiver, GicdIsenabler, GicdIspendr, GicdPidr2, GicdTyper,
    GicdTyper2, GicrCtlr, GicrIcactiver0, GicrIcenabler0, GicrIgroupr0, GicrIpriorityr,
    GicrIsenabler0, GicrTyper,
};
use crate::guest::GuestProfile;
use crate::host::Host;
use crate::migrate::{self, MigrationSpec};
use crate::vgic::{vcpu_mpidr, RestorePolicy, Vgic, VmConfig};
use crate::vmm::{self, ItsSupport, Recipe, RestoreOptions, RECIPES};

/// How much of a workload to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scale {
    /// The measured size.
    Full,
    /// A very small instance, only to check that the workload runs (`scripts/bench --smoke`).
    Smoke,
}

/// What one run did: `items` of the workload's unit, and a checksum of what it
/// computed (so that nothing is optimised away, and runs can be compared).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Work {
    pub items: u64,
    pub check: u64,
}

/// The timed part of a workload.
pub type Run = Box<dyn FnMut() -> Work>;

/// A named workload.
pub struct Workload {
    /// Stable name, e.g. `guest-mmio`, `recipe/qemu`, `audit`.
    pub name: &'static str,
    /// One sentence: what is timed.
    pub what: &'static str,
    /// What [`Work::items`] counts: `accesses`, `migrations`, `cells`.
    pub unit: &'static str,
    prepare: fn(Scale) -> Run,
}

impl Workload {
    /// Set the workload up (untimed) and return its timed part.
    pub fn prepare(&self, scale: Scale) -> Run {
        (self.prepare)(scale)
    }
}

/// Every workload, in report order.
pub static WORKLOADS: &[Workload] = &[
    Workload {
        name: "guest-mmio",
        what: "a Linux guest's GIC MMIO on v4.1@6.17 (4 vCPUs, 256 IRQs): gic_dist_init/gic_cpu_init at boot, then 64 rounds of enable/disable, affinity, trigger and pending/active state queries",
        unit: "accesses",
        prepare: guest_mmio,
    },
    Workload {
        name: "userspace",
        what: "KVM_{GET,SET}_DEVICE_ATTR traffic: the save and the restore of Firecracker, cloud-hypervisor, QEMU, QEMU 2025 and kernel-doc on v4.1@6.8 (2 vCPUs, after a Linux boot)",
        unit: "accesses",
        prepare: userspace,
    },
    Workload {
        name: "recipe/firecracker",
        what: "Firecracker's full save and restore (vmm::RECIPES), v4.1@6.8, 2 vCPUs",
        unit: "accesses",
        prepare: |s| recipe_run("firecracker", s),
    },
    Workload {
        name: "recipe/cloud-hypervisor",
        what: "cloud-hypervisor's full save and restore, v4.1@6.8, 2 vCPUs, ITS",
        unit: "accesses",
        prepare: |s| recipe_run("cloud-hypervisor", s),
    },
    Workload {
        name: "recipe/qemu",
        what: "QEMU's full save and restore, v4.1@6.8, 2 vCPUs",
        unit: "accesses",
        prepare: |s| recipe_run("qemu", s),
    },
    Workload {
        name: "recipe/qemu-2025",
        what: "QEMU's (July 2025) full save and restore, v4.1@6.8, 2 vCPUs",
        unit: "accesses",
        prepare: |s| recipe_run("qemu-2025", s),
    },
    Workload {
        name: "recipe/crosvm",
        what: "crosvm's full save and restore (every word of both frames, dispatched), v4.1@6.8, 2 vCPUs",
        unit: "accesses",
        prepare: |s| recipe_run("crosvm", s),
    },
    Workload {
        name: "recipe/kernel-doc",
        what: "the kernel documentation's save and restore order, v4.1@6.8, 2 vCPUs",
        unit: "accesses",
        prepare: |s| recipe_run("kernel-doc", s),
    },
    Workload {
        name: "migrate",
        what: "one verdict (migrate::migrate): the 2020 case, a Linux guest moved by Firecracker from v4.1@5.7 to v4.0@5.7",
        unit: "migrations",
        prepare: migrate_one,
    },
    Workload {
        name: "matrix",
        what: "audit::matrix for QEMU and a Linux guest: every pair of the audit's 35 hosts (1 225 verdicts with reasons)",
        unit: "cells",
        prepare: matrix,
    },
    Workload {
        name: "audit",
        what: "audit::audit, the whole space (35 hosts, 6 VMMs, 3 guests, ITS, 3 policies), default replay, one thread",
        unit: "migrations",
        prepare: |s| audit_run(true, s),
    },
    Workload {
        name: "audit-full",
        what: "audit::audit with full_replay (every access dispatched, no HAS_ATTR shortcut), one thread",
        unit: "migrations",
        prepare: |s| audit_run(false, s),
    },
];

/// The workload named `name`.
pub fn find(name: &str) -> Option<&'static Workload> {
    WORKLOADS.iter().find(|w| w.name == name)
}

/// How to time a workload.
#[derive(Clone, Copy, Debug)]
pub struct MeasureOptions {
    /// Samples wanted (the median is reported).
    pub samples: usize,
    /// At least this many samples, even past `max_ms`.
    pub min_samples: usize,
    /// A sample runs the workload enough times to last at least this long (browser
    /// clocks are coarse: Chromium rounds `performance.now()` to 0.1 ms).
    pub min_sample_ms: f64,
    /// Stop taking samples after this much time (once `min_samples` are in).
    pub max_ms: f64,
    /// Run (and discard) samples until this long after the first run began: a
    /// browser compiles wasm with a baseline compiler first and swaps in optimised
    /// code for hot functions in the background, so the first samples are slower.
    pub warm_up_ms: f64,
}

impl Default for MeasureOptions {
    fn default() -> Self {
        MeasureOptions {
            samples: 9,
            min_samples: 3,
            min_sample_ms: 25.0,
            max_ms: 15_000.0,
            warm_up_ms: 500.0,
        }
    }
}

impl MeasureOptions {
    /// One run, one sample: does it work at all (not how fast).
    pub fn smoke() -> Self {
        MeasureOptions {
            samples: 1,
            min_samples: 1,
            min_sample_ms: 0.0,
            max_ms: 0.0,
            warm_up_ms: 0.0,
        }
    }
}

/// The timing of one workload.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Measurement {
    pub name: &'static str,
    pub unit: &'static str,
    /// Items of `unit` per run.
    pub items: u64,
    /// Milliseconds per run: the median of the samples, and the fastest.
    pub median_ms: f64,
    pub min_ms: f64,
    /// Milliseconds per run of each sample.
    pub samples_ms: Vec<f64>,
    /// Runs per sample.
    pub runs_per_sample: u32,
    pub check: u64,
}

impl Measurement {
    /// Items per second at the median.
    pub fn per_second(&self) -> f64 {
        if self.median_ms > 0.0 {
            self.items as f64 * 1000.0 / self.median_ms
        } else {
            0.0
        }
    }
}

/// Time `w` with the clock `now` (milliseconds from any origin): one untimed warm-up
/// run (none for smoke runs), then samples of `runs_per_sample` runs each.
pub fn measure(
    w: &Workload,
    scale: Scale,
    now: &dyn Fn() -> f64,
    opts: MeasureOptions,
) -> Measurement {
    let mut sampler = Sampler::new(w, scale, now, opts);
    while !sampler.done(now) {
        sampler.sample(now);
    }
    sampler.finish()
}

/// [`measure`] one sample at a time, for a caller that must give its thread back
/// between samples (the browser: a page busy for 30 s is a hung renderer to
/// ChromeDriver, and the full audit's samples take seconds each there).
pub struct Sampler {
    workload: &'static str,
    unit: &'static str,
    run: Run,
    reps: u32,
    work: Work,
    opts: MeasureOptions,
    /// When the first run began, and when samples begin to count.
    first_run: f64,
    start: Option<f64>,
    samples: Vec<f64>,
}

impl Sampler {
    /// Prepare the workload and, unless one sample is wanted, warm it up and find how
    /// many runs make a sample.
    pub fn new(w: &Workload, scale: Scale, now: &dyn Fn() -> f64, opts: MeasureOptions) -> Sampler {
        let mut run = (w.prepare)(scale);
        let mut reps = 1u32;
        let mut work = Work::default();
        let first_run = now();
        if opts.samples > 1 {
            work = run();
            let once = (now() - first_run).max(0.001);
            reps = (opts.min_sample_ms / once).ceil().clamp(1.0, 1_000_000.0) as u32;
        }
        Sampler {
            workload: w.name,
            unit: w.unit,
            run,
            reps,
            work,
            opts,
            first_run,
            start: None,
            samples: Vec::new(),
        }
    }

    /// Take one sample (discarded while warming up).
    pub fn sample(&mut self, now: &dyn Fn() -> f64) {
        let t = now();
        for _ in 0..self.reps {
            self.work = (self.run)();
        }
        if t - self.first_run >= self.opts.warm_up_ms {
            self.start.get_or_insert(t);
            self.samples.push((now() - t) / self.reps as f64);
        }
    }

    /// Whether enough samples are in: all wanted, or the least wanted once `max_ms`
    /// of counted samples is spent.
    pub fn done(&self, now: &dyn Fn() -> f64) -> bool {
        let n = self.samples.len();
        let spent = self.start.map_or(0.0, |s| now() - s);
        n >= self.opts.samples.max(1)
            || (n >= self.opts.min_samples.max(1) && spent > self.opts.max_ms)
    }

    pub fn finish(self) -> Measurement {
        let samples = self.samples;
        let mut sorted = samples.clone();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let median = match n {
            0 => f64::NAN,
            n if n % 2 == 1 => sorted[n / 2],
            n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
        };
        Measurement {
            name: self.workload,
            unit: self.unit,
            items: self.work.items,
            median_ms: median,
            min_ms: sorted.first().copied().unwrap_or(f64::NAN),
            samples_ms: samples,
            runs_per_sample: self.reps,
            check: self.work.check,
        }
    }
}

fn host(s: &str) -> Host {
    Host::parse_compact(s).expect("workload hosts are valid")
}

// ---- guest MMIO -------------------------------------------------------------------------------

/// One guest MMIO access.
#[derive(Clone, Copy, Debug)]
struct GuestAccess {
    write: bool,
    frame: Frame,
    vcpu: u32,
    offset: u32,
    width: u8,
    value: u64,
}

const DEF_PRI: u64 = 0xa0a0_a0a0;

/// Linux's GICv3 driver traffic (drivers/irqchip/irq-gic-v3.c, as `GuestProfile::Linux`
/// boots it) and then `rounds` rounds of what a running Linux does through MMIO:
/// `disable_irq`/`enable_irq` (ICENABLER/ISENABLER), `irq_set_affinity` (IROUTER),
/// `irq_set_type` (ICFGR), `irq_get_irqchip_state` (ISPENDR/ISACTIVER reads), priority
/// updates for NMIs (IPRIORITYR byte writes) and each CPU's redistributor at hotplug.
fn linux_traffic(cfg: VmConfig, nassgicap: bool, rounds: u32) -> Vec<GuestAccess> {
    let nr = cfg.nr_irqs;
    let mut v = Vec::new();
    let mut rd = |frame, vcpu, offset, width| {
        v.push(GuestAccess {
            write: false,
            frame,
            vcpu,
            offset,
            width,
            value: 0,
        })
    };
    rd(Frame::Dist, 0, GicdPidr2::OFFSET, 32);
    rd(Frame::Dist, 0, GicdTyper::OFFSET, 32);
    rd(Frame::Dist, 0, GicdIidr::OFFSET, 32);
    rd(Frame::Dist, 0, GicdTyper2::OFFSET, 32);
    let wr = |v: &mut Vec<GuestAccess>, frame, vcpu, offset, width, value| {
        v.push(GuestAccess {
            write: true,
            frame,
            vcpu,
            offset,
            width,
            value,
        })
    };
    let d = Frame::Dist;
    let r = Frame::Redist;
    wr(&mut v, d, 0, GicdCtlr::OFFSET, 32, 0);
    for n in 1..nr / 32 {
        wr(&mut v, d, 0, GicdIgroupr::at(n), 32, 0xFFFF_FFFF);
        wr(&mut v, d, 0, GicdIcactiver::at(n), 32, 0xFFFF_FFFF);
        wr(&mut v, d, 0, GicdIcenabler::at(n), 32, 0xFFFF_FFFF);
    }
    for n in 2..nr / 16 {
        wr(&mut v, d, 0, GicdIcfgr::at(n), 32, 0);
    }
    for n in 8..nr / 4 {
        wr(&mut v, d, 0, GicdIpriorityr::at(n), 32, DEF_PRI);
    }
    for i in 32..nr {
        wr(&mut v, d, 0, GicdIrouter::at(i), 64, vcpu_mpidr(0) as u64);
    }
    let mut ctlr = GicdCtlr::ARE_NS.mask();
    if nassgicap {
        ctlr |= GicdCtlr::NASSGIREQ.mask();
        wr(&mut v, d, 0, GicdCtlr::OFFSET, 32, ctlr);
    }
    let enable = GicdCtlr::ENABLE_GRP1.mask() | GicdCtlr::ENABLE_GRP0.mask();
    wr(&mut v, d, 0, GicdCtlr::OFFSET, 32, ctlr | enable);
    let per_cpu = |v: &mut Vec<GuestAccess>, cpu: u32| {
        v.push(GuestAccess {
            write: false,
            frame: r,
            vcpu: cpu,
            offset: GicrTyper::OFFSET,
            width: 64,
            value: 0,
        });
        v.push(GuestAccess {
            write: false,
            frame: r,
            vcpu: cpu,
            offset: GicrCtlr::OFFSET,
            width: 32,
            value: 0,
        });
        let mut w = |offset, value| {
            v.push(GuestAccess {
                write: true,
                frame: r,
                vcpu: cpu,
                offset,
                width: 32,
                value,
            })
        };
        w(GicrIgroupr0::OFFSET, 0xFFFF_FFFF);
        w(GicrIcactiver0::OFFSET, 0xFFFF_FFFF);
        w(GicrIcenabler0::OFFSET, 0xFFFF_0000);
        w(GicrIsenabler0::OFFSET, 0x0000_FFFF);
        for n in 0..8 {
            w(GicrIpriorityr::at(n), DEF_PRI);
        }
        w(GicrIsenabler0::OFFSET, 1 << 27);
    };
    for cpu in 0..cfg.vcpus {
        per_cpu(&mut v, cpu);
    }
    // Devices come up: a handful of SPIs, edge and level.
    let spis: Vec<u32> = (0..16).map(|k| 32 + (k * 13) % (nr - 32)).collect();
    for (k, &intid) in spis.iter().enumerate() {
        let cfg_bit = (intid % 16) * 2 + 1;
        let edge = if k % 2 == 0 { 1u64 << cfg_bit } else { 0 };
        wr(&mut v, d, 0, GicdIcfgr::at(intid / 16), 32, edge);
        wr(&mut v, d, 0, GicdIpriorityr::OFFSET + intid, 8, 0x80);
        wr(
            &mut v,
            d,
            0,
            GicdIsenabler::at(intid / 32),
            32,
            1 << (intid % 32),
        );
    }
    for round in 0..rounds {
        for (k, &intid) in spis.iter().enumerate() {
            let bit = 1u64 << (intid % 32);
            let word = intid / 32;
            let target = (round + k as u32) % cfg.vcpus;
            wr(&mut v, d, 0, GicdIcenabler::at(word), 32, bit); // disable_irq
            wr(
                &mut v,
                d,
                0,
                GicdIrouter::at(intid),
                64,
                vcpu_mpidr(target) as u64,
            );
            wr(&mut v, d, 0, GicdIsenabler::at(word), 32, bit); // enable_irq
            v.push(GuestAccess {
                write: false,
                frame: d,
                vcpu: target,
                offset: GicdIspendr::at(word),
                width: 32,
                value: 0,
            });
            v.push(GuestAccess {
                write: false,
                frame: d,
                vcpu: target,
                offset: GicdIsactiver::at(word),
                width: 32,
                value: 0,
            });
            if k % 4 == 0 {
                wr(
                    &mut v,
                    d,
                    0,
                    GicdIpriorityr::OFFSET + intid,
                    8,
                    0x20 * (round as u64 % 8),
                );
            }
        }
        // A CPU goes offline and comes back: its redistributor is set up again.
        per_cpu(&mut v, round % cfg.vcpus);
    }
    v
}

fn guest_mmio(scale: Scale) -> Run {
    let h = host("v4.1@6.17");
    let cfg = VmConfig::default();
    let rounds = if scale == Scale::Smoke { 1 } else { 64 };
    let traffic = linux_traffic(cfg, h.system_supports_direct_sgis(), rounds);
    Box::new(move || {
        let mut vm = Vgic::new(h, cfg);
        vm.init();
        vm.run();
        let mut check = 0u64;
        for a in &traffic {
            let o = if a.write {
                vm.guest_write(a.frame, a.vcpu, a.offset, a.width, a.value)
            } else {
                vm.guest_read(a.frame, a.vcpu, a.offset, a.width)
            }
            .expect("the traffic is valid");
            check = check.rotate_left(5) ^ o.value;
        }
        check ^= vm.typer2() as u64 & GicdTyper2::NASSGICAP.mask();
        Work {
            items: traffic.len() as u64,
            check,
        }
    })
}

// ---- userspace: VMM save and restore ----------------------------------------------------------

/// A Linux-booted source for `recipe` and the destination's shape.
fn booted_source(recipe: &Recipe, h: Host) -> (Vgic, VmConfig) {
    let its = recipe.its == ItsSupport::Always;
    let cfg = crate::guest::vm_config(2, recipe.nr_irqs, its).expect("recipe shapes are valid");
    let mut src = Vgic::new(h, cfg);
    src.init();
    src.run();
    GuestProfile::Linux
        .boot(&mut src)
        .expect("the Linux profile boots");
    (src, cfg)
}

/// Save `src` with `recipe` and restore on a fresh VM on `h`: (accesses, checksum).
fn save_restore(src: &mut Vgic, cfg: VmConfig, h: Host, recipe: &Recipe) -> Work {
    let saved = vmm::save(src, recipe, None).expect("the source saves");
    let mut dst = Vgic::new(h, cfg);
    let r = vmm::restore(&mut dst, recipe, &saved, &RestoreOptions::default());
    assert!(r.refusal.is_none(), "{}: same-host restore", recipe.id);
    let st = dst.state();
    let check = st.dist.spis.iter().fold(saved.len() as u64, |c, i| {
        c.rotate_left(3) ^ i.enabled as u64 ^ i.mpidr as u64
    });
    Work {
        items: (saved.reads + r.accesses) as u64,
        check,
    }
}

fn userspace(_scale: Scale) -> Run {
    let h = host("v4.1@6.8");
    let mut srcs: Vec<(&'static Recipe, Vgic, VmConfig)> = RECIPES
        .iter()
        .filter(|r| !r.sweeps())
        .map(|r| {
            let (vm, cfg) = booted_source(r, h);
            (r, vm, cfg)
        })
        .collect();
    Box::new(move || {
        let mut total = Work::default();
        for (r, src, cfg) in srcs.iter_mut() {
            let w = save_restore(src, *cfg, h, r);
            total.items += w.items;
            total.check = total.check.rotate_left(7) ^ w.check;
        }
        total
    })
}

fn recipe_run(id: &'static str, _scale: Scale) -> Run {
    let h = host("v4.1@6.8");
    let r = vmm::recipe(id).expect("a recipe id");
    let (mut src, cfg) = booted_source(r, h);
    Box::new(move || save_restore(&mut src, cfg, h, r))
}

// ---- verdicts ---------------------------------------------------------------------------------

fn migrate_one(_scale: Scale) -> Run {
    let spec = MigrationSpec::new(
        host("v4.1@5.7"),
        host("v4.0@5.7"),
        vmm::recipe("firecracker").expect("firecracker"),
        GuestProfile::Linux,
    );
    Box::new(move || {
        let m = migrate::migrate(&spec).expect("the 2020 case migrates");
        Work {
            items: 1,
            check: m.verdict as u64 ^ (m.reasons().len() as u64) << 8,
        }
    })
}

fn hosts(scale: Scale) -> Vec<Host> {
    match scale {
        Scale::Full => audit::audit_hosts(),
        Scale::Smoke => ["v4.1@5.7", "v4.0@6.8", "v4.1@6.17"]
            .iter()
            .map(|s| host(s))
            .collect(),
    }
}

fn matrix(scale: Scale) -> Run {
    let hosts = hosts(scale);
    let qemu = vmm::recipe("qemu").expect("qemu");
    Box::new(move || {
        let m = audit::matrix(
            &hosts,
            qemu,
            GuestProfile::Linux,
            RestorePolicy::Kernel,
            false,
            2,
        )
        .expect("the matrix runs");
        Work {
            items: (hosts.len() * hosts.len()) as u64,
            check: m.counts.compatible as u64 | (m.counts.silently_broken as u64) << 32,
        }
    })
}

fn audit_run(fast: bool, scale: Scale) -> Run {
    let opts = AuditOptions {
        fast,
        threads: 1,
        examples: 0,
        hosts: hosts(scale),
        policies: match scale {
            Scale::Full => RestorePolicy::ALL.to_vec(),
            Scale::Smoke => vec![RestorePolicy::Kernel],
        },
        ..AuditOptions::default()
    };
    Box::new(move || {
        let rep = audit::audit(&opts).expect("the audit runs");
        let mut check = 0u64;
        for p in &rep.per_policy {
            check = check.rotate_left(13) ^ p.counts.compatible as u64;
            check = check.rotate_left(13) ^ p.counts.silently_broken as u64;
        }
        Work {
            items: rep.per_policy.iter().map(|p| p.counts.total() as u64).sum(),
            check,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_workload_runs_at_smoke_scale() {
        for w in WORKLOADS {
            let mut run = w.prepare(Scale::Smoke);
            let a = run();
            let b = run();
            assert!(a.items > 0, "{}", w.name);
            assert_eq!(a, b, "{}: a run does not depend on the one before", w.name);
        }
    }

    #[test]
    fn the_guest_traffic_is_what_the_linux_profile_does_at_boot() {
        // The boot part of the traffic leaves the VM as GuestProfile::Linux does.
        let h = host("v4.1@6.17");
        let cfg = VmConfig::new(2, 64, false).unwrap();
        let mut a = Vgic::new(h, cfg);
        a.init();
        a.run();
        GuestProfile::Linux.boot(&mut a).unwrap();
        let mut b = Vgic::new(h, cfg);
        b.init();
        b.run();
        for x in linux_traffic(cfg, true, 0) {
            if x.write {
                b.guest_write(x.frame, x.vcpu, x.offset, x.width, x.value)
            } else {
                b.guest_read(x.frame, x.vcpu, x.offset, x.width)
            }
            .unwrap();
        }
        assert!(a.dist().nassgireq && b.dist().nassgireq);
        assert_eq!(a.irq(0, 1).unwrap().hw, b.irq(0, 1).unwrap().hw);
        assert_eq!(a.observed().reads, b.observed().reads);
    }
}
