//! Property: no sequence of sets, removals and passing time leaves the jar
//! over its limits or with two cookies of the same name, domain and path.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use proptest::prelude::*;
use sesh_storage::MemoryBackend;
use sesh_storage::cookies::{CookieFilter, CookieJar, MAX_COOKIES, MAX_COOKIES_PER_KEY};
use url::Url;

#[derive(Debug, Clone)]
enum Op {
    Set {
        site: u8,
        sub: bool,
        name: u16,
        path: u8,
        max_age: Option<i16>,
        secure: bool,
        domain: bool,
    },
    Remove {
        site: u8,
        name: u16,
    },
    Advance(u16),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (0u8..3, any::<bool>(), 0u16..250, 0u8..3, proptest::option::of(-5i16..120), any::<bool>(), any::<bool>())
            .prop_map(|(site, sub, name, path, max_age, secure, domain)| Op::Set { site, sub, name, path, max_age, secure, domain }),
        1 => (0u8..3, 0u16..250).prop_map(|(site, name)| Op::Remove { site, name }),
        1 => (0u16..200).prop_map(Op::Advance),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, .. ProptestConfig::default() })]

    #[test]
    fn limits_and_uniqueness_hold(ops in proptest::collection::vec(op(), 1..600)) {
        let jar = CookieJar::open(Arc::new(MemoryBackend::new())).unwrap();
        let now = Arc::new(Mutex::new(SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000)));
        let clock = now.clone();
        jar.set_clock(move || *clock.lock().unwrap());
        for op in ops {
            match op {
                Op::Set { site, sub, name, path, max_age, secure, domain } => {
                    let host = if sub { format!("www.s{site}.test") } else { format!("s{site}.test") };
                    let url = Url::parse(&format!("https://{host}/")).unwrap();
                    let mut line = format!("n{name}=v; Path=/p{path}");
                    if let Some(age) = max_age { line.push_str(&format!("; Max-Age={age}")); }
                    if secure { line.push_str("; Secure"); }
                    if domain { line.push_str(&format!("; Domain=s{site}.test")); }
                    let _ = jar.set_from_header(&url, &line);
                }
                Op::Remove { site, name } => {
                    let url = Url::parse(&format!("https://s{site}.test/p0")).unwrap();
                    jar.remove(&url, &format!("n{name}"));
                }
                Op::Advance(secs) => *now.lock().unwrap() += Duration::from_secs(secs.into()),
            }
            prop_assert!(jar.len() <= MAX_COOKIES);
            let all = jar.get(&CookieFilter::default());
            let mut seen = HashSet::new();
            for c in &all {
                prop_assert!(seen.insert((c.name.clone(), c.domain.clone(), c.path.clone())), "duplicate {:?}", c);
            }
            for site in 0..3 {
                let per = all.iter().filter(|c| c.domain.trim_start_matches('.').ends_with(&format!("s{site}.test"))).count();
                prop_assert!(per <= MAX_COOKIES_PER_KEY, "{per} cookies for s{site}.test");
            }
        }
        jar.purge_expired();
        prop_assert_eq!(jar.len(), jar.get(&CookieFilter::default()).len());
    }
}
