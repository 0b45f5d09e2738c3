//! Parts of a statement written into its text instead of bound as parameters, for the few hot
//! statements whose values come from a small fixed set.
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
use diesel::sql_types::Bool;

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
}
