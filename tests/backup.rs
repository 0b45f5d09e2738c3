//! `tomoni backup FILE` and `tomoni restore FILE` round trip, on both databases: a seeded
//! database (closed years, awards, reviews, expenses) backed up by the real binary and restored
//! into an empty database equals the original table for table, row for row; a backup never
//! overwrites a file and a restore never writes into a database that holds tables.

mod common;

use std::process::Command;

use common::{Backend, TestDb};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use tomoni::db::{self, backup};

fn tomoni(url: &str, dir: &std::path::Path) -> Command {
    let mut cmd = common::binary();
    cmd.current_dir(dir)
        .env("TOMONI__DATABASE__URL", url)
        .env("TOMONI__DATA__DIR", dir);
    cmd
}

fn run(cmd: &mut Command) -> (bool, String) {
    let out = cmd.output().expect("run tomoni");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// An empty database to restore into, and what removes it.
struct Empty {
    url: String,
    admin: Option<(String, String)>,
}

impl Drop for Empty {
    fn drop(&mut self) {
        if let Some((admin_url, name)) = &self.admin
            && let Ok(mut admin) = PgConnection::establish(admin_url)
        {
            let _ =
                admin.batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"));
        }
    }
}

fn empty(backend: &Backend, dir: &std::path::Path) -> Empty {
    match backend {
        Backend::Sqlite => Empty {
            url: format!("sqlite://{}", dir.join("restored.db").display()),
            admin: None,
        },
        Backend::Postgres { admin_url } => {
            let name = format!("tomoni_restore_{}", uuid::Uuid::now_v7().simple());
            PgConnection::establish(admin_url)
                .expect("admin connection")
                .batch_execute(&format!("CREATE DATABASE \"{name}\""))
                .expect("an empty database");
            Empty {
                url: common::database_url(admin_url, &name),
                admin: Some((admin_url.clone(), name)),
            }
        }
    }
}

async fn a_backup_restores_into_an_empty_database_table_for_table(backend: Backend) {
    let source = TestDb::new(&backend);
    let settings = source.settings();
    let pool = db::init(&settings.database).expect("the source database");
    let conn = &mut pool.get().expect("a connection");
    let opts = tomoni::seed::Options {
        years: 2,
        scale: 0.002,
        seed: 9,
    };
    tomoni::seed::demo(
        conn,
        tomoni::time::FiscalCalendar::APRIL,
        chrono::Utc::now().date_naive(),
        &opts,
        &mut |_, _, _| {},
    )
    .expect("seed");

    let dir = tempfile::tempdir().expect("a folder");
    let file = dir.path().join("tomoni.backup");
    let (ok, out) = run(tomoni(&source.url, dir.path()).arg("backup").arg(&file));
    assert!(ok, "backup: {out}");
    assert!(file.is_file());
    let (ok, out) = run(tomoni(&source.url, dir.path()).arg("backup").arg(&file));
    assert!(!ok, "a second backup to the same file is refused");
    assert!(out.contains("exists"), "{out}");

    let target = empty(&backend, dir.path());
    let (ok, out) = run(tomoni(&target.url, dir.path()).arg("restore").arg(&file));
    assert!(ok, "restore: {out}");
    let (ok, out) = run(tomoni(&target.url, dir.path()).arg("restore").arg(&file));
    assert!(
        !ok,
        "a restore into a database that holds data is refused: {out}"
    );

    let mut restored_settings = settings.clone();
    restored_settings.database.url = target.url.clone();
    restored_settings.database.run_migrations = false;
    let restored = &mut db::connect(&restored_settings.database).expect("the restored database");
    let tables = backup::tables(conn).expect("tables");
    assert_eq!(backup::tables(restored).expect("tables"), tables);
    assert!(tables.len() > 30, "{tables:?}");
    for table in &tables {
        let original = backup::table_content(conn, table).expect("the original");
        let copy = backup::table_content(restored, table).expect("the copy");
        assert_eq!(original.0, copy.0, "{table}: rows");
        assert!(original.1 == copy.1, "{table}: the rows differ");
    }
    for table in [
        "attendance",
        "published_figures",
        "report_objectives",
        "award_nominations",
        "program_reviews",
        "contribution_expenses",
    ] {
        let (rows, _) = backup::table_content(conn, table).expect("rows");
        assert!(rows > 0, "the seed wrote {table}");
    }
    // The comparison sees a change of one cell.
    restored
        .batch_execute(
            "UPDATE contribution_expenses SET description = 'changed' \
             WHERE amount_yen = (SELECT max(amount_yen) FROM contribution_expenses)",
        )
        .expect("a change");
    assert_ne!(
        backup::table_content(conn, "contribution_expenses").expect("rows"),
        backup::table_content(restored, "contribution_expenses").expect("rows"),
    );
    // Nothing to migrate: the backup holds the schema version with the data.
    assert_eq!(db::run_migrations(restored).expect("migrations"), 0);
}

both_backends!(a_backup_restores_into_an_empty_database_table_for_table);
