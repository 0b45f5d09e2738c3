//! The year's awards on one page, for everyone in their part: the winners and how many
//! programmes were eligible (everyone); the nomination form and the site's nominations
//! (coordinators); a score form per nomination (the year's judges, never for their own site);
//! the set-up, every nomination with its score, and the decision per category (HR and
//! administrators). Every action is the service behind the API's `/api/v1/awards/…`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use tracing_actix_web::RequestId;

use crate::AppState;
use crate::auth::{Caller, Role};
use crate::awards::{
    self, AwardCriterionInput, AwardScoreInput, Awards, CategoryInput, Eligible, NominationInput,
    Region, ScoresInput, SetupInput, WinnerInput,
};
use crate::db::AnyConnection;
use crate::error::{AppError, AppResult, FieldError};
use crate::http::with_conn;
use crate::web::form::{Form, field};
use crate::web::i18n::Lang;
use crate::web::page::{self, PageError};
use crate::web::see_other;
use crate::web::stats::year_label;
use crate::web::visitor::SignedIn;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/awards", web::get().to(latest)).service(
        web::resource("/awards/{fy}")
            .route(web::get().to(show))
            .route(web::post().to(act)),
    );
}

/// The actions the page's forms post.
const ACTIONS: [&str; 5] = ["setup", "nominate", "withdraw", "score", "decide"];

async fn latest(state: web::Data<AppState>, who: SignedIn) -> Result<HttpResponse, PageError> {
    crate::web::to_last_ended_year(&state, &who, "/awards").await
}

fn is_hr(caller: &Caller) -> bool {
    matches!(caller.role, Role::Hr | Role::Admin)
}

fn nominates(caller: &Caller) -> bool {
    matches!(caller.role, Role::Hr | Role::Admin | Role::Coordinator)
}

fn region_name(lang: Lang, region: Option<Region>) -> Option<String> {
    region.map(|r| lang.text(&format!("section.region.{}", r.as_str())))
}

#[derive(Serialize)]
struct CategoryLine {
    id: String,
    name: String,
    winner: Option<String>,
    nominations: Vec<NominationLine>,
}

#[derive(Serialize)]
struct CriterionLine {
    id: String,
    name: String,
    weight: i32,
    yours: String,
}

#[derive(Serialize)]
struct NominationLine {
    id: String,
    program: String,
    site: String,
    statement: String,
    score: String,
    judged_by: i64,
    winner: bool,
    /// The caller may score it (a judge, not of its site).
    scorable: bool,
    /// The caller may withdraw it (its site's coordinator or HR, before any score).
    withdrawable: bool,
    criteria: Vec<CriterionLine>,
}

/// What the page read.
struct Read {
    awards: Awards,
    eligible: Option<Eligible>,
}

fn read(conn: &mut AnyConnection, caller: &Caller, fy: i32) -> AppResult<Read> {
    let awards = awards::overview(conn, caller, fy)?;
    let eligible = if nominates(caller) {
        Some(awards::eligible(conn, caller, fy)?)
    } else {
        None
    };
    Ok(Read { awards, eligible })
}

/// The set-up as the form's text areas hold it: one category per line ("Name" or "Name |
/// domestic|overseas"), one criterion per line ("Name | weight"), one judge's email per line.
fn setup_text(a: &Awards) -> (String, String, String) {
    let categories = a
        .categories
        .iter()
        .map(|c| match c.region {
            Some(r) => format!("{} | {}", c.name, r.as_str()),
            None => c.name.clone(),
        })
        .collect::<Vec<_>>()
        .join("\n");
    let criteria = a
        .criteria
        .iter()
        .map(|c| format!("{} | {}", c.name, c.weight))
        .collect::<Vec<_>>()
        .join("\n");
    let judges = a
        .judges
        .iter()
        .map(|j| j.email.clone())
        .collect::<Vec<_>>()
        .join("\n");
    (categories, criteria, judges)
}

