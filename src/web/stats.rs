//! The statistics pages every signed-in person reads, as the API allows: the annual programme
//! table (fiscal years side by side with the change on the year before, the current year marked
//! in progress), its chart, downloads of both, and the breakdowns of one year. The figures are
//! `stats::report` and `stats::breakdown`, the very calls behind `/api/v1/stats/*`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::db::Id;
use crate::error::{AppError, AppResult};
use crate::http::with_read_conn;
use crate::sheet::Kind;
use crate::stats::breakdown::{self, By};
use crate::stats::closing::View;
use crate::stats::mdd::{Metric, Scope};
use crate::stats::report::{self, YearReport};
use crate::web::choices::{self, Scoped};
use crate::web::i18n::Lang;
use crate::web::page::{self, PageError};
use crate::web::visitor::SignedIn;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/stats", web::get().to(dashboard))
        .route("/stats/report.csv", web::get().to(report_csv))
        .route("/stats/report.xlsx", web::get().to(report_xlsx))
        .route("/stats/report.svg", web::get().to(report_svg))
        .route("/stats/{fy}/breakdown", web::get().to(breakdown_page))
        .route("/stats/{fy}/breakdown.csv", web::get().to(breakdown_csv))
        .route("/stats/{fy}/breakdown.xlsx", web::get().to(breakdown_xlsx))
        .route("/stats/{fy}/breakdown.svg", web::get().to(breakdown_svg));
}

/// The dashboard's form. Text, not numbers: a bad year is a message on the form, not a 400
/// page.
#[derive(Debug, Default, Deserialize)]
struct ReportQuery {
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    /// `company:ID`, `site:ID`, `region:domestic|overseas`, or empty for the whole programme.
    #[serde(default)]
    scope: String,
    #[serde(default)]
    bom: String,
}

impl ReportQuery {
    fn years(&self) -> AppResult<(Option<i32>, Option<i32>)> {
        let year = |name: &str, text: &str| -> AppResult<Option<i32>> {
            match text.trim() {
                "" => Ok(None),
                t => t.parse().map(Some).map_err(|_| {
                    AppError::bad_request("invalid_query", format!("{name} is not a year"))
                }),
            }
        };
        Ok((year("from", &self.from)?, year("to", &self.to)?))
    }

    fn scope(&self) -> AppResult<Scope> {
        let mut scope = Scope::default();
        match choices::scoped(&self.scope).ok_or_else(|| {
            AppError::bad_request("invalid_query", "the scope is not a known choice")
        })? {
            Scoped::All => {}
            Scoped::Company(id) => scope.company_id = Some(id),
            Scoped::Site(id) => scope.site_id = Some(id),
            Scoped::Region(r) => scope.region = Some(r.as_str().to_owned()),
        }
        Ok(scope)
    }

    /// The query again, for the download links.
    fn encoded(&self) -> String {
        format!(
            "from={}&to={}&scope={}",
            crate::web::encode(self.from.trim()),
            crate::web::encode(self.to.trim()),
            crate::web::encode(self.scope.trim())
        )
    }
}

/// What the report read, for the page and the downloads alike.
struct Report {
    years: Vec<YearReport>,
    from: i32,
    to: i32,
}

fn read_report(c: &mut crate::db::AnyConnection, q: &ReportQuery) -> AppResult<Report> {
    let (from, to) = q.years()?;
    let scope = q.scope()?;
    let selected = report::select(c, &scope, from, to, View::Published)?;
    Ok(Report {
        years: selected.report(),
        from: selected.from,
        to: selected.to,
    })
}

#[derive(Serialize)]
pub(crate) struct YearHead {
    fiscal_year: i32,
    label: String,
    in_progress: bool,
    /// A closed year: the published version shown.
    published_version: Option<i32>,
}

#[derive(Serialize)]
pub(crate) struct Row {
    metric: &'static str,
    label: String,
    cells: Vec<String>,
    change: String,
    change_percent: String,
}

#[derive(Serialize)]
struct ScopeChoice {
    value: String,
    name: String,
    selected: bool,
}

