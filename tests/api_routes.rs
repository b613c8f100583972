//! Every route, through both the real `api-lambda` (API Gateway v2 events)
//! and `secrets-rotation serve` (HTTP), against the AWS API emulator.
//!
//! moto deviations tolerated here:
//! - RotateSecret without RotationLambdaARN (what the API sends, as AWS
//!   documents) does not invoke the function: moto moves AWSCURRENT at once
//!   onto a new version that has no value, and forgets the Lambda ARN.
//! - moto refuses RotateSecret when AWSPENDING sits on the AWSCURRENT
//!   version (inverted check) and accepts it when AWSPENDING is elsewhere;
//!   the API checks DescribeSecret itself first, so the 409 below is ours.
//! - A rotation configured with a Lambda that does not exist in moto leaves
//!   AWSPENDING on a version without a value (used as "in progress").
#![allow(clippy::unwrap_used)]

mod api_support;
mod common;

use api_support::*;
use common::*;
use serde_json::json;

const CANARY: &str = "CANARY-api-routes-3f9a";

async fn both(extra: &[(&str, &str)]) -> Vec<Transport> {
    let mut env = vec![
        ("JWT_HS256_SECRET", HS_KEY),
        ("ALLOWED_SECRETS", "routes/**"),
    ];
    env.extend_from_slice(extra);
    vec![Transport::lambda(&env).await, Transport::server(&env).await]
}

fn all_scopes() -> String {
    hs256(&claims(
        "ops",
        "secrets:read:routes/** secrets:rotate:routes/** secrets:list",
    ))
}

/// A secret whose rotation has run once (Secrets Manager's part played by
/// `begin`, the function's by the real rotation-lambda): rotation enabled,
/// no AWSPENDING left anywhere.
async fn rotatable(name: &str) -> String {
    let arn = create_secret(name, CANARY, &[]).await;
    let lambda = Lambda::start().await;
    let t = token();
    begin(&arn, &t).await;
    lambda.rotate(&arn, &t).await.unwrap();
    arn
}

#[tokio::test]
async fn reads_return_the_value_and_metadata() {
    let name = unique("routes/app/db");
    let arn = create_secret(&name, CANARY, &[]).await;
    let first = holder(&labels(&arn).await, "AWSCURRENT").unwrap();
    sm_client()
        .put_secret_value()
        .secret_id(&arn)
        .secret_string("second-value")
        .send()
        .await
        .unwrap();
    let bin = unique("routes/bin");
    sm_client()
        .create_secret()
        .name(&bin)
        .secret_binary(aws_sdk_secretsmanager::primitives::Blob::new(vec![
            0u8, 1, 2, 255,
        ]))
        .send()
        .await
        .unwrap();
    let t = all_scopes();
    for api in both(&[]).await {
        let n = api.name();
        // The name's "/" literally or as %2F.
        for p in [
            format!("/secrets/{name}"),
            format!("/secrets/{}", enc(&name)),
        ] {
            let r = api.get(&p, Some(&t)).await;
            assert_eq!(r.status, 200, "{n} {p}: {r:?}");
            let v = r.json();
            assert_eq!(v["name"], name.as_str());
            assert_eq!(v["arn"], arn.as_str());
            assert_eq!(v["secret"], "second-value");
            assert_eq!(v["versionStages"], json!(["AWSCURRENT"]), "{n}");
        }
        let r = api
            .get(
                &format!("/secrets/{}?versionStage=AWSPREVIOUS", enc(&name)),
                Some(&t),
            )
            .await;
        assert_eq!(r.json()["secret"], CANARY, "{n}: {r:?}");
        assert_eq!(r.json()["versionId"], first.as_str());
        let r = api
            .get(
                &format!("/secrets/{}?versionId={first}", enc(&name)),
                Some(&t),
            )
            .await;
        assert_eq!(r.json()["secret"], CANARY, "{n}: {r:?}");
        let r = api
            .get(&format!("/get-secret/{}", enc(&name)), Some(&t))
            .await;
        assert_eq!(r.json(), json!({"secret": "second-value"}), "{n}");
        let r = api.get(&format!("/secrets/{}", enc(&bin)), Some(&t)).await;
        assert_eq!(r.json()["secretBinary"], "AAEC/w==", "{n}: {r:?}");
        let r = api
            .get(
                &format!("/secrets/{}", enc(&unique("routes/none"))),
                Some(&t),
            )
            .await;
        assert_eq!(
            (r.status, r.code().as_str()),
            (404, "not_found"),
            "{n}: {r:?}"
        );
        let r = api
            .get(
                &format!("/secrets/{}?versionStage=bad%20stage", enc(&name)),
                Some(&t),
            )
            .await;
        assert_eq!(r.status, 400, "{n}: {r:?}");
        let log = api.log();
        assert!(
            !log.contains(CANARY) && !log.contains("second-value"),
            "{n}: value in log"
        );
    }
}

