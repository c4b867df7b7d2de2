//! The one parser for numbers people type: scenario files (`"0x4b00343b"`),
//! the CLI's value arguments (`gicx decode GICD_CTLR 0x152`) and the web app's
//! value tester, offsets, INTIDs and vCPU lists.
//!
//! Accepted, with blanks around it ignored:
//! - hex `0x1F` / `0X1f`, binary `0b101` / `0B101`, or decimal `31`;
//! - `_` separators anywhere after the prefix (`0xFFFF_FFFF`, `1_000`,
//!   `0x_1`), as in Rust literals and the kernel's tables, but at least one digit;
//! - up to 64 bits.
//!
//! Refused, with the reason: no digits (`""`, `0x`, `_`), a digit outside the
//! notation (`0b102`, `0xg`), more than 64 bits, and **any sign**: `-1` and
//! `+1` alike. Register values, offsets, INTIDs and vCPU numbers have no sign;
//! a JSON number cannot be written `+1` either. (Until this module, scenarios
//! and the CLI used `u64::from_str`, which takes a leading `+`, also after
//! `0x`, while the app refused it: one rule now, the app's.)
//!
//! ```
//! use gicx_core::number::{parse, parse_bits, NumberError, Radix};
//! assert_eq!(parse("0x100"), Ok(256));
//! assert_eq!(parse(" 0b1_0000_0000 "), Ok(256));
//! assert_eq!(parse("256"), Ok(256));
//! assert_eq!(
//!     parse("+1"),
//!     Err(NumberError::NotANumber { text: "+1".into(), radix: Radix::Decimal })
//! );
//! assert_eq!(
//!     parse_bits("0x1_0000_0000", 32).unwrap_err().to_string(),
//!     "0x100000000 does not fit in 32 bits"
//! );
//! ```

use std::fmt;

use thiserror::Error;

/// Why a text is not a number (or not one of the wanted size).
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum NumberError {
    /// No digits, a digit outside the notation, or a sign.
    #[error("{text:?} is not a {radix} number")]
    NotANumber { text: String, radix: Radix },
    /// More than 64 bits.
    #[error("{text:?} does not fit in 64 bits")]
    TooLarge { text: String },
    /// More bits than the caller allows ([`parse_bits`]).
    #[error("{value:#x} does not fit in {bits} bits")]
    TooWide { value: u64, bits: u32 },
}

/// The notation a number was written in, from its prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Radix {
    Binary,
    Decimal,
    Hex,
}

impl Radix {
    fn base(self) -> u32 {
        match self {
            Radix::Binary => 2,
            Radix::Decimal => 10,
            Radix::Hex => 16,
        }
    }
}

impl fmt::Display for Radix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Radix::Binary => "binary (0b…)",
            Radix::Decimal => "decimal",
            Radix::Hex => "hex (0x…)",
        })
    }
}

/// Parse hex (`0x…`), binary (`0b…`) or decimal, with `_` separators; see the
/// module documentation for exactly what is accepted.
pub fn parse(text: &str) -> Result<u64, NumberError> {
    let trimmed = text.trim();
    let (radix, digits) = match trimmed.get(..2) {
        Some("0x" | "0X") => (Radix::Hex, &trimmed[2..]),
        Some("0b" | "0B") => (Radix::Binary, &trimmed[2..]),
        _ => (Radix::Decimal, trimmed),
    };
    let not_a_number = || NumberError::NotANumber {
        text: trimmed.to_string(),
        radix,
    };
    let base = radix.base();
    let mut value: u64 = 0;
    let mut any = false;
    for c in digits.chars() {
        if c == '_' {
            continue;
        }
        // `to_digit` refuses `+` and `-`: unlike `u64::from_str_radix`, no sign.
        let d = c.to_digit(base).ok_or_else(not_a_number)?;
        any = true;
        value = value
            .checked_mul(base as u64)
            .and_then(|v| v.checked_add(d as u64))
            .ok_or_else(|| NumberError::TooLarge {
                text: trimmed.to_string(),
            })?;
    }
    if !any {
        return Err(not_a_number());
    }
    Ok(value)
}

/// [`parse`], then refuse a value wider than `bits` bits (a 32-bit register, a
/// `u32` INTID).
pub fn parse_bits(text: &str, bits: u32) -> Result<u64, NumberError> {
    let value = parse(text)?;
    if bits < 64 && value >> bits != 0 {
        return Err(NumberError::TooWide { value, bits });
    }
    Ok(value)
}

