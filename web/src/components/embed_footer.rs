use yew::prelude::*;

/// Under an embedded view: where it comes from, and the way to the full app
/// (`href`: the full app at the same state).
pub fn embed_footer(href: String, interactive: bool) -> Html {
    html! {
        <footer class="embed-footer">
            <span class="brand">{ "gicx — the GIC explorer" }</span>
            <span class="mode">{ if interactive { "interactive" } else { "read-only" } }</span>
            <a {href} target="_blank" rel="noopener">{ "Open in gicx" }</a>
        </footer>
    }
}
