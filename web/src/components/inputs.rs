//! Reading form controls in event handlers, shared by the views' forms.

use web_sys::{HtmlInputElement, HtmlSelectElement};
use yew::prelude::*;

use crate::state::Msg;

/// The value of a `<select>` whose options are indices.
pub fn selected_index(e: &Event) -> usize {
    e.target_unchecked_into::<HtmlSelectElement>()
        .value()
        .parse()
        .unwrap_or(0)
}

/// An `oninput` handler sending a text field's value as `msg(value)`.
pub fn text_input(on_msg: &Callback<Msg>, msg: fn(String) -> Msg) -> Callback<InputEvent> {
    on_msg.reform(move |e: InputEvent| msg(e.target_unchecked_into::<HtmlInputElement>().value()))
}

/// An `onchange` handler sending a checkbox's state as `msg(checked)`.
pub fn checkbox(on_msg: &Callback<Msg>, msg: fn(bool) -> Msg) -> Callback<Event> {
    on_msg.reform(move |e: Event| msg(e.target_unchecked_into::<HtmlInputElement>().checked()))
}
