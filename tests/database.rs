//! The database layer means the same on both backends: schema, types, constraints, transactions.

mod common;

use chrono::{TimeZone, Utc};
use common::{Backend, TestDb};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use tomoni::db::schema::*;
use tomoni::db::{self, AnyConnection, Id, Timestamp};

fn open(backend: &Backend) -> (TestDb, db::Pool) {
    let test_db = TestDb::new(backend);
    let pool = db::init(&test_db.settings().database).expect("init database");
    (test_db, pool)
}

fn insert_company(conn: &mut AnyConnection, code: &str) -> Id {
    let id = Id::new();
    let now = Timestamp::now();
    diesel::insert_into(companies::table)
        .values((
            companies::id.eq(id),
            companies::code.eq(code),
            companies::name.eq(format!("Company {code}")),
            companies::country.eq("JP"),
            companies::created_at.eq(now),
            companies::updated_at.eq(now),
        ))
        .execute(conn)
        .expect("insert company");
    id
}

fn insert_site(conn: &mut AnyConnection, company: Id, code: &str) -> QueryResult<Id> {
    let id = Id::new();
    let now = Timestamp::now();
    diesel::insert_into(sites::table)
        .values((
            sites::id.eq(id),
            sites::code.eq(code),
            sites::name.eq("Site"),
            sites::company_id.eq(company),
            sites::country.eq("JP"),
            sites::region.eq("domestic"),
            sites::timezone.eq("Asia/Tokyo"),
            sites::opened_on.eq(chrono::NaiveDate::from_ymd_opt(2010, 4, 1).unwrap()),
            sites::created_at.eq(now),
            sites::updated_at.eq(now),
        ))
        .execute(conn)
        .map(|_| id)
}

fn kind(result: QueryResult<impl Sized>) -> Option<DatabaseErrorKind> {
    match result {
        Err(DieselError::DatabaseError(kind, _)) => Some(kind),
        _ => None,
    }
}

/// Every column diesel knows about exists in the migrated database (catches drift between
/// `schema.rs` and either migration folder).
async fn schema_matches_migrations(backend: Backend) {
    let (_db, pool) = open(&backend);
    let conn = &mut pool.get().unwrap();
    macro_rules! check {
        ($($t:ident),*) => {$(
            $t::table.select($t::all_columns).limit(0).execute(conn)
                .unwrap_or_else(|e| panic!("table {}: {e}", stringify!($t)));
        )*};
    }
    check!(
        companies,
        sites,
        partners,
        users,
        coordinator_sites,
        categories,
        programs,
        program_categories,
        events,
        signups,
        attendance,
        objectives,
        outbox,
        audit_log,
        idempotency_keys,
        refresh_tokens,
        password_links,
        web_sessions,
        import_jobs,
        fiscal_year_closes,
        published_figures,
        restatements,
        contribution_expenses,
        report_objectives,
        objective_measures,
        award_categories,
        award_criteria,
        award_judges,
        award_nominations,
        award_scores,
        award_winners,
        review_criteria,
        program_reviews,
        program_review_scores,
        attempt_budgets,
        stats_year,
        stats_program_month,
        stats_members,
        stats_unique,
        stats_meta
    );
    let seeded: i64 = categories::table.count().get_result(conn).unwrap();
    assert!(seeded >= 2, "categories are seeded");
    let biodiversity: i64 = categories::table
        .filter(categories::code.eq("biodiversity"))
        .count()
        .get_result(conn)
        .unwrap();
    assert_eq!(biodiversity, 1);
}

