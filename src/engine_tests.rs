//! Engine tests on the in-memory store. A fault-injecting rotator stands in
//! for a target where a fault must hit an exact point.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use rotation_core::{
    ExposeSecret, GenericRotator, PasswordPolicy, Rotator, RotatorError, SecretSource,
    SecretString, StepContext,
};

use super::*;
use crate::store::memory::MemoryStore;

const CANARY: &str = "CANARY-engine-0d5e";

/// Generic behaviour plus a fault to return from `set` while armed.
#[derive(Default)]
struct Faulty {
    fail_set: Mutex<Option<fn() -> RotatorError>>,
    set_calls: Mutex<Vec<String>>,
    /// (new current, previous) seen by each `after_finish`.
    finish_calls: Mutex<Vec<(String, Option<String>)>>,
}

#[async_trait]
impl Rotator for Faulty {
    fn name(&self) -> &'static str {
        "faulty"
    }
    fn create_pending(
        &self,
        ctx: &StepContext<'_>,
        current: &SecretString,
        pw: SecretString,
    ) -> Result<SecretString, RotatorError> {
        GenericRotator.create_pending(ctx, current, pw)
    }
    async fn set(
        &self,
        _ctx: &StepContext<'_>,
        _c: &SecretString,
        pending: &SecretString,
        _o: &dyn SecretSource,
    ) -> Result<(), RotatorError> {
        self.set_calls
            .lock()
            .unwrap()
            .push(pending.expose_secret().to_owned());
        match *self.fail_set.lock().unwrap() {
            Some(f) => Err(f()),
            None => Ok(()),
        }
    }
    async fn test(
        &self,
        _ctx: &StepContext<'_>,
        _c: &SecretString,
        _p: &SecretString,
        _o: &dyn SecretSource,
    ) -> Result<(), RotatorError> {
        Ok(())
    }
    async fn after_finish(
        &self,
        _ctx: &StepContext<'_>,
        new_current: &SecretString,
        others: &dyn SecretSource,
    ) -> Result<(), RotatorError> {
        let prev = others
            .previous()
            .await?
            .map(|p| p.expose_secret().to_owned());
        self.finish_calls
            .lock()
            .unwrap()
            .push((new_current.expose_secret().to_owned(), prev));
        Ok(())
    }
}

struct Setup {
    store: Arc<MemoryStore>,
    faulty: Arc<Faulty>,
    arn: String,
}

impl Setup {
    fn new(value: &str, tags: BTreeMap<String, String>) -> Self {
        let store = Arc::new(MemoryStore::new());
        let arn = store
            .create_secret("s", &SecretString::from(value.to_owned()), tags)
            .unwrap();
        store.set_rotation_enabled(&arn, true).unwrap();
        Self {
            store,
            faulty: Arc::new(Faulty::default()),
            arn,
        }
    }

    /// A fresh engine: a new process with a cold cache.
    fn engine(&self) -> Engine {
        let mut reg = Registry::default();
        reg.register("faulty", self.faulty.clone());
        Engine::new(self.store.clone(), reg, PasswordPolicy::default())
    }

    async fn desc(&self) -> SecretDescription {
        self.store.describe(&self.arn).await.unwrap()
    }

    async fn value(&self, stage: &str) -> String {
        self.store
            .get(&self.arn, Selector::Stage(stage))
            .await
            .unwrap()
            .value
            .expose_secret()
            .to_owned()
    }

    async fn all(&self, engine: &Engine, token: &str) -> Result<(), EngineError> {
        for step in Step::ALL {
            engine.handle(&self.arn, token, step.as_str()).await?;
        }
        Ok(())
    }

    async fn assert_finished(&self, token: &str, old: &str) {
        let d = self.desc().await;
        assert!(d.has_stage(token, AWSCURRENT), "{:?}", d.versions);
        assert!(d.has_stage(old, AWSPREVIOUS), "{:?}", d.versions);
        assert_eq!(d.version_with(AWSPENDING), None, "no stray AWSPENDING");
    }
}

#[tokio::test]
async fn plain_secret_rotates_and_repeats_converge() {
    let s = Setup::new(CANARY, BTreeMap::new());
    let old = s.desc().await.version_with(AWSCURRENT).unwrap().to_owned();
    s.store.begin_rotation(&s.arn, "t1").unwrap();
    let engine = s.engine();
    // Every step twice: the second run of each must change nothing.
    for step in Step::ALL {
        engine.handle(&s.arn, "t1", step.as_str()).await.unwrap();
        engine.handle(&s.arn, "t1", step.as_str()).await.unwrap();
    }
    s.assert_finished("t1", &old).await;
    let new = s.value(AWSCURRENT).await;
    assert_ne!(new, CANARY);
    assert_eq!(new.len(), 32);
    assert_eq!(s.value(AWSPREVIOUS).await, CANARY);
    // The whole sequence again with the same token: nothing changes.
    s.all(&engine, "t1").await.unwrap();
    assert_eq!(
        engine.handle(&s.arn, "t1", "createSecret").await.unwrap(),
        Outcome::AlreadyCurrent
    );
    assert_eq!(s.value(AWSCURRENT).await, new);
}

