//! The cookie jar: each Chromium rule it follows, and Electron's API.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use sesh_storage::cookies::{
    ChangeCause, CookieChange, CookieDetails, CookieError, CookieFilter, CookieJar, CookieOptions,
    SameSite, SiteContext,
};
use sesh_storage::{Backend, MemoryBackend, SledBackend};
use url::Url;

fn jar() -> CookieJar {
    CookieJar::open(Arc::new(MemoryBackend::new())).unwrap()
}

fn u(s: &str) -> Url {
    Url::parse(s).unwrap()
}

fn header(jar: &CookieJar, url: &str) -> String {
    jar.cookie_header(&u(url), CookieOptions::default())
}

fn events(jar: &CookieJar) -> Arc<Mutex<Vec<CookieChange>>> {
    let log: Arc<Mutex<Vec<CookieChange>>> = Arc::default();
    let l = log.clone();
    jar.set_change_listener(Some(move |c: &CookieChange| {
        l.lock().unwrap().push(c.clone())
    }));
    log
}

#[test]
fn host_only_and_domain_cookies() {
    let j = jar();
    j.set_from_header(&u("https://www.example.com/"), "host=1")
        .unwrap();
    j.set_from_header(&u("https://www.example.com/"), "dom=2; Domain=example.com")
        .unwrap();
    j.set_from_header(&u("https://www.example.com/"), "dot=3; Domain=.EXAMPLE.com")
        .unwrap();
    assert_eq!(
        header(&j, "https://www.example.com/"),
        "host=1; dom=2; dot=3"
    );
    assert_eq!(header(&j, "https://api.example.com/"), "dom=2; dot=3");
    assert_eq!(header(&j, "https://example.com/"), "dom=2; dot=3");
    assert_eq!(header(&j, "https://notexample.com/"), "");
    let all = j.get(&CookieFilter::default());
    let host = all.iter().find(|c| c.name == "host").unwrap();
    assert!(host.host_only);
    assert_eq!(host.domain, "www.example.com");
    let dom = all.iter().find(|c| c.name == "dom").unwrap();
    assert!(!dom.host_only);
    assert_eq!(dom.domain, ".example.com");
}

#[test]
fn domains_that_do_not_match_or_are_public_suffixes_are_refused() {
    let j = jar();
    let url = u("https://www.example.co.uk/");
    for (domain, why) in [
        ("co.uk", "public suffix"),
        ("uk", "public suffix"),
        ("other.co.uk", "domain-match"),
        ("ww.example.co.uk", "domain-match"),
    ] {
        let err = j
            .set_from_header(&url, &format!("a=b; Domain={domain}"))
            .unwrap_err();
        assert!(
            matches!(err, CookieError::InvalidDomain { .. }),
            "{domain}: {err:?}"
        );
        assert!(err.to_string().contains(why), "{domain}: {err}");
    }
    // An IP address host takes only itself, as a host cookie.
    j.set_from_header(&u("http://10.0.0.1/"), "ip=1; Domain=10.0.0.1")
        .unwrap();
    assert!(
        j.set_from_header(&u("http://10.0.0.1/"), "ip=2; Domain=0.0.1")
            .is_err()
    );
    assert_eq!(header(&j, "http://10.0.0.1/"), "ip=1");
    assert!(j.get(&CookieFilter::default())[0].host_only);
    assert!(!j.is_empty());
}

#[test]
fn paths_default_and_match() {
    let j = jar();
    j.set_from_header(&u("https://a.test/docs/guide/intro"), "d=1")
        .unwrap();
    j.set_from_header(&u("https://a.test/x"), "p=2; Path=/docs")
        .unwrap();
    j.set_from_header(&u("https://a.test/x"), "bad=3; Path=relative")
        .unwrap();
    let d = j.get(&CookieFilter {
        name: Some("d".into()),
        ..Default::default()
    });
    assert_eq!(d[0].path, "/docs/guide");
    let bad = j.get(&CookieFilter {
        name: Some("bad".into()),
        ..Default::default()
    });
    assert_eq!(
        bad[0].path, "/",
        "a path not starting with / gets the default path"
    );
    assert_eq!(header(&j, "https://a.test/docs/guide/x"), "d=1; p=2; bad=3");
    assert_eq!(header(&j, "https://a.test/docsx"), "bad=3");
}

