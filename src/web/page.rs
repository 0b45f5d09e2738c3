//! Rendering: the templates (embedded in the binary), the `t()` function that looks a text up
//! in the reader's language, and the one error type of the pages, which answers with an HTML
//! page in the reader's language (or a redirect to sign-in) where the API answers problem+json.

use std::sync::LazyLock;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, ContentType};
use actix_web::{HttpResponse, ResponseError};
use minijinja::value::{Kwargs, Value};
use minijinja::{Environment, State};

use crate::error::AppError;
use crate::web::i18n::Lang;

/// A template of `web/templates/`, by file name.
macro_rules! template {
    ($name:literal) => {
        ($name, include_str!(concat!("../../web/templates/", $name)))
    };
}

/// Every template, by name. Compiled in: a page can never miss its template at run time.
pub const TEMPLATES: &[(&str, &str)] = &[
    template!("base.html"),
    template!("error.html"),
    template!("sign_in.html"),
    template!("events.html"),
    template!("event_items.html"),
    template!("event.html"),
    template!("my_signups.html"),
    template!("check_in.html"),
    template!("set_password.html"),
    template!("forgot_password.html"),
    template!("my_hours.html"),
    template!("my_calendar.html"),
    template!("my_profile.html"),
    template!("forms.html"),
    template!("manage_home.html"),
    template!("manage_events.html"),
    template!("manage_event_card.html"),
    template!("manage_event.html"),
    template!("manage_cancel.html"),
    template!("manage_roster.html"),
    template!("manage_mark_row.html"),
    template!("manage_check_in.html"),
    template!("manage_arrivals.html"),
    template!("manage_approvals.html"),
    template!("manage_record.html"),
    template!("manage_programs.html"),
    template!("manage_program.html"),
    template!("stats.html"),
    template!("stats_breakdown.html"),
    template!("stats_objectives.html"),
    template!("report_section.html"),
    template!("report_section_measures.html"),
    template!("reviews.html"),
    template!("awards.html"),
    template!("hr_expenses.html"),
    template!("stats_report_objectives.html"),
    template!("report_objective_item.html"),
    template!("review_form.html"),
    template!("quality.html"),
    template!("admin.html"),
    template!("admin_registry.html"),
    template!("admin_record.html"),
    template!("admin_outbox.html"),
    template!("admin_audit.html"),
    template!("hr_imports.html"),
    template!("hr_import_job.html"),
    template!("hr_people.html"),
    template!("hr_years.html"),
    template!("restatement_field.html"),
    template!("hr_exports.html"),
    template!("hr_person.html"),
];

static ENV: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    // `.html` templates escape every value (minijinja's default for the extension).
    for (name, source) in TEMPLATES {
        if let Err(e) = env.add_template(name, source) {
            // Covered by a test that renders every page; a broken template is a bug.
            tracing::error!(template = name, error = %e, "page template does not compile");
        }
    }
    env.add_function("t", translate);
    env
});

/// `t("key", name=value, ...)`: the text of `key` in the page's language with `{name}` filled.
fn translate(state: &State, key: String, kwargs: Kwargs) -> Result<String, minijinja::Error> {
    let lang = state
        .lookup("lang")
        .and_then(|v| v.as_str().and_then(Lang::parse))
        .unwrap_or(Lang::En);
    let mut text = lang.text(&key);
    for name in kwargs.args() {
        let value: Value = kwargs.get(name)?;
        text = text.replace(&format!("{{{name}}}"), &value.to_string());
    }
    kwargs.assert_all_used()?;
    Ok(text)
}

/// `key`'s text with `{name}` placeholders filled, for texts built in Rust.
pub fn fill(lang: Lang, key: &str, values: &[(&str, &str)]) -> String {
    let mut text = lang.text(key);
    for (name, value) in values {
        text = text.replace(&format!("{{{name}}}"), value);
    }
    text
}

/// A serializable value for a template's context.
pub fn data<T: serde::Serialize>(value: T) -> Value {
    Value::from(minijinja::value::Serde(value))
}

/// Renders `template` with `ctx` as an HTML response of `status`.
pub fn html(status: StatusCode, template: &str, ctx: Value) -> Result<HttpResponse, PageError> {
    let body = ENV
        .get_template(template)
        .and_then(|t| t.render(ctx))
        .map_err(|e| {
            tracing::error!(template, error = %e, "page template failed");
            PageError::from(AppError::internal(e))
        })?;
    Ok(HttpResponse::build(status)
        .insert_header(ContentType::html())
        // Pages show personal data: no shared cache may keep them.
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body))
}

/// `res` with the headers `error` asks for (`Retry-After` of a limit), for a page that shows
/// a refusal itself.
pub fn with_headers_of(mut res: HttpResponse, error: &AppError) -> HttpResponse {
    for (name, value) in error.headers() {
        res.headers_mut().insert(name.clone(), value.clone());
    }
    res
}

/// What a page handler may fail with.
#[derive(Debug)]
pub enum PageError {
    /// Not signed in (or the session ended): to the sign-in page, then back to `next`.
    SignIn { next: String },
    /// Anything else, shown as an error page in `lang`.
    App { error: AppError, lang: Lang },
}

impl PageError {
    pub fn in_lang(error: AppError, lang: Lang) -> PageError {
        PageError::App { error, lang }
    }
}

impl From<AppError> for PageError {
    fn from(error: AppError) -> Self {
        PageError::App {
            error,
            lang: Lang::En,
        }
    }
}

impl std::fmt::Display for PageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PageError::SignIn { .. } => f.write_str("sign-in required"),
            // The error's own text, cause included: this is what the request log shows.
            PageError::App { error, .. } => write!(f, "{error}"),
        }
    }
}

