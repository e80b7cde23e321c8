//! Fast deserialisation of structs that keep unknown fields.
//!
//! `#[serde(flatten)]` buffers a whole struct, every nested value included, before decoding it;
//! on a 1000-target Targets file that doubled the cost of verification. The hot structs
//! (Targets, TargetFile) decode through [`visit_fields`] instead: known fields straight into
//! their types, unknown ones into the `extra` map.

use serde::Deserialize;
use serde::de::{self, MapAccess};
use serde_json::{Map, Value};

/// Walks a JSON object: `known` reads each key it recognises into a slot (with [`take`]) and
/// returns `false` for the rest, which land in the returned map of unknown fields.
pub(super) fn visit_fields<'de, A: MapAccess<'de>>(
    mut map: A,
    mut known: impl FnMut(&str, &mut A) -> Result<bool, A::Error>,
) -> Result<Map<String, Value>, A::Error> {
    let mut extra = Map::new();
    while let Some(key) = map.next_key::<String>()? {
        if !known(&key, &mut map)? {
            extra.insert(key, map.next_value()?);
        }
    }
    Ok(extra)
}

/// Reads the current field's value into `slot`, refusing a repeated field.
pub(super) fn take<'de, A: MapAccess<'de>, T: Deserialize<'de>>(
    map: &mut A,
    name: &'static str,
    slot: &mut Option<T>,
) -> Result<bool, A::Error> {
    if slot.is_some() {
        return Err(de::Error::duplicate_field(name));
    }
    *slot = Some(map.next_value()?);
    Ok(true)
}

/// A required field's value, or serde's "missing field" error.
pub(super) fn required<T, E: de::Error>(slot: Option<T>, name: &'static str) -> Result<T, E> {
    slot.ok_or_else(|| de::Error::missing_field(name))
}

/// Implements `Deserialize` for a struct from a JSON object, given the body of `visit_map`.
macro_rules! deserialize_object {
    ($ty:ident, $expecting:literal, |$map:ident| $body:block) => {
        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<$ty, D::Error> {
                struct Visitor;
                impl<'de> serde::de::Visitor<'de> for Visitor {
                    type Value = $ty;
                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        f.write_str($expecting)
                    }
                    fn visit_map<A: serde::de::MapAccess<'de>>(
                        self,
                        $map: A,
                    ) -> Result<$ty, A::Error> {
                        $body
                    }
                }
                d.deserialize_map(Visitor)
            }
        }
    };
}
pub(super) use deserialize_object;
