use web_sys::HtmlInputElement;
use yew::prelude::*;

/// The register search: by name, offset (`0x104`), field name or summary;
/// `results` (how many registers match) is announced to screen readers.
pub fn search_box(query: &str, results: usize, on_search: &Callback<String>) -> Html {
    let oninput =
        on_search.reform(|e: InputEvent| e.target_unchecked_into::<HtmlInputElement>().value());
    html! {
        <div class="search">
            <label for="register-search">{ "Search registers" }</label>
            <input
                id="register-search"
                type="search"
                value={query.to_string()}
                placeholder="name, 0x104, field, text"
                autocomplete="off"
                spellcheck="false"
                aria-controls="register-list"
                aria-describedby="register-count"
                {oninput}
            />
            <p id="register-count" class="count" aria-live="polite">
                { format!("{} register{}", results, if results == 1 { "" } else { "s" }) }
            </p>
        </div>
    }
}
