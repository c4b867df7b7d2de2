use std::rc::Rc;

use gicx_core::permalink::{Embed, MAX_LINK_BYTES};
use yew::prelude::*;

use crate::browser;
use crate::state::{Msg, Share, ShareMsg, Theme};
use crate::view::View;

/// The arguments of [`page_header`].
pub struct PageHeaderProps {
    /// The state as link text (`v1.…`).
    pub link: Rc<String>,
    pub view: View,
    pub theme: Theme,
    pub share: Share,
    pub status: Option<String>,
    /// What an embed of the current view shows, and the height it needs.
    pub embed_title: String,
    pub embed_height: u32,
    pub on_msg: Callback<Msg>,
}

/// The few lines a page needs to size each gicx frame to the height it reports
/// (`browser::HEIGHT_MESSAGE`); once per page is enough.
pub const EMBED_SCRIPT: &str = "<script>addEventListener(\"message\", (e) => { for (const f of document.querySelectorAll(\"iframe\")) if (f.contentWindow === e.source && e.data && e.data.type === \"gicx:height\") f.style.height = e.data.height + \"px\"; });</script>";

/// `text` for a double-quoted HTML attribute.
fn html_attribute(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
}

/// Copy `text`; on failure show it selected in `fallback`.
fn copy(
    text: String,
    what: &'static str,
    fallback: Share,
    on_msg: &Callback<Msg>,
) -> Callback<MouseEvent> {
    let on_msg = on_msg.clone();
    Callback::from(move |_: MouseEvent| {
        browser::copy_to_clipboard(
            &text,
            on_msg.reform(move |ok| {
                Msg::Share(ShareMsg::Copied {
                    what: what.into(),
                    ok,
                    fallback,
                })
            }),
        )
    })
}

fn theme_name(t: Theme) -> &'static str {
    match t {
        Theme::System if browser::prefers_dark() => "system (dark)",
        Theme::System => "system (light)",
        Theme::Light => "light",
        Theme::Dark => "dark",
    }
}

/// The title, "Copy link", the embed code and the theme toggle. (The App
/// selects the link field when it appears as the clipboard fallback.)
pub fn page_header(props: &PageHeaderProps) -> Html {
    let on_msg = &props.on_msg;
    let url = format!("{}#{}", browser::page_address(), props.link);

    let copy_link = if props.link.len() > MAX_LINK_BYTES {
        let kib = props.link.len().div_ceil(1024);
        on_msg.reform(move |_: MouseEvent| {
            Msg::Share(ShareMsg::Status(format!(
                "This state is {kib} KiB: too large for a link (the limit is {} KiB). Export it as a scenario file from the Log view instead.",
                MAX_LINK_BYTES / 1024
            )))
        })
    } else {
        copy(url.clone(), "Link", Share::Link, on_msg)
    };
    let embed_open = matches!(props.share, Share::Embed(_));
    let toggle_embed = on_msg.reform(move |_: MouseEvent| {
        Msg::Share(ShareMsg::Show(if embed_open {
            Share::Closed
        } else {
            Share::Embed(Embed::ReadOnly)
        }))
    });
    let next = props.theme.next();

    let share_area = match props.share {
        Share::Closed => html! {},
        Share::Link => html! {
            <>
                <label for="share-link">{ "Link to this state" }</label>
                <input id="share-link" type="text" readonly=true value={url} />
            </>
        },
        Share::Embed(mode) => {
            let src = format!(
                "{}#{}/{}",
                browser::page_address(),
                mode.as_str(),
                props.link
            );
            let snippet = format!(
                "<iframe src=\"{src}\" title=\"{}\" width=\"100%\" height=\"{}\" style=\"border:0\" loading=\"lazy\"></iframe>\n{EMBED_SCRIPT}",
                html_attribute(&props.embed_title),
                props.embed_height
            );
            let set_mode = |m: Embed| {
                on_msg.reform(move |_: Event| Msg::Share(ShareMsg::Show(Share::Embed(m))))
            };
            html! {
                <div class="embed-code">
                    <fieldset>
                        <legend>{ format!("Embed the {} view", props.view.label()) }</legend>
                        <label class="inline">
                            <input type="radio" name="embed-mode" checked={mode == Embed::ReadOnly} onchange={set_mode(Embed::ReadOnly)} />
                            { "Read-only" }
                        </label>
                        <label class="inline">
                            <input type="radio" name="embed-mode" checked={mode == Embed::Interactive} onchange={set_mode(Embed::Interactive)} />
                            { "Interactive" }
                        </label>
                    </fieldset>
                    <label for="embed-snippet">{ "Embed code" }</label>
                    <textarea id="embed-snippet" readonly=true rows="3" value={snippet.clone()} />
                    <button type="button" onclick={copy(snippet, "Embed code", props.share, on_msg)}>{ "Copy embed code" }</button>
                </div>
            }
        }
    };

    html! {
        <header class="page-header">
            <div class="title">
                <h1>{ "gicx — the GIC explorer" }</h1>
                <p class="tagline">{ "The Arm GICv3/v4.1 interrupt controller as Linux KVM virtualises it" }</p>
            </div>
            <div class="actions">
                <button type="button" onclick={copy_link}>{ "Copy link" }</button>
                <button type="button" aria-expanded={embed_open.to_string()} aria-controls="share-area" onclick={toggle_embed}>{ "Embed" }</button>
                <button
                    type="button"
                    class="theme-toggle"
                    aria-label={format!("Colour theme: {}. Switch to {}", theme_name(props.theme), theme_name(next))}
                    onclick={on_msg.reform(move |_: MouseEvent| Msg::SetTheme(next))}
                >
                    { format!("Theme: {}", theme_name(props.theme)) }
                </button>
            </div>
            <p class="share-status" role="status" aria-live="polite">{ props.status.clone().unwrap_or_default() }</p>
            <div id="share-area" class="share-area">{ share_area }</div>
        </header>
    }
}
