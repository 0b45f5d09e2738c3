//! The JSON body extractor every handler uses instead of `web::Json`.
//!
//! actix's own extractor reports a wrong field as one serde message, which names neither the
//! field's path reliably nor keeps the offending value out of the message (so a mistyped
//! password would be echoed into logs). This one parses with the same limits and content-type
//! rules, then maps the body onto `T` with `serde_path_to_error`: a 422 `invalid_body` whose
//! `errors` name each field by path, with the value itself left out.

use std::future::Future;
use std::pin::Pin;

use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use serde::de::DeserializeOwned;

use crate::error::{AppError, FieldError};

/// A JSON request body of type `T`.
pub struct Json<T>(pub T);

impl<T> Json<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Json<T>, actix_web::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        // Size limit, content type and syntax: actix's extractor with our error handler.
        let value = web::Json::<serde_json::Value>::from_request(req, payload);
        Box::pin(async move {
            let value = value.await?.into_inner();
            typed(value).map(Json).map_err(Into::into)
        })
    }
}

/// A JSON body read but not yet mapped onto `T`: a handler that first decides whether the
/// caller may do this at all calls [`Deferred::parse`] after that check, so a caller without the
/// right gets 403 whatever the body holds (not a 422 about fields they may not send anyway).
pub struct Deferred<T> {
    value: serde_json::Value,
    _type: std::marker::PhantomData<T>,
}

impl<T: DeserializeOwned> Deferred<T> {
    /// The body as `T`, with the same errors as [`Json`].
    pub fn parse(self) -> Result<T, AppError> {
        typed(self.value)
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for Deferred<T> {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Deferred<T>, actix_web::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let value = web::Json::<serde_json::Value>::from_request(req, payload);
        Box::pin(async move {
            Ok(Deferred {
                value: value.await?.into_inner(),
                _type: std::marker::PhantomData,
            })
        })
    }
}

/// Maps a parsed body onto `T`: control characters refused, every wrong field named by path,
/// values left out of the messages.
fn typed<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, AppError> {
    if let Some(field) = crate::input::control_character_path(&value) {
        let message = "text may not contain NUL or other control characters \
                       (line breaks and tabs are fine)";
        return Err(AppError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
            format!("{field}: {message}"),
        )
        .with_field(FieldError::new(field, "control_character", message)));
    }
    serde_path_to_error::deserialize::<_, T>(value).map_err(|e| {
        let field = match e.path().to_string() {
            p if p == "." || p.is_empty() => "body".to_owned(),
            p => p,
        };
        let (code, message) = describe(&e.inner().to_string());
        let detail = format!("{field}: {message}");
        AppError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", detail)
            .with_field(FieldError::new(field, code, message))
    })
}

/// An optional JSON body: `None` for a request without one (no content type, no length), else
/// exactly [`Json`] (a malformed body is still a 422, never silently ignored).
pub struct MaybeJson<T>(pub Option<T>);

impl<T: DeserializeOwned + 'static> FromRequest for MaybeJson<T> {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<MaybeJson<T>, actix_web::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        use actix_web::http::header;
        let headers = req.headers();
        let empty = !headers.contains_key(header::CONTENT_TYPE)
            && headers
                .get(header::CONTENT_LENGTH)
                .is_none_or(|l| l.as_bytes() == b"0")
            && !headers.contains_key(header::TRANSFER_ENCODING);
        if empty {
            return Box::pin(async { Ok(MaybeJson(None)) });
        }
        let body = Json::<T>::from_request(req, payload);
        Box::pin(async move { Ok(MaybeJson(Some(body.await?.into_inner()))) })
    }
}

