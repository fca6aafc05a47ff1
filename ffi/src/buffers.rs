//! Owned byte buffers and strings handed to the caller, and the conversions of C arguments.

use std::ffi::{CStr, CString, c_char};

use sync_core::RecordId;

use crate::error::{Failure, GsStatus, guard_value};

/// Bytes owned by the caller after the library returns them. Free with `gs_bytes_free`.
///
/// An empty buffer is `{ NULL, 0 }`. Out-parameters of this type are set to `{ NULL, 0 }` when a
/// call fails, so freeing them after any call is always correct.
#[repr(C)]
#[derive(Debug)]
pub struct GsBytes {
    /// The first byte, or NULL when `len` is 0.
    pub ptr: *mut u8,
    /// How many bytes `ptr` points to.
    pub len: usize,
}

impl GsBytes {
    pub(crate) const EMPTY: GsBytes = GsBytes {
        ptr: std::ptr::null_mut(),
        len: 0,
    };

    /// Hands `bytes` to the caller. The allocation is exactly `len` long, which is what
    /// `gs_bytes_free` rebuilds.
    pub(crate) fn from_vec(bytes: Vec<u8>) -> GsBytes {
        if bytes.is_empty() {
            return GsBytes::EMPTY;
        }
        let boxed = bytes.into_boxed_slice();
        let len = boxed.len();
        GsBytes {
            ptr: Box::into_raw(boxed).cast::<u8>(),
            len,
        }
    }
}

/// Frees bytes returned by the library and sets `*bytes` to `{ NULL, 0 }`, so freeing the same
/// struct twice is harmless. NULL, and an empty buffer, are accepted and do nothing.
///
/// # Safety
/// `bytes` is NULL or points to a `GsBytes` that the library filled (or one set to
/// `{ NULL, 0 }`). Do not free a copy of the struct after freeing the original.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gs_bytes_free(bytes: *mut GsBytes) {
    guard_value((), || {
        // SAFETY: the caller passes NULL or a valid GsBytes.
        let Some(bytes) = (unsafe { bytes.as_mut() }) else {
            return;
        };
        if !bytes.ptr.is_null() {
            let slice = std::ptr::slice_from_raw_parts_mut(bytes.ptr, bytes.len);
            // SAFETY: ptr and len came from `GsBytes::from_vec`, a boxed slice of exactly len.
            drop(unsafe { Box::from_raw(slice) });
        }
        *bytes = GsBytes::EMPTY;
    })
}

/// Frees a string returned by the library (ids, JSON, sha256 references). NULL is accepted and
/// does nothing.
///
/// # Safety
/// `string` is NULL or a string returned through a `char **` out-parameter of this library that
/// has not been freed yet. Never pass `gs_version()` or `gs_last_error_message()`: they are
/// borrowed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gs_string_free(string: *mut c_char) {
    guard_value((), || {
        if !string.is_null() {
            // SAFETY: the pointer came from `CString::into_raw` in `owned_string`.
            drop(unsafe { CString::from_raw(string) });
        }
    })
}

/// Hands a string to the caller, who frees it with `gs_string_free`.
pub(crate) fn owned_string(s: String) -> Result<*mut c_char, Failure> {
    CString::new(s)
        .map(CString::into_raw)
        .map_err(|_| Failure::new(GsStatus::Internal, "output contains a NUL byte"))
}

/// A required string argument.
///
/// # Safety
/// `p` is NULL or a NUL-terminated string that stays valid for `'a`.
pub(crate) unsafe fn str_arg<'a>(p: *const c_char, name: &str) -> Result<&'a str, Failure> {
    if p.is_null() {
        return Err(Failure::null(name));
    }
    // SAFETY: the caller guarantees a NUL-terminated string.
    let cstr = unsafe { CStr::from_ptr(p) };
    cstr.to_str().map_err(|e| {
        Failure::new(
            GsStatus::InvalidUtf8,
            format!("{name} is not valid UTF-8: {e}"),
        )
    })
}

/// An optional string argument: NULL means none.
///
/// # Safety
/// As [`str_arg`].
pub(crate) unsafe fn opt_str_arg<'a>(
    p: *const c_char,
    name: &str,
) -> Result<Option<&'a str>, Failure> {
    if p.is_null() {
        Ok(None)
    } else {
        // SAFETY: forwarded from the caller.
        unsafe { str_arg(p, name) }.map(Some)
    }
}

/// A byte argument. NULL is accepted only with a length of zero.
///
/// # Safety
/// `p` is NULL or points to `len` readable bytes that stay valid for `'a`.
pub(crate) unsafe fn bytes_arg<'a>(
    p: *const u8,
    len: usize,
    name: &str,
) -> Result<&'a [u8], Failure> {
    if p.is_null() {
        return if len == 0 {
            Ok(&[])
        } else {
            Err(Failure::null(name))
        };
    }
    // SAFETY: the caller guarantees `len` readable bytes.
    Ok(unsafe { std::slice::from_raw_parts(p, len) })
}

/// A record id argument: a UUID string.
///
/// # Safety
/// As [`str_arg`].
pub(crate) unsafe fn id_arg(p: *const c_char) -> Result<RecordId, Failure> {
    // SAFETY: forwarded from the caller.
    let s = unsafe { str_arg(p, "id") }?;
    s.parse().map_err(|_| {
        Failure::new(
            GsStatus::InvalidArgument,
            format!("id {s:?} is not a record id (a UUID)"),
        )
    })
}

/// A required out-parameter, cleared to `empty` before anything else happens so that a failed
/// call leaves nothing to free.
///
/// # Safety
/// `p` is NULL or valid for writes for the rest of the call.
pub(crate) unsafe fn out_arg<'a, T>(p: *mut T, name: &str, empty: T) -> Result<&'a mut T, Failure> {
    if p.is_null() {
        return Err(Failure::null(name));
    }
    // SAFETY: the caller passes a writable pointer; writing first means the reference below
    // never sees whatever (possibly uninitialized) value the caller left there.
    unsafe {
        p.write(empty);
        Ok(&mut *p)
    }
}
