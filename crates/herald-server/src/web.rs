//! The web console (`/console/`) and the customer portal (`/portal/`): one single-page app
//! under `crates/herald-server/web/`, embedded in the binary at build time, that talks only to the
//! public API. Both paths serve the same files; the page picks its mode from its path.

use axum::extract::Path;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "web/"]
struct Assets;

/// Which page is being served: it decides who may frame it.
#[derive(Clone, Copy)]
enum Surface {
    /// The operator console holds an admin key: never framed (clickjacking).
    Console,
    /// The portal is made to be embedded in the operator's own product.
    Portal,
}

impl Surface {
    fn content_security_policy(self) -> &'static str {
        // Logos come from the operator's own site, hence any http(s) image.
        match self {
            Surface::Console => "default-src 'self'; img-src 'self' data: http: https:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
            Surface::Portal => "default-src 'self'; img-src 'self' data: http: https:; frame-ancestors *; base-uri 'none'; form-action 'self'",
        }
    }
}

pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route(
            "/console",
            get(|| async { Redirect::permanent("/console/") }),
        )
        .route("/portal", get(|| async { Redirect::permanent("/portal/") }))
        .route(
            "/console/",
            get(|| async { asset(Surface::Console, "index.html") }),
        )
        .route(
            "/portal/",
            get(|| async { asset(Surface::Portal, "index.html") }),
        )
        .route(
            "/console/{*path}",
            get(|Path(p): Path<String>| async move { asset(Surface::Console, &p) }),
        )
        .route(
            "/portal/{*path}",
            get(|Path(p): Path<String>| async move { asset(Surface::Portal, &p) }),
        )
}

fn asset(surface: Surface, path: &str) -> Response {
    let Some(file) = Assets::get(path) else {
        return crate::error::ApiError::NotFound {
            code: "not_found",
            message: format!("no such file: {path}"),
        }
        .into_response();
    };
    let mime = file.metadata.mimetype();
    // Embedded files are `'static`: served without a copy.
    let mut resp = (StatusCode::OK, axum::body::Body::from(file.data)).into_response();
    let headers = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(mime) {
        headers.insert(header::CONTENT_TYPE, v);
    }
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(surface.content_security_policy()),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // The portal token travels in the URL fragment; never leak the page address.
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    // Small files; a new binary must show its own version at once.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_page_and_script_is_embedded() {
        for f in ["index.html", "style.css", "main.js", "api.js", "dom.js"] {
            assert!(Assets::get(f).is_some(), "{f} is not embedded");
        }
        let html = Assets::get("index.html").unwrap();
        assert_eq!(html.metadata.mimetype(), "text/html");
    }
}
