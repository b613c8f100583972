//! One rotation per rotator (PostgreSQL, MySQL/MariaDB, Redis; single and
//! alternating users) through the release `rotation-lambda` binary, against
//! the emulator and the test servers. Run by `bench/rotators/run.sh`.
//!
//! Per rotator: the wall time of the four invocations of a cold process
//! (median of BENCH_RUNS), the Secrets Manager calls of one rotation counted
//! by `bench/rotation/count_proxy.py`, and the time of the database logins:
//! the number of logins the rotator makes (from its code) times the median
//! time of one login measured here, as a fraction of the wall time.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use aws_sdk_secretsmanager::Client;
use mysql_async::prelude::Queryable;
use serde_json::{json, Value};

#[path = "../common.rs"]
mod common;

use common::{
    client, cold_function, env, pg_admin, proxy_request, run_steps, secret_with_pending_rotation,
};

fn sha1_hex_upper(b: &[u8]) -> String {
    use sha1::{Digest, Sha1};
    Sha1::digest(b).iter().map(|x| format!("{x:02X}")).collect()
}

fn native_hash(pw: &str) -> String {
    use sha1::{Digest, Sha1};
    format!(
        "*{}",
        sha1_hex_upper(Sha1::digest(pw.as_bytes()).as_slice())
    )
}

