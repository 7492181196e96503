//! `herald deliveries … --app APP`: deliveries, their attempts, retries, and `--follow`.

use herald_sdk::client::{Client, DeliveryFilter, DeliveryStatus};

use super::{output, show, ServerArgs};

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

pub async fn run(server: &ServerArgs, app: &str, cmd: DeliveriesCommand) -> Result<(), String> {
    let c = server.client()?;
    match cmd {
        DeliveriesCommand::List {
            status,
            endpoint,
            event,
            follow,
        } => {
            let status = status
                .map(|s| {
                    DeliveryStatus::parse(&s).ok_or_else(|| {
                        format!("--status {s}: must be pending, succeeded, failed or cancelled")
                    })
                })
                .transpose()?;
            let filter = DeliveryFilter {
                status,
                endpoint_id: endpoint,
                event_id: event,
                limit: None,
            };
            if follow {
                return follow_deliveries(server, &c, app, filter).await;
            }
            show(server, c.list_deliveries(app, &filter, None).await, COLS)
        }
        DeliveriesCommand::Get { delivery } => show(server, c.delivery(app, &delivery).await, COLS),
        DeliveriesCommand::Attempts { delivery } => {
            show(server, c.attempts(app, &delivery, None).await, ATTEMPT_COLS)
        }
        DeliveriesCommand::Retry { delivery } => {
            show(server, c.retry_delivery(app, &delivery).await, COLS)
        }
    }
}

/// Polls the newest deliveries every second and prints each one that is new or changed
/// (status or attempts), one JSON line or table row each, until ctrl-c.
async fn follow_deliveries(
    server: &ServerArgs,
    client: &Client,
    app: &str,
    filter: DeliveryFilter,
) -> Result<(), String> {
    let newest = DeliveryFilter {
        limit: Some(100),
        ..filter
    };
    let mut seen: std::collections::HashMap<String, (DeliveryStatus, i64)> =
        std::collections::HashMap::new();
    if !server.json {
        let header = output::table(&[], COLS);
        println!("{}", header.lines().next().unwrap_or_default());
    }
    loop {
        let page = client
            .list_deliveries(app, &newest, None)
            .await
            .map_err(|e| e.to_string())?;
        // Oldest first, so the output reads in order.
        for d in page.data.iter().rev() {
            let state = (d.status, d.attempts);
            if seen.get(&d.id) != Some(&state) {
                seen.insert(d.id.clone(), state);
                let row = serde_json::to_value(d).map_err(|e| e.to_string())?;
                if server.json {
                    println!("{row}");
                } else {
                    let table = output::table(std::slice::from_ref(&row), COLS);
                    println!("{}", table.lines().nth(1).unwrap_or_default());
                }
            }
        }
        tokio::select! {
            _ = tokio::signal::ctrl_c() => return Ok(()),
            _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
        }
    }
}
