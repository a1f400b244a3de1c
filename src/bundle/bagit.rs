//! Tag files of a BagIt bag (RFC 8493), so an opened bundle can be handed to
//! archives and other systems that validate bags with their own tools.

use std::fs;
use std::io::Write;
use std::path::Path;

use sha2::{Digest, Sha256};

/// One payload file: path under `data/` (with `/`), size, hex SHA-256.
#[derive(Debug, Clone)]
pub struct PayloadFile {
    pub path: String,
    pub size: u64,
    pub sha256: String,
}

/// Writes `bagit.txt`, `bag-info.txt` (with `info` as extra fields),
/// `manifest-sha256.txt` and `tagmanifest-sha256.txt` into `bag`, whose
/// `data/` already holds `payload`.
pub fn write_tags(
    bag: &Path,
    payload: &[PayloadFile],
    info: &[(&str, String)],
) -> std::io::Result<()> {
    let bagit = "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n";
    let bytes: u64 = payload.iter().map(|p| p.size).sum();
    let mut bag_info = format!(
        "Bagging-Date: {}\nPayload-Oxum: {}.{}\n",
        chrono::Utc::now().format("%Y-%m-%d"),
        bytes,
        payload.len()
    );
    for (k, v) in info {
        bag_info.push_str(&format!("{k}: {}\n", v.replace(['\n', '\r'], " ")));
    }
    let manifest: String = payload
        .iter()
        .map(|p| format!("{}  data/{}\n", p.sha256, p.path))
        .collect();
    let mut tagmanifest = String::new();
    for (name, text) in [
        ("bagit.txt", bagit),
        ("bag-info.txt", bag_info.as_str()),
        ("manifest-sha256.txt", manifest.as_str()),
    ] {
        write(bag, name, text)?;
        tagmanifest.push_str(&format!("{}  {name}\n", hex::encode(Sha256::digest(text))));
    }
    write(bag, "tagmanifest-sha256.txt", &tagmanifest)
}

fn write(dir: &Path, name: &str, text: &str) -> std::io::Result<()> {
    let mut f = fs::File::create(dir.join(name))?;
    f.write_all(text.as_bytes())?;
    f.sync_all()
}
