use gicx_core::catalogue::CATALOGUE;
use gicx_core::vgic::RestorePolicy;
use yew::prelude::*;

use super::inputs::selected_index;
use super::migrate_view::{replaced_note, verdict_detail};
use crate::explore::{lesson_kernels, LessonState, LESSONS};
use crate::session::Session;
use crate::state::{LessonsMsg, Msg};
use crate::view::View;

/// The arguments of [`lessons_view`].
pub struct LessonsViewProps<'a> {
    pub read_only: bool,
    pub lesson: Option<&'a LessonState>,
    pub session: &'a Session,
    /// What replaced the person's own session, if anything did.
    pub replaced_by: Option<&'a str>,
    pub on_msg: &'a Callback<Msg>,
}

/// The catalogue position of the register a step names, if it names one.
fn step_register(step: Option<&gicx_core::scenario::Step>) -> Option<usize> {
    use gicx_core::scenario::Step;
    let name = match step? {
        Step::GuestRead(r)
        | Step::GuestWrite(r)
        | Step::UserRead(r)
        | Step::UserWrite(r)
        | Step::UserHas(r) => r.reg.as_deref()?,
        _ => return None,
    };
    let found = gicx_core::catalogue::lookup(name).ok()?;
    CATALOGUE.iter().position(|d| std::ptr::eq(d, found.desc))
}

