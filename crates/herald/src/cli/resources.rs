//! `event-types`, `endpoints`, `events`, `deliveries` and `keys`: thin commands over the API,
//! each answered as the server's JSON (`--json`) or a table.

use herald_sdk::client::Method;
use serde_json::{json, Map, Value};

use super::{output, ServerArgs};

/// `herald event-types …`
#[derive(clap::Subcommand, Debug)]
pub enum EventTypesCommand {
    /// Register an event type.
    Create {
        /// Event type name, e.g. `order.paid`.
        name: String,
        /// Free text.
        #[arg(long)]
        description: Option<String>,
        /// A file holding the JSON Schema of the payload.
        #[arg(long)]
        schema: Option<std::path::PathBuf>,
    },
    /// List event types.
    List,
    /// Show one event type.
    Get {
        /// Event type name, e.g. `order.paid`.
        name: String,
    },
    /// Change an event type.
    Update {
        /// Event type name, e.g. `order.paid`.
        name: String,
        /// Free text.
        #[arg(long)]
        description: Option<String>,
        /// A file holding the JSON Schema of the payload.
        #[arg(long)]
        schema: Option<std::path::PathBuf>,
        /// Archive (true) or restore (false) the type.
        #[arg(long)]
        archived: Option<bool>,
    },
    /// Delete an event type.
    Delete {
        /// Event type name, e.g. `order.paid`.
        name: String,
    },
}

/// `herald endpoints … --app APP`
#[derive(clap::Subcommand, Debug)]
pub enum EndpointsCommand {
    /// Create an endpoint.
    Create {
        /// Where deliveries go (`--url` is the server's address).
        #[arg(long)]
        endpoint_url: String,
        /// Subscribed types or prefixes (repeatable); none = every type.
        #[arg(long = "event-type")]
        event_types: Vec<String>,
        /// Free text.
        #[arg(long)]
        description: Option<String>,
    },
    /// List endpoints.
    List,
    /// Show one endpoint.
    Get {
        /// Endpoint id (`ep_…`).
        endpoint: String,
    },
    /// Change an endpoint.
    Update {
        /// Endpoint id (`ep_…`).
        endpoint: String,
        /// A new delivery URL.
        #[arg(long)]
        endpoint_url: Option<String>,
        /// Disable (true) or re-enable (false) the endpoint.
        #[arg(long)]
        disabled: Option<bool>,
    },
    /// Delete an endpoint.
    Delete {
        /// Endpoint id (`ep_…`).
        endpoint: String,
    },
    /// Show the signing secret.
    Secret {
        /// Endpoint id (`ep_…`).
        endpoint: String,
    },
    /// Rotate the signing secret.
    RotateSecret {
        /// Endpoint id (`ep_…`).
        endpoint: String,
    },
    /// Send a `herald.ping` to this endpoint.
    Test {
        /// Endpoint id (`ep_…`).
        endpoint: String,
    },
    /// Requeue failed/cancelled deliveries created since an RFC 3339 time.
    Recover {
        /// Endpoint id (`ep_…`).
        endpoint: String,
        /// RFC 3339 time, e.g. 2026-11-25T00:00:00Z.
        #[arg(long)]
        since: String,
    },
    /// Delivery counts over 24 h.
    Stats {
        /// Endpoint id (`ep_…`).
        endpoint: String,
    },
}

/// `herald events … --app APP`
#[derive(clap::Subcommand, Debug)]
pub enum EventsCommand {
    /// Show one event with its payload and deliveries.
    Get {
        /// Event id (`evt_…`).
        event: String,
    },
    /// List events.
    List {
        /// Only events of this type.
        #[arg(long = "type")]
        event_type: Option<String>,
    },
}

/// `herald deliveries … --app APP`
#[derive(clap::Subcommand, Debug)]
pub enum DeliveriesCommand {
    /// List deliveries.
    List {
        /// Only deliveries with this status (pending, succeeded, failed, cancelled).
        #[arg(long)]
        status: Option<String>,
        /// Only deliveries to this endpoint.
        #[arg(long)]
        endpoint: Option<String>,
        /// Only deliveries of this event.
        #[arg(long)]
        event: Option<String>,
        /// Keep watching: print deliveries as they appear or change, until interrupted.
        #[arg(long)]
        follow: bool,
    },
    /// Show one delivery.
    Get {
        /// Delivery id (`del_…`).
        delivery: String,
    },
    /// The attempts of a delivery, oldest first.
    Attempts {
        /// Delivery id (`del_…`).
        delivery: String,
    },
    /// One more attempt now.
    Retry {
        /// Delivery id (`del_…`).
        delivery: String,
    },
}

/// `herald keys …`
#[derive(clap::Subcommand, Debug)]
pub enum KeysCommand {
    /// Create a key; its secret is shown once.
    Create {
        /// Display name.
        #[arg(long)]
        name: String,
        /// `admin` or `producer`.
        #[arg(long)]
        scope: String,
        /// Restrict the key to one application.
        #[arg(long)]
        app: Option<String>,
    },
    /// List keys.
    List,
    /// Revoke a key, effective at once.
    Revoke {
        /// Key id (`key_…`).
        key: String,
    },
}

