//! The second set of frozen vectors (fixtures/bundles/): a valid bundle
//! with a padded envelope and manifest, a document of several age chunks
//! and non-ASCII text, its version 2 receipt and a refusal; and the
//! must-refuse set (fixtures/bundles/refuse/), each with the command, exit
//! code and message a conforming reader gives, and proof that refusing left
//! nothing behind.
//!
//! The files were made once by `cargo test --test bundle_vectors -- --ignored
//! make_vectors` with the demo departments' test keys. Never regenerate them:
//! the test checks the files as they are.

mod common;

use std::path::{Path, PathBuf};

use common::bundles::*;
use common::{created_id, Node};
use serde_json::{json, Value};

const VALID: &str = "fixtures/bundles/v1-padded.bundle";
const VALID_RECEIPT: &str = "fixtures/bundles/v1-padded.receipt.json";
const VALID_REFUSAL: &str = "fixtures/bundles/v1-padded.refusal.json";
const REFUSE_DIR: &str = "fixtures/bundles/refuse";

/// One must-refuse vector as `refuse/vectors.json` lists it.
#[derive(serde::Deserialize, serde::Serialize, Clone)]
struct Vector {
    file: String,
    /// `verify`, `open`, `import` (at the destination) or `receipt` (at the source).
    command: String,
    code: i32,
    message: String,
    rule: String,
}

#[test]
fn the_padded_vector_verifies_opens_and_imports_and_its_answers_verify() {
    let bundle = repo(VALID);
    let bytes = std::fs::read(&bundle).unwrap();
    let e = entries(&bytes);
    // The envelope as bundle create writes it: padded to its slot, whole seconds.
    let envelope = std::str::from_utf8(&e[1].1).unwrap();
    assert!(envelope.ends_with("  \n"), "the envelope is padded");
    let v: Value = serde_json::from_str(envelope).unwrap();
    assert!(
        !v["created_at"].as_str().unwrap().contains('.'),
        "whole seconds"
    );
    // Several age chunks: a document over 64 KiB.
    assert!(e[4].1.len() > 64 * 1024 + 200);

    let manifest = open_in_process(&bundle).unwrap();
    assert_eq!(manifest.child.name, "परीक्षण बालिका (Test Child)");
    assert_eq!(
        manifest.documents[1].title.as_deref(),
        Some("टिप्पणी — note")
    );
    assert!(manifest.documents[0].size > 64 * 1024);

    let dst = demo_node(DEST, &[SOURCE]);
    let child = created_id(dst.cmd().args(["bundle", "import"]).arg(&bundle));
    assert_eq!(dst.doc_ids(&child).len(), 2);

    let dir = directory();
    for (file, kind) in [(VALID_RECEIPT, "receipt"), (VALID_REFUSAL, "refusal")] {
        let signed =
            handover::bundle::SignedAnswer::parse(&std::fs::read(repo(file)).unwrap()).unwrap();
        let answer = signed.verify(|id| dir.card(id)).unwrap();
        let text: Value = serde_json::from_str(&signed.text).unwrap();
        assert_eq!(
            text["format"],
            if kind == "receipt" {
                "handover-receipt/2"
            } else {
                "handover-refusal/1"
            }
        );
        assert_eq!(answer.bundle_id(), v["bundle_id"].as_str().unwrap());
        assert_eq!(answer.destination(), DEST);
    }
}

