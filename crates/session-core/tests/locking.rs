//! A persistent partition belongs to one process at a time. (The test with a
//! real second process is in the CLI's tests; here the second opener is a
//! second set of sessions, which takes the lock the same way.)

use sesh_core::{Error, LOCK_FILE, PartitionOptions, Sessions};

use crate::fresh;

#[test]
fn a_second_opener_gets_an_in_use_error() {
    let (_tmp, user_data, first) = fresh();
    let second = Sessions::builder()
        .user_data_dir(&user_data)
        .build()
        .unwrap();
    for partition in ["", "persist:work"] {
        let held = first
            .from_partition(partition, PartitionOptions::default())
            .unwrap();
        let err = second
            .from_partition(partition, PartitionOptions::default())
            .unwrap_err();
        match &err {
            Error::PartitionInUse {
                partition: p,
                lock_path,
            } => {
                assert_eq!(p, partition);
                assert_eq!(lock_path, &held.storage_path().unwrap().join(LOCK_FILE));
            }
            other => panic!("{partition:?}: {other:?}"),
        }
        assert!(err.to_string().contains("in use"), "{err}");
    }
    // In-memory partitions share nothing and never conflict.
    first
        .from_partition("m", PartitionOptions::default())
        .unwrap();
    second
        .from_partition("m", PartitionOptions::default())
        .unwrap();
}

#[test]
fn the_lock_is_released_with_the_last_handle() {
    let (_tmp, user_data, first) = fresh();
    let ses = first
        .from_partition("persist:work", PartitionOptions::default())
        .unwrap();
    ses.backend().insert("t", b"k", b"kept").unwrap();
    ses.flush_storage().unwrap();
    drop(ses);
    drop(first);
    let second = Sessions::builder()
        .user_data_dir(&user_data)
        .build()
        .unwrap();
    let again = second
        .from_partition("persist:work", PartitionOptions::default())
        .unwrap();
    assert_eq!(
        again.backend().get("t", b"k").unwrap(),
        Some(b"kept".to_vec())
    );
}
