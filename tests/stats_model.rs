//! Property test: after random sequences of attendance, approvals, rejections and edits (of
//! records, event times, programme categories and site regions), the summary-based figures
//! equal a naive recomputation from raw rows, for every scope, on both databases; and a rebuild
//! from scratch changes nothing.

mod common;

use chrono::{DateTime, TimeZone, Utc};
use common::{Backend, TestDb};
use diesel::prelude::*;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::json;
use tomoni::attendance::{approval, roster};
use tomoni::auth::{Caller, Role};
use tomoni::config::AttendanceSettings;
use tomoni::db::schema::attendance;
use tomoni::db::{self, AnyConnection, Id};
use tomoni::programs::{events, program};
use tomoni::stats::mdd::{self, Scope};
use tomoni::stats::rollup;
use tomoni::time::FiscalCalendar;

const PEOPLE: usize = 5;
const EVENTS: usize = 4;
/// Starts around fiscal-year and month boundaries (Tokyo local times, as UTC instants).
const STARTS: [(i32, u32, u32, u32); 6] = [
    (2025, 3, 31, 13), // 31 March 22:00 in Tokyo: fiscal 2025
    (2025, 3, 31, 15), // 1 April 00:00 in Tokyo: fiscal 2026
    (2024, 6, 10, 1),
    (2025, 12, 31, 14),
    (2026, 2, 1, 0),
    (2023, 11, 5, 2),
];

#[derive(Debug, Clone)]
enum Op {
    /// Record (or change) a line on an event's roster; auto-approved when asked and in length.
    Mark {
        event: usize,
        person: usize,
        minutes: i32,
        no_show: bool,
        auto: bool,
    },
    Approve(usize),
    Reject(usize),
    MoveEvent {
        event: usize,
        start: usize,
    },
    Categorize {
        program: usize,
        categories: u8,
    },
    Rezone {
        site: usize,
        overseas: bool,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..EVENTS, 0..PEOPLE, 1..300i32, proptest::bool::weighted(0.15), any::<bool>())
            .prop_map(|(event, person, minutes, no_show, auto)| Op::Mark { event, person, minutes, no_show, auto }),
        4 => (0..50usize).prop_map(Op::Approve),
        2 => (0..50usize).prop_map(Op::Reject),
        1 => (0..EVENTS, 0..STARTS.len()).prop_map(|(event, start)| Op::MoveEvent { event, start }),
        1 => (0..3usize, 0..4u8).prop_map(|(program, categories)| Op::Categorize { program, categories }),
        1 => (0..2usize, any::<bool>()).prop_map(|(site, overseas)| Op::Rezone { site, overseas }),
    ]
}

struct World {
    _db: TestDb,
    pool: db::Pool,
    admin: Caller,
    sites: Vec<Id>,
    company: Id,
    programs: Vec<Id>,
    people: Vec<Id>,
}

fn start(i: usize) -> DateTime<Utc> {
    let (y, m, d, h) = STARTS[i];
    Utc.with_ymd_and_hms(y, m, d, h, 0, 0).unwrap()
}

