//! Bearer-token authentication.
//!
//! The allowed algorithm comes from the key (HS256 for a shared key; RS256,
//! ES256 or EdDSA from a JWKS key's type), never from the token. `jku`,
//! `x5u` and `jwk` headers are refused, not followed. Verified tokens are
//! cached by their SHA-256, bounded in number, until their `exp`.

mod hs256;
mod jwks;
mod token_cache;

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::http::{header, HeaderMap};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Header, Validation};
use serde_json::Value;

pub use hs256::Hs256Keys;
pub use jwks::{Jwks, JwksTiming};

use self::token_cache::TokenCache;
use super::error::ApiError;
use super::scope::Principal;

/// Tokens (and the Authorization header) longer than this are refused.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;
/// Leeway for `nbf` and `iat` in the future (clock skew). `exp` gets none.
pub const LEEWAY_SECONDS: u64 = 60;

/// Where verification keys come from.
pub enum KeySource {
    Hs256(Hs256Keys),
    Jwks(Box<Jwks>),
}

pub struct Authenticator {
    issuer: String,
    audience: String,
    keys: KeySource,
    cache: TokenCache,
}

pub(crate) fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

fn invalid(msg: impl Into<String>) -> ApiError {
    ApiError::InvalidToken(msg.into())
}

/// Why a signature check failed: a bad signature may call for a key refresh.
enum Failure {
    Signature,
    Other(ApiError),
}

impl Authenticator {
    pub fn new(issuer: String, audience: String, keys: KeySource) -> Self {
        Self {
            issuer,
            audience,
            keys,
            cache: TokenCache::new(10_000),
        }
    }

    fn generation(&self) -> u64 {
        match &self.keys {
            KeySource::Hs256(k) => k.generation(),
            KeySource::Jwks(j) => j.generation(),
        }
    }

    /// The principal behind the request's bearer token.
    pub async fn authenticate(&self, headers: &HeaderMap) -> Result<Arc<Principal>, ApiError> {
        let mut values = headers.get_all(header::AUTHORIZATION).iter();
        let value = values
            .next()
            .ok_or_else(|| invalid("missing Authorization: Bearer token"))?;
        if values.next().is_some() {
            return Err(invalid("more than one Authorization header"));
        }
        if value.len() > MAX_TOKEN_BYTES {
            return Err(invalid("the token is larger than 8 KiB"));
        }
        let value = value
            .to_str()
            .map_err(|_| invalid("the Authorization header is not ASCII"))?;
        let token = match value.split_once(' ') {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
            _ => return Err(invalid("the Authorization header is not a Bearer token")),
        };
        if token.is_empty() {
            return Err(invalid("empty bearer token"));
        }
        let now = now_secs();
        let generation = self.generation();
        if let Some(p) = self.cache.get(token, now, generation) {
            return Ok(p);
        }
        let (principal, exp) = self.verify(token, now).await?;
        let principal = Arc::new(principal);
        self.cache
            .insert(token, principal.clone(), exp, now, generation);
        Ok(principal)
    }

    async fn verify(&self, token: &str, now: u64) -> Result<(Principal, u64), ApiError> {
        let header = jsonwebtoken::decode_header(token).map_err(|e| match e.kind() {
            ErrorKind::InvalidAlgorithmName => invalid("the token's algorithm is not supported"),
            _ => invalid("malformed token header"),
        })?;
        if header.jku.is_some() || header.x5u.is_some() || header.jwk.is_some() {
            return Err(invalid(
                "jku, x5u and jwk token headers are not accepted: keys come from configuration",
            ));
        }
        match &self.keys {
            KeySource::Hs256(keys) => {
                if header.alg != Algorithm::HS256 {
                    return Err(invalid(format!(
                        "algorithm {:?} is not allowed: this deployment verifies HS256",
                        header.alg
                    )));
                }
                for attempt in 0..2 {
                    let candidates = keys.keys(attempt > 0).await?;
                    for key in candidates.iter() {
                        match self.decode(token, &header, key, Algorithm::HS256, now) {
                            Ok(ok) => return Ok(ok),
                            Err(Failure::Signature) => continue,
                            Err(Failure::Other(e)) => return Err(e),
                        }
                    }
                }
                Err(invalid("invalid signature"))
            }
            KeySource::Jwks(jwks) => {
                let kid = header
                    .kid
                    .as_deref()
                    .ok_or_else(|| invalid("the token has no kid"))?;
                let (key, alg) = jwks.key_for(kid).await?;
                if header.alg != alg {
                    return Err(invalid(format!(
                        "algorithm {:?} is not allowed for key {kid}: it takes {alg:?}",
                        header.alg
                    )));
                }
                match self.decode(token, &header, &key, alg, now) {
                    Ok(ok) => Ok(ok),
                    Err(Failure::Signature) => Err(invalid("invalid signature")),
                    Err(Failure::Other(e)) => Err(e),
                }
            }
        }
    }

    fn decode(
        &self,
        token: &str,
        header: &Header,
        key: &DecodingKey,
        alg: Algorithm,
        now: u64,
    ) -> Result<(Principal, u64), Failure> {
        debug_assert_eq!(header.alg, alg);
        let mut v = Validation::new(alg);
        v.set_issuer(&[&self.issuer]);
        v.set_audience(&[&self.audience]);
        v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        v.leeway = LEEWAY_SECONDS;
        v.validate_nbf = true;
        let data = jsonwebtoken::decode::<Value>(token, key, &v).map_err(|e| {
            Failure::Other(invalid(match e.kind() {
                ErrorKind::InvalidSignature => return Failure::Signature,
                ErrorKind::ExpiredSignature => "the token has expired".to_owned(),
                ErrorKind::ImmatureSignature => "the token is not valid yet (nbf)".to_owned(),
                ErrorKind::InvalidIssuer => "wrong issuer (iss)".to_owned(),
                ErrorKind::InvalidAudience => "wrong audience (aud)".to_owned(),
                ErrorKind::InvalidAlgorithm => "algorithm not allowed for this key".to_owned(),
                ErrorKind::MissingRequiredClaim(c) => format!("the token has no {c} claim"),
                _ => "malformed or unverifiable token".to_owned(),
            }))
        })?;
        let claims = data.claims;
        let num = |name: &str| claims.get(name).and_then(Value::as_f64);
        let exp =
            num("exp").ok_or_else(|| Failure::Other(invalid("the token has no exp claim")))?;
        // jsonwebtoken applies the leeway to exp too; exp gets none here.
        if exp <= now as f64 {
            return Err(Failure::Other(invalid("the token has expired")));
        }
        if num("iat").is_some_and(|iat| iat > (now + LEEWAY_SECONDS) as f64) {
            return Err(Failure::Other(invalid(
                "the token was issued in the future (iat)",
            )));
        }
        let sub = claims
            .get("sub")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| Failure::Other(invalid("the token has no sub claim")))?
            .to_owned();
        let principal = Principal::from_claims(sub, claims.get("scope"), claims.get("scp"));
        Ok((principal, exp as u64))
    }
}
