use std::rc::Rc;

use gicx_core::catalogue::CATALOGUE;
use web_sys::{ScrollIntoViewOptions, ScrollLogicalPosition};
use yew::prelude::*;

use crate::state::{Msg, RegistersMsg, Step};

#[derive(Properties, PartialEq)]
pub struct RegisterListProps {
    /// Positions in the catalogue to list.
    pub matches: Rc<Vec<usize>>,
    pub selected: Option<usize>,
    /// Positions whose value the last poke changed (sorted).
    pub changed: Rc<Vec<usize>>,
    pub on_msg: Callback<Msg>,
}

fn option_id(position: usize) -> String {
    format!("register-{position}")
}

/// The search results as a listbox: click an entry, or focus the list and
/// use the arrow keys, Home and End. Entries are keyed components, so a
/// re-render touches only the entries whose selection or change mark moved.
#[function_component]
pub fn RegisterList(props: &RegisterListProps) -> Html {
    // Keep the selected entry visible when the keyboard moves it.
    use_effect_with(props.selected, |selected| {
        if let Some(el) =
            selected.and_then(|p| gloo::utils::document().get_element_by_id(&option_id(p)))
        {
            let options = ScrollIntoViewOptions::new();
            options.set_block(ScrollLogicalPosition::Nearest);
            el.scroll_into_view_with_scroll_into_view_options(&options);
        }
    });
    let onkeydown = {
        let on_msg = props.on_msg.clone();
        Callback::from(move |e: KeyboardEvent| {
            let step = match e.key().as_str() {
                "ArrowDown" => Step::Next,
                "ArrowUp" => Step::Previous,
                "Home" => Step::First,
                "End" => Step::Last,
                _ => return,
            };
            e.prevent_default();
            on_msg.emit(Msg::Registers(RegistersMsg::Move(step)));
        })
    };
    let active = props
        .selected
        .filter(|p| props.matches.contains(p))
        .map(option_id);

    html! {
        <ul
            id="register-list"
            class="register-list"
            role="listbox"
            aria-label="Registers"
            tabindex="0"
            aria-activedescendant={active}
            {onkeydown}
        >
            { for props.matches.iter().map(|&position| html! {
                <RegisterOption
                    key={position}
                    {position}
                    selected={props.selected == Some(position)}
                    changed={props.changed.binary_search(&position).is_ok()}
                    on_msg={props.on_msg.clone()}
                />
            }) }
        </ul>
    }
}

#[derive(Properties, PartialEq)]
pub struct RegisterOptionProps {
    pub position: usize,
    pub selected: bool,
    /// The last poke changed this register's value.
    pub changed: bool,
    pub on_msg: Callback<Msg>,
}

/// Why a register is greyed, on hover and in the list's legend.
pub const NOT_EMULATED: &str = "Greyed: the GIC architecture has this register but KVM does not emulate it: the guest reads 0 and its writes are ignored (RAZ/WI), and KVM_HAS_DEVICE_ATTR tells the VMM ENXIO.";

/// One register family in the list.
#[function_component]
pub fn RegisterOption(props: &RegisterOptionProps) -> Html {
    let reg = &CATALOGUE[props.position];
    let position = props.position;
    let onclick = props.on_msg.reform(move |_: MouseEvent| {
        // On a phone the register opens below the list: bring it into view
        // once it has rendered.
        if gloo::utils::window()
            .match_media("(max-width: 40rem)")
            .ok()
            .flatten()
            .is_some_and(|m| m.matches())
        {
            crate::browser::later(|| {
                if let Some(el) = gloo::utils::document().get_element_by_id("register-name") {
                    let options = ScrollIntoViewOptions::new();
                    options.set_block(ScrollLogicalPosition::Center);
                    el.scroll_into_view_with_scroll_into_view_options(&options);
                }
            });
        }
        Msg::Registers(RegistersMsg::Select(position))
    });
    html! {
        <li
            id={option_id(position)}
            role="option"
            aria-selected={props.selected.to_string()}
            class={classes!(
                "register",
                props.selected.then_some("selected"),
                props.changed.then_some("changed"),
                (!reg.handler.is_emulated()).then_some("not-emulated"),
            )}
            title={(!reg.handler.is_emulated()).then_some(NOT_EMULATED)}
            {onclick}
        >
            <span class="name">{ reg.pattern() }</span>
            if props.changed {
                <span class="changed-mark" title="changed by the last poke">{ "changed" }</span>
            }
            <span class="where">{ format!("{} {:#06x}", reg.frame.as_str(), reg.offset) }</span>
        </li>
    }
}