/// Ids and instants come back exactly as written (instants at microsecond precision), and
/// instants order as time on both backends.
async fn ids_and_instants_round_trip(backend: Backend) {
    let (_db, pool) = open(&backend);
    let conn = &mut pool.get().unwrap();
    let company = insert_company(conn, "ACME");
    let site = insert_site(conn, company, "TKY").unwrap();
    let user = Id::new();
    let t0 = Timestamp::from(Utc.timestamp_opt(1_700_000_000, 123_456_789).unwrap());
    diesel::insert_into(users::table)
        .values((
            users::id.eq(user),
            users::employee_number.eq("E1"),
            users::email.eq("a@example.com"),
            users::display_name.eq("A"),
            users::site_id.eq(Some(site)),
            users::role.eq("employee"),
            users::created_at.eq(t0),
            users::updated_at.eq(t0),
        ))
        .execute(conn)
        .unwrap();
    let (id, site_id, created, active): (Id, Option<Id>, Timestamp, bool) = users::table
        .select((users::id, users::site_id, users::created_at, users::active))
        .first(conn)
        .unwrap();
    assert_eq!(id, user);
    assert_eq!(site_id, Some(site));
    assert_eq!(created, t0);
    assert_eq!(
        created.get().timestamp_subsec_nanos(),
        123_456_000,
        "truncated to microseconds"
    );
    assert!(active, "defaults apply");

    // Filtering and ordering by instants agree with time on both backends.
    let later = Timestamp::from(t0.get() + chrono::Duration::microseconds(1));
    let found: i64 = users::table
        .filter(users::created_at.lt(later))
        .count()
        .get_result(conn)
        .unwrap();
    assert_eq!(found, 1);
    let found: i64 = users::table
        .filter(users::created_at.gt(t0))
        .count()
        .get_result(conn)
        .unwrap();
    assert_eq!(found, 0);
}

/// Foreign keys, uniques and checks reject the same rows on both backends.
async fn constraints_protect_the_data(backend: Backend) {
    let (_db, pool) = open(&backend);
    let conn = &mut pool.get().unwrap();
    let company = insert_company(conn, "ACME");
    assert_eq!(
        kind(insert_site(conn, Id::new(), "X1")),
        Some(DatabaseErrorKind::ForeignKeyViolation)
    );
    insert_site(conn, company, "TKY").unwrap();
    assert_eq!(
        kind(insert_site(conn, company, "TKY")),
        Some(DatabaseErrorKind::UniqueViolation)
    );

    // A region outside the list.
    let now = Timestamp::now();
    let bad_region = diesel::insert_into(sites::table)
        .values((
            sites::id.eq(Id::new()),
            sites::code.eq("OSK"),
            sites::name.eq("Osaka"),
            sites::company_id.eq(company),
            sites::country.eq("JP"),
            sites::region.eq("moon"),
            sites::timezone.eq("Asia/Tokyo"),
            sites::opened_on.eq(chrono::NaiveDate::from_ymd_opt(2010, 4, 1).unwrap()),
            sites::created_at.eq(now),
            sites::updated_at.eq(now),
        ))
        .execute(conn);
    assert_eq!(kind(bad_region), Some(DatabaseErrorKind::CheckViolation));

    // Emails are stored lower-case: upper case is refused by the database itself.
    let shouting = diesel::insert_into(users::table)
        .values((
            users::id.eq(Id::new()),
            users::employee_number.eq("E9"),
            users::email.eq("A@Example.com"),
            users::display_name.eq("A"),
            users::role.eq("employee"),
            users::created_at.eq(now),
            users::updated_at.eq(now),
        ))
        .execute(conn);
    assert_eq!(kind(shouting), Some(DatabaseErrorKind::CheckViolation));
}

/// A failed write transaction leaves nothing behind; a successful one commits.
async fn write_transactions_are_all_or_nothing(backend: Backend) {
    let (_db, pool) = open(&backend);
    let conn = &mut pool.get().unwrap();
    let result: QueryResult<()> = db::write_transaction(conn, |c| {
        insert_company(c, "B1");
        Err(DieselError::RollbackTransaction)
    });
    assert!(result.is_err());
    let count: i64 = companies::table
        .filter(companies::code.eq("B1"))
        .count()
        .get_result(conn)
        .unwrap();
    assert_eq!(count, 0, "rolled back");
    let ok: QueryResult<()> = db::write_transaction(conn, |c| {
        insert_company(c, "C1");
        Ok(())
    });
    ok.unwrap();
    let count: i64 = companies::table
        .filter(companies::code.eq("C1"))
        .count()
        .get_result(conn)
        .unwrap();
    assert_eq!(count, 1, "committed");
}

