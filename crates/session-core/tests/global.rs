//! The global sessions: `init`, then `from_partition` and `default_session`.
//! The only test of this binary that touches the global state.

use sesh_core::{Error, PartitionOptions, Sessions};

#[test]
fn init_sets_up_the_global_sessions_once() {
    let tmp = tempfile::tempdir().unwrap();
    let sessions = sesh_core::init(
        Sessions::builder()
            .app_name("global-test")
            .user_data_dir(tmp.path()),
    )
    .unwrap();
    assert_eq!(sessions.user_data_dir(), tmp.path());
    let default = sesh_core::default_session().unwrap();
    assert_eq!(default.storage_path(), Some(tmp.path()));
    assert_eq!(default, sessions.default_session().unwrap());
    let work = sesh_core::from_partition("persist:w", PartitionOptions::default()).unwrap();
    assert_eq!(
        work.storage_path(),
        Some(tmp.path().join("Partitions/w").as_path())
    );
    assert!(work.user_agent().contains(" global-test/"));
    assert_eq!(sesh_core::sessions().unwrap().user_data_dir(), tmp.path());

    let other = tempfile::tempdir().unwrap();
    let err = sesh_core::init(Sessions::builder().user_data_dir(other.path())).unwrap_err();
    match err {
        Error::AlreadyInitialized { user_data_dir } => assert_eq!(user_data_dir, tmp.path()),
        other => panic!("{other:?}"),
    }
}
