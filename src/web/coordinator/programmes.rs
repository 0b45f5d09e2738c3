//! Programmes of the sites a coordinator runs: the list, a new one, and editing one (theme,
//! report categories, partner, archived), through the API's `programs::create_as`/`patch_as`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::Serialize;

use crate::AppState;
use crate::db::Id;
use crate::error::{AppError, AppResult, FieldError};
use crate::http::with_conn;
use crate::programs::program::{
    self as programs, CreateProgram, Program, ProgramPatch, ProgramStatus, Theme,
};
use crate::web::coordinator::{refuse, require_runner, scope, unseen};
use crate::web::form::{Form, field};
use crate::web::page::{self, PageError};
use crate::web::see_other;
use crate::web::visitor::SignedIn;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/manage/programs", web::get().to(list))
        .route("/manage/programs/new", web::get().to(new_form))
        .route("/manage/programs/new", web::post().to(create))
        .route("/manage/programs/{id}", web::get().to(edit_form))
        .route("/manage/programs/{id}", web::post().to(save));
}

/// The form's fields; categories arrive as repeated `categories` pairs.
#[derive(Debug, Default, Serialize)]
struct ProgramForm {
    site_id: String,
    code: String,
    title: String,
    description: String,
    theme: String,
    categories: Vec<String>,
    partner_id: String,
    archived: bool,
}

impl ProgramForm {
    fn read(pairs: &[(String, String)]) -> (String, ProgramForm) {
        let get = |name: &str| field(pairs, name).trim().to_owned();
        let form = ProgramForm {
            site_id: get("site_id"),
            code: get("code"),
            title: get("title"),
            description: get("description"),
            theme: get("theme"),
            categories: pairs
                .iter()
                .filter(|(k, _)| k == "categories")
                .map(|(_, v)| v.clone())
                .collect(),
            partner_id: get("partner_id"),
            archived: !get("archived").is_empty(),
        };
        (get("csrf"), form)
    }

    fn of(p: &Program) -> ProgramForm {
        ProgramForm {
            site_id: p.site_id.to_string(),
            code: p.code.clone(),
            title: p.title.clone(),
            description: p.description.clone(),
            theme: p.theme.as_str().to_owned(),
            categories: p.categories.clone(),
            partner_id: p.partner_id.map(|p| p.to_string()).unwrap_or_default(),
            archived: p.status == ProgramStatus::Archived,
        }
    }

    fn theme(&self) -> AppResult<Theme> {
        Theme::parse(&self.theme).map_err(|_| {
            AppError::validation(vec![FieldError::new("theme", "required", "choose a theme")])
        })
    }

    fn partner(&self) -> AppResult<Option<uuid::Uuid>> {
        match self.partner_id.as_str() {
            "" => Ok(None),
            p => p.parse().map(Some).map_err(|_| {
                AppError::validation(vec![FieldError::new(
                    "partner_id",
                    "unknown_partner",
                    "no such partner",
                )])
            }),
        }
    }

    fn create(&self) -> AppResult<CreateProgram> {
        let site_id = self.site_id.parse().map_err(|_| {
            AppError::validation(vec![FieldError::new(
                "site_id",
                "required",
                "choose a site",
            )])
        })?;
        Ok(CreateProgram {
            site_id,
            code: self.code.clone(),
            title: self.title.clone(),
            description: self.description.clone(),
            theme: self.theme()?,
            categories: self.categories.clone(),
            partner_id: self.partner()?,
        })
    }

    fn patch(&self) -> AppResult<ProgramPatch> {
        Ok(ProgramPatch {
            code: Some(self.code.clone()),
            title: Some(self.title.clone()),
            description: Some(self.description.clone()),
            theme: Some(self.theme()?),
            categories: Some(self.categories.clone()),
            partner_id: self.partner()?,
            status: Some(if self.archived {
                ProgramStatus::Archived
            } else {
                ProgramStatus::Active
            }),
        })
    }
}

#[derive(Serialize)]
struct Choice {
    id: String,
    name: String,
}

/// The form's choices: the reader's sites, the categories and the partners.
struct Choices {
    sites: Vec<Choice>,
    categories: Vec<Choice>,
    partners: Vec<Choice>,
}

fn choices(c: &mut crate::db::AnyConnection, sites: &Option<Vec<Id>>) -> AppResult<Choices> {
    let sites = crate::org::sites::list(
        c,
        &crate::org::sites::ListFilter {
            ids: sites.clone(),
            limit: 5_000,
            ..Default::default()
        },
    )?;
    let mut sites: Vec<Choice> = sites
        .into_iter()
        .map(|s| Choice {
            id: s.id.to_string(),
            name: s.name,
        })
        .collect();
    sites.sort_by(|a, b| a.name.cmp(&b.name));
    let categories = programs::categories(c)?
        .into_iter()
        .map(|k| Choice {
            id: k.code,
            name: k.label,
        })
        .collect();
    let mut partners: Vec<Choice> = crate::org::partners::list(c, None, 1_000)?
        .into_iter()
        .map(|p| Choice {
            id: p.id.to_string(),
            name: p.name,
        })
        .collect();
    partners.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Choices {
        sites,
        categories,
        partners,
    })
}

