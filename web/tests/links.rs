//! The browser's link codec (src/links.rs: Compression Streams) against the
//! core's native one (miniz_oxide), in headless Chromium: links written by
//! either open in the other, and damaged, truncated and inflating ("zip bomb")
//! links get the same errors, naming the same part.
#![cfg(target_arch = "wasm32")]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use gicx_core::permalink::{self, Embed, Limits, Permalink, MAX_LINK_BYTES};
use gicx_core::scenario::parse;
use gicx_web::links;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn lesson() -> Permalink {
    let mut link = Permalink::new(
        parse(
            r#"{"name": "6.17: clear nASSGIcap before init",
                "host": {"gic": "v4.1", "kernel": "6.17"},
                "vm": {"vcpus": 2},
                "steps": [
                  {"op": "user_write", "reg": "GICD_TYPER2", "value": "0x0"},
                  {"op": "init"},
                  {"op": "guest_write", "reg": "GICD_CTLR", "value": "0x80000012"}]}"#,
        )
        .unwrap(),
    );
    link.cursor = Some(2);
    link.view = "poke".into();
    link.register = Some("GICD_TYPER2".into());
    link.vcpu = 1;
    link.views.insert("poke".into(), "guest 8 0 0x1".into());
    link
}

#[wasm_bindgen_test]
async fn links_cross_between_the_browser_and_the_core() {
    let link = lesson();
    let ours = links::encode(&link).await;
    assert!(ours.starts_with("v1."), "{ours}");
    assert_eq!(
        permalink::decode(&ours).unwrap(),
        link,
        "the core opens the browser's link"
    );
    let native = permalink::encode(&link);
    assert_eq!(
        links::decode(&native).await.unwrap(),
        link,
        "the browser opens the core's"
    );
    // Compressed, not stored: within a few bytes of miniz_oxide's level 9.
    assert!(
        ours.len() < native.len() + native.len() / 8,
        "{} vs {}",
        ours.len(),
        native.len()
    );
    let f = links::parse_fragment(&format!("#embed+interactive/{native}"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((f.embed, f.link), (Some(Embed::Interactive), link));
    assert_eq!(links::parse_fragment("#").await.unwrap(), None);
}

#[wasm_bindgen_test]
async fn damaged_links_get_the_cores_errors() {
    let text = permalink::encode(&lesson());
    // Cut short: the DEFLATE stream ends early.
    let packed = URL_SAFE_NO_PAD.decode(&text[3..]).unwrap();
    let cut = permalink::link_text(&packed[..packed.len() - 6]);
    assert_eq!(
        links::decode(&cut).await.unwrap_err(),
        permalink::decode(&cut).unwrap_err(),
        "{cut}"
    );
    let e = links::decode(&cut).await.unwrap_err();
    assert_eq!(
        (e.part.as_str(), e.reason.as_str()),
        (
            "payload",
            "the compressed data ends early (a truncated link?)"
        )
    );
    // Not DEFLATE at all (a reserved block type).
    let e = links::decode(&format!("v1.{}", URL_SAFE_NO_PAD.encode([0xFF; 16])))
        .await
        .unwrap_err();
    assert_eq!(e.part, "payload");
    assert!(
        e.reason.starts_with("the compressed data is damaged ("),
        "{e}"
    );
    // Before any inflating: the same checks as the core, in its words.
    for bad in [
        "v2.AAAA",
        "hello",
        "v1.abc*def",
        &format!("v1.{}", "A".repeat(MAX_LINK_BYTES)),
    ] {
        assert_eq!(
            links::decode(bad).await.unwrap_err(),
            permalink::decode(bad).unwrap_err(),
            "{bad:.20}"
        );
    }
    // JSON errors still name the path.
    let packed =
        miniz_deflate(br#"{"scenario": {"host": {"gic": "v7", "kernel": "6.8"}, "steps": []}}"#);
    let e = links::decode(&permalink::link_text(&packed))
        .await
        .unwrap_err();
    assert_eq!(e.part, "scenario.host.gic", "{e}");
}

#[wasm_bindgen_test]
async fn a_decompression_bomb_is_refused_without_expanding_it() {
    // 8 MiB of spaces compress to about 8 KiB: a small link, a huge state.
    let packed = miniz_deflate(&vec![b' '; 8 * 1024 * 1024]);
    let text = permalink::link_text(&packed);
    assert!(text.len() < MAX_LINK_BYTES, "{} bytes", text.len());
    let e = links::decode(&text).await.unwrap_err();
    assert_eq!(e, permalink::decode(&text).unwrap_err());
    assert!(
        e.reason.contains("expands to more than 4194304 bytes"),
        "{e}"
    );
    // The storage limits let longer links through, but not larger states.
    let e = links::decode_with(&text, Limits::STORAGE)
        .await
        .unwrap_err();
    assert_eq!(e.part, "payload");
}

/// Raw DEFLATE by the core's implementation (miniz_oxide), for payloads made by hand.
fn miniz_deflate(data: &[u8]) -> Vec<u8> {
    miniz_oxide::deflate::compress_to_vec(data, 9)
}
