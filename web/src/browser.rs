//! The page's surroundings: the URL fragment, the browser's storage, the
//! clipboard, files, the colour theme and the bug banner. Thin wrappers over
//! web-sys; everything they carry is decided in [`crate::state`] and
//! `gicx_core::permalink`. They are only called in a browser.

use gicx_core::permalink::{self, Fragment, Limits, Permalink};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{Blob, BlobPropertyBag, HtmlAnchorElement, Url};
use yew::Callback;

use crate::links;
use crate::state::{AppState, Theme};

/// Where the state is kept between visits (the permalink text, `v1.…`).
pub const STATE_KEY: &str = "gicx.state";
/// The chosen colour theme.
pub const THEME_KEY: &str = "gicx.theme";
/// Left by the first version of the Registers view; removed on start.
const OLD_KEY: &str = "gicx.registers.v1";
/// The fragment that raises a deliberate panic (to check the bug banner).
pub const DEBUG_PANIC: &str = "#debug/panic";

fn storage() -> Option<web_sys::Storage> {
    // gloo's LocalStorage, used raw: the state is already text (`v1.…`), not
    // JSON. Probed first: `raw()` throws where storage is disabled (a sandboxed
    // iframe, blocked cookies), and the page must work without it.
    use gloo::storage::Storage as _;
    web_sys::window()?.local_storage().ok().flatten()?;
    Some(gloo::storage::LocalStorage::raw())
}

pub fn storage_get(key: &str) -> Option<String> {
    storage()?.get_item(key).ok().flatten()
}

/// Storage can be full or disabled (private windows): the page works without it.
pub fn storage_set(key: &str, value: &str) {
    if let Some(s) = storage() {
        let _ = s.set_item(key, value);
    }
}

pub fn location_hash() -> String {
    gloo::utils::window().location().hash().unwrap_or_default()
}

/// The page's address without its fragment.
pub fn page_address() -> String {
    let href = gloo::utils::window().location().href().unwrap_or_default();
    match href.split_once('#') {
        Some((base, _)) => base.to_string(),
        None => href,
    }
}

/// Show `fragment` in the address bar without a new history entry (and
/// without a `hashchange` event).
pub fn replace_fragment(fragment: &str) {
    let window = gloo::utils::window();
    if window.location().hash().unwrap_or_default() == format!("#{fragment}") {
        return;
    }
    if let Ok(history) = window.history() {
        let _ = history.replace_state_with_url(&JsValue::NULL, "", Some(&format!("#{fragment}")));
    }
}

/// The state to start with: the link in the address bar, else the state kept
/// from the last visit, else a fresh one; a damaged link or saved state is
/// reported in a banner naming the part and the reason. Asynchronous: links are
/// inflated by the browser ([`crate::links`]).
pub async fn initial_state() -> AppState {
    let _ = storage().map(|s| s.remove_item(OLD_KEY));
    let hash = location_hash();
    let mut problems = Vec::new();
    let register =
        crate::state::register_route(&hash).is_some() || crate::state::rule_route(&hash).is_some();
    let fragment = if hash == DEBUG_PANIC || register {
        None
    } else {
        match links::parse_fragment(&hash).await {
            Ok(f) => f,
            Err(e) => {
                // What is shown instead is said once it is known (below).
                problems.push(("This link could not be opened".to_string(), format!("{e}.")));
                None
            }
        }
    };
    let bad_link = !problems.is_empty();
    let mut state = match fragment {
        Some(Fragment { embed, link }) => AppState::restore(link, embed),
        None => match saved_state().await {
            Ok(Some(link)) => {
                if bad_link {
                    problems[0]
                        .1
                        .push_str(" You are seeing your last saved work instead.");
                }
                AppState::restore(link, None)
            }
            Ok(None) => {
                if bad_link {
                    problems[0]
                        .1
                        .push_str(" This browser has no saved work: you are seeing a fresh start.");
                }
                AppState::default()
            }
            Err(e) => {
                problems.push((
                    "The work saved in this browser could not be read".to_string(),
                    format!("{e}. Starting afresh: your next change replaces it."),
                ));
                AppState::default()
            }
        },
    };
    if register {
        state = state
            .apply(crate::state::Msg::OpenRegisterLink(hash.clone()))
            .apply(crate::state::Msg::OpenRuleLink(hash));
    }
    if state.embed.is_none() {
        state.theme = Theme::from_id(&storage_get(THEME_KEY).unwrap_or_default());
    }
    for (title, detail) in problems {
        state.problem(title, detail);
    }
    state
}

