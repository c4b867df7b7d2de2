//! The Lessons view: open a built-in lesson (it replaces the session, which is
//! kept for "Bring back"), step through it, and rewrite its migration's policy
//! or destination kernel. The lesson itself is part of [`Work`]: the session
//! *is* the lesson's scenario.

use super::work::Work;
use crate::explore::{LessonState, LESSONS};
use crate::session::Session;

use gicx_core::vgic::RestorePolicy;

/// What a person does in the Lessons view.
#[derive(Clone, Debug)]
pub enum LessonsMsg {
    /// Open lesson `i` of [`LESSONS`] at its start.
    Open(usize),
    /// Move the lesson's cursor by this many steps.
    Step(isize),
    SetPolicy(Option<RestorePolicy>),
    SetKernel(Option<String>),
}

/// Apply one message to the work.
pub fn apply(work: &mut Work, msg: LessonsMsg) {
    match msg {
        LessonsMsg::Open(i) => open(work, i),
        LessonsMsg::Step(d) => {
            let n = work.session.cursor().saturating_add_signed(d);
            work.moved(|s| s.seek(n));
        }
        LessonsMsg::SetPolicy(p) => {
            if let Some(l) = &mut work.lesson {
                l.policy = p;
                load(work, work.session.cursor());
            }
        }
        LessonsMsg::SetKernel(k) => {
            if let Some(l) = &mut work.lesson {
                l.kernel = k;
                load(work, work.session.cursor());
            }
        }
    }
}

/// Open lesson `i` at its start (the person's own work kept for "Bring back").
pub fn open(work: &mut Work, i: usize) {
    let lesson = LessonState {
        index: i.min(LESSONS.len() - 1),
        ..Default::default()
    };
    work.keep_replaced(format!("the lesson {}", lesson.lesson().title));
    work.lesson = Some(lesson);
    load(work, 0);
}

/// Open the lesson (with its rewrites) at `cursor`.
fn load(work: &mut Work, cursor: usize) {
    let Some(l) = work.lesson.clone() else { return };
    match l.scenario() {
        Ok(sc) => work.replace_session(Session::new(sc, cursor), Some(l)),
        Err(e) => work.banners.add("The lesson could not be opened", e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rewrite_keeps_the_cursor_and_the_lesson() {
        let mut work = Work::default();
        apply(&mut work, LessonsMsg::Open(1));
        let n = work.session.steps().len();
        apply(&mut work, LessonsMsg::Step(2));
        assert_eq!(work.session.cursor(), 2.min(n));
        apply(&mut work, LessonsMsg::SetKernel(Some("6.17".into())));
        assert_eq!(work.session.cursor(), 2.min(n), "the cursor stays");
        assert_eq!(
            work.lesson.as_ref().unwrap().kernel.as_deref(),
            Some("6.17")
        );
        assert!(work.replaced.is_none(), "a fresh session needs no keeping");
    }
}

/// The view's messages through the whole reducer ([`crate::state::AppState::apply`]).
#[cfg(test)]
mod reducer_tests {
    use crate::state::support::*;

    #[test]
    fn an_open_lesson_survives_a_link() {
        let s = lesson_at(1, 5).apply(Msg::Lessons(LessonsMsg::SetPolicy(Some(
            RestorePolicy::AcceptAny,
        ))));
        let link = s.permalink();
        assert_eq!(
            link.views.get("lessons"),
            Some(&serde_json::json!({"lesson": "2020-1", "policy": "accept-any"}))
        );
        let back = AppState::restore(link.clone(), None);
        assert_eq!(back.work.lesson, s.work.lesson);
        // The text form of links made before the serde structs still opens.
        let mut old = link.clone();
        old.views.insert("lessons".into(), "1 accept-any -".into());
        assert_eq!(AppState::restore(old, None).work.lesson, s.work.lesson);
        assert_eq!(back.work.session.cursor(), s.work.session.cursor());
        let mut bad = link;
        bad.views.insert("lessons".into(), "99 - -".into());
        let back = AppState::restore(bad, None);
        assert!(back.work.lesson.is_none());
        assert!(
            back.work
                .banners
                .list()
                .iter()
                .any(|b| b.detail.starts_with("views.lessons")),
            "a banner names the part"
        );
    }

    #[test]
    fn lessons_step_and_rewrite_the_migration() {
        let s = lesson_at(1, 100);
        assert_eq!(s.work.session.cursor(), s.work.session.steps().len());
        assert_eq!(last_verdict(&s), Some("silently-broken"));
        let back = s.clone().apply(Msg::Lessons(LessonsMsg::Step(-3)));
        assert_eq!(back.work.session.cursor(), s.work.session.cursor() - 3);
        // The 2/4 chapter under each policy.
        let s = lesson_at(2, 100);
        let kernel = last_verdict(&s);
        let any = s.apply(Msg::Lessons(LessonsMsg::SetPolicy(Some(
            RestorePolicy::AcceptAny,
        ))));
        assert_ne!(last_verdict(&any), kernel, "accept-any changes the verdict");
        let old = any.apply(Msg::Lessons(LessonsMsg::SetKernel(Some("4.19".into()))));
        assert!(last_verdict(&old).is_some());
        assert_eq!(
            old.work.lesson.as_ref().unwrap().kernel.as_deref(),
            Some("4.19")
        );
    }
}
