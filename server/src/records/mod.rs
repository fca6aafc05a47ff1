//! The records domain: who may write what ([`authority`]), which grid owns a record
//! ([`ownership`]), how a write is merged, checked and stored ([`commit`]), and how records enter
//! from outside the phones ([`intake`]). The sync exchange (`crate::sync`), the staff routes, the
//! workflow and re-ownership all write records through it.

pub mod authority;
pub mod commit;
pub mod conflict;
pub mod contact;
pub mod intake;
pub mod ownership;
pub mod read;

pub use authority::{AccountAuthority, Author, PublicAuthority};
pub use commit::{
    Stored, WriteContext, log_entries, record_row, store_upload, store_uploads, stored_docs,
};
pub use intake::{
    PublicIntake, create_record, create_records, duplicate_hints, public_record, take_in_public,
};
pub use ownership::{decide_owner, reassign_owner, wgs84_point};
pub use read::visible;

/// The origin of changes the server writes itself, and the writer named in them.
pub const SERVER: &str = "server";

/// The origin of the server's ownership decisions. A record changes hands with such a change,
/// so a device meeting one in its feed for a record older than its cursor may not hold the
/// record's earlier history: it is sent the whole document instead.
pub const OWNER_ORIGIN: &str = "server/owner";
