//! Redis ACL rotation by the real binary through the Runtime API, against
//! the emulator and the dedicated test Redis (ACL users, passwords over TCP).
#![allow(clippy::unwrap_used)]

mod common;

use common::redis_acl::{
    can_login, connect, create_user, password_count, rules, secret_json, slowlog,
};
use common::*;
use serde_json::Value;

fn initial_password() -> String {
    format!("Init-{}-pw", uuid::Uuid::new_v4().simple())
}

fn field(doc: &str, name: &str) -> String {
    let v: Value = serde_json::from_str(doc).unwrap();
    v[name].as_str().unwrap().to_owned()
}

/// What an application user may do, plus changing its own password.
const APP_RULES: &[&str] = &[
    "resetkeys",
    "~app:*",
    "resetchannels",
    "&app",
    "-@all",
    "+get",
    "+set",
    "+ping",
    "+acl|setuser",
];

async fn master_secret() -> String {
    let name = unique("rmaster");
    let pw = initial_password();
    // ACL SETUSER and ACL LIST only.
    create_user(&name, &pw, &["-@all", "+ping", "+acl|setuser", "+acl|list"]).await;
    create_secret(
        &unique("rmaster"),
        &secret_json(&name, &pw).to_string(),
        &[],
    )
    .await
}

#[tokio::test]
async fn single_user_rotation_cuts_no_client_off() {
    let user = unique("rapp");
    let p0 = initial_password();
    create_user(&user, &p0, APP_RULES).await;
    // A client connected before the rotation, and kept.
    let mut old_client = connect(&user, &p0).await.unwrap();
    let arn = create_secret(&unique("redis"), &secret_json(&user, &p0).to_string(), &[]).await;
    let v0 = holder(&labels(&arn).await, "AWSCURRENT").unwrap();
    let before = rules(&user).await;
    assert!(before.as_deref().unwrap().contains("~app:*"));
    let lambda = Lambda::start().await;

    let t1 = token();
    begin(&arn, &t1).await;
    for step in ["createSecret", "setSecret", "testSecret"] {
        lambda.step(&arn, &t1, step).await.unwrap();
        assert!(can_login(&user, &p0).await, "current works after {step}");
    }
    lambda.step(&arn, &t1, "finishSecret").await.unwrap();
    assert_rotated(&arn, &t1, &v0).await;
    let p1 = field(&value(&arn, "AWSCURRENT").await, "password");
    assert!(can_login(&user, &p1).await);
    assert!(
        can_login(&user, &p0).await,
        "the old password works until the next rotation"
    );
    redis::cmd("SET")
        .arg("app:k")
        .arg("v")
        .query_async::<()>(&mut old_client)
        .await
        .unwrap();
    assert_eq!(password_count(&user).await, 2);

    // The next rotation removes P0, keeps P1 next to P2.
    let t2 = token();
    begin(&arn, &t2).await;
    lambda.rotate(&arn, &t2).await.unwrap();
    let p2 = field(&value(&arn, "AWSCURRENT").await, "password");
    assert!(can_login(&user, &p2).await && can_login(&user, &p1).await);
    assert!(!can_login(&user, &p0).await, "two rotations back is gone");
    assert_eq!(password_count(&user).await, 2);
    assert_eq!(rules(&user).await, before, "only passwords changed");

    let log = slowlog().await;
    assert!(log.contains("SETUSER"), "the slow log is being read");
    for pw in [&p1, &p2] {
        assert!(!lambda.log().contains(pw.as_str()));
        assert!(!log.contains(pw.as_str()), "a password reached the server");
    }
}

