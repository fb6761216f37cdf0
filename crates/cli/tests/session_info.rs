//! `sesh session info`.

use serde_json::Value;
use sesh::{PartitionOptions, Sessions};

use crate::{sesh, sesh_in, stderr, stdout};

fn info_json(out: &std::process::Output) -> serde_json::Map<String, Value> {
    assert!(out.status.success(), "{}", stderr(out));
    match serde_json::from_str(&stdout(out)).unwrap() {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

#[test]
fn json_has_exactly_electrons_keys() {
    let tmp = tempfile::tempdir().unwrap();
    let out = sesh_in(tmp.path(), &["session", "info", "--json"]);
    let info = info_json(&out);
    let mut keys: Vec<&str> = info.keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(
        keys,
        ["isPersistent", "partition", "storagePath", "userAgent"]
    );
    assert_eq!(info["partition"], "");
    assert_eq!(info["isPersistent"], true);
    assert_eq!(info["storagePath"], tmp.path().to_str().unwrap());
    let ua = info["userAgent"].as_str().unwrap();
    assert!(
        ua.starts_with("Mozilla/5.0") && ua.contains(" sesh/"),
        "{ua}"
    );
}

#[test]
fn partitions_from_the_command_line() {
    let tmp = tempfile::tempdir().unwrap();
    let out = sesh_in(
        tmp.path(),
        &["--partition", "persist:Work", "session", "info", "--json"],
    );
    let info = info_json(&out);
    assert_eq!(info["partition"], "persist:Work");
    assert_eq!(info["isPersistent"], true);
    assert_eq!(
        info["storagePath"],
        tmp.path().join("Partitions/work").to_str().unwrap()
    );

    let out = sesh_in(
        tmp.path(),
        &["--partition", "scratch", "session", "info", "--json"],
    );
    let info = info_json(&out);
    assert_eq!(info["isPersistent"], false);
    assert_eq!(info["storagePath"], Value::Null);

    let out = sesh_in(tmp.path(), &["--partition", "scratch", "session", "info"]);
    assert!(out.status.success());
    let text = stdout(&out);
    assert!(text.contains("isPersistent: false"), "{text}");
    assert!(text.contains("storagePath:  (none: in memory)"), "{text}");
}

#[test]
fn a_partition_held_by_another_process_is_reported_in_use() {
    let tmp = tempfile::tempdir().unwrap();
    // This test process holds the partition…
    let sessions = Sessions::builder()
        .user_data_dir(tmp.path())
        .build()
        .unwrap();
    let held = sessions
        .from_partition("persist:busy", PartitionOptions::default())
        .unwrap();
    // …and a second process asks for it.
    let out = sesh_in(
        tmp.path(),
        &["--partition", "persist:busy", "session", "info"],
    );
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("in use by another process"), "{err}");
    assert!(err.contains("persist:busy"), "{err}");
    // Other partitions of the same directory stay usable.
    let out = sesh_in(
        tmp.path(),
        &["--partition", "persist:free", "session", "info"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    drop(held);
    drop(sessions);
    let out = sesh_in(
        tmp.path(),
        &["--partition", "persist:busy", "session", "info"],
    );
    assert!(
        out.status.success(),
        "released lock still refused: {}",
        stderr(&out)
    );
}

#[test]
fn bad_partitions_are_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let out = sesh_in(tmp.path(), &["--partition", "persist:", "session", "info"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("needs a name"), "{}", stderr(&out));
}

#[test]
fn user_data_dir_comes_from_the_environment() {
    let tmp = tempfile::tempdir().unwrap();
    let path =
        |out: &std::process::Output| info_json(out)["storagePath"].as_str().unwrap().to_owned();

    let explicit = tmp.path().join("explicit");
    let out = sesh()
        .env("SESH_USER_DATA_DIR", &explicit)
        .env("XDG_CONFIG_HOME", tmp.path().join("xdg"))
        .args(["session", "info", "--json"])
        .output()
        .unwrap();
    assert_eq!(
        path(&out),
        explicit.to_str().unwrap(),
        "SESH_USER_DATA_DIR wins"
    );

    let out = sesh()
        .env("XDG_CONFIG_HOME", tmp.path().join("xdg"))
        .env("HOME", tmp.path().join("home"))
        .args(["session", "info", "--json"])
        .output()
        .unwrap();
    assert_eq!(path(&out), tmp.path().join("xdg/sesh").to_str().unwrap());

    let out = sesh()
        .env("HOME", tmp.path().join("home"))
        .args(["session", "info", "--json"])
        .output()
        .unwrap();
    assert_eq!(
        path(&out),
        tmp.path().join("home/.config/sesh").to_str().unwrap()
    );

    // A relative XDG_CONFIG_HOME is invalid by the XDG rules and ignored.
    let out = sesh()
        .env("XDG_CONFIG_HOME", "relative")
        .env("HOME", tmp.path().join("home"))
        .args(["session", "info", "--json"])
        .output()
        .unwrap();
    assert_eq!(
        path(&out),
        tmp.path().join("home/.config/sesh").to_str().unwrap()
    );

    // --user-data-dir beats them all.
    let flag = tmp.path().join("flag");
    let out = sesh()
        .env("SESH_USER_DATA_DIR", &explicit)
        .arg("--user-data-dir")
        .arg(&flag)
        .args(["session", "info", "--json"])
        .output()
        .unwrap();
    assert_eq!(path(&out), flag.to_str().unwrap());
}

#[test]
fn a_session_in_a_directory_of_its_own() {
    let tmp = tempfile::tempdir().unwrap();
    let profile = tmp.path().join("profile");
    let user_data = tmp.path().join("user-data");
    let out = sesh_in(
        &user_data,
        &[
            "--session-path",
            profile.to_str().unwrap(),
            "session",
            "info",
            "--json",
        ],
    );
    let info = info_json(&out);
    assert_eq!(info["isPersistent"], true);
    assert_eq!(info["storagePath"], profile.to_str().unwrap());
    assert!(profile.is_dir());
    assert!(!user_data.exists(), "the user-data directory was not used");
    let out = sesh_in(
        &user_data,
        &["--session-path", "profile", "session", "info"],
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("must be an absolute path"),
        "{}",
        stderr(&out)
    );
}
