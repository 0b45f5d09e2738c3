//! tomoni: the employee volunteering programme service.
//!
//! The binary (`src/main.rs`) is a thin CLI over this library; integration tests build the same
//! [`AppState`] and call the same [`http::build_server`] as production.

pub mod config;
pub mod db;
pub mod error;
pub mod http;
pub mod telemetry;

use std::sync::Arc;

pub use config::Settings;

/// What every request handler can reach.
pub struct AppState {
    pub pool: db::Pool,
    pub backend: db::Backend,
    pub settings: Arc<Settings>,
    pub metrics: Arc<http::metrics::Metrics>,
}

impl AppState {
    /// Opens (and, as configured, creates and migrates) the database and prepares the state.
    pub fn init(settings: Settings) -> Result<AppState, db::DbError> {
        let pool = db::init(&settings.database)?;
        let backend =
            db::DatabaseUrl::parse(&settings.database.url, settings.database.connect_timeout())?
                .backend();
        Ok(AppState {
            pool,
            backend,
            settings: Arc::new(settings),
            metrics: Arc::new(http::metrics::Metrics::new()),
        })
    }
}
