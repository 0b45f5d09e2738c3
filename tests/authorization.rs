//! Every role against every endpoint that exists: allowed calls succeed, the rest get the
//! documented status (401 anonymous, 403 role may not, 404 where existence is private).
//! Later features add their rows to `table()`.

mod common;

use std::collections::HashMap;

use common::{Backend, TestApp, TestUser};
use serde_json::{Value, json};
use tomoni::auth::Role;

/// The cast: two sites, a coordinator and an employee at each, HR and an admin.
struct Cast {
    users: HashMap<&'static str, TestUser>,
    tokens: HashMap<&'static str, String>,
    site_a: tomoni::db::Id,
    company: String,
    partner: String,
    program: String,
    published: String,
    draft: String,
    cancelled: String,
    emp_a_signup: String,
    /// Ended two days ago; pending attendance of emp_a (`att_a`) and emp_b (`att_b`).
    past: String,
    att_a: String,
    att_b: String,
}

/// A published (or draft) event of `program`, `day` days ahead, unlimited seats; one in the
/// past is created as a recorded (completed) activity.
fn fixture_event(
    app: &TestApp,
    program: tomoni::db::Id,
    by: tomoni::db::Id,
    day: i64,
    publish: bool,
) -> tomoni::db::Id {
    use tomoni::programs::events;
    let start = chrono::Utc::now() + chrono::Duration::days(day);
    let req: events::CreateEvent = serde_json::from_value(json!({
        "program_id": program.to_string(), "starts_at": start.to_rfc3339(),
        "ends_at": (start + chrono::Duration::hours(2)).to_rfc3339()}))
    .unwrap();
    let conn = &mut app.conn();
    let id = events::create(conn, &req, by).unwrap();
    if publish && day > 0 {
        events::publish(conn, id).unwrap();
    }
    id
}

const CALLERS: [&str; 7] = [
    "anon", "admin", "hr", "coord_a", "coord_b", "emp_a", "emp_b",
];

fn cast(app: &TestApp) -> Cast {
    let a = app.site("A");
    let b = app.site("B");
    let mut users = HashMap::new();
    users.insert("admin", app.user(Role::Admin, None));
    users.insert("hr", app.user(Role::Hr, None));
    users.insert("coord_a", app.coordinator(&[a]));
    users.insert("coord_b", app.coordinator(&[b]));
    users.insert("emp_a", app.user(Role::Employee, Some(a)));
    users.insert("emp_b", app.user(Role::Employee, Some(b)));
    let tokens = users.iter().map(|(k, u)| (*k, app.token(u))).collect();
    let site = tomoni::org::sites::find(&mut app.conn(), a).unwrap();
    let partner = tomoni::org::partners::create(
        &mut app.conn(),
        &common::admin_principal(),
        serde_json::from_value(json!({"name": "Partner", "kind": "npo"})).unwrap(),
    )
    .unwrap();
    let program = tomoni::programs::program::create(
        &mut app.conn(),
        &serde_json::from_value(json!({"site_id": a.to_string(), "code": "P1", "title": "Programme", "theme": "community"}))
            .unwrap(),
    )
    .unwrap();
    let by = users["coord_a"].id;
    let published = fixture_event(app, program, by, 7, true);
    let draft = fixture_event(app, program, by, 8, false);
    let cancelled = fixture_event(app, program, by, 9, true);
    tomoni::signups::service::cancel_event(&mut app.conn(), cancelled, by, None).unwrap();
    let other = fixture_event(app, program, by, 10, true);
    let signup = tomoni::signups::service::sign_up(
        &mut app.conn(),
        &tomoni::signups::service::Request {
            event: other,
            user: users["emp_a"].id,
            by: users["emp_a"].id,
            force: false,
        },
        |_| Ok(()),
    )
    .unwrap();
    let past = fixture_event(app, program, by, -2, true);
    let attend = |user: tomoni::db::Id| {
        use tomoni::attendance::model::{AttendanceStatus, NewAttendance, Source, insert};
        let new = NewAttendance {
            event: past,
            user,
            signup: None,
            status: AttendanceStatus::Attended,
            minutes: 60,
            days: 1,
            source: Source::Roster,
            approved_by: None,
            recorded_by: by,
        };
        insert(&mut app.conn(), &new).unwrap().to_string()
    };
    let (att_a, att_b) = (attend(users["emp_a"].id), attend(users["emp_b"].id));
    Cast {
        users,
        tokens,
        site_a: a,
        company: site.company_id.to_string(),
        partner: partner.id.to_string(),
        program: program.to_string(),
        published: published.to_string(),
        draft: draft.to_string(),
        cancelled: cancelled.to_string(),
        emp_a_signup: signup.id.to_string(),
        past: past.to_string(),
        att_a,
        att_b,
    }
}

