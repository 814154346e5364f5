//! Wire types shared by the NEXUS daemons, `nexusctl` and the dashboard.
//!
//! Everything here is serialized as JSON on a public or admin interface, so field names and
//! error codes are a contract: add fields, never rename or remove them.

use serde::{Deserialize, Serialize};

/// Stable, machine-readable error codes. Clients match on these, never on messages.
pub mod codes {
    pub const NOT_FOUND: &str = "not_found";
    pub const METHOD_NOT_ALLOWED: &str = "method_not_allowed";
    pub const VALIDATION_FAILED: &str = "validation.failed";
    pub const BAD_JSON: &str = "request.bad_json";
    pub const UNSUPPORTED_MEDIA_TYPE: &str = "request.unsupported_media_type";
    pub const CSRF_REJECTED: &str = "request.cross_site";
    pub const PAYLOAD_TOO_LARGE: &str = "request.too_large";
    pub const TIMEOUT: &str = "request.timeout";
    pub const AUTH_REQUIRED: &str = "auth.required";
    pub const AUTH_INVALID_CREDENTIALS: &str = "auth.invalid_credentials";
    pub const AUTH_THROTTLED: &str = "auth.throttled";
    pub const AUTH_WEAK_PASSWORD: &str = "auth.weak_password";
    pub const AUTH_DISABLED: &str = "auth.account_disabled";
    /// The account still has its one-time password: only `GET /api/session`,
    /// `POST /api/session/password` and logging out work until it is changed.
    pub const AUTH_PASSWORD_CHANGE_REQUIRED: &str = "auth.password_change_required";
    /// The bearer token is malformed, forged, for another instance, or revoked.
    pub const AUTH_INVALID_TOKEN: &str = "auth.invalid_token";
    /// The bearer token has expired: get a new one.
    pub const AUTH_TOKEN_EXPIRED: &str = "auth.token_expired";
    /// The bearer token lacks the scope this request needs.
    pub const AUTH_INSUFFICIENT_SCOPE: &str = "auth.insufficient_scope";
    /// Logged in, but the role does not allow this.
    pub const FORBIDDEN: &str = "auth.forbidden";
    /// A second-factor code (TOTP or recovery code) is wrong or was already used.
    pub const AUTH_INVALID_CODE: &str = "auth.invalid_code";
    /// The second login step's challenge is unknown or expired: log in again.
    pub const AUTH_MFA_CHALLENGE_INVALID: &str = "auth.mfa_challenge_invalid";
    /// A password reset link is unknown, used or expired: ask for a new one.
    pub const AUTH_RESET_LINK_INVALID: &str = "auth.reset_link_invalid";
    /// This instance sends no e-mail, so it cannot send reset links.
    pub const MAIL_NOT_CONFIGURED: &str = "mail.not_configured";
    /// An outside directory (LDAP) could not be reached, bound to or searched.
    pub const DIRECTORY_UNREACHABLE: &str = "directory.unreachable";
    /// The action needs a recent login: log out and in again.
    pub const AUTH_RECENT_LOGIN_REQUIRED: &str = "auth.recent_login_required";
    /// An outside OpenID provider's discovery document or keys could not be fetched.
    pub const SSO_PROVIDER_UNREACHABLE: &str = "sso.provider_unreachable";
    /// Passkeys cannot work at this instance's address (e.g. a bare IP address).
    pub const PASSKEYS_UNAVAILABLE: &str = "passkeys.unavailable";
    /// A passkey ceremony id that is unknown, used or expired.
    pub const AUTH_PASSKEY_CEREMONY_INVALID: &str = "auth.passkey_ceremony_invalid";
    /// The browser's passkey answer did not verify.
    pub const AUTH_PASSKEY_REJECTED: &str = "auth.passkey_rejected";
    /// The address has no passkey.
    pub const AUTH_NO_PASSKEY: &str = "auth.no_passkey";
    pub const UNAVAILABLE: &str = "service.unavailable";
    pub const INTERNAL: &str = "internal";
}

/// The body of every error response: `{"error":{"code":"…","message":"…"}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    pub code: String,
    pub message: String,
}

impl ErrorBody {
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        Self {
            error: ErrorDetail {
                code: code.to_owned(),
                message: message.into(),
            },
        }
    }
}

/// What an installed app shows in the launcher.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppInfo {
    /// Stable identifier, also the crate's name in `server.apps` (`hub`, `identity`, …).
    pub id: String,
    pub name: String,
    pub description: String,
    /// Where the app lives in the web shell.
    pub path: String,
    /// An icon name from the design system.
    pub icon: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductInfo {
    pub name: String,
    pub version: String,
}

/// `GET /api/apps`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppsResponse {
    pub product: ProductInfo,
    pub apps: Vec<AppInfo>,
}

/// Health of one app inside a daemon, as reported on the admin interface.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppHealth {
    pub id: String,
    pub healthy: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// `GET /status` on a daemon's admin socket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DaemonReport {
    pub daemon: String,
    pub version: String,
    pub pid: u32,
    /// Seconds since the Unix epoch.
    pub started_at: u64,
    pub uptime_secs: f64,
    pub ready: bool,
    pub healthy: bool,
    pub public_url: String,
    pub listen: String,
    pub apps: Vec<AppHealth>,
    pub rss_bytes: Option<u64>,
}

/// The life-cycle state of a supervised daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DaemonState {
    Starting,
    Running,
    Restarting,
    Stopping,
    Stopped,
    Failed,
}

impl std::fmt::Display for DaemonState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Starting => "starting",
            Self::Running => "running",
            Self::Restarting => "restarting",
            Self::Stopping => "stopping",
            Self::Stopped => "stopped",
            Self::Failed => "failed",
        })
    }
}

