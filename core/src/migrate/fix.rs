//! Suggestions as fixes: a change to the migration (a creation-time setting on the
//! source, another source or destination kernel, or the VMM's sequence with one
//! deviation corrected) that is emitted only once replaying the same migration with
//! it applied gives [`Verdict::Compatible`].
//!
//! Candidates come from the verdict's typed data only: the refusal's place and
//! errno ([`Refusal`]), what each difference is about ([`Subject`]), the rule ids
//! the replay produced (compared with the rules' own ids), the source's nASSGIcap
//! and the recipe's structure ([`RecipeChange::done_by`]). Each candidate is then
//! replayed ([`verified`]); a candidate that does not give `compatible` is dropped,
//! so a suggestion is never a promise the model has not checked.
//!
//! ```
//! use gicx_core::{host::Host, guest::GuestProfile, migrate::*, vmm};
//! // QEMU's IROUTER stride breaks every QEMU migration; the fix is QEMU with the
//! // stride corrected, and replaying the migration with it is compatible.
//! let spec = MigrationSpec::new(
//!     Host::parse_compact("v3@6.8").unwrap(),
//!     Host::parse_compact("v3@6.8").unwrap(),
//!     vmm::recipe("qemu").unwrap(),
//!     GuestProfile::Linux,
//! );
//! let m = migrate(&spec).unwrap();
//! assert_eq!(m.verdict, Verdict::SilentlyBroken);
//! let fix = m.suggestion.unwrap();
//! assert_eq!(
//!     fix.changes,
//!     [Change::Recipe(vmm::RecipeChange::Correct(&gicx_core::rules::VMM_QEMU_IROUTER_STRIDE))]
//! );
//! assert_eq!(migrate(&fix.apply(&spec).unwrap()).unwrap().verdict, Verdict::Compatible);
//! ```

use std::collections::HashMap;
use std::fmt;

use serde::Serialize;

use crate::catalogue::{Frame, GicdIidr, GicdTyper2, GicrCtlr};
use crate::errno::Errno;
use crate::host::{Era, Host, KernelVersion};
use crate::kernels::{self, Change as KernelChange};
use crate::rules::{self as r, Rule};
use crate::vgic::Vgic;
use crate::vmm::{Recipe, RecipeChange, Refusal, RegionMap, RestoreOptions, SavedState, Target};

use super::{
    Difference, GuestView, IdRegister, IrqField, MigrationSpec, SourceSnapshot, Subject, Verdict,
};

/// One change a [`Fix`] makes to a migration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Change {
    /// Create the source VM with GICD_TYPER2 = 0 written before
    /// `KVM_DEV_ARM_VGIC_CTRL_INIT` (6.17+, c652887a9288;
    /// [`MigrationSpec::clear_nassgicap`]): the guest never sees nASSGIcap.
    ClearNassgicap,
    /// Run the source on this kernel (same hardware and parameters).
    SourceKernel { kernel: KernelVersion },
    /// Migrate to this kernel (same hardware and parameters).
    DestinationKernel { kernel: KernelVersion },
    /// The VMM's sequences with this change.
    Recipe(RecipeChange),
}

/// A suggestion: changes that, applied together, make the migration compatible (the
/// model replayed it), and one line for people.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Fix {
    pub changes: Vec<Change>,
    pub text: String,
}

impl fmt::Display for Fix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// A host change a fix cannot make (the kernel is older than the hardware allows).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the fix cannot be applied: {0}")]
pub struct Inapplicable(pub String);

impl Fix {
    fn new(changes: Vec<Change>, text: impl Into<String>) -> Fix {
        Fix {
            changes,
            text: text.into(),
        }
    }

    /// The migration with this fix applied.
    pub fn apply(&self, spec: &MigrationSpec) -> Result<MigrationSpec, Inapplicable> {
        let mut out = spec.clone();
        for c in &self.changes {
            match *c {
                Change::ClearNassgicap => out.clear_nassgicap = true,
                Change::SourceKernel { kernel } => out.from = with_kernel(out.from, kernel)?,
                Change::DestinationKernel { kernel } => out.to = with_kernel(out.to, kernel)?,
                Change::Recipe(rc) => {
                    if !out.recipe_changes.contains(&rc) {
                        out.recipe_changes.push(rc);
                    }
                }
            }
        }
        Ok(out)
    }