#[test]
fn every_must_refuse_vector_is_refused_and_leaves_nothing() {
    let list: Vec<Vector> = serde_json::from_slice(
        &std::fs::read(repo(&format!("{REFUSE_DIR}/vectors.json"))).unwrap(),
    )
    .unwrap();
    assert!(list.len() >= 30, "{} vectors", list.len());
    let dst = demo_node(DEST, &[SOURCE]);
    let src = demo_node(SOURCE, &[DEST]);
    let mut failures = Vec::new();
    // What `verify` refuses, `import` refuses the same way (it verifies first).
    let also_imported: Vec<Vector> = list
        .iter()
        .filter(|v| v.command == "verify")
        .map(|v| Vector {
            command: "import".into(),
            ..v.clone()
        })
        .collect();
    for v in list.iter().chain(&also_imported) {
        let file = repo(&format!("{REFUSE_DIR}/{}", v.file));
        let (node, args): (&Node, Vec<String>) = match v.command.as_str() {
            "verify" => (&dst, vec!["bundle".into(), "verify".into()]),
            "open" => (&dst, vec!["bundle".into(), "open".into()]),
            "import" => (&dst, vec!["bundle".into(), "import".into()]),
            "receipt" => (&src, vec!["receipt".into(), "verify".into()]),
            other => panic!("unknown command {other}"),
        };
        let mut cmd = node.cmd();
        cmd.args(&args).arg(&file);
        let out_dir = node.path("opened");
        if v.command == "open" {
            cmd.arg("--out").arg(&out_dir);
        }
        let out = cmd.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        if out.status.code() != Some(v.code) || !stderr.contains(&v.message) {
            failures.push(format!(
                "{} ({}): want exit {} and {:?}, got {:?}: {stderr}",
                v.file,
                v.rule,
                v.code,
                v.message,
                out.status.code()
            ));
        }
        assert!(out.stdout.is_empty(), "{}: printed an id", v.file);
        assert!(
            !out_dir.exists(),
            "{}: an output directory was left",
            v.file
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // Nothing was stored by any refusal.
    assert!(dst.blob_files().is_empty());
    let list = dst
        .cmd()
        .args(["child", "list", "--json"])
        .output()
        .unwrap();
    assert_eq!(
        serde_json::from_slice::<Value>(&list.stdout).unwrap(),
        json!([])
    );
    assert!(common::files_under(&dst.data.join("inbox")).is_empty());
}

// ---------------------------------------------------------------------
// The generator (run once; kept to show how each vector was made).

struct Maker {
    src: Node,
    base: Vec<(String, Vec<u8>)>,
    keys: handover::crypto::NodeKeys,
    dest: age::x25519::Recipient,
    source_recipient: age::x25519::Recipient,
    out: PathBuf,
    list: Vec<Vector>,
}

fn load_keys(id: &str) -> handover::crypto::NodeKeys {
    let files = handover::crypto::KeyFiles::new(&repo(&format!("fixtures/keys/{id}")));
    handover::crypto::NodeKeys::load(&files, || None).unwrap()
}

fn recipient(id: &str) -> age::x25519::Recipient {
    let card: Value =
        serde_json::from_slice(&std::fs::read(repo(&format!("keys/{id}.json"))).unwrap()).unwrap();
    card["age_recipient"].as_str().unwrap().parse().unwrap()
}

fn seal(to: &[&age::x25519::Recipient], plain: &[u8]) -> Vec<u8> {
    let e = age::Encryptor::with_recipients(to.iter().map(|r| *r as &dyn age::Recipient)).unwrap();
    let mut out = Vec::new();
    let mut w = e.wrap_output(&mut out).unwrap();
    std::io::Write::write_all(&mut w, plain).unwrap();
    w.finish().unwrap();
    out
}

fn unseal(cipher: &[u8]) -> Vec<u8> {
    let identity = dest_identity();
    let d = age::Decryptor::new(cipher).unwrap();
    let mut r = d
        .decrypt(std::iter::once(&identity as &dyn age::Identity))
        .unwrap();
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut r, &mut out).unwrap();
    out
}

fn sha(b: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(b))
}

fn pretty(v: &Value) -> Vec<u8> {
    let mut b = serde_json::to_vec_pretty(v).unwrap();
    b.push(b'\n');
    b
}

impl Maker {
    fn envelope(e: &[(String, Vec<u8>)]) -> Value {
        serde_json::from_slice(&e[1].1).unwrap()
    }

    /// The envelope's entries recomputed from the zip, `edit` applied, re-signed.
    fn reseal(&self, e: &mut [(String, Vec<u8>)], edit: impl FnOnce(&mut Value)) {
        let mut env = Self::envelope(e);
        env["entries"] = e[3..]
            .iter()
            .map(|(name, data)| json!({"path": name, "size": data.len(), "sha256": sha(data)}))
            .collect();
        edit(&mut env);
        e[1].1 = pretty(&env);
        e[2].1 = handover::crypto::sign(&self.keys, &e[1].1).into_bytes();
    }

    fn manifest(e: &[(String, Vec<u8>)]) -> Value {
        serde_json::from_slice(&unseal(&e[3].1)).unwrap()
    }

