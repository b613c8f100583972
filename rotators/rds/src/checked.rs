//! `RdsChecked`: runs the endpoint check before a database rotator touches
//! its target.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use async_trait::async_trait;
use rotation_core::{Rotator, RotatorError, SecretJson, SecretSource, SecretString, StepContext};
use tracing::info;

use crate::check::{check_identifier, identifiers, Identifier};
use crate::client::LazyRds;

/// Wraps a database rotator (PostgreSQL, MySQL/MariaDB). In setSecret and
/// testSecret, before delegating, every RDS identifier named by the current
/// secret, the pending secret or (setSecret only) the master secret must
/// have every host those secrets name as an endpoint. Secrets that name no
/// identifier make no RDS call; the RDS client is not even built.
#[derive(Debug, Clone)]
pub struct RdsChecked<R> {
    inner: R,
    rds: LazyRds,
}

impl<R> RdsChecked<R> {
    pub fn new(inner: R, rds: LazyRds) -> Self {
        Self { inner, rds }
    }
}

/// Identifiers and hosts gathered from the secrets in hand.
#[derive(Default)]
struct Claims {
    ids: BTreeSet<Identifier>,
    hosts: BTreeSet<String>,
}

impl Claims {
    fn add(&mut self, json: &SecretJson) -> Result<(), RotatorError> {
        self.ids.extend(identifiers(json)?);
        if let Some(host) = json.str_field("host")? {
            self.hosts.insert(host.trim().to_ascii_lowercase());
        }
        Ok(())
    }

    /// One DescribeDB* call per identifier (usually one), whatever the
    /// number of hosts. A secret without a host is the inner rotator's error.
    async fn verify(&self, rds: &LazyRds, ctx: &StepContext<'_>) -> Result<(), RotatorError> {
        let hosts: Vec<&str> = self.hosts.iter().map(String::as_str).collect();
        for id in &self.ids {
            check_identifier(rds, id, &hosts).await?;
            info!(secret_id = ctx.secret_id, rds = %id.describe(), "host verified against the RDS API");
        }
        Ok(())
    }
}

/// A `SecretSource` that remembers the master secret it read for the
/// check, so that the inner rotator's read costs no second API call.
struct Remembering<'a> {
    inner: &'a dyn SecretSource,
    others: Mutex<BTreeMap<String, SecretString>>,
}

#[async_trait]
impl SecretSource for Remembering<'_> {
    async fn previous(&self) -> Result<Option<SecretString>, RotatorError> {
        self.inner.previous().await
    }

    async fn other(&self, secret_id: &str) -> Result<SecretString, RotatorError> {
        let known = self
            .others
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(secret_id)
            .cloned();
        if let Some(v) = known {
            return Ok(v);
        }
        let v = self.inner.other(secret_id).await?;
        self.others
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(secret_id.to_owned(), v.clone());
        Ok(v)
    }
}

/// Gathers the claims of current and pending and, when `with_master`, of the
/// master secret named by `masterarn` (read through `others`).
async fn claims(
    current: &SecretString,
    pending: &SecretString,
    others: &dyn SecretSource,
    with_master: bool,
) -> Result<Claims, RotatorError> {
    let mut claims = Claims::default();
    let mut masters = BTreeSet::new();
    for raw in [current, pending] {
        // A value the inner rotator cannot parse is its error to report.
        let Ok(json) = SecretJson::parse(raw) else {
            continue;
        };
        claims.add(&json)?;
        if let Some(arn) = json.str_field("masterarn").ok().flatten() {
            masters.insert(arn.to_owned());
        }
    }
    if with_master {
        for arn in masters.iter().filter(|a| !a.is_empty()) {
            let json = SecretJson::parse(&others.other(arn).await?).map_err(|e| match e {
                RotatorError::InvalidSecret { reason } => {
                    RotatorError::invalid(format!("the master secret {arn}: {reason}"))
                }
                other => other,
            })?;
            claims.add(&json)?;
        }
    }
    Ok(claims)
}

#[async_trait]
impl<R: Rotator> Rotator for RdsChecked<R> {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn create_pending(
        &self,
        ctx: &StepContext<'_>,
        current: &SecretString,
        new_password: SecretString,
    ) -> Result<SecretString, RotatorError> {
        self.inner.create_pending(ctx, current, new_password)
    }

    async fn set(
        &self,
        ctx: &StepContext<'_>,
        current: &SecretString,
        pending: &SecretString,
        others: &dyn SecretSource,
    ) -> Result<(), RotatorError> {
        let others = Remembering {
            inner: others,
            others: Mutex::new(BTreeMap::new()),
        };
        claims(current, pending, &others, true)
            .await?
            .verify(&self.rds, ctx)
            .await?;
        self.inner.set(ctx, current, pending, &others).await
    }

    async fn test(
        &self,
        ctx: &StepContext<'_>,
        current: &SecretString,
        pending: &SecretString,
        others: &dyn SecretSource,
    ) -> Result<(), RotatorError> {
        // testSecret logs in with the pending secret only: the master secret
        // is not read (it would cost a Secrets Manager call).
        claims(current, pending, others, false)
            .await?
            .verify(&self.rds, ctx)
            .await?;
        self.inner.test(ctx, current, pending, others).await
    }

    async fn after_finish(
        &self,
        ctx: &StepContext<'_>,
        new_current: &SecretString,
        others: &dyn SecretSource,
    ) -> Result<(), RotatorError> {
        self.inner.after_finish(ctx, new_current, others).await
    }
}
