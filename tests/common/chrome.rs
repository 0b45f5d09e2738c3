//! A real headless Chromium (Debian's `chromium` and `chromium-driver`) driven over WebDriver
//! with fantoccini. Without the browser installed the tests say so and skip, unless
//! `TOMONI_TEST_REQUIRE_BROWSER=1` (set by `.ci/run`), which makes a missing browser a failure.
//!
//! Every check that fails saves a screenshot under `target/browser-failures/` first, so the
//! page as the browser saw it is there to look at.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

/// axe-core, vendored unedited (see `tests/vendor/README.md`).
const AXE: &str = include_str!("../vendor/axe-core-4.14.1/axe.min.js");

/// How long a check waits for the page to show what it expects.
const PATIENCE: Duration = Duration::from_secs(10);

fn tool(var: &str, default: &str) -> Option<PathBuf> {
    let path = std::env::var_os(var)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(default));
    path.is_file().then_some(path)
}

/// A browser window of a given size, on its own profile.
pub struct Chrome {
    pub client: Client,
    pub base: String,
    test: String,
    driver: Child,
    profile: tempfile::TempDir,
}

impl Chrome {
    /// Starts chromedriver and a headless Chromium of `width`×`height` CSS pixels pointing at
    /// `base`; `None` (with a note) when the browser is not installed and not required.
    pub async fn start(test: &str, base: &str, width: u32, height: u32) -> Option<Chrome> {
        let required = std::env::var("TOMONI_TEST_REQUIRE_BROWSER").as_deref() == Ok("1");
        let (Some(driver_bin), Some(chromium)) = (
            tool("TOMONI_CHROMEDRIVER", "/usr/bin/chromedriver"),
            tool("TOMONI_CHROMIUM", "/usr/bin/chromium"),
        ) else {
            assert!(
                !required,
                "TOMONI_TEST_REQUIRE_BROWSER=1 but chromium/chromedriver are not installed"
            );
            eprintln!("{test}: chromium or chromedriver not installed: browser test skipped");
            return None;
        };
        let port = super::free_port();
        let mut cmd = Command::new(driver_bin);
        cmd.arg(format!("--port={port}"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        // Its own process group: on drop the driver and every browser process under it go.
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let mut driver = cmd.spawn().expect("start chromedriver");
        // chromedriver prints this line once it accepts sessions.
        let stdout = driver.stdout.take().expect("chromedriver stdout");
        let mut lines = BufReader::new(stdout).lines();
        let ready = lines.by_ref().take(20).any(|l| {
            l.map(|l| l.contains("started successfully"))
                .unwrap_or(false)
        });
        assert!(ready, "chromedriver did not start");
        let profile = tempfile::tempdir().expect("browser profile folder");
        let caps = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                // Off the network: nothing but the app on loopback.
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-background-networking", "--disable-component-update",
                    "--no-first-run", "--disable-sync", "--disable-extensions",
                    "--hide-scrollbars", "--force-device-scale-factor=1",
                    format!("--user-data-dir={}", profile.path().display()),
                    format!("--window-size={width},{height}"),
                ],
                "prefs": {
                    "intl.accept_languages": "en",
                    // Downloads land in the profile's folder, without asking.
                    "download.default_directory": profile.path().join("downloads"),
                    "download.prompt_for_download": false,
                },
            }
        });
        let caps = match caps {
            Value::Object(map) => map,
            _ => unreachable!("capabilities are an object"),
        };
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("WebDriver session");
        // The window is the outer size; make the page's viewport the size asked for.
        let inner: Value = client
            .execute("return [window.innerWidth, window.innerHeight];", vec![])
            .await
            .expect("viewport size");
        let (iw, ih) = (
            inner[0].as_u64().unwrap_or(width.into()) as u32,
            inner[1].as_u64().unwrap_or(height.into()) as u32,
        );
        client
            .set_window_size(
                width + (width - iw.min(width)),
                height + (height - ih.min(height)),
            )
            .await
            .expect("window size");
        Some(Chrome {
            client,
            base: base.trim_end_matches('/').to_owned(),
            test: test.to_owned(),
            driver,
            profile,
        })
    }

    /// A browser for `lang` — English at desktop width, Japanese at phone width — with `user`
    /// signed in on `path` in that language, and the label its screenshots take.
    pub async fn signed_in(
        test: &str,
        app: &super::TestApp,
        user: &super::TestUser,
        lang: &str,
        path: &str,
    ) -> Option<(Chrome, &'static str)> {
        let (width, height, label) = if lang == "en" {
            (1280, 900, "en-desktop")
        } else {
            (390, 844, "ja-phone")
        };
        let chrome = Chrome::start(&format!("{test}_{lang}"), &app.url(""), width, height).await?;
        chrome.goto(path).await;
        chrome.sign_in(user).await;
        chrome.expect_path("signed in", path).await;
        chrome.goto(&format!("/lang/{lang}?next={path}")).await;
        Some((chrome, label))
    }

    /// The file the browser downloaded whose name ends with `suffix`, once it is complete.
    /// Chromium reserves the final name with an empty file as soon as the download starts and
    /// writes into `*.crdownload`, which it renames over that name at the end: so the file is
    /// complete only when it is not empty and no `*.crdownload` is left (CI once read the empty
    /// placeholder). Each look is paced by a round trip to the driver, as the other waits are.
    pub async fn downloaded(&self, step: &str, suffix: &str) -> PathBuf {
        let folder = self.profile.path().join("downloads");
        let deadline = std::time::Instant::now() + PATIENCE;
        while std::time::Instant::now() < deadline {
            let entries: Vec<(String, PathBuf, u64)> = std::fs::read_dir(&folder)
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| {
                    let len = e.metadata().map(|m| m.len()).unwrap_or(0);
                    (e.file_name().to_string_lossy().into_owned(), e.path(), len)
                })
                .collect();
            let writing = entries.iter().any(|(n, _, _)| n.ends_with(".crdownload"));
            let done = entries
                .iter()
                .find(|(n, _, len)| n.ends_with(suffix) && *len > 0);
            if let (false, Some((_, file, _))) = (writing, done) {
                return file.clone();
            }
            let _ = self.client.current_url().await;
        }
        self.fail(
            step,
            format!(
                "no complete download ending {suffix} in {}",
                folder.display()
            ),
        )
        .await
    }

    pub async fn goto(&self, path: &str) {
        self.client
            .goto(&format!("{}{path}", self.base))
            .await
            .expect("navigate");
    }

    /// The path and query the browser is on.
    pub async fn path(&self) -> String {
        let url = self.client.current_url().await.expect("current url");
        match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        }
    }

    /// Saves a screenshot of the window to `path`.
    pub async fn screenshot(&self, path: &std::path::Path) {
        let png = self.client.screenshot().await.expect("screenshot");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("screenshot folder");
        }
        std::fs::write(path, png).expect("write screenshot");
    }

    /// Fails the test with `message`, leaving a screenshot of the page behind.
    pub async fn fail(&self, step: &str, message: String) -> ! {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("target/browser-failures")
            .join(
                format!("{}-{}.png", self.test, step)
                    .replace(|c: char| !c.is_ascii_alphanumeric() && c != '-', "_"),
            );
        self.screenshot(&path).await;
        let url = self.path().await;
        panic!(
            "{step} (at {url}): {message}; screenshot: {}",
            path.display()
        );
    }

    /// The element `css`, waiting for it to appear.
    pub async fn find(&self, step: &str, css: &str) -> fantoccini::elements::Element {
        match self
            .client
            .wait()
            .at_most(PATIENCE)
            .for_element(Locator::Css(css))
            .await
        {
            Ok(e) => e,
            Err(e) => self.fail(step, format!("no element {css}: {e}")).await,
        }
    }

    pub async fn click(&self, step: &str, css: &str) {
        let element = self.find(step, css).await;
        if let Err(e) = element.click().await {
            self.fail(step, format!("cannot click {css}: {e}")).await;
        }
    }

    /// Clicks `css`, which loads a new page, and waits until the old page is gone (its root
    /// element goes stale): a check that follows cannot read the old page as the new one, even
    /// when both have the same address and the same marks (a form saved twice).
    pub async fn click_to_new_page(&self, step: &str, css: &str) {
        let old = match self.client.find(Locator::Css("html")).await {
            Ok(e) => e,
            Err(e) => self.fail(step, format!("no page: {e}")).await,
        };
        self.click(step, css).await;
        let deadline = std::time::Instant::now() + PATIENCE;
        // Each round trip to the driver is the wait: no sleeping.
        while std::time::Instant::now() < deadline {
            if old.tag_name().await.is_err() {
                return;
            }
        }
        self.fail(step, format!("clicking {css} loaded no new page"))
            .await
    }

    pub async fn fill(&self, step: &str, css: &str, text: &str) {
        let element = self.find(step, css).await;
        if let Err(e) = element.clear().await {
            self.fail(step, format!("cannot clear {css}: {e}")).await;
        }
        if let Err(e) = element.send_keys(text).await {
            self.fail(step, format!("cannot type into {css}: {e}"))
                .await;
        }
    }

    /// The text of `css` once it contains `needle` (waits for the page to get there).
    pub async fn expect_text(&self, step: &str, css: &str, needle: &str) -> String {
        let deadline = std::time::Instant::now() + PATIENCE;
        let mut last = String::new();
        // Each round trip to the driver is the wait: no sleeping.
        while std::time::Instant::now() < deadline {
            if let Ok(e) = self.client.find(Locator::Css(css)).await {
                last = e.text().await.unwrap_or_default();
                if last.contains(needle) {
                    return last;
                }
            }
        }
        self.fail(step, format!("{css} shows {last:?}, not {needle:?}"))
            .await
    }

    /// Waits until the browser is on an address containing `needle` (after a form was sent:
    /// the old page must not be read as the new one).
    pub async fn expect_path(&self, step: &str, needle: &str) {
        let deadline = std::time::Instant::now() + PATIENCE;
        let mut last = String::new();
        while std::time::Instant::now() < deadline {
            last = self.path().await;
            if last.contains(needle) {
                return;
            }
        }
        self.fail(step, format!("still at {last:?}, not at {needle:?}"))
            .await
    }

    /// The whole page's visible text.
    pub async fn page_text(&self) -> String {
        self.client
            .find(Locator::Css("body"))
            .await
            .expect("body")
            .text()
            .await
            .unwrap_or_default()
    }

    /// Runs axe-core on the page: no serious or critical violation of WCAG 2.1 A/AA.
    pub async fn axe(&self, step: &str) {
        let loaded = self
            .client
            .execute(&format!("{AXE}\n;return typeof axe;"), vec![])
            .await;
        if !matches!(loaded.as_ref().map(|v| v.as_str()), Ok(Some("object"))) {
            self.fail(step, format!("axe-core did not load: {loaded:?}"))
                .await;
        }
        let found = self
            .client
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})
                    .then(r => done(r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
                        .map(v => ({id: v.id, help: v.help, nodes: v.nodes.map(n => n.target.join(' '))}))))
                    .catch(e => done([{id: 'axe-error', help: String(e), nodes: []}]));",
                vec![],
            )
            .await;
        match found {
            Ok(Value::Array(v)) if v.is_empty() => {}
            other => {
                self.fail(step, format!("accessibility violations: {other:?}"))
                    .await
            }
        }
    }

    /// GETs `path` from inside the page (its cookies, its origin) and returns the body.
    pub async fn fetch_text(&self, path: &str) -> String {
        let got = self
            .client
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 fetch(arguments[0]).then(r => r.text()).then(done).catch(e => done('failed: ' + e));",
                vec![json!(path)],
            )
            .await
            .expect("fetch in page");
        got.as_str().unwrap_or_default().to_owned()
    }

    /// Sets a form field's value as a person's picker would (a `datetime-local` or a select:
    /// typing into those depends on the browser's locale), and tells the page it changed.
    pub async fn set_value(&self, step: &str, css: &str, value: &str) {
        self.find(step, css).await;
        let done = self
            .client
            .execute(
                "const e = document.querySelector(arguments[0]); e.value = arguments[1];
                 e.dispatchEvent(new Event('change', {bubbles: true})); return e.value;",
                vec![json!(css), json!(value)],
            )
            .await;
        if !matches!(done.as_ref().map(|v| v.as_str()), Ok(Some(v)) if v == value) {
            self.fail(step, format!("{css} did not take {value:?}: {done:?}"))
                .await;
        }
    }

    /// Fills and sends the sign-in form on the page the browser is on.
    pub async fn sign_in(&self, user: &super::TestUser) {
        self.fill("email", "#email", &user.email).await;
        self.fill("password", "#password", &user.password).await;
        self.click("sign in", "form.narrow button[type=submit]")
            .await;
    }

    /// Saves a screenshot for the docs when `TOMONI_SCREENSHOTS` names a folder.
    pub async fn shot(&self, page: &str, label: &str) {
        if let Some(dir) = std::env::var_os("TOMONI_SCREENSHOTS") {
            let path = PathBuf::from(dir).join(format!("{page}-{label}.png"));
            self.screenshot(&path).await;
        }
    }

    /// Ends the browser session.
    pub async fn close(self) {
        let _ = self.client.clone().close().await;
    }
}

impl Drop for Chrome {
    fn drop(&mut self) {
        // The driver's group: chromedriver and the browser it started.
        let _ = Command::new("kill")
            .arg("--")
            .arg(format!("-{}", self.driver.id()))
            .status();
        let _ = self.driver.wait();
    }
}

/// The language a browser test reads the pages in.
#[derive(Clone, Copy)]
pub enum Lang {
    En,
    Ja,
}

/// What the page says, per language.
pub fn says(lang: Lang, en: &'static str, ja: &'static str) -> &'static str {
    match lang {
        Lang::En => en,
        Lang::Ja => ja,
    }
}