/// The table's column heads.
pub(crate) fn heads(lang: Lang, years: &[YearReport]) -> Vec<YearHead> {
    years
        .iter()
        .map(|y| YearHead {
            fiscal_year: y.fiscal_year,
            label: year_label(lang, y.fiscal_year),
            in_progress: y.in_progress,
            published_version: y.published_version,
        })
        .collect()
}

/// "FY2024–FY2027", or one year's label when they are the same.
pub(crate) fn span_label(lang: Lang, first: i32, last: i32) -> String {
    if first == last {
        year_label(lang, first)
    } else {
        format!("{}–{}", year_label(lang, first), year_label(lang, last))
    }
}

pub(crate) fn year_label(lang: Lang, fy: i32) -> String {
    page::fill(lang, "stats.fiscal_year", &[("year", &fy.to_string())])
}

fn rows(lang: Lang, years: &[YearReport]) -> Vec<Row> {
    rows_of(lang, years, &Metric::ALL)
}

/// The table's rows for `metrics`, the last year's change beside them.
pub(crate) fn rows_of(lang: Lang, years: &[YearReport], metrics: &[Metric]) -> Vec<Row> {
    metrics
        .iter()
        .copied()
        .map(|m| {
            let last = years.last();
            let change = last.and_then(|y| y.change.get(m.as_str()));
            Row {
                metric: m.as_str(),
                label: lang.text(&format!("stats.metric.{}", m.as_str())),
                cells: years
                    .iter()
                    .map(|y| {
                        y.figures
                            .get(m)
                            .map_or_else(|| "–".to_owned(), |v| report::printed(m, v))
                    })
                    .collect(),
                change: change.map_or_else(String::new, |c| report::printed_change(m, c.absolute)),
                change_percent: change
                    .and_then(|c| c.percent)
                    .map_or_else(String::new, |p| {
                        format!("{}%", report::printed_change(Metric::ImplementationRate, p))
                    }),
            }
        })
        .collect()
}

async fn dashboard(
    state: web::Data<AppState>,
    who: SignedIn,
    q: web::Query<ReportQuery>,
) -> Result<HttpResponse, PageError> {
    let q = q.into_inner();
    let lang = who.lang();
    let cached = crate::web::events::lookups::cached();
    let chosen_site = q
        .scope
        .strip_prefix("site:")
        .and_then(|v| v.parse::<uuid::Uuid>().ok())
        .map(Id::from);
    let (report, lookups, site_name, objectives) = {
        let q = ReportQuery {
            from: q.from.clone(),
            to: q.to.clone(),
            scope: q.scope.clone(),
            bom: String::new(),
        };
        with_read_conn(&state, move |c| {
            // A refused query is a message on the form; a failure is the error page.
            let report = match read_report(c, &q) {
                Err(e) if !e.status().is_client_error() => return Err(e),
                other => other,
            };
            let lookups = match cached {
                Some(l) => l,
                None => crate::web::events::lookups::load(c)?,
            };
            // The objectives are the group's: shown with the group's table only.
            let objectives = match &report {
                Ok(r) if q.scope.trim().is_empty() => {
                    let fiscal = crate::stats::rollup::calendar(c)?;
                    Some(crate::stats::objectives::get(c, fiscal, r.to)?)
                }
                _ => None,
            };
            let site_name = match chosen_site {
                Some(site) => crate::org::sites::names(c, &[site])?
                    .into_iter()
                    .next()
                    .map(|(_, name)| name),
                None => None,
            };
            Ok((report, lookups, site_name, objectives))
        })
        .await
        .map_err(|e| who.visitor.error(e))?
    };
    let mut scopes = vec![ScopeChoice {
        value: String::new(),
        name: lang.text("stats.scope.all"),
        selected: q.scope.trim().is_empty(),
    }];
    for region in ["domestic", "overseas"] {
        let value = format!("region:{region}");
        scopes.push(ScopeChoice {
            selected: q.scope.trim() == value,
            value,
            name: lang.text(&format!("stats.scope.{region}")),
        });
    }
    if let Some(name) = site_name {
        scopes.push(ScopeChoice {
            value: q.scope.trim().to_owned(),
            name,
            selected: true,
        });
    }
    for company in &lookups.companies {
        let value = format!("company:{}", company.id);
        scopes.push(ScopeChoice {
            selected: q.scope.trim() == value,
            value,
            name: company.name.clone(),
        });
    }
    let (status, problem, years, rows, chart, title) = match &report {
        Ok(r) => {
            let heads = heads(lang, &r.years);
            let chart_lang = report::Lang::parse(Some(lang.code()));
            let title = report::title(r.from, r.to, chart_lang);
            let chart = report::svg(&r.years, &title, chart_lang);
            (
                StatusCode::OK,
                None,
                heads,
                rows(lang, &r.years),
                Some(chart),
                title,
            )
        }
        Err(e) => (
            e.status(),
            Some(page::message(e, lang)),
            Vec::new(),
            Vec::new(),
            None,
            String::new(),
        ),
    };
    let in_progress = report.as_ref().ok().and_then(|r| {
        r.years
            .iter()
            .find(|y| y.in_progress)
            .and_then(|y| y.compared_through)
            .map(|d| lang.day(d))
    });
    let last_year = report.as_ref().ok().map(|r| r.to);
    let breakdowns = groupings(lang, "stats.by_link");
    let ctx = minijinja::context! {
        active => "stats",
        wide => true,
        from => q.from.trim(),
        to => q.to.trim(),
        scopes => page::data(&scopes),
        problem,
        title,
        years => page::data(&years),
        rows => page::data(&rows),
        chart,
        in_progress_through => in_progress,
        last_year,
        breakdowns => page::data(&breakdowns),
        objectives => objectives.map(|o| page::data(crate::web::objectives::lines(lang, &o.objectives))),
        query => q.encoded(),
        ..who.visitor.context()
    };
    page::html(status, "stats.html", ctx)
}

