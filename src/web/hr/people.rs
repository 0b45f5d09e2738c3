//! People as HR and administrators keep them: find (text, site, role, active), create, change
//! (name, email, number, home site, role, language, coordinated sites), deactivate and activate,
//! invite and invite again. Every read and write is the API's service (`people::users`,
//! `people::changes`) with the same `Caller`, so the same rules hold: HR grants only the employee
//! and coordinator roles and changes no admin's or other HR account, the last active
//! administrator stays, deactivation ends the person's sign-ins, every access change is audited.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use tracing_actix_web::RequestId;

use crate::AppState;
use crate::auth::{Caller, Role};
use crate::db::{AnyConnection, Id};
use crate::error::{AppError, AppResult, FieldError};
use crate::http::with_conn;
use crate::people::changes::{self, CreateUser, UserPatch};
use crate::people::users::{self, ListFilter, User};
use crate::web::choices::{self, SiteChoice};
use crate::web::form::{Form, field};
use crate::web::i18n::Lang;
use crate::web::page::{self, PageError};
use crate::web::see_other;
use crate::web::visitor::SignedIn;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/hr/people", web::get().to(list))
        .route("/hr/people/new", web::get().to(new_form))
        .route("/hr/people/new", web::post().to(create))
        .route("/hr/people/{id}", web::get().to(edit_form))
        .route("/hr/people/{id}", web::post().to(save))
        .route("/hr/people/{id}/invite", web::post().to(invite))
        .route("/hr/people/{id}/active", web::post().to(set_active))
        .route("/hr/people/{id}/anonymise", web::post().to(anonymise));
}

/// People shown per page of the list.
const PAGE: i64 = 50;

/// Every site, open or closed (a person may still belong to a closed one), by name.
fn site_choices(c: &mut AnyConnection) -> AppResult<Vec<SiteChoice>> {
    choices::site_list(c, None)
}

fn role_name(lang: Lang, role: Role) -> String {
    lang.text(&format!("role.{}", role.as_str()))
}

#[derive(Serialize)]
struct Choice {
    value: String,
    name: String,
}

/// The list's filters, as text: a value no choice has is a message on the page, not a 400.
#[derive(Debug, Default, Deserialize)]
struct ListQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    site: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    active: String,
    #[serde(default)]
    after: String,
}

impl ListQuery {
    fn filter(&self) -> AppResult<ListFilter> {
        let bad = |what: &str| {
            AppError::bad_request("invalid_query", format!("the {what} is not a known choice"))
        };
        let id = |text: &str, what: &str| -> AppResult<Option<Id>> {
            match text.trim() {
                "" => Ok(None),
                t => t
                    .parse::<uuid::Uuid>()
                    .map(|u| Some(Id::from(u)))
                    .map_err(|_| bad(what)),
            }
        };
        Ok(ListFilter {
            site_id: id(&self.site, "site")?,
            role: match self.role.trim() {
                "" => None,
                r => Some(r.parse::<Role>().map_err(|_| bad("role"))?),
            },
            active: match self.active.trim() {
                "" => None,
                "yes" => Some(true),
                "no" => Some(false),
                _ => return Err(bad("status")),
            },
            text: Some(self.q.trim().to_owned()).filter(|t| !t.is_empty()),
            after: id(&self.after, "page")?,
            limit: PAGE,
            ..ListFilter::default()
        })
    }

    /// The filters again (without the page), for the "next page" link.
    fn encoded(&self) -> String {
        format!(
            "q={}&site={}&role={}&active={}",
            crate::web::encode(self.q.trim()),
            crate::web::encode(self.site.trim()),
            crate::web::encode(self.role.trim()),
            crate::web::encode(self.active.trim()),
        )
    }
}

/// A person as a line of the list.
#[derive(Serialize)]
struct Line {
    id: String,
    name: String,
    employee_number: String,
    email: String,
    site: String,
    role: String,
    active: bool,
}

