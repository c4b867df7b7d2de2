use yew::prelude::*;

use crate::glossary::{annotate, era_definition, source_links, Piece};

/// Text with the glossary's terms and eras marked, each with its definition
/// on hover (and for screen readers, as the `abbr`'s title).
pub fn glossed(text: &str) -> Html {
    html! {
        <>
            { for annotate(text).into_iter().map(|p| match p {
                Piece::Text(t) => html! { { t } },
                Piece::Term(w, d) => html! { <abbr class="term" title={d} tabindex="0">{ w }</abbr> },
                Piece::Era(w) => html! { <abbr class="term" title={era_definition(w)} tabindex="0">{ w }</abbr> },
            }) }
        </>
    }
}

/// A rule's kernel source with each file linked to the kernel's source at
/// `kernel`'s release (a new tab; nothing is fetched by the page).
pub fn source_linked(source: &str, kernel: &str) -> Html {
    html! {
        <code>
            { for source_links(source, kernel).into_iter().map(|(text, link)| match link {
                Some(href) => html! {
                    <a class="ext" {href} target="_blank" rel="noopener noreferrer" title={format!("{text} in Linux {kernel} (elixir.bootlin.com)")}>{ text }</a>
                },
                None => html! { { text } },
            }) }
        </code>
    }
}
