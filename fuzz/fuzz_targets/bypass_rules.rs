//! `proxyBypassRules` parsing never panics, and the canonical form of a
//! rule list parses back to the same list.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sesh_proxy_rules::{BypassRules, Url};

const URLS: &[&str] = &[
    "http://a.example/",
    "https://10.1.2.3:8443/",
    "http://[fe80::1]/",
    "http://localhost/",
    "ftp://intranet/",
];

fuzz_target!(|rules: &str| {
    let parsed = BypassRules::parse(rules);
    let canonical = parsed.to_string();
    assert_eq!(
        BypassRules::parse(&canonical).rules(),
        parsed.rules(),
        "{canonical:?}"
    );
    for url in URLS {
        let _ = parsed.matches(&Url::parse(url).expect("valid"));
    }
});