#[test]
fn the_header_orders_longest_path_first_then_oldest() {
    let j = jar();
    let t = Arc::new(Mutex::new(
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
    ));
    let c = t.clone();
    j.set_clock(move || *c.lock().unwrap());
    for (line, step) in [
        ("a=1; Path=/", 1),
        ("b=2; Path=/x/y", 1),
        ("c=3; Path=/x", 1),
        ("d=4; Path=/", 1),
        ("=noname; Path=/x", 1),
    ] {
        j.set_from_header(&u("https://a.test/"), line).unwrap();
        *t.lock().unwrap() += Duration::from_secs(step);
    }
    assert_eq!(
        header(&j, "https://a.test/x/y/z"),
        "b=2; c=3; noname; a=1; d=4"
    );
}

#[test]
fn max_age_wins_over_expires_and_both_are_capped() {
    let j = jar();
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    j.set_clock(move || now);
    j.set_from_header(
        &u("https://a.test/"),
        "m=1; Max-Age=60; Expires=Wed, 21 Oct 2015 07:28:00 GMT",
    )
    .unwrap();
    j.set_from_header(
        &u("https://a.test/"),
        "e=2; Expires=Wed, 21 Oct 2099 07:28:00 GMT",
    )
    .unwrap();
    j.set_from_header(&u("https://a.test/"), "s=3").unwrap();
    let get = |n: &str| {
        j.get(&CookieFilter {
            name: Some(n.into()),
            ..Default::default()
        })
        .remove(0)
    };
    assert_eq!(get("m").expiration_date, Some(1_700_000_060.0));
    assert_eq!(
        get("e").expiration_date,
        Some(1_700_000_000.0 + 400.0 * 86_400.0),
        "capped at 400 days"
    );
    assert!(get("s").session);
    assert_eq!(get("s").expiration_date, None);
}

#[test]
fn a_past_expiry_deletes_the_existing_cookie() {
    let j = jar();
    let log = events(&j);
    j.set_from_header(&u("https://a.test/"), "k=v; Max-Age=100")
        .unwrap();
    j.set_from_header(
        &u("https://a.test/"),
        "k=gone; Expires=Thu, 01 Jan 1970 00:00:01 GMT",
    )
    .unwrap();
    assert_eq!(header(&j, "https://a.test/"), "");
    let log = log.lock().unwrap();
    assert_eq!(log.len(), 2);
    assert_eq!(
        (log[0].cause, log[0].removed),
        (ChangeCause::Explicit, false)
    );
    assert_eq!(
        (log[1].cause, log[1].removed),
        (ChangeCause::ExpiredOverwrite, true)
    );
    assert_eq!(log[1].cookie.value, "v");
    drop(log);
    j.set_from_header(&u("https://a.test/"), "z=1; Max-Age=-1")
        .unwrap();
    assert!(j.is_empty());
}

#[test]
fn an_overwrite_reports_both_cookies() {
    let j = jar();
    let log = events(&j);
    j.set_from_header(&u("https://a.test/"), "k=1").unwrap();
    j.set_from_header(&u("https://a.test/"), "k=2").unwrap();
    assert_eq!(header(&j, "https://a.test/"), "k=2");
    let log = log.lock().unwrap();
    let seen: Vec<(String, ChangeCause, bool)> = log
        .iter()
        .map(|c| (c.cookie.value.clone(), c.cause, c.removed))
        .collect();
    assert_eq!(
        seen,
        [
            ("1".into(), ChangeCause::Explicit, false),
            ("1".into(), ChangeCause::Overwrite, true),
            ("2".into(), ChangeCause::Explicit, false)
        ]
    );
    // The JSON of an event is Electron's.
    let json = serde_json::to_value(&log[1]).unwrap();
    assert_eq!(json["cause"], "overwrite");
    assert_eq!(json["cookie"]["hostOnly"], true);
    assert_eq!(json["cookie"]["sameSite"], "unspecified");
}

#[test]
fn secure_cookies_need_secure_urls_both_ways() {
    let j = jar();
    let err = j
        .set_from_header(&u("http://a.test/"), "s=1; Secure")
        .unwrap_err();
    assert_eq!(err, CookieError::SecureFromInsecureUrl);
    j.set_from_header(&u("https://a.test/"), "s=1; Secure")
        .unwrap();
    assert_eq!(header(&j, "https://a.test/"), "s=1");
    assert_eq!(header(&j, "wss://a.test/"), "s=1");
    assert_eq!(header(&j, "http://a.test/"), "");
    // An insecure URL cannot overwrite (or shadow) it.
    assert_eq!(
        j.set_from_header(&u("http://a.test/"), "s=2").unwrap_err(),
        CookieError::OverwriteSecure
    );
    // localhost counts as secure, as in Chromium.
    j.set_from_header(&u("http://localhost:8080/"), "l=1; Secure")
        .unwrap();
    assert_eq!(header(&j, "http://localhost:8080/"), "l=1");
}

