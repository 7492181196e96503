//! The client commands of `cli.md`, through `herald-sdk` (`bench` is the `herald-bench`
//! crate). Exit codes: 0 done, 1 a failed request or a webhook that does not verify, 2 bad
//! usage (clap).

pub mod deliveries;
pub mod endpoint_fields;
pub mod endpoints;
pub mod event_types;
pub mod events;
pub mod keys;
pub mod listen;
pub mod output;
pub mod recovery_key;
pub mod rotate_encryption_key;
pub mod store_args;
pub mod verify;

use futures_util::StreamExt;
use herald_sdk::client::{AppPatch, Client, Error, NewEvent, Page};
use serde::Serialize;

/// Where the server is and how to authenticate.
#[derive(clap::Args, Debug, Clone)]
pub struct ServerArgs {
    /// Server URL.
    #[arg(
        long,
        env = "HERALD_URL",
        default_value = "http://127.0.0.1:8080",
        global = true
    )]
    pub url: String,
    /// API key (`hrd_…`).
    #[arg(long, env = "HERALD_API_KEY", global = true, hide_env_values = true)]
    pub api_key: Option<String>,
    /// Print the server's JSON instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
}

impl ServerArgs {
    pub fn client(&self) -> Result<Client, String> {
        let key = self
            .api_key
            .as_deref()
            .ok_or("no API key: pass --api-key or set HERALD_API_KEY")?;
        Client::builder(&self.url, key)
            .build()
            .map_err(|e| e.to_string())
    }
}

/// Prints a call's answer: its JSON with `--json`, otherwise a table (lists) or its fields.
fn show<T: Serialize>(
    server: &ServerArgs,
    answer: Result<T, Error>,
    columns: &[&str],
) -> Result<(), String> {
    let value =
        serde_json::to_value(answer.map_err(|e| e.to_string())?).map_err(|e| e.to_string())?;
    output::print(&value, server.json, columns);
    Ok(())
}

/// Reports a call that answers nothing (a delete).
fn done(server: &ServerArgs, answer: Result<(), Error>) -> Result<(), String> {
    answer.map_err(|e| e.to_string())?;
    if !server.json {
        println!("done");
    }
    Ok(())
}

/// `herald apps …`
#[derive(clap::Subcommand, Debug)]
pub enum AppsCommand {
    /// Create an application.
    Create {
        /// Display name.
        #[arg(long)]
        name: String,
        /// Client-chosen unique slug.
        #[arg(long)]
        uid: Option<String>,
    },
    /// List applications.
    List {
        /// Page size (1..=250).
        #[arg(long)]
        limit: Option<u32>,
    },
    /// Show one application.
    Get {
        /// Application id or uid.
        app: String,
    },
    /// Rename an application or change its uid.
    Update {
        /// Application id or uid.
        app: String,
        /// New display name.
        #[arg(long)]
        name: Option<String>,
        /// New uid.
        #[arg(long)]
        uid: Option<String>,
    },
    /// Delete an application with its endpoints.
    Delete {
        /// Application id or uid.
        app: String,
    },
}

const APP_COLUMNS: &[&str] = &["id", "uid", "name", "created_at"];

pub async fn apps(server: &ServerArgs, cmd: AppsCommand) -> Result<(), String> {
    let c = server.client()?;
    match cmd {
        AppsCommand::Create { name, uid } => show(
            server,
            c.create_app(&name, uid.as_deref()).await,
            APP_COLUMNS,
        ),
        AppsCommand::List { limit: None } => show(server, c.list_apps(None).await, APP_COLUMNS),
        AppsCommand::List { limit: Some(n) } => {
            // The first `n` applications, read across pages as needed.
            let apps: Vec<_> = c.all_apps().take(n as usize).collect().await;
            let data = apps.into_iter().collect::<Result<Vec<_>, _>>();
            let page = data.map(|data| Page {
                data,
                next_cursor: None,
            });
            show(server, page, APP_COLUMNS)
        }
        AppsCommand::Get { app } => show(server, c.app(&app).await, APP_COLUMNS),
        AppsCommand::Update { app, name, uid } => {
            let changes = AppPatch {
                name,
                uid: uid.map(Some),
                metadata: None,
            };
            show(server, c.update_app(&app, &changes).await, APP_COLUMNS)
        }
        AppsCommand::Delete { app } => {
            c.delete_app(&app).await.map_err(|e| e.to_string())?;
            if !server.json {
                println!("deleted {app}");
            }
            Ok(())
        }
    }
}

/// `herald send`
#[derive(clap::Args, Debug)]
pub struct SendArgs {
    /// Application id or uid.
    #[arg(long)]
    pub app: String,
    /// Event type.
    #[arg(long = "type")]
    pub event_type: String,
    /// The payload (JSON), sent byte for byte.
    #[arg(long, conflicts_with_all = ["data_file", "stdin"])]
    pub data: Option<String>,
    /// A file holding the payload.
    #[arg(long, conflicts_with = "stdin")]
    pub data_file: Option<std::path::PathBuf>,
    /// Read the payload from standard input (`-`).
    #[arg(id = "stdin", value_name = "-", num_args = 0..=1, default_missing_value = "-")]
    pub stdin: Option<String>,
    /// Idempotency key (one is generated otherwise).
    #[arg(long)]
    pub idempotency_key: Option<String>,
    /// Only these endpoints (repeatable).
    #[arg(long = "endpoint")]
    pub endpoints: Vec<String>,
}

/// A payload given as `--data`, `--data-file` or (with `stdin`) standard input; `None`
/// when none was given.
pub fn read_payload(
    data: &Option<String>,
    file: &Option<std::path::PathBuf>,
    stdin: bool,
) -> Result<Option<String>, String> {
    Ok(Some(match (data, file) {
        (Some(d), _) => d.clone(),
        (None, Some(path)) => std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?,
        (None, None) if stdin => std::io::read_to_string(std::io::stdin())
            .map_err(|e| format!("cannot read stdin: {e}"))?,
        (None, None) => return Ok(None),
    }))
}

pub async fn send(server: &ServerArgs, args: SendArgs) -> Result<(), String> {
    let text = read_payload(&args.data, &args.data_file, args.stdin.is_some())?
        .ok_or("give the payload with --data, --data-file or - (stdin)")?;
    let payload =
        serde_json::value::RawValue::from_string(text.trim_end_matches(['\n', '\r']).to_string())
            .map_err(|e| format!("the payload is not JSON: {e}"))?;
    let event = NewEvent {
        event_type: args.event_type,
        payload: Some(payload),
        endpoint_ids: (!args.endpoints.is_empty()).then_some(args.endpoints),
        ..Default::default()
    };
    let receipt = server
        .client()?
        .send_event(&args.app, event, args.idempotency_key.as_deref())
        .await
        .map_err(|e| e.to_string())?;
    let value = serde_json::to_value(&receipt).map_err(|e| e.to_string())?;
    if server.json {
        println!("{value}");
    } else {
        println!(
            "event {}{}",
            receipt.id,
            if receipt.replayed { " (replayed)" } else { "" }
        );
        print!(
            "{}",
            output::table(
                value["deliveries"]
                    .as_array()
                    .map(Vec::as_slice)
                    .unwrap_or(&[]),
                &["id", "endpoint_id", "status"]
            )
        );
    }
    Ok(())
}
