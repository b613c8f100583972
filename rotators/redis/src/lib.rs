//! Redis ACL rotator (redis crate), for self-hosted Redis and ElastiCache-
//! style secrets: `{"engine": "redis", "host", "port", "username",
//! "password", "ssl"}`.
//!
//! Single-user rotation is zero-downtime: a Redis ACL user holds several
//! passwords. setSecret adds the pending one next to the current one, and
//! removes the one under `AWSPREVIOUS` (current two rotations ago). So the
//! password that was current before stays valid for a whole rotation
//! interval after finishSecret: clients that cached it (the Secrets Manager
//! caching clients refresh hourly) are never cut off, and a user never holds
//! more than two passwords. Passwords travel as SHA-256 hashes (`#<hex>`,
//! `!<hex>`), so the plaintext is never part of a command.
//!
//! A secret with `masterarn` is rotated with alternating users: the master
//! login copies the current user's ACL rules to the alternate and sets its
//! password. It needs `+acl|setuser` and `+acl|list` (to read the rules);
//! Redis cannot restrict which users such a login may change.

use std::time::Duration;

use async_trait::async_trait;
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, ConnectionAddr, IntoConnectionInfo, RedisConnectionInfo};
use rotation_core::alternate::pending_db_value;
use rotation_core::{
    ExposeSecret, Rotator, RotatorError, SecretJson, SecretSource, SecretString, StepContext,
};
use tracing::{info, warn};

const TIMEOUT: Duration = Duration::from_secs(5);
pub use rotation_core::alternate::CLONE_SUFFIX;
/// A sane bound; Redis itself has none.
const MAX_USERNAME: usize = 256;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub host: String,
    pub port: u16,
    pub username: String,
    pub ssl: bool,
    pub masterarn: Option<String>,
}

impl Target {
    pub fn from_json(json: &SecretJson) -> Result<Self, RotatorError> {
        if let Some(engine) = json.str_field("engine")? {
            if !engine.eq_ignore_ascii_case("redis") {
                return Err(RotatorError::invalid(
                    "field 'engine' must be 'redis' for the Redis rotator",
                ));
            }
        }
        let username = json.str_field("username")?.unwrap_or("default").to_owned();
        check_username(&username)?;
        Ok(Self {
            host: json.required_str("host")?.to_owned(),
            port: json.port(6379)?,
            username,
            ssl: json.ssl()?.unwrap_or(false),
            masterarn: json.masterarn()?,
        })
    }

    pub fn endpoint(&self) -> String {
        format!("redis {}:{}", self.host, self.port)
    }

    pub fn same_server(&self, other: &Target) -> bool {
        self.host.eq_ignore_ascii_case(&other.host) && self.port == other.port
    }
}

fn check_username(name: &str) -> Result<(), RotatorError> {
    if name.is_empty() || name.len() > MAX_USERNAME {
        return Err(RotatorError::invalid(format!(
            "field 'username' must have 1 to {MAX_USERNAME} bytes"
        )));
    }
    if name.chars().any(|c| c.is_whitespace() || c == '\0') {
        return Err(RotatorError::invalid(
            "field 'username' contains whitespace or NUL, which Redis refuses",
        ));
    }
    Ok(())
}

pub struct Login {
    pub target: Target,
    pub password: SecretString,
}

impl Login {
    pub fn parse(raw: &SecretString) -> Result<Self, RotatorError> {
        let json = SecretJson::parse(raw)?;
        let password = json.password()?;
        if password.expose_secret().is_empty() {
            return Err(RotatorError::invalid("field 'password' is empty"));
        }
        Ok(Self {
            target: Target::from_json(&json)?,
            password,
        })
    }
}

pub fn alternate_username(user: &str) -> Result<String, RotatorError> {
    rotation_core::alternate::other_user(user, check_username)
}

