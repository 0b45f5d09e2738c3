//! `tomoni seed demo`: a realistic dataset at the model programme's size, for demonstrations and
//! benchmarks. Deterministic for a given seed (ids included), written with multi-row inserts and
//! summarised by one statistics rebuild at the end.
//!
//! At `scale` 1: ~1,700 sites (700–950 of them run programmes each year), ~3,000 programmes a
//! year with ~1.3 events each, 60,000 employees, 160–180k attendance records a year (about 2 %
//! pending, 1 % rejected, 3 % no-shows), 12 % biodiversity and 3 % disaster-relief programmes.
//! Records come in as history (`source = import`, no sign-ups), plus a few published upcoming
//! events to sign up for.

use chrono::{Duration, NaiveDate, NaiveTime, TimeZone};
use diesel::prelude::*;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use crate::db::schema::{
    attendance, companies, events, program_categories, programs, sites, users,
};
use crate::db::{AnyConnection, Id, Timestamp, per_backend, write_transaction};
use crate::error::{AppError, AppResult};
use crate::stats::rollup;
use crate::time::FiscalCalendar;

#[derive(Debug, Clone)]
pub struct Options {
    /// Fiscal years of history, ending with the last completed one.
    pub years: u32,
    /// Multiplies every count (0.01 for a small demo).
    pub scale: f64,
    pub seed: u64,
}

/// Progress of a stage: (stage name, done, total).
pub type Progress<'a> = &'a mut dyn FnMut(&str, u64, u64);

/// What was written.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    pub sites: usize,
    pub employees: usize,
    pub programs: usize,
    pub events: usize,
    pub attendance: usize,
}

/// Rows per INSERT: under SQLite's 32,766 bound parameters with 15 columns.
const BATCH: usize = 1000;

const ZONES: [(&str, &str); 6] = [
    ("US", "America/New_York"),
    ("DE", "Europe/Berlin"),
    ("TH", "Asia/Bangkok"),
    ("CN", "Asia/Shanghai"),
    ("BR", "America/Sao_Paulo"),
    ("GB", "Europe/London"),
];

const TITLES: [&str; 12] = [
    "Beach clean-up",
    "Forest thinning",
    "Rice-paddy biotope survey",
    "Science class for children",
    "Reading to the elderly",
    "Rubble removal after the earthquake",
    "River bank planting",
    "Food bank sorting",
    "Wheelchair-accessible hiking",
    "Bird census",
    "Coding club",
    "Community festival",
];

fn scaled(n: f64, scale: f64) -> usize {
    ((n * scale).round() as usize).max(1)
}

struct Ids(StdRng);

