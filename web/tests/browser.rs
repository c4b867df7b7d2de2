//! The app rendered in a real browser (headless Chromium through
//! chromedriver; see scripts/test): the catalogue lists the registers and a
//! typed value is decoded.
#![cfg(target_arch = "wasm32")]

use std::time::Duration;

use gicx_web::App;
use gloo::storage::{LocalStorage, Storage};
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;
use web_sys::{Element, Event, EventInit, HtmlElement, HtmlInputElement};
use yew::AppHandle;

wasm_bindgen_test_configure!(run_in_browser);

/// Render a fresh app into its own div (no state kept from an earlier test);
/// `unmount` takes it away again.
fn mount() -> (Element, AppHandle<App>) {
    LocalStorage::clear();
    let document = gloo::utils::document();
    let root = document.create_element("div").unwrap();
    document.body().unwrap().append_child(&root).unwrap();
    let app = yew::Renderer::<App>::with_root(root.clone()).render();
    (root, app)
}

fn unmount((root, app): (Element, AppHandle<App>)) {
    app.destroy();
    root.remove();
}

/// Wait (up to 2 s) until `found` finds something: Yew renders asynchronously.
async fn wait_for<T>(what: &str, found: impl Fn() -> Option<T>) -> T {
    for _ in 0..200 {
        if let Some(t) = found() {
            return t;
        }
        yew::platform::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for {what}");
}

fn query_all(root: &Element, selector: &str) -> Vec<Element> {
    let list = root.query_selector_all(selector).unwrap();
    (0..list.length())
        .filter_map(|i| list.item(i)?.dyn_into::<Element>().ok())
        .collect()
}

fn option_named(root: &Element, name: &str) -> Option<HtmlElement> {
    query_all(root, "[role=option] .name")
        .into_iter()
        .find(|e| e.text_content().as_deref() == Some(name))
        .and_then(|e| e.parent_element()?.dyn_into().ok())
}

/// Type into an input as a person would: set the text, fire a bubbling `input`.
fn type_into(input: &HtmlInputElement, text: &str) {
    input.set_value(text);
    let init = EventInit::new();
    init.set_bubbles(true);
    input
        .dispatch_event(&Event::new_with_event_init_dict("input", &init).unwrap())
        .unwrap();
}

fn decoded(root: &Element, field: &str) -> Option<String> {
    query_all(root, "table.fields tbody tr")
        .into_iter()
        .find(|row| {
            row.query_selector("th")
                .ok()
                .flatten()
                .and_then(|th| th.text_content())
                .as_deref()
                == Some(field)
        })
        .and_then(|row| {
            row.query_selector("td.value")
                .ok()
                .flatten()?
                .text_content()
        })
}

#[wasm_bindgen_test]
async fn catalogue_lists_typer2() {
    let mounted = mount();
    let root = mounted.0.clone();
    let list = wait_for("the register list", || {
        root.query_selector("[role=listbox]").ok().flatten()
    })
    .await;
    assert_eq!(
        list.get_attribute("aria-label").as_deref(),
        Some("Registers")
    );
    assert!(option_named(&root, "GICD_TYPER2").is_some());
    assert!(option_named(&root, "GICR_TYPER").is_some());
    unmount(mounted);
}

#[wasm_bindgen_test]
async fn typing_a_value_decodes_its_fields() {
    let mounted = mount();
    let root = mounted.0.clone();
    let search: HtmlInputElement = wait_for("the search box", || {
        root.query_selector("#register-search").ok().flatten()
    })
    .await
    .dyn_into()
    .unwrap();
    type_into(&search, "TYPER2");
    wait_for("the search to narrow the list", || {
        (query_all(&root, "[role=option]").len() == 1).then_some(())
    })
    .await;

    option_named(&root, "GICD_TYPER2").unwrap().click();
    let value: HtmlInputElement = wait_for("the value tester", || {
        root.query_selector("#register-value").ok().flatten()
    })
    .await
    .dyn_into()
    .unwrap();
    assert_eq!(
        decoded(&root, "nASSGIcap").as_deref(),
        Some("—"),
        "nothing decoded before a value is typed"
    );

    type_into(&value, "0x100");
    wait_for("nASSGIcap = 1", || {
        (decoded(&root, "nASSGIcap").as_deref() == Some("1")).then_some(())
    })
    .await;
    assert_eq!(decoded(&root, "VID").as_deref(), Some("0"));

    type_into(&value, "0x1_0000_0000");
    let status = wait_for("the error", || {
        root.query_selector("#value-status.error").ok().flatten()
    })
    .await;
    assert!(status
        .text_content()
        .unwrap()
        .contains("does not fit in the 32-bit register"));
    unmount(mounted);
}
