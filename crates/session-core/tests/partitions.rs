//! Electron's partition rules.

use sesh_core::{Partition, PartitionOptions, Sessions};

use crate::{fresh, walk};

#[test]
fn the_empty_partition_is_the_default_session_stored_in_user_data() {
    let (_tmp, user_data, sessions) = fresh();
    let default = sessions.default_session().unwrap();
    assert_eq!(default.partition(), "");
    assert_eq!(default.partition_kind(), &Partition::Default);
    assert!(default.is_persistent());
    assert_eq!(default.storage_path(), Some(user_data.as_path()));
    assert_eq!(
        default,
        sessions
            .from_partition("", PartitionOptions::default())
            .unwrap()
    );
}

#[test]
fn persist_partitions_live_under_partitions() {
    let (_tmp, user_data, sessions) = fresh();
    let ses = sessions
        .from_partition("persist:work", PartitionOptions::default())
        .unwrap();
    assert!(ses.is_persistent());
    let expected = user_data.join("Partitions").join("work");
    assert_eq!(ses.storage_path(), Some(expected.as_path()));
    assert!(expected.is_dir(), "the partition directory was not created");
    assert_ne!(ses, sessions.default_session().unwrap());
}

#[test]
fn other_partitions_are_in_memory_and_never_touch_the_disk() {
    let (tmp, user_data, sessions) = fresh();
    for name in ["temp", "Persist:x", "persist", "../../escape", "a/b"] {
        let ses = sessions
            .from_partition(name, PartitionOptions::default())
            .unwrap();
        assert!(!ses.is_persistent(), "{name}");
        assert_eq!(ses.storage_path(), None, "{name}");
        assert_eq!(ses.code_cache_path(), None, "{name}");
        ses.set_download_path("/tmp/downloads").unwrap();
        ses.backend().insert("t", b"k", b"v").unwrap();
        ses.flush_storage().unwrap();
    }
    assert!(
        !user_data.exists(),
        "an in-memory session created {}",
        user_data.display()
    );
    assert!(walk(tmp.path()).is_empty(), "{:?}", walk(tmp.path()));
}

