use web_sys::HtmlInputElement;
use yew::prelude::*;

use crate::state::Msg;

#[derive(Properties, PartialEq)]
pub struct ValueTesterProps {
    pub value: String,
    /// Why the typed value cannot be decoded, if it cannot.
    pub error: Option<String>,
    pub instance: u32,
    pub instance_name: String,
    pub instance_offset: u32,
    /// How many instances an indexed family has; `None` for a plain register.
    pub instances: Option<u32>,
    pub on_msg: Callback<Msg>,
}

/// Type a register value (hex, decimal or binary) to see its fields decoded.
#[function_component]
pub fn ValueTester(props: &ValueTesterProps) -> Html {
    let on_value = props.on_msg.reform(|e: InputEvent| {
        Msg::SetValue(e.target_unchecked_into::<HtmlInputElement>().value())
    });
    let on_instance = props.on_msg.reform(|e: InputEvent| {
        // An empty or partial number means the first instance.
        Msg::SetInstance(
            e.target_unchecked_into::<HtmlInputElement>()
                .value()
                .parse()
                .unwrap_or(0),
        )
    });
    html! {
        <div class="value-tester">
            if let Some(count) = props.instances {
                <label for="register-instance">{ "Instance n" }</label>
                <input
                    id="register-instance"
                    type="number"
                    min="0"
                    max={(count - 1).to_string()}
                    value={props.instance.to_string()}
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
        </div>
    }
}