fn render(
    who: &SignedIn,
    status: StatusCode,
    form: &ProgramForm,
    id: Option<uuid::Uuid>,
    choices: Choices,
    error: Option<&AppError>,
) -> Result<HttpResponse, PageError> {
    let lang = who.lang();
    let themes: Vec<Choice> = programs::themes()
        .into_iter()
        .map(|t| Choice {
            id: t.code.as_str().to_owned(),
            name: lang.text(&format!("theme.{}", t.code.as_str())),
        })
        .collect();
    let ctx = minijinja::context! {
        active => "programs",
        id => id.map(|i| i.to_string()),
        f => page::data(form),
        sites => page::data(&choices.sites),
        categories => page::data(&choices.categories),
        partners => page::data(&choices.partners),
        themes => page::data(&themes),
        problem => error.map(|e| page::message(e, lang)),
        restating => page::restating(error),
        reason_id => "restatement_reason",
        problems => error.map(|e| crate::web::coordinator::planning::problems(e, lang)).unwrap_or_default(),
        ..who.visitor.context()
    };
    page::html(status, "manage_program.html", ctx)
}

#[derive(Serialize)]
struct Line {
    id: String,
    code: String,
    title: String,
    site: String,
    theme: String,
    archived: bool,
}

async fn list(state: web::Data<AppState>, who: SignedIn) -> Result<HttpResponse, PageError> {
    let caller = require_runner(&who)?;
    let lang = who.lang();
    let sites = scope(&caller);
    let (rows, names) = with_conn(&state.pool, move |c| {
        let mut rows = Vec::new();
        let filter = |site_id| programs::ListFilter {
            site_id,
            limit: 1_000,
            ..Default::default()
        };
        match &sites {
            Some(sites) => {
                for s in sites {
                    rows.extend(programs::list(c, &filter(Some(*s)))?);
                }
            }
            None => rows.extend(programs::list(c, &filter(None))?),
        }
        let ids: Vec<Id> = rows.iter().map(|p| Id::from(p.site_id)).collect();
        Ok((rows, crate::org::sites::names(c, &ids)?))
    })
    .await
    .map_err(|e| refuse(&who, e))?;
    let mut lines: Vec<Line> = rows
        .iter()
        .map(|p| Line {
            id: p.id.to_string(),
            code: p.code.clone(),
            title: p.title.clone(),
            site: names
                .iter()
                .find(|(s, _)| *s == Id::from(p.site_id))
                .map(|(_, n)| n.clone())
                .unwrap_or_default(),
            theme: lang.text(&format!("theme.{}", p.theme.as_str())),
            archived: p.status == ProgramStatus::Archived,
        })
        .collect();
    lines.sort_by(|a, b| (&a.site, a.archived, &a.title).cmp(&(&b.site, b.archived, &b.title)));
    let ctx = minijinja::context! {
        active => "programs",
        programs => page::data(&lines),
        ..who.visitor.context()
    };
    page::html(StatusCode::OK, "manage_programs.html", ctx)
}

async fn new_form(state: web::Data<AppState>, who: SignedIn) -> Result<HttpResponse, PageError> {
    let caller = require_runner(&who)?;
    let sites = scope(&caller);
    let choices = with_conn(&state.pool, move |c| choices(c, &sites))
        .await
        .map_err(|e| refuse(&who, e))?;
    let form = ProgramForm {
        site_id: choices
            .sites
            .first()
            .map(|s| s.id.clone())
            .unwrap_or_default(),
        ..ProgramForm::default()
    };
    render(&who, StatusCode::OK, &form, None, choices, None)
}

/// A refused save: the form again with what was typed and why.
async fn refused(
    state: &AppState,
    who: &SignedIn,
    form: &ProgramForm,
    id: Option<uuid::Uuid>,
    error: AppError,
) -> Result<HttpResponse, PageError> {
    let error = unseen(error);
    if !page::shown_on_form(&error) {
        return Err(who.visitor.error(error));
    }
    let sites = scope(&who.caller());
    let choices = with_conn(&state.pool, move |c| choices(c, &sites))
        .await
        .map_err(|e| refuse(who, e))?;
    render(who, error.status(), form, id, choices, Some(&error))
}

async fn create(
    state: web::Data<AppState>,
    who: SignedIn,
    form: Form<Vec<(String, String)>>,
) -> Result<HttpResponse, PageError> {
    let (csrf, form) = ProgramForm::read(&form);
    who.check_csrf(&csrf)?;
    let caller = require_runner(&who)?;
    let request = form.create();
    let done = with_conn(&state.pool, move |c| {
        programs::create_as(c, &caller, &request?)
    })
    .await;
    match done {
        Ok(p) => Ok(see_other(&format!("/manage/programs/{}?saved=1", p.id))),
        Err(e) => refused(&state, &who, &form, None, e).await,
    }
}

async fn edit_form(
    state: web::Data<AppState>,
    who: SignedIn,
    id: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, PageError> {
    let caller = require_runner(&who)?;
    let id = id.into_inner();
    let sites = scope(&caller);
    let (program, choices) = with_conn(&state.pool, move |c| {
        let p = programs::find(c, id.into())?;
        crate::programs::require_runs_site(&caller, p.site_id.into())?;
        Ok((p, choices(c, &sites)?))
    })
    .await
    .map_err(|e| refuse(&who, e))?;
    render(
        &who,
        StatusCode::OK,
        &ProgramForm::of(&program),
        Some(id),
        choices,
        None,
    )
}

async fn save(
    state: web::Data<AppState>,
    who: SignedIn,
    id: web::Path<uuid::Uuid>,
    form: Form<Vec<(String, String)>>,
) -> Result<HttpResponse, PageError> {
    let reason = field(&form, "restatement_reason").to_owned();
    let (csrf, form) = ProgramForm::read(&form);
    who.check_csrf(&csrf)?;
    let caller = require_runner(&who)?.restating(&reason);
    let id = id.into_inner();
    let patch = form.patch();
    let done = with_conn(&state.pool, move |c| {
        programs::patch_as(c, &caller, id.into(), patch?)
    })
    .await;
    match done {
        Ok(_) => Ok(see_other(&format!("/manage/programs/{id}?saved=1"))),
        Err(e) => refused(&state, &who, &form, Some(id), e).await,
    }
}