/// One row: a request and the status each caller gets, in `CALLERS` order.
struct Row {
    name: &'static str,
    method: &'static str,
    path: String,
    /// A fresh body per call (creates need unique values).
    body: Option<Box<dyn Fn() -> Value>>,
    expect: [u16; 7],
}

fn body(f: impl Fn() -> Value + 'static) -> Option<Box<dyn Fn() -> Value>> {
    Some(Box::new(f))
}

fn unique() -> String {
    uuid::Uuid::now_v7().simple().to_string()[20..].to_owned()
}

fn new_user_body() -> Value {
    let n = uuid::Uuid::now_v7().simple().to_string();
    json!({"employee_number": format!("N{n}"), "email": format!("new.{n}@example.com"), "display_name": "New"})
}

fn new_admin_body() -> Value {
    let mut body = new_user_body();
    body["role"] = json!("admin");
    body
}

fn rename_body() -> Value {
    json!({"display_name": "Renamed"})
}

fn same_role_body() -> Value {
    json!({"role": "employee"})
}

/// The table. Columns:                   anon admin  hr  c_a  c_b  e_a  e_b
#[rustfmt::skip]
fn table(cast: &Cast) -> Vec<Row> {
    let user = |k: &str| format!("/api/v1/users/{}", cast.users[k].id);
    let company = cast.company.clone();
    let site_a = cast.site_a.to_string();
    let partner = cast.partner.clone();
    let company_for_sites = company.clone();
    let site_for_programs = site_a.clone();
    let program = cast.program.clone();
    let program_for_events = program.clone();
    let program_for_awards = program.clone();
    let (published, draft, cancelled) = (cast.published.clone(), cast.draft.clone(), cast.cancelled.clone());
    let emp_a = cast.users["emp_a"].id.to_string();
    let emp_a_for_roster = emp_a.clone();
    let (past, att_a, att_b) = (cast.past.clone(), cast.att_a.clone(), cast.att_b.clone());
    let row = |name, method, path: String, body, expect| Row { name, method, path, body, expect };
    vec![
        row("me", "GET", "/api/v1/me".into(), None,                          [401, 200, 200, 200, 200, 200, 200]),
        row("list users", "GET", "/api/v1/users".into(), None,               [401, 200, 200, 200, 200, 200, 200]),
        row("list categories", "GET", "/api/v1/categories".into(), None,     [401, 200, 200, 200, 200, 200, 200]),
        row("read the audit log", "GET", "/api/v1/audit".into(), None,      [401, 200, 200, 403, 403, 403, 403]),
        row("list themes", "GET", "/api/v1/themes".into(), None,             [401, 200, 200, 200, 200, 200, 200]),
        row("create user", "POST", "/api/v1/users".into(), body(new_user_body),
                                                                             [401, 201, 201, 403, 403, 403, 403]),
        row("create admin", "POST", "/api/v1/users".into(), body(new_admin_body),
                                                                             [401, 201, 403, 403, 403, 403, 403]),
        row("get employee A", "GET", user("emp_a"), None,                    [401, 200, 200, 200, 404, 200, 404]),
        row("get coordinator B", "GET", user("coord_b"), None,               [401, 200, 200, 404, 200, 404, 404]),
        row("get admin", "GET", user("admin"), None,                         [401, 200, 200, 404, 404, 404, 404]),
        row("rename employee A", "PATCH", user("emp_a"), body(rename_body),  [401, 200, 200, 403, 404, 200, 404]),
        row("set employee A's role", "PATCH", user("emp_a"), body(same_role_body),
                                                                             [401, 200, 200, 403, 404, 403, 404]),
        row("rename admin", "PATCH", user("admin"), body(rename_body),       [401, 200, 403, 404, 404, 404, 404]),
        row("invite employee A", "POST", format!("{}/invitation", user("emp_a")), None,
                                                                             [401, 202, 202, 403, 404, 403, 404]),
        row("invite admin", "POST", format!("{}/invitation", user("admin")), None,
                                                                             [401, 202, 403, 404, 404, 404, 404]),
        row("forgot password (unknown address)", "POST", "/api/v1/auth/password-reset".into(),
            body(|| json!({"email": format!("nobody.{}@example.com", unique())})),
                                                                             [202, 202, 202, 202, 202, 202, 202]),
        row("set password with a made-up link", "POST", "/api/v1/auth/password".into(),
            body(|| json!({"token": "made-up", "password": "long enough password"})),
                                                                             [400, 400, 400, 400, 400, 400, 400]),
        row("unknown user", "GET", format!("/api/v1/users/{}", uuid::Uuid::now_v7()), None,
                                                                             [401, 404, 404, 404, 404, 404, 404]),
        row("list companies", "GET", "/api/v1/companies".into(), None,       [401, 200, 200, 200, 200, 200, 200]),
        row("create company", "POST", "/api/v1/companies".into(),
            body(|| json!({"code": unique(), "name": "C", "country": "JP"})),
                                                                             [401, 201, 403, 403, 403, 403, 403]),
        row("get company", "GET", format!("/api/v1/companies/{company}"), None,
                                                                             [401, 200, 200, 200, 200, 200, 200]),
        row("patch company", "PATCH", format!("/api/v1/companies/{company}"), body(|| json!({"name": "Test Group"})),
                                                                             [401, 200, 403, 403, 403, 403, 403]),
        row("list sites", "GET", "/api/v1/sites".into(), None,               [401, 200, 200, 200, 200, 200, 200]),
        row("create site", "POST", "/api/v1/sites".into(),
            body(move || json!({"code": unique(), "name": "S", "company_id": company_for_sites, "country": "JP",
                                "region": "domestic", "timezone": "Asia/Tokyo", "opened_on": "2020-01-01"})),
                                                                             [401, 201, 403, 403, 403, 403, 403]),
        row("get site", "GET", format!("/api/v1/sites/{site_a}"), None,      [401, 200, 200, 200, 200, 200, 200]),
        row("patch site", "PATCH", format!("/api/v1/sites/{site_a}"), body(|| json!({"name": "Site A"})),
                                                                             [401, 200, 403, 403, 403, 403, 403]),
        row("list partners", "GET", "/api/v1/partners".into(), None,         [401, 200, 200, 200, 200, 200, 200]),
        row("create partner", "POST", "/api/v1/partners".into(), body(|| json!({"name": unique(), "kind": "ngo"})),
                                                                             [401, 201, 403, 403, 403, 403, 403]),
        row("get partner", "GET", format!("/api/v1/partners/{partner}"), None,
                                                                             [401, 200, 200, 200, 200, 200, 200]),
        row("patch partner", "PATCH", format!("/api/v1/partners/{partner}"), body(|| json!({"kind": "npo"})),
                                                                             [401, 200, 403, 403, 403, 403, 403]),
        row("list programmes", "GET", "/api/v1/programs".into(), None,       [401, 200, 200, 200, 200, 200, 200]),
        row("create programme at A", "POST", "/api/v1/programs".into(),
            body(move || json!({"site_id": site_for_programs, "code": unique(), "title": "T", "theme": "nature"})),
                                                                             [401, 201, 403, 201, 403, 403, 403]),
        row("get programme", "GET", format!("/api/v1/programs/{program}"), None,
                                                                             [401, 200, 200, 200, 200, 200, 200]),
        row("patch programme", "PATCH", format!("/api/v1/programs/{program}"), body(|| json!({"title": "Programme"})),
                                                                             [401, 200, 403, 200, 403, 403, 403]),
        row("list events", "GET", "/api/v1/events".into(), None,             [401, 200, 200, 200, 200, 200, 200]),
        row("list draft events", "GET", "/api/v1/events?status=draft".into(), None,
                                                                             [401, 200, 200, 200, 200, 403, 403]),
        row("create event", "POST", "/api/v1/events".into(),
            body(move || json!({"program_id": program_for_events, "starts_at": "2031-01-01T00:00:00Z",
                                "ends_at": "2031-01-01T02:00:00Z"})),
                                                                             [401, 201, 403, 201, 403, 403, 403]),
        row("get published event", "GET", format!("/api/v1/events/{published}"), None,
                                                                             [401, 200, 200, 200, 200, 200, 200]),
        row("get draft event", "GET", format!("/api/v1/events/{draft}"), None,
                                                                             [401, 200, 200, 200, 404, 404, 404]),
        row("patch event", "PATCH", format!("/api/v1/events/{published}"), body(|| json!({"location": "Hall"})),
                                                                             [401, 200, 403, 200, 403, 403, 403]),
        row("publish a published event", "POST", format!("/api/v1/events/{published}/publish"), None,
                                                                             [401, 409, 403, 409, 403, 403, 403]),
        row("cancel a cancelled event", "POST", format!("/api/v1/events/{cancelled}/cancel"), None,
                                                                             [401, 409, 403, 409, 403, 403, 403]),
        row("sign up", "POST", format!("/api/v1/events/{published}/signups"), body(|| json!({})),
                                                                             [401, 201, 201, 201, 201, 201, 201]),
        row("sign up employee A", "POST", format!("/api/v1/events/{draft}/signups"), body(move || json!({"user_id": emp_a})),
                                                                             [401, 409, 403, 409, 404, 404, 404]),
        row("roster", "GET", format!("/api/v1/events/{published}/roster"), None,
                                                                             [401, 200, 200, 200, 403, 403, 403]),
        row("cancel employee A's sign-up", "DELETE", format!("/api/v1/signups/{}", cast.emp_a_signup), None,
                                                                             [401, 200, 404, 409, 404, 409, 404]),
        row("my sign-ups", "GET", "/api/v1/me/signups".into(), None,         [401, 200, 200, 200, 200, 200, 200]),
        row("published event.ics", "GET", format!("/api/v1/events/{published}/event.ics"), None,
                                                                             [401, 200, 200, 200, 200, 200, 200]),
        row("draft event.ics", "GET", format!("/api/v1/events/{draft}/event.ics"), None,
                                                                             [401, 200, 200, 200, 404, 404, 404]),
        row("rotate calendar token", "POST", "/api/v1/me/calendar-token".into(), None,
                                                                             [401, 201, 201, 201, 201, 201, 201]),
        row("revoke calendar token", "DELETE", "/api/v1/me/calendar-token".into(), None,
                                                                             [401, 204, 204, 204, 204, 204, 204]),
        row("calendar feed without a secret", "GET", "/api/v1/me/calendar.ics?token=x".into(), None,
                                                                             [404, 404, 404, 404, 404, 404, 404]),
        row("mark attendance", "PUT", format!("/api/v1/events/{past}/attendance"), body(move || json!({"entries": [
                {"user_id": emp_a_for_roster, "status": "attended", "minutes": 60}]})),
                                                                             [401, 200, 403, 200, 403, 403, 403]),
        row("check-in code", "GET", format!("/api/v1/events/{published}/check-in-code"), None,
                                                                             [401, 200, 403, 200, 403, 403, 403]),
        row("rotate check-in code", "POST", format!("/api/v1/events/{published}/check-in-code"), None,
                                                                             [401, 200, 403, 200, 403, 403, 403]),
        row("check in before the window", "POST", format!("/api/v1/events/{published}/check-in"), body(|| json!({"code": "X"})),
                                                                             [401, 409, 409, 409, 409, 409, 409]),
        row("check in to a draft", "POST", format!("/api/v1/events/{draft}/check-in"), body(|| json!({"code": "X"})),
                                                                             [401, 409, 409, 409, 404, 404, 404]),
        row("list attendance", "GET", "/api/v1/attendance".into(), None,     [401, 200, 200, 200, 200, 403, 403]),
        row("list attendance at A", "GET", format!("/api/v1/attendance?site_id={site_a}"), None,
                                                                             [401, 200, 200, 200, 403, 403, 403]),
        row("approve employee A's hours", "POST", "/api/v1/attendance/approve".into(), body(move || json!({"ids": [att_a]})),
                                                                             [401, 200, 403, 200, 404, 403, 403]),
        row("reject employee B's hours", "POST", format!("/api/v1/attendance/{att_b}/reject"), body(|| json!({"reason": "no"})),
                                                                             [401, 200, 403, 200, 404, 403, 403]),
        row("my hours", "GET", "/api/v1/me/hours".into(), None,              [401, 200, 200, 200, 200, 200, 200]),
        row("quality", "GET", "/api/v1/quality".into(), None,                [401, 200, 200, 200, 200, 403, 403]),
        row("quality of site A", "GET", format!("/api/v1/quality?site_id={site_a}"), None,
                                                                             [401, 200, 200, 200, 403, 403, 403]),
        row("statistics", "GET", "/api/v1/stats/mdd".into(), None,          [401, 200, 200, 200, 200, 200, 200]),
        row("statistics of site A", "GET", format!("/api/v1/stats/mdd?site_id={site_a}&format=csv"), None,
                                                                             [401, 200, 200, 200, 200, 200, 200]),
        row("breakdown", "GET", "/api/v1/stats/mdd/2026/breakdown?by=site".into(), None,
                                                                             [401, 200, 200, 200, 200, 200, 200]),
        row("objectives", "GET", "/api/v1/objectives/2026".into(), None,    [401, 200, 200, 200, 200, 200, 200]),
        row("export participations", "GET", "/api/v1/exports/participations?purpose=review".into(), None,
                                                                             [401, 200, 200, 200, 200, 403, 403]),
        row("export site A's participations", "GET", format!("/api/v1/exports/participations?purpose=review&site_id={site_a}"), None,
                                                                             [401, 200, 200, 200, 403, 403, 403]),
        row("export hours", "GET", "/api/v1/exports/hours?purpose=leave&fiscal_year=2026".into(), None,
                                                                             [401, 200, 200, 403, 403, 403, 403]),
        row("import users (empty file)", "POST", "/api/v1/users/import?dry_run=true".into(), None,
                                                                             [401, 422, 422, 403, 403, 403, 403]),
        row("import participations (empty file)", "POST", "/api/v1/imports/participations?dry_run=true".into(), None,
                                                                             [401, 422, 422, 403, 403, 403, 403]),
        row("outbox", "GET", "/api/v1/admin/outbox".into(), None,           [401, 200, 403, 403, 403, 403, 403]),
        row("retry an unknown message", "POST", format!("/api/v1/admin/outbox/{}/retry", uuid::Uuid::now_v7()), None,
                                                                             [401, 404, 403, 403, 403, 403, 403]),
        row("set objectives", "PUT", "/api/v1/objectives/2026".into(),
            body(|| json!({"objectives": [{"metric": "implementation_rate", "target": 60}]})),
                                                                             [401, 200, 200, 403, 403, 403, 403]),
        // The report cycle (rows that change nothing, so every caller meets the same state).
        row("fiscal year status", "GET", "/api/v1/stats/years/2026".into(), None,
                                                                             [401, 200, 200, 403, 403, 403, 403]),
        row("close a year not ended", "POST", "/api/v1/stats/years/2200/close".into(), None,
                                                                             [401, 409, 409, 403, 403, 403, 403]),
        row("restate an open year", "POST", "/api/v1/stats/years/2020/restate".into(), body(|| json!({})),
                                                                             [401, 409, 409, 403, 403, 403, 403]),
        row("reopen an open year", "POST", "/api/v1/stats/years/2020/reopen".into(), body(|| json!({"reason": "check"})),
                                                                             [401, 409, 403, 403, 403, 403, 403]),
        row("a version never published", "GET", "/api/v1/stats/years/2020/versions/1".into(), None,
                                                                             [401, 404, 404, 404, 404, 404, 404]),
        // The report's objectives table (writes that are refused or find nothing).
        row("report objectives", "GET", "/api/v1/report-objectives?fiscal_year=2026".into(), None,
                                                                             [401, 200, 200, 200, 200, 200, 200]),
        row("add an objective without a title", "POST", "/api/v1/report-objectives".into(),
            body(|| json!({"level": "fiscal_year", "first_year": 2026, "title": "", "assessment": "qualitative"})),
                                                                             [401, 422, 422, 403, 403, 403, 403]),
        row("rewrite an unknown objective", "PUT", format!("/api/v1/report-objectives/{}", uuid::Uuid::now_v7()),
            body(|| json!({"level": "fiscal_year", "first_year": 2026, "title": "T", "assessment": "qualitative"})),
                                                                             [401, 404, 404, 403, 403, 403, 403]),
        row("delete an unknown objective", "DELETE", format!("/api/v1/report-objectives/{}", uuid::Uuid::now_v7()), None,
                                                                             [401, 404, 404, 403, 403, 403, 403]),
        row("grade an unknown objective", "PUT", format!("/api/v1/report-objectives/{}/assessment", uuid::Uuid::now_v7()),
            body(|| json!({"achievements": "x", "grade": "achieved"})),
                                                                             [401, 404, 404, 403, 403, 403, 403]),
        row("anonymise an unknown person", "POST", format!("/api/v1/users/{}/anonymise", uuid::Uuid::now_v7()),
            body(|| json!({"confirm": "x"})),                                [401, 404, 404, 403, 403, 403, 403]),
        // The awards (writes that are refused or find nothing).
        row("awards of a year", "GET", "/api/v1/awards/2026".into(), None,  [401, 200, 200, 200, 200, 200, 200]),
        row("set up awards with nothing", "PUT", "/api/v1/awards/2026/setup".into(),
            body(|| json!({"categories": [], "criteria": [], "judges": []})),
                                                                             [401, 422, 422, 403, 403, 403, 403]),
        row("eligible programmes", "GET", "/api/v1/awards/2026/eligible".into(), None,
                                                                             [401, 200, 200, 200, 200, 403, 403]),
        row("nominate for an unknown category", "POST", "/api/v1/awards/nominations".into(),
            body(move || json!({"category_id": uuid::Uuid::now_v7(), "program_id": program_for_awards, "statement": "x"})),
                                                                             [401, 422, 422, 422, 422, 403, 403]),
        row("withdraw an unknown nomination", "DELETE", format!("/api/v1/awards/nominations/{}", uuid::Uuid::now_v7()), None,
                                                                             [401, 404, 404, 404, 404, 403, 403]),
        row("score an unknown nomination", "PUT", format!("/api/v1/awards/nominations/{}/scores", uuid::Uuid::now_v7()),
            body(|| json!({"scores": []})),                                  [401, 404, 404, 404, 404, 404, 404]),
        row("decide an unknown category", "PUT", format!("/api/v1/awards/categories/{}/winner", uuid::Uuid::now_v7()),
            body(|| json!({"nomination_id": null})),                         [401, 404, 404, 403, 403, 403, 403]),
        // The programme reviews (writes that are refused or find nothing).
        row("review criteria", "GET", "/api/v1/reviews/criteria".into(), None,
                                                                             [401, 200, 200, 200, 200, 200, 200]),
        row("replace review criteria with none", "PUT", "/api/v1/reviews/criteria".into(),
            body(|| json!({"criteria": []})),                                [401, 422, 422, 403, 403, 403, 403]),
        row("programme reviews", "GET", "/api/v1/reviews/2026".into(), None, [401, 200, 200, 200, 200, 403, 403]),
        row("review an unknown programme", "PUT", format!("/api/v1/reviews/2026/programs/{}", uuid::Uuid::now_v7()),
            body(|| json!({"scores": []})),                                  [401, 404, 404, 404, 404, 403, 403]),
        row("report section", "GET", "/api/v1/report-section/2026".into(), None,
                                                                             [401, 200, 200, 200, 200, 200, 200]),
        // The contribution expenses ledger (writes that are refused, so the state stays).
        row("expense lines", "GET", "/api/v1/expenses?fiscal_year=2026".into(), None,
                                                                             [401, 200, 200, 403, 403, 403, 403]),
        row("expense totals", "GET", "/api/v1/expenses/2026/totals".into(), None,
                                                                             [401, 200, 200, 200, 200, 200, 200]),
        row("add an expense at no site", "POST", "/api/v1/expenses".into(),
            body(|| json!({"fiscal_year": 2026, "kind": "financial", "area": "community",
                           "site_id": uuid::Uuid::now_v7(), "description": "x", "amount_yen": 1})),
                                                                             [401, 422, 422, 403, 403, 403, 403]),
        row("import expenses (empty file)", "POST", "/api/v1/expenses/import?dry_run=true".into(), None,
                                                                             [401, 422, 422, 403, 403, 403, 403]),
    ]
}

