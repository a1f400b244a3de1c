//! How domain values sit in SQLite columns: ids, kinds, roles, scopes and
//! purposes as their text form, times as RFC 3339 text in UTC. With these
//! `ToSql`/`FromSql` impls a query binds and reads the domain types
//! directly, instead of formatting and parsing text at every call.

use chrono::{DateTime, Utc};
use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};

use crate::domain::{
    ChildId, DocKind, DocumentId, GrantId, Language, Purpose, Role, Scope, SessionId, TokenId,
    TransferId, UploadId, UserId,
};

/// Stored as `to_string()`, read back with `parse()`; a value that does not
/// parse is refused as malformed, naming its type only.
macro_rules! text_column {
    ($($t:ty),* $(,)?) => {$(
        impl ToSql for $t {
            fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
                Ok(ToSqlOutput::from(self.to_string()))
            }
        }

        impl FromSql for $t {
            fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
                value.as_str()?.parse().map_err(|_| {
                    FromSqlError::Other(concat!("malformed ", stringify!($t)).into())
                })
            }
        }
    )*};
}

text_column!(
    ChildId, DocumentId, GrantId, SessionId, TokenId, TransferId, UploadId, UserId, DocKind,
    Purpose, Role, Scope, Language
);

/// A time in UTC, stored as RFC 3339 text (which sorts as time does).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Time(pub DateTime<Utc>);

impl ToSql for Time {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.0.to_rfc3339()))
    }
}

impl FromSql for Time {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        DateTime::parse_from_rfc3339(value.as_str()?)
            .map(|t| Time(t.with_timezone(&Utc)))
            .map_err(|_| FromSqlError::Other("malformed timestamp".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_and_malformed_text_is_refused() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (id TEXT, at TEXT, role TEXT)")
            .unwrap();
        let (id, at) = (ChildId::new(), Time(Utc::now()));
        conn.execute(
            "INSERT INTO t VALUES (?1, ?2, ?3)",
            rusqlite::params![id, at, Role::CwcMember],
        )
        .unwrap();
        let (got_id, got_at, role): (ChildId, Time, Role) = conn
            .query_row("SELECT id, at, role FROM t", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .unwrap();
        assert_eq!((got_id, got_at, role), (id, at, Role::CwcMember));
        conn.execute("UPDATE t SET id = 'not-an-id'", []).unwrap();
        let err = conn
            .query_row("SELECT id FROM t", [], |r| r.get::<_, ChildId>(0))
            .unwrap_err();
        assert!(err.to_string().contains("malformed"), "{err}");
    }
}
