//! Certificate verification, cold (default verification of a chain) and
//! warm (a cached verdict).
#![allow(missing_docs)]

use criterion::{Criterion, criterion_group, criterion_main};
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use sesh_cert_verify::{CertVerifier, CertificateDer, UnixTime};

fn chain() -> (Vec<CertificateDer<'static>>, String) {
    let mut root_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    root_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let root_key = KeyPair::generate().unwrap();
    let root = root_params.self_signed(&root_key).unwrap();
    let mut mid_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    mid_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let mid_key = KeyPair::generate().unwrap();
    let mid = mid_params
        .signed_by(&mid_key, &Issuer::from_params(&root_params, &root_key))
        .unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["bench.test".to_string()])
        .unwrap()
        .signed_by(&leaf_key, &Issuer::from_params(&mid_params, &mid_key))
        .unwrap();
    (vec![leaf.der().clone(), mid.der().clone()], root.pem())
}

fn bench(c: &mut Criterion) {
    let (chain, root) = chain();
    let verifier = CertVerifier::without_system_roots();
    verifier.add_root_pem(&root).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("cert_verify");
    group.bench_function("cold_default_verification", |b| {
        b.iter(|| verifier.verify_default("bench.test", &chain, UnixTime::now()))
    });
    rt.block_on(verifier.verify("bench.test", &chain));
    group.bench_function("warm_cached_verdict", |b| {
        b.iter(|| rt.block_on(verifier.verify("bench.test", &chain)))
    });
    group.bench_function("runtime_block_on_alone", |b| {
        b.iter(|| rt.block_on(async { 1 }))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
