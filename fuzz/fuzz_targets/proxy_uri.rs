//! Proxy URIs parse without panicking, and a parsed proxy's URI form parses
//! back to the same proxy.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sesh_proxy_rules::{ProxyScheme, ProxyServer};

fuzz_target!(|uri: &str| {
    for default in [ProxyScheme::Http, ProxyScheme::Socks4] {
        if let Ok(server) = ProxyServer::parse_uri(uri, default, true) {
            let again = ProxyServer::parse_uri(&server.to_uri(), ProxyScheme::Http, true);
            assert_eq!(again.as_ref(), Ok(&server), "{uri:?} → {}", server.to_uri());
            let _ = ProxyServer::parse_pac_element(&server.to_string());
        }
    }
});