fn sha256_hex(pw: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(pw.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    Postgres,
    Mysql,
    Redis,
}

fn my_opts(user: &str, pw: &str) -> mysql_async::OptsBuilder {
    mysql_async::OptsBuilder::default()
        .ip_or_hostname(env("SRS_MYSQL_HOST"))
        .tcp_port(env("SRS_MYSQL_PORT").parse().unwrap())
        .user(Some(user))
        .pass(Some(pw))
        .prefer_socket(false)
}

async fn redis_conn(user: &str, pw: &str) -> redis::aio::MultiplexedConnection {
    use redis::IntoConnectionInfo;
    let info = redis::ConnectionAddr::Tcp(
        env("SRS_REDIS_HOST"),
        env("SRS_REDIS_PORT").parse().unwrap(),
    )
    .into_connection_info()
    .unwrap()
    .set_redis_settings(
        redis::RedisConnectionInfo::default()
            .set_username(user)
            .set_password(pw),
    );
    let mut c = redis::Client::open(info)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    redis::cmd("PING").query_async::<()>(&mut c).await.unwrap();
    c
}

/// Creates a login on the server; `master` adds admin rights.
async fn create_login(kind: Kind, user: &str, pw: &str, master: bool) {
    match kind {
        Kind::Postgres => {
            let v = postgres_protocol::password::scram_sha_256(pw.as_bytes());
            let su = if master { " SUPERUSER" } else { "" };
            pg_admin()
                .await
                .batch_execute(&format!("CREATE ROLE \"{user}\" LOGIN{su} PASSWORD '{v}'"))
                .await
                .unwrap();
        }
        Kind::Mysql => {
            let mut c = mysql_async::Conn::new(my_opts(
                &env("SRS_MYSQL_ADMIN_USER"),
                &env("SRS_MYSQL_ADMIN_PASSWORD"),
            ))
            .await
            .unwrap();
            c.query_drop(format!(
                "CREATE USER `{user}`@'%' IDENTIFIED BY PASSWORD '{}'",
                native_hash(pw)
            ))
            .await
            .unwrap();
            let grant = if master {
                format!("GRANT ALL ON *.* TO `{user}`@'%' WITH GRANT OPTION")
            } else {
                format!("GRANT SELECT ON mysql.db TO `{user}`@'%'")
            };
            c.query_drop(grant).await.unwrap();
            c.disconnect().await.unwrap();
        }
        Kind::Redis => {
            let mut c = redis_conn(
                &env("SRS_REDIS_ADMIN_USER"),
                &env("SRS_REDIS_ADMIN_PASSWORD"),
            )
            .await;
            let rules: &[&str] = if master {
                &["-@all", "+ping", "+acl|setuser", "+acl|list"]
            } else {
                &["~app:*", "-@all", "+get", "+ping", "+acl|setuser"]
            };
            let mut cmd = redis::cmd("ACL");
            cmd.arg("SETUSER")
                .arg(user)
                .arg("on")
                .arg(format!("#{}", sha256_hex(pw)));
            for r in rules {
                cmd.arg(*r);
            }
            cmd.query_async::<()>(&mut c).await.unwrap();
        }
    }
}

fn doc(kind: Kind, user: &str, pw: &str) -> Value {
    let (engine, host, port) = match kind {
        Kind::Postgres => ("postgres", "127.0.0.1".to_owned(), env("SRS_PG_PORT")),
        Kind::Mysql => ("mariadb", env("SRS_MYSQL_HOST"), env("SRS_MYSQL_PORT")),
        Kind::Redis => ("redis", env("SRS_REDIS_HOST"), env("SRS_REDIS_PORT")),
    };
    let mut d = json!({"engine": engine, "host": host, "port": port.parse::<u16>().unwrap(),
           "username": user, "password": pw, "ssl": false});
    if matches!(kind, Kind::Postgres) {
        d["dbname"] = json!("postgres");
    }
    d
}

/// The median time of one successful login, measured directly.
async fn login_ms(kind: Kind, user: &str, pw: &str) -> f64 {
    let mut v = Vec::new();
    for _ in 0..15 {
        let t = Instant::now();
        match kind {
            Kind::Postgres => {
                let mut cfg = tokio_postgres::Config::new();
                cfg.host("127.0.0.1")
                    .port(env("SRS_PG_PORT").parse().unwrap())
                    .user(user)
                    .password(pw)
                    .dbname("postgres");
                let (_c, conn) = cfg.connect(tokio_postgres::NoTls).await.unwrap();
                drop(conn);
            }
            Kind::Mysql => {
                let c = mysql_async::Conn::new(my_opts(user, pw)).await.unwrap();
                drop(c);
            }
            Kind::Redis => {
                drop(redis_conn(user, pw).await);
            }
        }
        v.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

/// Logins one rotation makes (successful or refused), from the code:
/// set = pending attempt + current (+ master for alternating), test =
/// pending (+ master for alternating MySQL/Redis); Redis single-user skips
/// the pending attempt; MySQL's DISCARD login at finish is skipped for
/// `engine: mariadb`. PostgreSQL alternating reads rights through the pending
/// login in testSecret.
fn logins(kind: Kind, alternating: bool) -> u32 {
    match (kind, alternating) {
        (Kind::Postgres, false) => 3,
        (Kind::Postgres, true) => 4,
        (Kind::Mysql, false) => 3,
        (Kind::Mysql, true) => 5,
        (Kind::Redis, false) => 2,
        (Kind::Redis, true) => 5,
    }
}

async fn one(
    sm: &Client,
    endpoint: &str,
    binary: &Path,
    kind: Kind,
    alternating: bool,
    i: usize,
) -> Duration {
    let tag = format!("b{}_{i}_{}", std::process::id(), alternating as u8);
    let user = format!("bench_{tag}");
    let pw = format!("Bench-{tag}-initial");
    create_login(kind, &user, &pw, false).await;
    let mut d = doc(kind, &user, &pw);
    if alternating {
        let m = format!("bmaster_{tag}");
        let mpw = format!("Master-{tag}-pw");
        create_login(kind, &m, &mpw, true).await;
        let marn = sm
            .create_secret()
            .name(format!("bench/{m}/{kind:?}"))
            .secret_string(doc(kind, &m, &mpw).to_string())
            .send()
            .await
            .unwrap()
            .arn()
            .unwrap()
            .to_owned();
        d["masterarn"] = json!(marn);
    }
    let (arn, token) =
        secret_with_pending_rotation(sm, &format!("bench/{user}/{kind:?}"), &d, i).await;
    let (api, process, _) = cold_function(binary, endpoint, "warn").await;
    let wall: Duration = run_steps(&api, &arn, &token, &format!("{kind:?}"))
        .await
        .iter()
        .sum();
    drop(process);
    wall
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let binary = PathBuf::from(
        std::env::var("BENCH_BINARY").unwrap_or_else(|_| "target/release/rotation-lambda".into()),
    );
    let moto = env("SRS_AWS_ENDPOINT");
    let proxy = env("BENCH_PROXY");
    let sm = client(&moto);
    let mut out = serde_json::Map::new();
    let mut n = 0usize;
    for kind in [Kind::Postgres, Kind::Mysql, Kind::Redis] {
        for alternating in [false, true] {
            n += 100;
            let mut walls = Vec::new();
            one(&sm, &moto, &binary, kind, alternating, n).await; // warm-up
            for i in 1..=runs {
                walls.push(
                    one(&sm, &moto, &binary, kind, alternating, n + i)
                        .await
                        .as_secs_f64()
                        * 1000.0,
                );
            }
            walls.sort_by(|a, b| a.partial_cmp(b).unwrap());
            let wall = walls[walls.len() / 2];
            proxy_request(&proxy, "POST", "/__reset").await;
            one(&sm, &proxy, &binary, kind, alternating, n + 99).await;
            let counts: BTreeMap<String, u64> =
                serde_json::from_str(&proxy_request(&proxy, "GET", "/__count").await).unwrap();
            let total: u64 = counts.values().sum();
            let probe = format!("probe_{}_{n}", std::process::id());
            create_login(kind, &probe, "Probe-pw-123", false).await;
            let one_login = login_ms(kind, &probe, "Probe-pw-123").await;
            let login_total = one_login * f64::from(logins(kind, alternating));
            let name = format!(
                "{}{}",
                format!("{kind:?}").to_lowercase(),
                if alternating {
                    "_alternating"
                } else {
                    "_single"
                }
            );
            out.insert(
                name,
                json!({
                    "four_invocations_ms_median": (wall * 10.0).round() / 10.0,
                    "secrets_manager_calls": total,
                    "by_operation": counts,
                    "logins": logins(kind, alternating),
                    "one_login_ms": (one_login * 100.0).round() / 100.0,
                    "login_fraction": ((login_total / wall) * 100.0).round() / 100.0,
                }),
            );
        }
    }
    out.insert("runs".into(), json!(runs));
    println!(
        "{}",
        serde_json::to_string_pretty(&Value::Object(out)).unwrap()
    );
}
