//! `herald recovery-key`: an admin key created directly in the store (`security.md`), for
//! when no admin key is left. It needs access to the store, not to a server.

use herald_server::recovery::create_recovery_key;

use super::store_args::StoreArgs;

/// Which store to write the key into.
#[derive(clap::Args, Debug)]
pub struct RecoveryKeyArgs {
    #[command(flatten)]
    pub store: StoreArgs,
}

/// Creates the key and prints its secret on stdout (once: only its hash is stored).
pub async fn run(args: RecoveryKeyArgs) -> Result<(), String> {
    let secret = create_recovery_key(args.store.at())
        .await
        .map_err(|e| format!("creating the recovery key: {e}"))?;
    eprintln!("herald: created an admin key (shown once; revoke it when you are back in)");
    println!("{secret}");
    Ok(())
}
