//! How many exports run at once: a download streams for as long as the client reads, so it
//! runs on its own database connection (never one of the API's pool) under a small bound of its
//! own, in all and per person. Past either bound the answer is 429 with `Retry-After`, at once.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::config::ExportSettings;
use crate::db::Id;
use crate::error::AppError;

/// Seconds a refused export is told to wait before trying again.
const RETRY_AFTER_SECS: u32 = 10;

struct Inner {
    total: Arc<Semaphore>,
    per_user: u32,
    running: Mutex<HashMap<Id, u32>>,
}

/// The export bound of one instance.
#[derive(Clone)]
pub struct ExportSlots(Arc<Inner>);

/// A running export's place; given back when dropped (the export ended, however).
pub struct Slot {
    _permit: OwnedSemaphorePermit,
    user: Id,
    inner: Arc<Inner>,
}

impl ExportSlots {
    pub fn new(settings: &ExportSettings) -> ExportSlots {
        ExportSlots(Arc::new(Inner {
            total: Arc::new(Semaphore::new(settings.concurrency as usize)),
            per_user: settings.per_user,
            running: Mutex::new(HashMap::new()),
        }))
    }

    /// A place for `user`'s export, or 429 `exports_busy`.
    pub fn take(&self, user: Id) -> Result<Slot, AppError> {
        let mut running = self.0.running.lock();
        let mine = running.get(&user).copied().unwrap_or(0);
        if mine >= self.0.per_user {
            return Err(busy(format!(
                "you already have {mine} export(s) running; wait for it to finish"
            )));
        }
        let permit = self
            .0
            .total
            .clone()
            .try_acquire_owned()
            .map_err(|_| busy("every export slot is in use; try again shortly".into()))?;
        running.insert(user, mine + 1);
        Ok(Slot {
            _permit: permit,
            user,
            inner: self.0.clone(),
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut running = self.inner.running.lock();
        match running.get(&self.user).copied() {
            Some(n) if n > 1 => {
                running.insert(self.user, n - 1);
            }
            _ => {
                running.remove(&self.user);
            }
        }
    }
}

fn busy(detail: String) -> AppError {
    AppError::new(
        actix_web::http::StatusCode::TOO_MANY_REQUESTS,
        "exports_busy",
        detail,
    )
    .with_header(
        actix_web::http::header::RETRY_AFTER,
        actix_web::http::header::HeaderValue::from(RETRY_AFTER_SECS),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_come_back_when_an_export_ends() {
        let slots = ExportSlots::new(&ExportSettings {
            concurrency: 2,
            per_user: 1,
            stall_timeout_secs: 30,
        });
        let (a, b, c) = (Id::new(), Id::new(), Id::new());
        let first = slots.take(a).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(slots.take(a).err().map(|e| e.code()), Some("exports_busy"));
        let second = slots.take(b).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(slots.take(c).err().map(|e| e.code()), Some("exports_busy"));
        drop(first);
        let third = slots.take(c).unwrap_or_else(|e| panic!("{e}"));
        assert!(slots.take(a).is_err(), "both places taken again");
        drop((second, third));
        assert!(slots.take(a).is_ok());
    }
}
