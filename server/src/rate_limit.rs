//! Per-client limits on the endpoints that need no token and cost something: login (password
//! guessing, and an Argon2 hash per attempt) and the public intake (Open311, the resident
//! form: complaint spam). Each is a GCRA limiter keyed by the client's address: a burst of N,
//! then one request every 60/N seconds. An instance limits its own traffic; several instances
//! behind a balancer each allow the rate.

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
}

impl fmt::Debug for PublicLimits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicLimits")
            .field("login", &self.login.is_some())
            .field("intake", &self.intake.is_some())
            .finish()
    }
}

fn limiter(per_minute: u32) -> Option<DefaultKeyedRateLimiter<IpAddr>> {
    NonZeroU32::new(per_minute).map(|n| RateLimiter::keyed(Quota::per_minute(n)))
}

impl PublicLimits {
    /// Limits of so many requests per minute per address; 0 turns one off.
    pub fn new(login_per_minute: u32, intake_per_minute: u32) -> Self {
        PublicLimits {
            login: limiter(login_per_minute),
            intake: limiter(intake_per_minute),
        }
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
        limiter.check_key(&client).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            ApiError::TooManyRequests {
                retry_after_secs: wait.as_secs() + 1,
            }
        })
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
        let limits = PublicLimits::new(3, 0);
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
}