async fn report_csv(
    state: web::Data<AppState>,
    who: SignedIn,
    q: web::Query<ReportQuery>,
) -> Result<HttpResponse, PageError> {
    let q = q.into_inner();
    let bom = matches!(q.bom.as_str(), "1" | "true" | "on");
    let r = with_read_conn(&state, move |c| read_report(c, &q))
        .await
        .map_err(|e| who.visitor.error(e))?;
    let body = report::csv(&r.years, bom)
        .map_err(AppError::internal)
        .map_err(|e| who.visitor.error(e))?;
    Ok(attachment(
        "text/csv; charset=utf-8",
        &format!("mdd-fy{}-fy{}.csv", r.from, r.to),
        body,
    ))
}

async fn report_xlsx(
    state: web::Data<AppState>,
    who: SignedIn,
    q: web::Query<ReportQuery>,
) -> Result<HttpResponse, PageError> {
    let q = q.into_inner();
    let r = with_read_conn(&state, move |c| read_report(c, &q))
        .await
        .map_err(|e| who.visitor.error(e))?;
    let body = report::sheet(&r.years, Kind::Xlsx)
        .map_err(AppError::internal)
        .map_err(|e| who.visitor.error(e))?;
    Ok(attachment(
        Kind::Xlsx.content_type(),
        &format!("mdd-fy{}-fy{}.xlsx", r.from, r.to),
        body,
    ))
}

/// A file to download, named.
fn attachment(content_type: &'static str, name: &str, body: Vec<u8>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"{name}\""),
        ))
        .body(body)
}

async fn report_svg(
    state: web::Data<AppState>,
    who: SignedIn,
    q: web::Query<ReportQuery>,
) -> Result<HttpResponse, PageError> {
    let q = q.into_inner();
    let lang = report::Lang::parse(Some(who.lang().code()));
    let r = with_read_conn(&state, move |c| read_report(c, &q))
        .await
        .map_err(|e| who.visitor.error(e))?;
    let title = report::title(r.from, r.to, lang);
    Ok(attachment(
        "image/svg+xml",
        &format!("mdd-fy{}-fy{}.svg", r.from, r.to),
        report::svg(&r.years, &title, lang).into_bytes(),
    ))
}

#[derive(Debug, Default, Deserialize)]
struct BreakdownQuery {
    #[serde(default)]
    by: String,
    /// A figure to sort by (a metric's name, or `label`); `desc` for the other direction.
    #[serde(default)]
    sort: String,
    #[serde(default)]
    dir: String,
    /// With `by=site`: only this company's sites (the drill-down from a company's row).
    #[serde(default)]
    company: String,
    #[serde(default)]
    bom: String,
}

