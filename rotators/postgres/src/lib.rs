//! PostgreSQL rotator (tokio-postgres), compatible with AWS's
//! `SecretsManagerRDSPostgreSQLRotationSingleUser` template's secret JSON.
//!
//! The password is changed with a SCRAM-SHA-256 verifier computed on the
//! client, so the plaintext never reaches the server or its log. A secret
//! with `masterarn` is rotated with alternating users (module `alternating`).

mod alternating;
mod conn;
pub mod grants;
mod target;

use async_trait::async_trait;
use rotation_core::alternate::pending_db_value;
use rotation_core::{ExposeSecret, Rotator, RotatorError, SecretSource, SecretString, StepContext};
use tokio_postgres::error::SqlState;
use tracing::info;

pub use conn::{login, LoginError};
pub use target::{
    alternate_username, check_identifier, quote_ident, quote_literal, Login, Target, CLONE_SUFFIX,
    MAX_IDENTIFIER,
};

#[derive(Debug, Default, Clone, Copy)]
pub struct PostgresRotator;

/// Sets `user`'s password to `password` as a SCRAM verifier.
pub async fn set_password(
    admin: &tokio_postgres::Client,
    target: &Target,
    user: &str,
    password: &SecretString,
) -> Result<(), RotatorError> {
    let verifier = postgres_protocol::password::scram_sha_256(password.expose_secret().as_bytes());
    let sql = format!(
        "ALTER ROLE {} PASSWORD {}",
        quote_ident(user),
        quote_literal(&verifier)
    );
    admin.batch_execute(&sql).await.map_err(|e| {
        // Never echo the statement: report the SQLSTATE only.
        let code = e.code().cloned();
        let reason = match &code {
            Some(c) => format!("ALTER ROLE failed with SQLSTATE {}", c.code()),
            None => "connection lost during ALTER ROLE".to_owned(),
        };
        match code {
            Some(c) if c == SqlState::INVALID_PARAMETER_VALUE => RotatorError::PasswordRejected {
                target: target.endpoint(),
                reason,
            },
            _ => RotatorError::Target {
                target: target.endpoint(),
                reason,
            },
        }
    })
}

/// A harmless query proving a login works.
pub(crate) async fn test_query(
    client: &tokio_postgres::Client,
    target: &Target,
) -> Result<(), RotatorError> {
    client
        .simple_query("SELECT 1")
        .await
        .map_err(|e| RotatorError::Target {
            target: target.endpoint(),
            reason: format!(
                "test query failed{}",
                e.code()
                    .map(|c| format!(" with SQLSTATE {}", c.code()))
                    .unwrap_or_default()
            ),
        })?;
    Ok(())
}

fn check_single_user(current: &Target, pending: &Target) -> Result<(), RotatorError> {
    if !current.same_server(pending) {
        return Err(RotatorError::mismatch(
            "pending and current secrets name different hosts or ports",
        ));
    }
    if current.username != pending.username {
        return Err(RotatorError::mismatch(
            "pending and current secrets name different users",
        ));
    }
    if current.masterarn != pending.masterarn {
        return Err(RotatorError::mismatch(
            "pending and current secrets name different master secrets",
        ));
    }
    Ok(())
}

#[async_trait]
impl Rotator for PostgresRotator {
    fn name(&self) -> &'static str {
        "postgres"
    }

    fn create_pending(
        &self,
        _ctx: &StepContext<'_>,
        current: &SecretString,
        new_password: SecretString,
    ) -> Result<SecretString, RotatorError> {
        let login = Login::parse(current)?;
        let next_user = match login.target.masterarn {
            Some(_) => Some(alternate_username(&login.target.username)?),
            None => None,
        };
        pending_db_value(current, &new_password, next_user.as_deref())
    }

    async fn set(
        &self,
        ctx: &StepContext<'_>,
        current: &SecretString,
        pending: &SecretString,
        others: &dyn SecretSource,
    ) -> Result<(), RotatorError> {
        let cur = Login::parse(current)?;
        let pen = Login::parse(pending)?;
        if cur.target.masterarn.is_some() {
            return alternating::set(ctx, &cur, &pen, others).await;
        }
        check_single_user(&cur.target, &pen.target)?;

        match login(&pen.target, &pen.password).await {
            Ok(_) => {
                info!(
                    secret_id = ctx.secret_id,
                    "pending credentials already log in"
                );
                return Ok(());
            }
            Err(LoginError::Auth) => {}
            Err(e) => return Err(e.into_rotator(&pen.target, "pending")),
        }
        let admin = match login(&cur.target, &cur.password).await {
            Ok(c) => c,
            Err(LoginError::Auth) => {
                // A crash after an earlier set may have left the previous
                // password in force; try it before giving up.
                let prev = match others.previous().await? {
                    Some(p) => Login::parse(&p).ok().filter(|p| {
                        p.target.same_server(&cur.target)
                            && p.target.username == cur.target.username
                    }),
                    None => None,
                };
                match prev {
                    Some(p) => login(&p.target, &p.password)
                        .await
                        .map_err(|e| e.into_rotator(&p.target, "current or previous"))?,
                    None => {
                        return Err(LoginError::Auth.into_rotator(&cur.target, "current"));
                    }
                }
            }
            Err(e) => return Err(e.into_rotator(&cur.target, "current")),
        };
        set_password(&admin, &pen.target, &pen.target.username, &pen.password).await?;
        info!(secret_id = ctx.secret_id, user = %pen.target.username, "password set with a SCRAM verifier");
        Ok(())
    }

    async fn test(
        &self,
        _ctx: &StepContext<'_>,
        current: &SecretString,
        pending: &SecretString,
        _others: &dyn SecretSource,
    ) -> Result<(), RotatorError> {
        let cur = Login::parse(current)?;
        let pen = Login::parse(pending)?;
        if cur.target.masterarn.is_some() {
            return alternating::test(&cur, &pen).await;
        }
        check_single_user(&cur.target, &pen.target)?;
        let client = login(&pen.target, &pen.password)
            .await
            .map_err(|e| e.into_rotator(&pen.target, "pending"))?;
        test_query(&client, &pen.target).await
    }
}
