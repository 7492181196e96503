//! `herald events … --app APP`: reading events.

use herald_sdk::client::EventFilter;

use super::{show, ServerArgs};

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

const COLS: &[&str] = &["id", "type", "created_at"];

pub async fn run(server: &ServerArgs, app: &str, cmd: EventsCommand) -> Result<(), String> {
    let c = server.client()?;
    match cmd {
        EventsCommand::Get { event } => show(server, c.event(app, &event).await, COLS),
        EventsCommand::List { event_type } => {
            let filter = EventFilter {
                event_type,
                ..Default::default()
            };
            show(server, c.list_events(app, &filter, None).await, COLS)
        }
    }
}
