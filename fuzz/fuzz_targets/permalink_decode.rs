//! Any text in a URL fragment is either a state that re-encodes to itself, or
//! refused with an error naming the part; nothing panics, and no input makes
//! the decoder allocate past its caps (64 KiB link, 4 MiB state).
#![no_main]
use gicx_core::permalink::{decode, encode, parse_fragment};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match decode(text) {
        Ok(link) => {
            let again = decode(&encode(&link)).expect("an encoded state decodes");
            assert_eq!(again, link);
        }
        Err(e) => assert!(!e.part.is_empty() && !e.reason.is_empty()),
    }
    let _ = parse_fragment(text);
});
