//! `proxyRules` parsing and resolution never panic, and what `parse`
//! keeps is what `parse_with_errors` keeps.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sesh_proxy_rules::{ProxyConfig, ProxyResolver, ProxyRules};

const URLS: &[&str] = &[
    "http://a.example/",
    "https://b.example:8443/",
    "ftp://c/",
    "ws://d/",
    "wss://[::1]/",
    "gopher://e/",
];

fuzz_target!(|rules: &str| {
    let (parsed, _errors) = ProxyRules::parse_with_errors(rules);
    assert_eq!(parsed, ProxyRules::parse(rules));
    let resolver = ProxyResolver::default();
    resolver.set_proxy(ProxyConfig {
        proxy_rules: Some(rules.to_owned()),
        ..Default::default()
    });
    for url in URLS {
        let answer = resolver.resolve(url).expect("the test URLs are valid");
        let _ = answer.to_string();
    }
});
