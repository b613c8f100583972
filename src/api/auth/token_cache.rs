//! Verified tokens, keyed by the SHA-256 of the token, until their `exp`.
//! Bounded: when full, expired entries go first, then everything.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use aws_lc_rs::digest::{digest, SHA256};

use crate::api::scope::Principal;

struct Entry {
    principal: Arc<Principal>,
    exp: u64,
    /// Key-set generation at verification: a key removal invalidates.
    generation: u64,
}

pub(super) struct TokenCache {
    map: RwLock<HashMap<[u8; 32], Entry>>,
    max: usize,
}

fn key(token: &str) -> [u8; 32] {
    let mut k = [0u8; 32];
    k.copy_from_slice(digest(&SHA256, token.as_bytes()).as_ref());
    k
}

impl TokenCache {
    pub(super) fn new(max: usize) -> Self {
        Self {
            map: RwLock::new(HashMap::new()),
            max,
        }
    }

    pub(super) fn get(&self, token: &str, now: u64, generation: u64) -> Option<Arc<Principal>> {
        let map = self.map.read().unwrap_or_else(|e| e.into_inner());
        let e = map.get(&key(token))?;
        (e.exp > now && e.generation == generation).then(|| e.principal.clone())
    }

    pub(super) fn insert(
        &self,
        token: &str,
        principal: Arc<Principal>,
        exp: u64,
        now: u64,
        generation: u64,
    ) {
        if self.max == 0 {
            return;
        }
        let mut map = self.map.write().unwrap_or_else(|e| e.into_inner());
        if map.len() >= self.max {
            map.retain(|_, e| e.exp > now && e.generation == generation);
            if map.len() >= self.max {
                map.clear();
            }
        }
        map.insert(
            key(token),
            Entry {
                principal,
                exp,
                generation,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p() -> Arc<Principal> {
        Arc::new(Principal::from_claims("u".into(), None, None))
    }

    #[test]
    fn entries_expire_and_the_cache_stays_bounded() {
        let c = TokenCache::new(2);
        c.insert("a", p(), 100, 10, 0);
        assert!(c.get("a", 99, 0).is_some());
        assert!(c.get("a", 100, 0).is_none(), "expires at exp");
        assert!(c.get("a", 50, 1).is_none(), "a key change invalidates");
        c.insert("b", p(), 100, 10, 0);
        c.insert("c", p(), 100, 10, 0);
        let n = c.map.read().unwrap_or_else(|e| e.into_inner()).len();
        assert!(n <= 2, "bounded: {n}");
        assert!(c.get("c", 50, 0).is_some());
    }
}
