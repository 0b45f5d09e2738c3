//! The pages' form extractor: actix's URL-encoded form with the check every JSON body gets too
//! (`http::json`) — no NUL or other control character in any field (PostgreSQL refuses NUL in
//! text, and such a character would reach calendars and mail). A form holding one is answered
//! 422 on an error page before any handler runs; nothing is written.

use std::future::Future;
use std::ops::Deref;
use std::pin::Pin;

use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use serde::de::DeserializeOwned;

use crate::error::AppError;
use crate::input::is_forbidden_control;
use crate::web::page::PageError;
use crate::web::visitor::request_lang;

/// A form body of type `T` (a struct, or `Vec<(String, String)>` for repeated fields).
pub struct Form<T>(pub T);

impl<T> Form<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> Deref for Form<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for Form<T> {
    type Error = PageError;
    type Future = Pin<Box<dyn Future<Output = Result<Form<T>, PageError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let pairs = web::Form::<Vec<(String, String)>>::from_request(req, payload);
        let lang = request_lang(req);
        Box::pin(async move {
            let refuse = |code: &'static str, detail: String| {
                PageError::in_lang(
                    AppError::new(StatusCode::UNPROCESSABLE_ENTITY, code, detail),
                    lang,
                )
            };
            let pairs = pairs
                .await
                .map_err(|e| refuse("invalid_form", e.to_string()))?
                .into_inner();
            if let Some((name, _)) = pairs
                .iter()
                .find(|(k, v)| k.chars().chain(v.chars()).any(is_forbidden_control))
            {
                return Err(refuse(
                    "control_character",
                    format!(
                        "{name}: text may not contain NUL or other control characters \
                         (line breaks and tabs are fine)"
                    ),
                ));
            }
            // Decoded once above; the typed reading is the same serde mapping actix uses.
            let encoded = serde_urlencoded::to_string(&pairs)
                .map_err(|e| refuse("invalid_form", e.to_string()))?;
            serde_urlencoded::from_str::<T>(&encoded)
                .map(Form)
                .map_err(|e| refuse("invalid_form", e.to_string()))
        })
    }
}

/// The value of `name` in a form read as pairs (`Form<Vec<(String, String)>>`, for repeated
/// fields); "" when absent.
pub fn field<'a>(form: &'a [(String, String)], name: &str) -> &'a str {
    form.iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.as_str())
}
