//! A view's own part of a link (`views.<id>` in `gicx_core::permalink`): one
//! serde struct per view, written as a JSON object. Links made before these
//! structs held a string in a text form each view defined ("vmm 32 4 0x1f");
//! [`read`] still opens them with that view's old reader, so no link that
//! opened before stops opening.

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

/// A view's link struct as the JSON a link carries.
pub fn write<T: Serialize>(link: &T) -> Value {
    // A struct of strings, numbers and options always serializes.
    serde_json::to_value(link).unwrap_or(Value::Null)
}

/// A view's state from a link: an object read by serde into `T`, then checked
/// and converted by `check`; a string (a link from before) read by `old_text`.
pub fn read<T: DeserializeOwned, S>(
    value: &Value,
    check: impl FnOnce(T) -> Result<S, String>,
    old_text: impl FnOnce(&str) -> Result<S, String>,
) -> Result<S, String> {
    match value {
        Value::String(text) => old_text(text),
        Value::Object(_) => check(T::deserialize(value).map_err(|e| e.to_string())?),
        other => Err(format!("{} is not an object", kind(other))),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Demo {
        n: u32,
    }

    fn demo(v: &Value) -> Result<u32, String> {
        read(
            v,
            |d: Demo| (d.n < 10).then_some(d.n).ok_or("n too big".into()),
            |t| t.parse().map_err(|_| format!("{t:?} is not n")),
        )
    }

    #[test]
    fn objects_strings_and_the_rest() {
        assert_eq!(demo(&write(&Demo { n: 3 })), Ok(3));
        assert_eq!(demo(&"4".into()), Ok(4), "the old text form");
        assert_eq!(demo(&"x".into()), Err("\"x\" is not n".into()));
        assert_eq!(demo(&write(&Demo { n: 30 })), Err("n too big".into()));
        assert!(demo(&serde_json::json!({"n": 1, "m": 2}))
            .unwrap_err()
            .contains("unknown field"));
        assert_eq!(demo(&Value::Null), Err("null is not an object".into()));
        assert_eq!(
            demo(&serde_json::json!([1])),
            Err("an array is not an object".into())
        );
    }
}
