//! Alternating users: the secret switches between `<user>` and
//! `<user>_clone`; a master login (the secret named by `masterarn`) creates
//! the alternate, copies the rights and sets its password. The user that was
//! current keeps its password, so it still logs in after finishSecret.

use rotation_core::{RotatorError, SecretSource, StepContext};
use tokio_postgres::Client;
use tracing::info;

use crate::conn::{login, LoginError};
use crate::grants::{copy_rights, describe_missing, missing, rights};
use crate::target::{alternate_username, Login, Target};
use crate::{set_password, test_query};

/// Pending must be current's alternate on the same server and database,
/// with the same master.
pub(crate) fn check_pair(current: &Target, pending: &Target) -> Result<(), RotatorError> {
    if !current.same_server(pending) || current.dbname != pending.dbname {
        return Err(RotatorError::mismatch(
            "pending and current secrets name different hosts, ports or databases",
        ));
    }
    if current.masterarn != pending.masterarn {
        return Err(RotatorError::mismatch(
            "pending and current secrets name different master secrets",
        ));
    }
    if pending.username != alternate_username(&current.username)? {
        return Err(RotatorError::mismatch(
            "the pending user is not the alternate of the current user",
        ));
    }
    Ok(())
}

/// Reads and checks the master secret, then logs in with it to the
/// current secret's database.
async fn master_login(
    others: &dyn SecretSource,
    current: &Target,
    pending: &Target,
) -> Result<Client, RotatorError> {
    let arn = current
        .masterarn
        .as_deref()
        .ok_or_else(|| RotatorError::invalid("field 'masterarn' is missing"))?;
    let raw = others.other(arn).await?;
    let master = Login::parse(&raw).map_err(|e| match e {
        RotatorError::InvalidSecret { reason } => {
            RotatorError::invalid(format!("the master secret {arn}: {reason}"))
        }
        other => other,
    })?;
    if !master.target.same_server(current) {
        return Err(RotatorError::mismatch(format!(
            "the master secret {arn} names a different host or port than the secret"
        )));
    }
    if master.target.username == current.username || master.target.username == pending.username {
        return Err(RotatorError::mismatch(format!(
            "the master secret {arn} names the rotated user itself"
        )));
    }
    let target = Target {
        dbname: current.dbname.clone(),
        ..master.target
    };
    login(&target, &master.password)
        .await
        .map_err(|e| e.into_rotator(&target, "master"))
}

pub(crate) async fn set(
    ctx: &StepContext<'_>,
    cur: &Login,
    pen: &Login,
    others: &dyn SecretSource,
) -> Result<(), RotatorError> {
    check_pair(&cur.target, &pen.target)?;
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
    // Confused-deputy check: the secret must hold working credentials of
    // the user it claims before the master acts on its behalf.
    login(&cur.target, &cur.password)
        .await
        .map_err(|e| e.into_rotator(&cur.target, "current"))?;
    let master = master_login(others, &cur.target, &pen.target).await?;
    let changes = copy_rights(
        &master,
        &pen.target,
        &cur.target.username,
        &pen.target.username,
    )
    .await?;
    set_password(&master, &pen.target, &pen.target.username, &pen.password).await?;
    info!(
        secret_id = ctx.secret_id,
        user = %pen.target.username,
        from = %cur.target.username,
        rights_statements = changes,
        "alternate user ready; password set with a SCRAM verifier"
    );
    Ok(())
}

pub(crate) async fn test(cur: &Login, pen: &Login) -> Result<(), RotatorError> {
    check_pair(&cur.target, &pen.target)?;
    let client = login(&pen.target, &pen.password)
        .await
        .map_err(|e| e.into_rotator(&pen.target, "pending"))?;
    test_query(&client, &pen.target).await?;
    let from = rights(&client, &pen.target, &cur.target.username).await?;
    let to = rights(&client, &pen.target, &pen.target.username).await?;
    if !missing(&from, &cur.target.username, &to, &pen.target.username).is_empty() {
        return Err(RotatorError::Target {
            target: pen.target.endpoint(),
            reason: describe_missing(&from, &cur.target.username, &to, &pen.target.username),
        });
    }
    Ok(())
}
