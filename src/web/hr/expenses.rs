//! The social contribution expenses ledger for HR and administrators: a year's totals as the
//! report prints them with the exact sum beside, by kind and area; the year's lines; and a form
//! to add one — the services of `/api/v1/expenses` (a CSV goes through the imports page). A
//! closed year's totals are its published ones, and a line added to it carries the reason.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use tracing_actix_web::RequestId;

use crate::AppState;
use crate::auth::Caller;
use crate::contributions::{self as ledger, AREAS, Expense, Kind, NewExpense, Totals};
use crate::db::{AnyConnection, Id, Timestamp};
use crate::error::{AppError, AppResult, FieldError};
use crate::http::with_conn;
use crate::stats::closing::{self, View};
use crate::stats::mdd::Metric;
use crate::stats::report;
use crate::web::choices::{SiteChoice, site_list};
use crate::web::form::{Form, field};
use crate::web::hr::require_hr;
use crate::web::i18n::Lang;
use crate::web::page::{self, PageError};
use crate::web::see_other;
use crate::web::stats::year_label;
use crate::web::visitor::SignedIn;

/// Lines per page.
const PAGE: i64 = 50;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/hr/expenses")
            .route(web::get().to(show))
            .route(web::post().to(add)),
    );
}

#[derive(Deserialize)]
struct Query {
    fiscal_year: Option<i32>,
    after: Option<uuid::Uuid>,
    added: Option<String>,
}

#[derive(Serialize)]
struct Line {
    kind: String,
    area: String,
    site: String,
    description: String,
    quantity: String,
    yen: String,
}

#[derive(Serialize)]
struct SumLine {
    name: String,
    yen: String,
}

fn yen(v: i64) -> String {
    report::printed(Metric::Participants, v as f64)
}

fn kind_name(lang: Lang, kind: &str) -> String {
    lang.text(&format!("expenses.kind.{kind}"))
}

fn area_name(lang: Lang, area: &str) -> String {
    lang.lookup(&format!("expenses.area.{area}"))
        .map_or_else(|| area.to_owned(), str::to_owned)
}

struct Read {
    totals: Totals,
    lines: Vec<Expense>,
    sites: Vec<SiteChoice>,
    closed: bool,
}

fn read(conn: &mut AnyConnection, caller: &Caller, fy: i32, after: Option<Id>) -> AppResult<Read> {
    Ok(Read {
        totals: closing::expenses_as(conn, fy, View::Published)?,
        lines: ledger::list(conn, caller, fy, after, PAGE)?,
        sites: site_list(conn, None)?,
        closed: closing::is_closed(conn, fy)?,
    })
}

#[allow(clippy::too_many_arguments)]
fn render(
    who: &SignedIn,
    fy: i32,
    mut r: Read,
    status: StatusCode,
    problem: Option<String>,
    added: bool,
    form: Option<&[(String, String)]>,
) -> Result<HttpResponse, PageError> {
    let lang = who.lang();
    let site_names: std::collections::HashMap<String, String> = r
        .sites
        .iter()
        .map(|s| (s.id.clone(), format!("{} ({})", s.name, s.code)))
        .collect();
    let more = page::next_page(&mut r.lines, PAGE, |e| {
        format!("/hr/expenses?fiscal_year={fy}&after={}", e.id)
    });
    let lines: Vec<Line> = r
        .lines
        .iter()
        .map(|e| Line {
            kind: kind_name(lang, e.kind.as_str()),
            area: area_name(lang, &e.area),
            site: site_names
                .get(&e.site_id.to_string())
                .cloned()
                .unwrap_or_default(),
            description: e.description.clone(),
            quantity: match (e.quantity, e.unit_price_yen) {
                (Some(q), Some(p)) => format!("{q} × ¥{}", yen(p)),
                _ => String::new(),
            },
            yen: yen(e.amount_yen),
        })
        .collect();
    let sums = |list: &[ledger::Sum], name: &dyn Fn(&str) -> String| -> Vec<SumLine> {
        list.iter()
            .map(|s| SumLine {
                name: name(s.key.as_deref().unwrap_or_default()),
                yen: yen(s.yen),
            })
            .collect()
    };
    let t = &r.totals;
    let given = |name: &str| form.map(|f| field(f, name).to_owned()).unwrap_or_default();
    let kinds: Vec<minijinja::Value> = ["financial", "product", "facility"]
        .iter()
        .map(|k| minijinja::context! { value => *k, name => kind_name(lang, k) })
        .collect();
    let areas: Vec<minijinja::Value> = AREAS
        .iter()
        .map(|a| minijinja::context! { value => *a, name => area_name(lang, a) })
        .collect();
    let ctx = minijinja::context! {
        active => "expenses",
        wide => true,
        fy,
        year => year_label(lang, fy),
        approx => if lang == Lang::Ja { t.approx_ja.clone() } else { t.approx_en.clone() },
        exact => yen(t.total_yen),
        count => t.lines,
        published_version => t.published_version,
        by_kind => page::data(sums(&t.by_kind, &|k| kind_name(lang, k))),
        by_area => page::data(sums(&t.by_area, &|a| area_name(lang, a))),
        lines => page::data(&lines),
        more,
        kinds,
        areas,
        sites => page::data(&r.sites),
        closed_year => r.closed.then(|| year_label(lang, fy)),
        reason_id => "restatement_reason",
        kind => given("kind"),
        area => given("area"),
        site_id => given("site_id"),
        description => given("description"),
        amount_yen => given("amount_yen"),
        quantity => given("quantity"),
        unit_price_yen => given("unit_price_yen"),
        problem,
        added,
        ..who.visitor.context()
    };
    page::html(status, "hr_expenses.html", ctx)
}

