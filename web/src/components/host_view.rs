use gicx_core::host::{DeviceSupport, GicHw, VgicDevice};
use gicx_core::vgic::VmConfig;
use web_sys::HtmlSelectElement;
use yew::prelude::*;

use super::inputs::{checkbox, text_input};
use crate::host_form::{resolve_kernel, HostForm, PRESETS};
use crate::session::Session;
use crate::state::{HostMsg, Msg};

/// The arguments of [`host_view`].
pub struct HostViewProps {
    /// A read-only embed: controls are shown disabled.
    pub read_only: bool,
    pub session: Session,
    pub form: HostForm,
    pub on_msg: Callback<Msg>,
}

fn yes(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

/// The host (hardware, CPU interface, `vgic_v4_enable`, kernel → era) and the
/// VM's vGIC; presets for common hosts. A change replays the log on it.
pub fn host_view(props: &HostViewProps) -> Html {
    let disabled = props.read_only;
    let on_msg = &props.on_msg;
    let host = props.session.host();
    let vm = props.session.vm();
    let form = &props.form;
    let on_gic = on_msg.reform(|e: Event| {
        let v = e.target_unchecked_into::<HtmlSelectElement>().value();
        Msg::Host(HostMsg::SetGic(v.parse().unwrap_or(GicHw::V4_1)))
    });
    let on_vsgi = checkbox(on_msg, |v| Msg::Host(HostMsg::SetCpuifVsgi(v)));
    let on_v4 = checkbox(on_msg, |v| Msg::Host(HostMsg::SetV4Enable(v)));
    let on_its = checkbox(on_msg, |v| Msg::Host(HostMsg::SetIts(v)));
    let on_kernel = text_input(on_msg, |v| Msg::Host(HostMsg::SetKernel(v)));
    let on_vcpus = text_input(on_msg, |v| Msg::Host(HostMsg::SetVcpus(v)));
    let on_irqs = on_msg.reform(|e: Event| {
        Msg::Host(HostMsg::SetNrIrqs(
            e.target_unchecked_into::<HtmlSelectElement>()
                .value()
                .parse()
                .unwrap_or(256),
        ))
    });
    let era_line = match &form.kernel_error {
        Some(e) => Err(e.clone()),
        None => resolve_kernel(&form.kernel).map(|(_, line)| line),
    };
    let steps = props.session.steps().len();

    html! {
        <section class="host-view" aria-labelledby="host-heading">
            <h2 id="host-heading">{ "Host and VM" }</h2>
            <p class="host-summary">
                { "In force: " }<code id="host-compact">{ host.compact() }</code>
                { format!(" — rules of {}; a change replays the {steps} logged step{} on the new host.", host.era(), if steps == 1 { "" } else { "s" }) }
            </p>
            <div class="presets" role="group" aria-label="Presets">
                <span class="label">{ "Presets:" }</span>
                { for PRESETS.iter().enumerate().map(|(i, p)| html! {
                    <button key={i} type="button" {disabled} aria-pressed={(p.host() == host).to_string()} onclick={on_msg.reform(move |_: MouseEvent| Msg::Host(HostMsg::Preset(i)))}>{ p.label }</button>
                }) }
            </div>
            <div class="host-columns">
                <fieldset {disabled}>
                    <legend>{ "Host" }</legend>
                    <label for="host-gic">{ "GIC hardware" }</label>
                    <select id="host-gic" onchange={on_gic}>
                        { for GicHw::ALL.iter().map(|g| html! {
                            <option key={g.as_str()} value={g.as_str()} selected={*g == host.gic}>{ format!("GIC{}", g.as_str()) }</option>
                        }) }
                    </select>
                    <label class="inline">
                        <input type="checkbox" checked={host.cpuif_vsgi} onchange={on_vsgi} />
                        { "CPU interface implements vSGIs (ID_AA64PFR0_EL1.GIC ≥ 3)" }
                    </label>
                    <label class="inline">
                        <input type="checkbox" checked={host.vgic_v4_enable} onchange={on_v4} />
                        { "kvm-arm.vgic_v4_enable" }
                    </label>
                    <label for="host-kernel">{ "Kernel version" }</label>
                    <input
                        id="host-kernel"
                        type="text"
                        value={form.kernel.clone()}
                        placeholder="6.8, 5.15.0-91-generic"
                        autocomplete="off"
                        spellcheck="false"
                        aria-invalid={era_line.is_err().to_string()}
                        aria-describedby="kernel-era"
                        oninput={on_kernel}
                    />
                    <p id="kernel-era" class={classes!("status", era_line.is_err().then_some("error"))} aria-live="polite">
                        { match &era_line { Ok(l) => l.clone(), Err(e) => format!("{e} (still using {})", host.kernel) } }
                    </p>
                    <dl class="facts capabilities">
                        <dt>{ "has_gicv4" }</dt><dd>{ yes(host.has_gicv4()) }</dd>
                        <dt>{ "has_gicv4_1" }</dt><dd>{ yes(host.has_gicv4_1()) }</dd>
                        <dt>{ "direct vSGIs" }</dt><dd>{ yes(host.system_supports_direct_sgis()) }</dd>
                    </dl>
                    <h3 id="kernel-changes-heading">{ format!("What {} carries", host.kernel) }</h3>
                    <ul id="kernel-changes" class="kernel-changes" aria-labelledby="kernel-changes-heading">
                        { for host.kernel.change_statuses().iter().map(|c| html! {
                            <li key={c.id} class={classes!(if c.has { "has" } else { "lacks" })} data-change={c.id}>
                                { c.sentence(host.kernel) }
                            </li>
                        }) }
                        <li key="gicv5" data-change="gicv5">
                            { host.kernel.gicv5_support().unwrap_or("no GICv5 hosts (KVM runs GICv3 guests on GICv5 hardware from 6.17)") }
                        </li>
                    </ul>
                    <h3 id="devices-heading">{ "vGIC devices KVM offers here" }</h3>
                    <dl id="host-devices" class="facts devices" aria-labelledby="devices-heading">
                        { for VgicDevice::ALL.iter().map(|d| {
                            let (word, why) = match host.device_support(*d) {
                                DeviceSupport::Yes(w) => ("yes", w),
                                DeviceSupport::No(w) => ("no", w),
                                DeviceSupport::IfFirmware(w) => ("if the firmware allows", w),
                            };
                            html! { <><dt key={d.kvm_name()}>{ d.kvm_name() }</dt><dd title={why}>{ format!("{word}: {why}") }</dd></> }
                        }) }
                    </dl>
                </fieldset>
                <fieldset {disabled}>
                    <legend>{ "VM (vGIC device)" }</legend>
                    <label for="vm-vcpus">{ "vCPUs" }</label>
                    <input
                        id="vm-vcpus"
                        type="number"
                        min="1"
                        max={gicx_core::vgic::MAX_VCPUS.to_string()}
                        value={form.vcpus.clone()}
                        aria-invalid={form.vcpus_error.is_some().to_string()}
                        aria-describedby="vcpus-status"
                        oninput={on_vcpus}
                    />
                    <p id="vcpus-status" class={classes!("status", form.vcpus_error.is_some().then_some("error"))} aria-live="polite">
                        { form.vcpus_error.clone().unwrap_or_else(|| format!("{} vCPUs", vm.vcpus)) }
                    </p>
                    <label for="vm-irqs">{ "nr_irqs (KVM_DEV_ARM_VGIC_GRP_NR_IRQS)" }</label>
                    <select id="vm-irqs" onchange={on_irqs}>
                        { for (2..=31u32).map(|k| {
                            let n = k * 32;
                            html! { <option key={n} value={n.to_string()} selected={n == vm.nr_irqs}>{ format!("{n} ({} SPIs)", n - 32) }</option> }
                        }) }
                    </select>
                    <label class="inline">
                        <input type="checkbox" checked={vm.its} onchange={on_its} />
                        { "In-kernel ITS" }
                    </label>
                    if let Some(e) = &form.vm_error {
                        <p class="status error" role="alert">{ e }</p>
                    }
                    <p class="hint">{ format!("Default VM: {} vCPUs, nr_irqs {}.", VmConfig::default().vcpus, VmConfig::default().nr_irqs) }</p>
                </fieldset>
            </div>
            if let Some(stop) = props.session.stopped() {
                <p class="stopped" role="status">{ format!("Replay stopped: {stop}.") }</p>
            }
        </section>
    }
}
