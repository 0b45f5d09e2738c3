//! The employees' event list, kept for a moment.
//!
//! Every employee who opens tomoni asks for the same first page of upcoming events, and the
//! answer is the same for all of them (published events only, nothing of the caller in the
//! filter). The list is already allowed to be a moment behind (it may come from a replica up to
//! `database.read_max_lag_ms` late), so an instance answers a repeated employee query from
//! memory for up to `database.list_cache_ms`, while the caller's token and account are still
//! checked against the database on every request.
//!
//! What an employee has just done must show: every write request this instance finishes
//! (any method but GET, HEAD and OPTIONS, through either front door) starts a new generation, and
//! a page kept from an earlier generation is not served again. Writes on other instances, the
//! mail worker and the command line show within `list_cache_ms`.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::events::Event;
use crate::error::AppResult;

/// At most this many different queries are kept: a page is at most 201 events, so the cache
/// stays within a few MiB whatever queries clients send.
const MAX_ENTRIES: usize = 64;

/// At most this many site names are kept (the model programme has 1,700 sites).
const MAX_NAMES: usize = 10_000;

/// Pages of the employees' event list by query, for `ttl`.
pub struct ListCache {
    ttl: Duration,
    generation: AtomicU64,
    entries: Mutex<HashMap<String, Entry>>,
    names: Mutex<Names>,
}

/// The names of the sites the kept pages list (the web page shows them beside each event),
/// kept under the same rule as the pages: dropped after a write on this instance or `ttl`.
struct Names {
    at: Instant,
    generation: u64,
    by_id: HashMap<uuid::Uuid, String>,
}

struct Entry {
    at: Instant,
    generation: u64,
    rows: Arc<Vec<Event>>,
}

/// Whether a page came from memory or from the database (counted in the metrics).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Memory,
    Database,
}

impl Source {
    /// The metrics' label.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Memory => "memory",
            Source::Database => "database",
        }
    }
}

impl ListCache {
    /// A cache that keeps pages for `ttl_ms` milliseconds; 0 keeps none.
    pub fn new(ttl_ms: u64) -> ListCache {
        ListCache {
            ttl: Duration::from_millis(ttl_ms),
            generation: AtomicU64::new(0),
            entries: Mutex::new(HashMap::new()),
            names: Mutex::new(Names {
                at: Instant::now(),
                generation: 0,
                by_id: HashMap::new(),
            }),
        }
    }

    /// Whether pages are kept at all (`list_cache_ms` > 0).
    pub fn keeps_pages(&self) -> bool {
        !self.ttl.is_zero()
    }

    /// The names of `ids`, those not kept read with `read` (and then kept). With a ttl of 0
    /// every name is read.
    pub fn site_names(
        &self,
        ids: &[uuid::Uuid],
        read: impl FnOnce(&[uuid::Uuid]) -> AppResult<Vec<(uuid::Uuid, String)>>,
    ) -> AppResult<HashMap<uuid::Uuid, String>> {
        if self.ttl.is_zero() {
            return Ok(read(ids)?.into_iter().collect());
        }
        let generation = self.generation.load(Ordering::Acquire);
        let mut found = HashMap::with_capacity(ids.len());
        let mut missing = Vec::new();
        {
            let mut names = self.names.lock();
            if names.generation != generation || names.at.elapsed() >= self.ttl {
                names.by_id.clear();
                names.generation = generation;
                names.at = Instant::now();
            }
            for id in ids {
                match names.by_id.get(id) {
                    Some(name) => {
                        found.insert(*id, name.clone());
                    }
                    None => missing.push(*id),
                }
            }
        }
        if missing.is_empty() {
            return Ok(found);
        }
        let read = read(&missing)?;
        let mut names = self.names.lock();
        // Kept only if no write finished while they were read.
        if names.generation == generation && names.by_id.len() + read.len() <= MAX_NAMES {
            names.by_id.extend(read.iter().cloned());
        }
        found.extend(read);
        Ok(found)
    }