    /// Whether the fix changes only the VMM or the destination, so that a
    /// migration of a live source VM (a scenario's) can be replayed with it.
    pub fn keeps_source(&self) -> bool {
        self.changes
            .iter()
            .all(|c| matches!(c, Change::DestinationKernel { .. } | Change::Recipe(_)))
    }

    /// The destination host with this fix applied.
    pub fn destination(&self, to: Host) -> Result<Host, Inapplicable> {
        let mut to = to;
        for c in &self.changes {
            if let Change::DestinationKernel { kernel } = *c {
                to = with_kernel(to, kernel)?;
            }
        }
        Ok(to)
    }

    /// The recipe changes of this fix, after `applied`.
    pub fn recipe_changes(&self, applied: &[RecipeChange]) -> Vec<RecipeChange> {
        let mut v = applied.to_vec();
        for c in &self.changes {
            if let Change::Recipe(rc) = *c {
                if !v.contains(&rc) {
                    v.push(rc);
                }
            }
        }
        v
    }
}

fn with_kernel(h: Host, kernel: KernelVersion) -> Result<Host, Inapplicable> {
    h.with_kernel(kernel)
        .map_err(|e| Inapplicable(format!("{} on {kernel}: {e}", h.compact())))
}

/// The first kernel carrying `change` that is not older than `at_least`: a stable
/// version with the backport or the mainline release, from [`kernels::ALL`]'s data.
pub fn first_kernel_with(change: &KernelChange, at_least: KernelVersion) -> KernelVersion {
    let mut with: Vec<KernelVersion> = change.stable.to_vec();
    with.push(change.mainline);
    with.sort();
    with.into_iter()
        .find(|k| *k >= at_least && k.has(change))
        .unwrap_or(change.mainline)
}

/// The versions carrying `change`, for a sentence: `7.1+, 6.1.176+, 6.12.88+, 7.0.7+`.
fn carried_by(change: &KernelChange) -> String {
    std::iter::once(change.mainline)
        .chain(change.stable.iter().copied())
        .map(|k| format!("{k}+"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The first kernel that lets userspace write GICD_TYPER2 (and GICD_IIDR) before
/// init and clear nASSGIcap: 6.17 (c652887a9288, vgic_mmio_uaccess_write_v3_misc;
/// `Era::V6_17`).
fn preinit_kernel() -> KernelVersion {
    Era::V6_17.version()
}

/// What the candidates are derived from: the migration's typed results.
pub(crate) struct Facts<'a> {
    pub snap: &'a SourceSnapshot,
    pub to: Host,
    pub recipe: &'a Recipe,
    /// Recipe changes the migration already replayed with.
    pub applied: &'a [RecipeChange],
    pub refusal: Option<&'a Refusal>,
    pub diffs: &'a [Difference],
    /// Every rule id involved.
    pub rules: &'a [&'static str],
}

impl Facts<'_> {
    fn has_rule(&self, rule: &Rule) -> bool {
        self.rules.contains(&rule.id)
    }
    fn refused_at(&self, offset: u32) -> bool {
        self.refusal
            .is_some_and(|f| f.target == Target::Dist && f.offset == offset)
    }
    fn id_differs(&self, frame: Frame, offset: u32) -> bool {
        self.diffs.iter().any(|d| {
            matches!(d.subject, Subject::IdRegister { frame: f, offset: o, .. } if f == frame && o == offset)
        })
    }
    fn differs(&self, what: impl Fn(&Subject) -> bool) -> bool {
        self.diffs.iter().any(|d| what(&d.subject))
    }
    /// The recipe change if the recipe (with what was applied) does not do it yet.
    fn needs(&self, rc: RecipeChange) -> Option<Change> {
        (!rc.done_by(self.recipe) && !self.applied.contains(&rc)).then_some(Change::Recipe(rc))
    }
}

/// The quirks a recipe may carry, with the sentence that corrects each.
const CORRECTIONS: [(&Rule, &str); 4] = [
    (
        &r::VMM_CROSVM_SWEEP,
        "in the snapshot sweep, skip ICENABLER/ICPENDR/ICACTIVER (or write them before ISENABLER/ISPENDR/ISACTIVER)",
    ),
    (
        &r::VMM_QEMU_IROUTER_STRIDE,
        "address IROUTER<n> at 0x6000 + 8*n (two words per SPI), as the other VMMs do",
    ),
    (
        &r::VMM_CLEAR_WITH_SAVED_BITS,
        "write ~0 to ICENABLER/ICACTIVER before the set registers, as QEMU does",
    ),
    (
        &r::VMM_QEMU_CLEAR_ZERO,
        "write ~0 to GICD_ICENABLER/ICACTIVER and nothing to ICPENDR before the set registers, as QEMU does since July 2025",
    ),
];

