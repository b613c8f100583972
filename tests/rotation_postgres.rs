//! PostgreSQL single-user rotation by the real binary through the Runtime
//! API, against the emulator and the throwaway SCRAM cluster.
#![allow(clippy::unwrap_used)]

mod common;

use common::pg::{self, can_login, create_role, secret_json, server_log};
use common::*;
use serde_json::Value;

/// A distinctive initial password; the rotated one is read back from the store.
fn initial_password() -> String {
    format!("Init-{}-pw", uuid::Uuid::new_v4().simple())
}

async fn pg_secret(user: &str, password: &str) -> String {
    let mut doc = secret_json(user, password);
    doc["extra_field"] = Value::from("kept");
    create_secret(&unique("pg"), &doc.to_string(), &[]).await
}

fn password_of(doc: &str) -> String {
    let v: Value = serde_json::from_str(doc).unwrap();
    v["password"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn single_user_rotation_end_to_end() {
    let user = unique("app");
    let p0 = initial_password();
    create_role(&user, &p0).await;
    let arn = pg_secret(&user, &p0).await;
    let old = holder(&labels(&arn).await, "AWSCURRENT").unwrap();

    let lambda = Lambda::start().await;
    let t = token();
    begin(&arn, &t).await;
    lambda.rotate(&arn, &t).await.unwrap();

    assert_rotated(&arn, &t, &old).await;
    let doc = value(&arn, "AWSCURRENT").await;
    let p1 = password_of(&doc);
    assert_ne!(p1, p0);
    assert!(can_login(&user, &p1).await, "the new password logs in");
    assert!(
        !can_login(&user, &p0).await,
        "the old password no longer does"
    );
    let v: Value = serde_json::from_str(&doc).unwrap();
    assert_eq!(v["extra_field"], "kept");
    assert_eq!(v["username"], user.as_str());
    assert_eq!(v["engine"], "postgres");

    // The server saw the verifier, never the plaintext.
    let log = server_log();
    assert!(log.contains(&user), "the server log is being read");
    assert!(log.contains("SCRAM-SHA-256$4096:"), "a verifier was sent");
    assert!(
        !log.contains(&p1),
        "the new password reached the server log"
    );
    assert!(
        !lambda.log().contains(&p1),
        "the new password reached our log"
    );
    assert!(!lambda.log().contains(&p0));

    // Every step again after the end: success, nothing changes.
    lambda.rotate(&arn, &t).await.unwrap();
    assert_eq!(value(&arn, "AWSCURRENT").await, doc);
    assert!(can_login(&user, &p1).await);
}

#[tokio::test]
async fn each_step_repeated_converges() {
    let user = unique("rep");
    let p0 = initial_password();
    create_role(&user, &p0).await;
    let arn = pg_secret(&user, &p0).await;
    let old = holder(&labels(&arn).await, "AWSCURRENT").unwrap();
    let lambda = Lambda::start().await;
    let t = token();
    begin(&arn, &t).await;
    for step in ["createSecret", "setSecret", "testSecret", "finishSecret"] {
        lambda.step(&arn, &t, step).await.unwrap();
        lambda.step(&arn, &t, step).await.unwrap();
    }
    assert_rotated(&arn, &t, &old).await;
    assert!(can_login(&user, &password_of(&value(&arn, "AWSCURRENT").await)).await);
}

#[tokio::test]
async fn a_process_killed_between_any_two_steps_converges() {
    let steps = ["createSecret", "setSecret", "testSecret", "finishSecret"];
    for crash_after in 0..steps.len() {
        let user = unique("crash");
        let p0 = initial_password();
        create_role(&user, &p0).await;
        let arn = pg_secret(&user, &p0).await;
        let old = holder(&labels(&arn).await, "AWSCURRENT").unwrap();
        let t = token();
        begin(&arn, &t).await;
        crash_then_rerun(&arn, &t, &steps[..=crash_after]).await;
        assert_rotated(&arn, &t, &old).await;
        let p1 = password_of(&value(&arn, "AWSCURRENT").await);
        assert!(
            can_login(&user, &p1).await,
            "crash after step {crash_after}"
        );
        assert!(!can_login(&user, &p0).await);
    }
}

#[tokio::test]
async fn a_hostile_user_name_is_rotated_safely() {
    let victim = unique("victim");
    create_role(&victim, &initial_password()).await;
    let user = format!("x\"; DROP ROLE {victim};--");
    let p0 = initial_password();
    create_role(&user, &p0).await;
    let arn = pg_secret(&user, &p0).await;
    let lambda = Lambda::start().await;
    let t = token();
    begin(&arn, &t).await;
    lambda.rotate(&arn, &t).await.unwrap();
    let p1 = password_of(&value(&arn, "AWSCURRENT").await);
    assert!(can_login(&user, &p1).await);
    let rows = pg::admin()
        .await
        .query("SELECT 1 FROM pg_roles WHERE rolname = $1", &[&victim])
        .await
        .unwrap();
    assert_eq!(rows.len(), 1, "the other role still exists");
}

#[tokio::test]
async fn an_unreachable_target_fails_the_step_and_keeps_current() {
    // A port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let p0 = initial_password();
    let mut doc = secret_json("nobody", &p0);
    doc["port"] = Value::from(port);
    let arn = create_secret(&unique("down"), &doc.to_string(), &[]).await;
    let lambda = Lambda::start().await;
    let t = token();
    begin(&arn, &t).await;
    lambda.step(&arn, &t, "createSecret").await.unwrap();
    let pending = value(&arn, "AWSPENDING").await;
    let err = lambda.step(&arn, &t, "setSecret").await.unwrap_err();
    assert_eq!(err.error_type, "TargetUnreachable", "{err}");
    assert!(!err.error_message.contains(&password_of(&pending)), "{err}");
    assert!(!err.error_message.contains(&p0), "{err}");
    assert_eq!(password_of(&value(&arn, "AWSCURRENT").await), p0);
    // The rotation stays retryable with the same token.
    assert_eq!(
        holder(&labels(&arn).await, "AWSPENDING").as_deref(),
        Some(t.as_str())
    );
}

#[tokio::test]
async fn wrong_current_credentials_fail_without_leaking() {
    let user = unique("wrong");
    create_role(&user, &initial_password()).await;
    let stale = initial_password();
    let arn = pg_secret(&user, &stale).await;
    let lambda = Lambda::start().await;
    let t = token();
    begin(&arn, &t).await;
    lambda.step(&arn, &t, "createSecret").await.unwrap();
    let err = lambda.step(&arn, &t, "setSecret").await.unwrap_err();
    assert_eq!(err.error_type, "AuthenticationFailed", "{err}");
    assert!(!err.error_message.contains(&stale));
    assert!(!lambda.log().contains(&stale));
}

#[tokio::test]
async fn a_pending_secret_naming_another_target_is_refused() {
    let user = unique("deputy");
    let p0 = initial_password();
    create_role(&user, &p0).await;
    let arn = pg_secret(&user, &p0).await;
    let lambda = Lambda::start().await;
    // Pending written by someone else, pointing at another host or user.
    for (field, bad) in [
        ("host", Value::from("10.0.0.1")),
        ("username", Value::from("postgres")),
    ] {
        let t = token();
        begin(&arn, &t).await;
        let mut doc = secret_json(&user, "Other-pw-123");
        doc[field] = bad;
        sm_client()
            .put_secret_value()
            .secret_id(&arn)
            .client_request_token(&t)
            .secret_string(doc.to_string())
            .version_stages("AWSPENDING")
            .send()
            .await
            .unwrap();
        let err = lambda.step(&arn, &t, "setSecret").await.unwrap_err();
        assert_eq!(err.error_type, "TargetMismatch", "{field}: {err}");
        // Clear the pending label for the next case.
        sm_client()
            .update_secret_version_stage()
            .secret_id(&arn)
            .version_stage("AWSPENDING")
            .remove_from_version_id(&t)
            .send()
            .await
            .unwrap();
    }
    assert!(can_login(&user, &p0).await, "current credentials untouched");
}

#[tokio::test]
async fn previous_credentials_are_used_when_current_is_stale() {
    // Single-user window: the password was changed by a setSecret whose
    // finish never ran, and then an operator restored the old label order.
    let user = unique("prev");
    let p0 = initial_password();
    create_role(&user, &p0).await;
    let arn = pg_secret(&user, &p0).await;
    let lambda = Lambda::start().await;
    let t1 = token();
    begin(&arn, &t1).await;
    lambda.rotate(&arn, &t1).await.unwrap();
    let p1 = password_of(&value(&arn, "AWSCURRENT").await);
    // The database is restored to the older password, so AWSCURRENT is stale
    // and only AWSPREVIOUS logs in.
    let verifier = postgres_protocol::password::scram_sha_256(p0.as_bytes());
    pg::admin()
        .await
        .batch_execute(&format!(
            "ALTER ROLE {} PASSWORD '{verifier}'",
            pg::quote(&user)
        ))
        .await
        .unwrap();
    assert!(!can_login(&user, &p1).await);
    let t2 = token();
    begin(&arn, &t2).await;
    lambda.rotate(&arn, &t2).await.unwrap();
    let p2 = password_of(&value(&arn, "AWSCURRENT").await);
    assert!(can_login(&user, &p2).await);
}

#[tokio::test]
async fn ssl_true_requires_tls_and_absent_falls_back_to_plain() {
    // The SCRAM cluster runs without TLS.
    let user = unique("tls");
    let p0 = initial_password();
    create_role(&user, &p0).await;
    let lambda = Lambda::start().await;

    let mut required = secret_json(&user, &p0);
    required["ssl"] = Value::from(true);
    let arn = create_secret(&unique("tls_req"), &required.to_string(), &[]).await;
    let t = token();
    begin(&arn, &t).await;
    lambda.step(&arn, &t, "createSecret").await.unwrap();
    let err = lambda.step(&arn, &t, "setSecret").await.unwrap_err();
    assert_eq!(err.error_type, "TargetUnreachable", "{err}");
    assert!(can_login(&user, &p0).await, "nothing changed");

    let mut absent = secret_json(&user, &p0);
    absent.as_object_mut().unwrap().remove("ssl");
    let arn = create_secret(&unique("tls_opt"), &absent.to_string(), &[]).await;
    let old = holder(&labels(&arn).await, "AWSCURRENT").unwrap();
    let t = token();
    begin(&arn, &t).await;
    lambda.rotate(&arn, &t).await.unwrap();
    assert_rotated(&arn, &t, &old).await;
    assert!(can_login(&user, &password_of(&value(&arn, "AWSCURRENT").await)).await);
}
