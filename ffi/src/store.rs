//! The store handle: opening, closing, and reaching the store from every other export.
//!
//! The library never dereferences a `GsStore *` it is given. A handle is not an address but a
//! number, handed out once in increasing order (1, 2, 3, …) and never again, so a stale handle
//! cannot reach a store opened later. The library keeps a registry of the handles it has opened
//! and not yet closed and looks each one up there: a closed handle, or any other pointer, gives
//! `GS_STATUS_CLOSED` instead of a use after free. Each
//! handle holds its store behind a mutex, so a handle may be used from any thread and its calls
//! run one at a time; a close while another thread is inside a call waits for nothing and frees
//! the store when that call returns.

use std::collections::BTreeMap;
use std::ffi::c_char;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use sync_core::Store;

use crate::buffers::{out_arg, str_arg};
use crate::error::{Failure, GsStatus, guard};

/// An open store: one SQLite file holding one account's records on this device.
///
/// Opaque: made by `gs_store_open`, ended by `gs_store_close`. May be used from any thread;
/// calls on one handle are serialized inside the library.
#[derive(Debug)]
pub struct GsStore {
    store: Mutex<Store>,
}

/// Handles that are open, by number. A `BTreeMap` because `new` is const.
static OPEN: Mutex<BTreeMap<usize, Arc<GsStore>>> = Mutex::new(BTreeMap::new());

/// The number of the last handle handed out (0: none yet; NULL is never a handle).
static LAST_HANDLE: AtomicUsize = AtomicUsize::new(0);

fn registry() -> MutexGuard<'static, BTreeMap<usize, Arc<GsStore>>> {
    // The registry is only inserted into and removed from; a panic elsewhere cannot leave it
    // half-changed, so a poisoned lock is still sound to use.
    OPEN.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Fails early on a NULL handle, for exports that do work (reading a file) before reaching the
/// store.
pub(crate) fn require_store(handle: *const GsStore) -> Result<(), Failure> {
    if handle.is_null() {
        Err(Failure::null("store"))
    } else {
        Ok(())
    }
}

/// Runs `f` on the store behind `handle`, holding its lock for the call.
pub(crate) fn with_store<R>(
    handle: *const GsStore,
    f: impl FnOnce(&mut Store) -> Result<R, Failure>,
) -> Result<R, Failure> {
    require_store(handle)?;
    let open = registry().get(&(handle as usize)).cloned().ok_or_else(|| {
        Failure::new(
            GsStatus::Closed,
            "store handle is closed or was not returned by gs_store_open",
        )
    })?;
    // A panic inside a store call rolls back its SQLite transaction, so the store behind a
    // poisoned lock is consistent and stays usable.
    let mut store = open.store.lock().unwrap_or_else(PoisonError::into_inner);
    f(&mut store)
}

/// Opens the store at `path` (creating the file if it does not exist) for `account` on
/// `device`, and sets `*out_store` to its handle.
///
/// A store belongs to one account: opening it for another gives `GS_STATUS_WRONG_ACCOUNT`, so
/// one person's records never show in another's session on a shared phone. The same path may be
/// open in several handles (SQLite serializes them), but one handle per file is enough.
///
/// # Ownership
/// `*out_store` is owned by the caller until it passes it to `gs_store_close`. It is NULL when
/// the call fails.
///
/// # Safety
/// `path`, `account` and `device` are NUL-terminated UTF-8 strings; `out_store` points to
/// writable memory for one pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gs_store_open(
    path: *const c_char,
    account: *const c_char,
    device: *const c_char,
    out_store: *mut *mut GsStore,
) -> GsStatus {
    guard(|| {
        // SAFETY: the caller's contract above.
        let out = unsafe { out_arg(out_store, "out_store", std::ptr::null_mut()) }?;
        let path = unsafe { str_arg(path, "path") }?;
        let account = unsafe { str_arg(account, "account") }?;
        let device = unsafe { str_arg(device, "device") }?;
        let store = Store::open(path, account, device)?;
        let handle = Arc::new(GsStore {
            store: Mutex::new(store),
        });
        let number = LAST_HANDLE.fetch_add(1, Ordering::Relaxed) + 1;
        registry().insert(number, handle);
        // A number in a pointer's clothes: never dereferenced, only looked up.
        *out = std::ptr::without_provenance_mut(number);
        Ok(())
    })
}

/// Closes a store and frees its handle. Every write was already committed by the call that
/// made it; closing only releases the file.
///
/// Closing consumes the handle: using it afterwards, or closing it again, is reported as
/// `GS_STATUS_CLOSED` rather than touching freed memory, also after later opens (a handle is
/// never handed out twice). Closing NULL does nothing and returns `GS_STATUS_OK`.
///
/// # Safety
/// Always safe to call: the pointer is looked up, never dereferenced.
#[unsafe(no_mangle)]
pub extern "C" fn gs_store_close(store: *mut GsStore) -> GsStatus {
    guard(|| {
        if store.is_null() {
            return Ok(());
        }
        let removed = registry().remove(&(store as usize));
        match removed {
            Some(handle) => {
                // Dropped outside the registry lock: closing SQLite may take a moment.
                drop(handle);
                Ok(())
            }
            None => Err(Failure::new(
                GsStatus::Closed,
                "store handle is already closed or was not returned by gs_store_open",
            )),
        }
    })
}

/// Pins the server's contact key, as the login answer gives it (`contact_key.public_key`, 32
/// bytes in standard base64). Complainants' contact details are sealed with it. The first key
/// is kept: the same key again is fine; another gives `GS_STATUS_CONTACT_KEY_CHANGED` and
/// changes nothing (a server's key does not change behind the app's back).
///
/// # Safety
/// `store` is a handle from `gs_store_open`; `key_base64` is a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gs_store_pin_contact_key(
    store: *mut GsStore,
    key_base64: *const c_char,
) -> GsStatus {
    guard(|| {
        use base64::Engine as _;
        // SAFETY: the caller's contract above.
        let text = unsafe { str_arg(key_base64, "key_base64") }?;
        with_store(store, |s| {
            let key = base64::engine::general_purpose::STANDARD
                .decode(text.trim())
                .map_err(|e| {
                    Failure::new(
                        GsStatus::InvalidArgument,
                        format!("the contact key is not base64: {e}"),
                    )
                })?;
            s.pin_contact_key(&key)?;
            Ok(())
        })
    })
}
