//! The one error type every rotator returns.
//!
//! Messages name ids, fields and SQLSTATE codes, never values: a `reason` is
//! always a static description written by us, not text echoed from a secret.

use std::error::Error as StdError;

/// A boxed driver error kept as the `source` of a variant. Callers never need
/// to downcast it: the variant already says what happened.
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RotatorError {
    /// The secret's value does not have the shape this rotator needs.
    #[error("invalid secret value: {reason}")]
    InvalidSecret { reason: String },
    /// Pending, current or master secret name a different target: refused.
    #[error("target mismatch: {reason}")]
    TargetMismatch { reason: String },
    /// The target could not be reached at all.
    #[error("cannot reach {target}")]
    Unreachable {
        target: String,
        #[source]
        source: BoxError,
    },
    /// No credential we hold logs in.
    #[error("authentication failed on {target}: {reason}")]
    AuthenticationFailed { target: String, reason: String },
    /// The target refused the generated password (policy, length, charset).
    /// The engine abandons this version so that a retry generates a new one.
    #[error("target {target} rejected the pending password: {reason}")]
    PasswordRejected { target: String, reason: String },
    /// Any other failure on the target; `reason` never carries a value.
    #[error("target {target} failed: {reason}")]
    Target { target: String, reason: String },
    /// A configuration error (password policy, environment).
    #[error("configuration error: {0}")]
    Config(String),
    /// Reading a secret the rotator asked for (previous, master) failed.
    #[error("secret store: {0}")]
    Store(String),
}

impl RotatorError {
    pub fn invalid(reason: impl Into<String>) -> Self {
        Self::InvalidSecret {
            reason: reason.into(),
        }
    }

    pub fn mismatch(reason: impl Into<String>) -> Self {
        Self::TargetMismatch {
            reason: reason.into(),
        }
    }

    /// A stable name for the Lambda `errorType` and for metrics.
    pub fn error_type(&self) -> &'static str {
        match self {
            Self::InvalidSecret { .. } => "InvalidSecret",
            Self::TargetMismatch { .. } => "TargetMismatch",
            Self::Unreachable { .. } => "TargetUnreachable",
            Self::AuthenticationFailed { .. } => "AuthenticationFailed",
            Self::PasswordRejected { .. } => "PasswordRejected",
            Self::Target { .. } => "TargetError",
            Self::Config(_) => "ConfigurationError",
            Self::Store(_) => "SecretStoreError",
        }
    }

    /// Whether retrying the same step later may succeed without a change.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unreachable { .. } | Self::Store(_))
    }
}