/// The state kept in localStorage, if any.
pub async fn saved_state() -> Result<Option<Permalink>, permalink::PermalinkError> {
    match storage_get(STATE_KEY) {
        None => Ok(None),
        Some(text) => links::decode_with(&text, Limits::STORAGE).await.map(Some),
    }
}

/// Keep the state: in the address bar (if it fits a link) and in localStorage.
/// Embedded views keep nothing: they must not replace the reader's own work.
pub fn keep(state: &AppState, text: &str) {
    if state.embed.is_some() {
        return;
    }
    storage_set(STATE_KEY, text);
    if text.len() <= permalink::MAX_LINK_BYTES {
        replace_fragment(text);
    } else {
        // Too long for a link: drop the stale one from the address bar, so a
        // reload takes the state from localStorage instead.
        let _ = gloo::utils::window()
            .history()
            .map(|h| h.replace_state_with_url(&JsValue::NULL, "", Some(&page_address())));
    }
}

/// Run `f` in a later task, once the page has had the thread back (to handle input
/// and paint what was just rendered when a frame is due). A message to a fresh
/// `MessageChannel`, not `setTimeout(0)`, which browsers delay to 4 ms once nested:
/// 4 ms for each of the audit's slices.
pub fn later(f: impl FnOnce() + 'static) {
    let f = wasm_bindgen::closure::Closure::once_into_js(f);
    match web_sys::MessageChannel::new() {
        Ok(channel) => {
            channel.port1().set_onmessage(Some(f.unchecked_ref()));
            let _ = channel.port2().post_message(&JsValue::NULL);
        }
        Err(_) => {
            let _ = gloo::utils::window()
                .set_timeout_with_callback_and_timeout_and_arguments_0(f.unchecked_ref(), 0);
        }
    }
}

/// Focus and select the text of the input `id` (to copy it by hand).
pub fn select_field(id: &str) {
    if let Some(input) = gloo::utils::document()
        .get_element_by_id(id)
        .and_then(|e| e.dyn_into::<web_sys::HtmlInputElement>().ok())
    {
        let _ = input.focus();
        input.select();
    }
}

/// Light or dark by choice, or the system's preference (`prefers-color-scheme`).
pub fn apply_theme(theme: Theme) {
    if let Some(root) = gloo::utils::document().document_element() {
        let _ = match theme {
            Theme::System => root.remove_attribute("data-theme"),
            t => root.set_attribute("data-theme", t.id()),
        };
    }
}

/// Whether the system prefers dark colours.
pub fn prefers_dark() -> bool {
    gloo::utils::window()
        .match_media("(prefers-color-scheme: dark)")
        .ok()
        .flatten()
        .is_some_and(|m| m.matches())
}

/// Copy `text` to the clipboard; `done` gets whether it worked (the
/// Clipboard API needs a secure context and permission).
/// (Callbacks rather than generic closures here: one copy of the async code
/// in the bundle.)
pub fn copy_to_clipboard(text: &str, done: Callback<bool>) {
    let clipboard = gloo::utils::window().navigator().clipboard();
    if clipboard.is_undefined() {
        done.emit(false);
        return;
    }
    let promise = clipboard.write_text(text);
    yew::platform::spawn_local(async move {
        done.emit(wasm_bindgen_futures::JsFuture::from(promise).await.is_ok());
    });
}

/// Offer `text` as a file download named `file`.
pub fn download(file: &str, text: &str) -> Result<(), String> {
    let parts = js_sys::Array::of1(&JsValue::from_str(text));
    let options = BlobPropertyBag::new();
    options.set_type("application/json");
    let blob = Blob::new_with_str_sequence_and_options(&parts, &options)
        .map_err(|_| "the browser could not make the file".to_string())?;
    let url = Url::create_object_url_with_blob(&blob)
        .map_err(|_| "the browser could not make the file".to_string())?;
    let a: HtmlAnchorElement = gloo::utils::document()
        .create_element("a")
        .map_err(|_| "no document".to_string())?
        .unchecked_into();
    a.set_href(&url);
    a.set_download(file);
    a.click();
    let _ = Url::revoke_object_url(&url);
    Ok(())
}

/// Read a chosen file as text, refusing files over the scenario limit before
/// reading them.
pub fn read_file(file: web_sys::File, done: Callback<Result<String, String>>) {
    let name = file.name();
    let size = file.size() as u64;
    let limit = gicx_core::scenario::MAX_SCENARIO_BYTES as u64;
    if size > limit {
        done.emit(Err(format!(
            "{name} is {size} bytes; scenario files are limited to {limit} bytes (4 MiB)"
        )));
        return;
    }
    let promise = file.text();
    yew::platform::spawn_local(async move {
        match wasm_bindgen_futures::JsFuture::from(promise).await {
            Ok(v) => done.emit(v.as_string().ok_or_else(|| format!("{name} is not text"))),
            Err(_) => done.emit(Err(format!("{name} could not be read"))),
        }
    });
}

