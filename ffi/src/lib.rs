//! # gridsync's C ABI
//!
//! The Android app (Kotlin, through JNI and the shared library) and the iOS app (Swift, through
//! the static library) reach sync-core only through these functions. The header
//! `include/gridsync.h` is generated from this crate by cbindgen and committed; `ffi/README.md`
//! says how to link it.
//!
//! This crate is thin on purpose: each function checks its pointers, converts C strings and
//! JSON into sync-core types, makes its sync-core call, and converts the result back. Logic
//! belongs in sync-core.
//!
//! ## Rules for callers (repeated in the header)
//! - **Status**: every fallible function returns a [`GsStatus`]; `GS_STATUS_OK` is 0. After a
//!   failure, `gs_last_error_message()` on the same thread gives a message for people.
//! - **Ownership**: strings returned through `char **` are the caller's, freed with
//!   `gs_string_free`; byte buffers returned through `GsBytes *` are the caller's, freed with
//!   `gs_bytes_free`; both frees accept NULL. On failure every out-parameter is set to
//!   NULL/empty, so freeing after any call is correct. Arguments are borrowed for the call only.
//!   `gs_version()` and `gs_last_error_message()` return borrowed strings: never free them.
//! - **Handles**: `gs_store_open` makes a `GsStore *`, `gs_store_close` consumes it. A closed
//!   handle passed again is reported as `GS_STATUS_CLOSED`, never dereferenced; a handle is a
//!   number handed out once, so a stale one never reaches a store opened later.
//! - **Threads**: a store handle may be used from any thread; calls on one handle are
//!   serialized inside the library. The last error message is per thread.
//! - **Panics** never cross the boundary: every export catches them and returns
//!   `GS_STATUS_PANIC`.
#![allow(unsafe_code)]

// The header lists items in this order; rustfmt would sort one block of `mod` lines, so each
// topic stands alone.
mod store;

mod records;

mod photos;

mod sync;

mod buffers;

mod error;

use std::ffi::c_char;

pub use buffers::{GsBytes, gs_bytes_free, gs_string_free};
pub use error::{GsStatus, gs_last_error_message};
pub use photos::{gs_photo_attach_bytes, gs_photo_attach_file, gs_upload_ack, gs_upload_next};
pub use records::{
    gs_record_add_note, gs_record_create, gs_record_get, gs_record_list, gs_record_update,
    gs_rejected_list,
};
pub use store::{GsStore, gs_store_close, gs_store_open};
pub use sync::{gs_sync_apply, gs_sync_prepare};

use error::guard_value;

/// The version of this C ABI. It changes only when a function's signature or meaning changes
/// incompatibly; adding functions or status codes does not change it.
pub const GS_ABI_VERSION: u32 = 1;

/// The crate version, NUL-terminated for C.
const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");

/// The library's version, for example `"0.1.0"`.
///
/// # Ownership
/// A static string: never free it. Never NULL.
///
/// # Safety
/// Always safe to call.
#[unsafe(no_mangle)]
pub extern "C" fn gs_version() -> *const c_char {
    guard_value(c"".as_ptr(), || VERSION.as_ptr().cast())
}

/// The sync wire-protocol version this library speaks. A server answers a request of a version
/// it does not speak with an error, so an app can tell the user to update.
///
/// # Safety
/// Always safe to call.
#[unsafe(no_mangle)]
pub extern "C" fn gs_protocol_version() -> u32 {
    guard_value(0, || u32::from(sync_core::PROTOCOL_VERSION))
}
