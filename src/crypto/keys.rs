//! The node's two secrets and their files in the data directory:
//! an age X25519 identity (decrypts documents and incoming bundles) and an
//! OpenSSH Ed25519 key (signs). Both are in the stock tools' formats: `age -d
//! -i` reads the identity (plain or passphrase-encrypted), `ssh-keygen` the key.

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

impl KeyFiles {
    pub const IDENTITY: &'static str = "age-identity.txt";
    pub const IDENTITY_ENCRYPTED: &'static str = "age-identity.age";
    pub const SSH_KEY: &'static str = "ssh-ed25519";
    pub const SSH_PUB: &'static str = "ssh-ed25519.pub";

    pub fn new(dir: &Path) -> Self {
        KeyFiles {
            dir: dir.to_path_buf(),
        }
    }
    /// The plain age identity file.
    pub fn identity(&self) -> PathBuf {
        self.dir.join(Self::IDENTITY)
    }
    /// The passphrase-encrypted age identity file.
    pub fn identity_encrypted(&self) -> PathBuf {
        self.dir.join(Self::IDENTITY_ENCRYPTED)
    }
    /// The OpenSSH private key.
    pub fn ssh_key(&self) -> PathBuf {
        self.dir.join(Self::SSH_KEY)
    }
    /// The OpenSSH public key.
    pub fn ssh_pub(&self) -> PathBuf {
        self.dir.join(Self::SSH_PUB)
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
    pub fn all(&self) -> [PathBuf; 4] {
        [
            self.identity(),
            self.identity_encrypted(),
            self.ssh_key(),
            self.ssh_pub(),
        ]
    }
    /// True if `name` is the name of a key file.
    pub fn is_key_file_name(name: &str) -> bool {
        [
            Self::IDENTITY,
            Self::IDENTITY_ENCRYPTED,
            Self::SSH_KEY,
            Self::SSH_PUB,
        ]
        .contains(&name)
    }
}

/// The node's secrets, in memory.
pub struct NodeKeys {
    identity: age::x25519::Identity,
    signing: PrivateKey,
}

impl std::fmt::Debug for NodeKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeKeys")
            .field("recipient", &self.recipient().to_string())
            .finish_non_exhaustive()
    }
}

impl NodeKeys {
    /// Fresh keys for a new node; `comment` labels the SSH key (the department id).
    pub fn generate(comment: &str) -> Result<NodeKeys, KeyError> {
        let mut signing = PrivateKey::random(&mut rand::rngs::OsRng, Algorithm::Ed25519)
            .map_err(|_| KeyError::Malformed("ssh key generation"))?;
        signing.set_comment(comment);
        Ok(NodeKeys {
            identity: age::x25519::Identity::generate(),
            signing,
        })
    }

    /// The age identity (decrypts).
    pub fn identity(&self) -> &age::x25519::Identity {
        &self.identity
    }

    /// The age recipient documents are encrypted to.
    pub fn recipient(&self) -> age::x25519::Recipient {
        self.identity.to_public()
    }

    /// The Ed25519 signing key.
    pub fn signing_key(&self) -> &PrivateKey {
        &self.signing
    }

    /// The OpenSSH public key line (`ssh-ed25519 AAAA… comment`).
    pub fn ssh_public_key(&self) -> String {
        self.signing.public_key().to_openssh().unwrap_or_default()
    }

    /// Writes the key files (0600 secrets) into `files`' directory. Refuses to
    /// overwrite anything. With a passphrase, both secrets are encrypted with it.
    pub fn write(&self, files: &KeyFiles, passphrase: Option<&Passphrase>) -> Result<(), KeyError> {
        let identity_text = Zeroizing::new(format!(
            "# handover node identity (age X25519). Secret: never copy it off this node.\n# created: {}\n# public key: {}\n{}\n",
            chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            self.recipient(),
            self.identity.to_string().expose_secret()
        ));
        match passphrase {
            None => write_secret(&files.identity(), identity_text.as_bytes())?,
            Some(pass) => {
                let encryptor = age::Encryptor::with_user_passphrase(pass.clone());
                let mut sealed = Vec::new();
                let mut w = encryptor.wrap_output(&mut sealed)?;
                w.write_all(identity_text.as_bytes())?;
                w.finish()?;
                write_secret(&files.identity_encrypted(), &sealed)?;
            }
        }
        let key = match passphrase {
            None => self.signing.clone(),
            Some(pass) => self
                .signing
                .encrypt(&mut rand::rngs::OsRng, pass.expose_secret().as_bytes())
                .map_err(|_| KeyError::Malformed("ssh key encryption"))?,
        };
        let pem = key
            .to_openssh(LineEnding::LF)
            .map_err(|_| KeyError::Malformed(KeyFiles::SSH_KEY))?;
        write_secret(&files.ssh_key(), pem.as_bytes())?;
        write_new(
            &files.ssh_pub(),
            format!("{}\n", self.ssh_public_key()).as_bytes(),
            0o644,
        )?;
        Ok(())
    }

    /// Reads the key files. `passphrase` is asked for only when the identity
    /// is passphrase-protected.
    pub fn load(
        files: &KeyFiles,
        passphrase: impl FnOnce() -> Option<Passphrase>,
    ) -> Result<NodeKeys, KeyError> {
        let (identity, pass) = if files.is_protected() {
            let pass = passphrase().ok_or(KeyError::PassphraseNeeded)?;
            let sealed = fs::read(files.identity_encrypted())?;
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
            (parse_identity(&text)?, Some(pass))
        } else {
            let path = files.identity();
            if !path.exists() {
                return Err(KeyError::Missing(KeyFiles::IDENTITY));
            }
            let text = Zeroizing::new(fs::read_to_string(path)?);
            (parse_identity(&text)?, None)
        };
        let path = files.ssh_key();
        if !path.exists() {
            return Err(KeyError::Missing(KeyFiles::SSH_KEY));
        }
        let pem = Zeroizing::new(fs::read_to_string(path)?);
        let mut signing = PrivateKey::from_openssh(pem.as_bytes())
            .map_err(|_| KeyError::Malformed(KeyFiles::SSH_KEY))?;
        if signing.is_encrypted() {
            let pass = pass.ok_or(KeyError::PassphraseNeeded)?;
            signing = signing
                .decrypt(pass.expose_secret().as_bytes())
                .map_err(|_| KeyError::WrongPassphrase)?;
        }
        Ok(NodeKeys { identity, signing })
    }
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

/// A 32-byte key for `purpose`, derived (HKDF-SHA256) from the node identity.
pub fn derive_key(keys: &NodeKeys, purpose: &str) -> Zeroizing<[u8; 32]> {
    let secret = keys.identity.to_string();
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
            assert_eq!(*derive_key(&loaded, "db"), *derive_key(&keys, "db"));
            assert_ne!(*derive_key(&keys, "db"), *derive_key(&keys, "other"));
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
