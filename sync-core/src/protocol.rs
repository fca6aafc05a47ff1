//! The wire format of one sync round trip. `PROTOCOL.md` describes it for implementers in other
//! languages; this module is the reference encoder and decoder.
//!
//! Every message is a frame: `"GS"`, a version byte, a type byte, the body, and a CRC-32 of all
//! that precedes it. Integers in the body are unsigned LEB128. Decoding is all-or-nothing: a
//! truncated, corrupt or trailing-garbage message is an error and yields nothing.
//!
//! The framing and LEB128 are written here rather than with a serialization crate: the format is
//! a published contract that C, Kotlin and Swift implement from `PROTOCOL.md`, so every byte is
//! spelled out in one place, and the decoder bounds every count by the bytes that remain.

use automerge::ChangeHash;

use crate::contact::SealedContact;
use crate::error::WireError;
use crate::schema::RecordId;

/// The magic bytes that open every frame.
pub const MAGIC: [u8; 2] = *b"GS";
/// The protocol version this build speaks.
pub const PROTOCOL_VERSION: u8 = 3;
const TYPE_REQUEST: u8 = 1;
const TYPE_RESPONSE: u8 = 2;
const HEADER_LEN: usize = 4;
const CHECKSUM_LEN: usize = 4;

/// A device's half of the round trip.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SyncRequest {
    /// Chosen by the device; echoed in the response so acknowledgements match what was sent.
    pub request_id: u64,
    /// The server sequence number up to which the device holds every change in its scope.
    pub cursor: u64,
    /// The most bytes the device wants in the response's document section.
    pub response_budget: u64,
    /// Local changes the server has not acknowledged, per document.
    pub uploads: Vec<DocPayload>,
    /// Documents whose history the device lacks (it received changes whose dependencies it never
    /// saw, for example after the document moved into its scope), with the heads it has.
    pub needs: Vec<Need>,
    /// Complainants' contact details sealed for the server, beside their documents (never in
    /// them): for records in this request's uploads or already stored.
    pub contacts: Vec<SealedContact>,
}

/// Changes of one document, as automerge bytes: a compact save for a document the other side
/// has never seen, otherwise change chunks. Both load with `load_incremental`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocPayload {
    pub id: RecordId,
    pub bytes: Vec<u8>,
}

/// A request for the history of one document after `heads`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Need {
    pub id: RecordId,
    pub heads: Vec<ChangeHash>,
}

/// The server's half of the round trip.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SyncResponse {
    pub request_id: u64,
    /// The cursor the request carried: the device advances to `next_cursor` only from here.
    pub base_cursor: u64,
    /// Every change in scope with a sequence number up to this one is in this response or was
    /// in the device's cursor already.
    pub next_cursor: u64,
    /// More changes wait beyond `next_cursor`: sync again.
    pub more: bool,
    /// One per upload in the request.
    pub acks: Vec<Ack>,
    /// Changes the device lacks.
    pub updates: Vec<DocUpdate>,
    /// One per sealed contact in the request: accepted (the device forgets its copy) or
    /// rejected with a code.
    pub contact_acks: Vec<Ack>,
    /// Records that left the device's scope since its cursor: it drops its copies.
    pub removals: Vec<Removal>,
}

/// A record the device may no longer read, and why ([`removal`] codes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Removal {
    pub id: RecordId,
    pub code: String,
}

/// Why a record left a device's scope.
pub mod removal {
    /// The record's owner changed to a grid outside the account's areas (a corrected location,
    /// a boundary edit).
    pub const MOVED_AWAY: &str = "moved_away";
    /// The account's areas or role changed and the record is no longer among them.
    pub const SCOPE_CHANGED: &str = "scope_changed";
    /// The case was reassigned and the account's department no longer handles it.
    pub const REASSIGNED: &str = "reassigned";
}

impl Removal {
    /// The bytes this removal adds to an encoded response.
    pub fn encoded_len(&self) -> usize {
        16 + varint_len(self.code.len() as u64) + self.code.len()
    }
}

/// The server's verdict on one uploaded document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ack {
    pub id: RecordId,
    pub verdict: Verdict,
}