#[tokio::test]
async fn bad_input_gets_a_4xx_naming_the_problem() {
    let t = all_scopes();
    for api in both(&[]).await {
        let n = api.name();
        for (path, needle) in [
            ("/secrets/routes%2F..%2Fother", "traversal"),
            ("/secrets/routes/../../etc/passwd", "traversal"),
            ("/secrets/routes/%2E%2E/x", "traversal"),
            ("/secrets/routes%2Fa%00b", "NUL"),
            ("/secrets/routes%2Fa%0Ab", "control"),
            ("/get-secret/routes%2Fa%7Fb", "control"),
        ] {
            let r = api.get(path, Some(&t)).await;
            assert_eq!(r.status, 400, "{n} {path}: {r:?}");
            assert_eq!(r.code(), "invalid_name", "{n} {path}");
            assert!(r.text.contains(needle), "{n} {path}: {r:?}");
        }
        let r = api.get("/nope", Some(&t)).await;
        assert_eq!(
            (r.status, r.code().as_str()),
            (404, "route_not_found"),
            "{n}: {r:?}"
        );
        let r = api.call("DELETE", "/secrets/routes%2Fx", &[], "").await;
        assert_eq!(
            (r.status, r.code().as_str()),
            (405, "method_not_allowed"),
            "{n}: {r:?}"
        );
        let r = api.post("/secrets/routes%2Fx", Some(&t)).await;
        assert_eq!(r.status, 405, "{n}: POST without /rotate: {r:?}");
        let r = api.call("POST", "/healthz", &[], "").await;
        assert_eq!(r.status, 405, "{n}: {r:?}");
        let big = "b".repeat(20_000);
        let r = api
            .call(
                "POST",
                "/secrets/routes%2Fx/rotate",
                &[("authorization".into(), format!("Bearer {t}"))],
                &big,
            )
            .await;
        assert_eq!(
            (r.status, r.code().as_str()),
            (413, "payload_too_large"),
            "{n}: {r:?}"
        );
        // Public routes.
        let r = api.get("/healthz", None).await;
        assert_eq!(r.status, 200, "{n}");
        assert!(r.header("x-request-id").is_some());
    }
}

