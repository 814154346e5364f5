use axum::http::StatusCode;
use nexus_runtime::ApiError;
use nexus_store::StoreError;
use nexus_wire::codes;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum IdentityError {
    #[error("e-mail or password is wrong")]
    InvalidCredentials,
    #[error("too many failed logins; try again in {retry_after_secs} seconds")]
    Throttled { retry_after_secs: u64 },
    #[error("this account is disabled; ask an administrator")]
    Disabled,
    #[error("that code is wrong or was already used")]
    InvalidCode,
    #[error("this login step expired or is not valid; enter your e-mail and password again")]
    ChallengeInvalid,
    #[error(
        "this reset link is not valid: it was used already, has expired, or a newer one was sent; ask for a new one"
    )]
    ResetLinkInvalid,
    #[error(
        "this instance cannot send e-mail, so it cannot send reset links; ask an administrator to reset your password"
    )]
    MailNotConfigured,
    #[error("passkeys are not available here: {0}")]
    PasskeysUnavailable(String),
    #[error("this passkey step expired or is not valid; start again")]
    PasskeyCeremonyInvalid,
    #[error("the passkey was not accepted: {0}")]
    PasskeyRejected(String),
    #[error("no passkey is set up for this address; sign in with your password")]
    NoPasskey,
    #[error("the directory could not be read: {0}")]
    DirectoryUnreachable(String),
    #[error("the sign-in provider could not be reached or is not an OpenID provider: {0}")]
    ProviderUnreachable(String),
    #[error("{0} is managed in the directory `{1}`: change it there")]
    ManagedByDirectory(String, String),
    #[error("{0}")]
    WeakPassword(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0} already exists")]
    Conflict(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("this token lacks the scope `{0}`")]
    InsufficientScope(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error("this instance is already provisioned: it has an organization")]
    AlreadyProvisioned,
    #[error("password hashing failed: {0}")]
    Hash(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for IdentityError {
    fn from(e: sqlx::Error) -> Self {
        Self::Store(StoreError::Database(e))
    }
}

impl From<IdentityError> for ApiError {
    fn from(e: IdentityError) -> Self {
        let msg = e.to_string();
        match e {
            IdentityError::InvalidCredentials => ApiError::new(
                StatusCode::UNAUTHORIZED,
                codes::AUTH_INVALID_CREDENTIALS,
                msg,
            ),
            IdentityError::Throttled { retry_after_secs } => {
                ApiError::new(StatusCode::TOO_MANY_REQUESTS, codes::AUTH_THROTTLED, msg)
                    .with_retry_after(retry_after_secs)
            }
            IdentityError::Disabled => {
                ApiError::new(StatusCode::FORBIDDEN, codes::AUTH_DISABLED, msg)
            }
            IdentityError::InvalidCode => {
                ApiError::new(StatusCode::UNAUTHORIZED, codes::AUTH_INVALID_CODE, msg)
            }
            IdentityError::ChallengeInvalid => ApiError::new(
                StatusCode::UNAUTHORIZED,
                codes::AUTH_MFA_CHALLENGE_INVALID,
                msg,
            ),
            IdentityError::ResetLinkInvalid => {
                ApiError::bad_request(codes::AUTH_RESET_LINK_INVALID, msg)
            }
            IdentityError::MailNotConfigured => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                codes::MAIL_NOT_CONFIGURED,
                msg,
            ),
            IdentityError::PasskeysUnavailable(_) => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                codes::PASSKEYS_UNAVAILABLE,
                msg,
            ),
            IdentityError::PasskeyCeremonyInvalid => {
                ApiError::bad_request(codes::AUTH_PASSKEY_CEREMONY_INVALID, msg)
            }
            IdentityError::PasskeyRejected(_) => {
                ApiError::new(StatusCode::UNAUTHORIZED, codes::AUTH_PASSKEY_REJECTED, msg)
            }
            IdentityError::NoPasskey => ApiError::bad_request(codes::AUTH_NO_PASSKEY, msg),
            IdentityError::DirectoryUnreachable(_) => {
                ApiError::bad_request(codes::DIRECTORY_UNREACHABLE, msg)
            }
            IdentityError::ProviderUnreachable(_) => {
                ApiError::bad_request(codes::SSO_PROVIDER_UNREACHABLE, msg)
            }
            IdentityError::ManagedByDirectory(..) => {
                ApiError::new(StatusCode::CONFLICT, codes::VALIDATION_FAILED, msg)
            }
            IdentityError::WeakPassword(_) => ApiError::bad_request(codes::AUTH_WEAK_PASSWORD, msg),
            IdentityError::Invalid(_) => ApiError::bad_request(codes::VALIDATION_FAILED, msg),
            IdentityError::Conflict(_) => {
                ApiError::new(StatusCode::CONFLICT, codes::VALIDATION_FAILED, msg)
            }
            IdentityError::NotFound(_) => ApiError::not_found(msg),
            IdentityError::Forbidden(_) => ApiError::forbidden(msg),
            IdentityError::InsufficientScope(_) => {
                ApiError::new(StatusCode::FORBIDDEN, codes::AUTH_INSUFFICIENT_SCOPE, msg)
            }
            IdentityError::AlreadyProvisioned => {
                ApiError::new(StatusCode::CONFLICT, codes::VALIDATION_FAILED, msg)
            }
            IdentityError::Hash(m) => ApiError::internal(m),
            IdentityError::Store(s) => s.into(),
        }
    }
}

pub type Result<T, E = IdentityError> = std::result::Result<T, E>;
