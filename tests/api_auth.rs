//! Token checks through the real `api-lambda` binary (API Gateway v2
//! events through the Runtime API) with an HS256 key, and authorization
//! through `secrets-rotation serve` over HTTP, against the AWS API emulator.
#![allow(clippy::unwrap_used)]

mod api_support;
mod common;

use api_support::*;
use common::*;
use serde_json::json;

const CANARY: &str = "CANARY-api-auth-5c1e";

fn assert_invalid_token(r: &Resp, token: &str, why: &str) {
    assert_eq!(r.status, 401, "{why}: {r:?}");
    assert_eq!(r.code(), "invalid_token", "{why}: {r:?}");
    let challenge = r.header("www-authenticate").unwrap_or_default();
    assert!(
        challenge.contains(r#"Bearer error="invalid_token""#),
        "{why}: {challenge}"
    );
    assert!(
        !token.is_empty() && !r.text.contains(token),
        "{why}: the body echoes the token"
    );
    assert!(!r.text.contains(CANARY), "{why}: {r:?}");
}

#[tokio::test]
async fn every_bad_token_is_refused_with_401() {
    let name = unique("api/auth");
    create_secret(&name, CANARY, &[]).await;
    let api =
        Transport::lambda(&[("JWT_HS256_SECRET", HS_KEY), ("ALLOWED_SECRETS", "api/**")]).await;
    let path = format!("/secrets/{}", enc(&name));
    let scope = "secrets:read:api/**";
    let good = hs256(&claims("alice", scope));
    let ok = api.get(&path, Some(&good)).await;
    assert_eq!(ok.status, 200, "{ok:?}");
    assert_eq!(ok.json()["secret"], CANARY);

    // No token at all.
    let r = api.get(&path, None).await;
    assert_eq!(r.status, 401, "{r:?}");
    assert!(r
        .header("www-authenticate")
        .unwrap()
        .contains("invalid_token"));

    let with = |f: &dyn Fn(&mut serde_json::Value)| {
        let mut c = claims("alice", scope);
        f(&mut c);
        c
    };
    let rs = SigningKey::rs256("rsa-1");
    let past = now() - 3600;
    let cases: Vec<(&str, String)> = vec![
        (
            "alg none",
            raw_token(
                &json!({"alg": "none", "typ": "JWT"}),
                &claims("alice", scope),
                None,
            ),
        ),
        (
            "alg none with signature",
            raw_token(
                &json!({"alg": "none"}),
                &claims("alice", scope),
                Some(HS_KEY.as_bytes()),
            ),
        ),
        (
            "RS256 token on an HS256 deployment",
            rs.sign(&claims("alice", scope)),
        ),
        (
            "HS256 signed with another key",
            sign_hs(
                b"another-key-0123456789abcdef0123456789",
                &claims("alice", scope),
                None,
            ),
        ),
        ("expired", hs256(&with(&|c| c["exp"] = json!(now() - 5)))),
        (
            "expired long ago",
            hs256(&with(&|c| {
                c["exp"] = json!(past);
                c["iat"] = json!(past - 60);
            })),
        ),
        (
            "no exp",
            hs256(&with(&|c| {
                c.as_object_mut().unwrap().remove("exp");
            })),
        ),
        (
            "nbf beyond leeway",
            hs256(&with(&|c| c["nbf"] = json!(now() + 300))),
        ),
        (
            "iat beyond leeway",
            hs256(&with(&|c| c["iat"] = json!(now() + 300))),
        ),
        (
            "wrong iss",
            hs256(&with(&|c| c["iss"] = json!("https://evil.test/"))),
        ),
        (
            "wrong aud",
            hs256(&with(&|c| c["aud"] = json!("other-api"))),
        ),
        (
            "no sub",
            hs256(&with(&|c| {
                c.as_object_mut().unwrap().remove("sub");
            })),
        ),
        (
            "jku header",
            raw_token(
                &json!({"alg": "HS256", "jku": "https://evil.test/jwks"}),
                &claims("alice", scope),
                Some(HS_KEY.as_bytes()),
            ),
        ),
        (
            "x5u header",
            raw_token(
                &json!({"alg": "HS256", "x5u": "https://evil.test/cert"}),
                &claims("alice", scope),
                Some(HS_KEY.as_bytes()),
            ),
        ),
        (
            "jwk header",
            raw_token(
                &json!({"alg": "HS256", "jwk": {"kty": "oct", "k": "AAAA"}}),
                &claims("alice", scope),
                Some(HS_KEY.as_bytes()),
            ),
        ),
        (
            "token over 8 KiB",
            hs256(&with(&|c| c["pad"] = json!("x".repeat(9000)))),
        ),
        ("garbage", "not.a.jwt".to_owned()),
    ];
    for (why, token) in &cases {
        let r = api.get(&path, Some(token)).await;
        assert_invalid_token(&r, token, why);
    }
    // Within the 60 s leeway, nbf and iat in the future are accepted.
    let skewed = hs256(&with(&|c| {
        c["nbf"] = json!(now() + 30);
        c["iat"] = json!(now() + 30);
    }));
    assert_eq!(api.get(&path, Some(&skewed)).await.status, 200);

    // Headers other than Authorization over 8 KiB.
    let r = api
        .call(
            "GET",
            &path,
            &[
                ("authorization".into(), format!("Bearer {good}")),
                ("x-padding".into(), "p".repeat(9000)),
            ],
            "",
        )
        .await;
    assert_eq!(r.status, 431, "{r:?}");
    assert_eq!(r.code(), "headers_too_large");

    let log = api.log();
    assert!(!log.contains(CANARY), "a value reached the log");
    assert!(!log.contains(&good), "a token reached the log");
    let audits = audit_lines(&log);
    assert!(
        audits.len() > cases.len(),
        "one audit line per request: {log}"
    );
    let denied = audits
        .iter()
        .filter(|a| a["fields"]["outcome"] == "unauthenticated")
        .count();
    assert!(denied >= cases.len(), "{denied}");
    assert!(audits.iter().any(|a| a["fields"]["principal"] == "alice"
        && a["fields"]["action"] == "read"
        && a["fields"]["secret"] == name.as_str()
        && a["fields"]["status"] == 200
        && a["fields"]["request_id"]
            .as_str()
            .unwrap()
            .starts_with("apigw-")));
}

#[tokio::test]
async fn scopes_and_the_deployment_allow_list_decide_with_403() {
    let served = unique("team/app");
    let other_team = unique("other/app");
    for n in [&served, &other_team] {
        create_secret(n, CANARY, &[]).await;
    }
    let api =
        Transport::server(&[("JWT_HS256_SECRET", HS_KEY), ("ALLOWED_SECRETS", "team/**")]).await;
    let p = |n: &str| format!("/secrets/{}", enc(n));

    // A valid token without the scope.
    let t = hs256(&claims("bob", "secrets:read:team/nothing-*"));
    let r = api.get(&p(&served), Some(&t)).await;
    assert_eq!(r.status, 403, "{r:?}");
    assert_eq!(r.code(), "insufficient_scope");
    assert!(r
        .header("www-authenticate")
        .unwrap()
        .contains("insufficient_scope"));
    assert!(!r.text.contains(CANARY));

    // `*` stays within a segment; the secret is team/app_<id> -> one segment.
    let star = hs256(&claims("bob", "secrets:read:team/*"));
    assert_eq!(api.get(&p(&served), Some(&star)).await.status, 200);
    let nested = unique("team/deep/x");
    create_secret(&nested, CANARY, &[]).await;
    assert_eq!(
        api.get(&p(&nested), Some(&star)).await.code(),
        "insufficient_scope"
    );
    let dstar = hs256(&claims("bob", "secrets:read:team/**"));
    assert_eq!(api.get(&p(&nested), Some(&dstar)).await.status, 200);

    // `scp` as an array works too; rotate scope does not grant reading.
    let scp = hs256(
        &json!({"iss": ISSUER, "aud": AUDIENCE, "sub": "carol", "exp": now() + 60,
                            "scp": ["secrets:rotate:**"]}),
    );
    assert_eq!(
        api.get(&p(&served), Some(&scp)).await.code(),
        "insufficient_scope"
    );

    // Everything granted, but this deployment does not serve other/**.
    let all = hs256(&claims(
        "root",
        "secrets:read:** secrets:rotate:** secrets:list",
    ));
    let r = api.get(&p(&other_team), Some(&all)).await;
    assert_eq!(r.status, 403, "{r:?}");
    assert_eq!(r.code(), "secret_not_served");
    assert!(!r.text.contains(CANARY));

    // Listing needs secrets:list, and shows only what the caller may read.
    assert_eq!(
        api.get("/secrets", Some(&dstar)).await.code(),
        "insufficient_scope"
    );
    let lister = hs256(&claims("dave", "secrets:list secrets:read:team/*"));
    let r = api.get("/secrets?prefix=team/", Some(&lister)).await;
    assert_eq!(r.status, 200, "{r:?}");
    let names: Vec<String> = r.json()["secrets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_owned())
        .collect();
    assert!(names.contains(&served), "{names:?}");
    assert!(
        !names.contains(&nested),
        "team/* must not list team/deep/..: {names:?}"
    );
    assert!(!names.contains(&other_team));
    assert!(!r.text.contains(CANARY), "listing never shows values");
    // Not even to a caller with all scopes: other/** is not served.
    let r = api.get("/secrets?prefix=other/", Some(&all)).await;
    assert!(!r.text.contains(&other_team), "{r:?}");
    assert!(!api.log().contains(CANARY));
}

#[tokio::test]
async fn hs256_key_from_secrets_manager_accepts_current_and_previous() {
    // The key secret is rotated by our own rotation-lambda.
    let old_key = "CANARY-hs-key-0123456789abcdef0123456789";
    let key_arn = create_secret(&unique("api/jwtkey"), old_key, &[]).await;
    let lambda = Lambda::start().await;
    let t = token();
    begin(&key_arn, &t).await;
    lambda.rotate(&key_arn, &t).await.unwrap();
    let new_key = value(&key_arn, "AWSCURRENT").await;
    assert_eq!(value(&key_arn, "AWSPREVIOUS").await, old_key);

    let name = unique("api/dog");
    create_secret(&name, CANARY, &[]).await;
    let api = Transport::lambda(&[
        ("JWT_HS256_SECRET_ID", &key_arn),
        ("ALLOWED_SECRETS", "api/**"),
    ])
    .await;
    let path = format!("/secrets/{}", enc(&name));
    let c = claims("svc", "secrets:read:api/**");
    let r = api
        .get(&path, Some(&sign_hs(new_key.as_bytes(), &c, None)))
        .await;
    assert_eq!(r.status, 200, "AWSCURRENT key: {r:?}");
    let r = api
        .get(&path, Some(&sign_hs(old_key.as_bytes(), &c, None)))
        .await;
    assert_eq!(r.status, 200, "AWSPREVIOUS key: {r:?}");
    let r = api
        .get(
            &path,
            Some(&sign_hs(b"unrelated-key-0123456789abcdef-0123", &c, None)),
        )
        .await;
    assert_eq!(r.status, 401, "{r:?}");
    let log = api.log();
    assert!(
        !log.contains(old_key) && !log.contains(&new_key),
        "a key reached the log"
    );
}
