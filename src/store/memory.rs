//! An in-memory store that follows AWS Secrets Manager's documented
//! behaviour. It is the test double shipped with the library and the base of
//! the local mode.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};

use super::{
    SecretDescription, SecretStore, Selector, StoreError, VersionValue, AWSCURRENT, AWSPENDING,
    AWSPREVIOUS,
};

/// AWS keeps about 100 versions without a label before dropping them.
const MAX_UNLABELLED_VERSIONS: usize = 100;

struct Version {
    value: Option<SecretString>,
    stages: Vec<String>,
    created: u64,
}

struct Secret {
    desc_arn: String,
    name: String,
    rotation_enabled: bool,
    tags: BTreeMap<String, String>,
    versions: BTreeMap<String, Version>,
    clock: u64,
}

impl Secret {
    fn holder(&self, stage: &str) -> Option<String> {
        self.versions
            .iter()
            .find(|(_, v)| v.stages.iter().any(|s| s == stage))
            .map(|(id, _)| id.clone())
    }

    fn detach(&mut self, stage: &str) {
        for v in self.versions.values_mut() {
            v.stages.retain(|s| s != stage);
        }
    }

    fn attach(&mut self, id: &str, stage: &str) {
        self.detach(stage);
        if let Some(v) = self.versions.get_mut(id) {
            v.stages.push(stage.to_owned());
        }
    }

    fn add_version(&mut self, id: &str, value: Option<SecretString>) {
        self.clock += 1;
        self.versions.insert(
            id.to_owned(),
            Version {
                value,
                stages: Vec::new(),
                created: self.clock,
            },
        );
        self.prune();
    }

    fn prune(&mut self) {
        let mut unlabelled: Vec<(u64, String)> = self
            .versions
            .iter()
            .filter(|(_, v)| v.stages.is_empty())
            .map(|(id, v)| (v.created, id.clone()))
            .collect();
        if unlabelled.len() > MAX_UNLABELLED_VERSIONS {
            unlabelled.sort();
            let excess = unlabelled.len() - MAX_UNLABELLED_VERSIONS;
            for (_, id) in unlabelled.into_iter().take(excess) {
                self.versions.remove(&id);
            }
        }
    }
}

fn invalid(code: &str, message: impl Into<String>) -> StoreError {
    StoreError::InvalidRequest {
        code: code.to_owned(),
        message: message.into(),
    }
}

fn not_found(what: impl Into<String>) -> StoreError {
    StoreError::NotFound { what: what.into() }
}

