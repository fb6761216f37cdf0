//! The PAC engine and the resolver beyond the conformance vectors: limits,
//! sandbox, threads, fallbacks, system mode and error reporting.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sesh_proxy_rules::{
    BypassRules, Error, LocalFetcher, PacOptions, PacScript, ProxyConfig, ProxyMode, ProxyResolver,
    ProxyRules, Url,
};

use crate::support::{Alerts, FakeResolver};

fn url(s: &str) -> Url {
    Url::parse(s).unwrap()
}

fn quick_limits() -> PacOptions {
    PacOptions {
        call_timeout: Duration::from_millis(200),
        load_timeout: Duration::from_millis(300),
        memory_limit: 16 << 20,
        ..PacOptions::default()
    }
}

#[test]
fn an_endless_call_is_stopped_and_the_script_stays_usable() {
    let pac = PacScript::load(
        r#"function FindProxyForURL(url, host) {
             if (host == "loop") { while (true) {} }
             return "PROXY ok:1";
           }"#,
        quick_limits(),
    )
    .unwrap();
    let started = Instant::now();
    let err = pac.find_proxy(&url("http://loop/")).unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert!(
        matches!(&err, Error::PacResolve { message, .. } if message.contains("time limit")),
        "{err:?}"
    );
    assert_eq!(pac.find_proxy(&url("http://fine/")).unwrap(), "PROXY ok:1");
}

#[test]
fn an_endless_load_is_stopped() {
    let err = PacScript::load("while (true) {}", quick_limits()).unwrap_err();
    assert!(
        matches!(&err, Error::PacLoad { message } if message.contains("time limit")),
        "{err:?}"
    );
}

#[test]
fn a_memory_bomb_is_stopped() {
    let pac = PacScript::load(
        r#"var hoard = [];
           function FindProxyForURL(url, host) {
             while (true) { hoard.push(new Array(100000).fill(host)); }
           }"#,
        PacOptions {
            call_timeout: Duration::from_secs(20),
            ..quick_limits()
        },
    )
    .unwrap();
    let err = pac.find_proxy(&url("http://bomb/")).unwrap_err();
    assert!(
        matches!(&err, Error::PacResolve { message, .. } if message.contains("memory")),
        "{err:?}"
    );
}

#[test]
fn the_sandbox_has_no_file_network_or_module_access() {
    let pac = PacScript::load(
        r#"function FindProxyForURL(url, host) {
             var names = ["require", "process", "std", "os", "fetch", "XMLHttpRequest",
                          "WebAssembly", "Deno", "Bun", "module", "importScripts"];
             var present = names.filter(function (n) { return typeof globalThis[n] != "undefined"; });
             var imported = "no";
             try { import("os").then(function () { imported = "yes"; }); } catch (e) {}
             return "PROXY " + (present.length ? present.join("-") : "none") + ":" + (imported == "no" ? 1 : 2);
           }"#,
        PacOptions::default(),
    )
    .unwrap();
    assert_eq!(pac.find_proxy(&url("http://x/")).unwrap(), "PROXY none:1");
}

