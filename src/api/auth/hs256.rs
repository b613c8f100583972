//! HS256 keys: a fixed key from the environment, or the AWSCURRENT and
//! AWSPREVIOUS versions of a Secrets Manager secret (our own rotation
//! rotates it; tokens signed with the previous key stay valid until they
//! expire).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::DecodingKey;
use secrecy::{ExposeSecret, SecretString};

use crate::api::backend::{Payload, SecretsBackend, Which};
use crate::api::error::ApiError;
use crate::store::{AWSCURRENT, AWSPREVIOUS};

/// Shortest HS256 key accepted.
pub(crate) const MIN_KEY_BYTES: usize = 32;
/// Keys read from Secrets Manager are re-read this often...
const RELOAD_EVERY: Duration = Duration::from_secs(300);
/// ...and at most this often when a signature does not match.
const MIN_RELOAD: Duration = Duration::from_secs(60);

pub enum Hs256Keys {
    Fixed(Arc<Vec<DecodingKey>>),
    FromSecret(SecretKeys),
}

pub struct SecretKeys {
    backend: Arc<dyn SecretsBackend>,
    secret_id: String,
    loaded: RwLock<Option<(Instant, Arc<Vec<DecodingKey>>)>>,
    last_attempt: tokio::sync::Mutex<Option<Instant>>,
    generation: AtomicU64,
}

impl Hs256Keys {
    /// A fixed key; refuses one shorter than 32 bytes.
    pub fn fixed(key: &SecretString) -> Result<Self, String> {
        if key.expose_secret().len() < MIN_KEY_BYTES {
            return Err(format!(
                "JWT_HS256_SECRET must be at least {MIN_KEY_BYTES} bytes"
            ));
        }
        let k = DecodingKey::from_secret(key.expose_secret().as_bytes())
            .map_err(|_| "JWT_HS256_SECRET is not a usable key".to_owned())?;
        Ok(Self::Fixed(Arc::new(vec![k])))
    }

    pub fn from_secret(backend: Arc<dyn SecretsBackend>, secret_id: String) -> Self {
        Self::FromSecret(SecretKeys {
            backend,
            secret_id,
            loaded: RwLock::new(None),
            last_attempt: tokio::sync::Mutex::new(None),
            generation: AtomicU64::new(0),
        })
    }

    pub(super) fn generation(&self) -> u64 {
        match self {
            Self::Fixed(_) => 0,
            Self::FromSecret(s) => s.generation.load(Ordering::Relaxed),
        }
    }

    /// The keys to try. `retry` asks for a reload (rate-limited) after no
    /// key matched.
    pub(super) async fn keys(&self, retry: bool) -> Result<Arc<Vec<DecodingKey>>, ApiError> {
        match self {
            Self::Fixed(k) => Ok(k.clone()),
            Self::FromSecret(s) => s.keys(retry).await,
        }
    }
}

impl SecretKeys {
    fn current(&self) -> Option<(Instant, Arc<Vec<DecodingKey>>)> {
        self.loaded
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    async fn keys(&self, retry: bool) -> Result<Arc<Vec<DecodingKey>>, ApiError> {
        let loaded = self.current();
        let due = match &loaded {
            None => true,
            Some((at, _)) => retry || at.elapsed() >= RELOAD_EVERY,
        };
        if due {
            self.reload().await;
        }
        self.current()
            .map(|(_, k)| k)
            .ok_or_else(|| ApiError::InvalidToken("the signing key is unavailable".to_owned()))
    }

    async fn reload(&self) {
        let mut last = self.last_attempt.lock().await;
        if last.is_some_and(|t| t.elapsed() < MIN_RELOAD) {
            return;
        }
        *last = Some(Instant::now());
        let mut keys = Vec::new();
        for stage in [AWSCURRENT, AWSPREVIOUS] {
            let which = Which {
                stage: Some(stage.to_owned()),
                version_id: None,
            };
            match self.backend.get(&self.secret_id, &which).await {
                Ok(v) => {
                    let bytes: &[u8] = match &v.payload {
                        Payload::String(s) => s.expose_secret().as_bytes(),
                        Payload::Binary(b) => b.expose_secret(),
                    };
                    if bytes.len() < MIN_KEY_BYTES {
                        tracing::error!(
                            event = "hs256_key_too_short",
                            secret = %self.secret_id,
                            version = %v.version_id,
                            "the HS256 key version is shorter than 32 bytes; ignored"
                        );
                        continue;
                    }
                    if let Ok(k) = DecodingKey::from_secret(bytes) {
                        keys.push(k);
                    }
                }
                Err(e) if e.is_not_found() && stage == AWSPREVIOUS => {}
                Err(e) => {
                    tracing::warn!(event = "hs256_key_load_failed", secret = %self.secret_id, stage, error = %e, "cannot read the HS256 key");
                    if stage == AWSCURRENT {
                        // Keep the keys we have.
                        return;
                    }
                }
            }
        }
        let mut slot = self.loaded.write().unwrap_or_else(|e| e.into_inner());
        let bytes = |k: &DecodingKey| k.try_get_as_bytes().map(<[u8]>::to_vec).ok();
        let removed = slot.as_ref().is_some_and(|(_, old)| {
            old.iter().any(|o| {
                !keys
                    .iter()
                    .any(|n| bytes(n).is_some() && bytes(n) == bytes(o))
            })
        });
        *slot = Some((Instant::now(), Arc::new(keys)));
        if removed {
            // A key is gone (rotated twice): cached tokens are re-verified.
            self.generation.fetch_add(1, Ordering::Relaxed);
        }
    }
}
