//! The organisation's registers as administrators keep them: group companies, sites (the dated
//! registry: opened, closed, time zone) and partner organisations — a list, a new one, and
//! changing one. The form's fields are read into the API's own request types
//! (`CreateCompany`, `SitePatch`, ...) and handed to the same services (`org::companies`,
//! `org::sites`, `org::partners`), so every check is the API's.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::AppState;
use crate::auth::Caller;
use crate::db::{AnyConnection, Id};
use crate::error::{AppError, AppResult, FieldError};
use crate::http::with_conn;
use crate::org::{companies, partners, sites};
use crate::web::choices::{self, Choice};
use crate::web::form::{Form, field};
use crate::web::i18n::Lang;
use crate::web::page::{self, PageError};
use crate::web::see_other;
use crate::web::visitor::SignedIn;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/{kind}", web::get().to(list))
        .route("/admin/{kind}/new", web::get().to(new_form))
        .route("/admin/{kind}/new", web::post().to(create))
        .route("/admin/{kind}/{id}", web::get().to(edit_form))
        .route("/admin/{kind}/{id}", web::post().to(save));
}

/// Which register a page is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Companies,
    Sites,
    Partners,
}

/// How a field is typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Input {
    Text,
    Email,
    Url,
    Date,
    /// A date that may stay empty (`null`).
    OptionalDate,
    /// Text that may stay empty.
    OptionalText,
    Select,
}

struct Spec {
    name: &'static str,
    input: Input,
}

const fn spec(name: &'static str, input: Input) -> Spec {
    Spec { name, input }
}

impl Kind {
    fn parse(s: &str) -> Option<Kind> {
        match s {
            "companies" => Some(Kind::Companies),
            "sites" => Some(Kind::Sites),
            "partners" => Some(Kind::Partners),
            _ => None,
        }
    }

    fn path(self) -> &'static str {
        match self {
            Kind::Companies => "companies",
            Kind::Sites => "sites",
            Kind::Partners => "partners",
        }
    }

    fn fields(self) -> &'static [Spec] {
        const COMPANY: &[Spec] = &[
            spec("code", Input::Text),
            spec("name", Input::Text),
            spec("country", Input::Text),
        ];
        const SITE: &[Spec] = &[
            spec("code", Input::Text),
            spec("name", Input::Text),
            spec("company_id", Input::Select),
            spec("country", Input::Text),
            spec("region", Input::Select),
            spec("timezone", Input::Text),
            spec("opened_on", Input::Date),
            spec("closed_on", Input::OptionalDate),
        ];
        const PARTNER: &[Spec] = &[
            spec("name", Input::Text),
            spec("kind", Input::Select),
            spec("country", Input::OptionalText),
            spec("website", Input::Url),
            spec("contact_email", Input::Email),
        ];
        match self {
            Kind::Companies => COMPANY,
            Kind::Sites => SITE,
            Kind::Partners => PARTNER,
        }
    }

    /// The columns of the list, after the name.
    fn columns(self) -> &'static [&'static str] {
        match self {
            Kind::Companies => &["code", "country"],
            Kind::Sites => &[
                "code",
                "company_id",
                "region",
                "timezone",
                "opened_on",
                "closed_on",
            ],
            Kind::Partners => &["kind", "country", "website"],
        }
    }
}

/// The register of the path, or 404.
fn kind_of(who: &SignedIn, path: &str) -> Result<Kind, PageError> {
    Kind::parse(path).ok_or_else(|| who.visitor.error(AppError::not_found("no such page")))
}

/// A record's fields as text, by name (what the form and the list show).
type Values = BTreeMap<String, String>;

fn values_of(record: &impl Serialize) -> AppResult<Values> {
    let Value::Object(map) = serde_json::to_value(record).map_err(AppError::internal)? else {
        return Err(AppError::internal("a record is not an object"));
    };
    Ok(map
        .into_iter()
        .map(|(k, v)| {
            let text = match v {
                Value::Null => String::new(),
                Value::String(s) => s,
                other => other.to_string(),
            };
            (k, text)
        })
        .collect())
}

