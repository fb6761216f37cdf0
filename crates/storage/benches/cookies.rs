//! `cargo xtask bench cookies`: the workload of `shared/bench/cookies/`,
//! through sesh's jar and through `cookie_store` (reqwest's jar), in the same
//! run: store 3,000 Set-Cookie values, then the Cookie header of 10,000
//! top-level GET navigations. The totals of both are written to
//! `target/bench-cookies/rust.json` for the xtask to compare.
#![allow(missing_docs)]

use std::path::PathBuf;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use sesh_storage::MemoryBackend;
use sesh_storage::cookies::{CookieJar, CookieOptions};
use url::Url;

struct Workload {
    sets: Vec<(Url, String)>,
    requests: Vec<Url>,
}

fn workload() -> Workload {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/bench/cookies/workload.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let sets = json["sets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                Url::parse(p[0].as_str().unwrap()).unwrap(),
                p[1].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let requests = json["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| Url::parse(u.as_str().unwrap()).unwrap())
        .collect();
    Workload { sets, requests }
}

fn sesh_jar(w: &Workload) -> CookieJar {
    let jar = CookieJar::open(Arc::new(MemoryBackend::new())).unwrap();
    for (url, line) in &w.sets {
        let _ = jar.set_from_header(url, line);
    }
    jar
}

fn peer_jar(w: &Workload) -> cookie_store::CookieStore {
    let mut store = cookie_store::CookieStore::default();
    for (url, line) in &w.sets {
        let _ = store.parse(line, url);
    }
    store
}

fn peer_header(store: &cookie_store::CookieStore, url: &Url) -> String {
    store
        .get_request_values(url)
        .map(|(n, v)| format!("{n}={v}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// (cookie pairs, header bytes) over all requests.
fn totals(headers: impl Iterator<Item = String>) -> (usize, usize) {
    headers.fold((0, 0), |(pairs, bytes), h| {
        let n = if h.is_empty() {
            0
        } else {
            h.split("; ").count()
        };
        (pairs + n, bytes + h.len())
    })
}

fn bench(c: &mut Criterion) {
    let w = workload();
    let jar = sesh_jar(&w);
    let store = peer_jar(&w);
    let ours = totals(
        w.requests
            .iter()
            .map(|u| jar.cookie_header(u, CookieOptions::default())),
    );
    let theirs = totals(w.requests.iter().map(|u| peer_header(&store, u)));
    let out = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/bench-cookies");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(
        out.join("rust.json"),
        serde_json::json!({
            "sesh": {"pairs": ours.0, "bytes": ours.1, "stored": jar.len()},
            "cookie_store": {"pairs": theirs.0, "bytes": theirs.1},
        })
        .to_string(),
    )
    .unwrap();

    let mut group = c.benchmark_group("cookies");
    group.sample_size(20);
    group.bench_function("sesh_store_3000", |b| b.iter(|| sesh_jar(&w)));
    group.bench_function("cookie_store_store_3000", |b| b.iter(|| peer_jar(&w)));
    group.bench_function("sesh_header_10000", |b| {
        b.iter(|| {
            for u in &w.requests {
                std::hint::black_box(jar.cookie_header(u, CookieOptions::default()));
            }
        })
    });
    group.bench_function("cookie_store_header_10000", |b| {
        b.iter(|| {
            for u in &w.requests {
                std::hint::black_box(peer_header(&store, u));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
