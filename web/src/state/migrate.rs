//! The Migrate view: the form (destination, VMM, policy), the `migrate` step it
//! adds (replacing a shown migration: the same source again), and why a
//! migration the VMM cannot attempt is not logged, with one-click fixes.

use std::rc::Rc;

use gicx_core::guest::GuestProfile;
use gicx_core::migrate::{source_scenario, validate_step};
use gicx_core::scenario::{LifecycleStep, Step as ScenarioStep};
use gicx_core::vgic::{Lifecycle as VmLifecycle, RestorePolicy, VmConfig};
use gicx_core::vmm::{ItsSupport, RECIPES};

use super::clip;
use super::work::{PokeResult, Work};
use crate::explore::{MigrateBlock, MigrateFix, MigrateForm};
use crate::host_form::HostForm;

/// What a person does in the Migrate view.
#[derive(Clone, Debug)]
pub enum MigrateMsg {
    /// The destination host as typed (compact syntax).
    SetTo(String),
    /// Index in [`RECIPES`].
    SetVmm(usize),
    SetPolicy(RestorePolicy),
    /// Migrate the session's VM with the form: a `migrate` step, replacing the
    /// last applied step if that is a migration (the same source again); or, if
    /// the VMM cannot attempt it, why and the fixes ([`MigrateState::block`]).
    Migrate,
    /// Apply a fix, then migrate.
    Fix(MigrateFix),
}

/// The Migrate view's own state.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MigrateState {
    pub form: MigrateForm,
    /// Why the last Migrate could not be attempted, with one-click fixes.
    pub block: Option<MigrateBlock>,
    /// Why the form makes no step (a destination that is not a host).
    pub error: Option<String>,
}

impl MigrateState {
    /// Apply one message. A fix may change the VM: `host` (the Host and VM
    /// view's form) shows a refusal as it would for the same change made there.
    pub fn apply(&mut self, msg: MigrateMsg, work: &mut Work, host: &mut HostForm) {
        match msg {
            MigrateMsg::SetTo(t) => {
                self.form.to = clip(t.split_whitespace().collect());
                if self.form.host().is_ok() {
                    self.rerun(work);
                }
            }
            MigrateMsg::SetVmm(i) => {
                self.form.vmm = i.min(RECIPES.len() - 1);
                self.rerun(work);
            }
            MigrateMsg::SetPolicy(p) => {
                self.form.policy = p;
                self.rerun(work);
            }
            MigrateMsg::Migrate => self.migrate(work),
            MigrateMsg::Fix(fix) => self.fix(fix, work, host),
        }
    }

    /// Whether the last applied step is a migration: the one the Migrate view shows,
    /// which Migrate re-runs from the same source.
    fn shows_migration(work: &Work) -> bool {
        matches!(work.session.last_applied(), Some(ScenarioStep::Migrate(_)))
    }

    /// The form changed: if a migration is shown, run it again from its source.
    fn rerun(&mut self, work: &mut Work) {
        if Self::shows_migration(work) {
            self.migrate(work);
        }
    }

    /// Migrate with the form: the step is added (replacing a shown migration) only
    /// if the VMM can attempt it; otherwise [`MigrateState::block`] says why.
    pub fn migrate(&mut self, work: &mut Work) {
        self.error = None;
        self.block = None;
        let step = match self.form.step() {
            Ok(s) => s,
            Err(e) => {
                self.error = Some(e);
                return;
            }
        };
        let ScenarioStep::Migrate(m) = &step else {
            return;
        };
        let mut trial = work.session.clone();
        if Self::shows_migration(work) {
            trial.undo();
        }
        let recipe = self.form.recipe();
        let vm = trial.vm();
        let reason = match validate_step(m, &vm, "migrate") {
            Err(e) => Some(e.message),
            Ok(()) => match trial.push(step, &[work.vcpu]) {
                Err(e) => Some(e.to_string()),
                Ok(done) if done.report.migration.is_none() => Some(
                    done.report
                        .failures
                        .first()
                        .cloned()
                        .unwrap_or_else(|| done.report.summary.clone()),
                ),
                Ok(done) => {
                    work.session = trial;
                    work.last = Some(Rc::new(PokeResult::Done(done)));
                    return;
                }
            },
        };
        let mut fixes = Vec::new();
        if vm.nr_irqs != recipe.nr_irqs {
            fixes.push(MigrateFix::NrIrqs(recipe.nr_irqs));
        }
        match recipe.its {
            ItsSupport::Always if !vm.its => fixes.push(MigrateFix::Its(true)),
            ItsSupport::Refused if vm.its => fixes.push(MigrateFix::Its(false)),
            _ => {}
        }
        if work.session.vgic().lifecycle() != VmLifecycle::HasRun {
            fixes.push(MigrateFix::InitRun);
        }
        fixes.push(MigrateFix::Prepare(GuestProfile::Linux));
        self.block = Some(MigrateBlock {
            reason: reason.unwrap_or_default(),
            fixes,
        });
    }

