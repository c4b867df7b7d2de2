//! Permalinks: the explorer's whole state (host, VM, every step done, the undo
//! cursor, the view and what is selected in it) as one short, versioned,
//! URL-safe string, so a link or a reload restores it exactly.
//!
//! Format `v1.PAYLOAD`: `PAYLOAD` is the [`Permalink`] as JSON (the scenario in
//! the scenario-file format of `docs/scenario-format.md`), compressed with raw
//! DEFLATE (RFC 1951) and written in unpadded base64url (RFC 4648 §5). A URL
//! fragment adds an optional mode in front: `embed/v1.…` (read-only embed) or
//! `embed+interactive/v1.…` (see [`Fragment`]).
//!
//! Decoding is defensive: it caps the link's length and the inflated size
//! (a "zip bomb" is refused, not expanded), and every error names the part of
//! the link that is wrong and why.
//!
//! ```
//! use gicx_core::host::Host;
//! use gicx_core::permalink::{decode, encode, Permalink};
//! use gicx_core::scenario::Scenario;
//!
//! let link = Permalink::new(Scenario {
//!     name: None,
//!     description: None,
//!     note: None,
//!     host: Host::parse_compact("v4.1@6.17").unwrap(),
//!     vm: Default::default(),
//!     steps: vec![],
//! });
//! let text = encode(&link);
//! assert!(text.starts_with("v1."));
//! assert_eq!(decode(&text), Ok(link));
//! assert_eq!(decode("v9.AAAA").unwrap_err().part, "version");
//! ```

use std::collections::BTreeMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::catalogue;
use crate::scenario::{self, Scenario};

/// The version this code writes and reads.
pub const VERSION: &str = "v1";
/// Links (and URL fragments) longer than this are refused: 64 KiB.
pub const MAX_LINK_BYTES: usize = 64 * 1024;
/// A payload may inflate to at most this (the scenario-file limit, 4 MiB).
pub const MAX_STATE_BYTES: usize = scenario::MAX_SCENARIO_BYTES;
/// Free-text fields of the view state (tester value, search) are capped too.
pub const MAX_TEXT_CHARS: usize = 256;
/// A view's own state (one entry of `views`, as compact JSON) is capped at this
/// many characters.
pub const MAX_VIEW_CHARS: usize = 1024;

/// The explorer's state, as a link carries it. As JSON (the payload before
/// compression) it is an object with these keys, all but `scenario` optional:
///
/// ```json
/// {"scenario": {…a scenario file…}, "cursor": 3, "view": "poke",
///  "register": "GICD_TYPER2", "vcpu": 1, "value": "0x100", "query": "typer",
///  "views": {"poke": {"actor": "vmm", "width": 32, "at": 0, "value": "0x0"}}}
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Permalink {
    /// Host, VM and every step done, in order, including undone ones.
    pub scenario: Scenario,
    /// How many steps are applied; the rest can be redone. Absent: all of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<usize>,
    /// The view shown, by id (`registers`, `poke`, `log`, `host`, …). The web app
    /// owns the list of views and checks it; empty means its first view.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub view: String,
    /// The selected register instance, by name (`GICD_ISENABLER1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub register: Option<String>,
    /// The selected vCPU: whose redistributor is shown, and who accesses the distributor.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub vcpu: u32,
    /// The value tester's text, as typed.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub value: String,
    /// The register search text.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub query: String,
    /// State private to one view (e.g. the Poke form), by view id, as JSON whose
    /// shape that view defines and checks (the web app writes one serde struct per
    /// view; links made before it hold a string in a text form the view still
    /// reads): a new view needs no change here.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub views: BTreeMap<String, serde_json::Value>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl Permalink {
    /// A link to `scenario` with every step applied and nothing selected.
    pub fn new(scenario: Scenario) -> Permalink {
        Permalink {
            scenario,
            cursor: None,
            view: String::new(),
            register: None,
            vcpu: 0,
            value: String::new(),
            query: String::new(),
            views: BTreeMap::new(),
        }
    }

    /// How many steps are applied.
    pub fn applied(&self) -> usize {
        self.cursor.unwrap_or(self.scenario.steps.len())
    }

    /// Check what serde cannot: the scenario (names, widths, vCPUs…), the cursor,
    /// the register name, the vCPU and the text lengths.
    pub fn validate(&self) -> Result<(), PermalinkError> {
        scenario::validate(&self.scenario).map_err(|e| {
            PermalinkError::new(
                if e.path.is_empty() {
                    "scenario".to_string()
                } else {
                    format!("scenario.{}", e.path)
                },
                e.message,
            )
        })?;
        let steps = self.scenario.steps.len();
        if let Some(c) = self.cursor {
            if c > steps {
                return Err(PermalinkError::new(
                    "cursor",
                    format!("{c} steps applied, but the scenario has only {steps}"),
                ));
            }
        }
        if let Some(name) = &self.register {
            catalogue::lookup(name).map_err(|e| PermalinkError::new("register", e.to_string()))?;
        }
        let vcpus = self.scenario.vm.vcpus;
        if self.vcpu >= vcpus {
            return Err(PermalinkError::new(
                "vcpu",
                format!("vCPU {} does not exist (vm.vcpus = {vcpus})", self.vcpu),
            ));
        }
        for (part, text) in [
            ("view", &self.view),
            ("value", &self.value),
            ("query", &self.query),
        ] {
            let n = text.chars().count();
            if n > MAX_TEXT_CHARS {
                return Err(PermalinkError::new(
                    part,
                    format!("{n} characters; the limit is {MAX_TEXT_CHARS}"),
                ));
            }
        }
        for (id, state) in &self.views {
            let n = match state {
                serde_json::Value::String(text) => text.chars().count(),
                other => other.to_string().chars().count(),
            };
            if n > MAX_VIEW_CHARS {
                return Err(PermalinkError::new(
                    format!("views.{id}"),
                    format!("{n} characters; the limit is {MAX_VIEW_CHARS}"),
                ));
            }
        }
        Ok(())
    }
}