/// Every record of `kind`, as (id, values), in a reader's order.
fn records(c: &mut AnyConnection, kind: Kind) -> AppResult<Vec<(String, Values)>> {
    let mut out = Vec::new();
    match kind {
        Kind::Companies => {
            for co in companies::list(c, None, 10_000)? {
                out.push((co.id.to_string(), values_of(&co)?));
            }
        }
        Kind::Sites => {
            let filter = sites::ListFilter {
                limit: 10_000,
                ..Default::default()
            };
            for s in sites::list(c, &filter)? {
                out.push((s.id.to_string(), values_of(&s)?));
            }
        }
        Kind::Partners => {
            for p in partners::list(c, None, 10_000)? {
                out.push((p.id.to_string(), values_of(&p)?));
            }
        }
    }
    out.sort_by(|a, b| (&a.1.get("name"), &a.0).cmp(&(&b.1.get("name"), &b.0)));
    Ok(out)
}

/// One record's values, or 404.
fn record(c: &mut AnyConnection, kind: Kind, id: Id) -> AppResult<Values> {
    match kind {
        Kind::Companies => values_of(&companies::find(c, id)?),
        Kind::Sites => values_of(&sites::find(c, id)?),
        Kind::Partners => values_of(&partners::find(c, id)?),
    }
}

/// The form's values as the API's request body: text trimmed, an empty optional date `null`;
/// a date that is not one is named on its field here (the body's reader would only say
/// "invalid").
fn body_of(kind: Kind, form: &[(String, String)]) -> AppResult<Map<String, Value>> {
    let mut body = Map::new();
    let mut errors = Vec::new();
    for f in kind.fields() {
        let text = field(form, f.name).trim().to_owned();
        let value = match f.input {
            // `null` clears a date (the patch's "reopen"); an empty text clears a text
            // (`null` would leave it as it was).
            Input::OptionalDate if text.is_empty() => Value::Null,
            Input::Date | Input::OptionalDate => {
                if chrono::NaiveDate::parse_from_str(&text, "%Y-%m-%d").is_err() {
                    errors.push(FieldError::new(
                        f.name,
                        "invalid_date",
                        "a date such as 2026-04-01",
                    ));
                }
                Value::String(text)
            }
            _ => Value::String(text),
        };
        body.insert(f.name.to_owned(), value);
    }
    if errors.is_empty() {
        Ok(body)
    } else {
        Err(AppError::validation(errors))
    }
}

/// A body the request type does not take (a choice no list offers): 422, said plainly.
fn typed<T: serde::de::DeserializeOwned>(body: Map<String, Value>) -> AppResult<T> {
    serde_json::from_value(Value::Object(body)).map_err(|e| {
        AppError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_form",
            format!("a choice is not one of those offered: {e}"),
        )
    })
}

/// Creates the record the form describes; its id.
fn create_record(
    c: &mut AnyConnection,
    caller: &Caller,
    kind: Kind,
    body: Map<String, Value>,
) -> AppResult<uuid::Uuid> {
    Ok(match kind {
        Kind::Companies => companies::create(c, caller, typed(body)?)?.id,
        Kind::Sites => sites::create(c, caller, typed(body)?)?.id,
        Kind::Partners => partners::create(c, caller, typed(body)?)?.id,
    })
}

fn update_record(
    c: &mut AnyConnection,
    caller: &Caller,
    kind: Kind,
    id: Id,
    body: Map<String, Value>,
) -> AppResult<()> {
    match kind {
        Kind::Companies => drop(companies::update(c, caller, id, typed(body)?)?),
        Kind::Sites => drop(sites::update(c, caller, id, typed(body)?)?),
        Kind::Partners => drop(partners::update(c, caller, id, typed(body)?)?),
    }
    Ok(())
}

/// The options of a select field.
fn options(lang: Lang, name: &str, companies: &[Choice]) -> Vec<Choice> {
    let fixed = |values: &[&str], prefix: &str| {
        values
            .iter()
            .map(|v| Choice {
                value: (*v).to_owned(),
                name: lang.text(&format!("{prefix}.{v}")),
            })
            .collect()
    };
    match name {
        "company_id" => companies
            .iter()
            .map(|c| Choice {
                value: c.value.trim_start_matches("company:").to_owned(),
                name: c.name.clone(),
            })
            .collect(),
        "region" => fixed(&["domestic", "overseas"], "admin.region"),
        "kind" => fixed(
            &["npo", "ngo", "municipality", "school", "other"],
            "admin.partner_kind",
        ),
        _ => Vec::new(),
    }
}

