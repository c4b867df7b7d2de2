use std::rc::Rc;

use gicx_core::audit::{Matrix, MatrixCell};
use gicx_core::guest::GuestProfile;
use gicx_core::migrate::Verdict;
use gicx_core::vgic::RestorePolicy;
use gicx_core::vmm::{ItsSupport, RECIPES};
use yew::prelude::*;

use super::inputs::selected_index;
use super::migrate_view::{policy_select, verdict_class, verdict_detail, vmm_select, vmm_summary};
use crate::explore::{AuditRun, MatrixForm, SET_ASIDE};
use crate::state::{MatrixMsg, Msg};

fn short(v: Verdict) -> &'static str {
    match v {
        Verdict::Compatible => "✓",
        Verdict::Rejected => "R",
        Verdict::NeedlesslyRejected => "N",
        Verdict::SilentlyBroken => "✗",
    }
}

/// The legend of the cells' marks (one character each: 58 destination
/// columns fit a 1280 px window only so).
fn legend() -> Html {
    let item = |v: Verdict, meaning: &str| {
        html! {
            <li><span class={classes!("cell", "legend-cell", verdict_class(v))}>{ short(v) }</span>{ format!(" {}: {meaning}", v.as_str()) }</li>
        }
    };
    html! {
        <ul class="legend" aria-label="Legend">
            { item(Verdict::Compatible, "accepted, and the guest cannot tell") }
            { item(Verdict::Rejected, "refused, rightly: the guest would see a difference") }
            { item(Verdict::NeedlesslyRejected, "refused, although the guest would not have noticed") }
            { item(Verdict::SilentlyBroken, "accepted, and the guest finds its GIC changed") }
            <li><span class="cell legend-cell differs">{ "·" }</span>{ " outlined: the two policies disagree" }</li>
        </ul>
    }
}

/// A cell's verdict, with `aside`'s differences set aside.
fn shown(c: &MatrixCell, aside: Option<&str>) -> Verdict {
    match aside {
        Some(rule) => c.verdict_setting_aside(rule),
        None => c.verdict,
    }
}

fn table(
    t: usize,
    m: &Matrix,
    other: Option<&Matrix>,
    aside: Option<&'static str>,
    on_msg: &Callback<Msg>,
) -> Html {
    let count = |v: Verdict| {
        m.cells
            .iter()
            .flatten()
            .filter(|c| shown(c, aside) == v)
            .count()
    };
    html! {
        <div class="matrix-table">
            <table>
                <caption>{ format!("policy {}: rows = source, columns = destination ({} compatible, {} rejected, {} needlessly rejected, {} silently broken{})",
                    m.policy.as_str(), count(Verdict::Compatible), count(Verdict::Rejected), count(Verdict::NeedlesslyRejected), count(Verdict::SilentlyBroken),
                    aside.map(|r| format!("; {r} set aside")).unwrap_or_default()) }</caption>
                <thead><tr><th></th>{ for m.hosts.iter().map(|h| html! { <th scope="col" class="col-host">{ h }</th> }) }</tr></thead>
                <tbody>
                    { for m.cells.iter().enumerate().map(|(si, row)| html! {
                        <tr>
                            <th scope="row">{ &m.hosts[si] }</th>
                            { for row.iter().enumerate().map(|(di, c)| {
                                let verdict = shown(c, aside);
                                let differs = other
                                    .and_then(|o| o.cells.get(si)?.get(di))
                                    .is_some_and(|o| shown(o, aside) != verdict);
                                let label = format!("{} → {}: {}{}", c.from, c.to, verdict.as_str(),
                                    if differs { " (the other policy differs)" } else { "" });
                                html! {
                                    <td><button type="button" class={classes!("cell", verdict_class(verdict), differs.then_some("differs"))}
                                        aria-label={label.clone()} title={label}
                                        onclick={on_msg.reform(move |_: MouseEvent| Msg::Matrix(MatrixMsg::OpenCell(t, si, di)))}>{ short(verdict) }</button></td>
                                }
                            }) }
                        </tr>
                    }) }
                </tbody>
            </table>
        </div>
    }
}

/// One policy's table as a component of its own: hosts × hosts cells are most of the view's
/// nodes, so opening a cell, changing a form field or running the audit does not
/// rebuild or diff them unless the tables themselves were recomputed (the props
/// compare the `Rc` of the computed pair, not its contents).
#[derive(Properties, Clone)]
struct MatrixTableProps {
    t: usize,
    tables: Rc<[Result<Matrix, String>; 2]>,
    aside: Option<&'static str>,
    on_msg: Callback<Msg>,
}

