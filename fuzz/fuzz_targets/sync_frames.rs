//! The sync frame decoder on arbitrary bytes: it never panics, and whatever it accepts is the
//! one encoding of what it decoded (encoding it again gives the same bytes).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sync_core::{SyncRequest, SyncResponse};

fuzz_target!(|data: &[u8]| {
    if let Ok(request) = SyncRequest::decode(data) {
        assert_eq!(request.encode(), data, "a request has one encoding");
    }
    if let Ok(response) = SyncResponse::decode(data) {
        assert_eq!(response.encode(), data, "a response has one encoding");
    }
});
