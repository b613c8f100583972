//! RDS awareness by the real binary through the Runtime API, against the
//! emulator's RDS API (moto) and the SCRAM PostgreSQL cluster:
//! the `rds-master` rotator (ModifyDBInstance / ModifyDBCluster) and the
//! endpoint check that database rotators run before touching the target.
//!
//! Moto does not expose a master password in any response (its model raises
//! "Password not retrievable"), so the tests observe the RDS requests the
//! function sends: its `AWS_ENDPOINT_URL_RDS` points at a recording proxy in
//! front of moto. The same proxy counts the calls the check costs.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use common::pg::{self, can_login, create_role, quote, secret_json};
use common::rds::{self as rdsm, address, identifier};
use common::*;
use percent_encoding::percent_decode_str;
use rotator_rds::{check_endpoint, LazyRds};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

fn initial_password() -> String {
    format!("Canary-{}-pw", uuid::Uuid::new_v4().simple())
}

fn password_of(doc: &str) -> String {
    let v: Value = serde_json::from_str(doc).unwrap();
    v["password"].as_str().unwrap().to_owned()
}

type Form = BTreeMap<String, String>;

/// An HTTP proxy on loopback in front of moto that records each request's
/// form body (the RDS query protocol). One request per connection.
struct Recorder {
    url: String,
    seen: Arc<Mutex<Vec<Form>>>,
}

fn parse_form(body: &str) -> Form {
    body.split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| {
            let d = |s: &str| {
                percent_decode_str(&s.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned()
            };
            (d(k), d(v))
        })
        .collect()
}

async fn relay(mut client: TcpStream, upstream: String, seen: Arc<Mutex<Vec<Form>>>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        let n = client.read(&mut chunk).await.unwrap_or(0);
        if n == 0 {
            return;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let len: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    while buf.len() < head_end + len {
        let n = client.read(&mut chunk).await.unwrap_or(0);
        if n == 0 {
            return;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = &buf[head_end..head_end + len];
    seen.lock()
        .unwrap()
        .push(parse_form(&String::from_utf8_lossy(body)));
    // Forward with "Connection: close" so that moto ends the response.
    let mut out = String::new();
    for line in head.trim_end().split("\r\n") {
        if !line.to_ascii_lowercase().starts_with("connection:") {
            out.push_str(line);
            out.push_str("\r\n");
        }
    }
    out.push_str("Connection: close\r\n\r\n");
    let mut up = TcpStream::connect(upstream).await.unwrap();
    up.write_all(out.as_bytes()).await.unwrap();
    up.write_all(body).await.unwrap();
    let mut resp = Vec::new();
    up.read_to_end(&mut resp).await.unwrap();
    let _ = client.write_all(&resp).await;
    let _ = client.shutdown().await;
}

impl Recorder {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let upstream = aws_endpoint()
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = seen.clone();
        tokio::spawn(async move {
            while let Ok((c, _)) = listener.accept().await {
                tokio::spawn(relay(c, upstream.clone(), s.clone()));
            }
        });
        Self { url, seen }
    }

    fn actions(&self) -> Vec<String> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .map(|f| f.get("Action").cloned().unwrap_or_default())
            .collect()
    }

    fn calls(&self, action: &str) -> Vec<Form> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|f| f.get("Action").map(String::as_str) == Some(action))
            .cloned()
            .collect()
    }

    /// The rotation binary with its RDS endpoint on this proxy (Secrets
    /// Manager still goes straight to moto).
    async fn lambda(&self) -> Lambda {
        Lambda::start_with(&[("AWS_ENDPOINT_URL_RDS", self.url.as_str())]).await
    }
}

fn rds_master_tag() -> [(&'static str, &'static str); 1] {
    [("secrets-rotation:rotator", "rds-master")]
}

