//! The trait every target family implements.
//!
//! The engine owns the protocol: the guard, the idempotency shortcuts and the
//! label moves. A rotator only knows its target: how to derive the pending
//! value, apply it, test it and (optionally) clean up after the label move.

use async_trait::async_trait;
use secrecy::SecretString;

use crate::{PasswordPolicy, RotatorError};

/// What the engine tells a rotator about the rotation in hand.
#[derive(Debug, Clone, Copy)]
pub struct StepContext<'a> {
    /// The secret's ARN (or id in local mode).
    pub secret_id: &'a str,
    /// The rotation's `ClientRequestToken`.
    pub token: &'a str,
    /// The effective password policy (environment, then tags).
    pub policy: &'a PasswordPolicy,
}

/// Secrets a rotator may need beyond current and pending, fetched on demand
/// so that the common path makes no extra API calls.
#[async_trait]
pub trait SecretSource: Send + Sync {
    /// The value under `AWSPREVIOUS`, if any.
    async fn previous(&self) -> Result<Option<SecretString>, RotatorError>;
    /// The `AWSCURRENT` value of another secret (the `masterarn` login).
    async fn other(&self, secret_id: &str) -> Result<SecretString, RotatorError>;
}

#[async_trait]
pub trait Rotator: Send + Sync {
    /// A short stable name (`generic`, `postgres`, ...), used in logs.
    fn name(&self) -> &'static str;

    /// createSecret: build the pending value from the current one and a
    /// freshly generated password. Must not touch the target.
    fn create_pending(
        &self,
        ctx: &StepContext<'_>,
        current: &SecretString,
        new_password: SecretString,
    ) -> Result<SecretString, RotatorError>;

    /// setSecret: make the pending credentials valid on the target.
    /// Must succeed at once when the pending credentials already work.
    async fn set(
        &self,
        ctx: &StepContext<'_>,
        current: &SecretString,
        pending: &SecretString,
        others: &dyn SecretSource,
    ) -> Result<(), RotatorError>;

    /// testSecret: prove the pending credentials work.
    async fn test(
        &self,
        ctx: &StepContext<'_>,
        current: &SecretString,
        pending: &SecretString,
        others: &dyn SecretSource,
    ) -> Result<(), RotatorError>;

    /// Called by finishSecret after `AWSCURRENT` moved to the new value;
    /// `others.previous()` reads the value that was current. Must be
    /// idempotent. Default: nothing to do.
    async fn after_finish(
        &self,
        _ctx: &StepContext<'_>,
        _new_current: &SecretString,
        _others: &dyn SecretSource,
    ) -> Result<(), RotatorError> {
        Ok(())
    }
}
