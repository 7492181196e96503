//! `herald event-types …`: the event type catalogue.

use herald_sdk::client::{EventTypeIn, EventTypePatch};
use serde_json::Value;

use super::{done, show, ServerArgs};

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

const COLS: &[&str] = &["name", "description", "archived", "created_at"];

fn read_schema(path: &Option<std::path::PathBuf>) -> Result<Option<Value>, String> {
    path.as_ref()
        .map(|p| {
            let text = std::fs::read_to_string(p)
                .map_err(|e| format!("cannot read {}: {e}", p.display()))?;
            serde_json::from_str(&text).map_err(|e| format!("{}: not JSON: {e}", p.display()))
        })
        .transpose()
}

pub async fn run(server: &ServerArgs, cmd: EventTypesCommand) -> Result<(), String> {
    let c = server.client()?;
    match cmd {
        EventTypesCommand::Create {
            name,
            description,
            schema,
        } => {
            let new = EventTypeIn {
                name,
                description,
                schema: read_schema(&schema)?,
                archived: None,
            };
            show(server, c.create_event_type(&new).await, COLS)
        }
        EventTypesCommand::List => show(server, c.list_event_types(None).await, COLS),
        EventTypesCommand::Get { name } => show(server, c.event_type(&name).await, COLS),
        EventTypesCommand::Update {
            name,
            description,
            schema,
            archived,
        } => {
            let changes = EventTypePatch {
                description: description.map(Some),
                schema: read_schema(&schema)?.map(Some),
                archived,
            };
            show(server, c.update_event_type(&name, &changes).await, COLS)
        }
        EventTypesCommand::Delete { name } => done(server, c.delete_event_type(&name).await),
    }
}
