//! The C ABI of gridsync (filled in by the ffi issue).

/// The library's version, as a number a C caller can compare.
pub const GS_ABI_VERSION: u32 = 1;
