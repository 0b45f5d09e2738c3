//! The `tomoni` command line.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tomoni::{AppState, Settings, db, server, telemetry};

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
    /// Programme statistics.
    #[command(subcommand)]
    Stats(StatsCommand),
    /// Fill an empty database with generated data.
    #[command(subcommand)]
    Seed(SeedCommand),
    /// Deliver queued email and nothing else (the same loop as the server's mail worker; run as
    /// many as you like against one PostgreSQL).
    MailWorker,
    /// Write a backup of the configured database to FILE, a new file (SQLite: a consistent copy
    /// while the server runs; PostgreSQL: pg_dump's custom format).
    Backup { file: PathBuf },
    /// Restore FILE, a backup, into the configured database, which must be empty (SQLite: not
    /// exist yet; PostgreSQL: hold no tables; pg_restore).
    Restore { file: PathBuf },
    /// Import a CSV file, as the API does (validated whole first; all rows or none).
    Import {
        #[command(subcommand)]
        what: ImportCommand,
    },
}

#[derive(Subcommand)]
enum ImportCommand {
    /// employee_number,email,display_name,site_code,role,active (upsert by employee number).
    Users(ImportArgs),
    /// site_code,program_code,program_title,theme,categories,event_date,employee_number,hours
    /// [,days,end_date] (the last two for multi-day events).
    Participations(ImportArgs),
}

#[derive(clap::Args)]
struct ImportArgs {
    /// The CSV file.
    file: PathBuf,
    /// Email of the HR or admin account the import is recorded under (audit log, role rules).
    #[arg(long = "as", value_name = "EMAIL")]
    as_user: String,
    /// Check and report, write nothing.
    #[arg(long)]
    dry_run: bool,
    /// Users: mail every new active account an invitation to set its password.
    #[arg(long)]
    invite: bool,
}

#[derive(Subcommand)]
enum StatsCommand {
    /// Recompute the statistics summary tables from the raw attendance records.
    Rebuild,
    /// Time the report figures from the summaries against the naive aggregate over raw
    /// attendance (same connection, same years), check they agree, print the medians.
    Compare {
        #[arg(long)]
        from: i32,
        #[arg(long)]
        to: i32,
        #[arg(long, default_value_t = 21)]
        runs: usize,
    },
}

