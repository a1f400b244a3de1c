//! The node's secrets and their files in the data directory: an age X25519
//! identity (decrypts documents and incoming bundles) and an OpenSSH
//! Ed25519 key (signs), in the stock tools' formats: `age -d -i` reads the
//! identity (plain or passphrase-encrypted), `ssh-keygen` the key. During a
//! rotation a key also has a `.next` (being brought in) or `.previous`
//! (the identity being replaced) file; the database key, derived from the
//! first identity, is kept in `database-key.age` from the first storage
//! rotation on.

use std::fs::{self, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use age::secrecy::{ExposeSecret, SecretString};
use hkdf::Hkdf;
use sha2::Sha256;
use ssh_key::{Algorithm, LineEnding, PrivateKey};
use zeroize::Zeroizing;

use super::KeyError;

/// A passphrase protecting the node's secret files.
pub type Passphrase = SecretString;

/// Names of the key files inside a data directory.
#[derive(Debug, Clone)]
pub struct KeyFiles {
    dir: PathBuf,
}

/// Which of the files of one key: the one in use, the one a rotation is
/// bringing in, or (for the age identity during a storage rotation) the
/// one it replaces, kept until every header is rewrapped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    Current,
    Next,
    Previous,
}

impl Slot {
    fn suffix(self) -> &'static str {
        match self {
            Slot::Current => "",
            Slot::Next => ".next",
            Slot::Previous => ".previous",
        }
    }
}

impl KeyFiles {
    pub const IDENTITY: &'static str = "age-identity.txt";
    pub const IDENTITY_ENCRYPTED: &'static str = "age-identity.age";
    pub const SSH_KEY: &'static str = "ssh-ed25519";
    pub const SSH_PUB: &'static str = "ssh-ed25519.pub";
    /// The database key, age-encrypted to the identities the node holds.
    /// Written by the first storage rotation; before it, the database key
    /// is derived from the identity.
    pub const DATABASE_KEY: &'static str = "database-key.age";

    pub fn new(dir: &Path) -> Self {
        KeyFiles {
            dir: dir.to_path_buf(),
        }
    }
    /// The directory that holds the files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
    /// The plain age identity file.
    pub fn identity(&self) -> PathBuf {
        self.identity_in(Slot::Current, false)
    }
    /// The passphrase-encrypted age identity file.
    pub fn identity_encrypted(&self) -> PathBuf {
        self.identity_in(Slot::Current, true)
    }
    /// The age identity file of `slot`, plain or passphrase-encrypted.
    pub fn identity_in(&self, slot: Slot, encrypted: bool) -> PathBuf {
        let ext = if encrypted { "age" } else { "txt" };
        self.dir
            .join(format!("age-identity{}.{ext}", slot.suffix()))
    }
    /// The OpenSSH private key.
    pub fn ssh_key(&self) -> PathBuf {
        self.ssh_key_in(Slot::Current)
    }
    /// The OpenSSH public key.
    pub fn ssh_pub(&self) -> PathBuf {
        self.ssh_pub_in(Slot::Current)
    }
    /// The OpenSSH private key of `slot`.
    pub fn ssh_key_in(&self, slot: Slot) -> PathBuf {
        self.dir.join(format!("ssh-ed25519{}", slot.suffix()))
    }
    /// The OpenSSH public key of `slot`.
    pub fn ssh_pub_in(&self, slot: Slot) -> PathBuf {
        self.dir.join(format!("ssh-ed25519{}.pub", slot.suffix()))
    }
    /// The database key file.
    pub fn database_key(&self) -> PathBuf {
        self.dir.join(Self::DATABASE_KEY)
    }
    /// True when the identity is stored passphrase-encrypted.
    pub fn is_protected(&self) -> bool {
        self.identity_encrypted().exists()
    }
    /// True when any key file exists.
    pub fn any_exist(&self) -> bool {
        self.all().iter().any(|p| p.exists())
    }
    /// Every key file's path (not all of them need exist).
    pub fn all(&self) -> Vec<PathBuf> {
        Self::names().map(|n| self.dir.join(n)).collect()
    }
    /// Every key file's name.
    fn names() -> impl Iterator<Item = String> {
        [Slot::Current, Slot::Next, Slot::Previous]
            .into_iter()
            .flat_map(|slot| {
                let s = slot.suffix();
                [
                    format!("age-identity{s}.txt"),
                    format!("age-identity{s}.age"),
                    format!("ssh-ed25519{s}"),
                    format!("ssh-ed25519{s}.pub"),
                ]
            })
            .chain(std::iter::once(Self::DATABASE_KEY.to_string()))
    }
    /// True if `name` is the name of a key file.
    pub fn is_key_file_name(name: &str) -> bool {
        Self::names().any(|n| n == name)
    }
}