#[tokio::test]
async fn alternating_users_copy_acl_rules_and_keep_the_previous_login() {
    let masterarn = master_secret().await;
    let user = unique("ralt");
    let clone = format!("{user}_clone");
    let p0 = initial_password();
    create_user(
        &user,
        &p0,
        &["~app:*", "&app", "-@all", "+get", "+ping", "(~b:* +set)"],
    )
    .await;
    let mut doc = secret_json(&user, &p0);
    doc["masterarn"] = Value::from(masterarn.as_str());
    let arn = create_secret(&unique("ralt"), &doc.to_string(), &[]).await;
    let lambda = Lambda::start().await;

    let t1 = token();
    begin(&arn, &t1).await;
    lambda.rotate(&arn, &t1).await.unwrap();
    let doc1 = value(&arn, "AWSCURRENT").await;
    assert_eq!(field(&doc1, "username"), clone);
    let p1 = field(&doc1, "password");
    assert!(can_login(&clone, &p1).await && can_login(&user, &p0).await);
    assert_eq!(rules(&clone).await, rules(&user).await, "same ACL rules");
    assert!(
        rules(&clone).await.unwrap().contains("(~b:* "),
        "{:?}",
        rules(&clone).await
    );

    let t2 = token();
    begin(&arn, &t2).await;
    lambda.rotate(&arn, &t2).await.unwrap();
    let doc2 = value(&arn, "AWSCURRENT").await;
    assert_eq!(field(&doc2, "username"), user);
    let p2 = field(&doc2, "password");
    assert!(can_login(&user, &p2).await && !can_login(&user, &p0).await);
    assert!(
        can_login(&clone, &p1).await,
        "the previous user still logs in"
    );
    assert!(!lambda.log().contains(&p1) && !lambda.log().contains(&p2));
}

#[tokio::test]
async fn steps_repeated_or_killed_converge() {
    for alternating in [false, true] {
        let user = unique("rrep");
        let p0 = initial_password();
        create_user(&user, &p0, APP_RULES).await;
        let mut doc = secret_json(&user, &p0);
        if alternating {
            doc["masterarn"] = Value::from(master_secret().await);
        }
        let arn = create_secret(&unique("rrep"), &doc.to_string(), &[]).await;
        let v0 = holder(&labels(&arn).await, "AWSCURRENT").unwrap();
        let t = token();
        begin(&arn, &t).await;
        crash_then_rerun(
            &arn,
            &t,
            &["createSecret", "createSecret", "setSecret", "setSecret"],
        )
        .await;
        assert_rotated(&arn, &t, &v0).await;
        let doc = value(&arn, "AWSCURRENT").await;
        assert!(
            can_login(&field(&doc, "username"), &field(&doc, "password")).await,
            "alternating: {alternating}"
        );
        assert!(can_login(&user, &p0).await);
    }
}

#[tokio::test]
async fn hostile_names_are_rotated_or_refused_and_failures_keep_current() {
    let lambda = Lambda::start().await;
    let user = format!("{}\"';\\$(x)", unique("rh"));
    let p0 = initial_password();
    create_user(&user, &p0, APP_RULES).await;
    let arn = create_secret(&unique("rh"), &secret_json(&user, &p0).to_string(), &[]).await;
    let t = token();
    begin(&arn, &t).await;
    lambda.rotate(&arn, &t).await.unwrap();
    let p1 = field(&value(&arn, "AWSCURRENT").await, "password");
    assert!(can_login(&user, &p1).await);

    // A name Redis cannot hold: refused at createSecret, nothing written.
    let arn = create_secret(&unique("rsp"), &secret_json("a b", &p0).to_string(), &[]).await;
    let t = token();
    begin(&arn, &t).await;
    let err = lambda.step(&arn, &t, "createSecret").await.unwrap_err();
    assert_eq!(err.error_type, "InvalidSecret", "{err}");

    // Wrong current password.
    let arn = create_secret(
        &unique("rstale"),
        &secret_json(&user, "stale-password-1").to_string(),
        &[],
    )
    .await;
    let t = token();
    begin(&arn, &t).await;
    lambda.step(&arn, &t, "createSecret").await.unwrap();
    let err = lambda.step(&arn, &t, "setSecret").await.unwrap_err();
    assert_eq!(err.error_type, "AuthenticationFailed", "{err}");

    // Nothing listening.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let mut doc = secret_json(&user, &p1);
    doc["port"] = Value::from(port);
    let arn = create_secret(&unique("rdown"), &doc.to_string(), &[]).await;
    let t = token();
    begin(&arn, &t).await;
    lambda.step(&arn, &t, "createSecret").await.unwrap();
    let pending = field(&value(&arn, "AWSPENDING").await, "password");
    let err = lambda.step(&arn, &t, "setSecret").await.unwrap_err();
    assert_eq!(err.error_type, "TargetUnreachable", "{err}");
    assert!(!err.error_message.contains(&pending) && !lambda.log().contains(&pending));
    assert!(can_login(&user, &p1).await, "current keeps working");
}