impl Ids {
    /// A UUID v7 at `at`, with random bits from the seeded generator: time-ordered like the
    /// ids the service makes, and the same for the same seed.
    fn at(&mut self, at: chrono::DateTime<chrono::Utc>) -> Id {
        let bytes: [u8; 10] = self.0.random();
        let ms = u64::try_from(at.timestamp_millis()).unwrap_or(0);
        Id(uuid::Builder::from_unix_timestamp_millis(ms, &bytes).into_uuid())
    }
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// A demo account to sign in with, and its password (never stored readably, never logged).
pub struct DemoAccount {
    pub role: crate::auth::Role,
    pub email: String,
    pub password: String,
}

/// One account per role on a seeded database (the coordinator runs the first site, everyone's
/// home is there), with fresh random passwords for the caller to show once.
pub fn demo_accounts(conn: &mut AnyConnection) -> AppResult<Vec<DemoAccount>> {
    use crate::auth::Role;
    use crate::db::schema::coordinator_sites;
    let site: Option<Id> = sites::table
        .select(sites::id)
        .order(sites::id)
        .first(conn)
        .optional()?;
    let mut out = Vec::new();
    for role in [Role::Employee, Role::Coordinator, Role::Hr, Role::Admin] {
        let email = format!("demo.{}@demo.example", role.as_str());
        let password = crate::auth::password::generate();
        let id = crate::people::users::create(
            conn,
            &crate::people::NewUser {
                employee_number: format!("DEMO-{}", role.as_str().to_uppercase()),
                email: email.clone(),
                display_name: format!("Demo {role}"),
                site_id: site,
                role,
                locale: "en".into(),
                password: Some(password.clone()),
            },
        )?;
        if let (Role::Coordinator, Some(site)) = (role, site) {
            diesel::insert_into(coordinator_sites::table)
                .values((
                    coordinator_sites::user_id.eq(id),
                    coordinator_sites::site_id.eq(site),
                    coordinator_sites::created_at.eq(Timestamp::now()),
                ))
                .execute(conn)?;
        }
        out.push(DemoAccount {
            role,
            email,
            password,
        });
    }
    Ok(out)
}

/// Writes the dataset into an empty database (refused when it already holds sites).
pub fn demo(
    conn: &mut AnyConnection,
    fiscal: FiscalCalendar,
    today: NaiveDate,
    opts: &Options,
    progress: Progress,
) -> AppResult<Summary> {
    if !(0.0001..=10.0).contains(&opts.scale) || !(1..=20).contains(&opts.years) {
        return Err(AppError::bad_request(
            "invalid_options",
            "--scale must be within 0.0001..=10 and --years within 1..=20",
        ));
    }
    let existing: i64 = sites::table.count().get_result(conn)?;
    if existing > 0 {
        return Err(AppError::conflict(
            "not_empty",
            "the database already holds sites; seed an empty database",
        ));
    }
    let mut rng = StdRng::seed_from_u64(opts.seed);
    let mut ids = Ids(StdRng::seed_from_u64(opts.seed ^ 0x5eed));
    let now = Timestamp::now();
    let last_fy = fiscal.year_of(today) - 1;
    let first_fy = last_fy - i32::try_from(opts.years).unwrap_or(1) + 1;
    let (history_start, _) = fiscal
        .dates(first_fy)
        .ok_or_else(|| AppError::bad_request("invalid_options", "years out of range"))?;
    let epoch = chrono::Utc.from_utc_datetime(&history_start.and_time(NaiveTime::MIN));
    let mut summary = Summary::default();

    write_transaction(conn, |conn| -> AppResult<()> {
        // Companies and sites.
        let n_companies = scaled(12.0, opts.scale.max(0.1));
        let company_ids: Vec<Id> = (0..n_companies).map(|_| ids.at(epoch)).collect();
        let rows: Vec<_> = company_ids
            .iter()
            .enumerate()
            .map(|(i, id)| {
                (
                    companies::id.eq(*id),
                    companies::code.eq(format!("C{i:02}")),
                    companies::name.eq(format!("Group company {i:02}")),
                    companies::country.eq("JP"),
                    companies::created_at.eq(now),
                    companies::updated_at.eq(now),
                )
            })
            .collect();
        per_backend!(&mut *conn, |c| diesel::insert_into(companies::table)
            .values(&rows)
            .execute(c))?;

        let n_sites = scaled(1700.0, opts.scale);
        let mut site_rows = Vec::with_capacity(n_sites);
        let mut site_zone = Vec::with_capacity(n_sites);
        let mut site_ids = Vec::with_capacity(n_sites);
        for i in 0..n_sites {
            let id = ids.at(epoch);
            let overseas = rng.random_bool(0.3);
            let (country, zone) = if overseas {
                ZONES[rng.random_range(0..ZONES.len())]
            } else {
                ("JP", "Asia/Tokyo")
            };
            // Most sites are old; some open or close during the history.
            let opened = if rng.random_bool(0.9) {
                NaiveDate::from_ymd_opt(1990 + rng.random_range(0..20), 4, 1)
            } else {
                history_start.checked_add_signed(Duration::days(
                    rng.random_range(0..365 * i64::from(opts.years)),
                ))
            }
            .unwrap_or(history_start);
            let closed = rng
                .random_bool(0.08)
                .then(|| {
                    history_start
                        + Duration::days(rng.random_range(0..365 * i64::from(opts.years) + 365))
                })
                .filter(|c| *c > opened);
            site_rows.push((
                sites::id.eq(id),
                sites::code.eq(format!("S{i:04}")),
                sites::name.eq(format!("Site {i:04}")),
                sites::company_id.eq(company_ids[i % company_ids.len()]),
                sites::country.eq(country),
                sites::region.eq(if overseas { "overseas" } else { "domestic" }),
                sites::timezone.eq(zone),
                sites::opened_on.eq(opened),
                sites::closed_on.eq(closed),
                sites::created_at.eq(now),
                sites::updated_at.eq(now),
            ));
            site_zone.push(zone);
            site_ids.push(id);
        }
        for chunk in site_rows.chunks(BATCH) {
            per_backend!(&mut *conn, |c| diesel::insert_into(sites::table)
                .values(chunk)
                .execute(c))?;
        }
        summary.sites = n_sites;

        // Employees.
        let n_users = scaled(60_000.0, opts.scale);
        let mut user_ids = Vec::with_capacity(n_users);
        let mut done = 0;
        let rows: Vec<_> = (0..n_users)
            .map(|i| {
                let id = ids.at(epoch);
                user_ids.push(id);
                (
                    users::id.eq(id),
                    users::employee_number.eq(format!("D{i:06}")),
                    users::email.eq(format!("employee{i:06}@demo.example")),
                    users::display_name.eq(format!("Employee {i:06}")),
                    users::site_id.eq(Some(site_ids[i % site_ids.len()])),
                    users::role.eq("employee"),
                    users::active.eq(true),
                    users::locale.eq(if i % 5 == 0 { "en" } else { "ja" }),
                    users::created_at.eq(now),
                    users::updated_at.eq(now),
                )
            })
            .collect();
        for chunk in rows.chunks(BATCH) {
            per_backend!(&mut *conn, |c| diesel::insert_into(users::table)
                .values(chunk)
                .execute(c))?;
            done += chunk.len();
            progress("employees", done as u64, n_users as u64);
        }
        summary.employees = n_users;

        // Programmes: a pool sites keep running year after year.
        let n_programs = scaled(3600.0, opts.scale);
        let mut program_rows = Vec::with_capacity(n_programs);
        let mut category_rows = Vec::new();
        let mut program_site = Vec::with_capacity(n_programs);
        let mut program_ids = Vec::with_capacity(n_programs);
        // 700-950 implementing sites a year: programmes concentrate on ~55 % of the sites.
        let hosts: Vec<usize> = (0..n_sites).filter(|_| rng.random_bool(0.55)).collect();
        let hosts = if hosts.is_empty() { vec![0] } else { hosts };
        for i in 0..n_programs {
            let id = ids.at(epoch);
            let site = hosts[rng.random_range(0..hosts.len())];
            let theme = ["nature", "education", "community"][rng.random_range(0..3)];
            let title = TITLES[rng.random_range(0..TITLES.len())];
            program_rows.push((
                programs::id.eq(id),
                programs::site_id.eq(site_ids[site]),
                programs::code.eq(format!("P{i:05}")),
                programs::title.eq(title),
                programs::description.eq(""),
                programs::theme.eq(theme),
                programs::status.eq("active"),
                programs::created_at.eq(now),
                programs::updated_at.eq(now),
            ));
            if rng.random_bool(0.12) {
                category_rows.push((
                    program_categories::program_id.eq(id),
                    program_categories::category.eq("biodiversity"),
                ));
            }
            if rng.random_bool(0.03) {
                category_rows.push((
                    program_categories::program_id.eq(id),
                    program_categories::category.eq("disaster_relief"),
                ));
            }
            program_site.push(site);
            program_ids.push(id);
        }
        for chunk in program_rows.chunks(BATCH) {
            per_backend!(&mut *conn, |c| diesel::insert_into(programs::table)
                .values(chunk)
                .execute(c))?;
        }
        for chunk in category_rows.chunks(BATCH) {
            per_backend!(&mut *conn, |c| diesel::insert_into(
                program_categories::table
            )
            .values(chunk)
            .execute(c))?;
        }
        summary.programs = n_programs;

        // Each year: ~83 % of the programmes run, ~1.3 events each, 160-180k records.
        for fy in first_fy..=last_fy {
            let Some((first, _)) = fiscal.dates(fy) else {
                continue;
            };
            let target = scaled(f64::from(rng.random_range(160_000..180_000)), opts.scale);
            let mut year_events: Vec<(Id, chrono::DateTime<chrono::Utc>, i64)> = Vec::new();
            let mut event_rows = Vec::new();
            for (p, program) in program_ids.iter().enumerate() {
                if !rng.random_bool(0.83) {
                    continue;
                }
                let n = if rng.random_bool(0.3) { 2 } else { 1 };
                for _ in 0..n {
                    let day = first + Duration::days(rng.random_range(0..365));
                    let zone: chrono_tz::Tz =
                        site_zone[program_site[p]].parse().unwrap_or(chrono_tz::UTC);
                    let local = day
                        .and_hms_opt(rng.random_range(8..15), 0, 0)
                        .unwrap_or_default();
                    let starts = zone
                        .from_local_datetime(&local)
                        .earliest()
                        .map(|t| t.with_timezone(&chrono::Utc))
                        .unwrap_or_else(|| chrono::Utc.from_utc_datetime(&local));
                    let hours = rng.random_range(2..7);
                    let id = ids.at(starts);
                    event_rows.push((
                        events::id.eq(id),
                        events::program_id.eq(*program),
                        events::title.eq(TITLES[p % TITLES.len()]),
                        events::description.eq(""),
                        events::starts_at.eq(Timestamp::from(starts)),
                        events::ends_at.eq(Timestamp::from(starts + Duration::hours(hours))),
                        events::timezone.eq(site_zone[program_site[p]]),
                        events::location.eq(""),
                        events::capacity.eq(Some(80)),
                        events::waitlist_enabled.eq(true),
                        events::status.eq("completed"),
                        events::created_at.eq(now),
                        events::updated_at.eq(now),
                        events::starts_on.eq(Some(day)),
                    ));
                    year_events.push((id, starts, hours * 60));
                }
            }
            for chunk in event_rows.chunks(BATCH) {
                per_backend!(&mut *conn, |c| diesel::insert_into(events::table)
                    .values(chunk)
                    .execute(c))?;
            }
            summary.events += event_rows.len();
            if year_events.is_empty() {
                continue;
            }
            // Spread the year's records over its events, distinct people per event.
            let per_event = (target / year_events.len()).max(1);
            let mut written = 0usize;
            let mut batch = Vec::with_capacity(BATCH);
            for (event, starts, length) in &year_events {
                // Distinct people: at most everyone, stepping by a stride coprime with the
                // head count (a small demo has fewer employees than an event has seats).
                let k = rng
                    .random_range(per_event / 2..=per_event + per_event / 2)
                    .clamp(1, 80)
                    .min(user_ids.len());
                let offset = rng.random_range(0..user_ids.len());
                let mut stride = 1 + rng.random_range(0..7usize);
                while gcd(stride, user_ids.len()) != 1 {
                    stride += 1;
                }
                for j in 0..k {
                    let user = user_ids[(offset + j * stride) % user_ids.len()];
                    let roll: f64 = rng.random();
                    let (status, minutes, days) = if roll < 0.03 {
                        ("no_show", 0, 0)
                    } else {
                        (
                            "attended",
                            i32::try_from(rng.random_range(*length / 2..=*length)).unwrap_or(60),
                            1,
                        )
                    };
                    let approval = if roll > 0.99 {
                        "rejected"
                    } else if roll > 0.97 {
                        "pending"
                    } else {
                        "approved"
                    };
                    let decided = Timestamp::from(*starts + Duration::days(3));
                    batch.push((
                        attendance::id.eq(ids.at(*starts)),
                        attendance::event_id.eq(*event),
                        attendance::user_id.eq(user),
                        attendance::status.eq(status),
                        attendance::minutes.eq(minutes),
                        attendance::days.eq(days),
                        attendance::source.eq("import"),
                        attendance::approval.eq(approval),
                        attendance::approved_at.eq((approval != "pending").then_some(decided)),
                        attendance::rejection_reason
                            .eq((approval == "rejected").then_some("not confirmed by the site")),
                        attendance::created_at.eq(now),
                        attendance::updated_at.eq(now),
                    ));
                    if batch.len() == BATCH {
                        per_backend!(&mut *conn, |c| diesel::insert_into(attendance::table)
                            .values(&batch)
                            .execute(c))?;
                        written += batch.len();
                        batch.clear();
                        progress(
                            &format!("fiscal {fy}"),
                            written as u64,
                            (per_event * year_events.len()) as u64,
                        );
                    }
                }
            }
            if !batch.is_empty() {
                per_backend!(&mut *conn, |c| diesel::insert_into(attendance::table)
                    .values(&batch)
                    .execute(c))?;
                written += batch.len();
            }
            progress(&format!("fiscal {fy}"), written as u64, written as u64);
            summary.attendance += written;
        }
        Ok(())
    })?;
    let pool = program_pool(conn)?;
    upcoming(conn, &mut rng, &mut ids, &pool, now)?;
    let years = u64::from(opts.years);
    let mut built = 0;
    rollup::rebuild(conn, |_| {
        built += 1;
        progress("statistics", built, years);
    })?;
    // The report cycle as a real programme has it: the years before the last are closed, with
    // the objectives the report graded them against (the last completed year stays open).
    let plan = report_plan(conn, first_fy, last_fy)?;
    let judges: Vec<Id> = users::table
        .select(users::id)
        .order(users::id)
        .limit(3)
        .load(conn)?;
    for fy in first_fy..last_fy {
        let objectives: crate::stats::objectives::ObjectivesInput =
            serde_json::from_value(serde_json::json!({"objectives": [
                {"metric": "implementation_rate", "target": 60},
                {"metric": "biodiversity_participants", "yoy_percent": 10},
                {"metric": "participants", "yoy_percent": 5},
            ]}))
            .map_err(AppError::internal)?;
        crate::stats::objectives::set(conn, fy, &objectives, None, None)?;
        expenses(conn, fy)?;
        report_year(conn, fy, plan, &judges)?;
        crate::stats::closing::close_by(conn, None, fy, None)?;
    }
    // Fresh planner statistics after a bulk load (otherwise the first queries plan for empty
    // tables, and PostgreSQL's autovacuum catches up in the background).
    diesel::connection::SimpleConnection::batch_execute(conn, "ANALYZE")?;
    Ok(summary)
}

/// The medium-term plan the closed years' objectives sit under (none without a closed year).
fn report_plan(conn: &mut AnyConnection, first_fy: i32, last_fy: i32) -> AppResult<Option<Id>> {
    use crate::stats::report_objectives::{ObjectiveDraft, create_by};
    if first_fy >= last_fy {
        return Ok(None);
    }
    let last = (last_fy + 1).min(first_fy + crate::stats::report_objectives::MAX_SPAN);
    let draft: ObjectiveDraft = serde_json::from_value(serde_json::json!({
        "level": "medium_term", "first_year": first_fy, "last_year": last,
        "title": "Every site takes part; volunteering grows with the business",
        "assessment": "measured",
        "measures": [{"metric": "implementation_rate", "target": 80}]}))
    .map_err(AppError::internal)?;
    Ok(Some(create_by(conn, None, &draft, None)?.id.into()))
}

/// A number from 1 to 5 that depends only on its inputs (the seed stays deterministic).
fn score_of(a: usize, b: usize, c: usize) -> i32 {
    ((a * 7 + b * 3 + c * 5) % 4) as i32 + 2
}

/// The rest of a closed year's report section, as a running programme has it: the year's
/// objectives under the plan (two measures, and a qualitative one graded), the awards (set up,
/// the most attended programmes nominated, scored by a panel of three employees — never their
/// own site's — and decided), and the programme reviews (all but three).
fn report_year(
    conn: &mut AnyConnection,
    fy: i32,
    plan: Option<Id>,
    judges: &[Id],
) -> AppResult<()> {
    use crate::awards::{
        self, AwardScoreInput, NominationInput, ScoresInput, SetupInput, WinnerInput,
    };
    use crate::db::schema::stats_program_month as spm;
    use crate::reviews::{self, ReviewInput};
    use crate::stats::objectives::Grade;
    use crate::stats::report_objectives::{AssessmentInput, ObjectiveDraft, assess_by, create_by};
    use serde_json::json;
    let parse = |v: serde_json::Value| -> AppResult<ObjectiveDraft> {
        serde_json::from_value(v).map_err(AppError::internal)
    };
    let parent = plan.map(|p| p.to_string());
    create_by(
        conn,
        None,
        &parse(json!({"level": "fiscal_year", "first_year": fy,
        "parent_id": parent, "title": "More sites take part; biodiversity activities grow",
        "assessment": "measured",
        "measures": [{"metric": "implementation_rate", "target": 60},
                     {"metric": "biodiversity_participants", "yoy_percent": 10}]}))?,
        None,
    )?;
    let induction = create_by(
        conn,
        None,
        &parse(json!({"level": "fiscal_year",
        "first_year": fy, "parent_id": parent,
        "title": "A volunteering day in every new-hire induction",
        "assessment": "qualitative"}))?,
        None,
    )?;
    assess_by(
        conn,
        None,
        induction.id.into(),
        &AssessmentInput {
            achievements: "Held in 14 of the 16 induction courses".to_owned(),
            grade: Some(Grade::MostlyAchieved),
        },
        None,
    )?;

    let setup: SetupInput = serde_json::from_value(json!({
        "categories": [{"name": "Grand Award", "region": "domestic"},
                       {"name": "Grand Award", "region": "overseas"},
                       {"name": "Business Oriented", "region": "domestic"},
                       {"name": "Biodiversity", "region": null},
                       {"name": "Best Newcomer", "region": null}],
        "criteria": [{"name": "Business relevance", "weight": 40},
                     {"name": "Sustainability", "weight": 30},
                     {"name": "Novelty", "weight": 30}],
        "judges": judges.iter().map(|j| j.to_string()).collect::<Vec<_>>()}))
    .map_err(AppError::internal)?;
    awards::set_up(conn, None, fy, &setup, None)?;
    // The year's programmes by participants, most first, with their sites' regions.
    let ran: Vec<(Id, i32, String)> = spm::table
        .inner_join(programs::table.on(programs::id.eq(spm::program_id)))
        .inner_join(sites::table.on(sites::id.eq(programs::site_id)))
        .filter(spm::fiscal_year.eq(fy))
        .filter(spm::participants.gt(0))
        .select((spm::program_id, spm::participants, sites::region))
        .load(conn)?;
    let mut totals: std::collections::BTreeMap<Id, (i64, String)> = Default::default();
    for (program, n, region) in ran {
        let e = totals.entry(program).or_insert((0, region));
        e.0 += i64::from(n);
    }
    let mut ranked: Vec<(Id, i64, String)> =
        totals.into_iter().map(|(p, (n, r))| (p, n, r)).collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let criteria = awards::stored_criteria_ids(conn, fy)?;
    let panel: Vec<crate::auth::Caller> = judges
        .iter()
        .filter_map(|j| crate::auth::caller::load_caller(conn, *j).transpose())
        .collect::<QueryResult<_>>()?;
    for (k, category) in awards::stored_categories(conn, fy)?.into_iter().enumerate() {
        let region = category.region.map(|r| r.as_str());
        let pool: Vec<Id> = ranked
            .iter()
            .filter(|(_, _, r)| region.is_none_or(|want| want == r))
            .map(|(p, _, _)| *p)
            .collect();
        // Three per category, each category led by another programme where there are enough.
        let mut nominated = Vec::new();
        for program in (0..pool.len().min(3)).map(|i| &pool[(k + i) % pool.len()]) {
            let id = awards::nominate_by(
                conn,
                None,
                &NominationInput {
                    category_id: category.id,
                    program_id: (*program).into(),
                    statement: "Years of steady work with local partners".to_owned(),
                },
                None,
            )?;
            nominated.push(id);
        }
        for (n, nomination) in nominated.iter().enumerate() {
            for (j, judge) in panel.iter().enumerate() {
                let scores = ScoresInput {
                    scores: criteria
                        .iter()
                        .enumerate()
                        .map(|(c, id)| AwardScoreInput {
                            criterion_id: *id,
                            score: score_of(n, j, c),
                        })
                        .collect(),
                };
                match awards::score(conn, judge, *nomination, &scores, None) {
                    // A judge's own site: someone else scores it.
                    Err(e) if e.code() == "own_site" => {}
                    other => other?,
                }
            }
        }
        if let Some(first) = nominated.first() {
            awards::decide(
                conn,
                None,
                category.id.into(),
                &WinnerInput {
                    nomination_id: Some((*first).into()),
                },
                None,
            )?;
        }
    }

    let active = reviews::criteria(conn)?;
    let to_review = ranked.len().saturating_sub(3);
    for (i, (program, _, _)) in ranked.iter().take(to_review).enumerate() {
        let input = ReviewInput {
            scores: active
                .iter()
                .enumerate()
                .map(|(c, criterion)| reviews::ReviewScoreInput {
                    criterion_id: criterion.id,
                    score: score_of(i, 1, c),
                })
                .collect(),
            comments: "Met its aims; more partners next year".to_owned(),
        };
        reviews::review(conn, None, fy, *program, &input, None)?;
    }
    Ok(())
}

/// A year's social contribution expenses: a few lines of each kind at the first sites, about
/// half a billion yen as in the model programme's report.
fn expenses(conn: &mut AnyConnection, fy: i32) -> AppResult<()> {
    use crate::contributions::{Kind, NewExpense};
    let sites: Vec<Id> = sites::table
        .select(sites::id)
        .order(sites::id)
        .limit(3)
        .load(conn)?;
    let lines = [
        (
            Kind::Financial,
            "academia_research_education",
            "University endowment",
            Some(300_000_000),
            None,
            None,
        ),
        (
            Kind::Financial,
            "environment",
            "Forest conservation fund",
            Some(150_000_000),
            None,
            None,
        ),
        (
            Kind::Financial,
            "arts_culture_sports",
            "Youth orchestra",
            Some(42_000_000),
            None,
            None,
        ),
        (
            Kind::Product,
            "disaster_relief",
            "Blankets for shelters",
            None,
            Some(1_200.0),
            Some(2_500),
        ),
        (
            Kind::Facility,
            "community",
            "Hall lent to a citizens' group (hours)",
            None,
            Some(120.5),
            Some(16_000),
        ),
    ];
    for (i, (kind, area, description, amount_yen, quantity, unit_price_yen)) in
        lines.into_iter().enumerate()
    {
        let Some(site) = sites.get(i % sites.len().max(1)) else {
            return Ok(());
        };
        crate::contributions::seed(
            conn,
            &NewExpense {
                fiscal_year: fy,
                kind,
                area: area.to_owned(),
                site_id: (*site).into(),
                description: description.to_owned(),
                amount_yen,
                quantity,
                unit_price_yen,
            },
        )?;
    }
    Ok(())
}

fn program_pool(conn: &mut AnyConnection) -> QueryResult<Vec<(Id, String, String)>> {
    programs::table
        .inner_join(sites::table)
        .select((programs::id, programs::title, sites::timezone))
        .order(programs::id)
        .limit(200)
        .load(conn)
}

/// A few published events in the next 60 days, to sign up for.
fn upcoming(
    conn: &mut AnyConnection,
    rng: &mut StdRng,
    ids: &mut Ids,
    pool: &[(Id, String, String)],
    now: Timestamp,
) -> QueryResult<()> {
    let rows: Vec<_> = pool
        .iter()
        .map(|(program, title, zone)| {
            let starts = now.get()
                + Duration::days(rng.random_range(1..60))
                + Duration::hours(rng.random_range(0..8));
            let starts = Timestamp::from(starts);
            (
                events::id.eq(ids.at(starts.get())),
                events::program_id.eq(*program),
                events::title.eq(title.clone()),
                events::description.eq(""),
                events::starts_at.eq(starts),
                events::ends_at.eq(Timestamp::from(starts.get() + Duration::hours(3))),
                events::timezone.eq(zone.clone()),
                events::location.eq(""),
                events::capacity.eq(Some(30)),
                events::waitlist_enabled.eq(true),
                events::status.eq("published"),
                events::created_at.eq(now),
                events::updated_at.eq(now),
                events::starts_on.eq(Some(crate::time::local_date(starts, zone))),
            )
        })
        .collect();
    for chunk in rows.chunks(BATCH) {
        per_backend!(&mut *conn, |c| diesel::insert_into(events::table)
            .values(chunk)
            .execute(c))?;
    }
    Ok(())
}