async fn every_role_against_every_endpoint(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let cast = cast(&app);
    let mut failures = Vec::new();
    for row in table(&cast) {
        for (caller, expected) in CALLERS.iter().zip(row.expect) {
            let token = cast.tokens.get(caller).map(String::as_str);
            let (status, ct, body) = app
                .call(row.method, &row.path, token, row.body.as_ref().map(|f| f()))
                .await;
            if status != expected {
                failures.push(format!(
                    "{} as {caller}: expected {expected}, got {status} {body}",
                    row.name
                ));
            }
            if status >= 400 && !ct.starts_with("application/problem+json") {
                failures.push(format!(
                    "{} as {caller}: {status} is not problem+json",
                    row.name
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Lists are scoped rather than refused: each caller sees exactly whom they may see.
async fn user_lists_are_scoped_to_the_caller(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let cast = cast(&app);
    let ids = |v: &Value| -> Vec<String> {
        let mut ids: Vec<String> = v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["id"].as_str().unwrap().to_owned())
            .collect();
        ids.sort();
        ids
    };
    let expect = |keys: &[&str]| -> Vec<String> {
        let mut ids: Vec<String> = keys.iter().map(|k| cast.users[k].id.to_string()).collect();
        ids.sort();
        ids
    };
    let list = |who: &'static str| app.get_as(&cast.tokens[who], "/api/v1/users");
    assert_eq!(ids(&list("admin").await.2), expect(&CALLERS[1..]));
    assert_eq!(ids(&list("hr").await.2), expect(&CALLERS[1..]));
    assert_eq!(ids(&list("coord_a").await.2), expect(&["coord_a", "emp_a"]));
    assert_eq!(ids(&list("coord_b").await.2), expect(&["coord_b", "emp_b"]));
    assert_eq!(ids(&list("emp_a").await.2), expect(&["emp_a"]));
}

/// Who may do something is decided before what the body says: a caller without the right gets
/// 403 for an empty or wrong body too, not a 422 about fields they may not send anyway.
async fn authorization_comes_before_the_body(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let employee = app.token(&app.user(Role::Employee, None));
    let hr = app.token(&app.user(Role::Hr, None));
    let coordinator = app.token(&app.coordinator(&[app.site("AUZ")]));
    let nowhere = uuid::Uuid::now_v7();
    for (token, method, path) in [
        (&employee, "POST", "/api/v1/companies".to_owned()),
        (&employee, "POST", "/api/v1/sites".to_owned()),
        (&employee, "POST", "/api/v1/partners".to_owned()),
        (&employee, "POST", "/api/v1/users".to_owned()),
        (&employee, "POST", "/api/v1/programs".to_owned()),
        (&employee, "POST", "/api/v1/events".to_owned()),
        (&hr, "POST", "/api/v1/programs".to_owned()),
        (&hr, "POST", "/api/v1/sites".to_owned()),
        (&employee, "PATCH", format!("/api/v1/sites/{nowhere}")),
        (&employee, "PATCH", format!("/api/v1/companies/{nowhere}")),
        (&employee, "PATCH", format!("/api/v1/partners/{nowhere}")),
        (&employee, "PUT", "/api/v1/objectives/2025".to_owned()),
        (
            &employee,
            "POST",
            "/api/v1/stats/years/2025/restate".to_owned(),
        ),
        (&hr, "POST", "/api/v1/stats/years/2025/reopen".to_owned()),
        (&employee, "POST", "/api/v1/expenses".to_owned()),
        (&employee, "POST", "/api/v1/report-objectives".to_owned()),
        (
            &coordinator,
            "POST",
            format!("/api/v1/users/{nowhere}/anonymise"),
        ),
        (&employee, "PUT", "/api/v1/awards/2025/setup".to_owned()),
        (&employee, "POST", "/api/v1/awards/nominations".to_owned()),
        (&coordinator, "PUT", "/api/v1/reviews/criteria".to_owned()),
        (
            &employee,
            "PUT",
            format!("/api/v1/reviews/2025/programs/{nowhere}"),
        ),
        (
            &coordinator,
            "PUT",
            format!("/api/v1/awards/categories/{nowhere}/winner"),
        ),
        (
            &employee,
            "PUT",
            format!("/api/v1/report-objectives/{nowhere}/assessment"),
        ),
    ] {
        for body in [json!({}), json!({"no_such_field": 1}), json!([1, 2])] {
            let (status, _, problem) = app
                .call(method, &path, Some(token), Some(body.clone()))
                .await;
            assert_eq!(status, 403, "{method} {path} {body}: {problem}");
        }
    }
}

both_backends!(
    authorization_comes_before_the_body,
    every_role_against_every_endpoint,
    user_lists_are_scoped_to_the_caller
);
