//! The front of every request: request id, size limits, and one audit line
//! per request (request id, principal `sub`, action, secret name, outcome,
//! status). Never values or tokens.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::{ApiError, ErrorCode};

/// Largest request body accepted; no route needs one.
pub const MAX_BODY_BYTES: usize = 8 * 1024;
/// Largest total of the headers other than Authorization (which the
/// authenticator limits to 8 KiB itself).
pub const MAX_HEADER_BYTES: usize = 8 * 1024;

/// A request id given by the platform (API Gateway / Lambda).
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// Set by the Lambda adapter when the raw path is not a valid URI.
#[derive(Debug, Clone, Copy)]
pub struct BadPath;

#[derive(Debug, Default)]
struct Fields {
    principal: Option<String>,
    action: Option<&'static str>,
    secret: Option<String>,
}

/// What the handler learnt about the request, for its audit line.
#[derive(Debug, Clone, Default)]
pub struct AuditSlot(Arc<Mutex<Fields>>);

impl AuditSlot {
    fn lock(&self) -> std::sync::MutexGuard<'_, Fields> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn action(&self, action: &'static str, secret: Option<&str>) {
        let mut f = self.lock();
        f.action = Some(action);
        f.secret = secret.map(str::to_owned);
    }

    pub fn secret(&self, secret: &str) {
        self.lock().secret = Some(secret.to_owned());
    }

    pub fn principal(&self, sub: &str) {
        self.lock().principal = Some(sub.to_owned());
    }
}

fn new_request_id() -> String {
    use rand::RngCore;
    let mut b = [0u8; 16];
    rand::rng().fill_bytes(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn outcome(status: u16) -> &'static str {
    match status {
        200..=299 => "success",
        401 => "unauthenticated",
        403 => "denied",
        400..=499 => "rejected",
        _ => "error",
    }
}

pub async fn front(mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let request_id = req
        .extensions()
        .get::<RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_else(new_request_id);
    let slot = AuditSlot::default();
    req.extensions_mut().insert(slot.clone());
    let method = req.method().clone();

    let mut resp = match check(req).await {
        Ok(req) => next.run(req).await,
        Err(e) => e.into_response(),
    };

    let status = resp.status().as_u16();
    let fields = slot.lock();
    let error_code = resp.extensions().get::<ErrorCode>().map(|c| c.0);
    tracing::info!(
        target: "audit",
        event = "audit",
        request_id = %request_id,
        principal = fields.principal.as_deref(),
        action = fields.action.unwrap_or("none"),
        method = %method,
        secret = fields.secret.as_deref(),
        outcome = outcome(status),
        status,
        error_code,
        duration_us = started.elapsed().as_micros() as u64,
    );
    drop(fields);
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        resp.headers_mut().insert("x-request-id", v);
    }
    resp
}

/// Size limits and path sanity, before routing.
async fn check(req: Request) -> Result<Request, ApiError> {
    if req.extensions().get::<BadPath>().is_some() {
        return Err(ApiError::bad_request(
            "invalid_path",
            "the request path is not a valid URI path",
        ));
    }
    let header_bytes: usize = req
        .headers()
        .iter()
        .filter(|(k, _)| *k != header::AUTHORIZATION)
        .map(|(k, v)| k.as_str().len() + v.len() + 4)
        .sum();
    if header_bytes > MAX_HEADER_BYTES {
        return Err(ApiError::HeadersTooLarge(format!(
            "request headers exceed {MAX_HEADER_BYTES} bytes"
        )));
    }
    let too_large = || {
        ApiError::PayloadTooLarge(format!(
            "request bodies are limited to {MAX_BODY_BYTES} bytes"
        ))
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return Err(too_large());
    }
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|_| too_large())?;
    Ok(Request::from_parts(parts, Body::from(bytes)))
}
