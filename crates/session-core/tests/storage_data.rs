//! Origin storage, `clear_storage_data` and `flush_storage_data`.

use std::sync::{Arc, Mutex};

use sesh_core::storage::cookies::{CookieFilter, CookieOptions};
use sesh_core::storage::origin::{LOCAL_STORAGE_QUOTA, Quota, StorageKind};
use sesh_core::{ClearStorageDataOptions, PartitionOptions, Sessions, StorageParticipant};

use crate::fresh;

fn opts(
    origin: Option<&str>,
    storages: Option<&[&str]>,
    quotas: Option<&[&str]>,
) -> ClearStorageDataOptions {
    let list = |v: Option<&[&str]>| v.map(|v| v.iter().map(|s| s.to_string()).collect());
    ClearStorageDataOptions {
        origin: origin.map(str::to_owned),
        storages: list(storages),
        quotas: list(quotas),
    }
}

#[test]
fn local_storage_persists_and_session_storage_does_not() {
    let (_tmp, user_data, sessions) = fresh();
    {
        let ses = sessions
            .from_partition("persist:s", PartitionOptions::default())
            .unwrap();
        ses.local_storage("https://app.test")
            .unwrap()
            .set("theme", "dark")
            .unwrap();
        ses.session_storage("https://app.test")
            .unwrap()
            .set("tab", "3")
            .unwrap();
        assert_eq!(
            ses.session_storage("https://app.test/x")
                .unwrap()
                .get("tab")
                .unwrap()
                .as_deref(),
            Some("3")
        );
        assert_eq!(
            ses.local_storage("https://other.test")
                .unwrap()
                .get("theme")
                .unwrap(),
            None,
            "origins are apart"
        );
        ses.flush_storage_data().unwrap();
    }
    drop(sessions);
    let sessions = Sessions::builder()
        .user_data_dir(&user_data)
        .build()
        .unwrap();
    let ses = sessions
        .from_partition("persist:s", PartitionOptions::default())
        .unwrap();
    assert_eq!(
        ses.local_storage("https://app.test:443")
            .unwrap()
            .get("theme")
            .unwrap()
            .as_deref(),
        Some("dark")
    );
    assert_eq!(
        ses.session_storage("https://app.test")
            .unwrap()
            .get("tab")
            .unwrap(),
        None
    );
}

