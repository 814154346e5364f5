//! OAuth 2.0 and OpenID Connect endpoints: discovery, JWKS, authorization, token, userinfo.
//! Their errors take the shapes the OAuth and OIDC specifications give (what relying party
//! libraries parse), not the API's usual one.

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use nexus_runtime::http::ClientAddr;
use nexus_runtime::{ApiError, ApiJson};

use super::{Caller, RouteState, no_store, session_cookie};
use crate::error::IdentityError;
use crate::service::oidc::{AuthorizeError, AuthorizeParams, OAuthError, OidcTokens};

pub(super) fn routes() -> Router<RouteState> {
    Router::new()
        .route("/oauth/token", axum::routing::post(token))
        .route("/oauth/authorize", get(authorize))
        .route("/oauth/userinfo", get(userinfo).post(userinfo))
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/.well-known/jwks.json", get(jwks))
}

/// A token endpoint error (RFC 6749 §5.2).
fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    no_store((
        status,
        ApiJson(serde_json::json!({ "error": error, "error_description": description })),
    ))
}

/// The client's id and secret: HTTP Basic (RFC 6749 §2.3.1, form-encoded inside) or
/// `client_id`/`client_secret` in the body.
fn client_auth(
    headers: &HeaderMap,
    form: &std::collections::HashMap<String, String>,
) -> Option<(String, String)> {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .ok()
        })
        .and_then(|raw| String::from_utf8(raw).ok())
        .and_then(|pair| {
            let (id, secret) = pair.split_once(':')?;
            let decode = |s: &str| {
                url::form_urlencoded::parse(format!("x={s}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
            };
            Some((decode(id)?, decode(secret)?))
        });
    basic.or_else(|| {
        Some((
            form.get("client_id")?.clone(),
            form.get("client_secret")?.clone(),
        ))
    })
}

fn identity_error(e: IdentityError) -> Response {
    match e {
        IdentityError::InvalidCredentials => oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "unknown or disabled client, or a wrong secret",
        ),
        IdentityError::Invalid(m) => oauth_error(StatusCode::BAD_REQUEST, "invalid_scope", &m),
        IdentityError::Throttled { retry_after_secs } => {
            let mut resp = oauth_error(
                StatusCode::TOO_MANY_REQUESTS,
                "invalid_client",
                &format!("too many failed attempts; try again in {retry_after_secs} seconds"),
            );
            if let Ok(v) = HeaderValue::from_str(&retry_after_secs.to_string()) {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
            resp
        }
        e => ApiError::from(e).into_response(),
    }
}

fn tokens_json(t: OidcTokens) -> Response {
    let mut body = serde_json::json!({
        "access_token": t.access_token,
        "token_type": "Bearer",
        "expires_in": t.expires_in,
        "refresh_token": t.refresh_token,
        "scope": t.scope,
    });
    if let Some(id) = t.id_token {
        body["id_token"] = id.into();
    }
    no_store(ApiJson(body))
}

/// The token endpoint: `client_credentials`, `authorization_code` (with PKCE) and
/// `refresh_token`, form-encoded, the client authenticated by HTTP Basic or in the body.
async fn token(
    State(state): State<RouteState>,
    ClientAddr(from): ClientAddr,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let form: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(&body).into_owned().collect();
    let grant = form.get("grant_type").map(String::as_str);
    if !matches!(
        grant,
        Some("client_credentials" | "authorization_code" | "refresh_token")
    ) {
        return match grant {
            Some(other) => oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                &format!(
                    "grant_type `{other}` is not supported; use authorization_code, refresh_token or client_credentials"
                ),
            ),
            None => oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "send grant_type (and the grant's parameters) as application/x-www-form-urlencoded",
            ),
        };
    }
    let Some((id, secret)) = client_auth(&headers, &form) else {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "authenticate the client with HTTP Basic (client_id:client_secret)",
        );
    };
    let field = |k: &str| form.get(k).map(String::as_str);
    if grant == Some("client_credentials") {
        return match state
            .service
            .client_credentials(&id, &secret, field("scope"), &from)
            .await
        {
            Ok((token, expires_in, scopes)) => no_store(ApiJson(serde_json::json!({
                "access_token": token,
                "token_type": "Bearer",
                "expires_in": expires_in,
                "scope": scopes.to_string_list(),
            }))),
            Err(e) => identity_error(e),
        };
    }
    let client = match state.service.authenticate_client(&id, &secret, &from).await {
        Ok(c) => c,
        Err(e) => return identity_error(e),
    };
    let result = if grant == Some("authorization_code") {
        let Some(code) = field("code") else {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "code is missing",
            );
        };
        state
            .service
            .exchange_code(&client, code, field("redirect_uri"), field("code_verifier"))
            .await
    } else {
        let Some(refresh) = field("refresh_token") else {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "refresh_token is missing",
            );
        };
        state
            .service
            .refresh(&client, refresh, field("scope"))
            .await
    };
    match result {
        Ok(t) => tokens_json(t),
        Err(OAuthError::InvalidGrant(m)) => {
            oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", &m)
        }
        Err(OAuthError::InvalidRequest(m)) => {
            oauth_error(StatusCode::BAD_REQUEST, "invalid_request", &m)
        }
        Err(OAuthError::InvalidScope(m)) => {
            oauth_error(StatusCode::BAD_REQUEST, "invalid_scope", &m)
        }
        Err(OAuthError::Other(e)) => identity_error(e),
    }
}