#[allow(clippy::too_many_arguments)]
fn render(
    who: &SignedIn,
    caller: &Caller,
    fy: i32,
    r: Read,
    status: StatusCode,
    problem: Option<String>,
    done: Option<String>,
    form: Option<&[(String, String)]>,
) -> Result<HttpResponse, PageError> {
    let lang = who.lang();
    let a = &r.awards;
    let own = |site: uuid::Uuid| {
        let site = crate::db::Id::from(site);
        caller.site_id == Some(site) || caller.sites.contains(&site)
    };
    let categories: Vec<CategoryLine> = a
        .categories
        .iter()
        .map(|c| {
            let name = match region_name(lang, c.region) {
                Some(region) => page::fill(
                    lang,
                    "section.category_in",
                    &[("category", &c.name), ("region", &region)],
                ),
                None => c.name.clone(),
            };
            let nominations = a
                .nominations
                .iter()
                .filter(|n| n.category_id == c.id)
                .map(|n| NominationLine {
                    id: n.id.to_string(),
                    program: n.program_title.clone(),
                    site: n.site_name.clone(),
                    statement: n.statement.clone(),
                    score: n
                        .score
                        .map_or_else(|| "–".to_owned(), |s| format!("{s:.2}")),
                    judged_by: n.judged_by,
                    winner: n.winner,
                    scorable: a.you_judge
                        && !own(n.site_id)
                        && !a.winners.iter().any(|w| w.category_id == c.id),
                    withdrawable: n.judged_by == 0
                        && (is_hr(caller) || caller.coordinates(n.site_id.into())),
                    criteria: a
                        .criteria
                        .iter()
                        .map(|k| CriterionLine {
                            id: k.id.to_string(),
                            name: k.name.clone(),
                            weight: k.weight,
                            yours: n
                                .your_scores
                                .iter()
                                .find(|s| s.criterion_id == k.id)
                                .map_or_else(String::new, |s| s.score.to_string()),
                        })
                        .collect(),
                })
                .collect();
            CategoryLine {
                id: c.id.to_string(),
                name,
                winner: a.winners.iter().find(|w| w.category_id == c.id).map(|w| {
                    page::fill(
                        lang,
                        "section.winner",
                        &[("program", &w.program_title), ("site", &w.site_name)],
                    )
                }),
                nominations,
            }
        })
        .collect();
    let eligible = r.eligible.as_ref().map(|e| {
        e.programs
            .iter()
            .map(|p| {
                minijinja::context! {
                    id => p.program_id.to_string(),
                    name => format!("{} ({}, {})", p.title, p.site_code, p.code),
                }
            })
            .collect::<Vec<_>>()
    });
    let (categories_text, criteria_text, judges_text) = match form {
        Some(f) if field(f, "action") == "setup" => (
            field(f, "categories").to_owned(),
            field(f, "criteria").to_owned(),
            field(f, "judges").to_owned(),
        ),
        _ => setup_text(a),
    };
    let statement = form
        .filter(|f| field(f, "action") == "nominate")
        .map(|f| field(f, "statement").to_owned())
        .unwrap_or_default();
    let ctx = minijinja::context! {
        active => "awards",
        fy,
        year => year_label(lang, fy),
        eligible_count => a.eligible_programs,
        categories => page::data(&categories),
        criteria => page::data(a.criteria.iter().map(|c| minijinja::context! {name => c.name.clone(), weight => c.weight}).collect::<Vec<_>>()),
        judges => page::data(a.judges.iter().map(|j| j.display_name.clone()).collect::<Vec<_>>()),
        you_judge => a.you_judge,
        hr => is_hr(caller),
        nominator => nominates(caller),
        eligible,
        set_up => !a.categories.is_empty(),
        categories_text,
        criteria_text,
        judges_text,
        statement,
        problem,
        done,
        ..who.visitor.context()
    };
    page::html(status, "awards.html", ctx)
}

#[derive(Deserialize)]
struct Done {
    done: Option<String>,
}

async fn show(
    state: web::Data<AppState>,
    who: SignedIn,
    fy: web::Path<i32>,
    q: web::Query<Done>,
) -> Result<HttpResponse, PageError> {
    let caller = who.caller();
    let fy = crate::web::fiscal_year(&who, fy.into_inner())?;
    let reader = caller.clone();
    let r = with_conn(&state.pool, move |c| read(c, &reader, fy))
        .await
        .map_err(|e| who.visitor.error(e))?;
    // Only the page's own outcomes are echoed.
    let done = q
        .done
        .as_deref()
        .filter(|d| ACTIONS.contains(d))
        .map(|d| who.lang().text(&format!("awards.done.{d}")));
    render(&who, &caller, fy, r, StatusCode::OK, None, done, None)
}

fn uuid_field(form: &[(String, String)], name: &str) -> AppResult<uuid::Uuid> {
    field(form, name).trim().parse().map_err(|_| {
        AppError::validation(vec![FieldError::new(
            name.to_owned(),
            "required",
            "choose one",
        )])
    })
}

