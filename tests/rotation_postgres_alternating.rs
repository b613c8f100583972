//! PostgreSQL alternating-users rotation (`masterarn`) by the real binary
//! through the Runtime API, against the emulator and the SCRAM cluster.
#![allow(clippy::unwrap_used)]

mod common;

use common::pg::{self, can_login, create_role, quote, secret_json, server_log};
use common::*;
use serde_json::Value;

fn initial_password() -> String {
    format!("Init-{}-pw", uuid::Uuid::new_v4().simple())
}

fn field(doc: &str, name: &str) -> String {
    let v: Value = serde_json::from_str(doc).unwrap();
    v[name].as_str().unwrap().to_owned()
}

/// A superuser login of its own and the secret holding it.
async fn master_secret() -> (String, String) {
    let name = unique("master");
    let pw = initial_password();
    create_role(&name, &pw).await;
    pg::admin()
        .await
        .batch_execute(&format!("ALTER ROLE {} SUPERUSER", quote(&name)))
        .await
        .unwrap();
    let arn = create_secret(
        &unique("pgmaster"),
        &secret_json(&name, &pw).to_string(),
        &[],
    )
    .await;
    (name, arn)
}

async fn alternating_secret(user: &str, password: &str, masterarn: &str) -> String {
    let mut doc = secret_json(user, password);
    doc["masterarn"] = Value::from(masterarn);
    doc["extra_field"] = Value::from("kept");
    create_secret(&unique("pgalt"), &doc.to_string(), &[]).await
}

async fn role_exists(name: &str) -> bool {
    pg::admin()
        .await
        .query_opt("SELECT 1 FROM pg_roles WHERE rolname = $1", &[&name])
        .await
        .unwrap()
        .is_some()
}

/// The rights that matter for the test, as the server evaluates them.
async fn rights_of(role: &str, schema: &str, group: &str) -> Vec<bool> {
    let admin = pg::admin().await;
    let row = admin
        .query_one(
            "SELECT has_table_privilege($1, $2 || '.t_read', 'SELECT'),
                    has_table_privilege($1, $2 || '.t_read', 'SELECT WITH GRANT OPTION'),
                    has_table_privilege($1, $2 || '.t_owned', 'INSERT'),
                    has_column_privilege($1, $2 || '.t_cols', 'note', 'UPDATE'),
                    has_column_privilege($1, $2 || '.t_cols', 'id', 'UPDATE'),
                    has_schema_privilege($1, $2, 'USAGE'),
                    has_sequence_privilege($1, $2 || '.seq', 'USAGE'),
                    has_function_privilege($1, $2 || '.f()', 'EXECUTE'),
                    pg_has_role($1, $3, 'MEMBER'),
                    EXISTS (SELECT 1 FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid
                            JOIN pg_roles u ON u.oid = m.member
                            WHERE u.rolname = $1 AND g.rolname = $3 AND m.admin_option),
                    (SELECT rolcreatedb FROM pg_roles WHERE rolname = $1),
                    (SELECT rolconnlimit = 7 FROM pg_roles WHERE rolname = $1)",
            &[&role, &schema, &group],
        )
        .await
        .unwrap();
    (0..12).map(|i| row.get::<_, bool>(i)).collect()
}

#[tokio::test]
async fn alternating_users_keep_the_previous_login_and_copy_every_right() {
    let (_, masterarn) = master_secret().await;
    let user = unique("alt");
    let clone = format!("{user}_clone");
    let schema = unique("s");
    let group = unique("grp");
    let p0 = initial_password();
    create_role(&user, &p0).await;
    let (u, s, g) = (quote(&user), quote(&schema), quote(&group));
    // Rights AWS's template loses: an attribute, a connection limit, a
    // membership WITH ADMIN OPTION, column and owner privileges.
    pg::admin()
        .await
        .batch_execute(&format!(
            "ALTER ROLE {u} CREATEDB CONNECTION LIMIT 7;
             CREATE ROLE {g} NOLOGIN;
             GRANT {g} TO {u} WITH ADMIN OPTION;
             CREATE SCHEMA {s};
             GRANT USAGE ON SCHEMA {s} TO {u};
             CREATE TABLE {s}.t_read (id int);
             GRANT SELECT ON {s}.t_read TO {u} WITH GRANT OPTION;
             CREATE TABLE {s}.t_owned (id int);
             ALTER TABLE {s}.t_owned OWNER TO {u};
             CREATE TABLE {s}.t_cols (id int, note text);
             GRANT SELECT (note), UPDATE (note) ON {s}.t_cols TO {u};
             CREATE SEQUENCE {s}.seq;
             GRANT USAGE ON SEQUENCE {s}.seq TO {u};
             CREATE FUNCTION {s}.f() RETURNS int LANGUAGE sql AS 'SELECT 1';
             REVOKE EXECUTE ON FUNCTION {s}.f() FROM PUBLIC;
             GRANT EXECUTE ON FUNCTION {s}.f() TO {u};"
        ))
        .await
        .unwrap();
    let expected = rights_of(&user, &schema, &group).await;
    assert_eq!(
        expected,
        vec![true, true, true, true, false, true, true, true, true, true, true, true]
    );

    let arn = alternating_secret(&user, &p0, &masterarn).await;
    let v0 = holder(&labels(&arn).await, "AWSCURRENT").unwrap();
    let lambda = Lambda::start().await;
    let t1 = token();
    begin(&arn, &t1).await;
    lambda.rotate(&arn, &t1).await.unwrap();
    assert_rotated(&arn, &t1, &v0).await;

    let doc1 = value(&arn, "AWSCURRENT").await;
    assert_eq!(field(&doc1, "username"), clone);
    assert_eq!(field(&doc1, "masterarn"), masterarn);
    assert_eq!(field(&doc1, "extra_field"), "kept");
    let p1 = field(&doc1, "password");
    assert!(can_login(&clone, &p1).await, "the clone logs in");
    assert!(
        can_login(&user, &p0).await,
        "the previous user still logs in"
    );
    assert_eq!(
        rights_of(&clone, &schema, &group).await,
        expected,
        "the clone has every right of the original"
    );

    // And back: the original gets a new password, the clone keeps its own.
    let t2 = token();
    begin(&arn, &t2).await;
    lambda.rotate(&arn, &t2).await.unwrap();
    assert_rotated(&arn, &t2, &t1).await;
    let doc2 = value(&arn, "AWSCURRENT").await;
    assert_eq!(field(&doc2, "username"), user);
    let p2 = field(&doc2, "password");
    assert!(can_login(&user, &p2).await);
    assert!(!can_login(&user, &p0).await, "the oldest password is gone");
    assert!(
        can_login(&clone, &p1).await,
        "the previous user still logs in"
    );
    assert_eq!(rights_of(&user, &schema, &group).await, expected);

    // Canary: no new password in our log or the server's (log_statement=all).
    let log = server_log();
    assert!(log.contains(&clone), "the server log is being read");
    for pw in [&p1, &p2] {
        assert!(!lambda.log().contains(pw.as_str()));
        assert!(
            !log.contains(pw.as_str()),
            "a password reached the server log"
        );
    }
}