/// The form Redis stores and accepts with `#` / `!`: lowercase hex SHA-256.
pub fn password_hash(password: &SecretString) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(password.expose_secret().as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[derive(Debug)]
pub enum LoginError {
    Auth,
    Unreachable(&'static str),
    Other(String),
}

impl LoginError {
    pub fn into_rotator(self, target: &Target, who: &str) -> RotatorError {
        match self {
            LoginError::Auth => RotatorError::AuthenticationFailed {
                target: target.endpoint(),
                reason: format!(
                    "the {who} credentials of user {} do not log in",
                    target.username
                ),
            },
            LoginError::Unreachable(why) => RotatorError::Unreachable {
                target: target.endpoint(),
                source: why.into(),
            },
            LoginError::Other(reason) => RotatorError::Target {
                target: target.endpoint(),
                reason,
            },
        }
    }
}

/// Redis error text can echo a command's arguments (`ACL SETUSER` modifiers
/// included), so only the error code leaves here.
fn code_of(e: &redis::RedisError) -> String {
    e.code()
        .filter(|c| c.len() <= 32 && c.chars().all(|c| c.is_ascii_alphanumeric()))
        .unwrap_or("unknown")
        .to_owned()
}

fn classify(e: redis::RedisError) -> LoginError {
    if e.kind() == redis::ErrorKind::AuthenticationFailed || e.code() == Some("WRONGPASS") {
        LoginError::Auth
    } else if e.is_timeout() {
        LoginError::Unreachable("timed out")
    } else if e.is_io_error() || e.is_connection_refusal() {
        LoginError::Unreachable("connection failed")
    } else {
        LoginError::Other(format!("login failed with error {}", code_of(&e)))
    }
}

pub async fn login(
    target: &Target,
    password: &SecretString,
) -> Result<MultiplexedConnection, LoginError> {
    let addr = if target.ssl {
        ConnectionAddr::TcpTls {
            host: target.host.clone(),
            port: target.port,
            insecure: false,
            tls_params: None,
        }
    } else {
        ConnectionAddr::Tcp(target.host.clone(), target.port)
    };
    let info = addr
        .into_connection_info()
        .map_err(|_| LoginError::Other("invalid address".to_owned()))?
        .set_redis_settings(
            RedisConnectionInfo::default()
                .set_username(&target.username)
                .set_password(password.expose_secret()),
        );
    let client =
        redis::Client::open(info).map_err(|_| LoginError::Other("invalid address".to_owned()))?;
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(TIMEOUT))
        .set_response_timeout(Some(TIMEOUT));
    let mut conn = client
        .get_multiplexed_async_connection_with_config(&config)
        .await
        .map_err(classify)?;
    // Some versions authenticate lazily; PING proves the login.
    redis::cmd("PING")
        .query_async::<()>(&mut conn)
        .await
        .map_err(classify)?;
    Ok(conn)
}

async fn run(
    conn: &mut MultiplexedConnection,
    target: &Target,
    what: &str,
    cmd: &redis::Cmd,
) -> Result<redis::Value, RotatorError> {
    cmd.query_async::<redis::Value>(conn)
        .await
        .map_err(|e| RotatorError::Target {
            target: target.endpoint(),
            reason: format!("{what} failed with error {}", code_of(&e)),
        })
}

/// `ACL SETUSER user #<pending> [!<previous>]`, never with plaintext.
fn setuser(user: &str, add: &str, remove: Option<&str>) -> redis::Cmd {
    let mut c = redis::cmd("ACL");
    c.arg("SETUSER").arg(user).arg(format!("#{add}"));
    if let Some(r) = remove {
        c.arg(format!("!{r}"));
    }
    c
}

/// The ACL rules of `user` from `ACL LIST`, without its passwords, each a
/// `ACL SETUSER` argument (selectors kept whole).
async fn rules_of(
    conn: &mut MultiplexedConnection,
    target: &Target,
    user: &str,
) -> Result<Option<Vec<String>>, RotatorError> {
    let lines: Vec<String> = redis::cmd("ACL")
        .arg("LIST")
        .query_async(conn)
        .await
        .map_err(|e| RotatorError::Target {
            target: target.endpoint(),
            reason: format!("ACL LIST failed with error {}", code_of(&e)),
        })?;
    let prefix = format!("user {user} ");
    Ok(lines
        .iter()
        .find(|l| l.starts_with(&prefix))
        .map(|l| parse_rules(&l[prefix.len()..])))
}

/// Splits an `ACL LIST` rule string, joining `( .. )` selectors and
/// dropping password rules.
pub fn parse_rules(rules: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut selector: Option<String> = None;
    for tok in rules.split(' ').filter(|t| !t.is_empty()) {
        if let Some(s) = selector.as_mut() {
            s.push(' ');
            s.push_str(tok);
            if tok.ends_with(')') {
                out.extend(selector.take());
            }
            continue;
        }
        if tok.starts_with('(') && !tok.ends_with(')') {
            selector = Some(tok.to_owned());
            continue;
        }
        let password_rule = matches!(tok.as_bytes().first(), Some(b'#' | b'>' | b'<' | b'!'))
            || tok == "nopass"
            || tok == "resetpass";
        if !password_rule {
            out.push(tok.to_owned());
        }
    }
    out.extend(selector);
    out
}

#[derive(Debug, Default, Clone, Copy)]
pub struct RedisRotator;

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
    if !current.same_server(pending) || current.masterarn != pending.masterarn {
        return Err(RotatorError::mismatch(
            "pending and current secrets name different hosts, ports or master secrets",
        ));
    }
    if pending.username != alternate_username(&current.username)? {
        return Err(RotatorError::mismatch(
            "the pending user is not the alternate of the current user",
        ));
    }
    Ok(())
}