/// Candidate fixes for a migration that is not compatible, best first; unverified.
pub(crate) fn candidates(f: &Facts) -> Vec<Fix> {
    let mut out: Vec<Fix> = Vec::new();
    let src = f.snap;
    let ids_first = f.needs(RecipeChange::IdsBeforeInit);
    let typer2 = f.refused_at(GicdTyper2::OFFSET) || f.id_differs(Frame::Dist, GicdTyper2::OFFSET);
    let vsgi_lost = src.nassgicap
        && (typer2
            || f.differs(|s| *s == Subject::NassgiReq)
            || f.differs(|s| {
                matches!(
                    s,
                    Subject::Irq {
                        field: IrqField::Vsgi,
                        ..
                    }
                )
            }));
    let refused = f.refusal.is_some();

    // 6.17+ refuses a TYPER2 change after init (vgic_mmio_uaccess_write_v3_misc: -EBUSY).
    if f.refusal.is_some_and(|x| {
        x.target == Target::Dist && x.offset == GicdTyper2::OFFSET && x.errno == Errno::EBUSY
    }) {
        if let Some(c) = ids_first {
            out.push(Fix::new(vec![c], "write GICD_TYPER2 (and GICD_IIDR) before KVM_DEV_ARM_VGIC_CTRL_INIT: 6.17+ refuses a change after init"));
        }
    }
    // The guest used (or may use) vSGIs the destination cannot give: only a VM
    // created without nASSGIcap moves. A GICv5 host never has it (vgic_v5_probe:
    // has_gicv4_1 = false).
    if vsgi_lost && (src.view.nassgireq || refused) {
        let on_617 = src.host.era() >= Era::V6_17;
        let mut changes = Vec::new();
        if !on_617 {
            changes.push(Change::SourceKernel {
                kernel: preinit_kernel(),
            });
        }
        changes.push(Change::ClearNassgicap);
        let text = match (f.to.gcie_legacy(), on_617) {
            (true, true) => "a GICv5 host (FEAT_GCIE_LEGACY) has no vSGIs: create the VM with nASSGIcap cleared on the source (KVM_SET_DEVICE_ATTR GICD_TYPER2 = 0 before KVM_DEV_ARM_VGIC_CTRL_INIT, 6.17+) so that it can move to GICv5 hosts".to_string(),
            (true, false) => "a GICv5 host (FEAT_GCIE_LEGACY) has no vSGIs: a VM created with nASSGIcap on a source before 6.17 can never move there; create VMs meant for GICv5 hosts on a 6.17+ source with GICD_TYPER2 = 0 written before init".to_string(),
            (false, true) => "create the VM with nASSGIcap cleared on the source: 6.17+ (KVM_SET_DEVICE_ATTR GICD_TYPER2 = 0 before KVM_DEV_ARM_VGIC_CTRL_INIT)".to_string(),
            (false, false) => "create the VM with nASSGIcap cleared on the source: needs a 6.17+ source kernel (GICD_TYPER2 = 0 written before init)".to_string(),
        };
        out.push(Fix::new(changes, text));
    }
    // A destination offers nASSGIcap the guest never saw: 6.17+ hides it if the VMM
    // writes the saved TYPER2 before init.
    if typer2 && !src.nassgicap {
        if f.to.era() >= Era::V6_17 {
            if let Some(c) = ids_first {
                out.push(Fix::new(vec![c], "restore GICD_TYPER2 before KVM_DEV_ARM_VGIC_CTRL_INIT (the kernel-doc order): a 6.17+ destination then hides nASSGIcap"));
            }
        } else {
            let mut changes = vec![Change::DestinationKernel {
                kernel: preinit_kernel(),
            }];
            changes.extend(ids_first);
            out.push(Fix::new(changes, "a destination before 6.17 cannot hide nASSGIcap: use a 6.17+ destination and restore GICD_TYPER2 before init"));
        }
    }
    // The implementation revision (GICD_IIDR; GICR_CTLR.IR/CES follow it).
    if f.refused_at(GicdIidr::OFFSET)
        || f.id_differs(Frame::Dist, GicdIidr::OFFSET)
        || f.id_differs(Frame::Redist, GicrCtlr::OFFSET)
    {
        let fix = &kernels::IIDR_REVISION_RESTORE;
        let writes_iidr = [
            &r::IIDR_UACCESS_EXACT,
            &r::IIDR_UACCESS_FIELDS,
            &r::IIDR_UACCESS_REV_NOOP,
            &r::IIDR_UACCESS_REV_SET,
        ]
        .iter()
        .any(|rule| f.has_rule(rule));
        if f.to.has(fix) && !writes_iidr {
            if let Some(c) = ids_first {
                out.push(Fix::new(vec![c], format!("restore GICD_IIDR first (the kernel-doc order): this destination ({}, with {}) honours the saved implementation revision", f.to.kernel, fix.commit)));
            }
        } else if !f.to.has(fix) {
            let k = first_kernel_with(fix, f.to.kernel);
            let mut changes = vec![Change::DestinationKernel { kernel: k }];
            changes.extend(ids_first);
            out.push(Fix::new(changes, format!("the IIDR revision differs across 5.19 (2 vs 3): migrate to {k} or another kernel with the IIDR revision fix ({}: {}; gicx kernels), with GICD_IIDR restored first", fix.commit, carried_by(fix))));
        }
    }
    // The VMM's own deviations, each with its corrected form.
    for (rule, text) in CORRECTIONS {
        if f.has_rule(rule) {
            if let Some(c) = f.needs(RecipeChange::Correct(rule)) {
                out.push(Fix::new(vec![c], text));
                if rule.id == r::VMM_CROSVM_SWEEP.id {
                    if let Some(ids) = ids_first {
                        out.push(Fix::new(
                            vec![c, ids],
                            format!("{text}, and write IIDR/TYPER2 before init"),
                        ));
                    }
                }
            }
        }
    }
    // Line levels the recipe never restores.
    if f.differs(|s| {
        matches!(
            s,
            Subject::Irq {
                field: IrqField::Line,
                ..
            }
        )
    }) {
        if let Some(c) = f.needs(RecipeChange::LevelInfo) {
            out.push(Fix::new(
                vec![c],
                "save and restore line levels with KVM_DEV_ARM_VGIC_GRP_LEVEL_INFO, as QEMU does",
            ));
        }
    }
    // Several causes at once: all of the above together.
    if out.len() > 1 {
        if let Some(all) = combine(&out) {
            if !out.iter().any(|x| x.changes == all.changes) {
                out.push(all);
            }
        }
    }
    out
}

