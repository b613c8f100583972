//! Keys from a JWKS endpoint.
//!
//! - Keys are cached and refreshed every `refresh` (default 5 min).
//! - An unknown `kid` triggers a refetch, at most once per `min_refetch`
//!   (default 60 s); so does a due refresh.
//! - A failed refresh never wipes the cache: known keys keep serving for
//!   `max_stale` (default 1 h) after the last successful fetch.
//! - Each key's algorithm is fixed by its type: RSA -> RS256, EC P-256 ->
//!   ES256, OKP Ed25519 -> EdDSA. Symmetric (`oct`) keys are ignored.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, RwLock};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, JwkSet, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};

use crate::api::error::ApiError;

const FETCH_TIMEOUT: Duration = Duration::from_secs(3);
const MAX_JWKS_BYTES: usize = 256 * 1024;

type HttpClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Empty<Bytes>>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JwksTiming {
    pub refresh: Duration,
    pub min_refetch: Duration,
    pub max_stale: Duration,
}

impl Default for JwksTiming {
    fn default() -> Self {
        Self {
            refresh: Duration::from_secs(300),
            min_refetch: Duration::from_secs(60),
            max_stale: Duration::from_secs(3600),
        }
    }
}

type Key = (Arc<DecodingKey>, Algorithm);

#[derive(Default)]
struct KeySet {
    keys: HashMap<String, Key>,
    fetched_at: Option<Instant>,
}

pub struct Jwks {
    url: hyper::Uri,
    timing: JwksTiming,
    /// Built on first use: loading the system roots would slow cold starts.
    client: OnceLock<Result<HttpClient, String>>,
    set: RwLock<Arc<KeySet>>,
    last_attempt: tokio::sync::Mutex<Option<Instant>>,
    generation: AtomicU64,
}

fn unusable(msg: impl Into<String>) -> ApiError {
    ApiError::InvalidToken(msg.into())
}

impl Jwks {
    pub fn new(url: &str, timing: JwksTiming) -> Result<Self, String> {
        let url: hyper::Uri = url
            .parse()
            .map_err(|_| format!("JWT_JWKS_URL {url:?} is not a URL"))?;
        match url.scheme_str() {
            Some("https") => {}
            Some("http") if is_loopback(&url) => {}
            _ => {
                return Err(
                    "JWT_JWKS_URL must be https (plain http only on loopback, for tests)"
                        .to_owned(),
                )
            }
        }
        Ok(Self {
            url,
            timing,
            client: OnceLock::new(),
            set: RwLock::new(Arc::new(KeySet::default())),
            last_attempt: tokio::sync::Mutex::new(None),
            generation: AtomicU64::new(0),
        })
    }

