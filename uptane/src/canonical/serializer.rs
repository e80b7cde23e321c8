//! Canonical JSON straight from `Serialize` types, without building a `serde_json::Value`.
//!
//! Signing the Director's and the Image repository's metadata is on their hot paths; going
//! through `Value` allocated every string and map node twice over. Here scalars and arrays are
//! written in place; each object writes its members into one scratch buffer, then copies them
//! out in key order.

use std::fmt::Display;
use std::ops::Range;

use serde::ser::{self, Impossible, Serialize};

use super::{key_cmp, write_i64, write_str, write_u64};
use std::cmp::Ordering;

/// Why a value has no canonical form.
#[derive(Debug)]
pub struct CanonError(pub String);

impl Display for CanonError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CanonError {}

impl ser::Error for CanonError {
    fn custom<T: Display>(msg: T) -> CanonError {
        CanonError(msg.to_string())
    }
}

type Result<T> = std::result::Result<T, CanonError>;

/// Appends the canonical encoding of `value` to `out`.
pub fn write_serialize<T: Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) -> Result<()> {
    value.serialize(Canonical { out })
}

struct Canonical<'a> {
    out: &'a mut Vec<u8>,
}

fn not_an_integer() -> CanonError {
    CanonError("floating-point numbers have no canonical form".into())
}

impl<'a> ser::Serializer for Canonical<'a> {
    type Ok = ();
    type Error = CanonError;
    type SerializeSeq = Seq<'a>;
    type SerializeTuple = Seq<'a>;
    type SerializeTupleStruct = Seq<'a>;
    type SerializeTupleVariant = Impossible<(), CanonError>;
    type SerializeMap = Object<'a>;
    type SerializeStruct = Object<'a>;
    type SerializeStructVariant = Impossible<(), CanonError>;

    fn serialize_bool(self, v: bool) -> Result<()> {
        self.out.extend_from_slice(if v { b"true" } else { b"false" });
        Ok(())
    }
    fn serialize_i8(self, v: i8) -> Result<()> {
        self.serialize_i64(v.into())
    }
    fn serialize_i16(self, v: i16) -> Result<()> {
        self.serialize_i64(v.into())
    }
    fn serialize_i32(self, v: i32) -> Result<()> {
        self.serialize_i64(v.into())
    }
    fn serialize_i64(self, v: i64) -> Result<()> {
        write_i64(self.out, v);
        Ok(())
    }
    fn serialize_u8(self, v: u8) -> Result<()> {
        self.serialize_u64(v.into())
    }
    fn serialize_u16(self, v: u16) -> Result<()> {
        self.serialize_u64(v.into())
    }
    fn serialize_u32(self, v: u32) -> Result<()> {
        self.serialize_u64(v.into())
    }
    fn serialize_u64(self, v: u64) -> Result<()> {
        write_u64(self.out, v);
        Ok(())
    }
    fn serialize_f32(self, _: f32) -> Result<()> {
        Err(not_an_integer())
    }
    fn serialize_f64(self, _: f64) -> Result<()> {
        Err(not_an_integer())
    }
    fn serialize_char(self, v: char) -> Result<()> {
        write_str(self.out, v.encode_utf8(&mut [0; 4]));
        Ok(())
    }
    fn serialize_str(self, v: &str) -> Result<()> {
        write_str(self.out, v);
        Ok(())
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<()> {
        let mut seq = self.serialize_seq(Some(v.len()))?;
        for b in v {
            ser::SerializeSeq::serialize_element(&mut seq, b)?;
        }
        ser::SerializeSeq::end(seq)
    }
    fn serialize_none(self) -> Result<()> {
        self.serialize_unit()
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<()> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<()> {
        self.out.extend_from_slice(b"null");
        Ok(())
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<()> {
        self.serialize_unit()
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, variant: &'static str) -> Result<()> {
        self.serialize_str(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<()> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<()> {
        let mut object = self.serialize_map(Some(1))?;
        ser::SerializeMap::serialize_entry(&mut object, variant, value)?;
        ser::SerializeMap::end(object)
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Seq<'a>> {
        self.out.push(b'[');
        Ok(Seq { out: self.out, first: true })
    }
    fn serialize_tuple(self, len: usize) -> Result<Seq<'a>> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(self, _: &'static str, len: usize) -> Result<Seq<'a>> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant> {
        Err(CanonError("tuple variants are not supported".into()))
    }
    fn serialize_map(self, len: Option<usize>) -> Result<Object<'a>> {
        self.out.push(b'{');
        let start = self.out.len();
        Ok(Object {
            out: self.out,
            start,
            members: Vec::with_capacity(len.unwrap_or(8)),
            pending: None,
        })
    }
    fn serialize_struct(self, _: &'static str, len: usize) -> Result<Object<'a>> {
        self.serialize_map(Some(len))
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant> {
        Err(CanonError("struct variants are not supported".into()))
    }
}

struct Seq<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
}

impl Seq<'_> {
    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        if !std::mem::take(&mut self.first) {
            self.out.push(b',');
        }
        value.serialize(Canonical { out: self.out })
    }

    fn close(self) {
        self.out.push(b']');
    }
}

impl ser::SerializeSeq for Seq<'_> {
    type Ok = ();
    type Error = CanonError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        self.element(value)
    }
    fn end(self) -> Result<()> {
        self.close();
        Ok(())
    }
}

