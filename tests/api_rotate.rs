//! Rotate-and-wait and the value cache, through the API router served over
//! HTTP on loopback, against the AWS API emulator.
//!
//! The emulator cannot run a rotation function (without a Lambda it marks a
//! value-less version AWSCURRENT), so the backend here plays Secrets
//! Manager's part of RotateSecret: `begin_rotation` makes the AWSPENDING
//! version, and, where the test wants the rotation to finish, the real
//! rotation-lambda runs the four steps. It also counts GetSecretValue and
//! DescribeSecret calls, to observe the cache. Everything else is the real
//! AWS backend.
#![allow(clippy::unwrap_used)]

mod api_support;
mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use api_support::*;
use async_trait::async_trait;
use common::*;
use secrets_rotation::api::aws::AwsBackend;
use secrets_rotation::api::backend::{SecretMetadata, SecretPage, SecretValue, Which};
use secrets_rotation::api::{router, ApiConfig, AppState, SecretsBackend};
use secrets_rotation::store::StoreError;

struct PlaysSecretsManager {
    aws: AwsBackend,
    /// Finish rotations with the real rotation-lambda; None = "slow function".
    lambda: Option<Arc<Lambda>>,
    gets: AtomicUsize,
    describes: AtomicUsize,
}

#[async_trait]
impl SecretsBackend for PlaysSecretsManager {
    async fn get(&self, name: &str, which: &Which) -> Result<SecretValue, StoreError> {
        self.gets.fetch_add(1, Ordering::SeqCst);
        self.aws.get(name, which).await
    }
    async fn describe(&self, name: &str) -> Result<SecretMetadata, StoreError> {
        self.describes.fetch_add(1, Ordering::SeqCst);
        self.aws.describe(name).await
    }
    async fn list(&self, p: Option<&str>, t: Option<&str>) -> Result<SecretPage, StoreError> {
        self.aws.list(p, t).await
    }
    async fn rotate(&self, name: &str, token: &str) -> Result<String, StoreError> {
        secrets_rotation::local::begin_rotation(&sm_client(), name, token, FAKE_LAMBDA_ARN).await?;
        if let Some(lambda) = self.lambda.clone() {
            let (name, token) = (name.to_owned(), token.to_owned());
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(300)).await;
                lambda.rotate(&name, &token).await.unwrap();
            });
        }
        Ok(token.to_owned())
    }
}

struct Api {
    base: String,
    backend: Arc<PlaysSecretsManager>,
}

async fn serve(env: &[(&str, &str)], finish: bool) -> Api {
    let mut vars: HashMap<String, String> = [
        ("JWT_ISSUER", ISSUER),
        ("JWT_AUDIENCE", AUDIENCE),
        ("JWT_HS256_SECRET", HS_KEY),
        ("ALLOWED_SECRETS", "rot/**"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    vars.extend(env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    let config = ApiConfig::from_lookup(|k| vars.get(k).cloned()).unwrap();
    let lambda = if finish {
        Some(Arc::new(Lambda::start().await))
    } else {
        None
    };
    let backend = Arc::new(PlaysSecretsManager {
        aws: AwsBackend::new(sm_client()),
        lambda,
        gets: AtomicUsize::new(0),
        describes: AtomicUsize::new(0),
    });
    let state = AppState::new(config, backend.clone()).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, router(state)).await;
    });
    Api { base, backend }
}

impl Api {
    async fn req(&self, method: &str, path: &str, token: &str) -> Resp {
        http(
            &self.base,
            method,
            path,
            &[("authorization".into(), format!("Bearer {token}"))],
            "",
        )
        .await
    }
    fn gets(&self) -> usize {
        self.backend.gets.load(Ordering::SeqCst)
    }
    fn describes(&self) -> usize {
        self.backend.describes.load(Ordering::SeqCst)
    }
}

/// A secret with rotation configured and one finished rotation behind it.
async fn rotatable(name: &str, value: &str) -> String {
    let arn = create_secret(name, value, &[]).await;
    let lambda = Lambda::start().await;
    let t = token();
    begin(&arn, &t).await;
    lambda.rotate(&arn, &t).await.unwrap();
    arn
}

