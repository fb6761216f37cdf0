//! `setProxy`, `resolveProxy` and `forceReloadProxyConfig` on a session.

use sesh_core::proxy::{ProxyConfig, ProxyMode, ProxyResolver};
use sesh_core::{Error, PartitionOptions};

use crate::fresh;

fn rules(rules: &str, bypass: &str) -> ProxyConfig {
    ProxyConfig {
        proxy_rules: Some(rules.to_owned()),
        proxy_bypass_rules: Some(bypass.to_owned()),
        ..ProxyConfig::default()
    }
}

#[tokio::test]
async fn fixed_rules_apply_to_their_session_only() {
    let (_tmp, _ud, sessions) = fresh();
    let a = sessions
        .from_partition("a", PartitionOptions::default())
        .unwrap();
    let b = sessions
        .from_partition("b", PartitionOptions::default())
        .unwrap();
    a.set_proxy(rules("http=foopy:80;https=secure:443", "*.internal"))
        .await
        .unwrap();
    assert_eq!(
        a.resolve_proxy("http://example.com/").await.unwrap(),
        "PROXY foopy:80"
    );
    assert_eq!(
        a.resolve_proxy("https://example.com/").await.unwrap(),
        // The scheme before `=` picks URLs; the proxy itself speaks HTTP.
        "PROXY secure:443"
    );
    assert_eq!(
        a.resolve_proxy("http://db.internal/").await.unwrap(),
        "DIRECT"
    );
    // Loopback bypasses fixed proxies implicitly, as in Chromium.
    assert_eq!(
        a.resolve_proxy("http://127.0.0.1:8080/").await.unwrap(),
        "DIRECT"
    );
    // The other session still follows the system's settings, and the same
    // partition seen again keeps the rules.
    let system = ProxyResolver::default();
    system.set_proxy(ProxyConfig {
        mode: Some(ProxyMode::System),
        ..ProxyConfig::default()
    });
    assert_eq!(
        b.resolve_proxy("http://example.com/").await.unwrap(),
        system.resolve("http://example.com/").unwrap().to_string()
    );
    let again = sessions
        .from_partition("a", PartitionOptions::default())
        .unwrap();
    assert_eq!(
        again.resolve_proxy("http://example.com/").await.unwrap(),
        "PROXY foopy:80"
    );
}

#[tokio::test]
async fn a_url_that_does_not_parse_is_an_error_naming_it() {
    let (_tmp, _ud, sessions) = fresh();
    let ses = sessions.default_session().unwrap();
    let err = ses.resolve_proxy("not a url").await.unwrap_err();
    assert!(matches!(err, Error::Proxy(_)), "{err:?}");
    assert!(err.to_string().contains("not a url"), "{err}");
}

#[tokio::test]
async fn a_pac_file_is_read_again_on_force_reload() {
    let (tmp, _ud, sessions) = fresh();
    let ses = sessions.default_session().unwrap();
    let pac = tmp.path().join("proxy.pac");
    std::fs::write(
        &pac,
        r#"function FindProxyForURL(url, host) {
             return dnsDomainIs(host, ".example.com") ? "PROXY one:1; DIRECT" : "DIRECT";
           }"#,
    )
    .unwrap();
    let pac_url = url::Url::from_file_path(&pac).unwrap().to_string();
    ses.set_proxy(ProxyConfig {
        pac_script: Some(pac_url),
        ..ProxyConfig::default()
    })
    .await
    .unwrap();
    assert_eq!(
        ses.resolve_proxy("http://www.example.com/").await.unwrap(),
        "PROXY one:1;DIRECT"
    );
    assert_eq!(
        ses.resolve_proxy("http://other.org/").await.unwrap(),
        "DIRECT"
    );

    std::fs::write(
        &pac,
        r#"function FindProxyForURL(url, host) { return "SOCKS5 two:1080"; }"#,
    )
    .unwrap();
    // The script loaded is kept until the configuration is applied again.
    assert_eq!(
        ses.resolve_proxy("http://www.example.com/").await.unwrap(),
        "PROXY one:1;DIRECT"
    );
    ses.force_reload_proxy_config().await.unwrap();
    assert_eq!(
        ses.resolve_proxy("http://other.org/").await.unwrap(),
        "SOCKS5 two:1080"
    );
}