    fn fix(&mut self, fix: MigrateFix, work: &mut Work, host: &mut HostForm) {
        let refused = match fix {
            MigrateFix::NrIrqs(n) => {
                let vm = work.session.vm();
                match VmConfig::new(vm.vcpus, n, vm.its) {
                    Ok(vm) => host.set_vm(vm, work).err(),
                    Err(e) => {
                        host.vm_error = Some(e.to_string());
                        host.vm_error.clone()
                    }
                }
            }
            MigrateFix::Its(on) => {
                let vm = work.session.vm();
                host.set_vm(VmConfig { its: on, ..vm }, work).err()
            }
            MigrateFix::InitRun => {
                if work.session.vgic().lifecycle() == VmLifecycle::Created {
                    work.push(ScenarioStep::Init(LifecycleStep::default()), "init".into());
                }
                if work.session.vgic().lifecycle() != VmLifecycle::HasRun {
                    work.push(ScenarioStep::Run(LifecycleStep::default()), "run".into());
                }
                None
            }
            MigrateFix::Prepare(guest) => {
                let recipe = self.form.recipe();
                work.prepare(source_scenario(work.session.host(), recipe, guest));
                None
            }
        };
        if let Some(e) = refused {
            self.block = Some(MigrateBlock {
                reason: e,
                fixes: vec![MigrateFix::Prepare(GuestProfile::Linux)],
            });
            return;
        }
        self.migrate(work);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fresh_vm_is_blocked_with_fixes_and_preparing_it_migrates() {
        let (mut m, mut work) = (MigrateState::default(), Work::default());
        let mut host = HostForm::showing(work.session.host(), work.session.vm());
        m.apply(MigrateMsg::Migrate, &mut work, &mut host);
        let block = m.block.clone().expect("a fresh VM cannot be saved");
        assert!(block.fixes.contains(&MigrateFix::InitRun), "{block:?}");
        assert!(work.session.steps().is_empty(), "nothing logged");
        m.apply(
            MigrateMsg::Fix(MigrateFix::Prepare(GuestProfile::Linux)),
            &mut work,
            &mut host,
        );
        assert_eq!(m.block, None);
        assert!(matches!(
            work.session.last_applied(),
            Some(ScenarioStep::Migrate(_))
        ));
    }

    #[test]
    fn a_destination_that_is_not_a_host_is_an_error_not_a_step() {
        let (mut m, mut work) = (MigrateState::default(), Work::default());
        let mut host = HostForm::default();
        m.apply(MigrateMsg::SetTo("v9@1".into()), &mut work, &mut host);
        m.apply(MigrateMsg::Migrate, &mut work, &mut host);
        assert!(m.error.is_some());
        assert!(work.session.steps().is_empty());
    }
}

/// The view's messages through the whole reducer ([`crate::state::AppState::apply`]).
#[cfg(test)]
mod reducer_tests {
    use crate::state::support::*;

    #[test]
    fn migrate_appends_a_step_and_shows_its_verdict() {
        // The 2020 lesson up to (not including) its migration: a Linux guest on v4.1@5.7.
        let s = lesson_at(1, 12);
        assert_eq!(s.work.session.cursor(), 12);
        let s = s
            .apply(Msg::Migrate(MigrateMsg::SetTo("v4.0@5.7".into())))
            .apply(Msg::Migrate(MigrateMsg::SetVmm(
                crate::explore::recipe_index("firecracker"),
            )))
            .apply(Msg::Migrate(MigrateMsg::SetPolicy(RestorePolicy::Kernel)))
            .apply(Msg::Migrate(MigrateMsg::Migrate));
        assert_eq!(s.migrate.error, None);
        assert_eq!(s.work.session.cursor(), 13);
        assert_eq!(last_verdict(&s), Some("silently-broken"));
        let undone = s.clone().apply(Msg::Log(LogMsg::Undo));
        assert_eq!(last_verdict(&undone), None);
        // A bad host is refused before anything runs.
        let bad = s
            .apply(Msg::Migrate(MigrateMsg::SetTo("v9@x".into())))
            .apply(Msg::Migrate(MigrateMsg::Migrate));
        assert!(bad.migrate.error.is_some());
        assert_eq!(bad.work.session.cursor(), 13);
    }