async fn pending_works(pen: &Login) -> Result<bool, RotatorError> {
    match login(&pen.target, &pen.password).await {
        Ok(_) => Ok(true),
        Err(LoginError::Auth) => Ok(false),
        Err(e) => Err(e.into_rotator(&pen.target, "pending")),
    }
}

async fn master_login(
    others: &dyn SecretSource,
    current: &Target,
    pending: &Target,
) -> Result<MultiplexedConnection, RotatorError> {
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
    login(&master.target, &master.password)
        .await
        .map_err(|e| e.into_rotator(&master.target, "master"))
}

async fn set_single(
    ctx: &StepContext<'_>,
    cur: &Login,
    pen: &Login,
    others: &dyn SecretSource,
) -> Result<(), RotatorError> {
    check_single_user(&cur.target, &pen.target)?;
    let previous = match others.previous().await? {
        Some(p) => Login::parse(&p).ok().filter(|p| {
            p.target.same_server(&cur.target) && p.target.username == cur.target.username
        }),
        None => None,
    };
    let mut conn = match login(&cur.target, &cur.password).await {
        Ok(c) => c,
        Err(LoginError::Auth) => match &previous {
            Some(p) => login(&p.target, &p.password)
                .await
                .map_err(|e| e.into_rotator(&p.target, "current or previous"))?,
            None => return Err(LoginError::Auth.into_rotator(&cur.target, "current")),
        },
        Err(e) => return Err(e.into_rotator(&cur.target, "current")),
    };
    let add = password_hash(&pen.password);
    let cur_hash = password_hash(&cur.password);
    // The password current before this one has had a whole rotation
    // interval to be replaced in every client: it goes now.
    let remove = previous
        .as_ref()
        .map(|p| password_hash(&p.password))
        .filter(|h| *h != add && *h != cur_hash);
    let what = "ACL SETUSER";
    let user = &cur.target.username;
    match remove.as_deref() {
        Some(r) => {
            if run(&mut conn, &cur.target, what, &setuser(user, &add, Some(r)))
                .await
                .is_err()
            {
                // Most likely the previous password is already gone (a
                // repeated step): add the pending one alone.
                run(&mut conn, &cur.target, what, &setuser(user, &add, None)).await?;
            }
        }
        None => {
            run(&mut conn, &cur.target, what, &setuser(user, &add, None)).await?;
        }
    }
    info!(
        secret_id = ctx.secret_id,
        user = %user,
        removed_previous = remove.is_some(),
        "pending password added next to the current one"
    );
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
    login(&cur.target, &cur.password)
        .await
        .map_err(|e| e.into_rotator(&cur.target, "current"))?;
    let mut m = master_login(others, &cur.target, &pen.target).await?;
    let rules = rules_of(&mut m, &cur.target, &cur.target.username)
        .await?
        .ok_or_else(|| RotatorError::Target {
            target: cur.target.endpoint(),
            reason: format!("user {} is not in ACL LIST", cur.target.username),
        })?;
    // One atomic command: rules of the current user, the pending password
    // only (the alternate's old password was AWSPREVIOUS's).
    let mut cmd = redis::cmd("ACL");
    cmd.arg("SETUSER")
        .arg(&pen.target.username)
        // Not `reset`: it would also set `sanitize-payload`.
        .arg("resetpass")
        .arg("resetkeys")
        .arg("resetchannels")
        .arg("clearselectors")
        .arg("-@all");
    for r in &rules {
        cmd.arg(r);
    }
    cmd.arg(format!("#{}", password_hash(&pen.password)));
    run(&mut m, &pen.target, "ACL SETUSER", &cmd).await?;
    info!(secret_id = ctx.secret_id, user = %pen.target.username, rules = rules.len(), "alternate user ready");
    Ok(())
}

