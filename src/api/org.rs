//! HTTP handlers for companies, sites and partners: readable by every signed-in user, changed
//! by admins.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::NaiveDate;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::AppState;
use crate::auth::Caller;
use crate::db::Id;
use crate::error::{AppError, AppResult, Problem};
use crate::http::idempotency;
use crate::http::json::Deferred;
use crate::http::pagination::{self, Page};
use crate::http::{resource, with_conn};
use crate::org;
use crate::org::companies::{self, Company, CompanyPatch, CreateCompany};
use crate::org::import::{self, ImportReport};
use crate::org::partners::{self, CreatePartner, Partner, PartnerPatch};
use crate::org::sites::{self, CreateSite, Region, Site, SitePatch};

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    /// Page size, 1 to 200 (default 50).
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/companies", tag = "org", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, description = "A page of companies", body = Page<Company>),
              (status = 401, description = "No or invalid token", body = Problem, content_type = "application/problem+json")))]
pub async fn list_companies(
    state: web::Data<AppState>,
    _caller: Caller,
    q: web::Query<PageQuery>,
) -> AppResult<HttpResponse> {
    let limit = pagination::limit(q.limit)?;
    let after = pagination::id_cursor(q.cursor.as_deref())?;
    let rows = with_conn(&state.pool, move |c| companies::list(c, after, limit)).await?;
    Ok(HttpResponse::Ok().json(pagination::page(rows, limit, |r| r.id.to_string())))
}

#[utoipa::path(post, path = "/api/v1/companies", tag = "org", security(("bearer" = [])), request_body = CreateCompany,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe (1-255 characters)")),
    responses((status = 201, description = "Created", body = Company),
              (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "Code taken", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json")))]
pub async fn create_company(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    body: Deferred<CreateCompany>,
) -> AppResult<HttpResponse> {
    org::require_admin(&caller)?;
    let body = body.parse()?;
    let fingerprint = serde_json::to_value(&body).map_err(AppError::internal)?;
    idempotency::create(
        state.idempotency(),
        &req,
        caller.id,
        &fingerprint,
        StatusCode::CREATED,
        move |c| companies::create(c, &caller, body),
    )
    .await
}

#[utoipa::path(get, path = "/api/v1/companies/{id}", tag = "org", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Company id")),
    responses((status = 200, description = "The company", body = Company),
              (status = 404, description = "No such company", body = Problem, content_type = "application/problem+json")))]
pub async fn get_company(
    state: web::Data<AppState>,
    _caller: Caller,
    id: web::Path<uuid::Uuid>,
) -> AppResult<HttpResponse> {
    let id = Id::from(id.into_inner());
    let company = with_conn(&state.pool, move |c| companies::find(c, id)).await?;
    Ok(HttpResponse::Ok().json(company))
}

