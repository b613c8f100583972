//! Support for the API tests: signing keys and tokens, a JWKS server on
//! loopback that can fail on demand, the real `api-lambda` binary under a
//! Runtime API (API Gateway v2 events), and the real `secrets-rotation
//! serve` over HTTP. Both transports answer the same `call`.
#![allow(dead_code, clippy::unwrap_used, clippy::panic, unreachable_pub)]

use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize};
use aws_lc_rs::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use axum::body::Bytes;
use axum::http::StatusCode;
use base64::Engine as _;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use secrets_rotation::runtime_api::{FunctionProcess, RuntimeApi};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::common::lambda_env;

pub const ISSUER: &str = "https://issuer.test/";
pub const AUDIENCE: &str = "secrets-api";
/// The HS256 development key (at least 32 bytes).
pub const HS_KEY: &str = "test-hs256-key-0123456789abcdef-0123456789";

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Standard claims: valid for 10 minutes, with `scope`.
pub fn claims(sub: &str, scope: &str) -> Value {
    json!({"iss": ISSUER, "aud": AUDIENCE, "sub": sub, "exp": now() + 600, "iat": now(), "scope": scope})
}

pub fn hs256(claims: &Value) -> String {
    sign_hs(HS_KEY.as_bytes(), claims, None)
}

pub fn sign_hs(key: &[u8], claims: &Value, kid: Option<&str>) -> String {
    let mut h = Header::new(Algorithm::HS256);
    h.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&h, claims, &EncodingKey::from_secret(key).unwrap()).unwrap()
}

/// A token with a hand-written header, signed HS256 with `key` (for
/// headers jsonwebtoken would not produce, e.g. `alg: none`).
pub fn raw_token(header: &Value, claims: &Value, key: Option<&[u8]>) -> String {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let msg = format!(
        "{}.{}",
        b64.encode(header.to_string()),
        b64.encode(claims.to_string())
    );
    let sig = match key {
        Some(k) => {
            let tag = aws_lc_rs::hmac::sign(
                &aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, k),
                msg.as_bytes(),
            );
            b64.encode(tag.as_ref())
        }
        None => String::new(),
    };
    format!("{msg}.{sig}")
}

/// An asymmetric signing key with its public JWK.
pub struct SigningKey {
    pub kid: String,
    pub alg: Algorithm,
    pub key: EncodingKey,
    pub jwk: Value,
    /// The public key as PEM text (for key-confusion attempts).
    pub public_pem: String,
}

fn pem(label: &str, der: &[u8]) -> String {
    let b = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = b
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

impl SigningKey {
    pub fn es256(kid: &str) -> Self {
        let doc = EcdsaKeyPair::generate_pkcs8(
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            &aws_lc_rs::rand::SystemRandom::new(),
        )
        .unwrap();
        let key = EncodingKey::from_ec_der(doc.as_ref());
        Self::finish(kid, Algorithm::ES256, key, String::new())
    }

    pub fn rs256(kid: &str) -> Self {
        let kp = RsaKeyPair::generate(KeySize::Rsa2048).unwrap();
        let der = AsDer::as_der(&kp).unwrap();
        let key = EncodingKey::from_rsa_pem(pem("PRIVATE KEY", der.as_ref()).as_bytes()).unwrap();
        let public = aws_lc_rs::signature::KeyPair::public_key(&kp);
        let spki = AsDer::as_der(public).unwrap();
        Self::finish(kid, Algorithm::RS256, key, pem("PUBLIC KEY", spki.as_ref()))
    }

    fn finish(kid: &str, alg: Algorithm, key: EncodingKey, public_pem: String) -> Self {
        let mut jwk = Jwk::from_encoding_key(&key, alg).unwrap();
        jwk.common.key_id = Some(kid.to_owned());
        Self {
            kid: kid.to_owned(),
            alg,
            jwk: serde_json::to_value(&jwk).unwrap(),
            key,
            public_pem,
        }
    }

    pub fn sign(&self, claims: &Value) -> String {
        let mut h = Header::new(self.alg);
        h.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&h, claims, &self.key).unwrap()
    }
}

