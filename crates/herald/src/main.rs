//! The `herald` binary. Only `serve` lives here so far; the client commands of `cli.md`
//! are tracked in their own issue.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use herald::config::{Config, Overrides};
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
#[command(name = "herald", version, about = "Durable, signed webhook delivery")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server: the HTTP API and the delivery engine.
    Serve(ServeArgs),
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
    match cli.command {
        Command::Serve(args) => match serve(args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("herald: {e:#}");
                ExitCode::FAILURE
            }
        },
    }
}

fn serve(args: ServeArgs) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("HERALD_LOG")
                .unwrap_or_else(|_| "herald=info,warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let overrides = Overrides {
        listen: args.listen,
        data_dir: args.data_dir,
        database_url: args.database_url,
        allow_private_targets: args.allow_private_targets,
    };
    let cfg = Config::load(args.config.as_deref(), std::env::vars(), &overrides)?;
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
        herald::run(cfg, listener, shutdown).await
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
