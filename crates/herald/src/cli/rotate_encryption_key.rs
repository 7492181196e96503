//! `herald rotate-encryption-key`: every stored secret resealed under a new data key, on a
//! stopped store (`security.md`).

use herald_server::rekey::rotate_encryption_key;
use secrecy::SecretString;

use super::store_args::StoreArgs;

/// The two keys and the store.
#[derive(clap::Args)]
pub struct RotateEncryptionKeyArgs {
    /// The store's current data key (base64, 32 bytes): its `encryption_key`, or the content
    /// of `<data_dir>/encryption.key`.
    #[arg(long)]
    pub old: String,
    /// The new data key (base64, 32 bytes; e.g. `openssl rand -base64 32`).
    #[arg(long)]
    pub new: String,
    #[command(flatten)]
    pub store: StoreArgs,
}

pub async fn run(args: RotateEncryptionKeyArgs) -> Result<(), String> {
    let (old, new) = (SecretString::from(args.old), SecretString::from(args.new));
    let n = rotate_encryption_key(args.store.at(), &old, &new)
        .await
        .map_err(|e| format!("rotating the encryption key: {e}"))?;
    println!("resealed the secrets of {n} endpoints under the new key");
    eprintln!(
        "herald: start every server with the new key (encryption_key / HERALD_ENCRYPTION_KEY; a key file was rewritten in place)"
    );
    Ok(())
}
