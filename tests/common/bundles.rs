//! Helpers for bundle tests: the two demo departments as nodes, a child
//! with documents, and reading/rebuilding bundle entries.
#![allow(dead_code)]

use std::io::Read;
use std::path::{Path, PathBuf};

use handover::bundle::zipfmt::{Entry, ZipWriter};
use handover::domain::{DepartmentCard, Directory};

use super::{created_id, pdf, Node, Store};

pub const SOURCE: &str = "rj-dcpu-jaipur";
pub const DEST: &str = "br-swd-patna";
/// The restoration checklist's kinds (policies/checklists.toml).
pub const RESTORATION: [&str; 8] = [
    "fir",
    "medical_report",
    "fit_to_travel",
    "release_certificate",
    "cwc_order",
    "social_investigation",
    "care_plan",
    "identity",
];

pub fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// A node of a demo department, made from its test keys (fresh keys for
/// any other id), knowing `peers`, on the local disk.
pub fn demo_node(id: &str, peers: &[&str]) -> Node {
    demo_node_on(id, peers, &Store::Disk)
}

/// The same, keeping its blobs in a store like `store` (its own bucket).
pub fn demo_node_on(id: &str, peers: &[&str], store: &Store) -> Node {
    let node = Node::uninitialised_on(store.fresh());
    let keys = repo(&format!("fixtures/keys/{id}"));
    let mut init = node.cmd();
    init.args(["init", "--department", id, "--name", id]);
    if keys.exists() {
        init.arg("--keys").arg(keys);
    }
    init.assert().success();
    for peer in peers {
        node.cmd()
            .args(["dept", "add"])
            .arg(repo(&format!("keys/{peer}.json")))
            .assert()
            .success();
    }
    node
}

/// Source and destination nodes that know each other, on the local disk.
pub fn two_nodes() -> (Node, Node) {
    two_nodes_on(&Store::Disk)
}

/// The same, each with a store like `store`.
pub fn two_nodes_on(store: &Store) -> (Node, Node) {
    (
        demo_node_on(SOURCE, &[DEST], store),
        demo_node_on(DEST, &[SOURCE], store),
    )
}

/// A child at `node` with one synthetic document of each kind given; returns
/// the child id and the documents' bytes in order.
pub fn child_with(
    node: &Node,
    name: &str,
    kinds: &[&str],
    doc_len: usize,
) -> (String, Vec<Vec<u8>>) {
    let child =
        created_id(
            node.cmd()
                .args(["child", "add", "--name", name, "--home-state", "Bihar"]),
        );
    let mut docs = Vec::new();
    for kind in kinds {
        let bytes = pdf(doc_len, kind);
        let file = node.file(&format!("{kind}-{}.pdf", docs.len()), &bytes);
        created_id(
            node.cmd()
                .args(["doc", "put", &child, "--kind", kind, "--title", "Zqxtitle"])
                .arg(&file),
        );
        docs.push(bytes);
    }
    (child, docs)
}

/// Creates a bundle of `child` for the destination; returns its path.
pub fn create(node: &Node, child: &str, name: &str, extra: &[&str]) -> PathBuf {
    let out = node.path(name);
    created_id(
        node.cmd()
            .args(["bundle", "create", child, "--to", DEST, "-o"])
            .arg(&out)
            .args(extra),
    );
    out
}

/// The demo directory: both demo cards.
pub fn directory() -> Directory {
    let cards = [SOURCE, DEST]
        .iter()
        .map(|id| {
            serde_json::from_slice(&std::fs::read(repo(&format!("keys/{id}.json"))).unwrap())
                .unwrap()
        })
        .collect::<Vec<DepartmentCard>>();
    Directory::new(cards)
}

/// The destination's identity (a test key).
pub fn dest_identity() -> age::x25519::Identity {
    let text =
        std::fs::read_to_string(repo(&format!("fixtures/keys/{DEST}/age-identity.txt"))).unwrap();
    handover::crypto::parse_identity(&text).unwrap()
}

/// Every entry of a bundle (name, bytes), read with the stock `zip` crate.
pub fn entries(bundle: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bundle)).unwrap();
    (0..zip.len())
        .map(|i| {
            let mut f = zip.by_index(i).unwrap();
            let mut data = Vec::new();
            f.read_to_end(&mut data).unwrap();
            (f.name().to_string(), data)
        })
        .collect()
}

/// A canonical bundle zip of these entries (our own writer).
pub fn rebuild(entries: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut w = ZipWriter::new(Vec::new());
    for (name, data) in entries {
        let entry = Entry {
            name: name.clone(),
            size: data.len() as u64,
            crc32: crc32fast::hash(data),
        };
        w.add(entry, &mut &data[..]).unwrap();
    }
    w.finish().unwrap()
}

/// What the destination does to open a bundle, in process: verify
/// everything, decrypt the manifest and every document, compare digests.
pub fn open_in_process(path: &Path) -> Result<handover::bundle::Manifest, String> {
    use handover::bundle::BundleReader;
    let dir = directory();
    let identity = dest_identity();
    let mut reader = BundleReader::open(path).map_err(|e| e.to_string())?;
    let verified = reader
        .verify(|id| dir.card(id))
        .map_err(|e| e.to_string())?;
    let manifest = reader
        .manifest(&verified, &identity)
        .map_err(|e| e.to_string())?;
    for (i, doc) in manifest.documents.iter().enumerate() {
        let opened = reader
            .decrypt_document(
                i + 1,
                &identity,
                std::io::sink(),
                handover::crypto::Threads::Pipelined,
            )
            .map_err(|e| e.to_string())?;
        if hex::encode(opened.sha256) != doc.sha256 || opened.size != doc.size {
            return Err(format!("{} digest", doc.path));
        }
    }
    Ok(manifest)
}

/// What anyone on the route does: structure, signature and digests.
pub fn verify_in_process(path: &Path) -> Result<(), String> {
    let dir = directory();
    let mut reader = handover::bundle::BundleReader::open(path).map_err(|e| e.to_string())?;
    reader
        .verify(|id| dir.card(id))
        .map(|_| ())
        .map_err(|e| e.to_string())
}
