//! Statements PostgreSQL plans once per connection: parts written into the text instead of
//! bound as parameters, for the few hot statements whose values come from a small fixed set,
//! and hand-written statements that diesel caches (its `sql_query` never does).
//!
//! PostgreSQL plans a prepared statement with parameters anew on most runs ("custom plans"):
//! it cannot tell from `status = $1 … LIMIT $2` that the index on (status, starts_at, id) read
//! in order is always the plan. With the same values in the text the statement has no
//! parameters, its plan is made once per connection and reused; on the employees' event list
//! planning cost more than running (0.13 ms against 0.08 ms). diesel caches such a statement by
//! its text, so only values from a bounded set belong here (a page size, a status), never what
//! a user types.

use diesel::backend::Backend;
use diesel::expression::is_aggregate;
use diesel::expression::{AppearsOnTable, Expression, SelectableExpression, ValidGrouping};
use diesel::prelude::*;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::serialize::ToSql;
use diesel::sql_types::{Bool, HasSqlType, Text, Untyped};

use crate::db::types::sql::{UtcTime, Uuid as UuidSql};

/// `query LIMIT n` with `n` in the text. Bounded by the API's page-size limit, so a connection
/// caches at most that many variants of a statement.
#[derive(Debug, Clone)]
pub struct LimitInText<Q> {
    query: Q,
    limit: u32,
}

/// `query` with `LIMIT limit` written into its text (see the module's doc).
pub fn limit_in_text<Q>(query: Q, limit: u32) -> LimitInText<Q> {
    LimitInText { query, limit }
}

impl<Q: Query> Query for LimitInText<Q> {
    type SqlType = Q::SqlType;
}

impl<Q> QueryId for LimitInText<Q> {
    type QueryId = ();
    // The text differs by the limit, so the statement cache keys it by its text.
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q: QueryFragment<DB>, DB: Backend> QueryFragment<DB> for LimitInText<Q> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        self.query.walk_ast(out.reborrow())?;
        out.push_sql(" LIMIT ");
        out.push_sql(&self.limit.to_string());
        Ok(())
    }
}

impl<Q, Conn> RunQueryDsl<Conn> for LimitInText<Q> {}

/// A condition written as SQL text. Unlike diesel's `sql()`, which marks its statement as
/// never to be cached (and so PostgreSQL parses and plans it on every run), this leaves the
/// statement cacheable, keyed by its text. Build it only from constants of the code.
#[derive(Debug, Clone)]
pub struct Condition(String);

/// The condition `text`: SQL the code writes, never a user's input.
pub fn condition(text: String) -> Condition {
    Condition(text)
}

impl Expression for Condition {
    type SqlType = Bool;
}

impl<QS> AppearsOnTable<QS> for Condition {}

impl<QS> SelectableExpression<QS> for Condition {}

impl ValidGrouping<()> for Condition {
    type IsAggregate = is_aggregate::Never;
}

impl QueryId for Condition {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<DB: Backend> QueryFragment<DB> for Condition {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        out.push_sql(&self.0);
        Ok(())
    }
}

/// An expression of SQL type `ST` written as SQL text that the code holds for the process's
/// life: [`Condition`]'s rule (the statement stays cacheable), for a select list or a `NULL`.
#[derive(Debug)]
pub struct Typed<ST> {
    text: &'static str,
    sql_type: std::marker::PhantomData<ST>,
}

/// `text` as an expression of SQL type `ST`: SQL the code writes, never a user's input.
pub fn typed<ST>(text: &'static str) -> Typed<ST> {
    Typed {
        text,
        sql_type: std::marker::PhantomData,
    }
}

impl<ST: diesel::sql_types::SqlType + diesel::expression::TypedExpressionType> Expression
    for Typed<ST>
{
    type SqlType = ST;
}

impl<ST, QS> AppearsOnTable<QS> for Typed<ST> where Typed<ST>: Expression {}

impl<ST, QS> SelectableExpression<QS> for Typed<ST> where Typed<ST>: Expression {}

impl<ST> ValidGrouping<()> for Typed<ST> {
    type IsAggregate = is_aggregate::Never;
}

impl<ST> QueryId for Typed<ST> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<ST, DB: Backend> QueryFragment<DB> for Typed<ST> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        out.push_sql(self.text);
        Ok(())
    }
}

/// A hand-written statement that diesel prepares once per connection and reuses, like its
/// query builder's. `diesel::sql_query` marks its statement as never to be cached, so one on a
/// hot path (the sign-up's clash check, the outbox's insert) was parsed and planned again on
/// every run. The text is a constant of the code with PostgreSQL's numbered placeholders
/// (`$1`, `$2`, a number may repeat); each placeholder is written the backend's way.
#[derive(Debug, Clone)]
pub struct Statement {
    sql: &'static str,
    binds: Vec<Bind>,
}

/// A value bound to a [`Statement`]'s placeholder.
#[derive(Debug, Clone)]
enum Bind {
    Uuid(crate::db::Id),
    Time(crate::db::Timestamp),
    Text(String),
}

/// The statement `sql` (see [`Statement`]); bind `$1`, `$2`, ... in order.
pub fn statement(sql: &'static str) -> Statement {
    Statement {
        sql,
        binds: Vec::new(),
    }
}