/// The in-memory store. Secrets are addressed by name or ARN.
#[derive(Default)]
pub struct MemoryStore {
    secrets: Mutex<BTreeMap<String, Secret>>,
    next_id: Mutex<u64>,
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore").finish_non_exhaustive()
    }
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn fresh_id(&self) -> String {
        let mut n = self.next_id.lock().unwrap_or_else(|e| e.into_inner());
        *n += 1;
        format!("00000000-0000-4000-8000-{:012x}", *n)
    }

    fn with<R>(
        &self,
        secret_id: &str,
        f: impl FnOnce(&mut Secret) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        let mut all = self.secrets.lock().unwrap_or_else(|e| e.into_inner());
        let secret = all
            .values_mut()
            .find(|s| s.name == secret_id || s.desc_arn == secret_id)
            .ok_or_else(|| not_found(format!("secret {secret_id}")))?;
        f(secret)
    }

    /// CreateSecret: the first version holds `AWSCURRENT`. Returns the ARN.
    pub fn create_secret(
        &self,
        name: &str,
        value: &SecretString,
        tags: BTreeMap<String, String>,
    ) -> Result<String, StoreError> {
        let version = self.fresh_id();
        let mut all = self.secrets.lock().unwrap_or_else(|e| e.into_inner());
        if all.contains_key(name) {
            return Err(invalid(
                "ResourceExistsException",
                format!("secret {name} already exists"),
            ));
        }
        let arn = format!("arn:aws:secretsmanager:local:000000000000:secret:{name}");
        let mut secret = Secret {
            desc_arn: arn.clone(),
            name: name.to_owned(),
            rotation_enabled: false,
            tags,
            versions: BTreeMap::new(),
            clock: 0,
        };
        secret.add_version(&version, Some(value.clone()));
        secret.attach(&version, AWSCURRENT);
        all.insert(name.to_owned(), secret);
        Ok(arn)
    }

    pub fn set_rotation_enabled(&self, secret_id: &str, enabled: bool) -> Result<(), StoreError> {
        self.with(secret_id, |s| {
            s.rotation_enabled = enabled;
            Ok(())
        })
    }

    /// RotateSecret's part before the rotation function runs: refuse while a
    /// rotation is in progress, then add version `token` carrying only
    /// `AWSPENDING` and no value.
    pub fn begin_rotation(&self, secret_id: &str, token: &str) -> Result<(), StoreError> {
        self.with(secret_id, |s| {
            if !s.rotation_enabled {
                return Err(invalid(
                    "InvalidRequestException",
                    "rotation is not enabled for this secret",
                ));
            }
            if let Some(p) = s.holder(AWSPENDING) {
                if s.holder(AWSCURRENT).as_deref() != Some(p.as_str()) {
                    return Err(invalid(
                        "InvalidRequestException",
                        "a previous rotation isn't complete",
                    ));
                }
            }
            if s.versions.contains_key(token) {
                return Err(invalid(
                    "ResourceExistsException",
                    format!("version {token} already exists"),
                ));
            }
            s.add_version(token, None);
            s.attach(token, AWSPENDING);
            Ok(())
        })
    }
}

#[async_trait]
impl SecretStore for MemoryStore {
    async fn describe(&self, secret_id: &str) -> Result<SecretDescription, StoreError> {
        self.with(secret_id, |s| {
            let mut d = SecretDescription::new(s.desc_arn.clone(), s.name.clone());
            d.rotation_enabled = s.rotation_enabled;
            d.tags = s.tags.clone();
            d.versions = s
                .versions
                .iter()
                .map(|(id, v)| (id.clone(), v.stages.clone()))
                .collect();
            Ok(d)
        })
    }

    async fn get(&self, secret_id: &str, which: Selector<'_>) -> Result<VersionValue, StoreError> {
        self.with(secret_id, |s| {
            let (id, stage) = match which {
                Selector::Stage(stage) => (
                    s.holder(stage).ok_or_else(|| {
                        not_found(format!("no version of {secret_id} has {stage}"))
                    })?,
                    stage,
                ),
                Selector::Version { id, stage } => (id.to_owned(), stage),
            };
            let v = s
                .versions
                .get(&id)
                .ok_or_else(|| not_found(format!("version {id} of {secret_id}")))?;
            if !v.stages.iter().any(|x| x == stage) {
                return Err(not_found(format!("version {id} does not hold {stage}")));
            }
            let value = v
                .value
                .clone()
                .ok_or_else(|| not_found(format!("version {id} has no value yet")))?;
            Ok(VersionValue {
                version_id: id,
                value,
            })
        })
    }

    async fn put_pending(
        &self,
        secret_id: &str,
        token: &str,
        value: &SecretString,
    ) -> Result<(), StoreError> {
        self.with(secret_id, |s| {
            match s.versions.get_mut(token) {
                Some(v) => match &v.value {
                    Some(existing) if existing.expose_secret() == value.expose_secret() => {
                        return Ok(())
                    }
                    Some(_) => {
                        return Err(StoreError::TokenConflict {
                            token: token.to_owned(),
                        })
                    }
                    None => v.value = Some(value.clone()),
                },
                None => s.add_version(token, Some(value.clone())),
            }
            s.attach(token, AWSPENDING);
            Ok(())
        })
    }

