//! OLPC canonical JSON, byte-identical to securesystemslib's `encode_canonical`.
//!
//! Signatures are computed over these bytes, so every TUF client in the field must agree with us
//! exactly. We own this encoder instead of using olpc-cjson because that crate orders keys by
//! their escaped bytes (`"app!"` before `"app"`) where securesystemslib sorts by code point, and
//! because it is far too slow for the Director's and the Primary's hot paths. olpc-cjson stays
//! as a test oracle for inputs where the two orders agree.
//!
//! The rules: object keys sorted by code point (`serde_json::Map` is a `BTreeMap<String, _>`,
//! whose byte order on UTF-8 is code-point order); no whitespace; in strings only `\` and `"`
//! are escaped, everything else (control characters, non-ASCII) is written raw; integers only.

mod check;
mod serializer;

pub use check::is_canonical;

use serde_json::Value;

use crate::error::{Error, Result};

/// Encodes `value` canonically.
pub fn to_vec(value: &Value) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(256);
    write(&mut out, value)?;
    Ok(out)
}

/// Encodes any serialisable value canonically, straight from its `Serialize` impl.
pub fn to_vec_from<T: serde::Serialize + ?Sized>(value: &T) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(256);
    serializer::write_serialize(&mut out, value).map_err(|e| Error::Canonical(e.0))?;
    Ok(out)
}

/// Appends the canonical encoding of `value` to `out`.
pub fn write(out: &mut Vec<u8>, value: &Value) -> Result<()> {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => {
            if let Some(i) = n.as_u64() {
                write_u64(out, i);
            } else if let Some(i) = n.as_i64() {
                write_i64(out, i);
            } else {
                return Err(Error::Canonical(format!("{n} is not an integer")));
            }
        }
        Value::String(s) => write_str(out, s),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write(out, item)?;
            }
            out.push(b']');
        }
        Value::Object(map) => {
            out.push(b'{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_str(out, key);
                out.push(b':');
                write(out, item)?;
            }
            out.push(b'}');
        }
    }
    Ok(())
}

/// Orders two canonically escaped strings by the code points they denote. UTF-8 byte order is
/// code-point order, but an escape must be undone first: `\` sorts differently from what it
/// escapes.
fn key_cmp(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    if !a.contains(&b'\\') && !b.contains(&b'\\') {
        return a.cmp(b);
    }
    unescape(a).cmp(&unescape(b))
}

fn unescape(escaped: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(escaped.len());
    let mut bytes = escaped.iter();
    while let Some(&b) = bytes.next() {
        out.push(if b == b'\\' { bytes.next().copied().unwrap_or(b) } else { b });
    }
    out
}

fn write_u64(out: &mut Vec<u8>, value: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
}

fn write_i64(out: &mut Vec<u8>, value: i64) {
    out.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
}

fn write_str(out: &mut Vec<u8>, s: &str) {
    out.reserve(s.len() + 2);
    out.push(b'"');
    let mut rest = s.as_bytes();
    while let Some(i) = memchr::memchr2(b'"', b'\\', rest) {
        out.extend_from_slice(&rest[..i]);
        out.push(b'\\');
        out.push(rest[i]);
        rest = &rest[i + 1..];
    }
    out.extend_from_slice(rest);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The corpus securesystemslib produced (copied from shared/testdata).
    const CORPUS: &str = include_str!("../../tests/data/canonical-json.json");

    #[derive(serde::Deserialize)]
    struct Case {
        name: String,
        input: String,
        canonical: String,
    }

    #[test]
    fn matches_securesystemslib_corpus() {
        let cases: Vec<Case> = serde_json::from_str(CORPUS).unwrap();
        assert!(cases.len() >= 7);
        for case in cases {
            let value: Value = serde_json::from_str(&case.input).unwrap();
            let got = to_vec(&value).unwrap();
            assert_eq!(String::from_utf8(got).unwrap(), case.canonical, "case {}", case.name);
        }
    }

    #[test]
    fn agrees_with_olpc_cjson_where_orders_agree() {
        let inputs = [
            r#"{"b":[1,2,{"z":null,"a":true}],"a":"x\"y\\z","c":-5,"d":18446744073709551615}"#,
            r#"{"signed":{"_type":"root","keys":{"ab":{"keyval":{"public":"ff"}}}},"s":[]}"#,
            r#"{"nested":{"deeper":{"deepest":[[],{},""]}},"unicode":"caf\u00e9 \u4e2d"}"#,
        ];
        for input in inputs {
            let value: Value = serde_json::from_str(input).unwrap();
            let mut oracle = Vec::new();
            let mut ser = serde_json::Serializer::with_formatter(
                &mut oracle,
                olpc_cjson::CanonicalFormatter::new(),
            );
            serde::Serialize::serialize(&value, &mut ser).unwrap();
            assert_eq!(to_vec(&value).unwrap(), oracle, "input {input}");
        }
    }

    #[test]
    fn prefix_keys_sort_by_code_point() {
        let value: Value = serde_json::from_str(r#"{"app!":3,"app v2":2,"app":1}"#).unwrap();
        assert_eq!(to_vec(&value).unwrap(), br#"{"app":1,"app v2":2,"app!":3}"#);
    }

    #[test]
    fn typed_and_generic_encodings_agree() {
        let cases: Vec<Case> = serde_json::from_str(CORPUS).unwrap();
        for case in cases {
            let value: Value = serde_json::from_str(&case.input).unwrap();
            assert_eq!(
                to_vec_from(&value).unwrap(),
                case.canonical.as_bytes(),
                "case {}",
                case.name
            );
        }
        #[derive(serde::Serialize)]
        struct Typed {
            zeta: Option<u8>,
            alpha: Vec<i32>,
            #[serde(flatten)]
            extra: std::collections::BTreeMap<String, String>,
        }
        let typed =
            Typed { zeta: None, alpha: vec![-1, 2], extra: [("mid".into(), "q\"".into())].into() };
        let generic = serde_json::to_value(&typed).unwrap();
        assert_eq!(to_vec_from(&typed).unwrap(), to_vec(&generic).unwrap());
        assert_eq!(to_vec_from(&typed).unwrap(), br#"{"alpha":[-1,2],"mid":"q\"","zeta":null}"#);
    }

    #[test]
    fn duplicate_keys_from_flattening_are_refused() {
        #[derive(serde::Serialize)]
        struct Clash {
            a: u8,
            #[serde(flatten)]
            extra: std::collections::BTreeMap<String, u8>,
        }
        let clash = Clash { a: 1, extra: [("a".into(), 2)].into() };
        assert!(matches!(to_vec_from(&clash), Err(Error::Canonical(_))));
    }

    #[test]
    fn floats_are_refused() {
        let value: Value = serde_json::from_str(r#"{"x":1.5}"#).unwrap();
        assert!(matches!(to_vec(&value), Err(Error::Canonical(_))));
    }

    #[test]
    fn extreme_integers() {
        let value: Value = serde_json::from_str(&format!("[{},{},0]", i64::MIN, u64::MAX)).unwrap();
        assert_eq!(to_vec(&value).unwrap(), format!("[{},{},0]", i64::MIN, u64::MAX).as_bytes());
    }
}
