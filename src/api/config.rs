//! The API's configuration, read once from the environment.

use std::time::Duration;

use secrecy::SecretString;

use super::auth::JwksTiming;
use super::names::{parse_patterns, Pattern};

/// Where token keys come from: exactly one of the three variables.
pub enum KeyConfig {
    /// `JWT_JWKS_URL`: RS256, ES256, EdDSA.
    Jwks { url: String, timing: JwksTiming },
    /// `JWT_HS256_SECRET`: development and tests; at least 32 bytes.
    Hs256(SecretString),
    /// `JWT_HS256_SECRET_ID`: a Secrets Manager secret holding the key.
    Hs256SecretId(String),
}

impl std::fmt::Debug for KeyConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Jwks { url, timing } => f
                .debug_struct("Jwks")
                .field("url", url)
                .field("timing", timing)
                .finish(),
            Self::Hs256(_) => f.write_str("Hs256([REDACTED])"),
            Self::Hs256SecretId(id) => f.debug_tuple("Hs256SecretId").field(id).finish(),
        }
    }
}

#[derive(Debug)]
pub struct ApiConfig {
    pub issuer: String,
    pub audience: String,
    pub keys: KeyConfig,
    /// `ALLOWED_SECRETS`: what this deployment serves at all.
    pub allowed: Vec<Pattern>,
    /// `CACHE_TTL_SECONDS` (default 300, 0 = off).
    pub cache_ttl: Duration,
    /// `ROTATE_WAIT_SECONDS` (default 20).
    pub rotate_wait: Duration,
}

#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {0}")]
pub struct ConfigError(pub String);

fn seconds(
    get: &impl Fn(&str) -> Option<String>,
    name: &str,
    default: u64,
) -> Result<Duration, ConfigError> {
    match get(name) {
        None => Ok(Duration::from_secs(default)),
        Some(v) => v
            .trim()
            .parse::<u64>()
            .map(Duration::from_secs)
            .map_err(|_| ConfigError(format!("{name} must be a whole number of seconds"))),
    }
}

impl ApiConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads the configuration through `get` (the environment in `main`).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        let required = |k: &str| get(k).ok_or_else(|| ConfigError(format!("{k} is required")));
        let issuer = required("JWT_ISSUER")?;
        let audience = required("JWT_AUDIENCE")?;
        let sources = [
            get("JWT_JWKS_URL"),
            get("JWT_HS256_SECRET"),
            get("JWT_HS256_SECRET_ID"),
        ];
        let keys = match sources {
            [Some(url), None, None] => KeyConfig::Jwks {
                url,
                timing: JwksTiming {
                    refresh: seconds(&get, "JWT_JWKS_REFRESH_SECONDS", 300)?,
                    min_refetch: seconds(&get, "JWT_JWKS_MIN_REFETCH_SECONDS", 60)?,
                    max_stale: seconds(&get, "JWT_JWKS_MAX_STALE_SECONDS", 3600)?,
                },
            },
            [None, Some(key), None] => {
                if key.len() < 32 {
                    return Err(ConfigError(
                        "JWT_HS256_SECRET must be at least 32 bytes".to_owned(),
                    ));
                }
                KeyConfig::Hs256(SecretString::from(key))
            }
            [None, None, Some(id)] => KeyConfig::Hs256SecretId(id),
            _ => {
                return Err(ConfigError(
                    "set exactly one of JWT_JWKS_URL, JWT_HS256_SECRET and JWT_HS256_SECRET_ID"
                        .to_owned(),
                ))
            }
        };
        let allowed = parse_patterns(&required("ALLOWED_SECRETS")?)
            .map_err(|e| ConfigError(format!("ALLOWED_SECRETS: {e}")))?;
        if allowed.is_empty() {
            return Err(ConfigError(
                "ALLOWED_SECRETS is required (comma-separated patterns; `**` serves every secret)"
                    .to_owned(),
            ));
        }
        Ok(Self {
            issuer,
            audience,
            keys,
            allowed,
            cache_ttl: seconds(&get, "CACHE_TTL_SECONDS", 300)?,
            rotate_wait: seconds(&get, "ROTATE_WAIT_SECONDS", 20)?,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::collections::HashMap;

    fn cfg(pairs: &[(&str, &str)]) -> Result<ApiConfig, ConfigError> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        ApiConfig::from_lookup(|k| m.get(k).cloned())
    }

    const BASE: [(&str, &str); 3] = [
        ("JWT_ISSUER", "iss"),
        ("JWT_AUDIENCE", "aud"),
        ("ALLOWED_SECRETS", "app/**, db-*"),
    ];

    #[test]
    fn errors_name_the_variable_and_never_the_key() {
        let e = cfg(&[("JWT_AUDIENCE", "a")]).unwrap_err();
        assert!(e.to_string().contains("JWT_ISSUER"), "{e}");
        let e = cfg(&BASE).unwrap_err();
        assert!(e.to_string().contains("exactly one"), "{e}");
        let mut short = BASE.to_vec();
        short.push(("JWT_HS256_SECRET", "CANARY-short"));
        let e = cfg(&short).unwrap_err();
        assert!(e.to_string().contains("32 bytes") && !e.to_string().contains("CANARY"));
        let mut two = BASE.to_vec();
        two.push(("JWT_HS256_SECRET_ID", "k"));
        two.push(("JWT_JWKS_URL", "https://x/jwks"));
        assert!(cfg(&two).is_err());
        let mut bad = BASE.to_vec();
        bad.push(("JWT_HS256_SECRET_ID", "k"));
        bad.push(("CACHE_TTL_SECONDS", "soon"));
        assert!(cfg(&bad)
            .unwrap_err()
            .to_string()
            .contains("CACHE_TTL_SECONDS"));
    }

    #[test]
    fn defaults_and_debug_redaction() {
        let mut ok = BASE.to_vec();
        ok.push((
            "JWT_HS256_SECRET",
            "CANARY-0123456789abcdef0123456789abcdef",
        ));
        let c = cfg(&ok).unwrap();
        assert_eq!(c.cache_ttl, Duration::from_secs(300));
        assert_eq!(c.rotate_wait, Duration::from_secs(20));
        assert_eq!(c.allowed.len(), 2);
        assert!(!format!("{c:?}").contains("CANARY"));
    }
}
