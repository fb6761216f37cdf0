//! `ses.webRequest`: hooks on every request of a session, in Electron's
//! order, with its details and answers.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};

use http::Method;
use sesh_core::net::Request;
use sesh_core::web_request::{
    BeforeRequestAction, BeforeSendHeadersAction, Headers, HeadersReceivedAction, ResourceType,
    WebRequestFilter,
};
use url::Url;

use crate::fresh;

/// Paths the server was asked for, in order.
type Seen = Arc<Mutex<Vec<String>>>;

/// A keep-alive server: `/redirect` → 302 to `/final`; `/cookie` sets one;
/// `/empty` answers 204; anything else answers its request head as the body.
fn server() -> (SocketAddr, Seen) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let seen: Seen = Arc::default();
    let log = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let log = log.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream);
                loop {
                    let mut head = String::new();
                    let mut first = String::new();
                    if reader.read_line(&mut first).unwrap_or(0) == 0 {
                        return;
                    }
                    head.push_str(&first);
                    let mut length = 0;
                    loop {
                        let mut line = String::new();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                            break;
                        }
                        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                            length = v.trim().parse().unwrap_or(0);
                        }
                        head.push_str(&line);
                    }
                    let mut body = vec![0; length];
                    let _ = reader.read_exact(&mut body);
                    let path = first.split_whitespace().nth(1).unwrap_or("/").to_owned();
                    log.lock().unwrap().push(path.clone());
                    let answer = match path.as_str() {
                        "/redirect" => {
                            "HTTP/1.1 302 Found\r\nLocation: /final\r\nContent-Length: 0\r\n\r\n"
                                .to_owned()
                        }
                        "/cookie" => {
                            "HTTP/1.1 200 OK\r\nSet-Cookie: kept=yes\r\nContent-Length: 2\r\n\r\nok"
                                .to_owned()
                        }
                        "/empty" => "HTTP/1.1 204 No Content\r\n\r\n".to_owned(),
                        _ => {
                            let text = format!("{head}\r\n{}", String::from_utf8_lossy(&body));
                            format!(
                                "HTTP/1.1 200 OK\r\nX-Server: yes\r\nContent-Length: {}\r\n\r\n{text}",
                                text.len()
                            )
                        }
                    };
                    if reader.get_mut().write_all(answer.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    (addr, seen)
}

fn url(addr: SocketAddr, path: &str) -> Url {
    Url::parse(&format!("http://{addr}{path}")).unwrap()
}

async fn text(session: &sesh_core::Session, request: Request) -> String {
    let body = session.fetch(request).await.unwrap().bytes().await.unwrap();
    String::from_utf8(body).unwrap()
}

/// What the listeners saw: (event, id, url).
type Trail = Arc<Mutex<Vec<(String, u64, String)>>>;

fn record_all(session: &sesh_core::Session) -> Trail {
    let trail: Trail = Arc::default();
    let web = session.web_request();
    let t = trail.clone();
    web.on_before_request(None, move |d| {
        t.lock()
            .unwrap()
            .push(("beforeRequest".into(), d.request.id, d.request.url.clone()));
        async { BeforeRequestAction::Continue }
    });
    let t = trail.clone();
    web.on_before_send_headers(None, move |d| {
        t.lock().unwrap().push((
            "beforeSendHeaders".into(),
            d.request.id,
            d.request.url.clone(),
        ));
        async { BeforeSendHeadersAction::Continue }
    });
    let t = trail.clone();
    web.on_send_headers(None, move |d| {
        t.lock()
            .unwrap()
            .push(("sendHeaders".into(), d.request.id, d.request.url.clone()));
    });
    let t = trail.clone();
    web.on_headers_received(None, move |d| {
        t.lock().unwrap().push((
            format!("headersReceived {}", d.response.status_code),
            d.request.id,
            d.request.url.clone(),
        ));
        async { HeadersReceivedAction::Continue }
    });
    let t = trail.clone();
    web.on_before_redirect(None, move |d| {
        t.lock().unwrap().push((
            format!("beforeRedirect {}", d.redirect_url),
            d.request.id,
            d.request.url.clone(),
        ));
    });
    let t = trail.clone();
    web.on_response_started(None, move |d| {
        t.lock().unwrap().push((
            "responseStarted".into(),
            d.request.id,
            d.request.url.clone(),
        ));
    });
    let t = trail.clone();
    web.on_completed(None, move |d| {
        t.lock().unwrap().push((
            format!("completed {}", d.error),
            d.request.id,
            d.request.url.clone(),
        ));
    });
    let t = trail.clone();
    web.on_error_occurred(None, move |d| {
        t.lock().unwrap().push((
            format!("errorOccurred {}", d.error),
            d.request.id,
            d.request.url.clone(),
        ));
    });
    trail
}