fn world(backend: &Backend) -> World {
    let test_db = TestDb::new(backend);
    let pool = db::init(&test_db.settings().database).unwrap();
    let conn = &mut pool.get().unwrap();
    let company: Id = tomoni::org::companies::create(
        conn,
        &common::admin_principal(),
        serde_json::from_value(json!({"code": "G", "name": "Group", "country": "JP"})).unwrap(),
    )
    .unwrap()
    .id
    .into();
    let sites: Vec<Id> = (0..2)
        .map(|i| {
            let req =
                serde_json::from_value(json!({"code": format!("S{i}"), "name": format!("S{i}"),
                "company_id": company.to_string(), "country": "JP", "region": "domestic",
                "timezone": "Asia/Tokyo", "opened_on": "2000-01-01"}))
                .unwrap();
            tomoni::org::sites::create(conn, &common::admin_principal(), req)
                .unwrap()
                .id
                .into()
        })
        .collect();
    let programs: Vec<Id> = (0..3)
        .map(|i| {
            let req: program::CreateProgram = serde_json::from_value(json!({
                "site_id": sites[i % 2].to_string(), "code": format!("P{i}"), "title": "P",
                "theme": "nature", "categories": if i == 0 { vec!["biodiversity"] } else { vec![] }}))
            .unwrap();
            program::create(conn, &req).unwrap()
        })
        .collect();
    let mut mk = |role: Role, n: usize| {
        tomoni::people::users::create(
            conn,
            &tomoni::people::users::NewUser {
                employee_number: format!("N{n}"),
                email: format!("p{n}@example.com"),
                display_name: format!("P{n}"),
                site_id: Some(sites[0]),
                role,
                locale: "en".into(),
                password: None,
            },
        )
        .unwrap()
    };
    let admin = mk(Role::Admin, 99);
    let people = (0..PEOPLE).map(|n| mk(Role::Employee, n)).collect();
    World {
        _db: test_db,
        admin: Caller {
            id: admin,
            role: Role::Admin,
            site_id: None,
            sites: Vec::new(),
            restatement: None,
        },
        pool,
        sites,
        company,
        programs,
        people,
    }
}

fn settings(auto: bool) -> AttendanceSettings {
    AttendanceSettings {
        check_in_opens_minutes_before: 60,
        allow_walk_ins: true,
        auto_approve_roster: auto,
        default_minutes_per_day: 480,
        check_in_attempt_burst: 0,
        check_in_attempt_period_secs: 30,
    }
}

fn records(conn: &mut AnyConnection, events: &[Id], approval: &[&str]) -> Vec<Id> {
    attendance::table
        .filter(attendance::event_id.eq_any(events))
        .filter(attendance::approval.eq_any(approval))
        .select(attendance::id)
        .order(attendance::id)
        .load(conn)
        .unwrap()
}

fn apply(w: &World, conn: &mut AnyConnection, events: &[Id], op: &Op) {
    // Refusals (e.g. rejecting an already rejected record) are part of the game; only the
    // summaries' agreement is checked.
    let _ = match op {
        Op::Mark {
            event,
            person,
            minutes,
            no_show,
            auto,
        } => {
            let line = if *no_show {
                json!({"user_id": w.people[*person].to_string(), "status": "no_show"})
            } else {
                json!({"user_id": w.people[*person].to_string(), "status": "attended", "minutes": minutes})
            };
            let marking = serde_json::from_value(json!({ "entries": [line] })).unwrap();
            roster::mark(
                conn,
                &w.admin,
                events[*event],
                &marking,
                None,
                &settings(*auto),
            )
            .map(drop)
        }
        Op::Approve(k) => {
            let pending = records(conn, events, &["pending"]);
            if pending.is_empty() {
                return;
            }
            approval::approve(conn, &w.admin, &[pending[k % pending.len()]], None).map(drop)
        }
        Op::Reject(k) => {
            let open = records(conn, events, &["pending", "approved"]);
            if open.is_empty() {
                return;
            }
            approval::reject(conn, &w.admin, open[k % open.len()], "no", None).map(drop)
        }
        Op::MoveEvent { event, start: s } => {
            let patch: events::EventPatch = serde_json::from_value(json!({
                "starts_at": start(*s).to_rfc3339(),
                "ends_at": (start(*s) + chrono::Duration::hours(3)).to_rfc3339()}))
            .unwrap();
            events::update_plan(conn, &w.admin, events[*event], &patch)
        }
        Op::Categorize {
            program: p,
            categories,
        } => {
            let cats: Vec<&str> = [(1, "biodiversity"), (2, "disaster_relief")]
                .into_iter()
                .filter(|(bit, _)| categories & bit != 0)
                .map(|(_, c)| c)
                .collect();
            let theme = if categories & 1 == 0 {
                "nature"
            } else {
                "community"
            };
            let patch =
                serde_json::from_value(json!({"categories": cats, "theme": theme})).unwrap();
            program::update(conn, &w.admin, w.programs[*p], patch)
        }
        Op::Rezone { site, overseas } => {
            let region = if *overseas { "overseas" } else { "domestic" };
            let patch = serde_json::from_value(json!({ "region": region })).unwrap();
            tomoni::org::sites::update(conn, &common::admin_principal(), w.sites[*site], patch)
                .map(drop)
        }
    };
}

