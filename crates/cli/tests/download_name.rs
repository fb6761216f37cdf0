//! `sesh download-name`: the name and the free path of a download.

use crate::{sesh, stderr, stdout};

#[test]
fn names_come_from_the_header_the_url_and_the_type() {
    let out = sesh()
        .args(["download-name", "https://example.com/get.php?id=3"])
        .args(["--mime-type", "application/pdf; charset=binary"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "get.pdf\n");

    let out = sesh()
        .args(["download-name", "https://example.com/get.php?id=3"])
        .args([
            "--content-disposition",
            "attachment; filename=\"a/../b.txt\"",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "a_.._b.txt\n");
}

#[test]
fn dir_gives_a_free_numbered_path() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("report.pdf"), b"mine").unwrap();
    let out = sesh()
        .args(["download-name", "https://example.com/files/report.pdf"])
        .arg("--dir")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out).trim_end(),
        dir.path().join("report (1).pdf").display().to_string()
    );
    assert_eq!(
        std::fs::read(dir.path().join("report.pdf")).unwrap(),
        b"mine"
    );
}

#[test]
fn a_bad_url_is_an_error_naming_it() {
    let out = sesh()
        .args(["download-name", "not a url"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("\"not a url\""), "{}", stderr(&out));
}
