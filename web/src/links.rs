//! Permalinks in the browser: `gicx_core::permalink`'s codec, with the DEFLATE
//! step done by the browser's own Compression Streams (`deflate-raw`, in every
//! engine since 2023) instead of miniz_oxide compiled into the wasm: 8 kB gzip
//! less to download (README "Speed and size"). The JSON, base64url, limits and
//! every error's wording stay in the core, so a link written here opens in the
//! core's native decoder and the other way round (the DEFLATE bytes differ, the
//! state does not).
//!
//! The streams are asynchronous, so these functions are too: the app decodes its
//! start state before it mounts (`crate::Start::load`) and keeps the link text as
//! state that follows the explorer's a moment later (`components::app`).

use gicx_core::permalink::{
    link_text, packed_payload, read_state, split_fragment, state_json, Fragment, InflateError,
    Limits, Permalink, PermalinkError,
};
use js_sys::Uint8Array;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    ReadableStream, ReadableStreamDefaultReader, ReadableStreamReadResult, WritableStream,
};

#[wasm_bindgen]
extern "C" {
    /// A `CompressionStream` or a `DecompressionStream`: a writable side that
    /// takes bytes and a readable side that gives them back (de)compressed.
    /// Bound here because web-sys has these two only behind
    /// `--cfg web_sys_unstable_apis`; the streams they give are web-sys's.
    type CodecStream;
    #[wasm_bindgen(catch, constructor, js_class = "CompressionStream")]
    fn new_compression(format: &str) -> Result<CodecStream, JsValue>;
    #[wasm_bindgen(catch, constructor, js_class = "DecompressionStream")]
    fn new_decompression(format: &str) -> Result<CodecStream, JsValue>;
    #[wasm_bindgen(method, getter)]
    fn readable(this: &CodecStream) -> ReadableStream;
    #[wasm_bindgen(method, getter)]
    fn writable(this: &CodecStream) -> WritableStream;
}

/// Raw DEFLATE (RFC 1951), the format of `gicx_core::permalink`.
const FORMAT: &str = "deflate-raw";

/// Feed `input` through `stream` and collect what comes out, stopping (and
/// cancelling the stream) as soon as more than `limit` bytes have come out: a
/// "zip bomb" is refused, not expanded.
async fn run(stream: CodecStream, input: &[u8], limit: usize) -> Result<Vec<u8>, InflateError> {
    let damaged = |e: JsValue| InflateError::Damaged(js_message(&e));
    let writer = stream.writable().get_writer().map_err(damaged)?;
    // Not awaited before reading: a stream only takes more once its output is
    // read. The futures are made now so that a rejection is always handled.
    let written = JsFuture::from(writer.write_with_chunk(&Uint8Array::from(input)));
    let closed = JsFuture::from(writer.close());
    let reader: ReadableStreamDefaultReader = stream.readable().get_reader().unchecked_into();
    let mut out = Vec::new();
    let read = loop {
        let step: ReadableStreamReadResult = match JsFuture::from(reader.read()).await {
            Ok(step) => step.unchecked_into(),
            Err(e) => break Err(e),
        };
        if step.get_done().unwrap_or(true) {
            break Ok(());
        }
        let chunk = Uint8Array::new(&step.get_value());
        let at = out.len();
        let len = chunk.length() as usize;
        if at + len > limit {
            let _ = JsFuture::from(reader.cancel()).await;
            let _ = (written.await, closed.await);
            return Err(InflateError::TooLarge);
        }
        out.resize(at + len, 0);
        chunk.copy_to(&mut out[at..]);
    };
    // Both settle once the readable side has ended or failed.
    let (written, closed) = (written.await, closed.await);
    read.and(written).and(closed).map_err(|e| {
        let message = js_message(&e);
        // Chromium: "Compressed input was truncated."; Firefox: "... unexpected end ...".
        let lower = message.to_ascii_lowercase();
        if lower.contains("truncated") || lower.contains("unexpected end") {
            InflateError::Truncated
        } else {
            InflateError::Damaged(message)
        }
    })?;
    Ok(out)
}

fn js_message(e: &JsValue) -> String {
    e.dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| e.as_string())
        .unwrap_or_else(|| "the browser's decompressor failed".to_string())
}

/// `v1.` + base64url(deflate(JSON)), compressed by the browser.
pub async fn encode(link: &Permalink) -> String {
    let json = state_json(link);
    let packed = match CodecStream::new_compression(FORMAT) {
        // Compressing bytes held in memory cannot run out of input or be damaged,
        // and the output is smaller than the input plus a few bytes a block.
        Ok(stream) => run(stream, &json, usize::MAX).await.ok(),
        Err(_) => None,
    };
    // No Compression Streams (a browser from before 2023): a stored DEFLATE
    // block (RFC 1951 §3.2.4) is still a valid link, only longer.
    link_text(&packed.unwrap_or_else(|| stored_deflate(&json)))
}

/// `data` as raw DEFLATE stored (uncompressed) blocks of at most 65 535 bytes.
fn stored_deflate(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 5 * (data.len() / 0xFFFF + 1));
    let mut blocks = data.chunks(0xFFFF).peekable();
    if blocks.peek().is_none() {
        return vec![0x01, 0x00, 0x00, 0xFF, 0xFF];
    }
    while let Some(block) = blocks.next() {
        out.push(u8::from(blocks.peek().is_none())); // BFINAL, BTYPE = 00
        let len = block.len() as u16;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(block);
    }
    out
}

/// Decode a link (`v1.…`) with the given size caps.
pub async fn decode_with(text: &str, limits: Limits) -> Result<Permalink, PermalinkError> {
    let packed = packed_payload(text, limits)?;
    let stream = CodecStream::new_decompression(FORMAT).map_err(|e| {
        PermalinkError::new(
            "payload",
            format!("this browser cannot decompress links ({})", js_message(&e)),
        )
    })?;
    let json = run(stream, &packed, limits.state_bytes)
        .await
        .map_err(|e| e.into_error(limits))?;
    read_state(json)
}

/// Decode a link (`v1.…`) with the link limits.
pub async fn decode(text: &str) -> Result<Permalink, PermalinkError> {
    decode_with(text, Limits::LINK).await
}

/// Parse a URL fragment (with or without its `#`); `Ok(None)` when it is empty.
pub async fn parse_fragment(fragment: &str) -> Result<Option<Fragment>, PermalinkError> {
    let Some((embed, text)) = split_fragment(fragment)? else {
        return Ok(None);
    };
    Ok(Some(Fragment {
        embed,
        link: decode(text).await?,
    }))
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::stored_deflate;

    #[test]
    fn stored_blocks_inflate_to_the_input() {
        for n in [0usize, 1, 100, 0xFFFF, 0xFFFF + 1, 3 * 0xFFFF + 7] {
            let data: Vec<u8> = (0..n).map(|i| (i * 7 % 251) as u8).collect();
            let packed = stored_deflate(&data);
            assert_eq!(packed.len(), n + 5 * n.div_ceil(0xFFFF).max(1), "{n} bytes");
            let back = miniz_oxide::inflate::decompress_to_vec(&packed).unwrap();
            assert_eq!(back, data, "{n} bytes");
        }
    }
}
