//! The rotation protocol, written once: the guard, the step dispatch, the
//! idempotency shortcuts and the label moves (see `shared/PROTOCOL.md`).
//! Rotators only know their target; stores only know versions and labels.

use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use rotation_core::{PasswordPolicy, RotatorError, SecretSource, SecretString, StepContext};
use tracing::{info, instrument, warn};

use crate::registry::Registry;
use crate::store::{
    SecretDescription, SecretStore, Selector, StoreError, AWSCURRENT, AWSPENDING, AWSPREVIOUS,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Create,
    Set,
    Test,
    Finish,
}

impl Step {
    pub const ALL: [Step; 4] = [Step::Create, Step::Set, Step::Test, Step::Finish];

    pub fn as_str(self) -> &'static str {
        match self {
            Step::Create => "createSecret",
            Step::Set => "setSecret",
            Step::Test => "testSecret",
            Step::Finish => "finishSecret",
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Step {
    type Err = EngineError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Step::ALL
            .into_iter()
            .find(|step| step.as_str() == s)
            .ok_or_else(|| EngineError::UnknownStep {
                step: if s.len() <= 32 && s.chars().all(|c| c.is_ascii_alphanumeric()) {
                    s.to_owned()
                } else {
                    "(unprintable)".to_owned()
                },
            })
    }
}

/// What a step did, for logs and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The step did its work.
    Done,
    /// The token already holds AWSCURRENT: a retry of a finished rotation.
    AlreadyCurrent,
    /// createSecret found the pending value already written.
    PendingExists,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    #[error("invalid event: {0}")]
    InvalidEvent(String),
    #[error("unknown step {step}: expected createSecret, setSecret, testSecret or finishSecret")]
    UnknownStep { step: String },
    #[error("secret {secret} is not enabled for rotation")]
    RotationNotEnabled { secret: String },
    #[error("secret version {token} has no stage for rotation of secret {secret}")]
    NoSuchVersion { secret: String, token: String },
    #[error("secret version {token} not set as AWSPENDING for rotation of secret {secret}")]
    NotPending { secret: String, token: String },
    #[error("secret {secret} has no AWSCURRENT version")]
    NoCurrent { secret: String },
    #[error("{step} on {secret}: {source}")]
    Store {
        secret: String,
        step: Step,
        #[source]
        source: StoreError,
    },
    #[error("{step} on {secret}: {source}")]
    Rotator {
        secret: String,
        step: Step,
        #[source]
        source: RotatorError,
    },
}

impl EngineError {
    /// The stable Lambda `errorType`.
    pub fn error_type(&self) -> &'static str {
        match self {
            Self::InvalidEvent(_) => "InvalidEvent",
            Self::UnknownStep { .. } => "UnknownStep",
            Self::RotationNotEnabled { .. } => "RotationNotEnabled",
            Self::NoSuchVersion { .. } => "VersionNotFound",
            Self::NotPending { .. } => "VersionNotPending",
            Self::NoCurrent { .. } => "NoCurrentVersion",
            Self::Store { source, .. } => match source {
                StoreError::Transient { .. } => "SecretStoreUnavailable",
                _ => "SecretStoreError",
            },
            Self::Rotator { source, .. } => source.error_type(),
        }
    }
}

/// Version values are immutable once written (a VersionId never changes its
/// value), so a warm container may reuse what an earlier step read or wrote
/// instead of calling GetSecretValue again. Labels are never cached.
struct VersionCache {
    entries: Mutex<Vec<(String, String, SecretString, Instant)>>,
}

const CACHE_TTL: Duration = Duration::from_secs(15 * 60);
const CACHE_CAP: usize = 16;

impl VersionCache {
    fn get(&self, arn: &str, version: &str) -> Option<SecretString> {
        let mut e = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        e.retain(|(_, _, _, at)| at.elapsed() < CACHE_TTL);
        e.iter()
            .find(|(a, v, _, _)| a == arn && v == version)
            .map(|(_, _, s, _)| s.clone())
    }

    fn put(&self, arn: &str, version: &str, value: &SecretString) {
        let mut e = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        e.retain(|(a, v, _, _)| !(a == arn && v == version));
        if e.len() >= CACHE_CAP {
            e.remove(0);
        }
        e.push((
            arn.to_owned(),
            version.to_owned(),
            value.clone(),
            Instant::now(),
        ));
    }
}

pub struct Engine {
    store: Arc<dyn SecretStore>,
    registry: Registry,
    policy: PasswordPolicy,
    cache: VersionCache,
}

