//! Many migrations at once: a source × destination matrix for one VMM and guest
//! ([`matrix`]), and the audit of the whole space ([`audit`]): hardware v3, v4.0,
//! v4.1, v4.1 without CPU-interface vSGIs and v4.1 with `vgic_v4_enable` off, at the
//! first kernel of every era, every VMM recipe, every guest profile, with and without
//! an ITS, under each restore policy.
//!
//! Every verdict is a replay (see [`crate::migrate`]); the work is shared, never
//! skipped: each source VM is booted and saved once per (host, VMM, guest, ITS); two
//! sources whose saves read the same values share one restore per (destination,
//! policy); each restore's destination is compared with every source that saved that
//! image. Audit VMs have 2 vCPUs (the guest profiles route to the last one). For a VMM
//! that sweeps whole frames (crosvm, 49 152 accesses per restore per vCPU) the audit
//! counts the words `KVM_HAS_DEVICE_ATTR` reports without a region on that VM instead of
//! dispatching them ([`crate::vmm::RegionMap`]); `AuditOptions::fast = false` dispatches
//! every access, and a test checks both give the same counts.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde::Serialize;

use crate::guest::GuestProfile;
use crate::host::{Era, GicHw, Host, KernelVersion};
use crate::migrate::{
    self, differences, judgement, reason_lines, serialize_policy, Facts, Fix, GuestView,
    IdRegister, MigrateError, MigrationSpec, SourceSnapshot, Verdict, Verifier,
};
use crate::vgic::{RestorePolicy, Vgic, VmConfig};
use crate::vmm::{self, Recipe, RegionMap, RestoreOptions, SavedState, RECIPES};

/// The hardware setups of the audit at every era: v3, v4.0, v4.1,
/// v4.1+novsgi, v4.1+nov4.
const ERA_SETUPS: [(GicHw, bool, bool); 5] = [
    (GicHw::V3, false, true),
    (GicHw::V4_0, false, true),
    (GicHw::V4_1, true, true),
    (GicHw::V4_1, false, true),
    (GicHw::V4_1, true, false),
];

/// The hosts of the audit: the five hardware setups at the first kernel of
/// every era (35, first, in the order links and tests index them), then every
/// further *distinct behaviour point* ([`behaviour_point`]): each change of
/// [`crate::kernels::ALL`] at its mainline release, at the first version of
/// each stable series carrying its backport and at the version just before
/// it, on GICv4.1 and GICv3 hardware; and GICv5 hosts (6.17+) at each era and
/// behaviour point they can run. A host that behaves like one already listed
/// (same hardware, era and changes) is left out.
pub fn audit_hosts() -> Vec<Host> {
    let mut v = Vec::new();
    for era in Era::ALL {
        for (gic, vsgi, v4) in ERA_SETUPS {
            v.push(Host::new(gic, vsgi, v4, era.version()).expect("eras are valid kernels"));
        }
    }
    let mut seen: Vec<BehaviourPoint> = v.iter().map(behaviour_point).collect();
    let mut push = |h: Host, v: &mut Vec<Host>| {
        let p = behaviour_point(&h);
        if !seen.contains(&p) {
            seen.push(p);
            v.push(h);
        }
    };
    let kernels = behaviour_kernels();
    for &k in &kernels {
        for gic in [GicHw::V4_1, GicHw::V3] {
            if let Ok(h) = Host::new(gic, gic == GicHw::V4_1, true, k) {
                push(h, &mut v);
            }
        }
    }
    let v5_kernels = Era::ALL
        .iter()
        .map(|e| e.version())
        .chain(kernels.iter().copied())
        .filter(|&k| k >= crate::host::GICV5_LEGACY_KERNEL);
    let mut v5_kernels: Vec<KernelVersion> = v5_kernels.collect();
    v5_kernels.sort();
    for k in v5_kernels {
        push(
            Host::new(GicHw::V5, false, true, k).expect("6.17+ hosts GICv5"),
            &mut v,
        );
    }
    v
}

/// What decides a host's behaviour in the model: its hardware and
/// parameters, its era, and which behaviour changes its kernel carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BehaviourPoint {
    pub gic: GicHw,
    pub cpuif_vsgi: bool,
    pub vgic_v4_enable: bool,
    pub cpuif_id_bits: u8,
    pub cpuif_pmr_all_bits: bool,
    pub era: Era,
    /// The ids of the [`crate::kernels::ALL`] changes the kernel carries.
    pub changes: Vec<&'static str>,
}

/// A host's [`BehaviourPoint`].
pub fn behaviour_point(h: &Host) -> BehaviourPoint {
    BehaviourPoint {
        gic: h.gic,
        cpuif_vsgi: h.cpuif_vsgi,
        vgic_v4_enable: h.vgic_v4_enable,
        cpuif_id_bits: h.cpuif_id_bits,
        cpuif_pmr_all_bits: h.cpuif_pmr_all_bits,
        era: h.era(),
        changes: crate::kernels::ALL
            .iter()
            .filter(|c| h.has(c))
            .map(|c| c.id)
            .collect(),
    }
}

/// The kernels where some change of [`crate::kernels::ALL`] starts: its
/// mainline release, and in each stable series the first version with the
/// backport and the one before it; sorted, without repeats.
pub fn behaviour_kernels() -> Vec<KernelVersion> {
    let mut k = Vec::new();
    for c in crate::kernels::ALL.iter() {
        k.push(c.mainline);
        for s in c.stable {
            k.push(*s);
            k.push(KernelVersion::new(s.major, s.minor, s.patch - 1));
        }
    }
    k.sort();
    k.dedup();
    k
}

