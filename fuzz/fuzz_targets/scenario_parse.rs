//! Any text fed to the scenario parser either parses and runs, or is refused with a
//! located error; nothing panics.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(sc) = gicx_core::scenario::parse(text) {
        if sc.steps.len() <= 2_000 {
            let _ = gicx_core::scenario::run(&sc);
        }
    }
});
