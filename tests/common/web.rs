//! Speaking to the pages as a browser does, over real HTTP: a cookie jar of one session,
//! form posts with the page's CSRF token, redirects not followed (tests look at them).

use super::{TestApp, TestUser};

/// A response of a page: status, headers, body text.
pub struct Page {
    pub status: u16,
    pub headers: awc::http::header::HeaderMap,
    pub body: String,
}

impl Page {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }

    pub fn location(&self) -> Option<String> {
        self.header("location")
    }

    /// Every `Set-Cookie` header.
    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all("set-cookie")
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect()
    }

    /// The value of the page's first CSRF field.
    pub fn csrf(&self) -> String {
        let marker = "name=\"csrf\" value=\"";
        let start = self
            .body
            .find(marker)
            .unwrap_or_else(|| panic!("no CSRF field in {}", self.body))
            + marker.len();
        self.body[start..]
            .split('"')
            .next()
            .unwrap_or_default()
            .to_owned()
    }
}

/// One browser: the cookies it holds and the language it asks for.
#[derive(Clone, Default)]
pub struct Browser {
    pub cookies: Vec<(String, String)>,
    pub accept_language: Option<String>,
}

impl Browser {
    /// The `Cookie` header this browser sends.
    pub fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn remember(&mut self, page: &Page) {
        for c in page.set_cookies() {
            let pair = c.split(';').next().unwrap_or_default();
            if let Some((name, value)) = pair.split_once('=') {
                self.cookies.retain(|(k, _)| k != name);
                let removed = c.contains("Max-Age=0") || value.is_empty();
                if !removed {
                    self.cookies.push((name.to_owned(), value.to_owned()));
                }
            }
        }
    }

    fn client() -> awc::Client {
        awc::Client::builder()
            .disable_redirects()
            .timeout(std::time::Duration::from_secs(30))
            .finish()
    }

    async fn read(
        mut res: awc::ClientResponse<
            impl futures_core::Stream<Item = Result<actix_web::web::Bytes, awc::error::PayloadError>>
            + Unpin,
        >,
    ) -> Page {
        let body = res.body().limit(8 * 1024 * 1024).await.expect("page body");
        Page {
            status: res.status().as_u16(),
            headers: res.headers().clone(),
            body: String::from_utf8_lossy(&body).into_owned(),
        }
    }

    pub async fn get(&mut self, app: &TestApp, path: &str) -> Page {
        let mut req = Self::client()
            .get(app.url(path))
            .insert_header(("Cookie", self.cookie_header()))
            .insert_header(("Sec-Fetch-Site", "same-origin"));
        if let Some(l) = &self.accept_language {
            req = req.insert_header(("Accept-Language", l.clone()));
        }
        let page = Self::read(req.send().await.expect("GET page")).await;
        self.remember(&page);
        page
    }

    /// A file as this browser downloads it (a GET, or the POST of `form`): status, content type
    /// and the bytes, which need not be text.
    pub async fn download(
        &self,
        app: &TestApp,
        path: &str,
        form: Option<&[(&str, &str)]>,
    ) -> (u16, String, Vec<u8>) {
        let req = |r: awc::ClientRequest| {
            r.insert_header(("Cookie", self.cookie_header()))
                .insert_header(("Sec-Fetch-Site", "same-origin"))
        };
        let client = Self::client();
        let sent = match form {
            Some(form) => req(client.post(app.url(path))).send_form(&form).await,
            None => req(client.get(app.url(path))).send().await,
        };
        let mut res = sent.expect("download");
        let ct = res
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let body = res.body().limit(64 << 20).await.expect("body");
        (res.status().as_u16(), ct, body.to_vec())
    }

    /// Posts `form` as a same-origin browser form would (`Sec-Fetch-Site: same-origin`).
    pub async fn post(&mut self, app: &TestApp, path: &str, form: &[(&str, &str)]) -> Page {
        self.post_from(app, path, form, &[("Sec-Fetch-Site", "same-origin")])
            .await
    }

    /// Posts `form` with the given request headers (e.g. another site's `Origin`).
    pub async fn post_from(
        &mut self,
        app: &TestApp,
        path: &str,
        form: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> Page {
        let mut req = Self::client()
            .post(app.url(path))
            .insert_header(("Cookie", self.cookie_header()));
        for (k, v) in headers {
            req = req.insert_header((*k, *v));
        }
        if let Some(l) = &self.accept_language {
            req = req.insert_header(("Accept-Language", l.clone()));
        }
        let page = Self::read(req.send_form(&form).await.expect("POST page")).await;
        self.remember(&page);
        page
    }

    /// Signs `user` in through the sign-in form; asserts the redirect to the events.
    pub async fn sign_in(&mut self, app: &TestApp, user: &TestUser) -> Page {
        let page = self
            .post(
                app,
                "/sign-in",
                &[
                    ("email", &user.email),
                    ("password", &user.password),
                    ("next", "/events"),
                ],
            )
            .await;
        assert_eq!(page.status, 303, "sign-in: {}", page.body);
        assert_eq!(page.location().as_deref(), Some("/events"));
        page
    }

    /// The session cookie's value, if the browser holds one.
    pub fn session(&self) -> Option<String> {
        self.cookies
            .iter()
            .find(|(k, _)| k.ends_with("tomoni_session"))
            .map(|(_, v)| v.clone())
    }
}