/// Which part of a link is wrong, and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{part}: {reason}")]
pub struct PermalinkError {
    /// `link`, `mode`, `version`, `payload`, `state`, a JSON path such as
    /// `scenario.steps[2].reg`, `cursor`, `register`, `vcpu`, …
    pub part: String,
    pub reason: String,
}

impl PermalinkError {
    pub fn new(part: impl Into<String>, reason: impl Into<String>) -> Self {
        PermalinkError {
            part: part.into(),
            reason: reason.into(),
        }
    }
}

/// Size caps for [`decode_with`]: a shared link is capped at 64 KiB; state kept
/// in the browser's own storage may be larger.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Longest accepted text (`v1.…`).
    pub link_bytes: usize,
    /// Largest JSON the payload may inflate to.
    pub state_bytes: usize,
}

impl Limits {
    /// For links: [`MAX_LINK_BYTES`], [`MAX_STATE_BYTES`].
    pub const LINK: Limits = Limits {
        link_bytes: MAX_LINK_BYTES,
        state_bytes: MAX_STATE_BYTES,
    };
    /// For state the app keeps in its own storage: 4 MiB either way.
    pub const STORAGE: Limits = Limits {
        link_bytes: MAX_STATE_BYTES,
        state_bytes: MAX_STATE_BYTES,
    };
}

// The codec in steps, so that the compression itself can be done by another
// DEFLATE implementation: the web app uses the browser's own (the Compression
// Streams API), which keeps a DEFLATE encoder and decoder out of its wasm (8 kB
// gzip, README "Speed and size"). `encode`/`decode` below are the same steps with miniz_oxide, for native
// users (feature `deflate`, on by default). Any raw DEFLATE stream decodes: a
// link written by one implementation opens with the other.

/// Encoding, step 1: the state as JSON (the payload before compression).
pub fn state_json(link: &Permalink) -> Vec<u8> {
    // Serialising plain data to JSON cannot fail (no maps with non-string keys).
    serde_json::to_vec(link).expect("a Permalink serialises to JSON")
}

/// Encoding, step 2: `v1.` + base64url(`packed`), where `packed` is
/// [`state_json`] compressed with raw DEFLATE (RFC 1951).
pub fn link_text(packed: &[u8]) -> String {
    format!("{VERSION}.{}", URL_SAFE_NO_PAD.encode(packed))
}