/// The groupings, by their name in queries, in the order the pages list them.
const GROUPINGS: [(&str, By); 6] = [
    ("site", By::Site),
    ("company", By::Company),
    ("region", By::Region),
    ("theme", By::Theme),
    ("category", By::Category),
    ("month", By::Month),
];

fn by_of(text: &str) -> AppResult<By> {
    let text = if text.is_empty() { "site" } else { text };
    GROUPINGS
        .iter()
        .find(|(name, _)| *name == text)
        .map(|(_, by)| *by)
        .ok_or_else(|| {
            AppError::bad_request(
                "invalid_query",
                "by is site, company, region, theme, category or month",
            )
        })
}

fn by_name(by: By) -> &'static str {
    GROUPINGS
        .iter()
        .find(|(_, b)| *b == by)
        .map_or("site", |(name, _)| name)
}

/// Every grouping with its text under `prefix` (`stats.by` for a column, `stats.by_link` for a
/// link).
fn groupings(lang: Lang, prefix: &str) -> Vec<(&'static str, String)> {
    GROUPINGS
        .iter()
        .map(|(name, _)| (*name, lang.text(&format!("{prefix}.{name}"))))
        .collect()
}

/// The breakdown of `fy`, narrowed to a company's sites when asked.
fn read_breakdown(
    c: &mut crate::db::AnyConnection,
    fy: i32,
    by: By,
    company: Option<Id>,
) -> AppResult<breakdown::Breakdown> {
    let fy = crate::time::checked_year("fiscal year", fy)?;
    let fiscal = crate::stats::rollup::calendar(c)?;
    let mut result = breakdown::breakdown(c, fiscal, fy, by)?;
    if let Some(company) = company {
        let sites: std::collections::HashSet<String> = crate::org::sites::list(
            c,
            &crate::org::sites::ListFilter {
                company_id: Some(company),
                limit: 100_000,
                ..Default::default()
            },
        )?
        .into_iter()
        .map(|s| s.id.to_string())
        .collect();
        result.rows.retain(|r| sites.contains(&r.key));
        // The company's own figures are the total: unique participants do not add up.
        let key = company.to_string();
        result.total = breakdown::breakdown(c, fiscal, fy, By::Company)?
            .rows
            .into_iter()
            .find(|r| r.key == key)
            .map(|r| r.figures)
            .unwrap_or_default();
    }
    Ok(result)
}

fn company_of(text: &str) -> AppResult<Option<Id>> {
    match text.trim() {
        "" => Ok(None),
        t => t
            .parse::<uuid::Uuid>()
            .map(|u| Some(Id::from(u)))
            .map_err(|_| AppError::bad_request("invalid_query", "company is not a known choice")),
    }
}

/// The rows in the order the reader asked for: by a figure or by name, either way round; months
/// and the default in the breakdown's own order.
fn sorted<'a>(
    result: &'a breakdown::Breakdown,
    q: &BreakdownQuery,
) -> Vec<&'a breakdown::BreakdownRow> {
    let descending = q.dir != "asc";
    let mut rows: Vec<&breakdown::BreakdownRow> = result.rows.iter().collect();
    match Metric::parse(&q.sort) {
        Some(m) => rows.sort_by(|a, b| {
            let (x, y) = (
                a.figures.get(m).unwrap_or(0.0),
                b.figures.get(m).unwrap_or(0.0),
            );
            let order = x.total_cmp(&y).then_with(|| a.label.cmp(&b.label));
            if descending { order.reverse() } else { order }
        }),
        None if q.sort == "label" => {
            rows.sort_by(|a, b| a.label.cmp(&b.label));
            if descending {
                rows.reverse();
            }
        }
        None => {}
    }
    rows
}

/// Bars the breakdown chart draws at most (the table holds every group).
const CHART_ROWS: usize = 20;