#[tokio::test]
async fn rotate_starts_conflicts_and_names_missing_configuration() {
    let ready = unique("routes/rot");
    rotatable(&ready).await;
    let busy = unique("routes/busy");
    let busy_arn = create_secret(&busy, CANARY, &[]).await;
    begin(&busy_arn, &token()).await; // AWSPENDING left on a version of its own
    let off = unique("routes/off");
    create_secret(&off, CANARY, &[]).await;
    let t = all_scopes();
    let rotate_only = hs256(&claims("bot", "secrets:rotate:routes/**"));
    let read_only = hs256(&claims("bot", "secrets:read:routes/**"));
    for api in both(&[("ROTATE_WAIT_SECONDS", "5")]).await {
        let n = api.name();
        let r = api
            .get(
                &format!("/secrets/{}/rotation", enc(&busy)),
                Some(&read_only),
            )
            .await;
        assert_eq!(r.status, 200, "{n}: {r:?}");
        let v = r.json();
        assert_eq!(v["rotationEnabled"], true);
        assert_eq!(v["inProgress"], true);
        assert!(v["pendingVersionId"].is_string(), "{v}");
        assert_eq!(v["rotationRules"]["automaticallyAfterDays"], 30);
        assert!(!r.text.contains(CANARY));

        let r = api
            .post(&format!("/secrets/{}/rotate", enc(&busy)), Some(&t))
            .await;
        assert_eq!(
            (r.status, r.code().as_str()),
            (409, "rotation_in_progress"),
            "{n}: {r:?}"
        );
        let r = api
            .post(&format!("/rotate-secret/{}", enc(&busy)), Some(&t))
            .await;
        assert_eq!(r.status, 409, "{n}: {r:?}");
        let r = api
            .post(&format!("/secrets/{}/rotate", enc(&off)), Some(&t))
            .await;
        assert_eq!(
            (r.status, r.code().as_str()),
            (400, "rotation_not_configured"),
            "{n}: {r:?}"
        );
        assert!(r.text.contains(&off), "names the secret: {r:?}");
        let r = api
            .post(
                &format!("/secrets/{}/rotate", enc(&ready)),
                Some(&read_only),
            )
            .await;
        assert_eq!(
            r.code(),
            "insufficient_scope",
            "{n}: read scope cannot rotate"
        );
    }
    // 202 through the Lambda (moto then moves AWSCURRENT itself, see above).
    let apis = both(&[("ROTATE_WAIT_SECONDS", "5")]).await;
    let before = holder(&labels(&ready).await, "AWSCURRENT").unwrap();
    let r = apis[0]
        .post(
            &format!("/secrets/{}/rotate", enc(&ready)),
            Some(&rotate_only),
        )
        .await;
    assert_eq!(r.status, 202, "{r:?}");
    let v = r.json();
    assert_eq!(v["status"], "rotating");
    assert_eq!(v["name"], ready.as_str());
    let version = v["versionId"].as_str().unwrap().to_owned();
    assert_ne!(version, before);
    assert!(
        labels(&ready).await.contains_key(&version),
        "RotateSecret made version {version}"
    );

    // POST /rotate-secret is not run against moto here: without a Lambda
    // it marks a version without a value AWSCURRENT (deviation). Its 200 and
    // 202 paths run in api_rotate.rs, with the real rotation-lambda.
    let audits = audit_lines(&apis[0].log());
    assert!(
        audits.iter().any(|a| a["fields"]["action"] == "rotate"
            && a["fields"]["principal"] == "bot"
            && a["fields"]["secret"] == ready.as_str()
            && a["fields"]["status"] == 202),
        "{audits:?}"
    );
}

#[tokio::test]
async fn openapi_lists_exactly_the_routes_served() {
    for api in both(&[]).await {
        let r = api.get("/openapi.json", None).await;
        assert_eq!(r.status, 200);
        let doc = r.json();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
        let paths = doc["paths"].as_object().unwrap();
        let mut seen = Vec::new();
        for (path, ops) in paths {
            for method in ops.as_object().unwrap().keys() {
                let concrete = path.replace("{name}", "routes%2Fdoc");
                let r = api.call(&method.to_uppercase(), &concrete, &[], "").await;
                assert!(
                    !matches!(r.code().as_str(), "route_not_found" | "method_not_allowed"),
                    "{} {method} {path} is documented but not served: {r:?}",
                    api.name()
                );
                seen.push(format!("{} {path}", method.to_uppercase()));
            }
        }
        seen.sort();
        let mut expected = vec![
            "GET /healthz",
            "GET /openapi.json",
            "GET /secrets",
            "GET /secrets/{name}",
            "POST /secrets/{name}/rotate",
            "GET /secrets/{name}/rotation",
            "GET /get-secret/{name}",
            "POST /rotate-secret/{name}",
        ];
        expected.sort();
        assert_eq!(seen, expected);
    }
}

#[tokio::test]
async fn a_bad_configuration_fails_opaquely_and_logs_the_variable() {
    let api = Transport::lambda(&[("JWT_HS256_SECRET", "short"), ("ALLOWED_SECRETS", "**")]).await;
    let r = api.get("/healthz", None).await;
    assert_eq!(r.status, 500, "{r:?}");
    assert_eq!(r.code(), "internal_error");
    assert!(!r.text.contains("JWT_HS256_SECRET"), "opaque: {r:?}");
    let log = api.log();
    assert!(
        log.contains("bad_configuration") && log.contains("JWT_HS256_SECRET"),
        "{log}"
    );
    assert!(!log.contains("\"short\""), "{log}");
}
