//! RS256 and ES256 through a JWKS served on loopback: key rotation, unknown
//! `kid` refetch limits, HS/RS key confusion, and the JWKS endpoint failing.
#![allow(clippy::unwrap_used)]

mod api_support;
mod common;

use std::time::Duration;

use api_support::*;
use common::*;
use serde_json::json;

const CANARY: &str = "CANARY-api-jwks-77d0";
const SCOPE: &str = "secrets:read:jwks/**";

async fn secret() -> String {
    let name = unique("jwks/s");
    create_secret(&name, CANARY, &[]).await;
    format!("/secrets/{}", enc(&name))
}

#[tokio::test]
async fn rs256_and_es256_verify_and_keys_rotate() {
    let path = secret().await;
    let rsa = SigningKey::rs256("rsa-1");
    let ec = SigningKey::es256("ec-1");
    let jwks = JwksServer::start(&[&rsa, &ec]).await;
    let api = Transport::server(&[
        ("JWT_JWKS_URL", &jwks.url),
        ("ALLOWED_SECRETS", "jwks/**"),
        ("JWT_JWKS_MIN_REFETCH_SECONDS", "1"),
    ])
    .await;
    for k in [&rsa, &ec] {
        let r = api.get(&path, Some(&k.sign(&claims("svc", SCOPE)))).await;
        assert_eq!(r.status, 200, "{:?}: {r:?}", k.alg);
        assert_eq!(r.json()["secret"], CANARY);
    }

    // HS/RS confusion: an HS256 token "signed" with the RSA public key and
    // naming its kid; and an HS256 token with no kid at all.
    let confused = sign_hs(
        rsa.public_pem.as_bytes(),
        &claims("svc", SCOPE),
        Some("rsa-1"),
    );
    let r = api.get(&path, Some(&confused)).await;
    assert_eq!(r.status, 401, "{r:?}");
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not allowed"),
        "{r:?}"
    );
    assert_eq!(
        api.get(&path, Some(&hs256(&claims("svc", SCOPE))))
            .await
            .status,
        401
    );
    // An ES256 token naming the RSA key's kid.
    let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    h.kid = Some("rsa-1".into());
    let wrong = jsonwebtoken::encode(&h, &claims("svc", SCOPE), &ec.key).unwrap();
    assert_eq!(api.get(&path, Some(&wrong)).await.status, 401);

    // Key rotation at the identity provider: a new kid is fetched on first
    // sight; a key removed from the set stops working once refetched.
    let ec2 = SigningKey::es256("ec-2");
    jwks.set_keys(&[&rsa, &ec2]);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let r = api.get(&path, Some(&ec2.sign(&claims("svc", SCOPE)))).await;
    assert_eq!(r.status, 200, "new key: {r:?}");
    let r = api.get(&path, Some(&ec.sign(&claims("svc2", SCOPE)))).await;
    assert_eq!(r.status, 401, "removed key: {r:?}");
    assert!(r.text.contains("unknown key id"), "{r:?}");
    assert!(!api.log().contains(CANARY));
}

#[tokio::test]
async fn unknown_kids_refetch_at_most_once_a_minute() {
    let path = secret().await;
    let ec = SigningKey::es256("ec-a");
    let jwks = JwksServer::start(&[&ec]).await;
    // Default timings: refetch for unknown kids at most once per 60 s.
    let api =
        Transport::lambda(&[("JWT_JWKS_URL", &jwks.url), ("ALLOWED_SECRETS", "jwks/**")]).await;
    assert_eq!(
        api.get(&path, Some(&ec.sign(&claims("s", SCOPE))))
            .await
            .status,
        200
    );
    let first = jwks.hits();
    assert_eq!(first, 1, "one fetch at first use");
    for i in 0..5 {
        let stranger = SigningKey::es256(&format!("unknown-{i}"));
        let r = api
            .get(&path, Some(&stranger.sign(&claims("s", SCOPE))))
            .await;
        assert_eq!(r.status, 401, "{r:?}");
        assert!(r.text.contains("unknown key id"), "{r:?}");
    }
    assert_eq!(
        jwks.hits(),
        first,
        "the first fetch was < 60 s ago: no refetch"
    );
    // A kid added now is not seen before the minute is over either.
    let late = SigningKey::es256("late");
    jwks.set_keys(&[&ec, &late]);
    assert_eq!(
        api.get(&path, Some(&late.sign(&claims("s", SCOPE))))
            .await
            .status,
        401
    );
    assert_eq!(jwks.hits(), first);
}

#[tokio::test]
async fn the_jwks_endpoint_going_down_keeps_known_keys_for_a_bounded_time() {
    let path = secret().await;
    let ec = SigningKey::es256("ec-d");
    let rsa = SigningKey::rs256("rsa-d");
    let jwks = JwksServer::start(&[&ec, &rsa]).await;
    let api = Transport::server(&[
        ("JWT_JWKS_URL", &jwks.url),
        ("ALLOWED_SECRETS", "jwks/**"),
        ("JWT_JWKS_REFRESH_SECONDS", "1"),
        ("JWT_JWKS_MIN_REFETCH_SECONDS", "1"),
        ("JWT_JWKS_MAX_STALE_SECONDS", "4"),
    ])
    .await;
    // Distinct tokens each time, so the verified-token cache does not answer.
    let fresh = |k: &SigningKey, i: u32| {
        k.sign(&json!({"iss": ISSUER, "aud": AUDIENCE,
        "sub": format!("s{i}"), "exp": now() + 600, "scope": SCOPE}))
    };
    assert_eq!(api.get(&path, Some(&fresh(&ec, 0))).await.status, 200);

    jwks.fail(true);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let before = jwks.hits();
    // The refresh is due and fails: the cached keys still serve.
    assert_eq!(api.get(&path, Some(&fresh(&ec, 1))).await.status, 200);
    assert_eq!(api.get(&path, Some(&fresh(&rsa, 2))).await.status, 200);
    assert!(jwks.hits() > before, "a refresh was attempted");
    assert!(api.log().contains("jwks_fetch_failed"), "{}", api.log());
    // ...and a failed refresh did not wipe them, an unknown kid stays unknown.
    let stranger = SigningKey::es256("stranger");
    assert_eq!(
        api.get(&path, Some(&stranger.sign(&claims("x", SCOPE))))
            .await
            .status,
        401
    );
    assert_eq!(api.get(&path, Some(&fresh(&ec, 3))).await.status, 200);

    // Past JWT_JWKS_MAX_STALE_SECONDS since the last good fetch: refused.
    tokio::time::sleep(Duration::from_millis(4200)).await;
    let r = api.get(&path, Some(&fresh(&ec, 4))).await;
    assert_eq!(r.status, 401, "{r:?}");
    assert!(r.text.contains("could not be refreshed"), "{r:?}");

    // The endpoint comes back: keys are fetched again.
    jwks.fail(false);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(api.get(&path, Some(&fresh(&ec, 5))).await.status, 200);
}
