//! A complainant's contact details: the one personal data in the loop that must never enter a
//! replicated document, whose history keeps every value forever and reaches every replica in
//! scope.
//!
//! The device that takes a complaint seals the name and phone for the server (libsodium's
//! sealed box, `crypto_box_seal`: an ephemeral X25519 key and XSalsa20-Poly1305) with the
//! server's contact key, which it learns at login and pins. The sealed bytes travel beside the
//! document in the sync request; the device keeps only them, never the plaintext, and forgets
//! them once the server acknowledges. The document records only that there are contact details
//! ([`Complainant::has_contact`](crate::Complainant)). The server keeps the sealed bytes as
//! they came (encrypted at rest with its key) and opens them for the roles that do the work.
//!
//! The plaintext names its record, so sealed details cannot be moved onto another record.

use crypto_box::aead::OsRng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::SchemaError;
use crate::schema::{RecordId, limits};

/// The largest sealed contact accepted: the plaintext at its limits, with the box's overhead.
pub const MAX_SEALED_BYTES: usize = 1024;

/// A complainant's name and phone number, as entered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contact {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
}

impl Contact {
    /// Blank values count as absent.
    pub fn normalized(self) -> Contact {
        let keep = |v: Option<String>| v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
        Contact {
            name: keep(self.name),
            phone: keep(self.phone),
        }
    }

    /// Whether there is nothing to keep.
    pub fn is_empty(&self) -> bool {
        self.name.is_none() && self.phone.is_none()
    }

    /// The schema's limits on a name and a phone number.
    pub fn validate(&self) -> Result<(), SchemaError> {
        for (field, value, max) in [
            ("complainant.name", &self.name, limits::PERSON_NAME),
            ("complainant.phone", &self.phone, limits::PHONE),
        ] {
            if value.as_ref().is_some_and(|v| v.chars().count() > max) {
                return Err(SchemaError::TooLong { field, max });
            }
        }
        Ok(())
    }
}

/// What is sealed: the contact and the record it belongs to.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Sealed {
    record: RecordId,
    #[serde(flatten)]
    contact: Contact,
}

/// Contact details sealed for the server, beside the document of `id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedContact {
    pub id: RecordId,
    pub sealed: Vec<u8>,
}

/// The server's public contact key, as a device pins it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactKey(crypto_box::PublicKey);

impl ContactKey {
    /// The key from its 32 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<ContactKey, SchemaError> {
        let bytes: [u8; 32] = bytes
            .try_into()
            .map_err(|_| SchemaError::Shape("a contact key is 32 bytes".into()))?;
        Ok(ContactKey(crypto_box::PublicKey::from_bytes(bytes)))
    }

    /// The key's 32 bytes.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// A short name for the key: the first 8 bytes of its SHA-256, in hex.
    pub fn id(&self) -> String {
        let digest = Sha256::digest(self.0.as_bytes());
        digest[..8].iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Seals `contact` for the server, bound to record `id`.
    pub fn seal(&self, id: RecordId, contact: &Contact) -> Result<SealedContact, SchemaError> {
        contact.validate()?;
        let plaintext = serde_json::to_vec(&Sealed {
            record: id,
            contact: contact.clone(),
        })
        .map_err(|e| SchemaError::Shape(e.to_string()))?;
        let sealed = self
            .0
            .seal(&mut OsRng, &plaintext)
            .map_err(|_| SchemaError::Shape("the contact could not be sealed".into()))?;
        Ok(SealedContact { id, sealed })
    }
}

/// The server's secret contact key.
#[derive(Clone)]
pub struct ContactSecret(crypto_box::SecretKey);

impl std::fmt::Debug for ContactSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ContactSecret({})", self.public().id())
    }
}

/// Why sealed contact details could not be opened.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OpenError {
    #[error("the sealed contact is larger than {MAX_SEALED_BYTES} bytes")]
    TooLarge,
    #[error("the contact is not sealed with this server's key, or is corrupt")]
    NotOpened,
    #[error("the sealed contact is not a contact")]
    Malformed,
    #[error("the sealed contact belongs to record {0}")]
    OtherRecord(RecordId),
    #[error(transparent)]
    Invalid(#[from] SchemaError),
}