/// Report any remaining bug on the page instead of leaving a dead screen: the
/// panic message goes to the console and into a banner (role=alert). Work is
/// not lost: it was kept (URL and localStorage) after the last change.
pub fn install_panic_hook() {
    // Through Yew: its renderer would otherwise replace a hook set with
    // `std::panic::set_hook` by its own console-only one.
    yew::set_custom_panic_hook(Box::new(|info| {
        console_error_panic_hook::hook(info);
        show_bug_banner(&info.to_string());
    }));
}

/// The bug banner, built with the DOM API (the app may be dead by now); the
/// message is set as text, never parsed as HTML.
pub fn show_bug_banner(message: &str) {
    let document = gloo::utils::document();
    let Some(body) = document.body() else { return };
    let Ok(banner) = document.create_element("div") else {
        return;
    };
    banner.set_id("bug-banner");
    banner.set_class_name("banner bug");
    let _ = banner.set_attribute("role", "alert");
    let title = document.create_element("strong").ok();
    if let Some(t) = &title {
        t.set_text_content(Some("gicx hit a bug and stopped. "));
        let _ = banner.append_child(t);
    }
    if let Ok(detail) = document.create_element("span") {
        detail.set_text_content(Some(&format!(
            "{message}. Your work up to the last change is kept: reload the page to go on. "
        )));
        let _ = banner.append_child(&detail);
    }
    if let Ok(button) = document.create_element("button") {
        button.set_text_content(Some("Reload"));
        let _ = button.set_attribute("type", "button");
        let _ = button.set_attribute("onclick", "location.reload()");
        let _ = banner.append_child(&button);
    }
    let _ = body.insert_before(&banner, body.first_child().as_ref());
}

/// The message an embedded view posts to the page around its frame whenever its
/// height changes: `{ type: "gicx:height", height }` (CSS pixels). README
/// "Embedding" has the few lines of script a page needs to honour it.
pub const HEIGHT_MESSAGE: &str = "gicx:height";

/// What keeps an embed's height reports going (dropped: they stop).
pub struct HeightReports {
    observer: web_sys::ResizeObserver,
    _callback: wasm_bindgen::closure::Closure<dyn FnMut()>,
}

impl Drop for HeightReports {
    fn drop(&mut self) {
        self.observer.disconnect();
    }
}

/// Embedded in a frame: report the view's natural height (its content, not the
/// frame's) to the page around it now and whenever it changes. `None` when not in
/// a frame.
pub fn report_embed_height() -> Option<HeightReports> {
    let window = gloo::utils::window();
    let parent = window.parent().ok().flatten()?;
    if js_sys::Object::is(&parent, &window) {
        return None;
    }
    let content = gloo::utils::document()
        .query_selector(".embed-content")
        .ok()??;
    let mut last = 0;
    let callback = wasm_bindgen::closure::Closure::<dyn FnMut()>::new(move || {
        let Some(height) = embed_natural_height() else {
            return;
        };
        if height == last {
            return;
        }
        last = height;
        let message = js_sys::Object::new();
        let _ = js_sys::Reflect::set(&message, &"type".into(), &HEIGHT_MESSAGE.into());
        let _ = js_sys::Reflect::set(&message, &"height".into(), &height.into());
        let _ = parent.post_message(&message, "*");
    });
    let observer = web_sys::ResizeObserver::new(callback.as_ref().unchecked_ref()).ok()?;
    observer.observe(&content);
    Some(HeightReports {
        observer,
        _callback: callback,
    })
}

/// The height the embed needs to show everything without scrolling: the frame's
/// layout (padding, footer) around the scrolling body, plus the body's content.
fn embed_natural_height() -> Option<i32> {
    let document = gloo::utils::document();
    let element = |selector: &str| -> Option<web_sys::HtmlElement> {
        document.query_selector(selector).ok()??.dyn_into().ok()
    };
    let main = element("main.embed")?;
    let body = element(".embed-body")?;
    let content = element(".embed-content")?;
    Some(main.offset_height() - body.client_height() + content.offset_height())
}

/// Milliseconds by the page's clock, for work done in slices (the audit's
/// effect in `components::app`; the reducer reads no clock).
pub fn now_ms() -> f64 {
    js_sys::Date::now()
}
