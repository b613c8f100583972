//! `rds-master`: rotates an RDS master password through the RDS API
//! (`ModifyDBInstance` / `ModifyDBCluster` `MasterUserPassword` with
//! `ApplyImmediately`), not through SQL. Selected by the tag
//! `secrets-rotation:rotator=rds-master`.

use async_trait::async_trait;
use rotation_core::{
    ExposeSecret, Rotator, RotatorError, SecretJson, SecretSource, SecretString, StepContext,
};
use tracing::info;

use crate::check::{
    check_cluster, check_instance, identifiers, Identifier, CLUSTER_FIELD, INSTANCE_FIELD,
};
use crate::client::LazyRds;

/// Characters RDS refuses in a master password.
const FORBIDDEN: &[char] = &['/', '"', '@', ' '];

#[derive(Debug, Clone)]
pub struct RdsMasterRotator {
    rds: LazyRds,
}

impl RdsMasterRotator {
    pub fn new(rds: LazyRds) -> Self {
        Self { rds }
    }
}

/// What an `rds-master` secret says, without its password.
#[derive(Debug, PartialEq, Eq)]
struct Master {
    id: Identifier,
    host: String,
    username: String,
    engine: Option<String>,
}

impl Master {
    fn parse(json: &SecretJson) -> Result<Self, RotatorError> {
        let mut ids = identifiers(json)?;
        // A cluster's master password is the cluster's: with both fields the
        // cluster is modified and checked; the instance field is not used.
        ids.sort_by_key(|i| matches!(i, Identifier::Instance(_)));
        let id = ids.into_iter().next().ok_or_else(|| {
            RotatorError::invalid(format!(
                "an rds-master secret needs '{INSTANCE_FIELD}' or '{CLUSTER_FIELD}'"
            ))
        })?;
        Ok(Self {
            id,
            host: json.required_str("host")?.to_owned(),
            username: json.required_str("username")?.to_owned(),
            engine: json.str_field("engine")?.map(str::to_ascii_lowercase),
        })
    }

    fn parse_raw(raw: &SecretString) -> Result<(Self, SecretJson), RotatorError> {
        let json = SecretJson::parse(raw)?;
        Ok((Self::parse(&json)?, json))
    }
}

/// Confused deputy: pending must name exactly what current names.
fn check_same(current: &Master, pending: &Master) -> Result<(), RotatorError> {
    if current != pending {
        return Err(RotatorError::mismatch(
            "pending and current secrets name different RDS identifiers, hosts, users or engines",
        ));
    }
    Ok(())
}

/// The RDS state the rotator relies on.
struct Described {
    master_username: Option<String>,
    status: Option<String>,
    password_pending: bool,
}

impl RdsMasterRotator {
    /// One DescribeDB* call (plus the endpoint check's second call only when
    /// the host is a replica or member endpoint).
    async fn describe(&self, m: &Master) -> Result<Described, RotatorError> {
        let hosts = [m.host.as_str()];
        Ok(match &m.id {
            Identifier::Instance(id) => {
                let i = self.rds.instance(id).await?;
                check_instance(&self.rds, &i, &hosts).await?;
                Described {
                    master_username: i.master_username().map(str::to_owned),
                    status: i.db_instance_status().map(str::to_owned),
                    password_pending: i
                        .pending_modified_values()
                        .and_then(|p| p.master_user_password())
                        .is_some(),
                }
            }
            Identifier::Cluster(id) => {
                let c = self.rds.cluster(id).await?;
                check_cluster(&self.rds, &c, &hosts).await?;
                Described {
                    master_username: c.master_username().map(str::to_owned),
                    status: c.status().map(str::to_owned),
                    password_pending: c
                        .pending_modified_values()
                        .and_then(|p| p.master_user_password())
                        .is_some(),
                }
            }
        })
    }

    fn check_user(m: &Master, d: &Described) -> Result<(), RotatorError> {
        if d.master_username.as_deref() != Some(m.username.as_str()) {
            return Err(RotatorError::mismatch(format!(
                "the secret's username is not the master username of {}",
                m.id.describe()
            )));
        }
        Ok(())
    }
}