/// Accepted, or rejected with a machine-readable code and a human reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Accepted,
    Rejected { code: String, reason: String },
}

/// How the device applies an update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateMode {
    /// Merge these changes into the local document.
    Merge,
    /// Replace the local document with this one: the device's own changes to it were rejected.
    /// Empty bytes mean the server holds no such document.
    Reset,
}

/// Changes for one document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocUpdate {
    pub id: RecordId,
    pub mode: UpdateMode,
    pub bytes: Vec<u8>,
}

impl DocUpdate {
    /// The bytes this update adds to an encoded response.
    pub fn encoded_len(&self) -> usize {
        16 + 1 + varint_len(self.bytes.len() as u64) + self.bytes.len()
    }
}

impl DocPayload {
    /// The bytes this upload adds to an encoded request.
    pub fn encoded_len(&self) -> usize {
        16 + varint_len(self.bytes.len() as u64) + self.bytes.len()
    }
}

impl SyncRequest {
    /// Encodes the request as one frame.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new(TYPE_REQUEST);
        w.varint(self.request_id);
        w.varint(self.cursor);
        w.varint(self.response_budget);
        w.varint(self.uploads.len() as u64);
        for doc in &self.uploads {
            w.uuid(&doc.id);
            w.bytes(&doc.bytes);
        }
        w.varint(self.needs.len() as u64);
        for need in &self.needs {
            w.uuid(&need.id);
            w.hashes(&need.heads);
        }
        w.varint(self.contacts.len() as u64);
        for contact in &self.contacts {
            w.uuid(&contact.id);
            w.bytes(&contact.sealed);
        }
        w.finish()
    }

    /// Decodes a request frame.
    pub fn decode(frame: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::open(frame, TYPE_REQUEST, "request")?;
        let request_id = r.varint()?;
        let cursor = r.varint()?;
        let response_budget = r.varint()?;
        let n = r.count(17)?;
        let mut uploads = Vec::with_capacity(n);
        for _ in 0..n {
            uploads.push(DocPayload {
                id: r.uuid()?,
                bytes: r.bytes()?.to_vec(),
            });
        }
        let n = r.count(17)?;
        let mut needs = Vec::with_capacity(n);
        for _ in 0..n {
            needs.push(Need {
                id: r.uuid()?,
                heads: r.hashes()?,
            });
        }
        let n = r.count(17)?;
        let mut contacts = Vec::with_capacity(n);
        for _ in 0..n {
            contacts.push(SealedContact {
                id: r.uuid()?,
                sealed: r.bytes()?.to_vec(),
            });
        }
        r.close()?;
        Ok(SyncRequest {
            request_id,
            cursor,
            response_budget,
            uploads,
            needs,
            contacts,
        })
    }
}

impl SyncResponse {
    /// Encodes the response as one frame.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new(TYPE_RESPONSE);
        w.varint(self.request_id);
        w.varint(self.base_cursor);
        w.varint(self.next_cursor);
        w.u8(u8::from(self.more));
        w.acks(&self.acks);
        w.varint(self.updates.len() as u64);
        for update in &self.updates {
            w.uuid(&update.id);
            w.u8(match update.mode {
                UpdateMode::Merge => 0,
                UpdateMode::Reset => 1,
            });
            w.bytes(&update.bytes);
        }
        w.acks(&self.contact_acks);
        w.varint(self.removals.len() as u64);
        for removal in &self.removals {
            w.uuid(&removal.id);
            w.bytes(removal.code.as_bytes());
        }
        w.finish()
    }

    /// Decodes a response frame.
    pub fn decode(frame: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::open(frame, TYPE_RESPONSE, "response")?;
        let request_id = r.varint()?;
        let base_cursor = r.varint()?;
        let next_cursor = r.varint()?;
        let more = match r.u8()? {
            0 => false,
            1 => true,
            _ => return Err(WireError::Malformed("more flag is not 0 or 1")),
        };
        if next_cursor < base_cursor {
            return Err(WireError::Malformed(
                "next cursor is behind the base cursor",
            ));
        }
        let acks = r.acks()?;
        let n = r.count(18)?;
        let mut updates = Vec::with_capacity(n);
        for _ in 0..n {
            let id = r.uuid()?;
            let mode = match r.u8()? {
                0 => UpdateMode::Merge,
                1 => UpdateMode::Reset,
                _ => return Err(WireError::Malformed("unknown update mode")),
            };
            updates.push(DocUpdate {
                id,
                mode,
                bytes: r.bytes()?.to_vec(),
            });
        }
        let contact_acks = r.acks()?;
        let n = r.count(17)?;
        let mut removals = Vec::with_capacity(n);
        for _ in 0..n {
            removals.push(Removal {
                id: r.uuid()?,
                code: r.string()?,
            });
        }
        r.close()?;
        Ok(SyncResponse {
            request_id,
            base_cursor,
            next_cursor,
            more,
            acks,
            updates,
            contact_acks,
            removals,
        })
    }
}

