//! Sign-in rate limits, per account and per client address (GCRA from `governor`).
//!
//! Per account slows down guessing one person's password from many machines; per address slows
//! down one machine trying many accounts. Both are in memory, per instance: with N instances
//! behind a balancer an attacker gets up to N times the budget, which still turns an online
//! guessing attack from hours into years.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::config::AuthSettings;

/// Above this many tracked keys, forgotten ones are swept.
const SWEEP_ABOVE: usize = 10_000;

pub struct LoginLimiter {
    accounts: Option<DefaultKeyedRateLimiter<String>>,
    addresses: Option<DefaultKeyedRateLimiter<IpAddr>>,
    clock: DefaultClock,
}

fn quota(burst: u32, period_secs: u64) -> Option<Quota> {
    let burst = NonZeroU32::new(burst)?;
    Quota::with_period(Duration::from_secs(period_secs.max(1))).map(|q| q.allow_burst(burst))
}

impl LoginLimiter {
    /// A burst of 0 turns that limit off.
    pub fn new(settings: &AuthSettings) -> LoginLimiter {
        LoginLimiter {
            accounts: quota(
                settings.login_account_burst,
                settings.login_account_period_secs,
            )
            .map(RateLimiter::keyed),
            addresses: quota(
                settings.login_address_burst,
                settings.login_address_period_secs,
            )
            .map(RateLimiter::keyed),
            clock: DefaultClock::default(),
        }
    }

    /// Counts one attempt; `Err(wait)` when the account or the address is over its budget.
    pub fn check(&self, account: &str, address: Option<IpAddr>) -> Result<(), Duration> {
        if let (Some(limiter), Some(ip)) = (&self.addresses, address) {
            limiter
                .check_key(&ip)
                .map_err(|n| n.wait_time_from(self.clock.now()))?;
            if limiter.len() > SWEEP_ABOVE {
                limiter.retain_recent();
            }
        }
        if let Some(limiter) = &self.accounts {
            limiter
                .check_key(&account.to_owned())
                .map_err(|n| n.wait_time_from(self.clock.now()))?;
            if limiter.len() > SWEEP_ABOVE {
                limiter.retain_recent();
            }
        }
        Ok(())
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
    attempts: Option<DefaultKeyedRateLimiter<(crate::db::Id, crate::db::Id)>>,
    clock: DefaultClock,
}

impl CheckInLimiter {
    /// A burst of 0 turns the limit off.
    pub fn new(burst: u32, period_secs: u64) -> CheckInLimiter {
        CheckInLimiter {
            attempts: quota(burst, period_secs).map(RateLimiter::keyed),
            clock: DefaultClock::default(),
        }
    }

    /// Counts one attempt; 429 `too_many_attempts` with `Retry-After` past the budget.
    pub fn check(&self, user: crate::db::Id, event: crate::db::Id) -> crate::error::AppResult<()> {
        let Some(limiter) = &self.attempts else {
            return Ok(());
        };
        let result = limiter.check_key(&(user, event));
        if limiter.len() > SWEEP_ABOVE {
            limiter.retain_recent();
        }
        result.map_err(|n| too_many_attempts("check-in", n.wait_time_from(self.clock.now())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(account_burst: u32, address_burst: u32) -> AuthSettings {
        AuthSettings {
            login_account_burst: account_burst,
            login_account_period_secs: 60,
            login_address_burst: address_burst,
            login_address_period_secs: 60,
            ..crate::config::Settings::defaults().unwrap().auth
        }
    }

    #[test]
    fn account_budget_is_per_account() {
        let limiter = LoginLimiter::new(&settings(2, 0));
        assert!(limiter.check("a@x", None).is_ok());
        assert!(limiter.check("a@x", None).is_ok());
        let wait = limiter.check("a@x", None).unwrap_err();
        assert!(
            wait > Duration::from_secs(30) && wait <= Duration::from_secs(60),
            "{wait:?}"
        );
        assert!(
            limiter.check("b@x", None).is_ok(),
            "another account is unaffected"
        );
    }

    #[test]
    fn address_budget_spans_accounts() {
        let limiter = LoginLimiter::new(&settings(0, 2));
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        assert!(limiter.check("a@x", Some(ip)).is_ok());
        assert!(limiter.check("b@x", Some(ip)).is_ok());
        assert!(limiter.check("c@x", Some(ip)).is_err());
        assert!(
            limiter
                .check("c@x", Some("192.0.2.2".parse().unwrap()))
                .is_ok()
        );
    }

    #[test]
    fn zero_burst_disables() {
        let limiter = LoginLimiter::new(&settings(0, 0));
        for _ in 0..100 {
            assert!(
                limiter
                    .check("a@x", Some("192.0.2.1".parse().unwrap()))
                    .is_ok()
            );
        }
    }
}
