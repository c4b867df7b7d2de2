use gicx_core::migrate::{Migration, Verdict};
use gicx_core::scenario::Step;
use gicx_core::vgic::RestorePolicy;
use gicx_core::vmm::RECIPES;
use yew::prelude::*;

use super::inputs::{selected_index, text_input};
use crate::explore::{
    experience, folded_differences, policy_comparison, MigrateBlock, MigrateForm,
};
use crate::session::Session;
use crate::state::{MigrateMsg, Msg};

/// The arguments of [`migrate_view`].
pub struct MigrateViewProps {
    pub read_only: bool,
    pub session: Session,
    pub form: MigrateForm,
    pub error: Option<String>,
    /// Why the last Migrate could not be attempted, and the fixes.
    pub block: Option<MigrateBlock>,
    /// What replaced the person's own session, if anything did.
    pub replaced_by: Option<String>,
    pub on_msg: Callback<Msg>,
}

/// A policy `<select>`.
pub fn policy_select(
    id: &str,
    value: RestorePolicy,
    disabled: bool,
    on: Callback<RestorePolicy>,
) -> Html {
    let onchange = on.reform(|e: Event| RestorePolicy::ALL[selected_index(&e).min(2)]);
    html! {
        <select id={id.to_string()} {onchange} {disabled}>
            { for RestorePolicy::ALL.iter().enumerate().map(|(i, p)| html! {
                <option value={i.to_string()} selected={*p == value}>{ p.as_str() }</option>
            }) }
        </select>
    }
}

/// A VMM `<select>` over [`RECIPES`], by name (the id is the value scenario files use).
pub fn vmm_select(id: &str, value: usize, disabled: bool, on: Callback<usize>) -> Html {
    let onchange = on.reform(|e: Event| selected_index(&e));
    html! {
        <select id={id.to_string()} {onchange} {disabled}>
            { for RECIPES.iter().enumerate().map(|(i, r)| html! {
                <option value={i.to_string()} selected={i == value}>{ format!("{} ({})", r.name, r.id) }</option>
            }) }
        </select>
    }
}

/// The selected VMM's summary, under its `<select>`.
pub fn vmm_summary(vmm: usize) -> Html {
    let r = &RECIPES[vmm.min(RECIPES.len() - 1)];
    html! {
        <p class="hint vmm-summary">
            { format!("{}: {} NR_IRQS {}; ITS: {}.", r.name, r.summary, r.nr_irqs, r.its_note) }
        </p>
    }
}

/// "Your previous session was replaced by …": the way back.
pub fn replaced_note(by: Option<&str>, on_msg: &Callback<Msg>) -> Html {
    match by {
        None => html! {},
        Some(by) => html! {
            <p class="replaced" role="status">
                { format!("Your previous session was replaced by {by}. ") }
                <button type="button" onclick={on_msg.reform(|_: MouseEvent| Msg::BringBack)}>{ "Bring it back" }</button>
            </p>
        },
    }
}

/// Migrate the session's VM: destination, VMM, policy; the shown migration's verdict
/// under the chosen policy, the three policies side by side; or why the VMM cannot
/// attempt it, with one-click fixes.
pub fn migrate_view(props: &MigrateViewProps) -> Html {
    let on_msg = &props.on_msg;
    let disabled = props.read_only;
    let host = props.form.host();
    let on_to = text_input(on_msg, |v| Msg::Migrate(MigrateMsg::SetTo(v)));
    let s = &props.session;
    let shown = matches!(s.last_applied(), Some(Step::Migrate(_)));
    let last = shown
        .then(|| {
            s.replay()
                .reports
                .last()
                .and_then(|r| r.migration.as_deref())
        })
        .flatten();
    let named = s
        .name
        .as_deref()
        .map(|n| format!(" ({n})"))
        .unwrap_or_default();
    let source = match last {
        Some(m) => format!(
            "Source: the session's VM{named} on {} after its first {} step(s): its guest history is those steps (see Log). Changing the destination, VMM or policy migrates it again from there.",
            m.from,
            s.cursor() - 1
        ),
        None => format!(
            "Source: the session's VM{named} on {} after {} step(s): its guest history is those steps (see Log), not a Matrix guest profile.",
            s.vgic().host().compact(),
            s.cursor()
        ),
    };
    let recipe = props.form.recipe();
    html! {
        <section class="migrate" aria-labelledby="migrate-heading">
            <h2 id="migrate-heading">{ "Migrate" }</h2>
            if !props.read_only {
                { replaced_note(props.replaced_by.as_deref(), on_msg) }
            }
            <p class="where">{ source }</p>
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
                    { vmm_select("migrate-vmm", props.form.vmm, disabled, on_msg.reform(|v| Msg::Migrate(MigrateMsg::SetVmm(v)))) }
                </div>
                <div>
                    <label for="migrate-policy">{ "Policy" }</label>
                    { policy_select("migrate-policy", props.form.policy, disabled, on_msg.reform(|v| Msg::Migrate(MigrateMsg::SetPolicy(v)))) }
                </div>
            </div>
            { vmm_summary(props.form.vmm) }
            if !props.read_only {
                <div class="buttons">
                    <button type="button" onclick={on_msg.reform(|_: MouseEvent| Msg::Migrate(MigrateMsg::Migrate))}>
                        { if shown { "Migrate again" } else { "Migrate" } }
                    </button>
                </div>
            }
            if let Some(e) = &props.error {
                <p class="error">{ e }</p>
            }
            if let Some(b) = &props.block {
                <div class="migrate-block" role="alert" aria-label="Migration not attempted">
                    <p><strong>{ format!("{} cannot attempt this migration: ", recipe.name) }</strong>{ &b.reason }</p>
                    if !props.read_only {
                        <div class="buttons fixes">
                            { for b.fixes.iter().map(|&fix| html! {
                                <button type="button" onclick={on_msg.reform(move |_: MouseEvent| Msg::Migrate(MigrateMsg::Fix(fix)))}>{ fix.label(recipe) }</button>
                            }) }
                        </div>
                    }
                </div>
            }
            if let Some(m) = last {
                { verdict_detail(m) }
                <PolicyComparison session={s.clone()} chosen={m.policy} {on_msg} read_only={props.read_only} />
            } else if props.block.is_none() {
                <p class="hint">{ "No migration yet: the verdict appears here." }</p>
            }
        </section>
    }
}

