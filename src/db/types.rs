//! Column types that mean the same on both backends.
//!
//! diesel's own `Uuid` and `Timestamptz` exist only for PostgreSQL, and they do not compile through
//! the `MultiConnection` derive. These two SQL types are native (`uuid`, `timestamptz`) on
//! PostgreSQL and `TEXT` on SQLite. Rust's coherence rules forbid implementing diesel's traits
//! for `uuid::Uuid` and `DateTime<Utc>` against our own SQL types, hence the [`Id`] and
//! [`Timestamp`] newtypes, which convert to and from those freely.
//!
//! On SQLite a timestamp is written with a fixed width (`2026-11-23T20:46:00.123456Z`) so that text
//! order is time order and indexes, `ORDER BY` and `CHECK (a < b)` behave as on PostgreSQL.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDateTime, SubsecRound, Utc};
use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql, FromSqlRow};
use diesel::expression::AsExpression;
use diesel::pg::Pg;
use diesel::serialize::{self, IsNull, Output, ToSql};
use diesel::sql_types::HasSqlType;
use diesel::sqlite::Sqlite;
use serde::{Deserialize, Serialize};

use super::MultiBackend;

/// SQL type markers used in `schema.rs`.
pub mod sql {
    /// A UUID: `uuid` on PostgreSQL, hyphenated lower-case `TEXT` on SQLite.
    #[derive(
        Debug, Clone, Copy, Default, diesel::sql_types::SqlType, diesel::query_builder::QueryId,
    )]
    #[diesel(postgres_type(name = "uuid"))]
    #[diesel(sqlite_type(name = "Text"))]
    pub struct Uuid;

    /// An instant: `timestamptz` on PostgreSQL, fixed-width RFC 3339 UTC `TEXT` on SQLite.
    #[derive(
        Debug, Clone, Copy, Default, diesel::sql_types::SqlType, diesel::query_builder::QueryId,
    )]
    #[diesel(postgres_type(name = "timestamptz"))]
    #[diesel(sqlite_type(name = "Text"))]
    pub struct UtcTime;
}

/// The SQLite text form of an instant. Microseconds, always six digits, always `Z`.
pub const SQLITE_TIME_FORMAT: &str = "%Y-%m-%dT%H:%M:%S%.6fZ";

/// PostgreSQL stores microseconds; truncating before every write keeps a value read back equal to
/// the value written, on both backends.
pub fn truncate_to_micros(t: DateTime<Utc>) -> DateTime<Utc> {
    t.trunc_subsecs(6)
}

/// The current instant at the precision the database keeps.
pub fn now() -> DateTime<Utc> {
    truncate_to_micros(Utc::now())
}

/// Parses what SQLite may hand back: our own fixed format, or any RFC 3339 / `YYYY-MM-DD HH:MM:SS`
/// text written by hand or by an SQL function.
fn parse_sqlite_time(text: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f")
        .map(|n| n.and_utc())
        .map_err(|e| format!("invalid timestamp {text:?} in SQLite: {e}"))
}

/// A UUID key as stored in the database. `Deref`s and converts to `uuid::Uuid`; prints and
/// (de)serializes as the usual hyphenated text.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    AsExpression,
    FromSqlRow,
)]
#[serde(transparent)]
#[diesel(sql_type = sql::Uuid)]
pub struct Id(pub uuid::Uuid);

impl Id {
    /// A new time-ordered (v7) id: keys inserted together sit together in indexes.
    pub fn new() -> Self {
        Id(uuid::Uuid::now_v7())
    }
}

impl Default for Id {
    fn default() -> Self {
        Id::new()
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0.hyphenated(), f)
    }
}

impl FromStr for Id {
    type Err = uuid::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        uuid::Uuid::parse_str(s).map(Id)
    }
}

impl From<uuid::Uuid> for Id {
    fn from(u: uuid::Uuid) -> Self {
        Id(u)
    }
}

impl From<Id> for uuid::Uuid {
    fn from(id: Id) -> Self {
        id.0
    }
}

/// An instant as stored in the database, always UTC at microsecond precision.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    AsExpression,
    FromSqlRow,
)]
#[serde(transparent)]
#[diesel(sql_type = sql::UtcTime)]
pub struct Timestamp(DateTime<Utc>);

impl Timestamp {
    pub fn now() -> Self {
        Timestamp(now())
    }
    pub fn get(self) -> DateTime<Utc> {
        self.0
    }
}

