//! MySQL / MariaDB rotation by the real binary through the Runtime API,
//! against the emulator and the machine's MariaDB over TCP with passwords.
#![allow(clippy::unwrap_used)]

mod common;

use common::mysql::{self, can_login, create_user, exec, quote, secret_json, server_log};
use common::*;
use serde_json::Value;

fn initial_password() -> String {
    format!("Init-{}-pw", uuid::Uuid::new_v4().simple())
}

fn field(doc: &str, name: &str) -> String {
    let v: Value = serde_json::from_str(doc).unwrap();
    v[name].as_str().unwrap().to_owned()
}

async fn master_secret() -> String {
    master_secret_named().await.1
}

async fn master_secret_named() -> (String, String) {
    let name = unique("mmaster");
    let pw = initial_password();
    create_user(&name, &pw).await;
    exec(&format!(
        "GRANT ALL PRIVILEGES ON *.* TO {}@'%' WITH GRANT OPTION",
        quote(&name)
    ))
    .await;
    let arn = create_secret(
        &unique("mymaster"),
        &secret_json(&name, &pw).to_string(),
        &[],
    )
    .await;
    (name, arn)
}

async fn grants_of(user: &str) -> Vec<String> {
    let mut g: Vec<String> = mysql::query_strings(&format!("SHOW GRANTS FOR {}@'%'", quote(user)))
        .await
        .into_iter()
        // Neutral grantee, no password hash.
        .map(|r| {
            let r = r.replace(&format!("{}@`%`", quote(user)), "GRANTEE");
            match r.find(" IDENTIFIED BY PASSWORD") {
                Some(i) => r[..i].to_owned(),
                None => r,
            }
        })
        .collect();
    g.sort();
    g
}

async fn user_exists(user: &str) -> bool {
    !mysql::query_strings(&format!(
        "SELECT User FROM mysql.user WHERE User = '{}'",
        user.replace('\\', "\\\\").replace('\'', "''")
    ))
    .await
    .is_empty()
}

#[tokio::test]
async fn single_user_rotation_sends_a_hash_and_says_mariadb_cannot_retain() {
    let user = unique("myapp");
    let p0 = initial_password();
    create_user(&user, &p0).await;
    let mut doc = secret_json(&user, &p0);
    doc["extra_field"] = Value::from("kept");
    let arn = create_secret(&unique("my"), &doc.to_string(), &[]).await;
    let v0 = holder(&labels(&arn).await, "AWSCURRENT").unwrap();

    let lambda = Lambda::start().await;
    let t = token();
    begin(&arn, &t).await;
    lambda.rotate(&arn, &t).await.unwrap();
    assert_rotated(&arn, &t, &v0).await;
    let doc1 = value(&arn, "AWSCURRENT").await;
    let p1 = field(&doc1, "password");
    assert_eq!(field(&doc1, "extra_field"), "kept");
    assert!(can_login(&user, &p1).await, "the new password logs in");
    assert!(!can_login(&user, &p0).await, "MariaDB keeps one password");
    assert!(
        lambda.log().contains("dual_password_unsupported"),
        "the fallback is logged"
    );

    // The server's general log saw the hash, never the plaintext.
    let log = server_log();
    assert!(log.contains(&user), "the general log is being read");
    assert!(log.contains(&mysql::native_hash(&p1)), "a hash was sent");
    assert!(
        !log.contains(&p1),
        "the new password reached the server log"
    );
    assert!(!lambda.log().contains(&p1) && !lambda.log().contains(&p0));

    // Every step again: nothing changes.
    lambda.rotate(&arn, &t).await.unwrap();
    assert_eq!(value(&arn, "AWSCURRENT").await, doc1);
    assert!(can_login(&user, &p1).await);
}

#[tokio::test]
async fn alternating_users_copy_grants_and_keep_the_previous_login() {
    let (master, masterarn) = master_secret_named().await;
    let user = unique("myalt");
    let clone = format!("{user}_clone");
    let db = unique("d");
    let role = unique("r");
    let p0 = initial_password();
    create_user(&user, &p0).await;
    let (u, d, r) = (format!("{}@'%'", quote(&user)), quote(&db), quote(&role));
    for sql in [
        format!("CREATE DATABASE {d}"),
        format!("CREATE TABLE {d}.t (id int, note text)"),
        format!("GRANT SELECT, INSERT ON {d}.* TO {u}"),
        format!("GRANT UPDATE (note) ON {d}.t TO {u} WITH GRANT OPTION"),
        format!("CREATE ROLE {r}"),
        format!("GRANT DELETE ON {d}.t TO {r}"),
        format!("GRANT {r} TO {u}"),
        // As on RDS: the master administers the roles it hands out.
        format!("GRANT {r} TO {}@'%' WITH ADMIN OPTION", quote(&master)),
        format!("SET DEFAULT ROLE {r} FOR {u}"),
    ] {
        exec(&sql).await;
    }
    let expected = grants_of(&user).await;
    assert!(expected.len() >= 4, "{expected:?}");

    let mut doc = secret_json(&user, &p0);
    doc["masterarn"] = Value::from(masterarn.as_str());
    let arn = create_secret(&unique("myalt"), &doc.to_string(), &[]).await;
    let v0 = holder(&labels(&arn).await, "AWSCURRENT").unwrap();
    let lambda = Lambda::start().await;
    let t1 = token();
    begin(&arn, &t1).await;
    lambda.rotate(&arn, &t1).await.unwrap();
    assert_rotated(&arn, &t1, &v0).await;
    let doc1 = value(&arn, "AWSCURRENT").await;
    assert_eq!(field(&doc1, "username"), clone);
    let p1 = field(&doc1, "password");
    assert!(can_login(&clone, &p1).await);
    assert!(
        can_login(&user, &p0).await,
        "the previous user still logs in"
    );
    assert_eq!(grants_of(&clone).await, expected, "same grants");

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
    assert_eq!(grants_of(&user).await, expected);

    let log = server_log();
    for pw in [&p1, &p2] {
        assert!(
            !log.contains(pw.as_str()),
            "a password reached the server log"
        );
        assert!(!lambda.log().contains(pw.as_str()));
    }
}

