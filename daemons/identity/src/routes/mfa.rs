//! `/api/account/mfa…`: a user's second factors.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use nexus_runtime::http::ClientAddr;
use nexus_runtime::{ApiError, ApiJson};
use nexus_wire::{
    CodeRequest, MfaStatusView, PasswordConfirmRequest, RecoveryCodesView, TotpEnrolmentView,
};

use super::{Authenticated, RouteState, no_store};
use crate::service::user_actor;

pub(super) fn routes() -> Router<RouteState> {
    Router::new()
        .route("/api/account/mfa", get(status))
        .route("/api/account/mfa/totp", post(begin_totp))
        .route("/api/account/mfa/totp/confirm", post(confirm_totp))
        .route("/api/account/mfa/totp/remove", post(remove_totp))
        .route("/api/account/mfa/recovery-codes", post(new_recovery_codes))
}

async fn status(
    State(state): State<RouteState>,
    auth: Authenticated,
) -> Result<ApiJson<MfaStatusView>, ApiError> {
    let s = state.service.mfa_status(&auth.user).await?;
    Ok(ApiJson(MfaStatusView {
        totp: s.totp,
        recovery_codes_left: s.recovery_codes_left,
    }))
}

async fn begin_totp(
    State(state): State<RouteState>,
    ClientAddr(client): ClientAddr,
    auth: Authenticated,
) -> Result<Response, ApiError> {
    let e = state
        .service
        .begin_totp(&auth.user, &auth.org, &user_actor(&auth.user, &client))
        .await?;
    Ok(no_store((
        StatusCode::CREATED,
        ApiJson(TotpEnrolmentView {
            secret: e.secret_base32,
            otpauth_url: e.otpauth_url,
        }),
    )))
}

async fn confirm_totp(
    State(state): State<RouteState>,
    ClientAddr(client): ClientAddr,
    auth: Authenticated,
    ApiJson(req): ApiJson<CodeRequest>,
) -> Result<Response, ApiError> {
    let recovery_codes = state
        .service
        .confirm_totp(&auth.user, &req.code, &user_actor(&auth.user, &client))
        .await?;
    Ok(no_store(ApiJson(RecoveryCodesView { recovery_codes })))
}

async fn remove_totp(
    State(state): State<RouteState>,
    ClientAddr(client): ClientAddr,
    auth: Authenticated,
    ApiJson(req): ApiJson<PasswordConfirmRequest>,
) -> Result<StatusCode, ApiError> {
    state
        .service
        .remove_totp(&auth.user, &req.password, &user_actor(&auth.user, &client))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn new_recovery_codes(
    State(state): State<RouteState>,
    ClientAddr(client): ClientAddr,
    auth: Authenticated,
    ApiJson(req): ApiJson<PasswordConfirmRequest>,
) -> Result<Response, ApiError> {
    let recovery_codes = state
        .service
        .replace_recovery_codes(&auth.user, &req.password, &user_actor(&auth.user, &client))
        .await?;
    Ok(no_store(ApiJson(RecoveryCodesView { recovery_codes })))
}
