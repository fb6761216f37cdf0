//! Origin storage: the localStorage quota's running count of what each
//! area uses, against what the store holds.

use std::sync::Arc;

use sesh_storage::origin::{LOCAL_STORAGE_QUOTA, OriginStorage, StorageArea, StorageKind};
use sesh_storage::{Backend, Error, MemoryBackend, SledBackend};

/// What the store holds for the area, counted as the quota counts it.
fn stored(area: &StorageArea) -> usize {
    area.entries()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.encode_utf16().count() + v.encode_utf16().count()) * 2)
        .sum()
}

#[test]
fn used_bytes_follows_every_write_removal_and_clear() {
    let storage = OriginStorage::new(Arc::new(MemoryBackend::new()));
    let origins = ["https://a.test", "https://b.test:8443"];
    let areas = |i: u64| -> StorageArea {
        let origin = origins[(i % 2) as usize];
        if i.is_multiple_of(3) {
            storage.session_storage(origin).unwrap()
        } else {
            storage.local_storage(origin).unwrap()
        }
    };
    // A fixed pseudo-random walk: sets, overwrites with longer and shorter
    // values (non-ASCII included: UTF-16 units, not bytes), removals of
    // present and absent keys, and now and then a clear.
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    for step in 0..2_000u32 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let area = areas(x >> 3);
        let key = format!("k{}", (x >> 8) % 40);
        match (x >> 16) % 10 {
            0..=5 => {
                let value = "é🙂x".repeat(((x >> 24) % 300) as usize);
                area.set(&key, &value).unwrap();
            }
            6..=8 => {
                area.remove(&key).unwrap();
            }
            _ if step.is_multiple_of(7) => {
                let origin = Some(origins[((x >> 32) % 2) as usize]).filter(|_| x & 1 == 0);
                storage.clear(origin, StorageKind::LocalStorage).unwrap();
            }
            _ => {}
        }
        for i in 0..6 {
            let area = areas(i);
            assert_eq!(
                area.used_bytes().unwrap(),
                stored(&area),
                "step {step}: {} ({})",
                area.origin(),
                if i.is_multiple_of(3) {
                    "session"
                } else {
                    "local"
                }
            );
        }
    }
}

#[test]
fn the_quota_counts_what_an_earlier_run_stored() {
    let dir = tempfile::tempdir().unwrap();
    let half = "x".repeat(LOCAL_STORAGE_QUOTA / 4);
    {
        let backend: Arc<dyn Backend> = Arc::new(SledBackend::open(dir.path()).unwrap());
        let storage = OriginStorage::new(backend);
        storage
            .local_storage("https://big.test")
            .unwrap()
            .set("a", &half)
            .unwrap();
    }
    let backend: Arc<dyn Backend> = Arc::new(SledBackend::open(dir.path()).unwrap());
    let storage = OriginStorage::new(backend);
    let area = storage.local_storage("https://big.test").unwrap();
    assert_eq!(area.used_bytes().unwrap(), 2 + LOCAL_STORAGE_QUOTA / 2);
    let err = area.set("b", &half).unwrap_err();
    assert!(matches!(err, Error::QuotaExceeded { .. }), "{err:?}");
    assert_eq!(area.get("b").unwrap(), None);
    // Another origin has a quota of its own.
    storage
        .local_storage("https://other.test")
        .unwrap()
        .set("b", &half)
        .unwrap();
}

#[test]
fn a_cleared_area_has_its_whole_quota_again() {
    let storage = OriginStorage::new(Arc::new(MemoryBackend::new()));
    let area = storage.local_storage("https://big.test").unwrap();
    let half = "x".repeat(LOCAL_STORAGE_QUOTA / 4);
    area.set("a", &half).unwrap();
    assert!(area.set("b", &half).is_err());
    storage
        .clear(Some("https://big.test"), StorageKind::LocalStorage)
        .unwrap();
    area.set("b", &half).unwrap();
    assert_eq!(area.used_bytes().unwrap(), 2 + LOCAL_STORAGE_QUOTA / 2);
    storage.clear(None, StorageKind::LocalStorage).unwrap();
    assert_eq!(area.used_bytes().unwrap(), 0);
    area.set("a", &half).unwrap();
}

#[test]
fn writers_on_many_threads_never_pass_the_quota_together() {
    let storage = Arc::new(OriginStorage::new(Arc::new(MemoryBackend::new())));
    // Each value is a tenth of the quota: nine fit (with their keys), the
    // tenth does not, whichever thread writes it.
    let value = "v".repeat(LOCAL_STORAGE_QUOTA / 20);
    let written: usize = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let storage = storage.clone();
                let value = &value;
                scope.spawn(move || {
                    let area = storage.local_storage("https://race.test").unwrap();
                    (0..4)
                        .filter(|i| match area.set(&format!("t{t}-{i}"), value) {
                            Ok(()) => true,
                            Err(Error::QuotaExceeded { .. }) => false,
                            Err(e) => panic!("{e}"),
                        })
                        .count()
                })
            })
            .collect();
        threads.into_iter().map(|t| t.join().unwrap()).sum()
    });
    let area = storage.local_storage("https://race.test").unwrap();
    assert_eq!(written, 9);
    assert_eq!(area.entries().unwrap().len(), 9);
    assert_eq!(area.used_bytes().unwrap(), stored(&area));
    assert!(stored(&area) <= LOCAL_STORAGE_QUOTA);
}
