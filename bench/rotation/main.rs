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
use std::time::Duration;

use aws_sdk_secretsmanager::Client;
use serde_json::{json, Value};

#[path = "../common.rs"]
mod common;

use common::{
    client, cold_function, env, pg_admin, proxy_request, run_steps, secret_with_pending_rotation,
    STEPS,
};

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
    let (arn, token) = secret_with_pending_rotation(sm, &format!("bench/{user}"), &doc, i).await;
    let (api, process, init) = cold_function(binary, endpoint, "info").await;
    let steps = run_steps(&api, &arn, &token, "postgres").await;
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
    proxy_request(&proxy, "POST", "/__reset").await;
    one(&sm, &proxy, &binary, runs + 1).await;
    let counts: BTreeMap<String, u64> =
        serde_json::from_str(&proxy_request(&proxy, "GET", "/__count").await).unwrap();
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
