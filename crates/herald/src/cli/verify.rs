//! `herald verify`: checks one captured webhook offline.

use herald_signature::Verifier;

/// The captured webhook and how to judge it.
#[derive(clap::Args, Debug)]
pub struct VerifyArgs {
    /// `whsec_…` secret or `whpk_…` public key (for `v1a` signatures).
    #[arg(long)]
    pub secret: String,
    /// The `webhook-id` header.
    #[arg(long)]
    pub webhook_id: String,
    /// The `webhook-timestamp` header (unix seconds).
    #[arg(long)]
    pub webhook_timestamp: String,
    /// The `webhook-signature` header (one or more space-separated `v1,…`/`v1a,…`).
    #[arg(long)]
    pub webhook_signature: String,
    /// A file holding the exact body bytes.
    #[arg(long, conflicts_with = "body", required_unless_present = "body")]
    pub body_file: Option<std::path::PathBuf>,
    /// The exact body, as text.
    #[arg(long)]
    pub body: Option<String>,
    /// Judge as if the clock read this (unix seconds); default: now.
    #[arg(long)]
    pub at: Option<i64>,
    /// Accepted clock difference in seconds.
    #[arg(long, default_value_t = 300)]
    pub tolerance: i64,
}

/// Ok(()) when the webhook verifies; Err(reason) otherwise.
pub fn run(args: &VerifyArgs) -> Result<(), String> {
    let body = match (&args.body_file, &args.body) {
        (Some(path), _) => {
            std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?
        }
        (None, Some(text)) => text.as_bytes().to_vec(),
        (None, None) => return Err("give --body or --body-file".into()),
    };
    let verifier = Verifier::new(&[&args.secret])
        .map_err(|e| format!("bad key: {e}"))?
        .with_tolerance(args.tolerance);
    let now = args
        .at
        .unwrap_or_else(|| herald_server::timefmt::now_ms() / 1000);
    verifier
        .verify_at(
            &args.webhook_id,
            &args.webhook_timestamp,
            &args.webhook_signature,
            &body,
            now,
        )
        .map_err(|e| e.to_string())
}
