//! Status codes, the per-thread last error message, and the guard every export runs its body in.

use std::cell::RefCell;
use std::ffi::{CString, c_char};
use std::panic::{self, AssertUnwindSafe};

/// What a call did. Every fallible function returns one; `GS_STATUS_OK` is zero, so
/// `if (status) { ... }` tests for failure. The values are stable: new codes are only ever added
/// at the end. After any status other than `GS_STATUS_OK`, `gs_last_error_message()` on the same
/// thread says what went wrong, for people (logs, bug reports), not for code to parse.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GsStatus {
    /// The call succeeded.
    Ok = 0,
    /// A required pointer argument was NULL.
    NullArgument = 1,
    /// A string argument is not valid UTF-8.
    InvalidUtf8 = 2,
    /// A JSON argument does not parse, or does not have the expected shape (unknown fields,
    /// unknown enum values, wrong types).
    InvalidJson = 3,
    /// The record or attachment breaks the schema (missing title, coordinates out of range,
    /// empty photo, ...). Nothing was written.
    InvalidRecord = 4,
    /// An argument is malformed in another way, for example a record id that is not a UUID.
    InvalidArgument = 5,
    /// No record or blob with that id or sha256 is in the store.
    NotFound = 6,
    /// A record with that id already exists.
    AlreadyExists = 7,
    /// Sync bytes (or a document inside them) are not a valid gridsync message: truncated,
    /// corrupted, another protocol version. Nothing from them was applied.
    Corrupt = 8,
    /// The local SQLite store failed (disk full, file not a database, locked for too long).
    Storage = 9,
    /// A file named by the caller could not be read.
    Io = 10,
    /// The store at that path belongs to another account.
    WrongAccount = 11,
    /// The store handle was closed, or was never returned by `gs_store_open`.
    Closed = 12,
    /// The library failed in a way that is its own bug, not the caller's.
    Internal = 13,
    /// The library panicked. The panic was caught at the boundary; the store is still usable
    /// (every write is one transaction, so a half-done call wrote nothing). Please report it.
    Panic = 14,
    /// A complainant's contact details were given before a login pinned the server's contact
    /// key (`gs_store_pin_contact_key`). Nothing was written.
    NoContactKey = 15,
    /// The server offered a contact key other than the one pinned: details sealed for it could
    /// be read by whoever holds it. Nothing was changed; the store keeps the pinned key.
    ContactKeyChanged = 16,
    /// A field step (`gs_record_take_step`) on a record that does not wait for it from this
    /// account: not the worker's own returned report, not a rectified hazard, or a step for it
    /// already waits for the server's answer. Nothing was written.
    NotWaiting = 17,
    /// The photo is on the server whole already (`gs_photo_drop`): it stays on the record.
    AlreadyUploaded = 18,
}

/// A failed call: the status to return and the message to keep for `gs_last_error_message`.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) status: GsStatus,
    pub(crate) message: String,
}

impl Failure {
    pub(crate) fn new(status: GsStatus, message: impl Into<String>) -> Self {
        Failure {
            status,
            message: message.into(),
        }
    }

    pub(crate) fn null(argument: &str) -> Self {
        Failure::new(GsStatus::NullArgument, format!("{argument} is NULL"))
    }
}

impl From<sync_core::Error> for Failure {
    fn from(e: sync_core::Error) -> Self {
        use sync_core::Error as E;
        let status = match &e {
            E::Schema(_) => GsStatus::InvalidRecord,
            E::Wire(_) | E::Automerge(_) | E::Hydrate(_) => GsStatus::Corrupt,
            E::Reconcile(_) => GsStatus::Internal,
            E::Store(_) => GsStatus::Storage,
            E::NotFound(_) | E::BlobNotFound(_) => GsStatus::NotFound,
            E::AlreadyExists(_) => GsStatus::AlreadyExists,
            E::Json(_) => GsStatus::InvalidJson,
            // No wildcard: a new sync-core error must be given its status here.
            E::WrongAccount { .. } => GsStatus::WrongAccount,
            E::NoContactKey => GsStatus::NoContactKey,
            E::ContactKeyChanged { .. } => GsStatus::ContactKeyChanged,
            E::NotWaiting { .. } => GsStatus::NotWaiting,
            E::AlreadyUploaded(_) => GsStatus::AlreadyUploaded,
        };
        Failure::new(status, sync_core::server::error_chain(&e))
    }
}

impl From<serde_json::Error> for Failure {
    fn from(e: serde_json::Error) -> Self {
        Failure::new(GsStatus::InvalidJson, format!("invalid json: {e}"))
    }
}

