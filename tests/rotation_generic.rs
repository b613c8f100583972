//! Generic secrets rotated by the real binary through the Runtime API,
//! against the AWS API emulator.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use serde_json::{json, Value};

const CANARY: &str = "CANARY-generic-91b2";

#[tokio::test]
async fn plain_and_json_secrets_rotate() {
    let lambda = Lambda::start().await;

    let plain = create_secret(&unique("plain"), CANARY, &[]).await;
    let old = holder(&labels(&plain).await, "AWSCURRENT").unwrap();
    let t = token();
    begin(&plain, &t).await;
    lambda.rotate(&plain, &t).await.unwrap();
    assert_rotated(&plain, &t, &old).await;
    let new = value(&plain, "AWSCURRENT").await;
    assert_eq!(new.chars().count(), 32);
    assert_ne!(new, CANARY);
    assert_eq!(value(&plain, "AWSPREVIOUS").await, CANARY);

    let doc = json!({"password": CANARY, "client_id": "abc", "nested": {"k": [1, 2]}});
    let js = create_secret(&unique("json"), &doc.to_string(), &[]).await;
    let old = holder(&labels(&js).await, "AWSCURRENT").unwrap();
    let t = token();
    begin(&js, &t).await;
    lambda.rotate(&js, &t).await.unwrap();
    assert_rotated(&js, &t, &old).await;
    let v: Value = serde_json::from_str(&value(&js, "AWSCURRENT").await).unwrap();
    assert_ne!(v["password"], CANARY);
    assert_eq!(v["client_id"], "abc");
    assert_eq!(v["nested"], json!({"k": [1, 2]}));

    // Re-running a finished rotation changes nothing.
    let before = value(&js, "AWSCURRENT").await;
    lambda.rotate(&js, &t).await.unwrap();
    assert_eq!(value(&js, "AWSCURRENT").await, before);

    let log = lambda.log();
    assert!(
        log.contains("AWSCURRENT moved"),
        "the function logged: {log}"
    );
    assert!(!log.contains(CANARY), "a value reached the log");
    assert!(!log.contains(&new), "a new value reached the log");
}

#[tokio::test]
async fn unsupported_shapes_fail_clearly_and_lose_nothing() {
    let lambda = Lambda::start().await;
    for bad in [
        format!(r#"["{CANARY}"]"#),
        format!(r#"{{"apikey":"{CANARY}"}}"#),
    ] {
        let arn = create_secret(&unique("bad"), &bad, &[]).await;
        let t = token();
        begin(&arn, &t).await;
        let err = lambda.step(&arn, &t, "createSecret").await.unwrap_err();
        assert_eq!(err.error_type, "InvalidSecret", "{err}");
        assert!(err.error_message.contains(&arn), "names the secret: {err}");
        assert!(!err.error_message.contains(CANARY), "{err}");
        assert_eq!(value(&arn, "AWSCURRENT").await, bad, "current value kept");
    }
    assert!(!lambda.log().contains(CANARY));
}

#[tokio::test]
async fn malformed_events_and_unknown_steps_are_rejected() {
    let lambda = Lambda::start().await;
    let err = lambda.invoke(json!({"SecretId": "x"})).await.unwrap_err();
    assert_eq!(err.error_type, "InvalidEvent");
    assert!(err.error_message.contains("ClientRequestToken"), "{err}");
    let arn = create_secret(&unique("step"), "v", &[]).await;
    let t = token();
    begin(&arn, &t).await;
    let err = lambda.step(&arn, &t, "deleteSecret").await.unwrap_err();
    assert_eq!(err.error_type, "UnknownStep");
    let err = lambda
        .step(&arn, &token(), "createSecret")
        .await
        .unwrap_err();
    assert_eq!(err.error_type, "VersionNotFound");
    // A secret without rotation enabled is refused by the guard.
    let off = create_secret(&unique("off"), "v", &[]).await;
    let err = lambda.step(&off, &t, "createSecret").await.unwrap_err();
    assert_eq!(err.error_type, "RotationNotEnabled");
}

#[tokio::test]
async fn the_password_policy_comes_from_environment_and_tags() {
    let lambda =
        Lambda::start_with(&[("PASSWORD_LENGTH", "20"), ("EXCLUDE_PUNCTUATION", "true")]).await;
    let arn = create_secret(&unique("pol"), "v", &[]).await;
    let t = token();
    begin(&arn, &t).await;
    lambda.rotate(&arn, &t).await.unwrap();
    let v = value(&arn, "AWSCURRENT").await;
    assert_eq!(v.len(), 20);
    assert!(
        v.chars().all(|c| c.is_ascii_alphanumeric()),
        "no punctuation"
    );

    let tagged = create_secret(
        &unique("tag"),
        "v",
        &[("secrets-rotation:password-length", "40")],
    )
    .await;
    let t = token();
    begin(&tagged, &t).await;
    lambda.rotate(&tagged, &t).await.unwrap();
    assert_eq!(value(&tagged, "AWSCURRENT").await.len(), 40);
}

#[tokio::test]
async fn an_impossible_policy_stops_the_function_at_init() {
    let lambda = Lambda::start_with(&[("PASSWORD_LENGTH", "2")]).await;
    let arn = create_secret(&unique("init"), "v", &[]).await;
    let err = lambda
        .step(&arn, &token(), "createSecret")
        .await
        .unwrap_err();
    assert_eq!(err.error_type, "ConfigurationError");
    assert!(err.error_message.contains("PASSWORD_LENGTH"), "{err}");
    assert!(
        lambda.log().contains("bad_configuration"),
        "{}",
        lambda.log()
    );
}

#[tokio::test]
async fn secrets_manager_endpoint_wins_over_aws_endpoint_url() {
    // The templates' variable names the emulator; the SDK's general one
    // points at a closed port. The rotation must go to the former.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let moto = aws_endpoint();
    let lambda = Lambda::start_with(&[
        ("SECRETS_MANAGER_ENDPOINT", moto.as_str()),
        ("AWS_ENDPOINT_URL", dead.as_str()),
    ])
    .await;
    let arn = create_secret(&unique("ep"), "v", &[]).await;
    let old = holder(&labels(&arn).await, "AWSCURRENT").unwrap();
    let t = token();
    begin(&arn, &t).await;
    lambda.rotate(&arn, &t).await.unwrap();
    assert_rotated(&arn, &t, &old).await;
}
