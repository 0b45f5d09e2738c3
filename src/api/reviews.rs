//! HTTP handlers for the yearly programme reviews (`reviews`).

use actix_web::{HttpResponse, web};
use tracing_actix_web::RequestId;

use crate::AppState;
use crate::auth::{Caller, Role};
use crate::error::{AppResult, Problem};
use crate::http::json::Deferred;
use crate::http::{resource, with_conn};
use crate::reviews::{self, CriteriaInput, ReviewCriterion, ReviewInput, YearReviews};
use crate::time::checked_year;

/// The active review criteria in order, grouped by point of view and theme.
#[utoipa::path(get, path = "/api/v1/reviews/criteria", tag = "reviews", security(("bearer" = [])),
    responses((status = 200, description = "The criteria", body = Vec<ReviewCriterion>)))]
pub async fn review_criteria(
    state: web::Data<AppState>,
    _caller: Caller,
) -> AppResult<HttpResponse> {
    let list = with_conn(&state.pool, reviews::criteria).await?;
    Ok(HttpResponse::Ok().json(list))
}

/// Replaces the active criteria (HR and admins; audited): listed ones keep their ids, new ones
/// are added, the rest retired (their scores stay on old reviews).
#[utoipa::path(put, path = "/api/v1/reviews/criteria", tag = "reviews", security(("bearer" = [])),
    request_body = CriteriaInput,
    responses((status = 200, description = "The active criteria", body = Vec<ReviewCriterion>),
              (status = 403, description = "Not HR or an admin", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "Invalid criteria", body = Problem, content_type = "application/problem+json")))]
pub async fn set_review_criteria(
    state: web::Data<AppState>,
    caller: Caller,
    request_id: RequestId,
    body: Deferred<CriteriaInput>,
) -> AppResult<HttpResponse> {
    caller.require(&[Role::Hr, Role::Admin])?;
    let input = body.parse()?;
    let request_id = request_id.to_string();
    let list = with_conn(&state.pool, move |c| {
        reviews::set_criteria(c, &caller, &input, Some(request_id))
    })
    .await?;
    Ok(HttpResponse::Ok().json(list))
}

/// A fiscal year's programme reviews: the programmes that ran in it (the coordinator's sites,
/// or all for HR and admins), their reviews, those not yet reviewed, and the averages per
/// criterion, point of view, programme theme and site.
#[utoipa::path(get, path = "/api/v1/reviews/{fy}", tag = "reviews", security(("bearer" = [])),
    params(("fy" = i32, Path, minimum = 1900, maximum = 2200, description = "Fiscal year")),
    responses((status = 200, description = "The year's reviews", body = YearReviews),
              (status = 403, description = "An employee", body = Problem, content_type = "application/problem+json")))]
pub async fn year_reviews(
    state: web::Data<AppState>,
    caller: Caller,
    fy: web::Path<i32>,
) -> AppResult<HttpResponse> {
    caller.require(&[Role::Hr, Role::Admin, Role::Coordinator])?;
    let fy = checked_year("fiscal year", fy.into_inner())?;
    let year = with_conn(&state.pool, move |c| reviews::year(c, &caller, fy)).await?;
    Ok(HttpResponse::Ok().json(year))
}

/// Writes or rewrites a programme's review of the year: 1 to 5 for every active criterion and
/// comments (its site's coordinator, HR or an admin; audited).
#[utoipa::path(put, path = "/api/v1/reviews/{fy}/programs/{program_id}", tag = "reviews", security(("bearer" = [])),
    params(("fy" = i32, Path, minimum = 1900, maximum = 2200, description = "Fiscal year"),
           ("program_id" = uuid::Uuid, Path, description = "Programme id")),
    request_body = ReviewInput,
    responses((status = 204, description = "Saved"),
              (status = 403, description = "An employee, or another site's programme", body = Problem, content_type = "application/problem+json"),
              (status = 404, description = "No such programme", body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "The programme did not run in the year (`not_run_in_year`)", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "Not one score per criterion, or out of 1 to 5", body = Problem, content_type = "application/problem+json")))]
pub async fn review_program(
    state: web::Data<AppState>,
    caller: Caller,
    request_id: RequestId,
    path: web::Path<(i32, uuid::Uuid)>,
    body: Deferred<ReviewInput>,
) -> AppResult<HttpResponse> {
    caller.require(&[Role::Hr, Role::Admin, Role::Coordinator])?;
    let (fy, program) = path.into_inner();
    let fy = checked_year("fiscal year", fy)?;
    let input = body.parse()?;
    let request_id = request_id.to_string();
    with_conn(&state.pool, move |c| {
        reviews::review(
            c,
            Some(&caller),
            fy,
            program.into(),
            &input,
            Some(request_id),
        )
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// This module's routes (mounted by `server::routes`).
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("/api/v1/reviews/criteria", "GET, PUT")
            .route(web::get().to(review_criteria))
            .route(web::put().to(set_review_criteria)),
    )
    .service(resource("/api/v1/reviews/{fy}", "GET").route(web::get().to(year_reviews)))
    .service(
        resource("/api/v1/reviews/{fy}/programs/{program_id}", "PUT")
            .route(web::put().to(review_program)),
    );
}

/// This module's part of the OpenAPI document (merged by `api::openapi::document`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(review_criteria, set_review_criteria, year_reviews, review_program))]
pub struct Doc;
