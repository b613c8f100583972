//! Logging in to PostgreSQL: TLS policy, timeouts, error classification.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use rotation_core::{ExposeSecret, RotatorError, SecretString};
use tokio_postgres::config::SslMode;
use tokio_postgres::error::SqlState;
use tokio_postgres::Client;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::target::Target;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a login failed.
#[derive(Debug)]
pub enum LoginError {
    /// The server refused the credentials.
    Auth,
    /// The server could not be reached, or TLS failed.
    Unreachable(tokio_postgres::Error),
    /// Anything else (unknown database, too many connections, ...).
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
            LoginError::Unreachable(e) => RotatorError::Unreachable {
                target: target.endpoint(),
                source: Box::new(e),
            },
            LoginError::Other(reason) => RotatorError::Target {
                target: target.endpoint(),
                reason,
            },
        }
    }
}

/// The rustls configuration, built on first TLS use: native roots plus the
/// PEM bundle named by `DB_CA_BUNDLE` (e.g. the RDS CA bundle). `None` when
/// rustls refuses the configuration; TLS logins then fail cleanly.
fn tls() -> Option<&'static MakeRustlsConnect> {
    static TLS: OnceLock<Option<MakeRustlsConnect>> = OnceLock::new();
    TLS.get_or_init(|| {
        let mut roots = rustls::RootCertStore::empty();
        roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
        if let Some(path) = std::env::var_os("DB_CA_BUNDLE") {
            match std::fs::File::open(&path) {
                Ok(f) => {
                    let mut reader = std::io::BufReader::new(f);
                    let certs = rustls_pemfile::certs(&mut reader).filter_map(Result::ok);
                    roots.add_parsable_certificates(certs);
                }
                Err(e) => tracing::warn!(error = %e, "cannot read DB_CA_BUNDLE"),
            }
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map(|b| MakeRustlsConnect::new(b.with_root_certificates(roots).with_no_client_auth()))
            .ok()
    })
    .as_ref()
}

fn classify(e: tokio_postgres::Error) -> LoginError {
    match e.code() {
        Some(c)
            if *c == SqlState::INVALID_PASSWORD
                || *c == SqlState::INVALID_AUTHORIZATION_SPECIFICATION =>
        {
            LoginError::Auth
        }
        Some(c) => LoginError::Other(format!("login failed with SQLSTATE {}", c.code())),
        None => LoginError::Unreachable(e),
    }
}

async fn attempt(
    target: &Target,
    password: &SecretString,
    mode: SslMode,
) -> Result<Client, LoginError> {
    let mut cfg = tokio_postgres::Config::new();
    cfg.host(&target.host)
        .port(target.port)
        .user(&target.username)
        .password(password.expose_secret().as_bytes())
        .dbname(&target.dbname)
        .application_name("secrets-rotation")
        .connect_timeout(CONNECT_TIMEOUT)
        .ssl_mode(mode);
    let (client, connection) = match mode {
        SslMode::Disable => {
            let (c, conn) = cfg.connect(tokio_postgres::NoTls).await.map_err(classify)?;
            tokio::spawn(async move {
                let _ = conn.await;
            });
            return Ok(c);
        }
        _ => {
            let tls = tls().ok_or_else(|| LoginError::Other("TLS is not available".to_owned()))?;
            cfg.connect(tls.clone()).await.map_err(classify)?
        }
    };
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

/// Logs in as `target.username` with `password`, honouring the secret's `ssl`.
pub async fn login(target: &Target, password: &SecretString) -> Result<Client, LoginError> {
    match target.ssl {
        Some(true) => attempt(target, password, SslMode::Require).await,
        Some(false) => attempt(target, password, SslMode::Disable).await,
        None => match attempt(target, password, SslMode::Prefer).await {
            // TLS was offered but failed (e.g. an unknown CA): fall back to
            // plain, as the secret did not ask for TLS.
            Err(LoginError::Unreachable(_)) => attempt(target, password, SslMode::Disable).await,
            other => other,
        },
    }
}