fn read_schema(path: &Option<std::path::PathBuf>) -> Result<Option<Value>, String> {
    path.as_ref()
        .map(|p| {
            let text = std::fs::read_to_string(p)
                .map_err(|e| format!("cannot read {}: {e}", p.display()))?;
            serde_json::from_str(&text).map_err(|e| format!("{}: not JSON: {e}", p.display()))
        })
        .transpose()
}

fn query(pairs: &[(&str, &Option<String>)]) -> String {
    let parts: Vec<String> = pairs
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}")))
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!("?{}", parts.join("&"))
    }
}

/// Sends one call and prints the answer.
async fn run(
    server: &ServerArgs,
    method: Method,
    path: String,
    body: Option<Value>,
    columns: &[&str],
) -> Result<(), String> {
    let value = server
        .client()?
        .request_json(method, &path, body.as_ref())
        .await
        .map_err(|e| e.to_string())?;
    if value.is_null() {
        if !server.json {
            println!("done");
        }
        return Ok(());
    }
    output::print(&value, server.json, columns);
    Ok(())
}

pub async fn event_types(server: &ServerArgs, cmd: EventTypesCommand) -> Result<(), String> {
    const COLS: &[&str] = &["name", "description", "archived", "created_at"];
    match cmd {
        EventTypesCommand::Create {
            name,
            description,
            schema,
        } => {
            let body =
                json!({"name": name, "description": description, "schema": read_schema(&schema)?});
            run(
                server,
                Method::POST,
                "/v1/event-types".into(),
                Some(body),
                COLS,
            )
            .await
        }
        EventTypesCommand::List => {
            run(server, Method::GET, "/v1/event-types".into(), None, COLS).await
        }
        EventTypesCommand::Get { name } => {
            run(
                server,
                Method::GET,
                format!("/v1/event-types/{name}"),
                None,
                COLS,
            )
            .await
        }
        EventTypesCommand::Update {
            name,
            description,
            schema,
            archived,
        } => {
            let mut m = Map::new();
            if let Some(d) = description {
                m.insert("description".into(), json!(d));
            }
            if let Some(s) = read_schema(&schema)? {
                m.insert("schema".into(), s);
            }
            if let Some(a) = archived {
                m.insert("archived".into(), json!(a));
            }
            run(
                server,
                Method::PATCH,
                format!("/v1/event-types/{name}"),
                Some(Value::Object(m)),
                COLS,
            )
            .await
        }
        EventTypesCommand::Delete { name } => {
            run(
                server,
                Method::DELETE,
                format!("/v1/event-types/{name}"),
                None,
                COLS,
            )
            .await
        }
    }
}

pub async fn endpoints(
    server: &ServerArgs,
    app: &str,
    cmd: EndpointsCommand,
) -> Result<(), String> {
    const COLS: &[&str] = &["id", "url", "status", "event_types", "created_at"];
    let base = format!("/v1/apps/{app}/endpoints");
    match cmd {
        EndpointsCommand::Create {
            endpoint_url: url,
            event_types,
            description,
        } => {
            let types = (!event_types.is_empty()).then_some(event_types);
            let body = json!({"url": url, "event_types": types, "description": description});
            run(server, Method::POST, base, Some(body), COLS).await
        }
        EndpointsCommand::List => run(server, Method::GET, base, None, COLS).await,
        EndpointsCommand::Get { endpoint } => {
            run(
                server,
                Method::GET,
                format!("{base}/{endpoint}"),
                None,
                COLS,
            )
            .await
        }
        EndpointsCommand::Update {
            endpoint,
            endpoint_url: url,
            disabled,
        } => {
            let mut m = Map::new();
            if let Some(u) = url {
                m.insert("url".into(), json!(u));
            }
            if let Some(d) = disabled {
                m.insert("disabled".into(), json!(d));
            }
            run(
                server,
                Method::PATCH,
                format!("{base}/{endpoint}"),
                Some(Value::Object(m)),
                COLS,
            )
            .await
        }
        EndpointsCommand::Delete { endpoint } => {
            run(
                server,
                Method::DELETE,
                format!("{base}/{endpoint}"),
                None,
                COLS,
            )
            .await
        }
        EndpointsCommand::Secret { endpoint } => {
            run(
                server,
                Method::GET,
                format!("{base}/{endpoint}/secret"),
                None,
                COLS,
            )
            .await
        }
        EndpointsCommand::RotateSecret { endpoint } => {
            run(
                server,
                Method::POST,
                format!("{base}/{endpoint}/secret/rotate"),
                Some(json!({})),
                COLS,
            )
            .await
        }
        EndpointsCommand::Test { endpoint } => {
            run(
                server,
                Method::POST,
                format!("{base}/{endpoint}/test"),
                Some(json!({})),
                COLS,
            )
            .await
        }
        EndpointsCommand::Recover { endpoint, since } => {
            run(
                server,
                Method::POST,
                format!("{base}/{endpoint}/recover"),
                Some(json!({"since": since})),
                COLS,
            )
            .await
        }
        EndpointsCommand::Stats { endpoint } => {
            run(
                server,
                Method::GET,
                format!("{base}/{endpoint}/stats"),
                None,
                COLS,
            )
            .await
        }
    }
}

