//! A minimal AWS Lambda Runtime API server, so the real `rotation-lambda`
//! binary runs here exactly as Lambda runs it: the process polls
//! `/2018-06-01/runtime/invocation/next` and posts `/response` or `/error`.
//!
//! Used by the CLI's `rotate` command (local mode, playing Secrets
//! Manager's part) and by the integration tests and benchmarks.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::{oneshot, Notify};

/// The failure a function reported through `/error`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionError {
    pub error_type: String,
    pub error_message: String,
}

impl std::fmt::Display for FunctionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.error_type, self.error_message)
    }
}

type Reply = Result<Value, FunctionError>;

#[derive(Default)]
struct Inner {
    queue: VecDeque<(String, Value)>,
    waiting: HashMap<String, oneshot::Sender<Reply>>,
    first_poll: Option<Instant>,
    init_error: Option<FunctionError>,
    next_id: u64,
}

#[derive(Clone, Default)]
struct Shared {
    inner: Arc<Mutex<Inner>>,
    ready: Arc<Notify>,
    polled: Arc<Notify>,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A Runtime API endpoint on loopback.
pub struct RuntimeApi {
    addr: SocketAddr,
    shared: Shared,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn next(State(s): State<Shared>) -> Response {
    {
        let mut inner = s.lock();
        inner.first_poll.get_or_insert_with(Instant::now);
    }
    s.polled.notify_waiters();
    loop {
        let notified = s.ready.notified();
        if let Some((id, event)) = s.lock().queue.pop_front() {
            let deadline = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .as_millis()
                + 300_000;
            let mut headers = HeaderMap::new();
            let pairs = [
                ("lambda-runtime-aws-request-id", id),
                ("lambda-runtime-deadline-ms", deadline.to_string()),
                (
                    "lambda-runtime-invoked-function-arn",
                    "arn:aws:lambda:local:000000000000:function:rotation-lambda".to_owned(),
                ),
                (
                    "lambda-runtime-trace-id",
                    "Root=1-00000000-000000000000000000000000".to_owned(),
                ),
            ];
            for (k, v) in pairs {
                if let Ok(v) = HeaderValue::from_str(&v) {
                    headers.insert(k, v);
                }
            }
            return (StatusCode::OK, headers, event.to_string()).into_response();
        }
        notified.await;
    }
}

async fn response(
    State(s): State<Shared>,
    UrlPath(id): UrlPath<String>,
    body: Bytes,
) -> StatusCode {
    let value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    if let Some(tx) = s.lock().waiting.remove(&id) {
        let _ = tx.send(Ok(value));
    }
    StatusCode::ACCEPTED
}

fn parse_error(headers: &HeaderMap, body: &[u8]) -> FunctionError {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let header_type = headers
        .get("lambda-runtime-function-error-type")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("Unhandled");
    FunctionError {
        error_type: v["errorType"].as_str().unwrap_or(header_type).to_owned(),
        error_message: v["errorMessage"].as_str().unwrap_or_default().to_owned(),
    }
}

async fn error(
    State(s): State<Shared>,
    UrlPath(id): UrlPath<String>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let err = parse_error(&headers, &body);
    if let Some(tx) = s.lock().waiting.remove(&id) {
        let _ = tx.send(Err(err));
    }
    StatusCode::ACCEPTED
}

async fn init_error(State(s): State<Shared>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let err = parse_error(&headers, &body);
    let mut inner = s.lock();
    inner.init_error = Some(err.clone());
    for (_, tx) in inner.waiting.drain() {
        let _ = tx.send(Err(err.clone()));
    }
    StatusCode::ACCEPTED
}

impl RuntimeApi {
    /// Serves the Runtime API on 127.0.0.1 and a free port.
    pub async fn start() -> std::io::Result<Self> {
        let shared = Shared::default();
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(response),
            )
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self {
            addr,
            shared,
            server,
        })
    }

    /// The value for `AWS_LAMBDA_RUNTIME_API`.
    pub fn address(&self) -> String {
        self.addr.to_string()
    }

    /// When the function first asked for an invocation.
    pub fn first_poll(&self) -> Option<Instant> {
        self.shared.lock().first_poll
    }

    /// Waits until the function has polled `/next` once (its init is over).
    pub async fn wait_ready(&self, timeout: Duration) -> Option<Instant> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.shared.polled.notified();
            if let Some(t) = self.first_poll() {
                return Some(t);
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.first_poll();
            }
        }
    }

    /// Invokes the function with `event` and waits for its answer.
    pub async fn invoke(&self, event: Value, timeout: Duration) -> Reply {
        let (tx, rx) = oneshot::channel();
        {
            let mut inner = self.shared.lock();
            if let Some(e) = &inner.init_error {
                return Err(e.clone());
            }
            inner.next_id += 1;
            let id = format!("req-{:08}", inner.next_id);
            inner.waiting.insert(id.clone(), tx);
            inner.queue.push_back((id, event));
        }
        self.shared.ready.notify_waiters();
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(reply)) => reply,
            Ok(Err(_)) | Err(_) => Err(FunctionError {
                error_type: "Sandbox.Timedout".to_owned(),
                error_message: "the function did not answer in time".to_owned(),
            }),
        }
    }
}

/// A function process started as Lambda starts it, with its log captured.
pub struct FunctionProcess {
    child: Child,
    log: Arc<Mutex<String>>,
    pub started: Instant,
}

impl FunctionProcess {
    /// Starts `binary` with `AWS_LAMBDA_RUNTIME_API` set and `env` added.
    pub fn spawn(
        binary: &Path,
        api: &RuntimeApi,
        env: &[(String, String)],
    ) -> std::io::Result<Self> {
        let mut cmd = Command::new(binary);
        cmd.env("AWS_LAMBDA_RUNTIME_API", api.address())
            .env("AWS_LAMBDA_FUNCTION_NAME", "rotation-lambda")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let started = Instant::now();
        let mut child = cmd.spawn()?;
        let log = Arc::new(Mutex::new(String::new()));
        for pipe in [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Send + Unpin>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Send + Unpin>),
        ]
        .into_iter()
        .flatten()
        {
            let log = log.clone();
            tokio::spawn(async move {
                let mut lines = BufReader::new(pipe).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    let mut l = log.lock().unwrap_or_else(|e| e.into_inner());
                    l.push_str(&line);
                    l.push('\n');
                }
            });
        }
        Ok(Self {
            child,
            log,
            started,
        })
    }

    /// Everything the process wrote to stdout and stderr so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Kills the process at once (SIGKILL), as a crash would.
    pub async fn kill(&mut self) {
        let _ = self.child.kill().await;
    }
}