#[tokio::test]
async fn a_crash_between_any_two_steps_converges() {
    for crash_after in 0..4 {
        let s = Setup::new(r#"{"password":"p0","user":"u"}"#, BTreeMap::new());
        let old = s.desc().await.version_with(AWSCURRENT).unwrap().to_owned();
        s.store.begin_rotation(&s.arn, "t").unwrap();
        {
            let first = s.engine();
            for step in &Step::ALL[..=crash_after] {
                first.handle(&s.arn, "t", step.as_str()).await.unwrap();
            }
        } // the process dies here
        let second = s.engine();
        s.all(&second, "t").await.unwrap();
        s.assert_finished("t", &old).await;
        let v: serde_json::Value = serde_json::from_str(&s.value(AWSCURRENT).await).unwrap();
        assert_eq!(v["user"], "u");
        assert_ne!(v["password"], "p0");
    }
}

#[tokio::test]
async fn finish_killed_between_label_moves_is_completed() {
    let s = Setup::new("v", BTreeMap::new());
    let old = s.desc().await.version_with(AWSCURRENT).unwrap().to_owned();
    s.store.begin_rotation(&s.arn, "t").unwrap();
    let e = s.engine();
    for step in &Step::ALL[..3] {
        e.handle(&s.arn, "t", step.as_str()).await.unwrap();
    }
    // The first of the two label moves happened, then the process died.
    s.store
        .update_stage(&s.arn, AWSCURRENT, Some("t"), Some(&old))
        .await
        .unwrap();
    assert!(s.desc().await.has_stage("t", AWSPENDING));
    e.handle(&s.arn, "t", "finishSecret").await.unwrap();
    s.assert_finished("t", &old).await;
}

#[tokio::test]
async fn guard_refuses_what_the_protocol_refuses() {
    let s = Setup::new("v", BTreeMap::new());
    let old = s.desc().await.version_with(AWSCURRENT).unwrap().to_owned();
    let e = s.engine();
    let err = e.handle(&s.arn, "nope", "createSecret").await.unwrap_err();
    assert_eq!(err.error_type(), "VersionNotFound");
    // A version without AWSPENDING (here: AWSCURRENT's is fine, so use one
    // that lost its label).
    s.store.begin_rotation(&s.arn, "t").unwrap();
    s.store
        .update_stage(&s.arn, AWSPENDING, None, Some("t"))
        .await
        .unwrap();
    let err = e.handle(&s.arn, "t", "setSecret").await.unwrap_err();
    assert_eq!(err.error_type(), "VersionNotPending");
    // The current version itself: success, nothing done.
    assert_eq!(
        e.handle(&s.arn, &old, "setSecret").await.unwrap(),
        Outcome::AlreadyCurrent
    );
    let err = e.handle(&s.arn, "t", "dropSecret").await.unwrap_err();
    assert_eq!(err.error_type(), "UnknownStep");
    assert!(err.to_string().contains("dropSecret"));
    s.store.set_rotation_enabled(&s.arn, false).unwrap();
    let err = e.handle(&s.arn, "t", "createSecret").await.unwrap_err();
    assert_eq!(err.error_type(), "RotationNotEnabled");
    let err = e
        .handle("unknown-secret", "t", "createSecret")
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "SecretStoreError");
}