#[tokio::test]
async fn rotate_secret_waits_and_returns_the_new_value_to_readers_only() {
    let api = serve(&[("ROTATE_WAIT_SECONDS", "20")], true).await;
    let name = unique("rot/wait");
    rotatable(&name, "CANARY-rot-old").await;
    let old = value(&name, "AWSCURRENT").await;
    let all = hs256(&claims("ops", "secrets:read:rot/** secrets:rotate:rot/**"));
    let r = api
        .req("POST", &format!("/rotate-secret/{}", enc(&name)), &all)
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let v = r.json();
    assert_eq!(v["status"], "rotated");
    let cur = holder(&labels(&name).await, "AWSCURRENT").unwrap();
    assert_eq!(v["versionId"], cur.as_str());
    let new = value(&name, "AWSCURRENT").await;
    assert_ne!(new, old);
    assert_eq!(v["new_secret"], new.as_str());

    let rotate_only = hs256(&claims("bot", "secrets:rotate:rot/**"));
    let r = api
        .req(
            "POST",
            &format!("/rotate-secret/{}", enc(&name)),
            &rotate_only,
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert!(r.json().get("new_secret").is_none(), "{r:?}");
    assert!(!r.text.contains(&value(&name, "AWSCURRENT").await));
}

#[tokio::test]
async fn rotate_secret_answers_202_when_the_wait_runs_out() {
    let api = serve(&[("ROTATE_WAIT_SECONDS", "1")], false).await;
    let name = unique("rot/slow");
    rotatable(&name, "v").await;
    let all = hs256(&claims("ops", "secrets:read:rot/** secrets:rotate:rot/**"));
    let r = api
        .req("POST", &format!("/rotate-secret/{}", enc(&name)), &all)
        .await;
    assert_eq!(r.status, 202, "{r:?}");
    assert_eq!(r.json()["status"], "rotating");
    let version = r.json()["versionId"].as_str().unwrap().to_owned();
    // The API shows the rotation in progress, and refuses another.
    let s = api
        .req("GET", &format!("/secrets/{}/rotation", enc(&name)), &all)
        .await;
    assert_eq!(s.json()["inProgress"], true, "{s:?}");
    assert_eq!(s.json()["pendingVersionId"], version.as_str());
    let again = api
        .req("POST", &format!("/secrets/{}/rotate", enc(&name)), &all)
        .await;
    assert_eq!(again.status, 409, "{again:?}");
    assert_eq!(again.code(), "rotation_in_progress");
}

#[tokio::test]
async fn values_are_cached_renewed_by_describe_and_invalidated_by_rotate() {
    let api = serve(
        &[("CACHE_TTL_SECONDS", "1"), ("ROTATE_WAIT_SECONDS", "20")],
        true,
    )
    .await;
    let name = unique("rot/cache");
    rotatable(&name, "v1").await;
    let v1 = value(&name, "AWSCURRENT").await;
    let t = hs256(&claims("app", "secrets:read:rot/** secrets:rotate:rot/**"));
    let path = format!("/secrets/{}", enc(&name));
    assert_eq!(
        api.req("GET", &path, &t).await.json()["secret"],
        v1.as_str()
    );
    assert_eq!(api.gets(), 1);
    assert_eq!(
        api.req("GET", &path, &t).await.json()["secret"],
        v1.as_str()
    );
    assert_eq!(
        (api.gets(), api.describes()),
        (1, 0),
        "served from the cache"
    );

    // TTL over, same version: renewed by DescribeSecret, no GetSecretValue.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        api.req("GET", &path, &t).await.json()["secret"],
        v1.as_str()
    );
    assert_eq!((api.gets(), api.describes()), (1, 1));

    // Changed outside the API: seen once the TTL is over.
    // (moto copies AWSCURRENT instead of moving it when PutSecretValue
    // follows UpdateSecretVersionStage: deviation; move it explicitly.)
    let old_version = holder(&labels(&name).await, "AWSCURRENT").unwrap();
    let out = sm_client()
        .put_secret_value()
        .secret_id(&name)
        .secret_string("v-out-of-band")
        .version_stages("OUT_OF_BAND")
        .send()
        .await
        .unwrap();
    sm_client()
        .update_secret_version_stage()
        .secret_id(&name)
        .version_stage("AWSCURRENT")
        .move_to_version_id(out.version_id().unwrap())
        .remove_from_version_id(&old_version)
        .send()
        .await
        .unwrap();
    assert_eq!(
        api.req("GET", &path, &t).await.json()["secret"],
        v1.as_str(),
        "within TTL"
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        api.req("GET", &path, &t).await.json()["secret"],
        "v-out-of-band"
    );
    assert_eq!(api.gets(), 2);

    // A rotation through the API invalidates at once.
    let r = api
        .req("POST", &format!("/rotate-secret/{}", enc(&name)), &t)
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let after = api.req("GET", &path, &t).await.json();
    assert_eq!(after["secret"], value(&name, "AWSCURRENT").await.as_str());
    assert_ne!(after["secret"], "v-out-of-band");
}

#[tokio::test]
async fn a_zero_ttl_turns_the_cache_off() {
    let api = serve(&[("CACHE_TTL_SECONDS", "0")], false).await;
    let name = unique("rot/nocache");
    create_secret(&name, "v", &[]).await;
    let t = hs256(&claims("app", "secrets:read:rot/**"));
    for _ in 0..3 {
        assert_eq!(
            api.req("GET", &format!("/get-secret/{}", enc(&name)), &t)
                .await
                .status,
            200
        );
    }
    assert_eq!(api.gets(), 3);
}