fn this_year(conn: &mut AnyConnection) -> AppResult<i32> {
    let fiscal = crate::stats::rollup::calendar(conn)?;
    Ok(fiscal.year_of(Timestamp::now().get().date_naive()))
}

async fn show(
    state: web::Data<AppState>,
    who: SignedIn,
    q: web::Query<Query>,
) -> Result<HttpResponse, PageError> {
    let caller = require_hr(&who)?;
    let q = q.into_inner();
    let given = match q.fiscal_year {
        Some(fy) => Some(crate::web::fiscal_year(&who, fy)?),
        None => None,
    };
    let after = q.after.map(Id::from);
    let (fy, r) = with_conn(&state.pool, move |c| {
        // The year the ledger is being written for: the last one that ended.
        let fy = match given {
            Some(fy) => fy,
            None => this_year(c)? - 1,
        };
        Ok((fy, read(c, &caller, fy, after)?))
    })
    .await
    .map_err(|e| who.visitor.error(e))?;
    render(&who, fy, r, StatusCode::OK, None, q.added.is_some(), None)
}

/// The form as the service's line; a number that is not one is named.
fn new_expense(form: &[(String, String)], fy: i32) -> AppResult<NewExpense> {
    let mut errors = Vec::new();
    let kind = match field(form, "kind") {
        "product" => Kind::Product,
        "facility" => Kind::Facility,
        _ => Kind::Financial,
    };
    let mut number = |name: &str| -> Option<String> {
        let text = field(form, name).trim().replace(',', "");
        if text.is_empty() {
            return None;
        }
        if text.parse::<f64>().is_err() {
            errors.push(FieldError::new(name.to_owned(), "invalid", "a number"));
            return None;
        }
        Some(text)
    };
    let amount = number("amount_yen");
    let quantity = number("quantity");
    let unit = number("unit_price_yen");
    let site_id = field(form, "site_id").parse::<uuid::Uuid>().map_err(|_| {
        AppError::validation(vec![FieldError::new(
            "site_id",
            "required",
            "choose a site",
        )])
    })?;
    if !errors.is_empty() {
        return Err(AppError::validation(errors));
    }
    let whole = |t: Option<String>, name: &str| -> AppResult<Option<i64>> {
        t.map(|t| {
            t.parse::<i64>().map_err(|_| {
                AppError::validation(vec![FieldError::new(
                    name.to_owned(),
                    "invalid",
                    "whole yen",
                )])
            })
        })
        .transpose()
    };
    Ok(NewExpense {
        fiscal_year: fy,
        kind,
        area: field(form, "area").to_owned(),
        site_id,
        description: field(form, "description").to_owned(),
        amount_yen: whole(amount, "amount_yen")?,
        quantity: quantity.and_then(|q| q.parse().ok()),
        unit_price_yen: whole(unit, "unit_price_yen")?,
    })
}

async fn add(
    state: web::Data<AppState>,
    who: SignedIn,
    request_id: RequestId,
    q: web::Query<Query>,
    form: Form<Vec<(String, String)>>,
) -> Result<HttpResponse, PageError> {
    who.check_csrf(field(&form, "csrf"))?;
    let caller = require_hr(&who)?.restating(field(&form, "restatement_reason"));
    let Some(fy) = q.fiscal_year else {
        return Err(who
            .visitor
            .error(AppError::not_found("no such fiscal year")));
    };
    let fy = crate::web::fiscal_year(&who, fy)?;
    let (actor, given) = (caller.clone(), form.to_vec());
    let request_id = Some(request_id.to_string());
    let outcome = with_conn(&state.pool, move |c| {
        let line = new_expense(&given, fy)?;
        ledger::create(c, &actor, &line, request_id)
    })
    .await;
    let error = match outcome {
        Ok(_) => {
            return Ok(see_other(&format!("/hr/expenses?fiscal_year={fy}&added=1")));
        }
        Err(e) if page::shown_on_form(&e) => e,
        Err(e) => return Err(who.visitor.error(e)),
    };
    let r = with_conn(&state.pool, move |c| read(c, &caller, fy, None))
        .await
        .map_err(|e| who.visitor.error(e))?;
    let problem = Some(page::reason(&error, who.lang()));
    render(&who, fy, r, error.status(), problem, false, Some(&form))
}
