//! Documents: round trips of every kind and media type, stdin/stdout, a
//! 1 GiB file, metadata removal, and what `doc list`/`child show` report.

mod common;

use common::{created_id, pdf, sha256_file, write_big_pdf, Node, Store};
use predicates::str::contains;

on_each_store!(
    every_kind_round_trips_byte_for_byte,
    a_second_scan_of_a_kind_is_a_new_document,
    stdin_in_and_stdout_out,
    one_gibibyte_round_trip,
    get_refuses_to_replace_an_existing_file_without_force,
    exif_gps_and_xmp_are_removed_from_scans_without_reencoding,
    child_records_checklist_and_edits,
    every_jpeg_app_segment_and_png_ancillary_chunk_that_decoding_does_not_need_is_removed,
    tiff_and_heic_are_refused_with_how_to_convert_them,
    a_pdf_loses_its_information_dictionary_xmp_and_the_gps_of_its_images,
    a_password_protected_pdf_is_refused_with_how_to_convert_it_and_nothing_is_stored,
);

const KINDS: [&str; 13] = [
    "fir",
    "medical_report",
    "fit_to_travel",
    "counselling_report",
    "release_certificate",
    "legal_statement",
    "cwc_order",
    "social_investigation",
    "care_plan",
    "bank_account",
    "identity",
    "education_report",
    "other",
];

fn every_kind_round_trips_byte_for_byte(store: Store) {
    let node = Node::init_on(store.fresh());
    let child = node.add_child("Test Child");
    for (i, kind) in KINDS.iter().enumerate() {
        let bytes = if *kind == "other" {
            "a plain-text note in Hindi: नमस्ते\n"
                .repeat(100)
                .into_bytes()
        } else {
            pdf(10_000 + i * 70_001, kind)
        };
        let input = node.file(&format!("{kind}.pdf"), &bytes);
        let id = node.put(&child, kind, &input);
        let out = node.path(&format!("{kind}.out"));
        node.cmd()
            .args(["doc", "get", &id, "-o"])
            .arg(&out)
            .assert()
            .success();
        assert_eq!(std::fs::read(&out).unwrap(), bytes, "{kind}");
        let meta = node.doc_meta(&child, &id);
        assert_eq!(meta["kind"], *kind);
        assert_eq!(meta["size"], bytes.len() as u64);
        assert_eq!(meta["sha256"], sha256_file(&input));
        assert_eq!(meta["added_by"], "local-operator");
        assert_eq!(meta["file_name"], format!("{kind}.pdf"));
        let media = if *kind == "other" {
            "text/plain"
        } else {
            "application/pdf"
        };
        assert_eq!(meta["media_type"], media);
    }
    assert_eq!(node.doc_ids(&child).len(), KINDS.len());
}

fn a_second_scan_of_a_kind_is_a_new_document(store: Store) {
    let node = Node::init_on(store.fresh());
    let child = node.add_child("Test Child");
    let a = node.put(&child, "fir", &node.file("a.pdf", &pdf(1000, "a")));
    let b = node.put(&child, "fir", &node.file("b.pdf", &pdf(1000, "b")));
    assert_ne!(a, b);
    assert_eq!(node.doc_ids(&child), vec![a, b]);
}

fn stdin_in_and_stdout_out(store: Store) {
    let node = Node::init_on(store.fresh());
    let child = node.add_child("Test Child");
    let bytes = pdf(300_000, "stdin");
    let id = created_id(
        node.cmd()
            .args([
                "doc", "put", &child, "--kind", "identity", "-", "--title", "Aadhaar",
            ])
            .write_stdin(bytes.clone()),
    );
    let got = node
        .cmd()
        .args(["doc", "get", &id, "-o", "-"])
        .output()
        .unwrap();
    assert!(got.status.success());
    assert_eq!(got.stdout, bytes);
    let meta = node.doc_meta(&child, &id);
    assert_eq!(meta["title"], "Aadhaar");
    assert!(meta.get("file_name").is_none());
}

fn one_gibibyte_round_trip(store: Store) {
    let node = Node::init_on(store.fresh());
    let child = node.add_child("Test Child");
    let input = node.path("big.pdf");
    let digest = write_big_pdf(&input, 1 << 30);
    let id = node.put(&child, "medical_report", &input);
    std::fs::remove_file(&input).unwrap();
    let meta = node.doc_meta(&child, &id);
    assert_eq!(meta["size"], 1u64 << 30);
    assert_eq!(meta["sha256"], digest);
    let out = node.path("big.out");
    node.cmd()
        .args(["doc", "get", &id, "-o"])
        .arg(&out)
        .assert()
        .success();
    assert_eq!(sha256_file(&out), digest);
    assert!(!node.path("big.out.partial").exists());
}