#[test]
fn http_only_cookies_are_hidden_from_script_reads() {
    let j = jar();
    j.set_from_header(&u("https://a.test/"), "h=1; HttpOnly")
        .unwrap();
    j.set_from_header(&u("https://a.test/"), "p=2").unwrap();
    let script = CookieOptions {
        include_http_only: false,
        ..Default::default()
    };
    assert_eq!(j.cookie_header(&u("https://a.test/"), script), "p=2");
    assert_eq!(header(&j, "https://a.test/"), "h=1; p=2");
}

#[test]
fn same_site_follows_the_request_context() {
    let j = jar();
    for line in [
        "strict=1; SameSite=Strict",
        "lax=2; SameSite=Lax",
        "none=3; SameSite=None; Secure",
        "unspec=4",
    ] {
        j.set_from_header(&u("https://a.test/"), line).unwrap();
    }
    let with = |site| {
        j.cookie_header(
            &u("https://a.test/"),
            CookieOptions {
                site,
                include_http_only: true,
            },
        )
    };
    assert_eq!(
        with(SiteContext::SameSite),
        "strict=1; lax=2; none=3; unspec=4"
    );
    assert_eq!(
        with(SiteContext::CrossSiteTopLevel { safe_method: true }),
        "lax=2; none=3; unspec=4"
    );
    assert_eq!(
        with(SiteContext::CrossSiteTopLevel { safe_method: false }),
        "none=3"
    );
    assert_eq!(with(SiteContext::CrossSite), "none=3");
    assert_eq!(
        j.set_from_header(&u("https://a.test/"), "n=1; SameSite=None")
            .unwrap_err(),
        CookieError::SameSiteNoneWithoutSecure
    );
}

#[test]
fn prefixes() {
    let j = jar();
    let https = u("https://www.a.test/");
    assert!(j.set_from_header(&https, "__Secure-a=1").is_err());
    j.set_from_header(&https, "__Secure-a=1; Secure").unwrap();
    assert!(
        j.set_from_header(&https, "__Host-b=1; Secure").is_ok(),
        "the default path of / is /"
    );
    assert!(
        j.set_from_header(&u("https://www.a.test/dir/page"), "__Host-c=1; Secure")
            .is_err(),
        "default path /dir"
    );
    assert!(
        j.set_from_header(&https, "__Host-d=1; Secure; Path=/; Domain=a.test")
            .is_err()
    );
    assert!(j.set_from_header(&https, "__Host-e=1; Path=/").is_err());
    assert!(
        j.set_from_header(&u("http://www.a.test/"), "__Secure-f=1; Secure")
            .is_err()
    );
    assert!(
        j.set_from_header(&https, "__HOST-g=1").is_err(),
        "prefixes are matched case-insensitively"
    );
}

#[test]
fn per_domain_limits_evict_the_least_recently_used_non_secure_first() {
    let j = jar();
    let log = events(&j);
    let t = Arc::new(Mutex::new(
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
    ));
    let c = t.clone();
    j.set_clock(move || *c.lock().unwrap());
    // 10 secure cookies first (oldest), then 171 non-secure.
    for i in 0..10 {
        j.set_from_header(&u("https://a.test/"), &format!("s{i}=1; Secure"))
            .unwrap();
        *t.lock().unwrap() += Duration::from_secs(1);
    }
    for i in 0..171 {
        j.set_from_header(&u("https://a.test/"), &format!("n{i}=1"))
            .unwrap();
        *t.lock().unwrap() += Duration::from_secs(1);
    }
    assert_eq!(j.len(), 150);
    let names: Vec<String> = j
        .get(&CookieFilter::default())
        .into_iter()
        .map(|c| c.name)
        .collect();
    for i in 0..10 {
        assert!(
            names.contains(&format!("s{i}")),
            "secure s{i} was evicted before non-secure ones"
        );
    }
    assert!(
        !names.contains(&"n0".to_string()),
        "the oldest non-secure cookie stays"
    );
    assert!(names.contains(&"n170".to_string()));
    let evicted = log
        .lock()
        .unwrap()
        .iter()
        .filter(|c| c.cause == ChangeCause::Evicted)
        .count();
    assert_eq!(evicted, 31);
    // Another registrable domain is not touched.
    j.set_from_header(&u("https://b.test/"), "x=1").unwrap();
    assert_eq!(j.len(), 151);
}

