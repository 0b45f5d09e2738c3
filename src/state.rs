//! What both front doors and the background worker share: the pool, the settings, the token
//! keys, the sign-in limiter and the metrics registry, built once at start-up.

use std::sync::Arc;

use crate::config::{self, Settings};
use crate::{auth, db, metrics, people, stats};

/// What every request handler can reach.
pub struct AppState {
    pub pool: db::Pool,
    /// Reads that may come from the replica (`database.read_url`); the primary otherwise.
    pub reads: Arc<db::replica::Reads>,
    pub backend: db::Backend,
    pub settings: Arc<Settings>,
    pub metrics: Arc<metrics::Metrics>,
    pub tokens: auth::tokens::TokenKeys,
    pub login_limiter: auth::ratelimit::LoginLimiter,
    /// "Forgot password" requests, on the sign-in budgets but counted apart from sign-ins.
    pub reset_limiter: auth::ratelimit::LoginLimiter,
    /// Check-in attempts per employee and event.
    pub check_in_limiter: auth::ratelimit::CheckInLimiter,
    /// The external identity provider, when configured.
    pub idp: Option<auth::idp::ExternalIdp>,
    /// Web sign-in through the identity provider (OpenID Connect), when configured.
    pub oidc: Option<auth::oidc::Oidc>,
    /// Keys the fingerprints of idempotent requests (derived from the JWT secret).
    pub idempotency_key: config::Secret,
    /// The bound on exports running at once.
    pub export_slots: crate::exports::slots::ExportSlots,
    /// How far the imports this instance runs in the background have got.
    pub import_progress: crate::jobs::Progress,
    /// The employees' event list, kept for a moment (`programs::list_cache`).
    pub event_lists: Arc<crate::programs::list_cache::ListCache>,
}

/// The first administrator's password file, in the data folder.
pub const FIRST_ADMIN_FILE: &str = "first-admin-password.txt";

/// Writes `text` to a new file at `path` that only this account may read (0600 on Unix).
fn write_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Db(#[from] db::DbError),
    #[error(transparent)]
    Secret(#[from] auth::secret::SecretError),
    #[error(transparent)]
    Idp(#[from] auth::idp::IdpError),
    #[error("cannot prepare the statistics: {0}")]
    Stats(crate::error::AppError),
    #[error("cannot create the first administrator: {0}")]
    Bootstrap(crate::error::AppError),
}

impl AppState {
    /// Starts a download (`exports::download::start`) with this instance's export places, read
    /// connections, metrics and stall timeout, the same for the API and the pages.
    pub async fn start_download(
        &self,
        export: crate::exports::download::Export,
    ) -> crate::error::AppResult<crate::exports::download::Download> {
        let stall = std::time::Duration::from_secs(self.settings.exports.stall_timeout_secs);
        crate::exports::download::start(
            &self.export_slots,
            &self.reads,
            &self.metrics,
            &self.settings.database,
            stall,
            export,
        )
        .await
    }

    /// The idempotency-key store the creating endpoints run their work through.
    pub fn idempotency(&self) -> crate::http::idempotency::Store<'_> {
        crate::http::idempotency::Store {
            pool: &self.pool,
            secret: self.idempotency_key.expose().as_bytes(),
        }
    }

    /// Opens (and, as configured, creates and migrates) the database and prepares the state.
    pub fn init(settings: Settings) -> Result<AppState, StartError> {
        let pool = db::init(&settings.database)?;
        {
            let mut conn = pool.get().map_err(db::DbError::Pool)?;
            let fiscal = settings.stats.fiscal();
            if stats::rollup::ensure_calendar(&mut conn, fiscal).map_err(StartError::Stats)? {
                tracing::info!(
                    start_month = fiscal.start_month(),
                    "fiscal year start changed: statistics rebuilt"
                );
            }
        }
        let backend =
            db::DatabaseUrl::parse(&settings.database.url, settings.database.connect_timeout())?
                .backend();
        let secret = auth::secret::resolve(&settings)?;
        let tokens = auth::tokens::TokenKeys::new(&secret, &settings.jwt);
        // On PostgreSQL every instance shares the attempt budgets (see `auth::ratelimit`).
        let shared =
            |name: &'static str| (backend == db::Backend::Postgres).then(|| (pool.clone(), name));
        let login_limiter = auth::ratelimit::LoginLimiter::new(&settings.auth, shared("login"));
        let reset_limiter = auth::ratelimit::LoginLimiter::new(&settings.auth, shared("reset"));
        let check_in_limiter = auth::ratelimit::CheckInLimiter::new(
            settings.attendance.check_in_attempt_burst,
            settings.attendance.check_in_attempt_period_secs,
        );
        let idp = auth::idp::ExternalIdp::from_settings(&settings.auth.idp)?;
        let oidc = auth::oidc::Oidc::from_settings(&settings.auth.oidc, &secret);
        let settings_exports = settings.exports.clone();
        let reads = Arc::new(db::replica::Reads::new(pool.clone(), &settings.database)?);
        let event_lists = Arc::new(crate::programs::list_cache::ListCache::new(
            settings.database.list_cache_ms,
        ));
        Ok(AppState {
            pool,
            reads,
            backend,
            settings: Arc::new(settings),
            metrics: Arc::new(metrics::Metrics::new()),
            tokens,
            login_limiter,
            reset_limiter,
            check_in_limiter,
            idp,
            oidc,
            idempotency_key: config::Secret::new(format!("idempotency:{}", secret.expose())),
            export_slots: crate::exports::slots::ExportSlots::new(&settings_exports),
            import_progress: crate::jobs::Progress::default(),
            event_lists,
        })
    }

    /// On an empty database, creates the first administrator: the only way into a fresh
    /// installation without the CLI. Its password never goes into the log (production ships
    /// logs to log stores): it is written to a file only this account can read, in the data
    /// folder, and shown once on the terminal when there is one; the log says where the file is.
    /// Another instance racing to do the same is fine (the loser finds the account taken).
    pub fn bootstrap_admin(&self) -> Result<(), StartError> {
        let mut conn = self
            .pool
            .get()
            .map_err(|e| StartError::Bootstrap(e.into()))?;
        match people::users::bootstrap_admin(&mut conn, &self.settings.auth.bootstrap_admin_email) {
            Ok(Some((email, password))) => {
                let path = self.settings.data.dir.join(FIRST_ADMIN_FILE);
                let change = format!("tomoni user set-password --email {email}");
                match write_private(&path, &format!("{email}\n{password}\n")) {
                    Ok(()) => tracing::warn!(
                        file = %path.display(),
                        "created the first administrator {email}; its password is in {} \
                         (readable only by this account): sign in, change it with `{change}`, \
                         then delete the file",
                        path.display()
                    ),
                    Err(e) => tracing::error!(
                        file = %path.display(),
                        error = %e,
                        "created the first administrator {email} but could not write its \
                         password file; set a password with `{change}`"
                    ),
                }
                if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
                    eprintln!(
                        "\n  First administrator: {email}\n  Password: {password}\n  \
                         (shown once; also in {}; change it with `{change}`)\n",
                        path.display()
                    );
                }
                Ok(())
            }
            Ok(None) => Ok(()),
            Err(e) if e.code() == "user_exists" => Ok(()),
            Err(e) => Err(StartError::Bootstrap(e)),
        }
    }
}