fn get_refuses_to_replace_an_existing_file_without_force(store: Store) {
    let node = Node::init_on(store.fresh());
    let child = node.add_child("Test Child");
    let id = node.put(&child, "fir", &node.file("a.pdf", &pdf(1000, "a")));
    let out = node.file("exists.pdf", b"keep me");
    node.cmd()
        .args(["doc", "get", &id, "-o"])
        .arg(&out)
        .assert()
        .code(1)
        .stderr(contains("--force"));
    assert_eq!(std::fs::read(&out).unwrap(), b"keep me");
    node.cmd()
        .args(["doc", "get", &id, "--force", "-o"])
        .arg(&out)
        .assert()
        .success();
    assert_eq!(std::fs::read(&out).unwrap(), pdf(1000, "a"));
}

/// The byte offsets of a JPEG's segments (marker, start, length), up to SOS.
fn jpeg_markers(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 2;
    while i + 4 <= b.len() && b[i] == 0xFF {
        let m = b[i + 1];
        out.push(m);
        if m == 0xDA {
            break;
        }
        let len = u16::from_be_bytes([b[i + 2], b[i + 3]]) as usize;
        i += 2 + len;
    }
    out
}

fn after_sos(b: &[u8]) -> &[u8] {
    let pos = b.windows(2).position(|w| w == [0xFF, 0xDA]).unwrap();
    &b[pos..]
}

fn exif_gps_and_xmp_are_removed_from_scans_without_reencoding(store: Store) {
    let node = Node::init_on(store.fresh());
    let child = node.add_child("Test Child");
    let fixtures = common::scans_dir();

    let jpeg_in = std::fs::read(fixtures.join("scan-gps.jpg")).unwrap();
    assert!(
        jpeg_markers(&jpeg_in).contains(&0xE1),
        "fixture has EXIF/XMP (APP1)"
    );
    assert!(jpeg_in.windows(4).any(|w| w == b"Exif"));
    let id = node.put(&child, "identity", &fixtures.join("scan-gps.jpg"));
    let out = node.path("scan.jpg");
    node.cmd()
        .args(["doc", "get", &id, "-o"])
        .arg(&out)
        .assert()
        .success();
    let jpeg_out = std::fs::read(&out).unwrap();
    assert!(
        !jpeg_markers(&jpeg_out).contains(&0xE1),
        "APP1 (EXIF/XMP) removed"
    );
    assert!(!jpeg_out.windows(4).any(|w| w == b"Exif"));
    assert!(!jpeg_out.windows(9).any(|w| w == b"synthetic"));
    assert_eq!(
        after_sos(&jpeg_out),
        after_sos(&jpeg_in),
        "image data untouched"
    );
    let meta = node.doc_meta(&child, &id);
    assert_eq!(meta["media_type"], "image/jpeg");
    assert_eq!(
        meta["sha256"],
        sha256_file(&out),
        "digest is of what is stored"
    );

    for (name, media) in [
        ("scan-meta.png", "image/png"),
        ("scan-meta.webp", "image/webp"),
    ] {
        let input = std::fs::read(fixtures.join(name)).unwrap();
        assert!(input
            .windows(4)
            .any(|w| w == b"GPS\0" || w == b"eXIf" || w == b"EXIF"));
        let id = node.put(&child, "identity", &fixtures.join(name));
        let out = node.path(name);
        node.cmd()
            .args(["doc", "get", &id, "-o"])
            .arg(&out)
            .assert()
            .success();
        let got = std::fs::read(&out).unwrap();
        for needle in [
            &b"eXIf"[..],
            b"EXIF",
            b"XMP ",
            b"synthetic",
            b"tEXt",
            b"iTXt",
        ] {
            assert!(
                !got.windows(needle.len()).any(|w| w == needle),
                "{name}: {needle:?}"
            );
        }
        assert_eq!(node.doc_meta(&child, &id)["media_type"], media);
    }

    common::require_exiftool();
    {
        for f in ["scan.jpg", "scan-meta.png", "scan-meta.webp"] {
            let o = std::process::Command::new("exiftool")
                .args(["-gps:all", "-xmp:all", "-s"])
                .arg(node.path(f))
                .output()
                .unwrap();
            assert!(
                o.stdout.is_empty(),
                "{f}: {}",
                String::from_utf8_lossy(&o.stdout)
            );
        }
    }
}

