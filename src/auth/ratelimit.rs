//! Attempt limits: sign-in, "forgot password" and check-in codes.
//!
//! Sign-in failures are counted three ways, each a GCRA budget (a burst, then one more every
//! period): per account *and* address, which stops one machine guessing one person's password
//! yet cannot lock that person out from everywhere else; per account alone, a higher ceiling
//! for guessing spread over many machines; per address, for one machine trying many accounts.
//! An attempt takes from all three before the password is checked (so concurrent guesses
//! cannot overrun a budget) and a successful sign-in gives its share back: only failures
//! count. On PostgreSQL the sign-in budgets live in the database (`attempt_budgets`, one row
//! per key, taken with one atomic upsert), so N instances behind a balancer share them and an
//! attacker gets no more attempts than against one; should that table not answer, the
//! instance falls back to its own in-memory budgets rather than letting everyone through or
//! no one. SQLite runs one instance and keeps them in memory.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use parking_lot::Mutex;

use crate::config::AuthSettings;
use crate::db::{AnyConnection, Pool};

/// Above this many tracked keys, forgotten ones are swept.
const SWEEP_ABOVE: usize = 10_000;

/// One keyed budget: `burst` attempts at once, then one more every `period`. Per key it keeps
/// the theoretical arrival time (GCRA), the instant by which the key's budget is whole again.
struct Budget<K> {
    burst: u32,
    period: Duration,
    full_at: Mutex<HashMap<K, Instant>>,
}

impl<K: Hash + Eq + Clone> Budget<K> {
    /// `None` (no limit) for a burst of 0.
    fn new(burst: u32, period_secs: u64) -> Option<Budget<K>> {
        (burst > 0).then(|| Budget {
            burst,
            period: Duration::from_secs(period_secs.max(1)),
            full_at: Mutex::new(HashMap::new()),
        })
    }

    /// Takes one attempt, or says how long until one is there.
    fn take(&self, key: &K, now: Instant) -> Result<(), Duration> {
        let mut full_at = self.full_at.lock();
        let at = full_at.get(key).copied().unwrap_or(now).max(now);
        let ahead = at.saturating_duration_since(now);
        let tolerance = self.period * (self.burst - 1);
        if ahead > tolerance {
            return Err(ahead - tolerance);
        }
        full_at.insert(key.clone(), at + self.period);
        if full_at.len() > SWEEP_ABOVE {
            full_at.retain(|_, at| *at > now);
        }
        Ok(())
    }

    /// Gives back one attempt taken earlier.
    fn give_back(&self, key: &K, now: Instant) {
        let mut full_at = self.full_at.lock();
        if let Some(at) = full_at.get_mut(key) {
            match at.checked_sub(self.period) {
                Some(earlier) if earlier > now => *at = earlier,
                _ => {
                    full_at.remove(key);
                }
            }
        }
    }
}

