//! MySQL / MariaDB rotator (mysql_async), compatible with AWS's
//! `SecretsManagerRDSMySQLRotationSingleUser` / `MultiUser` secret JSON.
//!
//! Passwords of `mysql_native_password` accounts are sent as their `*HEX`
//! hash, so the plaintext reaches no server log. MySQL 8 single-user
//! rotation keeps the old password as secondary (`RETAIN CURRENT PASSWORD`)
//! until finishSecret, then discards it; MariaDB cannot, and says so in the
//! log. A secret with `masterarn` is rotated with alternating users whose
//! grants are copied from `SHOW GRANTS`.

mod account;
mod conn;
mod target;

use async_trait::async_trait;
use mysql_async::prelude::Queryable;
use mysql_async::Conn;
use rotation_core::alternate::pending_db_value;
use rotation_core::{Rotator, RotatorError, SecretJson, SecretSource, SecretString, StepContext};
use tracing::{info, warn};

pub use account::{parse_plugin, password_sql, rewrite_grant, Actor, Plugin};
pub use conn::{login, session, LoginError, Session};
pub use target::{
    account, alternate_username, native_password_hash, quote_ident, Login, Target, CLONE_SUFFIX,
};

#[derive(Debug, Default, Clone, Copy)]
pub struct MysqlRotator;

fn check_single_user(current: &Target, pending: &Target) -> Result<(), RotatorError> {
    if !current.same_server(pending) {
        return Err(RotatorError::mismatch(
            "pending and current secrets name different hosts or ports",
        ));
    }
    if current.username != pending.username || current.masterarn != pending.masterarn {
        return Err(RotatorError::mismatch(
            "pending and current secrets name different users or master secrets",
        ));
    }
    Ok(())
}