#[tokio::test]
async fn a_rejected_password_is_abandoned_and_the_next_rotation_makes_a_new_one() {
    let tags = BTreeMap::from([(crate::registry::ROTATOR_TAG.to_owned(), "faulty".to_owned())]);
    let s = Setup::new(r#"{"password":"p0"}"#, tags);
    let old = s.desc().await.version_with(AWSCURRENT).unwrap().to_owned();
    *s.faulty.fail_set.lock().unwrap() = Some(|| RotatorError::PasswordRejected {
        target: "db".into(),
        reason: "too weak".into(),
    });
    s.store.begin_rotation(&s.arn, "t1").unwrap();
    let e = s.engine();
    e.handle(&s.arn, "t1", "createSecret").await.unwrap();
    let err = e.handle(&s.arn, "t1", "setSecret").await.unwrap_err();
    assert_eq!(err.error_type(), "PasswordRejected");
    // The pending label is gone: Secrets Manager's retries stop at the guard
    // and the next RotateSecret is allowed.
    let d = s.desc().await;
    assert_eq!(d.version_with(AWSPENDING), None);
    assert!(d.has_stage(&old, AWSCURRENT));
    let err = e.handle(&s.arn, "t1", "setSecret").await.unwrap_err();
    assert_eq!(err.error_type(), "VersionNotPending");
    *s.faulty.fail_set.lock().unwrap() = None;
    s.store.begin_rotation(&s.arn, "t2").unwrap();
    s.all(&e, "t2").await.unwrap();
    s.assert_finished("t2", &old).await;
    let calls = s.faulty.set_calls.lock().unwrap().clone();
    assert_eq!(calls.len(), 2);
    assert_ne!(calls[0], calls[1], "the retry offered a new password");
}

#[tokio::test]
async fn other_set_failures_keep_the_rotation_retryable() {
    let tags = BTreeMap::from([(crate::registry::ROTATOR_TAG.to_owned(), "faulty".to_owned())]);
    let s = Setup::new(r#"{"password":"p0"}"#, tags);
    let old = s.desc().await.version_with(AWSCURRENT).unwrap().to_owned();
    *s.faulty.fail_set.lock().unwrap() = Some(|| RotatorError::Unreachable {
        target: "db".into(),
        source: "connection refused".into(),
    });
    s.store.begin_rotation(&s.arn, "t1").unwrap();
    let e = s.engine();
    let err = s.all(&e, "t1").await.unwrap_err();
    assert_eq!(err.error_type(), "TargetUnreachable");
    assert!(s.desc().await.has_stage("t1", AWSPENDING));
    *s.faulty.fail_set.lock().unwrap() = None;
    s.all(&e, "t1").await.unwrap();
    s.assert_finished("t1", &old).await;
    let calls = s.faulty.set_calls.lock().unwrap().clone();
    assert_eq!(
        calls[0], calls[1],
        "the same pending value is applied on retry"
    );
}

#[tokio::test]
async fn tags_override_the_policy_and_bad_values_never_leak() {
    let tags = BTreeMap::from([(
        "secrets-rotation:password-length".to_owned(),
        "12".to_owned(),
    )]);
    let s = Setup::new("abc", tags);
    s.store.begin_rotation(&s.arn, "t").unwrap();
    let e = s.engine();
    s.all(&e, "t").await.unwrap();
    assert_eq!(s.value(AWSCURRENT).await.len(), 12);

    let s = Setup::new(&format!(r#"["{CANARY}"]"#), BTreeMap::new());
    s.store.begin_rotation(&s.arn, "t").unwrap();
    let err = s
        .engine()
        .handle(&s.arn, "t", "createSecret")
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "InvalidSecret");
    let text = format!("{err} {err:?}");
    assert!(text.contains(&s.arn), "names the secret: {text}");
    assert!(!text.contains(CANARY), "{text}");

    let bad = BTreeMap::from([(
        "secrets-rotation:password-length".to_owned(),
        "0".to_owned(),
    )]);
    let s = Setup::new("abc", bad);
    s.store.begin_rotation(&s.arn, "t").unwrap();
    let err = s
        .engine()
        .handle(&s.arn, "t", "createSecret")
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "ConfigurationError");
}

#[tokio::test]
async fn after_finish_runs_again_when_finish_is_retried_after_the_label_move() {
    let tags = BTreeMap::from([(crate::registry::ROTATOR_TAG.to_owned(), "faulty".to_owned())]);
    let s = Setup::new(r#"{"password":"p0"}"#, tags);
    let old = s.desc().await.version_with(AWSCURRENT).unwrap().to_owned();
    s.store.begin_rotation(&s.arn, "t").unwrap();
    let e = s.engine();
    for step in &Step::ALL[..3] {
        e.handle(&s.arn, "t", step.as_str()).await.unwrap();
    }
    // The process died right after moving AWSCURRENT: no clean-up, no hook.
    s.store
        .update_stage(&s.arn, AWSCURRENT, Some("t"), Some(&old))
        .await
        .unwrap();
    let fresh = s.engine();
    assert_eq!(
        fresh.handle(&s.arn, "t", "finishSecret").await.unwrap(),
        Outcome::AlreadyCurrent
    );
    s.assert_finished("t", &old).await;
    let calls = s.faulty.finish_calls.lock().unwrap().clone();
    assert_eq!(calls.len(), 1, "the hook ran once, on the retry");
    assert_eq!(calls[0].0, s.value(AWSCURRENT).await);
    assert_eq!(calls[0].1.as_deref(), Some(r#"{"password":"p0"}"#));
    // Other steps on a finished token do nothing.
    fresh.handle(&s.arn, "t", "setSecret").await.unwrap();
    assert_eq!(s.faulty.finish_calls.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn hundreds_of_plain_rotations_in_a_row_all_succeed() {
    // About one generated password in forty starts with `{` or `[`; every
    // such value must still be rotatable as a plain string next time.
    let s = Setup::new("first", BTreeMap::new());
    let e = s.engine();
    for i in 0..300 {
        let token = format!("t{i}");
        s.store.begin_rotation(&s.arn, &token).unwrap();
        s.all(&e, &token)
            .await
            .unwrap_or_else(|err| panic!("rotation {i}: {}", err.error_type()));
    }
    assert_eq!(s.desc().await.version_with(AWSPENDING), None);
}
