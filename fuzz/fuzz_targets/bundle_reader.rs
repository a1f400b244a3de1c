//! Fuzzes the bundle reader end to end as the destination runs it:
//! structure, layout, envelope, signature, manifest and every document,
//! with the demo directory and the destination's test identity.
//! Run: cargo +nightly fuzz run bundle_reader (seed: fixtures/bundles/v1.bundle).
#![no_main]

use std::io::{Seek, SeekFrom, Write};

use handover::bundle::BundleReader;
use handover::domain::DepartmentCard;
use libfuzzer_sys::fuzz_target;

const CARDS: [&str; 2] = [
    include_str!("../../keys/rj-dcpu-jaipur.json"),
    include_str!("../../keys/br-swd-patna.json"),
];
const IDENTITY: &str = include_str!("../../fixtures/keys/br-swd-patna/age-identity.txt");

fuzz_target!(|data: &[u8]| {
    let cards: Vec<DepartmentCard> = CARDS
        .iter()
        .map(|c| serde_json::from_str(c).unwrap())
        .collect();
    let identity = handover::crypto::parse_identity(IDENTITY).unwrap();
    let mut file = tempfile::tempfile().unwrap();
    file.write_all(data).unwrap();
    file.seek(SeekFrom::Start(0)).unwrap();
    let Ok(mut reader) = BundleReader::from_file(file) else {
        return;
    };
    let Ok(verified) = reader.verify(|id| cards.iter().find(|c| c.id == id).cloned()) else {
        return;
    };
    let Ok(manifest) = reader.manifest(&verified, &identity) else {
        return;
    };
    for i in 0..manifest.documents.len() {
        let _ = reader.decrypt_document(
            i + 1,
            &identity,
            std::io::sink(),
            handover::crypto::Threads::Calling,
        );
    }
});