#[test]
fn one_script_serves_many_threads() {
    let pac = Arc::new(
        PacScript::load(
            r#"function FindProxyForURL(url, host) {
                 if (dnsDomainIs(host, ".corp")) return "PROXY corp:3128";
                 return "PROXY " + host + ":80";
               }"#,
            PacOptions::default(),
        )
        .unwrap(),
    );
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let pac = pac.clone();
            std::thread::spawn(move || {
                for i in 0..200 {
                    let host = format!("h{t}-{i}.example");
                    let answer = pac.find_proxy(&url(&format!("http://{host}/"))).unwrap();
                    assert_eq!(answer, format!("PROXY {host}:80"));
                    assert_eq!(
                        pac.find_proxy(&url("http://a.corp/")).unwrap(),
                        "PROXY corp:3128"
                    );
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

#[test]
fn helpers_resolve_names_through_the_resolver() {
    let resolver = Arc::new(FakeResolver::map(&[
        ("intranet.corp", "10.1.2.3"),
        ("www.example.com", "93.184.216.34"),
    ]));
    let pac = PacScript::load(
        r#"function FindProxyForURL(url, host) {
             if (isInNet(host, "10.0.0.0", "255.0.0.0")) return "PROXY inside:8080";
             if (isResolvable(host)) return "PROXY outside:8080";
             return "DIRECT";
           }"#,
        PacOptions {
            resolver: resolver.clone(),
            ..PacOptions::default()
        },
    )
    .unwrap();
    assert_eq!(
        pac.find_proxy(&url("http://intranet.corp/")).unwrap(),
        "PROXY inside:8080"
    );
    assert_eq!(
        pac.find_proxy(&url("http://www.example.com/")).unwrap(),
        "PROXY outside:8080"
    );
    assert_eq!(
        pac.find_proxy(&url("http://nowhere.test/")).unwrap(),
        "DIRECT"
    );
    assert!(
        resolver
            .queries
            .lock()
            .unwrap()
            .contains(&"nowhere.test".to_owned())
    );
}

#[test]
fn sh_exp_match_keeps_its_regular_expression_semantics() {
    let pac = PacScript::load(
        r#"function FindProxyForURL(url, host) {
             var r = [shExpMatch("b", "[abc]"), shExpMatch("a+b", "a+b"), shExpMatch("aab", "a+b"),
                      shExpMatch("x.y", "x?y"), shExpMatch("xzy", "x.y"), shExpMatch("a\nb", "a*b")];
             if (host == "bad") shExpMatch("x", "(a");
             return "PROXY " + r.join("-") + ":1";
           }"#,
        PacOptions::default(),
    )
    .unwrap();
    assert_eq!(
        pac.find_proxy(&url("http://ok/")).unwrap(),
        "PROXY true-false-true-true-false-false:1"
    );
    let err = pac.find_proxy(&url("http://bad/")).unwrap_err();
    assert!(
        matches!(&err, Error::PacResolve { message, .. } if message.starts_with("Uncaught SyntaxError")),
        "{err:?}"
    );
}

#[test]
fn the_script_sees_ipv6_hosts_without_brackets() {
    let alerts = Arc::new(Alerts::default());
    let pac = PacScript::load(
        "function FindProxyForURL(url, host) { alert(url); alert(host); return 'DIRECT'; }",
        PacOptions {
            observer: alerts.clone(),
            ..PacOptions::default()
        },
    )
    .unwrap();
    pac.find_proxy(&url("http://[2001:db8::1]:8080/path#frag"))
        .unwrap();
    assert_eq!(
        *alerts.0.lock().unwrap(),
        ["http://[2001:db8::1]:8080/path", "2001:db8::1"]
    );
}

fn pac_file(text: &str) -> (tempfile_free::Dir, String) {
    let dir = tempfile_free::Dir::new();
    let path = dir.0.join("proxy.pac");
    std::fs::write(&path, text).unwrap();
    let url = Url::from_file_path(&path).unwrap().to_string();
    (dir, url)
}

/// A temporary directory without a dependency: removed on drop.
mod tempfile_free {
    pub struct Dir(pub std::path::PathBuf);

    impl Dir {
        pub fn new() -> Self {
            use std::sync::atomic::{AtomicU32, Ordering};
            static N: AtomicU32 = AtomicU32::new(0);
            let dir = std::env::temp_dir().join(format!(
                "sesh-proxy-test-{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ));
            std::fs::create_dir_all(&dir).unwrap();
            Dir(dir)
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

#[test]
fn a_failing_pac_script_falls_back_to_direct_with_the_error() {
    let alerts = Arc::new(Alerts::default());
    let (_dir, pac_url) = pac_file(
        "function FindProxyForURL(url, host) { alert('called ' + host); if (host == 'boom') throw new Error('boom'); return host == 'num' ? 42 : 'PROXY p:1'; }",
    );
    let resolver = ProxyResolver::new(Arc::new(LocalFetcher)).with_pac_options(PacOptions {
        observer: alerts.clone(),
        ..PacOptions::default()
    });
    resolver.set_proxy(ProxyConfig {
        pac_script: Some(pac_url),
        ..Default::default()
    });
    assert_eq!(resolver.config().effective_mode(), ProxyMode::PacScript);
    assert_eq!(
        resolver.resolve("http://fine/").unwrap().to_string(),
        "PROXY p:1"
    );
    let thrown = resolver.resolve("http://boom/").unwrap();
    assert_eq!(thrown.to_string(), "DIRECT");
    assert!(
        matches!(&thrown.error, Some(Error::PacResolve { message, .. }) if message.contains("boom")),
        "{thrown:?}"
    );
    let number = resolver.resolve("http://num/").unwrap();
    assert_eq!(number.to_string(), "DIRECT");
    assert!(number.error.is_some());
    // Loopback and link-local destinations never reach the script.
    for local in [
        "http://localhost/",
        "http://127.0.0.1:8080/",
        "http://[::1]/",
        "http://169.254.1.1/",
    ] {
        assert_eq!(resolver.resolve(local).unwrap().to_string(), "DIRECT");
    }
    let called: Vec<String> = alerts.0.lock().unwrap().clone();
    assert_eq!(called, ["called fine", "called boom", "called num"]);
}

#[test]
fn an_unloadable_pac_script_is_reported_and_direct_is_used() {
    let (_dir, pac_url) = pac_file("function FindProxyForURL(url, host) { return 'DIRECT';");
    let resolver = ProxyResolver::default();
    resolver.set_proxy(ProxyConfig {
        pac_script: Some(pac_url.clone()),
        ..Default::default()
    });
    assert!(
        matches!(resolver.pac_error(), Some(Error::PacLoad { .. })),
        "{:?}",
        resolver.pac_error()
    );
    let r = resolver.resolve("http://example.com/").unwrap();
    assert_eq!(r.to_string(), "DIRECT");
    assert!(r.error.is_some());

    resolver.set_proxy(ProxyConfig {
        pac_script: Some("file:///nonexistent/sesh/proxy.pac".into()),
        ..Default::default()
    });
    let err = resolver.pac_error().unwrap();
    assert!(
        err.to_string().contains("/nonexistent/sesh/proxy.pac"),
        "{err}"
    );
}

#[test]
fn reload_fetches_the_script_again() {
    let (dir, pac_url) = pac_file("function FindProxyForURL(u, h) { return 'PROXY one:1'; }");
    let resolver = ProxyResolver::default();
    resolver.set_proxy(ProxyConfig {
        pac_script: Some(pac_url),
        ..Default::default()
    });
    assert_eq!(
        resolver.resolve("http://x/").unwrap().to_string(),
        "PROXY one:1"
    );
    std::fs::write(
        dir.0.join("proxy.pac"),
        "function FindProxyForURL(u, h) { return 'PROXY two:2'; }",
    )
    .unwrap();
    assert_eq!(
        resolver.resolve("http://x/").unwrap().to_string(),
        "PROXY one:1"
    );
    resolver.reload();
    assert_eq!(
        resolver.resolve("http://x/").unwrap().to_string(),
        "PROXY two:2"
    );
}

fn env(vars: &[(&str, &str)]) -> sesh_proxy_rules::EnvReader {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Arc::new(move |name| map.get(name).cloned())
}

fn system(vars: &[(&str, &str)]) -> ProxyResolver {
    let resolver = ProxyResolver::default().with_env(env(vars));
    resolver.set_proxy(ProxyConfig {
        mode: Some(ProxyMode::System),
        ..Default::default()
    });
    resolver
}

#[test]
fn system_mode_reads_the_environment_like_chromium() {
    let answer = |r: &ProxyResolver, u: &str| r.resolve(u).unwrap().to_string();

    let r = system(&[
        ("http_proxy", "http://proxy:3128/"),
        ("HTTPS_PROXY", "sslproxy:3129"),
        ("no_proxy", "example.com,.internal"),
    ]);
    assert_eq!(answer(&r, "http://a.test/"), "PROXY proxy:3128");
    assert_eq!(answer(&r, "https://a.test/"), "PROXY sslproxy:3129");
    assert_eq!(
        answer(&r, "ftp://a.test/"),
        "DIRECT",
        "http_proxy is not used for other schemes"
    );
    assert_eq!(
        answer(&r, "http://www.example.com/"),
        "DIRECT",
        "no_proxy matches suffixes"
    );
    assert_eq!(
        answer(&r, "http://myexample.com/"),
        "DIRECT",
        "example.com is *example.com"
    );
    assert_eq!(answer(&r, "http://wiki.internal/"), "DIRECT");

    // Lower case wins over upper case.
    let r = system(&[("http_proxy", "lower:1"), ("HTTP_PROXY", "upper:2")]);
    assert_eq!(answer(&r, "http://a.test/"), "PROXY lower:1");

    // all_proxy covers every scheme and shadows the others.
    let r = system(&[("all_proxy", "socks5://s:1080"), ("http_proxy", "p:1")]);
    assert_eq!(answer(&r, "http://a.test/"), "SOCKS5 s:1080");
    assert_eq!(answer(&r, "wss://a.test/"), "SOCKS5 s:1080");

    // SOCKS_SERVER when nothing else is set; version 5 unless SOCKS_VERSION=4.
    let r = system(&[("SOCKS_SERVER", "socks.corp:1080")]);
    assert_eq!(answer(&r, "http://a.test/"), "SOCKS5 socks.corp:1080");
    let r = system(&[("SOCKS_SERVER", "socks.corp"), ("SOCKS_VERSION", "4")]);
    assert_eq!(answer(&r, "http://a.test/"), "SOCKS socks.corp:1080");

    // Nothing set: direct. Credentials are not supported: the entry is ignored.
    assert_eq!(answer(&system(&[]), "http://a.test/"), "DIRECT");
    assert_eq!(
        answer(
            &system(&[("http_proxy", "http://user:pw@proxy:3128")]),
            "http://a.test/"
        ),
        "DIRECT"
    );
}

#[test]
fn parse_errors_name_the_bad_token() {
    let (rules, errors) = ProxyRules::parse_with_errors("http=good:80,bad:99999,quic://q;crazy=x");
    assert_eq!(rules.apply(&url("http://a/")).to_string(), "PROXY good:80");
    let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(errors.len(), 3, "{text:?}");
    assert!(
        text[0].contains("\"bad:99999\"") && text[0].contains("out of range"),
        "{text:?}"
    );
    assert!(text[1].contains("quic://q"), "{text:?}");
    assert!(text[2].contains("crazy"), "{text:?}");

    let (bypass, errors) = BypassRules::parse_with_errors("ok.com, *.com:-1, ://, 10.0.0.0/33");
    assert_eq!(bypass.rules(), ["ok.com"]);
    let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(errors.len(), 3, "{text:?}");
    assert!(text[0].contains("*.com:-1"), "{text:?}");
    assert!(text[2].contains("10.0.0.0/33"), "{text:?}");
}

#[test]
fn resolution_never_panics_on_odd_input() {
    let inputs = [
        "",
        ";",
        "=",
        "==",
        ";;=;",
        "http=",
        "=foo",
        "http=,,,",
        "[",
        "[::1",
        "[::1]x",
        "a:b:c",
        "socks=socks5://",
        "\u{0}",
        "http://\u{1F980}",
        "x:-1",
        ":80",
        "*",
        "<local>",
        "http=[::1]:99999",
        "direct://x",
        "https://[fe80::1%25eth0]:1",
    ];
    let urls = [
        "http://a/",
        "ws://[::1]/",
        "ftp://x:1/",
        "data:,x",
        "file:///etc",
        "about:blank",
        "http://[::ffff:127.0.0.1]/",
    ];
    for rules in inputs {
        let resolver = ProxyResolver::default();
        resolver.set_proxy(ProxyConfig {
            proxy_rules: Some(rules.into()),
            proxy_bypass_rules: Some(rules.into()),
            ..Default::default()
        });
        for u in urls {
            let _ = resolver.resolve(u).unwrap();
        }
        let _ = sesh_proxy_rules::ProxyList::from_pac_string(rules);
    }
    assert!(ProxyResolver::default().resolve("not a url").is_err());
}

#[test]
fn mode_inference_and_names() {
    let both = ProxyConfig {
        pac_script: Some("data:,x".into()),
        proxy_rules: Some("foopy:80".into()),
        ..Default::default()
    };
    assert_eq!(both.effective_mode(), ProxyMode::PacScript, "PAC wins");
    let rules = ProxyConfig {
        proxy_rules: Some("foopy:80".into()),
        ..Default::default()
    };
    assert_eq!(rules.effective_mode(), ProxyMode::FixedServers);
    assert_eq!(ProxyConfig::default().effective_mode(), ProxyMode::Direct);
    let json: ProxyConfig =
        serde_json::from_str(r#"{"mode":"auto_detect","proxyBypassRules":"<local>"}"#).unwrap();
    assert_eq!(json.mode, Some(ProxyMode::AutoDetect));
    assert_eq!(json.proxy_bypass_rules.as_deref(), Some("<local>"));
    let err = serde_json::from_str::<ProxyConfig>(r#"{"mode":"bogus"}"#).unwrap_err();
    assert!(
        err.to_string().contains(
            "Invalid mode, must be one of direct, auto_detect, pac_script, fixed_servers or system"
        ),
        "{err}"
    );
}

#[test]
fn fixed_rules_answer_the_same_with_and_without_the_parsing_shortcut() {
    let bench =
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/bench/proxy");
    let read = |n: &str| std::fs::read_to_string(bench.join(n)).unwrap();
    let resolver = ProxyResolver::default();
    resolver.set_proxy(ProxyConfig {
        proxy_rules: Some(read("proxy_rules.txt").trim().to_owned()),
        proxy_bypass_rules: Some(
            read("bypass_rules.txt")
                .lines()
                .collect::<Vec<_>>()
                .join(","),
        ),
        ..Default::default()
    });
    let mut urls: Vec<String> = read("urls.txt").lines().map(str::to_owned).collect();
    urls.extend(
        [
            "http://127.1/",
            "http://0x7f.1/",
            "HTTP://Example.COM/",
            "http://[::1]:80/",
            "http://u@a.corp.local/",
            "wss://x.example.com:443/",
        ]
        .map(String::from),
    );
    let mut direct = 0;
    for u in &urls {
        let shortcut = resolver.resolve(u).unwrap().list;
        let full = resolver.resolve_url(&Url::parse(u).unwrap(), None).list;
        assert_eq!(shortcut, full, "{u}");
        direct += usize::from(full.servers()[0].is_direct());
    }
    assert!(
        direct > 0 && direct < urls.len(),
        "{direct} of {} direct",
        urls.len()
    );
}

/// Sets a GNOME proxy setting with the real `gsettings`, in a keyfile
/// backend under `dir` (so the machine's own settings are not touched).
fn gsettings_set(dir: &std::path::Path, schema: &str, key: &str, value: &str) {
    let status = std::process::Command::new("gsettings")
        .args(["set", schema, key, value])
        .env("GSETTINGS_BACKEND", "keyfile")
        .env("XDG_CONFIG_HOME", dir)
        .status()
        .expect("gsettings (Debian: libglib2.0-bin, gsettings-desktop-schemas) must be installed");
    assert!(status.success(), "gsettings set {schema} {key} {value}");
}

#[test]
fn system_mode_reads_gnome_proxy_settings_with_gsettings() {
    let dir = tempfile_free::Dir::new();
    let base = "org.gnome.system.proxy";
    gsettings_set(&dir.0, base, "mode", "manual");
    gsettings_set(&dir.0, &format!("{base}.http"), "host", "proxy.corp");
    gsettings_set(&dir.0, &format!("{base}.http"), "port", "3128");
    gsettings_set(&dir.0, &format!("{base}.https"), "host", "secure.corp");
    gsettings_set(&dir.0, &format!("{base}.socks"), "host", "socks.corp");
    gsettings_set(&dir.0, base, "ignore-hosts", "['*.corp', '10.0.0.0/8']");
    let reader = Arc::new(sesh_proxy_rules::GSettingsCommand::with_env(vec![
        ("GSETTINGS_BACKEND".into(), "keyfile".into()),
        ("XDG_CONFIG_HOME".into(), dir.0.display().to_string()),
    ]));
    let on = |desktop: &str| {
        let resolver = ProxyResolver::default()
            .with_env(env(&[
                ("XDG_CURRENT_DESKTOP", desktop),
                ("http_proxy", "from-env:1"),
            ]))
            .with_settings(reader.clone());
        resolver.set_proxy(ProxyConfig {
            mode: Some(ProxyMode::System),
            ..Default::default()
        });
        resolver
    };
    let answer = |r: &ProxyResolver, u: &str| r.resolve(u).unwrap().to_string();

    let gnome = on("ubuntu:GNOME");
    assert_eq!(
        answer(&gnome, "http://example.com/"),
        "PROXY proxy.corp:3128"
    );
    assert_eq!(
        answer(&gnome, "https://example.com/"),
        "PROXY secure.corp:80",
        "port 0 means the default"
    );
    assert_eq!(
        answer(&gnome, "ftp://example.com/"),
        "SOCKS5 socks.corp:1080",
        "SOCKS is the fallback"
    );
    assert_eq!(answer(&gnome, "http://wiki.corp/"), "DIRECT");
    assert_eq!(answer(&gnome, "http://10.1.2.3/"), "DIRECT");

    // Another desktop: the environment.
    assert_eq!(
        answer(&on("KDE"), "http://example.com/"),
        "PROXY from-env:1"
    );

    // Only a SOCKS proxy: used for every scheme.
    for scheme in ["http", "https"] {
        gsettings_set(&dir.0, &format!("{base}.{scheme}"), "host", "''");
    }
    assert_eq!(
        answer(&on("GNOME"), "http://example.com/"),
        "SOCKS5 socks.corp:1080"
    );

    // Automatic: a PAC path becomes a file: URL.
    let pac = dir.0.join("auto.pac");
    std::fs::write(
        &pac,
        "function FindProxyForURL(u, h) { return 'PROXY from-pac:8080'; }",
    )
    .unwrap();
    gsettings_set(&dir.0, base, "mode", "auto");
    gsettings_set(
        &dir.0,
        base,
        "autoconfig-url",
        &format!("'{}'", pac.display()),
    );
    assert_eq!(
        answer(&on("GNOME"), "http://example.com/"),
        "PROXY from-pac:8080"
    );

    // None: direct, whatever the environment says.
    gsettings_set(&dir.0, base, "mode", "none");
    assert_eq!(answer(&on("GNOME"), "http://example.com/"), "DIRECT");
}
