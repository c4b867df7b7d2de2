//! What every view works on ([`Work`]): the session (host, VM, steps, undo
//! cursor), the lesson it came from, the selected vCPU, what the last step did,
//! the session a lesson or prepared VM replaced, and the problems on screen.
//! Views change it only through these methods, so the rules that keep every
//! state linkable (a log is always a scenario) live in one place.

use std::rc::Rc;

use gicx_core::host::Host;
use gicx_core::scenario::{validate, Scenario, Step as ScenarioStep};
use gicx_core::vgic::VmConfig;

use crate::explore::LessonState;
use crate::session::{Done, Session};

/// The last poke (or init/run, migration, SGI…) and what it did.
#[derive(Clone, Debug)]
pub enum PokeResult {
    Done(Done),
    /// The access could not be made at all (not a KVM errno: e.g. the guest
    /// before KVM_RUN, a value wider than the access).
    Refused {
        what: String,
        reason: String,
    },
}

/// Results are compared by identity: each poke makes a new one.
impl PartialEq for PokeResult {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self, other)
    }
}

/// The session a lesson or a prepared VM replaced, kept until the next
/// replacement so that opening one never loses work for good.
#[derive(Clone, Debug)]
pub struct Replaced {
    /// What replaced it ("the lesson Your first SGI").
    pub by: String,
    pub session: Session,
    pub lesson: Option<LessonState>,
}

/// A problem shown at the top of the page (role=alert) until dismissed: a
/// damaged link or saved state, a log that cannot be replayed…
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Banner {
    pub id: u32,
    pub title: String,
    pub detail: String,
}

/// The problems on screen, each once.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Banners {
    list: Vec<Banner>,
    next: u32,
}

impl Banners {
    /// Show a problem (the same one twice, e.g. the same bad link, is shown once).
    pub fn add(&mut self, title: impl Into<String>, detail: impl Into<String>) {
        let (title, detail) = (title.into(), crate::explain::plain(&detail.into()));
        if self
            .list
            .iter()
            .any(|b| b.title == title && b.detail == detail)
        {
            return;
        }
        self.next += 1;
        self.list.push(Banner {
            id: self.next,
            title,
            detail,
        });
    }

    pub fn dismiss(&mut self, id: u32) {
        self.list.retain(|b| b.id != id);
    }

    pub fn list(&self) -> &[Banner] {
        &self.list
    }
}

/// The shared part of the explorer's state.
#[derive(Clone, Debug, Default)]
pub struct Work {
    pub session: Session,
    /// The lesson the session is (with its rewrites), if it is one.
    pub lesson: Option<LessonState>,
    /// The vCPU whose redistributor is shown and who accesses the distributor.
    pub vcpu: u32,
    /// What the last step did; cleared by undo, redo and host changes.
    pub last: Option<Rc<PokeResult>>,
    /// The session the last lesson, import or prepared VM replaced.
    pub replaced: Option<Box<Replaced>>,
    pub banners: Banners,
    /// Set when the session was replaced: the forms showing it follow
    /// ([`super::AppState::apply`] resets them and clears this).
    pub(super) session_replaced: bool,
}

impl Work {
    /// Do a new step. A step the scenario format refuses (e.g. an SGI to a vCPU the
    /// VM does not have) is refused here too: the log must stay a scenario that a
    /// link carries.
    pub fn push(&mut self, step: ScenarioStep, what: String) {
        if let Some((_, reason)) = first_misfit(std::slice::from_ref(&step), self.session.vm()) {
            self.last = Some(Rc::new(PokeResult::Refused {
                what,
                reason: crate::explain::plain(&reason),
            }));
            return;
        }
        let result = match self.session.push(step, &[self.vcpu]) {
            Ok(done) => PokeResult::Done(done),
            Err(e) => PokeResult::Refused {
                what,
                reason: crate::explain::plain(&e.to_string()),
            },
        };
        self.last = Some(Rc::new(result));
    }

    /// Append a step a form made (Migrate, Delivery path): `None`, or why not.
    pub fn push_form(&mut self, step: Result<ScenarioStep, String>, what: &str) -> Option<String> {
        match step {
            Ok(step) => {
                self.push(step, what.to_string());
                match self.last.as_deref() {
                    Some(PokeResult::Refused { reason, .. }) => Some(reason.clone()),
                    _ => None,
                }
            }
            Err(e) => Some(e),
        }
    }

    /// Move in the log (undo, redo, seek): the last result no longer applies.
    pub fn moved(&mut self, f: impl FnOnce(&mut Session)) {
        f(&mut self.session);
        self.last = None;
    }

    /// Replay the log on another host.
    pub fn set_host(&mut self, host: Host) {
        self.session.reconfigure(host, self.session.vm());
        self.last = None;
    }

