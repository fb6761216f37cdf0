//! Partition names cannot write outside `<user-data>/Partitions/`.

use std::collections::HashMap;

use sesh_core::{PartitionOptions, partition_dir_name};

use crate::{fresh, walk};

const HOSTILE: &[&str] = &[
    "..",
    ".",
    "../escaped",
    "../../../../../../tmp/escaped",
    "a/b",
    "/absolute",
    "a\\b",
    "..\\..\\x",
    "nul\0byte",
    "new\nline",
    "tab\tand\rcr",
    "%2e%2e",
    "%2F",
    "~",
    "con",
    " leading space",
    "trailing.",
    "ünïcödé",
    "emoji 🦀",
    "...",
    "a/../../b",
];

#[test]
fn hostile_names_stay_inside_partitions() {
    let (tmp, user_data, sessions) = fresh();
    let partitions = user_data.join("Partitions");
    for name in HOSTILE {
        let partition = format!("persist:{name}");
        let ses = sessions
            .from_partition(&partition, PartitionOptions::default())
            .unwrap_or_else(|e| panic!("{partition:?}: {e}"));
        let path = ses.storage_path().unwrap();
        assert_eq!(
            path.parent(),
            Some(partitions.as_path()),
            "{partition:?} → {}",
            path.display()
        );
        let dir = path.file_name().unwrap().to_str().unwrap();
        assert!(!dir.contains(['/', '\\', '\0']), "{partition:?} → {dir:?}");
        assert!(dir != "." && dir != "..", "{partition:?} → {dir:?}");
        assert!(
            dir.chars().all(|c| c.is_ascii_graphic()),
            "{partition:?} → {dir:?}"
        );
        ses.backend().insert("t", b"k", b"v").unwrap();
        ses.flush_storage().unwrap();
    }
    // Nothing was written anywhere but the user-data directory.
    for path in walk(tmp.path()) {
        assert!(
            path.starts_with(&user_data),
            "{} is outside",
            path.display()
        );
    }
    // And everything in it is the default layout: Partitions/<one dir each>.
    let dirs = std::fs::read_dir(&partitions).unwrap().count();
    assert_eq!(dirs, HOSTILE.len());
}

#[test]
fn escaping_is_injective_after_case_folding() {
    let mut seen: HashMap<String, String> = HashMap::new();
    let mut names: Vec<String> = HOSTILE.iter().map(|s| s.to_string()).collect();
    for b in 0u8..128 {
        names.push(format!("x{}", char::from(b)));
    }
    names.extend([
        "%2F".into(),
        "/".into(),
        "%252F".into(),
        "%".into(),
        "%25".into(),
    ]);
    for name in names {
        let dir = partition_dir_name(&format!("persist:{name}"), &name).unwrap();
        let folded = name.to_ascii_lowercase();
        if let Some(previous) = seen.insert(dir.clone(), folded.clone()) {
            assert_eq!(previous, folded, "{dir:?} names two partitions");
        }
    }
}

#[test]
fn plain_names_keep_their_spelling() {
    for name in ["work", "user-42", "a.b_c~d", "team@corp:main"] {
        assert_eq!(partition_dir_name("p", name).unwrap(), name);
    }
    assert_eq!(partition_dir_name("p", "a/b").unwrap(), "a%2Fb");
    assert_eq!(partition_dir_name("p", "..").unwrap(), "%2E%2E");
    assert_eq!(partition_dir_name("p", "50%").unwrap(), "50%25");
}

#[test]
fn names_too_long_for_a_directory_are_refused() {
    let (_tmp, user_data, sessions) = fresh();
    let long = "x".repeat(255);
    assert!(partition_dir_name("p", &long).is_ok());
    let longer = "x".repeat(256);
    // Escaping can make a name three times longer.
    let escaped_too_long = "/".repeat(90);
    for name in [longer, escaped_too_long] {
        let err = sessions
            .from_partition(&format!("persist:{name}"), PartitionOptions::default())
            .unwrap_err();
        assert!(err.to_string().contains("too long"), "{err}");
    }
    assert!(!user_data.exists());
}