#[tokio::test]
async fn rds_master_rotates_the_instance_password_through_modify_db_instance() {
    let id = identifier("srsmaster");
    let p0 = initial_password();
    let inst = rdsm::create_instance(&id, "postgres", "rdsadmin1", &p0, None).await;
    // moto returns Endpoint.Address as <id>.aaaaaaaaaa.<region>.rds.amazonaws.com.
    let host = address(&inst);
    assert!(host.starts_with(&id), "{host}");
    let doc = serde_json::json!({
        "engine": "postgres", "host": host, "port": 5432, "username": "rdsadmin1",
        "password": p0, "dbInstanceIdentifier": id, "extra_field": "kept",
    });
    let arn = create_secret(&unique("rdsm"), &doc.to_string(), &rds_master_tag()).await;
    let old = holder(&labels(&arn).await, "AWSCURRENT").unwrap();

    let rec = Recorder::start().await;
    let lambda = rec.lambda().await;
    let t = token();
    begin(&arn, &t).await;
    lambda.step(&arn, &t, "createSecret").await.unwrap();
    assert!(rec.actions().is_empty(), "createSecret calls no RDS API");
    lambda.step(&arn, &t, "setSecret").await.unwrap();
    // Idempotence: setting the same pending password again is harmless.
    lambda.step(&arn, &t, "setSecret").await.unwrap();
    lambda.step(&arn, &t, "testSecret").await.unwrap();
    lambda.step(&arn, &t, "finishSecret").await.unwrap();
    assert_rotated(&arn, &t, &old).await;

    let new = value(&arn, "AWSCURRENT").await;
    let p1 = password_of(&new);
    assert_ne!(p1, p0);
    let v: Value = serde_json::from_str(&new).unwrap();
    assert_eq!(v["extra_field"], "kept");
    assert_eq!(v["dbInstanceIdentifier"], id.as_str());

    let modify = rec.calls("ModifyDBInstance");
    assert_eq!(modify.len(), 2, "one per setSecret: {:?}", rec.actions());
    for m in &modify {
        assert_eq!(m["DBInstanceIdentifier"], id);
        assert_eq!(m["MasterUserPassword"], p1, "the pending password was sent");
        assert_eq!(m["ApplyImmediately"], "true");
    }
    // Per setSecret and testSecret: one DescribeDBInstances each.
    assert_eq!(
        rec.calls("DescribeDBInstances").len(),
        3,
        "{:?}",
        rec.actions()
    );
    assert_eq!(rec.actions().len(), 5, "{:?}", rec.actions());
    // moto accepted the change: the instance is still there and available.
    let after = rdsm::describe_instance(&id).await;
    assert_eq!(after.db_instance_status(), Some("available"));

    let log = lambda.log();
    assert!(log.contains("master password modified"), "{log}");
    assert!(
        !log.contains(&p0) && !log.contains(&p1),
        "a password in our log"
    );
}

#[tokio::test]
async fn rds_master_refuses_a_user_that_is_not_the_master_and_a_wrong_host() {
    let id = identifier("srsmuser");
    let p0 = initial_password();
    let inst = rdsm::create_instance(&id, "mysql", "realmaster", &p0, None).await;
    let rec = Recorder::start().await;
    let lambda = rec.lambda().await;

    // Confused deputy: the secret claims another user on the right instance.
    let doc = serde_json::json!({
        "engine": "mysql", "host": address(&inst), "port": 3306, "username": "app",
        "password": p0, "dbInstanceIdentifier": id,
    });
    let arn = create_secret(&unique("rdsm"), &doc.to_string(), &rds_master_tag()).await;
    let t = token();
    begin(&arn, &t).await;
    lambda.step(&arn, &t, "createSecret").await.unwrap();
    let pending = password_of(&value(&arn, "AWSPENDING").await);
    assert!(pending.len() <= 41, "MySQL master passwords are at most 41");
    let err = lambda.step(&arn, &t, "setSecret").await.unwrap_err();
    assert_eq!(err.error_type, "TargetMismatch", "{err}");
    assert!(err.error_message.contains("master username"), "{err}");
    assert!(err.error_message.contains(&id), "{err}");

    // The right user, but the host is not the instance's endpoint.
    let doc = serde_json::json!({
        "engine": "mysql", "host": "127.0.0.1", "port": 3306, "username": "realmaster",
        "password": p0, "dbInstanceIdentifier": id,
    });
    let arn2 = create_secret(&unique("rdsm"), &doc.to_string(), &rds_master_tag()).await;
    let t2 = token();
    begin(&arn2, &t2).await;
    lambda.step(&arn2, &t2, "createSecret").await.unwrap();
    let err2 = lambda.step(&arn2, &t2, "setSecret").await.unwrap_err();
    assert_eq!(err2.error_type, "TargetMismatch", "{err2}");
    assert!(err2.error_message.contains("not an endpoint"), "{err2}");

    assert!(rec.calls("ModifyDBInstance").is_empty(), "nothing modified");
    for e in [&err, &err2] {
        let text = format!("{e}");
        assert!(!text.contains(&p0) && !text.contains(&pending), "{text}");
    }
    assert!(!lambda.log().contains(&p0) && !lambda.log().contains(&pending));
}

