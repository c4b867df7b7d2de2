use std::rc::Rc;

use gicx_core::rules::Rule;
use gicx_core::scenario::StepReport;
use web_sys::HtmlInputElement;
use yew::prelude::*;

use crate::browser;
use crate::session::Session;
use crate::state::{LogMsg, Msg};

/// The arguments of [`log_view`].
pub struct LogViewProps {
    /// A read-only embed: controls are hidden.
    pub read_only: bool,
    pub session: Session,
    pub import_error: Option<String>,
    pub import_note: Option<String>,
    pub export_expectations: bool,
    pub on_msg: Callback<Msg>,
}

/// Longest log shown in full; longer ones show their last entries.
const SHOWN: usize = 1000;

/// Every step in order, with its summary and rule; undo and redo; export and
/// import of scenario files.
pub fn log_view(props: &LogViewProps) -> Html {
    let s = &props.session;
    let on_msg = &props.on_msg;
    let export = {
        let (session, expectations, on_msg) =
            (s.clone(), props.export_expectations, on_msg.clone());
        Callback::from(move |_: MouseEvent| {
            let sc = session.export(expectations);
            let text = crate::session::to_pretty_json(&sc);
            on_msg.emit(match browser::download("gicx-scenario.json", &text) {
                Ok(()) => Msg::Log(LogMsg::Exported(format!(
                    "Exported {} step{} as gicx-scenario.json",
                    sc.steps.len(),
                    if sc.steps.len() == 1 { "" } else { "s" }
                ))),
                Err(e) => Msg::Problem {
                    title: "Export failed".into(),
                    detail: e,
                },
            });
        })
    };
    let import = {
        let on_msg = on_msg.clone();
        Callback::from(move |e: Event| {
            let input = e.target_unchecked_into::<HtmlInputElement>();
            let Some(file) = input.files().and_then(|f| f.get(0)) else {
                return;
            };
            // Clear the field so choosing the same file again imports it again.
            input.set_value("");
            let name = file.name();
            browser::read_file(
                file,
                on_msg.reform(move |text: Result<String, String>| match text {
                    Ok(text) => Msg::Log(LogMsg::Import {
                        file: name.clone(),
                        text,
                    }),
                    Err(why) => Msg::Log(LogMsg::ImportFailed(why)),
                }),
            );
        })
    };
    let on_expect = on_msg.reform(|e: Event| {
        Msg::Log(LogMsg::SetExportExpectations(
            e.target_unchecked_into::<HtmlInputElement>().checked(),
        ))
    });
    let steps = s.steps();
    let reports = &s.replay().reports;
    let first = steps.len().saturating_sub(SHOWN);
    html! {
        <section class="log" aria-labelledby="log-heading">
            <h2 id="log-heading">{ "Log" }</h2>
            <p class="log-summary">
                { format!(
                    "{} of {} step{} applied, on {} with {} vCPUs, nr_irqs {}{}.",
                    s.cursor(),
                    steps.len(),
                    if steps.len() == 1 { "" } else { "s" },
                    s.host(),
                    s.vm().vcpus,
                    s.vm().nr_irqs,
                    if s.vm().its { ", an ITS" } else { "" },
                ) }
            </p>
            if !props.read_only {
                <div class="buttons">
                    <button type="button" title="Undo (Ctrl+Z)" aria-keyshortcuts="Control+Z" disabled={!s.can_undo()} onclick={on_msg.reform(|_: MouseEvent| Msg::Log(LogMsg::Undo))}>{ "Undo" }</button>
                    <button type="button" title="Redo (Ctrl+Shift+Z)" aria-keyshortcuts="Control+Shift+Z" disabled={!s.can_redo()} onclick={on_msg.reform(|_: MouseEvent| Msg::Log(LogMsg::Redo))}>{ "Redo" }</button>
                </div>
            }
            if let Some(stop) = s.stopped() {
                <p class="stopped" role="status">{ format!("Replay stopped: {stop}.") }</p>
            }
            if steps.is_empty() {
                <p class="hint">{ "No steps yet: poke a register, or import a scenario file." }</p>
            }
            if first > 0 {
                <p class="hint">{ format!("The first {first} steps are not shown.") }</p>
            }
            <ol class="steps" start={(first + 1).to_string()}>
                { for steps.iter().enumerate().skip(first).map(|(i, step)| {
                    let report = reports.get(i).cloned();
                    let summary = match &report {
                        Some(r) => r.summary.clone(),
                        None => crate::explain::title(step),
                    };
                    let explain = (i < s.cursor())
                        .then(|| crate::explain::explain(s, i))
                        .flatten()
                        .map(|e| e.text);
                    html! {
                        <LogEntry
                            key={i}
                            read_only={props.read_only}
                            index={i}
                            {summary}
                            report={report.map(ReportRef)}
                            applied={i < s.cursor()}
                            {explain}
                            on_msg={on_msg.clone()}
                        />
                    }
                }) }
            </ol>
            <div class="transfer">
                <h3>{ "Scenario files" }</h3>
                <p class="hint">{ "The format of " }<code>{ "gicx run" }</code>{ " (docs/scenario-format.md)." }</p>
                <label class="inline">
                    <input type="checkbox" checked={props.export_expectations} onchange={on_expect} disabled={props.read_only} />
                    { "Record each result as an expectation (a regression test)" }
                </label>
                <button type="button" onclick={export}>{ "Export scenario" }</button>
                if !props.read_only {
                    <label for="import-file">{ "Import a scenario file" }</label>
                    <input id="import-file" type="file" accept=".json,application/json" onchange={import} />
                }
                if let Some(error) = &props.import_error {
                    <p class="import-error" role="alert">{ format!("Import failed: {error}") }</p>
                }
                if let Some(note) = &props.import_note {
                    <p class="status" role="status">{ note }</p>
                }
            </div>
        </section>
    }
}

