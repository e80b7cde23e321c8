//! Validated names for the security-relevant strings of Uptane.
//!
//! Each is checked once, when it is made, so the rest of the code can use it in a path, a URL or
//! a comparison without re-checking. All must be NFC (Standard 5.2): two spellings of one name
//! must never compare unequal.

use std::fmt;

use serde::{Deserialize, Serialize};
use unicode_normalization::is_nfc;

use crate::error::{Error, Result};

macro_rules! name_type {
    ($(#[$doc:meta])* $name:ident, $what:literal, $check:path) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Validates `value`.
            pub fn new(value: impl Into<String>) -> Result<Self> {
                let value = value.into();
                match $check(&value) {
                    Ok(()) => Ok(Self(value)),
                    Err(reason) => Err(Error::InvalidName { what: $what, value, reason }),
                }
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = Error;
            fn try_from(value: String) -> Result<Self> {
                Self::new(value)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }

        impl std::str::FromStr for $name {
            type Err = Error;
            fn from_str(value: &str) -> Result<Self> {
                Self::new(value)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

name_type!(
    /// A target (image) path: relative, `/`-separated, no traversal, NFC (Standard 5.2.7 rule 3).
    TargetPath,
    "target path",
    check_target_path
);
name_type!(
    /// A vehicle identification number: 17 characters of ISO 3779 (no I, O or Q).
    Vin,
    "VIN",
    check_vin
);
name_type!(
    /// An ECU's unique serial.
    EcuSerial,
    "ECU serial",
    check_identifier
);
name_type!(
    /// A hardware identifier: one per type of ECU hardware.
    HardwareId,
    "hardware id",
    check_identifier
);
name_type!(
    /// The name of a delegated Targets role (stored percent-encoded as `NAME.json`).
    RoleName,
    "role name",
    check_role_name
);

fn check_nfc(value: &str) -> Result<(), &'static str> {
    if is_nfc(value) { Ok(()) } else { Err("not in Unicode normalization form C") }
}

fn check_target_path(value: &str) -> Result<(), &'static str> {
    check_nfc(value)?;
    if value.is_empty() {
        return Err("empty");
    }
    if value.len() > 1024 {
        return Err("longer than 1024 bytes");
    }
    if value.starts_with('/') {
        return Err("absolute");
    }
    if value.contains("..") {
        return Err("contains '..'");
    }
    if value.chars().any(|c| c == '\\' || c.is_control()) {
        return Err("contains a backslash or a control character");
    }
    if value.split('/').any(|segment| segment.is_empty() || segment == ".") {
        return Err("has an empty or '.' segment");
    }
    Ok(())
}

fn check_vin(value: &str) -> Result<(), &'static str> {
    if value.len() != 17 {
        return Err("must be 17 characters");
    }
    if !value
        .bytes()
        .all(|b| b.is_ascii_digit() || (b.is_ascii_uppercase() && !b"IOQ".contains(&b)))
    {
        return Err("must be digits and capitals other than I, O and Q");
    }
    Ok(())
}

fn check_identifier(value: &str) -> Result<(), &'static str> {
    if value.is_empty() || value.len() > 64 {
        return Err("must be 1 to 64 characters");
    }
    if !value.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)) {
        return Err("may contain only letters, digits, '.', '_' and '-'");
    }
    Ok(())
}

/// The names of the top-level roles, which a delegation may not take.
pub const TOP_LEVEL_ROLES: [&str; 4] = ["root", "timestamp", "snapshot", "targets"];

fn check_role_name(value: &str) -> Result<(), &'static str> {
    check_nfc(value)?;
    if value.is_empty() || value.len() > 255 {
        return Err("must be 1 to 255 bytes");
    }
    if TOP_LEVEL_ROLES.contains(&value) {
        return Err("is a top-level role name");
    }
    if value.chars().any(char::is_control) {
        return Err("contains a control character");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_paths_refuse_traversal() {
        for bad in [
            "",
            "/etc/passwd",
            "../../etc/x",
            "a/../b",
            "a\\b",
            "a\0b",
            "a//b",
            "a/",
            "./a",
            "e\u{301}.bin",
        ] {
            assert!(TargetPath::new(bad).is_err(), "{bad:?} accepted");
        }
        for good in ["app.bin", "supplierA/bcm-2.1.0.bin", "app v2", "app!", "caf\u{e9}/x"] {
            TargetPath::new(good).unwrap();
        }
    }

    #[test]
    fn vins_follow_iso_3779() {
        Vin::new("WVWZZZ1JZXW000001").unwrap();
        assert!(Vin::new("WVWZZZ1JZXW00000").is_err());
        assert!(Vin::new("WVWZZZ1JZXW00000O").is_err());
        assert!(Vin::new("wvwzzz1jzxw000001").is_err());
    }

    #[test]
    fn identifiers_are_url_and_file_safe() {
        EcuSerial::new("BCM-SN-000123").unwrap();
        HardwareId::new("acme-bcm-rev3").unwrap();
        assert!(EcuSerial::new("a/b").is_err());
        assert!(HardwareId::new("").is_err());
        assert!(HardwareId::new("x".repeat(65)).is_err());
    }

    #[test]
    fn role_names_exclude_top_level_roles() {
        RoleName::new("supplierA").unwrap();
        RoleName::new("a role/with?odd chars").unwrap();
        assert!(RoleName::new("targets").is_err());
        assert!(RoleName::new("").is_err());
    }

    #[test]
    fn deserialising_validates() {
        assert!(serde_json::from_str::<TargetPath>("\"../x\"").is_err());
        let p: TargetPath = serde_json::from_str("\"a/b\"").unwrap();
        assert_eq!(p.as_str(), "a/b");
    }
}