#[test]
fn the_same_partition_returns_the_same_session() {
    let (_tmp, _ud, sessions) = fresh();
    for name in ["", "persist:a", "mem"] {
        let a = sessions
            .from_partition(name, PartitionOptions::default())
            .unwrap();
        let b = sessions
            .from_partition(name, PartitionOptions::default())
            .unwrap();
        assert_eq!(a, b, "{name:?}");
        // Settings made through one handle are seen through the other.
        a.set_user_agent(&format!("UA for {name}"), None).unwrap();
        assert_eq!(b.user_agent(), format!("UA for {name}"));
    }
    let mem = sessions
        .from_partition("mem", PartitionOptions::default())
        .unwrap();
    let other = sessions
        .from_partition("mem2", PartitionOptions::default())
        .unwrap();
    assert_ne!(mem, other);
    assert_eq!(
        other.user_agent(),
        sesh_core::default_user_agent("sesh-test", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn options_only_count_when_the_session_is_created() {
    let (_tmp, _ud, sessions) = fresh();
    let first = sessions
        .from_partition("persist:c", PartitionOptions { cache: false })
        .unwrap();
    assert!(!first.options().cache);
    let second = sessions
        .from_partition("persist:c", PartitionOptions { cache: true })
        .unwrap();
    assert!(
        !second.options().cache,
        "options of a later call were applied"
    );
    let mem = sessions
        .from_partition("m", PartitionOptions::default())
        .unwrap();
    assert!(mem.options().cache, "cache defaults to true");
}

#[test]
fn persistent_names_fold_ascii_case_like_electron() {
    let (_tmp, user_data, sessions) = fresh();
    let upper = sessions
        .from_partition("persist:Work", PartitionOptions::default())
        .unwrap();
    let lower = sessions
        .from_partition("persist:work", PartitionOptions::default())
        .unwrap();
    assert_eq!(
        upper.storage_path(),
        Some(user_data.join("Partitions/work").as_path())
    );
    assert_eq!(upper, lower, "two sessions would share one directory");
    assert_eq!(upper.partition(), "persist:Work");
}

#[test]
fn sessions_of_different_user_data_dirs_are_separate() {
    let (_t1, _u1, one) = fresh();
    let (_t2, _u2, two) = fresh();
    let a = one
        .from_partition("persist:x", PartitionOptions::default())
        .unwrap();
    let b = two
        .from_partition("persist:x", PartitionOptions::default())
        .unwrap();
    assert_ne!(a, b);
    assert_ne!(a.storage_path(), b.storage_path());
}

#[test]
fn a_relative_user_data_dir_is_made_absolute() {
    let sessions = Sessions::builder()
        .user_data_dir("relative/dir")
        .build()
        .unwrap();
    assert!(sessions.user_data_dir().is_absolute());
    assert!(sessions.user_data_dir().ends_with("relative/dir"));
}

#[test]
fn persist_without_a_name_is_refused() {
    let (_tmp, user_data, sessions) = fresh();
    let err = sessions
        .from_partition("persist:", PartitionOptions::default())
        .unwrap_err();
    assert!(
        matches!(err, sesh_core::Error::InvalidPartition { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("\"persist:\""), "{err}");
    assert!(!user_data.exists());
}

#[test]
fn from_path_keeps_the_session_in_the_directory_given() {
    let (tmp, user_data, sessions) = fresh();
    let path = tmp.path().join("elsewhere").join("profile");
    let ses = sessions
        .from_path(&path, PartitionOptions::default())
        .unwrap();
    assert_eq!(ses.partition(), "");
    assert_eq!(ses.partition_kind(), &Partition::Path(path.clone()));
    assert!(ses.is_persistent());
    assert_eq!(ses.storage_path(), Some(path.as_path()));
    assert!(path.is_dir(), "the directory was not created");
    assert!(
        !user_data.exists(),
        "nothing goes to the user-data directory"
    );
    // One directory, one session, however it is spelled.
    for spelling in [
        format!("{}/", path.display()),
        format!("{}/./profile", path.parent().unwrap().display()),
    ] {
        assert_eq!(
            sessions
                .from_path(&spelling, PartitionOptions::default())
                .unwrap(),
            ses,
            "{spelling}"
        );
    }
    assert_ne!(
        sessions
            .from_path(tmp.path().join("other"), PartitionOptions::default())
            .unwrap(),
        ses
    );
    // Its data is there for the next run.
    ses.local_storage("https://app.test")
        .unwrap()
        .set("k", "v")
        .unwrap();
    ses.flush_storage().unwrap();
    drop((ses, sessions));
    let again = Sessions::builder()
        .app_name("sesh-test")
        .user_data_dir(tmp.path().join("another-user-data"))
        .build()
        .unwrap()
        .from_path(&path, PartitionOptions::default())
        .unwrap();
    assert_eq!(
        again
            .local_storage("https://app.test")
            .unwrap()
            .get("k")
            .unwrap()
            .as_deref(),
        Some("v")
    );
}

#[test]
fn from_path_refuses_relative_paths_and_directories_in_use() {
    let (_tmp, user_data, sessions) = fresh();
    for path in ["", "profile", "./profile"] {
        let err = sessions
            .from_path(path, PartitionOptions::default())
            .unwrap_err();
        assert!(
            matches!(err, sesh_core::Error::RelativePath { .. }),
            "{path:?}: {err}"
        );
    }
    // The default session's own directory is taken.
    let _default = sessions.default_session().unwrap();
    let err = sessions
        .from_path(&user_data, PartitionOptions::default())
        .unwrap_err();
    assert!(
        matches!(err, sesh_core::Error::PartitionInUse { .. }),
        "{err}"
    );
    assert!(
        err.to_string().contains(&user_data.display().to_string()),
        "{err}"
    );
}