fn child_records_checklist_and_edits(store: Store) {
    let node = Node::init_on(store.fresh());
    let child = created_id(node.cmd().args([
        "child",
        "add",
        "--name",
        "Test Child",
        "--sex",
        "female",
        "--age",
        "13",
        "--home-state",
        "Bihar",
        "--home-district",
        "Gaya",
        "--institution",
        "cci-jaipur-01",
        "--rescue-date",
        "2026-03-02",
        "--rescue-place",
        "Jaipur",
        "--cwc-case",
        "CWC/42/2026",
        "--language",
        "hi",
        "--language",
        "mai",
        "--notes",
        "synthetic",
    ]));
    assert_eq!(child.len(), 36);

    node.put(&child, "fir", &node.file("fir.pdf", &pdf(1000, "fir")));
    node.put(&child, "identity", &node.file("id.pdf", &pdf(1000, "id")));
    let show = node
        .cmd()
        .args(["child", "show", &child, "--json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&show.stdout).unwrap();
    assert_eq!(v["child"]["home_district"], "Gaya");
    assert_eq!(v["child"]["languages"], serde_json::json!(["hi", "mai"]));
    assert_eq!(v["documents"].as_array().unwrap().len(), 2);
    assert_eq!(v["checklist"]["purpose"], "restoration");
    assert_eq!(
        v["checklist"]["present"],
        serde_json::json!(["fir", "identity"])
    );
    let missing = v["checklist"]["missing"].as_array().unwrap();
    assert!(missing.contains(&"release_certificate".into()));
    assert!(!missing.contains(&"fir".into()));

    node.cmd()
        .args([
            "child",
            "edit",
            &child,
            "--home-district",
            "Nalanda",
            "--estimated-age-not-a-flag",
        ])
        .assert()
        .code(1);
    node.cmd()
        .args(["child", "edit", &child, "--home-district", "Nalanda"])
        .assert()
        .success();
    let show = node
        .cmd()
        .args([
            "child",
            "show",
            &child,
            "--purpose",
            "school_enrolment",
            "--json",
        ])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&show.stdout).unwrap();
    assert_eq!(v["child"]["home_district"], "Nalanda");
    assert_eq!(v["child"]["home_state"], "Bihar");
    assert_eq!(
        v["checklist"]["missing"],
        serde_json::json!(["education_report"])
    );

    let text = node.cmd().args(["child", "show", &child]).output().unwrap();
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(text.contains("restoration checklist: incomplete"));

    let list = node
        .cmd()
        .args(["child", "list", "--json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 1);
    assert_eq!(v[0]["id"], child);

    node.cmd()
        .args(["child", "add", "--name", "  "])
        .assert()
        .code(1)
        .stderr(contains("name is required"));
    node.cmd()
        .args(["child", "add", "--name", "X", "--dob", "2099-01-01"])
        .assert()
        .code(1);
}

/// A JPEG segment: marker, big-endian length, contents.
fn segment(marker: u8, contents: &[u8]) -> Vec<u8> {
    let mut s = vec![0xFF, marker];
    s.extend_from_slice(&((contents.len() + 2) as u16).to_be_bytes());
    s.extend_from_slice(contents);
    s
}

/// A PNG chunk with its CRC.
fn chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut c = (data.len() as u32).to_be_bytes().to_vec();
    c.extend_from_slice(kind);
    c.extend_from_slice(data);
    let mut h = crc32fast::Hasher::new();
    h.update(kind);
    h.update(data);
    c.extend_from_slice(&h.finalize().to_be_bytes());
    c
}

fn every_jpeg_app_segment_and_png_ancillary_chunk_that_decoding_does_not_need_is_removed(
    store: Store,
) {
    common::require_exiftool();
    let node = Node::init_on(store.fresh());
    let child = node.add_child("Test Child");
    let fixtures = common::scans_dir();
    let marker = b"ZqLocationMarker 26.8467N 80.9462E";
    // The GPS fixture, with vendor segments carrying a location-like marker:
    // APP2 (FlashPix, not ICC), APP11, APP15; and an ICC APP2 that stays.
    let jpeg = std::fs::read(fixtures.join("scan-gps.jpg")).unwrap();
    let mut tampered = jpeg[..2].to_vec();
    let mut fpxr = b"FPXR\0".to_vec();
    fpxr.extend_from_slice(marker);
    tampered.extend(segment(0xE2, &fpxr));
    tampered.extend(segment(0xEB, marker));
    tampered.extend(segment(0xEF, marker));
    let mut icc = b"ICC_PROFILE\0\x01\x01".to_vec();
    icc.extend_from_slice(b"not a real profile, kept as colour data");
    tampered.extend(segment(0xE2, &icc));
    tampered.extend_from_slice(&jpeg[2..]);
    // A PNG with a private chunk and a pHYs chunk before IEND.
    let png = std::fs::read(fixtures.join("scan-meta.png")).unwrap();
    let iend = png.len() - 12;
    let mut png_t = png[..iend].to_vec();
    png_t.extend(chunk(b"prVt", marker));
    png_t.extend(chunk(b"pHYs", &[0, 0, 11, 19, 0, 0, 11, 19, 1]));
    png_t.extend_from_slice(&png[iend..]);

    for (name, bytes, kind) in [("in.jpg", &tampered, "identity"), ("in.png", &png_t, "fir")] {
        let id = node.put(&child, kind, &node.file(name, bytes));
        let out = node.path(&format!("out-{name}"));
        node.cmd()
            .args(["doc", "get", &id, "-o"])
            .arg(&out)
            .assert()
            .success();
        let got = std::fs::read(&out).unwrap();
        assert!(
            !got.windows(16).any(|w| w == &marker[..16]),
            "{name}: the marker survived"
        );
        let o = std::process::Command::new("exiftool")
            .args(["-gps:all", "-xmp:all", "-exif:all", "-s"])
            .arg(&out)
            .output()
            .unwrap();
        assert!(
            o.stdout.is_empty(),
            "{name}: {}",
            String::from_utf8_lossy(&o.stdout)
        );
        if name == "in.jpg" {
            assert!(got.windows(12).any(|w| w == b"ICC_PROFILE\0"), "ICC kept");
        }
    }
}

fn tiff_and_heic_are_refused_with_how_to_convert_them(store: Store) {
    let node = Node::init_on(store.fresh());
    let child = node.add_child("Test Child");
    let mut tiff = b"II*\0\x08\0\0\0".to_vec();
    tiff.extend(std::iter::repeat_n(0u8, 2048));
    let mut heic = 24u32.to_be_bytes().to_vec();
    heic.extend_from_slice(b"ftypheic\0\0\0\0mif1heic");
    heic.extend_from_slice(&(8u32 + 4096).to_be_bytes());
    heic.extend_from_slice(b"mdat");
    heic.extend(std::iter::repeat_n(7u8, 4096));
    for (name, bytes, advice) in [("scan.tif", tiff, "as PDF"), ("photo.heic", heic, "JPEG")] {
        let out = node
            .cmd()
            .args(["doc", "put", &child, "--kind", "identity"])
            .arg(node.file(name, &bytes))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{name}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("cannot be cleaned") && err.contains(advice),
            "{err}"
        );
    }
    assert!(node.doc_ids(&child).is_empty());
    assert!(node.stored().is_empty(), "nothing stored");
}

/// A one-page PDF showing `jpeg` as its image, with a valid
/// cross-reference table and no metadata.
fn pdf_with_image(jpeg: &[u8]) -> Vec<u8> {
    let objs: Vec<Vec<u8>> = vec![
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 64 48] /Contents 5 0 R \
           /Resources << /XObject << /Im0 4 0 R >> >> >>"
            .to_vec(),
        [
            format!(
                "<< /Type /XObject /Subtype /Image /Width 64 /Height 48 /ColorSpace /DeviceRGB \
                 /BitsPerComponent 8 /Filter /DCTDecode /Length {} >>\nstream\n",
                jpeg.len()
            )
            .as_bytes(),
            jpeg,
            b"\nendstream",
        ]
        .concat(),
        b"<< /Length 30 >>\nstream\nq 64 0 0 48 0 0 cm /Im0 Do Q\nendstream".to_vec(),
    ];
    let mut pdf = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, o) in objs.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.extend_from_slice(format!("{} 0 obj\n", i + 1).as_bytes());
        pdf.extend_from_slice(o);
        pdf.extend_from_slice(b"\nendobj\n");
    }
    let xref = pdf.len();
    pdf.extend_from_slice(format!("xref\n0 {}\n0000000000 65535 f \n", objs.len() + 1).as_bytes());
    for o in offsets {
        pdf.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
    }
    pdf.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objs.len() + 1
        )
        .as_bytes(),
    );
    pdf
}