/// The three sign-in budgets (a second set, apart, limits password resets).
pub struct LoginLimiter {
    account_at_address: Option<Budget<(String, Option<IpAddr>)>>,
    account: Option<Budget<String>>,
    address: Option<Budget<IpAddr>>,
    /// PostgreSQL: the budgets shared by every instance, under keys starting with `name`.
    shared: Option<(Pool, &'static str)>,
}

#[derive(QueryableByName)]
struct FullAt {
    #[diesel(sql_type = BigInt)]
    full_at_us: i64,
}

fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

fn now_us() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

/// One shared GCRA budget: takes an attempt for `key` or says how long until there is one.
fn take_shared(
    conn: &mut AnyConnection,
    key: &str,
    burst: u32,
    period: Duration,
) -> QueryResult<Result<(), Duration>> {
    let (now, period) = (now_us(), micros(period));
    let tolerance = period.saturating_mul(i64::from(burst.saturating_sub(1)));
    let taken: Vec<FullAt> = diesel::sql_query(
        "INSERT INTO attempt_budgets (key, full_at_us) VALUES ($1, $2 + $3) \
         ON CONFLICT (key) DO UPDATE \
         SET full_at_us = GREATEST(attempt_budgets.full_at_us, $2) + $3 \
         WHERE GREATEST(attempt_budgets.full_at_us, $2) - $2 <= $4 \
         RETURNING full_at_us",
    )
    .bind::<Text, _>(key)
    .bind::<BigInt, _>(now)
    .bind::<BigInt, _>(period)
    .bind::<BigInt, _>(tolerance)
    .load(conn)?;
    if !taken.is_empty() {
        return Ok(Ok(()));
    }
    let at: Vec<FullAt> =
        diesel::sql_query("SELECT full_at_us FROM attempt_budgets WHERE key = $1")
            .bind::<Text, _>(key)
            .load(conn)?;
    let ahead = at.first().map_or(0, |a| a.full_at_us - now);
    let wait = u64::try_from(ahead - tolerance).unwrap_or(1).max(1);
    Ok(Err(Duration::from_micros(wait)))
}

/// Gives one attempt back to a shared budget; a budget whole again is removed.
fn give_back_shared(conn: &mut AnyConnection, key: &str, period: Duration) -> QueryResult<()> {
    diesel::sql_query("UPDATE attempt_budgets SET full_at_us = full_at_us - $2 WHERE key = $1")
        .bind::<Text, _>(key)
        .bind::<BigInt, _>(micros(period))
        .execute(conn)?;
    diesel::sql_query("DELETE FROM attempt_budgets WHERE key = $1 AND full_at_us <= $2")
        .bind::<Text, _>(key)
        .bind::<BigInt, _>(now_us())
        .execute(conn)?;
    Ok(())
}

impl LoginLimiter {
    /// A burst of 0 turns that budget off. `shared`: the pool of a PostgreSQL database whose
    /// `attempt_budgets` every instance uses, and this limiter's key prefix.
    pub fn new(settings: &AuthSettings, shared: Option<(Pool, &'static str)>) -> LoginLimiter {
        LoginLimiter {
            account_at_address: Budget::new(
                settings.login_account_burst,
                settings.login_account_period_secs,
            ),
            account: Budget::new(
                settings.login_account_ceiling_burst,
                settings.login_account_ceiling_period_secs,
            ),
            address: Budget::new(
                settings.login_address_burst,
                settings.login_address_period_secs,
            ),
            shared,
        }
    }

    /// The budgets an attempt takes from: (key, burst, period), in order.
    fn keys(&self, account: &str, address: Option<IpAddr>) -> Vec<(String, u32, Duration)> {
        let prefix = self.shared.as_ref().map_or("", |(_, p)| p);
        let mut keys = Vec::new();
        if let Some(b) = &self.account_at_address {
            let at = address.map_or_else(String::new, |a| a.to_string());
            keys.push((format!("{prefix}:pair:{account}|{at}"), b.burst, b.period));
        }
        if let Some(b) = &self.account {
            keys.push((format!("{prefix}:account:{account}"), b.burst, b.period));
        }
        if let (Some(b), Some(ip)) = (&self.address, address) {
            keys.push((format!("{prefix}:address:{ip}"), b.burst, b.period));
        }
        keys
    }

    /// The shared budgets: takes from each, or from none. `None` when they cannot be reached.
    fn check_shared(
        &self,
        pool: &Pool,
        account: &str,
        address: Option<IpAddr>,
    ) -> Option<Result<(), Duration>> {
        let keys = self.keys(account, address);
        let outcome = (|| -> Result<Result<(), Duration>, crate::error::AppError> {
            let mut conn = pool.get()?;
            let conn = &mut *conn;
            for (i, (key, burst, period)) in keys.iter().enumerate() {
                if let Err(wait) = take_shared(conn, key, *burst, *period)? {
                    for (key, _, period) in &keys[..i] {
                        give_back_shared(conn, key, *period)?;
                    }
                    return Ok(Err(wait));
                }
            }
            Ok(Ok(()))
        })();
        match outcome {
            Ok(r) => Some(r),
            Err(e) => {
                tracing::warn!(error = %e, "shared attempt budgets unavailable; this instance's own count");
                None
            }
        }
    }

    /// Takes one attempt from each budget; `Err(wait)` when one of them is spent (then none is
    /// taken). Blocking on PostgreSQL (a few queries): call it off the async threads.
    pub fn check(&self, account: &str, address: Option<IpAddr>) -> Result<(), Duration> {
        if let Some((pool, _)) = &self.shared
            && let Some(outcome) = self.check_shared(pool, account, address)
        {
            return outcome;
        }
        let now = Instant::now();
        let pair = (account.to_owned(), address);
        let account = account.to_owned();
        if let Some(b) = &self.account_at_address {
            b.take(&pair, now)?;
        }
        if let Some(b) = &self.account
            && let Err(wait) = b.take(&account, now)
        {
            if let Some(b) = &self.account_at_address {
                b.give_back(&pair, now);
            }
            return Err(wait);
        }
        if let (Some(b), Some(ip)) = (&self.address, address)
            && let Err(wait) = b.take(&ip, now)
        {
            if let Some(b) = &self.account_at_address {
                b.give_back(&pair, now);
            }
            if let Some(b) = &self.account {
                b.give_back(&account, now);
            }
            return Err(wait);
        }
        Ok(())
    }

    /// The attempt `check` took succeeded: it does not count.
    pub fn succeeded(&self, account: &str, address: Option<IpAddr>) {
        if let Some((pool, _)) = &self.shared {
            let keys = self.keys(account, address);
            let given = pool
                .get()
                .map_err(crate::error::AppError::from)
                .and_then(|mut c| {
                    for (key, _, period) in &keys {
                        give_back_shared(&mut c, key, *period)?;
                    }
                    Ok(())
                });
            match given {
                Ok(()) => return,
                Err(e) => tracing::warn!(error = %e, "shared attempt budgets unavailable"),
            }
        }
        let now = Instant::now();
        if let Some(b) = &self.account_at_address {
            b.give_back(&(account.to_owned(), address), now);
        }
        if let Some(b) = &self.account {
            b.give_back(&account.to_owned(), now);
        }
        if let (Some(b), Some(ip)) = (&self.address, address) {
            b.give_back(&ip, now);
        }
    }
}

/// 429 `too_many_attempts` for `what` ("sign-in", "check-in") after waiting `wait`, with
/// `Retry-After` in whole seconds (at least 1): one answer for every attempt limit.
pub fn too_many_attempts(what: &str, wait: Duration) -> crate::error::AppError {
    let secs = (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1);
    tracing::warn!(retry_after = secs, "{what} attempt limit reached");
    crate::error::AppError::new(
        actix_web::http::StatusCode::TOO_MANY_REQUESTS,
        "too_many_attempts",
        format!("too many {what} attempts; retry in {secs} s"),
    )
    .with_header(
        actix_web::http::header::RETRY_AFTER,
        actix_web::http::header::HeaderValue::from(secs),
    )
}

/// Check-in attempts per (employee, event): a wrong guess of an event's code costs budget, so
/// the code cannot be found by trying.
pub struct CheckInLimiter {
    attempts: Option<Budget<(crate::db::Id, crate::db::Id)>>,
}

impl CheckInLimiter {
    /// A burst of 0 turns the limit off.
    pub fn new(burst: u32, period_secs: u64) -> CheckInLimiter {
        CheckInLimiter {
            attempts: Budget::new(burst, period_secs),
        }
    }