/// The node's secrets, in memory.
pub struct NodeKeys {
    /// The identity new files are sealed to.
    identity: age::x25519::Identity,
    /// Identities still held for decryption only: the one a storage
    /// rotation replaces (until it ends), or one it is bringing in.
    others: Vec<age::x25519::Identity>,
    database_key: Zeroizing<[u8; 32]>,
    signing: PrivateKey,
    /// Kept to write a rotation's new files under the same passphrase.
    passphrase: Option<Passphrase>,
}

impl std::fmt::Debug for NodeKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeKeys")
            .field("recipient", &self.recipient().to_string())
            .finish_non_exhaustive()
    }
}

/// Decryption tries the current identity, then the others the node holds.
impl age::Identity for NodeKeys {
    fn unwrap_stanza(
        &self,
        stanza: &age_core::format::Stanza,
    ) -> Option<Result<age_core::format::FileKey, age::DecryptError>> {
        std::iter::once(&self.identity)
            .chain(&self.others)
            .find_map(|id| id.unwrap_stanza(stanza))
    }
}

impl NodeKeys {
    /// Fresh keys for a new node; `comment` labels the SSH key (the department id).
    pub fn generate(comment: &str) -> Result<NodeKeys, KeyError> {
        let identity = age::x25519::Identity::generate();
        Ok(NodeKeys {
            database_key: derive_from(&identity, "sqlcipher"),
            identity,
            others: Vec::new(),
            signing: new_signing_key(comment)?,
            passphrase: None,
        })
    }

    /// Everything that decrypts what was sealed to this node: the current
    /// identity and, during a storage rotation, the other one it holds.
    pub fn identity(&self) -> &dyn age::Identity {
        self
    }

    /// The current identity only.
    pub fn current_identity(&self) -> &age::x25519::Identity {
        &self.identity
    }

    /// The age recipient new files are encrypted to.
    pub fn recipient(&self) -> age::x25519::Recipient {
        self.identity.to_public()
    }

    /// The recipients of every identity held (current first).
    pub fn recipients(&self) -> Vec<age::x25519::Recipient> {
        std::iter::once(&self.identity)
            .chain(&self.others)
            .map(|i| i.to_public())
            .collect()
    }

    /// The key of the SQLCipher database.
    pub fn database_key(&self) -> &Zeroizing<[u8; 32]> {
        &self.database_key
    }

    /// The Ed25519 signing key.
    pub fn signing_key(&self) -> &PrivateKey {
        &self.signing
    }

    /// The passphrase the key files are protected with, if any.
    pub fn passphrase(&self) -> Option<&Passphrase> {
        self.passphrase.as_ref()
    }

    /// The OpenSSH public key line (`ssh-ed25519 AAAA… comment`).
    pub fn ssh_public_key(&self) -> String {
        public_line(&self.signing)
    }

    /// Writes the key files (0600 secrets) into `files`' directory. Refuses to
    /// overwrite anything. With a passphrase, both secrets are encrypted with it.
    pub fn write(&self, files: &KeyFiles, passphrase: Option<&Passphrase>) -> Result<(), KeyError> {
        write_identity(files, Slot::Current, &self.identity, passphrase)?;
        write_signing(files, Slot::Current, &self.signing, passphrase)
    }

    /// Reads the key files. `passphrase` is asked for only when the identity
    /// is passphrase-protected. The signing key is the current file's.
    pub fn load(
        files: &KeyFiles,
        passphrase: impl FnOnce() -> Option<Passphrase>,
    ) -> Result<NodeKeys, KeyError> {
        Self::load_for(files, passphrase, None)
    }

    /// Reads the key files; the signing key is the one, current or next,
    /// whose public key is `signing_public` (a signing rotation writes the
    /// next key before the card names it, and renames it after).
    pub fn load_for(
        files: &KeyFiles,
        passphrase: impl FnOnce() -> Option<Passphrase>,
        signing_public: Option<&str>,
    ) -> Result<NodeKeys, KeyError> {
        let protected = files.is_protected();
        let pass = if protected {
            Some(passphrase().ok_or(KeyError::PassphraseNeeded)?)
        } else {
            None
        };
        let identity = read_identity(files, Slot::Current, pass.as_ref())?
            .ok_or(KeyError::Missing(KeyFiles::IDENTITY))?;
        let mut others = Vec::new();
        for slot in [Slot::Previous, Slot::Next] {
            if let Some(id) = read_identity(files, slot, pass.as_ref())? {
                others.push(id);
            }
        }
        let mut signing = None;
        for slot in [Slot::Current, Slot::Next] {
            let Some(key) = read_signing(files, slot, pass.as_ref())? else {
                continue;
            };
            if signing_public.is_none_or(|want| public_line(&key) == want.trim()) {
                signing = Some(key);
                break;
            }
        }
        let signing = match (signing, signing_public) {
            (Some(key), _) => key,
            (None, None) => return Err(KeyError::Missing(KeyFiles::SSH_KEY)),
            (None, Some(_)) => return Err(KeyError::Malformed(KeyFiles::SSH_KEY)),
        };
        let mut keys = NodeKeys {
            database_key: derive_from(&identity, "sqlcipher"),
            identity,
            others,
            signing,
            passphrase: pass,
        };
        if let Some(sealed) = read_optional(&files.database_key())? {
            keys.database_key = open_database_key(&keys, &sealed)?;
        }
        Ok(keys)
    }
}

