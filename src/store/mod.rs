//! Secret stores: where secret versions and their staging labels live.
//!
//! [`SecretStore`] is the narrow interface the engine needs. Every store
//! follows AWS Secrets Manager's documented behaviour (see
//! `shared/PROTOCOL.md`), and one conformance suite ([`conformance`]) runs
//! against each of them.

use std::collections::BTreeMap;

use async_trait::async_trait;
use secrecy::SecretString;

pub mod aws;
pub mod conformance;
pub mod memory;

pub const AWSCURRENT: &str = "AWSCURRENT";
pub const AWSPENDING: &str = "AWSPENDING";
pub const AWSPREVIOUS: &str = "AWSPREVIOUS";

/// Metadata of a secret: no values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SecretDescription {
    pub arn: String,
    pub name: String,
    pub rotation_enabled: bool,
    /// VersionId -> staging labels.
    pub versions: BTreeMap<String, Vec<String>>,
    pub tags: BTreeMap<String, String>,
}

impl SecretDescription {
    pub fn new(arn: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            arn: arn.into(),
            name: name.into(),
            ..Self::default()
        }
    }

    /// The version holding `stage`, if any.
    pub fn version_with(&self, stage: &str) -> Option<&str> {
        self.versions
            .iter()
            .find(|(_, stages)| stages.iter().any(|s| s == stage))
            .map(|(v, _)| v.as_str())
    }

    /// Whether `version` exists and carries `stage`.
    pub fn has_stage(&self, version: &str, stage: &str) -> bool {
        self.versions
            .get(version)
            .is_some_and(|stages| stages.iter().any(|s| s == stage))
    }
}

/// Which version to read. Always name a stage: the AWS API emulator can
/// return a stale version for a bare VersionId.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Selector<'a> {
    Stage(&'a str),
    Version { id: &'a str, stage: &'a str },
}

/// A value read from a store.
pub struct VersionValue {
    pub version_id: String,
    pub value: SecretString,
}

impl std::fmt::Debug for VersionValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VersionValue")
            .field("version_id", &self.version_id)
            .field("value", &"[REDACTED]")
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The secret, the version or a value under the asked stage does not exist.
    #[error("not found: {what}")]
    NotFound { what: String },
    /// A token was reused with a different value (`ResourceExistsException`).
    #[error("version {token} already exists with a different value")]
    TokenConflict { token: String },
    /// The request contradicts the secret's state (`InvalidRequestException`,
    /// `InvalidParameterException`).
    #[error("invalid request ({code}): {message}")]
    InvalidRequest { code: String, message: String },
    /// Throttling, a timeout or a connection failure: retrying may help.
    #[error("{operation} failed transiently: {message}")]
    Transient {
        operation: &'static str,
        message: String,
    },
    /// Anything else, e.g. access denied.
    #[error("{operation} failed ({code}): {message}")]
    Other {
        operation: &'static str,
        code: String,
        message: String,
    },
}

impl StoreError {
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::NotFound { .. })
    }
}

/// What the rotation engine needs from a store.
#[async_trait]
pub trait SecretStore: Send + Sync {
    /// DescribeSecret: rotation flag, versions and their labels, tags.
    async fn describe(&self, secret_id: &str) -> Result<SecretDescription, StoreError>;

    /// GetSecretValue. A version that exists but has no value yet (made by
    /// RotateSecret) is `NotFound`.
    async fn get(&self, secret_id: &str, which: Selector<'_>) -> Result<VersionValue, StoreError>;

    /// PutSecretValue with `ClientRequestToken = token` and stage
    /// `AWSPENDING`. The same token with the same value succeeds and changes
    /// nothing; with a different value it is `TokenConflict`.
    async fn put_pending(
        &self,
        secret_id: &str,
        token: &str,
        value: &SecretString,
    ) -> Result<(), StoreError>;

    /// UpdateSecretVersionStage. Moving `AWSCURRENT` moves `AWSPREVIOUS` onto
    /// the version that held `AWSCURRENT` before.
    async fn update_stage(
        &self,
        secret_id: &str,
        stage: &str,
        move_to: Option<&str>,
        remove_from: Option<&str>,
    ) -> Result<(), StoreError>;
}