#[async_trait]
impl Rotator for RedisRotator {
    fn name(&self) -> &'static str {
        "redis"
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
        ctx: &StepContext<'_>,
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
        login(&pen.target, &pen.password)
            .await
            .map_err(|e| e.into_rotator(&pen.target, "pending"))?;
        if alternating {
            let mut m = master_login(others, &cur.target, &pen.target).await?;
            let want = rules_of(&mut m, &cur.target, &cur.target.username).await?;
            let have = rules_of(&mut m, &pen.target, &pen.target.username).await?;
            if want != have {
                warn!(
                    secret_id = ctx.secret_id,
                    "ACL rules of the alternate differ"
                );
                return Err(RotatorError::Target {
                    target: pen.target.endpoint(),
                    reason: format!(
                        "the ACL rules of user {} differ from those of user {}",
                        pen.target.username, cur.target.username
                    ),
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_hashes_and_names() {
        assert_eq!(
            parse_rules("on #abc sanitize-payload ~app:* resetchannels &n -@all +get (~x +set)"),
            vec![
                "on",
                "sanitize-payload",
                "~app:*",
                "resetchannels",
                "&n",
                "-@all",
                "+get",
                "(~x +set)"
            ]
        );
        assert_eq!(
            password_hash(&SecretString::from("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(alternate_username("app").unwrap(), "app_clone");
        assert_eq!(alternate_username("app_clone").unwrap(), "app");
        let err = Login::parse(&SecretString::from(
            r#"{"engine":"redis","host":"h","username":"a b","password":"CANARY"}"#,
        ))
        .err()
        .unwrap()
        .to_string();
        assert!(
            err.contains("whitespace") && !err.contains("CANARY"),
            "{err}"
        );
        let err = Login::parse(&SecretString::from(
            r#"{"engine":"mysql","host":"h","password":"CANARY"}"#,
        ))
        .err()
        .unwrap()
        .to_string();
        assert!(err.contains("engine"), "{err}");
        let l = Login::parse(&SecretString::from(
            r#"{"engine":"redis","host":"h","password":"p"}"#,
        ))
        .unwrap();
        assert_eq!(
            (l.target.port, l.target.username.as_str()),
            (6379, "default")
        );
    }

    #[test]
    fn setuser_carries_hashes_only() {
        let pw = SecretString::from("CANARY-redis");
        let c = setuser("u", &password_hash(&pw), Some("00"));
        let args: Vec<String> = c
            .args_iter()
            .map(|a| match a {
                redis::Arg::Simple(b) => String::from_utf8_lossy(b).into_owned(),
                _ => String::new(),
            })
            .collect();
        assert_eq!(args[..3], ["ACL", "SETUSER", "u"]);
        assert!(args[3].starts_with('#') && args[4] == "!00");
        assert!(!args.join(" ").contains("CANARY"));
    }
}