/// A stable code and a message without the offending value. serde writes values into
/// "invalid type: string \"hunter2\", expected ..." — we keep the kind ("string") only.
pub(crate) fn describe(message: &str) -> (&'static str, String) {
    for (prefix, code) in [
        ("invalid type: ", "invalid_type"),
        ("invalid value: ", "invalid_value"),
    ] {
        if let Some(rest) = message.strip_prefix(prefix) {
            let (found, expected) = rest
                .split_once(", expected ")
                .unwrap_or((rest, "another value"));
            let kind = found.split([' ', '`', '"']).next().unwrap_or("value");
            return (
                code,
                format!("{}{kind}, expected {}", prefix, in_words(expected)),
            );
        }
    }
    // Path and query values: "can not parse \"abc\" to a i32", "invalid digit found in
    // string", "UUID parsing failed: ...", "provided string was not `true` or `false`".
    if let Some((_, target)) = message
        .strip_prefix("can not parse ")
        .and_then(|rest| rest.rsplit_once(" to "))
    {
        return ("invalid_value", format!("expected {}", in_words(target)));
    }
    if message.contains("invalid digit")
        || message.contains("cannot parse integer")
        || message.contains("number too large")
        || message.contains("number too small")
    {
        return ("invalid_value", "expected a whole number".to_owned());
    }
    if message.contains("UUID") || message.contains("invalid character: expected") {
        return ("invalid_value", "expected an id (a UUID)".to_owned());
    }
    if message.contains("`true` or `false`") {
        return ("invalid_value", "expected true or false".to_owned());
    }
    if message.starts_with("unknown field") {
        return ("unknown_field", message.to_owned());
    }
    if message.starts_with("missing field") {
        return ("required", message.to_owned());
    }
    if message.starts_with("unknown variant") {
        // "unknown variant `x`, expected one of ..." — the variant is the client's typo, not a
        // secret, but keep the rule simple: never echo values.
        let expected = message
            .split_once(", expected ")
            .map(|(_, e)| e)
            .unwrap_or("a known value");
        return (
            "invalid_value",
            format!("unknown value, expected {expected}"),
        );
    }
    ("invalid", "invalid value".to_owned())
}

/// What serde expected, in words rather than Rust type names ("struct CreateEvent", "a i32").
fn in_words(expected: &str) -> String {
    let t = expected.trim();
    let bare = t
        .strip_prefix("an ")
        .or_else(|| t.strip_prefix("a "))
        .unwrap_or(t);
    let words = match bare {
        "i8" | "i16" | "i32" | "i64" | "u8" | "u16" | "u32" | "u64" | "usize" | "isize" => {
            "a whole number"
        }
        "f32" | "f64" => "a number",
        "bool" | "boolean" => "true or false",
        "char" => "a single character",
        "UUID" | "Uuid" | "uuid" => "an id (a UUID)",
        b if b.starts_with("struct ") || b.starts_with("map") => "an object",
        b if b.starts_with("sequence") || b.starts_with("tuple") => "a list",
        b if b.starts_with("enum ") => "one of the listed values",
        _ => return t.to_owned(),
    };
    words.to_owned()
}

#[cfg(test)]
mod tests {
    use super::describe;

    #[test]
    fn type_names_become_words() {
        assert_eq!(
            describe("invalid type: string \"x\", expected struct CreateEvent").1,
            "invalid type: string, expected an object"
        );
        assert_eq!(
            describe("can not parse \"abc\" to a i32").1,
            "expected a whole number"
        );
        assert_eq!(
            describe("invalid digit found in string").1,
            "expected a whole number"
        );
        let uuid = describe(
            "UUID parsing failed: invalid character: expected an optional prefix of `urn:uuid:` \
             followed by [0-9a-fA-F-], found `z` at 1",
        );
        assert_eq!(uuid.1, "expected an id (a UUID)");
        assert_eq!(
            describe("provided string was not `true` or `false`").1,
            "expected true or false"
        );
    }

    #[test]
    fn values_are_left_out_of_messages() {
        let (code, m) = describe("invalid type: string \"hunter2\", expected u32");
        assert_eq!(code, "invalid_type");
        assert_eq!(m, "invalid type: string, expected a whole number");
        let (_, m) = describe("invalid type: integer `12345`, expected a string");
        assert_eq!(m, "invalid type: integer, expected a string");
        let (code, m) = describe("unknown variant `root`, expected one of `employee`, `hr`");
        assert_eq!(code, "invalid_value");
        assert!(!m.contains("root"));
        assert_eq!(describe("missing field `email`").0, "required");
        assert_eq!(
            describe("unknown field `role`, expected `email`").0,
            "unknown_field"
        );
    }
}