/// Verdict counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub compatible: usize,
    pub rejected: usize,
    pub needlessly_rejected: usize,
    pub silently_broken: usize,
}

impl Counts {
    pub fn add(&mut self, v: Verdict) {
        *self.slot(v) += 1;
    }
    fn slot(&mut self, v: Verdict) -> &mut usize {
        match v {
            Verdict::Compatible => &mut self.compatible,
            Verdict::Rejected => &mut self.rejected,
            Verdict::NeedlesslyRejected => &mut self.needlessly_rejected,
            Verdict::SilentlyBroken => &mut self.silently_broken,
        }
    }
    pub fn get(&self, v: Verdict) -> usize {
        match v {
            Verdict::Compatible => self.compatible,
            Verdict::Rejected => self.rejected,
            Verdict::NeedlesslyRejected => self.needlessly_rejected,
            Verdict::SilentlyBroken => self.silently_broken,
        }
    }
    pub fn total(&self) -> usize {
        self.compatible + self.rejected + self.needlessly_rejected + self.silently_broken
    }
    fn merge(&mut self, o: &Counts) {
        for v in Verdict::ALL {
            *self.slot(v) += o.get(v);
        }
    }
}

// ---- shared machinery -------------------------------------------------------------------------

type RegionKey = (Era, u32, bool);

/// Region maps shared by all workers (only VMMs that sweep use them).
#[derive(Default)]
struct RegionCache(Mutex<HashMap<RegionKey, Arc<RegionMap>>>);

impl RegionCache {
    fn get(&self, vm: &Vgic) -> Arc<RegionMap> {
        let k = vmm::region_key(vm);
        if let Some(m) = self.0.lock().expect("no panics while held").get(&k) {
            return m.clone();
        }
        let m = Arc::new(RegionMap::probe(vm));
        self.0
            .lock()
            .expect("no panics while held")
            .entry(k)
            .or_insert(m)
            .clone()
    }
}

/// A booted, saved source.
struct Source {
    snap: SourceSnapshot,
    image: usize,
    /// Sources that show the guest the same (view and ID reads) share a class: the
    /// audit judges each (class, image) once per destination.
    class: usize,
}

/// The sources of one (VMM, ITS) for every guest and host, and their distinct images.
struct Sources {
    config: VmConfig,
    by_guest: Vec<Vec<Source>>,
    images: Vec<SavedState>,
    /// Every ID register any source guest read (for the destination reads).
    ids: Vec<IdRegister>,
}

fn boot_sources(
    recipe: &Recipe,
    config: VmConfig,
    hosts: &[Host],
    guests: &[GuestProfile],
    regions: Option<&RegionCache>,
) -> Result<Sources, MigrateError> {
    let mut index: HashMap<SavedState, usize> = HashMap::new();
    let mut images = Vec::new();
    let mut by_guest = Vec::new();
    let mut ids = BTreeSet::new();
    let mut classes: HashMap<(GuestView, Vec<(IdRegister, u64)>), usize> = HashMap::new();
    for g in guests {
        let mut row = Vec::new();
        for h in hosts {
            let mut vm = Vgic::new(*h, config);
            vm.init();
            vm.run();
            g.boot(&mut vm)
                .map_err(|e| MigrateError::Source(e.to_string()))?;
            let map = regions.map(|c| c.get(&vm));
            let saved = vmm::save(&mut vm, recipe, map.as_deref())?;
            let snap = SourceSnapshot::of(&vm);
            ids.extend(snap.ids.iter().map(|(id, _)| id.clone()));
            let image = *index.entry(saved).or_insert_with_key(|k| {
                images.push(k.clone());
                images.len() - 1
            });
            let n = classes.len();
            let class = *classes
                .entry((snap.view.clone(), snap.ids.clone()))
                .or_insert(n);
            row.push(Source { snap, image, class });
        }
        by_guest.push(row);
    }
    Ok(Sources {
        config,
        by_guest,
        images,
        ids: ids.into_iter().collect(),
    })
}

/// What a destination shows after one image's restore (and run, or safety replay).
struct Landed {
    accepted: bool,
    view: GuestView,
    ids: HashMap<String, u64>,
    vm: Vgic,
    refusal: Option<vmm::Refusal>,
    log: Vec<vmm::LogEntry>,
    accesses: usize,
    elided: usize,
}

fn land_image(
    recipe: &Recipe,
    src: &Sources,
    image: usize,
    to: Host,
    policy: RestorePolicy,
    log: bool,
    regions: Option<&RegionCache>,
) -> Landed {
    let map = regions.map(|c| c.get(&Vgic::new(to, src.config)));
    let (left, restore, safety) = migrate::land(
        to,
        src.config,
        policy,
        recipe,
        &src.images[image],
        RestoreOptions {
            log,
            fast: map.as_deref(),
            changes: &[],
            ..Default::default()
        },
    );
    let accesses = restore.accesses + safety.as_ref().map_or(0, |l| l.restore.accesses);
    let elided = restore.elided + safety.as_ref().map_or(0, |l| l.restore.elided);
    let refusal = restore.refusal.clone();
    let (vm, view, log) = match safety {
        None => {
            let view = GuestView::of(&left);
            (left, view, restore.log)
        }
        Some(l) => (l.vm, l.view, l.restore.log),
    };
    let ids = src
        .ids
        .iter()
        .map(|id| id.key.clone())
        .zip(IdRegister::peek_all(&src.ids, &vm))
        .collect();
    Landed {
        accepted: refusal.is_none(),
        view,
        ids,
        vm,
        refusal,
        log,
        accesses,
        elided,
    }
}