/// Built-in lessons: step forward and back through a lesson's steps (buttons,
/// or Left/Right on the lesson); the 2020 chapters rewrite their migration.
/// Lessons are buttons, not a `<select>`: arrow keys in a select would open every
/// lesson passed over, each replacing the session.
pub fn lessons_view(props: &LessonsViewProps) -> Html {
    let LessonsViewProps {
        read_only,
        lesson,
        session,
        on_msg,
        ..
    } = *props;
    let picker = html! {
        <nav class="lesson-list" aria-label="Lessons">
            <ul>
                { for LESSONS.iter().enumerate().map(|(i, l)| {
                    let current = lesson.is_some_and(|s| s.index == i);
                    html! {
                        <li><button type="button" aria-pressed={current.to_string()} disabled={read_only}
                            onclick={on_msg.reform(move |_: MouseEvent| Msg::Lessons(LessonsMsg::Open(i)))}>{ l.title }</button></li>
                    }
                }) }
            </ul>
        </nav>
    };
    let replaced = if read_only {
        html! {}
    } else {
        replaced_note(props.replaced_by, on_msg)
    };
    let Some(l) = lesson else {
        return html! {
            <section class="lessons" aria-labelledby="lessons-heading">
                <h2 id="lessons-heading">{ "Lessons" }</h2>
                { replaced }
                { picker }
                <p class="hint">{ "A lesson replaces the session with its scenario (your own comes back with \"Bring it back\"); undo and links work as usual." }</p>
            </section>
        };
    };
    let cursor = session.cursor();
    let steps = session.steps();
    let reports = &session.replay().reports;
    let onkeydown = {
        let on_msg = on_msg.clone();
        Callback::from(move |e: KeyboardEvent| {
            use wasm_bindgen::JsCast;
            let in_field = e
                .target()
                .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
                .is_some_and(|el| matches!(el.tag_name().as_str(), "SELECT" | "INPUT"));
            let d = match e.key().as_str() {
                "ArrowRight" if !in_field => 1,
                "ArrowLeft" if !in_field => -1,
                _ => return,
            };
            e.prevent_default();
            on_msg.emit(Msg::Lessons(LessonsMsg::Step(d)));
        })
    };
    let on_policy = on_msg.reform(|e: Event| {
        let i = selected_index(&e);
        Msg::Lessons(LessonsMsg::SetPolicy(
            i.checked_sub(1).map(|i| RestorePolicy::ALL[i.min(2)]),
        ))
    });
    let on_kernel = on_msg.reform(|e: Event| {
        let i = selected_index(&e);
        let kernels = lesson_kernels();
        Msg::Lessons(LessonsMsg::SetKernel(
            i.checked_sub(1)
                .map(|i| kernels[i.min(kernels.len() - 1)].clone()),
        ))
    });
    let current = cursor.checked_sub(1).and_then(|i| reports.get(i));
    html! {
        <section class="lessons" aria-labelledby="lessons-heading" tabindex="0" {onkeydown}>
            <h2 id="lessons-heading">{ "Lessons" }</h2>
            { replaced }
            { picker }
            <p class="where">{ session.name.clone().unwrap_or_default() }</p>
            if l.migrates() {
                <div class="poke-fields">
                    <div>
                        <label for="lesson-policy">{ "Destination policy" }</label>
                        <select id="lesson-policy" onchange={on_policy} disabled={read_only}>
                            <option value="0" selected={l.policy.is_none()}>{ "as in the lesson" }</option>
                            { for RestorePolicy::ALL.iter().enumerate().map(|(i, p)| html! {
                                <option value={(i + 1).to_string()} selected={l.policy == Some(*p)}>{ p.as_str() }</option>
                            }) }
                        </select>
                    </div>
                    <div>
                        <label for="lesson-kernel">{ "Destination kernel or host" }</label>
                        <select id="lesson-kernel" onchange={on_kernel} disabled={read_only}>
                            <option value="0" selected={l.kernel.is_none()}>{ "as in the lesson" }</option>
                            { for lesson_kernels().into_iter().enumerate().map(|(i, k)| html! {
                                <option value={(i + 1).to_string()} selected={l.kernel.as_deref() == Some(k.as_str())}>{ k }</option>
                            }) }
                        </select>
                    </div>
                </div>
            }
            <div class="buttons">
                <button type="button" onclick={on_msg.reform(|_: MouseEvent| Msg::Lessons(LessonsMsg::Step(-1)))} disabled={read_only || cursor == 0}>{ "Back" }</button>
                <span role="status">{ format!("Step {cursor} of {}", steps.len()) }</span>
                <button type="button" onclick={on_msg.reform(|_: MouseEvent| Msg::Lessons(LessonsMsg::Step(1)))} disabled={read_only || cursor >= steps.len()}>{ "Forward" }</button>
            </div>
            if let Some(r) = current {
                <div class="lesson-step">
                    <h3>{ format!("Step {}: {}", r.index + 1, steps.get(r.index).map(crate::explain::title).unwrap_or_else(|| r.op.to_string())) }</h3>
                    if let Some(n) = steps.get(r.index).and_then(|s| s.note()) { <p class="note">{ super::glossed(n) }</p> }
                    if r.migration.is_some() && (l.policy.is_some() || l.kernel.is_some()) {
                        <p class="hint">{ "The note describes the lesson's own migration; the result below is the rewritten one." }</p>
                    }
                    if let Some(m) = &r.migration {
                        <p class="mono">{ &r.summary }</p>
                        { for r.failures.iter().map(|f| html! { <p class="error">{ f }</p> }) }
                        { verdict_detail(m) }
                    } else {
                        { super::step_outcome(r, &session.host().kernel.to_string()) }
                        { super::explanation(session, r.index, on_msg, read_only) }
                        { super::sgi_outcome_lines(session, r.index) }
                        if !l.migrates() {
                            { super::changed_registers(&session.changes_of_last(&[])) }
                        }
                    }
                    <div class="buttons lesson-links">
                        if let Some(p) = step_register(steps.get(r.index)) {
                            <button type="button" onclick={on_msg.reform(move |_: MouseEvent| Msg::ShowRegister(p))}>{ format!("See {} in Registers", CATALOGUE[p].pattern()) }</button>
                        }
                        if !r.trace().is_empty() {
                            <button type="button" onclick={on_msg.reform(|_: MouseEvent| Msg::Show(View::Delivery))}>{ "Follow its hops in the Delivery path" }</button>
                        }
                    </div>
                </div>
            } else {
                <p class="hint">{ "Press Forward (or the Right arrow key) to take the first step." }</p>
            }
            if let Some(next) = steps.get(cursor).and_then(|s| s.note()) {
                <p class="hint">{ format!("Next: {next}") }</p>
            }
        </section>
    }
}
