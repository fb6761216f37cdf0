//! The timed bad-proxy list.

use std::time::Duration;

use sesh_proxy_rules::{
    BadProxies, BadProxy, ProxyConfig, ProxyResolver, ProxyRetryList, ProxyScheme, ProxyServer, Url,
};

fn server(s: &str) -> ProxyServer {
    ProxyServer::parse_uri(s, ProxyScheme::Http, false).unwrap()
}

#[test]
fn a_mark_lasts_its_delay_and_a_later_expiry_wins() {
    let retry = ProxyRetryList::new();
    let a = server("a:1");
    assert!(retry.is_empty());
    retry.mark_bad(&a, Duration::from_secs(300), true);
    assert_eq!(
        retry.status(&a),
        Some(BadProxy {
            try_while_bad: true
        })
    );
    assert_eq!(retry.status(&server("b:1")), None);
    // A shorter mark does not shorten the one in place.
    retry.mark_bad(&a, Duration::from_millis(1), false);
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(
        retry.status(&a),
        Some(BadProxy {
            try_while_bad: true
        })
    );
    // A short mark on its own ends.
    let c = server("c:1");
    retry.mark_bad(&c, Duration::from_millis(30), false);
    assert_eq!(
        retry.status(&c),
        Some(BadProxy {
            try_while_bad: false
        })
    );
    std::thread::sleep(Duration::from_millis(60));
    assert_eq!(retry.status(&c), None);
    retry.clear();
    assert!(retry.is_empty());
}

#[test]
fn the_resolver_moves_marked_proxies_behind_the_good_ones() {
    let resolver = ProxyResolver::default();
    resolver.set_proxy(ProxyConfig {
        proxy_rules: Some("a:1,b:2,c:3".into()),
        ..ProxyConfig::default()
    });
    let retry = ProxyRetryList::new();
    retry.mark_bad(&server("a:1"), Duration::from_secs(60), true);
    retry.mark_bad(&server("c:3"), Duration::from_secs(60), false);
    let url = Url::parse("http://example.com/").unwrap();
    let answer = resolver.resolve_url(&url, Some(&retry));
    assert_eq!(answer.to_string(), "PROXY b:2;PROXY a:1");
    // When every proxy is bad the list is left as it is.
    retry.mark_bad(&server("b:2"), Duration::from_secs(60), true);
    let answer = resolver.resolve_url(&url, Some(&retry));
    assert_eq!(answer.to_string(), "PROXY a:1;PROXY b:2;PROXY c:3");
}