    /// Change the VM. A log is a scenario, and every state must make a link that
    /// opens (README "Permalinks"): a change that an applied step does not fit as a
    /// scenario (a vCPU it names, a migration's NR_IRQS or ITS) is refused, naming
    /// the step; undone steps that do not fit are forgotten, as a new step forgets them.
    pub fn set_vm(&mut self, vm: VmConfig) -> Result<(), String> {
        if let Some((i, why)) = first_misfit(self.session.steps(), vm) {
            if i < self.session.cursor() {
                let op = self.session.steps()[i].op();
                return Err(format!(
                    "step {} ({op}) does not fit that VM: {why}; undo past it or change it first",
                    i + 1
                ));
            }
            self.session.forget_from(i);
        }
        self.session.reconfigure(self.session.host(), vm);
        self.vcpu = self.vcpu.min(vm.vcpus - 1);
        self.last = None;
        Ok(())
    }

    /// Replace the session (a lesson, a file, a prepared VM, a link): the vCPU is
    /// kept if the new VM has it, the last result goes, and the forms follow.
    pub fn replace_session(&mut self, session: Session, lesson: Option<LessonState>) {
        self.session = session;
        self.lesson = lesson;
        self.vcpu = self.vcpu.min(self.session.vm().vcpus - 1);
        self.last = None;
        self.session_replaced = true;
    }

    /// Keep the session about to be replaced (by `by`), if it is the person's own
    /// work: a fresh session or a lesson need no keeping.
    pub fn keep_replaced(&mut self, by: String) {
        let fresh = self.session.steps().is_empty()
            && self.session.host() == Session::default().host()
            && self.session.vm() == VmConfig::default();
        if fresh || self.lesson.is_some() {
            return;
        }
        self.replaced = Some(Box::new(Replaced {
            by,
            session: self.session.clone(),
            lesson: self.lesson.clone(),
        }));
    }

    /// Replace the session by a prepared source VM (kept for "Bring back").
    pub fn prepare(&mut self, sc: Scenario) {
        self.keep_replaced(sc.name.as_deref().unwrap_or("a prepared VM").to_string());
        let n = sc.steps.len();
        self.replace_session(Session::new(sc, n), None);
    }

    /// Go back to the session the last lesson or prepared VM replaced.
    pub fn bring_back(&mut self) {
        if let Some(r) = self.replaced.take() {
            let Replaced {
                session, lesson, ..
            } = *r;
            self.replace_session(session, lesson);
        }
    }

    /// Say so if the log could not be replayed to its end.
    pub fn note_stopped(&mut self) {
        if let Some(stop) = self.session.stopped().cloned() {
            self.banners.add(
                "The log could not be replayed to its end",
                format!("{stop}. The steps before it are applied; the rest can be redone after changing the host or VM."),
            );
        }
    }
}

/// The first step (index, why) that `vm` does not fit as a scenario.
pub fn first_misfit(steps: &[ScenarioStep], vm: VmConfig) -> Option<(usize, String)> {
    steps.iter().enumerate().find_map(|(i, step)| {
        let one = Scenario {
            name: None,
            description: None,
            note: None,
            host: Session::default().host(),
            vm,
            steps: vec![step.clone()],
        };
        validate(&one).err().map(|e| (i, e.message))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use gicx_core::scenario::LifecycleStep;

    #[test]
    fn banners_are_shown_once_and_dismissed() {
        let mut b = Banners::default();
        b.add("Bad link", "`payload`: not base64");
        b.add("Bad link", "`payload`: not base64");
        assert_eq!(b.list().len(), 1);
        assert_eq!(b.list()[0].detail, "payload: not base64", "plain words");
        b.add("Other", "x");
        let id = b.list()[0].id;
        b.dismiss(id);
        assert_eq!(b.list().len(), 1);
        assert_eq!(b.list()[0].title, "Other");
    }

    #[test]
    fn steps_the_scenario_format_refuses_are_not_logged() {
        let mut w = Work::default();
        w.push(
            gicx_core::scenario::Step::Init(LifecycleStep::default()),
            "init".into(),
        );
        assert_eq!(w.session.cursor(), 1);
        let sgi: ScenarioStep =
            serde_json::from_str(r#"{"op": "sgi", "from": 0, "intid": 1, "targets": [9]}"#)
                .unwrap();
        w.push(sgi, "sgi".into());
        assert_eq!(w.session.cursor(), 1, "vCPU 9 does not exist: refused");
        assert!(matches!(
            w.last.as_deref(),
            Some(PokeResult::Refused { .. })
        ));
    }

    #[test]
    fn a_vm_an_applied_step_does_not_fit_is_refused_naming_the_step() {
        let mut w = Work {
            vcpu: 3,
            ..Work::default()
        };
        let vm = w.session.vm();
        w.set_vm(VmConfig { vcpus: 2, ..vm }).unwrap();
        assert_eq!(w.vcpu, 1, "the vCPU follows the VM");
        let sgi: ScenarioStep =
            serde_json::from_str(r#"{"op": "sgi", "from": 0, "intid": 1, "targets": [1]}"#)
                .unwrap();
        w.push(sgi, "sgi".into());
        let e = w.set_vm(VmConfig { vcpus: 1, ..vm }).unwrap_err();
        assert!(e.starts_with("step 1 (sgi) does not fit that VM"), "{e}");
        assert_eq!(w.session.vm().vcpus, 2, "unchanged");
    }
}