/// The encoded size of an empty response, for budgeting.
pub const RESPONSE_OVERHEAD: usize = HEADER_LEN + CHECKSUM_LEN + 6 * 10 + 1;

fn varint_len(mut v: u64) -> usize {
    let mut n = 1;
    while v >= 0x80 {
        v >>= 7;
        n += 1;
    }
    n
}

struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    fn new(kind: u8) -> Self {
        let mut buf = Vec::with_capacity(64);
        buf.extend_from_slice(&MAGIC);
        buf.push(PROTOCOL_VERSION);
        buf.push(kind);
        Writer { buf }
    }

    fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }

    fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.buf.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.buf.push(v as u8);
    }

    fn bytes(&mut self, b: &[u8]) {
        self.varint(b.len() as u64);
        self.buf.extend_from_slice(b);
    }

    fn uuid(&mut self, id: &RecordId) {
        self.buf.extend_from_slice(id.as_bytes());
    }

    fn hashes(&mut self, hashes: &[ChangeHash]) {
        self.varint(hashes.len() as u64);
        for h in hashes {
            self.buf.extend_from_slice(&h.0);
        }
    }

    fn acks(&mut self, acks: &[Ack]) {
        self.varint(acks.len() as u64);
        for ack in acks {
            self.uuid(&ack.id);
            match &ack.verdict {
                Verdict::Accepted => self.u8(0),
                Verdict::Rejected { code, reason } => {
                    self.u8(1);
                    self.bytes(code.as_bytes());
                    self.bytes(reason.as_bytes());
                }
            }
        }
    }

    fn finish(mut self) -> Vec<u8> {
        let crc = crc32fast::hash(&self.buf);
        self.buf.extend_from_slice(&crc.to_le_bytes());
        self.buf
    }
}