    pub(super) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Relaxed)
    }

    fn current(&self) -> Arc<KeySet> {
        self.set.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The key named `kid` and the one algorithm it verifies.
    pub(super) async fn key_for(&self, kid: &str) -> Result<Key, ApiError> {
        let set = self.current();
        let fresh = set
            .fetched_at
            .is_some_and(|t| t.elapsed() < self.timing.refresh);
        if fresh {
            if let Some(k) = set.keys.get(kid) {
                return Ok(k.clone());
            }
        }
        self.refresh().await;
        let set = self.current();
        match set.keys.get(kid) {
            Some(k)
                if set
                    .fetched_at
                    .is_some_and(|t| t.elapsed() < self.timing.max_stale) =>
            {
                Ok(k.clone())
            }
            Some(_) => Err(unusable(
                "the signing keys could not be refreshed for too long; try again later",
            )),
            None if set.fetched_at.is_none() => Err(unusable(
                "the signing keys are unavailable; try again later",
            )),
            None => Err(unusable(format!("unknown key id (kid) {kid:?}"))),
        }
    }

    /// Refetches, at most once per `min_refetch`; keeps the old keys on failure.
    async fn refresh(&self) {
        let mut last = self.last_attempt.lock().await;
        if last.is_some_and(|t| t.elapsed() < self.timing.min_refetch) {
            return;
        }
        *last = Some(Instant::now());
        match self.fetch().await {
            Ok(keys) => {
                let old = self.current();
                let removed = old.keys.keys().any(|k| !keys.contains_key(k));
                tracing::info!(
                    event = "jwks_refreshed",
                    keys = keys.len(),
                    "JWKS refreshed"
                );
                *self.set.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(KeySet {
                    keys,
                    fetched_at: Some(Instant::now()),
                });
                if removed {
                    self.generation.fetch_add(1, Ordering::Relaxed);
                }
            }
            Err(e) => {
                tracing::warn!(event = "jwks_fetch_failed", url = %self.url, error = %e, "JWKS fetch failed; keeping the cached keys");
            }
        }
    }

    fn client(&self) -> Result<&HttpClient, String> {
        self.client
            .get_or_init(|| {
                let https = hyper_rustls::HttpsConnectorBuilder::new()
                    .with_native_roots()
                    .map_err(|e| format!("no TLS roots: {e}"))?
                    .https_or_http()
                    .enable_http1()
                    .build();
                Ok(Client::builder(TokioExecutor::new()).build(https))
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    async fn fetch(&self) -> Result<HashMap<String, Key>, String> {
        let client = self.client()?;
        let req = hyper::Request::get(self.url.clone())
            .header(hyper::header::ACCEPT, "application/json")
            .body(Empty::new())
            .map_err(|e| e.to_string())?;
        let body = tokio::time::timeout(FETCH_TIMEOUT, async {
            let resp = client.request(req).await.map_err(|e| e.to_string())?;
            if !resp.status().is_success() {
                return Err(format!("HTTP {}", resp.status()));
            }
            Limited::new(resp.into_body(), MAX_JWKS_BYTES)
                .collect()
                .await
                .map(|b| b.to_bytes())
                .map_err(|e| e.to_string())
        })
        .await
        .map_err(|_| "timed out".to_owned())??;
        let set: JwkSet =
            serde_json::from_slice(&body).map_err(|e| format!("not a JWK set: {e}"))?;
        Ok(parse_set(&set))
    }
}

fn is_loopback(url: &hyper::Uri) -> bool {
    matches!(
        url.host(),
        Some("127.0.0.1" | "localhost" | "[::1]" | "::1")
    )
}

/// The usable signature keys of a set, by kid.
fn parse_set(set: &JwkSet) -> HashMap<String, Key> {
    let mut out = HashMap::new();
    for jwk in &set.keys {
        let Some(kid) = jwk.common.key_id.clone() else {
            continue;
        };
        if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
            continue;
        }
        let alg = match &jwk.algorithm {
            AlgorithmParameters::RSA(_) => Algorithm::RS256,
            AlgorithmParameters::EllipticCurve(p) if p.curve == EllipticCurve::P256 => {
                Algorithm::ES256
            }
            AlgorithmParameters::OctetKeyPair(p) if p.curve == EllipticCurve::Ed25519 => {
                Algorithm::EdDSA
            }
            _ => continue,
        };
        // A key that names another algorithm than its type allows is skipped.
        let declared_ok = match jwk.common.key_algorithm {
            None => true,
            Some(KeyAlgorithm::RS256) => alg == Algorithm::RS256,
            Some(KeyAlgorithm::ES256) => alg == Algorithm::ES256,
            Some(KeyAlgorithm::EdDSA) => alg == Algorithm::EdDSA,
            Some(_) => false,
        };
        if !declared_ok {
            continue;
        }
        if let Ok(k) = DecodingKey::from_jwk(jwk) {
            out.insert(kid, (Arc::new(k), alg));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn key_types_fix_the_algorithm_and_symmetric_keys_are_ignored() {
        let set: JwkSet = serde_json::from_value(serde_json::json!({"keys": [
            {"kty": "oct", "kid": "hs", "k": "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"},
            {"kty": "EC", "kid": "ec", "crv": "P-256",
             "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
             "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},
            {"kty": "EC", "kid": "ec-rs", "alg": "RS256", "crv": "P-256",
             "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
             "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},
        ]}))
        .unwrap();
        let keys = parse_set(&set);
        assert_eq!(keys.len(), 1, "{:?}", keys.keys().collect::<Vec<_>>());
        assert_eq!(keys["ec"].1, Algorithm::ES256);
    }

    #[test]
    fn plain_http_only_on_loopback() {
        assert!(Jwks::new("http://127.0.0.1:1/jwks", JwksTiming::default()).is_ok());
        assert!(Jwks::new("https://idp.example/jwks", JwksTiming::default()).is_ok());
        assert!(Jwks::new("http://idp.example/jwks", JwksTiming::default()).is_err());
    }
}
