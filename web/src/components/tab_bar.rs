use yew::prelude::*;

use crate::state::Msg;
use crate::view::View;

/// The views as tabs (WAI-ARIA tabs pattern): click one, or focus the bar and
/// use Left/Right, Home and End. (The App moves the focus with the selection.)
pub fn tab_bar(view: View, on_msg: &Callback<Msg>) -> Html {
    let onkeydown = {
        let on_msg = on_msg.clone();
        Callback::from(move |e: KeyboardEvent| {
            let target = match e.key().as_str() {
                "ArrowRight" => view.neighbour(1),
                "ArrowLeft" => view.neighbour(-1),
                "Home" => View::ALL[0],
                "End" => View::ALL[View::ALL.len() - 1],
                _ => return,
            };
            e.prevent_default();
            on_msg.emit(Msg::Show(target));
        })
    };
    html! {
        <nav class="tabs" aria-label="Views">
            <div role="tablist" aria-label="Views" {onkeydown}>
                { for View::ALL.iter().map(|&v| {
                    let selected = v == view;
                    html! {
                        <button
                            key={v.id()}
                            type="button"
                            role="tab"
                            id={format!("tab-{}", v.id())}
                            aria-selected={selected.to_string()}
                            aria-controls={format!("panel-{}", v.id())}
                            tabindex={if selected { "0" } else { "-1" }}
                            class={classes!("tab", selected.then_some("selected"))}
                            onclick={on_msg.reform(move |_: MouseEvent| Msg::Show(v))}
                        >
                            { v.label() }
                        </button>
                    }
                }) }
            </div>
        </nav>
    }
}

/// Keep the keyboard focus on the selected tab when the arrow keys moved it.
pub fn focus_selected_tab(view: View) {
    use wasm_bindgen::JsCast;
    let document = gloo::utils::document();
    let on_a_tab = document
        .active_element()
        .is_some_and(|e| e.get_attribute("role").as_deref() == Some("tab"));
    if !on_a_tab {
        return;
    }
    if let Some(el) = document
        .get_element_by_id(&format!("tab-{}", view.id()))
        .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok())
    {
        let _ = el.focus();
    }
}