    /// The manifest with `edit` applied, re-encrypted; the envelope resealed.
    fn with_manifest(&self, edit: impl FnOnce(&mut Value)) -> Vec<(String, Vec<u8>)> {
        let mut e = self.base.clone();
        let mut m = Self::manifest(&e);
        edit(&mut m);
        e[3].1 = seal(&[&self.dest], &pretty(&m));
        self.reseal(&mut e, |_| {});
        e
    }

    /// Document 1 replaced by `plain`, the manifest saying `media` and
    /// `kind` with its true size and digest.
    fn with_document(&self, plain: &[u8], kind: &str, media: &str) -> Vec<(String, Vec<u8>)> {
        let mut e = self.base.clone();
        e[4].1 = seal(&[&self.dest], plain);
        let mut m = Self::manifest(&e);
        m["documents"][0]["kind"] = kind.into();
        m["documents"][0]["media_type"] = media.into();
        m["documents"][0]["size"] = plain.len().into();
        m["documents"][0]["sha256"] = sha(plain).into();
        if kind == "other" {
            m["documents"][0]["title"] = "Test note".into();
        }
        e[3].1 = seal(&[&self.dest], &pretty(&m));
        self.reseal(&mut e, |_| {});
        e
    }

    fn add(
        &mut self,
        file: &str,
        bytes: &[u8],
        command: &str,
        code: i32,
        message: &str,
        rule: &str,
    ) {
        std::fs::write(self.out.join(file), bytes).unwrap();
        self.list.push(Vector {
            file: file.into(),
            command: command.into(),
            code,
            message: message.into(),
            rule: rule.into(),
        });
    }

    fn bundle(
        &mut self,
        file: &str,
        e: &[(String, Vec<u8>)],
        command: &str,
        code: i32,
        message: &str,
        rule: &str,
    ) {
        let bytes = rebuild(e);
        self.add(file, &bytes, command, code, message, rule);
    }

    fn envelope_text(&mut self, file: &str, text: &[u8], message: &str, rule: &str) {
        let mut e = self.base.clone();
        e[1].1 = text.to_vec();
        e[2].1 = handover::crypto::sign(&self.keys, text).into_bytes();
        self.bundle(file, &e, "verify", 2, message, rule);
    }
}

fn text_note(len: usize) -> Vec<u8> {
    let mut v = Vec::new();
    while v.len() < len {
        v.extend_from_slice("नमस्ते, a synthetic test note.\n".as_bytes());
    }
    v
}

#[test]
#[ignore = "run once to make the frozen vectors"]
fn make_vectors() {
    // The valid vector: a child with non-ASCII details, a PDF over 64 KiB
    // and a non-ASCII text note.
    let (src, dst) = two_nodes();
    let child = created_id(src.cmd().args([
        "child",
        "add",
        "--name",
        "परीक्षण बालिका (Test Child)",
        "--home-state",
        "बिहार",
        "--home-district",
        "Gaya",
        "--notes",
        "टिप्पणी: synthetic test record only",
    ]));
    let pdf = common::pdf(200_000, "vector");
    let f = src.file("fir.pdf", &pdf);
    created_id(
        src.cmd()
            .args(["doc", "put", &child, "--kind", "fir"])
            .arg(&f),
    );
    let f = src.file("note.txt", &text_note(2_000));
    created_id(
        src.cmd()
            .args([
                "doc",
                "put",
                &child,
                "--kind",
                "other",
                "--title",
                "टिप्पणी — note",
            ])
            .arg(&f),
    );
    let valid = create(
        &src,
        &child,
        "valid.bundle",
        &["--allow-incomplete", "test vector: synthetic papers only"],
    );
    std::fs::copy(&valid, repo(VALID)).unwrap();
    created_id(
        dst.cmd()
            .args(["bundle", "import"])
            .arg(&valid)
            .arg("--receipt")
            .arg(repo(VALID_RECEIPT)),
    );
    // The refusal, from a second destination node that has not imported it.
    let other = demo_node(DEST, &[SOURCE]);
    other
        .cmd()
        .args(["bundle", "refuse"])
        .arg(&valid)
        .args(["--reason", "test vector: the medical report is missing"])
        .arg("--refusal")
        .arg(repo(VALID_REFUSAL))
        .assert()
        .success();

    // The must-refuse set, from a small base bundle of two documents.
    let out = repo(REFUSE_DIR);
    std::fs::create_dir_all(&out).unwrap();
    let base_child = created_id(
        src.cmd()
            .args(["child", "add", "--name", "Synthetic Test Child"]),
    );
    let f = src.file("b-fir.pdf", &common::pdf(2_000, "base"));
    created_id(
        src.cmd()
            .args(["doc", "put", &base_child, "--kind", "fir"])
            .arg(&f),
    );
    let f = src.file("b-note.txt", b"A synthetic test note.\n");
    created_id(
        src.cmd()
            .args([
                "doc",
                "put",
                &base_child,
                "--kind",
                "other",
                "--title",
                "Test note",
            ])
            .arg(&f),
    );
    let base_path = create(
        &src,
        &base_child,
        "base.bundle",
        &["--allow-incomplete", "test"],
    );
    let base = entries(&std::fs::read(&base_path).unwrap());
    let mut m = Maker {
        src,
        base,
        keys: load_keys(SOURCE),
        dest: recipient(DEST),
        source_recipient: recipient(SOURCE),
        out: out.clone(),
        list: Vec::new(),
    };
    make_bundle_vectors(&mut m);
    make_answer_vectors(&mut m, &base_path, &dst);
    let mut listing = serde_json::to_vec_pretty(&m.list).unwrap();
    listing.push(b'\n');
    std::fs::write(out.join("vectors.json"), listing).unwrap();
    let _ = m.src;
}

