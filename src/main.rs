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
    /// Manage user accounts (for operators; the API does the same for admins).
    #[command(subcommand)]
    User(UserCommand),
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a user. Prints a generated password unless --password-stdin is given.
    Create {
        #[arg(long)]
        email: String,
        /// employee, coordinator, hr or admin.
        #[arg(long, default_value = "employee")]
        role: String,
        /// HR's employee number (defaults to the email).
        #[arg(long)]
        employee_number: Option<String>,
        /// Display name (defaults to the part of the email before @).
        #[arg(long)]
        name: Option<String>,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Set a user's password and end their sign-ins. Prints a generated password unless
    /// --password-stdin is given.
    SetPassword {
        #[arg(long)]
        email: String,
        #[arg(long)]
        password_stdin: bool,
    },
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
        Command::User(cmd) => user(settings, cmd),
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
    state.bootstrap_admin()?;
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

/// The password from stdin, or a generated one that is printed (to stdout, never the log).
fn password_from(stdin: bool) -> anyhow::Result<(String, bool)> {
    if stdin {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        Ok((line.trim_end_matches(['\r', '\n']).to_owned(), false))
    } else {
        Ok((tomoni::auth::password::generate(), true))
    }
}

fn user(settings: Settings, cmd: UserCommand) -> anyhow::Result<()> {
    use tomoni::people::users;
    let pool = db::init(&settings.database)?;
    let mut conn = pool.get()?;
    match cmd {
        UserCommand::Create {
            email,
            role,
            employee_number,
            name,
            password_stdin,
        } => {
            let role: tomoni::auth::Role = role.parse()?;
            let (password, generated) = password_from(password_stdin)?;
            let local = email.split('@').next().unwrap_or(&email).to_owned();
            let new = users::NewUser {
                employee_number: employee_number.unwrap_or_else(|| email.clone()),
                email: email.clone(),
                display_name: name.unwrap_or(local),
                site_id: None,
                role,
                locale: "en".into(),
                password: Some(password.clone()),
            };
            let id = users::create(&mut conn, &new).map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("created {role} {} ({id})", users::normalize_email(&email));
            if generated {
                println!("password: {password}");
            }
        }
        UserCommand::SetPassword {
            email,
            password_stdin,
        } => {
            let id = users::id_by_email(&mut conn, &email)?
                .ok_or_else(|| anyhow::anyhow!("no user with email {email}"))?;
            let (password, generated) = password_from(password_stdin)?;
            users::set_password(&mut conn, id, &password).map_err(|e| anyhow::anyhow!("{e}"))?;
            println!(
                "password changed for {}; their sign-ins are revoked",
                users::normalize_email(&email)
            );
            if generated {
                println!("password: {password}");
            }
        }
    }
    Ok(())
}