/// A step report compared by identity.
#[derive(Clone, Debug)]
pub struct ReportRef(pub Rc<StepReport>);

impl PartialEq for ReportRef {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }
}

#[derive(Properties, PartialEq)]
pub struct LogEntryProps {
    /// A read-only embed: controls are hidden.
    pub read_only: bool,
    pub index: usize,
    pub summary: String,
    pub report: Option<ReportRef>,
    pub applied: bool,
    /// What a lifecycle failure means for the VM.
    pub explain: Option<String>,
    pub on_msg: Callback<Msg>,
}

/// One step: its summary and deciding rule; undone steps are greyed.
#[function_component]
pub fn LogEntry(props: &LogEntryProps) -> Html {
    let outcome = props.report.as_ref().and_then(|r| r.0.outcome.as_ref());
    let rule: Option<&'static Rule> = outcome.and_then(|o| o.rule());
    let n = props.index + 1;
    let seek = props
        .on_msg
        .reform(move |_: MouseEvent| Msg::Log(LogMsg::Seek(n)));
    let failures = props
        .report
        .as_ref()
        .map(|r| r.0.failures.clone())
        .unwrap_or_default();
    let note = props.report.as_ref().and_then(|r| r.0.note.clone());
    html! {
        <li class={classes!("step", (!props.applied).then_some("undone"), (!failures.is_empty()).then_some("failed"))}>
            <code class="summary">{ &props.summary }</code>
            if !props.applied {
                <span class="undone-mark">{ " (undone)" }</span>
            }
            if let Some(rule) = rule {
                <p class="rule"><a class="rule-id" href={format!("#rule/{}", rule.id)}>{ rule.id }</a>{ " — " }{ super::glossed(rule.text) }</p>
            }
            if let Some(explain) = &props.explain {
                <p class="explain">{ super::glossed(explain) }</p>
            }
            if let Some(note) = note {
                <p class="note">{ note }</p>
            }
            if let Some(o) = outcome {
                if !o.notes.is_empty() {
                    <ul class="notes">{ for o.notes.iter().map(|n| html! { <li>{ super::glossed(n) }</li> }) }</ul>
                }
            }
            if !failures.is_empty() {
                <ul class="failures">{ for failures.iter().map(|f| html! { <li>{ format!("✗ {f}") }</li> }) }</ul>
            }
            if !props.read_only {
                <button type="button" class="seek" aria-label={format!("Go to after step {n}")} onclick={seek}>{ "Go here" }</button>
            }
        </li>
    }
}
