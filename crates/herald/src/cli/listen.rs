//! `herald listen`: a local receiver for development. Prints each request, verifies its
//! signature when given a secret (saying why when it does not), and can forward to a local
//! app (loopback only), relaying its status code.

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

/// Where to listen and what to do with each request.
#[derive(clap::Args, Debug, Clone)]
pub struct ListenArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:9000")]
    pub listen: SocketAddr,
    /// `whsec_…`/`whpk_…` to verify signatures with.
    #[arg(long)]
    pub secret: Option<String>,
    /// Forward each request to this local URL (loopback only) and relay its status.
    #[arg(long)]
    pub forward_to: Option<String>,
}

#[derive(Clone)]
struct Listener {
    args: ListenArgs,
    http: reqwest::Client,
}

pub async fn run(args: ListenArgs) -> Result<(), String> {
    if let Some(to) = &args.forward_to {
        let url = url::Url::parse(to).map_err(|e| format!("--forward-to: {e}"))?;
        let loopback = match url.host() {
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            Some(url::Host::Domain(d)) => d == "localhost",
            None => false,
        };
        if !loopback {
            return Err("--forward-to must be a loopback URL (127.0.0.1, ::1 or localhost)".into());
        }
    }
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    println!(
        "listening on http://{}",
        listener.local_addr().map_err(|e| e.to_string())?
    );
    let state = Listener {
        args,
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| e.to_string())?,
    };
    let app = axum::Router::new().fallback(handle).with_state(state);
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .map_err(|e| e.to_string())
}

async fn handle(
    State(l): State<Listener>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    println!("── {method} {uri}");
    for name in [
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
        "herald-delivery-id",
        "herald-attempt",
        "content-type",
        "ce-type",
    ] {
        if let Some(v) = headers.get(name).and_then(|v| v.to_str().ok()) {
            println!("   {name}: {v}");
        }
    }
    match serde_json::from_slice::<serde_json::Value>(&body) {
        Ok(v) => println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default()),
        Err(_) => println!("{}", String::from_utf8_lossy(&body)),
    }
    if let Some(secret) = &l.args.secret {
        let get = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or("");
        let verdict = herald_signature::Verifier::new(&[secret])
            .map_err(|e| e.to_string())
            .and_then(|v| {
                v.verify(
                    get("webhook-id"),
                    get("webhook-timestamp"),
                    get("webhook-signature"),
                    &body,
                )
                .map_err(|e| e.to_string())
            });
        match verdict {
            Ok(()) => println!("   signature: valid"),
            Err(reason) => println!("   signature: INVALID ({reason})"),
        }
    }
    let Some(to) = &l.args.forward_to else {
        return (StatusCode::OK, "ok").into_response();
    };
    let mut req = l.http.request(
        method,
        format!("{}{}", to.trim_end_matches('/'), uri.path()),
    );
    for (k, v) in &headers {
        if k != "host" && k != "content-length" {
            req = req.header(k, v);
        }
    }
    match req.body(body).send().await {
        Ok(resp) => {
            let status =
                StatusCode::from_u16(resp.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
            println!("   forwarded: {status}");
            (status, resp.bytes().await.unwrap_or_default()).into_response()
        }
        Err(e) => {
            println!("   forward failed: {e}");
            (StatusCode::BAD_GATEWAY, e.to_string()).into_response()
        }
    }
}
