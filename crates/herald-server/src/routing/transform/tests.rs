use super::*;

fn webhook<'a>(headers: &'a serde_json::Map<String, serde_json::Value>) -> WebhookIn<'a> {
    WebhookIn {
        url: "http://127.0.0.1:9/hook",
        headers,
        event_type: "order.paid",
        event_id: "evt_1",
        body: br#"{"type":"order.paid","timestamp":"t","data":{"id":"ord_1","amount":120}}"#,
    }
}

async fn run_code(code: &str) -> Result<Outcome, String> {
    let headers = serde_json::from_str(r#"{"X-Team": "a"}"#).unwrap();
    run(&Arc::from(code), &webhook(&headers)).await
}

#[tokio::test]
async fn a_handler_reshapes_the_request() {
    let out = run_code(
        r#"function handler(w) {
            w.payload = {text: `Order ${w.payload.data.id} paid`, team: w.headers["x-team"]};
            w.method = "PUT";
            w.url = w.url + "?via=herald";
            w.headers["X-Extra"] = "1";
            return w;
        }"#,
    )
    .await
    .unwrap();
    let Outcome::Send(r) = out else {
        panic!("cancelled")
    };
    assert_eq!(r.method, reqwest::Method::PUT);
    assert_eq!(r.url, "http://127.0.0.1:9/hook?via=herald");
    assert_eq!(r.body, br#"{"text":"Order ord_1 paid","team":"a"}"#);
    assert!(r.headers.contains(&("x-extra".into(), "1".into())));
}

#[tokio::test]
async fn an_unchanged_webhook_is_sent_as_compact_json() {
    let Outcome::Send(r) = run_code("function handler(w) { return w; }").await.unwrap() else {
        panic!()
    };
    assert_eq!(
        r.body,
        br#"{"type":"order.paid","timestamp":"t","data":{"id":"ord_1","amount":120}}"#
    );
    assert_eq!(r.method, reqwest::Method::POST);
}

#[tokio::test]
async fn cancel_means_no_request() {
    let out = run_code("function handler(w) { w.cancel = w.payload.data.amount > 100; return w; }")
        .await
        .unwrap();
    assert_eq!(out, Outcome::Cancelled);
}

#[tokio::test]
async fn bad_results_and_throws_are_errors() {
    for (code, want) in [
        ("function handler(w) { throw new TypeError('nope'); }", "TypeError: nope"),
        ("function handler(w) { return 5; }", "not the webhook object"),
        ("function handler(w) { w.method = 'GET'; return w; }", "POST, PUT or PATCH"),
        ("function handler(w) { w.url = 'ftp://x/'; return w; }", "http(s)"),
        (
            "function handler(w) { w.headers['Webhook-Signature'] = 'x'; return w; }",
            "webhook-signature",
        ),
        ("function handler(w) { while (true) {} }", "100 ms CPU limit"),
        (
            "function handler(w) { let a = []; while (true) a.push('x'.repeat(1 << 20) + a.length); }",
            "memory",
        ),
        ("function handler(w) { return handler(w); }", "stack"),
    ] {
        let e = run_code(code).await.unwrap_err();
        assert!(e.contains(want), "{code}: {e}");
    }
    // The worker is still fine afterwards.
    assert!(run_code("function handler(w) { return w; }").await.is_ok());
}

#[tokio::test]
async fn check_refuses_what_does_not_compile() {
    assert!(check("function handler(w) { return w; }").await.is_ok());
    let e = check("function handler(w) {\n  return w;\n")
        .await
        .unwrap_err();
    assert!(e.contains("SyntaxError") && e.contains("line "), "{e}");
    let e = check("function other(w) { return w; }").await.unwrap_err();
    assert!(e.contains("no function handler"), "{e}");
    let e = check("while (true) {}").await.unwrap_err();
    assert!(e.contains("CPU limit"), "{e}");
    let big = format!(
        "function handler(w) {{ return w; }} //{}",
        "x".repeat(MAX_CODE)
    );
    assert!(check(&big).await.unwrap_err().contains("at most"));
}

#[tokio::test]
async fn scripts_do_not_share_globals() {
    let a = run_code(
        "Object.prototype.url = 'http://evil/'; var n = 1; function handler(w) { return w; }",
    );
    assert!(a.await.is_ok());
    let Outcome::Send(r) =
        run_code("function handler(w) { return {method: 'POST', url: w.url, payload: typeof n}; }")
            .await
            .unwrap()
    else {
        panic!()
    };
    assert_eq!(r.url, "http://127.0.0.1:9/hook");
    assert_eq!(r.body, br#""undefined""#);
}

#[tokio::test]
async fn the_sandbox_has_no_io_timers_or_modules() {
    let Outcome::Send(r) = run_code(
        r#"function handler(w) {
            w.payload = [typeof setTimeout, typeof setInterval, typeof fetch, typeof require,
                         typeof XMLHttpRequest, typeof std, typeof os, typeof process];
            return w;
        }"#,
    )
    .await
    .unwrap() else {
        panic!()
    };
    assert_eq!(
        r.body,
        br#"["undefined","undefined","undefined","undefined","undefined","undefined","undefined","undefined"]"#
    );
    // Scripts are not modules: an import does not compile.
    let e = check("import x from 'os'; function handler(w) { return w; }")
        .await
        .unwrap_err();
    assert!(e.contains("SyntaxError"), "{e}");
}
