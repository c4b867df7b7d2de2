//! Parsing what a person types into the value tester: `0x1F`, `31`, `0b1_1111`.

use thiserror::Error;

/// Why a typed value is not a register value.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum ValueError {
    #[error("{text:?} is not a {radix} number")]
    NotANumber { text: String, radix: Radix },
    #[error("{text:?} does not fit in 64 bits")]
    TooLarge { text: String },
    #[error("{value:#x} does not fit in the {bits}-bit register")]
    TooWide { value: u64, bits: u32 },
}

/// The base a value was written in, from its prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Radix {
    Binary,
    Decimal,
    Hex,
}

impl std::fmt::Display for Radix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Radix::Binary => "binary (0b…)",
            Radix::Decimal => "decimal",
            Radix::Hex => "hex (0x…)",
        })
    }
}

/// Parse `0x…` (hex), `0b…` (binary) or decimal; `_` separators and
/// surrounding blanks are allowed, as in Rust literals and the kernel's tables.
///
/// ```
/// use gicx_web::value::parse_value;
/// assert_eq!(parse_value("0x100"), Ok(256));
/// assert_eq!(parse_value(" 0b1_0000_0000 "), Ok(256));
/// assert_eq!(parse_value("256"), Ok(256));
/// ```
pub fn parse_value(text: &str) -> Result<u64, ValueError> {
    let trimmed = text.trim();
    let lower = trimmed.to_ascii_lowercase();
    let (radix, digits) = if let Some(d) = lower.strip_prefix("0x") {
        (Radix::Hex, d)
    } else if let Some(d) = lower.strip_prefix("0b") {
        (Radix::Binary, d)
    } else {
        (Radix::Decimal, lower.as_str())
    };
    let digits: String = digits.chars().filter(|c| *c != '_').collect();
    let base = match radix {
        Radix::Binary => 2,
        Radix::Decimal => 10,
        Radix::Hex => 16,
    };
    // `from_str_radix` accepts a leading `+`; a register value has no sign.
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(base)) {
        return Err(ValueError::NotANumber {
            text: trimmed.to_string(),
            radix,
        });
    }
    u64::from_str_radix(&digits, base).map_err(|_| ValueError::TooLarge {
        text: trimmed.to_string(),
    })
}

/// Parse a value for a register of `bits` bits (32 or 64).
pub fn parse_register_value(text: &str, bits: u32) -> Result<u64, ValueError> {
    let value = parse_value(text)?;
    if bits < 64 && value >> bits != 0 {
        return Err(ValueError::TooWide { value, bits });
    }
    Ok(value)
}

/// How a decoded field value is shown: small values in decimal, others in hex
/// with the decimal after it.
pub fn format_field_value(value: u64) -> String {
    if value < 10 {
        value.to_string()
    } else {
        format!("{value:#X} ({value})").replacen("0X", "0x", 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_three_notations() {
        assert_eq!(parse_value("0x100"), Ok(0x100));
        assert_eq!(parse_value("0XfF"), Ok(0xff));
        assert_eq!(parse_value("0xFFFF_FFFF"), Ok(0xffff_ffff));
        assert_eq!(parse_value("0b101"), Ok(5));
        assert_eq!(parse_value("4096"), Ok(4096));
        assert_eq!(parse_value("0"), Ok(0));
        assert_eq!(parse_value("0xFFFFFFFFFFFFFFFF"), Ok(u64::MAX));
    }

    #[test]
    fn rejects_what_is_not_a_number_and_says_which_notation() {
        assert_eq!(
            parse_value(""),
            Err(ValueError::NotANumber {
                text: String::new(),
                radix: Radix::Decimal
            })
        );
        assert_eq!(
            parse_value("0x"),
            Err(ValueError::NotANumber {
                text: "0x".into(),
                radix: Radix::Hex
            })
        );
        assert_eq!(
            parse_value("0b102"),
            Err(ValueError::NotANumber {
                text: "0b102".into(),
                radix: Radix::Binary
            })
        );
        assert_eq!(
            parse_value("+5"),
            Err(ValueError::NotANumber {
                text: "+5".into(),
                radix: Radix::Decimal
            })
        );
        assert_eq!(
            parse_value("-1"),
            Err(ValueError::NotANumber {
                text: "-1".into(),
                radix: Radix::Decimal
            })
        );
        assert_eq!(
            parse_value("0x1_0000_0000_0000_0000"),
            Err(ValueError::TooLarge {
                text: "0x1_0000_0000_0000_0000".into()
            })
        );
    }

    #[test]
    fn register_width_bounds_the_value() {
        assert_eq!(parse_register_value("0xFFFFFFFF", 32), Ok(0xffff_ffff));
        assert_eq!(
            parse_register_value("0x1_0000_0000", 32),
            Err(ValueError::TooWide {
                value: 1 << 32,
                bits: 32
            })
        );
        assert_eq!(parse_register_value("0x1_0000_0000", 64), Ok(1 << 32));
        assert_eq!(
            ValueError::TooWide {
                value: 1 << 32,
                bits: 32
            }
            .to_string(),
            "0x100000000 does not fit in the 32-bit register"
        );
    }

    #[test]
    fn field_values_read_naturally() {
        assert_eq!(format_field_value(1), "1");
        assert_eq!(format_field_value(0x4b), "0x4B (75)");
    }
}
