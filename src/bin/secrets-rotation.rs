//! `secrets-rotation`: the local-mode CLI.
//!
//! ```text
//! secrets-rotation create <name> [--tag key=value]...   value read from stdin
//! secrets-rotation show <secret-id>
//! secrets-rotation rotate <secret-id> [--lambda PATH] [--lambda-arn ARN]
//! secrets-rotation serve [--listen 127.0.0.1:8080]
//! ```
//! It talks to the endpoint in `AWS_ENDPOINT_URL` (normally the emulator).
//! `serve` runs the API Lambda's router over plain HTTP, configured by the
//! same environment variables (`JWT_ISSUER`, `JWT_AUDIENCE`, ...).

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use aws_sdk_secretsmanager::types::Tag;
use secrecy::SecretString;
use secrets_rotation::local::{begin_rotation, labels, redact, run_steps, start_function};
use secrets_rotation::store::aws::{client_from_env, translate, AwsStore};
use secrets_rotation::store::{SecretStore, Selector, AWSCURRENT};

const USAGE: &str = "usage:
  secrets-rotation create <name> [--tag key=value]...   (value on stdin)
  secrets-rotation show <secret-id>
  secrets-rotation rotate <secret-id> [--lambda PATH] [--lambda-arn ARN]
  secrets-rotation serve [--listen 127.0.0.1:8080]   (API over HTTP; JWT_* and ALLOWED_SECRETS from the environment)";

struct Args {
    positional: Vec<String>,
    options: Vec<(String, String)>,
}

fn parse(args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut positional = Vec::new();
    let mut options = Vec::new();
    let mut it = args.peekable();
    while let Some(a) = it.next() {
        if let Some(name) = a.strip_prefix("--") {
            let value = it.next().ok_or_else(|| format!("--{name} needs a value"))?;
            options.push((name.to_owned(), value));
        } else {
            positional.push(a);
        }
    }
    Ok(Args {
        positional,
        options,
    })
}

impl Args {
    fn opt(&self, name: &str) -> Option<&str> {
        self.options
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

async fn show(store: &AwsStore, id: &str) -> Result<(), String> {
    let desc = store.describe(id).await.map_err(|e| e.to_string())?;
    println!(
        "{} (rotation enabled: {})",
        desc.name, desc.rotation_enabled
    );
    println!("{}", labels(&desc));
    let cur = store
        .get(&desc.arn, Selector::Stage(AWSCURRENT))
        .await
        .map_err(|e| e.to_string())?;
    println!("  AWSCURRENT value: {}", redact(&cur.value));
    Ok(())
}

/// `serve`: the API router over plain HTTP, against the AWS store.
async fn serve(args: &Args) -> Result<(), String> {
    use secrets_rotation::api::{self, aws::AwsBackend, ApiConfig, AppState};
    let listen = args.opt("listen").unwrap_or("127.0.0.1:8080");
    let config = ApiConfig::from_env().map_err(|e| e.to_string())?;
    let backend = std::sync::Arc::new(AwsBackend::new(client_from_env().await));
    let state = AppState::new(config, backend).map_err(|e| e.to_string())?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    tracing::info!(event = "listening", %addr, "serving the API");
    // The line scripts and tests wait for.
    println!("listening on http://{addr}");
    axum::serve(listener, api::router(state))
        .await
        .map_err(|e| e.to_string())
}

async fn run(args: Args) -> Result<(), String> {
    let command = args.positional.first().map(String::as_str).unwrap_or("");
    if command == "serve" {
        return serve(&args).await;
    }
    let target = args.positional.get(1).cloned();
    let client = client_from_env().await;
    let store = AwsStore::new(client.clone());
    match (command, target) {
        ("create", Some(name)) => {
            let mut value = String::new();
            std::io::stdin()
                .read_to_string(&mut value)
                .map_err(|e| format!("cannot read the value from stdin: {e}"))?;
            let value = SecretString::from(value.trim_end_matches('\n').to_owned());
            let mut req = client
                .create_secret()
                .name(&name)
                .secret_string(secrecy::ExposeSecret::expose_secret(&value));
            for (k, v) in &args.options {
                if k == "tag" {
                    let (tk, tv) = v.split_once('=').ok_or("--tag takes key=value")?;
                    req = req.tags(Tag::builder().key(tk).value(tv).build());
                }
            }
            let out = req
                .send()
                .await
                .map_err(|e| translate("CreateSecret", e).to_string())?;
            println!("{}", out.arn().unwrap_or_default());
            Ok(())
        }
        ("show", Some(id)) => show(&store, &id).await,
        ("rotate", Some(id)) => {
            let binary = PathBuf::from(
                args.opt("lambda")
                    .unwrap_or("target/release/rotation-lambda"),
            );
            let lambda_arn = args
                .opt("lambda-arn")
                .unwrap_or("arn:aws:lambda:us-east-1:000000000000:function:rotation-lambda");
            println!("== before");
            show(&store, &id).await?;
            let desc = store.describe(&id).await.map_err(|e| e.to_string())?;
            let token = uuid_v4();
            begin_rotation(&client, &desc.arn, &token, lambda_arn)
                .await
                .map_err(|e| format!("cannot start the rotation: {e}"))?;
            let (api, process) = start_function(&binary)
                .await
                .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
            let outcome = run_steps(&api, &desc.arn, &token).await;
            drop(process);
            match outcome {
                Ok(()) => println!("== rotated: version {token}"),
                Err((step, e)) => return Err(format!("{step} failed: {e}")),
            }
            println!("== after");
            show(&store, &id).await
        }
        _ => Err(USAGE.to_owned()),
    }
}

/// A random version token in UUID form (RFC 4122 version 4).
fn uuid_v4() -> String {
    use rand::TryRngCore;
    let mut b = [0u8; 16];
    let _ = rand::rngs::OsRng.try_fill_bytes(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

fn main() -> ExitCode {
    let args = match parse(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    // The server uses every core; the one-shot commands need one thread.
    let serving = args.positional.first().map(String::as_str) == Some("serve");
    let runtime = if serving {
        secrets_rotation::logging::init(true);
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    };
    let runtime = match runtime {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