impl ser::SerializeTuple for Seq<'_> {
    type Ok = ();
    type Error = CanonError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        self.element(value)
    }
    fn end(self) -> Result<()> {
        self.close();
        Ok(())
    }
}

impl ser::SerializeTupleStruct for Seq<'_> {
    type Ok = ();
    type Error = CanonError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        self.element(value)
    }
    fn end(self) -> Result<()> {
        self.close();
        Ok(())
    }
}

/// An object written in place: members go straight to `out` in the order they arrive, each
/// recorded by the span of its key and of the whole member. Maps arrive in key order already;
/// if the keys did not (struct fields rarely do), the members are rearranged once at the end.
struct Object<'a> {
    out: &'a mut Vec<u8>,
    /// Where the members begin, just after `{`.
    start: usize,
    members: Vec<Member>,
    /// The member whose key has been written and whose value is awaited (maps).
    pending: Option<Member>,
}

/// Spans in the output: the key's contents (without quotes), and the whole `"key":value`.
#[derive(Clone)]
struct Member {
    key: Range<usize>,
    whole: Range<usize>,
}

impl Object<'_> {
    /// Writes the separator and opens a member; the key is written by `write_key`.
    fn open(&mut self, write_key: impl FnOnce(&mut Vec<u8>) -> Result<()>) -> Result<Member> {
        if !self.members.is_empty() {
            self.out.push(b',');
        }
        let begin = self.out.len();
        write_key(self.out)?;
        let key = begin + 1..self.out.len() - 1;
        self.out.push(b':');
        Ok(Member { key, whole: begin..begin })
    }

    fn value<T: Serialize + ?Sized>(&mut self, mut member: Member, value: &T) -> Result<()> {
        value.serialize(Canonical { out: self.out })?;
        member.whole.end = self.out.len();
        self.members.push(member);
        Ok(())
    }

    fn close(self) -> Result<()> {
        let Object { out, start, mut members, .. } = self;
        let key = |m: &Member| &out[m.key.clone()];
        let in_order =
            members.windows(2).all(|w| key_cmp(key(&w[0]), key(&w[1])) == Ordering::Less);
        if !in_order {
            let written = out.split_off(start);
            let key = |m: &Member| &written[m.key.start - start..m.key.end - start];
            members.sort_unstable_by(|a, b| key_cmp(key(a), key(b)));
            if let Some(pair) = members.windows(2).find(|w| key(&w[0]) == key(&w[1])) {
                let name = String::from_utf8_lossy(key(&pair[0])).into_owned();
                return Err(CanonError(format!("key {name:?} appears twice")));
            }
            for (i, member) in members.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(
                    &written[member.whole.start - start..member.whole.end - start],
                );
            }
        }
        out.push(b'}');
        Ok(())
    }
}

