//! End-to-end tests (see the modules).

// The phone store killed at random moments by SIGKILL while it writes, then reopened and checked.
mod crash;
// Record documents read, changed and written by the official JavaScript automerge, merged back.
mod interop;
