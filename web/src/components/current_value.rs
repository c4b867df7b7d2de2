use std::rc::Rc;

use gicx_core::catalogue::{Frame, RegRef, CATALOGUE};
use gicx_core::readback::read_back;
use gicx_core::vgic::Lifecycle;
use yew::prelude::*;

use crate::session::Replay;
use crate::state::{Msg, RegistersMsg};

#[derive(Properties, PartialEq)]
pub struct CurrentValueProps {
    /// A read-only embed: controls are hidden.
    pub read_only: bool,
    pub position: usize,
    pub index: u32,
    pub vcpu: u32,
    pub replay: Rc<Replay>,
    pub on_msg: Callback<Msg>,
}

/// Hex, or a dash where the read fails.
pub fn hex(v: Option<u64>) -> String {
    v.map(|v| format!("{v:#x}")).unwrap_or_else(|| "—".into())
}

/// The register's value now, as the guest and as the VMM would read it
/// (`gicx_core::readback`, read only when the VM or the selection changes).
#[function_component]
pub fn CurrentValue(props: &CurrentValueProps) -> Html {
    let values = use_memo(
        (
            props.replay.clone(),
            props.position,
            props.index,
            props.vcpu,
        ),
        |(replay, position, index, vcpu)| {
            let reg = RegRef {
                desc: &CATALOGUE[*position],
                index: *index,
            };
            read_back(&replay.vgic, &reg, *vcpu)
        },
    );
    let desc = &CATALOGUE[props.position];
    let who = match desc.frame {
        Frame::Dist => format!("read by vCPU {}", props.vcpu),
        Frame::Redist => format!("in vCPU {}'s redistributor", props.vcpu),
        Frame::Its => "in the ITS".to_string(),
    };
    let lifecycle = match props.replay.vgic.lifecycle() {
        Lifecycle::Created => "the vGIC is created, not yet initialised",
        Lifecycle::Initialised => "the vGIC is initialised; no vCPU has run",
        Lifecycle::HasRun => "the vCPUs have run",
    };
    let use_guest = values.guest.map(|v| {
        props
            .on_msg
            .reform(move |_: MouseEvent| Msg::Registers(RegistersMsg::UseValue(v)))
    });
    html! {
        <section class="current-value" aria-labelledby="current-value-heading">
            <h3 id="current-value-heading">{ "Current value" }</h3>
            <dl class="facts">
                <dt>{ "Guest reads" }</dt>
                <dd><output id="guest-value" class="value">{ hex(values.guest) }</output></dd>
                <dt>{ "VMM reads" }</dt>
                <dd><output id="user-value" class="value">{ hex(values.user) }</output>{ " (KVM_GET_DEVICE_ATTR)" }</dd>
            </dl>
            <p class="hint">{ format!("{who}; {lifecycle}. Reading changes nothing.") }</p>
            if let Some(onclick) = use_guest {
                if !props.read_only {
                    <button type="button" {onclick}>{ "Test the guest's value" }</button>
                }
            }
        </section>
    }
}
