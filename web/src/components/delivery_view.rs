use gicx_core::trace::Layer;
use yew::prelude::*;

use super::inputs::{checkbox, selected_index, text_input};
use crate::explore::DeliveryForm;
use crate::session::Session;
use crate::state::{DeliveryMsg, Msg};

/// The arguments of [`delivery_view`].
pub struct DeliveryViewProps {
    pub read_only: bool,
    pub session: Session,
    pub form: DeliveryForm,
    pub error: Option<String>,
    pub on_msg: Callback<Msg>,
}

/// Where an SGI's or SPI's path ends, for each target, and what to change
/// ([`crate::explain::sgi_outcome`], [`crate::explain::spi_outcome`]).
pub fn sgi_outcome_lines(s: &Session, index: usize) -> Html {
    let mut lines = crate::explain::sgi_outcome(s, index);
    lines.extend(crate::explain::spi_outcome(s, index));
    lines.extend(crate::explain::msi_outcome(s, index));
    if lines.is_empty() {
        return Html::default();
    }
    html! {
        <section class="outcome" aria-label="Outcome">
            <h3>{ "Outcome" }</h3>
            <ul>{ for lines.iter().map(|l| html! { <li>{ super::glossed(l) }</li> }) }</ul>
        </section>
    }
}

/// A step's hops by layer: for an MSI in the order they happen (consecutive
/// hops of a layer together: KVM_SIGNAL_MSI, the ITS's translation, the
/// redistributor, KVM's ap_list and list register, the CPU interface), for
/// the rest one group per layer from the guest inwards.
fn hop_groups(r: &gicx_core::scenario::StepReport) -> Vec<(Layer, Vec<&gicx_core::trace::Hop>)> {
    let mut groups: Vec<(Layer, Vec<&gicx_core::trace::Hop>)> = Vec::new();
    if r.op == "msi" {
        for h in r.trace() {
            match groups.last_mut() {
                Some((l, hops)) if *l == h.layer => hops.push(h),
                _ => groups.push((h.layer, vec![h])),
            }
        }
        return groups;
    }
    for l in Layer::ALL {
        let hops: Vec<_> = r.trace().iter().filter(|h| h.layer == l).collect();
        if !hops.is_empty() {
            groups.push((l, hops));
        }
    }
    groups
}

