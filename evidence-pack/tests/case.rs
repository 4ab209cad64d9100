//! A case export verifies offline, and fails after any byte of any file in it is changed, after
//! a fact of the summary is edited, a file is added, or the key is not the trusted one.

use std::io::{Cursor, Read, Write};

use matthan_evidence::case::{self, CaseWriter, ExportInfo};
use matthan_evidence::{FileEntry, Manifest, hex, sha256_hex};
use ring::rand::SystemRandom;
use ring::signature::{Ed25519KeyPair, KeyPair};

const CLIP: &[u8] = b"\x00\x00\x00\x18ftypmp42 not really a clip";
const FRAME: &[u8] = b"\xff\xd8\xff\xe0 not really a jpeg";

fn key() -> Ed25519KeyPair {
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
    Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap()
}

fn manifest(key: &Ed25519KeyPair) -> (Manifest, Vec<u8>, String) {
    let entry = |name: &str, b: &[u8]| FileEntry {
        name: name.into(),
        sha256: sha256_hex(b),
        bytes: b.len() as u64,
    };
    let m = Manifest {
        schema: matthan_evidence::BUNDLE_SCHEMA.into(),
        site: "hcmc".into(),
        camera: "ben-thanh-1".into(),
        subject: "red-1".into(),
        context: serde_json::json!({
            "violation_id": "v-1", "rule": "red_light", "rule_id": "red-1", "track_id": 7,
            "class": "motorcycle", "at": "2026-11-30T20:01:02.300+07:00", "zone": null,
            "line": "stop", "measured": {"into_red_s": 1.5, "phase": "ns"},
            "plate": {"text": "59-X1 123.45", "score": 0.93},
            "captured": {"clip.mp4": "2026-11-30T20:01:00+07:00", "before.jpg": null},
        }),
        files: vec![entry("clip.mp4", CLIP), entry("before.jpg", FRAME)],
        public_key: hex(key.public_key().as_ref()),
        created: "2026-11-30T20:01:05+07:00".into(),
    };
    let body = serde_json::to_vec_pretty(&m).unwrap();
    let sig = hex(key.sign(&body).as_ref());
    (m, body, sig)
}