    async fn update_stage(
        &self,
        secret_id: &str,
        stage: &str,
        move_to: Option<&str>,
        remove_from: Option<&str>,
    ) -> Result<(), StoreError> {
        self.with(secret_id, |s| {
            let holder = s.holder(stage);
            if let Some(from) = remove_from {
                if holder.as_deref() != Some(from) {
                    return Err(invalid(
                        "InvalidParameterException",
                        format!("{stage} is not attached to version {from}"),
                    ));
                }
            }
            match move_to {
                Some(to) => {
                    if !s.versions.contains_key(to) {
                        return Err(not_found(format!("version {to} of {secret_id}")));
                    }
                    if holder.as_deref() == Some(to) {
                        return Ok(());
                    }
                    if holder.is_some() && remove_from.is_none() {
                        return Err(invalid(
                            "InvalidParameterException",
                            format!("{stage} is attached to another version; name it in RemoveFromVersionId"),
                        ));
                    }
                    s.attach(to, stage);
                    if stage == AWSCURRENT {
                        match holder {
                            Some(old) => s.attach(&old, AWSPREVIOUS),
                            None => s.detach(AWSPREVIOUS),
                        }
                    }
                }
                None => {
                    if stage == AWSCURRENT {
                        return Err(invalid(
                            "InvalidParameterException",
                            "AWSCURRENT can only be moved, not removed",
                        ));
                    }
                    if remove_from.is_none() {
                        return Err(invalid(
                            "InvalidParameterException",
                            "name MoveToVersionId or RemoveFromVersionId",
                        ));
                    }
                    s.detach(stage);
                }
            }
            s.prune();
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::conformance::{self, Deviations, Fixture};

    struct MemFixture<'a>(&'a MemoryStore);

    #[async_trait]
    impl Fixture for MemFixture<'_> {
        async fn create(&self, name: &str, value: &str) -> String {
            self.0
                .create_secret(name, &SecretString::from(value.to_owned()), BTreeMap::new())
                .unwrap()
        }
        async fn begin_rotation(&self, secret_id: &str, token: &str) {
            self.0.set_rotation_enabled(secret_id, true).unwrap();
            self.0.begin_rotation(secret_id, token).unwrap();
        }
    }

    #[tokio::test]
    async fn memory_store_conforms() {
        let store = MemoryStore::new();
        conformance::run(&store, &MemFixture(&store), "mem", Deviations::default()).await;
    }

    #[tokio::test]
    async fn rotation_in_progress_is_refused() {
        let store = MemoryStore::new();
        let arn = MemFixture(&store).create("s", "v").await;
        store.set_rotation_enabled(&arn, true).unwrap();
        store.begin_rotation(&arn, "t1").unwrap();
        let err = store.begin_rotation(&arn, "t2").unwrap_err();
        assert!(matches!(err, StoreError::InvalidRequest { .. }), "{err}");
        // Moving AWSCURRENT without naming its holder is refused, as on AWS.
        store
            .put_pending(&arn, "t1", &SecretString::from("v2".to_owned()))
            .await
            .unwrap();
        assert!(store
            .update_stage(&arn, AWSCURRENT, Some("t1"), None)
            .await
            .is_err());
    }

    #[tokio::test]
    async fn unlabelled_versions_are_bounded() {
        let store = MemoryStore::new();
        let arn = MemFixture(&store).create("s", "v").await;
        store.set_rotation_enabled(&arn, true).unwrap();
        for i in 0..(MAX_UNLABELLED_VERSIONS + 5) {
            let t = format!("t{i}");
            store.begin_rotation(&arn, &t).unwrap();
            store
                .put_pending(&arn, &t, &SecretString::from(format!("v{i}")))
                .await
                .unwrap();
            store
                .update_stage(&arn, AWSPENDING, None, Some(&t))
                .await
                .unwrap();
        }
        let d = store.describe(&arn).await.unwrap();
        assert!(
            d.versions.len() <= MAX_UNLABELLED_VERSIONS + 1,
            "{}",
            d.versions.len()
        );
        assert!(d.version_with(AWSCURRENT).is_some());
    }
}