async fn list(
    state: web::Data<AppState>,
    who: SignedIn,
    req: HttpRequest,
) -> Result<HttpResponse, PageError> {
    let caller = super::require_hr(&who)?;
    let lang = who.lang();
    // Read by hand so that a mangled address is a message on the page, as a bad choice is.
    let (q, filter) = match serde_urlencoded::from_str::<ListQuery>(req.query_string()) {
        Ok(q) => {
            let filter = q.filter();
            (q, filter)
        }
        Err(_) => (
            ListQuery::default(),
            Err(AppError::bad_request(
                "invalid_query",
                "the filters in the address cannot be read",
            )),
        ),
    };
    let asked = filter.is_ok();
    let (found, sites) = with_conn(&state.pool, move |c| {
        let found = match filter {
            Ok(f) => Ok(users::list_visible(c, &caller, &f)?),
            Err(e) => Err(e),
        };
        Ok((found, site_choices(c)?))
    })
    .await
    .map_err(|e| who.visitor.error(e))?;
    let site_name = |id: Option<uuid::Uuid>| {
        id.and_then(|id| {
            let id = id.to_string();
            sites.iter().find(|s| s.id == id).map(|s| s.name.clone())
        })
        .unwrap_or_default()
    };
    let (status, problem, mut people) = match found {
        Ok(people) => (StatusCode::OK, None, people),
        Err(e) => (e.status(), Some(page::message(&e, lang)), Vec::new()),
    };
    let next = page::next_page(&mut people, PAGE, |u| {
        format!("?{}&after={}", q.encoded(), u.id)
    });
    let lines: Vec<Line> = people
        .iter()
        .map(|u| Line {
            id: u.id.to_string(),
            name: u.display_name.clone(),
            employee_number: u.employee_number.clone(),
            email: u.email.clone(),
            site: site_name(u.site_id),
            role: role_name(lang, u.role),
            active: u.active,
        })
        .collect();
    let roles: Vec<Choice> = Role::ALL
        .into_iter()
        .map(|r| Choice {
            value: r.as_str().to_owned(),
            name: role_name(lang, r),
        })
        .collect();
    let ctx = minijinja::context! {
        active => "people",
        wide => true,
        q => q.q.trim(),
        site => q.site.trim(),
        role => q.role.trim(),
        status => q.active.trim(),
        sites => page::data(&sites),
        roles => page::data(&roles),
        people => page::data(&lines),
        asked,
        paged => !q.after.trim().is_empty(),
        first => format!("?{}", q.encoded()),
        next,
        problem,
        ..who.visitor.context()
    };
    page::html(status, "hr_people.html", ctx)
}

/// The person form's fields, as typed.
#[derive(Debug, Default, Serialize)]
struct PersonForm {
    display_name: String,
    email: String,
    employee_number: String,
    site_id: String,
    role: String,
    locale: String,
    /// Site codes, separated by commas or spaces.
    coordinated_site_ids: String,
    invite: bool,
}

impl PersonForm {
    fn read(pairs: &[(String, String)]) -> (String, PersonForm) {
        let get = |name: &str| field(pairs, name).trim().to_owned();
        let form = PersonForm {
            display_name: get("display_name"),
            email: get("email"),
            employee_number: get("employee_number"),
            site_id: get("site_id"),
            role: get("role"),
            locale: get("locale"),
            coordinated_site_ids: get("coordinated_site_ids"),
            invite: !get("invite").is_empty(),
        };
        (get("csrf"), form)
    }

    fn of(u: &User, codes: &[String]) -> PersonForm {
        PersonForm {
            display_name: u.display_name.clone(),
            email: u.email.clone(),
            employee_number: u.employee_number.clone(),
            site_id: u.site_id.map(|s| s.to_string()).unwrap_or_default(),
            role: u.role.as_str().to_owned(),
            locale: u.locale.clone(),
            coordinated_site_ids: codes.join(", "),
            invite: false,
        }
    }

    fn role(&self) -> AppResult<Role> {
        self.role.parse().map_err(|_| {
            AppError::validation(vec![FieldError::new(
                "role",
                "invalid_value",
                "choose a role",
            )])
        })
    }

    fn site(&self) -> AppResult<Option<uuid::Uuid>> {
        match self.site_id.as_str() {
            "" => Ok(None),
            s => s.parse().map(Some).map_err(|_| {
                AppError::validation(vec![FieldError::new(
                    "site_id",
                    "unknown_site",
                    "no such site",
                )])
            }),
        }
    }

    /// The coordinated sites' ids from their codes; every unknown code is named (in the
    /// reader's words: this refusal is the page's own).
    fn coordinated(&self, lang: Lang, sites: &[SiteChoice]) -> AppResult<Vec<uuid::Uuid>> {
        let mut ids = Vec::new();
        let mut unknown = Vec::new();
        for code in self
            .coordinated_site_ids
            .split(|c: char| c == ',' || c == '、' || c.is_whitespace())
            .filter(|c| !c.is_empty())
        {
            match sites.iter().find(|s| s.code.eq_ignore_ascii_case(code)) {
                Some(s) => ids.push(s.id.parse().map_err(AppError::internal)?),
                None => unknown.push(code.to_owned()),
            }
        }
        if unknown.is_empty() {
            Ok(ids)
        } else {
            Err(AppError::validation(vec![FieldError::new(
                "coordinated_site_ids",
                "unknown_site_codes",
                page::fill(
                    lang,
                    "people.unknown_codes",
                    &[("codes", &unknown.join(", "))],
                ),
            )]))
        }
    }

