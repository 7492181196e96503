//! `herald endpoints … --app APP`: endpoints, their secrets, pings, recovery and stats.

use std::path::PathBuf;

use herald_sdk::client::{FilterTestIn, RotateIn, SignatureScheme, TransformationTestIn};

use super::endpoint_fields::{parse_scheme, EndpointFields};
use super::{done, show, ServerArgs};

/// `herald endpoints … --app APP`
#[derive(clap::Subcommand, Debug)]
pub enum EndpointsCommand {
    /// Create an endpoint.
    Create {
        /// Where deliveries go (`--url` is the server's address).
        #[arg(long)]
        endpoint_url: String,
        #[command(flatten)]
        fields: EndpointFields,
        /// The signing secret (`whsec_…`); generated when absent.
        #[arg(long)]
        secret: Option<String>,
        /// v1 (HMAC, default) or v1a (ed25519).
        #[arg(long, value_parser = parse_scheme)]
        signature_scheme: Option<SignatureScheme>,
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
        #[command(flatten)]
        fields: EndpointFields,
        /// Remove the filter.
        #[arg(long, conflicts_with = "filter")]
        no_filter: bool,
        /// Remove the transformation.
        #[arg(long, conflicts_with = "transformation_file")]
        no_transformation: bool,
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
    /// Evaluate a filter (--filter, or the endpoint's own) against an event.
    TestFilter {
        /// Endpoint id (`ep_…`).
        endpoint: String,
        /// A CEL expression to try instead of the endpoint's.
        #[arg(long)]
        filter: Option<String>,
        #[command(flatten)]
        event: TestEvent,
        /// The event's source.
        #[arg(long)]
        source: Option<String>,
        /// The event's subject.
        #[arg(long)]
        subject: Option<String>,
    },
    /// Run a transformation (--code-file, or the endpoint's saved code) on an event and
    /// show the request it would send.
    TestTransformation {
        /// Endpoint id (`ep_…`).
        endpoint: String,
        /// A JavaScript file to try instead of the endpoint's code.
        #[arg(long, value_name = "FILE")]
        code_file: Option<PathBuf>,
        #[command(flatten)]
        event: TestEvent,
    },
}

/// The event a test route evaluates.
#[derive(clap::Args, Debug)]
pub struct TestEvent {
    /// Event type.
    #[arg(long = "type")]
    event_type: String,
    /// The payload (JSON).
    #[arg(long, conflicts_with = "data_file")]
    data: Option<String>,
    /// A file holding the payload.
    #[arg(long)]
    data_file: Option<PathBuf>,
}

impl TestEvent {
    fn payload(&self) -> Result<serde_json::Value, String> {
        match super::read_payload(&self.data, &self.data_file, false)? {
            Some(text) => {
                serde_json::from_str(&text).map_err(|e| format!("the payload is not JSON: {e}"))
            }
            None => Ok(serde_json::json!({})),
        }
    }
}

const COLS: &[&str] = &["id", "url", "status", "event_types", "created_at"];

pub async fn run(server: &ServerArgs, app: &str, cmd: EndpointsCommand) -> Result<(), String> {
    let c = server.client()?;
    match cmd {
        EndpointsCommand::Create {
            endpoint_url,
            fields,
            secret,
            signature_scheme,
        } => {
            let new = fields.new_endpoint(endpoint_url, secret, signature_scheme)?;
            show(server, c.create_endpoint(app, &new).await, COLS)
        }
        EndpointsCommand::List => show(server, c.list_endpoints(app, None).await, COLS),
        EndpointsCommand::Get { endpoint } => show(server, c.endpoint(app, &endpoint).await, COLS),
        EndpointsCommand::Update {
            endpoint,
            endpoint_url,
            disabled,
            fields,
            no_filter,
            no_transformation,
        } => {
            let changes = fields.patch(endpoint_url, disabled, no_filter, no_transformation)?;
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
        EndpointsCommand::TestFilter {
            endpoint,
            filter,
            event,
            source,
            subject,
        } => {
            let test = FilterTestIn {
                filter,
                payload: event.payload()?,
                event_type: event.event_type,
                source,
                subject,
                metadata: None,
            };
            let out = c.test_filter(app, &endpoint, &test).await;
            show(server, out, &["matches", "error"])
        }
        EndpointsCommand::TestTransformation {
            endpoint,
            code_file,
            event,
        } => {
            let code = code_file
                .map(|p| {
                    std::fs::read_to_string(&p)
                        .map_err(|e| format!("cannot read {}: {e}", p.display()))
                })
                .transpose()?;
            let test = TransformationTestIn {
                code,
                payload: event.payload()?,
                event_type: event.event_type,
            };
            let out = c.test_transformation(app, &endpoint, &test).await;
            show(server, out, &["cancelled", "method", "url", "body"])
        }
    }
}