#[derive(Subcommand)]
enum SeedCommand {
    /// A realistic dataset at the model programme's size: ~1,700 sites, ~3,000 programmes and
    /// 160-180k attendance records a year, 60,000 employees (times --scale).
    Demo {
        /// Fiscal years of history, ending with the last completed one.
        #[arg(long, default_value_t = 3)]
        years: u32,
        /// Multiplies every count (e.g. 0.05 for a quick demo).
        #[arg(long, default_value_t = 1.0)]
        scale: f64,
        /// The same seed gives the same data, ids included.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
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
        Command::Backup { file } => backup(settings, &file),
        Command::Restore { file } => restore(settings, &file),
        Command::User(cmd) => user(settings, cmd),
        Command::Stats(StatsCommand::Rebuild) => rebuild_stats(settings),
        Command::Stats(StatsCommand::Compare { from, to, runs }) => {
            compare_stats(settings, from, to, runs)
        }
        Command::Import { what } => import(settings, what),
        Command::MailWorker => mail_worker(settings),
        Command::Seed(SeedCommand::Demo { years, scale, seed }) => {
            seed_demo(settings, tomoni::seed::Options { years, scale, seed })
        }
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

/// `tomoni backup FILE` (see `db::backup`).
fn backup(settings: Settings, file: &std::path::Path) -> anyhow::Result<()> {
    let db = &settings.database;
    let url = db::DatabaseUrl::from_settings(db)?;
    db::backup::backup(&url, file)?;
    println!("backed up {} to {}", url.redacted(), file.display());
    Ok(())
}

/// `tomoni restore FILE` into an empty database (see `db::backup`).
fn restore(settings: Settings, file: &std::path::Path) -> anyhow::Result<()> {
    let db = &settings.database;
    let url = db::DatabaseUrl::from_settings(db)?;
    db::backup::restore(&url, file)?;
    println!("restored {} into {}", file.display(), url.redacted());
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
        "listening on http://{local} (open it in a browser; API docs at http://{local}/docs/, backend {})",
        state.backend.name()
    );
    actix_web::rt::System::new()
        .block_on(async move { server::build_server(state, listener)?.await })?;
    tracing::info!("stopped");
    Ok(())
}

fn bar(total: u64, stage: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(total);
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{msg:>14} [{bar:40}] {pos}/{len} {elapsed}")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(stage.to_owned());
    bar
}

fn rebuild_stats(settings: Settings) -> anyhow::Result<()> {
    let pool = db::init(&settings.database)?;
    let mut conn = pool.get()?;
    let started = std::time::Instant::now();
    tomoni::stats::rollup::ensure_calendar(&mut conn, settings.stats.fiscal())
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    tomoni::stats::rollup::rebuild(&mut conn, |fy| println!("fiscal {fy} summarised"))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!(
        "statistics rebuilt in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn mail_worker(settings: Settings) -> anyhow::Result<()> {
    let state = AppState::init(settings)?;
    let worker = tomoni::mail::worker::Worker::new(
        state.pool.clone(),
        &state.settings,
        Some(state.metrics.clone()),
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    tracing::info!(transport = ?state.settings.mail.transport, "mail worker running");
    actix_web::rt::System::new().block_on(worker.run());
    Ok(())
}

fn import(settings: Settings, what: ImportCommand) -> anyhow::Result<()> {
    let (args, kind) = match &what {
        ImportCommand::Users(a) => (a, "users"),
        ImportCommand::Participations(a) => (a, "participations"),
    };
    // Participations are read from the file twice (checked, then written), never whole.
    let bytes = match &what {
        ImportCommand::Users(_) => std::fs::read(&args.file),
        ImportCommand::Participations(_) => std::fs::File::open(&args.file).map(|_| Vec::new()),
    }
    .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", args.file.display()))?;
    let pool = db::init(&settings.database)?;
    let mut conn = pool.get()?;
    let id = tomoni::people::users::id_by_email(&mut conn, &args.as_user)?
        .ok_or_else(|| anyhow::anyhow!("no user with email {}", args.as_user))?;
    let caller = tomoni::auth::caller::load_caller(&mut conn, id)?
        .filter(|c| matches!(c.role, tomoni::auth::Role::Admin | tomoni::auth::Role::Hr))
        .ok_or_else(|| anyhow::anyhow!("{} is not an active HR or admin account", args.as_user))?;
    let started = std::time::Instant::now();
    let progress_bar = bar(0, kind);
    let progress = |done: u64, total: u64| {
        progress_bar.set_length(total);
        progress_bar.set_position(done);
    };
    let show = |e: tomoni::error::AppError| {
        let p = e.to_problem();
        let mut text = p.detail.clone();
        for f in p.errors.iter().take(50) {
            text.push_str(&format!(
                "\n  line {}: {} {} ({})",
                f.line.unwrap_or(0),
                f.field,
                f.code,
                f.message
            ));
        }
        anyhow::anyhow!(text)
    };
    let (conn, dry_run) = (&mut conn, args.dry_run);
    let summary = match what {
        ImportCommand::Users(_) => tomoni::people::import::import(
            conn,
            &caller,
            &bytes,
            dry_run,
            args.invite
                .then(|| chrono::Duration::hours(i64::from(settings.auth.invitation_ttl_hours))),
            None,
            progress,
        )
        .map(|r| {
            format!(
                "{} rows: {} created, {} updated, {} invited",
                r.rows, r.created, r.updated, r.invited
            )
        }),
        ImportCommand::Participations(_) => tomoni::exports::import::import(
            conn,
            &caller,
            tomoni::exports::import::FileSource(args.file.clone()),
            dry_run,
            None,
            progress,
        )
        .map(|r| {
            format!(
                "{} rows: {} programmes and {} events created, {} records",
                r.rows, r.programs_created, r.events_created, r.records_created
            )
        }),
    }
    .map_err(show)?;
    progress_bar.finish_and_clear();
    let mode = if args.dry_run {
        " (dry run: nothing written)"
    } else {
        ""
    };
    println!(
        "{summary}{mode} in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn compare_stats(settings: Settings, from: i32, to: i32, runs: usize) -> anyhow::Result<()> {
    use tomoni::stats::mdd::{self, Scope};
    let pool = db::init(&settings.database)?;
    let mut conn = pool.get()?;
    let fiscal = settings.stats.fiscal();
    let scope = Scope::default();
    let mut time = |naive: bool| -> anyhow::Result<(f64, String)> {
        let mut ms = Vec::with_capacity(runs);
        let mut last = String::new();
        for _ in 0..runs.max(1) {
            let t = std::time::Instant::now();
            let figures = if naive {
                mdd::naive(&mut conn, fiscal, from - 1..=to, &scope)
            } else {
                mdd::figures(&mut conn, fiscal, from - 1..=to, &scope)
            }
            .map_err(|e| anyhow::anyhow!("{e}"))?;
            ms.push(t.elapsed().as_secs_f64() * 1000.0);
            last = format!("{figures:?}");
        }
        ms.sort_by(f64::total_cmp);
        Ok((ms[ms.len() / 2], last))
    };
    let (summary_ms, a) = time(false)?;
    let (naive_ms, b) = time(true)?;
    anyhow::ensure!(a == b, "summaries and naive recount disagree:\n{a}\n{b}");
    println!(
        "summary_p50_ms={summary_ms:.2} naive_p50_ms={naive_ms:.2} ratio={:.1}",
        naive_ms / summary_ms
    );
    Ok(())
}

fn seed_demo(settings: Settings, opts: tomoni::seed::Options) -> anyhow::Result<()> {
    let pool = db::init(&settings.database)?;
    let mut conn = pool.get()?;
    tomoni::stats::rollup::ensure_calendar(&mut conn, settings.stats.fiscal())
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let started = std::time::Instant::now();
    let mut current: Option<(String, indicatif::ProgressBar)> = None;
    let mut progress = |stage: &str, done: u64, total: u64| {
        if current.as_ref().is_none_or(|(s, _)| s != stage) {
            if let Some((_, b)) = current.take() {
                b.finish();
            }
            current = Some((stage.to_owned(), bar(total, stage)));
        }
        if let Some((_, b)) = &current {
            b.set_length(total.max(done));
            b.set_position(done);
        }
    };
    let today = chrono::Utc::now().date_naive();
    let summary = tomoni::seed::demo(
        &mut conn,
        settings.stats.fiscal(),
        today,
        &opts,
        &mut progress,
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    if let Some((_, b)) = current.take() {
        b.finish();
    }
    println!(
        "seeded {} sites, {} employees, {} programmes, {} events, {} attendance records in {:.0} s",
        summary.sites,
        summary.employees,
        summary.programs,
        summary.events,
        summary.attendance,
        started.elapsed().as_secs_f64()
    );
    let accounts = tomoni::seed::demo_accounts(&mut conn).map_err(|e| anyhow::anyhow!("{e}"))?;
    // Printed once to the terminal, never logged: note them now.
    println!("\ndemo accounts (passwords shown only now):");
    for a in accounts {
        println!("  {:<12} {:<32} {}", a.role.as_str(), a.email, a.password);
    }
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