fn quick_verdict(s: &Source, l: &Landed) -> Verdict {
    let safe = s
        .snap
        .same_as(&l.view, |id| l.ids.get(&id.key).copied().unwrap_or(0));
    Verdict::of(l.accepted, safe)
}

fn causes(s: &Source, l: &Landed) -> BTreeSet<String> {
    s.snap
        .causes(&l.view, |id| l.ids.get(&id.key).copied().unwrap_or(0))
}

// ---- the matrix -------------------------------------------------------------------------------

/// One cell of a matrix: source row, destination column.
#[derive(Clone, Debug, Serialize)]
pub struct MatrixCell {
    pub from: String,
    pub to: String,
    pub verdict: Verdict,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refusal: Option<String>,
    pub reasons: Vec<String>,
    pub rules: Vec<&'static str>,
    /// A fix the model verified: this cell's migration replayed with it is compatible.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suggestion: Option<Fix>,
    /// Each difference's rules, to judge the cell with one cause set aside
    /// ([`MatrixCell::verdict_setting_aside`]).
    #[serde(skip)]
    pub difference_rules: Vec<Vec<&'static str>>,
}

impl MatrixCell {
    /// The verdict if the differences that `rule` produced were not there (e.g. QEMU's
    /// IROUTER stride, which breaks every cell and hides what else differs). A refusal
    /// stays a refusal.
    pub fn verdict_setting_aside(&self, rule: &str) -> Verdict {
        let safe = self.difference_rules.iter().all(|r| r.contains(&rule));
        Verdict::of(self.refusal.is_none(), safe)
    }
}

/// Every source × destination for one VMM, guest and policy.
#[derive(Clone, Debug, Serialize)]
pub struct Matrix {
    pub vmm: &'static str,
    pub guest: GuestProfile,
    #[serde(serialize_with = "serialize_policy")]
    pub policy: RestorePolicy,
    pub config: VmConfig,
    pub hosts: Vec<String>,
    /// `cells[source][destination]`.
    pub cells: Vec<Vec<MatrixCell>>,
    pub counts: Counts,
}

/// Judge every source × destination in `hosts` (with reasons).
pub fn matrix(
    hosts: &[Host],
    recipe: &'static Recipe,
    guest: GuestProfile,
    policy: RestorePolicy,
    its: bool,
    vcpus: u32,
) -> Result<Matrix, MigrateError> {
    matrix_of(hosts, recipe, guest, policy, its, vcpus, true)
}

/// [`matrix`] without the cells' suggestions (no fix is replayed): for a view that
/// shows verdicts and opens a cell's full migration, with its fixes, on demand.
pub fn matrix_without_fixes(
    hosts: &[Host],
    recipe: &'static Recipe,
    guest: GuestProfile,
    policy: RestorePolicy,
    its: bool,
    vcpus: u32,
) -> Result<Matrix, MigrateError> {
    matrix_of(hosts, recipe, guest, policy, its, vcpus, false)
}

fn matrix_of(
    hosts: &[Host],
    recipe: &'static Recipe,
    guest: GuestProfile,
    policy: RestorePolicy,
    its: bool,
    vcpus: u32,
    fixes: bool,
) -> Result<Matrix, MigrateError> {
    // The same checks as a single migration (ITS support, VM shape).
    migrate::check_its(recipe, its)?;
    let config = crate::guest::vm_config(vcpus, recipe.nr_irqs, its)
        .map_err(|e| MigrateError::Source(e.to_string()))?;
    let regions = recipe.sweeps().then(RegionCache::default);
    let src = boot_sources(recipe, config, hosts, &[guest], regions.as_ref())?;
    let mut cells: Vec<Vec<MatrixCell>> = (0..hosts.len())
        .map(|_| Vec::with_capacity(hosts.len()))
        .collect();
    let mut counts = Counts::default();
    // Fixes are verified by replays, shared between cells (a destination kernel fix is
    // the same migration for every source that saves alike).
    let mut verifier = Verifier::default();
    for to in hosts {
        let landed: Vec<Landed> = (0..src.images.len())
            .map(|i| land_image(recipe, &src, i, *to, policy, true, regions.as_ref()))
            .collect();
        for (si, s) in src.by_guest[0].iter().enumerate() {
            let l = &landed[s.image];
            let diffs = differences(&s.snap, &l.vm, &l.view, Some(&l.log));
            let (verdict, rules) = judgement(l.refusal.as_ref(), &diffs);
            counts.add(verdict);
            let suggestion = if verdict == Verdict::Compatible || !fixes {
                None
            } else {
                let spec = MigrationSpec {
                    policy,
                    its,
                    vcpus,
                    ..MigrationSpec::new(hosts[si], *to, recipe, guest)
                };
                let candidates = migrate::candidates(&Facts {
                    snap: &s.snap,
                    to: *to,
                    recipe,
                    applied: &[],
                    refusal: l.refusal.as_ref(),
                    diffs: &diffs,
                    rules: &rules,
                });
                migrate::verified(&spec, candidates, false, &mut verifier)
                    .into_iter()
                    .next()
            };
            cells[si].push(MatrixCell {
                from: hosts[si].compact(),
                to: to.compact(),
                verdict,
                refusal: l
                    .refusal
                    .as_ref()
                    .map(|f| format!("{} at {}", f.errno, f.register)),
                reasons: reason_lines(l.refusal.as_ref(), &diffs),
                rules,
                suggestion,
                difference_rules: diffs.iter().map(|d| d.rules.clone()).collect(),
            });
        }
    }
    Ok(Matrix {
        vmm: recipe.id,
        guest,
        policy,
        config,
        hosts: hosts.iter().map(|h| h.compact()).collect(),
        cells,
        counts,
    })
}

