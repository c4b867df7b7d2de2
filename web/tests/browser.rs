//! The app rendered in a real browser (headless Chromium through
//! chromedriver; see scripts/test): the catalogue, the value tester and its
//! bits, the tabs, a poke with its rule, the banners for damaged saved state
//! and for bugs.
#![cfg(target_arch = "wasm32")]

use std::time::Duration;

use gicx_web::App;
use gloo::storage::{LocalStorage, Storage};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::*;
use web_sys::{Element, Event, EventInit, HtmlElement, HtmlInputElement};
use yew::AppHandle;

wasm_bindgen_test_configure!(run_in_browser);

/// Render a fresh app into its own div (no state kept from an earlier test:
/// storage cleared, no fragment); `unmount` takes it away again.
async fn mount() -> (Element, AppHandle<App>) {
    LocalStorage::clear();
    mount_keeping_storage().await
}

/// As the page does (src/main.rs): the start state is loaded (links inflated by
/// the browser), then the app mounts.
async fn mount_keeping_storage() -> (Element, AppHandle<App>) {
    let window = gloo::utils::window();
    let path = window.location().pathname().unwrap();
    window
        .history()
        .unwrap()
        .replace_state_with_url(&JsValue::NULL, "", Some(&path))
        .unwrap();
    let document = gloo::utils::document();
    let root = document.create_element("div").unwrap();
    document.body().unwrap().append_child(&root).unwrap();
    let start = std::rc::Rc::new(gicx_web::Start::load().await);
    let app = yew::Renderer::<App>::with_root_and_props(root.clone(), gicx_web::AppProps { start })
        .render();
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

fn find(root: &Element, selector: &str) -> Option<Element> {
    root.query_selector(selector).ok().flatten()
}

fn text(root: &Element, selector: &str) -> Option<String> {
    find(root, selector).and_then(|e| e.text_content())
}

fn option_named(root: &Element, name: &str) -> Option<HtmlElement> {
    query_all(root, "[role=option] .name")
        .into_iter()
        .find(|e| e.text_content().as_deref() == Some(name))
        .and_then(|e| e.parent_element()?.dyn_into().ok())
}

fn button(root: &Element, label: &str) -> Option<HtmlElement> {
    query_all(root, "button")
        .into_iter()
        .find(|b| {
            b.get_attribute("aria-label").as_deref() == Some(label)
                || b.text_content().as_deref() == Some(label)
        })
        .and_then(|b| b.dyn_into().ok())
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

async fn select_typer2(root: &Element) {
    let search: HtmlInputElement = wait_for("the search box", || find(root, "#register-search"))
        .await
        .dyn_into()
        .unwrap();
    type_into(&search, "TYPER2");
    // Names first, then registers whose texts mention it (GICD_CTLR's nASSGIreq).
    wait_for("the search to narrow the list", || {
        let options = query_all(root, "[role=option] .name");
        (options.len() < 10 && options[0].text_content().as_deref() == Some("GICD_TYPER2"))
            .then_some(())
    })
    .await;
    option_named(root, "GICD_TYPER2").unwrap().click();
    wait_for("the register heading", || {
        (text(root, "#register-name").as_deref() == Some("GICD_TYPER2")).then_some(())
    })
    .await;
}

#[wasm_bindgen_test]
async fn catalogue_lists_typer2() {
    let mounted = mount().await;
    let root = mounted.0.clone();
    let list = wait_for("the register list", || find(&root, "[role=listbox]")).await;
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
    let mounted = mount().await;
    let root = mounted.0.clone();
    select_typer2(&root).await;
    let value: HtmlInputElement = wait_for("the value tester", || find(&root, "#register-value"))
        .await
        .dyn_into()
        .unwrap();
    // The tester starts at the register's current value (v4.1@6.17: nASSGIcap).
    assert_eq!(value.value(), "0x100");
    assert_eq!(decoded(&root, "nASSGIcap").as_deref(), Some("1"));

    type_into(&value, "");
    wait_for("nothing decoded without a value", || {
        (decoded(&root, "nASSGIcap").as_deref() == Some("—")).then_some(())
    })
    .await;
    type_into(&value, "0x100");
    wait_for("nASSGIcap = 1", || {
        (decoded(&root, "nASSGIcap").as_deref() == Some("1")).then_some(())
    })
    .await;
    assert_eq!(decoded(&root, "VID").as_deref(), Some("0"));

    type_into(&value, "0x1_0000_0000");
    let status = wait_for("the error", || find(&root, "#value-status.error")).await;
    assert!(status
        .text_content()
        .unwrap()
        .contains("does not fit in the 32-bit register"));
    unmount(mounted);
}

#[wasm_bindgen_test]
async fn bits_toggle_and_the_current_value_shows() {
    let mounted = mount().await;
    let root = mounted.0.clone();
    select_typer2(&root).await;
    // The default host is v4.1@6.17: the guest and the VMM read nASSGIcap set.
    assert_eq!(text(&root, "#guest-value").as_deref(), Some("0x100"));
    assert_eq!(text(&root, "#user-value").as_deref(), Some("0x100"));

    // The tester starts at that value: bit 8 is set.
    let bit8 = button(&root, "Bit 8").expect("a toggle per bit");
    assert_eq!(bit8.get_attribute("aria-pressed").as_deref(), Some("true"));
    assert!(bit8.get_attribute("title").unwrap().contains("nASSGIcap"));
    bit8.click();
    wait_for("bit 8 released", || {
        (button(&root, "Bit 8")?
            .get_attribute("aria-pressed")
            .as_deref()
            == Some("false"))
        .then_some(())
    })
    .await;
    let value: HtmlInputElement = find(&root, "#register-value").unwrap().dyn_into().unwrap();
    assert_eq!(value.value(), "0x0");
    assert_eq!(decoded(&root, "nASSGIcap").as_deref(), Some("0"));
    assert!(button(&root, "Bit 31").is_some() && button(&root, "Bit 32").is_none());
    unmount(mounted);
}

#[wasm_bindgen_test]
async fn tabs_switch_views_and_a_vmm_read_shows_its_rule() {
    let mounted = mount().await;
    let root = mounted.0.clone();
    select_typer2(&root).await;
    let tabs = query_all(&root, "[role=tablist] [role=tab]");
    let labels: Vec<String> = tabs.iter().filter_map(|t| t.text_content()).collect();
    assert_eq!(
        labels,
        [
            "Registers",
            "Poke",
            "Log",
            "Host and VM",
            "Migrate",
            "Matrix",
            "Delivery path",
            "ITS",
            "Lessons",
            "Rules"
        ]
    );

    button(&root, "Poke").unwrap().click();
    wait_for("the Poke panel", || {
        (text(&root, "#poke-heading").as_deref() == Some("Poke GICD_TYPER2")).then_some(())
    })
    .await;
    assert_eq!(
        find(&root, "#tab-poke")
            .unwrap()
            .get_attribute("aria-selected")
            .as_deref(),
        Some("true")
    );
    button(&root, "Init (KVM_DEV_ARM_VGIC_CTRL_INIT)")
        .unwrap()
        .click();
    wait_for("init done", || {
        text(&root, ".poke-result .summary")?
            .contains("KVM_DEV_ARM_VGIC_CTRL_INIT: ok")
            .then_some(())
    })
    .await;
    let vmm: HtmlInputElement = query_all(&root, "input[name=poke-actor]")[1]
        .clone()
        .dyn_into()
        .unwrap();
    vmm.click();
    let read = wait_for("the Has attribute button (VMM only)", || {
        button(&root, "Has attribute")?;
        button(&root, "Read")
    })
    .await;
    read.click();
    wait_for("the value read", || {
        (text(&root, "#poke-output").as_deref() == Some("0x100")).then_some(())
    })
    .await;
    let rules: Vec<String> = query_all(&root, ".poke-result .rule-id")
        .iter()
        .filter_map(|e| e.text_content())
        .collect();
    assert!(
        rules.iter().any(|r| r.starts_with("gicd.typer2")),
        "{rules:?}"
    );
    unmount(mounted);
}

#[wasm_bindgen_test]
async fn damaged_saved_work_shows_a_banner_and_the_app_still_works() {
    LocalStorage::clear();
    LocalStorage::raw()
        .set_item(gicx_web::browser::STATE_KEY, "v1.not-a-payload*")
        .unwrap();
    let mounted = mount_keeping_storage().await;
    let root = mounted.0.clone();
    let banner = wait_for("the banner", || find(&root, "[role=alert]")).await;
    let said = banner.text_content().unwrap();
    assert!(said.contains("could not be read"), "{said}");
    assert!(
        said.contains("payload: not base64url"),
        "names the part: {said}"
    );
    // Still usable.
    select_typer2(&root).await;
    button(
        &root,
        "Dismiss: The work saved in this browser could not be read",
    )
    .unwrap()
    .click();
    wait_for("the banner to go", || {
        find(&root, "[role=alert]").is_none().then_some(())
    })
    .await;
    unmount(mounted);
}

#[wasm_bindgen_test]
fn the_bug_banner_shows_the_message_as_text() {
    gicx_web::browser::show_bug_banner("<img src=x onerror=alert(1)> went wrong");
    let banner = gloo::utils::document()
        .get_element_by_id("bug-banner")
        .expect("a banner");
    assert_eq!(banner.get_attribute("role").as_deref(), Some("alert"));
    assert!(banner
        .text_content()
        .unwrap()
        .contains("<img src=x onerror=alert(1)> went wrong"));
    assert!(
        banner.query_selector("img").unwrap().is_none(),
        "the message is text, not HTML"
    );
    banner.remove();
}
