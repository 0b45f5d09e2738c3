//! HTTP handlers for programmes and events.

use crate::http::resource;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::AppState;
use crate::api::extract::read_as;
use crate::auth::caller::{Bearer, Subject};
use crate::auth::{Caller, Role};
use crate::db::Id;
use crate::error::{AppError, AppResult, Problem};
use crate::http::idempotency;
use crate::http::json::{Deferred, Json, MaybeJson};
use crate::http::pagination::{self, Page};
use crate::http::with_conn;
use crate::programs::events::{self, CreateEvent, Event, EventPatch, EventQuery};
use crate::programs::list_cache::Source;
use crate::programs::program::{
    self as programs, CreateProgram, Program, ProgramPatch, ProgramStatus, Theme,
};
use crate::programs::require_runs_site;
use crate::signups::service;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ProgramQuery {
    pub site_id: Option<uuid::Uuid>,
    /// The programme code (unique per site).
    pub code: Option<String>,
    pub theme: Option<Theme>,
    pub category: Option<String>,
    pub status: Option<ProgramStatus>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/programs", tag = "programmes", security(("bearer" = [])), params(ProgramQuery),
    responses((status = 200, description = "A page of programmes", body = Page<Program>)))]
pub async fn list_programs(
    state: web::Data<AppState>,
    _caller: Caller,
    q: web::Query<ProgramQuery>,
) -> AppResult<HttpResponse> {
    let q = q.into_inner();
    let limit = pagination::limit(q.limit)?;
    let filter = programs::ListFilter {
        site_id: q.site_id.map(Id::from),
        code: q.code,
        theme: q.theme,
        category: q.category,
        status: q.status,
        after: pagination::id_cursor(q.cursor.as_deref())?,
        limit,
    };
    let rows = with_conn(&state.pool, move |c| programs::list(c, &filter)).await?;
    Ok(HttpResponse::Ok().json(pagination::page(rows, limit, |p| p.id.to_string())))
}

#[utoipa::path(post, path = "/api/v1/programs", tag = "programmes", security(("bearer" = [])), request_body = CreateProgram,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe (1-255 characters)")),
    responses((status = 201, description = "Created", body = Program),
              (status = 403, description = "Not a coordinator of the site", body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "Code taken at the site", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json")))]
pub async fn create_program(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    body: Deferred<CreateProgram>,
) -> AppResult<HttpResponse> {
    // Who runs programmes at all comes before what the body says; then the site itself.
    caller.require(&[Role::Coordinator, Role::Admin])?;
    let body = body.parse()?;
    // Refused before the idempotency key is claimed; the service checks again.
    require_runs_site(&caller, body.site_id.into())?;
    let fingerprint = serde_json::to_value(&body).map_err(AppError::internal)?;
    idempotency::create(
        state.idempotency(),
        &req,
        caller.id,
        &fingerprint,
        StatusCode::CREATED,
        move |c| programs::create_as(c, &caller, &body),
    )
    .await
}

#[utoipa::path(get, path = "/api/v1/programs/{id}", tag = "programmes", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Programme id")),
    responses((status = 200, description = "The programme", body = Program),
              (status = 404, description = "No such programme", body = Problem, content_type = "application/problem+json")))]
pub async fn get_program(
    state: web::Data<AppState>,
    _caller: Caller,
    id: web::Path<uuid::Uuid>,
) -> AppResult<HttpResponse> {
    let id = Id::from(id.into_inner());
    Ok(HttpResponse::Ok().json(with_conn(&state.pool, move |c| programs::find(c, id)).await?))
}

#[utoipa::path(patch, path = "/api/v1/programs/{id}", tag = "programmes", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Programme id")), request_body = ProgramPatch,
    responses((status = 200, description = "Changed", body = Program),
              (status = 403, description = "Not a coordinator of the site", body = Problem, content_type = "application/problem+json"),
              (status = 404, description = "No such programme", body = Problem, content_type = "application/problem+json")))]
pub async fn patch_program(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<uuid::Uuid>,
    body: Json<ProgramPatch>,
) -> AppResult<HttpResponse> {
    let id = Id::from(id.into_inner());
    let patch = body.into_inner();
    let program = with_conn(&state.pool, move |c| {
        programs::patch_as(c, &caller, id, patch)
    })
    .await?;
    Ok(HttpResponse::Ok().json(program))
}

