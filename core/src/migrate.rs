//! Migration verdicts: save a VM on the source with a VMM's recipe, create the
//! same VM on the destination, restore it with the recipe (stopping at the first
//! refused access, as the VMM would) and run it; then decide whether the guest
//! can tell.
//!
//! - **accepted** or **refused** comes from the restore replay ([`crate::vmm::restore`]);
//! - **safe** compares what the guest can see: every ID or capability register the guest
//!   read on the source (`observed().reads`) must read the same on the destination
//!   (a capability that appears counts too: KVM keeps guest-visible ID values fixed
//!   across migration, and a guest that reboots on the new host may start using it
//!   and can no longer go back), and the interrupt state at save (distributor enable,
//!   nASSGIreq, per-IRQ group/enable/pending/active/priority/trigger/line/route, vSGI
//!   backing, LPI enables and tables) must be what the destination has after its first
//!   run. A refused restore is judged by a second replay that skips the refused writes.
//!
//! | | safe | unsafe |
//! |---|---|---|
//! | accepted | `compatible` | `silently-broken` |
//! | refused | `needlessly-rejected` | `rejected` |
//!
//! Every verdict comes from replaying the model; each difference names its register
//! and field, both values and the rules (from the replay's outcomes) that produced it.
//!
//! ```
//! use gicx_core::{host::Host, guest::GuestProfile, migrate::*, vgic::RestorePolicy, vmm};
//! // The 2020 case: a Linux guest enabled vSGIs on a GICv4.1 host; Firecracker moves it
//! // to a GICv4.0 host under the 5.7 rules. Nothing refuses it; the guest loses nASSGIreq.
//! let spec = MigrationSpec::new(
//!     Host::parse_compact("v4.1@5.7").unwrap(),
//!     Host::parse_compact("v4.0@5.7").unwrap(),
//!     vmm::recipe("firecracker").unwrap(),
//!     GuestProfile::Linux,
//! );
//! let m = migrate(&spec).unwrap();
//! assert_eq!(m.verdict, Verdict::SilentlyBroken);
//! assert!(m.rules.contains(&"gicd.ctlr.uaccess.nassgireq_dropped"));
//! ```

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::catalogue::{
    self, Frame, GicdCtlr, GicdIcactiver, GicdIcenabler, GicdIcfgr, GicdIgroupr, GicdIidr,
    GicdIpriorityr, GicdIrouter, GicdIsactiver, GicdIsenabler, GicdIspendr, GicdPidr2, GicdTyper,
    GicdTyper2, GicrCtlr, GicrIcactiver0, GicrIcenabler0, GicrIgroupr0, GicrIpriorityr,
    GicrIsenabler0, GicrIspendr0, GicrPendbaser, GicrPropbaser, GicrTyper, Handler,
};
use crate::guest::GuestProfile;
use crate::host::{Era, Host};
use crate::rules::{self as r, Rule};
use crate::scenario::{self, Scenario};
use crate::vgic::cpu_sysregs::{
    ICC_AP0R0_EL1, ICC_AP1R0_EL1, ICC_BPR0_EL1, ICC_BPR1_EL1, ICC_CTLR_EL1, ICC_IGRPEN0_EL1,
    ICC_IGRPEN1_EL1, ICC_PMR_EL1,
};
use crate::vgic::{IrqState, RestorePolicy, Vgic, VmConfig, NR_PRIVATE_IRQS};
use crate::vmm::{
    self, ItsSupport, LogEntry, Recipe, RecipeChange, Refusal, RegionMap, RestoreOptions,
    SavedState, Target,
};

mod differences;
#[cfg(test)]
mod proptests;
mod source;
#[cfg(test)]
mod tests;
mod verdict;
mod view;
pub use crate::scenario::migrate::*;
pub use differences::*;
pub use source::*;
pub use verdict::*;
pub use view::*;

