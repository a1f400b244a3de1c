//! Cryptography: the node's keys and their files, streaming age encryption
//! and decryption that hash the plaintext in the same pass, the database
//! key, the split of an age file into its header and payload, rewrapping a
//! header to a new identity (a storage key rotation), and key statements.
//! Uses the `age`, `age-core`, `ssh-key`, `hkdf` and `hmac` crates; the
//! only hand-written format code is the age header split and rewrap, for
//! which the `age` crate has no API (each file says why).

mod cards;
mod head;
mod keys;
mod rewrap;
mod signature;
mod split;
mod statement;
mod stream;

pub use cards::{
    age_fingerprint, card_signing_keys, parse_recipient, parse_ssh_public, ssh_fingerprint,
};
pub use head::SealedHead;
pub use keys::{
    new_signing_key, parse_identity, public_line, seal_database_key, write_identity, write_signing,
    KeyFiles, KeySource, NodeKeys, Passphrase, Slot,
};
pub use rewrap::{rewrap_header, RewrapError};
pub use signature::{
    sign, sign_in, verify, verify_in, SignatureError, AUDIT_NAMESPACE, KEY_STATEMENT_NAMESPACE,
    MAX_SIGNATURE_BYTES, NAMESPACE, RECEIPT_NAMESPACE, REFUSAL_NAMESPACE,
};
pub use split::{header_len, take_header, HeaderSlot, HeaderSplit};
pub use statement::{
    sign_statement, verify_statement, StatementBody, StatementError, STATEMENT_FORMAT,
};
pub use stream::{
    decrypting_reader, open, open_with, reseal_sized, seal, seal_with, seal_with_head, InputCheck,
    Opened, ResealPlan, Resealed, Sealed, StreamError, Threads,
};

/// Errors from key handling.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("the node's keys are missing ({0})")]
    Missing(&'static str),
    #[error("the node identity is passphrase-protected: give the passphrase (HANDOVER_PASSPHRASE or the prompt)")]
    PassphraseNeeded,
    #[error("wrong passphrase for the node identity")]
    WrongPassphrase,
    #[error("key file {0} is malformed")]
    Malformed(&'static str),
    #[error("the {0} is not valid")]
    BadPublicKey(&'static str),
    #[error("cannot write key file: {0}")]
    Io(#[from] std::io::Error),
}