/// `v1.` + base64url(deflate(JSON)).
#[cfg(feature = "deflate")]
pub fn encode(link: &Permalink) -> String {
    link_text(&miniz_oxide::deflate::compress_to_vec(&state_json(link), 9))
}

/// Decode a link (`v1.…`), with the link limits.
#[cfg(feature = "deflate")]
pub fn decode(text: &str) -> Result<Permalink, PermalinkError> {
    decode_with(text, Limits::LINK)
}

/// Decode with explicit size caps.
#[cfg(feature = "deflate")]
pub fn decode_with(text: &str, limits: Limits) -> Result<Permalink, PermalinkError> {
    let packed = packed_payload(text, limits)?;
    let json = miniz_oxide::inflate::decompress_to_vec_with_limit(&packed, limits.state_bytes)
        .map_err(|e| {
            match e.status {
                miniz_oxide::inflate::TINFLStatus::HasMoreOutput => InflateError::TooLarge,
                miniz_oxide::inflate::TINFLStatus::FailedCannotMakeProgress => {
                    InflateError::Truncated
                }
                _ => InflateError::Damaged(e.to_string()),
            }
            .into_error(limits)
        })?;
    read_state(json)
}

fn check_length(text: &str, limits: Limits) -> Result<(), PermalinkError> {
    if text.len() > limits.link_bytes {
        return Err(PermalinkError::new(
            "link",
            format!(
                "{} bytes long; the limit is {} ({} KiB)",
                text.len(),
                limits.link_bytes,
                limits.link_bytes / 1024
            ),
        ));
    }
    Ok(())
}

/// Decoding, step 1: the link's length, version and base64url checked; the
/// compressed payload (raw DEFLATE), to be inflated to at most
/// `limits.state_bytes` and read by [`read_state`].
pub fn packed_payload(text: &str, limits: Limits) -> Result<Vec<u8>, PermalinkError> {
    let text = text.trim();
    check_length(text, limits)?;
    let Some((version, payload)) = text.split_once('.') else {
        return Err(PermalinkError::new(
            "version",
            format!("missing: a gicx link starts with \"{VERSION}.\""),
        ));
    };
    if version != VERSION {
        return Err(PermalinkError::new(
            "version",
            format!(
                "{:?} is not a version this gicx reads (it reads {VERSION})",
                clip(version)
            ),
        ));
    }
    URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|e| PermalinkError::new("payload", format!("not base64url: {e}")))
}

/// Why inflating a payload failed, whichever DEFLATE implementation did it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InflateError {
    /// It would expand past `limits.state_bytes` (a "zip bomb"): stopped there.
    TooLarge,
    /// The stream ends before its last block.
    Truncated,
    /// Anything else, in the implementation's words.
    Damaged(String),
}

impl InflateError {
    /// As the link's error: part `payload`, and the reason.
    pub fn into_error(self, limits: Limits) -> PermalinkError {
        let reason = match self {
            InflateError::TooLarge => format!(
                "expands to more than {} bytes ({} MiB): refused",
                limits.state_bytes,
                limits.state_bytes / (1024 * 1024)
            ),
            InflateError::Truncated => {
                "the compressed data ends early (a truncated link?)".to_string()
            }
            InflateError::Damaged(why) => format!("the compressed data is damaged ({why})"),
        };
        PermalinkError::new("payload", reason)
    }
}

/// Decoding, step 2: the inflated payload read as JSON and checked
/// ([`Permalink::validate`]); errors name the JSON path.
pub fn read_state(json: Vec<u8>) -> Result<Permalink, PermalinkError> {
    let json = String::from_utf8(json).map_err(|e| {
        PermalinkError::new("payload", format!("the state is not UTF-8 text ({e})"))
    })?;
    // From a str, like `scenario::parse`: the scenario's deserialisers are then
    // the same code in both (a smaller wasm bundle).
    let de = &mut serde_json::Deserializer::from_str(&json);
    let link: Permalink = serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let mut reason = inner.to_string();
        if let Some(i) = reason.rfind(" at line ") {
            reason.truncate(i);
        }
        if inner.is_syntax() || inner.is_eof() {
            reason.push_str(&format!(" (at byte {} of the state)", inner.column()));
        }
        PermalinkError::new(
            if path.is_empty() || path == "." {
                "state".to_string()
            } else {
                path
            },
            reason,
        )
    })?;
    link.validate()?;
    Ok(link)
}