/// Send an SGI or raise an SPI on the session's VM; the last such step's hops by layer.
pub fn delivery_view(props: &DeliveryViewProps) -> Html {
    let on_msg = &props.on_msg;
    let (f, disabled) = (&props.form, props.read_only);
    let s = &props.session;
    let last = s
        .replay()
        .reports
        .iter()
        .rev()
        .find(|r| matches!(r.op, "sgi" | "irq_line" | "msi" | "ack" | "eoi"));
    let on_level = checkbox(on_msg, |v| Msg::Delivery(DeliveryMsg::SetLevel(v)));
    html! {
        <section class="delivery" aria-labelledby="delivery-heading">
            <h2 id="delivery-heading">{ "Delivery path" }</h2>
            <p class="where">{ format!("On the session's VM ({}, {} vCPUs). An SGI is a guest instruction, so it needs KVM_RUN: after Init it runs the VM; before Init that KVM_RUN fails (Poke: Init first).", s.host().compact(), s.vm().vcpus) }</p>
            <fieldset>
                <legend>{ "SGI (ICC_SGI1R_EL1)" }</legend>
                <div class="poke-fields">
                    <div>
                        <label for="sgi-from">{ "From vCPU" }</label>
                        <select id="sgi-from" onchange={on_msg.reform(|e: Event| Msg::Delivery(DeliveryMsg::SetFrom(selected_index(&e) as u32)))}>
                            { for (0..s.vm().vcpus).map(|v| html! { <option value={v.to_string()} selected={v == f.from}>{ v }</option> }) }
                        </select>
                    </div>
                    <div><label for="sgi-intid">{ "INTID (0-15)" }</label>
                        <input id="sgi-intid" type="text" value={f.intid.clone()} oninput={text_input(on_msg, |v| Msg::Delivery(DeliveryMsg::SetIntid(v)))} readonly={disabled} /></div>
                    <div><label for="sgi-targets">{ "Target vCPUs" }</label>
                        <input id="sgi-targets" type="text" value={f.targets.clone()} oninput={text_input(on_msg, |v| Msg::Delivery(DeliveryMsg::SetTargets(v)))} readonly={disabled} /></div>
                </div>
                <button type="button" onclick={on_msg.reform(|_: MouseEvent| Msg::Delivery(DeliveryMsg::SendSgi))} {disabled}>{ "Send SGI" }</button>
            </fieldset>
            <fieldset>
                <legend>{ "SPI (KVM_IRQ_LINE)" }</legend>
                <div class="poke-fields">
                    <div><label for="spi-intid">{ "INTID" }</label>
                        <input id="spi-intid" type="text" value={f.spi.clone()} oninput={text_input(on_msg, |v| Msg::Delivery(DeliveryMsg::SetSpi(v)))} readonly={disabled} /></div>
                    <label class="inline"><input type="checkbox" checked={f.level} onchange={on_level} {disabled} />{ "Level high" }</label>
                </div>
                <button type="button" onclick={on_msg.reform(|_: MouseEvent| Msg::Delivery(DeliveryMsg::RaiseSpi))} {disabled}>{ "Set SPI line" }</button>
            </fieldset>
            <fieldset>
                <legend>{ "MSI (KVM_SIGNAL_MSI)" }</legend>
                <div class="poke-fields">
                    <div><label for="msi-device">{ "Device ID" }</label>
                        <input id="msi-device" type="text" value={f.msi_device.clone()} oninput={text_input(on_msg, |v| Msg::Delivery(DeliveryMsg::SetMsiDevice(v)))} readonly={disabled} /></div>
                    <div><label for="msi-event">{ "Event ID" }</label>
                        <input id="msi-event" type="text" value={f.msi_event.clone()} oninput={text_input(on_msg, |v| Msg::Delivery(DeliveryMsg::SetMsiEvent(v)))} readonly={disabled} /></div>
                </div>
                <p class="hint">{ match s.vgic().has_its_device().then(|| s.vgic().its_translater()).flatten() {
                    Some(a) => format!("A device's write of the event ID to GITS_TRANSLATER ({a:#x}), as a VMM hands it to KVM with KVM_MSI_VALID_DEVID. KVM's emulated ITS translates it (device → ITT entry → LPI → collection → redistributor)."),
                    None => "This VM has no ITS: an MSI fails with -ENODEV. Give it one in the ITS view.".into(),
                } }</p>
                <button type="button" onclick={on_msg.reform(|_: MouseEvent| Msg::Delivery(DeliveryMsg::SendMsi))} {disabled}>{ "Send MSI" }</button>
            </fieldset>
            <fieldset>
                <legend>{ "The guest takes it (ICC_IAR1_EL1, ICC_EOIR1_EL1)" }</legend>
                <div class="poke-fields">
                    <div>
                        <label for="ack-vcpu">{ "vCPU" }</label>
                        <select id="ack-vcpu" onchange={on_msg.reform(|e: Event| Msg::Delivery(DeliveryMsg::SetAckVcpu(selected_index(&e) as u32)))}>
                            { for (0..s.vm().vcpus).map(|v| html! { <option value={v.to_string()} selected={v == f.ack_vcpu}>{ v }</option> }) }
                        </select>
                    </div>
                </div>
                <button type="button" onclick={on_msg.reform(|_: MouseEvent| Msg::Delivery(DeliveryMsg::Ack))} {disabled}>{ "Acknowledge" }</button>
                <button type="button" onclick={on_msg.reform(|_: MouseEvent| Msg::Delivery(DeliveryMsg::Eoi))} {disabled}>{ "End (EOI)" }</button>
            </fieldset>
            if let Some(e) = &props.error {
                <p class="error" role="alert">{ e }</p>
            }
            if let Some(r) = last {
                <p role="status" class="path">
                    <strong>{ if matches!(r.op, "ack" | "eoi") { "CPU interface" } else if r.op == "msi" { "Software path (KVM's emulated ITS)" } else if r.summary.contains("hardware path") { "Hardware path" } else if r.summary.contains("software path") { "Software path" } else if r.trace().iter().any(|h| h.layer == Layer::Its) { "Hardware path (in part)" } else { "Software path" } }</strong>
                    { format!(": step {}: {}", r.index + 1, r.summary) }
                </p>
                { sgi_outcome_lines(s, r.index) }
                <ol class="hops" aria-label="Hops">
                    { for hop_groups(r).into_iter().map(|(l, hops)| html! {
                        <li class="layer">
                            <strong>{ l.as_str() }</strong>
                            <ol>
                                { for hops.into_iter().map(|h| html! {
                                    <li class="hop">
                                        { &h.what }{ " — " }<code>{ &h.at }</code>
                                        { h.vcpu.map(|v| format!(" (vCPU {v})")).unwrap_or_default() }
                                        if !h.source.is_empty() { <span class="source">{ format!(" [{}]", h.source) }</span> }
                                        if let Some(rule) = &h.rule { <span class="mono">{ format!(" rule {rule}") }</span> }
                                    </li>
                                }) }
                            </ol>
                        </li>
                    }) }
                </ol>
                <details>
                    <summary>{ "Hops in order" }</summary>
                    <ol>{ for r.trace().iter().map(|h| html! { <li class="mono">{ h.to_string() }</li> }) }</ol>
                </details>
            } else {
                <p class="hint">{ "No SGI, SPI or MSI yet: its path appears here." }</p>
            }
        </section>
    }
}
