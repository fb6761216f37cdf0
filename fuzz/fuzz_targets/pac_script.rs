//! Any script text loads or fails cleanly, and a loaded one answers or
//! fails cleanly, within its limits.
#![no_main]

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use sesh_proxy_rules::{DnsOp, HostResolver, PacOptions, PacScript, Url};

/// No real DNS while fuzzing: every name fails to resolve.
struct NoDns;

impl HostResolver for NoDns {
    fn resolve(&self, _host: &str, _op: DnsOp) -> Option<Vec<IpAddr>> {
        None
    }
}

fuzz_target!(|script: &str| {
    let options = PacOptions {
        load_timeout: Duration::from_millis(50),
        call_timeout: Duration::from_millis(50),
        memory_limit: 8 << 20,
        resolver: Arc::new(NoDns),
        ..PacOptions::default()
    };
    if let Ok(pac) = PacScript::load(script, options) {
        let _ = pac.find_proxy(&Url::parse("http://fuzz.example/x?y").expect("valid"));
    }
});