#[tokio::test]
async fn events_come_in_electrons_order_with_one_id_across_redirects() {
    let (_tmp, _, sessions) = fresh();
    let session = sessions
        .from_partition("order", Default::default())
        .unwrap();
    let (addr, _) = server();
    let trail = record_all(&session);
    text(&session, Request::get(url(addr, "/redirect"))).await;
    let events = trail.lock().unwrap().clone();
    let names: Vec<&str> = events.iter().map(|(n, _, _)| n.as_str()).collect();
    let final_url = url(addr, "/final").to_string();
    assert_eq!(
        names,
        [
            "beforeRequest",
            "beforeSendHeaders",
            "sendHeaders",
            "headersReceived 302",
            &format!("beforeRedirect {final_url}"),
            "beforeRequest",
            "beforeSendHeaders",
            "sendHeaders",
            "headersReceived 200",
            "responseStarted",
            "completed net::OK",
        ]
    );
    let id = events[0].1;
    assert!(events.iter().all(|(_, i, _)| *i == id));
    assert_eq!(events[4].2, url(addr, "/redirect").to_string());
    assert_eq!(events[5].2, final_url);

    // The next request has another id; an empty body completes at once.
    trail.lock().unwrap().clear();
    let response = session
        .fetch(Request::get(url(addr, "/empty")))
        .await
        .unwrap();
    assert_eq!(response.status, 204);
    drop(response);
    let events = trail.lock().unwrap().clone();
    assert!(events.iter().all(|(_, i, _)| *i > id));
    assert_eq!(events.last().unwrap().0, "completed net::OK");
}

#[tokio::test]
async fn failures_and_abandoned_bodies_are_errors() {
    let (_tmp, _, sessions) = fresh();
    let session = sessions
        .from_partition("errors", Default::default())
        .unwrap();
    let (addr, _) = server();
    let trail = record_all(&session);
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let err = session
        .fetch(Request::get(url(closed, "/")))
        .await
        .unwrap_err();
    assert_eq!(err.error.code(), -102);
    let last = trail.lock().unwrap().last().cloned().unwrap();
    assert_eq!(last.0, "errorOccurred net::ERR_CONNECTION_REFUSED");

    // A response dropped before the end of its body was aborted.
    trail.lock().unwrap().clear();
    let response = session
        .fetch(Request::get(url(addr, "/big")))
        .await
        .unwrap();
    drop(response);
    let names: Vec<String> = trail.lock().unwrap().iter().map(|e| e.0.clone()).collect();
    assert_eq!(names.last().unwrap(), "errorOccurred net::ERR_ABORTED");
    assert!(!names.iter().any(|n| n.starts_with("completed")));
}

#[tokio::test]
async fn on_before_request_cancels_and_redirects() {
    let (_tmp, _, sessions) = fresh();
    let session = sessions
        .from_partition("before", Default::default())
        .unwrap();
    let (addr, seen) = server();
    let errors: Arc<Mutex<Vec<String>>> = Arc::default();
    let e = errors.clone();
    session
        .web_request()
        .on_error_occurred(None, move |d| e.lock().unwrap().push(d.error.clone()));
    let filter = WebRequestFilter::new(["*://*/blocked/*"]).unwrap();
    session
        .web_request()
        .on_before_request(Some(filter), |_| async { BeforeRequestAction::Cancel });
    let err = session
        .fetch(Request::get(url(addr, "/blocked/x")))
        .await
        .unwrap_err();
    assert_eq!(err.error.to_string(), "net::ERR_BLOCKED_BY_CLIENT");
    assert_eq!(*errors.lock().unwrap(), ["net::ERR_BLOCKED_BY_CLIENT"]);
    // Outside the filter, requests go on.
    assert!(
        text(&session, Request::get(url(addr, "/open")))
            .await
            .starts_with("GET /open ")
    );
    assert_eq!(
        *seen.lock().unwrap(),
        ["/open"],
        "the blocked request never left"
    );

    // A redirect: an internal 307 that keeps the method and body.
    let target = url(addr, "/moved");
    let to = target.to_string();
    session.web_request().on_before_request(
        Some(WebRequestFilter::new(["http://*/old"]).unwrap()),
        move |d| {
            assert_eq!(d.upload_data.as_ref().unwrap()[0].bytes, b"payload");
            let to = to.clone();
            async move { BeforeRequestAction::Redirect(to) }
        },
    );
    let redirects: Arc<Mutex<Vec<(u16, String, String)>>> = Arc::default();
    let r = redirects.clone();
    session.web_request().on_before_redirect(None, move |d| {
        r.lock().unwrap().push((
            d.response.status_code,
            d.response.status_line.clone(),
            d.redirect_url.clone(),
        ));
    });
    let mut request = Request::get(url(addr, "/old"));
    request.method = Method::POST;
    request.body = bytes::Bytes::from_static(b"payload");
    let response = session.fetch(request).await.unwrap();
    assert_eq!(response.url, target);
    let body = String::from_utf8(response.bytes().await.unwrap()).unwrap();
    assert!(body.starts_with("POST /moved "), "{body}");
    assert!(body.ends_with("payload"));
    assert_eq!(
        *redirects.lock().unwrap(),
        [(
            307,
            "HTTP/1.1 307 Internal Redirect".to_owned(),
            target.to_string()
        )]
    );
    assert!(!seen.lock().unwrap().contains(&"/old".to_owned()));

    // A hook set again replaces the previous one; cleared, requests pass.
    session
        .web_request()
        .on_before_request(None, |_| async { BeforeRequestAction::Cancel });
    assert!(
        session
            .fetch(Request::get(url(addr, "/old")))
            .await
            .is_err()
    );
    session.web_request().clear_before_request();
    assert!(
        text(&session, Request::get(url(addr, "/old")))
            .await
            .starts_with("GET /old ")
    );
}

