use gicx_core::migrate::{Migration, Verdict};
use gicx_core::vgic::RestorePolicy;
use gicx_core::vmm::RECIPES;
use yew::prelude::*;

use super::inputs::{selected_index, text_input};
use crate::explore::MigrateForm;
use crate::session::Session;
use crate::state::Msg;

/// The arguments of [`migrate_view`].
pub struct MigrateViewProps {
    pub read_only: bool,
    pub session: Session,
    pub form: MigrateForm,
    pub error: Option<String>,
    pub on_msg: Callback<Msg>,
}

/// A policy `<select>`.
pub fn policy_select(id: &str, value: RestorePolicy, on: Callback<RestorePolicy>) -> Html {
    let onchange = on.reform(|e: Event| RestorePolicy::ALL[selected_index(&e).min(2)]);
    html! {
        <select id={id.to_string()} {onchange}>
            { for RestorePolicy::ALL.iter().enumerate().map(|(i, p)| html! {
                <option value={i.to_string()} selected={*p == value}>{ p.as_str() }</option>
            }) }
        </select>
    }
}

/// A VMM `<select>` over [`RECIPES`].
pub fn vmm_select(id: &str, value: usize, on: Callback<usize>) -> Html {
    let onchange = on.reform(|e: Event| selected_index(&e));
    html! {
        <select id={id.to_string()} {onchange}>
            { for RECIPES.iter().enumerate().map(|(i, r)| html! {
                <option value={i.to_string()} selected={i == value}>{ r.id }</option>
            }) }
        </select>
    }
}

/// Migrate the session's VM: destination, VMM, policy; the last migration's verdict.
pub fn migrate_view(props: &MigrateViewProps) -> Html {
    let on_msg = &props.on_msg;
    let disabled = props.read_only;
    let host = props.form.host();
    let on_to = text_input(on_msg, Msg::SetMigrateTo);
    let s = &props.session;
    let last = s
        .replay()
        .reports
        .iter()
        .rev()
        .find_map(|r| r.migration.as_deref());
    html! {
        <section class="migrate" aria-labelledby="migrate-heading">
            <h2 id="migrate-heading">{ "Migrate" }</h2>
            <p class="where">{ format!("Source: the session's VM on {} after {} step(s).", s.host().compact(), s.cursor()) }</p>
            <div class="poke-fields">
                <div>
                    <label for="migrate-to">{ "Destination host" }</label>
                    <input id="migrate-to" type="text" value={props.form.to.clone()} oninput={on_to}
                        autocomplete="off" spellcheck="false" readonly={disabled}
                        aria-invalid={host.is_err().to_string()} aria-describedby="migrate-to-error" />
                    <span id="migrate-to-error" class="error" role="alert">{ host.err().unwrap_or_default() }</span>
                </div>
                <div>
                    <label for="migrate-vmm">{ "VMM" }</label>
                    { vmm_select("migrate-vmm", props.form.vmm, on_msg.reform(Msg::SetMigrateVmm)) }
                </div>
                <div>
                    <label for="migrate-policy">{ "Policy" }</label>
                    { policy_select("migrate-policy", props.form.policy, on_msg.reform(Msg::SetMigratePolicy)) }
                </div>
            </div>
            <div class="buttons">
                <button type="button" onclick={on_msg.reform(|_: MouseEvent| Msg::Migrate)} {disabled}>{ "Migrate" }</button>
            </div>
            if let Some(e) = &props.error {
                <p class="error">{ e }</p>
            }
            if let Some(m) = last {
                { verdict_detail(m) }
            } else {
                <p class="hint">{ "No migration yet: the verdict appears here." }</p>
            }
        </section>
    }
}

/// The CSS class and words of a verdict.
pub fn verdict_class(v: Verdict) -> &'static str {
    match v {
        Verdict::Compatible => "verdict-ok",
        Verdict::Rejected => "verdict-rejected",
        Verdict::NeedlesslyRejected => "verdict-needless",
        Verdict::SilentlyBroken => "verdict-broken",
    }
}

/// One migration in full: verdict, refusal, differences, suggestion, restore log.
pub fn verdict_detail(m: &Migration) -> Html {
    html! {
        <div class="verdict-detail">
            <p role="status" class={classes!("verdict", verdict_class(m.verdict))}>
                <strong>{ m.verdict.as_str() }</strong>
                { format!(": {} → {} with {} ({} policy{})", m.from, m.to, m.vmm, m.policy.as_str(),
                    if m.guest.is_empty() { String::new() } else { format!(", guest {}", m.guest) }) }
            </p>
            if let Some(f) = &m.refusal {
                <p class="refusal">{ format!("Refused: {} at {} (restore step {})", f.errno, f.register, f.step) }</p>
            }
            if !m.differences.is_empty() {
                <table class="fields">
                    <caption>{ "Responsible registers and fields" }</caption>
                    <thead><tr><th>{ "Register" }</th><th>{ "Field" }</th><th>{ "Source" }</th><th>{ "Destination" }</th><th>{ "Rules" }</th><th>{ "Why" }</th></tr></thead>
                    <tbody>
                        { for m.differences.iter().map(|d| html! {
                            <tr>
                                <td>{ &d.register }</td>
                                <td>{ &d.field }</td>
                                <td class="mono">{ format!("{:#x}", d.source) }</td>
                                <td class="mono">{ format!("{:#x}", d.destination) }</td>
                                <td class="mono">{ d.rules.join(", ") }</td>
                                <td>{ &d.reason }</td>
                            </tr>
                        }) }
                    </tbody>
                </table>
            }
            if !m.rules.is_empty() {
                <p class="mono">{ format!("Rules: {}", m.rules.join(", ")) }</p>
            }
            if let Some(s) = &m.suggestion {
                <p class="suggestion">{ format!("Suggestion: {s}") }</p>
            }
            <details class="restore-log">
                <summary>{ format!("Restore log ({} accesses)", m.restore_log.len()) }</summary>
                <ol>
                    { for m.restore_log.iter().map(|e| html! {
                        <li class="mono">{ e.summary() }{ if e.rules.is_empty() { String::new() } else { format!(" [{}]", e.rules.join(", ")) } }</li>
                    }) }
                </ol>
            </details>
        </div>
    }
}
