//! static/embed-demo.html embeds permalinks written by hand once: they must
//! keep decoding to the states the page describes (a change to the permalink
//! format or to the catalogue breaks this test, not the demo).
#![cfg(not(target_arch = "wasm32"))]

use gicx_core::migrate::Verdict;
use gicx_core::permalink::{parse_fragment, Embed};
use gicx_core::vgic::RestorePolicy;
use gicx_web::state::{AppState, Msg};
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
fn the_demo_embeds_a_register_a_lesson_and_a_verdict() {
    let frames = frames();
    assert_eq!(frames.len(), 3, "{frames:?}");

    let f = parse_fragment(&frames[0]).unwrap().unwrap();
    assert_eq!(f.embed, Some(Embed::ReadOnly));
    let s = AppState::restore(f.link, f.embed);
    assert_eq!(s.view, View::Registers);
    assert_eq!(s.selected_instance().unwrap().name(), "GICD_TYPER2");
    assert_eq!(s.work.session.host().compact(), "v4.1@6.17");
    assert_eq!(s.registers.value, "0x100");
    assert!(s.read_only());

    let f = parse_fragment(&frames[1]).unwrap().unwrap();
    assert_eq!(f.embed, Some(Embed::Interactive));
    let s = AppState::restore(f.link, f.embed);
    assert_eq!(s.view, View::Log);
    assert_eq!(s.work.session.cursor(), 11);
    assert!(
        s.work.session.replay().reports.iter().all(|r| r.passed()),
        "the lesson's expectations hold"
    );
    assert!(s.work.banners.list().is_empty());

    // Firecracker's matrix with the 2020 case open, under relaxed-2020.
    let f = parse_fragment(&frames[2]).unwrap().unwrap();
    assert_eq!(f.embed, Some(Embed::ReadOnly));
    let s = AppState::restore(f.link, f.embed);
    assert_eq!(s.view, View::Matrix);
    assert!(
        s.work.banners.list().is_empty(),
        "{:?}",
        s.work.banners.list()
    );
    // The tables (and the open cell) come once the page has painted.
    let req = s
        .matrix_pending()
        .expect("the Matrix view asks for its tables");
    let tables = gicx_web::state::matrix::compute_tables(&req);
    let s = s.apply(Msg::Matrix(gicx_web::state::MatrixMsg::Tables(req, tables)));
    let (table, from, to) = s.matrix.cell.expect("a cell is open");
    assert_eq!(s.matrix.policies[table], RestorePolicy::Relaxed2020);
    assert_eq!(
        (from.compact(), to.compact()),
        ("v4.1@5.7".into(), "v4.0@5.7".into())
    );
    let m = s.matrix.detail.as_deref().unwrap().as_ref().unwrap();
    assert_eq!(m.verdict, Verdict::SilentlyBroken);
    assert!(m.reasons().iter().any(|r| r.contains("GICD_TYPER2")));
}
