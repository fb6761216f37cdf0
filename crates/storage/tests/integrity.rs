//! A database that cannot be opened, or whose data is damaged or gone, is an
//! error naming its path, and the files are left as they were.

use std::fs;
use std::path::Path;

use sesh_storage::{Backend, Error, SledBackend};

fn make_store(path: &Path) {
    let db = SledBackend::open(path).unwrap();
    for i in 0..100u32 {
        db.insert("cookies", &i.to_be_bytes(), b"a cookie worth keeping")
            .unwrap();
    }
    db.flush().unwrap();
}

fn snapshot(path: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<_> = fs::read_dir(path)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().unwrap().is_file())
        .map(|e| {
            (
                e.file_name().into_string().unwrap(),
                fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

#[test]
fn a_file_in_place_of_the_directory_is_an_open_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    fs::write(&path, b"not a database").unwrap();
    let err = SledBackend::open(&path).unwrap_err();
    assert!(matches!(err, Error::Open { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains(&path.display().to_string()), "{msg}");
    assert!(msg.contains("not a directory"), "{msg}");
    assert_eq!(fs::read(&path).unwrap(), b"not a database");
}

#[test]
fn lost_database_files_are_reported_not_recreated_empty() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    make_store(&path);
    // The data file vanishes (a bad backup restore, a cleaner gone wrong).
    fs::remove_file(path.join("db")).unwrap();
    let err = SledBackend::open(&path).unwrap_err();
    assert!(matches!(err, Error::Corrupt { .. }), "{err:?}");
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "{err}"
    );
    // Asking again gives the same answer: the first attempt did not paper
    // over the loss by writing a fresh, empty store.
    let again = SledBackend::open(&path).unwrap_err();
    assert!(matches!(again, Error::Corrupt { .. }), "{again:?}");
}

#[test]
fn a_truncated_data_file_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    make_store(&path);
    fs::write(path.join("db"), b"").unwrap();
    let before = snapshot(&path);
    let err = SledBackend::open(&path).unwrap_err();
    assert!(matches!(err, Error::Corrupt { .. }), "{err:?}");
    assert_eq!(snapshot(&path), before, "the damaged files were changed");
}

#[test]
fn garbage_in_the_data_file_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    make_store(&path);
    let len = fs::metadata(path.join("db")).unwrap().len() as usize;
    let garbage: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
    fs::write(path.join("db"), &garbage).unwrap();
    match SledBackend::open(&path) {
        Err(err) => {
            assert!(
                matches!(err, Error::Corrupt { .. } | Error::Open { .. }),
                "{err:?}"
            );
            assert!(
                err.to_string().contains(&path.display().to_string()),
                "{err}"
            );
        }
        Ok(db) => panic!(
            "a store whose data file is garbage opened with {} cookies",
            db.len("cookies").unwrap()
        ),
    }
}

#[test]
fn a_damaged_config_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    make_store(&path);
    fs::write(path.join("conf"), b"\xff\xfe garbage").unwrap();
    let err = SledBackend::open(&path).unwrap_err();
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "{err}"
    );
}

#[test]
fn a_damaged_marker_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    make_store(&path);
    fs::write(path.join("SESH_STORE"), b"something else").unwrap();
    let err = SledBackend::open(&path).unwrap_err();
    assert!(matches!(err, Error::Corrupt { .. }), "{err:?}");
}