fn export(m: &Manifest, body: &[u8], sig: &str) -> Vec<u8> {
    let mut w = CaseWriter::new(Cursor::new(Vec::new()));
    w.signed_file("clip.mp4", CLIP).unwrap();
    w.signed_file("before.jpg", FRAME).unwrap();
    w.bundle(body, sig).unwrap();
    let info = ExportInfo {
        schema: case::CASE_SCHEMA.into(),
        event_id: "0193-event".into(),
        exported_by: "officer-1".into(),
        exported_at: "2026-12-01T09:00:00+07:00".into(),
        hub_check: "verified".into(),
        files: Vec::new(),
    };
    w.finish(Some(m), br#"{"id":"0193-event"}"#, info)
        .unwrap()
        .into_inner()
}

fn entries(zip: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut z = zip::ZipArchive::new(Cursor::new(zip)).unwrap();
    (0..z.len())
        .map(|i| {
            let mut f = z.by_index(i).unwrap();
            let mut b = Vec::new();
            f.read_to_end(&mut b).unwrap();
            (f.name().to_string(), b)
        })
        .collect()
}

fn rezip(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (n, b) in files {
        w.start_file(n.as_str(), zip::write::SimpleFileOptions::default())
            .unwrap();
        w.write_all(b).unwrap();
    }
    w.finish().unwrap().into_inner()
}

#[test]
fn a_case_export_verifies_offline_and_holds_the_signed_facts() {
    let k = key();
    let (m, body, sig) = manifest(&k);
    let zip = export(&m, &body, &sig);
    let r = case::verify_zip(Cursor::new(&zip), Some(&m.public_key));
    assert!(r.ok(), "{:?}", r.problems);
    let names: Vec<String> = entries(&zip).into_iter().map(|(n, _)| n).collect();
    for want in [
        "evidence/clip.mp4",
        "evidence/before.jpg",
        "evidence/manifest.json",
        "evidence/manifest.sig",
        "public_key.txt",
        "summary.html",
        "event.json",
        "export.json",
    ] {
        assert!(names.iter().any(|n| n == want), "{want} in {names:?}");
    }
    let summary = String::from_utf8(
        entries(&zip)
            .into_iter()
            .find(|(n, _)| n == "summary.html")
            .unwrap()
            .1,
    )
    .unwrap();
    for fact in [
        "59-X1 123.45",
        "Vượt đèn đỏ",
        "ben-thanh-1",
        "into_red_s",
        "officer-1",
    ] {
        assert!(summary.contains(fact), "{fact} in the summary");
    }
}

#[test]
fn any_changed_byte_anywhere_fails_and_names_the_file() {
    let k = key();
    let (m, body, sig) = manifest(&k);
    let zip = export(&m, &body, &sig);
    let files = entries(&zip);
    for (i, (name, bytes)) in files.iter().enumerate() {
        for at in [0, bytes.len() / 2, bytes.len() - 1] {
            let mut changed = files.clone();
            changed[i].1[at] ^= 0x01;
            let r = case::verify_zip(Cursor::new(rezip(&changed)), None);
            let base = name.rsplit('/').next().unwrap();
            assert!(
                r.problems.iter().any(|p| p.contains(base)),
                "byte {at} of {name} changed: {:?}",
                r.problems
            );
        }
    }
}

#[test]
fn an_edited_fact_an_added_file_or_another_key_fails() {
    let k = key();
    let (m, body, sig) = manifest(&k);
    let files = entries(&export(&m, &body, &sig));
    // The plate on the printed summary changed to another vehicle's.
    let mut edited = files.clone();
    let s = edited
        .iter_mut()
        .find(|(n, _)| n == "summary.html")
        .unwrap();
    s.1 = String::from_utf8(s.1.clone())
        .unwrap()
        .replace("59-X1 123.45", "59-X1 123.46")
        .into_bytes();
    let r = case::verify_zip(Cursor::new(rezip(&edited)), None);
    assert!(
        r.problems.iter().any(|p| p.starts_with("summary.html")),
        "{:?}",
        r.problems
    );
    // A file slipped in beside the signed ones.
    let mut added = files.clone();
    added.push(("evidence/extra.jpg".into(), b"x".to_vec()));
    added.push(("notes.txt".into(), b"x".to_vec()));
    let r = case::verify_zip(Cursor::new(rezip(&added)), None);
    assert!(
        r.problems.iter().any(|p| p.contains("extra.jpg")),
        "{:?}",
        r.problems
    );
    assert!(
        r.problems.iter().any(|p| p.contains("notes.txt")),
        "{:?}",
        r.problems
    );
    // Signed correctly, but not by the box the register names.
    let other = hex(key().public_key().as_ref());
    let r = case::verify_zip(Cursor::new(rezip(&files)), Some(&other));
    assert!(
        r.problems.iter().any(|p| p.contains("not the trusted key")),
        "{:?}",
        r.problems
    );
    // Not a zip at all.
    let r = case::verify_zip(Cursor::new(b"PK not really".to_vec()), None);
    assert!(
        r.problems[0].starts_with("not a readable zip"),
        "{:?}",
        r.problems
    );
}

#[test]
fn an_unsigned_export_checks_its_listed_hashes() {
    let mut w = CaseWriter::new(Cursor::new(Vec::new()));
    w.unsigned_file("crop.jpg", FRAME).unwrap();
    let info = ExportInfo {
        schema: case::CASE_SCHEMA.into(),
        event_id: "e".into(),
        exported_by: "op".into(),
        exported_at: "t".into(),
        hub_check: "unsigned".into(),
        files: Vec::new(),
    };
    let zip = w.finish(None, b"{}", info).unwrap().into_inner();
    assert!(case::verify_zip(Cursor::new(&zip), None).ok());
    let mut files = entries(&zip);
    let f = files
        .iter_mut()
        .find(|(n, _)| n == "files/crop.jpg")
        .unwrap();
    f.1[0] ^= 1;
    let r = case::verify_zip(Cursor::new(rezip(&files)), None);
    assert!(
        r.problems.iter().any(|p| p.contains("crop.jpg")),
        "{:?}",
        r.problems
    );
}

#[test]
fn paths_are_refused_as_file_names() {
    let mut w = CaseWriter::new(Cursor::new(Vec::new()));
    assert!(w.signed_file("../etc/passwd", &b""[..]).is_err());
    assert!(w.unsigned_file("a/b", &b""[..]).is_err());
}