/// A write transaction started inside another joins it (no savepoint): the inner one's error
/// rolls back the outer one's writes too, and success commits both.
async fn nested_write_transactions_join_the_outer_one(backend: Backend) {
    let (_db, pool) = open(&backend);
    let conn = &mut pool.get().unwrap();
    let count = |conn: &mut AnyConnection, code: &str| -> i64 {
        companies::table
            .filter(companies::code.eq(code))
            .count()
            .get_result(conn)
            .unwrap()
    };
    let failed: QueryResult<()> = db::write_transaction(conn, |c| {
        insert_company(c, "OUT1");
        db::write_transaction(c, |c| {
            insert_company(c, "IN1");
            Err(DieselError::RollbackTransaction)
        })
    });
    assert!(failed.is_err());
    assert_eq!((count(conn, "OUT1"), count(conn, "IN1")), (0, 0));
    let ok: QueryResult<()> = db::write_transaction(conn, |c| {
        insert_company(c, "OUT2");
        db::write_transaction(c, |c| {
            insert_company(c, "IN2");
            Ok(())
        })
    });
    ok.unwrap();
    assert_eq!((count(conn, "OUT2"), count(conn, "IN2")), (1, 1));
}

/// SQLite writers of this process take turns per database file: a writer of another file does
/// not wait for the turn (it would, for the whole busy timeout, if the queue were shared), and a
/// second writer of the same file gets in only after the first has committed.
#[test]
fn sqlite_writers_queue_per_file() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, mpsc};
    let (_a, pool_a) = open(&Backend::Sqlite);
    let (_b, pool_b) = open(&Backend::Sqlite);
    let (entered_tx, entered) = mpsc::channel();
    let (release_tx, release) = mpsc::channel::<()>();
    let committed = Arc::new(AtomicBool::new(false));
    let holder = {
        let (pool_a, committed) = (pool_a.clone(), committed.clone());
        std::thread::spawn(move || {
            let conn = &mut pool_a.get().unwrap();
            let r: QueryResult<()> = db::write_transaction(conn, |c| {
                insert_company(c, "A1");
                entered_tx.send(()).unwrap();
                release.recv().unwrap();
                committed.store(true, Ordering::SeqCst);
                Ok(())
            });
            r.unwrap();
        })
    };
    entered.recv().unwrap();

    let started = std::time::Instant::now();
    let r: QueryResult<()> = db::write_transaction(&mut pool_b.get().unwrap(), |c| {
        insert_company(c, "B1");
        Ok(())
    });
    r.unwrap();
    assert!(
        started.elapsed() < std::time::Duration::from_secs(2),
        "another file's writer waited {:?}",
        started.elapsed()
    );

    let second = {
        let (pool_a, committed) = (pool_a.clone(), committed.clone());
        std::thread::spawn(move || {
            let r: QueryResult<bool> = db::write_transaction(&mut pool_a.get().unwrap(), |c| {
                insert_company(c, "A2");
                Ok(committed.load(Ordering::SeqCst))
            });
            r.unwrap()
        })
    };
    release_tx.send(()).unwrap();
    holder.join().unwrap();
    assert!(
        second.join().unwrap(),
        "the second writer got in before the first committed"
    );
}

/// Every write transaction of the process on one SQLite file runs on one connection, whichever
/// pool connection asked for it (its page cache then stays warm: `db::sqlite_writers`). A
/// temporary table, which only the connection that made it can see, shows which connection ran.
#[test]
fn sqlite_writes_run_on_one_connection() {
    use diesel::connection::SimpleConnection;
    use diesel::dsl::sql;
    use diesel::sql_types::BigInt;
    let (_db, pool) = open(&Backend::Sqlite);
    let (mut a, mut b) = (pool.get().unwrap(), pool.get().unwrap());
    let made: QueryResult<()> = db::write_transaction(&mut a, |c| {
        c.batch_execute(
            "CREATE TEMP TABLE writer_probe (x INTEGER); INSERT INTO writer_probe VALUES (1);",
        )
    });
    made.unwrap();
    let seen: QueryResult<i64> = db::write_transaction(&mut b, |c| {
        insert_company(c, "W1");
        diesel::select(sql::<BigInt>("(SELECT count(*) FROM temp.writer_probe)")).get_result(c)
    });
    assert_eq!(seen.unwrap(), 1, "the second write ran where the first did");
    for conn in [&mut a, &mut b] {
        assert!(
            diesel::sql_query("SELECT x FROM temp.writer_probe")
                .execute(&mut **conn)
                .is_err(),
            "the pool's own connections did not run the writes"
        );
        let written: i64 = companies::table
            .filter(companies::code.eq("W1"))
            .count()
            .get_result(&mut **conn)
            .unwrap();
        assert_eq!(
            written, 1,
            "what the writer committed, every connection reads"
        );
    }
}

