//! SQL assembled at run time from fixed text and bound values: the check-in statements, whose
//! text depends only on their shape (how many ECUs, which conditions). Unlike diesel's
//! `sql_query`, which is never cached, a [`Statement`] is prepared once per connection and
//! shape, so PostgreSQL parses and plans it once instead of on every check-in. Only the
//! bound values vary, and text is `'static`, so no value can ever become SQL.

use diesel::QueryResult;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{BigInt, Nullable, SmallInt, Text, Untyped};

use service_kit::db::AnyConnection;

type Sql = <AnyConnection as Connection>::Backend;

/// A value bound into a statement.
pub enum Bind {
    Text(String),
    NullableText(Option<String>),
    BigInt(i64),
    SmallInt(i16),
}

enum Part {
    Sql(&'static str),
    Bind(Bind),
}

/// A statement of fixed SQL text and bound values, in order; the connection numbers the
/// placeholders for its backend.
#[derive(Default)]
pub struct Statement {
    parts: Vec<Part>,
}

impl Statement {
    pub fn sql(&mut self, text: &'static str) -> &mut Statement {
        self.parts.push(Part::Sql(text));
        self
    }

    pub fn bind(&mut self, value: Bind) -> &mut Statement {
        self.parts.push(Part::Bind(value));
        self
    }

    pub fn text(&mut self, value: &str) -> &mut Statement {
        self.bind(Bind::Text(value.to_owned()))
    }
}

impl QueryId for Statement {
    type QueryId = ();
    /// Cached by its SQL text instead.
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl Query for Statement {
    type SqlType = Untyped;
}

impl<Conn> RunQueryDsl<Conn> for Statement {}

impl QueryFragment<Sql> for Statement {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Sql>) -> QueryResult<()> {
        for part in &self.parts {
            match part {
                Part::Sql(text) => out.push_sql(text),
                Part::Bind(Bind::Text(value)) => out.push_bind_param::<Text, _>(value)?,
                Part::Bind(Bind::NullableText(value)) => {
                    out.push_bind_param::<Nullable<Text>, _>(value)?
                }
                Part::Bind(Bind::BigInt(value)) => out.push_bind_param::<BigInt, _>(value)?,
                Part::Bind(Bind::SmallInt(value)) => out.push_bind_param::<SmallInt, _>(value)?,
            }
        }
        Ok(())
    }
}