fn make_bundle_vectors(m: &mut Maker) {
    let base = m.base.clone();
    let env = Maker::envelope(&base);
    let env_text = String::from_utf8(base[1].1.clone()).unwrap();
    let id = env["bundle_id"].as_str().unwrap().to_string();

    // The marker, read first.
    for (file, marker, code, msg, rule) in [
        (
            "marker-crlf.bundle",
            &b"handover-bundle/1\r\n"[..],
            2,
            "the HANDOVER entry is malformed",
            "marker: CRLF",
        ),
        (
            "marker-no-lf.bundle",
            b"handover-bundle/1",
            2,
            "the HANDOVER entry is malformed",
            "marker: no line feed",
        ),
        (
            "marker-v2.bundle",
            b"handover-bundle/2\n",
            1,
            "unsupported bundle format version",
            "marker: another version",
        ),
        (
            "marker-v01.bundle",
            b"handover-bundle/01\n",
            2,
            "the HANDOVER entry is malformed",
            "marker: leading zero",
        ),
    ] {
        let mut e = base.clone();
        e[0].1 = marker.to_vec();
        m.bundle(file, &e, "verify", code, msg, rule);
    }
    let mut e = base.clone();
    e[0].1 = b"handover-bundle/2\n".to_vec();
    e.insert(1, ("future.cbor".into(), b"a later layout".to_vec()));
    m.bundle(
        "marker-v2-other-layout.bundle",
        &e,
        "verify",
        1,
        "unsupported bundle format version",
        "marker: read before entry names",
    );
    m.add(
        "not-a-bundle.bundle",
        b"PK\x03\x04 this is no bundle",
        "verify",
        2,
        "not a handover bundle",
        "container: no HANDOVER at offset 0",
    );
    let mut bytes = rebuild(&base);
    bytes[10] ^= 0x01; // the first local header's time
    m.add(
        "noncanonical.bundle",
        &bytes,
        "verify",
        2,
        "not canonical",
        "container: canonical zip",
    );
    let mut e = base.clone();
    e.push(("evil.txt".into(), b"extra".to_vec()));
    m.bundle(
        "extra-entry.bundle",
        &e,
        "verify",
        2,
        "unexpected entry evil.txt",
        "entries: no other entry",
    );

    // Entries listed in another order.
    let mut e = base.clone();
    m.reseal(&mut e, |v| {
        let entries = v["entries"].as_array_mut().unwrap();
        entries.swap(1, 2);
    });
    m.bundle(
        "entries-misordered.bundle",
        &e,
        "verify",
        2,
        "the envelope lists documents/0002.age as entry 5, where the zip holds documents/0001.age",
        "envelope: entries in zip order",
    );

    // Bundle ids.
    let upper = id.to_uppercase();
    let braced = format!("{{{id}}}");
    let urn = format!("urn:uuid:{id}");
    let simple = id.replace('-', "");
    for (file, bad, rule) in [
        ("id-not-uuid.bundle", "not-a-uuid", "bundle_id: a UUID"),
        ("id-upper.bundle", upper.as_str(), "bundle_id: lower case"),
        ("id-braced.bundle", braced.as_str(), "bundle_id: no braces"),
        ("id-urn.bundle", urn.as_str(), "bundle_id: no urn:uuid:"),
        ("id-simple.bundle", simple.as_str(), "bundle_id: hyphenated"),
    ] {
        let mut e = base.clone();
        let bad = bad.to_string();
        m.reseal(&mut e, |v| v["bundle_id"] = bad.into());
        m.bundle(
            file,
            &e,
            "verify",
            2,
            "not a UUID in lower-case hyphenated form",
            rule,
        );
    }
    let mut e = base.clone();
    m.reseal(&mut e, |v| {
        v["created_at"] = "2026-11-23T21:04:03+05:30".into()
    });
    m.bundle(
        "time-ist.bundle",
        &e,
        "verify",
        2,
        "not an RFC 3339 time in UTC",
        "created_at: UTC",
    );

    // The signature over SHA-256.
    let mut e = base.clone();
    e[2].1 = m
        .keys
        .signing_key()
        .sign("handover", ssh_key::HashAlg::Sha256, &e[1].1)
        .unwrap()
        .to_pem(ssh_key::LineEnding::LF)
        .unwrap()
        .into_bytes();
    m.bundle(
        "sig-sha256.bundle",
        &e,
        "verify",
        2,
        "is not over SHA-512",
        "signature: sha512",
    );
    // A malleated S (S + L): ssh-keygen accepts it, a conforming reader does not.
    let mut e = base.clone();
    let sig = ssh_key::SshSig::from_pem(&e[2].1).unwrap();
    let mut raw = sig.signature_bytes().to_vec();
    let l: [u8; 32] = [
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde,
        0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];
    let mut carry = 0u16;
    for i in 0..32 {
        let s = u16::from(raw[32 + i]) + u16::from(l[i]) + carry;
        raw[32 + i] = s as u8;
        carry = s >> 8;
    }
    let malleated = ssh_key::SshSig::new(
        sig.public_key().clone(),
        sig.namespace(),
        sig.hash_alg(),
        ssh_key::Signature::new(ssh_key::Algorithm::Ed25519, raw).unwrap(),
    )
    .unwrap();
    e[2].1 = malleated
        .to_pem(ssh_key::LineEnding::LF)
        .unwrap()
        .into_bytes();
    m.bundle(
        "sig-malleated.bundle",
        &e,
        "verify",
        2,
        "the signature does not verify",
        "signature: S reduced",
    );

    // Envelope fields.
    let mut e = base.clone();
    m.reseal(&mut e, |v| v["comment"] = "extra".into());
    m.bundle(
        "env-unknown-field.bundle",
        &e,
        "verify",
        2,
        "unknown field `comment`",
        "envelope: no other fields",
    );
    let mut e = base.clone();
    m.reseal(&mut e, |v| {
        v["source"]["fingerprint"] = "SHA256:short".into()
    });
    m.bundle(
        "env-fingerprint-form.bundle",
        &e,
        "verify",
        2,
        "not SHA256: and 43 base64 characters",
        "fingerprint form",
    );
    let mut e = base.clone();
    m.reseal(&mut e, |v| {
        v["entries"][0]["sha256"] = v["entries"][0]["sha256"]
            .as_str()
            .unwrap()
            .to_uppercase()
            .into()
    });
    m.bundle(
        "env-hex-upper.bundle",
        &e,
        "verify",
        2,
        "not 64 lower-case hex digits",
        "hex: lower case",
    );
    let mut e = base.clone();
    m.reseal(&mut e, |v| v["destination"] = v["source"].clone());
    m.bundle(
        "env-source-is-destination.bundle",
        &e,
        "verify",
        2,
        "its source and destination are the same department",
        "source ≠ destination",
    );
    let null_source = env_text.replacen("\"source\": {", "\"source\": null, \"x\": {", 1);
    m.envelope_text(
        "env-null.bundle",
        null_source.as_bytes(),
        "invalid type: null",
        "envelope: no null",
    );
    let dup = env_text.replacen(
        "\"format\": \"handover-envelope/1\",",
        "\"format\": \"handover-envelope/1\", \"format\": \"handover-envelope/1\",",
        1,
    );
    m.envelope_text(
        "env-duplicate-key.bundle",
        dup.as_bytes(),
        "duplicate field `format`",
        "envelope: no duplicate keys",
    );
    let mut bom = b"\xef\xbb\xbf".to_vec();
    bom.extend_from_slice(env_text.as_bytes());
    m.envelope_text(
        "env-bom.bundle",
        &bom,
        "envelope.json is malformed",
        "envelope: no BOM",
    );
    let mut nul = env_text.as_bytes().to_vec();
    nul.push(0);
    m.envelope_text(
        "env-nul.bundle",
        &nul,
        "envelope.json is malformed",
        "envelope: no NUL padding",
    );
    let size = env["entries"][0]["size"].as_u64().unwrap();
    let float = env_text.replacen(
        &format!("\"size\": {size},"),
        &format!("\"size\": {size}.0,"),
        1,
    );
    m.envelope_text(
        "env-float.bundle",
        float.as_bytes(),
        "envelope.json is malformed",
        "numbers: integers only",
    );
    let mut e = base.clone();
    m.reseal(&mut e, |v| v["format"] = "handover-envelope/2".into());
    m.bundle(
        "env-format.bundle",
        &e,
        "verify",
        2,
        "its format must be handover-envelope/1",
        "envelope: format of version 1",
    );

    // Extra recipients: the manifest, then a document, also to the source.
    let mut e = base.clone();
    let plain = unseal(&e[3].1);
    e[3].1 = seal(&[&m.dest, &m.source_recipient], &plain);
    m.reseal(&mut e, |_| {});
    m.bundle(
        "manifest-two-recipients.bundle",
        &e,
        "verify",
        2,
        "manifest.json.age must be encrypted to exactly one X25519 recipient",
        "age: one recipient",
    );
    let mut e = base.clone();
    let plain = unseal(&e[4].1);
    e[4].1 = seal(&[&m.dest, &m.source_recipient], &plain);
    m.reseal(&mut e, |_| {});
    m.bundle(
        "document-two-recipients.bundle",
        &e,
        "import",
        2,
        "documents/0001.age must be encrypted to exactly one X25519 recipient",
        "age: one recipient",
    );

    // The manifest.
    let e = m.with_manifest(|v| v["child"]["religion"] = "x".into());
    m.bundle(
        "manifest-child-unknown-field.bundle",
        &e,
        "import",
        2,
        "unknown field `religion`",
        "manifest: no other fields in child",
    );
    let e = m.with_manifest(|v| v["child"]["sex"] = Value::Null);
    m.bundle(
        "manifest-child-null.bundle",
        &e,
        "import",
        2,
        "the manifest is malformed",
        "manifest: no null",
    );
    let e = m.with_manifest(|v| v["child"]["name"] = " ".into());
    m.bundle(
        "manifest-child-no-name.bundle",
        &e,
        "import",
        2,
        "child: the child's name is required",
        "child: name",
    );
    let e = m.with_manifest(|v| v["child"]["estimated_age"] = 40.into());
    m.bundle(
        "manifest-child-age.bundle",
        &e,
        "import",
        2,
        "the estimated age must be 0-25 years",
        "child: estimated_age 0-25",
    );
    let e = m.with_manifest(|v| v["child"]["date_of_birth"] = "2014-2-28".into());
    m.bundle(
        "manifest-child-date-form.bundle",
        &e,
        "import",
        2,
        "not a date YYYY-MM-DD",
        "date form",
    );
    let e = m.with_manifest(|v| {
        v["documents"][1]
            .as_object_mut()
            .unwrap()
            .remove("title")
            .map(|_| ())
            .unwrap()
    });
    m.bundle(
        "manifest-other-no-title.bundle",
        &e,
        "import",
        2,
        "documents/0002.age: a document of kind `other` needs a title",
        "title: required for other",
    );
    let e = m.with_manifest(|v| v["documents"][0]["title"] = "  ".into());
    m.bundle(
        "manifest-blank-title.bundle",
        &e,
        "import",
        2,
        "documents/0001.age: the title is blank",
        "title: not blank",
    );
    let e = m.with_manifest(|v| {
        let first = v["documents"][0]["source_document_id"].clone();
        v["documents"][1]["source_document_id"] = first;
    });
    m.bundle(
        "manifest-duplicate-document.bundle",
        &e,
        "import",
        2,
        "documents/0002.age: its source_document_id is listed twice",
        "documents: no duplicates",
    );
    let e = m.with_manifest(|v| v["documents"][0]["file_name"] = "../../etc/passwd".into());
    m.bundle(
        "manifest-file-name-path.bundle",
        &e,
        "import",
        2,
        "documents/0001.age: the file name must be",
        "file_name: never a path",
    );
    let e = m.with_manifest(|v| v["bundle_id"] = "01a2090a-f8a5-7440-9ee9-e5ebaff18950".into());
    m.bundle(
        "manifest-other-bundle.bundle",
        &e,
        "import",
        2,
        "its bundle id differs from the envelope's",
        "manifest: bundle_id",
    );
    let e = m.with_manifest(|v| v["documents"][0]["sha256"] = "0".repeat(64).into());
    m.bundle(
        "manifest-digest.bundle",
        &e,
        "import",
        2,
        "the plaintext of documents/0001.age does not match its size and SHA-256 in the manifest",
        "documents: plaintext digest",
    );
    let e = m.with_manifest(|v| v["documents"][0]["added_at"] = "2026-11-23T15:34:03+01:00".into());
    m.bundle(
        "manifest-time.bundle",
        &e,
        "import",
        2,
        "not an RFC 3339 time in UTC",
        "added_at: UTC",
    );

    // Documents the destination's intake refuses.
    let mut zero = m.with_document(b"", "fir", "application/pdf");
    // An empty plaintext: the manifest says size 0.
    zero.truncate(zero.len());
    m.bundle(
        "document-empty.bundle",
        &zero,
        "import",
        2,
        "documents/0001.age: the document is empty",
        "documents: not empty",
    );
    let e = m.with_document(b"plain words, not a scan\n", "fir", "text/plain");
    m.bundle(
        "document-fir-text.bundle",
        &e,
        "import",
        2,
        "plain text is accepted only for kind `other`",
        "intake: text only for other",
    );
    let pdf = common::pdf(3_000, "label");
    let e = m.with_document(&pdf, "fir", "image/png");
    m.bundle(
        "document-pdf-as-png.bundle",
        &e,
        "import",
        2,
        "the content is application/pdf, not the image/png declared",
        "intake: media type from bytes",
    );
    let cut = &pdf[..pdf.len() - 8];
    let e = m.with_document(cut, "fir", "application/pdf");
    m.bundle(
        "document-pdf-no-eof.bundle",
        &e,
        "import",
        2,
        "no %%EOF trailer",
        "intake: complete",
    );
    let mut bad_text = text_note(70_000);
    bad_text.extend_from_slice(b"\xff\xfe end\n");
    let e = m.with_document(&bad_text, "other", "text/plain");
    m.bundle(
        "document-not-utf8.bundle",
        &e,
        "import",
        2,
        "not valid UTF-8",
        "intake: UTF-8 text",
    );
    let gps = std::fs::read(repo("fixtures/scans/scan-gps.jpg")).unwrap();
    let e = m.with_document(&gps, "identity", "image/jpeg");
    m.bundle(
        "document-jpeg-gps.bundle",
        &e,
        "import",
        2,
        "still carries metadata",
        "intake: images without metadata",
    );
    let _ = Path::new(".");
}

