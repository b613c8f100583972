//! Shared test support: the services started by `scripts/services.sh`, the
//! real `rotation-lambda` binary under a Runtime API, and PostgreSQL helpers.
//! Each test file uses a part of it.
#![allow(dead_code, clippy::unwrap_used, clippy::panic, unreachable_pub)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use aws_sdk_secretsmanager::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_secretsmanager::types::Tag;
use aws_sdk_secretsmanager::Client;
use secrets_rotation::local::begin_rotation;
use secrets_rotation::runtime_api::{FunctionError, FunctionProcess, RuntimeApi};
use serde_json::{json, Value};

pub const FAKE_LAMBDA_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:rotation-lambda";

/// A variable written by `scripts/services.sh` into `.run/env`.
pub fn service_env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: run the tests through scripts/test.sh, which starts the services"
        )
    })
}

pub fn aws_endpoint() -> String {
    service_env("SRS_AWS_ENDPOINT")
}

/// A unique, lowercase suffix for names.
pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}_{}",
        uuid::Uuid::new_v4().simple().to_string().get(..12).unwrap()
    )
}

pub fn token() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A Secrets Manager client for the emulator.
pub fn sm_client() -> Client {
    let conf = aws_sdk_secretsmanager::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "tests"))
        .endpoint_url(aws_endpoint())
        .build();
    Client::from_conf(conf)
}