    /// Counts one attempt; 429 `too_many_attempts` with `Retry-After` past the budget.
    pub fn check(&self, user: crate::db::Id, event: crate::db::Id) -> crate::error::AppResult<()> {
        let Some(budget) = &self.attempts else {
            return Ok(());
        };
        budget
            .take(&(user, event), Instant::now())
            .map_err(|wait| too_many_attempts("check-in", wait))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pair_burst: u32, ceiling_burst: u32, address_burst: u32) -> AuthSettings {
        AuthSettings {
            login_account_burst: pair_burst,
            login_account_period_secs: 60,
            login_account_ceiling_burst: ceiling_burst,
            login_account_ceiling_period_secs: 60,
            login_address_burst: address_burst,
            login_address_period_secs: 60,
            ..crate::config::Settings::defaults().unwrap().auth
        }
    }

    fn ip(n: u8) -> Option<IpAddr> {
        Some(IpAddr::from([192, 0, 2, n]))
    }

    #[test]
    fn an_account_is_limited_per_address() {
        let limiter = LoginLimiter::new(&settings(2, 0, 0), None);
        assert!(limiter.check("a@x", ip(1)).is_ok());
        assert!(limiter.check("a@x", ip(1)).is_ok());
        let wait = limiter.check("a@x", ip(1)).unwrap_err();
        assert!(
            wait > Duration::from_secs(30) && wait <= Duration::from_secs(60),
            "{wait:?}"
        );
        assert!(
            limiter.check("a@x", ip(2)).is_ok(),
            "the owner, elsewhere, is not locked out"
        );
        assert!(limiter.check("b@x", ip(1)).is_ok(), "another account");
    }

    #[test]
    fn the_ceiling_spans_addresses() {
        let limiter = LoginLimiter::new(&settings(5, 3, 0), None);
        for n in 1..=3 {
            assert!(limiter.check("a@x", ip(n)).is_ok());
        }
        assert!(limiter.check("a@x", ip(4)).is_err());
        assert!(limiter.check("b@x", ip(4)).is_ok());
    }

    #[test]
    fn address_budget_spans_accounts() {
        let limiter = LoginLimiter::new(&settings(0, 0, 2), None);
        assert!(limiter.check("a@x", ip(1)).is_ok());
        assert!(limiter.check("b@x", ip(1)).is_ok());
        assert!(limiter.check("c@x", ip(1)).is_err());
        assert!(limiter.check("c@x", ip(2)).is_ok());
    }

    #[test]
    fn successes_do_not_count() {
        let limiter = LoginLimiter::new(&settings(2, 2, 2), None);
        for _ in 0..50 {
            assert!(limiter.check("a@x", ip(1)).is_ok());
            limiter.succeeded("a@x", ip(1));
        }
        assert!(limiter.check("a@x", ip(1)).is_ok());
        assert!(limiter.check("a@x", ip(1)).is_ok());
        assert!(
            limiter.check("a@x", ip(1)).is_err(),
            "two failures spend it"
        );
    }

    #[test]
    fn a_refused_attempt_takes_nothing() {
        // The address is spent; the account's budgets must not pay for the refusals.
        let limiter = LoginLimiter::new(&settings(2, 2, 1), None);
        assert!(limiter.check("a@x", ip(1)).is_ok());
        for _ in 0..5 {
            assert!(limiter.check("b@x", ip(1)).is_err());
        }
        assert!(limiter.check("b@x", ip(2)).is_ok());
        assert!(limiter.check("b@x", ip(3)).is_ok());
    }

    #[test]
    fn zero_burst_disables() {
        let limiter = LoginLimiter::new(&settings(0, 0, 0), None);
        for _ in 0..100 {
            assert!(limiter.check("a@x", ip(1)).is_ok());
        }
    }
}