#[test]
fn the_global_limit_holds() {
    let j = jar();
    for d in 0..34 {
        for i in 0..100 {
            j.set_from_header(&u(&format!("https://d{d}.test/")), &format!("c{i}=1"))
                .unwrap();
        }
    }
    // The 3301st cookie brings the jar down to 3000; 99 more follow.
    assert_eq!(j.len(), 3099);
}

#[test]
fn expired_cookies_disappear_when_met() {
    let j = jar();
    let log = events(&j);
    let t = Arc::new(Mutex::new(
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
    ));
    let c = t.clone();
    j.set_clock(move || *c.lock().unwrap());
    j.set_from_header(&u("https://a.test/"), "short=1; Max-Age=10")
        .unwrap();
    j.set_from_header(&u("https://b.test/"), "other=1; Max-Age=10")
        .unwrap();
    *t.lock().unwrap() += Duration::from_secs(11);
    assert_eq!(header(&j, "https://a.test/"), "");
    assert_eq!(j.len(), 1, "removed when met");
    j.purge_expired();
    assert!(j.is_empty(), "and by the periodic purge");
    assert_eq!(
        log.lock()
            .unwrap()
            .iter()
            .filter(|c| c.cause == ChangeCause::Expired)
            .count(),
        2
    );
}

#[test]
fn electron_get_filters() {
    let j = jar();
    j.set_from_header(
        &u("https://www.github.com/"),
        "a=1; Domain=github.com; Secure; HttpOnly; Max-Age=100",
    )
    .unwrap();
    j.set_from_header(&u("https://www.github.com/repo"), "b=2; Path=/repo")
        .unwrap();
    j.set_from_header(&u("https://gist.github.com/"), "c=3")
        .unwrap();
    j.set_from_header(&u("https://example.com/"), "d=4")
        .unwrap();
    let names =
        |f: CookieFilter| -> Vec<String> { j.get(&f).into_iter().map(|c| c.name).collect() };
    assert_eq!(
        names(CookieFilter {
            url: Some("https://www.github.com/repo".into()),
            ..Default::default()
        }),
        ["b", "a"]
    );
    assert_eq!(
        names(CookieFilter {
            url: Some("http://www.github.com/repo".into()),
            ..Default::default()
        }),
        ["b"]
    );
    let mut by_domain = names(CookieFilter {
        domain: Some("github.com".into()),
        ..Default::default()
    });
    by_domain.sort();
    assert_eq!(by_domain, ["a", "b", "c"]);
    assert_eq!(
        names(CookieFilter {
            domain: Some("www.github.com".into()),
            ..Default::default()
        }),
        ["b"]
    );
    assert_eq!(
        names(CookieFilter {
            path: Some("/repo".into()),
            ..Default::default()
        }),
        ["b"]
    );
    assert_eq!(
        names(CookieFilter {
            secure: Some(true),
            ..Default::default()
        }),
        ["a"]
    );
    assert_eq!(
        names(CookieFilter {
            http_only: Some(true),
            ..Default::default()
        }),
        ["a"]
    );
    assert_eq!(
        names(CookieFilter {
            session: Some(false),
            ..Default::default()
        }),
        ["a"]
    );
    assert_eq!(
        names(CookieFilter {
            name: Some("d".into()),
            ..Default::default()
        }),
        ["d"]
    );
    assert!(
        names(CookieFilter {
            name: Some("D".into()),
            ..Default::default()
        })
        .is_empty()
    );
}

