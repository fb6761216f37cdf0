//! Interrupted downloads recorded in a session, across restarts.

use std::path::PathBuf;

use sesh_core::downloads::InterruptedDownload;
use sesh_core::{Error, PartitionOptions, Sessions};

use crate::{fresh, walk};

fn record(path: PathBuf, offset: u64, start: f64) -> InterruptedDownload {
    InterruptedDownload {
        path,
        url_chain: vec![
            "https://example.com/a".parse().unwrap(),
            "https://cdn.example.com/a.iso".parse().unwrap(),
        ],
        mime_type: Some("application/x-iso9660-image".into()),
        offset,
        length: 1_000_000,
        last_modified: None,
        etag: Some("\"abc\"".into()),
        start_time: Some(start),
    }
}

#[test]
fn a_persistent_session_lists_its_interrupted_downloads_after_a_restart() {
    let (tmp, user_data, sessions) = fresh();
    let downloads = tmp.path().join("dl");
    let first = record(downloads.join("a.iso"), 100, 2.0);
    let second = record(downloads.join("b.iso"), 200, 1.0);
    {
        let ses = sessions
            .from_partition("persist:work", PartitionOptions::default())
            .unwrap();
        ses.record_interrupted_download(&first).unwrap();
        ses.record_interrupted_download(&second).unwrap();
        // Recording the same path again replaces its record.
        ses.record_interrupted_download(&record(downloads.join("a.iso"), 150, 2.0))
            .unwrap();
        ses.flush_storage_data().unwrap();
    }
    drop(sessions);

    let sessions = Sessions::builder()
        .app_name("sesh-test")
        .user_data_dir(&user_data)
        .build()
        .unwrap();
    let ses = sessions
        .from_partition("persist:work", PartitionOptions::default())
        .unwrap();
    let listed = ses.interrupted_downloads().unwrap();
    assert_eq!(listed.len(), 2);
    // Oldest first.
    assert_eq!(listed[0], second);
    assert_eq!(listed[1].path, first.path);
    assert_eq!(listed[1].offset, 150);
    assert!(ses.forget_interrupted_download(&second.path).unwrap());
    assert!(!ses.forget_interrupted_download(&second.path).unwrap());
    assert_eq!(ses.interrupted_downloads().unwrap().len(), 1);
    // Other partitions have their own.
    let other = sessions.default_session().unwrap();
    assert!(other.interrupted_downloads().unwrap().is_empty());
}

#[test]
fn an_in_memory_session_writes_no_record_to_disk() {
    let (tmp, user_data, sessions) = fresh();
    let ses = sessions
        .from_partition("scratch", PartitionOptions::default())
        .unwrap();
    ses.record_interrupted_download(&record(tmp.path().join("x.iso"), 1, 1.0))
        .unwrap();
    assert_eq!(ses.interrupted_downloads().unwrap().len(), 1);
    assert!(walk(&user_data).is_empty(), "{:?}", walk(&user_data));
}

#[test]
fn bad_records_are_refused_or_reported_not_lost() {
    let (_tmp, _ud, sessions) = fresh();
    let ses = sessions.default_session().unwrap();
    let err = ses
        .record_interrupted_download(&record("relative/x.iso".into(), 1, 1.0))
        .unwrap_err();
    assert!(matches!(err, Error::RelativePath { .. }), "{err:?}");
    // A record damaged on disk is named, and left in place.
    ses.backend()
        .insert("downloads", b"/tmp/broken.iso", b"{not json")
        .unwrap();
    let err = ses.interrupted_downloads().unwrap_err();
    assert!(err.to_string().contains("/tmp/broken.iso"), "{err}");
    assert!(
        ses.backend()
            .get("downloads", b"/tmp/broken.iso")
            .unwrap()
            .is_some()
    );
}
