//! Benchmark of one PostgreSQL single-user rotation through the release
//! `rotation-lambda` binary, as Lambda runs it, against the AWS API emulator
//! and the SCRAM PostgreSQL cluster. Run by `bench/rotation/run.sh`.
//!
//! Measures per cold process: init (process start to the first
//! `/invocation/next`), each of the four invocations, peak RSS (VmHWM); and,
//! through a counting proxy, the Secrets Manager API calls per rotation.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use aws_sdk_secretsmanager::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_secretsmanager::Client;
use secrets_rotation::local::begin_rotation;
use secrets_rotation::runtime_api::{FunctionProcess, RuntimeApi};
use serde_json::{json, Value};

const STEPS: [&str; 4] = ["createSecret", "setSecret", "testSecret", "finishSecret"];

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} missing: run bench/rotation/run.sh"))
}

fn client(endpoint: &str) -> Client {
    Client::from_conf(
        aws_sdk_secretsmanager::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("bench", "bench", None, None, "bench"))
            .endpoint_url(endpoint)
            .build(),
    )
}

async fn pg_admin() -> tokio_postgres::Client {
    let mut cfg = tokio_postgres::Config::new();
    cfg.host_path(env("SRS_PG_SOCKET_DIR"))
        .port(env("SRS_PG_PORT").parse().unwrap())
        .user("postgres")
        .dbname("postgres");
    let (c, conn) = cfg.connect(tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    c
}

fn vm_hwm_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

struct Sample {
    init: Duration,
    steps: [Duration; 4],
    rss_kib: u64,
}

/// One rotation of a fresh secret by a fresh (cold) process.
async fn one(sm: &Client, endpoint: &str, binary: &Path, i: usize) -> Sample {
    let user = format!("bench_{}_{i}", std::process::id());
    let password = format!("Bench-{}-{i}-initial", std::process::id());
    let verifier = postgres_protocol::password::scram_sha_256(password.as_bytes());
    let admin = pg_admin().await;
    admin
        .batch_execute(&format!(
            "DROP ROLE IF EXISTS \"{user}\"; CREATE ROLE \"{user}\" LOGIN PASSWORD '{verifier}'"
        ))
        .await
        .unwrap();
    let doc = json!({"engine":"postgres","host":"127.0.0.1","port": env("SRS_PG_PORT").parse::<u16>().unwrap(),
        "username": user, "password": password, "dbname":"postgres","ssl":false});
    let arn = sm
        .create_secret()
        .name(format!("bench/{user}"))
        .secret_string(doc.to_string())
        .send()
        .await
        .unwrap()
        .arn()
        .unwrap()
        .to_owned();
    let token = format!("00000000-0000-4000-8000-{:012}", i);
    begin_rotation(
        sm,
        &arn,
        &token,
        "arn:aws:lambda:us-east-1:123456789012:function:bench",
    )
    .await
    .unwrap();

    let api = RuntimeApi::start().await.unwrap();
    let vars: Vec<(String, String)> = [
        ("AWS_ENDPOINT_URL", endpoint),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "bench"),
        ("AWS_SECRET_ACCESS_KEY", "bench"),
        ("RUST_LOG", "info"),
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
    let mut steps = [Duration::ZERO; 4];
    for (k, step) in STEPS.iter().enumerate() {
        let t = Instant::now();
        api.invoke(
            json!({"SecretId": arn, "ClientRequestToken": token, "Step": step}),
            Duration::from_secs(30),
        )
        .await
        .unwrap_or_else(|e| panic!("{step}: {e}"));
        steps[k] = t.elapsed();
    }
    let rss_kib = vm_hwm_kib(process.pid().unwrap());
    drop(process);
    Sample {
        init,
        steps,
        rss_kib,
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn stats(mut v: Vec<f64>) -> Value {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let pick = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    json!({"median": (pick(0.5) * 100.0).round() / 100.0, "p90": (pick(0.9) * 100.0).round() / 100.0,
           "min": (v[0] * 100.0).round() / 100.0, "max": (v[v.len() - 1] * 100.0).round() / 100.0})
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let binary = PathBuf::from(
        std::env::var("BENCH_BINARY").unwrap_or_else(|_| "target/release/rotation-lambda".into()),
    );
    let moto = env("SRS_AWS_ENDPOINT");
    let proxy = env("BENCH_PROXY");
    let sm = client(&moto);

    // Timing runs talk to the emulator directly.
    let mut samples = Vec::new();
    one(&sm, &moto, &binary, 0).await; // warm the emulator and the page cache
    for i in 1..=runs {
        samples.push(one(&sm, &moto, &binary, i).await);
    }
    // One more run through the counting proxy.
    reqwest_free_post(&proxy, "/__reset").await;
    one(&sm, &proxy, &binary, runs + 1).await;
    let counts: BTreeMap<String, u64> =
        serde_json::from_str(&reqwest_free_get(&proxy, "/__count").await).unwrap();
    // begin_rotation (RotateSecret + DescribeSecret) and CreateSecret go to
    // moto directly, so the proxy sees only the function's own calls.
    let total: u64 = counts.values().sum();

    let mut out = serde_json::Map::new();
    out.insert("runs".into(), json!(runs));
    out.insert(
        "init_ms".into(),
        stats(samples.iter().map(|s| ms(s.init)).collect()),
    );
    for (k, step) in STEPS.iter().enumerate() {
        out.insert(
            format!("{step}_ms"),
            stats(samples.iter().map(|s| ms(s.steps[k])).collect()),
        );
    }
    out.insert(
        "four_invocations_ms".into(),
        stats(
            samples
                .iter()
                .map(|s| s.steps.iter().map(|d| ms(*d)).sum())
                .collect(),
        ),
    );
    out.insert(
        "peak_rss_mb".into(),
        stats(samples.iter().map(|s| s.rss_kib as f64 / 1024.0).collect()),
    );
    out.insert(
        "secrets_manager_calls".into(),
        json!({"total": total, "by_operation": counts}),
    );
    println!(
        "{}",
        serde_json::to_string_pretty(&Value::Object(out)).unwrap()
    );
}

async fn http(proxy: &str, method: &str, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = proxy.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(host).await.unwrap();
    s.write_all(format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut buf = String::new();
    s.read_to_string(&mut buf).await.unwrap();
    buf.split("\r\n\r\n").nth(1).unwrap_or_default().to_owned()
}

async fn reqwest_free_get(proxy: &str, path: &str) -> String {
    http(proxy, "GET", path).await
}

async fn reqwest_free_post(proxy: &str, path: &str) {
    http(proxy, "POST", path).await;
}
