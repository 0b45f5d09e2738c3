//! Backing a database up while it serves, and restoring a backup into an empty database.
//!
//! SQLite: `VACUUM INTO` writes a consistent copy of the whole database from one read
//! transaction; in WAL mode the server's writers carry on meanwhile. Restoring copies the backup
//! the same way into the configured file, which must not exist yet. PostgreSQL: the database's own tools, `pg_dump` in its custom
//! format and `pg_restore`, which must be on the `PATH` (the `postgresql-client` package, of a
//! version at least the server's); restoring refuses a database that already holds tables.
//! Either way the backup holds the migrations table, so the restored database is at the
//! backup's schema version and a newer binary migrates it on start as usual.

use std::path::Path;
use std::process::Command;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use super::{AnyConnection, Backend, DatabaseUrl, DbError};

fn failed(what: &str, detail: impl Into<String>) -> DbError {
    DbError::Migration(format!("{what}: {}", detail.into()).into())
}

/// `path` as an SQL string literal.
fn literal(path: &Path) -> Result<String, DbError> {
    let text = path
        .to_str()
        .ok_or_else(|| failed("backup", "the file name is not UTF-8"))?;
    Ok(format!("'{}'", text.replace('\'', "''")))
}

/// Writes a backup of the database at `url` to `file`, which must not exist.
pub fn backup(url: &DatabaseUrl, file: &Path) -> Result<(), DbError> {
    if file.exists() {
        return Err(failed(
            "backup",
            format!("{} exists; name a new file", file.display()),
        ));
    }
    match url.backend {
        Backend::Sqlite => {
            let mut conn = url.establish()?;
            let sql = format!("VACUUM INTO {}", literal(file)?);
            conn.batch_execute(&sql)?;
            Ok(())
        }
        Backend::Postgres => run(
            "pg_dump",
            Command::new("pg_dump")
                .arg("--format=custom")
                .arg("--no-owner")
                .arg("--file")
                .arg(file)
                .arg("--dbname")
                .arg(&url.target),
        ),
    }
}

/// Restores `file` (a backup [`backup`] wrote) into the empty database at `url`.
pub fn restore(url: &DatabaseUrl, file: &Path) -> Result<(), DbError> {
    if !file.is_file() {
        return Err(failed(
            "restore",
            format!("{} is not a file", file.display()),
        ));
    }
    match url.backend {
        Backend::Sqlite => {
            let target = Path::new(&url.target);
            if target.exists() {
                return Err(failed(
                    "restore",
                    format!(
                        "{} exists; restore into a database that does not exist yet",
                        target.display()
                    ),
                ));
            }
            let from = DatabaseUrl {
                backend: Backend::Sqlite,
                target: file
                    .to_str()
                    .ok_or_else(|| failed("restore", "the file name is not UTF-8"))?
                    .to_owned(),
                prepared_statements: true,
            };
            let mut conn = from.establish()?;
            conn.batch_execute(&format!("VACUUM INTO {}", literal(target)?))?;
            Ok(())
        }
        Backend::Postgres => {
            let mut conn = url.establish()?;
            let tables = tables(&mut conn)?;
            if !tables.is_empty() {
                return Err(failed(
                    "restore",
                    format!(
                        "the database already holds {} tables; restore into an empty one",
                        tables.len()
                    ),
                ));
            }
            drop(conn);
            run(
                "pg_restore",
                Command::new("pg_restore")
                    .arg("--no-owner")
                    .arg("--exit-on-error")
                    .arg("--dbname")
                    .arg(&url.target)
                    .arg(file),
            )
        }
    }
}

fn run(tool: &str, command: &mut Command) -> Result<(), DbError> {
    let out = command.output().map_err(|e| {
        failed(
            tool,
            format!("cannot run it ({e}); install the PostgreSQL client tools"),
        )
    })?;
    if out.status.success() {
        Ok(())
    } else {
        Err(failed(
            tool,
            String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        ))
    }
}

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = Text)]
    name: String,
}

#[derive(QueryableByName)]
struct Rows {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct Content {
    #[diesel(sql_type = Text)]
    content: String,
}

/// The database's tables, by name.
pub fn tables(conn: &mut AnyConnection) -> Result<Vec<String>, DbError> {
    let sql = match conn {
        AnyConnection::Sqlite(_) => {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
             ORDER BY name"
        }
        AnyConnection::Postgresql(_) => {
            "SELECT table_name::text AS name FROM information_schema.tables \
             WHERE table_schema = 'public' ORDER BY table_name"
        }
    };
    Ok(diesel::sql_query(sql)
        .load::<Name>(conn)?
        .into_iter()
        .map(|n| n.name)
        .collect())
}

/// A table's rows and its whole content as one text (each row as JSON, sorted), to compare a
/// restored table with its original. For tests and checks of small databases.
pub fn table_content(conn: &mut AnyConnection, table: &str) -> Result<(i64, String), DbError> {
    if !table.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(failed("compare", format!("odd table name {table:?}")));
    }
    let n = diesel::sql_query(format!("SELECT count(*) AS n FROM {table}"))
        .get_result::<Rows>(conn)?
        .n;
    let sql = match conn {
        AnyConnection::Sqlite(c) => {
            let columns: Vec<String> =
                diesel::sql_query(format!("SELECT name FROM pragma_table_info('{table}')"))
                    .load::<Name>(c)?
                    .into_iter()
                    .map(|n| format!("\"{}\"", n.name))
                    .collect();
            format!(
                "SELECT coalesce(group_concat(x, char(10)), '') AS content FROM \
                 (SELECT json_array({}) AS x FROM {table} ORDER BY x)",
                columns.join(", ")
            )
        }
        AnyConnection::Postgresql(_) => format!(
            "SELECT coalesce(string_agg(x, E'\\n' ORDER BY x), '') AS content FROM \
             (SELECT row_to_json(t)::text AS x FROM {table} t) s"
        ),
    };
    let content = diesel::sql_query(sql).get_result::<Content>(conn)?.content;
    Ok((n, content))
}
