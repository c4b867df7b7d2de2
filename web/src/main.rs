//! The browser entry point, built by Trunk (`static/index.html`).

#[cfg(target_arch = "wasm32")]
fn main() {
    gicx_web::browser::install_panic_hook();
    yew::Renderer::<gicx_web::App>::new().render();
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("gicx-web runs in a browser: build it with `trunk build` or run scripts/serve");
    std::process::exit(2);
}