/// [`parse`] for a `u32` (an INTID, a vCPU, an offset).
pub fn parse_u32(text: &str) -> Result<u32, NumberError> {
    parse_bits(text, 32).map(|v| v as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn not(text: &str, radix: Radix) -> Result<u64, NumberError> {
        Err(NumberError::NotANumber {
            text: text.trim().into(),
            radix,
        })
    }

    #[test]
    fn accepts_the_three_notations_with_separators() {
        assert_eq!(parse("0x100"), Ok(0x100));
        assert_eq!(parse("0XfF"), Ok(0xff));
        assert_eq!(parse("0xFFFF_FFFF"), Ok(0xffff_ffff));
        assert_eq!(parse("0x_1"), Ok(1));
        assert_eq!(parse("0b101"), Ok(5));
        assert_eq!(parse("0B1_0000_0000"), Ok(256));
        assert_eq!(parse("4096"), Ok(4096));
        assert_eq!(parse("1_000"), Ok(1000));
        assert_eq!(parse("0"), Ok(0));
        assert_eq!(parse("007"), Ok(7), "leading zeros are decimal, not octal");
        assert_eq!(parse("  42\t"), Ok(42));
        assert_eq!(parse("0xFFFFFFFFFFFFFFFF"), Ok(u64::MAX));
        assert_eq!(parse("18446744073709551615"), Ok(u64::MAX));
    }

    #[test]
    fn refuses_signs_both_of_them() {
        assert_eq!(parse("+1"), not("+1", Radix::Decimal));
        assert_eq!(parse("-1"), not("-1", Radix::Decimal));
        assert_eq!(parse("0x+1"), not("0x+1", Radix::Hex));
        assert_eq!(parse("0b-1"), not("0b-1", Radix::Binary));
    }

    #[test]
    fn refuses_what_has_no_digits_or_wrong_ones_naming_the_notation() {
        assert_eq!(parse(""), not("", Radix::Decimal));
        assert_eq!(parse("_"), not("_", Radix::Decimal));
        assert_eq!(parse("0x"), not("0x", Radix::Hex));
        assert_eq!(parse("0x_"), not("0x_", Radix::Hex));
        assert_eq!(parse("0b102"), not("0b102", Radix::Binary));
        assert_eq!(parse("0xg"), not("0xg", Radix::Hex));
        assert_eq!(parse("1 2"), not("1 2", Radix::Decimal));
        assert_eq!(
            parse("0_x10"),
            not("0_x10", Radix::Decimal),
            "the prefix is whole"
        );
        assert_eq!(parse("1.5"), not("1.5", Radix::Decimal));
        assert_eq!(parse("٣"), not("٣", Radix::Decimal), "ASCII digits only");
        assert_eq!(
            parse("0b102").unwrap_err().to_string(),
            "\"0b102\" is not a binary (0b…) number"
        );
    }

    #[test]
    fn refuses_more_than_64_bits_or_the_asked_width() {
        let big = "0x1_0000_0000_0000_0000";
        assert_eq!(parse(big), Err(NumberError::TooLarge { text: big.into() }));
        assert_eq!(
            parse("18446744073709551616"),
            Err(NumberError::TooLarge {
                text: "18446744073709551616".into()
            })
        );
        assert_eq!(parse_bits("0xFFFFFFFF", 32), Ok(0xffff_ffff));
        assert_eq!(
            parse_bits("0x1_0000_0000", 32),
            Err(NumberError::TooWide {
                value: 1 << 32,
                bits: 32
            })
        );
        assert_eq!(parse_bits("0x1_0000_0000", 64), Ok(1 << 32));
        assert_eq!(parse_u32("0x10"), Ok(16));
        assert!(parse_u32("4294967296").is_err());
    }

    #[test]
    fn agrees_with_rust_literals_where_both_are_defined() {
        for (text, v) in [
            ("0xdead_beef", 0xdead_beefu64),
            ("0b1010", 0b1010),
            ("123", 123),
        ] {
            assert_eq!(parse(text), Ok(v), "{text}");
        }
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        /// `v` written in `radix` with `_` inserted after the digits `cuts` picks.
        fn written(v: u64, radix: Radix, cuts: &[bool]) -> String {
            let (prefix, digits) = match radix {
                Radix::Hex => ("0x", format!("{v:x}")),
                Radix::Binary => ("0b", format!("{v:b}")),
                Radix::Decimal => ("", v.to_string()),
            };
            let mut out = prefix.to_string();
            for (i, d) in digits.chars().enumerate() {
                out.push(d);
                if cuts.get(i).copied().unwrap_or(false) {
                    out.push('_');
                }
            }
            out
        }

        fn radix() -> impl Strategy<Value = Radix> {
            prop_oneof![Just(Radix::Hex), Just(Radix::Binary), Just(Radix::Decimal)]
        }

        proptest! {
            #[test]
            fn every_u64_reads_back_in_every_notation(
                v in any::<u64>(),
                r in radix(),
                cuts in proptest::collection::vec(any::<bool>(), 0..64),
            ) {
                prop_assert_eq!(parse(&written(v, r, &cuts)), Ok(v));
                prop_assert_eq!(parse(&written(v, r, &cuts).to_uppercase()), Ok(v));
            }

            #[test]
            fn a_sign_is_always_refused(v in any::<u64>(), r in radix(), sign in "[+-]") {
                let text = written(v, r, &[]);
                let signed = match text.get(..2) {
                    Some("0x" | "0b") => format!("{}{sign}{}", &text[..2], &text[2..]),
                    _ => format!("{sign}{text}"),
                };
                let refused = matches!(parse(&signed), Err(NumberError::NotANumber { .. }));
                prop_assert!(refused, "{signed:?} was read");
            }

            #[test]
            fn any_text_is_read_or_refused_with_its_reason(text in "\\PC{0,40}") {
                if let Err(e) = parse(&text) {
                    prop_assert!(!e.to_string().is_empty());
                }
            }
        }
    }
}
