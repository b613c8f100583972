//! Logging in (mysql_async, rustls), session facts, and error translation.
//!
//! Server error messages may quote the statement (a syntax error echoes the
//! text near it, credentials included), so only the error code and SQLSTATE
//! ever leave this module.

use std::time::Duration;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, OptsBuilder, Row, SslOpts};
use rotation_core::{ExposeSecret, RotatorError, SecretString};

use crate::target::Target;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Server error codes that mean "these credentials do not log in".
const AUTH_CODES: [u16; 4] = [1045, 1698, 3118, 4151];

#[derive(Debug)]
pub enum LoginError {
    Auth,
    Unreachable(String),
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
            LoginError::Unreachable(reason) => RotatorError::Unreachable {
                target: target.endpoint(),
                source: reason.into(),
            },
            LoginError::Other(reason) => RotatorError::Target {
                target: target.endpoint(),
                reason,
            },
        }
    }
}

fn classify_login(e: mysql_async::Error) -> LoginError {
    match e {
        mysql_async::Error::Server(s) if AUTH_CODES.contains(&s.code) => LoginError::Auth,
        mysql_async::Error::Server(s) => LoginError::Other(format!(
            "login failed with error {} (SQLSTATE {})",
            s.code, s.state
        )),
        mysql_async::Error::Io(_) => LoginError::Unreachable("connection failed".to_owned()),
        mysql_async::Error::Driver(_) => {
            LoginError::Unreachable("protocol or TLS failure".to_owned())
        }
        _ => LoginError::Other("login failed".to_owned()),
    }
}

async fn attempt(target: &Target, password: &SecretString, tls: bool) -> Result<Conn, LoginError> {
    let mut opts = OptsBuilder::default()
        .ip_or_hostname(target.host.clone())
        .tcp_port(target.port)
        .user(Some(target.username.clone()))
        .pass(Some(password.expose_secret().to_owned()))
        .db_name(target.dbname.clone())
        .prefer_socket(false)
        .stmt_cache_size(0);
    if tls {
        let mut ssl = SslOpts::default();
        if let Some(path) = std::env::var_os("DB_CA_BUNDLE") {
            ssl = ssl.with_root_certs(vec![std::path::PathBuf::from(path).into()]);
        }
        opts = opts.ssl_opts(ssl);
    }
    match tokio::time::timeout(CONNECT_TIMEOUT, Conn::new(opts)).await {
        Ok(r) => r.map_err(classify_login),
        Err(_) => Err(LoginError::Unreachable("connect timed out".to_owned())),
    }
}

/// Logs in as `target.username`, honouring the secret's `ssl` (absent: try
/// TLS, fall back to plain, as AWS's templates do).
pub async fn login(target: &Target, password: &SecretString) -> Result<Conn, LoginError> {
    match target.ssl {
        Some(tls) => attempt(target, password, tls).await,
        None => match attempt(target, password, true).await {
            Err(LoginError::Unreachable(_)) => attempt(target, password, false).await,
            other => other,
        },
    }
}

/// A statement failure as a value-free error: code and SQLSTATE only.
pub(crate) fn statement_error(target: &Target, what: &str, e: mysql_async::Error) -> RotatorError {
    match e {
        // Password policy (validate_password / simple_password_check) and
        // MySQL's password history: a new password will do.
        mysql_async::Error::Server(s) if matches!(s.code, 1819 | 3638) => {
            RotatorError::PasswordRejected {
                target: target.endpoint(),
                reason: format!("{what} failed with error {} (SQLSTATE {})", s.code, s.state),
            }
        }
        mysql_async::Error::Server(s) => RotatorError::Target {
            target: target.endpoint(),
            reason: format!("{what} failed with error {} (SQLSTATE {})", s.code, s.state),
        },
        _ => RotatorError::Unreachable {
            target: target.endpoint(),
            source: format!("connection lost during {what}").into(),
        },
    }
}

/// What the server is and who we are on it.
#[derive(Debug, Clone)]
pub struct Session {
    pub mariadb: bool,
    pub version: (u16, u16, u16),
    /// The account the server matched: `CURRENT_USER()` split at its last `@`.
    pub user: String,
    pub host: String,
    pub no_backslash_escapes: bool,
}

impl Session {
    /// `RETAIN CURRENT PASSWORD` exists from MySQL 8.0.14; never in MariaDB.
    pub fn dual_passwords(&self) -> bool {
        !self.mariadb && self.version >= (8, 0, 14)
    }
}

fn text(row: &Row, i: usize) -> String {
    row.get_opt::<Vec<u8>, usize>(i)
        .and_then(Result::ok)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

pub async fn session(conn: &mut Conn, target: &Target) -> Result<Session, RotatorError> {
    let row: Option<Row> = conn
        .query_first("SELECT VERSION(), CURRENT_USER(), @@SESSION.sql_mode")
        .await
        .map_err(|e| statement_error(target, "reading the session", e))?;
    let row = row.ok_or_else(|| RotatorError::Target {
        target: target.endpoint(),
        reason: "the session query returned nothing".to_owned(),
    })?;
    let version = text(&row, 0);
    let current = text(&row, 1);
    let (user, host) = current
        .rsplit_once('@')
        .map(|(u, h)| (u.to_owned(), h.to_owned()))
        .unwrap_or((current.clone(), "%".to_owned()));
    Ok(Session {
        mariadb: version.to_ascii_lowercase().contains("mariadb"),
        version: conn.server_version(),
        user,
        host,
        no_backslash_escapes: text(&row, 2).contains("NO_BACKSLASH_ESCAPES"),
    })
}

/// All text rows of a one-column statement (SHOW GRANTS, SHOW CREATE USER).
pub(crate) async fn text_rows(
    conn: &mut Conn,
    target: &Target,
    what: &str,
    sql: &str,
) -> Result<Vec<String>, RotatorError> {
    let rows: Vec<Row> = conn
        .query(sql)
        .await
        .map_err(|e| statement_error(target, what, e))?;
    Ok(rows.iter().map(|r| text(r, 0)).collect())
}