fn check_pair(current: &Target, pending: &Target) -> Result<(), RotatorError> {
    if !current.same_server(pending) {
        return Err(RotatorError::mismatch(
            "pending and current secrets name different hosts or ports",
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

/// Whether the pending credentials already log in (a crash after set).
async fn pending_works(pen: &Login) -> Result<bool, RotatorError> {
    match login(&pen.target, &pen.password).await {
        Ok(c) => {
            let _ = c.disconnect().await;
            Ok(true)
        }
        Err(LoginError::Auth) => Ok(false),
        Err(e) => Err(e.into_rotator(&pen.target, "pending")),
    }
}

async fn plugin_of(
    conn: &mut Conn,
    target: &Target,
    user: &str,
    host: &str,
) -> Result<Plugin, RotatorError> {
    let rows = conn::text_rows(
        conn,
        target,
        "SHOW CREATE USER",
        &format!("SHOW CREATE USER {}", account(user, host)),
    )
    .await?;
    Ok(rows
        .first()
        .map(|r| parse_plugin(r, user, host))
        .unwrap_or(Plugin::Other("none".to_owned())))
}

async fn exec(conn: &mut Conn, target: &Target, what: &str, sql: &str) -> Result<(), RotatorError> {
    conn.query_drop(sql)
        .await
        .map_err(|e| conn::statement_error(target, what, e))
}

/// The grants of `user@host` rewritten for a neutral grantee, to compare.
async fn grant_set(
    conn: &mut Conn,
    target: &Target,
    user: &str,
    host: &str,
) -> Result<std::collections::BTreeSet<String>, RotatorError> {
    let rows = conn::text_rows(
        conn,
        target,
        "SHOW GRANTS",
        &format!("SHOW GRANTS FOR {}", account(user, host)),
    )
    .await?;
    Ok(rows
        .iter()
        .filter_map(|r| rewrite_grant(r, user, "\u{1}grantee", host))
        .collect())
}

async fn master_login(
    others: &dyn SecretSource,
    current: &Target,
    pending: &Target,
) -> Result<(Conn, Target), RotatorError> {
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
    let conn = login(&master.target, &master.password)
        .await
        .map_err(|e| e.into_rotator(&master.target, "master"))?;
    Ok((conn, master.target))
}

async fn set_single(
    ctx: &StepContext<'_>,
    cur: &Login,
    pen: &Login,
    others: &dyn SecretSource,
) -> Result<(), RotatorError> {
    check_single_user(&cur.target, &pen.target)?;
    if pending_works(pen).await? {
        info!(
            secret_id = ctx.secret_id,
            "pending credentials already log in"
        );
        return Ok(());
    }
    let mut conn = match login(&cur.target, &cur.password).await {
        Ok(c) => c,
        Err(LoginError::Auth) => {
            let prev = match others.previous().await? {
                Some(p) => Login::parse(&p).ok().filter(|p| {
                    p.target.same_server(&cur.target) && p.target.username == cur.target.username
                }),
                None => None,
            };
            match prev {
                Some(p) => login(&p.target, &p.password)
                    .await
                    .map_err(|e| e.into_rotator(&p.target, "current or previous"))?,
                None => return Err(LoginError::Auth.into_rotator(&cur.target, "current")),
            }
        }
        Err(e) => return Err(e.into_rotator(&cur.target, "current")),
    };
    let s = session(&mut conn, &cur.target).await?;
    let plugin = plugin_of(&mut conn, &cur.target, &s.user, &s.host).await?;
    let retain = s.dual_passwords();
    let sql = password_sql(
        &s,
        &plugin,
        &s.user,
        &s.host,
        &pen.password,
        Actor::Own { retain },
        &pen.target,
    )?;
    match conn.query_drop(&sql).await {
        Ok(()) => {}
        // ER_SPECIFIC_ACCESS_DENIED: RETAIN needs APPLICATION_PASSWORD_ADMIN.
        Err(mysql_async::Error::Server(e)) if retain && e.code == 1227 => {
            warn!(
                secret_id = ctx.secret_id,
                event = "dual_password_unavailable",
                "the user may not retain its current password; changing it outright"
            );
            let sql = password_sql(
                &s,
                &plugin,
                &s.user,
                &s.host,
                &pen.password,
                Actor::Own { retain: false },
                &pen.target,
            )?;
            exec(&mut conn, &pen.target, "ALTER USER", &sql).await?;
        }
        Err(e) => return Err(conn::statement_error(&pen.target, "ALTER USER", e)),
    }
    if !retain {
        warn!(
            secret_id = ctx.secret_id,
            event = "dual_password_unsupported",
            mariadb = s.mariadb,
            "the server cannot keep the old password as secondary; it stopped working now"
        );
    }
    let _ = conn.disconnect().await;
    info!(secret_id = ctx.secret_id, user = %s.user, host = %s.host, retained = retain, hashed = matches!(plugin, Plugin::Native), "password changed");
    Ok(())
}

async fn set_alternating(
    ctx: &StepContext<'_>,
    cur: &Login,
    pen: &Login,
    others: &dyn SecretSource,
) -> Result<(), RotatorError> {
    check_pair(&cur.target, &pen.target)?;
    if pending_works(pen).await? {
        info!(
            secret_id = ctx.secret_id,
            "pending credentials already log in"
        );
        return Ok(());
    }
    // Confused-deputy check: the current credentials must log in, and the
    // account the server matched gives the host part for the alternate.
    let mut cur_conn = login(&cur.target, &cur.password)
        .await
        .map_err(|e| e.into_rotator(&cur.target, "current"))?;
    let cs = session(&mut cur_conn, &cur.target).await?;
    let _ = cur_conn.disconnect().await;
    let (mut m, _) = master_login(others, &cur.target, &pen.target).await?;
    let ms = session(&mut m, &cur.target).await?;
    let host = cs.host.clone();
    let plugin = plugin_of(&mut m, &cur.target, &cs.user, &host).await?;
    // Refuse a plugin we cannot set before creating anything.
    password_sql(
        &ms,
        &plugin,
        &pen.target.username,
        &host,
        &pen.password,
        Actor::Master,
        &pen.target,
    )?;
    exec(
        &mut m,
        &pen.target,
        "CREATE USER",
        &account::create_locked_sql(&pen.target.username, &host),
    )
    .await?;
    let rows = conn::text_rows(
        &mut m,
        &cur.target,
        "SHOW GRANTS",
        &format!("SHOW GRANTS FOR {}", account(&cs.user, &host)),
    )
    .await?;
    let mut replayed = 0usize;
    for (i, row) in rows.iter().enumerate() {
        let Some(sql) = rewrite_grant(row, &cs.user, &pen.target.username, &host) else {
            warn!(
                secret_id = ctx.secret_id,
                grant = i,
                "a SHOW GRANTS row has an unexpected shape; not copied"
            );
            continue;
        };
        exec(
            &mut m,
            &pen.target,
            &format!("replaying grant {} of {}", i + 1, rows.len()),
            &sql,
        )
        .await?;
        replayed += 1;
    }
    let sql = password_sql(
        &ms,
        &plugin,
        &pen.target.username,
        &host,
        &pen.password,
        Actor::Master,
        &pen.target,
    )?;
    exec(&mut m, &pen.target, "ALTER USER", &sql).await?;
    let _ = m.disconnect().await;
    info!(secret_id = ctx.secret_id, user = %pen.target.username, host = %host, grants = replayed, "alternate user ready");
    Ok(())
}

#[async_trait]
impl Rotator for MysqlRotator {
    fn name(&self) -> &'static str {
        "mysql"
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
            set_alternating(ctx, &cur, &pen, others).await
        } else {
            set_single(ctx, &cur, &pen, others).await
        }
    }

    async fn test(
        &self,
        _ctx: &StepContext<'_>,
        current: &SecretString,
        pending: &SecretString,
        others: &dyn SecretSource,
    ) -> Result<(), RotatorError> {
        let cur = Login::parse(current)?;
        let pen = Login::parse(pending)?;
        let alternating = cur.target.masterarn.is_some();
        if alternating {
            check_pair(&cur.target, &pen.target)?;
        } else {
            check_single_user(&cur.target, &pen.target)?;
        }
        let mut conn = login(&pen.target, &pen.password)
            .await
            .map_err(|e| e.into_rotator(&pen.target, "pending"))?;
        exec(&mut conn, &pen.target, "the test query", "SELECT 1").await?;
        let ps = session(&mut conn, &pen.target).await?;
        let _ = conn.disconnect().await;
        if alternating {
            // The alternate must hold every grant of the current user.
            let (mut m, _) = master_login(others, &cur.target, &pen.target).await?;
            let want = grant_set(&mut m, &cur.target, &cur.target.username, &ps.host).await?;
            let have = grant_set(&mut m, &pen.target, &pen.target.username, &ps.host).await?;
            let _ = m.disconnect().await;
            let lacking = want.difference(&have).count();
            if lacking > 0 {
                return Err(RotatorError::Target {
                    target: pen.target.endpoint(),
                    reason: format!(
                        "user {} lacks {lacking} grants of user {}",
                        pen.target.username, cur.target.username
                    ),
                });
            }
        }
        Ok(())
    }

    /// MySQL 8 single-user: the old password was retained as secondary so
    /// that clients kept working until now; discard it. Failure is logged,
    /// not fatal: the labels have moved, and the next rotation's `RETAIN`
    /// replaces the secondary anyway.
    async fn after_finish(
        &self,
        ctx: &StepContext<'_>,
        new_current: &SecretString,
        _others: &dyn SecretSource,
    ) -> Result<(), RotatorError> {
        let cur = Login::parse(new_current)?;
        if cur.target.masterarn.is_some() {
            return Ok(());
        }
        let json = SecretJson::parse(new_current)?;
        if json.str_field("engine")? == Some("mariadb") {
            return Ok(());
        }
        let mut conn = match login(&cur.target, &cur.password).await {
            Ok(c) => c,
            Err(_) => {
                warn!(
                    secret_id = ctx.secret_id,
                    event = "discard_old_password_failed",
                    "cannot log in to discard the old password"
                );
                return Ok(());
            }
        };
        let s = session(&mut conn, &cur.target).await?;
        if s.dual_passwords() {
            let sql = format!(
                "ALTER USER {} DISCARD OLD PASSWORD",
                account(&s.user, &s.host)
            );
            match conn.query_drop(&sql).await {
                Ok(()) => info!(secret_id = ctx.secret_id, "old password discarded"),
                Err(_) => warn!(
                    secret_id = ctx.secret_id,
                    event = "discard_old_password_failed",
                    "DISCARD OLD PASSWORD failed; the next rotation replaces it"
                ),
            }
        }
        let _ = conn.disconnect().await;
        Ok(())
    }
}
