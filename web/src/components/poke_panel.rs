use std::rc::Rc;

use gicx_core::catalogue::{Frame, RegRef, CATALOGUE};
use gicx_core::readback::Change;
use gicx_core::scenario::StepReport;
use gicx_core::vgic::{Lifecycle as VmLifecycle, Op};
use web_sys::HtmlSelectElement;
use yew::prelude::*;

use super::current_value::hex;
use super::inputs::text_input;
use super::{glossed, source_linked};
use crate::poke::{Access, Actor, PokeForm, GUEST_WIDTHS};
use crate::session::Session;
use crate::state::{Lifecycle, LogMsg, Msg, PokeMsg, PokeResult};

/// The arguments of [`poke_panel`].
pub struct PokePanelProps {
    /// A read-only embed: controls are shown disabled.
    pub read_only: bool,
    /// The selected family (catalogue position) and instance.
    pub register: Option<(usize, u32)>,
    pub vcpu: u32,
    pub form: PokeForm,
    pub last: Option<Rc<PokeResult>>,
    pub session: Session,
    pub on_msg: Callback<Msg>,
}

/// Read or write the selected register as the guest or as the VMM; initialise
/// and run the VM; see what came back, the rules that decided it and which
/// registers changed.
pub fn poke_panel(props: &PokePanelProps) -> Html {
    let disabled = props.read_only;
    let on_msg = &props.on_msg;
    let reg = props.register.map(|(p, index)| RegRef {
        desc: &CATALOGUE[p],
        index,
    });
    let form = &props.form;
    let actor = form.actor;
    let set_actor = |a: Actor| on_msg.reform(move |_: Event| Msg::Poke(PokeMsg::SetActor(a)));
    let on_width = on_msg.reform(|e: Event| {
        Msg::Poke(PokeMsg::SetWidth(
            e.target_unchecked_into::<HtmlSelectElement>()
                .value()
                .parse()
                .unwrap_or(32),
        ))
    });
    let on_at = on_msg.reform(|e: Event| {
        Msg::Poke(PokeMsg::SetAt(
            e.target_unchecked_into::<HtmlSelectElement>()
                .value()
                .parse()
                .unwrap_or(0),
        ))
    });
    let on_value = text_input(on_msg, |v| Msg::Poke(PokeMsg::SetValue(v)));
    let poke = |a: Access| on_msg.reform(move |_: MouseEvent| Msg::Poke(PokeMsg::Do(a)));
    let lifecycle =
        |l: Lifecycle| on_msg.reform(move |_: MouseEvent| Msg::Poke(PokeMsg::Lifecycle(l)));
    let state = match (
        crate::explain::died_at(&props.session),
        props.session.vgic().lifecycle(),
    ) {
        (Some(d), _) => format!(
            "dead since step {} (kvm_vm_dead: every ioctl returns -EIO; undo to recover)",
            d + 1
        ),
        (None, VmLifecycle::Created) => "created (not initialised)".into(),
        (None, VmLifecycle::Initialised) => {
            "initialised, not yet run (a guest access runs it)".into()
        }
        (None, VmLifecycle::HasRun) => "running".into(),
    };
    let how = match (actor, reg.map(|r| r.desc.frame)) {
        (Actor::Guest, Some(Frame::Redist)) => format!(
            "a {}-bit MMIO access to vCPU {}'s redistributor",
            form.width, props.vcpu
        ),
        (Actor::Guest, _) => format!("a {}-bit MMIO access by vCPU {}", form.width, props.vcpu),
        (Actor::Vmm, Some(Frame::Redist)) => format!(
            "KVM_GET/SET/HAS_DEVICE_ATTR, KVM_DEV_ARM_VGIC_GRP_REDIST_REGS, vCPU {}'s MPIDR",
            props.vcpu
        ),
        (Actor::Vmm, _) => "KVM_GET/SET/HAS_DEVICE_ATTR, KVM_DEV_ARM_VGIC_GRP_DIST_REGS".into(),
    };

    html! {
        <section class="poke" aria-labelledby="poke-heading">
            if let Some(reg) = reg {
                <h2 id="poke-heading">{ format!("Poke {}", reg.name()) }</h2>
                <p class="where">{ format!("{} frame, offset {:#06x}; {}", reg.desc.frame.as_str(), reg.offset(), how) }</p>
                <fieldset class="actor" {disabled}>
                    <legend>{ "Access as" }</legend>
                    <label class="inline">
                        <input type="radio" name="poke-actor" checked={actor == Actor::Guest} onchange={set_actor(Actor::Guest)} />
                        { "Guest (MMIO)" }
                    </label>
                    <label class="inline">
                        <input type="radio" name="poke-actor" checked={actor == Actor::Vmm} onchange={set_actor(Actor::Vmm)} />
                        { "VMM (KVM device attributes)" }
                    </label>
                </fieldset>
                <div class="poke-fields">
                    if actor == Actor::Guest {
                        <div>
                            <label for="poke-width">{ "Width" }</label>
                            <select id="poke-width" onchange={on_width} {disabled}>
                                { for GUEST_WIDTHS.iter().map(|w| html! {
                                    <option key={*w} value={w.to_string()} selected={*w == form.width}>{ format!("{w} bits") }</option>
                                }) }
                            </select>
                        </div>
                    }
                    if form.offsets(&reg).len() > 1 {
                        <div>
                            <label for="poke-at">{ "At byte" }</label>
                            <select id="poke-at" onchange={on_at} {disabled}>
                                { for form.offsets(&reg).into_iter().map(|at| html! {
                                    <option key={at} value={at.to_string()} selected={at == form.effective_at(&reg)}>{ format!("+{at} ({:#06x})", reg.offset() + at) }</option>
                                }) }
                            </select>
                        </div>
                    }
                    <div>
                        <label for="poke-value">{ "Value to write" }</label>
                        <input
                            id="poke-value"
                            type="text"
                            value={form.value.clone()}
                            placeholder="0x0"
                            autocomplete="off"
                            spellcheck="false"
                            readonly={disabled}
                            oninput={on_value}
                        />
                    </div>
                </div>
                <div class="buttons">
                    <button type="button" onclick={poke(Access::Read)} {disabled}>{ "Read" }</button>
                    <button type="button" onclick={poke(Access::Write)} {disabled}>{ "Write" }</button>
                    if actor == Actor::Vmm {
                        <button type="button" onclick={poke(Access::Has)} {disabled}>{ "Has attribute" }</button>
                    }
                </div>
            } else {
                <h2 id="poke-heading">{ "Poke" }</h2>
                <p class="hint">{ "Select a register in the list to read or write it." }</p>
            }
            <fieldset class="lifecycle" {disabled}>
                <legend>{ format!("VM: {state}") }</legend>
                <button type="button" onclick={lifecycle(Lifecycle::Init)}>{ "Init (KVM_DEV_ARM_VGIC_CTRL_INIT)" }</button>
                <button type="button" onclick={lifecycle(Lifecycle::Run)}>{ "Run (KVM_RUN)" }</button>
            </fieldset>
            { poke_result(props.last.as_deref(), &props.session, on_msg, disabled) }
        </section>
    }
}

