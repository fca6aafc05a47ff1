//! End-to-end tests (see the modules).