// ---- the audit --------------------------------------------------------------------------------

/// How to run the audit.
#[derive(Clone, Debug)]
pub struct AuditOptions {
    pub policies: Vec<RestorePolicy>,
    /// Count no-region words of sweeping VMMs instead of dispatching them.
    pub fast: bool,
    /// Worker threads (1: run on the caller's thread).
    pub threads: usize,
    pub vcpus: u32,
    /// Counterexamples kept per policy and unsafe verdict.
    pub examples: usize,
    pub hosts: Vec<Host>,
}

impl Default for AuditOptions {
    fn default() -> Self {
        AuditOptions {
            policies: RestorePolicy::ALL.to_vec(),
            fast: true,
            threads: std::thread::available_parallelism()
                .map_or(1, |n| n.get())
                .min(4),
            vcpus: 2,
            examples: 3,
            hosts: audit_hosts(),
        }
    }
}

/// Counts of one policy.
#[derive(Clone, Debug, Serialize)]
pub struct PolicyCounts {
    #[serde(serialize_with = "serialize_policy")]
    pub policy: RestorePolicy,
    pub counts: Counts,
    /// Combinations a VMM does not make (crosvm with an ITS, cloud-hypervisor without).
    pub not_applicable: usize,
}

/// Counts of one VMM (both ITS settings) under one policy.
#[derive(Clone, Debug, Serialize)]
pub struct VmmCounts {
    pub vmm: &'static str,
    #[serde(serialize_with = "serialize_policy")]
    pub policy: RestorePolicy,
    pub counts: Counts,
}

/// A migration the audit found, replayed in full with its reasons.
#[derive(Clone, Debug, Serialize)]
pub struct Example {
    #[serde(serialize_with = "serialize_policy")]
    pub policy: RestorePolicy,
    pub verdict: Verdict,
    pub vmm: &'static str,
    pub its: bool,
    pub guest: GuestProfile,
    pub from: String,
    pub to: String,
    pub reasons: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suggestion: Option<Fix>,
}

/// How many unsafe migrations (rejected or silently broken) of a VMM show a cause.
#[derive(Clone, Debug, Serialize)]
pub struct CauseCount {
    pub vmm: &'static str,
    #[serde(serialize_with = "serialize_policy")]
    pub policy: RestorePolicy,
    /// `rejected` or `silently-broken`.
    pub verdict: Verdict,
    /// An ID register (`GICD_TYPER2`) or a state field (`SPI enabled`, `GICD_CTLR.nASSGIreq`).
    pub cause: String,
    pub count: usize,
}

/// Work done, for the record.
#[derive(Clone, Debug, Default, Serialize)]
pub struct AuditStats {
    pub sources: usize,
    pub distinct_saves: usize,
    pub restores: usize,
    pub accesses: usize,
    /// Accesses counted as no-region no-ops instead of dispatched (fast mode).
    pub elided: usize,
    pub seconds: f64,
    pub threads: usize,
    pub fast: bool,
}

/// The audit's result.
#[derive(Clone, Debug, Serialize)]
pub struct AuditReport {
    pub hosts: Vec<String>,
    pub vmms: Vec<&'static str>,
    pub guests: Vec<GuestProfile>,
    pub vcpus: u32,
    /// Migrations judged per policy (applicable ones).
    pub migrations_per_policy: usize,
    pub per_policy: Vec<PolicyCounts>,
    pub per_vmm: Vec<VmmCounts>,
    /// Per VMM and policy, the causes of its unsafe verdicts, most frequent first.
    pub causes: Vec<CauseCount>,
    pub examples: Vec<Example>,
    pub stats: AuditStats,
}

struct Unit {
    recipe: usize,
    its: bool,
}

/// `f` over `items` on `threads` workers, results in order.
fn par_map<T: Sync, R: Send>(items: &[T], threads: usize, f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    if threads <= 1 || items.len() <= 1 {
        return items.iter().map(f).collect();
    }
    let next = AtomicUsize::new(0);
    let slots: Mutex<Vec<Option<R>>> = Mutex::new((0..items.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..threads.min(items.len()) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= items.len() {
                    break;
                }
                let r = f(&items[i]);
                slots.lock().expect("no panics while held")[i] = Some(r);
            });
        }
    });
    slots
        .into_inner()
        .expect("no panics while held")
        .into_iter()
        .map(|r| r.expect("every item ran"))
        .collect()
}

