//! After `flush` returns, a process killed with SIGKILL loses nothing.
//!
//! The test runs its own binary again as a child that writes, flushes, says
//! so on stdout and then waits to be killed; the parent kills it with
//! SIGKILL at once and reopens the store.

use sesh_storage::{Backend, SledBackend};
use sesh_test_support::run_child_until;

const CHILD_ENV: &str = "SESH_STORAGE_DURABILITY_CHILD_DB";
const KEYS: u32 = 5_000;

#[test]
fn flushed_writes_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let (flushed, status) = run_child_until(
        "durability::child_writes_flushes_and_waits",
        (CHILD_ENV, &path),
        "FLUSHED",
    );
    assert!(flushed, "the child never reported its flush ({status})");
    assert!(!status.success(), "the child ended by itself ({status})");

    let db = SledBackend::open(&path).unwrap();
    assert_eq!(db.len("t").unwrap(), KEYS as usize);
    for i in [0, KEYS / 2, KEYS - 1] {
        assert_eq!(
            db.get("t", &i.to_be_bytes()).unwrap(),
            Some(format!("value {i}").into_bytes())
        );
    }
}

/// The child half of `flushed_writes_survive_sigkill`, which runs it.
#[test]
#[ignore = "run as a child process by flushed_writes_survive_sigkill"]
fn child_writes_flushes_and_waits() {
    let path = std::env::var_os(CHILD_ENV).expect("run by flushed_writes_survive_sigkill");
    let db = SledBackend::open(path).unwrap();
    for i in 0..KEYS {
        db.insert("t", &i.to_be_bytes(), format!("value {i}").as_bytes())
            .unwrap();
    }
    db.flush().unwrap();
    println!("FLUSHED");
    std::thread::sleep(std::time::Duration::from_secs(60));
    panic!("not killed within a minute");
}

const COOKIE_CHILD_ENV: &str = "SESH_STORAGE_COOKIE_CHILD_DB";

#[test]
fn flushed_cookies_survive_sigkill() {
    use sesh_storage::cookies::{CookieJar, CookieOptions};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let (flushed, status) = run_child_until(
        "durability::cookie_child_sets_flushes_and_waits",
        (COOKIE_CHILD_ENV, &path),
        "FLUSHED",
    );
    assert!(flushed, "the child never reported its flush ({status})");
    let jar = CookieJar::open(std::sync::Arc::new(SledBackend::open(&path).unwrap())).unwrap();
    assert_eq!(
        jar.len(),
        100,
        "fewer than 100 persistent cookies came back"
    );
    let url = url::Url::parse("https://site7.test/").unwrap();
    assert_eq!(jar.cookie_header(&url, CookieOptions::default()), "c7=7");
}

/// The child half of `flushed_cookies_survive_sigkill`, which runs it.
#[test]
#[ignore = "run as a child process by flushed_cookies_survive_sigkill"]
fn cookie_child_sets_flushes_and_waits() {
    use sesh_storage::cookies::CookieJar;
    let path = std::env::var_os(COOKIE_CHILD_ENV).expect("run by flushed_cookies_survive_sigkill");
    let jar = CookieJar::open(std::sync::Arc::new(SledBackend::open(path).unwrap())).unwrap();
    for i in 0..100 {
        let url = url::Url::parse(&format!("https://site{i}.test/")).unwrap();
        jar.set_from_header(&url, &format!("c{i}={i}; Max-Age=86400"))
            .unwrap();
        jar.set_from_header(&url, &format!("s{i}=session")).unwrap();
    }
    jar.flush_store().unwrap();
    println!("FLUSHED");
    std::thread::sleep(std::time::Duration::from_secs(60));
    panic!("not killed within a minute");
}

/// Opening a database whose lock is still held (sled's threads let go of it
/// shortly after the last handle of this process is dropped) waits for it
/// rather than failing.
#[test]
fn opening_waits_for_a_lock_released_shortly_after() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let first = SledBackend::open(&path).unwrap();
    first.insert("t", b"k", b"v").unwrap();
    first.flush().unwrap();
    let holder = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(300));
        drop(first);
    });
    let second = SledBackend::open(&path).unwrap();
    holder.join().unwrap();
    assert_eq!(second.get("t", b"k").unwrap().as_deref(), Some(&b"v"[..]));
}