/// The set-up form's text areas as the service's input; judges' emails become their ids.
fn setup_input(conn: &mut AnyConnection, form: &[(String, String)]) -> AppResult<SetupInput> {
    let lines = |name: &str| -> Vec<String> {
        field(form, name)
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect()
    };
    let mut errors = Vec::new();
    let categories = lines("categories")
        .into_iter()
        .enumerate()
        .map(|(i, l)| {
            let (name, region) = l.split_once('|').unwrap_or((&l, ""));
            let region = match region.trim() {
                "" => None,
                "domestic" => Some(Region::Domestic),
                "overseas" => Some(Region::Overseas),
                _ => {
                    errors.push(FieldError::new(
                        format!("categories[{i}].region"),
                        "invalid",
                        format!("line {}: domestic, overseas or nothing after |", i + 1),
                    ));
                    None
                }
            };
            CategoryInput {
                name: name.trim().to_owned(),
                region,
            }
        })
        .collect();
    let criteria = lines("criteria")
        .into_iter()
        .enumerate()
        .map(|(i, l)| {
            let (name, weight) = l.split_once('|').unwrap_or((&l, ""));
            let weight = weight.trim().parse().unwrap_or_else(|_| {
                errors.push(FieldError::new(
                    format!("criteria[{i}].weight"),
                    "invalid",
                    format!("line {}: a weight from 1 to 100 after |", i + 1),
                ));
                0
            });
            AwardCriterionInput {
                name: name.trim().to_owned(),
                weight,
            }
        })
        .collect();
    let mut judges = Vec::new();
    for (i, email) in lines("judges").into_iter().enumerate() {
        match crate::people::users::id_by_email(conn, &email)? {
            Some(id) => judges.push(id.into()),
            None => errors.push(FieldError::new(
                format!("judges[{i}]"),
                "unknown",
                format!("no one has the email {email}"),
            )),
        }
    }
    if !errors.is_empty() {
        return Err(AppError::validation(errors));
    }
    Ok(SetupInput {
        categories,
        criteria,
        judges,
    })
}

fn perform(
    conn: &mut AnyConnection,
    caller: &Caller,
    fy: i32,
    form: &[(String, String)],
    request_id: Option<String>,
) -> AppResult<()> {
    match field(form, "action") {
        "setup" => {
            caller.require(&[Role::Hr, Role::Admin])?;
            let input = setup_input(conn, form)?;
            awards::set_up(conn, Some(caller), fy, &input, request_id)
        }
        "nominate" => {
            let input = NominationInput {
                category_id: uuid_field(form, "category_id")?,
                program_id: uuid_field(form, "program_id")?,
                statement: field(form, "statement").to_owned(),
            };
            awards::nominate(conn, caller, &input, request_id).map(drop)
        }
        "withdraw" => {
            let id = uuid_field(form, "nomination_id")?;
            awards::withdraw(conn, caller, id.into(), request_id)
        }
        "score" => {
            let id = uuid_field(form, "nomination_id")?;
            let mut scores = Vec::new();
            for (name, value) in form {
                if let Some(c) = name.strip_prefix("score_") {
                    let (Ok(criterion_id), Ok(score)) = (c.parse(), value.trim().parse()) else {
                        return Err(AppError::validation(vec![FieldError::new(
                            "scores",
                            "incomplete",
                            "a score from 1 to 5 for every criterion",
                        )]));
                    };
                    scores.push(AwardScoreInput {
                        criterion_id,
                        score,
                    });
                }
            }
            awards::score(conn, caller, id.into(), &ScoresInput { scores }, request_id)
        }
        "decide" => {
            let category = uuid_field(form, "category_id")?;
            let input = WinnerInput {
                nomination_id: Some(uuid_field(form, "nomination_id")?),
            };
            awards::decide(conn, Some(caller), category.into(), &input, request_id)
        }
        _ => Err(AppError::bad_request("invalid_action", "no such action")),
    }
}

async fn act(
    state: web::Data<AppState>,
    who: SignedIn,
    request_id: RequestId,
    fy: web::Path<i32>,
    form: Form<Vec<(String, String)>>,
) -> Result<HttpResponse, PageError> {
    who.check_csrf(field(&form, "csrf"))?;
    let caller = who.caller();
    let fy = crate::web::fiscal_year(&who, fy.into_inner())?;
    let action = field(&form, "action").to_owned();
    let (actor, given) = (caller.clone(), form.to_vec());
    let request_id = Some(request_id.to_string());
    let outcome = with_conn(&state.pool, move |c| {
        perform(c, &actor, fy, &given, request_id)
    })
    .await;
    let error = match outcome {
        Ok(()) => return Ok(see_other(&format!("/awards/{fy}?done={action}"))),
        Err(e) if page::shown_on_form(&e) => e,
        Err(e) => return Err(who.visitor.error(e)),
    };
    let reader = caller.clone();
    let r = with_conn(&state.pool, move |c| read(c, &reader, fy))
        .await
        .map_err(|e| who.visitor.error(e))?;
    let problem = Some(page::reason(&error, who.lang()));
    render(
        &who,
        &caller,
        fy,
        r,
        error.status(),
        problem,
        None,
        Some(&form),
    )
}
