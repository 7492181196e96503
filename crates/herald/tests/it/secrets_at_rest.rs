//! Secrets at rest (`security.md`): sealed under the data key, so a copy of the database
//! alone reveals none; a node with another key refuses to start; `herald
//! rotate-encryption-key` moves a stopped store to a new key.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::json;

use crate::delivery_request::verify_independently;
use crate::support::*;

const KEY_1: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
const KEY_2: &str = "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=";

/// An endpoint on `rx` whose secret was rotated once: its current and previous secrets.
async fn rotated_endpoint(
    h: &Herald,
    app: &str,
    rx: &Receiver,
    path: &str,
) -> (String, [String; 2]) {
    let id = h.endpoint(app, &rx.url(path), json!({})).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let first = h.secret(app, &id).await;
    let (s, r) = h
        .post(
            &format!("/v1/apps/{app}/endpoints/{id}/secret/rotate"),
            json!({}),
        )
        .await;
    assert_eq!(s, 200, "{r}");
    (id, [r["secret"].as_str().unwrap().to_string(), first])
}

/// The part of a `whsec_` secret that is its key material.
fn material(secret: &str) -> &str {
    secret.strip_prefix("whsec_").unwrap()
}

/// Fails if any file of `dir` but the key file holds one of `secrets`.
fn assert_no_secret_in(dir: &Path, secrets: &[String]) {
    let mut looked = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().unwrap() == "encryption.key" {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        for s in secrets {
            assert!(
                !text.contains(material(s)),
                "{} holds the secret {s}",
                path.display()
            );
        }
        looked += 1;
    }
    assert!(looked > 0);
}

/// Sends one event (the `n`th to `path`) and checks its delivery verifies with each of
/// `secrets` (a rotated endpoint signs with both).
async fn delivery_verifies(
    h: &Herald,
    app: &str,
    rx: &Receiver,
    path: &str,
    n: usize,
    secrets: &[String],
) {
    h.send(app, "a.b", json!({"n": n})).await;
    let got = rx.wait(path, n, Duration::from_secs(10)).await;
    for secret in secrets {
        assert!(verify_independently(secret, &got[n - 1]), "{secret}");
    }
}

fn herald(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_herald"))
        .args(args)
        .output()
        .unwrap()
}

#[tokio::test]
async fn a_copy_of_the_sqlite_file_holds_no_secret() {
    let mut h = Herald::start_process(&[]).await;
    let rx = Receiver::start().await;
    let app = h.app().await;
    let (_, a) = rotated_endpoint(&h, &app, &rx, "/a").await;
    let (_, b) = rotated_endpoint(&h, &app, &rx, "/b").await;
    let data = h.dir.join("data");
    let key_file = data.join("encryption.key");
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the key file is its owner's only");
    }
    // While the server runs (database and WAL as they are), and after it stopped.
    let all = [a.clone(), b.clone()].concat();
    assert_no_secret_in(&data, &all);
    h.terminate().await;
    assert_no_secret_in(&data, &all);

    // Restarted on the same key file: every secret is as it was and signs.
    h.spawn().await;
    let id_of = |v: &serde_json::Value, url: String| {
        v["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["url"] == url.as_str())
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (_, list) = h.get(&format!("/v1/apps/{app}/endpoints")).await;
    assert_eq!(h.secret(&app, &id_of(&list, rx.url("/a"))).await, a[0]);
    delivery_verifies(&h, &app, &rx, "/a", 1, &a).await;
}

#[tokio::test]
async fn another_key_is_refused_and_rotation_moves_the_store_to_a_new_one() {
    let mut h = Herald::start_process(&[("HERALD_ENCRYPTION_KEY", KEY_1)]).await;
    let rx = Receiver::start().await;
    let app = h.app().await;
    let (_, secrets) = rotated_endpoint(&h, &app, &rx, "/k").await;
    let data = h.dir.join("data");
    assert!(
        !data.join("encryption.key").exists(),
        "a key was given: no key file"
    );
    let data_arg = data.display().to_string();

    let out = herald(&[
        "rotate-encryption-key",
        "--old",
        KEY_1,
        "--new",
        KEY_2,
        "--data-dir",
        &data_arg,
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("stop it first"), "{err}");
    h.terminate().await;

    // A node with another key (here: none, so the key file's) refuses to start.
    let out = herald(&[
        "serve",
        "--listen",
        &format!("127.0.0.1:{}", free_port()),
        "--data-dir",
        &data_arg,
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("encryption key") && err.contains("every node"),
        "{err}"
    );
    std::fs::remove_file(data.join("encryption.key")).unwrap();

    // The wrong --old is refused and changes nothing; the right one moves every secret.
    let out = herald(&[
        "rotate-encryption-key",
        "--old",
        KEY_2,
        "--new",
        KEY_1,
        "--data-dir",
        &data_arg,
    ]);
    assert!(
        !out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let out = herald(&[
        "rotate-encryption-key",
        "--old",
        KEY_1,
        "--new",
        KEY_2,
        "--data-dir",
        &data_arg,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 endpoints"));
    assert_no_secret_in(&data, &secrets);

    h.set_env("HERALD_ENCRYPTION_KEY", KEY_2);
    h.spawn().await;
    delivery_verifies(&h, &app, &rx, "/k", 1, &secrets).await;
    h.terminate().await;
    h.set_env("HERALD_ENCRYPTION_KEY", KEY_1);
    let out = herald(&[
        "serve",
        "--listen",
        &format!("127.0.0.1:{}", free_port()),
        "--data-dir",
        &data_arg,
    ]);
    assert!(
        !out.status.success(),
        "the old key no longer opens the store"
    );
}

/// Without `encryption_key`, PostgreSQL keeps the key in the database and says so at every
/// start; the secrets are sealed all the same, and rotation moves them to a given key.
#[tokio::test]
#[ignore = "PostgreSQL: run with --ignored (HERALD_TEST_PG_URL, default 127.0.0.1:5432)"]
async fn postgres_secrets_are_sealed_and_move_to_a_given_key() {
    let db = std::sync::Arc::new(TestDatabase::create());
    let mut h = Herald::start_on(&[], &["--allow-private-targets"], Some(db.clone())).await;
    let rx = Receiver::start().await;
    let app = h.app().await;
    let (_, secrets) = rotated_endpoint(&h, &app, &rx, "/p").await;
    assert!(h.stderr().contains("no encryption_key"), "{}", h.stderr());
    let stored = db.sql("SELECT secret || previous_secrets FROM endpoints");
    assert!(stored.starts_with("enc:v1:"), "{stored}");
    for s in &secrets {
        assert!(!stored.contains(material(s)));
    }
    let kept = db.sql("SELECT value FROM settings WHERE name = 'data_key'");
    let url = db.url.clone();
    let rotate = || {
        herald(&[
            "rotate-encryption-key",
            "--old",
            &kept,
            "--new",
            KEY_2,
            "--database-url",
            &url,
        ])
    };
    let out = rotate();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("stop them first"));
    h.terminate().await;
    // A stopped node counts as alive until its heartbeat is 15 s old.
    db.sql("DELETE FROM nodes");
    let out = rotate();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    h.set_env("HERALD_ENCRYPTION_KEY", KEY_2);
    h.spawn().await;
    delivery_verifies(&h, &app, &rx, "/p", 1, &secrets).await;
    let last_start = std::fs::read_dir(&h.dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("stderr"))
        .max_by_key(|e| e.file_name())
        .unwrap();
    let log = std::fs::read_to_string(last_start.path()).unwrap();
    assert!(!log.contains("no encryption_key"), "{log}");
}
