//! `unique_path` on a real directory.

use std::io::ErrorKind;

use sesh_downloads::{MAX_NAME_BYTES, PARTIAL_SUFFIX, unique_path};

#[test]
fn a_free_name_is_kept_and_a_taken_one_is_numbered_before_its_extension() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    assert_eq!(unique_path(d, "report.pdf").unwrap(), d.join("report.pdf"));
    std::fs::write(d.join("report.pdf"), b"1").unwrap();
    assert_eq!(
        unique_path(d, "report.pdf").unwrap(),
        d.join("report (1).pdf")
    );
    std::fs::write(d.join("report (1).pdf"), b"2").unwrap();
    assert_eq!(
        unique_path(d, "report.pdf").unwrap(),
        d.join("report (2).pdf")
    );
    // No extension: the number goes at the end.
    std::fs::write(d.join("README"), b"").unwrap();
    assert_eq!(unique_path(d, "README").unwrap(), d.join("README (1)"));
    // `.tar.gz` stays whole.
    std::fs::write(d.join("src.tar.gz"), b"").unwrap();
    assert_eq!(
        unique_path(d, "src.tar.gz").unwrap(),
        d.join("src (1).tar.gz")
    );
    // Nothing was overwritten.
    assert_eq!(std::fs::read(d.join("report.pdf")).unwrap(), b"1");
}

#[test]
fn a_download_in_progress_takes_its_name() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join(format!("movie.mp4{PARTIAL_SUFFIX}")), b"").unwrap();
    assert_eq!(
        unique_path(d, "movie.mp4").unwrap(),
        d.join("movie (1).mp4")
    );
}

#[test]
fn a_hundred_taken_names_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("x.txt"), b"").unwrap();
    for n in 1..=100 {
        std::fs::write(d.join(format!("x ({n}).txt")), b"").unwrap();
    }
    let err = unique_path(d, "x.txt").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AlreadyExists);
    assert!(err.to_string().contains("\"x.txt\""), "{err}");
}

#[test]
fn over_long_names_are_shortened_keeping_the_extension() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Multi-byte characters, so that a cut could split one.
    let long = format!("{}.pdf", "é".repeat(200));
    let path = unique_path(d, &long).unwrap();
    let name = path.file_name().unwrap().to_str().unwrap().to_owned();
    assert!(name.ends_with(".pdf"), "{name}");
    assert!(
        name.len() + PARTIAL_SUFFIX.len() <= MAX_NAME_BYTES,
        "{}",
        name.len()
    );
    // The file and its partial twin can really be created.
    std::fs::write(&path, b"").unwrap();
    std::fs::write(d.join(format!("{name}{PARTIAL_SUFFIX}")), b"").unwrap();
    let next = unique_path(d, &long).unwrap();
    let next_name = next.file_name().unwrap().to_str().unwrap();
    assert!(next_name.ends_with(" (1).pdf"), "{next_name}");
    assert!(next_name.len() + PARTIAL_SUFFIX.len() <= MAX_NAME_BYTES);
    std::fs::write(&next, b"").unwrap();
}

#[test]
fn a_name_that_is_not_one_component_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    for bad in ["", ".", "..", "a/b", "../x", "a\0b"] {
        let err = unique_path(dir.path(), bad).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{bad:?}");
    }
}
