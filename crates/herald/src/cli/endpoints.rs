//! `herald endpoints … --app APP`: endpoints, their secrets, pings, recovery and stats.

use herald_sdk::client::{EndpointPatch, NewEndpoint, RotateIn};

use super::{done, show, ServerArgs};

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

const COLS: &[&str] = &["id", "url", "status", "event_types", "created_at"];

pub async fn run(server: &ServerArgs, app: &str, cmd: EndpointsCommand) -> Result<(), String> {
    let c = server.client()?;
    match cmd {
        EndpointsCommand::Create {
            endpoint_url: url,
            event_types,
            description,
        } => {
            let new = NewEndpoint {
                url,
                event_types: (!event_types.is_empty()).then_some(event_types),
                description,
                ..Default::default()
            };
            show(server, c.create_endpoint(app, &new).await, COLS)
        }
        EndpointsCommand::List => show(server, c.list_endpoints(app, None).await, COLS),
        EndpointsCommand::Get { endpoint } => show(server, c.endpoint(app, &endpoint).await, COLS),
        EndpointsCommand::Update {
            endpoint,
            endpoint_url: url,
            disabled,
        } => {
            let changes = EndpointPatch {
                url,
                disabled,
                ..Default::default()
            };
            show(
                server,
                c.update_endpoint(app, &endpoint, &changes).await,
                COLS,
            )
        }
        EndpointsCommand::Delete { endpoint } => {
            done(server, c.delete_endpoint(app, &endpoint).await)
        }
        EndpointsCommand::Secret { endpoint } => {
            show(server, c.endpoint_secret(app, &endpoint).await, COLS)
        }
        EndpointsCommand::RotateSecret { endpoint } => {
            let rotated = c.rotate_secret(app, &endpoint, &RotateIn::default()).await;
            show(server, rotated, COLS)
        }
        EndpointsCommand::Test { endpoint } => {
            show(server, c.test_endpoint(app, &endpoint).await, COLS)
        }
        EndpointsCommand::Recover { endpoint, since } => show(
            server,
            c.recover_endpoint(app, &endpoint, &since).await,
            COLS,
        ),
        EndpointsCommand::Stats { endpoint } => {
            show(server, c.endpoint_stats(app, &endpoint).await, COLS)
        }
    }
}