/// The breakdown's chart: the figure the table is sorted by (participants otherwise), one bar
/// per group in the table's order, the first [`CHART_ROWS`].
fn bar_chart(
    lang: Lang,
    fy: i32,
    by: By,
    rows: &[&breakdown::BreakdownRow],
    q: &BreakdownQuery,
) -> String {
    let metric = Metric::parse(&q.sort)
        .filter(|m| columns().any(|c| c == *m))
        .unwrap_or(Metric::Participants);
    let title = page::fill(
        lang,
        "stats.breakdown_caption",
        &[
            ("year", &year_label(lang, fy)),
            ("by", &lang.text(&format!("stats.by.{}", by_name(by)))),
        ],
    );
    let mut figure = lang.text(&format!("stats.metric.{}", metric.as_str()));
    if rows.len() > CHART_ROWS {
        figure = format!(
            "{figure} — {}",
            page::fill(
                lang,
                "stats.chart_first",
                &[
                    ("n", &CHART_ROWS.to_string()),
                    ("of", &lang.number(rows.len() as i64))
                ]
            )
        );
    }
    let bars: Vec<(String, f64)> = rows
        .iter()
        .take(CHART_ROWS)
        .map(|r| (r.label.clone(), r.figures.get(metric).unwrap_or(0.0)))
        .collect();
    report::bars(&title, metric, &figure, &bars)
}

#[derive(Serialize)]
struct BreakdownLine {
    key: String,
    label: String,
    /// Where the row drills to: a company's sites, or a site's or region's report.
    link: Option<String>,
    cells: Vec<String>,
}

/// The columns of a breakdown table: the report's figures but the year's own (active sites
/// and the implementation rate are the year's, not a group's).
fn columns() -> impl Iterator<Item = Metric> {
    Metric::ALL
        .into_iter()
        .filter(|m| !matches!(m, Metric::ActiveSites | Metric::ImplementationRate))
}

async fn breakdown_page(
    state: web::Data<AppState>,
    who: SignedIn,
    fy: web::Path<i32>,
    q: web::Query<BreakdownQuery>,
) -> Result<HttpResponse, PageError> {
    let q = q.into_inner();
    let fy = fy.into_inner();
    let lang = who.lang();
    let by = by_of(&q.by).map_err(|e| who.visitor.error(e))?;
    let company = company_of(&q.company).map_err(|e| who.visitor.error(e))?;
    let (result, company_name) = with_read_conn(&state, move |c| {
        let result = read_breakdown(c, fy, by, company)?;
        let name = match company {
            Some(id) => Some(crate::org::companies::find(c, id)?.name),
            None => None,
        };
        Ok((result, name))
    })
    .await
    .map_err(|e| who.visitor.error(e))?;
    let descending = q.dir != "asc";
    let rows = sorted(&result, &q);
    let chart = bar_chart(lang, fy, by, &rows, &q);
    let lines: Vec<BreakdownLine> = rows
        .iter()
        .map(|r| BreakdownLine {
            key: r.key.clone(),
            label: r.label.clone(),
            link: match by {
                By::Company => Some(format!("/stats/{fy}/breakdown?by=site&company={}", r.key)),
                By::Site => Some(format!("/stats?to={fy}&scope=site:{}", r.key)),
                By::Region => Some(format!("/stats?to={fy}&scope=region:{}", r.key)),
                _ => None,
            },
            cells: columns()
                .map(|m| report::printed(m, r.figures.get(m).unwrap_or(0.0)))
                .collect(),
        })
        .collect();
    let total: Vec<String> = columns()
        .map(|m| report::printed(m, result.total.get(m).unwrap_or(0.0)))
        .collect();
    #[derive(Serialize)]
    struct Column {
        metric: &'static str,
        label: String,
        /// The link that sorts by this column (the other way round when it already does).
        sort_link: String,
        sorted: Option<&'static str>,
    }
    let base = format!(
        "/stats/{fy}/breakdown?by={}{}",
        by_name(by),
        company.map_or_else(String::new, |c| format!("&company={c}"))
    );
    let column = |metric: &'static str, label: String| {
        let this = q.sort == metric;
        let dir = if this && descending { "asc" } else { "desc" };
        Column {
            metric,
            label,
            sort_link: format!("{base}&sort={metric}&dir={dir}"),
            sorted: this.then_some(if descending {
                "descending"
            } else {
                "ascending"
            }),
        }
    };
    let mut heads = vec![column(
        "label",
        lang.text(&format!("stats.by.{}", by_name(by))),
    )];
    heads.extend(columns().map(|m| {
        column(
            m.as_str(),
            lang.text(&format!("stats.metric.{}", m.as_str())),
        )
    }));
    let groupings = groupings(lang, "stats.by");
    let ctx = minijinja::context! {
        active => "stats",
        wide => true,
        fiscal_year => fy,
        year_label => year_label(lang, fy),
        by => by_name(by),
        by_label => lang.text(&format!("stats.by.{}", by_name(by))),
        groupings => page::data(&groupings),
        company => company.map(|c| c.to_string()),
        company_name,
        columns => page::data(&heads),
        lines => page::data(&lines),
        total => page::data(&total),
        csv => format!("/stats/{fy}/breakdown.csv?by={}{}", by_name(by),
            company.map_or_else(String::new, |c| format!("&company={c}"))),
        xlsx => format!("/stats/{fy}/breakdown.xlsx?by={}{}", by_name(by),
            company.map_or_else(String::new, |c| format!("&company={c}"))),
        svg => format!("/stats/{fy}/breakdown.svg?by={}{}&sort={}&dir={}", by_name(by),
            company.map_or_else(String::new, |c| format!("&company={c}")),
            crate::web::encode(&q.sort), crate::web::encode(&q.dir)),
        chart,
        ..who.visitor.context()
    };
    page::html(StatusCode::OK, "stats_breakdown.html", ctx)
}