    #[test]
    fn a_migration_the_vmm_cannot_attempt_is_explained_with_fixes_not_logged() {
        // Issue 13: a fresh app, Host v4.1 / 6.8, qemu to v4.0@6.17.
        let s = AppState::default()
            .apply(Msg::Host(HostMsg::SetKernel("6.8".into())))
            .apply(Msg::Show(View::Migrate))
            .apply(Msg::Migrate(MigrateMsg::SetTo("v4.0@6.17".into())))
            .apply(Msg::Migrate(MigrateMsg::SetVmm(
                crate::explore::recipe_index("qemu"),
            )))
            .apply(Msg::Migrate(MigrateMsg::Migrate));
        assert_eq!(s.work.session.steps().len(), 0, "nothing is logged");
        let block = s.migrate.block.clone().expect("the refusal is in the view");
        assert!(block.reason.contains("NR_IRQS 288"), "{}", block.reason);
        assert_eq!(
            block.fixes,
            [
                MigrateFix::NrIrqs(288),
                MigrateFix::InitRun,
                MigrateFix::Prepare(GuestProfile::Linux)
            ]
        );
        round_trips(&s);
        // nr_irqs alone: the VMM then cannot save a VM that was never initialised.
        let s = s.apply(Msg::Migrate(MigrateMsg::Fix(MigrateFix::NrIrqs(288))));
        assert_eq!(s.work.session.vm().nr_irqs, 288);
        let block = s.migrate.block.clone().unwrap();
        assert!(block.reason.contains("EBUSY"), "{}", block.reason);
        assert_eq!(
            block.fixes,
            [
                MigrateFix::InitRun,
                MigrateFix::Prepare(GuestProfile::Linux)
            ]
        );
        let s = s.apply(Msg::Migrate(MigrateMsg::Fix(MigrateFix::InitRun)));
        assert_eq!(s.migrate.block, None);
        assert_eq!(s.work.session.steps().len(), 3, "init, run, migrate");
        let m = migration(&s);
        assert_eq!((m.from.as_str(), m.to.as_str()), ("v4.1@6.8", "v4.0@6.17"));
        round_trips(&s);
    }

    #[test]
    fn changing_the_policy_or_destination_reruns_from_the_same_source() {
        let s = lesson_at(1, 12)
            .apply(Msg::Migrate(MigrateMsg::SetTo("v4.0@5.7".into())))
            .apply(Msg::Migrate(MigrateMsg::Migrate));
        assert_eq!(s.work.session.cursor(), 13);
        assert_eq!(migration(&s).verdict.as_str(), "silently-broken");
        let s = s.apply(Msg::Migrate(MigrateMsg::SetPolicy(
            RestorePolicy::Relaxed2020,
        )));
        assert_eq!(s.work.session.cursor(), 13, "replaced, not chained");
        let m = migration(&s);
        assert_eq!((m.from.as_str(), m.to.as_str()), ("v4.1@5.7", "v4.0@5.7"));
        assert_eq!(m.policy, RestorePolicy::Relaxed2020);
        let s = s
            .apply(Msg::Migrate(MigrateMsg::SetTo("v4.0@6.17".into())))
            .apply(Msg::Migrate(MigrateMsg::Migrate));
        assert_eq!(s.work.session.cursor(), 13);
        let m = migration(&s);
        assert_eq!((m.from.as_str(), m.to.as_str()), ("v4.1@5.7", "v4.0@6.17"));
        round_trips(&s);
        let r = AppState::restore(decode_link(&encode(&s.permalink())).unwrap(), None);
        assert_eq!(
            r.migrate.form, s.migrate.form,
            "the form travels in the link"
        );
    }

    #[test]
    fn preparing_the_vm_replaces_the_session_which_can_be_brought_back() {
        let s = AppState::default()
            .apply(Msg::Poke(PokeMsg::Lifecycle(Lifecycle::Init)))
            .apply(Msg::Migrate(MigrateMsg::SetVmm(
                crate::explore::recipe_index("qemu"),
            )))
            .apply(Msg::Migrate(MigrateMsg::SetTo("v4.0@6.17".into())))
            .apply(Msg::Migrate(MigrateMsg::Migrate));
        assert!(s.migrate.block.is_some());
        let s = s.apply(Msg::Migrate(MigrateMsg::Fix(MigrateFix::Prepare(
            GuestProfile::Linux,
        ))));
        assert_eq!(s.migrate.block, None);
        assert_eq!(s.work.session.vm().nr_irqs, 288);
        assert_eq!(
            migration(&s).guest,
            "",
            "the session's own steps, no profile"
        );
        let kept = s.work.replaced.as_ref().expect("the old session is kept");
        assert_eq!(kept.session.steps().len(), 1);
        round_trips(&s);
        let back = s.apply(Msg::BringBack);
        assert_eq!(back.work.session.steps().len(), 1);
        assert_eq!(back.work.session.vm().nr_irqs, 256);
        assert!(back.work.replaced.is_none());
    }
}