/// A JWKS endpoint on loopback. `fail(true)` makes it answer 500, as an
/// identity provider outage would; `hits` counts fetches.
#[derive(Clone)]
pub struct JwksServer {
    pub url: String,
    keys: Arc<Mutex<Vec<Value>>>,
    failing: Arc<AtomicBool>,
    hits: Arc<AtomicUsize>,
}

impl JwksServer {
    pub async fn start(keys: &[&SigningKey]) -> Self {
        let s = Self {
            url: String::new(),
            keys: Arc::new(Mutex::new(keys.iter().map(|k| k.jwk.clone()).collect())),
            failing: Arc::new(AtomicBool::new(false)),
            hits: Arc::new(AtomicUsize::new(0)),
        };
        let state = s.clone();
        let app = axum::Router::new().route(
            "/jwks.json",
            axum::routing::get(move || {
                let st = state.clone();
                async move {
                    st.hits.fetch_add(1, Ordering::SeqCst);
                    if st.failing.load(Ordering::SeqCst) {
                        return (StatusCode::INTERNAL_SERVER_ERROR, "down".to_owned());
                    }
                    let keys = st.keys.lock().unwrap().clone();
                    (StatusCode::OK, json!({"keys": keys}).to_string())
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            url: format!("http://{addr}/jwks.json"),
            ..s
        }
    }

    pub fn set_keys(&self, keys: &[&SigningKey]) {
        *self.keys.lock().unwrap() = keys.iter().map(|k| k.jwk.clone()).collect();
    }

    pub fn fail(&self, on: bool) {
        self.failing.store(on, Ordering::SeqCst);
    }

    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

/// An HTTP answer from either transport.
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub text: String,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or(Value::Null)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn code(&self) -> String {
        self.json()["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }
}

/// The environment of an API process: the emulator, plus `extra`.
pub fn api_env(extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut env = lambda_env();
    env.push(("JWT_ISSUER".into(), ISSUER.into()));
    env.push(("JWT_AUDIENCE".into(), AUDIENCE.into()));
    env.push(("RUST_LOG".into(), "info".into()));
    for (k, v) in extra {
        env.retain(|(ek, _)| ek != k);
        env.push(((*k).to_owned(), (*v).to_owned()));
    }
    env
}

pub enum Transport {
    /// The real `api-lambda` under the Runtime API, fed API Gateway v2 events.
    Lambda {
        api: RuntimeApi,
        process: FunctionProcess,
    },
    /// `secrets-rotation serve` over HTTP.
    Server {
        base: String,
        log: Arc<Mutex<String>>,
        _child: tokio::process::Child,
    },
}

impl Transport {
    pub async fn lambda(extra: &[(&str, &str)]) -> Self {
        let api = RuntimeApi::start().await.unwrap();
        let process = FunctionProcess::spawn(
            std::path::Path::new(env!("CARGO_BIN_EXE_api-lambda")),
            &api,
            &api_env(extra),
        )
        .unwrap();
        Self::Lambda { api, process }
    }

    pub async fn server(extra: &[(&str, &str)]) -> Self {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_secrets-rotation"));
        cmd.args(["serve", "--listen", "127.0.0.1:0"])
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(api_env(extra))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd.spawn().unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = tokio::sync::oneshot::channel::<String>();
        let mut tx = Some(tx);
        let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        let l = log.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = stdout.next_line().await {
                if let Some(addr) = line.strip_prefix("listening on ") {
                    if let Some(tx) = tx.take() {
                        let _ = tx.send(addr.to_owned());
                    }
                }
                l.lock().unwrap().push_str(&(line + "\n"));
            }
        });
        let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
        let l = log.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = stderr.next_line().await {
                l.lock().unwrap().push_str(&(line + "\n"));
            }
        });
        let base = tokio::time::timeout(Duration::from_secs(30), rx)
            .await
            .unwrap_or_else(|_| panic!("serve did not start: {}", log.lock().unwrap()))
            .unwrap_or_else(|_| panic!("serve exited: {}", log.lock().unwrap()));
        Self::Server {
            base,
            log,
            _child: child,
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Self::Lambda { .. } => "lambda",
            Self::Server { .. } => "server",
        }
    }

    pub fn log(&self) -> String {
        match self {
            Self::Lambda { process, .. } => process.log(),
            Self::Server { log, .. } => log.lock().unwrap().clone(),
        }
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Resp {
        let h: Vec<(String, String)> = token
            .map(|t| vec![("authorization".to_owned(), format!("Bearer {t}"))])
            .unwrap_or_default();
        self.call("GET", path, &h, "").await
    }

    pub async fn post(&self, path: &str, token: Option<&str>) -> Resp {
        let h: Vec<(String, String)> = token
            .map(|t| vec![("authorization".to_owned(), format!("Bearer {t}"))])
            .unwrap_or_default();
        self.call("POST", path, &h, "").await
    }

    /// `path` may carry a query string; it is sent as is (still encoded).
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        headers: &[(String, String)],
        body: &str,
    ) -> Resp {
        match self {
            Self::Lambda { api, .. } => {
                let (raw_path, query) = path.split_once('?').unwrap_or((path, ""));
                let hmap: serde_json::Map<String, Value> = headers
                    .iter()
                    .map(|(k, v)| (k.to_ascii_lowercase(), json!(v)))
                    .chain([("host".to_owned(), json!("api.example.test"))])
                    .collect();
                let event = json!({
                    "version": "2.0",
                    "routeKey": "$default",
                    "rawPath": raw_path,
                    "rawQueryString": query,
                    "headers": hmap,
                    "requestContext": {
                        "accountId": "123456789012",
                        "apiId": "testapi",
                        "domainName": "api.example.test",
                        "domainPrefix": "api",
                        "http": {"method": method, "path": raw_path, "protocol": "HTTP/1.1",
                                 "sourceIp": "127.0.0.1", "userAgent": "api-tests"},
                        "requestId": format!("apigw-{}", uuid::Uuid::new_v4().simple()),
                        "routeKey": "$default",
                        "stage": "$default",
                        "time": "01/Jan/2026:00:00:00 +0000",
                        "timeEpoch": 0
                    },
                    "body": if body.is_empty() { Value::Null } else { json!(body) },
                    "isBase64Encoded": false
                });
                let out = api
                    .invoke(event, Duration::from_secs(60))
                    .await
                    .unwrap_or_else(|e| panic!("api-lambda failed: {e}"));
                let headers = out["headers"]
                    .as_object()
                    .map(|m| {
                        m.iter()
                            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                            .collect()
                    })
                    .unwrap_or_default();
                let mut text = out["body"].as_str().unwrap_or_default().to_owned();
                if out["isBase64Encoded"].as_bool() == Some(true) {
                    text = String::from_utf8(
                        base64::engine::general_purpose::STANDARD
                            .decode(text)
                            .unwrap(),
                    )
                    .unwrap();
                }
                Resp {
                    status: out["statusCode"].as_u64().unwrap() as u16,
                    headers,
                    text,
                }
            }
            Self::Server { base, .. } => http(base, method, path, headers, body).await,
        }
    }
}

/// One plain HTTP/1.1 request.
pub async fn http(
    base: &str,
    method: &str,
    path: &str,
    headers: &[(String, String)],
    body: &str,
) -> Resp {
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let mut req = hyper::Request::builder()
        .method(method)
        .uri(format!("{base}{path}"));
    for (k, v) in headers {
        req = req.header(k, v);
    }
    let req = req.body(Full::new(Bytes::from(body.to_owned()))).unwrap();
    let resp = client.request(req).await.unwrap();
    let status = resp.status().as_u16();
    let headers = resp
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_owned()))
        .collect();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    Resp {
        status,
        headers,
        text: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

/// Percent-encodes every `/` of a name (the other characters AWS allows
/// need no encoding in a path).
pub fn enc(name: &str) -> String {
    name.replace('/', "%2F")
}

/// The audit lines of a log.
pub fn audit_lines(log: &str) -> Vec<Value> {
    log.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["fields"]["event"] == "audit")
        .collect()
}
