//! The Log view: undo, redo and seeking in the steps; importing a scenario
//! file (it replaces the session) and the export's options and notes.

use gicx_core::scenario::parse;

use super::work::Work;
use crate::session::Session;

/// What a person does in the Log view (and Ctrl+Z / Ctrl+Shift+Z anywhere).
#[derive(Clone, Debug)]
pub enum LogMsg {
    Undo,
    Redo,
    /// Move the undo cursor: `n` steps applied.
    Seek(usize),
    /// A scenario file's text, read from `file`.
    Import {
        file: String,
        text: String,
    },
    ImportFailed(String),
    SetExportExpectations(bool),
    /// An export was offered as a download (the message says what).
    Exported(String),
}

/// The Log view's own state.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LogState {
    /// Why the last import failed (with its JSON path, line and column).
    pub import_error: Option<String>,
    /// What the last import or export did.
    pub import_note: Option<String>,
    /// Exports record each step's result as expectations.
    pub export_expectations: bool,
}

impl LogState {
    pub fn apply(&mut self, msg: LogMsg, work: &mut Work) {
        match msg {
            LogMsg::Undo => work.moved(|s| s.undo()),
            LogMsg::Redo => work.moved(|s| s.redo()),
            LogMsg::Seek(n) => work.moved(|s| s.seek(n)),
            LogMsg::Import { file, text } => self.import(&file, &text, work),
            LogMsg::ImportFailed(why) => {
                self.import_error = Some(why);
                self.import_note = None;
            }
            LogMsg::SetExportExpectations(on) => self.export_expectations = on,
            LogMsg::Exported(note) => {
                self.import_note = Some(note);
                self.import_error = None;
            }
        }
    }

    /// A scenario file replaces the session (the person's own work is kept for
    /// "Bring back"), or the error names the file, JSON path, line and column.
    fn import(&mut self, file: &str, text: &str, work: &mut Work) {
        match parse(text) {
            Ok(sc) => {
                work.keep_replaced(format!("the file {file}"));
                let n = sc.steps.len();
                work.replace_session(Session::new(sc, n), None);
                self.import_error = None;
                self.import_note = Some(format!(
                    "Imported {file}: {n} step{} on {}",
                    if n == 1 { "" } else { "s" },
                    work.session.host()
                ));
                work.note_stopped();
            }
            Err(e) => {
                self.import_error = Some(crate::explain::plain(&format!("{file}: {e}")));
                self.import_note = None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_export_note_replaces_an_import_error_and_back() {
        let (mut log, mut work) = (LogState::default(), Work::default());
        log.apply(LogMsg::ImportFailed("too big".into()), &mut work);
        assert_eq!(log.import_error.as_deref(), Some("too big"));
        log.apply(LogMsg::Exported("Exported 0 steps".into()), &mut work);
        assert_eq!(
            (log.import_error.as_deref(), log.import_note.as_deref()),
            (None, Some("Exported 0 steps"))
        );
    }

    #[test]
    fn an_import_replaces_the_session_and_keeps_the_old_one() {
        let (mut log, mut work) = (LogState::default(), Work::default());
        work.session
            .push(gicx_core::scenario::Step::Init(Default::default()), &[0])
            .unwrap();
        let text = r#"{"host": "v3@5.10", "steps": [{"op": "init"}]}"#;
        log.apply(
            LogMsg::Import {
                file: "a.json".into(),
                text: text.into(),
            },
            &mut work,
        );
        assert_eq!(work.session.host().compact(), "v3@5.10");
        assert!(work.session_replaced, "the forms are told to follow");
        assert_eq!(
            work.replaced.as_ref().map(|r| r.by.as_str()),
            Some("the file a.json")
        );
        assert!(log
            .import_note
            .as_deref()
            .unwrap()
            .starts_with("Imported a.json: 1 step on v3@5.10"));
    }
}

/// The view's messages through the whole reducer ([`crate::state::AppState::apply`]).
#[cfg(test)]
mod reducer_tests {
    use crate::state::support::*;

    #[test]
    fn undo_redo_and_seek() {
        let s = selected("GICD_TYPER2")
            .apply(Msg::Poke(PokeMsg::Lifecycle(Lifecycle::Init)))
            .apply(Msg::Poke(PokeMsg::Lifecycle(Lifecycle::Run)))
            .apply(Msg::Log(LogMsg::Undo));
        assert_eq!(
            (s.work.session.cursor(), s.work.session.steps().len()),
            (1, 2)
        );
        let s = s.apply(Msg::Log(LogMsg::Redo));
        assert_eq!(s.work.session.cursor(), 2);
        let s = s.apply(Msg::Log(LogMsg::Seek(0)));
        assert_eq!(s.work.session.cursor(), 0);
    }

    #[test]
    fn an_its_scenario_imports_exports_with_expectations_and_links() {
        // The ITS and guest-memory steps go through the same parser, log and link.
        let text = include_str!("../../../tests/scenarios/its-save-restore.json");
        let n = gicx_core::scenario::parse(text).unwrap().steps.len();
        let s = AppState::default().apply(Msg::Log(LogMsg::Import {
            file: "its.json".into(),
            text: text.into(),
        }));
        assert!(s.log.import_error.is_none(), "{:?}", s.log.import_error);
        assert_eq!(s.work.session.cursor(), n);
        let exported = s.work.session.export(true);
        let again = gicx_core::scenario::parse(&serde_json::to_string(&exported).unwrap())
            .expect("the export is a valid scenario");
        let (report, _) = gicx_core::scenario::run(&again).unwrap();
        assert!(report.passed(), "the export's expectations hold");
        assert!(again
            .steps
            .iter()
            .any(|st| matches!(st, gicx_core::scenario::Step::Msi(m) if m.expect.is_some())));
        round_trips(&s);
    }

    #[test]
    fn import_replaces_the_session_or_names_the_error() {
        let text = r#"{"host": {"gic": "v3", "kernel": "5.10"}, "vm": {"vcpus": 2},
            "steps": [{"op": "init"}, {"op": "user_read", "reg": "GICD_IIDR"}]}"#;
        let s = AppState::default()
            .apply(Msg::SetVcpu(3))
            .apply(Msg::Log(LogMsg::Import {
                file: "a.json".into(),
                text: text.into(),
            }));
        assert_eq!(s.work.session.cursor(), 2);
        assert_eq!(s.work.session.host().compact(), "v3@5.10");
        assert_eq!(s.host.kernel, "5.10");
        assert_eq!(s.work.vcpu, 1, "clamped to the imported VM");
        assert!(s
            .log
            .import_note
            .as_deref()
            .unwrap()
            .starts_with("Imported a.json: 2 steps"));

        let s = s.apply(Msg::Log(LogMsg::Import {
            file: "b.json".into(),
            text: r#"{"host": {"gic": "v3", "kernel": "5.10"},
  "steps": [{"op": "user_read", "reg": "GICD_TYPR2"}]}"#
                .into(),
        }));
        let e = s.log.import_error.as_deref().unwrap();
        assert!(e.starts_with("b.json: steps[0].reg"), "{e}");
        assert!(e.contains("did you mean GICD_TYPER2"), "{e}");
        assert_eq!(
            s.work.session.host().compact(),
            "v3@5.10",
            "the session is kept"
        );

        let s = s.apply(Msg::Log(LogMsg::Import {
            file: "c.json".into(),
            text: "{\n  \"host\": [".into(),
        }));
        assert!(s
            .log
            .import_error
            .as_deref()
            .unwrap()
            .contains("(line 2, column"));
    }
}
