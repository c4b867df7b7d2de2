//! Parsing what a person types into the value tester (`0x1F`, `31`,
//! `0b1_1111`) and the Poke form: the core's one number parser
//! ([`gicx_core::number`], shared with scenario files and the CLI), bounded
//! by the register's size.

use thiserror::Error;

pub use gicx_core::number::{parse as parse_value, NumberError, Radix};

/// Why a typed value is not a register value.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum ValueError {
    /// Not a number at all, or more than 64 bits ([`gicx_core::number`]).
    #[error(transparent)]
    Number(#[from] NumberError),
    #[error("{value:#x} does not fit in the {bits}-bit register")]
    TooWide { value: u64, bits: u32 },
}

/// Parse a value for a register of `bits` bits (32 or 64).
pub fn parse_register_value(text: &str, bits: u32) -> Result<u64, ValueError> {
    gicx_core::number::parse_bits(text, bits).map_err(|e| match e {
        NumberError::TooWide { value, bits } => ValueError::TooWide { value, bits },
        e => ValueError::Number(e),
    })
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
        assert_eq!(parse_value("0xFFFFFFFFFFFFFFFF"), Ok(u64::MAX));
    }

    #[test]
    fn rejects_what_is_not_a_number_and_says_which_notation() {
        let not = |text: &str, radix| {
            Err(ValueError::Number(NumberError::NotANumber {
                text: text.into(),
                radix,
            }))
        };
        assert_eq!(parse_register_value("", 32), not("", Radix::Decimal));
        assert_eq!(parse_register_value("0x", 32), not("0x", Radix::Hex));
        assert_eq!(
            parse_register_value("0b102", 32),
            not("0b102", Radix::Binary)
        );
        // The one rule for signs (gicx_core::number): none, "+" included.
        assert_eq!(parse_register_value("+5", 32), not("+5", Radix::Decimal));
        assert_eq!(parse_register_value("-1", 32), not("-1", Radix::Decimal));
        assert_eq!(
            parse_register_value("0x1_0000_0000_0000_0000", 64),
            Err(ValueError::Number(NumberError::TooLarge {
                text: "0x1_0000_0000_0000_0000".into()
            }))
        );
        assert_eq!(
            parse_register_value("0xg", 32).unwrap_err().to_string(),
            "\"0xg\" is not a hex (0x…) number"
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