impl PartialEq for MatrixTableProps {
    fn eq(&self, other: &Self) -> bool {
        self.t == other.t
            && Rc::ptr_eq(&self.tables, &other.tables)
            && self.aside == other.aside
            && self.on_msg == other.on_msg
    }
}

#[function_component]
fn MatrixTable(p: &MatrixTableProps) -> Html {
    match &p.tables[p.t] {
        Ok(m) => table(p.t, m, p.tables[1 - p.t].as_ref().ok(), p.aside, &p.on_msg),
        Err(e) => html! { <p class="error">{ e }</p> },
    }
}

/// Every source × destination for a VMM and guest under two policies; the audit.
pub fn matrix_view(form: &MatrixForm, read_only: bool, on_msg: &Callback<Msg>) -> Html {
    let on_guest = on_msg.reform(|e: Event| {
        Msg::Matrix(MatrixMsg::SetGuest(
            GuestProfile::ALL[selected_index(&e).min(2)],
        ))
    });
    let policy =
        |t: usize| on_msg.reform(move |p: RestorePolicy| Msg::Matrix(MatrixMsg::SetPolicy(t, p)));
    let running = form.audit.running_at().is_some();
    let recipe = &RECIPES[form.vmm.min(RECIPES.len() - 1)];
    html! {
        <section class="matrix" aria-labelledby="matrix-heading">
            <h2 id="matrix-heading">{ "Matrix" }</h2>
            <div class="poke-fields">
                <div><label for="matrix-vmm">{ "VMM" }</label>{ vmm_select("matrix-vmm", form.vmm, read_only, on_msg.reform(|v| Msg::Matrix(MatrixMsg::SetVmm(v)))) }</div>
                <div>
                    <label for="matrix-guest">{ "Guest profile" }</label>
                    <select id="matrix-guest" onchange={on_guest} disabled={read_only}>
                        { for GuestProfile::ALL.iter().enumerate().map(|(i, g)| html! {
                            <option value={i.to_string()} selected={*g == form.guest}>{ g.as_str() }</option>
                        }) }
                    </select>
                </div>
                <div><label for="matrix-policy-a">{ "First policy" }</label>{ policy_select("matrix-policy-a", form.policies[0], read_only, policy(0)) }</div>
                <div><label for="matrix-policy-b">{ "Second policy" }</label>{ policy_select("matrix-policy-b", form.policies[1], read_only, policy(1)) }</div>
            </div>
            { vmm_summary(form.vmm) }
            <p class="hint guest-history">
                { format!("Guest history of every source: the {} profile ({}), on a VM as {} creates it: 2 vCPUs, NR_IRQS {}{}. The Migrate view migrates the session's own VM instead; \"Open in Migrate\" on a cell gives it this source.",
                    form.guest, form.guest.summary(), recipe.name, recipe.nr_irqs,
                    if recipe.its == ItsSupport::Always { ", an ITS" } else { "" }) }
            </p>
            if let Some(d) = &form.detail {
                <div class="cell-detail" aria-label="Cell detail">
                    if !read_only {
                        <div class="buttons">
                            <button type="button" onclick={on_msg.reform(|_: MouseEvent| Msg::OpenCellInMigrate)}>{ "Open in Migrate" }</button>
                            <button type="button" onclick={on_msg.reform(|_: MouseEvent| Msg::Matrix(MatrixMsg::CloseCell))}>{ "Close detail" }</button>
                        </div>
                    }
                    if let Some(note) = aside_note(form) {
                        <p class="hint">{ note }</p>
                    }
                    { match &**d { Ok(m) => verdict_detail(m), Err(e) => html! { <p class="error">{ e }</p> } } }
                </div>
            }
            { set_aside(form, read_only, on_msg) }
            { legend() }
            <div class="matrix-pair">
                { match &form.tables {
                    Some(tables) => (0..2).map(|t| html! {
                        <MatrixTable key={t} {t} tables={tables.clone()} aside={form.aside} on_msg={on_msg.clone()} />
                    }).collect::<Html>(),
                    None => html! { <p role="status" aria-busy="true">{ "Computing both matrices…" }</p> },
                } }
            </div>
            if !read_only {
            <h3>{ "Audit" }</h3>
            <p class="hint">{ "Every host pair, VMM, guest profile and ITS setting under each policy. It runs in slices on the page's one thread: the page stays usable meanwhile." }</p>
            <div class="buttons">
                <button type="button" onclick={on_msg.reform(|_: MouseEvent| Msg::Matrix(MatrixMsg::AuditStart))} disabled={running}>{ "Run audit" }</button>
                if running {
                    <button type="button" onclick={on_msg.reform(|_: MouseEvent| Msg::Matrix(MatrixMsg::AuditStop))}>{ "Stop" }</button>
                }
            </div>
            { match &form.audit {
                AuditRun::Idle => html! {},
                AuditRun::Running { progress, .. } => html! {
                    <p role="status" aria-busy="true">
                        <progress aria-label="Audit progress" max={progress.total.to_string()} value={progress.done.to_string()} />
                        { format!(" Running… {} %", progress.done * 100 / progress.total.max(1)) }
                    </p>
                },
                AuditRun::Failed(e) => html! { <p class="error" role="status">{ e }</p> },
                AuditRun::Done(rows) => html! {
                    <table class="audit" aria-label="Audit counts">
                        <thead><tr><th>{ "policy" }</th><th>{ "compatible" }</th><th>{ "rejected" }</th><th>{ "needlessly-rejected" }</th><th>{ "silently-broken" }</th></tr></thead>
                        <tbody>
                            { for rows.iter().map(|r| html! {
                                <tr><th scope="row">{ r.policy.as_str() }</th>
                                    <td>{ r.counts.compatible }</td><td>{ r.counts.rejected }</td>
                                    <td>{ r.counts.needlessly_rejected }</td><td>{ r.counts.silently_broken }</td></tr>
                            }) }
                        </tbody>
                    </table>
                },
            } }
            }
        </section>
    }
}