/// A field of the form as the template draws it.
#[derive(Serialize)]
struct FieldView {
    name: &'static str,
    label: String,
    input: &'static str,
    value: String,
    required: bool,
    hint: Option<String>,
    options: Vec<Choice>,
}

fn field_views(lang: Lang, kind: Kind, values: &Values, companies: &[Choice]) -> Vec<FieldView> {
    kind.fields()
        .iter()
        .map(|f| FieldView {
            name: f.name,
            label: lang.text(&format!("admin.field.{}", f.name)),
            input: match f.input {
                Input::Date | Input::OptionalDate => "date",
                Input::Email => "email",
                Input::Url => "url",
                Input::Select => "select",
                Input::Text | Input::OptionalText => "text",
            },
            value: values.get(f.name).cloned().unwrap_or_default(),
            required: matches!(f.input, Input::Text | Input::Date | Input::Select),
            hint: lang
                .lookup(&format!("admin.hint.{}", f.name))
                .map(str::to_owned),
            options: options(lang, f.name, companies),
        })
        .collect()
}

/// The list's cells of one record: its name (linked) and the kind's columns in words.
#[derive(Serialize)]
struct Line {
    id: String,
    name: String,
    cells: Vec<String>,
}

fn cell(lang: Lang, column: &str, value: &str, companies: &[Choice]) -> String {
    match column {
        "company_id" => {
            let wanted = format!("company:{value}");
            companies
                .iter()
                .find(|c| c.value == wanted)
                .map_or_else(|| value.to_owned(), |c| c.name.clone())
        }
        "region" => lang.text(&format!("admin.region.{value}")),
        "kind" => lang.text(&format!("admin.partner_kind.{value}")),
        "opened_on" | "closed_on" => chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d")
            .map_or_else(|_| value.to_owned(), |d| lang.day(d)),
        _ => value.to_owned(),
    }
}

async fn list(
    state: web::Data<AppState>,
    who: SignedIn,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let caller = super::require_admin(&who)?;
    let kind = kind_of(&who, &path)?;
    let lang = who.lang();
    let (rows, companies) = with_conn(&state.pool, move |c| {
        crate::org::require_admin(&caller)?;
        Ok((records(c, kind)?, choices::companies(c)?))
    })
    .await
    .map_err(|e| who.visitor.error(e))?;
    let lines: Vec<Line> = rows
        .iter()
        .map(|(id, v)| Line {
            id: id.clone(),
            name: v.get("name").cloned().unwrap_or_default(),
            cells: kind
                .columns()
                .iter()
                .map(|col| {
                    cell(
                        lang,
                        col,
                        v.get(*col).map_or("", String::as_str),
                        &companies,
                    )
                })
                .collect(),
        })
        .collect();
    let headers: Vec<String> = kind
        .columns()
        .iter()
        .map(|c| lang.text(&format!("admin.field.{c}")))
        .collect();
    let ctx = minijinja::context! {
        active => "admin",
        wide => true,
        kind => kind.path(),
        heading => lang.text(&format!("admin.{}", kind.path())),
        new_label => lang.text(&format!("admin.new.{}", kind.path())),
        headers,
        lines => page::data(&lines),
        ..who.visitor.context()
    };
    page::html(StatusCode::OK, "admin_registry.html", ctx)
}

/// What the record page shows besides the fields.
struct Shown {
    id: Option<String>,
    saved: bool,
    error: Option<AppError>,
}

fn render(
    who: &SignedIn,
    kind: Kind,
    values: &Values,
    companies: &[Choice],
    shown: Shown,
) -> Result<HttpResponse, PageError> {
    let lang = who.lang();
    let error = shown.error.as_ref();
    let title = match &shown.id {
        Some(_) => values.get("name").cloned().unwrap_or_default(),
        None => lang.text(&format!("admin.new.{}", kind.path())),
    };
    let ctx = minijinja::context! {
        active => "admin",
        kind => kind.path(),
        list_label => lang.text(&format!("admin.{}", kind.path())),
        title,
        id => shown.id,
        fields => page::data(field_views(lang, kind, values, companies)),
        saved => shown.saved,
        problem => error.map(|e| page::message(e, lang)),
        problems => error.map(|e| page::field_problems(e, lang, "admin.problem")).unwrap_or_default(),
        restating => page::restating(error),
        reason_id => "restatement_reason",
        ..who.visitor.context()
    };
    let status = error.map_or(StatusCode::OK, AppError::status);
    page::html(status, "admin_record.html", ctx)
}

