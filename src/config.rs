//! Settings: the compiled-in `config/default.toml` < `config/default.toml` on disk <
//! `config/$TOMONI_ENV.toml` < `--config FILE` < `TOMONI__SECTION__KEY` environment variables.
//!
//! Secrets are wrapped in [`Secret`] so that no `Debug` or log line can print them.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use config::{Config, Environment, File, FileFormat};
use serde::Deserialize;

/// The defaults, compiled in so that the binary needs no files next to it.
pub const DEFAULT_TOML: &str = include_str!("../config/default.toml");

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("configuration: {0}")]
    Load(#[from] config::ConfigError),
    #[error("configuration: cannot read {key} from {path}: {source}")]
    SecretFile {
        key: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("configuration: set either {key} or {key}_file, not both")]
    SecretTwice { key: &'static str },
    #[error("configuration: {0}")]
    Invalid(String),
    #[error(
        "refusing to start with TOMONI_ENV=production:\n  - {}\n",
        .0.join("\n  - ")
    )]
    UnsafeForProduction(Vec<String>),
}

/// A secret value. Prints as `***`.
#[derive(Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() { "\"\"" } else { "***" })
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    /// From `TOMONI_ENV` ("development" unless set); not a key in the files.
    #[serde(skip)]
    pub environment: String,
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub data: DataSettings,
    pub log: LogSettings,
    pub jwt: JwtSettings,
    pub auth: AuthSettings,
    pub mail: MailSettings,
    pub attendance: AttendanceSettings,
    pub stats: StatsSettings,
    pub exports: ExportSettings,
    pub retention: RetentionSettings,
}

/// How long personal data no longer needed is kept (see `retention`); 0 keeps it.
#[derive(Debug, Clone, Deserialize)]
pub struct RetentionSettings {
    /// Days after which a sent, dead or cancelled email loses its address and body.
    pub outbox_days: u32,
    /// Days after which an audit entry loses its details (who, what, when stay).
    pub audit_details_days: u32,
}

