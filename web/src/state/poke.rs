//! The Poke view: the form ([`crate::poke::PokeForm`]) and the steps it makes
//! on the selected register, and the lifecycle ioctls (init, the first run).

use std::rc::Rc;

use gicx_core::catalogue::RegRef;
use gicx_core::scenario::{LifecycleStep, Step as ScenarioStep};

use super::clip;
use super::work::{PokeResult, Work};
use crate::poke::{Access, Actor, PokeForm, GUEST_WIDTHS};

/// Lifecycle ioctls the Poke view offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lifecycle {
    /// `KVM_DEV_ARM_VGIC_CTRL_INIT`.
    Init,
    /// The first `KVM_RUN`.
    Run,
}

/// What a person does in the Poke view.
#[derive(Clone, Debug)]
pub enum PokeMsg {
    SetActor(Actor),
    SetWidth(u8),
    SetAt(u32),
    SetValue(String),
    /// Read, write or probe the selected register.
    Do(Access),
    Lifecycle(Lifecycle),
}

impl PokeForm {
    /// Apply one message: form changes, or a step on `reg` (the selected
    /// register instance) logged in `work`.
    pub fn apply(&mut self, msg: PokeMsg, reg: Option<RegRef>, work: &mut Work) {
        match msg {
            PokeMsg::SetActor(a) => self.actor = a,
            PokeMsg::SetWidth(w) => {
                if GUEST_WIDTHS.contains(&w) {
                    self.width = w;
                }
            }
            PokeMsg::SetAt(at) => self.at = at,
            PokeMsg::SetValue(v) => self.value = clip(v),
            PokeMsg::Do(access) => self.poke(reg, access, work),
            PokeMsg::Lifecycle(which) => {
                let (step, what) = match which {
                    Lifecycle::Init => (
                        ScenarioStep::Init(LifecycleStep::default()),
                        "KVM_DEV_ARM_VGIC_CTRL_INIT",
                    ),
                    Lifecycle::Run => (ScenarioStep::Run(LifecycleStep::default()), "KVM_RUN"),
                };
                work.push(step, what.to_string());
            }
        }
    }

    fn poke(&self, reg: Option<RegRef>, access: Access, work: &mut Work) {
        let Some(reg) = reg else {
            work.last = Some(Rc::new(PokeResult::Refused {
                what: "poke".into(),
                reason: "select a register first".into(),
            }));
            return;
        };
        match self.step(&reg, work.vcpu, access) {
            Ok(step) => {
                let what = format!("{} {}", step.op(), reg.name());
                work.push(step, what);
            }
            Err(reason) => {
                work.last = Some(Rc::new(PokeResult::Refused {
                    what: reg.name(),
                    reason,
                }))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gicx_core::catalogue::lookup;

    #[test]
    fn the_form_keeps_only_widths_it_offers() {
        let (mut form, mut work) = (PokeForm::default(), Work::default());
        form.apply(PokeMsg::SetWidth(12), None, &mut work);
        assert_eq!(form.width, 32);
        form.apply(PokeMsg::SetWidth(8), None, &mut work);
        assert_eq!(form.width, 8);
    }

    #[test]
    fn a_vmm_read_is_logged_with_its_result_and_no_register_is_refused() {
        let (mut form, mut work) = (PokeForm::default(), Work::default());
        form.apply(PokeMsg::Do(Access::Read), None, &mut work);
        assert!(matches!(
            work.last.as_deref(),
            Some(PokeResult::Refused { reason, .. }) if reason == "select a register first"
        ));
        form.apply(PokeMsg::SetActor(Actor::Vmm), None, &mut work);
        let reg = lookup("GICD_TYPER2").ok();
        form.apply(PokeMsg::Do(Access::Read), reg, &mut work);
        assert_eq!(work.session.cursor(), 1);
        match work.last.as_deref() {
            Some(PokeResult::Done(d)) => {
                assert_eq!(d.report.outcome.as_ref().unwrap().value, 0x100)
            }
            other => panic!("expected a done read, got {other:?}"),
        }
        form.apply(PokeMsg::Lifecycle(Lifecycle::Init), None, &mut work);
        assert_eq!(work.session.steps()[1].op(), "init");
    }
}

/// The view's messages through the whole reducer ([`crate::state::AppState::apply`]).
#[cfg(test)]
mod reducer_tests {
    use crate::state::support::*;

    #[test]
    fn poking_as_the_vmm_shows_the_errno_and_its_rule() {
        // 6.17, after init: TYPER2 can no longer be written (EBUSY).
        let s = selected("GICD_TYPER2")
            .apply(Msg::Poke(PokeMsg::Lifecycle(Lifecycle::Init)))
            .apply(Msg::Poke(PokeMsg::SetActor(Actor::Vmm)))
            .apply(Msg::Poke(PokeMsg::SetValue("0".into())))
            .apply(Msg::Poke(PokeMsg::Do(Access::Write)));
        let d = done(&s);
        let o = d.report.outcome.as_ref().unwrap();
        assert_eq!(o.errno.map(|e| e.as_str()), Some("EBUSY"));
        assert!(o.rule().is_some());
        assert!(d.changes.is_empty());
        assert_eq!(s.work.session.cursor(), 2);
    }

    #[test]
    fn poking_as_the_guest_before_init_is_a_failed_kvm_run_and_undo_recovers() {
        // The guest runs only inside KVM_RUN: before init its first run fails
        // (-EBUSY) and, on 6.17, kills the VM; the step is logged like on KVM.
        let s = selected("GICD_CTLR").apply(Msg::Poke(PokeMsg::Do(Access::Read)));
        let o = done(&s).report.outcome.clone().unwrap();
        assert_eq!(o.errno.map(|e| e.as_str()), Some("EBUSY"));
        assert_eq!(o.rule().map(|r| r.id), Some("lifecycle.vm_dead"));
        assert_eq!(s.work.session.cursor(), 1);
        let s = s.apply(Msg::Poke(PokeMsg::Lifecycle(Lifecycle::Init)));
        let o = done(&s).report.outcome.clone().unwrap();
        assert_eq!(o.errno.map(|e| e.as_str()), Some("EIO"));
        let s = s.apply(Msg::Log(LogMsg::Seek(0)));
        assert!(!s.work.session.vgic().is_dead());
        // After init a guest poke is the first KVM_RUN, and succeeds.
        let s = s
            .apply(Msg::Poke(PokeMsg::Lifecycle(Lifecycle::Init)))
            .apply(Msg::Poke(PokeMsg::SetValue("0x12".into())))
            .apply(Msg::Poke(PokeMsg::Do(Access::Write)));
        assert_eq!(done(&s).report.outcome.as_ref().unwrap().errno, None);
        assert!(done(&s).changes.iter().any(|c| c.name == "GICD_CTLR"));
        assert_eq!(s.changed_positions(), [position("GICD_CTLR")]);
        let s = s.apply(Msg::Log(LogMsg::Undo));
        assert!(s.work.last.is_none() && s.changed_positions().is_empty());
    }

    #[test]
    fn poking_without_a_register_or_a_value_is_explained() {
        let s = AppState::default().apply(Msg::Poke(PokeMsg::Do(Access::Read)));
        assert_eq!(refused(&s), "select a register first");
        let s = selected("GICD_CTLR")
            .apply(Msg::Poke(PokeMsg::SetActor(Actor::Vmm)))
            .apply(Msg::Poke(PokeMsg::Do(Access::Write)));
        assert!(refused(&s).starts_with("type a value"));
    }
}