#[tokio::test]
async fn alternating_steps_repeated_or_killed_converge() {
    let (_, masterarn) = master_secret().await;
    let user = unique("altrep");
    let p0 = initial_password();
    create_role(&user, &p0).await;
    let arn = alternating_secret(&user, &p0, &masterarn).await;
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
    assert!(can_login(&format!("{user}_clone"), &field(&doc, "password")).await);
    assert!(can_login(&user, &p0).await);
}

#[tokio::test]
async fn a_master_on_another_server_or_a_stale_current_is_refused() {
    let user = unique("altbad");
    let p0 = initial_password();
    create_role(&user, &p0).await;
    let lambda = Lambda::start().await;

    // The master secret names another port.
    let (mname, _) = master_secret().await;
    let mut mdoc = secret_json(&mname, "whatever-pw");
    mdoc["port"] = Value::from(1);
    let other = create_secret(&unique("pgmaster"), &mdoc.to_string(), &[]).await;
    let arn = alternating_secret(&user, &p0, &other).await;
    let t = token();
    begin(&arn, &t).await;
    lambda.step(&arn, &t, "createSecret").await.unwrap();
    let err = lambda.step(&arn, &t, "setSecret").await.unwrap_err();
    assert_eq!(err.error_type, "TargetMismatch", "{err}");
    assert!(err.error_message.contains("master"), "{err}");
    assert!(!role_exists(&format!("{user}_clone")).await);

    // The current password does not log in: the master is never used.
    let (_, masterarn) = master_secret().await;
    let stale = initial_password();
    let arn = alternating_secret(&user, &stale, &masterarn).await;
    let t = token();
    begin(&arn, &t).await;
    lambda.step(&arn, &t, "createSecret").await.unwrap();
    let pending = field(&value(&arn, "AWSPENDING").await, "password");
    let err = lambda.step(&arn, &t, "setSecret").await.unwrap_err();
    assert_eq!(err.error_type, "AuthenticationFailed", "{err}");
    assert!(!role_exists(&format!("{user}_clone")).await);
    assert!(!err.error_message.contains(&stale) && !err.error_message.contains(&pending));
    assert!(!lambda.log().contains(&stale) && !lambda.log().contains(&pending));
    assert!(can_login(&user, &p0).await, "the real login is untouched");
}

#[tokio::test]
async fn hostile_and_overlong_names_are_rotated_safely_or_refused() {
    let (_, masterarn) = master_secret().await;
    let victim = unique("victim");
    create_role(&victim, &initial_password()).await;
    let user = format!("h\"; DROP ROLE {victim};--\\'");
    let p0 = initial_password();
    create_role(&user, &p0).await;
    let arn = alternating_secret(&user, &p0, &masterarn).await;
    let lambda = Lambda::start().await;
    let t = token();
    begin(&arn, &t).await;
    lambda.rotate(&arn, &t).await.unwrap();
    let doc = value(&arn, "AWSCURRENT").await;
    assert_eq!(field(&doc, "username"), format!("{user}_clone"));
    assert!(can_login(&format!("{user}_clone"), &field(&doc, "password")).await);
    assert!(role_exists(&victim).await, "the other role still exists");

    // 58 bytes + "_clone" exceeds 63: refused at createSecret, nothing written.
    let long = format!("l{}", "x".repeat(57));
    let arn = alternating_secret(&long, &p0, &masterarn).await;
    let t = token();
    begin(&arn, &t).await;
    let err = lambda.step(&arn, &t, "createSecret").await.unwrap_err();
    assert_eq!(err.error_type, "InvalidSecret", "{err}");
    assert!(err.error_message.contains("63"), "{err}");
}
