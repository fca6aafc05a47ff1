//! The crate's one error type.

/// A record that breaks the schema.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SchemaError {
    #[error("missing field {0}")]
    MissingField(&'static str),
    #[error("{field} is out of range: {value}")]
    OutOfRange { field: &'static str, value: f64 },
    #[error("{field} is longer than {max} characters")]
    TooLong { field: &'static str, max: usize },
    #[error("{field} has more than {max} entries")]
    TooMany { field: &'static str, max: usize },
    #[error("unknown {field} {value:?}")]
    UnknownValue { field: &'static str, value: String },
    #[error("unsupported schema version {0}")]
    UnsupportedSchemaVersion(u64),
    #[error("attachment {0:?} is not keyed by its lowercase sha256")]
    BadAttachment(String),
    #[error("inconsistent record: {0}")]
    Inconsistent(&'static str),
    #[error("document does not match the record schema: {0}")]
    Shape(String),
    #[error("invalid patch: {0}")]
    Patch(String),
}

impl SchemaError {
    /// The stable code every surface answers this refusal with: `too_long` and `too_many` for
    /// the size limits, `invalid_record` for everything else.
    pub fn code(&self) -> &'static str {
        match self {
            SchemaError::TooLong { .. } => "too_long",
            SchemaError::TooMany { .. } => "too_many",
            _ => "invalid_record",
        }
    }
}

/// A wire message that cannot be decoded. Nothing is applied from such a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("message is truncated")]
    Truncated,
    #[error("not a gridsync sync message")]
    BadMagic,
    #[error("unsupported protocol version {0}")]
    UnsupportedVersion(u8),
    #[error("expected a {expected} message, got type {found}")]
    WrongType { expected: &'static str, found: u8 },
    #[error("checksum mismatch: message is corrupt")]
    Checksum,
    #[error("malformed message: {0}")]
    Malformed(&'static str),
    #[error("message has {0} trailing bytes")]
    TrailingBytes(usize),
}

/// Everything that can go wrong in sync-core. Large causes are boxed so that `Result<T>` stays
/// small on the happy path.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid record")]
    Schema(#[from] SchemaError),
    #[error("invalid sync message")]
    Wire(#[from] WireError),
    #[error("automerge document error")]
    Automerge(#[source] Box<automerge::AutomergeError>),
    #[error("document does not hydrate into a record")]
    Hydrate(#[source] Box<autosurgeon::HydrateError>),
    #[error("record could not be written into the document")]
    Reconcile(#[source] Box<autosurgeon::ReconcileError>),
    #[error("local store error")]
    Store(#[source] Box<rusqlite::Error>),
    #[error("record {0} not found")]
    NotFound(uuid::Uuid),
    #[error("blob {0} not found")]
    BlobNotFound(String),
    /// A photo the server holds whole is evidence on the record: it is no longer dropped from
    /// the queue.
    #[error("photo {0} is on the server already")]
    AlreadyUploaded(String),
    #[error("record {0} already exists")]
    AlreadyExists(uuid::Uuid),
    #[error("invalid json")]
    Json(#[source] Box<serde_json::Error>),
    #[error("store belongs to account {stored:?}, not {requested:?}")]
    WrongAccount { stored: String, requested: String },
    #[error("no contact key pinned: log in before taking a complainant's contact details")]
    NoContactKey,
    #[error("the server's contact key changed from {pinned} to {offered}")]
    ContactKeyChanged { pinned: String, offered: String },
    /// A field step on a record that does not wait for it from this account (see
    /// [`Record::task_for`](crate::Record::task_for)).
    #[error("record {id} does not wait for {step} from this account")]
    NotWaiting { id: uuid::Uuid, step: &'static str },
}

macro_rules! boxed_from {
    ($($variant:ident($ty:ty)),+ $(,)?) => {$(
        impl From<$ty> for Error {
            fn from(e: $ty) -> Self {
                Error::$variant(Box::new(e))
            }
        }
    )+};
}

boxed_from!(
    Automerge(automerge::AutomergeError),
    Hydrate(autosurgeon::HydrateError),
    Reconcile(autosurgeon::ReconcileError),
    Store(rusqlite::Error),
    Json(serde_json::Error),
);

impl Error {
    /// The stable code a refusal of this error is answered with: the schema's own code for a
    /// record that breaks the schema, `invalid_record` for any other reason a document cannot
    /// be read.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Schema(e) => e.code(),
            _ => "invalid_record",
        }
    }
}

/// `Result` with the crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