impl OpenError {
    /// The stable code a refusal answers with.
    pub fn code(&self) -> &'static str {
        match self {
            OpenError::Invalid(e) => e.code(),
            OpenError::OtherRecord(_) => "contact_mismatch",
            _ => "invalid_contact",
        }
    }
}

impl ContactSecret {
    /// A new random key.
    pub fn generate() -> ContactSecret {
        ContactSecret(crypto_box::SecretKey::generate(&mut OsRng))
    }

    /// The key from its 32 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<ContactSecret, SchemaError> {
        let bytes: [u8; 32] = bytes
            .try_into()
            .map_err(|_| SchemaError::Shape("a contact secret is 32 bytes".into()))?;
        Ok(ContactSecret(crypto_box::SecretKey::from_bytes(bytes)))
    }

    /// The key's 32 bytes, to keep in a file only the server reads.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// The public half, which devices seal with.
    pub fn public(&self) -> ContactKey {
        ContactKey(self.0.public_key())
    }

    /// Opens contact details sealed for record `id`: they must open with this key, name that
    /// record, and keep to the schema's limits.
    pub fn open(&self, id: RecordId, sealed: &[u8]) -> Result<Contact, OpenError> {
        if sealed.len() > MAX_SEALED_BYTES {
            return Err(OpenError::TooLarge);
        }
        let plaintext = self.0.unseal(sealed).map_err(|_| OpenError::NotOpened)?;
        let Sealed { record, contact } =
            serde_json::from_slice(&plaintext).map_err(|_| OpenError::Malformed)?;
        if record != id {
            return Err(OpenError::OtherRecord(record));
        }
        contact.validate()?;
        Ok(contact)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::new_record_id;

    fn contact() -> Contact {
        Contact {
            name: Some("张三".into()),
            phone: Some("13800000000".into()),
        }
    }

    #[test]
    fn sealed_details_open_only_with_the_servers_key_and_for_their_record() {
        let server = ContactSecret::generate();
        let id = new_record_id();
        let sealed = server.public().seal(id, &contact()).unwrap();
        assert!(
            !sealed.sealed.windows(6).any(|w| w == "张三".as_bytes()),
            "nothing readable in the sealed bytes"
        );
        assert_eq!(server.open(id, &sealed.sealed), Ok(contact()));
        assert_eq!(
            ContactSecret::generate().open(id, &sealed.sealed),
            Err(OpenError::NotOpened)
        );
        let other = new_record_id();
        assert_eq!(
            server.open(other, &sealed.sealed),
            Err(OpenError::OtherRecord(id))
        );
        let mut corrupt = sealed.sealed.clone();
        corrupt[40] ^= 1;
        assert_eq!(server.open(id, &corrupt), Err(OpenError::NotOpened));
    }

    #[test]
    fn a_key_survives_its_bytes_and_has_a_short_stable_id() {
        let secret = ContactSecret::generate();
        let again = ContactSecret::from_bytes(&secret.to_bytes()).unwrap();
        assert_eq!(again.public(), secret.public());
        let key = ContactKey::from_bytes(&secret.public().to_bytes()).unwrap();
        assert_eq!(key.id(), secret.public().id());
        assert_eq!(key.id().len(), 16);
        assert!(ContactKey::from_bytes(&[0; 31]).is_err());
    }

    #[test]
    fn details_over_the_limits_are_neither_sealed_nor_opened() {
        let long = Contact {
            name: Some("长".repeat(limits::PERSON_NAME + 1)),
            phone: None,
        };
        let server = ContactSecret::generate();
        assert!(matches!(
            server.public().seal(new_record_id(), &long),
            Err(SchemaError::TooLong { .. })
        ));
        assert_eq!(
            server.open(new_record_id(), &vec![0; MAX_SEALED_BYTES + 1]),
            Err(OpenError::TooLarge)
        );
    }
}