mod fix;
pub mod its;
pub(crate) use fix::{candidates, verified, Facts, Verifier};
pub use fix::{first_kernel_with, Change, Fix, Inapplicable};
pub use its::{ItsEntry, ItsView};

// ---- a migration ------------------------------------------------------------------------------

/// What the source guest did.
#[derive(Clone, Debug)]
pub enum GuestSpec {
    Profile(GuestProfile),
    /// A scenario's steps, run on the source before the migration.
    Scenario(Box<Scenario>),
}

impl GuestSpec {
    pub fn name(&self) -> String {
        match self {
            GuestSpec::Profile(p) => p.as_str().to_string(),
            GuestSpec::Scenario(s) => {
                format!("scenario {}", s.name.as_deref().unwrap_or("(unnamed)"))
            }
        }
    }
}

/// One migration to judge.
#[derive(Clone, Debug)]
pub struct MigrationSpec {
    pub from: Host,
    pub to: Host,
    pub vmm: &'static Recipe,
    pub guest: GuestSpec,
    pub policy: RestorePolicy,
    pub vcpus: u32,
    pub its: bool,
    /// Create the source VM with GICD_TYPER2 = 0 written before init (6.17+).
    pub clear_nassgicap: bool,
    /// Replay the VMM's sequences with these changes (a suggested fix).
    pub recipe_changes: Vec<RecipeChange>,
}

impl MigrationSpec {
    /// Defaults: kernel policy, 2 vCPUs, an ITS only where the VMM always has one.
    pub fn new(from: Host, to: Host, vmm: &'static Recipe, guest: GuestProfile) -> MigrationSpec {
        MigrationSpec {
            from,
            to,
            vmm,
            guest: GuestSpec::Profile(guest),
            policy: RestorePolicy::Kernel,
            vcpus: 2,
            its: vmm.its == ItsSupport::Always,
            clear_nassgicap: false,
            recipe_changes: Vec::new(),
        }
    }

    /// Everything that decides the source VM and its save, as text (to share replays).
    fn source_key(&self) -> String {
        let guest = match &self.guest {
            GuestSpec::Profile(p) => p.as_str().to_string(),
            GuestSpec::Scenario(sc) => format!("{:?} {:?} {:?}", sc.host, sc.vm, sc.steps),
        };
        format!(
            "{}|{}|{guest}|{}|{}|{}|{:?}",
            self.from.compact(),
            self.vmm.id,
            self.vcpus,
            self.its,
            self.clear_nassgicap,
            self.recipe_changes
        )
    }

    /// Everything that decides the migration, as text (to share replays).
    fn key(&self) -> String {
        let guest = match &self.guest {
            GuestSpec::Profile(p) => p.as_str().to_string(),
            GuestSpec::Scenario(sc) => format!("{:?} {:?} {:?}", sc.host, sc.vm, sc.steps),
        };
        format!(
            "{}|{}|{}|{guest}|{}|{}|{}|{}|{:?}",
            self.from.compact(),
            self.to.compact(),
            self.vmm.id,
            self.policy.as_str(),
            self.vcpus,
            self.its,
            self.clear_nassgicap,
            self.recipe_changes
        )
    }
}