fn scopes(w: &World) -> Vec<Scope> {
    vec![
        Scope::default(),
        Scope {
            site_id: Some(w.sites[0]),
            ..Scope::default()
        },
        Scope {
            site_id: Some(w.sites[1]),
            ..Scope::default()
        },
        Scope {
            company_id: Some(w.company),
            ..Scope::default()
        },
        Scope {
            region: Some("overseas".into()),
            ..Scope::default()
        },
        Scope {
            region: Some("domestic".into()),
            ..Scope::default()
        },
    ]
}

fn agree(w: &World, conn: &mut AnyConnection) -> Result<(), TestCaseError> {
    let fiscal = FiscalCalendar::APRIL;
    for scope in scopes(w) {
        let kept = mdd::figures(conn, fiscal, 2023..=2027, &scope).unwrap();
        let naive = mdd::naive(conn, fiscal, 2023..=2027, &scope).unwrap();
        prop_assert_eq!(kept, naive, "scope {:?}", scope);
    }
    Ok(())
}

fn run_case(w: &World, case: usize, ops: &[Op]) -> Result<(), TestCaseError> {
    let conn = &mut w.pool.get().unwrap();
    // Fresh events per case (the summaries carry every earlier case along: more history).
    let events: Vec<Id> = (0..EVENTS)
        .map(|i| {
            let s = start((i + case) % STARTS.len());
            let req: events::CreateEvent = serde_json::from_value(json!({
                "program_id": w.programs[(i + case) % w.programs.len()].to_string(),
                "starts_at": s.to_rfc3339(), "ends_at": (s + chrono::Duration::hours(3)).to_rfc3339()}))
            .unwrap();
            let id = events::create(conn, &req, w.admin.id).unwrap();
            // A past one is created completed (a recorded activity); the rest are published.
            if events::find(conn, id).unwrap().status == events::EventStatus::Draft {
                events::publish(conn, id).unwrap();
            }
            id
        })
        .collect();
    for op in ops {
        apply(w, conn, &events, op);
        agree(w, conn)?;
    }
    Ok(())
}

fn check(backend: Backend) {
    let w = world(&backend);
    let mut runner = TestRunner::new(Config {
        cases: 24,
        failure_persistence: None,
        ..Config::default()
    });
    let case = std::cell::Cell::new(0usize);
    let result = runner.run(&proptest::collection::vec(op(), 1..20), |ops| {
        case.set(case.get() + 1);
        run_case(&w, case.get(), &ops)
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    // After all that history, a rebuild from raw rows lands on the same figures.
    let conn = &mut w.pool.get().unwrap();
    let fiscal = FiscalCalendar::APRIL;
    let before: Vec<_> = scopes(&w)
        .iter()
        .map(|s| mdd::figures(conn, fiscal, 2023..=2027, s).unwrap())
        .collect();
    rollup::rebuild(conn, |_| {}).unwrap();
    let after: Vec<_> = scopes(&w)
        .iter()
        .map(|s| mdd::figures(conn, fiscal, 2023..=2027, s).unwrap())
        .collect();
    assert_eq!(before, after);
    assert!(
        before[0].values().any(|f| f.participants > 0),
        "the run recorded approved attendance"
    );
}

#[test]
fn rollups_equal_a_naive_recount_sqlite() {
    check(Backend::Sqlite);
}

#[test]
fn rollups_equal_a_naive_recount_postgres() {
    if let Some(backend) = common::postgres() {
        check(backend);
    }
}