#[test]
fn electron_set_defaults_and_failures() {
    let j = jar();
    j.set(&CookieDetails {
        url: "https://a.test/dir/page".into(),
        name: Some("n".into()),
        value: Some("v".into()),
        ..Default::default()
    })
    .unwrap();
    let c = j.get(&CookieFilter::default()).remove(0);
    assert_eq!(
        (
            c.same_site,
            c.secure,
            c.http_only,
            c.session,
            c.path.as_str()
        ),
        (SameSite::Lax, false, false, true, "/dir")
    );
    j.set(&CookieDetails {
        url: "https://a.test/".into(),
        name: Some("none".into()),
        same_site: Some(SameSite::NoRestriction),
        expiration_date: Some(4_102_444_800.5),
        ..Default::default()
    })
    .unwrap();
    let none = j
        .get(&CookieFilter {
            name: Some("none".into()),
            ..Default::default()
        })
        .remove(0);
    assert!(none.secure, "no_restriction makes secure the default");
    assert!(!none.session);

    // Each failing case names its cookie, so that only the rule in question fails.
    let err = |mut d: CookieDetails| {
        if d.name.is_none() && d.value.is_none() {
            d.name = Some("n".into());
        }
        j.set(&d).unwrap_err()
    };
    assert_eq!(
        err(CookieDetails::default()).to_string(),
        "Missing required option 'url'"
    );
    assert!(matches!(
        err(CookieDetails {
            url: "not a url".into(),
            ..Default::default()
        }),
        CookieError::InvalidUrl { .. }
    ));
    assert!(matches!(
        err(CookieDetails {
            url: "ftp://a.test/".into(),
            ..Default::default()
        }),
        CookieError::NonCookieableScheme { .. }
    ));
    assert_eq!(
        err(CookieDetails {
            url: "http://a.test/".into(),
            secure: Some(true),
            ..Default::default()
        }),
        CookieError::SecureFromInsecureUrl
    );
    assert_eq!(
        err(CookieDetails {
            url: "https://a.test/".into(),
            secure: Some(false),
            same_site: Some(SameSite::NoRestriction),
            ..Default::default()
        }),
        CookieError::SameSiteNoneWithoutSecure
    );
    assert!(matches!(
        err(CookieDetails {
            url: "https://a.test/".into(),
            domain: Some("com".into()),
            ..Default::default()
        }),
        CookieError::InvalidDomain { .. }
    ));
    assert!(matches!(
        err(CookieDetails {
            url: "https://a.test/".into(),
            path: Some("x".into()),
            ..Default::default()
        }),
        CookieError::InvalidPath { .. }
    ));
    assert!(matches!(
        err(CookieDetails {
            url: "https://a.test/".into(),
            value: Some("a;b".into()),
            ..Default::default()
        }),
        CookieError::Malformed { .. }
    ));
    let nameless = j
        .set(&CookieDetails {
            url: "https://a.test/".into(),
            ..Default::default()
        })
        .unwrap_err();
    assert!(
        nameless.to_string().starts_with("Failed to set cookie - "),
        "{nameless}"
    );
    assert!(
        nameless.to_string().contains("a name or a value"),
        "{nameless}"
    );
    // An HttpOnly cookie is overwritten only with HttpOnly access.
    j.set_from_header(&u("https://a.test/"), "h=1; HttpOnly")
        .unwrap();
    assert_eq!(
        err(CookieDetails {
            url: "https://a.test/".into(),
            name: Some("h".into()),
            ..Default::default()
        }),
        CookieError::OverwriteHttpOnly
    );
    j.set(&CookieDetails {
        url: "https://a.test/".into(),
        name: Some("h".into()),
        value: Some("2".into()),
        http_only: Some(true),
        ..Default::default()
    })
    .unwrap();
    // A zero expiration date is the epoch: already expired.
    j.set(&CookieDetails {
        url: "https://a.test/".into(),
        name: Some("z".into()),
        expiration_date: Some(0.0),
        ..Default::default()
    })
    .unwrap();
    assert!(
        j.get(&CookieFilter {
            name: Some("z".into()),
            ..Default::default()
        })
        .is_empty()
    );
}

#[test]
fn electron_remove() {
    let j = jar();
    j.set_from_header(&u("https://www.a.test/"), "k=1").unwrap();
    j.set_from_header(&u("https://www.a.test/"), "k=2; Domain=a.test")
        .unwrap();
    j.set_from_header(&u("https://www.a.test/"), "other=3")
        .unwrap();
    j.set_from_header(&u("https://b.test/"), "k=4").unwrap();
    assert_eq!(j.remove(&u("https://www.a.test/"), "k"), 2);
    assert_eq!(header(&j, "https://www.a.test/"), "other=3");
    assert_eq!(header(&j, "https://b.test/"), "k=4");
    assert_eq!(j.remove(&u("https://www.a.test/"), "nothing"), 0);
}