/// Events by start time. Employees see published events, upcoming by default; coordinators also
/// drafts of their sites (`status=draft`), admins and HR all. An employee's page may be up to
/// `database.list_cache_ms` (1 s by default) behind changes made elsewhere, never behind a
/// write this instance has answered.
#[utoipa::path(get, path = "/api/v1/events", tag = "programmes", security(("bearer" = [])), params(EventQuery),
    responses((status = 200, description = "A page of events", body = Page<Event>),
              (status = 400, description = "Bad filter or cursor", body = Problem, content_type = "application/problem+json")))]
pub async fn list_events(
    state: web::Data<AppState>,
    bearer: Bearer,
    q: web::Query<EventQuery>,
) -> AppResult<HttpResponse> {
    let q = q.into_inner();
    if let Some((role, rows, limit)) = list_in_one_statement(&state, &bearer, &q).await? {
        if may_lag(role) {
            state
                .metrics
                .replica_eligible_read(crate::db::replica::Source::Primary.as_str());
        }
        state.metrics.event_list_page(Source::Database.as_str());
        return pagination::page_of(&rows, limit, events::cursor).respond(EVENT_JSON_BYTES);
    }
    let cache = state.event_lists.clone();
    let ((rows, from), limit) = read_as(
        &state,
        bearer,
        |caller| may_lag(caller.role),
        move |c, caller| {
            let limit = pagination::limit(q.limit)?;
            let filter = events::ListFilter::for_caller(caller, q, limit)?;
            Ok((events::list_shared(&cache, c, caller, &filter)?, limit))
        },
    )
    .await?;
    state.metrics.event_list_page(from.as_str());
    pagination::page_of(&rows, limit, events::cursor).respond(EVENT_JSON_BYTES)
}

/// Employees only browse published events, which may be a moment behind; coordinators, HR and
/// administrators write events and expect to see them at once.
fn may_lag(role: Role) -> bool {
    role == Role::Employee
}

/// About what an event takes in the list's JSON (~570 bytes with a short title and no
/// description; more grows the buffer as usual).
const EVENT_JSON_BYTES: usize = 640;

/// The page of `q` read together with the caller's check in one statement
/// (`events::list_signed_in`), when nothing else would spare that read: no list cache, no
/// replica (whose page would lag the primary's account check), one of tomoni's own tokens, and
/// a filter that is the same whoever asks. `None` sends the request the usual way (two
/// statements), which also gives a bad query its answer after the token's check, as usual.
async fn list_in_one_statement(
    state: &AppState,
    bearer: &Bearer,
    q: &EventQuery,
) -> AppResult<Option<(Role, Vec<Event>, i64)>> {
    let Subject::Own(user, sign_in) = bearer.subject else {
        return Ok(None);
    };
    if state.event_lists.keeps_pages() || state.reads.has_replica() {
        return Ok(None);
    }
    let Some((filter, limit)) = pagination::limit(q.limit).ok().and_then(|limit| {
        let filter = events::ListFilter::for_anyone(q.clone(), limit)
            .ok()
            .flatten()?;
        Some((filter, limit))
    }) else {
        return Ok(None);
    };
    let (role, rows) = with_conn(&state.pool, move |c| {
        events::list_signed_in(c, user, sign_in, &filter)
    })
    .await?;
    Ok(Some((role, rows, limit)))
}

#[utoipa::path(post, path = "/api/v1/events", tag = "programmes", security(("bearer" = [])), request_body = CreateEvent,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe (1-255 characters)")),
    responses((status = 201, description = "Created as a draft; an event that has already ended is recorded as `completed` (a past activity: no sign-up, no emails, attendance on the roster)", body = Event),
              (status = 403, description = "Not a coordinator of the programme's site", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json")))]
pub async fn create_event(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    body: Deferred<CreateEvent>,
) -> AppResult<HttpResponse> {
    caller.require(&[Role::Coordinator, Role::Admin])?;
    let body = body.parse()?;
    let fingerprint = serde_json::to_value(&body).map_err(AppError::internal)?;
    idempotency::create(
        state.idempotency(),
        &req,
        caller.id,
        &fingerprint,
        StatusCode::CREATED,
        move |c| events::create_as(c, &caller, &body),
    )
    .await
}

#[utoipa::path(get, path = "/api/v1/events/{id}", tag = "programmes", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Event id")),
    responses((status = 200, description = "The event", body = Event),
              (status = 404, description = "No such event (or a draft of another site)", body = Problem, content_type = "application/problem+json")))]
pub async fn get_event(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<uuid::Uuid>,
) -> AppResult<HttpResponse> {
    let id = Id::from(id.into_inner());
    let event = with_conn(&state.pool, move |c| events::find_visible(c, &caller, id)).await?;
    Ok(HttpResponse::Ok().json(event))
}

