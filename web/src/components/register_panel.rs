use std::rc::Rc;

use gicx_core::catalogue::{RegRef, CATALOGUE};
use yew::prelude::*;

use super::value_tester::{value_tester, ValueTesterProps};
use super::{field_table, register_detail, CurrentValue};
use crate::session::Replay;
use crate::state::{field_rows, tested_value, Msg};

/// The arguments of [`register_panel`].
pub struct RegisterPanelProps {
    /// A read-only embed: controls are shown disabled.
    pub read_only: bool,
    /// The selected family (catalogue position) and instance.
    pub register: Option<(usize, u32)>,
    pub vcpu: u32,
    pub replay: Rc<Replay>,
    /// The value tester's text.
    pub value: String,
    pub on_msg: Callback<Msg>,
}

/// The selected register: what the catalogue says, its current value, the
/// value tester and the decoded fields.
pub fn register_panel(props: &RegisterPanelProps) -> Html {
    let Some((position, index)) = props.register else {
        return html! {
            <section class="detail" aria-label="Selected register">
                <p class="hint">{ "Select a register to see its fields, its current value and test a value." }</p>
            </section>
        };
    };
    let reg = RegRef {
        desc: &CATALOGUE[position],
        index,
    };
    let tested = tested_value(reg.desc, &props.value);
    html! {
        <section class="detail" aria-label="Selected register">
            { register_detail(position) }
            <p class="reg-link">
                { "Link to this register: " }
                <a href={crate::state::register_link(&reg)}>{ crate::state::register_link(&reg) }</a>
            </p>
            <CurrentValue
                read_only={props.read_only}
                {position}
                {index}
                vcpu={props.vcpu}
                replay={props.replay.clone()}
                on_msg={props.on_msg.clone()}
            />
            { value_tester(&ValueTesterProps {
                read_only: props.read_only,
                value: props.value.clone(),
                parsed: tested.as_ref().and_then(|r| r.as_ref().ok().copied()),
                error: tested.and_then(Result::err).map(|e| e.to_string()),
                bits: reg.desc.reg_bytes * 8,
                position,
                instance: reg.index,
                instance_name: reg.name(),
                instance_offset: reg.offset(),
                instances: reg.desc.indexed.then(|| reg.desc.count()),
                on_msg: props.on_msg.clone(),
            }) }
            { field_table(&reg.name(), &field_rows(&reg, &props.value)) }
        </section>
    }
}
