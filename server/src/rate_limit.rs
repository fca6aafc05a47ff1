//! Per-client limits on the endpoints that need no token and cost something: login (password
//! guessing, and an Argon2 hash per attempt) and the public intake (Open311, the resident
//! form: complaint spam). Each is a GCRA limiter keyed by the client's address: a burst of N,
//! then one request every 60/N seconds. Logins are limited per account too, so the address
//! limit can be generous: a county's phones behind one carrier NAT share an address, while
//! guessing one account's password is held to the account's rate from any number of
//! addresses. An instance limits its own traffic; several instances behind a balancer each
//! allow the rate.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::num::NonZeroU32;

use actix_web::HttpRequest;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::error::ApiError;

/// Addresses tracked before those back at a full allowance are forgotten.
const MAX_TRACKED: usize = 10_000;

/// Which limit a request counts against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    Login,
    Intake,
}

/// The limiters of one server instance.
pub struct PublicLimits {
    login: Option<DefaultKeyedRateLimiter<IpAddr>>,
    intake: Option<DefaultKeyedRateLimiter<IpAddr>>,
    accounts: Option<DefaultKeyedRateLimiter<String>>,
}

impl fmt::Debug for PublicLimits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicLimits")
            .field("login", &self.login.is_some())
            .field("intake", &self.intake.is_some())
            .field("accounts", &self.accounts.is_some())
            .finish()
    }
}

fn limiter<K: std::hash::Hash + Eq + Clone>(per_minute: u32) -> Option<DefaultKeyedRateLimiter<K>> {
    NonZeroU32::new(per_minute).map(|n| RateLimiter::keyed(Quota::per_minute(n)))
}

/// A 429 saying when the limiter lets the next request through.
fn refusal(not_until: governor::NotUntil<governor::clock::QuantaInstant>) -> ApiError {
    let wait = not_until.wait_time_from(DefaultClock::default().now());
    ApiError::TooManyRequests {
        retry_after_secs: wait.as_secs() + 1,
    }
}

impl PublicLimits {
    /// Limits of so many requests per minute per address, and logins per account; 0 turns
    /// one off.
    pub fn new(login_per_minute: u32, intake_per_minute: u32, account_per_minute: u32) -> Self {
        PublicLimits {
            login: limiter(login_per_minute),
            intake: limiter(intake_per_minute),
            accounts: limiter(account_per_minute),
        }
    }

    /// Counts one login attempt for the account named `username` (as typed: case and
    /// surrounding space do not make another key).
    pub fn check_account(&self, username: &str) -> Result<(), ApiError> {
        let Some(limiter) = &self.accounts else {
            return Ok(());
        };
        if limiter.len() > MAX_TRACKED {
            limiter.retain_recent();
        }
        let key: String = username.trim().to_lowercase().chars().take(64).collect();
        limiter.check_key(&key).map_err(refusal)
    }

    /// Counts `request` against `limit`, keyed by its peer address; over the limit, a 429
    /// `rate_limited` saying when to try again.
    pub fn check_request(&self, limit: Limit, request: &HttpRequest) -> Result<(), ApiError> {
        self.check(limit, request.peer_addr().map(|a| a.ip()))
    }

    /// Counts one request from `client` (unknown: counted together) against `limit`.
    pub fn check(&self, limit: Limit, client: Option<IpAddr>) -> Result<(), ApiError> {
        let limiter = match limit {
            Limit::Login => &self.login,
            Limit::Intake => &self.intake,
        };
        let Some(limiter) = limiter else {
            return Ok(());
        };
        if limiter.len() > MAX_TRACKED {
            limiter.retain_recent();
        }
        let client = client.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        limiter.check_key(&client).map_err(refusal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn address(last: u8) -> Option<IpAddr> {
        Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, last)))
    }

    #[test]
    fn a_client_over_its_burst_is_told_when_to_come_back_and_others_are_not_affected() {
        let limits = PublicLimits::new(3, 0, 0);
        for _ in 0..3 {
            limits.check(Limit::Login, address(1)).unwrap();
        }

        let refused = limits.check(Limit::Login, address(1)).unwrap_err();

        match refused {
            ApiError::TooManyRequests { retry_after_secs } => {
                assert!((1..=21).contains(&retry_after_secs), "{retry_after_secs}")
            }
            other => panic!("expected 429, got {other:?}"),
        }
        limits.check(Limit::Login, address(2)).unwrap();
        for _ in 0..100 {
            limits.check(Limit::Intake, address(1)).unwrap();
        }
    }

    #[test]
    fn an_account_over_its_burst_is_refused_from_any_address_and_other_accounts_are_not() {
        let limits = PublicLimits::new(0, 0, 3);
        for name in ["wang", " Wang", "WANG "] {
            limits.check_account(name).unwrap();
        }

        assert!(matches!(
            limits.check_account("wang"),
            Err(ApiError::TooManyRequests { .. })
        ));
        limits.check_account("li").unwrap();
    }
}
