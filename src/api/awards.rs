//! HTTP handlers for the awards (`awards`): HR sets a year up and decides winners,
//! coordinators nominate their sites' eligible programmes, the year's judges score them.

use actix_web::{HttpResponse, web};
use serde::Serialize;
use tracing_actix_web::RequestId;
use utoipa::ToSchema;

use crate::AppState;
use crate::auth::{Caller, Role};
use crate::awards::{
    self, Awards, Eligible, NominationInput, ScoresInput, SetupInput, WinnerInput,
};
use crate::error::{AppResult, Problem};
use crate::http::json::Deferred;
use crate::http::{resource, with_conn};
use crate::time::checked_year;

#[derive(Debug, Serialize, ToSchema)]
pub struct Nominated {
    pub id: uuid::Uuid,
}

/// A fiscal year's awards: categories, criteria, how many programmes are eligible, the
/// nominations the caller may see (with scores for HR, admins and the judges) and the winners.
#[utoipa::path(get, path = "/api/v1/awards/{fy}", tag = "awards", security(("bearer" = [])),
    params(("fy" = i32, Path, minimum = 1900, maximum = 2200, description = "Fiscal year")),
    responses((status = 200, description = "The year's awards", body = Awards)))]
pub async fn awards_of_year(
    state: web::Data<AppState>,
    caller: Caller,
    fy: web::Path<i32>,
) -> AppResult<HttpResponse> {
    let fy = checked_year("fiscal year", fy.into_inner())?;
    let awards = with_conn(&state.pool, move |c| awards::overview(c, &caller, fy)).await?;
    Ok(HttpResponse::Ok().json(awards))
}

/// Sets a year's categories, weighted criteria and judges (HR and admins; audited). Categories
/// are fixed once a nomination is made, criteria once a score is given.
#[utoipa::path(put, path = "/api/v1/awards/{fy}/setup", tag = "awards", security(("bearer" = [])),
    params(("fy" = i32, Path, minimum = 1900, maximum = 2200, description = "Fiscal year")),
    request_body = SetupInput,
    responses((status = 200, description = "Saved", body = Awards),
              (status = 403, description = "Not HR or an admin", body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "Categories or criteria changed after nominations or scores (`awards_under_way`)", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "Invalid setup or an unknown judge", body = Problem, content_type = "application/problem+json")))]
pub async fn set_up_awards(
    state: web::Data<AppState>,
    caller: Caller,
    request_id: RequestId,
    fy: web::Path<i32>,
    body: Deferred<SetupInput>,
) -> AppResult<HttpResponse> {
    caller.require(&[Role::Hr, Role::Admin])?;
    let fy = checked_year("fiscal year", fy.into_inner())?;
    let input = body.parse()?;
    let request_id = request_id.to_string();
    let awards = with_conn(&state.pool, move |c| {
        awards::set_up(c, Some(&caller), fy, &input, Some(request_id))?;
        awards::overview(c, &caller, fy)
    })
    .await?;
    Ok(HttpResponse::Ok().json(awards))
}

/// The programmes the caller may nominate: those with approved attendance in the year at the
/// coordinator's sites (every site for HR and admins), with the count.
#[utoipa::path(get, path = "/api/v1/awards/{fy}/eligible", tag = "awards", security(("bearer" = [])),
    params(("fy" = i32, Path, minimum = 1900, maximum = 2200, description = "Fiscal year")),
    responses((status = 200, description = "Eligible programmes", body = Eligible),
              (status = 403, description = "An employee", body = Problem, content_type = "application/problem+json")))]
pub async fn eligible_programs(
    state: web::Data<AppState>,
    caller: Caller,
    fy: web::Path<i32>,
) -> AppResult<HttpResponse> {
    caller.require(&[Role::Hr, Role::Admin, Role::Coordinator])?;
    let fy = checked_year("fiscal year", fy.into_inner())?;
    let list = with_conn(&state.pool, move |c| awards::eligible(c, &caller, fy)).await?;
    Ok(HttpResponse::Ok().json(list))
}

/// Nominates a programme for a category (its site's coordinator, HR or an admin; audited).
#[utoipa::path(post, path = "/api/v1/awards/nominations", tag = "awards", security(("bearer" = [])),
    request_body = NominationInput,
    responses((status = 201, description = "Nominated", body = Nominated),
              (status = 403, description = "An employee, or another site's programme", body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "Already nominated, or the winner is decided", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "Not eligible (no approved attendance in the year), a category of another region, or an unknown category or programme", body = Problem, content_type = "application/problem+json")))]