fn a_pdf_loses_its_information_dictionary_xmp_and_the_gps_of_its_images(store: Store) {
    common::require_exiftool();
    let node = Node::init_on(store.fresh());
    let child = node.add_child("Test Child");
    let fixtures = common::scans_dir();
    let jpeg = std::fs::read(fixtures.join("scan-gps.jpg")).unwrap();
    let base = pdf_with_image(&jpeg);
    let input = node.file("scan.pdf", &base);
    // exiftool itself writes the metadata, the way a phone app or editor
    // would: an incremental update with an information dictionary and XMP.
    let o = std::process::Command::new("exiftool")
        .args([
            "-q",
            "-overwrite_original",
            "-PDF:Author=ZqChildName Test",
            "-PDF:Title=ZqTitleMarker",
            "-PDF:Keywords=ZqKeywordMarker",
            "-XMP-dc:Description=ZqXmpMarker",
            "-XMP-exif:GPSLatitude=26.9124",
            "-XMP-exif:GPSLatitudeRef=N",
            "-XMP-exif:GPSLongitude=75.7873",
            "-XMP-exif:GPSLongitudeRef=E",
        ])
        .arg(&input)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let tags = |path: &std::path::Path| {
        let o = std::process::Command::new("exiftool")
            .args([
                "-a", "-G1", "-s", "-PDF:all", "-XMP:all", "-GPS:all", "-Error", "-Warning",
            ])
            .arg(path)
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let before = tags(&input);
    for expected in ["ZqChildName", "ZqTitleMarker", "ZqXmpMarker", "GPSLatitude"] {
        assert!(
            before.contains(expected),
            "fixture lacks {expected}: {before}"
        );
    }
    // The embedded image carries GPS in its EXIF.
    let at = base.windows(jpeg.len()).position(|w| w == jpeg).unwrap();
    let image = node.file("image.jpg", &jpeg);
    assert!(tags(&image).contains("GPSLatitude"));

    let id = node.put(&child, "fir", &input);
    let out = node.path("out.pdf");
    node.cmd()
        .args(["doc", "get", &id, "-o"])
        .arg(&out)
        .assert()
        .success();
    let got = std::fs::read(&out).unwrap();
    let sent = std::fs::read(&input).unwrap();
    assert_eq!(got.len(), sent.len(), "cleaned in place, same length");
    for marker in [
        "ZqChildName",
        "ZqTitleMarker",
        "ZqKeywordMarker",
        "ZqXmpMarker",
        "26.9124",
    ] {
        assert!(
            !got.windows(marker.len()).any(|w| w == marker.as_bytes()),
            "{marker} survived in the stored bytes"
        );
    }
    let after = tags(&out);
    for gone in [
        "Author",
        "Title",
        "Keywords",
        "Description",
        "GPS",
        "Error",
        "Warning",
    ] {
        assert!(!after.contains(gone), "{gone} after cleaning: {after}");
    }
    // The image inside: same place, its EXIF gone, still a JPEG.
    let cleaned_image = node.file("image-out.jpg", &got[at..at + jpeg.len()]);
    let o = std::process::Command::new("exiftool")
        .args([
            "-a",
            "-s",
            "-GPS:all",
            "-EXIF:all",
            "-FileType",
            "-ImageWidth",
        ])
        .arg(&cleaned_image)
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&o.stdout);
    assert!(!shown.contains("GPS"), "{shown}");
    assert!(shown.contains("JPEG") && shown.contains("64"), "{shown}");
    // The stored digest is of the cleaned bytes.
    assert_eq!(
        node.doc_meta(&child, &id)["sha256"].as_str().unwrap(),
        sha256_file(&out)
    );
}

fn a_password_protected_pdf_is_refused_with_how_to_convert_it_and_nothing_is_stored(store: Store) {
    use predicates::prelude::PredicateBooleanExt;
    let node = Node::init_on(store.fresh());
    let child = node.add_child("Test Child");
    let mut pdf = pdf_with_image(b"\xFF\xD8\xFF\xD9");
    let at = pdf.windows(8).position(|w| w == b"/Root 1 ").unwrap();
    pdf.splice(at..at, b"/Encrypt 9 0 R ".iter().copied());
    let before = node.stored().len();
    node.cmd()
        .args(["doc", "put", &child, "--kind", "fir"])
        .arg(node.file("locked.pdf", &pdf))
        .assert()
        .failure()
        .stderr(contains("password-protected").and(contains("Save as PDF")));
    assert_eq!(node.stored().len(), before, "nothing stored");
    assert!(node.doc_ids(&child).is_empty());
}