#[tokio::test]
async fn rds_master_on_a_cluster_uses_modify_db_cluster() {
    let id = identifier("srscl");
    let p0 = initial_password();
    let cl = rdsm::create_cluster(&id, "clmaster", &p0).await;
    // moto returns Endpoint and ReaderEndpoint for clusters; Status is
    // "creating" in CreateDBCluster's answer and "available" from then on.
    let writer = cl.endpoint().unwrap().to_owned();
    assert!(cl.reader_endpoint().unwrap().contains("cluster-ro"));
    let doc = serde_json::json!({
        "engine": "postgres", "host": writer, "port": 5432, "username": "clmaster",
        "password": p0, "dbClusterIdentifier": id,
    });
    let arn = create_secret(&unique("rdsc"), &doc.to_string(), &rds_master_tag()).await;
    let old = holder(&labels(&arn).await, "AWSCURRENT").unwrap();
    let rec = Recorder::start().await;
    let lambda = rec.lambda().await;
    let t = token();
    begin(&arn, &t).await;
    lambda.rotate(&arn, &t).await.unwrap();
    assert_rotated(&arn, &t, &old).await;
    let p1 = password_of(&value(&arn, "AWSCURRENT").await);
    let modify = rec.calls("ModifyDBCluster");
    assert_eq!(modify.len(), 1, "{:?}", rec.actions());
    assert_eq!(modify[0]["DBClusterIdentifier"], id);
    assert_eq!(modify[0]["MasterUserPassword"], p1);
    assert!(rec.calls("ModifyDBInstance").is_empty());
    assert!(!lambda.log().contains(&p0) && !lambda.log().contains(&p1));
}

/// A PostgreSQL single-user secret that rotates fine without an identifier
/// (the role exists on 127.0.0.1) is refused once it names an RDS instance
/// whose endpoint is not 127.0.0.1, before any login.
#[tokio::test]
async fn single_user_secret_naming_another_instance_is_refused_before_login() {
    let id = identifier("srsother");
    rdsm::create_instance(&id, "postgres", "m", "Whatever-pw-1", None).await;
    let user = unique("rdsapp");
    let p0 = initial_password();
    create_role(&user, &p0).await;
    let mut doc = secret_json(&user, &p0);
    doc["dbInstanceIdentifier"] = Value::from(id.as_str());
    let arn = create_secret(&unique("pgrds"), &doc.to_string(), &[]).await;

    let rec = Recorder::start().await;
    let lambda = rec.lambda().await;
    let t = token();
    begin(&arn, &t).await;
    lambda.step(&arn, &t, "createSecret").await.unwrap();
    let pending = password_of(&value(&arn, "AWSPENDING").await);
    let err = lambda.step(&arn, &t, "setSecret").await.unwrap_err();
    assert_eq!(err.error_type, "TargetMismatch", "{err}");
    assert!(
        err.error_message
            .contains(&format!("RDS DB instance '{id}'")),
        "{err}"
    );
    assert!(err.error_message.contains("not an endpoint"), "{err}");
    // testSecret refuses too.
    let err_t = lambda.step(&arn, &t, "testSecret").await.unwrap_err();
    assert_eq!(err_t.error_type, "TargetMismatch", "{err_t}");
    assert_eq!(
        rec.actions(),
        ["DescribeDBInstances", "DescribeDBInstances"],
        "one RDS call per checked step"
    );
    // No login was attempted (log_connections is on): neither a session
    // nor a failed authentication for the user. Checked before our own
    // logins below, which do show up.
    let server = pg::server_log();
    assert!(server.contains(&user), "the server log is being read");
    assert!(
        !server.contains(&format!("user={user} "))
            && !server.contains(&format!("for user \"{user}\"")),
        "the rotator connected to the target"
    );
    // The target was not touched.
    assert!(can_login(&user, &p0).await, "current still logs in");
    assert!(!can_login(&user, &pending).await);
    assert!(
        pg::server_log().contains(&format!("for user \"{user}\"")),
        "a failed login is visible in the server log"
    );
    for e in [&err, &err_t] {
        let text = format!("{e}");
        assert!(!text.contains(&p0) && !text.contains(&pending), "{text}");
    }
    let log = lambda.log();
    assert!(!log.contains(&p0) && !log.contains(&pending));
}