pub async fn nominate(
    state: web::Data<AppState>,
    caller: Caller,
    request_id: RequestId,
    body: Deferred<NominationInput>,
) -> AppResult<HttpResponse> {
    caller.require(&[Role::Hr, Role::Admin, Role::Coordinator])?;
    let input = body.parse()?;
    let request_id = request_id.to_string();
    let id = with_conn(&state.pool, move |c| {
        awards::nominate(c, &caller, &input, Some(request_id))
    })
    .await?;
    Ok(HttpResponse::Created().json(Nominated { id: id.into() }))
}

/// Withdraws a nomination no judge has scored (its site's coordinator, HR or an admin).
#[utoipa::path(delete, path = "/api/v1/awards/nominations/{id}", tag = "awards", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Nomination id")),
    responses((status = 204, description = "Withdrawn"),
              (status = 403, description = "An employee", body = Problem, content_type = "application/problem+json"),
              (status = 404, description = "No such nomination (or another site's)", body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "Already scored", body = Problem, content_type = "application/problem+json")))]
pub async fn withdraw_nomination(
    state: web::Data<AppState>,
    caller: Caller,
    request_id: RequestId,
    id: web::Path<uuid::Uuid>,
) -> AppResult<HttpResponse> {
    caller.require(&[Role::Hr, Role::Admin, Role::Coordinator])?;
    let id = id.into_inner().into();
    let request_id = request_id.to_string();
    with_conn(&state.pool, move |c| {
        awards::withdraw(c, &caller, id, Some(request_id))
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A judge's scores for a nomination, 1 to 5 for each of the year's criteria (replacing the
/// judge's earlier ones; audited). Only the year's judges, and never their own site's.
#[utoipa::path(put, path = "/api/v1/awards/nominations/{id}/scores", tag = "awards", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Nomination id")),
    request_body = ScoresInput,
    responses((status = 204, description = "Scored"),
              (status = 403, description = "Not a judge of the year, or the judge's own site (`own_site`)", body = Problem, content_type = "application/problem+json"),
              (status = 404, description = "No such nomination", body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "The winner is decided", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "Not one score per criterion, or out of 1 to 5", body = Problem, content_type = "application/problem+json")))]
pub async fn score_nomination(
    state: web::Data<AppState>,
    caller: Caller,
    request_id: RequestId,
    id: web::Path<uuid::Uuid>,
    body: Deferred<ScoresInput>,
) -> AppResult<HttpResponse> {
    let input = body.parse()?;
    let id = id.into_inner().into();
    let request_id = request_id.to_string();
    with_conn(&state.pool, move |c| {
        awards::score(c, &caller, id, &input, Some(request_id))
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Decides a category's winner, or with `null` undoes it (HR and admins; audited).
#[utoipa::path(put, path = "/api/v1/awards/categories/{id}/winner", tag = "awards", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Award category id")),
    request_body = WinnerInput,
    responses((status = 204, description = "Decided"),
              (status = 403, description = "Not HR or an admin", body = Problem, content_type = "application/problem+json"),
              (status = 404, description = "No such category", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "Not a nomination of this category", body = Problem, content_type = "application/problem+json")))]
pub async fn decide_winner(
    state: web::Data<AppState>,
    caller: Caller,
    request_id: RequestId,
    id: web::Path<uuid::Uuid>,
    body: Deferred<WinnerInput>,
) -> AppResult<HttpResponse> {
    caller.require(&[Role::Hr, Role::Admin])?;
    let input = body.parse()?;
    let id = id.into_inner().into();
    let request_id = request_id.to_string();
    with_conn(&state.pool, move |c| {
        awards::decide(c, Some(&caller), id, &input, Some(request_id))
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// This module's routes (mounted by `server::routes`).
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/api/v1/awards/nominations", "POST").route(web::post().to(nominate)))
        .service(
            resource("/api/v1/awards/nominations/{id}", "DELETE")
                .route(web::delete().to(withdraw_nomination)),
        )
        .service(
            resource("/api/v1/awards/nominations/{id}/scores", "PUT")
                .route(web::put().to(score_nomination)),
        )
        .service(
            resource("/api/v1/awards/categories/{id}/winner", "PUT")
                .route(web::put().to(decide_winner)),
        )
        .service(resource("/api/v1/awards/{fy}", "GET").route(web::get().to(awards_of_year)))
        .service(resource("/api/v1/awards/{fy}/setup", "PUT").route(web::put().to(set_up_awards)))
        .service(
            resource("/api/v1/awards/{fy}/eligible", "GET").route(web::get().to(eligible_programs)),
        );
}

/// This module's part of the OpenAPI document (merged by `api::openapi::document`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    awards_of_year,
    set_up_awards,
    eligible_programs,
    nominate,
    withdraw_nomination,
    score_nomination,
    decide_winner
))]
pub struct Doc;