async fn breakdown_csv(
    state: web::Data<AppState>,
    who: SignedIn,
    fy: web::Path<i32>,
    q: web::Query<BreakdownQuery>,
) -> Result<HttpResponse, PageError> {
    let fy = fy.into_inner();
    let bom = matches!(q.bom.as_str(), "1" | "true" | "on");
    let (by, result) = breakdown_for(&state, &who, fy, &q).await?;
    let body = breakdown::csv(&result, bom)
        .map_err(AppError::internal)
        .map_err(|e| who.visitor.error(e))?;
    Ok(attachment(
        "text/csv; charset=utf-8",
        &format!("mdd-fy{fy}-by-{}.csv", by_name(by)),
        body,
    ))
}

/// The breakdown the query asks for, read for a download.
async fn breakdown_for(
    state: &AppState,
    who: &SignedIn,
    fy: i32,
    q: &BreakdownQuery,
) -> Result<(By, breakdown::Breakdown), PageError> {
    let by = by_of(&q.by).map_err(|e| who.visitor.error(e))?;
    let company = company_of(&q.company).map_err(|e| who.visitor.error(e))?;
    let result = with_read_conn(state, move |c| read_breakdown(c, fy, by, company))
        .await
        .map_err(|e| who.visitor.error(e))?;
    Ok((by, result))
}

async fn breakdown_xlsx(
    state: web::Data<AppState>,
    who: SignedIn,
    fy: web::Path<i32>,
    q: web::Query<BreakdownQuery>,
) -> Result<HttpResponse, PageError> {
    let fy = fy.into_inner();
    let (by, result) = breakdown_for(&state, &who, fy, &q).await?;
    let body = breakdown::sheet(&result, Kind::Xlsx)
        .map_err(AppError::internal)
        .map_err(|e| who.visitor.error(e))?;
    Ok(attachment(
        Kind::Xlsx.content_type(),
        &format!("mdd-fy{fy}-by-{}.xlsx", by_name(by)),
        body,
    ))
}

async fn breakdown_svg(
    state: web::Data<AppState>,
    who: SignedIn,
    fy: web::Path<i32>,
    q: web::Query<BreakdownQuery>,
) -> Result<HttpResponse, PageError> {
    let fy = fy.into_inner();
    let (by, result) = breakdown_for(&state, &who, fy, &q).await?;
    let rows = sorted(&result, &q);
    let chart = bar_chart(who.lang(), fy, by, &rows, &q);
    Ok(attachment(
        "image/svg+xml",
        &format!("mdd-fy{fy}-by-{}.svg", by_name(by)),
        chart.into_bytes(),
    ))
}
