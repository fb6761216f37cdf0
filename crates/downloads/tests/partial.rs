//! The `.crdownload` file on a real directory.

use std::io::ErrorKind;

use sesh_downloads::{InterruptReason, PartialFile, partial_path};

#[test]
fn bytes_go_to_the_partial_file_and_take_the_name_on_finish() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("data.bin");
    let mut file = PartialFile::create(&target).unwrap();
    assert_eq!(file.partial_path(), dir.path().join("data.bin.crdownload"));
    file.write(b"hello ").unwrap();
    file.write(b"world").unwrap();
    assert_eq!(file.received(), 11);
    assert!(
        !target.exists(),
        "nothing under the final name before finish"
    );
    let done = file.finish().unwrap();
    assert_eq!(done, target);
    assert_eq!(std::fs::read(&target).unwrap(), b"hello world");
    assert!(!partial_path(&target).exists());
}

#[test]
fn finish_never_replaces_a_file_that_appeared_meanwhile() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("report.pdf");
    let mut file = PartialFile::create(&target).unwrap();
    file.write(b"downloaded").unwrap();
    std::fs::write(&target, b"the user's own file").unwrap();
    let err = file.finish().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AlreadyExists);
    assert_eq!(std::fs::read(&target).unwrap(), b"the user's own file");
    // The bytes are kept in the partial file for another name.
    assert_eq!(std::fs::read(partial_path(&target)).unwrap(), b"downloaded");
}

#[test]
fn a_second_writer_of_the_same_partial_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("x");
    let _first = PartialFile::create(&target).unwrap();
    assert_eq!(
        PartialFile::create(&target).unwrap_err().kind(),
        ErrorKind::AlreadyExists
    );
}

#[test]
fn reopen_continues_at_the_offset_and_cuts_what_lies_beyond() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("big.iso");
    let mut file = PartialFile::create(&target).unwrap();
    file.write(b"0123456789").unwrap();
    file.sync().unwrap();
    drop(file);
    // Only 6 bytes were recorded as received before the interruption.
    let mut file = PartialFile::reopen(&target, 6).unwrap();
    assert_eq!(file.received(), 6);
    file.write(b"ABCD").unwrap();
    file.finish().unwrap();
    assert_eq!(std::fs::read(&target).unwrap(), b"012345ABCD");
}

#[test]
fn reopen_of_a_short_or_missing_file_starts_over() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("f");
    assert_eq!(
        PartialFile::reopen(&target, 1).unwrap_err(),
        InterruptReason::FileTooShort
    );
    std::fs::write(partial_path(&target), b"abc").unwrap();
    assert_eq!(
        PartialFile::reopen(&target, 4).unwrap_err(),
        InterruptReason::FileTooShort
    );
}

#[test]
fn restart_truncates_and_discard_removes() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("r");
    let mut file = PartialFile::create(&target).unwrap();
    file.write(b"stale bytes").unwrap();
    file.restart().unwrap();
    assert_eq!(file.received(), 0);
    file.write(b"new").unwrap();
    file.sync().unwrap();
    assert_eq!(std::fs::read(partial_path(&target)).unwrap(), b"new");
    file.discard().unwrap();
    assert!(!partial_path(&target).exists());
    assert!(!target.exists());
}

#[test]
fn large_writes_pass_through_the_buffer_intact() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("large");
    let mut file = PartialFile::create(&target).unwrap();
    let chunk: Vec<u8> = (0..=255u8).cycle().take(300_001).collect();
    for _ in 0..10 {
        file.write(&chunk).unwrap();
    }
    assert_eq!(file.received(), 3_000_010);
    file.finish().unwrap();
    let bytes = std::fs::read(&target).unwrap();
    assert_eq!(bytes.len(), 3_000_010);
    assert!(bytes.chunks(300_001).all(|c| c == chunk.as_slice()));
}
