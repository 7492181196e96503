//! The layering, the errors and the parsers of `config`.

use super::*;

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn defaults_match_the_contract() {
    let c = Config::default();
    assert_eq!(c.retry_schedule.len(), 7);
    assert_eq!(c.retry_schedule[1], Duration::from_secs(300));
    assert_eq!(c.max_batch_bytes, 5 * 1024 * 1024);
    assert_eq!(c.public_base(), "http://127.0.0.1:8080");
}

#[test]
fn precedence_file_then_env_then_flags() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("h.toml");
    std::fs::write(
        &f,
        "max_event_bytes = 2048\nretry_schedule = [\"1s\", \"2s\"]\nlisten = \"127.0.0.1:1\"\n",
    )
    .unwrap();
    let c = Config::load(Some(&f), env(&[]), &Overrides::default()).unwrap();
    assert_eq!(c.max_event_bytes, 2048);
    assert_eq!(
        c.retry_schedule,
        vec![Duration::from_secs(1), Duration::from_secs(2)]
    );
    let c = Config::load(
        Some(&f),
        env(&[
            ("HERALD_MAX_EVENT_BYTES", "4096"),
            ("HERALD_LISTEN", "127.0.0.1:2"),
        ]),
        &Overrides {
            listen: Some("127.0.0.1:3".into()),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(c.max_event_bytes, 4096);
    assert_eq!(c.listen.port(), 3);
}

#[test]
fn errors_name_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("h.toml");
    std::fs::write(&f, "bogus_key = 1\n").unwrap();
    let e = Config::load(Some(&f), env(&[]), &Overrides::default()).unwrap_err();
    assert!(e.to_string().contains("bogus_key"), "{e}");
    let e = Config::load(
        None,
        env(&[("HERALD_RETRY_JITTER", "lots")]),
        &Overrides::default(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("retry_jitter"), "{e}");
    std::fs::write(&f, "connect_timeout = \"soon\"\n").unwrap();
    let e = Config::load(Some(&f), env(&[]), &Overrides::default()).unwrap_err();
    assert!(e.to_string().contains("connect_timeout"), "{e}");
}

#[test]
fn durations_in_contract_units() {
    for (t, secs) in [
        ("500ms", 0.5),
        ("5s", 5.0),
        ("5m", 300.0),
        ("2h", 7200.0),
        ("5d", 432000.0),
    ] {
        assert_eq!(parse_duration(t).unwrap().as_secs_f64(), secs, "{t}");
    }
    assert!(parse_duration("soon").is_err());
}

#[test]
fn secrets_never_print() {
    let c = Config::load(
        None,
        env(&[
            ("HERALD_ADMIN_KEY", "hrd_0123456789abcdefSECRET"),
            (
                "HERALD_DATABASE_URL",
                "postgres://herald:hunter2@127.0.0.1/db",
            ),
        ]),
        &Overrides::default(),
    )
    .unwrap();
    let shown = format!("{c:?}");
    assert!(!shown.contains("SECRET"), "{shown}");
    assert!(!shown.contains("hunter2"), "{shown}");
    use secrecy::ExposeSecret;
    assert_eq!(
        c.admin_key.as_ref().unwrap().expose_secret(),
        "hrd_0123456789abcdefSECRET"
    );
    // A mistyped secret is refused without being echoed.
    let e = Config::load(
        None,
        env(&[("HERALD_ADMIN_KEY", "nothrd_SECRETVALUE")]),
        &Overrides::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("admin_key") && !e.contains("SECRETVALUE"), "{e}");
}

#[test]
fn unknown_variables_are_listed_but_client_ones_are_not() {
    let unknown = unknown_env_vars(env(&[
        ("HERALD_RETRY_SHEDULE", "5s"),
        ("HERALD_URL", "http://127.0.0.1:1"),
        ("HERALD_API_KEY", "hrd_x"),
        ("HERALD_LOG", "debug"),
        ("HERALD_LISTEN", "127.0.0.1:1"),
        ("PATH", "/bin"),
    ]));
    assert_eq!(unknown, vec!["HERALD_RETRY_SHEDULE".to_string()]);
    // And an unknown variable does not stop the start.
    let c = Config::load(
        None,
        env(&[("HERALD_RETRY_SHEDULE", "5s")]),
        &Overrides::default(),
    )
    .unwrap();
    assert_eq!(c.retry_schedule.len(), 7);
}

#[test]
fn every_key_of_the_contract_is_declared_once() {
    let k = keys();
    for key in [
        "listen",
        "retry_schedule",
        "public_url",
        "max_concurrency",
        "encryption_key",
    ] {
        assert_eq!(k.iter().filter(|x| **x == key).count(), 1, "{key}");
    }
    assert_eq!(k.len(), 23);
}

#[test]
fn an_encryption_key_must_be_32_bytes_and_is_never_echoed() {
    let good = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
    let c = Config::load(
        None,
        env(&[("HERALD_ENCRYPTION_KEY", good)]),
        &Overrides::default(),
    )
    .unwrap();
    assert_eq!(
        secrecy::ExposeSecret::expose_secret(c.encryption_key.as_ref().unwrap()),
        good
    );
    assert!(!format!("{c:?}").contains(good));
    let short = "U0VDUkVUVkFMVUVfc2hvcnQ=";
    let e = Config::load(
        None,
        env(&[("HERALD_ENCRYPTION_KEY", short)]),
        &Overrides::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("encryption_key") && !e.contains(short), "{e}");
}

#[test]
fn file_values_take_their_native_types_and_bad_files_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("h.toml");
    std::fs::write(
        &f,
        "strict_event_types = true\nretry_jitter = 0\nallowed_target_cidrs = [\"10.0.0.0/8\"]\n",
    )
    .unwrap();
    let c = Config::load(Some(&f), env(&[]), &Overrides::default()).unwrap();
    assert!(c.strict_event_types);
    assert_eq!(c.retry_jitter, 0.0);
    assert_eq!(c.allowed_target_cidrs.len(), 1);
    std::fs::write(&f, "listen = [unclosed\n").unwrap();
    let e = Config::load(Some(&f), env(&[]), &Overrides::default()).unwrap_err();
    assert!(matches!(e, ConfigError::File { .. }), "{e}");
    let missing = dir.path().join("nope.toml");
    let e = Config::load(Some(&missing), env(&[]), &Overrides::default()).unwrap_err();
    assert!(e.to_string().contains("nope.toml"), "{e}");
    // A flag beats the environment, which beats the file.
    std::fs::write(&f, "sweep_interval = \"20s\"\n").unwrap();
    let c = Config::load(
        Some(&f),
        env(&[("HERALD_SWEEP_INTERVAL", "10s")]),
        &Overrides {
            allow_private_targets: true,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(c.sweep_interval, Duration::from_secs(10));
    assert!(c.allow_private_targets);
    let e = Config::load(
        None,
        env(&[("HERALD_SWEEP_INTERVAL", "2m")]),
        &Overrides::default(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("sweep_interval"), "{e}");
}