    fn create(&self, lang: Lang, sites: &[SiteChoice]) -> AppResult<CreateUser> {
        Ok(CreateUser {
            employee_number: self.employee_number.clone(),
            email: self.email.clone(),
            display_name: self.display_name.clone(),
            site_id: self.site()?,
            role: Some(self.role()?),
            locale: Some(self.locale.clone()),
            password: None,
            coordinated_site_ids: self.coordinated(lang, sites)?,
        })
    }

    /// What changed against `before`: only those fields, so HR saving its own account without
    /// touching its role is not "changing its own role".
    fn patch(&self, lang: Lang, before: &User, sites: &[SiteChoice]) -> AppResult<UserPatch> {
        let changed = |new: &str, old: &str| (new != old).then(|| new.to_owned());
        let role = self.role()?;
        let site = self.site()?;
        let mut coordinated = self.coordinated(lang, sites)?;
        coordinated.sort();
        coordinated.dedup();
        let mut before_sites = before.coordinated_site_ids.clone();
        before_sites.sort();
        Ok(UserPatch {
            email: changed(&self.email, &before.email),
            display_name: changed(&self.display_name, &before.display_name),
            employee_number: changed(&self.employee_number, &before.employee_number),
            site_id: (site != before.site_id).then_some(site),
            role: (role != before.role).then_some(role),
            active: None,
            locale: changed(&self.locale, &before.locale),
            coordinated_site_ids: (coordinated != before_sites).then_some(coordinated),
        })
    }
}

/// What the person page shows besides the form.
#[derive(Default)]
struct Shown {
    /// `None` for a new person.
    user: Option<User>,
    notice: Option<String>,
}

fn render(
    who: &SignedIn,
    caller: &Caller,
    status: StatusCode,
    form: &PersonForm,
    sites: &[SiteChoice],
    shown: Shown,
    error: Option<&AppError>,
) -> Result<HttpResponse, PageError> {
    let lang = who.lang();
    let mut roles: Vec<Choice> = changes::grantable_roles(caller)
        .into_iter()
        .map(|r| Choice {
            value: r.as_str().to_owned(),
            name: role_name(lang, r),
        })
        .collect();
    // The account's own role stays on show even when the reader may not grant it (the page
    // is then read-only).
    if let Ok(role) = form.role.parse::<Role>()
        && !roles.iter().any(|r| r.value == role.as_str())
    {
        roles.push(Choice {
            value: role.as_str().to_owned(),
            name: role_name(lang, role),
        });
    }
    let user = shown.user.as_ref();
    let may_manage = user.is_none_or(|u| changes::may_manage(caller, u));
    let ctx = minijinja::context! {
        active => "people",
        id => user.map(|u| u.id.to_string()),
        f => page::data(form),
        sites => page::data(sites),
        roles => page::data(&roles),
        may_manage,
        is_self => user.is_some_and(|u| Id::from(u.id) == caller.id),
        user_active => user.is_none_or(|u| u.active),
        anonymised => user.and_then(|u| u.anonymised_at).map(|t| lang.when(t, "UTC")),
        created => user.map(|u| lang.when(u.created_at, "UTC")),
        updated => user.map(|u| lang.when(u.updated_at, "UTC")),
        notice => shown.notice,
        problem => error.map(|e| page::message(e, lang)),
        problems => error.map(|e| page::field_problems(e, lang, "people.problem")).unwrap_or_default(),
        ..who.visitor.context()
    };
    page::html(status, "hr_person.html", ctx)
}

/// The codes of `ids` among `sites`, in the list's order.
fn codes_of(sites: &[SiteChoice], ids: &[uuid::Uuid]) -> Vec<String> {
    let ids: Vec<String> = ids.iter().map(ToString::to_string).collect();
    sites
        .iter()
        .filter(|s| ids.contains(&s.id))
        .map(|s| s.code.clone())
        .collect()
}

