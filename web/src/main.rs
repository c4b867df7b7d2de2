//! The browser entry point, built by Trunk (`static/index.html`).

#[cfg(target_arch = "wasm32")]
fn main() {
    gicx_web::browser::install_panic_hook();
    // The start state is decoded first: links are inflated by the browser,
    // asynchronously (src/links.rs).
    yew::platform::spawn_local(async {
        let start = gicx_web::Start::load().await;
        yew::Renderer::<gicx_web::App>::with_props(gicx_web::AppProps {
            start: std::rc::Rc::new(start),
        })
        .render();
    });
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("gicx-web runs in a browser: build it with `trunk build` or run scripts/serve");
    std::process::exit(2);
}