/// Every change of `fixes` in one fix (a kernel change: the newest asked for); `None`
/// if that is no more than one of them.
fn combine(fixes: &[Fix]) -> Option<Fix> {
    let mut changes: Vec<Change> = Vec::new();
    let mut texts: Vec<&str> = Vec::new();
    for fx in fixes {
        let mut new = false;
        for c in &fx.changes {
            let same_kind = changes.iter().position(|x| {
                matches!(
                    (x, c),
                    (Change::SourceKernel { .. }, Change::SourceKernel { .. })
                        | (
                            Change::DestinationKernel { .. },
                            Change::DestinationKernel { .. }
                        )
                )
            });
            match (same_kind, c) {
                (
                    Some(i),
                    Change::SourceKernel { kernel } | Change::DestinationKernel { kernel },
                ) => {
                    if let Change::SourceKernel { kernel: k }
                    | Change::DestinationKernel { kernel: k } = &mut changes[i]
                    {
                        if *kernel > *k {
                            *k = *kernel;
                            new = true;
                        }
                    }
                }
                _ if !changes.contains(c) => {
                    changes.push(*c);
                    new = true;
                }
                _ => {}
            }
        }
        if new {
            texts.push(&fx.text);
        }
    }
    (texts.len() > 1).then(|| Fix::new(changes, texts.join("; and ")))
}

/// Replays of migrations with fixes applied, sharing their work like the audit: each
/// source is booted and saved once, each distinct save restored once per destination,
/// policy and recipe change, and crosvm's sweeps count no-region words instead of
/// dispatching them ([`RegionMap`], the audit's fast replay, checked against full
/// replays by the audit's tests). A matrix verifies every cell's fixes with one.
#[derive(Default)]
pub(crate) struct Verifier {
    verdicts: HashMap<String, bool>,
    /// Source key -> (image, snapshot); `None` where the source cannot be prepared.
    sources: HashMap<String, Option<(usize, SourceSnapshot)>>,
    images: Vec<SavedState>,
    image_of: HashMap<SavedState, usize>,
    /// (image, destination, policy, recipe, changes, ID registers) -> what the guest sees.
    landings: HashMap<String, (bool, GuestView, Vec<u64>)>,
    regions: HashMap<(Era, u32, bool), RegionMap>,
    candidates: HashMap<String, Vec<Fix>>,
    /// Restores replayed (cache misses).
    pub replays: usize,
}

