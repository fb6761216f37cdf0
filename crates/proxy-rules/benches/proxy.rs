//! `cargo xtask bench proxy`: the workloads of `shared/bench/proxy/`.
//!
//! - `pac_corp`: the corporate PAC script, loaded once, resolving 10,000
//!   URLs (URL parsing, implicit bypass and the script call included);
//!   `dnsResolve` answers from `lab_hosts.txt`, never real DNS.
//! - `fixed_100_bypass`: fixed rules with 100 bypass entries over the same
//!   URLs, URL parsing included.
//!
//! One iteration resolves all 10,000 URLs; `cargo xtask bench` divides.
#![allow(missing_docs)]

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use sesh_proxy_rules::{DnsOp, HostResolver, PacOptions, ProxyConfig, ProxyResolver, Url};

fn workload(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/bench/proxy")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

struct LabHosts(HashMap<String, IpAddr>);

impl HostResolver for LabHosts {
    fn resolve(&self, host: &str, op: DnsOp) -> Option<Vec<IpAddr>> {
        match op {
            DnsOp::MyIpAddress | DnsOp::MyIpAddressEx => Some(vec![IpAddr::from([127, 0, 0, 1])]),
            _ => self.0.get(host).map(|ip| vec![*ip]),
        }
    }
}

fn lab_hosts() -> LabHosts {
    LabHosts(
        workload("lab_hosts.txt")
            .lines()
            .filter_map(|l| {
                let mut parts = l.split_whitespace();
                Some((parts.next()?.to_owned(), parts.next()?.parse().ok()?))
            })
            .collect(),
    )
}

fn pac_file_url() -> String {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/bench/proxy/corp.pac");
    Url::from_file_path(std::path::absolute(path).unwrap())
        .unwrap()
        .to_string()
}

fn bench(c: &mut Criterion) {
    let urls: Vec<String> = workload("urls.txt").lines().map(str::to_owned).collect();

    let pac = ProxyResolver::default().with_pac_options(PacOptions {
        resolver: Arc::new(lab_hosts()),
        ..PacOptions::default()
    });
    pac.set_proxy(ProxyConfig {
        pac_script: Some(pac_file_url()),
        ..Default::default()
    });
    assert!(pac.pac_error().is_none(), "{:?}", pac.pac_error());

    let fixed = ProxyResolver::default();
    fixed.set_proxy(ProxyConfig {
        proxy_rules: Some(workload("proxy_rules.txt").trim().to_owned()),
        proxy_bypass_rules: Some(
            workload("bypass_rules.txt")
                .lines()
                .collect::<Vec<_>>()
                .join(","),
        ),
        ..Default::default()
    });

    let mut group = c.benchmark_group("proxy");
    group.sample_size(20);
    group.bench_function("pac_corp", |b| {
        b.iter(|| {
            for url in &urls {
                std::hint::black_box(pac.resolve(url).unwrap());
            }
        })
    });
    group.bench_function("fixed_100_bypass", |b| {
        b.iter(|| {
            for url in &urls {
                std::hint::black_box(fixed.resolve(url).unwrap());
            }
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