/// One daemon in `nexusctl status --json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DaemonStatus {
    pub name: String,
    pub state: DaemonState,
    pub pid: Option<u32>,
    pub ready: bool,
    pub healthy: bool,
    pub version: Option<String>,
    pub uptime_secs: Option<f64>,
    pub restarts: u32,
    pub apps: Vec<AppHealth>,
    pub rss_bytes: Option<u64>,
    /// Why the daemon is not healthy, in words an operator can act on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
    /// What it has served since it started (running daemons).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<MetricsSummary>,
}

/// A daemon's traffic since it started, from its `/metrics`, summed over routes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricsSummary {
    pub requests: u64,
    /// Requests answered with a 5xx.
    pub errors: u64,
    pub latency_p50_ms: Option<f64>,
    pub latency_p99_ms: Option<f64>,
    pub in_flight: u64,
    pub cpu_seconds: Option<f64>,
    /// The database pool: connections open, and of those idle.
    pub db_connections: Option<u32>,
    pub db_idle: Option<u32>,
}

/// `nexusctl status --json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusReport {
    pub state_dir: String,
    pub url: Option<String>,
    pub healthy: bool,
    pub supervisor_pid: Option<u32>,
    pub daemons: Vec<DaemonStatus>,
    /// The installed release the services run (`releases/current`), once `nexusctl upgrade`
    /// installed one; the daemons' own version is that of the code they were built from.
    #[serde(default)]
    pub release: Option<String>,
    /// The release `nexusctl rollback` returns to.
    #[serde(default)]
    pub previous_release: Option<String>,
}

/// How urgent an alert is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertSeverity {
    Info,
    Warning,
    Critical,
}

impl std::fmt::Display for AlertSeverity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Info => "info",
            Self::Warning => "warning",
            Self::Critical => "CRITICAL",
        })
    }
}

/// Something about the instance that needs an operator's attention, as `nexusctl`
/// evaluated it (`nexusctl alerts --json`, `<state>/run/alerts.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// Stable while the condition lasts: `service-down:web`, `disk`, `backup-failed`, …
    pub id: String,
    pub severity: AlertSeverity,
    pub summary: String,
    /// What to do about it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// When it began (Unix seconds).
    pub since: i64,
}

/// `GET /api/admin/instance/alerts`: the instance's alerts as last evaluated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstanceAlerts {
    /// When they were last evaluated (Unix seconds); `None` when they never were.
    pub evaluated_at: Option<i64>,
    pub alerts: Vec<Alert>,
    /// True when nothing has evaluated them for a while: the list may be out of date
    /// (`nexusctl up` evaluates every 15 s; elsewhere `nexusctl alerts` run from a timer).
    pub stale: bool,
}

/// An organization as the web shell sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgView {
    pub id: String,
    pub slug: String,
    pub name: String,
    /// Accent colour `#rrggbb` for the shell; empty for the default.
    pub brand_color: String,
    /// Whether `GET /api/org/logo` has an image.
    pub has_logo: bool,
}

/// A user as the web shell sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserView {
    pub id: String,
    pub email: String,
    pub display_name: String,
    pub role: String,
    pub org: OrgView,
    /// The permissions the user holds (built-in role and custom roles), e.g. `users:read`.
    pub permissions: Vec<String>,
}

/// `GET /api/session` and `POST /api/session`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionResponse {
    pub user: UserView,
    pub must_change_password: bool,
}

/// `POST /api/session`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

/// `POST /api/session` when the account has a second factor: no session yet; send the
/// challenge with a code to `POST /api/session/mfa`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MfaChallengeResponse {
    pub mfa: MfaChallengeView,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MfaChallengeView {
    pub challenge: String,
    /// `totp`, `recovery_code`.
    pub methods: Vec<String>,
    /// Seconds the challenge stays valid.
    pub expires_in: u64,
}

/// `POST /api/session/mfa`: the second login step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MfaLoginRequest {
    pub challenge: String,
    /// A 6-digit code from the authenticator app, or a recovery code.
    pub code: String,
}

/// `GET /api/account/mfa`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MfaStatusView {
    pub totp: bool,
    pub recovery_codes_left: i64,
}

/// `POST /api/account/mfa/totp`: what the authenticator app needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TotpEnrolmentView {
    /// Base32, for typing into the app.
    pub secret: String,
    /// `otpauth://totp/…`, for a QR code.
    pub otpauth_url: String,
}

/// `POST /api/account/mfa/totp/confirm`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeRequest {
    pub code: String,
}

/// `POST /api/password-reset`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasswordResetRequest {
    pub email: String,
}

/// `POST /api/password-reset/complete`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasswordResetComplete {
    /// The token from the link in the e-mail.
    pub token: String,
    pub new_password: String,
}

/// Requests that need the current password again (removing a factor, new recovery codes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasswordConfirmRequest {
    pub password: String,
}

/// Recovery codes, shown once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecoveryCodesView {
    pub recovery_codes: Vec<String>,
}

/// `POST /api/session/password`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangePasswordRequest {
    pub current_password: String,
    pub new_password: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_body_shape_is_stable() -> Result<(), serde_json::Error> {
        let body = ErrorBody::new(codes::NOT_FOUND, "no such thing");
        assert_eq!(
            serde_json::to_string(&body)?,
            r#"{"error":{"code":"not_found","message":"no such thing"}}"#
        );
        Ok(())
    }

    #[test]
    fn daemon_state_is_snake_case() -> Result<(), serde_json::Error> {
        assert_eq!(
            serde_json::to_string(&DaemonState::Running)?,
            r#""running""#
        );
        let parsed: DaemonState = serde_json::from_str(r#""stopped""#)?;
        assert_eq!(parsed, DaemonState::Stopped);
        Ok(())
    }
}
