//! Per-container cache of secret values, `CACHE_TTL_SECONDS` long.
//!
//! When an entry's TTL runs out, the handler asks DescribeSecret; if the
//! version is still the one asked for, the entry is renewed without a
//! GetSecretValue. A rotation through this API invalidates the secret.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::backend::{SecretValue, Which};

struct Entry {
    value: Arc<SecretValue>,
    stages: Arc<Vec<String>>,
    checked_at: Instant,
}

/// A cached value and its staging labels as last seen.
pub struct Cached {
    pub value: Arc<SecretValue>,
    pub stages: Arc<Vec<String>>,
    pub fresh: bool,
}

pub struct ValueCache {
    ttl: Duration,
    max: usize,
    /// name -> entries per version selector (a handful at most).
    map: Mutex<HashMap<String, Vec<(Which, Entry)>>>,
}

impl ValueCache {
    /// `max` bounds the number of secrets held.
    pub fn new(ttl: Duration, max: usize) -> Self {
        Self {
            ttl,
            max,
            map: Mutex::new(HashMap::new()),
        }
    }

    pub fn enabled(&self) -> bool {
        !self.ttl.is_zero()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<(Which, Entry)>>> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn get(&self, name: &str, which: &Which) -> Option<Cached> {
        if !self.enabled() {
            return None;
        }
        let map = self.lock();
        let (_, e) = map.get(name)?.iter().find(|(w, _)| w == which)?;
        Some(Cached {
            value: e.value.clone(),
            stages: e.stages.clone(),
            fresh: e.checked_at.elapsed() < self.ttl,
        })
    }

    pub fn insert(&self, name: &str, which: &Which, value: Arc<SecretValue>) {
        if !self.enabled() {
            return;
        }
        let mut map = self.lock();
        if map.len() >= self.max {
            let ttl = self.ttl;
            map.retain(|_, v| v.iter().any(|(_, e)| e.checked_at.elapsed() < ttl));
            if map.len() >= self.max {
                map.clear();
            }
        }
        let stages = Arc::new(value.version_stages.clone());
        let entry = Entry {
            value,
            stages,
            checked_at: Instant::now(),
        };
        let slot = map.entry(name.to_owned()).or_default();
        match slot.iter_mut().find(|(w, _)| w == which) {
            Some((_, e)) => *e = entry,
            None => slot.push((which.clone(), entry)),
        }
    }

    /// DescribeSecret showed the same version: keep it for another TTL.
    pub fn renew(&self, name: &str, which: &Which, stages: Vec<String>) {
        let mut map = self.lock();
        let found = map
            .get_mut(name)
            .and_then(|v| v.iter_mut().find(|(w, _)| w == which));
        if let Some((_, e)) = found {
            e.stages = Arc::new(stages);
            e.checked_at = Instant::now();
        }
    }

    pub fn invalidate(&self, name: &str) {
        self.lock().remove(name);
    }
}
