//! `canonical`: the bytes signatures cover, for comparing our encoder with other TUF
//! implementations (CI checks it against securesystemslib byte for byte).

use serde::Serialize;
use serde_json::Value;

use crate::error::{Error, Result};

/// The canonical JSON of a document's `signed` object, or of the whole document.
pub fn canonical(document: &[u8], whole: bool) -> Result<Vec<u8>> {
    let value: Value =
        serde_json::from_slice(document).map_err(|e| Error::Usage(format!("not JSON: {e}")))?;
    let value = if whole {
        &value
    } else {
        value.get("signed").ok_or_else(|| {
            Error::Usage("the document has no `signed` object (use --whole for any JSON)".into())
        })?
    };
    Ok(uptane::canonical::to_vec(value)?)
}

/// One result of `canonical --batch`: hex of the canonical bytes, or why there are none.
#[derive(Debug, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BatchResult {
    Hex(String),
    Error(String),
}

/// Encodes each JSON text of `texts` (a JSON array of strings) canonically, whole. Hex keeps
/// the comparison byte-exact whatever the bytes are.
pub fn batch(texts: &[u8]) -> Result<Vec<BatchResult>> {
    let texts: Vec<String> = serde_json::from_slice(texts).map_err(|e| {
        Error::Usage(format!("--batch expects a JSON array of JSON texts (strings): {e}"))
    })?;
    Ok(texts
        .iter()
        .map(|text| match canonical(text.as_bytes(), true) {
            Ok(bytes) => BatchResult::Hex(hex::encode(bytes)),
            Err(e) => BatchResult::Error(e.to_string()),
        })
        .collect())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn signed_part_by_default() {
        let doc = br#"{"signatures":[],"signed":{"b":1,"a":"x"}}"#;
        assert_eq!(canonical(doc, false).unwrap(), br#"{"a":"x","b":1}"#);
        assert_eq!(canonical(doc, true).unwrap(), br#"{"signatures":[],"signed":{"a":"x","b":1}}"#);
        assert!(canonical(b"{}", false).is_err());
    }

    #[test]
    fn batch_reports_each_case() {
        let results = batch(br#"["{\"a\": 1}", "1.5", "nope"]"#).unwrap();
        assert!(matches!(&results[0], BatchResult::Hex(h) if h == &hex::encode(br#"{"a":1}"#)));
        assert!(matches!(results[1], BatchResult::Error(_)));
        assert!(matches!(results[2], BatchResult::Error(_)));
    }
}
