//! The behaviour every backend shares, checked on both.

use sesh_storage::{Backend, BackendKind, Batch, MemoryBackend, SledBackend};

fn backends() -> Vec<(Box<dyn Backend>, Option<tempfile::TempDir>)> {
    let dir = tempfile::tempdir().unwrap();
    let sled = SledBackend::open(dir.path().join("db")).unwrap();
    vec![
        (Box::new(MemoryBackend::new()), None),
        (Box::new(sled), Some(dir)),
    ]
}

#[test]
fn insert_get_remove() {
    for (db, _dir) in backends() {
        assert_eq!(db.get("t", b"k").unwrap(), None);
        assert_eq!(db.insert("t", b"k", b"v1").unwrap(), None);
        assert_eq!(db.insert("t", b"k", b"v2").unwrap(), Some(b"v1".to_vec()));
        assert_eq!(db.get("t", b"k").unwrap(), Some(b"v2".to_vec()));
        // Trees are separate namespaces.
        assert_eq!(db.get("other", b"k").unwrap(), None);
        assert_eq!(db.remove("t", b"k").unwrap(), Some(b"v2".to_vec()));
        assert_eq!(db.get("t", b"k").unwrap(), None, "{:?}", db.kind());
        assert_eq!(db.remove("t", b"k").unwrap(), None);
    }
}

#[test]
fn scan_prefix_is_ordered_and_bounded() {
    for (db, _dir) in backends() {
        for k in ["b/2", "a/1", "b/1", "b", "c/1", "b/10"] {
            db.insert("t", k.as_bytes(), k.as_bytes()).unwrap();
        }
        let keys: Vec<String> = db
            .scan_prefix("t", b"b/")
            .unwrap()
            .into_iter()
            .map(|(k, _)| String::from_utf8(k).unwrap())
            .collect();
        assert_eq!(keys, ["b/1", "b/10", "b/2"], "{:?}", db.kind());
        assert_eq!(db.scan_prefix("t", b"").unwrap().len(), 6);
        assert_eq!(db.len("t").unwrap(), 6);
        assert!(db.scan_prefix("t", b"z").unwrap().is_empty());
    }
}

#[test]
fn batches_apply_in_order() {
    for (db, _dir) in backends() {
        db.insert("t", b"gone", b"x").unwrap();
        let mut batch = Batch::default();
        batch.insert(b"a".to_vec(), b"1".to_vec());
        batch.insert(b"a".to_vec(), b"2".to_vec());
        batch.remove(b"gone".to_vec());
        batch.insert(b"b".to_vec(), b"3".to_vec());
        assert_eq!(batch.len(), 4);
        db.apply("t", batch).unwrap();
        assert_eq!(
            db.get("t", b"a").unwrap(),
            Some(b"2".to_vec()),
            "later write wins"
        );
        assert_eq!(db.get("t", b"gone").unwrap(), None);
        assert_eq!(db.len("t").unwrap(), 2);
    }
}

#[test]
fn clear_and_tree_names() {
    for (db, _dir) in backends() {
        db.insert("cookies", b"a", b"1").unwrap();
        db.insert("prefs", b"a", b"1").unwrap();
        db.insert("empty", b"a", b"1").unwrap();
        db.remove("empty", b"a").unwrap();
        assert_eq!(
            db.tree_names().unwrap(),
            ["cookies", "prefs"],
            "{:?}",
            db.kind()
        );
        db.clear("cookies").unwrap();
        assert!(db.is_empty("cookies").unwrap());
        assert_eq!(db.get("prefs", b"a").unwrap(), Some(b"1".to_vec()));
        assert_eq!(db.tree_names().unwrap(), ["prefs"]);
    }
}

#[test]
fn kinds_and_paths() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let sled = SledBackend::open(&path).unwrap();
    assert_eq!(sled.kind(), BackendKind::Sled);
    assert_eq!(sled.path(), Some(path.as_path()));
    let mem = MemoryBackend::new();
    assert_eq!(mem.kind(), BackendKind::Memory);
    assert_eq!(mem.path(), None);
}

#[test]
fn sled_data_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    {
        let db = SledBackend::open(&path).unwrap();
        db.insert("prefs", b"lang", b"fr").unwrap();
        db.flush().unwrap();
    }
    let db = SledBackend::open(&path).unwrap();
    assert_eq!(db.get("prefs", b"lang").unwrap(), Some(b"fr".to_vec()));
}