#[tokio::test]
async fn on_before_send_headers_replaces_the_headers() {
    let (_tmp, _, sessions) = fresh();
    let session = sessions
        .from_partition("headers", Default::default())
        .unwrap();
    let (addr, _) = server();
    session
        .cookies()
        .set_from_header(&url(addr, "/"), "jar=1")
        .unwrap();
    let shown: Arc<Mutex<Headers>> = Arc::default();
    let s = shown.clone();
    session
        .web_request()
        .on_before_send_headers(None, move |d| {
            *s.lock().unwrap() = d.request_headers.clone();
            let mut headers = d.request_headers;
            assert!(headers.remove("user-agent"), "names are case-insensitive");
            headers.insert("X-Hooked", "yes").unwrap();
            async move { BeforeSendHeadersAction::Headers(headers) }
        });
    let sent: Arc<Mutex<Headers>> = Arc::default();
    let s = sent.clone();
    session.web_request().on_send_headers(None, move |d| {
        *s.lock().unwrap() = d.request_headers.clone()
    });
    let body = text(&session, Request::get(url(addr, "/echo"))).await;
    let lower = body.to_ascii_lowercase();
    assert!(lower.contains("x-hooked: yes"), "{body}");
    assert!(!lower.contains("user-agent"), "{body}");
    assert!(lower.contains("cookie: jar=1"));
    let shown = shown.lock().unwrap().clone();
    assert_eq!(shown.get("Cookie"), Some("jar=1"));
    assert!(shown.get("User-Agent").unwrap().contains("sesh"));
    assert!(!shown.contains("Host"));
    // Electron's JSON: Title-Case names.
    let json = serde_json::to_value(&shown).unwrap();
    assert_eq!(json["Cookie"], "jar=1");
    let sent = sent.lock().unwrap().clone();
    assert_eq!(sent.get("x-hooked"), Some("yes"));
    assert!(!sent.contains("User-Agent"));

    // An empty set sends no headers of the app or session at all.
    session
        .web_request()
        .on_before_send_headers(None, |_| async {
            BeforeSendHeadersAction::Headers(Headers::new())
        });
    let body = text(&session, Request::get(url(addr, "/bare"))).await;
    assert!(!body.to_ascii_lowercase().contains("cookie"), "{body}");
    // A header HTTP does not allow is refused where the hook sets it.
    let mut headers = Headers::new();
    let err = headers.insert("Bad Name", "v").unwrap_err();
    assert!(err.to_string().contains("\"Bad Name: v\""), "{err}");
}