/// Phase 1: boot and save every source of a (VMM, ITS); `None` where the VMM does not
/// make that VM.
fn unit_sources(
    u: &Unit,
    opts: &AuditOptions,
    regions: &RegionCache,
) -> Result<Option<Sources>, MigrateError> {
    let recipe = &RECIPES[u.recipe];
    if migrate::check_its(recipe, u.its).is_err() {
        return Ok(None);
    }
    let config = crate::guest::vm_config(opts.vcpus, recipe.nr_irqs, u.its)
        .map_err(|e| MigrateError::Source(e.to_string()))?;
    let regions = (opts.fast && recipe.sweeps()).then_some(regions);
    boot_sources(recipe, config, &opts.hosts, &GuestProfile::ALL, regions).map(Some)
}

/// What one (VMM, ITS, policy, destination) found.
#[derive(Default)]
struct TaskOut {
    counts: Counts,
    /// (verdict, guest, source host) of the first unsafe/refused cases, in order.
    examples: Vec<(Verdict, usize, usize)>,
    restores: usize,
    accesses: usize,
    elided: usize,
    /// Unsafe migrations per cause (one migration counts once per cause).
    causes: HashMap<(Verdict, String), usize>,
}

/// Phase 2: restore every distinct image on one destination under one policy and
/// judge every source that saved it.
fn unit_task(
    recipe: &Recipe,
    src: &Sources,
    to: Host,
    policy: RestorePolicy,
    opts: &AuditOptions,
    regions: &RegionCache,
) -> TaskOut {
    let regions = (opts.fast && recipe.sweeps()).then_some(regions);
    let mut out = TaskOut::default();
    let landed: Vec<Landed> = (0..src.images.len())
        .map(|i| land_image(recipe, src, i, to, policy, false, regions))
        .collect();
    for l in &landed {
        out.restores += 1;
        out.accesses += l.accesses;
        out.elided += l.elided;
    }
    // (class, image) -> (verdict, causes), judged once.
    let mut judged: HashMap<(usize, usize), (Verdict, Vec<String>)> = HashMap::new();
    for (gi, row) in src.by_guest.iter().enumerate() {
        for (si, s) in row.iter().enumerate() {
            let (v, why) = judged.entry((s.class, s.image)).or_insert_with(|| {
                let l = &landed[s.image];
                let v = quick_verdict(s, l);
                let why = if matches!(v, Verdict::Rejected | Verdict::SilentlyBroken) {
                    causes(s, l).into_iter().collect()
                } else {
                    Vec::new()
                };
                (v, why)
            });
            let v = *v;
            out.counts.add(v);
            for c in why.iter() {
                *out.causes.entry((v, c.clone())).or_default() += 1;
            }
            if v != Verdict::Compatible
                && out.examples.iter().filter(|e| e.0 == v).count() < opts.examples
            {
                out.examples.push((v, gi, si));
            }
        }
    }
    out
}

/// Now, where the platform has a clock: on wasm32-unknown-unknown `Instant::now`
/// panics, so the browser times the audit itself (`AuditStats::seconds` stays 0).
fn clock() -> Option<Instant> {
    if cfg!(target_arch = "wasm32") {
        None
    } else {
        Some(Instant::now())
    }
}

/// A counterexample's place: (unit, guest, source host, destination host).
type Found = (usize, usize, usize, usize);

/// How far an [`AuditJob`] is, in pieces of work: booting one (VMM, ITS)'s sources,
/// then one (VMM, ITS, policy, destination) restore task each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    pub done: usize,
    pub total: usize,
}

impl Progress {
    pub fn finished(self) -> bool {
        self.done >= self.total
    }
}

/// The audit as a job done piece by piece: [`audit`] runs its pieces on worker
/// threads; a caller with one thread and a page to keep alive (the browser) calls
/// [`AuditJob::step`] in slices, shows [`AuditJob::progress`] between them, and
/// gets the same report from [`AuditJob::finish`] (a test checks they agree).
pub struct AuditJob {
    opts: AuditOptions,
    units: Vec<Unit>,
    /// The unit whose sources a unit shares (itself, or an earlier one of the same shape).
    first_of: Vec<usize>,
    regions: RegionCache,
    /// Phase 1's results, in unit order; `booted.len()` units are done.
    booted: Vec<Option<Arc<Sources>>>,
    /// (unit, policy, destination) of every applicable unit.
    tasks: Vec<(usize, usize, usize)>,
    /// Phase 2's results, in task order.
    outs: Vec<TaskOut>,
    t0: Option<Instant>,
}

impl AuditJob {
    pub fn new(opts: &AuditOptions) -> AuditJob {
        let units: Vec<Unit> = (0..RECIPES.len())
            .flat_map(|recipe| [false, true].map(|its| Unit { recipe, its }))
            .collect();
        // Units whose VMMs save the same way on the same VM shape (qemu and qemu-2025)
        // share their sources: the same boots, the same saves.
        let shape = |u: &Unit| {
            let r = &RECIPES[u.recipe];
            (r.save.as_ptr() as usize, r.nr_irqs, u.its, applicable(u))
        };
        let first_of = (0..units.len())
            .map(|i| {
                units[..i]
                    .iter()
                    .position(|v| shape(v) == shape(&units[i]))
                    .unwrap_or(i)
            })
            .collect();
        let (np, nh) = (opts.policies.len(), opts.hosts.len());
        let tasks = (0..units.len())
            .filter(|&u| applicable(&units[u]))
            .flat_map(|u| (0..np).flat_map(move |p| (0..nh).map(move |d| (u, p, d))))
            .collect::<Vec<_>>();
        AuditJob {
            opts: opts.clone(),
            booted: Vec::with_capacity(units.len()),
            outs: Vec::with_capacity(tasks.len()),
            units,
            first_of,
            regions: RegionCache::default(),
            tasks,
            t0: clock(),
        }
    }

