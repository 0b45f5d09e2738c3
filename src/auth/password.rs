//! Password hashing with argon2id at OWASP's recommended cost (19 MiB, 2 passes, 1 lane).
//!
//! Verification of an unknown account runs against a fixed dummy hash so that "no such email"
//! and "wrong password" take the same time and cannot be told apart by a stopwatch.

use std::sync::{Condvar, Mutex, OnceLock, PoisonError};

use argon2::{Algorithm, Argon2, Params, PasswordHash, PasswordHasher, PasswordVerifier, Version};

/// Memory cost in KiB, passes and lanes: OWASP's first recommended argon2id setting.
const MEMORY_KIB: u32 = 19 * 1024;
const PASSES: u32 = 2;
const LANES: u32 = 1;

/// The shortest password accepted when one is set.
pub const MIN_PASSWORD_LEN: usize = 12;

fn hasher() -> Argon2<'static> {
    let params = Params::new(MEMORY_KIB, PASSES, LANES, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// At most one argon2 computation per core at a time. More cannot finish sooner, and each holds
/// 19 MiB: without the gate a burst of 32 sign-ins held 32 x 19 MiB of freshly faulted memory and
/// reached half the machine's hashing rate (bench/load.sh); the rest now wait their turn.
struct Gate {
    busy: Mutex<usize>,
    freed: Condvar,
    limit: usize,
}

fn gated<T>(work: impl FnOnce() -> T) -> T {
    static GATE: OnceLock<Gate> = OnceLock::new();
    let gate = GATE.get_or_init(|| Gate {
        busy: Mutex::new(0),
        freed: Condvar::new(),
        limit: std::thread::available_parallelism().map_or(1, |n| n.get()),
    });
    {
        let mut busy = gate.busy.lock().unwrap_or_else(PoisonError::into_inner);
        while *busy >= gate.limit {
            busy = gate
                .freed
                .wait(busy)
                .unwrap_or_else(PoisonError::into_inner);
        }
        *busy += 1;
    }
    // Released on the way out, a panic included.
    struct Permit(&'static Gate);
    impl Drop for Permit {
        fn drop(&mut self) {
            *self.0.busy.lock().unwrap_or_else(PoisonError::into_inner) -= 1;
            self.0.freed.notify_one();
        }
    }
    let _permit = Permit(gate);
    work()
}

#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct HashError(String);

/// Hashes a password into a PHC string (`$argon2id$v=19$m=19456,t=2,p=1$...`).
pub fn hash(password: &str) -> Result<String, HashError> {
    gated(|| {
        hasher()
            .hash_password(password.as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| HashError(e.to_string()))
    })
}

/// Checks a password against a stored PHC string. A malformed stored hash never verifies.
pub fn verify(password: &str, stored: &str) -> bool {
    match PasswordHash::new(stored) {
        Ok(parsed) => gated(|| {
            hasher()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        }),
        Err(_) => false,
    }
}

/// Burns the same time as [`verify`] for an account that does not exist (or has no password).
pub fn verify_dummy(password: &str) {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let dummy = DUMMY.get_or_init(|| hash("tomoni-dummy-password").unwrap_or_default());
    let _ = verify(password, dummy);
}

/// A readable random password for generated accounts: 20 characters from a 56-letter alphabet
/// without look-alikes (~116 bits).
pub fn generate() -> String {
    use rand::RngExt;
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rng();
    (0..20)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_with_owasp_cost_and_verify() {
        let h = hash("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify("correct horse battery", &h));
        assert!(!verify("correct horse battery!", &h));
        assert!(!verify("anything", "not a hash"));
        assert_ne!(h, hash("correct horse battery").unwrap(), "salted");
    }

    /// 16 threads at once: never more than one computation per core inside the gate, every
    /// one finishes, and a panicking one gives its place back.
    #[test]
    fn no_more_hashes_run_at_once_than_there_are_cores() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static INSIDE: AtomicUsize = AtomicUsize::new(0);
        static MOST: AtomicUsize = AtomicUsize::new(0);
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let _ = std::panic::catch_unwind(|| gated(|| panic!("a failed computation")));
        let done: usize = std::thread::scope(|s| {
            let threads: Vec<_> = (0..16)
                .map(|_| {
                    s.spawn(|| {
                        gated(|| {
                            let now = INSIDE.fetch_add(1, Ordering::SeqCst) + 1;
                            MOST.fetch_max(now, Ordering::SeqCst);
                            std::thread::yield_now();
                            let h = hasher()
                                .hash_password(b"correct horse battery")
                                .map(|h| h.to_string());
                            INSIDE.fetch_sub(1, Ordering::SeqCst);
                            h
                        })
                    })
                })
                .collect();
            threads.into_iter().map(|t| t.join().is_ok() as usize).sum()
        });
        assert_eq!(done, 16);
        assert!(MOST.load(Ordering::SeqCst) <= cores, "{MOST:?} > {cores}");
    }

    #[test]
    fn generated_passwords_are_long_and_differ() {
        let a = generate();
        assert_eq!(a.len(), 20);
        assert_ne!(a, generate());
    }
}
