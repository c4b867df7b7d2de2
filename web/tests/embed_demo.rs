//! static/embed-demo.html embeds permalinks written by hand once: they must
//! keep decoding to the states the page describes (a change to the permalink
//! format or to the catalogue breaks this test, not the demo).
#![cfg(not(target_arch = "wasm32"))]

use gicx_core::permalink::{parse_fragment, Embed};
use gicx_web::state::AppState;
use gicx_web::view::View;

fn frames() -> Vec<String> {
    let html = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../static/embed-demo.html"
    ))
    .expect("static/embed-demo.html");
    html.split("src=\"./#")
        .skip(1)
        .map(|rest| rest[..rest.find('"').unwrap()].to_string())
        .collect()
}

#[test]
fn the_demo_embeds_a_read_only_register_and_an_interactive_lesson() {
    let frames = frames();
    assert_eq!(frames.len(), 2, "{frames:?}");

    let f = parse_fragment(&frames[0]).unwrap().unwrap();
    assert_eq!(f.embed, Some(Embed::ReadOnly));
    let s = AppState::restore(f.link, f.embed);
    assert_eq!(s.view, View::Registers);
    assert_eq!(s.selected_instance().unwrap().name(), "GICD_TYPER2");
    assert_eq!(s.session.host().compact(), "v4.1@6.17");
    assert_eq!(s.value, "0x100");
    assert!(s.read_only());

    let f = parse_fragment(&frames[1]).unwrap().unwrap();
    assert_eq!(f.embed, Some(Embed::Interactive));
    let s = AppState::restore(f.link, f.embed);
    assert_eq!(s.view, View::Log);
    assert_eq!(s.session.cursor(), 11);
    assert!(
        s.session.replay().reports.iter().all(|r| r.passed()),
        "the lesson's expectations hold"
    );
    assert!(s.banners.is_empty());
}