    pub fn progress(&self) -> Progress {
        Progress {
            done: self.booted.len() + self.outs.len(),
            total: self.units.len() + self.tasks.len(),
        }
    }

    /// Phase 1 for unit `i`: its sources, booted and saved unless an earlier unit of
    /// the same shape has them; `None` where the VMM does not make that VM.
    fn boot(&self, i: usize) -> Result<Option<Arc<Sources>>, MigrateError> {
        if self.first_of[i] == i {
            unit_sources(&self.units[i], &self.opts, &self.regions).map(|o| o.map(Arc::new))
        } else {
            Ok(None)
        }
    }

    /// The sources of unit `u` (once phase 1 is done).
    fn sources(&self, u: usize) -> Option<&Arc<Sources>> {
        self.booted[self.first_of[u]]
            .as_ref()
            .filter(|_| applicable(&self.units[u]))
    }

    /// Phase 2: task `t`.
    fn run_task(&self, t: usize) -> TaskOut {
        let (u, p, d) = self.tasks[t];
        let src = self.sources(u).expect("tasks are of applicable units");
        unit_task(
            &RECIPES[self.units[u].recipe],
            src,
            self.opts.hosts[d],
            self.opts.policies[p],
            &self.opts,
            &self.regions,
        )
    }

    /// Do the next piece of work, on this thread.
    pub fn step(&mut self) -> Result<Progress, MigrateError> {
        if self.booted.len() < self.units.len() {
            let b = self.boot(self.booted.len())?;
            self.booted.push(b);
        } else if self.outs.len() < self.tasks.len() {
            let o = self.run_task(self.outs.len());
            self.outs.push(o);
        }
        Ok(self.progress())
    }

    /// Do every remaining piece on `threads` workers.
    fn run_all(&mut self, threads: usize) -> Result<(), MigrateError> {
        let todo: Vec<usize> = (self.booted.len()..self.units.len()).collect();
        let booted = par_map(&todo, threads, |&i| self.boot(i));
        for b in booted {
            self.booted.push(b?);
        }
        let todo: Vec<usize> = (self.outs.len()..self.tasks.len()).collect();
        let outs = par_map(&todo, threads, |&t| self.run_task(t));
        self.outs.extend(outs);
        Ok(())
    }

    /// The report, once every piece is done (any left are done first, on this thread);
    /// `threads` is what the report says ran the job.
    pub fn finish(mut self, threads: usize) -> Result<AuditReport, MigrateError> {
        while !self.progress().finished() {
            self.step()?;
        }
        summarise(self, threads)
    }
}

/// Whether a VMM makes a unit's VM at all (crosvm has no ITS, cloud-hypervisor always has one).
fn applicable(u: &Unit) -> bool {
    migrate::check_its(&RECIPES[u.recipe], u.its).is_ok()
}

/// Audit the whole space, on `opts.threads` workers.
pub fn audit(opts: &AuditOptions) -> Result<AuditReport, MigrateError> {
    let threads = opts.threads.max(1);
    let mut job = AuditJob::new(opts);
    job.run_all(threads)?;
    job.finish(threads)
}