fn clip(s: &str) -> String {
    let mut out: String = s.chars().take(16).collect();
    if out.len() < s.len() {
        out.push('…');
    }
    out
}

/// How a documentation page embeds a view.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Embed {
    /// Shows the view; nothing can be changed.
    ReadOnly,
    /// The reader can work in the view (nothing is kept in their browser).
    Interactive,
}

impl Embed {
    /// The fragment prefix, before `/v1.…`.
    pub fn as_str(self) -> &'static str {
        match self {
            Embed::ReadOnly => "embed",
            Embed::Interactive => "embed+interactive",
        }
    }
}

/// A URL fragment: `v1.…`, `embed/v1.…` or `embed+interactive/v1.…`.
#[derive(Clone, Debug, PartialEq)]
pub struct Fragment {
    pub embed: Option<Embed>,
    pub link: Permalink,
}

#[cfg(feature = "deflate")]
impl std::fmt::Display for Fragment {
    /// Without the leading `#`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(e) = self.embed {
            write!(f, "{}/", e.as_str())?;
        }
        f.write_str(&encode(&self.link))
    }
}

/// Split a URL fragment (with or without its `#`) into its embed mode and its
/// link text (`v1.…`, not decoded yet); `Ok(None)` when it is empty.
pub fn split_fragment(fragment: &str) -> Result<Option<(Option<Embed>, &str)>, PermalinkError> {
    let f = fragment.strip_prefix('#').unwrap_or(fragment).trim();
    if f.is_empty() {
        return Ok(None);
    }
    // Checked here too, so an over-long mode part is not scanned.
    check_length(f, Limits::LINK)?;
    let (embed, rest) = match f.split_once('/') {
        None => (None, f),
        Some(("embed", rest)) => (Some(Embed::ReadOnly), rest),
        Some(("embed+interactive", rest)) => (Some(Embed::Interactive), rest),
        Some((mode, _)) => {
            return Err(PermalinkError::new(
                "mode",
                format!(
                    "{:?} is not a mode: use \"embed/\" or \"embed+interactive/\" before the state",
                    clip(mode)
                ),
            ))
        }
    };
    Ok(Some((embed, rest)))
}

/// Parse a URL fragment (with or without its `#`); `Ok(None)` when it is empty.
#[cfg(feature = "deflate")]
pub fn parse_fragment(fragment: &str) -> Result<Option<Fragment>, PermalinkError> {
    let Some((embed, text)) = split_fragment(fragment)? else {
        return Ok(None);
    };
    Ok(Some(Fragment {
        embed,
        link: decode(text)?,
    }))
}

#[cfg(all(test, feature = "deflate"))]
mod tests {
    use super::*;
    use crate::host::{GicHw, Host};
    use crate::scenario::{parse, LifecycleStep, Num, RegStep, Step};
    use crate::vgic::VmConfig;
    use proptest::prelude::*;

