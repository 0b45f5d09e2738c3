//! The reader's profile: the name others see and the language of pages and mails. The same
//! service as `PATCH /api/v1/users/{own id}` (which lets everyone change exactly these two).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use crate::AppState;
use crate::error::AppError;
use crate::http::with_conn;
use crate::people::changes::{self, UserPatch};
use crate::people::users;
use crate::web::form::Form;
use crate::web::i18n::Lang;
use crate::web::page::{self, PageError};
use crate::web::see_other;
use crate::web::visitor::{self, SignedIn};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/my/profile")
            .route(web::get().to(show))
            .route(web::post().to(save)),
    );
}

#[derive(Deserialize)]
struct Saved {
    saved: Option<String>,
}

fn render(
    who: &SignedIn,
    status: StatusCode,
    user: &users::User,
    name: &str,
    locale: &str,
    saved: bool,
    problems: Vec<(String, String)>,
) -> Result<HttpResponse, PageError> {
    let ctx = minijinja::context! {
        active => "profile",
        email => user.email.clone(),
        employee_number => user.employee_number.clone(),
        name => name,
        locale => locale,
        saved => saved,
        problems => problems.iter().map(|(f, m)| minijinja::context! { field => f, message => m }).collect::<Vec<_>>(),
        ..who.visitor.context()
    };
    page::html(status, "my_profile.html", ctx)
}

async fn me(state: &AppState, who: &SignedIn) -> Result<users::User, PageError> {
    let caller = who.caller();
    with_conn(&state.pool, move |c| users::me(c, &caller))
        .await
        .map_err(|e| who.visitor.error(e))
}

async fn show(
    state: web::Data<AppState>,
    who: SignedIn,
    q: web::Query<Saved>,
) -> Result<HttpResponse, PageError> {
    let user = me(&state, &who).await?;
    let (name, locale) = (user.display_name.clone(), user.locale.clone());
    render(
        &who,
        StatusCode::OK,
        &user,
        &name,
        &locale,
        q.saved.is_some(),
        Vec::new(),
    )
}

#[derive(Deserialize)]
struct ProfileForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    locale: String,
}

/// Saves both fields; the pages then speak the chosen language (the switch's cookie follows).
async fn save(
    state: web::Data<AppState>,
    req: HttpRequest,
    who: SignedIn,
    form: Form<ProfileForm>,
) -> Result<HttpResponse, PageError> {
    who.check_csrf(&form.csrf)?;
    let ProfileForm {
        display_name,
        locale,
        ..
    } = form.into_inner();
    let caller = who.caller();
    let patch = UserPatch {
        display_name: Some(display_name.clone()),
        locale: Some(locale.clone()),
        ..UserPatch::default()
    };
    let done = with_conn(&state.pool, move |c| {
        let id = caller.id;
        changes::update(c, &caller, id, patch, None)
    })
    .await;
    match done {
        Ok(user) => {
            let mut res = see_other("/my/profile?saved=1");
            if let Some(lang) = Lang::parse(&user.locale) {
                let secure = visitor::secure(&req, &state);
                res.add_cookie(&visitor::lang_cookie(lang, secure))
                    .map_err(|e| who.visitor.error(AppError::internal(e)))?;
            }
            Ok(res)
        }
        Err(e) if e.status() == StatusCode::UNPROCESSABLE_ENTITY => {
            let lang = who.lang();
            let problems = e
                .field_errors()
                .iter()
                .map(|f| {
                    let key = format!("profile.{}_{}", f.field, f.code);
                    let text = lang
                        .lookup(&key)
                        .map_or_else(|| f.message.clone(), str::to_owned);
                    (f.field.clone(), text)
                })
                .collect();
            let user = me(&state, &who).await?;
            render(
                &who,
                e.status(),
                &user,
                &display_name,
                &locale,
                false,
                problems,
            )
        }
        Err(e) => Err(who.visitor.error(e)),
    }
}