#[test]
fn persistent_cookies_survive_a_restart_and_session_cookies_do_not() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    {
        let j = CookieJar::open(Arc::new(SledBackend::open(&path).unwrap())).unwrap();
        j.set_from_header(&u("https://a.test/"), "kept=1; Max-Age=3600")
            .unwrap();
        j.set_from_header(&u("https://a.test/"), "session=2")
            .unwrap();
        j.set_from_header(&u("https://a.test/"), "gone=3; Max-Age=3600")
            .unwrap();
        j.remove(&u("https://a.test/"), "gone");
        j.flush_store().unwrap();
    }
    let backend = Arc::new(SledBackend::open(&path).unwrap());
    assert_eq!(
        backend.len("cookies").unwrap(),
        1,
        "only the persistent cookie is on disk"
    );
    let j = CookieJar::open(backend).unwrap();
    assert_eq!(header(&j, "https://a.test/"), "kept=1");
}

#[test]
fn an_in_memory_jar_writes_nothing() {
    let backend = Arc::new(MemoryBackend::new());
    let j = CookieJar::open(backend.clone()).unwrap();
    j.set_from_header(&u("https://a.test/"), "p=1; Max-Age=3600")
        .unwrap();
    j.flush_store().unwrap();
    assert!(backend.is_empty("cookies").unwrap());
}

#[test]
fn a_damaged_stored_cookie_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let backend = Arc::new(SledBackend::open(dir.path().join("db")).unwrap());
    backend.insert("cookies", b"x", b"not json").unwrap();
    let err = CookieJar::open(backend).unwrap_err();
    assert!(err.to_string().contains("cookie"), "{err}");
}

#[test]
fn batched_writes_reach_the_store_after_512_changes_or_30_seconds() {
    let dir = tempfile::tempdir().unwrap();
    let backend = Arc::new(SledBackend::open(dir.path().join("db")).unwrap());
    let j = CookieJar::open(backend.clone()).unwrap();
    let t = Arc::new(Mutex::new(
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
    ));
    let c = t.clone();
    j.set_clock(move || *c.lock().unwrap());
    j.set_from_header(&u("https://a.test/"), "p=1; Max-Age=3600")
        .unwrap();
    assert!(backend.is_empty("cookies").unwrap(), "one change waits");
    *t.lock().unwrap() += Duration::from_secs(29);
    j.tick().unwrap();
    assert!(
        backend.is_empty("cookies").unwrap(),
        "29 seconds is not yet 30"
    );
    *t.lock().unwrap() += Duration::from_secs(1);
    j.tick().unwrap();
    assert_eq!(
        backend.len("cookies").unwrap(),
        1,
        "written after 30 seconds"
    );
    for i in 0..511 {
        j.set_from_header(&u(&format!("https://s{i}.test/")), "q=1; Max-Age=3600")
            .unwrap();
    }
    assert_eq!(backend.len("cookies").unwrap(), 1, "511 changes wait");
    j.set_from_header(&u("https://last.test/"), "q=1; Max-Age=3600")
        .unwrap();
    assert_eq!(
        backend.len("cookies").unwrap(),
        513,
        "the 512th change writes the batch"
    );
}

#[test]
fn site_context_from_the_request() {
    let req = u("https://api.shop.test/cart");
    let same = u("https://www.shop.test/");
    let other = u("https://evil.test/");
    let http_same = u("http://www.shop.test/");
    assert_eq!(
        SiteContext::for_request(&req, Some(&same), false, "POST"),
        SiteContext::SameSite
    );
    assert_eq!(
        SiteContext::for_request(&req, None, false, "GET"),
        SiteContext::SameSite
    );
    assert_eq!(
        SiteContext::for_request(&req, Some(&other), true, "GET"),
        SiteContext::CrossSiteTopLevel { safe_method: true }
    );
    assert_eq!(
        SiteContext::for_request(&req, Some(&other), true, "post"),
        SiteContext::CrossSiteTopLevel { safe_method: false }
    );
    assert_eq!(
        SiteContext::for_request(&req, Some(&other), false, "GET"),
        SiteContext::CrossSite
    );
    assert_eq!(
        SiteContext::for_request(&req, Some(&http_same), false, "GET"),
        SiteContext::CrossSite,
        "schemeful: http and https differ"
    );
    assert_eq!(
        SiteContext::for_request(&u("wss://api.shop.test/s"), Some(&same), false, "GET"),
        SiteContext::SameSite
    );
}