/// The reader's words for an error: the catalogue's text for its code, else the service's own
/// detail (English) for a client error, else a generic line (a server error's detail is not for
/// the reader).
pub fn message(error: &AppError, lang: Lang) -> String {
    if let Some(text) = lang.lookup(&format!("problem.{}", error.code())) {
        return text.to_owned();
    }
    if error.status().is_client_error() {
        error.detail().to_owned()
    } else {
        lang.text("error.title")
    }
}

/// Whether a refusal is shown on the page that was sent (a client error the reader can act on)
/// rather than as an error page (404: nothing to show the form on; a server error).
pub fn shown_on_form(error: &AppError) -> bool {
    error.status().is_client_error() && error.status() != StatusCode::NOT_FOUND
}

/// Whether a refusal asks for a restatement reason: the form then shows its reason field
/// (`restatement_field.html`).
pub fn restating(error: Option<&AppError>) -> bool {
    error.is_some_and(|e| e.code() == "restatement_reason_required")
}

/// A field's problem in the reader's words: the catalogue's `field.{code}`, else the service's.
pub fn field_text(field: &crate::error::FieldError, lang: Lang) -> String {
    lang.lookup(&format!("field.{}", field.code))
        .map_or_else(|| field.message.clone(), str::to_owned)
}

/// Keyset paging of a list read with one row more than a page: cuts `rows` to `page` and
/// gives the address of the next page (`link` of the last row shown) when there is one.
pub fn next_page<T>(rows: &mut Vec<T>, page: i64, link: impl Fn(&T) -> String) -> Option<String> {
    let page = usize::try_from(page).unwrap_or(0);
    let more = rows.len() > page;
    rows.truncate(page);
    more.then(|| rows.last().map(link)).flatten()
}

/// A refusal's fields in the reader's words, for a form whose own texts are `{prefix}.{field}.
/// {code}` ("1 to 64 characters" says more for an employee number than the service's generic
/// code does), else the catalogue's `field.{code}`, else the service's.
pub fn field_problems(error: &AppError, lang: Lang, prefix: &str) -> Vec<Value> {
    error
        .field_errors()
        .iter()
        .map(|f| {
            let message = lang
                .lookup(&format!("{prefix}.{}.{}", f.field, f.code))
                .map_or_else(|| field_text(f, lang), str::to_owned);
            minijinja::context! { field => f.field.clone(), message }
        })
        .collect()
}

/// A refusal shown beside a form: its first field's problem, else the error's message.
pub fn reason(error: &AppError, lang: Lang) -> String {
    error
        .field_errors()
        .first()
        .map_or_else(|| message(error, lang), |f| field_text(f, lang))
}

impl ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        match self {
            PageError::SignIn { .. } => StatusCode::SEE_OTHER,
            PageError::App { error, .. } => error.status(),
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            PageError::SignIn { next } => {
                let target = format!("/sign-in?next={}", crate::web::encode(next));
                HttpResponse::SeeOther()
                    .insert_header((header::LOCATION, target))
                    .finish()
            }
            PageError::App { error, lang } => {
                // Logged once per request, with its cause, by `http::log::RedactedRootSpan`.
                let ctx = minijinja::context! {
                    lang => lang.code(),
                    other_lang => other(*lang).code(),
                    lang_switch => format!("/lang/{}?next=%2Fevents", other(*lang).code()),
                    message => message(error, *lang),
                    status => error.status().as_u16(),
                };
                let mut res = html(error.status(), "error.html", ctx).unwrap_or_else(|_| {
                    HttpResponse::build(error.status())
                        .content_type("text/plain; charset=utf-8")
                        .body(error.detail().to_owned())
                });
                for (name, value) in error.headers() {
                    res.headers_mut().insert(name.clone(), value.clone());
                }
                res
            }
        }
    }
}

/// The 404 page for an address no route knows, in the reader's language (no session lookup:
/// an unknown address says nothing about who asks).
pub fn not_found(req: &actix_web::HttpRequest) -> PageError {
    let lang = crate::web::visitor::request_lang(req);
    PageError::in_lang(
        AppError::new(StatusCode::NOT_FOUND, "not_found", "no such page"),
        lang,
    )
}

/// The language the switch offers.
pub fn other(lang: Lang) -> Lang {
    match lang {
        Lang::En => Lang::Ja,
        Lang::Ja => Lang::En,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `t("...")` key in every template is in the catalogue.
    #[test]
    fn every_template_key_is_in_the_catalogue() {
        for (name, source) in TEMPLATES {
            for piece in source.split("t(\"").skip(1) {
                let key = piece.split('"').next().unwrap_or_default();
                assert!(
                    Lang::En.lookup(key).is_some(),
                    "{name} uses {key:?}, which the catalogue lacks"
                );
            }
        }
    }

    /// The pages without a signed-in user render (filters and functions all exist).
    #[test]
    fn anonymous_pages_render() {
        for lang in [Lang::En, Lang::Ja] {
            let ctx = minijinja::context! {
                lang => lang.code(), other_lang => other(lang).code(), here => "/",
                lang_switch => "/lang/ja?next=%2F", next => "/events", email => "",
                message => "m", status => 404,
            };
            for name in ["sign_in.html", "error.html"] {
                let page = ENV.get_template(name).and_then(|t| t.render(ctx.clone()));
                assert!(page.is_ok(), "{name}: {page:?}");
            }
        }
    }

    #[test]
    fn every_template_compiles() {
        for (name, _) in TEMPLATES {
            assert!(ENV.get_template(name).is_ok(), "{name} does not compile");
        }
    }
}