#[test]
fn local_storage_has_chromiums_quota() {
    let (_tmp, _ud, sessions) = fresh();
    let ses = sessions
        .from_partition("m", PartitionOptions::default())
        .unwrap();
    let area = ses.local_storage("https://big.test").unwrap();
    // UTF-16: each character counts two bytes.
    let half = "x".repeat(LOCAL_STORAGE_QUOTA / 4);
    area.set("a", &half).unwrap();
    let err = area.set("b", &half).unwrap_err();
    assert!(
        matches!(err, sesh_core::storage::Error::QuotaExceeded { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("QuotaExceededError"), "{err}");
    assert_eq!(area.get("b").unwrap(), None, "nothing was written");
    // Replacing a value counts only the new one.
    area.set("a", "small").unwrap();
    area.set("b", &half).unwrap();
    assert!(ses.local_storage("not a url").is_err());
}

#[test]
fn clear_storage_data_by_origin_and_kind() {
    let (_tmp, _ud, sessions) = fresh();
    let ses = sessions
        .from_partition("m", PartitionOptions::default())
        .unwrap();
    let url = |s: &str| url::Url::parse(s).unwrap();
    ses.cookies()
        .set_from_header(&url("https://www.shop.test/"), "a=1")
        .unwrap();
    ses.cookies()
        .set_from_header(&url("https://www.shop.test/"), "d=2; Domain=shop.test")
        .unwrap();
    ses.cookies()
        .set_from_header(&url("https://api.shop.test/"), "api=3")
        .unwrap();
    ses.cookies()
        .set_from_header(&url("https://other.test/"), "o=4")
        .unwrap();
    ses.local_storage("https://www.shop.test")
        .unwrap()
        .set("k", "v")
        .unwrap();
    ses.local_storage("https://other.test")
        .unwrap()
        .set("k", "v")
        .unwrap();
    ses.origin_storage()
        .area_of("https://www.shop.test", StorageKind::IndexedDb)
        .unwrap()
        .set("db", "1")
        .unwrap();

    // Only cookies of one origin: those a request to it carries.
    ses.clear_storage_data(&opts(
        Some("https://www.shop.test"),
        Some(&["cookies"]),
        None,
    ))
    .unwrap();
    let names: Vec<String> = ses
        .cookies()
        .get(&CookieFilter::default())
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names, ["api", "o"]);
    assert_eq!(
        ses.local_storage("https://www.shop.test")
            .unwrap()
            .get("k")
            .unwrap()
            .as_deref(),
        Some("v")
    );

    // Syncable only: quota-managed kinds (indexdb) stay; localstorage goes.
    ses.clear_storage_data(&opts(
        Some("https://www.shop.test"),
        None,
        Some(&["syncable"]),
    ))
    .unwrap();
    assert_eq!(
        ses.local_storage("https://www.shop.test")
            .unwrap()
            .get("k")
            .unwrap(),
        None
    );
    assert_eq!(
        ses.local_storage("https://other.test")
            .unwrap()
            .get("k")
            .unwrap()
            .as_deref(),
        Some("v")
    );
    let idb = ses
        .origin_storage()
        .area_of("https://www.shop.test", StorageKind::IndexedDb)
        .unwrap();
    assert_eq!(idb.get("db").unwrap().as_deref(), Some("1"));
    ses.clear_storage_data(&opts(None, Some(&["indexdb"]), Some(&["temporary"])))
        .unwrap();
    assert_eq!(idb.get("db").unwrap(), None);

    // Everything.
    ses.clear_storage_data(&ClearStorageDataOptions::default())
        .unwrap();
    assert!(ses.cookies().is_empty());
    assert_eq!(
        ses.cookies()
            .cookie_header(&url("https://other.test/"), CookieOptions::default()),
        ""
    );
}

#[test]
fn unknown_names_are_errors_and_clear_nothing() {
    let (_tmp, _ud, sessions) = fresh();
    let ses = sessions
        .from_partition("m", PartitionOptions::default())
        .unwrap();
    ses.local_storage("https://a.test")
        .unwrap()
        .set("k", "v")
        .unwrap();
    let err = ses
        .clear_storage_data(&opts(None, Some(&["localstorage", "localStorage"]), None))
        .unwrap_err();
    assert!(err.to_string().contains("\"localStorage\""), "{err}");
    let err = ses
        .clear_storage_data(&opts(None, None, Some(&["permanent"])))
        .unwrap_err();
    assert!(err.to_string().contains("\"permanent\""), "{err}");
    let err = ses
        .clear_storage_data(&opts(Some("nonsense"), None, None))
        .unwrap_err();
    assert!(err.to_string().contains("nonsense"), "{err}");
    assert_eq!(
        ses.local_storage("https://a.test")
            .unwrap()
            .get("k")
            .unwrap()
            .as_deref(),
        Some("v")
    );
}

/// One call of a participant: origin, kinds, quotas.
type Call = (Option<String>, Vec<StorageKind>, Vec<Quota>);

#[derive(Default)]
struct Recorder(Mutex<Vec<Call>>);

impl StorageParticipant for Recorder {
    fn clear(
        &self,
        origin: Option<&str>,
        storages: &[StorageKind],
        quotas: &[Quota],
    ) -> Result<(), String> {
        self.0.lock().unwrap().push((
            origin.map(str::to_owned),
            storages.to_vec(),
            quotas.to_vec(),
        ));
        if origin == Some("https://fail.test") {
            Err("the web view's data directory is busy".into())
        } else {
            Ok(())
        }
    }
}

#[test]
fn participants_are_called_with_the_filter() {
    let (_tmp, _ud, sessions) = fresh();
    let ses = sessions
        .from_partition("m", PartitionOptions::default())
        .unwrap();
    let rec = Arc::new(Recorder::default());
    ses.register_storage_participant(rec.clone());
    ses.clear_storage_data(&opts(
        Some("https://a.test:8443/path"),
        Some(&["cachestorage"]),
        Some(&["temporary"]),
    ))
    .unwrap();
    let calls = rec.0.lock().unwrap().clone();
    assert_eq!(
        calls,
        [(
            Some("https://a.test:8443".to_string()),
            vec![StorageKind::CacheStorage],
            vec![Quota::Temporary]
        )]
    );
    let err = ses
        .clear_storage_data(&opts(Some("https://fail.test"), None, None))
        .unwrap_err();
    assert!(err.to_string().contains("busy"), "{err}");
}

#[test]
fn the_http_cache_follows_the_partition() {
    use sesh_core::storage::http_cache::CacheKey;
    let (_tmp, user_data, sessions) = fresh();
    let req = http::Request::get("https://a.test/x").body(()).unwrap();
    let res = http::Response::builder()
        .header("cache-control", "max-age=600")
        .body(())
        .unwrap();
    let ses = sessions
        .from_partition("persist:c", PartitionOptions::default())
        .unwrap();
    assert!(
        ses.http_cache()
            .store(&CacheKey::new("https://a.test/x"), &req, &res, &[7; 500])
            .unwrap()
    );
    assert!(ses.cache_size() >= 500);
    assert!(
        user_data.join("Partitions/c/Cache").is_dir(),
        "bodies live under Cache/"
    );
    ses.clear_cache().unwrap();
    assert_eq!(ses.cache_size(), 0);
    // cache: false stores nothing.
    let off = sessions
        .from_partition("nocache", PartitionOptions { cache: false })
        .unwrap();
    assert!(
        !off.http_cache()
            .store(&CacheKey::new("https://a.test/x"), &req, &res, b"x")
            .unwrap()
    );
    assert_eq!(off.cache_size(), 0);
}

#[test]
fn the_cache_cap_is_configurable() {
    use sesh_core::storage::http_cache::CacheKey;
    let tmp = tempfile::tempdir().unwrap();
    let sessions = Sessions::builder()
        .user_data_dir(tmp.path())
        .cache_max_bytes(4_000)
        .build()
        .unwrap();
    let ses = sessions
        .from_partition("m", PartitionOptions::default())
        .unwrap();
    let res = http::Response::builder()
        .header("cache-control", "max-age=600")
        .body(())
        .unwrap();
    for i in 0..5 {
        let url = format!("https://a.test/{i}");
        let req = http::Request::get(&url).body(()).unwrap();
        ses.http_cache()
            .store(&CacheKey::new(url), &req, &res, &[0; 1000])
            .unwrap();
    }
    assert!(ses.cache_size() <= 4_000, "{}", ses.cache_size());
    assert!(ses.http_cache().len() < 5);
}

#[test]
fn clear_data_by_type_origin_and_registrable_domain() {
    use sesh_core::ClearDataOptions;
    use sesh_core::storage::http_cache::CacheKey;
    let (tmp, _ud, sessions) = fresh();
    let ses = sessions
        .from_partition("persist:clear", PartitionOptions::default())
        .unwrap();
    let url = |s: &str| url::Url::parse(s).unwrap();
    for (u, header) in [
        ("https://www.shop.test/", "a=1"),
        ("https://www.shop.test/", "d=2; Domain=shop.test"),
        ("https://api.shop.test/", "api=3"),
        ("https://other.test/", "o=4"),
    ] {
        ses.cookies().set_from_header(&url(u), header).unwrap();
    }
    let names = || {
        let mut names: Vec<String> = ses
            .cookies()
            .get(&CookieFilter::default())
            .into_iter()
            .map(|c| c.name)
            .collect();
        names.sort();
        names
    };
    for origin in ["https://www.shop.test", "https://other.test"] {
        ses.local_storage(origin).unwrap().set("k", "v").unwrap();
        ses.session_storage(origin).unwrap().set("k", "v").unwrap();
    }
    ses.origin_storage()
        .area_of("https://www.shop.test", StorageKind::IndexedDb)
        .unwrap()
        .set("db", "1")
        .unwrap();
    let cached = |u: &str| {
        let req = http::Request::get(u).body(()).unwrap();
        let res = http::Response::builder()
            .header("cache-control", "max-age=600")
            .body(())
            .unwrap();
        assert!(
            ses.http_cache()
                .store(&CacheKey::new(u), &req, &res, b"x")
                .unwrap()
        );
    };
    cached("https://www.shop.test/app.js");
    cached("https://other.test/app.js");
    // Download records as an earlier run leaves them (the session's
    // "downloads" tree, keyed by path).
    for (name, origin) in [
        ("a.bin", "https://dl.test/a.bin"),
        ("b.bin", "https://keep.test/b.bin"),
    ] {
        let record = sesh_core::downloads::InterruptedDownload {
            path: tmp.path().join(name),
            url_chain: vec![url(origin)],
            mime_type: None,
            offset: 1,
            length: 10,
            last_modified: None,
            etag: Some("\"e\"".into()),
            start_time: None,
        };
        ses.backend()
            .insert(
                "downloads",
                record.path.as_os_str().as_encoded_bytes(),
                &serde_json::to_vec(&record).unwrap(),
            )
            .unwrap();
    }
    assert_eq!(ses.interrupted_downloads().unwrap().len(), 2);

    // Refused options clear nothing.
    let err = ses
        .clear_data(&ClearDataOptions {
            origins: Some(vec!["https://a.test".into()]),
            exclude_origins: Some(vec![]),
            ..Default::default()
        })
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid argument: Cannot provide both 'origins' and 'excludeOrigins'"
    );
    let err = ses
        .clear_data(&ClearDataOptions {
            origins: Some(vec!["nonsense".into()]),
            ..Default::default()
        })
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid argument: Invalid origin: 'nonsense'"
    );
    let err = ses
        .clear_data(&ClearDataOptions {
            data_types: Some(vec!["history".into()]),
            ..Default::default()
        })
        .unwrap_err();
    assert!(err.to_string().contains("\"history\""), "{err}");
    assert_eq!(names(), ["a", "api", "d", "o"]);

    // Cookies go by registrable domain: one origin of shop.test clears them all.
    ses.clear_data(&ClearDataOptions {
        data_types: Some(vec!["cookies".into()]),
        origins: Some(vec!["https://api.shop.test".into()]),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(names(), ["o"]);
    assert_eq!(
        ses.local_storage("https://www.shop.test")
            .unwrap()
            .get("k")
            .unwrap()
            .as_deref(),
        Some("v"),
        "only cookies were asked for"
    );

    // Everything but other.test: both storages of www.shop.test, its
    // IndexedDB area, its cache entry; other.test's all kept.
    ses.clear_data(&ClearDataOptions {
        data_types: Some(vec![
            "localStorage".into(),
            "indexedDB".into(),
            "cache".into(),
        ]),
        exclude_origins: Some(vec!["https://other.test".into()]),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(
        ses.local_storage("https://www.shop.test")
            .unwrap()
            .get("k")
            .unwrap(),
        None
    );
    assert_eq!(
        ses.session_storage("https://www.shop.test")
            .unwrap()
            .get("k")
            .unwrap(),
        None
    );
    assert_eq!(
        ses.origin_storage()
            .area_of("https://www.shop.test", StorageKind::IndexedDb)
            .unwrap()
            .get("db")
            .unwrap(),
        None
    );
    assert_eq!(
        ses.local_storage("https://other.test")
            .unwrap()
            .get("k")
            .unwrap()
            .as_deref(),
        Some("v")
    );
    assert_eq!(
        ses.session_storage("https://other.test")
            .unwrap()
            .get("k")
            .unwrap()
            .as_deref(),
        Some("v")
    );
    assert_eq!(ses.http_cache().len(), 1);
    let lookup = |u: &str| {
        let req = http::Request::get(u).body(()).unwrap();
        matches!(
            ses.http_cache().lookup(&CacheKey::new(u), &req).unwrap(),
            sesh_core::storage::http_cache::CacheLookup::Fresh { .. }
        )
    };
    assert!(lookup("https://other.test/app.js"));
    assert!(!lookup("https://www.shop.test/app.js"));

    // Download records, by their URL's origin.
    ses.clear_data(&ClearDataOptions {
        data_types: Some(vec!["downloads".into()]),
        origins: Some(vec!["https://dl.test".into()]),
        ..Default::default()
    })
    .unwrap();
    let left = ses.interrupted_downloads().unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].url_chain[0].as_str(), "https://keep.test/b.bin");

    // Address hosts are their own scope, IPv6 ones too.
    for u in ["http://[::1]:8080/", "http://127.0.0.1/"] {
        ses.cookies().set_from_header(&url(u), "ip=1").unwrap();
    }
    ses.clear_data(&ClearDataOptions {
        data_types: Some(vec!["cookies".into()]),
        origins: Some(vec!["http://[::1]:8080".into()]),
        ..Default::default()
    })
    .unwrap();
    let domains: Vec<String> = ses
        .cookies()
        .get(&CookieFilter {
            name: Some("ip".into()),
            ..Default::default()
        })
        .into_iter()
        .map(|c| c.domain)
        .collect();
    assert_eq!(domains, ["127.0.0.1"]);

    // No options: everything.
    ses.clear_data(&ClearDataOptions::default()).unwrap();
    assert!(names().is_empty());
    assert_eq!(
        ses.local_storage("https://other.test")
            .unwrap()
            .get("k")
            .unwrap(),
        None
    );
    assert_eq!(ses.http_cache().len(), 0);
    assert!(ses.interrupted_downloads().unwrap().is_empty());
}
