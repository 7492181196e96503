//! `herald keys …`: API keys.

use super::{done, show, ServerArgs};

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

const COLS: &[&str] = &["id", "name", "scope", "app_id", "created_at"];

pub async fn run(server: &ServerArgs, cmd: KeysCommand) -> Result<(), String> {
    let c = server.client()?;
    match cmd {
        KeysCommand::Create { name, scope, app } => show(
            server,
            c.create_key(&name, &scope, app.as_deref()).await,
            COLS,
        ),
        KeysCommand::List => show(server, c.list_keys(None).await, COLS),
        KeysCommand::Revoke { key } => done(server, c.revoke_key(&key).await),
    }
}