/// The environment a function process gets: the emulator, test credentials.
pub fn lambda_env() -> Vec<(String, String)> {
    [
        ("AWS_ENDPOINT_URL", aws_endpoint()),
        ("AWS_REGION", "us-east-1".to_owned()),
        ("AWS_ACCESS_KEY_ID", "testing".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "testing".to_owned()),
        ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
        ("RUST_LOG", "info".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

pub fn lambda_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_rotation-lambda"))
}

/// The real rotation binary, running under a Runtime API on loopback.
pub struct Lambda {
    pub api: RuntimeApi,
    pub process: FunctionProcess,
}

impl Lambda {
    pub async fn start() -> Self {
        Self::start_with(&[]).await
    }

    pub async fn start_with(extra: &[(&str, &str)]) -> Self {
        let api = RuntimeApi::start().await.unwrap();
        let mut env = lambda_env();
        env.extend(
            extra
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        let process = FunctionProcess::spawn(&lambda_binary(), &api, &env).unwrap();
        Self { api, process }
    }

    pub async fn invoke(&self, event: Value) -> Result<Value, FunctionError> {
        self.api.invoke(event, Duration::from_secs(60)).await
    }

    pub async fn step(
        &self,
        secret: &str,
        token: &str,
        step: &str,
    ) -> Result<Value, FunctionError> {
        self.invoke(json!({"SecretId": secret, "ClientRequestToken": token, "Step": step}))
            .await
    }

    /// The four steps in order, stopping at the first failure.
    pub async fn rotate(&self, secret: &str, token: &str) -> Result<(), FunctionError> {
        for s in ["createSecret", "setSecret", "testSecret", "finishSecret"] {
            self.step(secret, token, s).await?;
        }
        Ok(())
    }

    pub fn log(&self) -> String {
        self.process.log()
    }
}

/// A crash and Secrets Manager's retry: runs `steps` in one process, kills
/// it (SIGKILL), then runs the whole sequence with the same token twice in a
/// fresh process (the retry, and a retry of the retry).
pub async fn crash_then_rerun(arn: &str, token: &str, steps: &[&str]) {
    let mut first = Lambda::start().await;
    for step in steps {
        first.step(arn, token, step).await.unwrap();
    }
    first.process.kill().await;
    drop(first);
    let second = Lambda::start().await;
    second.rotate(arn, token).await.unwrap();
    second.rotate(arn, token).await.unwrap();
}

/// CreateSecret on the emulator; returns the ARN.
pub async fn create_secret(name: &str, value: &str, tags: &[(&str, &str)]) -> String {
    let mut req = sm_client().create_secret().name(name).secret_string(value);
    for (k, v) in tags {
        req = req.tags(Tag::builder().key(*k).value(*v).build());
    }
    req.send().await.unwrap().arn().unwrap().to_owned()
}

/// Secrets Manager's part of RotateSecret: version `token` with AWSPENDING
/// and no value (the emulator cannot run the function itself).
pub async fn begin(arn: &str, token: &str) {
    begin_rotation(&sm_client(), arn, token, FAKE_LAMBDA_ARN)
        .await
        .unwrap();
}

/// VersionId -> labels.
pub async fn labels(arn: &str) -> BTreeMap<String, Vec<String>> {
    let out = sm_client()
        .describe_secret()
        .secret_id(arn)
        .send()
        .await
        .unwrap();
    out.version_ids_to_stages()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

pub fn holder(labels: &BTreeMap<String, Vec<String>>, stage: &str) -> Option<String> {
    labels
        .iter()
        .find(|(_, s)| s.iter().any(|x| x == stage))
        .map(|(v, _)| v.clone())
}

pub async fn value(arn: &str, stage: &str) -> String {
    sm_client()
        .get_secret_value()
        .secret_id(arn)
        .version_stage(stage)
        .send()
        .await
        .unwrap()
        .secret_string()
        .unwrap()
        .to_owned()
}

/// After a finished rotation: `token` holds AWSCURRENT, `old` AWSPREVIOUS,
/// and no version holds AWSPENDING.
pub async fn assert_rotated(arn: &str, token: &str, old: &str) {
    let l = labels(arn).await;
    assert_eq!(holder(&l, "AWSCURRENT").as_deref(), Some(token), "{l:?}");
    assert_eq!(holder(&l, "AWSPREVIOUS").as_deref(), Some(old), "{l:?}");
    assert_eq!(holder(&l, "AWSPENDING"), None, "stray AWSPENDING: {l:?}");
}

pub mod pg {
    use super::*;
    use tokio_postgres::{Client as PgClient, NoTls};

    pub fn port() -> u16 {
        service_env("SRS_PG_PORT").parse().unwrap()
    }

    /// Superuser over the cluster's socket (trust there; TCP needs SCRAM).
    pub async fn admin() -> PgClient {
        let mut cfg = tokio_postgres::Config::new();
        cfg.host_path(service_env("SRS_PG_SOCKET_DIR"))
            .port(port())
            .user("postgres")
            .dbname("postgres");
        let (client, conn) = cfg.connect(NoTls).await.unwrap();
        tokio::spawn(conn);
        client
    }

    pub fn quote(name: &str) -> String {
        format!("\"{}\"", name.replace('"', "\"\""))
    }

    /// A LOGIN role whose password is set as a SCRAM verifier, so that not
    /// even the test's own plaintext reaches the server log.
    pub async fn create_role(name: &str, password: &str) {
        let verifier = postgres_protocol::password::scram_sha_256(password.as_bytes());
        admin()
            .await
            .batch_execute(&format!(
                "CREATE ROLE {} LOGIN PASSWORD '{verifier}'",
                quote(name)
            ))
            .await
            .unwrap();
    }

    /// Whether `user`/`password` log in over TCP with SCRAM.
    pub async fn can_login(user: &str, password: &str) -> bool {
        let mut cfg = tokio_postgres::Config::new();
        cfg.host("127.0.0.1")
            .port(port())
            .user(user)
            .password(password)
            .dbname("postgres")
            .connect_timeout(Duration::from_secs(5));
        match cfg.connect(NoTls).await {
            Ok((client, conn)) => {
                tokio::spawn(conn);
                client.simple_query("SELECT 1").await.is_ok()
            }
            Err(_) => false,
        }
    }

    pub fn server_log() -> String {
        std::fs::read_to_string(service_env("SRS_PG_LOG")).unwrap_or_default()
    }

    /// The secret JSON of AWS's template for `user` on the SCRAM cluster.
    pub fn secret_json(user: &str, password: &str) -> Value {
        json!({
            "engine": "postgres",
            "host": "127.0.0.1",
            "port": port(),
            "username": user,
            "password": password,
            "dbname": "postgres",
            "ssl": false,
        })
    }
}

pub mod mysql {
    use super::*;
    use mysql_async::prelude::Queryable;
    use mysql_async::{Conn, OptsBuilder};

    pub fn port() -> u16 {
        service_env("SRS_MYSQL_PORT").parse().unwrap()
    }

    fn opts(user: &str, password: &str) -> OptsBuilder {
        OptsBuilder::default()
            .ip_or_hostname(service_env("SRS_MYSQL_HOST"))
            .tcp_port(port())
            .user(Some(user))
            .pass(Some(password))
            .prefer_socket(false)
    }

    /// The tests' admin account (ALL WITH GRANT OPTION) over TCP.
    pub async fn admin() -> Conn {
        Conn::new(opts(
            &service_env("SRS_MYSQL_ADMIN_USER"),
            &service_env("SRS_MYSQL_ADMIN_PASSWORD"),
        ))
        .await
        .unwrap()
    }

    /// Backtick quoting, as the rotator does.
    pub fn quote(name: &str) -> String {
        format!("`{}`", name.replace('`', "``"))
    }

    pub fn native_hash(password: &str) -> String {
        use sha1::{Digest, Sha1};
        let h = Sha1::digest(Sha1::digest(password.as_bytes()));
        format!(
            "*{}",
            h.iter().map(|b| format!("{b:02X}")).collect::<String>()
        )
    }

    /// `user`@`%` with a mysql_native_password hash (no plaintext in the
    /// general log even from the test itself), plus `extra` statements.
    pub async fn create_user(user: &str, password: &str) {
        let mut c = admin().await;
        c.query_drop(format!(
            "CREATE USER {}@'%' IDENTIFIED BY PASSWORD '{}'",
            quote(user),
            native_hash(password)
        ))
        .await
        .unwrap();
        c.disconnect().await.unwrap();
    }

    pub async fn exec(sql: &str) {
        let mut c = admin().await;
        c.query_drop(sql).await.unwrap();
        c.disconnect().await.unwrap();
    }

    pub async fn query_strings(sql: &str) -> Vec<String> {
        let mut c = admin().await;
        let rows: Vec<String> = c.query(sql).await.unwrap();
        c.disconnect().await.unwrap();
        rows
    }

    /// Whether `user`/`password` log in over TCP and run a query.
    pub async fn can_login(user: &str, password: &str) -> bool {
        match Conn::new(opts(user, password)).await {
            Ok(mut c) => {
                let ok = c.query_drop("SELECT 1").await.is_ok();
                let _ = c.disconnect().await;
                ok
            }
            Err(_) => false,
        }
    }

    pub fn server_log() -> String {
        std::fs::read_to_string(service_env("SRS_MYSQL_LOG")).unwrap_or_default()
    }

    pub fn secret_json(user: &str, password: &str) -> Value {
        json!({
            "engine": "mariadb",
            "host": service_env("SRS_MYSQL_HOST"),
            "port": port(),
            "username": user,
            "password": password,
            "ssl": false,
        })
    }
}

pub mod redis_acl {
    use super::*;
    use redis::aio::MultiplexedConnection;
    use redis::{ConnectionAddr, IntoConnectionInfo, RedisConnectionInfo};

    pub fn port() -> u16 {
        service_env("SRS_REDIS_PORT").parse().unwrap()
    }

    pub async fn connect(user: &str, password: &str) -> redis::RedisResult<MultiplexedConnection> {
        let info = ConnectionAddr::Tcp(service_env("SRS_REDIS_HOST"), port())
            .into_connection_info()?
            .set_redis_settings(
                RedisConnectionInfo::default()
                    .set_username(user)
                    .set_password(password),
            );
        let mut c = redis::Client::open(info)?
            .get_multiplexed_async_connection()
            .await?;
        redis::cmd("PING").query_async::<()>(&mut c).await?;
        Ok(c)
    }

    /// The dedicated test instance's admin (every right).
    pub async fn admin() -> MultiplexedConnection {
        connect(
            &service_env("SRS_REDIS_ADMIN_USER"),
            &service_env("SRS_REDIS_ADMIN_PASSWORD"),
        )
        .await
        .unwrap()
    }

    pub fn sha256_hex(password: &str) -> String {
        use sha2::{Digest, Sha256};
        Sha256::digest(password.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// `ACL SETUSER user on #<hash> <rules...>`.
    pub async fn create_user(user: &str, password: &str, rules: &[&str]) {
        let mut cmd = redis::cmd("ACL");
        cmd.arg("SETUSER")
            .arg(user)
            .arg("on")
            .arg(format!("#{}", sha256_hex(password)));
        for r in rules {
            cmd.arg(*r);
        }
        cmd.query_async::<()>(&mut admin().await).await.unwrap();
    }

    pub async fn can_login(user: &str, password: &str) -> bool {
        connect(user, password).await.is_ok()
    }

    /// The user's `ACL LIST` rules without password hashes.
    pub async fn rules(user: &str) -> Option<String> {
        let lines: Vec<String> = redis::cmd("ACL")
            .arg("LIST")
            .query_async(&mut admin().await)
            .await
            .unwrap();
        let prefix = format!("user {user} ");
        lines.iter().find(|l| l.starts_with(&prefix)).map(|l| {
            l[prefix.len()..]
                .split(' ')
                .filter(|t| !t.starts_with('#'))
                .collect::<Vec<_>>()
                .join(" ")
        })
    }

    pub async fn password_count(user: &str) -> usize {
        let v: Vec<redis::Value> = redis::cmd("ACL")
            .arg("GETUSER")
            .arg(user)
            .query_async(&mut admin().await)
            .await
            .unwrap();
        for pair in v.chunks(2) {
            if let [redis::Value::BulkString(k), redis::Value::Array(items)] = pair {
                if k == b"passwords" {
                    return items.len();
                }
            }
        }
        panic!("no passwords field")
    }

    /// Every command the server logged (slowlog-log-slower-than 0).
    pub async fn slowlog() -> String {
        let v: redis::Value = redis::cmd("SLOWLOG")
            .arg("GET")
            .arg(-1)
            .query_async(&mut admin().await)
            .await
            .unwrap();
        format!("{v:?}")
    }

    pub fn secret_json(user: &str, password: &str) -> Value {
        json!({
            "engine": "redis",
            "host": service_env("SRS_REDIS_HOST"),
            "port": port(),
            "username": user,
            "password": password,
            "ssl": false,
        })
    }
}

/// The emulator's RDS API (moto serves it at the same endpoint).
pub mod rds {
    use super::*;
    use aws_sdk_rds::types::{DbCluster, DbInstance};

    pub fn client() -> aws_sdk_rds::Client {
        let conf = aws_sdk_rds::Config::builder()
            .behavior_version(aws_sdk_rds::config::BehaviorVersion::latest())
            .region(aws_sdk_rds::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_rds::config::Credentials::new(
                "testing", "testing", None, None, "tests",
            ))
            .endpoint_url(aws_endpoint())
            .build();
        aws_sdk_rds::Client::from_conf(conf)
    }

    /// A unique RDS identifier (letters, digits, hyphens; starts with a letter).
    pub fn identifier(prefix: &str) -> String {
        unique(prefix).replace('_', "-")
    }

    /// CreateDBInstance; `cluster` makes it a member of that cluster.
    pub async fn create_instance(
        id: &str,
        engine: &str,
        master: &str,
        password: &str,
        cluster: Option<&str>,
    ) -> DbInstance {
        let mut req = client()
            .create_db_instance()
            .db_instance_identifier(id)
            .db_instance_class("db.t3.micro")
            .engine(engine)
            .allocated_storage(20);
        req = match cluster {
            Some(c) => req.db_cluster_identifier(c),
            None => req.master_username(master).master_user_password(password),
        };
        req.send().await.unwrap().db_instance.unwrap()
    }

    pub async fn create_replica(id: &str, source: &str) -> DbInstance {
        client()
            .create_db_instance_read_replica()
            .db_instance_identifier(id)
            .source_db_instance_identifier(source)
            .send()
            .await
            .unwrap()
            .db_instance
            .unwrap()
    }

    pub async fn create_cluster(id: &str, master: &str, password: &str) -> DbCluster {
        client()
            .create_db_cluster()
            .db_cluster_identifier(id)
            .engine("aurora-postgresql")
            .master_username(master)
            .master_user_password(password)
            .send()
            .await
            .unwrap()
            .db_cluster
            .unwrap()
    }

    pub async fn describe_instance(id: &str) -> DbInstance {
        client()
            .describe_db_instances()
            .db_instance_identifier(id)
            .send()
            .await
            .unwrap()
            .db_instances()[0]
            .clone()
    }

    pub async fn describe_cluster(id: &str) -> DbCluster {
        client()
            .describe_db_clusters()
            .db_cluster_identifier(id)
            .send()
            .await
            .unwrap()
            .db_clusters()[0]
            .clone()
    }

    pub fn address(instance: &DbInstance) -> String {
        instance
            .endpoint()
            .and_then(|e| e.address())
            .expect("moto returns Endpoint.Address for instances")
            .to_owned()
    }
}