#[utoipa::path(patch, path = "/api/v1/companies/{id}", tag = "org", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Company id")), request_body = CompanyPatch,
    responses((status = 200, description = "Changed", body = Company),
              (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
              (status = 404, description = "No such company", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json")))]
pub async fn patch_company(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<uuid::Uuid>,
    body: Deferred<CompanyPatch>,
) -> AppResult<HttpResponse> {
    org::require_admin(&caller)?;
    let id = Id::from(id.into_inner());
    let patch = body.parse()?;
    let company = with_conn(&state.pool, move |c| {
        companies::update(c, &caller, id, patch)
    })
    .await?;
    Ok(HttpResponse::Ok().json(company))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SiteQuery {
    pub company_id: Option<uuid::Uuid>,
    pub region: Option<Region>,
    /// ISO 3166-1 alpha-2.
    pub country: Option<String>,
    /// Only sites open on this date (YYYY-MM-DD).
    pub open_on: Option<NaiveDate>,
    /// The site with this code (a page of at most one).
    pub code: Option<String>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/sites", tag = "org", security(("bearer" = [])), params(SiteQuery),
    responses((status = 200, description = "A page of sites", body = Page<Site>),
              (status = 401, description = "No or invalid token", body = Problem, content_type = "application/problem+json")))]
pub async fn list_sites(
    state: web::Data<AppState>,
    _caller: Caller,
    q: web::Query<SiteQuery>,
) -> AppResult<HttpResponse> {
    let q = q.into_inner();
    let limit = pagination::limit(q.limit)?;
    let filter = sites::ListFilter {
        ids: None,
        company_id: q.company_id.map(Id::from),
        region: q.region,
        country: q.country,
        open_on: q.open_on,
        code: q.code,
        after: pagination::id_cursor(q.cursor.as_deref())?,
        limit,
    };
    let rows = with_conn(&state.pool, move |c| sites::list(c, &filter)).await?;
    Ok(HttpResponse::Ok().json(pagination::page(rows, limit, |r| r.id.to_string())))
}

#[utoipa::path(post, path = "/api/v1/sites", tag = "org", security(("bearer" = [])), request_body = CreateSite,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe (1-255 characters)")),
    responses((status = 201, description = "Created", body = Site),
              (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "Code taken", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json")))]
pub async fn create_site(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    body: Deferred<CreateSite>,
) -> AppResult<HttpResponse> {
    org::require_admin(&caller)?;
    let body = body.parse()?;
    let fingerprint = serde_json::to_value(&body).map_err(AppError::internal)?;
    idempotency::create(
        state.idempotency(),
        &req,
        caller.id,
        &fingerprint,
        StatusCode::CREATED,
        move |c| sites::create(c, &caller, body),
    )
    .await
}

#[utoipa::path(get, path = "/api/v1/sites/{id}", tag = "org", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Site id")),
    responses((status = 200, description = "The site", body = Site),
              (status = 404, description = "No such site", body = Problem, content_type = "application/problem+json")))]
pub async fn get_site(
    state: web::Data<AppState>,
    _caller: Caller,
    id: web::Path<uuid::Uuid>,
) -> AppResult<HttpResponse> {
    let id = Id::from(id.into_inner());
    let site = with_conn(&state.pool, move |c| sites::find(c, id)).await?;
    Ok(HttpResponse::Ok().json(site))
}

#[utoipa::path(patch, path = "/api/v1/sites/{id}", tag = "org", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Site id")), request_body = SitePatch,
    responses((status = 200, description = "Changed", body = Site),
              (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
              (status = 404, description = "No such site", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json")))]
pub async fn patch_site(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<uuid::Uuid>,
    body: Deferred<SitePatch>,
) -> AppResult<HttpResponse> {
    org::require_admin(&caller)?;
    let id = Id::from(id.into_inner());
    let patch = body.parse()?;
    let site = with_conn(&state.pool, move |c| sites::update(c, &caller, id, patch)).await?;
    Ok(HttpResponse::Ok().json(site))
}

#[utoipa::path(get, path = "/api/v1/partners", tag = "org", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, description = "A page of partners", body = Page<Partner>),
              (status = 401, description = "No or invalid token", body = Problem, content_type = "application/problem+json")))]
pub async fn list_partners(
    state: web::Data<AppState>,
    _caller: Caller,
    q: web::Query<PageQuery>,
) -> AppResult<HttpResponse> {
    let limit = pagination::limit(q.limit)?;
    let after = pagination::id_cursor(q.cursor.as_deref())?;
    let rows = with_conn(&state.pool, move |c| partners::list(c, after, limit)).await?;
    Ok(HttpResponse::Ok().json(pagination::page(rows, limit, |r| r.id.to_string())))
}

#[utoipa::path(post, path = "/api/v1/partners", tag = "org", security(("bearer" = [])), request_body = CreatePartner,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe (1-255 characters)")),
    responses((status = 201, description = "Created", body = Partner),
              (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "Name taken", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json")))]
pub async fn create_partner(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    body: Deferred<CreatePartner>,
) -> AppResult<HttpResponse> {
    org::require_admin(&caller)?;
    let body = body.parse()?;
    let fingerprint = serde_json::to_value(&body).map_err(AppError::internal)?;
    idempotency::create(
        state.idempotency(),
        &req,
        caller.id,
        &fingerprint,
        StatusCode::CREATED,
        move |c| partners::create(c, &caller, body),
    )
    .await
}

#[utoipa::path(get, path = "/api/v1/partners/{id}", tag = "org", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Partner id")),
    responses((status = 200, description = "The partner", body = Partner),
              (status = 404, description = "No such partner", body = Problem, content_type = "application/problem+json")))]
pub async fn get_partner(
    state: web::Data<AppState>,
    _caller: Caller,
    id: web::Path<uuid::Uuid>,
) -> AppResult<HttpResponse> {
    let id = Id::from(id.into_inner());
    let partner = with_conn(&state.pool, move |c| partners::find(c, id)).await?;
    Ok(HttpResponse::Ok().json(partner))
}

#[utoipa::path(patch, path = "/api/v1/partners/{id}", tag = "org", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Partner id")), request_body = PartnerPatch,
    responses((status = 200, description = "Changed", body = Partner),
              (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
              (status = 404, description = "No such partner", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json")))]
pub async fn patch_partner(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<uuid::Uuid>,
    body: Deferred<PartnerPatch>,
) -> AppResult<HttpResponse> {
    org::require_admin(&caller)?;
    let id = Id::from(id.into_inner());
    let patch = body.parse()?;
    let partner = with_conn(&state.pool, move |c| {
        partners::update(c, &caller, id, patch)
    })
    .await?;
    Ok(HttpResponse::Ok().json(partner))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ImportQuery {
    /// Validate and report, write nothing.
    pub dry_run: Option<bool>,
}

/// Imports sites from CSV (`code,name,company_code,country,region,timezone,opened_on,closed_on`;
/// UTF-8, optional BOM), upserting by code. All rows land in one transaction or none do; a
/// rejected file answers 422 `import_rejected` with every bad row in `errors` (`line`, `field`,
/// `code`, `message`).
#[utoipa::path(post, path = "/api/v1/sites/import", tag = "org", security(("bearer" = [])), params(ImportQuery),
    request_body(content = String, content_type = "text/csv", description = "The CSV file"),
    responses((status = 200, description = "Imported (or checked, with dry_run)", body = ImportReport),
              (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
              (status = 413, description = "File over server.upload_limit_bytes", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "Rejected, with a report of every bad row", body = Problem, content_type = "application/problem+json")))]
pub async fn import_sites(
    state: web::Data<AppState>,
    caller: Caller,
    q: web::Query<ImportQuery>,
    body: web::Bytes,
) -> AppResult<HttpResponse> {
    org::require_admin(&caller)?;
    let dry_run = q.dry_run.unwrap_or(false);
    let report = with_conn(&state.pool, move |c| {
        import::import_sites(c, &caller, &body, dry_run)
    })
    .await?;
    Ok(HttpResponse::Ok().json(report))
}

/// This module's routes (mounted by `server::routes`).
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("/api/v1/companies", "GET, POST")
            .route(web::get().to(list_companies))
            .route(web::post().to(create_company)),
    )
    .service(
        resource("/api/v1/companies/{id}", "GET, PATCH")
            .route(web::get().to(get_company))
            .route(web::patch().to(patch_company)),
    )
    .service(
        resource("/api/v1/sites", "GET, POST")
            .route(web::get().to(list_sites))
            .route(web::post().to(create_site)),
    )
    .service(resource("/api/v1/sites/import", "POST").route(web::post().to(import_sites)))
    .service(
        resource("/api/v1/sites/{id}", "GET, PATCH")
            .route(web::get().to(get_site))
            .route(web::patch().to(patch_site)),
    )
    .service(
        resource("/api/v1/partners", "GET, POST")
            .route(web::get().to(list_partners))
            .route(web::post().to(create_partner)),
    )
    .service(
        resource("/api/v1/partners/{id}", "GET, PATCH")
            .route(web::get().to(get_partner))
            .route(web::patch().to(patch_partner)),
    );
}

/// This module's part of the OpenAPI document (merged by `api::openapi::document`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    list_companies,
    create_company,
    get_company,
    patch_company,
    list_sites,
    create_site,
    get_site,
    patch_site,
    import_sites,
    list_partners,
    create_partner,
    get_partner,
    patch_partner
))]
pub struct Doc;
