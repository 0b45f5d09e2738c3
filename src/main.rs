//! The `tomoni` command line.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tomoni::{AppState, Settings, db, http, telemetry};

/// tomoni: employee volunteering programme service.
///
/// Without a subcommand it serves the HTTP API (on SQLite at data/tomoni.db unless configured
/// otherwise). Settings come from config/default.toml < config/$TOMONI_ENV.toml < --config FILE <
/// TOMONI__SECTION__KEY environment variables (e.g. TOMONI__DATABASE__URL=postgres://...).
#[derive(Parser)]
#[command(name = "tomoni", version, about, long_about)]
struct Cli {
    /// Extra configuration file, applied after config/ and before environment variables.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,

    /// Folder holding default.toml and $TOMONI_ENV.toml.
    #[arg(
        long,
        global = true,
        value_name = "DIR",
        default_value = "config",
        env = "TOMONI_CONFIG_DIR"
    )]
    config_dir: PathBuf,

    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API (the default). Applies pending migrations first unless
    /// database.run_migrations = false.
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::load(&cli.config_dir, cli.config.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("tomoni: {e}");
            return ExitCode::from(2);
        }
    };
    telemetry::init(&settings);
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(settings),
        Command::Migrate => migrate(settings),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("tomoni: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn migrate(mut settings: Settings) -> anyhow::Result<()> {
    settings.database.run_migrations = false;
    let mut conn = db::connect(&settings.database).or_else(|_| {
        // Let init create the PostgreSQL database when it is missing, then connect.
        db::init(&settings.database).map(drop)?;
        db::connect(&settings.database)
    })?;
    let applied = db::run_migrations(&mut conn)?;
    tracing::info!(applied, "migrations up to date");
    Ok(())
}

fn serve(settings: Settings) -> anyhow::Result<()> {
    let addr = (settings.server.host.clone(), settings.server.port);
    let state = AppState::init(settings)?;
    let listener = TcpListener::bind(&addr)
        .map_err(|e| anyhow::anyhow!("cannot listen on {}:{}: {e}", addr.0, addr.1))?;
    let local = listener.local_addr()?;
    tracing::info!(
        "listening on http://{local} (API docs at http://{local}/docs/, backend {})",
        state.backend.name()
    );
    actix_web::rt::System::new()
        .block_on(async move { http::build_server(state, listener)?.await })?;
    tracing::info!("stopped");
    Ok(())
}
