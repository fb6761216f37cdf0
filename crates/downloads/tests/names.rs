//! Every vector of `shared/conformance/downloads/filenames.json`, and
//! hostile names that must stay inside the download directory.

use std::path::{Component, Path, PathBuf};

use serde::Deserialize;
use sesh_downloads::{content_disposition_filename, generate_file_name};
use url::Url;

#[derive(Deserialize)]
struct Vectors {
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    id: String,
    url: String,
    content_disposition: Option<String>,
    mime_type: Option<String>,
    expect_filename: String,
    #[serde(default)]
    requires: Option<serde_json::Value>,
}

fn vectors() -> Vec<Case> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/conformance/downloads/filenames.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str::<Vectors>(&text).unwrap().cases
}

/// The header as bytes: each code point U+0000..U+00FF is one byte.
fn latin1(s: &str) -> Vec<u8> {
    s.chars()
        .map(|c| u8::try_from(u32::from(c)).expect("a vector header beyond U+00FF"))
        .collect()
}

#[test]
fn chromium_names_every_download_vector_the_same() {
    let cases = vectors();
    assert!(cases.len() >= 90, "only {} vectors", cases.len());
    let mut failures = Vec::new();
    let mut run = 0;
    for case in cases.iter().filter(|c| c.requires.is_none()) {
        run += 1;
        let url = Url::parse(&case.url).unwrap();
        let header = case.content_disposition.as_deref().map(latin1);
        let got = generate_file_name(&url, header.as_deref(), case.mime_type.as_deref());
        if got != case.expect_filename {
            failures.push(format!(
                "{}: {:?} + {:?} + {:?} gave {got:?}, expected {:?}",
                case.id, case.url, case.content_disposition, case.mime_type, case.expect_filename
            ));
        }
    }
    assert!(run >= 90, "only {run} vectors ran");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Names a hostile server could send, each of which must come out as one
/// plain file name.
const HOSTILE: &[&str] = &[
    "attachment; filename=\"../../../../etc/passwd\"",
    "attachment; filename=\"..\"",
    "attachment; filename=\".\"",
    "attachment; filename=\"/\"",
    "attachment; filename=\"/etc/cron.d/evil\"",
    "attachment; filename=\"..\\\\..\\\\win.ini\"",
    "attachment; filename*=UTF-8''..%2F..%2Fescape.sh",
    "attachment; filename*=UTF-8''%2E%2E",
    "attachment; filename*=UTF-8''%00evil",
    "attachment; filename=\"a\u{0000}b\"",
    "attachment; filename==?UTF-8?B?Li4vLi4vZXZpbA==?=",
    "attachment; filename=\" \"",
    "attachment; filename=~",
    "attachment; filename=%E2%80%AEgpj.exe",
];

fn assert_one_safe_component(name: &str, input: &str) {
    assert!(!name.is_empty(), "{input:?} gave an empty name");
    assert!(!name.contains(['/', '\\', '\0']), "{input:?} gave {name:?}");
    let components: Vec<_> = Path::new(name).components().collect();
    assert!(
        matches!(components.as_slice(), [Component::Normal(_)]),
        "{input:?} gave {name:?}"
    );
    assert!(
        !name.starts_with('.') && !name.ends_with(char::is_whitespace),
        "{input:?} gave {name:?}"
    );
    assert!(
        !name.chars().any(|c| c.is_control() || c == '\u{202e}'),
        "{input:?} gave {name:?}"
    );
}

#[test]
fn hostile_headers_never_name_a_path_outside_the_directory() {
    let url = Url::parse("https://evil.example/x/../../payload").unwrap();
    let dir = tempfile::tempdir().unwrap();
    for header in HOSTILE {
        let name = generate_file_name(&url, Some(&latin1(header)), Some("text/plain"));
        assert_one_safe_component(&name, header);
        // Joined to the directory, it stays directly inside it.
        let path = dir.path().join(&name);
        assert_eq!(path.parent(), Some(dir.path()), "{header:?} gave {name:?}");
    }
}

#[test]
fn hostile_urls_never_name_a_path_outside_the_directory() {
    for url in [
        "https://evil.example/%2E%2E",
        "https://evil.example/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
        "https://evil.example/..%5C..%5Cboot.ini",
        "https://evil.example/a%00b",
        "https://evil.example/%20",
        "https://evil.example/%E2%80%AE",
        "https://evil.example/%FF%FE",
        "data:text/plain,hello/world",
        "about:blank",
    ] {
        let name = generate_file_name(&Url::parse(url).unwrap(), None, None);
        assert_one_safe_component(&name, url);
    }
}

#[test]
fn arbitrary_header_bytes_never_panic_and_stay_one_component() {
    // A deterministic walk over many byte strings built from the grammar's
    // interesting pieces.
    let pieces: &[&[u8]] = &[
        b"attachment",
        b";",
        b" ",
        b"filename",
        b"filename*",
        b"=",
        b"\"",
        b"\\",
        b"'",
        b"UTF-8",
        b"%2F",
        b"%",
        b"..",
        b"/",
        b"=?",
        b"?=",
        b"?Q?",
        b"?B?",
        b"\xff",
        b"\xc3",
        b"\x00",
        b"a.txt",
    ];
    let url = Url::parse("https://example.com/fallback.bin").unwrap();
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..20_000 {
        let mut header = Vec::new();
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let mut s = seed;
        for _ in 0..(s % 9) {
            s = s.rotate_left(7) ^ 0x2545_f491_4f6c_dd1d;
            header.extend_from_slice(pieces[(s % pieces.len() as u64) as usize]);
        }
        let _ = content_disposition_filename(&header);
        let name = generate_file_name(&url, Some(&header), Some("text/html"));
        assert_one_safe_component(&name, &String::from_utf8_lossy(&header));
    }
}

#[test]
fn filename_star_is_nfc_normalised_and_filename_is_not() {
    let star = content_disposition_filename(b"attachment; filename*=UTF-8''a%CC%88.txt");
    assert_eq!(star.as_deref(), Some("\u{e4}.txt"));
    let plain = content_disposition_filename(b"attachment; filename=a%CC%88.txt");
    assert_eq!(plain.as_deref(), Some("a\u{308}.txt"));
}

#[test]
fn rfc2047_b_words_and_iso_8859_1_decode() {
    // "€ rates.pdf" in base64 UTF-8.
    let b = content_disposition_filename(b"attachment; filename==?UTF-8?B?4oKsIHJhdGVzLnBkZg==?=");
    assert_eq!(b.as_deref(), Some("\u{20ac} rates.pdf"));
    // ISO-8859-1 is Latin-1 (0x80 is a C1 control), not windows-1252's euro.
    let latin1 = content_disposition_filename(b"attachment; filename*=iso-8859-1''%80x");
    assert_eq!(latin1.as_deref(), Some("\u{80}x"));
    let url = Url::parse("https://example.com/").unwrap();
    let name = generate_file_name(&url, Some(b"attachment; filename*=iso-8859-1''%80x"), None);
    assert_eq!(name, "_x");
    // Bad base64 drops the name.
    assert_eq!(
        content_disposition_filename(b"attachment; filename==?UTF-8?B?%%%?="),
        None
    );
}