/// What the last poke returned, with its rules, notes and changed registers.
fn poke_result(
    last: Option<&PokeResult>,
    session: &Session,
    on_msg: &Callback<Msg>,
    read_only: bool,
) -> Html {
    let body = match last {
        None => {
            html! { <p class="hint">{ "Nothing poked yet: the result of the next access shows here." }</p> }
        }
        Some(PokeResult::Refused { what, reason }) => html! {
            <p class="refused">
                <strong>{ format!("{what}: not possible. ") }</strong>{ reason }
                { " (Nothing was logged.)" }
            </p>
        },
        Some(PokeResult::Done(done)) => html! {
            <>
                { step_outcome(&done.report, &session.host().kernel.to_string()) }
                { explanation(session, done.report.index, on_msg, read_only) }
                { changed_registers(&done.changes) }
            </>
        },
    };
    html! {
        <section class="poke-result" aria-labelledby="result-heading" aria-live="polite">
            <h3 id="result-heading">{ "Result" }</h3>
            { body }
        </section>
    }
}

/// One step's result: the summary, the value or errno, the rules and notes.
pub fn step_outcome(r: &StepReport, kernel: &str) -> Html {
    let Some(o) = &r.outcome else {
        return html! { <p class="summary">{ &r.summary }</p> };
    };
    let result = match (o.errno, o.op) {
        (Some(e), _) => html! { <strong class="errno">{ e.to_string() }</strong> },
        (None, Op::Read) => {
            html! { <output id="poke-output" class="value">{ hex(Some(o.value)) }</output> }
        }
        (None, _) => html! { <strong class="ok">{ "ok" }</strong> },
    };
    html! {
        <div class="step-outcome">
            <p class="summary">{ format!("Step {}: ", r.index + 1) }<code>{ &r.summary }</code></p>
            <p class="returned">{ "Returned: " }{ result }</p>
            <h4>{ "Rules applied" }</h4>
            <ul class="rules">
                { for o.rules.iter().map(|rule| html! {
                    <li key={rule.id} class="rule">
                        <a class="rule-id" href={format!("#rule/{}", rule.id)} title="This rule among all the rules">{ rule.id }</a>
                        <span class="eras">{ " (kernels " }{ glossed(&rule.eras.to_string()) }{ ")" }</span>
                        <p class="rule-text">{ glossed(rule.text) }</p>
                        <p class="rule-source">{ "Source: " }{ source_linked(rule.source, kernel) }</p>
                        <p class="rule-checked">{
                            gicx_core::confirmed::summary(rule.id)
                                .unwrap_or_else(|| "Not yet checked on real KVM (from the kernel source only).".into())
                        }</p>
                    </li>
                }) }
            </ul>
            if !o.notes.is_empty() {
                <h4>{ "Notes" }</h4>
                <ul class="notes">
                    { for o.notes.iter().map(|n| html! { <li>{ glossed(n) }</li> }) }
                </ul>
            }
            if !r.failures.is_empty() {
                <ul class="failures">
                    { for r.failures.iter().map(|f| html! { <li>{ f }</li> }) }
                </ul>
            }
        </div>
    }
}