impl From<DateTime<Utc>> for Timestamp {
    fn from(t: DateTime<Utc>) -> Self {
        Timestamp(truncate_to_micros(t))
    }
}

impl From<Timestamp> for DateTime<Utc> {
    fn from(t: Timestamp) -> Self {
        t.0
    }
}

/// `HasSqlType`, `ToSql` and `FromSql` for the backend the `MultiConnection` derive generates:
/// each delegates to the per-backend impls below.
macro_rules! multi_backend_type {
    ($sql:ty, $rust:ty) => {
        impl HasSqlType<$sql> for MultiBackend {
            fn metadata(lookup: &mut Self::MetadataLookup) -> Self::TypeMetadata {
                MultiBackend::lookup_sql_type::<$sql>(lookup)
            }
        }
        impl ToSql<$sql, MultiBackend> for $rust {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, MultiBackend>) -> serialize::Result {
                out.set_value((<$sql>::default(), self));
                Ok(IsNull::No)
            }
        }
        impl FromSql<$sql, MultiBackend> for $rust {
            fn from_sql(
                bytes: <MultiBackend as Backend>::RawValue<'_>,
            ) -> deserialize::Result<Self> {
                bytes.from_sql::<Self, $sql>()
            }
        }
    };
}

multi_backend_type!(sql::Uuid, Id);
multi_backend_type!(sql::UtcTime, Timestamp);

impl ToSql<sql::Uuid, Pg> for Id {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        ToSql::<diesel::sql_types::Uuid, Pg>::to_sql(&self.0, out)
    }
}

impl FromSql<sql::Uuid, Pg> for Id {
    fn from_sql(bytes: <Pg as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
        FromSql::<diesel::sql_types::Uuid, Pg>::from_sql(bytes).map(Id)
    }
}

impl ToSql<sql::Uuid, Sqlite> for Id {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
        out.set_value(self.0.hyphenated().to_string());
        Ok(IsNull::No)
    }
}

impl FromSql<sql::Uuid, Sqlite> for Id {
    fn from_sql(bytes: <Sqlite as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
        let text = <String as FromSql<diesel::sql_types::Text, Sqlite>>::from_sql(bytes)?;
        uuid::Uuid::parse_str(&text)
            .map(Id)
            .map_err(|e| format!("invalid uuid {text:?} in SQLite: {e}").into())
    }
}

impl ToSql<sql::UtcTime, Pg> for Timestamp {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        ToSql::<diesel::sql_types::Timestamptz, Pg>::to_sql(&self.0, out)
    }
}

impl FromSql<sql::UtcTime, Pg> for Timestamp {
    fn from_sql(bytes: <Pg as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
        FromSql::<diesel::sql_types::Timestamptz, Pg>::from_sql(bytes).map(Timestamp)
    }
}

impl ToSql<sql::UtcTime, Sqlite> for Timestamp {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
        out.set_value(
            truncate_to_micros(self.0)
                .format(SQLITE_TIME_FORMAT)
                .to_string(),
        );
        Ok(IsNull::No)
    }
}

impl FromSql<sql::UtcTime, Sqlite> for Timestamp {
    fn from_sql(bytes: <Sqlite as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
        let text = <String as FromSql<diesel::sql_types::Text, Sqlite>>::from_sql(bytes)?;
        parse_sqlite_time(&text).map(Timestamp).map_err(Into::into)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn sqlite_time_text_sorts_like_time() {
        let a = Utc.with_ymd_and_hms(2026, 3, 31, 14, 30, 0).unwrap();
        let b = a + chrono::Duration::microseconds(1);
        let fa = a.format(SQLITE_TIME_FORMAT).to_string();
        let fb = b.format(SQLITE_TIME_FORMAT).to_string();
        assert_eq!(fa, "2026-03-31T14:30:00.000000Z");
        assert!(fa < fb);
        assert_eq!(parse_sqlite_time(&fa).unwrap(), a);
    }

    #[test]
    fn sqlite_time_accepts_sql_function_output() {
        let t = parse_sqlite_time("2026-03-31 14:30:00").unwrap();
        assert_eq!(t, Utc.with_ymd_and_hms(2026, 3, 31, 14, 30, 0).unwrap());
        assert!(parse_sqlite_time("yesterday").is_err());
    }

    #[test]
    fn truncation_drops_nanoseconds() {
        let t = Utc.timestamp_opt(1_700_000_000, 123_456_789).unwrap();
        assert_eq!(truncate_to_micros(t).timestamp_subsec_nanos(), 123_456_000);
    }
}