    /// A write request has finished on this instance: no page read before it is served again.
    pub fn written(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// The page for `key`, from memory when one no older than the ttl was read since the last
    /// write, else from `read` (and then kept). `None` as the key (a query that depends on the
    /// caller) always reads.
    pub fn get_or_read(
        &self,
        key: Option<String>,
        read: impl FnOnce() -> AppResult<Vec<Event>>,
    ) -> AppResult<(Arc<Vec<Event>>, Source)> {
        let Some(key) = key.filter(|_| !self.ttl.is_zero()) else {
            return Ok((Arc::new(read()?), Source::Database));
        };
        // The generation is taken before reading: a write that finishes while the read runs
        // makes what it read old at once.
        let generation = self.generation.load(Ordering::Acquire);
        let now = Instant::now();
        if let Some(e) = self.entries.lock().get(&key)
            && e.generation == generation
            && now.duration_since(e.at) < self.ttl
        {
            return Ok((e.rows.clone(), Source::Memory));
        }
        let rows = Arc::new(read()?);
        let mut entries = self.entries.lock();
        if entries.len() >= MAX_ENTRIES && !entries.contains_key(&key) {
            let current = self.generation.load(Ordering::Acquire);
            entries.retain(|_, e| e.generation == current && now.duration_since(e.at) < self.ttl);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(
            key,
            Entry {
                at: now,
                generation,
                rows: rows.clone(),
            },
        );
        Ok((rows, Source::Database))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn site_names_are_read_once_until_a_write_and_never_kept_without_a_ttl() {
        let (a, b) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
        let asked = std::cell::RefCell::new(Vec::new());
        let read = |ids: &[uuid::Uuid]| {
            asked.borrow_mut().push(ids.len());
            Ok(ids.iter().map(|id| (*id, id.to_string())).collect())
        };
        let cache = ListCache::new(60_000);
        assert_eq!(cache.site_names(&[a], read).unwrap()[&a], a.to_string());
        // Only the one not kept is read.
        assert_eq!(cache.site_names(&[a, b], read).unwrap().len(), 2);
        assert_eq!(cache.site_names(&[a, b], read).unwrap().len(), 2);
        assert_eq!(*asked.borrow(), [1, 1]);
        cache.written();
        cache.site_names(&[a, b], read).unwrap();
        assert_eq!(*asked.borrow(), [1, 1, 2]);

        let off = ListCache::new(0);
        off.site_names(&[a], read).unwrap();
        off.site_names(&[a], read).unwrap();
        assert_eq!(*asked.borrow(), [1, 1, 2, 1, 1]);
    }

    fn read(n: &mut u32) -> AppResult<Vec<Event>> {
        *n += 1;
        Ok(Vec::new())
    }

    #[test]
    fn a_repeated_query_is_read_once_until_a_write() {
        let cache = ListCache::new(60_000);
        let mut reads = 0;
        let key = || Some("upcoming".to_owned());
        assert_eq!(
            cache.get_or_read(key(), || read(&mut reads)).unwrap().1,
            Source::Database
        );
        assert_eq!(
            cache.get_or_read(key(), || read(&mut reads)).unwrap().1,
            Source::Memory
        );
        assert_eq!(reads, 1);
        cache.written();
        assert_eq!(
            cache.get_or_read(key(), || read(&mut reads)).unwrap().1,
            Source::Database
        );
        assert_eq!(reads, 2);
    }

    #[test]
    fn nothing_is_kept_without_a_key_or_a_ttl() {
        let mut reads = 0;
        let cache = ListCache::new(60_000);
        cache.get_or_read(None, || read(&mut reads)).unwrap();
        cache.get_or_read(None, || read(&mut reads)).unwrap();
        let off = ListCache::new(0);
        off.get_or_read(Some("k".into()), || read(&mut reads))
            .unwrap();
        off.get_or_read(Some("k".into()), || read(&mut reads))
            .unwrap();
        assert_eq!(reads, 4);
    }

    #[test]
    fn a_page_older_than_the_ttl_is_read_again() {
        let cache = ListCache::new(1);
        let mut reads = 0;
        cache
            .get_or_read(Some("k".into()), || read(&mut reads))
            .unwrap();
        let kept_at = Instant::now();
        while kept_at.elapsed() < Duration::from_millis(2) {
            std::hint::spin_loop();
        }
        cache
            .get_or_read(Some("k".into()), || read(&mut reads))
            .unwrap();
        assert_eq!(reads, 2);
    }

    #[test]
    fn many_different_queries_stay_bounded() {
        let cache = ListCache::new(60_000);
        let mut reads = 0;
        for i in 0..(MAX_ENTRIES * 3) {
            cache
                .get_or_read(Some(format!("q{i}")), || read(&mut reads))
                .unwrap();
            assert!(cache.entries.lock().len() <= MAX_ENTRIES);
        }
    }

    #[test]
    fn a_failed_read_keeps_nothing() {
        let cache = ListCache::new(60_000);
        let failed = cache.get_or_read(Some("k".into()), || {
            Err(crate::error::AppError::bad_request("invalid_query", "no"))
        });
        assert!(failed.is_err());
        assert!(cache.entries.lock().is_empty());
    }
}