#[tokio::test]
async fn on_headers_received_rewrites_what_follows() {
    let (_tmp, _, sessions) = fresh();
    let session = sessions
        .from_partition("received", Default::default())
        .unwrap();
    let (addr, seen) = server();
    // Stripping Set-Cookie keeps the cookie out of the jar.
    session.web_request().on_headers_received(
        Some(WebRequestFilter::new(["*://*/cookie"]).unwrap()),
        |d| {
            let mut headers = d.response.response_headers;
            assert_eq!(
                headers.get_all("set-cookie").collect::<Vec<_>>(),
                ["kept=yes"]
            );
            headers.remove("Set-Cookie");
            async move {
                HeadersReceivedAction::Headers {
                    headers,
                    status_line: None,
                }
            }
        },
    );
    text(&session, Request::get(url(addr, "/cookie"))).await;
    assert!(
        session
            .cookies()
            .cookie_header(&url(addr, "/"), Default::default())
            .is_empty()
    );

    // A new status line with a Location makes a redirect.
    let location = url(addr, "/landed").to_string();
    session.web_request().on_headers_received(
        Some(WebRequestFilter::new(["*://*/start"]).unwrap()),
        move |_| {
            let location = location.clone();
            async move {
                let mut headers = Headers::new();
                headers.insert("Location", &location).unwrap();
                headers.insert("Content-Length", "0").unwrap();
                HeadersReceivedAction::Headers {
                    headers,
                    status_line: Some("HTTP/1.1 302 Moved By Hook".into()),
                }
            }
        },
    );
    let response = session
        .fetch(Request::get(url(addr, "/start")))
        .await
        .unwrap();
    assert_eq!(response.url, url(addr, "/landed"));
    assert_eq!(response.url_chain.len(), 2);
    drop(response);
    let status_text = {
        let mut request = Request::get(url(addr, "/start"));
        request.redirect = sesh_core::net::RedirectMode::Manual;
        let response = session.fetch(request).await.unwrap();
        (response.status.as_u16(), response.status_text.clone())
    };
    assert_eq!(status_text, (302, "Moved By Hook".to_owned()));

    session
        .web_request()
        .on_headers_received(None, |_| async { HeadersReceivedAction::Cancel });
    let before = seen.lock().unwrap().len();
    let err = session
        .fetch(Request::get(url(addr, "/any")))
        .await
        .unwrap_err();
    assert_eq!(err.error.to_string(), "net::ERR_BLOCKED_BY_CLIENT");
    assert_eq!(
        seen.lock().unwrap().len(),
        before + 1,
        "the server answered first"
    );
}

#[tokio::test]
async fn filters_pick_requests_by_url_and_type_and_details_are_electrons_json() {
    let (_tmp, _, sessions) = fresh();
    let session = sessions
        .from_partition("filters", Default::default())
        .unwrap();
    let (addr, _) = server();
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let s = seen.clone();
    let filter = WebRequestFilter::new(["*://*/api/*"])
        .unwrap()
        .with_types([ResourceType::Xhr])
        .excluding(["*://*/api/private*"])
        .unwrap();
    session
        .web_request()
        .on_response_started(Some(filter), move |d| {
            s.lock().unwrap().push(serde_json::to_string(d).unwrap());
        });
    let xhr = |path: &str| {
        let mut request = Request::get(url(addr, path));
        request.resource_type = ResourceType::Xhr;
        request.headers.insert(
            http::header::REFERER,
            "http://app.test/page".parse().unwrap(),
        );
        request
    };
    text(&session, xhr("/api/users")).await;
    text(&session, xhr("/api/private/keys")).await;
    text(&session, xhr("/other")).await;
    text(&session, Request::get(url(addr, "/api/users"))).await;
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1, "{seen:?}");
    let details: serde_json::Value = serde_json::from_str(&seen[0]).unwrap();
    assert_eq!(details["url"], url(addr, "/api/users").as_str());
    assert_eq!(details["method"], "GET");
    assert_eq!(details["resourceType"], "xhr");
    assert_eq!(details["referrer"], "http://app.test/page");
    assert_eq!(details["statusCode"], 200);
    assert_eq!(details["statusLine"], "HTTP/1.1 200 OK");
    assert_eq!(details["fromCache"], false);
    assert_eq!(details["ip"], "127.0.0.1");
    assert_eq!(details["responseHeaders"]["X-Server"][0], "yes");
    assert!(details["id"].as_u64().unwrap() > 0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as f64;
    assert!((details["timestamp"].as_f64().unwrap() - now).abs() < 60_000.0);
}

#[tokio::test]
async fn a_fetch_dropped_before_its_response_is_reported_aborted() {
    let (_tmp, _, sessions) = fresh();
    let session = sessions
        .from_partition("dropped", Default::default())
        .unwrap();
    // A server that accepts and never answers.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in silent.incoming().flatten() {
            held.push(stream);
        }
    });
    let errors: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let e = errors.clone();
    session.web_request().on_error_occurred(None, move |d| {
        e.lock()
            .unwrap()
            .push((d.request.url.clone(), d.error.clone()));
    });
    let fetch = session.fetch(Request::get(url(addr, "/never")));
    assert!(
        tokio::time::timeout(std::time::Duration::from_millis(200), fetch)
            .await
            .is_err()
    );
    assert_eq!(
        *errors.lock().unwrap(),
        [(
            url(addr, "/never").to_string(),
            "net::ERR_ABORTED".to_owned()
        )]
    );
}