/// Same secret, no identifier: rotates, and the RDS API is never called.
#[tokio::test]
async fn no_identifier_means_no_rds_call() {
    let user = unique("rdsnone");
    let p0 = initial_password();
    create_role(&user, &p0).await;
    let arn = create_secret(&unique("pgnone"), &secret_json(&user, &p0).to_string(), &[]).await;
    let old = holder(&labels(&arn).await, "AWSCURRENT").unwrap();
    let rec = Recorder::start().await;
    let lambda = rec.lambda().await;
    let t = token();
    begin(&arn, &t).await;
    lambda.rotate(&arn, &t).await.unwrap();
    assert_rotated(&arn, &t, &old).await;
    assert!(can_login(&user, &password_of(&value(&arn, "AWSCURRENT").await)).await);
    assert!(rec.actions().is_empty(), "{:?}", rec.actions());
}

#[tokio::test]
async fn alternating_users_whose_master_names_another_instance_are_refused() {
    let id = identifier("srsaltm");
    rdsm::create_instance(&id, "postgres", "m", "Whatever-pw-1", None).await;
    // A working superuser master on 127.0.0.1: without the check, the
    // rotation would succeed.
    let mname = unique("rdsmaster");
    let mpw = initial_password();
    create_role(&mname, &mpw).await;
    pg::admin()
        .await
        .batch_execute(&format!("ALTER ROLE {} SUPERUSER", quote(&mname)))
        .await
        .unwrap();
    let mut mdoc = secret_json(&mname, &mpw);
    mdoc["dbInstanceIdentifier"] = Value::from(id.as_str());
    let masterarn = create_secret(&unique("pgm"), &mdoc.to_string(), &[]).await;

    let user = unique("rdsalt");
    let p0 = initial_password();
    create_role(&user, &p0).await;
    let mut doc = secret_json(&user, &p0);
    doc["masterarn"] = Value::from(masterarn.as_str());
    let arn = create_secret(&unique("pgalt"), &doc.to_string(), &[]).await;

    let rec = Recorder::start().await;
    let lambda = rec.lambda().await;
    let t = token();
    begin(&arn, &t).await;
    lambda.step(&arn, &t, "createSecret").await.unwrap();
    let err = lambda.step(&arn, &t, "setSecret").await.unwrap_err();
    assert_eq!(err.error_type, "TargetMismatch", "{err}");
    assert!(err.error_message.contains(&id), "{err}");
    assert_eq!(rec.actions(), ["DescribeDBInstances"]);
    let clone_exists = pg::admin()
        .await
        .query_opt(
            "SELECT 1 FROM pg_roles WHERE rolname = $1",
            &[&format!("{user}_clone")],
        )
        .await
        .unwrap()
        .is_some();
    assert!(!clone_exists, "the master was not used");
    assert!(can_login(&user, &p0).await);
    let text = format!("{err} {}", lambda.log());
    assert!(!text.contains(&p0) && !text.contains(&mpw));
}