/// What a lifecycle failure means for the VM, with the undo that recovers.
pub fn explanation(
    session: &Session,
    index: usize,
    on_msg: &Callback<Msg>,
    read_only: bool,
) -> Html {
    let Some(e) = crate::explain::explain(session, index) else {
        return Html::default();
    };
    let recover = e.recover_to.zip(e.recover_label());
    html! {
        <div class="explain" role="note">
            <p>{ glossed(&e.text) }</p>
            if let Some((to, label)) = recover {
                if !read_only {
                    <button type="button" class="recover" onclick={on_msg.reform(move |_: MouseEvent| Msg::Log(LogMsg::Seek(to)))}>{ label }</button>
                }
            }
        </div>
    }
}

/// The registers whose value the step changed, before → after.
pub fn changed_registers(changes: &[Change]) -> Html {
    if changes.is_empty() {
        return html! { <p class="hint">{ "No register value changed." }</p> };
    }
    html! {
        <table class="changes">
            <caption>{ "Registers changed (also marked in the list)" }</caption>
            <thead>
                <tr>
                    <th scope="col">{ "Register" }</th>
                    <th scope="col">{ "Guest reads" }</th>
                    <th scope="col">{ "VMM reads" }</th>
                </tr>
            </thead>
            <tbody>
                { for changes.iter().map(|c| {
                    let name = match c.vcpu {
                        Some(v) => format!("{} (vCPU {v})", c.name),
                        None => c.name.clone(),
                    };
                    html! {
                        <tr key={name.clone()}>
                            <th scope="row">{ name }</th>
                            <td>{ format!("{} → {}", hex(c.before.guest), hex(c.after.guest)) }</td>
                            <td>{ format!("{} → {}", hex(c.before.user), hex(c.after.user)) }</td>
                        </tr>
                    }
                }) }
            </tbody>
        </table>
    }
}