struct Reader<'a> {
    body: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn open(frame: &'a [u8], kind: u8, expected: &'static str) -> Result<Self, WireError> {
        if frame.len() < 2 {
            return Err(WireError::Truncated);
        }
        if frame[..2] != MAGIC {
            return Err(WireError::BadMagic);
        }
        if frame.len() < 3 {
            return Err(WireError::Truncated);
        }
        if frame[2] != PROTOCOL_VERSION {
            return Err(WireError::UnsupportedVersion(frame[2]));
        }
        if frame.len() < HEADER_LEN + CHECKSUM_LEN {
            return Err(WireError::Truncated);
        }
        let (content, crc) = frame.split_at(frame.len() - CHECKSUM_LEN);
        let crc = u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]);
        if crc32fast::hash(content) != crc {
            // A frame cut short fails here too: its last four bytes are not its checksum.
            return Err(WireError::Checksum);
        }
        if content[3] != kind {
            return Err(WireError::WrongType {
                expected,
                found: content[3],
            });
        }
        Ok(Reader {
            body: &content[HEADER_LEN..],
            pos: 0,
        })
    }

    fn remaining(&self) -> usize {
        self.body.len() - self.pos
    }

    fn u8(&mut self) -> Result<u8, WireError> {
        let b = *self.body.get(self.pos).ok_or(WireError::Truncated)?;
        self.pos += 1;
        Ok(b)
    }

    fn varint(&mut self) -> Result<u64, WireError> {
        let mut value: u64 = 0;
        for shift in (0..64).step_by(7) {
            let b = self.u8()?;
            let bits = u64::from(b & 0x7f);
            if shift == 63 && bits > 1 {
                return Err(WireError::Malformed("varint overflows 64 bits"));
            }
            value |= bits << shift;
            if b & 0x80 == 0 {
                // A last byte of zero after the first adds nothing: an overlong encoding, which
                // automerge's own parser refuses too (one value, one encoding).
                if b == 0 && shift > 0 {
                    return Err(WireError::Malformed("overlong varint"));
                }
                return Ok(value);
            }
        }
        Err(WireError::Malformed("varint longer than 10 bytes"))
    }

    /// A count of items each at least `min_item` bytes long, checked against what remains so a
    /// forged count cannot make us allocate.
    fn count(&mut self, min_item: usize) -> Result<usize, WireError> {
        let n = self.varint()?;
        let n = usize::try_from(n).map_err(|_| WireError::Malformed("count too large"))?;
        if n.saturating_mul(min_item) > self.remaining() {
            return Err(WireError::Malformed("count exceeds message length"));
        }
        Ok(n)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        if n > self.remaining() {
            return Err(WireError::Truncated);
        }
        let out = &self.body[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    fn bytes(&mut self) -> Result<&'a [u8], WireError> {
        let n = self.varint()?;
        let n = usize::try_from(n).map_err(|_| WireError::Truncated)?;
        self.take(n)
    }

    fn acks(&mut self) -> Result<Vec<Ack>, WireError> {
        let n = self.count(17)?;
        let mut acks = Vec::with_capacity(n);
        for _ in 0..n {
            let id = self.uuid()?;
            let verdict = match self.u8()? {
                0 => Verdict::Accepted,
                1 => Verdict::Rejected {
                    code: self.string()?,
                    reason: self.string()?,
                },
                _ => return Err(WireError::Malformed("unknown verdict")),
            };
            acks.push(Ack { id, verdict });
        }
        Ok(acks)
    }

    fn string(&mut self) -> Result<String, WireError> {
        let b = self.bytes()?;
        String::from_utf8(b.to_vec()).map_err(|_| WireError::Malformed("string is not UTF-8"))
    }

    fn uuid(&mut self) -> Result<RecordId, WireError> {
        let b = self.take(16)?;
        let mut a = [0u8; 16];
        a.copy_from_slice(b);
        Ok(uuid::Uuid::from_bytes(a))
    }

    fn hashes(&mut self) -> Result<Vec<ChangeHash>, WireError> {
        let n = self.count(32)?;
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            let b = self.take(32)?;
            let mut a = [0u8; 32];
            a.copy_from_slice(b);
            out.push(ChangeHash(a));
        }
        Ok(out)
    }

    fn close(self) -> Result<(), WireError> {
        match self.remaining() {
            0 => Ok(()),
            n => Err(WireError::TrailingBytes(n)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample_request() -> SyncRequest {
        SyncRequest {
            request_id: 7,
            cursor: 300,
            response_budget: 16 * 1024,
            uploads: vec![DocPayload {
                id: uuid::Uuid::now_v7(),
                bytes: vec![1, 2, 3],
            }],
            needs: vec![Need {
                id: uuid::Uuid::now_v7(),
                heads: vec![ChangeHash([9; 32])],
            }],
            contacts: vec![SealedContact {
                id: uuid::Uuid::now_v7(),
                sealed: vec![4; 80],
            }],
        }
    }

    fn read_varint(bytes: &[u8]) -> Result<u64, WireError> {
        Reader {
            body: bytes,
            pos: 0,
        }
        .varint()
    }

    #[test]
    fn an_overlong_varint_is_refused() {
        assert_eq!(read_varint(&[0x00]), Ok(0));
        assert_eq!(read_varint(&[0x7f]), Ok(127));
        assert_eq!(read_varint(&[0x80, 0x01]), Ok(128));
        for overlong in [&[0x80, 0x00][..], &[0x81, 0x80, 0x00], &[0xff, 0x00]] {
            assert_eq!(
                read_varint(overlong),
                Err(WireError::Malformed("overlong varint")),
                "{overlong:?}"
            );
        }
    }

    proptest! {
        #[test]
        fn every_u64_reads_back_from_its_one_encoding(v in any::<u64>()) {
            let mut writer = Writer { buf: Vec::new() };
            writer.varint(v);
            prop_assert_eq!(writer.buf.len(), varint_len(v));
            prop_assert_eq!(read_varint(&writer.buf), Ok(v));
        }
    }

    #[test]
    fn a_request_survives_encoding() {
        let req = sample_request();
        assert_eq!(SyncRequest::decode(&req.encode()).unwrap(), req);
    }

    #[test]
    fn an_empty_request_is_a_handful_of_bytes() {
        let req = SyncRequest {
            request_id: 1,
            cursor: 1_000_000,
            response_budget: 65536,
            ..Default::default()
        };
        assert!(req.encode().len() <= 20, "{}", req.encode().len());
    }

    #[test]
    fn every_truncation_of_a_message_is_rejected() {
        let frame = sample_request().encode();
        for len in 0..frame.len() {
            assert!(
                SyncRequest::decode(&frame[..len]).is_err(),
                "prefix of {len} bytes decoded"
            );
        }
    }

    #[test]
    fn a_flipped_bit_is_caught_by_the_checksum() {
        let frame = sample_request().encode();
        for i in 4..frame.len() {
            let mut bad = frame.clone();
            bad[i] ^= 0x10;
            assert!(SyncRequest::decode(&bad).is_err(), "flip at {i} decoded");
        }
    }

    #[test]
    fn a_request_is_not_a_response() {
        let frame = sample_request().encode();
        assert!(matches!(
            SyncResponse::decode(&frame),
            Err(WireError::WrongType { .. })
        ));
    }

    #[test]
    fn a_newer_protocol_version_is_refused_by_name() {
        let mut frame = sample_request().encode();
        frame[2] = 9;
        assert_eq!(
            SyncRequest::decode(&frame),
            Err(WireError::UnsupportedVersion(9))
        );
    }

    proptest! {
        #[test]
        fn responses_round_trip(
            request_id: u64, base in 0u64..1 << 40, delta in 0u64..1 << 20, more: bool,
            acks in proptest::collection::vec((any::<u128>(), proptest::option::of(("[a-z_]{0,12}", ".{0,40}"))), 0..5),
            updates in proptest::collection::vec((any::<u128>(), any::<bool>(), proptest::collection::vec(any::<u8>(), 0..64)), 0..5),
            contact_acks in proptest::collection::vec((any::<u128>(), proptest::option::of(("[a-z_]{0,12}", ".{0,40}"))), 0..3),
            removals in proptest::collection::vec((any::<u128>(), "[a-z_]{0,16}"), 0..4),
        ) {
            let resp = SyncResponse {
                request_id, base_cursor: base, next_cursor: base + delta, more,
                acks: acks.into_iter().map(|(id, v)| Ack {
                    id: uuid::Uuid::from_u128(id),
                    verdict: match v { None => Verdict::Accepted, Some((code, reason)) => Verdict::Rejected { code, reason } },
                }).collect(),
                updates: updates.into_iter().map(|(id, reset, bytes)| DocUpdate {
                    id: uuid::Uuid::from_u128(id),
                    mode: if reset { UpdateMode::Reset } else { UpdateMode::Merge },
                    bytes,
                }).collect(),
                contact_acks: contact_acks.into_iter().map(|(id, v)| Ack {
                    id: uuid::Uuid::from_u128(id),
                    verdict: match v { None => Verdict::Accepted, Some((code, reason)) => Verdict::Rejected { code, reason } },
                }).collect(),
                removals: removals.into_iter().map(|(id, code)| Removal { id: uuid::Uuid::from_u128(id), code }).collect(),
            };
            prop_assert_eq!(SyncResponse::decode(&resp.encode()).unwrap(), resp);
        }

        #[test]
        fn arbitrary_bytes_never_panic_the_decoder(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = SyncRequest::decode(&bytes);
            let _ = SyncResponse::decode(&bytes);
        }
    }
}
