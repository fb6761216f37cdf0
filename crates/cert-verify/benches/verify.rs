//! Certificate verification, cold (default verification of a chain) and
//! warm (a cached verdict); and the client's key shares: what a ClientHello
//! with X25519MLKEM768 costs to make (aws-lc's, what sesh sends), against
//! X25519 alone on aws-lc and on ring, and a whole X25519 exchange on each.
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

fn key_shares(c: &mut Criterion) {
    use rustls::crypto::{aws_lc_rs, ring};
    use sesh_cert_verify::kx::X25519MLKEM768;

    let mut group = c.benchmark_group("key_share");
    group.bench_function("x25519mlkem768_client_share", |b| {
        b.iter(|| X25519MLKEM768.start().unwrap())
    });
    group.bench_function("x25519_client_share", |b| {
        b.iter(|| aws_lc_rs::kx_group::X25519.start().unwrap())
    });
    group.bench_function("x25519_client_share_ring", |b| {
        b.iter(|| ring::kx_group::X25519.start().unwrap())
    });
    let server = ring::kx_group::X25519.start().unwrap();
    let peer = server.pub_key().to_vec();
    group.bench_function("x25519_exchange", |b| {
        b.iter(|| {
            let share = aws_lc_rs::kx_group::X25519.start().unwrap();
            share.complete(&peer).unwrap()
        })
    });
    group.bench_function("x25519_exchange_ring", |b| {
        b.iter(|| {
            let share = ring::kx_group::X25519.start().unwrap();
            share.complete(&peer).unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, bench, key_shares);
criterion_main!(benches);