/// Where a long-lived user of the keys (the audit log) gets them at each
/// use, so that a rotation reaches it without reopening.
pub trait KeySource: Send + Sync {
    /// The keys to use now.
    fn keys(&self) -> std::sync::Arc<NodeKeys>;
}

impl KeySource for std::sync::Arc<NodeKeys> {
    fn keys(&self) -> std::sync::Arc<NodeKeys> {
        self.clone()
    }
}

/// A new Ed25519 signing key labelled `comment`.
pub fn new_signing_key(comment: &str) -> Result<PrivateKey, KeyError> {
    let mut signing = PrivateKey::random(&mut rand::rngs::OsRng, Algorithm::Ed25519)
        .map_err(|_| KeyError::Malformed("ssh key generation"))?;
    signing.set_comment(comment);
    Ok(signing)
}

/// The OpenSSH public key line of `key`.
pub fn public_line(key: &PrivateKey) -> String {
    key.public_key().to_openssh().unwrap_or_default()
}

/// Writes the identity file of `slot` (passphrase-encrypted when given).
pub fn write_identity(
    files: &KeyFiles,
    slot: Slot,
    identity: &age::x25519::Identity,
    passphrase: Option<&Passphrase>,
) -> Result<(), KeyError> {
    let identity_text = Zeroizing::new(format!(
        "# handover node identity (age X25519). Secret: never copy it off this node.\n# created: {}\n# public key: {}\n{}\n",
        chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        identity.to_public(),
        identity.to_string().expose_secret()
    ));
    match passphrase {
        None => write_secret(&files.identity_in(slot, false), identity_text.as_bytes())?,
        Some(pass) => {
            let encryptor = age::Encryptor::with_user_passphrase(pass.clone());
            let mut sealed = Vec::new();
            let mut w = encryptor.wrap_output(&mut sealed)?;
            w.write_all(identity_text.as_bytes())?;
            w.finish()?;
            write_secret(&files.identity_in(slot, true), &sealed)?;
        }
    }
    Ok(())
}

/// Writes the signing key files of `slot` (the private key
/// passphrase-encrypted when given).
pub fn write_signing(
    files: &KeyFiles,
    slot: Slot,
    signing: &PrivateKey,
    passphrase: Option<&Passphrase>,
) -> Result<(), KeyError> {
    let key = match passphrase {
        None => signing.clone(),
        Some(pass) => signing
            .encrypt(&mut rand::rngs::OsRng, pass.expose_secret().as_bytes())
            .map_err(|_| KeyError::Malformed("ssh key encryption"))?,
    };
    let pem = key
        .to_openssh(LineEnding::LF)
        .map_err(|_| KeyError::Malformed(KeyFiles::SSH_KEY))?;
    write_secret(&files.ssh_key_in(slot), pem.as_bytes())?;
    write_new(
        &files.ssh_pub_in(slot),
        format!("{}\n", public_line(signing)).as_bytes(),
        0o644,
    )?;
    Ok(())
}

/// Seals the database key of `keys` to `to`, for [`KeyFiles::DATABASE_KEY`].
pub fn seal_database_key(
    keys: &NodeKeys,
    to: &[age::x25519::Recipient],
) -> Result<Vec<u8>, KeyError> {
    let encryptor = age::Encryptor::with_recipients(to.iter().map(|r| r as &dyn age::Recipient))
        .map_err(|_| KeyError::Malformed(KeyFiles::DATABASE_KEY))?;
    let mut sealed = Vec::new();
    let mut w = encryptor.wrap_output(&mut sealed)?;
    w.write_all(keys.database_key.as_ref())?;
    w.finish()?;
    Ok(sealed)
}

fn open_database_key(keys: &NodeKeys, sealed: &[u8]) -> Result<Zeroizing<[u8; 32]>, KeyError> {
    let decryptor =
        age::Decryptor::new(sealed).map_err(|_| KeyError::Malformed(KeyFiles::DATABASE_KEY))?;
    let mut reader = decryptor
        .decrypt(std::iter::once(keys as &dyn age::Identity))
        .map_err(|_| KeyError::Malformed(KeyFiles::DATABASE_KEY))?;
    let mut key = Zeroizing::new([0u8; 32]);
    reader
        .read_exact(key.as_mut())
        .map_err(|_| KeyError::Malformed(KeyFiles::DATABASE_KEY))?;
    Ok(key)
}

