//! API errors and their HTTP form, in one place. Bodies are
//! `{"error":{"code","message"}}`; a 500 is opaque and its detail goes to the
//! log only. Messages name ids, never values or tokens.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// Bad input: the code names the kind, the message the problem.
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    /// No token, or a token that failed verification (401).
    #[error("{0}")]
    InvalidToken(String),
    /// A valid token without the scope for this action (403).
    #[error("{message}")]
    InsufficientScope { message: String, scope: String },
    /// This deployment does not serve the secret at all (`ALLOWED_SECRETS`).
    #[error("{0}")]
    NotServed(String),
    #[error("{0}")]
    NotFound(String),
    #[error("no route for {0}")]
    RouteNotFound(String),
    #[error("method {method} is not allowed on {path}")]
    MethodNotAllowed { method: String, path: String },
    /// Secrets Manager says a rotation is already running (409).
    #[error("{0}")]
    RotationInProgress(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    HeadersTooLarge(String),
    /// Secrets Manager did not answer or throttled: retrying may help (503).
    #[error("{0}")]
    Unavailable(String),
    /// Anything else: logged in full, answered with an opaque body (500).
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::BadRequest {
            code,
            message: message.into(),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::InvalidToken(_) => StatusCode::UNAUTHORIZED,
            Self::InsufficientScope { .. } | Self::NotServed(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) | Self::RouteNotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::RotationInProgress(_) => StatusCode::CONFLICT,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::HeadersTooLarge(_) => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRequest { code, .. } => code,
            Self::InvalidToken(_) => "invalid_token",
            Self::InsufficientScope { .. } => "insufficient_scope",
            Self::NotServed(_) => "secret_not_served",
            Self::NotFound(_) => "not_found",
            Self::RouteNotFound(_) => "route_not_found",
            Self::MethodNotAllowed { .. } => "method_not_allowed",
            Self::RotationInProgress(_) => "rotation_in_progress",
            Self::PayloadTooLarge(_) => "payload_too_large",
            Self::HeadersTooLarge(_) => "headers_too_large",
            Self::Unavailable(_) => "unavailable",
            Self::Internal(_) => "internal_error",
        }
    }

    fn public_message(&self) -> String {
        match self {
            Self::Internal(_) => "internal error; see the service log".to_owned(),
            other => other.to_string(),
        }
    }
}

/// Secrets Manager errors, translated once by `store::aws::translate`.
impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound { what } => Self::NotFound(if what.is_empty() {
                "secret or version not found".to_owned()
            } else {
                what
            }),
            StoreError::InvalidRequest { message, .. } => {
                Self::bad_request("invalid_request", message)
            }
            StoreError::Transient { operation, .. } => Self::Unavailable(format!(
                "Secrets Manager did not answer {operation}; retry later"
            )),
            other => Self::Internal(other.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(event = "request_failed", status = status.as_u16(), error = %self, "request failed");
        }
        let body = json!({"error": {"code": self.code(), "message": self.public_message()}});
        let mut resp = (status, axum::Json(body)).into_response();
        let challenge = match &self {
            Self::InvalidToken(_) => Some(r#"Bearer error="invalid_token""#.to_owned()),
            Self::InsufficientScope { scope, .. } => Some(format!(
                r#"Bearer error="insufficient_scope", scope="{scope}""#
            )),
            _ => None,
        };
        if let Some(v) = challenge.and_then(|c| HeaderValue::from_str(&c).ok()) {
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
        resp.extensions_mut().insert(ErrorCode(self.code()));
        resp
    }
}

/// The error code of a response, for the audit log.
#[derive(Debug, Clone, Copy)]
pub struct ErrorCode(pub &'static str);
