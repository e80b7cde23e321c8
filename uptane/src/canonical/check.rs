//! Recognising text that is already canonical, so it can be verified as it stands.
//!
//! Our services, and any careful signer, publish `signed` in canonical form. When it is, the
//! received bytes are themselves the signed message and can be decoded straight into typed
//! metadata: no generic value, no re-encoding. Anything else takes the general path.

/// Whether `text` is exactly what [`super::to_vec`] would write for the value it denotes.
pub fn is_canonical(text: &[u8]) -> bool {
    let mut scanner = Scanner { text, at: 0, depth: 0 };
    scanner.value() && scanner.at == text.len()
}

/// Nesting beyond this is refused (and left to the general path, which refuses it too).
const MAX_DEPTH: u32 = 128;

struct Scanner<'a> {
    text: &'a [u8],
    at: usize,
    depth: u32,
}

/// A string's raw contents, escapes included.
struct Str<'a> {
    raw: &'a [u8],
}

impl<'a> Scanner<'a> {
    fn peek(&self) -> Option<u8> {
        self.text.get(self.at).copied()
    }

    fn eat(&mut self, byte: u8) -> bool {
        let matches = self.peek() == Some(byte);
        self.at += usize::from(matches);
        matches
    }

    fn value(&mut self) -> bool {
        match self.peek() {
            Some(b'{') => self.nested(Scanner::object),
            Some(b'[') => self.nested(Scanner::array),
            Some(b'"') => self.string().is_some(),
            Some(b't') => self.literal(b"true"),
            Some(b'f') => self.literal(b"false"),
            Some(b'n') => self.literal(b"null"),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => false,
        }
    }

    fn nested(&mut self, inner: fn(&mut Scanner<'a>) -> bool) -> bool {
        self.depth += 1;
        let ok = self.depth <= MAX_DEPTH && inner(self);
        self.depth -= 1;
        ok
    }

    fn literal(&mut self, word: &[u8]) -> bool {
        let matches = self.text[self.at..].starts_with(word);
        self.at += if matches { word.len() } else { 0 };
        matches
    }

    /// An integer in canonical form that fits in 64 bits (as the encoder requires).
    fn number(&mut self) -> bool {
        let start = self.at;
        let negative = self.eat(b'-');
        let digits = self.at;
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.at += 1;
        }
        let number = &self.text[digits..self.at];
        let well_formed = match number {
            [] => false,
            [b'0'] => !negative,
            [b'0', ..] => false,
            _ => true,
        };
        let text = std::str::from_utf8(&self.text[start..self.at]).unwrap_or_default();
        let fits = if negative { text.parse::<i64>().is_ok() } else { text.parse::<u64>().is_ok() };
        well_formed && fits && !matches!(self.peek(), Some(b'.' | b'e' | b'E'))
    }

    /// A string whose only escapes are `\"` and `\\`.
    fn string(&mut self) -> Option<Str<'a>> {
        if !self.eat(b'"') {
            return None;
        }
        let start = self.at;
        loop {
            let offset = memchr::memchr2(b'"', b'\\', &self.text[self.at..])?;
            self.at += offset;
            if self.eat(b'"') {
                return Some(Str { raw: &self.text[start..self.at - 1] });
            }
            self.at += 1;
            if !(self.eat(b'"') || self.eat(b'\\')) {
                return None;
            }
        }
    }

    fn array(&mut self) -> bool {
        self.at += 1;
        if self.eat(b']') {
            return true;
        }
        loop {
            if !self.value() {
                return false;
            }
            if self.eat(b']') {
                return true;
            }
            if !self.eat(b',') {
                return false;
            }
        }
    }

    /// An object whose keys are unique and in code-point order.
    fn object(&mut self) -> bool {
        self.at += 1;
        if self.eat(b'}') {
            return true;
        }
        let mut previous: Option<Str<'a>> = None;
        loop {
            let Some(key) = self.string() else { return false };
            if previous.as_ref().is_some_and(|p| !in_order(p, &key)) {
                return false;
            }
            if !(self.eat(b':') && self.value()) {
                return false;
            }
            previous = Some(key);
            if self.eat(b'}') {
                return true;
            }
            if !self.eat(b',') {
                return false;
            }
        }
    }
}

/// Whether `a < b` by code point.
fn in_order(a: &Str<'_>, b: &Str<'_>) -> bool {
    super::key_cmp(a.raw, b.raw) == std::cmp::Ordering::Less
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_text_is_recognised() {
        for text in [
            r#"{}"#,
            r#"{"a":1,"b":[true,false,null,-5,0,18446744073709551615],"c":{"d":"x\"y\\z"}}"#,
            r#"{"app":1,"app v2":2,"app!":3}"#,
            r#"{"a\"":1,"a#":2}"#,
            "{\"ctl\":\"a\u{1}b\",\"e\":\"\u{e9}\"}",
            r#"[]"#,
            r#""s""#,
        ] {
            assert!(is_canonical(text.as_bytes()), "{text}");
        }
    }

    #[test]
    fn anything_else_is_not() {
        for text in [
            r#"{"b":1,"a":2}"#,
            r#"{"a":1,"a":2}"#,
            r#"{"a#":2,"a\"":1}"#,
            r#"{ "a":1}"#,
            r#"{"a":1}  "#,
            r#"{"a":1.0}"#,
            r#"{"a":1e3}"#,
            r#"{"a":-0}"#,
            r#"{"a":01}"#,
            r#"{"a":18446744073709551616}"#,
            r#"{"a":-9223372036854775809}"#,
            r#"{"a":"\n"}"#,
            r#"{"a":"\u00e9"}"#,
            r#"{"a":"\/"}"#,
            r#"{"a":[1,]}"#,
            r#"{"a":tru}"#,
            r#"{"a""#,
            "",
        ] {
            assert!(!is_canonical(text.as_bytes()), "{text}");
        }
        assert!(!is_canonical(
            &[b'['; 200].iter().chain(&[b']'; 200]).copied().collect::<Vec<_>>()
        ));
    }

    #[test]
    fn agrees_with_the_encoder_on_the_corpus() {
        #[derive(serde::Deserialize)]
        struct Case {
            input: String,
            canonical: String,
        }
        let cases: Vec<Case> =
            serde_json::from_str(include_str!("../../tests/data/canonical-json.json")).unwrap();
        for case in cases {
            assert!(is_canonical(case.canonical.as_bytes()), "{}", case.canonical);
            let value: serde_json::Value = serde_json::from_str(&case.input).unwrap();
            let reencoded = super::super::to_vec(&value).unwrap();
            assert_eq!(is_canonical(case.input.as_bytes()), reencoded == case.input.as_bytes());
        }
    }
}
