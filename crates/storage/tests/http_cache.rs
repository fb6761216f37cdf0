//! The HTTP cache: storability, freshness, validation, Vary, split keys,
//! the size cap, clearing, persistence.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use sesh_storage::http_cache::{CacheKey, CacheLookup, HttpCache, HttpCacheOptions};
use sesh_storage::{MemoryBackend, SledBackend};

fn get(url: &str) -> http::Request<()> {
    http::Request::get(url).body(()).unwrap()
}

fn res(headers: &[(&str, &str)]) -> http::Response<()> {
    let mut b = http::Response::builder().status(200);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(()).unwrap()
}

fn memory(max: u64) -> HttpCache {
    HttpCache::open(
        Arc::new(MemoryBackend::new()),
        None,
        HttpCacheOptions {
            enabled: true,
            max_bytes: max,
        },
    )
    .unwrap()
}

const T0: u64 = 1_700_000_000;

fn at(secs: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(T0 + secs)
}

#[test]
fn storability_follows_http() {
    let c = memory(1 << 20);
    let key = CacheKey::new("https://a.test/x");
    assert!(
        !c.store_at(
            &key,
            &get("https://a.test/x"),
            &res(&[("cache-control", "no-store")]),
            b"x",
            at(0)
        )
        .unwrap()
    );
    assert!(
        c.store_at(
            &key,
            &get("https://a.test/x"),
            &res(&[("cache-control", "private, max-age=60")]),
            b"x",
            at(0)
        )
        .unwrap(),
        "a browser cache keeps private responses"
    );
    // Stale at once with nothing to revalidate by: never reusable, not
    // written; a validator makes it worth keeping.
    let z = CacheKey::new("https://a.test/z");
    assert!(
        !c.store_at(&z, &get("https://a.test/z"), &res(&[]), b"z", at(0))
            .unwrap()
    );
    assert!(
        !c.store_at(
            &z,
            &get("https://a.test/z"),
            &res(&[("cache-control", "max-age=0")]),
            b"z",
            at(0)
        )
        .unwrap()
    );
    assert!(
        c.store_at(
            &z,
            &get("https://a.test/z"),
            &res(&[("cache-control", "no-cache"), ("etag", "\"1\"")]),
            b"z",
            at(0)
        )
        .unwrap()
    );
    let post = http::Request::post("https://a.test/y").body(()).unwrap();
    assert!(
        !c.store_at(
            &CacheKey::new("https://a.test/y"),
            &post,
            &res(&[("cache-control", "max-age=60")]),
            b"y",
            at(0)
        )
        .unwrap()
    );
}

#[test]
fn fresh_then_stale_then_revalidated() {
    let c = memory(1 << 20);
    let key = CacheKey::new("https://a.test/app.js");
    let req = get("https://a.test/app.js");
    c.store_at(
        &key,
        &req,
        &res(&[("cache-control", "max-age=60"), ("etag", "\"v1\"")]),
        b"body v1",
        at(0),
    )
    .unwrap();
    match c.lookup_at(&key, &req, at(30)).unwrap() {
        CacheLookup::Fresh { response, body } => {
            assert_eq!(body, b"body v1");
            assert_eq!(response.headers.get("age").unwrap(), "30");
        }
        other => panic!("{other:?}"),
    }
    let revalidation = match c.lookup_at(&key, &req, at(61)).unwrap() {
        CacheLookup::Stale { request } => request,
        other => panic!("{other:?}"),
    };
    assert_eq!(revalidation.headers.get("if-none-match").unwrap(), "\"v1\"");
    let not_modified = http::Response::builder()
        .status(304)
        .header("cache-control", "max-age=60")
        .header("etag", "\"v1\"")
        .body(())
        .unwrap();
    let (parts, body) = c
        .revalidated_at(&key, &req, &not_modified, at(62))
        .unwrap()
        .expect("304 reuses the body");
    assert_eq!(body, b"body v1");
    assert_eq!(parts.status, 200);
    assert!(
        matches!(
            c.lookup_at(&key, &req, at(100)).unwrap(),
            CacheLookup::Fresh { .. }
        ),
        "fresh again after the 304"
    );
    let modified = res(&[("cache-control", "max-age=60")]);
    assert!(
        c.revalidated_at(&key, &req, &modified, at(200))
            .unwrap()
            .is_none()
    );
}

#[test]
fn vary_must_match() {
    let c = memory(1 << 20);
    let key = CacheKey::new("https://a.test/page");
    let fr = http::Request::get("https://a.test/page")
        .header("accept-language", "fr")
        .body(())
        .unwrap();
    let en = http::Request::get("https://a.test/page")
        .header("accept-language", "en")
        .body(())
        .unwrap();
    c.store_at(
        &key,
        &fr,
        &res(&[("cache-control", "max-age=60"), ("vary", "accept-language")]),
        b"bonjour",
        at(0),
    )
    .unwrap();
    assert!(matches!(
        c.lookup_at(&key, &fr, at(1)).unwrap(),
        CacheLookup::Fresh { .. }
    ));
    assert!(matches!(
        c.lookup_at(&key, &en, at(1)).unwrap(),
        CacheLookup::Miss
    ));
}

