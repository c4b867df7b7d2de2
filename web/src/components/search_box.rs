use web_sys::HtmlInputElement;
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct SearchBoxProps {
    pub query: String,
    /// How many registers match, announced to screen readers.
    pub results: usize,
    pub on_search: Callback<String>,
}

/// The register search: by name, offset (`0x104`), field name or summary.
#[function_component]
pub fn SearchBox(props: &SearchBoxProps) -> Html {
    let oninput = props
        .on_search
        .reform(|e: InputEvent| e.target_unchecked_into::<HtmlInputElement>().value());
    html! {
        <div class="search">
            <label for="register-search">{ "Search registers" }</label>
            <input
                id="register-search"
                type="search"
                value={props.query.clone()}
                placeholder="name, 0x104, field, text"
                autocomplete="off"
                spellcheck="false"
                aria-controls="register-list"
                aria-describedby="register-count"
                {oninput}
            />
            <p id="register-count" class="count" aria-live="polite">
                { format!("{} register{}", props.results, if props.results == 1 { "" } else { "s" }) }
            </p>
        </div>
    }
}
