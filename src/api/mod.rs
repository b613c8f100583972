//! The HTTP API: JWT-guarded secret reads and rotate-now.
//!
//! One [`router`] serves both the `api-lambda` binary (API Gateway HTTP API,
//! payload 2.0, through `lambda_http`) and `secrets-rotation serve` (plain
//! HTTP). Secrets Manager is reached through [`SecretsBackend`].

pub mod audit;
pub mod auth;
pub mod aws;
pub mod backend;
pub mod cache;
pub mod config;
pub mod error;
mod handlers;
pub mod lambda;
pub mod names;
pub mod openapi;
pub mod scope;

use std::sync::Arc;
use std::time::Duration;

use axum::routing::{get, post};
use axum::Router;

pub use backend::SecretsBackend;
pub use config::{ApiConfig, ConfigError, KeyConfig};
pub use error::ApiError;

use auth::{Authenticator, Hs256Keys, Jwks, KeySource};
use cache::ValueCache;
use names::Pattern;

/// Everything a request handler needs, built once in `main`.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

struct Inner {
    backend: Arc<dyn SecretsBackend>,
    auth: Authenticator,
    allowed: Vec<Pattern>,
    cache: ValueCache,
    rotate_wait: Duration,
}

impl AppState {
    pub fn new(config: ApiConfig, backend: Arc<dyn SecretsBackend>) -> Result<Self, ConfigError> {
        let keys = match config.keys {
            KeyConfig::Jwks { url, timing } => {
                KeySource::Jwks(Box::new(Jwks::new(&url, timing).map_err(ConfigError)?))
            }
            KeyConfig::Hs256(key) => KeySource::Hs256(Hs256Keys::fixed(&key).map_err(ConfigError)?),
            KeyConfig::Hs256SecretId(id) => {
                KeySource::Hs256(Hs256Keys::from_secret(backend.clone(), id))
            }
        };
        Ok(Self(Arc::new(Inner {
            auth: Authenticator::new(config.issuer, config.audience, keys),
            backend,
            allowed: config.allowed,
            cache: ValueCache::new(config.cache_ttl, 4096),
            rotate_wait: config.rotate_wait,
        })))
    }

    fn serves(&self, name: &str) -> bool {
        self.0.allowed.iter().any(|p| p.matches(name))
    }
}

/// The API's routes. Names may contain `/`, so the secret routes take the
/// rest of the path and split off `/rotate` and `/rotation` themselves.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(handlers::healthz))
        .route("/openapi.json", get(handlers::openapi))
        .route("/secrets", get(handlers::list))
        .route(
            "/secrets/{*rest}",
            get(handlers::secrets_get).post(handlers::secrets_post),
        )
        .route("/get-secret/{*rest}", get(handlers::get_secret))
        .route("/rotate-secret/{*rest}", post(handlers::rotate_secret))
        .fallback(handlers::no_route)
        .method_not_allowed_fallback(handlers::wrong_method)
        .layer(axum::middleware::from_fn(audit::front))
        .with_state(state)
}