impl fmt::Debug for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Engine")
            .field("registry", &self.registry)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

struct Source<'a> {
    engine: &'a Engine,
    arn: &'a str,
    previous: Option<&'a str>,
}

#[async_trait]
impl SecretSource for Source<'_> {
    async fn previous(&self) -> Result<Option<SecretString>, RotatorError> {
        let Some(id) = self.previous else {
            return Ok(None);
        };
        match self.engine.read(self.arn, id, AWSPREVIOUS).await {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(RotatorError::Store(format!(
                "cannot read AWSPREVIOUS of {}: {e}",
                self.arn
            ))),
        }
    }

    async fn other(&self, secret_id: &str) -> Result<SecretString, RotatorError> {
        self.engine
            .store
            .get(secret_id, Selector::Stage(AWSCURRENT))
            .await
            .map(|v| v.value)
            .map_err(|e| RotatorError::Store(format!("cannot read secret {secret_id}: {e}")))
    }
}

impl Engine {
    pub fn new(store: Arc<dyn SecretStore>, registry: Registry, policy: PasswordPolicy) -> Self {
        Self {
            store,
            registry,
            policy,
            cache: VersionCache {
                entries: Mutex::new(Vec::new()),
            },
        }
    }

    pub fn store(&self) -> &Arc<dyn SecretStore> {
        &self.store
    }

    async fn read(
        &self,
        arn: &str,
        version: &str,
        stage: &str,
    ) -> Result<SecretString, StoreError> {
        if let Some(v) = self.cache.get(arn, version) {
            return Ok(v);
        }
        let v = self
            .store
            .get(arn, Selector::Version { id: version, stage })
            .await?;
        self.cache.put(arn, version, &v.value);
        Ok(v.value)
    }

    /// Runs one step of the protocol for `secret_id` and `token`.
    #[instrument(skip_all, fields(secret_id = %secret_id, step = %step, token = %token))]
    pub async fn handle(
        &self,
        secret_id: &str,
        token: &str,
        step: &str,
    ) -> Result<Outcome, EngineError> {
        let step: Step = step.parse()?;
        if secret_id.is_empty() || token.is_empty() {
            return Err(EngineError::InvalidEvent(
                "SecretId and ClientRequestToken must not be empty".into(),
            ));
        }
        let desc = self.guard(secret_id, token, step).await?;
        let arn = desc.arn.as_str();
        let store_err = |source| EngineError::Store {
            secret: arn.to_owned(),
            step,
            source,
        };
        if desc.has_stage(token, AWSCURRENT) {
            if step == Step::Finish {
                self.finish_again(&desc, token).await?;
            }
            info!("version already holds AWSCURRENT; nothing to do");
            return Ok(Outcome::AlreadyCurrent);
        }
        let current_id = desc
            .version_with(AWSCURRENT)
            .ok_or_else(|| EngineError::NoCurrent {
                secret: arn.to_owned(),
            })?
            .to_owned();
        let policy = self
            .policy
            .with_tags(&desc.tags)
            .map_err(|source| EngineError::Rotator {
                secret: arn.to_owned(),
                step,
                source,
            })?;
        let ctx = StepContext {
            secret_id: arn,
            token,
            policy: &policy,
        };
        let rot_err = |source| EngineError::Rotator {
            secret: arn.to_owned(),
            step,
            source,
        };

        match step {
            Step::Create => {
                match self.read(arn, token, AWSPENDING).await {
                    Ok(_) => {
                        info!("pending value already written");
                        return Ok(Outcome::PendingExists);
                    }
                    Err(e) if e.is_not_found() => {}
                    Err(e) => return Err(store_err(e)),
                }
                let current = self
                    .read(arn, &current_id, AWSCURRENT)
                    .await
                    .map_err(store_err)?;
                let rotator = self
                    .registry
                    .select(&current, &desc.tags)
                    .map_err(rot_err)?;
                let password = policy.generate().map_err(rot_err)?;
                let pending = rotator
                    .create_pending(&ctx, &current, password)
                    .map_err(rot_err)?;
                self.store
                    .put_pending(arn, token, &pending)
                    .await
                    .map_err(store_err)?;
                self.cache.put(arn, token, &pending);
                info!(rotator = rotator.name(), "pending value written");
            }
            Step::Set | Step::Test => {
                let current = self
                    .read(arn, &current_id, AWSCURRENT)
                    .await
                    .map_err(store_err)?;
                let pending = self.read(arn, token, AWSPENDING).await.map_err(store_err)?;
                let rotator = self
                    .registry
                    .select(&current, &desc.tags)
                    .map_err(rot_err)?;
                let source = Source {
                    engine: self,
                    arn,
                    previous: desc.version_with(AWSPREVIOUS),
                };
                let result = if step == Step::Set {
                    rotator.set(&ctx, &current, &pending, &source).await
                } else {
                    rotator.test(&ctx, &current, &pending, &source).await
                };
                if let Err(e @ RotatorError::PasswordRejected { .. }) = result {
                    // Retrying this token would offer the same password again.
                    // Abandon it so that the next RotateSecret makes a new one.
                    warn!(
                        event = "pending_abandoned",
                        "target rejected the pending password; removing AWSPENDING from this version"
                    );
                    if let Err(clear) = self
                        .store
                        .update_stage(arn, AWSPENDING, None, Some(token))
                        .await
                    {
                        warn!(error = %clear, "could not remove AWSPENDING");
                    }
                    return Err(rot_err(e));
                }
                result.map_err(rot_err)?;
                info!(rotator = rotator.name(), "step succeeded");
            }
            Step::Finish => {
                let pending = self.read(arn, token, AWSPENDING).await.map_err(store_err)?;
                let rotator = self
                    .registry
                    .select(&pending, &desc.tags)
                    .map_err(rot_err)?;
                self.store
                    .update_stage(arn, AWSCURRENT, Some(token), Some(&current_id))
                    .await
                    .map_err(store_err)?;
                self.store
                    .update_stage(arn, AWSPENDING, None, Some(token))
                    .await
                    .map_err(store_err)?;
                let source = Source {
                    engine: self,
                    arn,
                    previous: Some(&current_id),
                };
                rotator
                    .after_finish(&ctx, &pending, &source)
                    .await
                    .map_err(rot_err)?;
                info!(rotator = rotator.name(), previous = %current_id, "AWSCURRENT moved");
            }
        }
        Ok(Outcome::Done)
    }

