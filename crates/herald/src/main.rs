//! The `herald` binary: `serve`, and the client commands of `cli.md` (in `cli/`), including
//! `bench`.

mod allocator;
mod cli;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use herald_server::config::{Config, Overrides};
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
#[command(name = "herald", version, about = "Durable, signed webhook delivery")]
struct Cli {
    #[command(flatten)]
    server: cli::ServerArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server: the HTTP API and the delivery engine.
    Serve(ServeArgs),
    /// Applications: create, list, get, update, delete.
    Apps {
        #[command(subcommand)]
        command: cli::AppsCommand,
    },
    /// Send one event; prints its id and deliveries.
    Send(cli::SendArgs),
    /// Verify one captured webhook offline: exit 0 and `valid`, or exit 1 and the reason.
    Verify(cli::verify::VerifyArgs),
    /// Create an admin key directly in the store and print it, whether a server runs on the
    /// store or not: the way back in when no admin key is left.
    RecoveryKey(cli::recovery_key::RecoveryKeyArgs),
    /// Re-encrypt every stored secret under a new data key, on a stopped store.
    RotateEncryptionKey(cli::rotate_encryption_key::RotateEncryptionKeyArgs),
    /// Event types: create, list, get, update, delete.
    EventTypes {
        #[command(subcommand)]
        command: cli::event_types::EventTypesCommand,
    },
    /// Endpoints of an application.
    Endpoints {
        /// Application id or uid.
        #[arg(long, global = true)]
        app: Option<String>,
        #[command(subcommand)]
        command: cli::endpoints::EndpointsCommand,
    },
    /// Events of an application.
    Events {
        /// Application id or uid.
        #[arg(long, global = true)]
        app: Option<String>,
        #[command(subcommand)]
        command: cli::events::EventsCommand,
    },
    /// Deliveries of an application.
    Deliveries {
        /// Application id or uid.
        #[arg(long, global = true)]
        app: Option<String>,
        #[command(subcommand)]
        command: cli::deliveries::DeliveriesCommand,
    },
    /// API keys: create, list, revoke.
    Keys {
        #[command(subcommand)]
        command: cli::keys::KeysCommand,
    },
    /// A local receiver for development: prints and verifies each request.
    Listen(cli::listen::ListenArgs),
    /// Load benchmark: publish events, receive them on a loopback sink, report rates,
    /// latencies, losses, CPU and memory.
    Bench(Box<herald_bench::BenchArgs>),
    /// Print a shell completion script.
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
}

/// The `--app` a per-application command needs; its absence is bad usage (exit 2).
fn need_app(app: Option<String>) -> Result<String, String> {
    app.ok_or(()).or_else(|()| {
        eprintln!("herald: this command needs --app APP");
        std::process::exit(2)
    })
}

#[derive(clap::Args)]
struct ServeArgs {
    /// HTTP listen address (default 127.0.0.1:8080).
    #[arg(long)]
    listen: Option<String>,
    /// Directory of the embedded SQLite store (default ./herald-data).
    #[arg(long)]
    data_dir: Option<String>,
    /// postgres://… to use PostgreSQL instead of SQLite.
    #[arg(long)]
    database_url: Option<String>,
    /// TOML settings file (keys of config.md).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Allow deliveries to loopback, private and other internal addresses.
    #[arg(long)]
    allow_private_targets: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve(args).map_err(|e| format!("{e:#}")),
        Command::Verify(args) => cli::verify::run(&args).map(|()| println!("valid")),
        Command::RecoveryKey(args) => {
            client_runtime().and_then(|rt| rt.block_on(cli::recovery_key::run(args)))
        }
        Command::RotateEncryptionKey(args) => {
            client_runtime().and_then(|rt| rt.block_on(cli::rotate_encryption_key::run(args)))
        }
        Command::Apps { command } => {
            client_runtime().and_then(|rt| rt.block_on(cli::apps(&cli.server, command)))
        }
        Command::Send(args) => {
            client_runtime().and_then(|rt| rt.block_on(cli::send(&cli.server, args)))
        }
        Command::EventTypes { command } => {
            client_runtime().and_then(|rt| rt.block_on(cli::event_types::run(&cli.server, command)))
        }
        Command::Endpoints { app, command } => need_app(app).and_then(|app| {
            client_runtime()
                .and_then(|rt| rt.block_on(cli::endpoints::run(&cli.server, &app, command)))
        }),
        Command::Events { app, command } => need_app(app).and_then(|app| {
            client_runtime()
                .and_then(|rt| rt.block_on(cli::events::run(&cli.server, &app, command)))
        }),
        Command::Deliveries { app, command } => need_app(app).and_then(|app| {
            client_runtime()
                .and_then(|rt| rt.block_on(cli::deliveries::run(&cli.server, &app, command)))
        }),
        Command::Keys { command } => {
            client_runtime().and_then(|rt| rt.block_on(cli::keys::run(&cli.server, command)))
        }
        Command::Listen(args) => {
            client_runtime().and_then(|rt| rt.block_on(cli::listen::run(args)))
        }
        Command::Bench(args) => bench(&cli.server, *args),
        Command::Completions { shell } => {
            use clap::CommandFactory;
            clap_complete::generate(shell, &mut Cli::command(), "herald", &mut std::io::stdout());
            Ok(())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("herald: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The bench runs its load, its sink and its clients on a multi-threaded runtime; exit 1 when
/// a delivery is missing or an event was refused.
fn bench(server: &cli::ServerArgs, args: herald_bench::BenchArgs) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    match runtime.block_on(herald_bench::run(
        &server.url,
        server.api_key.as_deref(),
        args,
    ))? {
        true => Ok(()),
        false => Err("some events were refused or some deliveries are missing".into()),
    }
}

fn client_runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())
}

fn serve(args: ServeArgs) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("HERALD_LOG")
                .unwrap_or_else(|_| "herald=info,herald_server=info,warn".into()),
        )
        .with_writer(std::io::stderr)
        // A log line that cannot be written is dropped. With the default, the subscriber
        // reports the failure with eprintln!, which panics once stderr is gone (its reader
        // exited): every task that logs would die, the SIGTERM handler among them.
        .log_internal_errors(false)
        .init();
    let overrides = Overrides {
        listen: args.listen,
        data_dir: args.data_dir,
        database_url: args.database_url,
        allow_private_targets: args.allow_private_targets,
    };
    let cfg = Config::load(args.config.as_deref(), std::env::vars(), &overrides)?;
    for name in herald_server::config::unknown_env_vars(std::env::vars()) {
        tracing::warn!(variable = %name, "unknown HERALD_* variable: no setting has this name");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(cfg.listen)
            .await
            .with_context(|| format!("binding {}", cfg.listen))?;
        let shutdown = CancellationToken::new();
        let trigger = shutdown.clone();
        tokio::spawn(async move {
            wait_for_signal().await;
            tracing::info!("shutting down");
            trigger.cancel();
        });
        Ok(herald_server::run(cfg, listener, shutdown).await?)
    })
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("installing the SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
