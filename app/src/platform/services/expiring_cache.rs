//! A small shared map whose entries are trusted for a fixed time after they
//! were stored: what a replica read from the database and may reuse briefly
//! (API tokens, organizations' prices). Stale entries are never returned and
//! are dropped at the next insert.

use std::{
    borrow::Borrow,
    collections::HashMap,
    hash::Hash,
    sync::{Arc, Mutex, MutexGuard},
    time::{Duration, Instant},
};

pub struct ExpiringCache<K, V> {
    ttl: Duration,
    entries: Arc<Mutex<HashMap<K, (Instant, V)>>>,
}

impl<K, V> Clone for ExpiringCache<K, V> {
    fn clone(&self) -> Self {
        Self {
            ttl: self.ttl,
            entries: self.entries.clone(),
        }
    }
}

impl<K, V> std::fmt::Debug for ExpiringCache<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExpiringCache").field("ttl", &self.ttl).finish()
    }
}

impl<K: Eq + Hash, V: Clone> ExpiringCache<K, V> {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: Arc::default(),
        }
    }

    /// The value stored for `key` less than the TTL ago.
    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Eq + Hash + ?Sized,
    {
        self.lock()
            .get(key)
            .filter(|(stored, _)| stored.elapsed() < self.ttl)
            .map(|(_, value)| value.clone())
    }

    pub fn insert(&self, key: K, value: V) {
        let mut entries = self.lock();
        // Entries nobody asked for again go with the next insert.
        entries.retain(|_, (stored, _)| stored.elapsed() < self.ttl);
        entries.insert(key, (Instant::now(), value));
    }

    pub fn remove<Q>(&self, key: &Q)
    where
        K: Borrow<Q>,
        Q: Eq + Hash + ?Sized,
    {
        self.lock().remove(key);
    }

    /// Keeps only the entries whose value `keep` accepts.
    pub fn retain(&self, mut keep: impl FnMut(&V) -> bool) {
        self.lock().retain(|_, (_, value)| keep(value));
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<K, (Instant, V)>> {
        // A panic while holding the lock leaves the map itself intact.
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_entries_only() {
        let cache = ExpiringCache::new(Duration::from_secs(60));
        cache.insert("a".to_owned(), 1);
        cache.insert("b".to_owned(), 2);
        assert_eq!(cache.get("a"), Some(1));
        assert_eq!(cache.get("c"), None);
        cache.remove("a");
        assert_eq!(cache.get("a"), None);
        cache.retain(|value| *value != 2);
        assert_eq!(cache.get("b"), None);

        let expired = ExpiringCache::new(Duration::ZERO);
        expired.insert("a", 1);
        assert_eq!(expired.get("a"), None);
        // The stale entry went with the next insert.
        expired.insert("b", 2);
        assert_eq!(expired.lock().len(), 1);
    }
}
