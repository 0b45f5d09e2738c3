//! HTTP handlers for users.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use tracing_actix_web::RequestId;
use utoipa::IntoParams;

use crate::AppState;
use crate::auth::{Caller, Role};
use crate::db::Id;
use crate::error::{AppError, AppResult, Problem};
use crate::http::idempotency;
use crate::http::json::{Deferred, Json};
use crate::http::pagination::{self, Page};
use crate::http::{resource, with_conn};
use crate::people;
use crate::people::changes::{self, CreateUser, UserPatch};
use crate::people::users::{self, ListFilter, User};

/// The signed-in user.
#[utoipa::path(get, path = "/api/v1/me", tag = "people", security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller", body = User),
        (status = 401, description = "No or invalid token", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn me(state: web::Data<AppState>, caller: Caller) -> AppResult<HttpResponse> {
    let user = with_conn(&state.pool, move |c| users::me(c, &caller)).await?;
    Ok(HttpResponse::Ok().json(user))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct UserListQuery {
    /// Home site.
    pub site_id: Option<uuid::Uuid>,
    /// The user with this employee number (a page of at most one).
    pub employee_number: Option<String>,
    pub role: Option<Role>,
    pub active: Option<bool>,
    /// Case-insensitive text in email, display name or employee number.
    pub q: Option<String>,
    /// Page size, 1 to 200 (default 50).
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Lists the users the caller may see: everyone for admins and HR, the users of their sites for
/// coordinators, themselves for employees.
#[utoipa::path(get, path = "/api/v1/users", tag = "people", security(("bearer" = [])), params(UserListQuery),
    responses(
        (status = 200, description = "A page of users", body = Page<User>),
        (status = 400, description = "Bad filter or cursor", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or invalid token", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<UserListQuery>,
) -> AppResult<HttpResponse> {
    let q = query.into_inner();
    let limit = pagination::limit(q.limit)?;
    let after = pagination::id_cursor(q.cursor.as_deref())?;
    let filter = ListFilter {
        site_id: q.site_id.map(Id::from),
        employee_number: q.employee_number,
        role: q.role,
        active: q.active,
        text: q.q,
        after,
        limit,
    };
    let rows = with_conn(&state.pool, move |c| {
        users::list_visible(c, &caller, &filter)
    })
    .await?;
    Ok(HttpResponse::Ok().json(pagination::page(rows, limit, |u| u.id.to_string())))
}

/// Creates a user (admins; HR for employees and coordinators).
#[utoipa::path(post, path = "/api/v1/users", tag = "people", security(("bearer" = [])), request_body = CreateUser,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe (1-255 characters)")),
    responses(
        (status = 201, description = "Created", body = User),
        (status = 403, description = "The caller may not create this account", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Email or employee number taken", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    request_id: RequestId,
    req: HttpRequest,
    body: Deferred<CreateUser>,
) -> AppResult<HttpResponse> {
    // Refused before the idempotency key is claimed; the service checks again.
    people::require_manager(&caller)?;
    let body = body.parse()?;
    let fingerprint = serde_json::to_value(&body).map_err(AppError::internal)?;
    // Hashed on the blocking pool before the key's transaction and any pooled connection.
    let (body, hash) = web::block(move || {
        let hash = changes::hash_password(&body)?;
        Ok::<_, AppError>((body, hash))
    })
    .await??;
    idempotency::create(
        state.idempotency(),
        &req,
        caller.id,
        &fingerprint,
        StatusCode::CREATED,
        move |c| changes::create_hashed(c, &caller, body, hash, Some(request_id.to_string())),
    )
    .await
}

/// One user, if the caller may see them (404 otherwise: existence is private).
#[utoipa::path(get, path = "/api/v1/users/{id}", tag = "people", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "User id")),
    responses(
        (status = 200, description = "The user", body = User),
        (status = 404, description = "No such user, or not visible to the caller", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<uuid::Uuid>,
) -> AppResult<HttpResponse> {
    let id = Id::from(id.into_inner());
    let user = with_conn(&state.pool, move |c| users::get_visible(c, &caller, id)).await?;
    Ok(HttpResponse::Ok().json(user))
}

/// Changes a user. Everyone may change their own display name and locale; admins and HR manage
/// accounts (HR not admins, and not the hr/admin roles). Role, site, activation and coordinated
/// sites changes are written to the audit log.
#[utoipa::path(patch, path = "/api/v1/users/{id}", tag = "people", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "User id")), request_body = UserPatch,
    responses(
        (status = 200, description = "The changed user", body = User),
        (status = 403, description = "A field the caller may not change", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such user, or not visible to the caller", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Email or employee number taken, or the last admin", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn patch(
    state: web::Data<AppState>,
    caller: Caller,
    request_id: RequestId,
    id: web::Path<uuid::Uuid>,
    body: Json<UserPatch>,
) -> AppResult<HttpResponse> {
    let id = Id::from(id.into_inner());
    let patch = body.into_inner();
    let request_id = request_id.to_string();
    let user = with_conn(&state.pool, move |c| {
        changes::update(c, &caller, id, patch, Some(request_id))
    })
    .await?;
    Ok(HttpResponse::Ok().json(user))
}

/// Mails the user an invitation: a single-use link to set their password, valid
/// `auth.invitation_ttl_hours`, built on `server.public_url`. A new invitation replaces earlier
/// links. Admins invite anyone, HR employees and coordinators. Users who sign in through the
/// company identity provider need none.
#[utoipa::path(post, path = "/api/v1/users/{id}/invitation", tag = "people", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "User id")),
    responses(
        (status = 202, description = "Queued for sending", body = crate::people::changes::Invitation),
        (status = 403, description = "Not an admin, or HR inviting an admin or HR account", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The account is deactivated (`user_inactive`)", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn invite(
    state: web::Data<AppState>,
    caller: Caller,
    request_id: RequestId,
    id: web::Path<uuid::Uuid>,
) -> AppResult<HttpResponse> {
    let id = Id::from(id.into_inner());
    let request_id = request_id.to_string();
    let ttl = chrono::Duration::hours(i64::from(state.settings.auth.invitation_ttl_hours));
    let invitation = with_conn(&state.pool, move |c| {
        changes::invite(c, &caller, id, ttl, Some(request_id))
    })
    .await?;
    Ok(HttpResponse::Accepted().json(invitation))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct UsersImportQuery {
    /// Validate and report, write nothing.
    pub dry_run: Option<bool>,
    /// Mail every new active account an invitation to set its password.
    pub invite: Option<bool>,
}

/// Imports the employee roster from CSV (`employee_number,email,display_name,site_code,role,
/// active`; UTF-8, optional BOM), upserting by employee number with the same rules as the API
/// (HR may not grant the admin role). All rows land in one transaction or none do; a rejected
/// file answers 422 `import_rejected` with every bad row. With `invite=true` every new active
/// account is mailed an invitation to set its password.
#[utoipa::path(post, path = "/api/v1/users/import", tag = "people", security(("bearer" = [])),
    params(UsersImportQuery),
    request_body(content = String, content_type = "text/csv", description = "The CSV file"),
    responses((status = 200, description = "Imported (or checked, with dry_run)", body = crate::people::import::UsersReport),
              (status = 403, description = "Not HR or an admin", body = Problem, content_type = "application/problem+json"),
              (status = 413, description = "File over server.upload_limit_bytes", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "Rejected, with a report of every bad row", body = Problem, content_type = "application/problem+json")))]
pub async fn import(
    state: web::Data<AppState>,
    caller: Caller,
    request_id: RequestId,
    q: web::Query<UsersImportQuery>,
    body: web::Bytes,
) -> AppResult<HttpResponse> {
    let dry_run = q.dry_run.unwrap_or(false);
    let invite = q
        .invite
        .unwrap_or(false)
        .then(|| chrono::Duration::hours(i64::from(state.settings.auth.invitation_ttl_hours)));
    let request_id = request_id.to_string();
    let report = with_conn(&state.pool, move |c| {
        crate::people::import::import(
            c,
            &caller,
            &body,
            dry_run,
            invite,
            Some(request_id),
            |_, _| {},
        )
    })
    .await?;
    Ok(HttpResponse::Ok().json(report))
}

/// Anonymises a person — a leaver, or on request under APPI/GDPR (HR and admins; an admin's
/// account only by an admin; never one's own; audited): name, email and employee number
/// replaced, sign-in ended everywhere, the records kept, so every statistic stays the same.
/// Cannot be undone: `confirm` repeats the person's employee number.
#[utoipa::path(post, path = "/api/v1/users/{id}/anonymise", tag = "people", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "User id")),
    request_body = crate::people::anonymise::AnonymiseInput,
    responses((status = 200, description = "Anonymised", body = User),
              (status = 403, description = "Not HR or an admin, or HR and an admin's account", body = Problem, content_type = "application/problem+json"),
              (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "One's own account (`own_account`), or anonymised already (`already_anonymised`)", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "`confirm` is not the employee number", body = Problem, content_type = "application/problem+json")))]
pub async fn anonymise(
    state: web::Data<AppState>,
    caller: Caller,
    request_id: RequestId,
    id: web::Path<uuid::Uuid>,
    body: Deferred<crate::people::anonymise::AnonymiseInput>,
) -> AppResult<HttpResponse> {
    caller.require(&[crate::auth::Role::Hr, crate::auth::Role::Admin])?;
    let input = body.parse()?;
    let id = id.into_inner().into();
    let request_id = request_id.to_string();
    let user = with_conn(&state.pool, move |c| {
        crate::people::anonymise::anonymise(c, &caller, id, &input, Some(request_id))
    })
    .await?;
    Ok(HttpResponse::Ok().json(user))
}

/// This module's routes (mounted by `server::routes`).
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/api/v1/me", "GET").route(web::get().to(me)))
        .service(
            resource("/api/v1/users", "GET, POST")
                .route(web::get().to(list))
                .route(web::post().to(create)),
        )
        .service(resource("/api/v1/users/import", "POST").route(web::post().to(import)))
        .service(
            resource("/api/v1/users/{id}", "GET, PATCH")
                .route(web::get().to(get))
                .route(web::patch().to(patch)),
        )
        .service(resource("/api/v1/users/{id}/invitation", "POST").route(web::post().to(invite)))
        .service(resource("/api/v1/users/{id}/anonymise", "POST").route(web::post().to(anonymise)));
}

/// This module's part of the OpenAPI document (merged by `api::openapi::document`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(me, list, create, get, patch, invite, import, anonymise))]
pub struct Doc;