thread_local! {
    /// The message of the last failed call on this thread; `None` after a call that succeeded.
    static LAST_ERROR: RefCell<Option<CString>> = const { RefCell::new(None) };
}

fn set_last_error(message: &str) {
    // A message with an interior NUL is cut there rather than lost.
    let message = message.split('\0').next().unwrap_or_default();
    let message = CString::new(message).unwrap_or_default();
    LAST_ERROR.with(|e| *e.borrow_mut() = Some(message));
}

fn clear_last_error() {
    LAST_ERROR.with(|e| {
        if let Ok(mut e) = e.try_borrow_mut() {
            *e = None;
        }
    });
}

/// Runs an export's body: clears the thread's last error, catches a panic, and turns the result
/// into a status (keeping the message of a failure).
///
/// Every export's whole body is one call to this function or to [`guard_value`]; a test reads
/// the sources to check it. (It is a function, not an `ffi_fn!` macro around the item as in
/// hyper, because cbindgen on stable Rust does not expand macros and would not see the
/// functions.) Panicking out of an `extern "C"` function aborts the process; the app would die
/// with the worker's unsaved report in it, so no panic may reach the boundary.
pub(crate) fn guard(body: impl FnOnce() -> Result<(), Failure>) -> GsStatus {
    clear_last_error();
    match panic::catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => GsStatus::Ok,
        Ok(Err(failure)) => {
            set_last_error(&failure.message);
            failure.status
        }
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_string());
            set_last_error(&format!("internal panic: {what}"));
            GsStatus::Panic
        }
    }
}

/// [`guard`] for the few exports that cannot fail and return a value instead of a status: a
/// panic gives `fallback`.
pub(crate) fn guard_value<T>(fallback: T, body: impl FnOnce() -> T) -> T {
    panic::catch_unwind(AssertUnwindSafe(body)).unwrap_or(fallback)
}

/// What went wrong in the last call on this thread that returned a `GsStatus`: a message when
/// that status was not `GS_STATUS_OK`, the empty string when it was. (The free functions and
/// `gs_version` do not change it.)
///
/// The message is per thread: read it on the thread that made the failing call, before making
/// another call there.
///
/// # Ownership
/// The returned string is borrowed from the library: do not free it. It stays valid until the
/// next call into the library on the same thread (other than this function); copy it to keep
/// it. Never NULL.
///
/// # Safety
/// Always safe to call.
#[unsafe(no_mangle)]
pub extern "C" fn gs_last_error_message() -> *const c_char {
    guard_value(c"".as_ptr(), || {
        LAST_ERROR.with(|e| match &*e.borrow() {
            Some(message) => message.as_ptr(),
            None => c"".as_ptr(),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    fn last_error() -> String {
        // SAFETY: the pointer is valid until the next library call on this thread.
        unsafe { CStr::from_ptr(gs_last_error_message()) }
            .to_string_lossy()
            .into_owned()
    }

    #[test]
    fn a_panic_inside_an_export_becomes_a_status_and_a_message() {
        let status = guard(|| panic!("index out of bounds"));
        assert_eq!(status, GsStatus::Panic);
        assert_eq!(last_error(), "internal panic: index out of bounds");
    }

    #[test]
    fn a_formatted_panic_message_is_kept() {
        let n = 7;
        let status = guard(|| panic!("bad value {n}"));
        assert_eq!(status, GsStatus::Panic);
        assert_eq!(last_error(), "internal panic: bad value 7");
    }

    #[test]
    fn a_successful_call_clears_the_previous_message() {
        guard(|| Err(Failure::null("json")));
        assert_eq!(last_error(), "json is NULL");
        assert_eq!(guard(|| Ok(())), GsStatus::Ok);
        assert_eq!(last_error(), "");
    }

    #[test]
    fn the_last_error_is_kept_per_thread() {
        guard(|| Err(Failure::null("here")));
        std::thread::spawn(|| {
            assert_eq!(last_error(), "");
            guard(|| Err(Failure::null("there")));
            assert_eq!(last_error(), "there is NULL");
        })
        .join()
        .unwrap();
        assert_eq!(last_error(), "here is NULL");
    }

    #[test]
    fn a_sync_core_schema_error_maps_to_invalid_record_with_its_cause() {
        let e = sync_core::Error::from(sync_core::SchemaError::MissingField("title"));
        let failure = Failure::from(e);
        assert_eq!(failure.status, GsStatus::InvalidRecord);
        assert_eq!(failure.message, "invalid record: missing field title");
    }
}