#[test]
fn the_split_cache_keeps_top_frame_sites_apart() {
    let c = memory(1 << 20);
    let req = get("https://cdn.test/lib.js");
    let a = CacheKey {
        url: "https://cdn.test/lib.js".into(),
        top_frame_site: Some("https://a.test".into()),
    };
    let b = CacheKey {
        url: "https://cdn.test/lib.js".into(),
        top_frame_site: Some("https://b.test".into()),
    };
    c.store_at(
        &a,
        &req,
        &res(&[("cache-control", "max-age=60")]),
        b"for a",
        at(0),
    )
    .unwrap();
    assert!(matches!(
        c.lookup_at(&a, &req, at(1)).unwrap(),
        CacheLookup::Fresh { .. }
    ));
    assert!(matches!(
        c.lookup_at(&b, &req, at(1)).unwrap(),
        CacheLookup::Miss
    ));
    assert!(matches!(
        c.lookup_at(&CacheKey::new("https://cdn.test/lib.js"), &req, at(1))
            .unwrap(),
        CacheLookup::Miss
    ));
}

#[test]
fn the_size_cap_evicts_least_recently_used() {
    let c = memory(10_000);
    let body = vec![b'x'; 2_000];
    for i in 0..4 {
        let url = format!("https://a.test/{i}");
        c.store_at(
            &CacheKey::new(&url),
            &get(&url),
            &res(&[("cache-control", "max-age=600")]),
            &body,
            at(i),
        )
        .unwrap();
    }
    // Use entry 0, so entry 1 is now the least recently used.
    assert!(matches!(
        c.lookup_at(
            &CacheKey::new("https://a.test/0"),
            &get("https://a.test/0"),
            at(10)
        )
        .unwrap(),
        CacheLookup::Fresh { .. }
    ));
    c.store_at(
        &CacheKey::new("https://a.test/4"),
        &get("https://a.test/4"),
        &res(&[("cache-control", "max-age=600")]),
        &body,
        at(11),
    )
    .unwrap();
    assert!(c.size() <= 10_000, "{}", c.size());
    let present = |i: u64| {
        matches!(
            c.lookup_at(
                &CacheKey::new(format!("https://a.test/{i}")),
                &get(&format!("https://a.test/{i}")),
                at(12)
            )
            .unwrap(),
            CacheLookup::Fresh { .. }
        )
    };
    assert!(present(0));
    assert!(!present(1), "the least recently used entry went first");
    assert!(present(4));
    // A response bigger than the whole cache is not stored.
    assert!(
        !c.store_at(
            &CacheKey::new("https://a.test/big"),
            &get("https://a.test/big"),
            &res(&[("cache-control", "max-age=600")]),
            &vec![0; 20_000],
            at(13)
        )
        .unwrap()
    );
}

#[test]
fn size_counts_bytes_and_clear_empties() {
    let c = memory(1 << 20);
    assert_eq!(c.size(), 0);
    c.store_at(
        &CacheKey::new("https://a.test/"),
        &get("https://a.test/"),
        &res(&[("cache-control", "max-age=60")]),
        &[0; 1000],
        at(0),
    )
    .unwrap();
    assert!(c.size() >= 1000 && c.size() < 3000, "{}", c.size());
    c.clear().unwrap();
    assert_eq!(c.size(), 0);
    assert!(c.is_empty());
}

#[test]
fn bodies_live_in_files_and_survive_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let cache_dir = dir.path().join("Cache");
    let key = CacheKey::new("https://a.test/logo.png");
    let far = SystemTime::now();
    {
        let backend = Arc::new(SledBackend::open(dir.path().join("db")).unwrap());
        let c = HttpCache::open(
            backend,
            Some(cache_dir.clone()),
            HttpCacheOptions::default(),
        )
        .unwrap();
        c.store_at(
            &key,
            &get("https://a.test/logo.png"),
            &res(&[("cache-control", "max-age=3600")]),
            b"PNG...",
            far,
        )
        .unwrap();
        c.flush().unwrap();
        assert_eq!(
            std::fs::read_dir(&cache_dir).unwrap().count(),
            1,
            "one body file"
        );
    }
    // A stray file is cleaned up on opening.
    std::fs::write(cache_dir.join("stray"), b"junk").unwrap();
    let backend = Arc::new(SledBackend::open(dir.path().join("db")).unwrap());
    let c = HttpCache::open(
        backend,
        Some(cache_dir.clone()),
        HttpCacheOptions::default(),
    )
    .unwrap();
    match c
        .lookup_at(
            &key,
            &get("https://a.test/logo.png"),
            far + Duration::from_secs(5),
        )
        .unwrap()
    {
        CacheLookup::Fresh { body, .. } => assert_eq!(body, b"PNG..."),
        other => panic!("{other:?}"),
    }
    assert!(!cache_dir.join("stray").exists());
    c.clear().unwrap();
    assert_eq!(
        std::fs::read_dir(&cache_dir).unwrap().count(),
        0,
        "clear removes the files"
    );
}

#[test]
fn a_disabled_cache_stores_nothing() {
    let c = HttpCache::open(
        Arc::new(MemoryBackend::new()),
        None,
        HttpCacheOptions {
            enabled: false,
            ..Default::default()
        },
    )
    .unwrap();
    assert!(
        !c.store_at(
            &CacheKey::new("https://a.test/"),
            &get("https://a.test/"),
            &res(&[("cache-control", "max-age=60")]),
            b"x",
            at(0)
        )
        .unwrap()
    );
    assert_eq!(c.size(), 0);
}