/// Counts, causes and counterexamples (replayed in full) of a finished job.
fn summarise(job: AuditJob, threads: usize) -> Result<AuditReport, MigrateError> {
    let opts = &job.opts;
    let units = &job.units;
    let (tasks, outs) = (&job.tasks, &job.outs);
    let sources: Vec<Option<&Arc<Sources>>> = (0..units.len()).map(|u| job.sources(u)).collect();
    let np = opts.policies.len();
    let nh = opts.hosts.len();

    let mut per_policy: Vec<PolicyCounts> = opts
        .policies
        .iter()
        .map(|p| PolicyCounts {
            policy: *p,
            counts: Counts::default(),
            not_applicable: 0,
        })
        .collect();
    let mut per_vmm: Vec<VmmCounts> = Vec::new();
    for r in RECIPES {
        for p in &opts.policies {
            per_vmm.push(VmmCounts {
                vmm: r.id,
                policy: *p,
                counts: Counts::default(),
            });
        }
    }
    let mut stats = AuditStats::default();
    let guests = GuestProfile::ALL.len();
    for s in &sources {
        match s {
            None => per_policy
                .iter_mut()
                .for_each(|p| p.not_applicable += guests * nh * nh),
            Some(s) => {
                stats.sources += guests * nh;
                stats.distinct_saves += s.images.len();
            }
        }
    }
    // (policy, verdict) -> (unit, guest, source, destination), in audit order.
    let mut found: HashMap<(usize, Verdict), Vec<Found>> = HashMap::new();
    let mut cause_map: HashMap<(usize, usize, Verdict, String), usize> = HashMap::new();
    for (&(u, p, d), o) in tasks.iter().zip(outs) {
        per_policy[p].counts.merge(&o.counts);
        per_vmm[units[u].recipe * np + p].counts.merge(&o.counts);
        stats.restores += o.restores;
        stats.accesses += o.accesses;
        stats.elided += o.elided;
        for ((v, c), n) in &o.causes {
            *cause_map
                .entry((units[u].recipe, p, *v, c.clone()))
                .or_default() += n;
        }
        for &(v, g, s) in &o.examples {
            found.entry((p, v)).or_default().push((u, g, s, d));
        }
    }
    for list in found.values_mut() {
        list.sort_unstable();
        list.truncate(opts.examples);
    }
    stats.seconds = job.t0.map_or(0.0, |t| t.elapsed().as_secs_f64());
    stats.threads = threads;
    stats.fast = opts.fast;
    // Replay the counterexamples in full, with reasons.
    let mut examples = Vec::new();
    for pi in 0..np {
        for v in [
            Verdict::SilentlyBroken,
            Verdict::Rejected,
            Verdict::NeedlesslyRejected,
        ] {
            for &(u, g, s, d) in found.get(&(pi, v)).map(|x| x.as_slice()).unwrap_or(&[]) {
                let recipe = &RECIPES[units[u].recipe];
                let guest = GuestProfile::ALL[g];
                let spec = MigrationSpec {
                    policy: opts.policies[pi],
                    its: units[u].its,
                    vcpus: opts.vcpus,
                    ..MigrationSpec::new(opts.hosts[s], opts.hosts[d], recipe, guest)
                };
                let m = migrate::migrate(&spec)?;
                debug_assert_eq!(m.verdict, v, "the audit's verdict is the full migration's");
                examples.push(Example {
                    policy: opts.policies[pi],
                    verdict: m.verdict,
                    vmm: recipe.id,
                    its: units[u].its,
                    guest,
                    from: m.from.clone(),
                    to: m.to.clone(),
                    reasons: m.reasons(),
                    suggestion: m.suggestion.clone(),
                });
            }
        }
    }
    let applicable = per_policy.first().map_or(0, |p| p.counts.total());
    let mut causes: Vec<CauseCount> = cause_map
        .into_iter()
        .map(|((r, p, verdict, cause), count)| CauseCount {
            vmm: RECIPES[r].id,
            policy: opts.policies[p],
            verdict,
            cause,
            count,
        })
        .collect();
    let order = |c: &CauseCount| {
        let r = RECIPES.iter().position(|x| x.id == c.vmm).unwrap_or(0);
        let p = opts
            .policies
            .iter()
            .position(|x| *x == c.policy)
            .unwrap_or(0);
        (r, p, c.verdict, usize::MAX - c.count, c.cause.clone())
    };
    causes.sort_by_key(order);
    Ok(AuditReport {
        hosts: opts.hosts.iter().map(|h| h.compact()).collect(),
        vmms: RECIPES.iter().map(|r| r.id).collect(),
        guests: GuestProfile::ALL.to_vec(),
        vcpus: opts.vcpus,
        migrations_per_policy: applicable,
        per_policy,
        per_vmm,
        causes,
        examples,
        stats,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cause_set_aside_leaves_the_others() {
        let hosts: Vec<Host> = ["v4.1@5.7", "v4.0@5.7", "v3@6.8"]
            .iter()
            .map(|h| Host::parse_compact(h).unwrap())
            .collect();
        let qemu = crate::vmm::recipe("qemu").unwrap();
        let m = matrix(
            &hosts,
            qemu,
            GuestProfile::Linux,
            RestorePolicy::Kernel,
            true,
            2,
        )
        .unwrap();
        let stride = crate::rules::VMM_QEMU_IROUTER_STRIDE.id;
        // Every cell is broken by the stride; set aside, v3 -> v3 is fine and the
        // GICv4.1 -> v4.0 cell is still broken (nASSGIreq and TYPER2).
        assert!(m
            .cells
            .iter()
            .flatten()
            .all(|c| c.verdict == Verdict::SilentlyBroken));
        assert_eq!(
            m.cells[2][2].verdict_setting_aside(stride),
            Verdict::Compatible
        );
        assert_eq!(
            m.cells[0][1].verdict_setting_aside(stride),
            Verdict::SilentlyBroken
        );
        assert_eq!(
            m.cells[0][1].verdict_setting_aside("no.such.rule"),
            Verdict::SilentlyBroken
        );
    }

    #[test]
    fn hosts_cover_hardware_and_eras() {
        let h = audit_hosts();
        // The era hosts come first, in the order links index them.
        assert_eq!(h[0].compact(), "v3@4.19");
        assert_eq!(h[34].compact(), "v4.1+nov4@7.1");
        assert!(h.iter().any(|x| x.compact() == "v4.1+novsgi@5.13"));
        // GICv5 hosts and the stable versions on both sides of a backport.
        for s in [
            "v5@6.17",
            "v5@7.1",
            "v4.1@6.12",
            "v4.1@6.12.88",
            "v3@6.1.176",
        ] {
            assert!(h.iter().any(|x| x.compact() == s), "{s}");
        }
        assert!(h
            .iter()
            .all(|x| x.gic != GicHw::V5 || x.kernel >= "6.17".parse().unwrap()));
        // Every host is a distinct behaviour point.
        let points: Vec<BehaviourPoint> = h.iter().map(behaviour_point).collect();
        for (i, p) in points.iter().enumerate() {
            assert!(
                !points[..i].contains(p),
                "{} repeats a behaviour point",
                h[i].compact()
            );
        }
    }

    #[test]
    fn matrix_agrees_with_single_migrations() {
        let hosts: Vec<Host> = ["v4.1@5.7", "v4.0@5.7", "v4.1@6.17", "v3@5.13"]
            .iter()
            .map(|s| Host::parse_compact(s).unwrap())
            .collect();
        for id in ["firecracker", "kernel-doc"] {
            let rc = vmm::recipe(id).unwrap();
            let m = matrix(
                &hosts,
                rc,
                GuestProfile::Linux,
                RestorePolicy::Kernel,
                false,
                2,
            )
            .unwrap();
            let bare = matrix_without_fixes(
                &hosts,
                rc,
                GuestProfile::Linux,
                RestorePolicy::Kernel,
                false,
                2,
            )
            .unwrap();
            for (a, b) in m.cells.iter().flatten().zip(bare.cells.iter().flatten()) {
                assert_eq!((a.verdict, &a.reasons), (b.verdict, &b.reasons));
                assert!(b.suggestion.is_none());
            }
            assert!(m.cells.iter().flatten().any(|c| c.suggestion.is_some()));
            for (si, row) in m.cells.iter().enumerate() {
                for (di, cell) in row.iter().enumerate() {
                    let one = migrate::migrate(&MigrationSpec::new(
                        hosts[si],
                        hosts[di],
                        rc,
                        GuestProfile::Linux,
                    ))
                    .unwrap();
                    assert_eq!(
                        cell.verdict, one.verdict,
                        "{id} {} -> {}",
                        cell.from, cell.to
                    );
                    assert_eq!(
                        cell.reasons,
                        one.reasons(),
                        "{id} {} -> {}",
                        cell.from,
                        cell.to
                    );
                    // The matrix verifies the first fix only; it is the migration's first.
                    assert_eq!(
                        cell.suggestion, one.suggestion,
                        "{id} {} -> {}",
                        cell.from, cell.to
                    );
                }
            }
        }
    }

    #[test]
    fn audit_counts_equal_the_matrices_reasoned_verdicts() {
        // The audit's quick check (views and ID reads compared) must give the verdicts
        // the full comparison (`differences`, as `gicx migrate` and `matrix` use) gives.
        let hosts: Vec<Host> = ["v4.1@5.7", "v4.0@5.19", "v4.1+novsgi@6.8", "v4.1@6.17"]
            .iter()
            .map(|s| Host::parse_compact(s).unwrap())
            .collect();
        let rep = audit(&AuditOptions {
            hosts: hosts.clone(),
            examples: 0,
            ..AuditOptions::default()
        })
        .unwrap();
        for r in RECIPES {
            for policy in RestorePolicy::ALL {
                let mut sum = Counts::default();
                for its in [false, true] {
                    if migrate::check_its(r, its).is_err() {
                        continue;
                    }
                    for g in GuestProfile::ALL {
                        let m = matrix(&hosts, r, g, policy, its, 2).unwrap();
                        sum.merge(&m.counts);
                    }
                }
                let a = rep
                    .per_vmm
                    .iter()
                    .find(|x| x.vmm == r.id && x.policy == policy)
                    .unwrap();
                assert_eq!(a.counts, sum, "{} {}", r.id, policy.as_str());
            }
        }
    }

    #[test]
    fn a_job_stepped_on_one_thread_reports_what_the_threaded_audit_does() {
        let hosts: Vec<Host> = ["v4.1@5.7", "v4.0@6.8", "v4.1@6.17", "v3@4.19"]
            .iter()
            .map(|s| Host::parse_compact(s).unwrap())
            .collect();
        let opts = AuditOptions {
            hosts,
            threads: 2,
            examples: 2,
            ..AuditOptions::default()
        };
        let threaded = audit(&opts).unwrap();
        let mut job = AuditJob::new(&opts);
        let total = job.progress().total;
        // 6 recipes × 2 ITS settings booted, then (applicable units) × policies × hosts.
        assert_eq!(total, 12 + 10 * RestorePolicy::ALL.len() * 4);
        let mut seen = vec![job.progress().done];
        while !job.progress().finished() {
            seen.push(job.step().unwrap().done);
        }
        assert_eq!(seen, (0..=total).collect::<Vec<_>>(), "one piece per step");
        assert_eq!(
            job.step().unwrap().done,
            total,
            "a finished job stays finished"
        );
        let stepped = job.finish(1).unwrap();
        let mut a = serde_json::to_value(&threaded).unwrap();
        let mut b = serde_json::to_value(&stepped).unwrap();
        for r in [&mut a, &mut b] {
            r["stats"]["seconds"] = 0.into();
            r["stats"]["threads"] = 0.into();
        }
        assert_eq!(a, b);
        assert!(!stepped.examples.is_empty());
    }

    #[test]
    fn fast_audit_equals_full_audit_on_a_slice() {
        let hosts: Vec<Host> = [
            "v4.1@5.7",
            "v4.0@6.8",
            "v4.1@6.17",
            "v3@4.19",
            "v4.1+novsgi@5.19",
        ]
        .iter()
        .map(|s| Host::parse_compact(s).unwrap())
        .collect();
        let base = AuditOptions {
            hosts,
            threads: 2,
            examples: 1,
            ..AuditOptions::default()
        };
        let fast = audit(&base).unwrap();
        let full = audit(&AuditOptions {
            fast: false,
            ..base
        })
        .unwrap();
        for (a, b) in fast.per_vmm.iter().zip(&full.per_vmm) {
            assert_eq!((a.vmm, a.policy, a.counts), (b.vmm, b.policy, b.counts));
        }
        assert!(fast.stats.elided > 0 && full.stats.elided == 0);
        assert_eq!(fast.stats.accesses, full.stats.accesses);
    }
}
