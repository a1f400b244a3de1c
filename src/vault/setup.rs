//! The first run of `handover serve` on an empty data directory, after
//! `init`: the `admin` user, with a random one-time password written to an
//! owner-only file in the data directory (never to the terminal or the
//! journal). The first login must replace it, and then the file is removed.

use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

use base64ct::{Base64UrlUnpadded, Encoding};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};

use super::{Vault, VaultError};
use crate::domain::{Principal, Role, Scope, UserId};

/// The department a first run sets up when none is named.
pub const FIRST_RUN_DEPARTMENT: &str = "local-demo";
const FIRST_RUN_NAME: &str = "Local demo department";

/// What the first run of a service sets up, when the data directory is empty.
#[derive(Debug, Clone, Default)]
pub struct FirstRun {
    /// The department id [default: `local-demo`].
    pub department: Option<String>,
    /// Its name [default: "Local demo department"].
    pub name: Option<String>,
    /// Where other nodes push bundles to this one.
    pub inbox_url: Option<String>,
    pub passphrase: Option<crate::crypto::Passphrase>,
}

/// The file in the data directory that holds the first admin's one-time password.
pub const FIRST_PASSWORD_FILE: &str = "initial-admin-password";
const FIRST_ADMIN_KEY: &str = "first_admin";

impl Vault {
    /// Sets up a node in an empty data directory (one that holds no node);
    /// true if it did. The caller then opens it and creates the first admin.
    pub fn set_up_if_new(
        settings: &crate::config::Settings,
        first: FirstRun,
    ) -> Result<bool, VaultError> {
        if Vault::exists(&settings.data_dir) {
            return Ok(false);
        }
        Vault::init(
            settings.clone(),
            super::InitOptions {
                department_id: first
                    .department
                    .unwrap_or_else(|| FIRST_RUN_DEPARTMENT.into()),
                department_name: first.name.unwrap_or_else(|| FIRST_RUN_NAME.into()),
                inbox_url: first.inbox_url,
                passphrase: first.passphrase,
                keys_from: None,
            },
        )?;
        Ok(true)
    }

    /// Creates the user `admin` with a random one-time password, written
    /// to `DATA_DIR/initial-admin-password` (mode 0600); returns that path.
    pub async fn create_first_admin(&self) -> Result<PathBuf, VaultError> {
        let mut secret = [0u8; 18];
        rand::rngs::OsRng.fill_bytes(&mut secret);
        let password = SecretString::from(Base64UrlUnpadded::encode_string(&secret));
        let path = self.data_dir().join(FIRST_PASSWORD_FILE);
        let tmp = self.data_dir().join(format!("{FIRST_PASSWORD_FILE}.tmp"));
        let _ = fs::remove_file(&tmp);
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        file.write_all(format!("{}\n", password.expose_secret()).as_bytes())?;
        file.sync_all()?;
        let admin = self.add_user(
            &Principal::LocalOperator,
            "admin",
            Role::Admin,
            Scope::Department(self.card().id.clone()),
            Some(&password),
        )?;
        self.db
            .set_node_value(FIRST_ADMIN_KEY, &admin.id.to_string())?;
        crate::durable::commit_synced(&tmp, &path)?;
        tracing::info!(user = %admin.id, "admin user created");
        Ok(path)
    }

    /// The first admin chose a password: the one-time one's file goes.
    pub(super) fn first_password_replaced(&self, user: UserId) -> Result<(), VaultError> {
        if self.db.node_value(FIRST_ADMIN_KEY)?.as_deref() == Some(&user.to_string()) {
            match fs::remove_file(self.data_dir().join(FIRST_PASSWORD_FILE)) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }
}
