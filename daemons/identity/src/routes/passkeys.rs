//! Passkeys: `/api/account/passkeys…` (a user's own) and `/api/session/passkey…` (signing
//! in with one). Each ceremony is two requests: options for the browser's WebAuthn call,
//! then its answer.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{delete, get, post};
use nexus_runtime::http::ClientAddr;
use nexus_runtime::{ApiError, ApiJson, ApiPath};
use serde_json::{Value, json};
use webauthn_rs::prelude::{PublicKeyCredential, RegisterPublicKeyCredential};

use super::{Authenticated, RouteState, logged_in, no_store};
use crate::service::passkeys::PasskeyView;
use crate::service::user_actor;

pub(super) fn routes() -> Router<RouteState> {
    Router::new()
        .route("/api/account/passkeys", get(list).post(begin_registration))
        .route("/api/account/passkeys/finish", post(finish_registration))
        .route("/api/account/passkeys/{id}", delete(remove))
        .route("/api/session/passkey", post(begin_login))
        .route("/api/session/passkey/finish", post(finish_login))
}

async fn list(
    State(state): State<RouteState>,
    auth: Authenticated,
) -> Result<ApiJson<Value>, ApiError> {
    let keys = state.service.list_passkeys(&auth.user).await?;
    let views: Vec<PasskeyView> = keys.iter().map(Into::into).collect();
    Ok(ApiJson(json!({ "passkeys": views })))
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct NameRequest {
    name: String,
}

/// Options for `navigator.credentials.create`, and the ceremony id to send back.
async fn begin_registration(
    State(state): State<RouteState>,
    auth: Authenticated,
    ApiJson(req): ApiJson<NameRequest>,
) -> Result<Response, ApiError> {
    let (ceremony, options) = state
        .service
        .begin_passkey_registration(&auth.user, &req.name)
        .await?;
    Ok(no_store(ApiJson(
        json!({ "ceremony": ceremony, "options": options }),
    )))
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RegistrationAnswer {
    ceremony: String,
    credential: RegisterPublicKeyCredential,
}

async fn finish_registration(
    State(state): State<RouteState>,
    ClientAddr(from): ClientAddr,
    auth: Authenticated,
    ApiJson(req): ApiJson<RegistrationAnswer>,
) -> Result<Response, ApiError> {
    let record = state
        .service
        .finish_passkey_registration(
            &auth.user,
            &req.ceremony,
            &req.credential,
            &user_actor(&auth.user, &from),
        )
        .await?;
    Ok(no_store((
        StatusCode::CREATED,
        ApiJson(PasskeyView::from(&record)),
    )))
}

async fn remove(
    State(state): State<RouteState>,
    ClientAddr(from): ClientAddr,
    auth: Authenticated,
    ApiPath(id): ApiPath<uuid::Uuid>,
) -> Result<StatusCode, ApiError> {
    state
        .service
        .remove_passkey(&auth.user, id, &user_actor(&auth.user, &from))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct EmailRequest {
    email: String,
}

/// Options for `navigator.credentials.get` naming the address's passkeys.
async fn begin_login(
    State(state): State<RouteState>,
    ClientAddr(from): ClientAddr,
    ApiJson(req): ApiJson<EmailRequest>,
) -> Result<Response, ApiError> {
    let (ceremony, options) = state.service.begin_passkey_login(&req.email, &from).await?;
    Ok(no_store(ApiJson(
        json!({ "ceremony": ceremony, "options": options }),
    )))
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginAnswer {
    ceremony: String,
    credential: PublicKeyCredential,
}

/// Verifies the passkey's signature and answers like a password login, with the cookie.
async fn finish_login(
    State(state): State<RouteState>,
    ClientAddr(from): ClientAddr,
    ApiJson(req): ApiJson<LoginAnswer>,
) -> Result<Response, ApiError> {
    let login = state
        .service
        .finish_passkey_login(&req.ceremony, &req.credential, &from)
        .await?;
    logged_in(&state, &login).await
}