#[tokio::test]
async fn a_broken_pac_script_goes_direct_and_says_why() {
    let (tmp, _ud, sessions) = fresh();
    let ses = sessions.default_session().unwrap();
    let pac = tmp.path().join("broken.pac");
    std::fs::write(&pac, "function FindProxyForURL(url, host) { return ; ").unwrap();
    ses.set_proxy(ProxyConfig {
        pac_script: Some(url::Url::from_file_path(&pac).unwrap().to_string()),
        ..ProxyConfig::default()
    })
    .await
    .unwrap();
    let resolution = ses
        .resolve_proxy_detailed("http://example.com/")
        .await
        .unwrap();
    assert_eq!(resolution.to_string(), "DIRECT");
    assert!(resolution.error.is_some(), "{resolution:?}");
}

#[tokio::test]
async fn failed_proxies_go_last_until_their_time_is_up_or_a_force_reload() {
    use sesh_core::proxy::{ProxyScheme, ProxyServer};
    use std::time::Duration;

    let (_tmp, _ud, sessions) = fresh();
    let ses = sessions.default_session().unwrap();
    ses.set_proxy(rules("http=a:1,b:2,direct://", ""))
        .await
        .unwrap();
    let url = "http://example.com/";
    assert_eq!(
        ses.resolve_proxy(url).await.unwrap(),
        "PROXY a:1;PROXY b:2;DIRECT"
    );
    let a = ProxyServer::parse_uri("a:1", ProxyScheme::Http, false).unwrap();
    let b = ProxyServer::parse_uri("b:2", ProxyScheme::Http, false).unwrap();
    ses.proxy_retry_list()
        .mark_bad(&a, Duration::from_secs(300), true);
    assert_eq!(
        ses.resolve_proxy(url).await.unwrap(),
        "PROXY b:2;DIRECT;PROXY a:1"
    );
    // Not to be tried at all while bad.
    ses.proxy_retry_list()
        .mark_bad(&b, Duration::from_secs(300), false);
    assert_eq!(ses.resolve_proxy(url).await.unwrap(), "DIRECT;PROXY a:1");
    // A bad URL is still an error with marks in place.
    assert!(ses.resolve_proxy("not a url").await.is_err());
    // Other sessions keep their own list.
    let other = sessions
        .from_partition("other", PartitionOptions::default())
        .unwrap();
    other
        .set_proxy(rules("http=a:1,b:2,direct://", ""))
        .await
        .unwrap();
    assert_eq!(
        other.resolve_proxy(url).await.unwrap(),
        "PROXY a:1;PROXY b:2;DIRECT"
    );
    // forceReloadProxyConfig forgets the failures.
    ses.force_reload_proxy_config().await.unwrap();
    assert_eq!(
        ses.resolve_proxy(url).await.unwrap(),
        "PROXY a:1;PROXY b:2;DIRECT"
    );
    // And a mark ends by itself.
    ses.proxy_retry_list()
        .mark_bad(&a, Duration::from_millis(50), true);
    assert_eq!(
        ses.resolve_proxy(url).await.unwrap(),
        "PROXY b:2;DIRECT;PROXY a:1"
    );
    tokio::time::sleep(Duration::from_millis(120)).await;
    assert_eq!(
        ses.resolve_proxy(url).await.unwrap(),
        "PROXY a:1;PROXY b:2;DIRECT"
    );
}

#[test]
fn ntlm_credentials_go_only_to_the_listed_servers() {
    let (_tmp, _ud, sessions) = fresh();
    let ses = sessions.default_session().unwrap();
    let allowed = |u: &str| ses.ntlm_credentials_allowed(&u.parse().unwrap(), false);
    // Nothing by default, loopback included; proxies always.
    assert!(!allowed("http://intranet/"));
    assert!(!allowed("http://localhost/"));
    assert!(ses.ntlm_credentials_allowed(&"http://proxy/".parse().unwrap(), true));

    let errors = ses.allow_ntlm_credentials_for_domains("*example.com, intranet, ://nohost");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(allowed("https://www.example.com/"));
    assert!(allowed("https://example.com/"));
    assert!(allowed("http://intranet/"));
    assert!(!allowed("http://other.org/"));
    assert!(!allowed("http://localhost/"));

    ses.allow_ntlm_credentials_for_domains("*");
    assert!(allowed("http://anything.test/"));
    assert!(allowed("http://localhost/"));
}
