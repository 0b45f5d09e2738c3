//! The request span every log line of a request carries, without secrets: the target's query
//! values named like secrets (the calendar feed's `token`, ...) are replaced by `***`, and the
//! client address is the TCP peer unless the proxy in front is trusted to report it
//! (`auth.trust_forwarded_for`). Otherwise the fields of tracing-actix-web's default span.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::{Error, HttpMessage};
use tracing::Span;
use tracing_actix_web::{DefaultRootSpanBuilder, RequestId, RootSpanBuilder};

/// Query parameters whose values never reach a log line.
const SECRET_PARAMS: [&str; 6] = [
    "token",
    "access_token",
    "refresh_token",
    "password",
    "secret",
    "code",
];

/// Whether `X-Forwarded-For` names the client (app data; the server sets it from
/// `auth.trust_forwarded_for`). Absent means no.
#[derive(Debug, Clone, Copy)]
pub struct TrustForwardedFor(pub bool);

/// `path?query` with the values of secret-bearing parameters replaced by `***`.
pub fn redact_target(path_and_query: &str) -> String {
    let Some((path, query)) = path_and_query.split_once('?') else {
        return path_and_query.to_owned();
    };
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| {
            let name = pair.split_once('=').map_or(pair, |(n, _)| n);
            let decoded = name.replace('+', " ").to_ascii_lowercase();
            if SECRET_PARAMS.contains(&decoded.as_str()) {
                format!("{name}=***")
            } else {
                pair.to_owned()
            }
        })
        .collect();
    format!("{path}?{}", pairs.join("&"))
}

/// The route pattern the request matched (`None`: no route), found once for the span and kept
/// for the metrics: matching walks the routes with a regular expression each.
#[derive(Clone)]
pub struct MatchedPattern(pub Option<String>);

/// The span builder `server` wraps around every request.
pub struct RedactedRootSpan;

impl RootSpanBuilder for RedactedRootSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        // Before `connection_info` below, which borrows the extensions until the span is made.
        let pattern = request.match_pattern();
        let route = pattern.clone().unwrap_or_else(|| "default".to_owned());
        request.extensions_mut().insert(MatchedPattern(pattern));
        let trust = request
            .app_data::<actix_web::web::Data<TrustForwardedFor>>()
            .is_some_and(|t| t.0);
        let connection = request.connection_info();
        let client_ip = if trust {
            connection.realip_remote_addr().unwrap_or("").to_owned()
        } else {
            request
                .peer_addr()
                .map(|a| a.ip().to_string())
                .unwrap_or_default()
        };
        let target = redact_target(
            request
                .uri()
                .path_and_query()
                .map(|p| p.as_str())
                .unwrap_or(""),
        );
        let user_agent = request
            .headers()
            .get("User-Agent")
            .and_then(|h| h.to_str().ok())
            .unwrap_or("");
        let request_id = request
            .extensions()
            .get::<RequestId>()
            .map(ToString::to_string)
            .unwrap_or_default();
        let method = request.method().as_str();
        tracing::info_span!(
            "HTTP request",
            http.method = %method,
            http.route = %route,
            http.flavor = ?request.version(),
            http.scheme = %connection.scheme(),
            http.host = %connection.host(),
            http.client_ip = %client_ip,
            http.user_agent = %user_agent,
            http.target = %target,
            http.status_code = tracing::field::Empty,
            otel.name = %format!("{method} {route}"),
            otel.kind = "server",
            otel.status_code = tracing::field::Empty,
            request_id = %request_id,
            exception.message = tracing::field::Empty,
            exception.details = tracing::field::Empty,
        )
    }

    /// One event per failed request, at the level it deserves: a refused request (4xx) is the
    /// client's business and logs at INFO, so WARN and ERROR stay for what an operator must look
    /// at; a server error (5xx) logs at ERROR.
    fn on_request_end<B: MessageBody>(span: Span, outcome: &Result<ServiceResponse<B>, Error>) {
        let failed = match outcome {
            Ok(response) => response
                .response()
                .error()
                .map(|e| (response.status(), e.to_string())),
            Err(e) => Some((e.as_response_error().status_code(), e.to_string())),
        };
        if let Some((status, message)) = failed {
            span.in_scope(|| {
                if status.is_server_error() {
                    tracing::error!(status = status.as_u16(), error = %message, "request failed");
                } else {
                    tracing::info!(status = status.as_u16(), error = %message, "request refused");
                }
            });
        }
        DefaultRootSpanBuilder::on_request_end(span, outcome);
    }
}

#[cfg(test)]
mod tests {
    use super::redact_target;

    #[test]
    fn secret_values_are_replaced_and_the_rest_kept() {
        assert_eq!(
            redact_target("/api/v1/me/calendar.ics?token=abc123&_=17"),
            "/api/v1/me/calendar.ics?token=***&_=17"
        );
        assert_eq!(redact_target("/x?TOKEN=a&q=beach"), "/x?TOKEN=***&q=beach");
        assert_eq!(redact_target("/x?a=1&password"), "/x?a=1&password=***");
        assert_eq!(
            redact_target("/api/v1/events?limit=5"),
            "/api/v1/events?limit=5"
        );
        assert_eq!(redact_target("/healthz"), "/healthz");
    }
}
