//! One conformance suite for every [`SecretStore`]: the in-memory store in
//! unit tests, the AWS store against the API emulator in `tests/`.
//!
//! Each check panics with a message naming the broken rule; the suite is for
//! tests only, but it ships with the library so that every store can run it.
#![allow(clippy::unwrap_used, clippy::panic)]

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};

use super::{SecretStore, Selector, StoreError, AWSCURRENT, AWSPENDING, AWSPREVIOUS};

/// How the suite sets secrets up: the parts of Secrets Manager that are not in
/// [`SecretStore`] (CreateSecret, RotateSecret's creation of the pending version).
#[async_trait]
pub trait Fixture: Send + Sync {
    /// Creates a secret (CreateSecret); returns its ARN.
    async fn create(&self, name: &str, value: &str) -> String;
    /// RotateSecret without running a function: enables rotation and adds
    /// version `token` with only `AWSPENDING` and no value.
    async fn begin_rotation(&self, secret_id: &str, token: &str);
}

/// Deviations of a store from AWS's documented behaviour that the suite
/// tolerates. Each is named where it is set.
#[derive(Debug, Clone, Copy, Default)]
pub struct Deviations {
    /// moto: PutSecretValue with the same token and a different value
    /// overwrites the version instead of failing with ResourceExistsException.
    pub same_token_different_value_overwrites: bool,
}

async fn value(store: &dyn SecretStore, id: &str, which: Selector<'_>) -> String {
    store
        .get(id, which)
        .await
        .unwrap_or_else(|e| panic!("get {which:?}: {e}"))
        .value
        .expose_secret()
        .to_owned()
}

/// Runs every check; `prefix` keeps names unique per run.
pub async fn run(store: &dyn SecretStore, fx: &dyn Fixture, prefix: &str, dev: Deviations) {
    let arn = fx.create(&format!("{prefix}-conf"), "v1").await;

    // describe: one version holding AWSCURRENT.
    let d = store.describe(&arn).await.unwrap();
    assert_eq!(d.versions.len(), 1, "a new secret has one version");
    let v1 = d
        .version_with(AWSCURRENT)
        .expect("AWSCURRENT on the first version")
        .to_owned();
    assert_eq!(value(store, &arn, Selector::Stage(AWSCURRENT)).await, "v1");
    assert!(
        store
            .get(&arn, Selector::Stage(AWSPENDING))
            .await
            .unwrap_err()
            .is_not_found(),
        "no AWSPENDING yet"
    );

    // RotateSecret's pending version has a label but no value.
    let t1 = "11111111-1111-4111-8111-111111111111";
    fx.begin_rotation(&arn, t1).await;
    let d = store.describe(&arn).await.unwrap();
    assert!(d.has_stage(t1, AWSPENDING), "T holds AWSPENDING");
    let err = store
        .get(
            &arn,
            Selector::Version {
                id: t1,
                stage: AWSPENDING,
            },
        )
        .await
        .unwrap_err();
    assert!(
        err.is_not_found(),
        "a version without a value reads as not found: {err}"
    );

    // put_pending is idempotent for the same value.
    let v2 = SecretString::from("v2".to_owned());
    store.put_pending(&arn, t1, &v2).await.unwrap();
    store.put_pending(&arn, t1, &v2).await.unwrap();
    let other = SecretString::from("v2-different".to_owned());
    match store.put_pending(&arn, t1, &other).await {
        Err(StoreError::TokenConflict { .. }) => {}
        Ok(()) if dev.same_token_different_value_overwrites => {
            // Put the agreed value back so the rest of the suite holds.
            store.put_pending(&arn, t1, &v2).await.unwrap();
        }
        other => panic!("same token, different value must be a conflict, got {other:?}"),
    }
    assert_eq!(
        value(
            store,
            &arn,
            Selector::Version {
                id: t1,
                stage: AWSPENDING
            }
        )
        .await,
        "v2"
    );

    // Moving AWSCURRENT moves AWSPREVIOUS to the old current.
    store
        .update_stage(&arn, AWSCURRENT, Some(t1), Some(&v1))
        .await
        .unwrap();
    let d = store.describe(&arn).await.unwrap();
    assert!(d.has_stage(t1, AWSCURRENT));
    assert!(
        d.has_stage(&v1, AWSPREVIOUS),
        "old current becomes AWSPREVIOUS"
    );
    assert!(
        !d.has_stage(&v1, AWSCURRENT),
        "AWSCURRENT is moved, not copied"
    );

    // Removing AWSPENDING leaves no pending label.
    store
        .update_stage(&arn, AWSPENDING, None, Some(t1))
        .await
        .unwrap();
    let d = store.describe(&arn).await.unwrap();
    assert_eq!(d.version_with(AWSPENDING), None);
    // Removing a label from a version that lacks it is refused.
    assert!(store
        .update_stage(&arn, AWSPENDING, None, Some(t1))
        .await
        .is_err());

    // A second rotation: AWSPREVIOUS is on exactly one version.
    let t2 = "22222222-2222-4222-8222-222222222222";
    fx.begin_rotation(&arn, t2).await;
    store
        .put_pending(&arn, t2, &SecretString::from("v3".to_owned()))
        .await
        .unwrap();
    store
        .update_stage(&arn, AWSCURRENT, Some(t2), Some(t1))
        .await
        .unwrap();
    let d = store.describe(&arn).await.unwrap();
    let prev: Vec<_> = d
        .versions
        .iter()
        .filter(|(_, s)| s.iter().any(|x| x == AWSPREVIOUS))
        .map(|(v, _)| v.as_str())
        .collect();
    assert_eq!(prev, vec![t1], "AWSPREVIOUS moved to the last current");
    assert_eq!(value(store, &arn, Selector::Stage(AWSCURRENT)).await, "v3");
    assert_eq!(value(store, &arn, Selector::Stage(AWSPREVIOUS)).await, "v2");

    // Unknown secrets are not found.
    let err = store
        .describe(&format!("{prefix}-does-not-exist"))
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "unknown secret: {err}");
}
