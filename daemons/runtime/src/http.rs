//! HTTP scaffolding shared by every app: the error type, a JSON extractor with stable error
//! codes, request metrics, cross-site request protection, and the static web front-end.

use std::path::{Path, PathBuf};
use std::time::Instant;

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, MatchedPath, Request, State};
use axum::http::Response as HttpResponse;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use axum::{Json, Router};
use nexus_store::StoreError;
use nexus_wire::{ErrorBody, codes};
use tower_http::services::{ServeDir, ServeFile};
use tower_http::set_header::SetResponseHeaderLayer;

/// An error answered to an HTTP client: a status, a stable code and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Seconds after which a retry may succeed; sent as `Retry-After`.
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn with_retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs);
        self
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, codes::NOT_FOUND, message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, codes::FORBIDDEN, message)
    }

    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            codes::AUTH_REQUIRED,
            "log in first",
        )
    }

    /// A failure that is ours, not the client's. The detail goes to the log, not the client.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        let id = uuid_like();
        tracing::error!(error_id = %id, "internal error: {detail}");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            codes::INTERNAL,
            format!(
                "something went wrong on the server (error id {id}); the operator can find it in the logs"
            ),
        )
    }
}

fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    format!("{t:x}-{:x}", N.fetch_add(1, Ordering::Relaxed))
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        if e.is_transient() {
            tracing::warn!(error = %e, "storage temporarily unavailable");
            Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                codes::UNAVAILABLE,
                "storage is busy or unreachable; try again shortly",
            )
        } else {
            Self::internal(e)
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut resp = (self.status, Json(ErrorBody::new(self.code, self.message))).into_response();
        if let Some(secs) = self.retry_after {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        resp
    }
}

/// Answers `503` with code `request.timeout` when a request runs longer than the limit.
pub async fn request_timeout(
    State(limit): State<std::time::Duration>,
    req: Request,
    next: Next,
) -> Response {
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(resp) => resp,
        Err(_) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            codes::TIMEOUT,
            format!(
                "the request took longer than {} s and was stopped; try again",
                limit.as_secs()
            ),
        )
        .into_response(),
    }
}

/// `Json<T>` whose rejections are [`ApiError`]s with stable codes.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    Json<T>: FromRequest<S, Rejection = JsonRejection>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(Self(v)),
            Err(JsonRejection::MissingJsonContentType(_)) => Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                codes::UNSUPPORTED_MEDIA_TYPE,
                "send the body as JSON with Content-Type: application/json",
            )),
            Err(JsonRejection::BytesRejection(e)) => Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                codes::PAYLOAD_TOO_LARGE,
                format!("the request body could not be read: {e}"),
            )),
            Err(e) => Err(ApiError::bad_request(codes::BAD_JSON, e.body_text())),
        }
    }
}

/// Query-string parameters; malformed ones are a 400 with `validation.failed`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiQuery<T>(pub T);

impl<T, S> axum::extract::FromRequestParts<S> for ApiQuery<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::try_from_uri(&parts.uri)
            .map(|q| Self(q.0))
            .map_err(|e| ApiError::bad_request(codes::VALIDATION_FAILED, e.body_text()))
    }
}

/// Path parameters; a malformed one is a 400 with `validation.failed`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiPath<T>(pub T);

impl<T, S> axum::extract::FromRequestParts<S> for ApiPath<T>
where
    T: serde::de::DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| Self(p.0))
            .map_err(|e| ApiError::bad_request(codes::VALIDATION_FAILED, e.body_text()))
    }
}

impl<T: serde::Serialize> IntoResponse for ApiJson<T> {
    fn into_response(self) -> Response {
        Json(self.0).into_response()
    }
}

/// Records request count, latency and errors. `label` names requests that matched no route
/// (static files, unknown API paths); matched ones are labelled by their route pattern.
pub async fn track_metrics(
    State(label): State<&'static str>,
    req: Request,
    next: Next,
) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| label.to_owned(), |p| p.as_str().to_owned());
    let method = req.method().as_str().to_owned();
    let start = Instant::now();
    metrics::gauge!("nexus_http_requests_in_flight").increment(1.0);
    let resp = next.run(req).await;
    metrics::gauge!("nexus_http_requests_in_flight").decrement(1.0);
    let status = resp.status();
    let class = match status.as_u16() {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    };
    metrics::histogram!("nexus_http_request_duration_seconds", "route" => route.clone())
        .record(start.elapsed().as_secs_f64());
    if status.is_server_error() {
        metrics::counter!("nexus_http_errors_total", "route" => route.clone()).increment(1);
    }
    metrics::counter!("nexus_http_requests_total", "route" => route, "method" => method, "status" => class)
        .increment(1);
    resp
}

