//! `POST /v1/apps/{app}/portal-sessions`: a short-lived credential for one application,
//! handed to the operator's customer as a portal link.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::extract::{Path, Principal, RawJson};
use super::keys::issue_key;
use super::wire::{PortalSessionIn, PortalSessionOut};
use super::AppState;
use crate::error::ApiError;
use crate::store::Scope;
use crate::timefmt::{format_ms, now_ms};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(create_session))
}

#[utoipa::path(post, path = "/v1/apps/{app}/portal-sessions", tag = "portal", request_body = PortalSessionIn,
    params(("app" = String, Path, description = "application id or uid")),
    responses((status = 201, body = PortalSessionOut)))]
async fn create_session(
    State(state): State<AppState>,
    who: Principal,
    Path(app): Path<String>,
    body: RawJson,
) -> Result<(StatusCode, Json<PortalSessionOut>), ApiError> {
    let app = who.app(&state, &app).await?;
    if who.scope != Scope::Admin {
        return Err(ApiError::forbidden(
            "insufficient_scope",
            "portal sessions need an admin key",
        ));
    }
    let input: PortalSessionIn = body.parse()?;
    let expires_in = input.expires_in.unwrap_or(3600);
    if !(1..=604_800).contains(&expires_in) {
        return Err(ApiError::invalid(
            "expires_in",
            "expires_in must be 1 to 604800 seconds",
        ));
    }
    let read_only = input.read_only.unwrap_or(false);
    let theme = theme_query(&input)?;
    let expires_at = now_ms() + expires_in * 1000;
    let (_, token) = issue_key(
        &state,
        format!("portal session for {}", app.id),
        Scope::Portal,
        Some(app.id.clone()),
        read_only,
        Some(expires_at),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(PortalSessionOut {
            url: format!(
                "{}/portal/{theme}#token={token}",
                state.config.public_base()
            ),
            token,
            expires_at: format_ms(expires_at),
            read_only,
        }),
    ))
}

/// `?accent=…&logo=…` for the portal page, from the session request (empty without theming).
fn theme_query(input: &PortalSessionIn) -> Result<String, ApiError> {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    if let Some(accent) = &input.accent_color {
        let hex = accent.strip_prefix('#').unwrap_or("");
        if !matches!(hex.len(), 3 | 6) || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(ApiError::invalid(
                "accent_color",
                "accent_color must be a colour like #1f6feb",
            ));
        }
        query.append_pair("accent", accent);
    }
    if let Some(logo) = &input.logo_url {
        match url::Url::parse(logo) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => {
                query.append_pair("logo", logo);
            }
            _ => {
                return Err(ApiError::invalid(
                    "logo_url",
                    "logo_url must be an absolute http(s) URL",
                ))
            }
        }
    }
    let query = query.finish();
    Ok(if query.is_empty() {
        query
    } else {
        format!("?{query}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(accent: Option<&str>, logo: Option<&str>) -> PortalSessionIn {
        PortalSessionIn {
            accent_color: accent.map(Into::into),
            logo_url: logo.map(Into::into),
            ..Default::default()
        }
    }

    #[test]
    fn theme_goes_into_the_query_encoded() {
        assert_eq!(theme_query(&input(None, None)).unwrap(), "");
        assert_eq!(
            theme_query(&input(
                Some("#0a7"),
                Some("https://x.test/logo.png?a=1&b=2")
            ))
            .unwrap(),
            "?accent=%230a7&logo=https%3A%2F%2Fx.test%2Flogo.png%3Fa%3D1%26b%3D2"
        );
    }

    #[test]
    fn bad_theme_is_refused_naming_the_field() {
        for (accent, logo, param) in [
            (Some("red"), None, "accent_color"),
            (Some("#12345"), None, "accent_color"),
            (Some("#12z"), None, "accent_color"),
            (None, Some("javascript:alert(1)"), "logo_url"),
            (None, Some("/logo.png"), "logo_url"),
        ] {
            match theme_query(&input(accent, logo)) {
                Err(ApiError::BadRequest { param: Some(p), .. }) => assert_eq!(p, param),
                other => panic!("{accent:?} {logo:?}: {other:?}"),
            }
        }
    }
}