    /// finishSecret for a token that already holds AWSCURRENT: the process
    /// may have died after the label move, so complete what follows it (the
    /// AWSPENDING removal and the rotator's idempotent `after_finish`).
    async fn finish_again(&self, desc: &SecretDescription, token: &str) -> Result<(), EngineError> {
        let arn = desc.arn.as_str();
        let step = Step::Finish;
        let store_err = |source| EngineError::Store {
            secret: arn.to_owned(),
            step,
            source,
        };
        let rot_err = |source| EngineError::Rotator {
            secret: arn.to_owned(),
            step,
            source,
        };
        if desc.has_stage(token, AWSPENDING) {
            self.store
                .update_stage(arn, AWSPENDING, None, Some(token))
                .await
                .map_err(store_err)?;
        }
        let current = self.read(arn, token, AWSCURRENT).await.map_err(store_err)?;
        let rotator = self
            .registry
            .select(&current, &desc.tags)
            .map_err(rot_err)?;
        let policy = self.policy.with_tags(&desc.tags).map_err(rot_err)?;
        let ctx = StepContext {
            secret_id: arn,
            token,
            policy: &policy,
        };
        let source = Source {
            engine: self,
            arn,
            previous: desc.version_with(AWSPREVIOUS),
        };
        rotator
            .after_finish(&ctx, &current, &source)
            .await
            .map_err(rot_err)
    }

    /// The guard run before every step.
    async fn guard(
        &self,
        secret_id: &str,
        token: &str,
        step: Step,
    ) -> Result<SecretDescription, EngineError> {
        let desc = self
            .store
            .describe(secret_id)
            .await
            .map_err(|source| EngineError::Store {
                secret: secret_id.to_owned(),
                step,
                source,
            })?;
        if !desc.rotation_enabled {
            return Err(EngineError::RotationNotEnabled { secret: desc.arn });
        }
        if !desc.versions.contains_key(token) {
            return Err(EngineError::NoSuchVersion {
                secret: desc.arn,
                token: token.to_owned(),
            });
        }
        if !desc.has_stage(token, AWSCURRENT) && !desc.has_stage(token, AWSPENDING) {
            return Err(EngineError::NotPending {
                secret: desc.arn,
                token: token.to_owned(),
            });
        }
        Ok(desc)
    }
}

#[cfg(test)]
#[path = "engine_tests.rs"]
mod tests;