#[async_trait]
impl Rotator for RdsMasterRotator {
    fn name(&self) -> &'static str {
        "rds-master"
    }

    fn create_pending(
        &self,
        _ctx: &StepContext<'_>,
        current: &SecretString,
        new_password: SecretString,
    ) -> Result<SecretString, RotatorError> {
        let (m, mut json) = Master::parse_raw(current)?;
        json.password()?;
        let pw = new_password.expose_secret();
        if pw.contains(FORBIDDEN) {
            return Err(RotatorError::Config(
                "RDS master passwords cannot contain '/', '\"', '@' or a space: exclude them in the password policy".into(),
            ));
        }
        let max = match m.engine.as_deref() {
            Some("mysql" | "mariadb") => 41,
            Some(e) if e.starts_with("aurora-mysql") => 41,
            _ => 128,
        };
        if pw.len() < 8 || pw.len() > max {
            return Err(RotatorError::Config(format!(
                "RDS master passwords for this engine must be 8 to {max} characters long"
            )));
        }
        json.set_password(&new_password);
        Ok(json.to_secret())
    }

    async fn set(
        &self,
        ctx: &StepContext<'_>,
        current: &SecretString,
        pending: &SecretString,
        _others: &dyn SecretSource,
    ) -> Result<(), RotatorError> {
        let (cur, _) = Master::parse_raw(current)?;
        let (pen, pen_json) = Master::parse_raw(pending)?;
        check_same(&cur, &pen)?;
        let d = self.describe(&pen).await?;
        Self::check_user(&pen, &d)?;
        // No way to ask RDS whether the pending password is already set, and
        // no need: setting the same password again is harmless.
        let password = pen_json.password()?;
        match &pen.id {
            Identifier::Instance(id) => self.rds.set_instance_password(id, &password).await?,
            Identifier::Cluster(id) => self.rds.set_cluster_password(id, &password).await?,
        }
        info!(secret_id = ctx.secret_id, rds = %pen.id.describe(), "master password modified through the RDS API");
        Ok(())
    }

    /// What this proves: the instance or cluster exists, the host is its
    /// endpoint, the user is its master user, it is `available` and has no
    /// master password change still pending, i.e. RDS applied setSecret's
    /// change. It does not log in: the Lambda may have no network path to the
    /// database, and the emulator's endpoints do not resolve.
    async fn test(
        &self,
        _ctx: &StepContext<'_>,
        current: &SecretString,
        pending: &SecretString,
        _others: &dyn SecretSource,
    ) -> Result<(), RotatorError> {
        let (cur, _) = Master::parse_raw(current)?;
        let (pen, _) = Master::parse_raw(pending)?;
        check_same(&cur, &pen)?;
        let d = self.describe(&pen).await?;
        Self::check_user(&pen, &d)?;
        if d.password_pending || d.status.as_deref() != Some("available") {
            return Err(RotatorError::Target {
                target: pen.id.describe(),
                reason: format!(
                    "the master password change is not applied yet (status '{}'); retry later",
                    d.status
                        .as_deref()
                        .filter(|s| s.len() <= 40
                            && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
                        .unwrap_or("unknown")
                ),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rotation_core::PasswordPolicy;

    fn ctx(policy: &PasswordPolicy) -> StepContext<'_> {
        StepContext {
            secret_id: "arn:test",
            token: "t",
            policy,
        }
    }

    #[test]
    fn create_pending_keeps_fields_and_checks_the_password() {
        let p = PasswordPolicy::default();
        let r = RdsMasterRotator::new(LazyRds::from_env());
        let cur = SecretString::from(
            r#"{"engine":"mysql","host":"h","username":"admin","password":"CANARY-old","dbInstanceIdentifier":"db1","x":1}"#,
        );
        let out = r
            .create_pending(&ctx(&p), &cur, "NewPassw0rd-123".into())
            .unwrap();
        let v: serde_json::Value = serde_json::from_str(out.expose_secret()).unwrap();
        assert_eq!(v["password"], "NewPassw0rd-123");
        assert_eq!(v["dbInstanceIdentifier"], "db1");
        assert_eq!(v["x"], 1);
        for bad in [
            "has space CANARY-new",
            "a@CANARY-new",
            "short",
            &"a".repeat(42),
        ] {
            let err = r
                .create_pending(&ctx(&p), &cur, bad.to_owned().into())
                .unwrap_err()
                .to_string();
            assert!(!err.contains("CANARY") && !err.contains(bad), "{err}");
        }
        let no_id = SecretString::from(r#"{"host":"h","username":"u","password":"CANARY-old"}"#);
        let err = r
            .create_pending(&ctx(&p), &no_id, "NewPassw0rd-123".into())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(INSTANCE_FIELD) && !err.contains("CANARY"),
            "{err}"
        );
        assert!(
            !r.rds.is_initialized(),
            "createSecret never builds the RDS client"
        );
    }

    #[test]
    fn pending_must_name_the_same_target() {
        let j = |id: &str, user: &str| {
            Master::parse(
                &SecretJson::parse(
                    &format!(
                        r#"{{"host":"h","username":"{user}","password":"p","dbInstanceIdentifier":"{id}"}}"#
                    )
                    .into(),
                )
                .unwrap(),
            )
            .unwrap()
        };
        assert!(check_same(&j("a", "u"), &j("a", "u")).is_ok());
        assert!(check_same(&j("a", "u"), &j("b", "u")).is_err());
        assert!(check_same(&j("a", "u"), &j("a", "v")).is_err());
    }
}
