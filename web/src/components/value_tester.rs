use gicx_core::catalogue::CATALOGUE;
use web_sys::HtmlInputElement;
use yew::prelude::*;

use super::inputs::text_input;
use crate::state::{Msg, RegistersMsg};

/// The arguments of [`value_tester`].
pub struct ValueTesterProps {
    /// A read-only embed: controls are shown disabled.
    pub read_only: bool,
    pub value: String,
    /// The typed value, when it is a valid one.
    pub parsed: Option<u64>,
    /// Why the typed value cannot be decoded, if it cannot.
    pub error: Option<String>,
    /// The register's size in bits.
    pub bits: u8,
    /// The family's catalogue position (for the bits' names).
    pub position: usize,
    pub instance: u32,
    pub instance_name: String,
    pub instance_offset: u32,
    /// How many instances an indexed family has; `None` for a plain register.
    pub instances: Option<u32>,
    pub on_msg: Callback<Msg>,
}

/// Type a register value (hex, decimal or binary), or click bits to toggle
/// them, to see its fields decoded.
pub fn value_tester(props: &ValueTesterProps) -> Html {
    let on_value = text_input(&props.on_msg, |v| Msg::Registers(RegistersMsg::SetValue(v)));
    let on_instance = props.on_msg.reform(|e: InputEvent| {
        // An empty or partial number means the first instance.
        Msg::Registers(RegistersMsg::SetInstance(
            e.target_unchecked_into::<HtmlInputElement>()
                .value()
                .parse()
                .unwrap_or(0),
        ))
    });
    html! {
        <div class="value-tester">
            <h3>{ "Value tester" }</h3>
            if let Some(count) = props.instances {
                <label for="register-instance">{ "Instance n" }</label>
                <input
                    id="register-instance"
                    type="number"
                    min="0"
                    max={(count - 1).to_string()}
                    value={props.instance.to_string()}
                    disabled={props.read_only}
                    oninput={on_instance}
                />
            }
            <label for="register-value">{ "Value" }</label>
            <input
                id="register-value"
                type="text"
                inputmode="text"
                value={props.value.clone()}
                placeholder="0x100, 256 or 0b1_0000_0000"
                autocomplete="off"
                spellcheck="false"
                readonly={props.read_only}
                aria-invalid={props.error.is_some().to_string()}
                aria-describedby="value-status"
                oninput={on_value}
            />
            <p id="value-status" class={classes!("status", props.error.is_some().then_some("error"))} aria-live="polite">
                if let Some(error) = &props.error {
                    { error }
                } else {
                    { format!("Decoding as {} at {:#06x}", props.instance_name, props.instance_offset) }
                }
            </p>
            { bit_toggles(props.bits, props.parsed.unwrap_or(0), props.position, props.instance_offset, props.read_only, &props.on_msg) }
        </div>
    }
}

/// What bit `bit` of an instance holds, for its tooltip.
fn bit_name(position: usize, offset: u32, bit: u8) -> String {
    let desc = &CATALOGUE[position];
    if let (Some(p), true) = (desc.per_irq, desc.fields.is_empty()) {
        let first = desc.intid_at(offset).unwrap_or(0);
        return format!("INTID {}", first + bit as u32 / p.bits_per_irq as u32);
    }
    desc.fields
        .iter()
        .find(|f| bit >= f.lsb && (bit as u32) < f.lsb as u32 + f.width as u32)
        .map(|f| f.name.to_string())
        .unwrap_or_else(|| "reserved".into())
}

/// What the byte of bits `hi` down to `hi - 7` holds, field by field, most
/// significant first ("nASSGIcap [8], reserved"), to label its row of bits.
fn byte_fields(position: usize, offset: u32, hi: u8) -> String {
    let mut names: Vec<String> = Vec::new();
    let mut last = String::new();
    for bit in (hi - 7..=hi).rev() {
        let name = bit_name(position, offset, bit);
        if name != last {
            names.push(name.clone());
            last = name;
        }
    }
    names.join(", ")
}

/// The value's bits as toggle buttons, most significant first, a row per
/// byte; `offset` is the instance's (per-interrupt registers name bits by INTID).
pub fn bit_toggles(
    bits: u8,
    value: u64,
    position: usize,
    offset: u32,
    read_only: bool,
    on_msg: &Callback<Msg>,
) -> Html {
    let row = |hi: u8| {
        html! {
            <div class="bit-row" role="group" aria-label={format!("Bits {} to {}", hi, hi - 7)}>
                { for (0..8).map(|i| {
                    let bit = hi - i;
                    let on = value >> bit & 1 == 1;
                    let name = bit_name(position, offset, bit);
                    html! {
                        <button
                            key={bit}
                            type="button"
                            class={classes!("bit", on.then_some("on"))}
                            aria-label={format!("Bit {bit}")}
                            aria-pressed={on.to_string()}
                            title={format!("bit {bit}: {name}")}
                            disabled={read_only}
                            onclick={on_msg.reform(move |_: MouseEvent| Msg::Registers(RegistersMsg::ToggleBit(bit)))}
                        >
                            { if on { "1" } else { "0" } }
                        </button>
                    }
                }) }
                <span class="bit-index" aria-hidden="true">{ format!("{hi}–{}", hi - 7) }</span>
                <span class="bit-fields">{ byte_fields(position, offset, hi) }</span>
            </div>
        }
    };
    html! {
        <div class="bits" aria-label="Bits (click to toggle)" role="group">
            { for (0..bits / 8).rev().map(|byte| row(byte * 8 + 7)) }
        </div>
    }
}