#[derive(Properties, PartialEq, Clone)]
struct PolicyComparisonProps {
    session: Session,
    chosen: RestorePolicy,
    on_msg: Callback<Msg>,
    read_only: bool,
}

/// The shown migration under each restore policy, from the same source (three more
/// migrations: computed once per session state).
#[function_component]
fn PolicyComparison(p: &PolicyComparisonProps) -> Html {
    let rows = use_memo(p.session.clone(), policy_comparison);
    let Some(rows) = rows.as_ref() else {
        return html! {};
    };
    html! {
        <table class="policies" aria-label="The three policies">
            <caption>{ "The same migration under each restore policy" }</caption>
            <thead><tr><th>{ "Policy" }</th><th>{ "Verdict" }</th><th>{ "Why" }</th><th></th></tr></thead>
            <tbody>
                { for rows.iter().map(|(policy, m)| {
                    let policy = *policy;
                    let (verdict, why) = match m {
                        Ok(m) => (html! {
                            <span class={classes!("verdict-chip", verdict_class(m.verdict))}>{ m.verdict.as_str() }</span>
                        }, m.reasons().into_iter().next().unwrap_or_default()),
                        Err(e) => (html! { { "—" } }, e.clone()),
                    };
                    html! {
                        <tr class={classes!((policy == p.chosen).then_some("chosen"))}>
                            <th scope="row">{ policy.as_str() }</th>
                            <td>{ verdict }</td>
                            <td>{ why }</td>
                            <td>
                                if policy == p.chosen {
                                    { "shown" }
                                } else if !p.read_only {
                                    <button type="button" onclick={p.on_msg.reform(move |_: MouseEvent| Msg::Migrate(MigrateMsg::SetPolicy(policy)))}>{ "Show" }</button>
                                }
                            </td>
                        </tr>
                    }
                }) }
            </tbody>
        </table>
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

/// One migration in full: verdict, what the guest will experience, the suggestion (and
/// every other fix the model verified), the refusal, the differences (identical
/// per-vCPU rows folded), the restore log.
pub fn verdict_detail(m: &Migration) -> Html {
    let rows = folded_differences(&m.differences);
    html! {
        <div class="verdict-detail">
            <p role="status" class={classes!("verdict", verdict_class(m.verdict))}>
                <strong>{ m.verdict.as_str() }</strong>
                { format!(": {} → {} with {} ({} policy{})", m.from, m.to, m.vmm, m.policy.as_str(),
                    if m.guest.is_empty() { String::new() } else { format!(", guest {}", m.guest) }) }
            </p>
            <p class="experience">{ experience(m) }</p>
            if let Some(s) = &m.suggestion {
                <p class="suggestion"><strong>{ "Suggestion: " }</strong>{ s.text.clone() }</p>
            }
            if m.fixes.len() > 1 {
                <p class="other-fixes"><strong>{ "Also makes it compatible: " }</strong>
                    { m.fixes[1..].iter().map(|f| f.text.as_str()).collect::<Vec<_>>().join(" — or: ") }
                </p>
            }
            if let Some(f) = &m.refusal {
                <p class="refusal">{ format!("Refused: {} at {} (restore step {})", f.errno, f.register, f.step) }</p>
            }
            if !rows.is_empty() {
                <div class="wide">
                    <table class="fields differences">
                        <caption>{ "Responsible registers and fields" }</caption>
                        <thead><tr><th>{ "Register" }</th><th>{ "Field" }</th><th>{ "Source" }</th><th>{ "Destination" }</th><th>{ "Rules" }</th><th>{ "Why" }</th></tr></thead>
                        <tbody>
                            { for rows.iter().map(|(name, d)| html! {
                                <tr>
                                    <td class="mono">{ name }</td>
                                    <td>{ &d.field }</td>
                                    <td class="mono">{ format!("{:#x}", d.source) }</td>
                                    <td class="mono">{ format!("{:#x}", d.destination) }</td>
                                    <td class="mono">{ d.rules.join(", ") }</td>
                                    <td>{ &d.reason }</td>
                                </tr>
                            }) }
                        </tbody>
                    </table>
                </div>
            }
            if !m.rules.is_empty() {
                <p class="mono rules">{ format!("Rules: {}", m.rules.join(", ")) }</p>
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
