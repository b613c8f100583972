//! Picks the rotator for a secret: the JSON `engine` field first, then the
//! `secrets-rotation:rotator` tag, else the generic rotator.

use std::collections::BTreeMap;
use std::sync::Arc;

use rotation_core::json::{classify, SecretShape};
use rotation_core::{GenericRotator, Rotator, RotatorError, SecretString};

/// The tag that names a rotator when the value has no `engine` field.
pub const ROTATOR_TAG: &str = "secrets-rotation:rotator";

#[derive(Clone)]
pub struct Registry {
    by_name: BTreeMap<&'static str, Arc<dyn Rotator>>,
    generic: Arc<dyn Rotator>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("rotators", &self.by_name.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Default for Registry {
    /// Every rotator this build ships.
    fn default() -> Self {
        let mut r = Self::empty();
        r.register("generic", Arc::new(GenericRotator));
        r.register("postgres", Arc::new(rotator_postgres::PostgresRotator));
        let mysql: Arc<dyn Rotator> = Arc::new(rotator_mysql::MysqlRotator);
        r.register("mysql", mysql.clone());
        r.register("mariadb", mysql);
        r.register("redis", Arc::new(rotator_redis::RedisRotator));
        r
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
            generic: Arc::new(GenericRotator),
        }
    }

    /// Registers a rotator under an `engine` / tag name (`postgres`, ...).
    pub fn register(&mut self, name: &'static str, rotator: Arc<dyn Rotator>) {
        self.by_name.insert(name, rotator);
    }

    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.by_name.keys().copied()
    }

    fn named(&self, name: &str, from: &str) -> Result<Arc<dyn Rotator>, RotatorError> {
        self.by_name.get(name).cloned().ok_or_else(|| {
            RotatorError::invalid(format!(
                "{from} {} names no rotator this build has (known: {})",
                printable(name),
                self.by_name.keys().copied().collect::<Vec<_>>().join(", ")
            ))
        })
    }

    /// Chooses the rotator for a secret from its value and tags.
    pub fn select(
        &self,
        value: &SecretString,
        tags: &BTreeMap<String, String>,
    ) -> Result<Arc<dyn Rotator>, RotatorError> {
        if let SecretShape::Object(json) = classify(value)? {
            if let Some(engine) = json.str_field("engine")? {
                return self.named(&engine.to_ascii_lowercase(), "the 'engine' field");
            }
        }
        if let Some(tag) = tags.get(ROTATOR_TAG) {
            return self.named(tag.trim(), "the tag secrets-rotation:rotator");
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
    }
}