/// Refuses state-changing requests that a browser marks as coming from another site.
///
/// Together with `SameSite=Strict` session cookies this stops cross-site request forgery:
/// browsers send `Sec-Fetch-Site` and `Origin` on such requests, and scripts on other sites
/// cannot forge them. Non-browser clients send neither and authenticate with tokens.
pub async fn reject_cross_site(req: Request, next: Next) -> Response {
    let unsafe_method = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if unsafe_method {
        let headers = req.headers();
        let site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
        let cross_by_fetch = matches!(site, Some(s) if s != "same-origin" && s != "none");
        let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
        let cross_by_origin = match (
            headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()),
            host,
        ) {
            (Some("null"), _) => true,
            (Some(origin), Some(host)) => {
                origin.split_once("://").map(|(_, rest)| rest) != Some(host)
            }
            _ => false,
        };
        if cross_by_fetch || cross_by_origin {
            return ApiError::new(
                StatusCode::FORBIDDEN,
                codes::CSRF_REJECTED,
                "cross-site requests that change data are refused; make the request from the NEXUS web app itself",
            )
            .into_response();
        }
    }
    next.run(req).await
}

/// `405` with the standard error body.
pub async fn method_not_allowed(req: Request) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        codes::METHOD_NOT_ALLOWED,
        format!("{} is not allowed on {}", req.method(), req.uri().path()),
    )
}

/// `404` with the standard error body for API paths no app serves.
pub async fn api_not_found(req: Request) -> ApiError {
    ApiError::not_found(format!("no API at {} {}", req.method(), req.uri().path()))
}

/// Finds the built front-end: the configured directory, or next to the binary, or the
/// source tree's `web/dist` (for `cargo run` from a checkout).
pub fn find_web_dir(configured: &Path) -> Option<PathBuf> {
    if !configured.as_os_str().is_empty() {
        return Some(configured.to_path_buf());
    }
    let mut candidates = Vec::new();
    if let Ok(exe) = std::env::current_exe()
        && let Some(bin) = exe.parent()
    {
        candidates.push(bin.join("../share/nexus/web"));
        candidates.push(bin.join("web"));
    }
    candidates.push(PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../web/dist"
    )));
    candidates
        .into_iter()
        .find(|d| d.join("index.html").is_file())
}

/// Serves the single-page front-end from `dir`: hashed files under `/assets` are cached
/// forever, everything else is revalidated; unknown paths get `index.html` so the
/// front-end's router can handle them. Precompressed `.br`/`.gz` files are used when the
/// client accepts them, so no CPU is spent compressing static files per request.
pub fn web_router(dir: Option<&Path>) -> Router {
    let Some(dir) = dir else {
        return Router::new().fallback(|| async {
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Html(
                    "<!doctype html><title>NEXUS</title><h1>The NEXUS web app is not installed</h1>\
                     <p>Build it with <code>./dev build-web</code>, or point <code>web.dir</code> \
                     (NEXUS_WEB_DIR) at a built <code>web/dist</code> directory. The API under \
                     <code>/api</code> works meanwhile.</p>",
                ),
            )
        });
    };
    let assets = ServeDir::new(dir.join("assets"))
        .precompressed_br()
        .precompressed_gzip();
    let index = ServeFile::new(dir.join("index.html"))
        .precompressed_br()
        .precompressed_gzip();
    let pages = ServeDir::new(dir)
        .precompressed_br()
        .precompressed_gzip()
        .fallback(index);
    Router::new()
        .nest_service(
            "/assets",
            tower::ServiceBuilder::new()
                .layer(SetResponseHeaderLayer::overriding(
                    header::CACHE_CONTROL,
                    cache_when_found("public, max-age=31536000, immutable"),
                ))
                .layer(SetResponseHeaderLayer::if_not_present(
                    header::VARY,
                    HeaderValue::from_static("accept-encoding"),
                ))
                .service(assets),
        )
        .fallback_service(
            tower::ServiceBuilder::new()
                .layer(SetResponseHeaderLayer::overriding(
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("no-cache"),
                ))
                .layer(SetResponseHeaderLayer::if_not_present(
                    header::VARY,
                    HeaderValue::from_static("accept-encoding"),
                ))
                .service(pages),
        )
}

/// A `Cache-Control` value for successful responses only: a 404 must not be cached for a
/// year.
fn cache_when_found<B>(
    value: &'static str,
) -> impl Fn(&HttpResponse<B>) -> Option<HeaderValue> + Clone {
    move |resp: &HttpResponse<B>| {
        resp.status()
            .is_success()
            .then(|| HeaderValue::from_static(value))
    }
}

/// The client's address (the TCP peer), or `unknown` when not served over TCP (tests).
/// Forwarded headers are not trusted until the gateway sets them.
#[derive(Debug, Clone)]
pub struct ClientAddr(pub String);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(Self(
            parts
                .extensions
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map_or_else(|| "unknown".to_owned(), |c| c.0.ip().to_string()),
        ))
    }
}
