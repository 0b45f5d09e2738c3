//! The yearly programme reviews for the people who write them: coordinators see their sites'
//! programmes that ran in the year, which are still to review and the averages; HR and
//! administrators every site's. A review is one form — a score from 1 to 5 per criterion,
//! grouped by point of view, and comments — through `reviews::review`, the service behind
//! `PUT /api/v1/reviews/{fy}/programs/{id}`. Employees find no such page.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use tracing_actix_web::RequestId;

use crate::AppState;
use crate::auth::Caller;
use crate::error::AppError;
use crate::http::with_conn;
use crate::reviews::{self, Averages, ReviewCriterion, ReviewInput, ReviewScoreInput, YearReviews};
use crate::web::form::{Form, field};
use crate::web::i18n::Lang;
use crate::web::page::{self, PageError};
use crate::web::quality::reads_records;
use crate::web::see_other;
use crate::web::stats::year_label;
use crate::web::visitor::SignedIn;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/reviews", web::get().to(latest))
        .route("/reviews/{fy}", web::get().to(year))
        .service(
            web::resource("/reviews/{fy}/programs/{program}")
                .route(web::get().to(form))
                .route(web::post().to(save)),
        );
}

/// 404 for employees, before anything is read.
fn require_reviewer(who: &SignedIn) -> Result<Caller, PageError> {
    let caller = who.caller();
    if reads_records(caller.role) {
        Ok(caller)
    } else {
        Err(who.visitor.error(AppError::not_found("no such page")))
    }
}

/// A criterion's name in the reader's words: a built-in one's from the catalogue.
fn criterion_name(lang: Lang, c: &ReviewCriterion) -> String {
    c.code
        .as_deref()
        .and_then(|code| lang.lookup(&format!("review.criterion.{code}")))
        .map_or_else(|| c.name.clone(), str::to_owned)
}

/// A criterion's group ("Society: effectiveness") in the reader's words.
fn criterion_group(lang: Lang, c: &ReviewCriterion) -> String {
    let theme = c
        .code
        .as_deref()
        .and_then(|code| lang.lookup(&format!("review.theme.{code}")))
        .map_or_else(|| c.theme.clone(), str::to_owned);
    page::fill(
        lang,
        "review.group",
        &[
            (
                "view",
                &lang.text(&format!(
                    "review.view.{}",
                    serde_json::to_value(c.point_of_view)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default()
                )),
            ),
            ("theme", &theme),
        ],
    )
}

#[derive(Serialize)]
struct ProgramLine {
    id: String,
    code: String,
    title: String,
    site: String,
    theme: String,
    average: Option<String>,
}

#[derive(Serialize)]
struct AverageLine {
    key: String,
    reviews: i64,
    overall: String,
    society: String,
    company: String,
}

fn mean(v: Option<f64>) -> String {
    v.map_or_else(|| "–".to_owned(), |v| format!("{v:.2}"))
}

fn average_line(lang: Lang, a: &Averages, theme: bool) -> AverageLine {
    AverageLine {
        key: if theme {
            lang.lookup(&format!("theme.{}", a.key))
                .map_or_else(|| a.key.clone(), str::to_owned)
        } else {
            a.key.clone()
        },
        reviews: a.reviews,
        overall: mean(a.overall),
        society: mean(a.by_point_of_view.get("society").copied()),
        company: mean(a.by_point_of_view.get("company").copied()),
    }
}

fn theme_name(lang: Lang, theme: &str) -> String {
    lang.lookup(&format!("theme.{theme}"))
        .map_or_else(|| theme.to_owned(), str::to_owned)
}

async fn latest(state: web::Data<AppState>, who: SignedIn) -> Result<HttpResponse, PageError> {
    require_reviewer(&who)?;
    crate::web::to_last_ended_year(&state, &who, "/reviews").await
}

#[derive(Deserialize)]
struct Done {
    done: Option<String>,
}

async fn year(
    state: web::Data<AppState>,
    who: SignedIn,
    fy: web::Path<i32>,
    q: web::Query<Done>,
) -> Result<HttpResponse, PageError> {
    let caller = require_reviewer(&who)?;
    let fy = crate::web::fiscal_year(&who, fy.into_inner())?;
    let lang = who.lang();
    let y: YearReviews = with_conn(&state.pool, move |c| reviews::year(c, &caller, fy))
        .await
        .map_err(|e| who.visitor.error(e))?;
    let todo: Vec<ProgramLine> = y
        .not_reviewed
        .iter()
        .map(|p| ProgramLine {
            id: p.program_id.to_string(),
            code: p.program_code.clone(),
            title: p.program_title.clone(),
            site: p.site_code.clone(),
            theme: theme_name(lang, &p.theme),
            average: None,
        })
        .collect();
    let done: Vec<ProgramLine> = y
        .reviews
        .iter()
        .map(|r| ProgramLine {
            id: r.program_id.to_string(),
            code: r.program_code.clone(),
            title: r.program_title.clone(),
            site: r.site_code.clone(),
            theme: theme_name(lang, &r.theme),
            average: Some(format!("{:.2}", r.average)),
        })
        .collect();
    let saved = q.done.as_deref() == Some("saved");
    let ctx = minijinja::context! {
        active => "reviews",
        fy,
        year => year_label(lang, fy),
        to_review => y.programs_to_review,
        reviewed => y.reviews.len(),
        todo => page::data(&todo),
        done => page::data(&done),
        overall => page::data(average_line(lang, &y.averages, false)),
        by_theme => page::data(y.by_theme.iter().map(|a| average_line(lang, a, true)).collect::<Vec<_>>()),
        by_site => page::data(y.by_site.iter().map(|a| average_line(lang, a, false)).collect::<Vec<_>>()),
        saved,
        ..who.visitor.context()
    };
    page::html(StatusCode::OK, "reviews.html", ctx)
}

