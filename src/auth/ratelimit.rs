//! Attempt limits: sign-in, "forgot password" and check-in codes.
//!
//! Sign-in failures are counted three ways, each a GCRA budget (a burst, then one more every
//! period): per account *and* address, which stops one machine guessing one person's password
//! yet cannot lock that person out from everywhere else; per account alone, a higher ceiling
//! for guessing spread over many machines; per address, for one machine trying many accounts.
//! An attempt takes from all three before the password is checked (so concurrent guesses
//! cannot overrun a budget) and a successful sign-in gives its share back: only failures
//! count. In memory, per instance: with N instances behind a balancer an attacker gets up to N
//! times the budget, which still turns an online guessing attack from hours into years.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::config::AuthSettings;

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

/// The three sign-in budgets of one instance (a second one, apart, limits password resets).
pub struct LoginLimiter {
    account_at_address: Option<Budget<(String, Option<IpAddr>)>>,
    account: Option<Budget<String>>,
    address: Option<Budget<IpAddr>>,
}

impl LoginLimiter {
    /// A burst of 0 turns that budget off.
    pub fn new(settings: &AuthSettings) -> LoginLimiter {
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
        }
    }

    /// Takes one attempt from each budget; `Err(wait)` when one of them is spent (then none is
    /// taken).
    pub fn check(&self, account: &str, address: Option<IpAddr>) -> Result<(), Duration> {
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
        let limiter = LoginLimiter::new(&settings(2, 0, 0));
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
        let limiter = LoginLimiter::new(&settings(5, 3, 0));
        for n in 1..=3 {
            assert!(limiter.check("a@x", ip(n)).is_ok());
        }
        assert!(limiter.check("a@x", ip(4)).is_err());
        assert!(limiter.check("b@x", ip(4)).is_ok());
    }

    #[test]
    fn address_budget_spans_accounts() {
        let limiter = LoginLimiter::new(&settings(0, 0, 2));
        assert!(limiter.check("a@x", ip(1)).is_ok());
        assert!(limiter.check("b@x", ip(1)).is_ok());
        assert!(limiter.check("c@x", ip(1)).is_err());
        assert!(limiter.check("c@x", ip(2)).is_ok());
    }

    #[test]
    fn successes_do_not_count() {
        let limiter = LoginLimiter::new(&settings(2, 2, 2));
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
        let limiter = LoginLimiter::new(&settings(2, 2, 1));
        assert!(limiter.check("a@x", ip(1)).is_ok());
        for _ in 0..5 {
            assert!(limiter.check("b@x", ip(1)).is_err());
        }
        assert!(limiter.check("b@x", ip(2)).is_ok());
        assert!(limiter.check("b@x", ip(3)).is_ok());
    }

    #[test]
    fn zero_burst_disables() {
        let limiter = LoginLimiter::new(&settings(0, 0, 0));
        for _ in 0..100 {
            assert!(limiter.check("a@x", ip(1)).is_ok());
        }
    }
}
