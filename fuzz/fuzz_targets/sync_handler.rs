//! The whole sync handler of the reference server (`MemoryServer`, the same merge, checks and
//! response building the HTTP server uses) on well-framed requests with arbitrary contents:
//! uploads of arbitrary or mangled automerge bytes for a stored record or a new one, history
//! requests with unknown heads, sealed contacts of any bytes, any cursor and budget. Every
//! request is answered with a response that decodes; nothing panics.
#![no_main]

mod common;

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use sync_core::automerge::ChangeHash;
use sync_core::{DocPayload, Need, SealedContact, SyncRequest, SyncResponse};

fuzz_target!(|data: &[u8]| {
    let _ = run(data);
});

fn run(data: &[u8]) -> arbitrary::Result<()> {
    let mut u = Unstructured::new(data);
    let (mut server, stored, mut doc) = common::seeded_server();
    let valid = doc.changes();
    let pick_id = |u: &mut Unstructured| -> arbitrary::Result<sync_core::RecordId> {
        Ok(if bool::arbitrary(u)? {
            stored
        } else {
            uuid_from(u128::arbitrary(u)?)
        })
    };
    let mut uploads = Vec::new();
    for _ in 0..u.int_in_range(0..=3)? {
        let id = pick_id(&mut u)?;
        let bytes = match u.int_in_range(0..=2)? {
            0 => Vec::<u8>::arbitrary(&mut u)?,
            // The stored record's own bytes with a few flipped: deep in automerge's parser.
            1 => {
                let mut bytes = valid.clone();
                for _ in 0..u.int_in_range(1..=4)? {
                    if bytes.is_empty() {
                        break;
                    }
                    let at = u.choose_index(bytes.len())?;
                    bytes[at] ^= u8::arbitrary(&mut u)?.max(1);
                }
                bytes
            }
            _ => valid.clone(),
        };
        uploads.push(DocPayload { id, bytes });
    }
    let mut needs = Vec::new();
    for _ in 0..u.int_in_range(0..=2)? {
        let heads = (0..u.int_in_range(0..=2)?)
            .map(|_| <[u8; 32]>::arbitrary(&mut u).map(ChangeHash))
            .collect::<arbitrary::Result<_>>()?;
        needs.push(Need {
            id: pick_id(&mut u)?,
            heads,
        });
    }
    let mut contacts = Vec::new();
    for _ in 0..u.int_in_range(0..=2)? {
        contacts.push(SealedContact {
            id: pick_id(&mut u)?,
            sealed: Vec::<u8>::arbitrary(&mut u)?,
        });
    }
    let request = SyncRequest {
        request_id: u64::arbitrary(&mut u)?,
        cursor: u.int_in_range(0..=8)?,
        response_budget: u64::arbitrary(&mut u)?,
        uploads,
        needs,
        contacts,
    };
    let response = server
        .handle("fuzz", &request.encode(), &common::Anyone, &common::decide)
        .expect("a well-framed request is answered");
    let response = SyncResponse::decode(&response).expect("the server's response decodes");
    assert_eq!(response.acks.len(), request.uploads.len());
    assert_eq!(response.contact_acks.len(), request.contacts.len());
    Ok(())
}

fn uuid_from(n: u128) -> sync_core::RecordId {
    sync_core::RecordId::from_u128(n)
}