fn make_answer_vectors(m: &mut Maker, base_path: &Path, dst: &Node) {
    let dest_keys = load_keys(DEST);
    let verified = {
        let dir = directory();
        let mut r = handover::bundle::BundleReader::open(base_path).unwrap();
        r.verify(|id| dir.card(id)).unwrap()
    };
    let receipt = json!({
        "format": "handover-receipt/2",
        "bundle_id": verified.envelope.bundle_id,
        "envelope_sha256": verified.envelope_sha256,
        "source": SOURCE,
        "destination": DEST,
        "received_at": "2026-12-02T08:00:00Z",
        "documents": [],
    });
    let refusal = json!({
        "format": "handover-refusal/1",
        "bundle_id": verified.envelope.bundle_id,
        "envelope_sha256": verified.envelope_sha256,
        "source": SOURCE,
        "destination": DEST,
        "refused_at": "2026-12-02T08:00:00Z",
        "reason": "test vector",
    });
    let file = |field: &str, text: &str, sig: String| {
        let mut b = serde_json::to_vec_pretty(&json!({ field: text, "signature": sig })).unwrap();
        b.push(b'\n');
        b
    };
    let signed = |ns: &str, v: &Value| {
        let text = serde_json::to_string_pretty(v).unwrap();
        let sig = handover::crypto::sign_in(&dest_keys, ns, text.as_bytes());
        (text, sig)
    };
    let (t, s) = signed("handover", &receipt);
    m.add(
        "receipt-v2-old-namespace.json",
        &file("receipt", &t, s),
        "receipt",
        2,
        "the signature does not verify",
        "receipt 2: namespace handover-receipt",
    );
    let (t, s) = signed("handover-receipt", &refusal);
    m.add(
        "refusal-receipt-namespace.json",
        &file("refusal", &t, s),
        "receipt",
        2,
        "the signature does not verify",
        "refusal: namespace handover-refusal",
    );
    let text = serde_json::to_string_pretty(&receipt).unwrap();
    let sig = dest_keys
        .signing_key()
        .sign(
            "handover-receipt",
            ssh_key::HashAlg::Sha256,
            text.as_bytes(),
        )
        .unwrap()
        .to_pem(ssh_key::LineEnding::LF)
        .unwrap();
    m.add(
        "receipt-sha256.json",
        &file("receipt", &text, sig),
        "receipt",
        2,
        "is not over SHA-512",
        "answers: sha512",
    );
    let mut r = receipt.clone();
    r["note"] = "x".into();
    let (t, s) = signed("handover-receipt", &r);
    m.add(
        "receipt-unknown-field.json",
        &file("receipt", &t, s),
        "receipt",
        2,
        "unknown field `note`",
        "receipt: no other fields",
    );
    let mut r = receipt.clone();
    r["received_at"] = "2026-12-02T13:30:00+05:30".into();
    let (t, s) = signed("handover-receipt", &r);
    m.add(
        "receipt-time-ist.json",
        &file("receipt", &t, s),
        "receipt",
        2,
        "not an RFC 3339 time in UTC",
        "receipt: UTC",
    );
    let mut r = receipt.clone();
    r["bundle_id"] = verified.envelope.bundle_id.to_uppercase().into();
    let (t, s) = signed("handover-receipt", &r);
    m.add(
        "receipt-id-upper.json",
        &file("receipt", &t, s),
        "receipt",
        2,
        "not a UUID in lower-case hyphenated form",
        "receipt: bundle_id",
    );
    let mut r = receipt.clone();
    r["documents"] = json!([
        {"path": "documents/0002.age", "size": 1, "sha256": "0".repeat(64)},
        {"path": "documents/0001.age", "size": 1, "sha256": "0".repeat(64)}
    ]);
    let (t, s) = signed("handover-receipt", &r);
    m.add(
        "receipt-documents-order.json",
        &file("receipt", &t, s),
        "receipt",
        2,
        "not listed once each in bundle order",
        "receipt: documents once, in order",
    );
    let mut r = receipt.clone();
    r["format"] = "handover-receipt/3".into();
    let (t, s) = signed("handover-receipt", &r);
    m.add(
        "receipt-v3.json",
        &file("receipt", &t, s),
        "receipt",
        1,
        "unsupported bundle format version",
        "answers: unknown version",
    );
    let mut r = refusal.clone();
    r["reason"] = "   ".into();
    let (t, s) = signed("handover-refusal", &r);
    m.add(
        "refusal-blank-reason.json",
        &file("refusal", &t, s),
        "receipt",
        2,
        "a refusal's reason is 1 to 500 characters",
        "refusal: reason",
    );
    let (t, s) = signed("handover-refusal", &refusal);
    let mut both: Value = json!({"receipt": t, "refusal": t, "signature": s});
    m.add(
        "answer-both.json",
        &pretty(&both),
        "receipt",
        2,
        "exactly one of receipt and refusal",
        "answer file: one answer",
    );
    both.as_object_mut().unwrap().remove("receipt");
    m.add(
        "refusal-never-sent.json",
        &pretty(&both),
        "receipt",
        1,
        "was sent from this node",
        "answers: only for a bundle sent",
    );
    let _ = dst;
}