impl Statement {
    /// Binds the next placeholder to an id.
    pub fn uuid(mut self, value: crate::db::Id) -> Self {
        self.binds.push(Bind::Uuid(value));
        self
    }

    /// Binds the next placeholder to an instant.
    pub fn time(mut self, value: crate::db::Timestamp) -> Self {
        self.binds.push(Bind::Time(value));
        self
    }

    /// Binds the next placeholder to text.
    pub fn text(mut self, value: impl Into<String>) -> Self {
        self.binds.push(Bind::Text(value.into()));
        self
    }
}

impl Query for Statement {
    type SqlType = Untyped;
}

impl QueryId for Statement {
    type QueryId = ();
    // The statement cache keys it by its text and its binds' types.
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<DB> QueryFragment<DB> for Statement
where
    DB: Backend + HasSqlType<UuidSql> + HasSqlType<UtcTime> + HasSqlType<Text>,
    crate::db::Id: ToSql<UuidSql, DB>,
    crate::db::Timestamp: ToSql<UtcTime, DB>,
    String: ToSql<Text, DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        let mut rest = self.sql;
        while let Some(at) = rest.find('$') {
            let digits = rest[at + 1..]
                .find(|c: char| !c.is_ascii_digit())
                .map_or(rest.len() - at - 1, |n| n);
            if digits == 0 {
                out.push_sql(&rest[..=at]);
                rest = &rest[at + 1..];
                continue;
            }
            out.push_sql(&rest[..at]);
            let n: usize = rest[at + 1..at + 1 + digits]
                .parse()
                .map_err(|_| unbound(self.sql))?;
            match n.checked_sub(1).and_then(|i| self.binds.get(i)) {
                Some(Bind::Uuid(v)) => out.push_bind_param::<UuidSql, _>(v)?,
                Some(Bind::Time(v)) => out.push_bind_param::<UtcTime, _>(v)?,
                Some(Bind::Text(v)) => out.push_bind_param::<Text, _>(v)?,
                None => return Err(unbound(self.sql)),
            }
            rest = &rest[at + 1 + digits..];
        }
        out.push_sql(rest);
        Ok(())
    }
}

/// A placeholder without a value: a mistake in the code, reported as a query error.
fn unbound(sql: &str) -> diesel::result::Error {
    diesel::result::Error::QueryBuilderError(
        format!("a placeholder of this statement has no value: {sql}").into(),
    )
}

impl<Conn> RunQueryDsl<Conn> for Statement {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::schema::events;

    #[test]
    fn the_limit_is_written_into_the_text_after_the_order() {
        let q = events::table
            .select(events::id)
            .order(events::starts_at)
            .into_boxed::<diesel::pg::Pg>();
        let sql = diesel::debug_query(&limit_in_text(q, 51)).to_string();
        assert!(
            sql.contains(r#"ORDER BY "events"."starts_at" LIMIT 51"#),
            "{sql}"
        );
        assert!(!sql.contains("$1"), "no parameter is left: {sql}");
    }

    #[test]
    fn a_condition_leaves_its_statement_cacheable() {
        let q = events::table
            .select(events::id)
            .filter(condition("events.status = 'published'".to_owned()))
            .into_boxed::<diesel::pg::Pg>();
        let q = limit_in_text(q, 51);
        assert!(
            QueryFragment::<diesel::pg::Pg>::is_safe_to_cache_prepared(&q, &diesel::pg::Pg)
                .unwrap()
        );
        let plain = diesel::dsl::sql::<Bool>("events.status = 'published'");
        let q = events::table
            .select(events::id)
            .filter(plain)
            .into_boxed::<diesel::pg::Pg>();
        assert!(
            !QueryFragment::<diesel::pg::Pg>::is_safe_to_cache_prepared(&q, &diesel::pg::Pg)
                .unwrap(),
            "diesel's sql() is not, which is why this module has its own"
        );
    }

    #[test]
    fn a_statement_writes_each_placeholder_the_backends_way() {
        let (a, b) = (crate::db::Id::new(), crate::db::Id::new());
        let q = statement(
            "SELECT 1 FROM signups WHERE user_id = $1 AND event_id <> $2 OR user_id = $1",
        )
        .uuid(a)
        .uuid(b);
        let sqlite = diesel::debug_query::<diesel::sqlite::Sqlite, _>(&q).to_string();
        assert!(
            sqlite.starts_with(
                "SELECT 1 FROM signups WHERE user_id = ? AND event_id <> ? OR user_id = ?"
            ),
            "{sqlite}"
        );
        assert_eq!(sqlite.matches(&a.to_string()).count(), 2, "{sqlite}");
        let pg = diesel::debug_query::<diesel::pg::Pg, _>(&q).to_string();
        assert!(
            pg.starts_with(
                "SELECT 1 FROM signups WHERE user_id = $1 AND event_id <> $2 OR user_id = $3"
            ),
            "{pg}"
        );
        assert!(
            QueryFragment::<diesel::pg::Pg>::is_safe_to_cache_prepared(&q, &diesel::pg::Pg)
                .unwrap()
        );
        let missing = statement("SELECT $1, $2").uuid(a);
        let mut text = <diesel::pg::Pg as diesel::backend::Backend>::QueryBuilder::default();
        assert!(
            QueryFragment::<diesel::pg::Pg>::to_sql(&missing, &mut text, &diesel::pg::Pg).is_err(),
            "a placeholder without a value is an error"
        );
    }
}
