//! One error type for the whole service, answered as `application/problem+json` (RFC 9457).
//!
//! Every problem carries a stable machine-readable `code` (clients switch on it; wording of
//! `title`/`detail` may change) and, for validation failures, per-field `errors`. The catalogue
//! of codes lives in README.md ("Errors").
//!
//! A leaf module: services in every feature return [`AppError`], and each front door renders it
//! (the API as problem+json in `http::problem`). The status and header types are the `http`
//! crate's values (re-exported by actix-web); nothing here depends on a request or a response.

use std::borrow::Cow;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderName, HeaderValue};
use diesel::result::DatabaseErrorKind;
use serde::Serialize;
use utoipa::ToSchema;

pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";

/// One invalid input field.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq)]
pub struct FieldError {
    /// JSON pointer-like path of the field, e.g. `capacity` or `rows[3].email`.
    pub field: String,
    /// Stable reason code, e.g. `required`, `too_long`, `invalid_format`.
    pub code: Cow<'static, str>,
    /// Human-readable explanation.
    pub message: String,
    /// For file imports: the line of the file (1 = the header).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
}

impl FieldError {
    pub fn new(field: impl Into<String>, code: &'static str, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            code: Cow::Borrowed(code),
            message: message.into(),
            line: None,
        }
    }

    /// The same error, located at a line of an imported file.
    pub fn at_line(mut self, line: u64) -> Self {
        self.line = Some(line);
        self
    }
}

/// The problem document as it goes over the wire.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// URI naming the problem type: `urn:tomoni:problem:<code>`.
    #[serde(rename = "type")]
    pub type_uri: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Stable, machine-readable error code.
    pub code: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

/// An error on its way to becoming a problem response.
#[derive(Debug)]
pub struct AppError {
    status: StatusCode,
    code: &'static str,
    detail: String,
    errors: Vec<FieldError>,
    headers: Vec<(HeaderName, HeaderValue)>,
    /// What went wrong underneath; logged for server errors, never sent to the client.
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        AppError {
            status,
            code,
            detail: detail.into(),
            errors: Vec::new(),
            headers: Vec::new(),
            source: None,
        }
    }

    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, detail)
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", detail)
    }

    pub fn conflict(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, detail)
    }

    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", detail)
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", detail)
    }

    /// 422 with one entry per invalid field.
    pub fn validation(errors: Vec<FieldError>) -> Self {
        let detail = match errors.len() {
            1 => "1 field is invalid".to_owned(),
            n => format!("{n} fields are invalid"),
        };
        let mut err = Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            detail,
        );
        err.errors = errors;
        err
    }

    /// 500. The source is logged with the request's span; the client sees a generic message.
    pub fn internal(source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        let mut err = Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "an unexpected error occurred",
        );
        err.source = Some(source.into());
        err
    }

    /// 503 for a database that cannot be reached right now; clients may retry.
    pub fn database_unavailable(
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        let mut err = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "database_unavailable",
            "the database is not reachable right now; retry shortly",
        );
        err.source = Some(source.into());
        err.with_header(header::RETRY_AFTER, HeaderValue::from_static("1"))
    }

    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the request body is larger than the limit of {limit} bytes"),
        )
    }

    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }

    pub fn with_field(mut self, field: FieldError) -> Self {
        self.errors.push(field);
        self
    }

    pub fn code(&self) -> &'static str {
        self.code
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn detail(&self) -> &str {
        &self.detail
    }

    /// The field errors of a validation failure.
    pub fn field_errors(&self) -> &[FieldError] {
        &self.errors
    }

    /// Headers the response must carry (`Allow`, `Retry-After`, `WWW-Authenticate`).
    pub fn headers(&self) -> &[(HeaderName, HeaderValue)] {
        &self.headers
    }

    /// The same error with another explanation for the client.
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = detail.into();
        self
    }

    /// The error that a bare status (from actix itself or a middleware) stands for.
    pub fn from_status(status: StatusCode) -> Self {
        let (code, detail) = match status {
            StatusCode::NOT_FOUND => ("route_not_found", "no such route"),
            StatusCode::METHOD_NOT_ALLOWED => (
                "method_not_allowed",
                "this route does not accept that method",
            ),
            StatusCode::PAYLOAD_TOO_LARGE => ("payload_too_large", "the request body is too large"),
            StatusCode::REQUEST_TIMEOUT => {
                ("request_timeout", "the request took too long to arrive")
            }
            StatusCode::UNSUPPORTED_MEDIA_TYPE => {
                ("unsupported_media_type", "unsupported content type")
            }
            StatusCode::URI_TOO_LONG => ("uri_too_long", "the request URI is too long"),
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => {
                ("headers_too_large", "request headers are too large")
            }
            StatusCode::UNAUTHORIZED => ("unauthorized", "authentication required"),
            StatusCode::FORBIDDEN => ("forbidden", "not allowed"),
            StatusCode::SERVICE_UNAVAILABLE => ("unavailable", "the service is unavailable"),
            s if s.is_server_error() => ("internal", "an unexpected error occurred"),
            _ => ("bad_request", "the request could not be processed"),
        };
        Self::new(status, code, detail)
    }

    pub fn to_problem(&self) -> Problem {
        Problem {
            type_uri: format!("urn:tomoni:problem:{}", self.code),
            title: self.status.canonical_reason().unwrap_or("Error").to_owned(),
            status: self.status.as_u16(),
            detail: self.detail.clone(),
            code: self.code.to_owned(),
            errors: self.errors.clone(),
        }
    }
}

impl std::fmt::Display for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.code, self.detail)?;
        if let Some(source) = &self.source {
            write!(f, " ({source})")?;
        }
        Ok(())
    }
}

impl std::error::Error for AppError {}

impl From<diesel::result::Error> for AppError {
    fn from(err: diesel::result::Error) -> Self {
        use diesel::result::Error as E;
        match &err {
            E::NotFound => AppError::not_found("no such resource"),
            E::DatabaseError(kind, info) => match kind {
                DatabaseErrorKind::UniqueViolation => AppError::conflict(
                    "conflict",
                    "a record with the same unique value already exists",
                ),
                DatabaseErrorKind::ForeignKeyViolation => AppError::conflict(
                    "reference_conflict",
                    "the record refers to something that does not exist, or is still referred to",
                ),
                // The database's own text names its tables and constraints: it goes to the
                // log with the error, not to the client.
                DatabaseErrorKind::CheckViolation | DatabaseErrorKind::NotNullViolation => {
                    let mut e = AppError::new(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "constraint_violation",
                        "the change would break a rule of the stored data",
                    );
                    e.source = Some(Box::new(err));
                    e
                }
                DatabaseErrorKind::SerializationFailure => {
                    let mut e = AppError::new(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "retry",
                        "a concurrent change interfered; retry the request",
                    );
                    e.source = Some(Box::new(err));
                    e.with_header(header::RETRY_AFTER, HeaderValue::from_static("1"))
                }
                DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand => {
                    AppError::database_unavailable(err)
                }
                // SQLite answers SQLITE_BUSY when busy_timeout ran out.
                _ if info.message().contains("database is locked") => {
                    AppError::database_unavailable(err)
                }
                _ => AppError::internal(err),
            },
            _ => AppError::internal(err),
        }
    }
}

impl From<diesel::r2d2::PoolError> for AppError {
    fn from(err: diesel::r2d2::PoolError) -> Self {
        AppError::database_unavailable(err)
    }
}
