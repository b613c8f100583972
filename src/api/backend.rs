//! What the API needs from a secrets service: a narrow trait, so that a
//! later store (embedded) can stand in for Secrets Manager.

use std::collections::BTreeMap;

use async_trait::async_trait;
use secrecy::{SecretBox, SecretString};

use crate::store::{StoreError, AWSCURRENT, AWSPENDING};

/// A secret's payload: a string, or bytes (`SecretBinary`).
pub enum Payload {
    String(SecretString),
    Binary(SecretBox<Vec<u8>>),
}

/// One version's value, with the metadata the API returns.
pub struct SecretValue {
    pub name: String,
    pub arn: String,
    pub version_id: String,
    pub version_stages: Vec<String>,
    pub payload: Payload,
}

impl std::fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretValue")
            .field("name", &self.name)
            .field("version_id", &self.version_id)
            .field("version_stages", &self.version_stages)
            .field("payload", &"[REDACTED]")
            .finish()
    }
}

/// Which version to read. `stage` is always sent when known: the AWS API
/// emulator can answer a bare VersionId with a stale version.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Which {
    pub stage: Option<String>,
    pub version_id: Option<String>,
}

impl Which {
    pub fn current() -> Self {
        Self {
            stage: Some(AWSCURRENT.to_owned()),
            version_id: None,
        }
    }
}

/// Rotation settings and state of a secret; no values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SecretMetadata {
    pub name: String,
    pub arn: String,
    pub description: Option<String>,
    pub rotation_enabled: bool,
    pub rotation_lambda_arn: Option<String>,
    pub automatically_after_days: Option<i64>,
    pub schedule_expression: Option<String>,
    pub duration: Option<String>,
    /// RFC 3339.
    pub last_rotated_date: Option<String>,
    pub next_rotation_date: Option<String>,
    pub last_changed_date: Option<String>,
    pub created_date: Option<String>,
    /// VersionId -> staging labels.
    pub versions: BTreeMap<String, Vec<String>>,
}

impl SecretMetadata {
    pub fn version_with(&self, stage: &str) -> Option<&str> {
        self.versions
            .iter()
            .find(|(_, s)| s.iter().any(|x| x == stage))
            .map(|(v, _)| v.as_str())
    }

    /// The version holding `AWSPENDING` when it is not the current one: a
    /// rotation is in progress (AWS's rule, see `shared/PROTOCOL.md`).
    pub fn pending_elsewhere(&self) -> Option<&str> {
        let pending = self.version_with(AWSPENDING)?;
        (self.version_with(AWSCURRENT) != Some(pending)).then_some(pending)
    }
}

/// One page of `ListSecrets`.
#[derive(Debug, Clone, Default)]
pub struct SecretPage {
    pub secrets: Vec<SecretMetadata>,
    pub next_token: Option<String>,
}

#[async_trait]
pub trait SecretsBackend: Send + Sync {
    /// GetSecretValue.
    async fn get(&self, name: &str, which: &Which) -> Result<SecretValue, StoreError>;
    /// DescribeSecret.
    async fn describe(&self, name: &str) -> Result<SecretMetadata, StoreError>;
    /// ListSecrets, optionally filtered by name prefix.
    async fn list(
        &self,
        prefix: Option<&str>,
        next_token: Option<&str>,
    ) -> Result<SecretPage, StoreError>;
    /// RotateSecret with `token` as ClientRequestToken, using the rotation
    /// already configured for the secret. Returns the new VersionId.
    async fn rotate(&self, name: &str, token: &str) -> Result<String, StoreError>;
}
