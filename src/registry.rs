//! Picks the rotator for a secret: a tag naming a tag-only rotator
//! (`rds-master`) first, then the JSON `engine` field, then the
//! `secrets-rotation:rotator` tag, else the generic rotator.

use std::collections::BTreeMap;
use std::sync::Arc;

use rotation_core::json::{classify, SecretShape};
use rotation_core::{GenericRotator, Rotator, RotatorError, SecretString};
use rotator_rds::{LazyRds, RdsChecked, RdsMasterRotator, RDS_MASTER};

/// The tag that names a rotator when the value has no `engine` field.
pub const ROTATOR_TAG: &str = "secrets-rotation:rotator";

#[derive(Clone)]
pub struct Registry {
    by_name: BTreeMap<&'static str, Arc<dyn Rotator>>,
    /// Rotators only a tag selects, whatever the `engine` field says: an
    /// `rds-master` secret has `"engine": "postgres"` like any other.
    tag_only: BTreeMap<&'static str, Arc<dyn Rotator>>,
    generic: Arc<dyn Rotator>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("rotators", &self.names().collect::<Vec<_>>())
            .finish()
    }
}

impl Default for Registry {
    /// Every rotator this build ships, with an RDS client built from the
    /// environment on first use (no cost for secrets without identifiers).
    fn default() -> Self {
        Self::with_rds(LazyRds::from_env())
    }
}

/// A name that is safe to echo in an error: short and plain.
fn printable(name: &str) -> String {
    if !name.is_empty()
        && name.len() <= 32
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        format!("'{name}'")
    } else {
        "(unprintable)".to_owned()
    }
}

impl Registry {
    pub fn empty() -> Self {
        Self {
            by_name: BTreeMap::new(),
            tag_only: BTreeMap::new(),
            generic: Arc::new(GenericRotator),
        }
    }

    /// Every rotator this build ships. The PostgreSQL and MySQL/MariaDB
    /// rotators check `dbInstanceIdentifier` / `dbClusterIdentifier` against
    /// `rds` before touching the target; `rds-master` uses it to rotate.
    pub fn with_rds(rds: LazyRds) -> Self {
        let mut r = Self::empty();
        r.register("generic", Arc::new(GenericRotator));
        r.register(
            "postgres",
            Arc::new(RdsChecked::new(
                rotator_postgres::PostgresRotator,
                rds.clone(),
            )),
        );
        let mysql: Arc<dyn Rotator> =
            Arc::new(RdsChecked::new(rotator_mysql::MysqlRotator, rds.clone()));
        r.register("mysql", mysql.clone());
        r.register("mariadb", mysql);
        r.register("redis", Arc::new(rotator_redis::RedisRotator));
        r.register_tag_only(RDS_MASTER, Arc::new(RdsMasterRotator::new(rds)));
        r
    }

    /// Registers a rotator under an `engine` / tag name (`postgres`, ...).
    pub fn register(&mut self, name: &'static str, rotator: Arc<dyn Rotator>) {
        self.by_name.insert(name, rotator);
    }

    /// Registers a rotator that only the tag selects, over the `engine` field.
    pub fn register_tag_only(&mut self, name: &'static str, rotator: Arc<dyn Rotator>) {
        self.tag_only.insert(name, rotator);
    }

    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.by_name.keys().chain(self.tag_only.keys()).copied()
    }

    fn named(&self, name: &str, from: &str) -> Result<Arc<dyn Rotator>, RotatorError> {
        self.by_name.get(name).cloned().ok_or_else(|| {
            RotatorError::invalid(format!(
                "{from} {} names no rotator this build has (known: {})",
                printable(name),
                self.names().collect::<Vec<_>>().join(", ")
            ))
        })
    }

    /// Chooses the rotator for a secret from its value and tags.
    pub fn select(
        &self,
        value: &SecretString,
        tags: &BTreeMap<String, String>,
    ) -> Result<Arc<dyn Rotator>, RotatorError> {
        let tag = tags.get(ROTATOR_TAG).map(|t| t.trim());
        if let Some(r) = tag.and_then(|t| self.tag_only.get(t)) {
            return Ok(r.clone());
        }
        if let SecretShape::Object(json) = classify(value)? {
            if let Some(engine) = json.str_field("engine")? {
                return self.named(&engine.to_ascii_lowercase(), "the 'engine' field");
            }
        }
        if let Some(tag) = tag {
            return self.named(tag, "the tag secrets-rotation:rotator");
        }
        Ok(self.generic.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selection_order() {
        let r = Registry::default();
        let none = BTreeMap::new();
        let pg = SecretString::from(r#"{"engine":"postgres","password":"x"}"#);
        assert_eq!(r.select(&pg, &none).unwrap().name(), "postgres");
        let plain = SecretString::from("key");
        assert_eq!(r.select(&plain, &none).unwrap().name(), "generic");
        let tagged = BTreeMap::from([(ROTATOR_TAG.to_owned(), "postgres".to_owned())]);
        assert_eq!(r.select(&plain, &tagged).unwrap().name(), "postgres");
        let odd = SecretString::from(r#"{"engine":"oracle","password":"CANARY-x"}"#);
        let err = r.select(&odd, &none).err().unwrap().to_string();
        assert!(err.contains("'oracle'") && !err.contains("CANARY"), "{err}");
        let hostile = SecretString::from(r#"{"engine":"CANARY pw; drop"}"#);
        let err = r.select(&hostile, &none).err().unwrap().to_string();
        assert!(!err.contains("CANARY"), "{err}");
        // rds-master wins over the engine field, only through the tag.
        let rds = BTreeMap::from([(ROTATOR_TAG.to_owned(), RDS_MASTER.to_owned())]);
        assert_eq!(r.select(&pg, &rds).unwrap().name(), RDS_MASTER);
        let engine_rds = SecretString::from(r#"{"engine":"rds-master","password":"x"}"#);
        assert!(r.select(&engine_rds, &none).is_err());
        assert!(
            err.contains(RDS_MASTER),
            "tag-only rotators are listed: {err}"
        );
    }
}