/// A migration that cannot be attempted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MigrateError {
    #[error("{vmm} always creates an ITS: the VM must have one (--its)")]
    NeedsIts { vmm: &'static str },
    #[error("{vmm} cannot snapshot a VM with an ITS: {note}")]
    NoIts {
        vmm: &'static str,
        note: &'static str,
    },
    #[error(transparent)]
    Save(#[from] vmm::SaveError),
    #[error("the source VM cannot be prepared: {0}")]
    Source(String),
}

/// The full account of a migration.
#[derive(Clone, Debug, Serialize)]
pub struct Migration {
    pub from: String,
    pub to: String,
    pub from_era: Era,
    pub to_era: Era,
    pub vmm: &'static str,
    pub guest: String,
    #[serde(serialize_with = "serialize_policy")]
    pub policy: RestorePolicy,
    pub config: VmConfig,
    pub verdict: Verdict,
    pub accepted: bool,
    pub safe: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refusal: Option<Refusal>,
    pub differences: Vec<Difference>,
    /// Every rule id involved: the refusal's, the differences', the verdict's.
    pub rules: Vec<&'static str>,
    /// The first of `fixes`: what to change so that the migration is compatible.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suggestion: Option<Fix>,
    /// Every fix the model verified (replaying the migration with it applied gives
    /// `compatible`), best first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fixes: Vec<Fix>,
    /// The restore as the VMM ran it (up to the refusal), then the first KVM_RUN.
    pub restore_log: Vec<LogEntry>,
    /// For a refused restore: the replay that skips refused writes, then KVM_RUN.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub safety_log: Vec<LogEntry>,
    /// Values the save read.
    pub saved_values: usize,
    /// Parts of the VMM's real sequence not replayed, with the reason.
    pub skipped: Vec<String>,
}

impl Migration {
    /// One line per reason, for text output.
    pub fn reasons(&self) -> Vec<String> {
        reason_lines(self.refusal.as_ref(), &self.differences)
    }
}

/// Create and run the source VM and let the guest do its part.
pub fn prepare_source(spec: &MigrationSpec) -> Result<Vgic, MigrateError> {
    let recipe = spec.vmm;
    let (vcpus, its) = match &spec.guest {
        GuestSpec::Profile(_) => (spec.vcpus, spec.its),
        GuestSpec::Scenario(sc) => (sc.vm.vcpus, sc.vm.its),
    };
    check_its(recipe, its)?;
    let config = crate::guest::vm_config(vcpus, recipe.nr_irqs, its)
        .map_err(|e| MigrateError::Source(e.to_string()))?;
    let mut vm = Vgic::new(spec.from, config);
    if spec.clear_nassgicap {
        let o = vm
            .user_write(Frame::Dist, 0, GicdTyper2::OFFSET, 0)
            .map_err(|e| MigrateError::Source(e.to_string()))?;
        if let Some(e) = o.errno {
            return Err(MigrateError::Source(format!(
                "clearing nASSGIcap before init failed with {e} on {} (it needs 6.17+)",
                spec.from
            )));
        }
    }
    match &spec.guest {
        GuestSpec::Profile(p) => {
            vm.init();
            vm.run();
            p.boot(&mut vm)
                .map_err(|e| MigrateError::Source(e.to_string()))?;
        }
        GuestSpec::Scenario(sc) => {
            for (i, step) in sc.steps.iter().enumerate() {
                scenario::run_step(&mut vm, i, step)
                    .map_err(|e| MigrateError::Source(format!("steps[{i}]: {e}")))?;
            }
        }
    }
    Ok(vm)
}

pub(crate) fn check_its(recipe: &'static Recipe, its: bool) -> Result<(), MigrateError> {
    match (recipe.its, its) {
        (ItsSupport::Always, false) => Err(MigrateError::NeedsIts { vmm: recipe.id }),
        (ItsSupport::Refused, true) => Err(MigrateError::NoIts {
            vmm: recipe.id,
            note: recipe.its_note,
        }),
        _ => Ok(()),
    }
}

/// Judge one migration from scratch, with every fix the model verifies.
pub fn migrate(spec: &MigrationSpec) -> Result<Migration, MigrateError> {
    let mut src = prepare_source(spec)?;
    let (mut m, _, candidates) = judge_vm(
        &mut src,
        spec.to,
        spec.vmm,
        spec.policy,
        &spec.recipe_changes,
        [None, None],
    )?;
    m.guest = spec.guest.name();
    let fixes = verified(spec, candidates, true, &mut Verifier::default());
    m.suggestion = fixes.first().cloned();
    m.fixes = fixes;
    Ok(m)
}

/// The unverified candidate fixes of `spec` (none if it is compatible); `fast`: the
/// region maps of the source's and the destination's VMs for a sweeping recipe.
pub(crate) fn candidates_of(
    spec: &MigrationSpec,
    fast: [Option<&RegionMap>; 2],
) -> Result<Vec<Fix>, MigrateError> {
    let mut src = prepare_source(spec)?;
    judge_vm(
        &mut src,
        spec.to,
        spec.vmm,
        spec.policy,
        &spec.recipe_changes,
        fast,
    )
    .map(|r| r.2)
}

/// The verdict of migrating `src` (no log, no reasons): the same replay as
/// [`migrate_vm`] without the log, judged like the audit (`SourceSnapshot::same_as`).
fn quick_verdict_vm(
    src: &mut Vgic,
    to: Host,
    recipe: &Recipe,
    policy: RestorePolicy,
    changes: &[RecipeChange],
) -> Result<Verdict, MigrateError> {
    let saved = save_checked(src, recipe, changes, None)?;
    let snap = SourceSnapshot::of(src);
    let (dst, restore, safety) = land(
        to,
        *src.config(),
        policy,
        recipe,
        &saved,
        RestoreOptions {
            log: false,
            fast: None,
            changes,
            ..Default::default()
        },
    );
    let accepted = restore.refusal.is_none();
    let (vm, view) = match safety {
        None => {
            let view = GuestView::of(&dst);
            (dst, view)
        }
        Some(l) => (l.vm, l.view),
    };
    let ids: Vec<IdRegister> = snap.ids.iter().map(|(id, _)| id.clone()).collect();
    let values = IdRegister::peek_all(&ids, &vm);
    let safe = snap.same_as(&view, |id| {
        ids.iter()
            .position(|x| x.key == id.key)
            .map_or(0, |i| values[i])
    });
    Ok(Verdict::of(accepted, safe))
}

/// The VMM's checks of the source VM, then its save.
fn save_checked(
    src: &mut Vgic,
    recipe: &Recipe,
    changes: &[RecipeChange],
    fast: Option<&RegionMap>,
) -> Result<SavedState, MigrateError> {
    if src.config().nr_irqs != recipe.nr_irqs {
        return Err(MigrateError::Source(format!(
            "{} creates its vGIC with NR_IRQS {}, the VM has {}",
            recipe.id,
            recipe.nr_irqs,
            src.config().nr_irqs
        )));
    }
    Ok(vmm::save_with(src, recipe, fast, changes)?)
}

/// The destination after a restore: the VM, the log, and what the guest sees.
pub(crate) struct Landing {
    pub vm: Vgic,
    pub view: GuestView,
    pub restore: vmm::Restore,
}

/// Restore `saved` on a new VM on `to` (`config`, `policy`), run it if accepted, and
/// if refused also replay it skipping the refused writes (the safety replay); `opts`
/// gives the log, the fast replay and the recipe changes.
/// Returns (the VM as the VMM left it, the landing the guest would see).
pub(crate) fn land(
    to: Host,
    config: VmConfig,
    policy: RestorePolicy,
    recipe: &Recipe,
    saved: &SavedState,
    opts: RestoreOptions,
) -> (Vgic, vmm::Restore, Option<Landing>) {
    let mut vm = Vgic::new(to, config);
    vm.set_restore_policy(policy);
    // One replay that keeps going past refusals, copying the VM at the first one: up to
    // there the VMM's restore and the safety replay are the same accesses.
    let log = opts.log;
    let opts = RestoreOptions {
        keep_going: true,
        copy_at_refusal: true,
        ..opts
    };
    let mut r = vmm::restore(&mut vm, recipe, saved, &opts);
    match r.at_refusal.take() {
        None => {
            let e = vmm::run_entry(&mut vm, r.accesses);
            if log {
                r.log.push(e);
            }
            (vm, r, None)
        }
        Some(b) => {
            let (left, log_len, accesses, elided) = *b;
            let vmm_restore = vmm::Restore {
                refusal: r.refusal.clone(),
                refused: r.refused.iter().take(1).cloned().collect(),
                log: r.log[..log_len.min(r.log.len())].to_vec(),
                accesses,
                elided,
                at_refusal: None,
            };
            let e = vmm::run_entry(&mut vm, r.accesses);
            if log {
                r.log.push(e);
            }
            let view = GuestView::of(&vm);
            // The safety replay's own count excludes the shared prefix.
            r.accesses -= accesses;
            r.elided -= elided;
            (
                left,
                vmm_restore,
                Some(Landing {
                    vm,
                    view,
                    restore: r,
                }),
            )
        }
    }
}

/// Save `src` with `recipe`, restore on `to` under `policy`, run, judge. Returns the
/// account and the destination VM as the VMM leaves it (run if accepted; stopped at
/// the refusal otherwise).
///
/// The source is a live VM (a scenario's), which cannot be created again: the fixes
/// suggested are those that keep it (a recipe change, another destination kernel),
/// each verified by replaying the migration from a copy of it.
pub fn migrate_vm(
    src: &mut Vgic,
    to: Host,
    recipe: &'static Recipe,
    policy: RestorePolicy,
) -> Result<(Migration, Vgic), MigrateError> {
    migrate_vm_from(src, None, to, recipe, policy)
}

/// [`migrate_vm`] without fixes (no replay beyond the migration itself): for views
/// that show only the verdict and reasons, e.g. the same migration under each policy.
pub fn migrate_vm_without_fixes(
    src: &mut Vgic,
    to: Host,
    recipe: &'static Recipe,
    policy: RestorePolicy,
) -> Result<(Migration, Vgic), MigrateError> {
    judge_vm(src, to, recipe, policy, &[], [None, None]).map(|(m, dst, _)| (m, dst))
}

/// [`migrate_vm`] for a VM whose origin is known: if it was created on its host
/// and reached by steps without a migration, the source can be created again by
/// replaying them (a [`GuestSpec::Scenario`]), so fixes that change the source are
/// verified and suggested too.
pub fn migrate_vm_from(
    src: &mut Vgic,
    origin: Option<scenario::Origin>,
    to: Host,
    recipe: &'static Recipe,
    policy: RestorePolicy,
) -> Result<(Migration, Vgic), MigrateError> {
    let (mut m, dst, candidates) = judge_vm(src, to, recipe, policy, &[], [None, None])?;
    let replayable = origin.filter(|o| {
        o.host == *src.host()
            && o.vm == *src.config()
            && !o
                .steps
                .iter()
                .any(|s| matches!(s, scenario::Step::Migrate(_)))
    });
    if let Some(o) = replayable {
        let spec = MigrationSpec {
            guest: GuestSpec::Scenario(Box::new(Scenario {
                name: None,
                description: None,
                note: None,
                host: o.host,
                vm: o.vm,
                steps: o.steps.to_vec(),
            })),
            policy,
            vcpus: o.vm.vcpus,
            its: o.vm.its,
            ..MigrationSpec::new(o.host, to, recipe, GuestProfile::Idle)
        };
        let fixes = verified(&spec, candidates, true, &mut Verifier::default());
        m.suggestion = fixes.first().cloned();
        m.fixes = fixes;
        return Ok((m, dst));
    }
    let fixes: Vec<Fix> = candidates
        .into_iter()
        .filter(|f| f.keeps_source())
        .filter(|f| {
            f.destination(to).is_ok_and(|to| {
                let mut copy = src.clone();
                quick_verdict_vm(&mut copy, to, recipe, policy, &f.recipe_changes(&[]))
                    .is_ok_and(|v| v == Verdict::Compatible)
            })
        })
        .collect();
    m.suggestion = fixes.first().cloned();
    m.fixes = fixes;
    Ok((m, dst))
}

/// [`migrate_vm`] with the recipe changed by `changes`, without suggestions; returns
/// the unverified candidate fixes too (none for a compatible migration).
fn judge_vm(
    src: &mut Vgic,
    to: Host,
    recipe: &'static Recipe,
    policy: RestorePolicy,
    changes: &[RecipeChange],
    fast: [Option<&RegionMap>; 2],
) -> Result<(Migration, Vgic, Vec<Fix>), MigrateError> {
    check_its(recipe, src.config().its)?;
    let saved = save_checked(src, recipe, changes, fast[0])?;
    let snap = SourceSnapshot::of(src);
    let (dst, restore, safety) = land(
        to,
        *src.config(),
        policy,
        recipe,
        &saved,
        RestoreOptions {
            log: true,
            fast: fast[1],
            changes,
            ..Default::default()
        },
    );
    let accepted = restore.refusal.is_none();
    let diffs = match &safety {
        None => {
            let view = GuestView::of(&dst);
            differences(&snap, &dst, &view, Some(&restore.log))
        }
        Some(l) => differences(&snap, &l.vm, &l.view, Some(&l.restore.log)),
    };
    let m = account(
        &snap,
        to,
        recipe,
        policy,
        accepted,
        restore,
        safety.map(|l| l.restore.log),
        diffs,
        saved.len(),
    );
    let candidates = if m.verdict == Verdict::Compatible {
        Vec::new()
    } else {
        candidates(&Facts {
            snap: &snap,
            to,
            recipe,
            applied: changes,
            refusal: m.refusal.as_ref(),
            diffs: &m.differences,
            rules: &m.rules,
        })
    };
    Ok((m, dst, candidates))
}

/// The verdict and every rule involved, from a restore's refusal (if any) and the
/// differences the guest would see.
pub fn judgement(refusal: Option<&Refusal>, diffs: &[Difference]) -> (Verdict, Vec<&'static str>) {
    let verdict = Verdict::of(refusal.is_none(), diffs.is_empty());
    let mut rules: Vec<&'static str> = Vec::new();
    if let Some(f) = refusal {
        rules.extend(f.rules.iter().copied());
    }
    for d in diffs {
        rules.extend(d.rules.iter().copied());
    }
    rules.push(verdict.rule().id);
    dedup(&mut rules);
    (verdict, rules)
}

/// One line per reason: the refusal, then each difference with its rules.
pub fn reason_lines(refusal: Option<&Refusal>, diffs: &[Difference]) -> Vec<String> {
    let mut v = Vec::new();
    if let Some(f) = refusal {
        v.push(format!(
            "refused: {} at step {} writing {:#x} to {}{} [{}]",
            f.errno,
            f.step,
            f.value,
            f.register,
            if f.target == Target::Redist {
                format!(" (vCPU {})", f.vcpu)
            } else {
                String::new()
            },
            f.rules.join(", ")
        ));
    }
    for d in diffs {
        v.push(format!(
            "{}: {} [{}]",
            d.register,
            d.reason,
            d.rules.join(", ")
        ));
    }
    v
}

#[allow(clippy::too_many_arguments)]
fn account(
    snap: &SourceSnapshot,
    to: Host,
    recipe: &'static Recipe,
    policy: RestorePolicy,
    accepted: bool,
    restore: vmm::Restore,
    safety_log: Option<Vec<LogEntry>>,
    diffs: Vec<Difference>,
    saved_values: usize,
) -> Migration {
    let safe = diffs.is_empty();
    let (verdict, rules) = judgement(restore.refusal.as_ref(), &diffs);
    Migration {
        from: snap.host.compact(),
        to: to.compact(),
        from_era: snap.host.era(),
        to_era: to.era(),
        vmm: recipe.id,
        guest: String::new(),
        policy,
        config: snap.config,
        verdict,
        accepted,
        safe,
        refusal: restore.refusal,
        differences: diffs,
        rules,
        suggestion: None,
        fixes: Vec::new(),
        restore_log: restore.log,
        safety_log: safety_log.unwrap_or_default(),
        saved_values,
        skipped: recipe
            .skipped
            .iter()
            .map(|s| format!("{}: {}", s.what, s.reason))
            .collect(),
    }
}