    fn lesson() -> Permalink {
        let sc = parse(
            r#"{"name": "6.17: clear nASSGIcap before init",
                "host": {"gic": "v4.1", "kernel": "6.17"},
                "vm": {"vcpus": 2, "nr_irqs": 96},
                "steps": [
                  {"op": "user_write", "reg": "GICD_TYPER2", "value": "0x0", "note": "clear"},
                  {"op": "init"},
                  {"op": "run"},
                  {"op": "guest_read", "reg": "GICR_TYPER", "vcpu": 1, "width": 64}
                ]}"#,
        )
        .unwrap();
        let mut link = Permalink::new(sc);
        link.cursor = Some(3);
        link.view = "poke".into();
        link.register = Some("GICD_ISENABLER1".into());
        link.vcpu = 1;
        link.value = "0b1_0000".into();
        link.query = "enable".into();
        link.views.insert("poke".into(), "guest 8 0 0x1".into());
        link
    }

    /// Re-encode a payload's raw bytes as a link (for tampering tests).
    fn link_of_json(json: &str) -> String {
        let packed = miniz_oxide::deflate::compress_to_vec(json.as_bytes(), 6);
        format!("v1.{}", URL_SAFE_NO_PAD.encode(packed))
    }

    #[test]
    fn round_trips_exactly() {
        let link = lesson();
        let text = encode(&link);
        assert!(text.starts_with("v1."), "{text}");
        assert!(
            text.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)),
            "URL-safe: {text}"
        );
        assert_eq!(decode(&text).unwrap(), link);
        assert_eq!(link.applied(), 3);
        assert_eq!(Permalink::new(link.scenario.clone()).applied(), 4);
    }

    #[test]
    fn its_scenarios_round_trip_through_links() {
        // Guest memory, ITS registers, commands, MSIs and table saves survive a link.
        for text in [
            include_str!("../../tests/scenarios/its-commands.json"),
            include_str!("../../tests/scenarios/its-save-restore.json"),
            include_str!("../../tests/scenarios/its-registers-reset.json"),
        ] {
            let sc = parse(text).unwrap();
            assert!(!sc.vm.memory.is_empty());
            let link = Permalink::new(sc);
            let back = decode(&encode(&link)).unwrap();
            assert_eq!(back, link);
            let (a, _) = crate::scenario::run(&link.scenario).unwrap();
            let (b, _) = crate::scenario::run(&back.scenario).unwrap();
            assert!(a.passed() && b.passed());
        }
    }

    #[test]
    fn is_compact() {
        // 200 pokes still fit comfortably in a URL.
        let mut link = lesson();
        for i in 0..200u64 {
            link.scenario.steps.push(Step::UserWrite(RegStep {
                reg: Some(format!("GICD_ISENABLER{}", 1 + i % 2)),
                value: Some(Num(i)),
                ..Default::default()
            }));
        }
        let text = encode(&link);
        assert!(text.len() < 4096, "{} bytes", text.len());
        assert_eq!(decode(&text).unwrap(), link);
    }

    #[test]
    fn fragments_carry_the_embed_mode() {
        let link = lesson();
        for embed in [None, Some(Embed::ReadOnly), Some(Embed::Interactive)] {
            let f = Fragment {
                embed,
                link: link.clone(),
            };
            let text = format!("#{f}");
            assert_eq!(parse_fragment(&text).unwrap(), Some(f));
        }
        assert!(Fragment {
            embed: Some(Embed::ReadOnly),
            link: link.clone()
        }
        .to_string()
        .starts_with("embed/v1."));
        assert_eq!(parse_fragment("#").unwrap(), None);
        assert_eq!(parse_fragment("").unwrap(), None);
        let e = parse_fragment(&format!("#frame/{}", encode(&link))).unwrap_err();
        assert_eq!(e.part, "mode");
        assert!(e.reason.contains("\"frame\""), "{e}");
    }

    #[test]
    fn truncated_links_name_the_payload() {
        let text = encode(&lesson());
        for cut in [text.len() - 1, text.len() - 7, text.len() / 2, 4] {
            let e = decode(&text[..cut]).unwrap_err();
            assert_eq!(e.part, "payload", "cut at {cut}: {e}");
        }
        let e = decode("v1.").unwrap_err();
        assert_eq!(e.part, "payload", "{e}");
    }

    #[test]
    fn wrong_or_missing_versions_are_refused() {
        let text = encode(&lesson());
        let e = decode(&text.replacen("v1.", "v2.", 1)).unwrap_err();
        assert_eq!(
            e,
            PermalinkError::new(
                "version",
                "\"v2\" is not a version this gicx reads (it reads v1)"
            )
        );
        let e = decode("hello").unwrap_err();
        assert_eq!(e.part, "version");
        assert!(e.to_string().starts_with("version: missing"), "{e}");
    }

    #[test]
    fn bad_base64_is_named() {
        let e = decode("v1.abc*def").unwrap_err();
        assert_eq!(e.part, "payload");
        assert!(e.reason.starts_with("not base64url"), "{e}");
        // Standard base64's '+' and '/' are not base64url.
        assert_eq!(decode("v1.ab+/").unwrap_err().part, "payload");
    }

    #[test]
    fn damaged_deflate_is_named() {
        let e = decode(&format!("v1.{}", URL_SAFE_NO_PAD.encode([0xFF; 16]))).unwrap_err();
        assert_eq!(e.part, "payload");
        assert!(e.reason.contains("damaged"), "{e}");
    }

    #[test]
    fn a_decompression_bomb_is_refused_without_expanding_it() {
        // 8 MiB of spaces compress to about 8 KiB: a small link, a huge state.
        let bomb = vec![b' '; 8 * 1024 * 1024];
        let packed = miniz_oxide::deflate::compress_to_vec(&bomb, 9);
        let text = format!("v1.{}", URL_SAFE_NO_PAD.encode(packed));
        assert!(text.len() < MAX_LINK_BYTES, "{} bytes", text.len());
        let e = decode(&text).unwrap_err();
        assert_eq!(e.part, "payload");
        assert!(e.reason.contains("expands to more than"), "{e}");
    }

    #[test]
    fn over_long_links_are_refused_before_decoding() {
        let text = format!("v1.{}", "A".repeat(MAX_LINK_BYTES));
        let e = decode(&text).unwrap_err();
        assert_eq!(e.part, "link");
        assert!(e.reason.contains("the limit is 65536"), "{e}");
        assert_eq!(parse_fragment(&text).unwrap_err().part, "link");
        // The storage limits accept it as far as the payload.
        assert_eq!(
            decode_with(&text, Limits::STORAGE).unwrap_err().part,
            "payload"
        );
    }

    #[test]
    fn json_errors_name_the_path() {
        let e = decode(&link_of_json(
            r#"{"scenario": {"host": {"gic": "v9", "kernel": "6.8"}, "steps": []}}"#,
        ))
        .unwrap_err();
        assert_eq!(e.part, "scenario.host.gic", "{e}");
        let e = decode(&link_of_json(
            r#"{"scenario": {"host": {"gic": "v3", "kernel": "6.8"}, "steps": []}, "colour": 1}"#,
        ))
        .unwrap_err();
        assert_eq!(e.part, "colour");
        assert!(e.reason.starts_with("unknown field `colour`"), "{e}");
        let e = decode(&link_of_json(r#"{"scenario": "#)).unwrap_err();
        assert_eq!(e.part, "scenario");
        assert!(e.reason.contains("at byte"), "{e}");
        let e = decode(&link_of_json("42")).unwrap_err();
        assert_eq!(e.part, "state", "{e}");
    }

    #[test]
    fn semantic_errors_name_the_part() {
        let tamper = |f: &dyn Fn(&mut Permalink)| {
            let mut link = lesson();
            f(&mut link);
            decode(&encode(&link)).unwrap_err()
        };
        let e = tamper(&|l| l.cursor = Some(9));
        assert_eq!(e.part, "cursor");
        let e = tamper(&|l| l.register = Some("GICD_TYPR2".into()));
        assert_eq!(e.part, "register");
        assert!(e.reason.contains("did you mean GICD_TYPER2"), "{e}");
        let e = tamper(&|l| l.vcpu = 2);
        assert_eq!(e.to_string(), "vcpu: vCPU 2 does not exist (vm.vcpus = 2)");
        let e = tamper(&|l| l.value = "1".repeat(MAX_TEXT_CHARS + 1));
        assert_eq!(e.part, "value");
        let e = tamper(&|l| {
            l.views
                .insert("poke".into(), "x".repeat(MAX_VIEW_CHARS + 1).into());
        });
        assert_eq!(e.part, "views.poke");
        // A view's JSON state is capped as written (compact JSON).
        let e = tamper(&|l| {
            l.views.insert(
                "matrix".into(),
                serde_json::json!({ "aside": "x".repeat(MAX_VIEW_CHARS) }),
            );
        });
        assert_eq!(e.part, "views.matrix");
        let e = tamper(&|l| {
            l.scenario.steps[0] = Step::UserWrite(RegStep {
                reg: Some("GICD_NOPE".into()),
                value: Some(Num(0)),
                ..Default::default()
            })
        });
        assert_eq!(e.part, "scenario.steps[0].reg", "{e}");
    }

    // ---- property tests: random scenarios round-trip ------------------------------

    fn arb_host() -> impl Strategy<Value = Host> {
        (
            prop_oneof![Just(GicHw::V3), Just(GicHw::V4_0), Just(GicHw::V4_1)],
            any::<bool>(),
            any::<bool>(),
            prop_oneof![
                Just("4.19"),
                Just("5.10"),
                Just("5.15.0-91-generic"),
                Just("6.8"),
                Just("6.17"),
                Just("7.1")
            ],
        )
            .prop_map(|(gic, vsgi, v4, k)| Host::new(gic, vsgi, v4, k.parse().unwrap()).unwrap())
    }

    fn arb_step(vcpus: u32) -> impl Strategy<Value = Step> {
        let reg = (0..catalogue::CATALOGUE.len(), any::<u32>()).prop_map(|(p, i)| {
            let d = &catalogue::CATALOGUE[p];
            d.instance_name(i % d.count())
        });
        let vcpu = prop_oneof![Just(None), (0..vcpus).prop_map(Some)];
        let width = prop_oneof![Just(8u8), Just(16), Just(32), Just(64)];
        let note = prop_oneof![Just(None), "[ -~]{0,12}".prop_map(Some)];
        (reg, vcpu, width, any::<u64>(), 0..7u8, note).prop_map(
            move |(reg, vcpu, width, value, op, note)| {
                let mask = if width == 64 {
                    u64::MAX
                } else {
                    (1 << width) - 1
                };
                let s = RegStep {
                    reg: Some(reg),
                    vcpu,
                    note,
                    ..Default::default()
                };
                match op {
                    0 => Step::GuestRead(RegStep {
                        width: Some(width),
                        ..s
                    }),
                    1 => Step::GuestWrite(RegStep {
                        width: Some(width),
                        value: Some(Num(value & mask)),
                        ..s
                    }),
                    2 => Step::UserRead(s),
                    3 => Step::UserWrite(RegStep {
                        value: Some(Num(value & 0xFFFF_FFFF)),
                        ..s
                    }),
                    4 => Step::UserHas(s),
                    5 => Step::Init(LifecycleStep::default()),
                    _ => Step::Run(LifecycleStep {
                        note: s.note,
                        ..Default::default()
                    }),
                }
            },
        )
    }

    fn arb_link() -> impl Strategy<Value = Permalink> {
        (arb_host(), 1..6u32, 2..31u32, any::<bool>()).prop_flat_map(|(host, vcpus, irqs, its)| {
            let vm = VmConfig::new(vcpus, irqs * 32, its).unwrap();
            (
                prop::collection::vec(arb_step(vcpus), 0..24),
                any::<prop::sample::Index>(),
                prop_oneof![Just(""), Just("registers"), Just("poke"), Just("log")],
                0..vcpus,
                "[ -~]{0,20}",
                prop::option::of(any::<u16>()),
            )
                .prop_map(move |(steps, cursor, view, vcpu, value, width)| {
                    let mut link = Permalink::new(Scenario {
                        name: Some(value.clone()),
                        description: None,
                        note: None,
                        host,
                        vm,
                        steps,
                    });
                    link.cursor = Some(cursor.index(link.scenario.steps.len() + 1));
                    link.view = view.into();
                    link.vcpu = vcpu;
                    link.value = value;
                    link.register = Some("GICD_TYPER2".into());
                    if let Some(w) = width {
                        link.views
                            .insert("poke".into(), format!("vmm {w} \"é\\").into());
                    }
                    link
                })
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn random_states_round_trip(link in arb_link()) {
            let text = encode(&link);
            prop_assert!(text.len() <= MAX_LINK_BYTES);
            prop_assert_eq!(decode(&text).unwrap(), link);
        }

        #[test]
        fn any_cut_of_a_link_is_refused_or_decodes(link in arb_link(), cut in any::<prop::sample::Index>()) {
            let text = encode(&link);
            let cut = cut.index(text.len());
            // A shorter link is never decoded as something else silently: either it
            // is refused with a named part, or it is the same state.
            match decode(&text[..cut]) {
                Ok(other) => prop_assert_eq!(other, link),
                Err(e) => prop_assert!(!e.part.is_empty() && !e.reason.is_empty()),
            }
        }

        #[test]
        fn flipped_characters_never_panic(link in arb_link(), at in any::<prop::sample::Index>(), c in "[A-Za-z0-9_-]") {
            let mut text = encode(&link).into_bytes();
            let i = 3 + at.index(text.len() - 3);
            text[i] = c.as_bytes()[0];
            let _ = decode(std::str::from_utf8(&text).unwrap());
        }
    }
}