#[utoipa::path(patch, path = "/api/v1/events/{id}", tag = "programmes", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Event id")), request_body = EventPatch,
    responses((status = 200, description = "Changed", body = Event),
              (status = 403, description = "Not a coordinator of the site", body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "Cancelled/completed event, or capacity below the seats taken", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json")))]
pub async fn patch_event(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<uuid::Uuid>,
    body: Json<EventPatch>,
) -> AppResult<HttpResponse> {
    let id = Id::from(id.into_inner());
    let patch = body.into_inner();
    let event = with_conn(&state.pool, move |c| {
        service::update_event(c, &caller, id, &patch)
    })
    .await?;
    Ok(HttpResponse::Ok().json(event))
}

#[utoipa::path(post, path = "/api/v1/events/{id}/publish", tag = "programmes", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Event id")),
    responses((status = 200, description = "Published", body = Event),
              (status = 409, description = "Not a draft (`not_a_draft`), or its sign-up deadline (default: the start) has passed (`signup_deadline_passed`)", body = Problem, content_type = "application/problem+json")))]
pub async fn publish_event(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<uuid::Uuid>,
) -> AppResult<HttpResponse> {
    let id = Id::from(id.into_inner());
    let event = with_conn(&state.pool, move |c| events::publish_as(c, &caller, id)).await?;
    Ok(HttpResponse::Ok().json(event))
}

/// Why an event is cancelled.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelEvent {
    /// Quoted in the email every signed-up person gets (at most 500 characters).
    pub reason: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/events/{id}/cancel", tag = "programmes", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Event id")),
    request_body(content = Option<CancelEvent>, description = "Optional; an empty body cancels without a reason"),
    responses((status = 200, description = "Cancelled, with every live sign-up", body = Event),
              (status = 409, description = "Already cancelled or completed", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "Reason too long", body = Problem, content_type = "application/problem+json")))]
pub async fn cancel_event(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<uuid::Uuid>,
    body: MaybeJson<CancelEvent>,
) -> AppResult<HttpResponse> {
    let id = Id::from(id.into_inner());
    let reason = body.0.and_then(|b| b.reason);
    let event = with_conn(&state.pool, move |c| {
        service::cancel_event_as(c, &caller, id, reason.as_deref())
    })
    .await?;
    Ok(HttpResponse::Ok().json(event))
}

/// A short, fixed list (no paging).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Items<T> {
    pub items: Vec<T>,
}

/// The categories programmes are tagged with (the report's lines), by code.
#[utoipa::path(get, path = "/api/v1/categories", tag = "programmes", security(("bearer" = [])),
    responses((status = 200, description = "Every category", body = Items<programs::Category>)))]
pub async fn list_categories(
    state: web::Data<AppState>,
    _caller: Caller,
) -> AppResult<HttpResponse> {
    let items = with_conn(&state.pool, programs::categories).await?;
    Ok(HttpResponse::Ok().json(Items { items }))
}

/// The programme themes.
#[utoipa::path(get, path = "/api/v1/themes", tag = "programmes", security(("bearer" = [])),
    responses((status = 200, description = "Every theme", body = Items<programs::ThemeInfo>)))]
pub async fn list_themes(_caller: Caller) -> HttpResponse {
    HttpResponse::Ok().json(Items {
        items: programs::themes(),
    })
}

/// This module's routes (mounted by `server::routes`).
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/api/v1/categories", "GET").route(web::get().to(list_categories)))
        .service(resource("/api/v1/themes", "GET").route(web::get().to(list_themes)))
        .service(
            resource("/api/v1/programs", "GET, POST")
                .route(web::get().to(list_programs))
                .route(web::post().to(create_program)),
        )
        .service(
            resource("/api/v1/programs/{id}", "GET, PATCH")
                .route(web::get().to(get_program))
                .route(web::patch().to(patch_program)),
        )
        .service(
            resource("/api/v1/events", "GET, POST")
                .route(web::get().to(list_events))
                .route(web::post().to(create_event)),
        )
        .service(
            resource("/api/v1/events/{id}", "GET, PATCH")
                .route(web::get().to(get_event))
                .route(web::patch().to(patch_event)),
        )
        .service(
            resource("/api/v1/events/{id}/publish", "POST").route(web::post().to(publish_event)),
        )
        .service(
            resource("/api/v1/events/{id}/cancel", "POST").route(web::post().to(cancel_event)),
        );
}

/// This module's part of the OpenAPI document (merged by `api::openapi::document`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    list_categories,
    list_themes,
    list_programs,
    create_program,
    get_program,
    patch_program,
    list_events,
    create_event,
    get_event,
    patch_event,
    publish_event,
    cancel_event
))]
pub struct Doc;