#[tokio::test]
async fn an_identifier_that_does_not_exist_fails_clearly() {
    let id = identifier("srsmissing");
    let user = unique("rdsmiss");
    let p0 = initial_password();
    create_role(&user, &p0).await;
    let mut doc = secret_json(&user, &p0);
    doc["dbInstanceIdentifier"] = Value::from(id.as_str());
    let arn = create_secret(&unique("pgmiss"), &doc.to_string(), &[]).await;
    let lambda = Lambda::start().await;
    let t = token();
    begin(&arn, &t).await;
    lambda.step(&arn, &t, "createSecret").await.unwrap();
    let err = lambda.step(&arn, &t, "setSecret").await.unwrap_err();
    assert_eq!(err.error_type, "TargetError", "{err}");
    assert!(
        err.error_message
            .contains(&format!("RDS DB instance '{id}'"))
            && err.error_message.contains("does not exist"),
        "{err}"
    );
    assert!(!err.error_message.contains(&p0));
    assert!(can_login(&user, &p0).await);

    // A cluster identifier that does not exist, on an rds-master secret.
    let cid = identifier("srsnocl");
    let doc = serde_json::json!({
        "engine": "postgres", "host": "h.example", "username": "m",
        "password": p0, "dbClusterIdentifier": cid,
    });
    let arn = create_secret(&unique("rdsm"), &doc.to_string(), &rds_master_tag()).await;
    let t = token();
    begin(&arn, &t).await;
    lambda.step(&arn, &t, "createSecret").await.unwrap();
    let err = lambda.step(&arn, &t, "setSecret").await.unwrap_err();
    assert_eq!(err.error_type, "TargetError", "{err}");
    assert!(
        err.error_message
            .contains(&format!("RDS DB cluster '{cid}'")),
        "{err}"
    );
}

/// A postgres secret naming a cluster whose endpoints are not 127.0.0.1 is
/// refused; the check itself accepts the writer, reader and member
/// endpoints, and for an instance its own and its read replica's (checked
/// with the library against moto: those names do not resolve, so no login).
#[tokio::test]
async fn cluster_and_instance_endpoints_are_matched() {
    let cid = identifier("srsclchk");
    let cl = rdsm::create_cluster(&cid, "clm", "Whatever-pw-1").await;
    let member = rdsm::create_instance(
        &identifier("srsmem"),
        "aurora-postgresql",
        "",
        "",
        Some(&cid),
    )
    .await;
    let cl_now = rdsm::describe_cluster(&cid).await;
    assert_eq!(
        cl_now.db_cluster_members().len(),
        1,
        "moto lists the member"
    );
    let iid = identifier("srsprim");
    let prim = rdsm::create_instance(&iid, "postgres", "m", "Whatever-pw-1", None).await;
    let replica = rdsm::create_replica(&identifier("srsrepl"), &iid).await;

    let rds = LazyRds::with_client(rdsm::client());
    let json = |field: &str, id: &str| {
        rotation_core::SecretJson::parse(
            &serde_json::json!({ field: id, "password": "Canary-x" })
                .to_string()
                .into(),
        )
        .unwrap()
    };
    let cj = json("dbClusterIdentifier", &cid);
    for host in [
        cl.endpoint().unwrap().to_owned(),
        cl.reader_endpoint().unwrap().to_owned(),
        address(&member),
    ] {
        check_endpoint(&rds, &cj, &host.to_uppercase())
            .await
            .unwrap_or_else(|e| panic!("{host}: {e}"));
    }
    let err = check_endpoint(&rds, &cj, "127.0.0.1").await.unwrap_err();
    assert_eq!(err.error_type(), "TargetMismatch");
    let ij = json("dbInstanceIdentifier", &iid);
    check_endpoint(&rds, &ij, &address(&prim)).await.unwrap();
    check_endpoint(&rds, &ij, &address(&replica)).await.unwrap();
    assert!(check_endpoint(&rds, &ij, cl.endpoint().unwrap())
        .await
        .is_err());

    // End to end: a single-user secret naming the cluster, host 127.0.0.1.
    let user = unique("rdscl");
    let p0 = initial_password();
    create_role(&user, &p0).await;
    let mut doc = secret_json(&user, &p0);
    doc["dbClusterIdentifier"] = Value::from(cid.as_str());
    let arn = create_secret(&unique("pgcl"), &doc.to_string(), &[]).await;
    let lambda = Lambda::start().await;
    let t = token();
    begin(&arn, &t).await;
    lambda.step(&arn, &t, "createSecret").await.unwrap();
    let err = lambda.step(&arn, &t, "setSecret").await.unwrap_err();
    assert_eq!(err.error_type, "TargetMismatch", "{err}");
    assert!(
        err.error_message
            .contains(&format!("RDS DB cluster '{cid}'")),
        "{err}"
    );
    assert!(can_login(&user, &p0).await);
}