async fn new_form(state: web::Data<AppState>, who: SignedIn) -> Result<HttpResponse, PageError> {
    let caller = super::require_hr(&who)?;
    let sites = with_conn(&state.pool, site_choices)
        .await
        .map_err(|e| who.visitor.error(e))?;
    let form = PersonForm {
        role: Role::Employee.as_str().to_owned(),
        locale: who.lang().code().to_owned(),
        invite: true,
        ..PersonForm::default()
    };
    render(
        &who,
        &caller,
        StatusCode::OK,
        &form,
        &sites,
        Shown::default(),
        None,
    )
}

/// A refused save: the form again, with what was typed and why (or the error page when there
/// is no form to show it on).
fn refused(
    who: &SignedIn,
    caller: &Caller,
    form: &PersonForm,
    sites: &[SiteChoice],
    user: Option<User>,
    error: AppError,
) -> Result<HttpResponse, PageError> {
    if !page::shown_on_form(&error) {
        return Err(who.visitor.error(error));
    }
    let shown = Shown { user, notice: None };
    render(
        who,
        caller,
        error.status(),
        form,
        sites,
        shown,
        Some(&error),
    )
}

async fn create(
    state: web::Data<AppState>,
    who: SignedIn,
    request_id: RequestId,
    form: Form<Vec<(String, String)>>,
) -> Result<HttpResponse, PageError> {
    let (csrf, form) = PersonForm::read(&form);
    who.check_csrf(&csrf)?;
    let caller = super::require_hr(&who)?;
    let sites = with_conn(&state.pool, site_choices)
        .await
        .map_err(|e| who.visitor.error(e))?;
    let request = match form.create(who.lang(), &sites) {
        Ok(r) => r,
        Err(e) => return refused(&who, &caller, &form, &sites, None, e),
    };
    let invite = form.invite;
    let ttl = chrono::Duration::hours(i64::from(state.settings.auth.invitation_ttl_hours));
    let request_id = request_id.to_string();
    let creator = caller.clone();
    let done = with_conn(&state.pool, move |c| {
        let user = changes::create(c, &creator, request, Some(request_id.clone()))?;
        if invite {
            changes::invite(c, &creator, user.id.into(), ttl, Some(request_id))?;
        }
        Ok(user)
    })
    .await;
    match done {
        Ok(user) => Ok(see_other(&format!(
            "/hr/people/{}?done={}",
            user.id,
            if invite { "invited" } else { "created" }
        ))),
        Err(e) => refused(&who, &caller, &form, &sites, None, e),
    }
}

#[derive(Deserialize)]
struct Done {
    done: Option<String>,
}

/// The line a finished action leaves on the person's page.
fn done_notice(lang: Lang, done: Option<&str>) -> Option<String> {
    let key = match done? {
        "created" => "people.done_created",
        "invited" => "people.done_invited",
        "saved" => "people.done_saved",
        "deactivated" => "people.done_deactivated",
        "activated" => "people.done_activated",
        "anonymised" => "people.done_anonymised",
        _ => return None,
    };
    Some(lang.text(key))
}

/// The person (if the reader may see them: 404 otherwise) and the sites.
async fn load(
    state: &AppState,
    who: &SignedIn,
    caller: &Caller,
    id: Id,
) -> Result<(User, Vec<SiteChoice>), PageError> {
    let caller = caller.clone();
    with_conn(&state.pool, move |c| {
        Ok((users::get_visible(c, &caller, id)?, site_choices(c)?))
    })
    .await
    .map_err(|e| who.visitor.error(e))
}

async fn edit_form(
    state: web::Data<AppState>,
    who: SignedIn,
    id: web::Path<uuid::Uuid>,
    done: web::Query<Done>,
) -> Result<HttpResponse, PageError> {
    let caller = super::require_hr(&who)?;
    let (user, sites) = load(&state, &who, &caller, id.into_inner().into()).await?;
    let form = PersonForm::of(&user, &codes_of(&sites, &user.coordinated_site_ids));
    let shown = Shown {
        notice: done_notice(who.lang(), done.done.as_deref()),
        user: Some(user),
    };
    render(&who, &caller, StatusCode::OK, &form, &sites, shown, None)
}