impl ser::SerializeMap for Object<'_> {
    type Ok = ();
    type Error = CanonError;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<()> {
        let member = self.open(|out| key.serialize(KeySerializer { out }))?;
        self.pending = Some(member);
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        let member = self.pending.take().ok_or_else(|| CanonError("value without a key".into()))?;
        self.value(member, value)
    }
    fn end(self) -> Result<()> {
        self.close()
    }
}

impl ser::SerializeStruct for Object<'_> {
    type Ok = ();
    type Error = CanonError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<()> {
        let member = self.open(|out| {
            write_str(out, key);
            Ok(())
        })?;
        self.value(member, value)
    }
    fn end(self) -> Result<()> {
        self.close()
    }
}

/// Object keys must be strings.
struct KeySerializer<'a> {
    out: &'a mut Vec<u8>,
}

fn key_must_be_a_string() -> CanonError {
    CanonError("object keys must be strings".into())
}

impl ser::Serializer for KeySerializer<'_> {
    type Ok = ();
    type Error = CanonError;
    type SerializeSeq = Impossible<(), CanonError>;
    type SerializeTuple = Impossible<(), CanonError>;
    type SerializeTupleStruct = Impossible<(), CanonError>;
    type SerializeTupleVariant = Impossible<(), CanonError>;
    type SerializeMap = Impossible<(), CanonError>;
    type SerializeStruct = Impossible<(), CanonError>;
    type SerializeStructVariant = Impossible<(), CanonError>;

    fn serialize_str(self, v: &str) -> Result<()> {
        write_str(self.out, v);
        Ok(())
    }
    fn serialize_char(self, v: char) -> Result<()> {
        write_str(self.out, v.encode_utf8(&mut [0; 4]));
        Ok(())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<()> {
        value.serialize(self)
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, variant: &'static str) -> Result<()> {
        self.serialize_str(variant)
    }
    fn serialize_bool(self, _: bool) -> Result<()> {
        Err(key_must_be_a_string())
    }
    fn serialize_i8(self, _: i8) -> Result<()> {
        Err(key_must_be_a_string())
    }
    fn serialize_i16(self, _: i16) -> Result<()> {
        Err(key_must_be_a_string())
    }
    fn serialize_i32(self, _: i32) -> Result<()> {
        Err(key_must_be_a_string())
    }
    fn serialize_i64(self, _: i64) -> Result<()> {
        Err(key_must_be_a_string())
    }
    fn serialize_u8(self, _: u8) -> Result<()> {
        Err(key_must_be_a_string())
    }
    fn serialize_u16(self, _: u16) -> Result<()> {
        Err(key_must_be_a_string())
    }
    fn serialize_u32(self, _: u32) -> Result<()> {
        Err(key_must_be_a_string())
    }
    fn serialize_u64(self, _: u64) -> Result<()> {
        Err(key_must_be_a_string())
    }
    fn serialize_f32(self, _: f32) -> Result<()> {
        Err(key_must_be_a_string())
    }
    fn serialize_f64(self, _: f64) -> Result<()> {
        Err(key_must_be_a_string())
    }
    fn serialize_bytes(self, _: &[u8]) -> Result<()> {
        Err(key_must_be_a_string())
    }
    fn serialize_none(self) -> Result<()> {
        Err(key_must_be_a_string())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result<()> {
        Err(key_must_be_a_string())
    }
    fn serialize_unit(self) -> Result<()> {
        Err(key_must_be_a_string())
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<()> {
        Err(key_must_be_a_string())
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<()> {
        Err(key_must_be_a_string())
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq> {
        Err(key_must_be_a_string())
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple> {
        Err(key_must_be_a_string())
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct> {
        Err(key_must_be_a_string())
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant> {
        Err(key_must_be_a_string())
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap> {
        Err(key_must_be_a_string())
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeStruct> {
        Err(key_must_be_a_string())
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant> {
        Err(key_must_be_a_string())
    }
}