/// A small page for what cannot go back to the app (unknown app, unregistered address).
fn page(status: StatusCode, message: &str) -> Response {
    let escaped = message
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;");
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Sign-in problem</title></head>\
         <body style=\"font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem\">\
         <h1>Sign-in problem</h1><p data-testid=\"oauth-error\">{escaped}</p>\
         <p><a href=\"/\">Go to NEXUS</a></p></body></html>"
    );
    no_store((
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        html,
    ))
}

fn found(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(v) => no_store((StatusCode::FOUND, [(header::LOCATION, v)])),
        Err(_) => page(
            StatusCode::BAD_REQUEST,
            "The app's return address cannot be used.",
        ),
    }
}

fn authorize_error(state: &RouteState, e: AuthorizeError) -> Response {
    match e {
        AuthorizeError::Page(m) => page(StatusCode::BAD_REQUEST, &m),
        AuthorizeError::Redirect {
            redirect_uri,
            error,
            description,
            state: st,
        } => found(&state.service.redirect_with(
            &redirect_uri,
            &[
                ("error", Some(error)),
                ("error_description", Some(&description)),
                ("state", st.as_deref()),
            ],
        )),
    }
}

/// The authorization endpoint: checks the request, sends a visitor without a session to
/// the login page (which returns here), and sends a logged-in user back to the app with a
/// code. Apps are registered by the organization's administrators, so no consent screen is
/// shown (as with Keycloak's and Entra's first-party apps).
async fn authorize(
    State(state): State<RouteState>,
    ClientAddr(from): ClientAddr,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let query = query.unwrap_or_default();
    let params = match AuthorizeParams::from_query(&query) {
        Ok(p) => p,
        Err(m) => return page(StatusCode::BAD_REQUEST, &m),
    };
    let valid = match state.service.check_authorize(&params).await {
        Ok(v) => v,
        Err(e) => return authorize_error(&state, e),
    };
    let current = match session_cookie(&headers) {
        Some(token) => state.service.authenticate(&token).await,
        None => Ok(None),
    };
    let stale = |created: chrono::DateTime<chrono::Utc>| {
        valid.login_prompt
            && chrono::Utc::now() - created
                > chrono::TimeDelta::seconds(crate::service::oidc::FRESH_LOGIN_SECS)
    };
    match current {
        // `prompt=login` (OIDC Core §3.1.2.1): the user signs in again, however long
        // their session has to run; the login page does so even with a session.
        Ok(Some((session, _, _))) if stale(session.created_at) => {
            let back = format!("/oauth/authorize?{query}");
            let next: String = url::form_urlencoded::byte_serialize(back.as_bytes()).collect();
            found(&format!("/login?reauth=1&next={next}"))
        }
        Ok(Some((session, user, _))) if !user.must_change_password => {
            match state
                .service
                .issue_code(&valid, &session, &user, &from)
                .await
            {
                Ok(location) => found(&location),
                Err(e) => authorize_error(&state, e),
            }
        }
        Ok(Some(_)) if !valid.no_prompt => page(
            StatusCode::FORBIDDEN,
            "Choose your own password in NEXUS first (you logged in with a one-time password), then go back to the app.",
        ),
        Ok(_) if valid.no_prompt => authorize_error(
            &state,
            valid.error("login_required", "the user is not logged in to NEXUS"),
        ),
        Ok(_) => {
            let back = format!("/oauth/authorize?{query}");
            let next: String = url::form_urlencoded::byte_serialize(back.as_bytes()).collect();
            found(&format!("/login?next={next}"))
        }
        Err(_) => page(
            StatusCode::SERVICE_UNAVAILABLE,
            "Your sign-in cannot be checked right now. Try again shortly.",
        ),
    }
}

/// OIDC userinfo: the claims the access token's scopes allow.
async fn userinfo(State(state): State<RouteState>, caller: Caller) -> Response {
    let Caller::Token(principal) = caller else {
        return bearer_error("invalid_token", "send the access token as a Bearer token");
    };
    match state.service.userinfo(&principal).await {
        Ok(info) => no_store(ApiJson(info)),
        Err(IdentityError::Forbidden(m)) => bearer_error("insufficient_scope", &m),
        Err(IdentityError::InvalidCredentials) => {
            bearer_error("invalid_token", "the account is disabled or gone")
        }
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// A protected-resource error with its `WWW-Authenticate` header (RFC 6750 §3).
fn bearer_error(error: &str, description: &str) -> Response {
    let status = if error == "insufficient_scope" {
        StatusCode::FORBIDDEN
    } else {
        StatusCode::UNAUTHORIZED
    };
    let mut resp = oauth_error(status, error, description);
    if let Ok(v) = HeaderValue::from_str(&format!("Bearer error=\"{error}\"")) {
        resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    resp
}

async fn discovery(State(state): State<RouteState>) -> Response {
    let mut resp = ApiJson(state.service.discovery()).into_response();
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    resp
}

/// The public signing keys, for anyone verifying NEXUS tokens.
async fn jwks(State(state): State<RouteState>) -> Response {
    let mut resp = ApiJson(state.service.tokens().keys().jwks()).into_response();
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    resp
}