/// The bound on downloads of exports (see `exports::slots`).
#[derive(Debug, Clone, Deserialize)]
pub struct ExportSettings {
    /// Exports streaming at once on this instance, each on its own database connection.
    pub concurrency: u32,
    /// Of those, per person.
    pub per_user: u32,
    /// A client that reads nothing for this long loses its download (audited as incomplete).
    pub stall_timeout_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct AttendanceSettings {
    pub check_in_opens_minutes_before: u32,
    pub allow_walk_ins: bool,
    pub auto_approve_roster: bool,
    pub default_minutes_per_day: u32,
    pub check_in_attempt_burst: u32,
    pub check_in_attempt_period_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct StatsSettings {
    pub fiscal_year_start_month: u32,
}

impl StatsSettings {
    /// The fiscal calendar; `validate` has checked the month.
    pub fn fiscal(&self) -> crate::time::FiscalCalendar {
        crate::time::FiscalCalendar::new(self.fiscal_year_start_month)
            .unwrap_or(crate::time::FiscalCalendar::APRIL)
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct AuthSettings {
    pub bootstrap_admin_email: String,
    pub login_account_burst: u32,
    pub login_account_period_secs: u64,
    pub login_account_ceiling_burst: u32,
    pub login_account_ceiling_period_secs: u64,
    pub login_address_burst: u32,
    pub login_address_period_secs: u64,
    pub trust_forwarded_for: bool,
    pub invitation_ttl_hours: u32,
    pub reset_ttl_minutes: u32,
    /// A web session (signed-in browser) ends this many hours after sign-in.
    pub session_ttl_hours: u32,
    pub idp: IdpSettings,
    pub oidc: OidcSettings,
}

/// Web sign-in through the company's identity provider (OpenID Connect); off while
/// `issuer_url` is empty.
#[derive(Debug, Clone, Deserialize)]
pub struct OidcSettings {
    pub issuer_url: String,
    pub client_id: String,
    pub client_secret: Secret,
    /// The sign-in button's words.
    pub label: String,
    pub match_by: IdpMatch,
    pub claim: String,
}

/// How a provider token is matched to a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdpMatch {
    Email,
    EmployeeNumber,
}

#[derive(Debug, Clone, Deserialize)]
pub struct IdpSettings {
    pub issuer: String,
    pub audience: String,
    pub algorithm: String,
    pub public_key_file: PathBuf,
    pub jwks_file: PathBuf,
    pub match_by: IdpMatch,
    pub claim: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ServerSettings {
    pub host: String,
    pub port: u16,
    pub workers: usize,
    pub shutdown_timeout_secs: u64,
    pub json_limit_bytes: usize,
    pub upload_limit_bytes: usize,
    /// The imports page checks and imports files from this size on after answering, showing
    /// how far it has got; smaller files are answered at once.
    pub import_background_bytes: usize,
    pub client_request_timeout_ms: u64,
    pub keep_alive_secs: u64,
    pub public_url: String,
    /// With a token, `/metrics` needs `Authorization: Bearer <token>`; without one, only the
    /// addresses of `metrics_allow` may read it.
    pub metrics_token: Secret,
    pub metrics_allow: Vec<std::net::IpAddr>,
}

impl ServerSettings {
    /// The address people reach the service at, without a trailing slash: every link that
    /// leaves the service (invitations, password resets, calendar feeds) starts with it. Unset,
    /// the listening address (right for one machine, wrong behind a proxy: production refuses it).
    pub fn public_base(&self) -> String {
        let configured = self.public_url.trim().trim_end_matches('/');
        if configured.is_empty() {
            let host = match self.host.as_str() {
                "0.0.0.0" | "::" | "[::]" => "127.0.0.1",
                h => h,
            };
            format!("http://{host}:{}", self.port)
        } else {
            configured.to_owned()
        }
    }
}

#[derive(Clone, Deserialize)]
pub struct DatabaseSettings {
    pub url: String,
    pub run_migrations: bool,
    pub create_database: bool,
    pub pool_max_size: u32,
    pub pool_min_idle: u32,
    pub connect_timeout_secs: u64,
    pub pool_idle_timeout_secs: u64,
    pub pool_max_lifetime_secs: u64,
    /// PostgreSQL only. Off behind a pooler in transaction mode (PgBouncer before 1.21): a named
    /// prepared statement lives on one server connection, and the pooler hands the next
    /// transaction to another.
    pub prepared_statements: bool,
    /// A streaming replica for reads that may be a moment behind (`db::replica`); empty: none.
    pub read_url: String,
    pub read_max_lag_ms: u64,
    /// How long an instance may answer a repeated employee event list from memory
    /// (`programs::list_cache`); 0: never.
    pub list_cache_ms: u64,
}

impl DatabaseSettings {
    pub fn connect_timeout(&self) -> Duration {
        Duration::from_secs(self.connect_timeout_secs.max(1))
    }
}

/// A database URL fit for logs and error messages: the password of a `postgres://` URL replaced
/// by `***`, a SQLite path as `sqlite://PATH`.
pub fn redact_url(url: &str) -> String {
    let url = url.trim();
    if let Some(path) = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
    {
        return format!("sqlite://{path}");
    }
    if url.starts_with("postgres") || url.contains("://") {
        return match url::Url::parse(url) {
            Ok(mut parsed) if parsed.password().is_some() => {
                let _ = parsed.set_password(Some("***"));
                parsed.to_string()
            }
            Ok(parsed) => parsed.to_string(),
            Err(_) => "<unparseable URL>".to_owned(),
        };
    }
    format!("sqlite://{url}")
}

impl fmt::Debug for DatabaseSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseSettings")
            .field("url", &redact_url(&self.url))
            .field("run_migrations", &self.run_migrations)
            .field("pool_max_size", &self.pool_max_size)
            .field("prepared_statements", &self.prepared_statements)
            .field("read_url", &redact_url(&self.read_url))
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct DataSettings {
    pub dir: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Auto,
    Pretty,
    Json,
}

#[derive(Debug, Clone, Deserialize)]
pub struct LogSettings {
    pub level: String,
    pub format: LogFormat,
}

#[derive(Debug, Clone, Deserialize)]
pub struct JwtSettings {
    pub secret: Secret,
    pub secret_file: PathBuf,
    pub issuer: String,
    pub audience: String,
    pub access_ttl_secs: u64,
    pub refresh_ttl_secs: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MailTransport {
    File,
    Smtp,
}

#[derive(Debug, Clone, Deserialize)]
pub struct MailSettings {
    pub transport: MailTransport,
    pub from: String,
    pub smtp: SmtpSettings,
    pub worker_enabled: bool,
    pub poll_interval_ms: u64,
    pub batch_size: u32,
    pub lease_secs: u64,
    pub max_attempts: u32,
    pub retry_base_ms: u64,
    pub reminder_hours_before: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    Starttls,
    Tls,
    None,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    pub username: String,
    pub password: Secret,
    pub password_file: PathBuf,
}

/// The minimum length of an HMAC secret we accept in production.
pub const MIN_JWT_SECRET_LEN: usize = 32;

impl Settings {
    /// Loads every layer. `config_dir` is where `default.toml` and `$TOMONI_ENV.toml` are looked
    /// for (normally `config/`); a missing folder is fine.
    pub fn load(config_dir: &Path, extra_file: Option<&Path>) -> Result<Settings, SettingsError> {
        let environment = std::env::var("TOMONI_ENV").unwrap_or_else(|_| "development".to_owned());
        let mut builder = Config::builder()
            .add_source(File::from_str(DEFAULT_TOML, FileFormat::Toml))
            .add_source(File::from(config_dir.join("default.toml")).required(false))
            .add_source(File::from(config_dir.join(format!("{environment}.toml"))).required(false));
        if let Some(path) = extra_file {
            builder = builder.add_source(File::from(path).required(true));
        }
        let config = builder
            .add_source(
                Environment::with_prefix("TOMONI")
                    .prefix_separator("__")
                    .separator("__")
                    .try_parsing(true),
            )
            .build()?;
        let mut settings: Settings = config.try_deserialize()?;
        settings.environment = environment;
        settings.resolve_secret_files()?;
        settings.validate()?;
        Ok(settings)
    }

    /// Only the compiled-in defaults: what tests start from.
    pub fn defaults() -> Result<Settings, SettingsError> {
        let config = Config::builder()
            .add_source(File::from_str(DEFAULT_TOML, FileFormat::Toml))
            .build()?;
        let mut settings: Settings = config.try_deserialize()?;
        settings.environment = "development".to_owned();
        Ok(settings)
    }

    pub fn is_production(&self) -> bool {
        self.environment == "production"
    }

    pub fn log_format(&self) -> LogFormat {
        match self.log.format {
            LogFormat::Auto if self.is_production() => LogFormat::Json,
            LogFormat::Auto => LogFormat::Pretty,
            other => other,
        }
    }

    fn resolve_secret_files(&mut self) -> Result<(), SettingsError> {
        read_secret_file("jwt.secret", &mut self.jwt.secret, &self.jwt.secret_file)?;
        read_secret_file(
            "mail.smtp.password",
            &mut self.mail.smtp.password,
            &self.mail.smtp.password_file,
        )?;
        Ok(())
    }

    /// Checks that hold everywhere, then the ones production adds. Every problem is reported at
    /// once so an operator fixes them in one go.
    pub fn validate(&self) -> Result<(), SettingsError> {
        if self.exports.concurrency == 0 || self.exports.per_user == 0 {
            return Err(SettingsError::Invalid(
                "exports.concurrency and exports.per_user must be at least 1".into(),
            ));
        }
        if self.exports.stall_timeout_secs == 0 {
            return Err(SettingsError::Invalid(
                "exports.stall_timeout_secs must be at least 1".into(),
            ));
        }
        if self.database.pool_max_size == 0 {
            return Err(SettingsError::Invalid(
                "database.pool_max_size must be at least 1".into(),
            ));
        }
        if self.server.json_limit_bytes == 0 || self.server.upload_limit_bytes == 0 {
            return Err(SettingsError::Invalid(
                "server body limits must be positive".into(),
            ));
        }
        if crate::time::FiscalCalendar::new(self.stats.fiscal_year_start_month).is_none() {
            return Err(SettingsError::Invalid(
                "stats.fiscal_year_start_month must be 1 (January) to 12 (December)".into(),
            ));
        }
        if !(1..=24 * 60).contains(&self.attendance.default_minutes_per_day) {
            return Err(SettingsError::Invalid(
                "attendance.default_minutes_per_day must be 1 to 1440".into(),
            ));
        }
        let public = self.server.public_url.trim();
        if !(public.is_empty() || public.starts_with("https://") || public.starts_with("http://")) {
            return Err(SettingsError::Invalid(
                "server.public_url must start with https:// or http://".into(),
            ));
        }
        let oidc = &self.auth.oidc;
        if !oidc.issuer_url.trim().is_empty()
            && (oidc.client_id.trim().is_empty()
                || url::Url::parse(oidc.issuer_url.trim()).is_err())
        {
            return Err(SettingsError::Invalid(
                "auth.oidc: issuer_url must be a URL and client_id must be set with it".into(),
            ));
        }
        if self.auth.invitation_ttl_hours == 0
            || self.auth.reset_ttl_minutes == 0
            || self.auth.session_ttl_hours == 0
        {
            return Err(SettingsError::Invalid(
                "auth.invitation_ttl_hours, auth.reset_ttl_minutes and auth.session_ttl_hours \
                 must be positive"
                    .into(),
            ));
        }
        if !self.is_production() {
            return Ok(());
        }
        let mut problems = Vec::new();
        if public.is_empty() {
            problems.push(
                "server.public_url is not set: links in invitation and password mails would \
                 point at the listening address (set e.g. https://volunteer.example.com)"
                    .to_owned(),
            );
        }
        if self.jwt.secret.is_empty() {
            problems.push(
                "jwt.secret is not set: set TOMONI__JWT__SECRET or TOMONI__JWT__SECRET_FILE \
                 (at least 32 random characters)"
                    .to_owned(),
            );
        } else if self.jwt.secret.expose().chars().count() < MIN_JWT_SECRET_LEN {
            problems.push(format!(
                "jwt.secret is shorter than {MIN_JWT_SECRET_LEN} characters"
            ));
        }
        match self.mail.transport {
            MailTransport::File => problems.push(
                "mail.transport = \"file\" delivers nowhere: set mail.transport = \"smtp\" and mail.smtp.host"
                    .to_owned(),
            ),
            MailTransport::Smtp if self.mail.smtp.host.trim().is_empty() => {
                problems.push("mail.transport = \"smtp\" but mail.smtp.host is empty".to_owned())
            }
            MailTransport::Smtp => {}
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(SettingsError::UnsafeForProduction(problems))
        }
    }
}

fn read_secret_file(
    key: &'static str,
    value: &mut Secret,
    file: &Path,
) -> Result<(), SettingsError> {
    if file.as_os_str().is_empty() {
        return Ok(());
    }
    if !value.is_empty() {
        return Err(SettingsError::SecretTwice { key });
    }
    let text = std::fs::read_to_string(file).map_err(|source| SettingsError::SecretFile {
        key,
        path: file.to_owned(),
        source,
    })?;
    *value = Secret::new(text.trim_end_matches(['\r', '\n']));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn production() -> Settings {
        let mut s = Settings::defaults().unwrap();
        s.environment = "production".into();
        s
    }

    #[test]
    fn defaults_parse_and_are_valid_for_development() {
        let s = Settings::defaults().unwrap();
        assert_eq!(s.server.port, 8080);
        assert_eq!(s.database.url, "sqlite://data/tomoni.db");
        s.validate().unwrap();
        assert_eq!(s.log_format(), LogFormat::Pretty);
    }

    #[test]
    fn production_refuses_defaults_and_names_every_problem() {
        let err = production().validate().unwrap_err().to_string();
        assert!(err.contains("jwt.secret is not set"), "{err}");
        assert!(err.contains("delivers nowhere"), "{err}");
        assert!(err.contains("server.public_url is not set"), "{err}");
    }

    #[test]
    fn the_public_base_is_configured_or_the_listening_address() {
        let mut s = Settings::defaults().unwrap();
        assert_eq!(s.server.public_base(), "http://127.0.0.1:8080");
        s.server.host = "0.0.0.0".into();
        assert_eq!(s.server.public_base(), "http://127.0.0.1:8080");
        s.server.public_url = "https://volunteer.example.com/".into();
        assert_eq!(s.server.public_base(), "https://volunteer.example.com");
        s.validate().unwrap();
        s.server.public_url = "volunteer.example.com".into();
        assert!(s.validate().unwrap_err().to_string().contains("https://"));
    }

    #[test]
    fn production_accepts_a_secret_and_smtp() {
        let mut s = production();
        s.jwt.secret = Secret::new("x".repeat(32));
        s.mail.transport = MailTransport::Smtp;
        s.mail.smtp.host = "smtp.example.com".into();
        s.server.public_url = "https://volunteer.example.com".into();
        s.validate().unwrap();
        assert_eq!(s.log_format(), LogFormat::Json);
        s.jwt.secret = Secret::new("short");
        assert!(
            s.validate()
                .unwrap_err()
                .to_string()
                .contains("shorter than 32")
        );
    }

    #[test]
    fn secret_file_is_read_without_trailing_newline() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        std::fs::write(&path, "s3cret-value\n").unwrap();
        let mut secret = Secret::default();
        read_secret_file("jwt.secret", &mut secret, &path).unwrap();
        assert_eq!(secret.expose(), "s3cret-value");
        assert!(
            read_secret_file("jwt.secret", &mut secret, &path).is_err(),
            "both set"
        );
        let mut empty = Secret::default();
        let missing = read_secret_file("jwt.secret", &mut empty, &dir.path().join("nope"));
        assert!(missing.unwrap_err().to_string().contains("jwt.secret"));
    }

    #[test]
    fn secrets_do_not_print() {
        let mut s = Settings::defaults().unwrap();
        s.jwt.secret = Secret::new("top-secret-value-top-secret-value");
        s.database.url = "postgres://u:hunter2@localhost/db".into();
        let printed = format!("{s:?}");
        assert!(!printed.contains("top-secret"), "{printed}");
        assert!(!printed.contains("hunter2"), "{printed}");
    }
}