/// An embedded Matrix link with a cell open: that one verdict (the tables are for the app).
pub fn matrix_cell_embed(form: &MatrixForm) -> Html {
    let recipe = &RECIPES[form.vmm.min(RECIPES.len() - 1)];
    html! {
        <section class="matrix matrix-cell" aria-label="Cell detail">
            <p class="hint">{ format!("{} migrating a {} guest (profile: {}).", recipe.name, form.guest, form.guest.summary()) }</p>
            { match form.detail.as_deref() {
                Some(Ok(m)) => verdict_detail(m),
                Some(Err(e)) => html! { <p class="error">{ e }</p> },
                None => html! { <p role="status" aria-busy="true">{ "Computing…" }</p> },
            } }
        </section>
    }
}

/// "Set aside" a cause that breaks (nearly) every cell, where one does.
fn set_aside(form: &MatrixForm, read_only: bool, on_msg: &Callback<Msg>) -> Html {
    let Some(tables) = &form.tables else {
        return html! {};
    };
    let present = |rule: &str| {
        tables.iter().flatten().any(|m| {
            m.cells
                .iter()
                .flatten()
                .any(|c| c.difference_rules.iter().any(|r| r.contains(&rule)))
        })
    };
    html! {
        { for SET_ASIDE.iter().copied().filter(|r| present(r)).map(|rule| {
            let on = form.aside == Some(rule);
            let text = gicx_core::rules::by_id(rule).map(|r| r.text).unwrap_or_default();
            let onchange = on_msg.reform(move |e: Event| {
                let checked = e.target_unchecked_into::<web_sys::HtmlInputElement>().checked();
                Msg::Matrix(MatrixMsg::SetAside(checked.then_some(rule)))
            });
            html! {
                <label class="inline set-aside">
                    <input type="checkbox" checked={on} {onchange} disabled={read_only} />
                    { format!("Set aside {rule} (judge the cells as if its differences were not there): {text}") }
                </label>
            }
        }) }
    }
}

/// With a cause set aside, what the open cell reads in the table (the detail is the
/// full replay, cause included).
fn aside_note(form: &MatrixForm) -> Option<String> {
    let rule = form.aside?;
    let (t, from, to) = form.cell?;
    let m = form.tables.as_ref()?[t.min(1)].as_ref().ok()?;
    let (from, to) = (from.compact(), to.compact());
    let c = m
        .cells
        .iter()
        .flatten()
        .find(|c| c.from == from && c.to == to)?;
    Some(format!(
        "With {rule} set aside this cell reads {}; the replay below still has it.",
        c.verdict_setting_aside(rule).as_str()
    ))
}