impl Verifier {
    fn region_map(&mut self, vm: &Vgic) -> &RegionMap {
        self.regions
            .entry(crate::vmm::region_key(vm))
            .or_insert_with(|| RegionMap::probe(vm))
    }

    /// Whether `spec` with `fix` applied is compatible.
    pub fn compatible(&mut self, spec: &MigrationSpec, fix: &Fix) -> bool {
        let Ok(fixed) = fix.apply(spec) else {
            return false;
        };
        let key = fixed.key();
        if let Some(&v) = self.verdicts.get(&key) {
            return v;
        }
        let v = self.verdict(&fixed) == Some(Verdict::Compatible);
        self.verdicts.insert(key, v);
        v
    }

    /// The verdict of `spec` (`None` if it cannot be attempted).
    fn verdict(&mut self, spec: &MigrationSpec) -> Option<Verdict> {
        let recipe = spec.vmm;
        let changes = &spec.recipe_changes;
        let skey = spec.source_key();
        if !self.sources.contains_key(&skey) {
            let prepared = super::prepare_source(spec).ok().and_then(|mut vm| {
                if vm.config().nr_irqs != recipe.nr_irqs {
                    return None;
                }
                let fast = recipe.sweeps().then(|| self.region_map(&vm).clone());
                let saved = crate::vmm::save_with(&mut vm, recipe, fast.as_ref(), changes).ok()?;
                let snap = SourceSnapshot::of(&vm);
                let image = match self.image_of.get(&saved) {
                    Some(&i) => i,
                    None => {
                        self.images.push(saved.clone());
                        self.image_of.insert(saved, self.images.len() - 1);
                        self.images.len() - 1
                    }
                };
                Some((image, snap))
            });
            self.sources.insert(skey.clone(), prepared);
        }
        let (image, snap) = self.sources.get(&skey)?.clone()?;
        let ids: Vec<IdRegister> = snap.ids.iter().map(|(id, _)| id.clone()).collect();
        let lkey = format!(
            "{image}|{}|{}|{}|{changes:?}|{:?}",
            spec.to.compact(),
            spec.policy.as_str(),
            recipe.id,
            ids.iter().map(|i| i.key.as_str()).collect::<Vec<_>>()
        );
        if !self.landings.contains_key(&lkey) {
            self.replays += 1;
            let config = snap.config;
            let fast = recipe
                .sweeps()
                .then(|| self.region_map(&Vgic::new(spec.to, config)).clone());
            let (dst, restore, safety) = super::land(
                spec.to,
                config,
                spec.policy,
                recipe,
                &self.images[image],
                RestoreOptions {
                    log: false,
                    fast: fast.as_ref(),
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
            let values = IdRegister::peek_all(&ids, &vm);
            self.landings.insert(lkey.clone(), (accepted, view, values));
        }
        let (accepted, view, values) = self.landings.get(&lkey)?;
        let safe = snap.same_as(view, |id| {
            ids.iter()
                .position(|x| x.key == id.key)
                .map_or(0, |i| values[i])
        });
        Some(Verdict::of(*accepted, safe))
    }

    /// The unverified candidates of `spec` (a full replay with its log), memoised.
    fn candidates_of(&mut self, spec: &MigrationSpec) -> Vec<Fix> {
        let key = spec.key();
        if let Some(c) = self.candidates.get(&key) {
            return c.clone();
        }
        // A profile's VM is the spec's shape (a scenario's may differ: replayed in full).
        let profile = matches!(spec.guest, super::GuestSpec::Profile(_));
        let maps = (profile && spec.vmm.sweeps()).then(|| {
            let config = crate::guest::vm_config(spec.vcpus, spec.vmm.nr_irqs, spec.its).ok()?;
            Some([
                self.region_map(&Vgic::new(spec.from, config)).clone(),
                self.region_map(&Vgic::new(spec.to, config)).clone(),
            ])
        });
        let fast = match maps.flatten() {
            Some([a, b]) => super::candidates_of(spec, [Some(&a), Some(&b)]),
            None => super::candidates_of(spec, [None, None]),
        };
        let c = fast.unwrap_or_default();
        self.candidates.insert(key, c.clone());
        c
    }
}

/// The candidates that replaying `spec` with them applied makes compatible, in order;
/// with `all` false, only the first. A candidate that fixes one cause may uncover
/// another (a 6.17 source kernel for nASSGIcap also changes GICD_IIDR's revision):
/// if no candidate verifies on its own, each is combined with the candidates of the
/// migration it leads to, once.
pub(crate) fn verified(
    spec: &MigrationSpec,
    candidates: Vec<Fix>,
    all: bool,
    verifier: &mut Verifier,
) -> Vec<Fix> {
    let mut out = Vec::new();
    let mut failed = Vec::new();
    for fx in candidates {
        if verifier.compatible(spec, &fx) {
            out.push(fx);
            if !all {
                return out;
            }
        } else {
            failed.push(fx);
        }
    }
    if !out.is_empty() {
        return out;
    }
    for fx in failed {
        let Ok(fixed) = fx.apply(spec) else { continue };
        for more in verifier.candidates_of(&fixed) {
            let Some(both) = combine(&[fx.clone(), more]) else {
                continue;
            };
            if out.iter().any(|x: &Fix| x.changes == both.changes) {
                continue;
            }
            if verifier.compatible(spec, &both) {
                out.push(both);
                if !all {
                    return out;
                }
                break;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::guest::GuestProfile;
    use crate::vgic::RestorePolicy;
    use crate::vmm::{self, Action};

    fn host(s: &str) -> Host {
        Host::parse_compact(s).unwrap()
    }
    fn spec(from: &str, to: &str, vmm_id: &str, guest: GuestProfile) -> MigrationSpec {
        MigrationSpec::new(host(from), host(to), vmm::recipe(vmm_id).unwrap(), guest)
    }
    /// The migration's suggestion, checked: applied, the migration is compatible.
    fn suggestion(spec: &MigrationSpec) -> Fix {
        let m = super::super::migrate(spec).unwrap();
        assert_ne!(m.verdict, Verdict::Compatible);
        let fix = m.suggestion.expect("a verified fix");
        let again = super::super::migrate(&fix.apply(spec).unwrap()).unwrap();
        assert_eq!(
            again.verdict,
            Verdict::Compatible,
            "{fix}: {:?}",
            again.reasons()
        );
        fix
    }

    #[test]
    fn the_first_kernel_with_a_change_comes_from_its_stable_list() {
        let c = &kernels::IIDR_REVISION_RESTORE;
        let k = |s: &str| s.parse::<KernelVersion>().unwrap();
        assert_eq!(first_kernel_with(c, k("5.19")), k("6.1.176"));
        assert_eq!(first_kernel_with(c, k("6.8")), k("6.12.88"));
        assert_eq!(first_kernel_with(c, k("6.12.5")), k("6.12.88"));
        assert_eq!(first_kernel_with(c, k("6.13")), k("7.0.7"));
        assert_eq!(first_kernel_with(c, k("7.0.9")), k("7.1"));
        for v in ["5.19", "6.8", "6.13", "7.0.9"] {
            assert!(first_kernel_with(c, k(v)).has(c), "{v}");
        }
    }

    #[test]
    fn clearing_nassgicap_on_a_6_17_source() {
        // A Linux guest turned vSGIs on; the v4.0 destination cannot give them.
        let s = spec("v4.1@6.17", "v4.0@6.17", "firecracker", GuestProfile::Linux);
        let fix = suggestion(&s);
        assert_eq!(fix.changes, [Change::ClearNassgicap]);
        assert!(fix.text.contains("nASSGIcap cleared"), "{fix}");
        assert!(fix.apply(&s).unwrap().clear_nassgicap);
    }

    #[test]
    fn an_older_source_needs_a_6_17_kernel_and_then_a_fixed_iidr_revision() {
        // The 2020 case: the source must move to 6.17 to clear nASSGIcap, which also
        // takes GICD_IIDR to revision 3; a 5.7 destination presents revision 2, so
        // only a destination with the IIDR revision fix, restoring IIDR first, keeps it.
        let s = spec("v4.1@5.7", "v4.0@5.7", "firecracker", GuestProfile::Linux);
        let fix = suggestion(&s);
        let k = |s: &str| s.parse::<KernelVersion>().unwrap();
        assert_eq!(
            fix.changes,
            [
                Change::SourceKernel { kernel: k("6.17") },
                Change::ClearNassgicap,
                Change::DestinationKernel {
                    kernel: k("6.1.176")
                },
                Change::Recipe(RecipeChange::IdsBeforeInit),
            ]
        );
        let fixed = fix.apply(&s).unwrap();
        assert_eq!(
            (fixed.from.compact(), fixed.to.compact()),
            ("v4.1@6.17".into(), "v4.0@6.1.176".into())
        );
        // Each part alone is not enough, so neither is suggested alone.
        let mut verifier = Verifier::default();
        for part in [&fix.changes[..2], &fix.changes[2..]] {
            let alone = Fix::new(part.to_vec(), "part");
            assert!(!verifier.compatible(&s, &alone), "{:?}", part);
        }
    }

    #[test]
    fn a_destination_kernel_with_the_iidr_fix() {
        // 5.13 presents IIDR revision 2, 6.8 revision 3: 6.12.88 honours a restored 2.
        let s = spec("v3@5.13", "v3@6.8", "firecracker", GuestProfile::Linux);
        let fix = suggestion(&s);
        assert_eq!(
            fix.changes,
            [
                Change::DestinationKernel {
                    kernel: "6.12.88".parse().unwrap()
                },
                Change::Recipe(RecipeChange::IdsBeforeInit)
            ]
        );
        assert_eq!(fix.destination(s.to).unwrap().compact(), "v3@6.12.88");
        // A GICv5 host cannot run a kernel before 6.17: that fix cannot be applied.
        let old = Fix::new(
            vec![Change::DestinationKernel {
                kernel: "6.8".parse().unwrap(),
            }],
            "x",
        );
        assert!(old
            .apply(&spec(
                "v3@6.8",
                "v5@6.17",
                "firecracker",
                GuestProfile::Linux
            ))
            .is_err());
    }

    #[test]
    fn typer2_before_init_on_a_6_17_destination() {
        let s = spec("v4.0@6.17", "v4.1@6.17", "firecracker", GuestProfile::Linux);
        let fix = suggestion(&s);
        assert_eq!(fix.changes, [Change::Recipe(RecipeChange::IdsBeforeInit)]);
        assert!(fix
            .text
            .starts_with("restore GICD_TYPER2 before KVM_DEV_ARM_VGIC_CTRL_INIT"));
    }

    #[test]
    fn each_vmm_quirk_has_a_corrected_form_the_engine_replays() {
        // QEMU's stride (the crate-level example checks the fix), crosvm's sweep.
        let s = spec("v3@6.8", "v3@6.8", "crosvm", GuestProfile::Linux);
        let fix = suggestion(&s);
        assert_eq!(
            fix.changes,
            [Change::Recipe(RecipeChange::Correct(&r::VMM_CROSVM_SWEEP))]
        );
        // Every quirk of every recipe names a rule with a correction, and its corrected
        // form is replayed instead of it: the quirk's rule leaves the log.
        for rc in vmm::RECIPES {
            for (rule, _) in CORRECTIONS {
                if !rc.has_quirk(rule) {
                    continue;
                }
                let config =
                    crate::guest::vm_config(2, rc.nr_irqs, rc.its == vmm::ItsSupport::Always)
                        .unwrap();
                let mut src = Vgic::new(host("v3@6.8"), config);
                src.init();
                src.run();
                let change = [RecipeChange::Correct(rule)];
                let saved = vmm::save_with(&mut src, rc, None, &change).unwrap();
                let restore = |changes: &[RecipeChange]| {
                    let mut dst = Vgic::new(host("v3@6.8"), config);
                    let opts = vmm::RestoreOptions {
                        log: true,
                        changes,
                        ..Default::default()
                    };
                    vmm::restore(&mut dst, rc, &saved, &opts).log
                };
                let quirky = |log: &[vmm::LogEntry]| log.iter().any(|e| e.rules.contains(&rule.id));
                assert!(quirky(&restore(&[])), "{} {}", rc.id, rule.id);
                assert!(!quirky(&restore(&change)), "{} {}", rc.id, rule.id);
            }
        }
        // Firecracker's clear registers get ~0 once corrected.
        let fc = vmm::recipe("firecracker").unwrap();
        let config = crate::vgic::VmConfig::new(2, fc.nr_irqs, false).unwrap();
        let mut src = Vgic::new(host("v3@6.8"), config);
        src.init();
        src.run();
        let saved = vmm::save(&mut src, fc, None).unwrap();
        let mut dst = Vgic::new(host("v3@6.8"), config);
        let opts = vmm::RestoreOptions {
            log: true,
            changes: &[RecipeChange::Correct(&r::VMM_CLEAR_WITH_SAVED_BITS)],
            ..Default::default()
        };
        let log = vmm::restore(&mut dst, fc, &saved, &opts).log;
        let icenabler = log
            .iter()
            .find(|e| {
                e.action == Action::Write && e.offset == crate::catalogue::GicdIcenabler::OFFSET + 4
            })
            .unwrap();
        assert_eq!(icenabler.value, !0);
    }

    #[test]
    fn level_info_and_ids_are_saved_and_restored_when_added() {
        let fc = vmm::recipe("firecracker").unwrap();
        let config = crate::vgic::VmConfig::new(2, fc.nr_irqs, false).unwrap();
        let mut src = Vgic::new(host("v4.1@6.17"), config);
        src.init();
        src.run();
        let plain = vmm::save(&mut src, fc, None).unwrap();
        let more = vmm::save_with(
            &mut src,
            fc,
            None,
            &[RecipeChange::LevelInfo, RecipeChange::IdsBeforeInit],
        )
        .unwrap();
        assert_eq!(
            plain.value(Target::Dist, 0, GicdTyper2::OFFSET),
            0,
            "not saved"
        );
        assert_eq!(
            more.value(Target::Dist, 0, GicdTyper2::OFFSET),
            GicdTyper2::NASSGICAP.mask32()
        );
        // Private levels per vCPU and the SPIs' levels 32 at a time.
        assert_eq!(
            more.len() - plain.len(),
            2 + 2 + (fc.nr_irqs as usize - 32) / 32
        );
        let mut dst = Vgic::new(host("v4.1@6.17"), config);
        let opts = vmm::RestoreOptions {
            log: true,
            changes: &[RecipeChange::IdsBeforeInit],
            ..Default::default()
        };
        let log = vmm::restore(&mut dst, fc, &more, &opts).log;
        // GICD_IIDR and GICD_TYPER2 are written before CTRL_INIT.
        let init = log.iter().position(|e| e.action == Action::Init).unwrap();
        assert_eq!(log[0].offset, GicdIidr::OFFSET);
        assert_eq!(log[1].offset, GicdTyper2::OFFSET);
        assert!(init > 1);
        assert!(RecipeChange::LevelInfo.done_by(vmm::recipe("qemu").unwrap()));
        assert!(!RecipeChange::LevelInfo.done_by(fc));
        assert!(RecipeChange::IdsBeforeInit.done_by(vmm::recipe("kernel-doc").unwrap()));
    }

    #[test]
    fn a_candidate_that_does_not_verify_is_not_suggested() {
        // accept-any ignores a restored TYPER2: no VMM order hides nASSGIcap there.
        let s = MigrationSpec {
            policy: RestorePolicy::AcceptAny,
            ..spec("v3@4.19", "v4.1@5.7", "firecracker", GuestProfile::Linux)
        };
        let candidates = super::super::candidates_of(&s, [None, None]).unwrap();
        assert!(!candidates.is_empty());
        let m = super::super::migrate(&s).unwrap();
        assert_eq!(m.verdict, Verdict::SilentlyBroken);
        assert!(
            m.suggestion.is_none() && m.fixes.is_empty(),
            "{:?}",
            m.suggestion
        );
    }

    #[test]
    fn a_fix_serialises_as_data_and_text() {
        let fix = Fix::new(
            vec![
                Change::SourceKernel {
                    kernel: "6.17".parse().unwrap(),
                },
                Change::ClearNassgicap,
                Change::Recipe(RecipeChange::Correct(&r::VMM_QEMU_IROUTER_STRIDE)),
            ],
            "t",
        );
        assert_eq!(
            serde_json::to_value(&fix).unwrap(),
            serde_json::json!({
                "changes": [
                    {"kind": "source-kernel", "kernel": "6.17"},
                    {"kind": "clear-nassgicap"},
                    {"kind": "recipe", "change": "correct", "rule": "vmm.qemu.irouter_stride"},
                ],
                "text": "t",
            })
        );
    }
}