#[derive(Serialize)]
struct CriterionLine {
    id: String,
    group: String,
    name: String,
    score: String,
    problem: bool,
}

/// The form for one programme: its line of the year, the criteria, and what is filled in.
async fn render(
    state: &web::Data<AppState>,
    who: &SignedIn,
    fy: i32,
    program: uuid::Uuid,
    given: Option<(&[(String, String)], AppError)>,
) -> Result<HttpResponse, PageError> {
    let caller = require_reviewer(who)?;
    let lang = who.lang();
    let y: YearReviews = with_conn(&state.pool, move |c| reviews::year(c, &caller, fy))
        .await
        .map_err(|e| who.visitor.error(e))?;
    let existing = y.reviews.iter().find(|r| r.program_id == program);
    let (code, title, site) = match (
        existing,
        y.not_reviewed.iter().find(|p| p.program_id == program),
    ) {
        (Some(r), _) => (&r.program_code, &r.program_title, &r.site_code),
        (None, Some(p)) => (&p.program_code, &p.program_title, &p.site_code),
        // Not a programme of the year the reader reviews: nothing to show.
        (None, None) => {
            return Err(who
                .visitor
                .error(AppError::not_found("no such programme to review")));
        }
    };
    let problem = given.as_ref().map(|(_, e)| page::reason(e, lang));
    let status = given.as_ref().map_or(StatusCode::OK, |(_, e)| e.status());
    let criteria: Vec<CriterionLine> = y
        .criteria
        .iter()
        .map(|c| {
            let id = c.id.to_string();
            let score = match &given {
                Some((form, _)) => field(form, &format!("score_{id}")).to_owned(),
                None => existing
                    .and_then(|r| r.scores.iter().find(|s| s.criterion_id == c.id))
                    .map_or_else(String::new, |s| s.score.to_string()),
            };
            CriterionLine {
                problem: given.is_some() && !matches!(score.as_str(), "1" | "2" | "3" | "4" | "5"),
                group: criterion_group(lang, c),
                name: criterion_name(lang, c),
                id,
                score,
            }
        })
        .collect();
    let comments = match &given {
        Some((form, _)) => field(form, "comments").to_owned(),
        None => existing.map(|r| r.comments.clone()).unwrap_or_default(),
    };
    let ctx = minijinja::context! {
        active => "reviews",
        fy,
        year => year_label(lang, fy),
        program => program.to_string(),
        code,
        title,
        site,
        criteria => page::data(&criteria),
        comments,
        problem,
        rewrite => existing.is_some(),
        ..who.visitor.context()
    };
    page::html(status, "review_form.html", ctx)
}

async fn form(
    state: web::Data<AppState>,
    who: SignedIn,
    path: web::Path<(i32, uuid::Uuid)>,
) -> Result<HttpResponse, PageError> {
    let (fy, program) = path.into_inner();
    let fy = crate::web::fiscal_year(&who, fy)?;
    render(&state, &who, fy, program, None).await
}

async fn save(
    state: web::Data<AppState>,
    who: SignedIn,
    request_id: RequestId,
    path: web::Path<(i32, uuid::Uuid)>,
    form: Form<Vec<(String, String)>>,
) -> Result<HttpResponse, PageError> {
    who.check_csrf(field(&form, "csrf"))?;
    let caller = require_reviewer(&who)?;
    let (fy, program) = path.into_inner();
    let fy = crate::web::fiscal_year(&who, fy)?;
    // Every `score_{criterion}` field the form sent; the service checks they are the criteria.
    let mut scores = Vec::new();
    let mut unreadable = false;
    for (name, value) in form.iter() {
        if let Some(id) = name.strip_prefix("score_") {
            match (id.parse::<uuid::Uuid>(), value.trim().parse::<i32>()) {
                (Ok(criterion_id), Ok(score)) => scores.push(ReviewScoreInput {
                    criterion_id,
                    score,
                }),
                _ => unreadable = true,
            }
        }
    }
    let input = ReviewInput {
        scores,
        comments: field(&form, "comments").to_owned(),
    };
    let outcome = if unreadable {
        Err(AppError::validation(vec![crate::error::FieldError::new(
            "scores",
            "incomplete",
            "a score from 1 to 5 for every criterion",
        )]))
    } else {
        let request_id = Some(request_id.to_string());
        with_conn(&state.pool, move |c| {
            reviews::review(c, Some(&caller), fy, program.into(), &input, request_id)
        })
        .await
    };
    match outcome {
        Ok(()) => Ok(see_other(&format!("/reviews/{fy}?done=saved#reviewed"))),
        Err(e) if page::shown_on_form(&e) => {
            render(&state, &who, fy, program, Some((&form, e))).await
        }
        Err(e) => Err(who.visitor.error(e)),
    }
}
