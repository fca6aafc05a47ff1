//! The complaint workflow (接诉即办): the working-day calendar and deadline classes,
//! departments and dispatch rules, the lifecycle every case follows, and the scheduler that
//! supervises overdue cases.
//!
//! The pure parts ([`calendar`], [`lifecycle`]) decide; [`service`] reads what they need from
//! the store and writes their decisions into the record's automerge document as the server's
//! own change, through the same commit path sync uses.

pub mod calendar;
pub mod catalogue;
pub mod cells;
pub mod export;
pub mod hazards;
pub mod lifecycle;
pub mod queue;
pub mod rates;
pub mod report;
pub mod scheduler;
pub mod service;
