//! API Gateway HTTP API (payload 2.0) requests, as `lambda_http` gives them,
//! turned into the router's requests.

use axum::body::Body;
use axum::http::{Request, Uri};
use lambda_http::request::RequestContext;
use lambda_http::RequestExt;

use super::audit::{BadPath, RequestId};

/// Keeps the raw path (lambda_http normalizes `..` away before we could
/// refuse it) and API Gateway's request id.
pub fn from_lambda(req: lambda_http::Request) -> Request<Body> {
    let (mut parts, body) = req.into_parts();
    let request_id = match parts.extensions.get::<RequestContext>() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.request_id.clone(),
        _ => None,
    }
    .or_else(|| {
        parts
            .extensions
            .lambda_context_ref()
            .map(|c| c.request_id.clone())
    });
    if let Some(id) = request_id {
        parts.extensions.insert(RequestId(id));
    }
    let raw = parts.extensions.raw_http_path().to_owned();
    if !raw.is_empty() {
        let target = match parts.uri.query() {
            Some(q) => format!("{raw}?{q}"),
            None => raw,
        };
        match target.parse::<Uri>() {
            Ok(uri) if uri.path().starts_with('/') => parts.uri = uri,
            _ => {
                parts.extensions.insert(BadPath);
            }
        }
    }
    let body = match body {
        lambda_http::Body::Empty => Body::empty(),
        lambda_http::Body::Text(t) => Body::from(t),
        lambda_http::Body::Binary(b) => Body::from(b),
        _ => Body::empty(),
    };
    Request::from_parts(parts, body)
}
