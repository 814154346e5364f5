//! Failed-login throttling per account and per client address.
//!
//! Kept in memory: a restart forgets the counters, which only gives an attacker a fresh
//! window after an operator action. Multi-node deployments share them through the store
//! when the full identity app lands.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct Throttle {
    window: Duration,
    max_per_account: usize,
    max_per_address: usize,
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

/// Entries kept before old ones are swept, so a flood of addresses cannot grow memory
/// without bound.
const SWEEP_AT: usize = 10_000;

impl Throttle {
    pub fn new(window: Duration, max_per_account: u32, max_per_address: u32) -> Self {
        Self {
            window,
            max_per_account: max_per_account.max(1) as usize,
            max_per_address: max_per_address.max(1) as usize,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// `Some(wait)` when the account or address must wait before trying again.
    pub fn check(&self, account: &str, address: &str) -> Option<Duration> {
        let a = self.check_account(account);
        let b = self.check_address(address);
        a.max(b)
    }

    /// Like [`Self::check`], for the account alone.
    pub fn check_account(&self, account: &str) -> Option<Duration> {
        self.check_key(&acct(account), self.max_per_account)
    }

    /// Like [`Self::check`], for the address alone.
    pub fn check_address(&self, address: &str) -> Option<Duration> {
        self.check_key(&addr(address), self.max_per_address)
    }

    fn check_key(&self, key: &str, max: usize) -> Option<Duration> {
        let now = Instant::now();
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let q = map.get_mut(key)?;
        while q
            .front()
            .is_some_and(|t| now.duration_since(*t) > self.window)
        {
            q.pop_front();
        }
        if q.len() < max {
            return None;
        }
        q.front()
            .map(|oldest| self.window.saturating_sub(now.duration_since(*oldest)))
    }

    pub fn record_failure(&self, account: &str, address: &str) {
        self.record(acct(account));
        self.record(addr(address));
    }

    /// Counts one event against the account alone.
    pub fn record_account(&self, account: &str) {
        self.record(acct(account));
    }

    /// Counts one event against the address alone.
    pub fn record_address(&self, address: &str) {
        self.record(addr(address));
    }

    fn record(&self, key: String) {
        let now = Instant::now();
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() > SWEEP_AT {
            let window = self.window;
            map.retain(|_, q| q.back().is_some_and(|t| now.duration_since(*t) <= window));
        }
        map.entry(key).or_default().push_back(now);
    }

    pub fn record_success(&self, account: &str) {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(&acct(account));
    }
}

fn acct(a: &str) -> String {
    format!("a:{}", a.to_lowercase())
}

fn addr(a: &str) -> String {
    format!("i:{a}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_after_max_failures_and_success_resets_account() {
        let t = Throttle::new(Duration::from_secs(60), 3, 100);
        for _ in 0..3 {
            assert!(t.check("a@x", "1.1.1.1").is_none());
            t.record_failure("a@x", "1.1.1.1");
        }
        assert!(
            t.check("a@x", "2.2.2.2").is_some(),
            "account locked from any address"
        );
        assert!(
            t.check("b@x", "1.1.1.1").is_none(),
            "other accounts unaffected"
        );
        t.record_success("a@x");
        assert!(t.check("a@x", "1.1.1.1").is_none());
    }

    #[test]
    fn address_limit_spans_accounts() {
        let t = Throttle::new(Duration::from_secs(60), 100, 2);
        t.record_failure("a@x", "9.9.9.9");
        t.record_failure("b@x", "9.9.9.9");
        assert!(t.check("c@x", "9.9.9.9").is_some());
    }
}
