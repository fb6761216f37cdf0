//! Resume decisions, as Chromium's download code makes them.

use http::header::{HeaderMap, HeaderName, HeaderValue};
use http::{StatusCode, Version};
use sesh_downloads::{BodyStart, InterruptReason, Validators, check_response, resume_headers};

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (k, v) in pairs {
        map.append(
            HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    map
}

fn status(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap()
}

#[test]
fn only_strong_validators_are_kept() {
    let ok = StatusCode::OK;
    let v = Validators::from_response(ok, Version::HTTP_11, &headers(&[("etag", "\"abc\"")]));
    assert_eq!(v.etag, "\"abc\"");
    assert!(v.can_continue());
    // A weak ETag alone is not strong: nothing kept.
    let v = Validators::from_response(ok, Version::HTTP_11, &headers(&[("etag", "W/\"abc\"")]));
    assert_eq!(v, Validators::default());
    assert!(!v.can_continue());
    // Last-Modified is strong only a minute or more before Date.
    let old = headers(&[
        ("last-modified", "Sun, 22 Nov 2026 06:00:00 GMT"),
        ("date", "Sun, 22 Nov 2026 06:01:00 GMT"),
    ]);
    let v = Validators::from_response(ok, Version::HTTP_11, &old);
    assert_eq!(v.last_modified, "Sun, 22 Nov 2026 06:00:00 GMT");
    let fresh = headers(&[
        ("last-modified", "Sun, 22 Nov 2026 06:00:30 GMT"),
        ("date", "Sun, 22 Nov 2026 06:01:00 GMT"),
    ]);
    assert!(!Validators::from_response(ok, Version::HTTP_11, &fresh).can_continue());
    // HTTP/1.0 never has strong validators.
    let v = Validators::from_response(ok, Version::HTTP_10, &headers(&[("etag", "\"abc\"")]));
    assert!(!v.can_continue());
    // With a strong ETag, a weak-looking Last-Modified is kept too.
    let both = headers(&[("etag", "\"e\""), ("last-modified", "yesterday")]);
    let v = Validators::from_response(ok, Version::HTTP_11, &both);
    assert_eq!(
        (v.etag.as_str(), v.last_modified.as_str()),
        ("\"e\"", "yesterday")
    );
}

#[test]
fn accept_ranges_comes_from_the_header_or_a_206() {
    let v = Validators::from_response(
        StatusCode::OK,
        Version::HTTP_11,
        &headers(&[("accept-ranges", "none, Bytes")]),
    );
    assert!(v.accept_ranges);
    let v = Validators::from_response(
        StatusCode::OK,
        Version::HTTP_11,
        &headers(&[("accept-ranges", "none")]),
    );
    assert!(!v.accept_ranges);
    let v = Validators::from_response(
        StatusCode::PARTIAL_CONTENT,
        Version::HTTP_11,
        &headers(&[("content-range", "bytes 0-9/10")]),
    );
    assert!(v.accept_ranges);
}

#[test]
fn resume_requests_a_range_guarded_by_the_etag_else_last_modified() {
    let both = Validators {
        etag: "\"v1\"".into(),
        last_modified: "Sun, 22 Nov 2026 06:00:00 GMT".into(),
        accept_ranges: true,
    };
    let h = resume_headers(1000, &both);
    assert_eq!(h["range"], "bytes=1000-");
    assert_eq!(h["if-range"], "\"v1\"");
    let dated = Validators {
        etag: String::new(),
        ..both.clone()
    };
    assert_eq!(
        resume_headers(5, &dated)["if-range"],
        "Sun, 22 Nov 2026 06:00:00 GMT"
    );
    // Nothing to resume, or nothing to guard it with: a plain request.
    assert!(resume_headers(0, &both).is_empty());
    assert!(resume_headers(5, &Validators::default()).is_empty());
}

#[test]
fn responses_map_to_chromiums_interrupt_reasons() {
    let none = HeaderMap::new();
    for (code, reason) in [
        (204, InterruptReason::ServerBadContent),
        (205, InterruptReason::ServerBadContent),
        (404, InterruptReason::ServerBadContent),
        (416, InterruptReason::ServerNoRange),
        (401, InterruptReason::ServerUnauthorized),
        (407, InterruptReason::ServerUnauthorized),
        (403, InterruptReason::ServerForbidden),
        (500, InterruptReason::ServerFailed),
        (410, InterruptReason::ServerFailed),
    ] {
        assert_eq!(
            check_response(status(code), &none, 0),
            Err(reason),
            "{code}"
        );
        assert_eq!(
            check_response(status(code), &none, 7),
            Err(reason),
            "{code}"
        );
    }
    for code in [200, 201, 202, 203] {
        assert_eq!(
            check_response(status(code), &none, 0),
            Ok(BodyStart::FromZero)
        );
    }
    assert!(InterruptReason::ServerNoRange.restarts_from_zero());
    assert!(!InterruptReason::NetworkDisconnected.restarts_from_zero());
    assert_eq!(InterruptReason::ServerNoRange.value(), 31);
    assert_eq!(
        InterruptReason::NetworkDisconnected.to_string(),
        "NETWORK_DISCONNECTED"
    );
}

#[test]
fn a_resume_appends_only_the_range_asked_for() {
    let range = |v: &str| headers(&[("content-range", v)]);
    let partial = StatusCode::PARTIAL_CONTENT;
    assert_eq!(
        check_response(partial, &range("bytes 100-199/200"), 100),
        Ok(BodyStart::Append)
    );
    assert_eq!(
        check_response(partial, &range("bytes 100-199/*"), 100),
        Ok(BodyStart::Append)
    );
    // The resource changed (If-Range failed): the whole of it, from zero.
    assert_eq!(
        check_response(StatusCode::OK, &HeaderMap::new(), 100),
        Ok(BodyStart::FromZero)
    );
    for bad in [
        "bytes 0-199/200",
        "bytes 99-199/200",
        "bytes 100-99/200",
        "bytes 100-200/200",
        "items 100-199/200",
        "bytes 100-199",
        "garbage",
    ] {
        assert_eq!(
            check_response(partial, &range(bad), 100),
            Err(InterruptReason::ServerBadContent),
            "{bad}"
        );
    }
    assert_eq!(
        check_response(partial, &HeaderMap::new(), 100),
        Err(InterruptReason::ServerBadContent)
    );
    // A 206 nobody asked for.
    assert_eq!(
        check_response(partial, &range("bytes 0-9/10"), 0),
        Err(InterruptReason::ServerBadContent)
    );
}