#[tokio::test]
async fn steps_repeated_or_killed_converge() {
    for alternating in [false, true] {
        let user = unique("myrep");
        let p0 = initial_password();
        create_user(&user, &p0).await;
        let mut doc = secret_json(&user, &p0);
        if alternating {
            doc["masterarn"] = Value::from(master_secret().await);
        }
        let arn = create_secret(&unique("myrep"), &doc.to_string(), &[]).await;
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
    }
}

#[tokio::test]
async fn a_hostile_user_name_is_rotated_safely() {
    let victim = unique("victim");
    create_user(&victim, &initial_password()).await;
    let user = format!("h'`\"; DROP USER {victim};--\\");
    let p0 = initial_password();
    create_user(&user, &p0).await;
    let lambda = Lambda::start().await;
    for masterarn in [None, Some(master_secret().await)] {
        let mut doc = secret_json(&user, &p0);
        if let Some(m) = &masterarn {
            doc["masterarn"] = Value::from(m.as_str());
        }
        let arn = create_secret(&unique("myhostile"), &doc.to_string(), &[]).await;
        let t = token();
        begin(&arn, &t).await;
        lambda.rotate(&arn, &t).await.unwrap();
        let doc = value(&arn, "AWSCURRENT").await;
        assert!(can_login(&field(&doc, "username"), &field(&doc, "password")).await);
        if masterarn.is_none() {
            // The next secret starts from the rotated password.
            exec(&format!(
                "ALTER USER {}@'%' IDENTIFIED BY PASSWORD '{}'",
                quote(&user),
                mysql::native_hash(&p0)
            ))
            .await;
        }
    }
    assert!(user_exists(&victim).await, "the other user still exists");
}

#[tokio::test]
async fn bad_secrets_and_refusing_targets_fail_clearly_and_keep_current() {
    let lambda = Lambda::start().await;
    // Missing host: refused at createSecret, naming the field.
    let user = unique("mybad");
    let p0 = initial_password();
    create_user(&user, &p0).await;
    let mut doc = secret_json(&user, &p0);
    doc.as_object_mut().unwrap().remove("host");
    let arn = create_secret(&unique("mybad"), &doc.to_string(), &[]).await;
    let t = token();
    begin(&arn, &t).await;
    let err = lambda.step(&arn, &t, "createSecret").await.unwrap_err();
    assert_eq!(err.error_type, "InvalidSecret", "{err}");
    assert!(err.error_message.contains("'host'") && !err.error_message.contains(&p0));

    // Wrong current password.
    let stale = initial_password();
    let arn = create_secret(
        &unique("mystale"),
        &secret_json(&user, &stale).to_string(),
        &[],
    )
    .await;
    let t = token();
    begin(&arn, &t).await;
    lambda.step(&arn, &t, "createSecret").await.unwrap();
    let pending = field(&value(&arn, "AWSPENDING").await, "password");
    let err = lambda.step(&arn, &t, "setSecret").await.unwrap_err();
    assert_eq!(err.error_type, "AuthenticationFailed", "{err}");
    assert!(!err.error_message.contains(&stale) && !err.error_message.contains(&pending));

    // Nothing listening: the step fails, current is untouched and still works.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let mut doc = secret_json(&user, &p0);
    doc["port"] = Value::from(port);
    let arn = create_secret(&unique("mydown"), &doc.to_string(), &[]).await;
    let t = token();
    begin(&arn, &t).await;
    lambda.step(&arn, &t, "createSecret").await.unwrap();
    let err = lambda.step(&arn, &t, "setSecret").await.unwrap_err();
    assert_eq!(err.error_type, "TargetUnreachable", "{err}");
    assert_eq!(field(&value(&arn, "AWSCURRENT").await, "password"), p0);
    assert!(can_login(&user, &p0).await);
    assert!(!lambda.log().contains(&p0) && !lambda.log().contains(&pending));
}