async fn save(
    state: web::Data<AppState>,
    who: SignedIn,
    request_id: RequestId,
    id: web::Path<uuid::Uuid>,
    form: Form<Vec<(String, String)>>,
) -> Result<HttpResponse, PageError> {
    let (csrf, form) = PersonForm::read(&form);
    who.check_csrf(&csrf)?;
    let caller = super::require_hr(&who)?;
    let id = Id::from(id.into_inner());
    let (before, sites) = load(&state, &who, &caller, id).await?;
    let patch = match form.patch(who.lang(), &before, &sites) {
        Ok(p) => p,
        Err(e) => return refused(&who, &caller, &form, &sites, Some(before), e),
    };
    let changer = caller.clone();
    let request_id = request_id.to_string();
    let done = with_conn(&state.pool, move |c| {
        changes::update(c, &changer, id, patch, Some(request_id))
    })
    .await;
    match done {
        Ok(_) => Ok(see_other(&format!("/hr/people/{id}?done=saved"))),
        Err(e) => refused(&who, &caller, &form, &sites, Some(before), e),
    }
}

/// The person's page showing a refusal of one of its buttons (invite, deactivate).
async fn refused_action(
    state: &AppState,
    who: &SignedIn,
    caller: &Caller,
    id: Id,
    error: AppError,
) -> Result<HttpResponse, PageError> {
    if !page::shown_on_form(&error) {
        return Err(who.visitor.error(error));
    }
    let (user, sites) = load(state, who, caller, id).await?;
    let form = PersonForm::of(&user, &codes_of(&sites, &user.coordinated_site_ids));
    refused(who, caller, &form, &sites, Some(user), error)
}

async fn invite(
    state: web::Data<AppState>,
    who: SignedIn,
    request_id: RequestId,
    id: web::Path<uuid::Uuid>,
    form: Form<Vec<(String, String)>>,
) -> Result<HttpResponse, PageError> {
    who.check_csrf(field(&form, "csrf"))?;
    let caller = super::require_hr(&who)?;
    let id = Id::from(id.into_inner());
    let ttl = chrono::Duration::hours(i64::from(state.settings.auth.invitation_ttl_hours));
    let inviter = caller.clone();
    let request_id = request_id.to_string();
    let done = with_conn(&state.pool, move |c| {
        changes::invite(c, &inviter, id, ttl, Some(request_id))
    })
    .await;
    match done {
        Ok(_) => Ok(see_other(&format!("/hr/people/{id}?done=invited"))),
        Err(e) => refused_action(&state, &who, &caller, id, e).await,
    }
}

async fn set_active(
    state: web::Data<AppState>,
    who: SignedIn,
    request_id: RequestId,
    id: web::Path<uuid::Uuid>,
    form: Form<Vec<(String, String)>>,
) -> Result<HttpResponse, PageError> {
    who.check_csrf(field(&form, "csrf"))?;
    let caller = super::require_hr(&who)?;
    let id = Id::from(id.into_inner());
    let active = match field(&form, "active") {
        "yes" => true,
        "no" => false,
        _ => {
            return Err(who
                .visitor
                .error(AppError::bad_request("invalid_form", "active: yes or no")));
        }
    };
    let changer = caller.clone();
    let request_id = request_id.to_string();
    let done = with_conn(&state.pool, move |c| {
        let patch = UserPatch {
            active: Some(active),
            ..UserPatch::default()
        };
        changes::update(c, &changer, id, patch, Some(request_id))
    })
    .await;
    let done_key = if active { "activated" } else { "deactivated" };
    match done {
        Ok(_) => Ok(see_other(&format!("/hr/people/{id}?done={done_key}"))),
        Err(e) => refused_action(&state, &who, &caller, id, e).await,
    }
}

/// Anonymises a leaver through `people::anonymise`, the service of
/// `POST /api/v1/users/{id}/anonymise`; the form repeats the employee number to confirm.
async fn anonymise(
    state: web::Data<AppState>,
    who: SignedIn,
    request_id: RequestId,
    id: web::Path<uuid::Uuid>,
    form: Form<Vec<(String, String)>>,
) -> Result<HttpResponse, PageError> {
    who.check_csrf(field(&form, "csrf"))?;
    let caller = super::require_hr(&who)?;
    let id = Id::from(id.into_inner());
    let input = crate::people::anonymise::AnonymiseInput {
        confirm: field(&form, "confirm").to_owned(),
    };
    let actor = caller.clone();
    let request_id = request_id.to_string();
    let done = with_conn(&state.pool, move |c| {
        crate::people::anonymise::anonymise(c, &actor, id, &input, Some(request_id))
    })
    .await;
    match done {
        Ok(_) => Ok(see_other(&format!("/hr/people/{id}?done=anonymised"))),
        Err(e) => refused_action(&state, &who, &caller, id, e).await,
    }
}