fn read_optional(path: &Path) -> Result<Option<Vec<u8>>, KeyError> {
    match fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The identity of `slot`, if its file exists.
fn read_identity(
    files: &KeyFiles,
    slot: Slot,
    pass: Option<&Passphrase>,
) -> Result<Option<age::x25519::Identity>, KeyError> {
    if let Some(sealed) = read_optional(&files.identity_in(slot, true))? {
        let pass = pass.ok_or(KeyError::PassphraseNeeded)?;
        let decryptor = age::Decryptor::new(&sealed[..])
            .map_err(|_| KeyError::Malformed(KeyFiles::IDENTITY_ENCRYPTED))?;
        let mut scrypt = age::scrypt::Identity::new(pass.clone());
        scrypt.set_max_work_factor(22);
        let mut reader = decryptor
            .decrypt(std::iter::once(&scrypt as &dyn age::Identity))
            .map_err(|_| KeyError::WrongPassphrase)?;
        let mut text = Zeroizing::new(String::new());
        reader
            .read_to_string(&mut text)
            .map_err(|_| KeyError::WrongPassphrase)?;
        return Ok(Some(parse_identity(&text)?));
    }
    match read_optional(&files.identity_in(slot, false))? {
        None => Ok(None),
        Some(bytes) => {
            let text = Zeroizing::new(
                String::from_utf8(bytes).map_err(|_| KeyError::Malformed(KeyFiles::IDENTITY))?,
            );
            Ok(Some(parse_identity(&text)?))
        }
    }
}

/// The signing key of `slot`, if its file exists.
fn read_signing(
    files: &KeyFiles,
    slot: Slot,
    pass: Option<&Passphrase>,
) -> Result<Option<PrivateKey>, KeyError> {
    let Some(pem) = read_optional(&files.ssh_key_in(slot))?.map(Zeroizing::new) else {
        return Ok(None);
    };
    let mut signing =
        PrivateKey::from_openssh(&pem[..]).map_err(|_| KeyError::Malformed(KeyFiles::SSH_KEY))?;
    if signing.is_encrypted() {
        let pass = pass.ok_or(KeyError::PassphraseNeeded)?;
        signing = signing
            .decrypt(pass.expose_secret().as_bytes())
            .map_err(|_| KeyError::WrongPassphrase)?;
    }
    Ok(Some(signing))
}

/// The X25519 identity in the text of an age identity file (comment lines
/// start with `#`; the first line that parses as an identity counts).
pub fn parse_identity(text: &str) -> Result<age::x25519::Identity, KeyError> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .find_map(|l| l.parse().ok())
        .ok_or(KeyError::Malformed(KeyFiles::IDENTITY))
}

/// A 32-byte key for `purpose`, derived (HKDF-SHA256) from an identity.
fn derive_from(identity: &age::x25519::Identity, purpose: &str) -> Zeroizing<[u8; 32]> {
    let secret = identity.to_string();
    let hk = Hkdf::<Sha256>::new(Some(b"handover/v1"), secret.expose_secret().as_bytes());
    let mut out = Zeroizing::new([0u8; 32]);
    hk.expand(purpose.as_bytes(), out.as_mut())
        .expect("32 bytes is a valid HKDF-SHA256 output length");
    out
}

fn write_secret(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_new(path, bytes, 0o600)
}

fn write_new(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_plain_and_protected() {
        for pass in [None, Some(SecretString::from("correct horse".to_string()))] {
            let dir = tempfile::tempdir().unwrap();
            let files = KeyFiles::new(dir.path());
            let keys = NodeKeys::generate("test-dept").unwrap();
            keys.write(&files, pass.as_ref()).unwrap();
            let loaded = NodeKeys::load(&files, || pass.clone()).unwrap();
            assert_eq!(loaded.recipient().to_string(), keys.recipient().to_string());
            assert_eq!(loaded.ssh_public_key(), keys.ssh_public_key());
            assert_eq!(**loaded.database_key(), **keys.database_key());
            // Refuses to overwrite.
            assert!(keys.write(&files, pass.as_ref()).is_err());
            if pass.is_some() {
                let wrong = NodeKeys::load(&files, || Some(SecretString::from("nope".to_string())));
                assert!(matches!(wrong, Err(KeyError::WrongPassphrase)));
                assert!(matches!(
                    NodeKeys::load(&files, || None),
                    Err(KeyError::PassphraseNeeded)
                ));
            }
        }
    }
}
