//! Filters and transformations from the CLI and the Rust SDK, against a real server.

use std::time::Duration;

use herald_sdk::client::{
    Client, EndpointPatch, FilterTestIn, Format, NewEndpoint, Transformation, TransformationTestIn,
};
use serde_json::json;

use crate::cli::{herald, stdout_json};
use crate::support::*;

on_backends!(both: #[tokio::test(flavor = "multi_thread")] the_cli_sets_and_tests_filters_and_transformations);
async fn the_cli_sets_and_tests_filters_and_transformations() {
    let h = Herald::start(&[]).await;
    let rx = Receiver::start().await;
    let app = h.app().await;
    let dir = tempfile::tempdir().unwrap();
    let code = dir.path().join("shape.js");
    std::fs::write(
        &code,
        "function handler(w) {\n  w.payload = {text: 'paid ' + w.payload.data.amount};\n  return w;\n}\n",
    )
    .unwrap();
    let code = code.to_str().unwrap();
    let url = rx.url("/cli");
    let ep = stdout_json(&herald(
        &h,
        &[
            "endpoints",
            "create",
            "--app",
            &app,
            "--endpoint-url",
            &url,
            "--filter",
            "data.amount > 10",
            "--transformation-file",
            code,
            "--header",
            "X-Team: blue",
            "--format",
            "standard_webhooks",
            "--rate-limit",
            "50",
            "--json",
        ],
        None,
    ));
    assert_eq!(ep["filter"], "data.amount > 10");
    assert!(ep["transformation"]["code"]
        .as_str()
        .unwrap()
        .contains("paid "));
    assert_eq!(ep["headers"]["X-Team"], "blue");
    assert_eq!(ep["rate_limit"], 50);
    let id = ep["id"].as_str().unwrap();

    let out = stdout_json(&herald(
        &h,
        &[
            "endpoints",
            "test-filter",
            id,
            "--app",
            &app,
            "--type",
            "order.paid",
            "--data",
            r#"{"amount": 11}"#,
            "--json",
        ],
        None,
    ));
    assert_eq!(out, json!({"matches": true}));
    let out = stdout_json(&herald(
        &h,
        &[
            "endpoints",
            "test-filter",
            id,
            "--app",
            &app,
            "--type",
            "order.paid",
            "--data",
            r#"{"amount": 11}"#,
            "--filter",
            "data.amount > 100",
            "--json",
        ],
        None,
    ));
    assert_eq!(out, json!({"matches": false}));
    let out = stdout_json(&herald(
        &h,
        &[
            "endpoints",
            "test-transformation",
            id,
            "--app",
            &app,
            "--type",
            "order.paid",
            "--data",
            r#"{"amount": 12}"#,
            "--json",
        ],
        None,
    ));
    assert_eq!(out["body"], r#"{"text":"paid 12"}"#);
    assert_eq!(out["headers"]["x-team"], "blue");
    // A filter that does not compile: exit 1 with the code on stderr.
    let bad = herald(
        &h,
        &[
            "endpoints",
            "update",
            id,
            "--app",
            &app,
            "--filter",
            "data.amount >",
        ],
        None,
    );
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("invalid_filter"));

    h.send(&app, "order.paid", json!({"amount": 5})).await;
    h.send(&app, "order.paid", json!({"amount": 15})).await;
    let got = rx.wait("/cli", 1, Duration::from_secs(10)).await;
    assert_eq!(got[0].body, r#"{"text":"paid 15"}"#);

    // Removing both: the plain body again, every event.
    let ep = stdout_json(&herald(
        &h,
        &[
            "endpoints",
            "update",
            id,
            "--app",
            &app,
            "--no-filter",
            "--no-transformation",
            "--format",
            "slack",
            "--json",
        ],
        None,
    ));
    assert_eq!(
        (ep["filter"].is_null(), ep["transformation"].is_null()),
        (true, true)
    );
    assert_eq!(ep["format"], "slack");
    h.send(&app, "order.paid", json!({"amount": 1})).await;
    let got = rx.wait("/cli", 2, Duration::from_secs(10)).await;
    assert!(got[1].json()["text"]
        .as_str()
        .unwrap()
        .contains("order.paid"));
}

on_backends!(both: #[tokio::test(flavor = "multi_thread")] the_rust_sdk_sets_and_tests_filters_and_transformations);
async fn the_rust_sdk_sets_and_tests_filters_and_transformations() {
    let h = Herald::start(&[]).await;
    let rx = Receiver::start().await;
    let c = Client::builder(&h.url, ADMIN_KEY).build().unwrap();
    let app = h.app().await;
    let ep = c
        .create_endpoint(
            &app,
            &NewEndpoint {
                url: rx.url("/sdk"),
                filter: Some(r#"data.tier == "gold""#.into()),
                transformation: Some(Transformation {
                    code: "function handler(w) { w.method = 'PATCH'; return w; }".into(),
                    enabled: true,
                }),
                format: Some(Format::Discord),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(ep.filter.as_deref(), Some(r#"data.tier == "gold""#));
    let test = FilterTestIn {
        event_type: "user.up".into(),
        payload: json!({"tier": "gold"}),
        ..Default::default()
    };
    assert!(c.test_filter(&app, &ep.id, &test).await.unwrap().matches);
    let run = TransformationTestIn {
        code: None,
        event_type: "user.up".into(),
        payload: json!({"tier": "gold"}),
    };
    let out = c.test_transformation(&app, &ep.id, &run).await.unwrap();
    assert_eq!(out.method.as_deref(), Some("PATCH"));
    assert!(out.body.unwrap().contains("content"));
    let bad = TransformationTestIn {
        code: Some("function handler(w) { throw new Error('no'); }".into()),
        ..run
    };
    let e = c.test_transformation(&app, &ep.id, &bad).await.unwrap_err();
    assert!(
        matches!(&e, herald_sdk::client::Error::BadRequest { code, .. } if code == "transformation_error"),
        "{e}"
    );
    h.send(&app, "user.up", json!({"tier": "gold"})).await;
    let got = rx.wait("/sdk", 1, Duration::from_secs(10)).await;
    assert_eq!(got[0].method, "PATCH");
    let ep = c
        .update_endpoint(
            &app,
            &ep.id,
            &EndpointPatch {
                filter: Some(None),
                transformation: Some(None),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(ep.filter.is_none() && ep.transformation.is_none());
}