pub async fn events(server: &ServerArgs, app: &str, cmd: EventsCommand) -> Result<(), String> {
    const COLS: &[&str] = &["id", "type", "created_at"];
    match cmd {
        EventsCommand::Get { event } => {
            run(
                server,
                Method::GET,
                format!("/v1/apps/{app}/events/{event}"),
                None,
                COLS,
            )
            .await
        }
        EventsCommand::List { event_type } => {
            run(
                server,
                Method::GET,
                format!("/v1/apps/{app}/events{}", query(&[("type", &event_type)])),
                None,
                COLS,
            )
            .await
        }
    }
}

pub async fn deliveries(
    server: &ServerArgs,
    app: &str,
    cmd: DeliveriesCommand,
) -> Result<(), String> {
    const COLS: &[&str] = &[
        "id",
        "event_id",
        "endpoint_id",
        "status",
        "attempts",
        "last_status_code",
        "created_at",
    ];
    const ATTEMPT_COLS: &[&str] = &[
        "number",
        "started_at",
        "status_code",
        "duration_ms",
        "error",
    ];
    let base = format!("/v1/apps/{app}/deliveries");
    match cmd {
        DeliveriesCommand::List {
            status,
            endpoint,
            event,
            follow,
        } => {
            let q = query(&[
                ("status", &status),
                ("endpoint_id", &endpoint),
                ("event_id", &event),
            ]);
            if follow {
                return follow_deliveries(server, &format!("{base}{q}"), COLS).await;
            }
            run(server, Method::GET, format!("{base}{q}"), None, COLS).await
        }
        DeliveriesCommand::Get { delivery } => {
            run(
                server,
                Method::GET,
                format!("{base}/{delivery}"),
                None,
                COLS,
            )
            .await
        }
        DeliveriesCommand::Attempts { delivery } => {
            run(
                server,
                Method::GET,
                format!("{base}/{delivery}/attempts"),
                None,
                ATTEMPT_COLS,
            )
            .await
        }
        DeliveriesCommand::Retry { delivery } => {
            run(
                server,
                Method::POST,
                format!("{base}/{delivery}/retry"),
                Some(json!({})),
                COLS,
            )
            .await
        }
    }
}

pub async fn keys(server: &ServerArgs, cmd: KeysCommand) -> Result<(), String> {
    const COLS: &[&str] = &["id", "name", "scope", "app_id", "created_at"];
    match cmd {
        KeysCommand::Create { name, scope, app } => {
            run(
                server,
                Method::POST,
                "/v1/keys".into(),
                Some(json!({"name": name, "scope": scope, "app_id": app})),
                COLS,
            )
            .await
        }
        KeysCommand::List => run(server, Method::GET, "/v1/keys".into(), None, COLS).await,
        KeysCommand::Revoke { key } => {
            run(
                server,
                Method::DELETE,
                format!("/v1/keys/{key}"),
                None,
                COLS,
            )
            .await
        }
    }
}

/// Polls the newest deliveries every second and prints each one that is new or changed
/// (status or attempts), one JSON line or table row each, until ctrl-c.
async fn follow_deliveries(
    server: &ServerArgs,
    path: &str,
    columns: &[&str],
) -> Result<(), String> {
    let client = server.client()?;
    let mut seen: std::collections::HashMap<String, (Value, Value)> =
        std::collections::HashMap::new();
    let sep = if path.contains('?') { '&' } else { '?' };
    let newest = format!("{path}{sep}limit=100");
    if !server.json {
        print!(
            "{}",
            output::table(&[], columns)
                .lines()
                .next()
                .unwrap_or_default()
                .to_string()
                + "\n"
        );
    }
    loop {
        let page = client
            .request_json(Method::GET, &newest, None)
            .await
            .map_err(|e| e.to_string())?;
        let rows = page["data"].as_array().cloned().unwrap_or_default();
        // Oldest first, so the output reads in order.
        for d in rows.iter().rev() {
            let id = d["id"].as_str().unwrap_or_default().to_string();
            let state = (d["status"].clone(), d["attempts"].clone());
            if seen.get(&id) != Some(&state) {
                seen.insert(id, state);
                if server.json {
                    println!("{d}");
                } else {
                    let row = output::table(std::slice::from_ref(d), columns);
                    print!(
                        "{}",
                        row.lines().nth(1).unwrap_or_default().to_string() + "\n"
                    );
                }
            }
        }
        tokio::select! {
            _ = tokio::signal::ctrl_c() => return Ok(()),
            _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
        }
    }
}
