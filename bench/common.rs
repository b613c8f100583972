//! What the rotation benchmarks share: the services' addresses, a Secrets
//! Manager client, the admin PostgreSQL login, a secret with a pending
//! rotation, a cold `rotation-lambda` under the Runtime API, the four steps,
//! and the counting proxy's endpoints.
#![allow(dead_code, unreachable_pub)]

use std::path::Path;
use std::time::{Duration, Instant};

use aws_sdk_secretsmanager::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_secretsmanager::Client;
use secrets_rotation::local::begin_rotation;
use secrets_rotation::runtime_api::{FunctionProcess, RuntimeApi};
use serde_json::{json, Value};

pub const STEPS: [&str; 4] = ["createSecret", "setSecret", "testSecret", "finishSecret"];
const FAKE_LAMBDA_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:bench";

/// A variable written by `scripts/services.sh` (or the bench script).
pub fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} missing: run the bench's run.sh"))
}

pub fn client(endpoint: &str) -> Client {
    Client::from_conf(
        aws_sdk_secretsmanager::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("bench", "bench", None, None, "bench"))
            .endpoint_url(endpoint)
            .build(),
    )
}

/// Superuser over the SCRAM cluster's socket.
pub async fn pg_admin() -> tokio_postgres::Client {
    let mut cfg = tokio_postgres::Config::new();
    cfg.host_path(env("SRS_PG_SOCKET_DIR"))
        .port(env("SRS_PG_PORT").parse().unwrap())
        .user("postgres")
        .dbname("postgres");
    let (c, conn) = cfg.connect(tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    c
}

/// Creates secret `name` holding `doc` and plays RotateSecret's part for
/// the `i`-th token. Returns the ARN and the token.
pub async fn secret_with_pending_rotation(
    sm: &Client,
    name: &str,
    doc: &Value,
    i: usize,
) -> (String, String) {
    let arn = sm
        .create_secret()
        .name(name)
        .secret_string(doc.to_string())
        .send()
        .await
        .unwrap()
        .arn()
        .unwrap()
        .to_owned();
    let token = format!("00000000-0000-4000-8000-{i:012}");
    begin_rotation(sm, &arn, &token, FAKE_LAMBDA_ARN)
        .await
        .unwrap();
    (arn, token)
}

/// A cold `rotation-lambda` talking to `endpoint`, and its init time
/// (spawn to the first `/invocation/next`).
pub async fn cold_function(
    binary: &Path,
    endpoint: &str,
    rust_log: &str,
) -> (RuntimeApi, FunctionProcess, Duration) {
    let api = RuntimeApi::start().await.unwrap();
    let vars: Vec<(String, String)> = [
        ("AWS_ENDPOINT_URL", endpoint),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "bench"),
        ("AWS_SECRET_ACCESS_KEY", "bench"),
        ("RUST_LOG", rust_log),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let process = FunctionProcess::spawn(binary, &api, &vars).unwrap();
    let ready = api
        .wait_ready(Duration::from_secs(10))
        .await
        .expect("no /next poll");
    let init = ready - process.started;
    (api, process, init)
}

/// The four steps in order; the time of each.
pub async fn run_steps(api: &RuntimeApi, arn: &str, token: &str, label: &str) -> [Duration; 4] {
    let mut times = [Duration::ZERO; 4];
    for (k, step) in STEPS.iter().enumerate() {
        let t = Instant::now();
        api.invoke(
            json!({"SecretId": arn, "ClientRequestToken": token, "Step": step}),
            Duration::from_secs(30),
        )
        .await
        .unwrap_or_else(|e| panic!("{label} {step}: {e}"));
        times[k] = t.elapsed();
    }
    times
}

/// A request to the counting proxy (`/__reset`, `/__count`); the body.
pub async fn proxy_request(proxy: &str, method: &str, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = proxy.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(host).await.unwrap();
    s.write_all(
        format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            .as_bytes(),
    )
    .await
    .unwrap();
    let mut buf = String::new();
    s.read_to_string(&mut buf).await.unwrap();
    buf.split("\r\n\r\n").nth(1).unwrap_or("{}").to_owned()
}