/// The writer connection leaves checkpoints to the requests that wrote (`db::checkpoint`), which
/// take them after the turn while other writers go on appending; under steady writes from many
/// threads the log must still start over rather than grow with every commit. The log's header
/// counts its restarts (its checkpoint sequence number); the file keeps the largest size it
/// reached, which without restarts was ~375 MB after these 30,000 commits.
#[test]
fn sqlite_log_starts_over_under_steady_writes() {
    use diesel::connection::SimpleConnection;
    use diesel::dsl::sql;
    use diesel::sql_types::Text;
    let (_db, pool) = open(&Backend::Sqlite);
    let mut conn = pool.get().unwrap();
    conn.batch_execute("CREATE TABLE wal_probe (x TEXT NOT NULL)")
        .unwrap();
    let file: String = diesel::select(sql::<Text>(
        "(SELECT file FROM pragma_database_list WHERE name = 'main')",
    ))
    .get_result(&mut *conn)
    .unwrap();
    drop(conn);
    // The checkpoint sequence number: big-endian at byte 12 of the log's header.
    let restarts = || {
        use std::io::Read;
        let mut header = [0u8; 16];
        std::fs::File::open(format!("{file}-wal"))
            .and_then(|mut f| f.read_exact(&mut header))
            .unwrap();
        u32::from_be_bytes([header[12], header[13], header[14], header[15]])
    };
    let before = restarts();
    let page = "x".repeat(3000);
    let writers: Vec<_> = (0..4)
        .map(|_| {
            let (pool, page) = (pool.clone(), page.clone());
            std::thread::spawn(move || {
                let mut conn = pool.get().unwrap();
                for _ in 0..7_500 {
                    let r: QueryResult<usize> = db::write_transaction(&mut conn, |c| {
                        diesel::sql_query("INSERT INTO wal_probe (x) VALUES ($1)")
                            .bind::<Text, _>(&page)
                            .execute(c)
                    });
                    assert_eq!(r.unwrap(), 1);
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    let rows: i64 = diesel::select(sql::<diesel::sql_types::BigInt>(
        "(SELECT count(*) FROM wal_probe)",
    ))
    .get_result(&mut *pool.get().unwrap())
    .unwrap();
    assert_eq!(rows, 30_000);
    let started_over = restarts().wrapping_sub(before);
    assert!(
        started_over >= 2,
        "the log started over {started_over} times in 30,000 commits"
    );
    let log = std::fs::metadata(format!("{file}-wal")).unwrap().len();
    assert!(log < 160 << 20, "the log reached {log} bytes");
}

/// The bundled SQLite is built with the query planner stability guarantee on
/// (`.cargo/config.toml`): plans never look at the values bound to a statement, so the
/// statements diesel keeps prepared are not compiled again whenever it binds new values (every
/// `LIMIT ?` was, before: a fifth of the event list page's CPU).
#[test]
fn sqlite_plans_never_depend_on_bound_values() {
    use diesel::dsl::sql;
    use diesel::sql_types::Integer;
    let (_db, pool) = open(&Backend::Sqlite);
    let mut conn = pool.get().unwrap();
    let on: i32 = diesel::select(sql::<Integer>("sqlite_compileoption_used('ENABLE_QPSG')"))
        .get_result(&mut *conn)
        .unwrap();
    assert_eq!(on, 1, "SQLite was built without SQLITE_ENABLE_QPSG");
}

/// Work that panics inside a SQLite write leaves the writer connection inside its
/// transaction, holding the file's write lock; the next write closes it (rolling the work back)
/// and goes on with a new one.
#[test]
fn a_sqlite_write_that_panicked_leaves_nothing_behind() {
    let (_db, pool) = open(&Backend::Sqlite);
    let (mut a, mut b) = (pool.get().unwrap(), pool.get().unwrap());
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _: QueryResult<()> = db::write_transaction(&mut a, |c| {
            insert_company(c, "P1");
            panic!("the work failed half-way");
        });
    }));
    assert!(panicked.is_err());
    let next: QueryResult<()> = db::write_transaction(&mut b, |c| {
        insert_company(c, "P2");
        Ok(())
    });
    next.unwrap();
    let codes: Vec<String> = companies::table
        .select(companies::code)
        .filter(companies::code.eq_any(["P1", "P2"]))
        .load(&mut a)
        .unwrap();
    assert_eq!(codes, vec!["P2".to_owned()]);
}

/// Rows older than `events.starts_on` get their site-local start date when migrations run
/// (SQLite cannot compute it in SQL: no time-zone database).
async fn events_without_a_local_date_are_filled_after_migrating(backend: Backend) {
    let (_db, pool) = open(&backend);
    let conn = &mut pool.get().unwrap();
    let company = insert_company(conn, "C");
    let site = insert_site(conn, company, "S").unwrap();
    let program: tomoni::programs::program::CreateProgram = serde_json::from_value(
        serde_json::json!({"site_id": site.to_string(), "code": "P", "title": "P", "theme": "nature"}),
    )
    .unwrap();
    let program = tomoni::programs::program::create(conn, &program).unwrap();
    let event = Id::new();
    // 23:30 on 31 March in Tokyo = 14:30 UTC.
    let start = Timestamp::from(Utc.with_ymd_and_hms(2012, 3, 31, 14, 30, 0).unwrap());
    let end = Timestamp::from(Utc.with_ymd_and_hms(2012, 3, 31, 14, 50, 0).unwrap());
    let now = Timestamp::now();
    diesel::insert_into(events::table)
        .values((
            events::id.eq(event),
            events::program_id.eq(program),
            events::title.eq("Old"),
            events::description.eq(""),
            events::starts_at.eq(start),
            events::ends_at.eq(end),
            events::timezone.eq("Asia/Tokyo"),
            events::location.eq(""),
            events::status.eq("published"),
            events::created_at.eq(now),
            events::updated_at.eq(now),
        ))
        .execute(conn)
        .unwrap();
    db::run_migrations(conn).unwrap();
    let on: Option<chrono::NaiveDate> = events::table
        .filter(events::id.eq(event))
        .select(events::starts_on)
        .first(conn)
        .unwrap();
    assert_eq!(on, chrono::NaiveDate::from_ymd_opt(2012, 3, 31));
}

both_backends!(
    events_without_a_local_date_are_filled_after_migrating,
    schema_matches_migrations,
    ids_and_instants_round_trip,
    constraints_protect_the_data,
    write_transactions_are_all_or_nothing,
    nested_write_transactions_join_the_outer_one,
);

/// On PostgreSQL the database named in the URL is created when missing, then migrated.
#[actix_web::test]
async fn missing_postgres_database_is_created_postgres() {
    let Some(Backend::Postgres { admin_url }) = common::postgres() else {
        return;
    };
    let name = format!("tomoni_test_{}", uuid::Uuid::now_v7().simple());
    let mut settings = tomoni::Settings::defaults().unwrap();
    settings.database.url = common::database_url(&admin_url, &name);
    let pool = db::init(&settings.database).expect("creates and migrates");
    let conn = &mut pool.get().unwrap();
    let n: i64 = companies::table.count().get_result(conn).unwrap();
    assert_eq!(n, 0);
    drop(pool);
    let mut admin = diesel::PgConnection::establish(&admin_url).unwrap();
    diesel::sql_query(format!("DROP DATABASE \"{name}\" WITH (FORCE)"))
        .execute(&mut admin)
        .unwrap();
}

/// Instances started together on an empty PostgreSQL database each run the migrations: the
/// transaction-level lock makes one apply them while the others wait, then find nothing to do.
#[actix_web::test]
async fn instances_starting_together_migrate_once_postgres() {
    let Some(Backend::Postgres { admin_url }) = common::postgres() else {
        return;
    };
    let name = format!("tomoni_test_{}", uuid::Uuid::now_v7().simple());
    let mut admin = diesel::PgConnection::establish(&admin_url).unwrap();
    diesel::sql_query(format!("CREATE DATABASE \"{name}\""))
        .execute(&mut admin)
        .unwrap();
    let mut settings = tomoni::Settings::defaults().unwrap();
    settings.database.url = common::database_url(&admin_url, &name);
    let start = std::sync::Arc::new(std::sync::Barrier::new(4));
    let runs: Vec<_> = (0..4)
        .map(|_| {
            let (database, start) = (settings.database.clone(), start.clone());
            std::thread::spawn(move || {
                let mut conn = db::connect(&database).expect("connect");
                start.wait();
                db::run_migrations(&mut conn)
            })
        })
        .collect();
    let mut applied: Vec<usize> = runs
        .into_iter()
        .map(|run| run.join().unwrap().expect("every instance starts"))
        .collect();
    applied.sort();
    let total = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/postgres"))
        .unwrap()
        .count();
    assert_eq!(applied, vec![0, 0, 0, total], "one applied them all");
    let conn = &mut db::connect(&settings.database).unwrap();
    let versions: i64 = diesel::dsl::sql::<diesel::sql_types::BigInt>(
        "SELECT count(*) FROM __diesel_schema_migrations",
    )
    .get_result(conn)
    .unwrap();
    assert_eq!(versions as usize, total);
    diesel::sql_query(format!("DROP DATABASE \"{name}\" WITH (FORCE)"))
        .execute(&mut admin)
        .unwrap();
}

/// The pool lends a connection used a moment ago without a ping, so it must notice a link that
/// broke on its own: a connection whose server process was ended (a restart, a network cut)
/// fails its statement once, is dropped when it comes back, and the next check-out is a new,
/// working connection rather than the dead one again.
#[actix_web::test]
async fn a_connection_whose_link_broke_is_not_lent_again_postgres() {
    let Some(backend @ Backend::Postgres { .. }) = common::postgres() else {
        return;
    };
    let Backend::Postgres { admin_url } = &backend else {
        unreachable!()
    };
    let test_db = TestDb::new(&backend);
    let mut settings = test_db.settings();
    settings.database.pool_max_size = 1;
    let pool = db::init(&settings.database).expect("init database");
    let pid = |conn: &mut AnyConnection| -> QueryResult<i32> {
        diesel::select(diesel::dsl::sql::<diesel::sql_types::Integer>(
            "pg_backend_pid()",
        ))
        .get_result(conn)
    };
    let first = pid(&mut pool.get().unwrap()).unwrap();

    // End that server process from outside, and wait (bounded) until it is gone.
    let mut admin = diesel::PgConnection::establish(admin_url).unwrap();
    diesel::sql_query(format!("SELECT pg_terminate_backend({first})"))
        .execute(&mut admin)
        .unwrap();
    for round in 0.. {
        let alive: i64 = diesel::dsl::sql::<diesel::sql_types::BigInt>(&format!(
            "SELECT count(*) FROM pg_stat_activity WHERE pid = {first}"
        ))
        .get_result(&mut admin)
        .unwrap();
        if alive == 0 {
            break;
        }
        assert!(round < 1_000, "the server process never ended");
        std::thread::yield_now();
    }

    // The pooled connection came back a moment ago, so it is lent without a ping and its
    // statement finds the link broken (had the ping run, it would be a new connection already).
    let second = pid(&mut pool.get().unwrap());
    if let Ok(other) = second {
        assert_ne!(other, first, "the dead connection answered");
    }
    // Whichever way, the dead connection is not lent again.
    let third = pid(&mut pool.get().unwrap()).expect("a working connection");
    assert_ne!(third, first);
    assert_eq!(
        pool.state().connections,
        1,
        "the dead one was dropped, not kept"
    );
}
