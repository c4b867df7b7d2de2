use web_sys::HtmlInputElement;
use yew::prelude::*;

/// The register search: by name or instance name (`GICD_IROUTER287`), offset
/// (`0x104`), or words in field names, their meanings and the summary; a name
/// that finds nothing suggests the closest one;
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
                if results == 0 {
                    if let Some(near) = crate::state::near_miss(query) {
                        { " — did you mean " }
                        <button type="button" class="link" onclick={{ let n = near.clone(); on_search.reform(move |_: MouseEvent| n.clone()) }}>{ near }</button>
                        { "?" }
                    }
                }
            </p>
        </div>
    }
}