#[derive(serde::Deserialize)]
struct Saved {
    saved: Option<String>,
}

async fn companies_of(state: &AppState, who: &SignedIn) -> Result<Vec<Choice>, PageError> {
    with_conn(&state.pool, choices::companies)
        .await
        .map_err(|e| who.visitor.error(e))
}

async fn new_form(
    state: web::Data<AppState>,
    who: SignedIn,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    super::require_admin(&who)?;
    let kind = kind_of(&who, &path)?;
    let companies = companies_of(&state, &who).await?;
    let mut values = Values::new();
    if kind == Kind::Sites {
        values.insert("timezone".into(), "Asia/Tokyo".into());
        values.insert("region".into(), "domestic".into());
        values.insert("country".into(), "JP".into());
    }
    let shown = Shown {
        id: None,
        saved: false,
        error: None,
    };
    render(&who, kind, &values, &companies, shown)
}

async fn create(
    state: web::Data<AppState>,
    who: SignedIn,
    path: web::Path<String>,
    form: Form<Vec<(String, String)>>,
) -> Result<HttpResponse, PageError> {
    who.check_csrf(field(&form, "csrf"))?;
    let caller = super::require_admin(&who)?.restating(field(&form, "restatement_reason"));
    let kind = kind_of(&who, &path)?;
    let read = body_of(kind, &form);
    let typed_values = typed_back(kind, &form);
    let done = match read {
        Ok(body) => with_conn(&state.pool, move |c| create_record(c, &caller, kind, body)).await,
        Err(e) => Err(e),
    };
    match done {
        Ok(id) => Ok(see_other(&format!("/admin/{}/{id}?saved=1", kind.path()))),
        Err(e) if page::shown_on_form(&e) => {
            let companies = companies_of(&state, &who).await?;
            let shown = Shown {
                id: None,
                saved: false,
                error: Some(e),
            };
            render(&who, kind, &typed_values, &companies, shown)
        }
        Err(e) => Err(who.visitor.error(e)),
    }
}

/// The form's values as typed, for showing it again.
fn typed_back(kind: Kind, form: &[(String, String)]) -> Values {
    kind.fields()
        .iter()
        .map(|f| (f.name.to_owned(), field(form, f.name).trim().to_owned()))
        .collect()
}

async fn edit_form(
    state: web::Data<AppState>,
    who: SignedIn,
    path: web::Path<(String, uuid::Uuid)>,
    saved: web::Query<Saved>,
) -> Result<HttpResponse, PageError> {
    let caller = super::require_admin(&who)?;
    let (kind, id) = path.into_inner();
    let kind = kind_of(&who, &kind)?;
    let (values, companies) = with_conn(&state.pool, move |c| {
        crate::org::require_admin(&caller)?;
        Ok((record(c, kind, id.into())?, choices::companies(c)?))
    })
    .await
    .map_err(|e| who.visitor.error(e))?;
    let shown = Shown {
        id: Some(id.to_string()),
        saved: saved.saved.is_some(),
        error: None,
    };
    render(&who, kind, &values, &companies, shown)
}

async fn save(
    state: web::Data<AppState>,
    who: SignedIn,
    path: web::Path<(String, uuid::Uuid)>,
    form: Form<Vec<(String, String)>>,
) -> Result<HttpResponse, PageError> {
    who.check_csrf(field(&form, "csrf"))?;
    let caller = super::require_admin(&who)?.restating(field(&form, "restatement_reason"));
    let (kind, id) = path.into_inner();
    let kind = kind_of(&who, &kind)?;
    let read = body_of(kind, &form);
    let typed_values = typed_back(kind, &form);
    let done = match read {
        Ok(body) => {
            with_conn(&state.pool, move |c| {
                update_record(c, &caller, kind, id.into(), body)
            })
            .await
        }
        Err(e) => Err(e),
    };
    match done {
        Ok(()) => Ok(see_other(&format!("/admin/{}/{id}?saved=1", kind.path()))),
        Err(e) if page::shown_on_form(&e) => {
            let companies = companies_of(&state, &who).await?;
            let shown = Shown {
                id: Some(id.to_string()),
                saved: false,
                error: Some(e),
            };
            render(&who, kind, &typed_values, &companies, shown)
        }
        Err(e) => Err(who.visitor.error(e)),
    }
}
