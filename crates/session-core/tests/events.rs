//! Notifications reach every subscriber.

use sesh_core::{PartitionOptions, SessionEvent};

use crate::fresh;

#[test]
fn preconnect_reaches_every_subscriber() {
    let (_tmp, _ud, sessions) = fresh();
    let ses = sessions
        .from_partition("m", PartitionOptions::default())
        .unwrap();
    assert_eq!(
        ses.notify_preconnect("https://a.test/", false),
        0,
        "nobody listens yet"
    );
    let mut one = ses.subscribe();
    let mut two = sessions
        .from_partition("m", PartitionOptions::default())
        .unwrap()
        .subscribe();
    assert_eq!(ses.notify_preconnect("https://example.com/", true), 2);
    let expected = SessionEvent::Preconnect {
        preconnect_url: "https://example.com/".into(),
        allow_credentials: true,
    };
    assert_eq!(one.try_recv().unwrap(), expected);
    assert_eq!(two.try_recv().unwrap(), expected);
    assert!(
        one.try_recv().is_err(),
        "the event before subscribing was replayed"
    );
    // Another session's events are its own.
    let other = sessions
        .from_partition("n", PartitionOptions::default())
        .unwrap();
    other.notify_preconnect("https://b.test/", false);
    assert!(one.try_recv().is_err());
}

#[test]
fn events_serialize_with_electron_names() {
    let event = SessionEvent::Preconnect {
        preconnect_url: "https://example.com/".into(),
        allow_credentials: false,
    };
    let json = serde_json::to_value(&event).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "event": "preconnect",
            "preconnectUrl": "https://example.com/",
            "allowCredentials": false
        })
    );
}

#[tokio::test]
async fn subscribers_can_await_events() {
    let (_tmp, _ud, sessions) = fresh();
    let ses = sessions
        .from_partition("m", PartitionOptions::default())
        .unwrap();
    let mut rx = ses.subscribe();
    let sender = ses.clone();
    tokio::spawn(async move {
        sender.notify_preconnect("https://late.test/", true);
    });
    let event = rx.recv().await.unwrap();
    assert!(
        matches!(event, SessionEvent::Preconnect { preconnect_url, .. } if preconnect_url == "https://late.test/")
    );
}

#[test]
fn cookie_changes_reach_subscribers_and_cookies_survive_a_restart() {
    use sesh_core::storage::cookies::{ChangeCause, CookieOptions};
    let (_tmp, user_data, sessions) = fresh();
    let ses = sessions
        .from_partition("persist:c", PartitionOptions::default())
        .unwrap();
    let mut rx = ses.subscribe();
    let url = url::Url::parse("https://shop.test/").unwrap();
    ses.cookies()
        .set_from_header(&url, "cart=3; Max-Age=3600")
        .unwrap();
    ses.cookies().set_from_header(&url, "tab=1").unwrap();
    match rx.try_recv().unwrap() {
        SessionEvent::CookieChanged {
            cookie,
            cause,
            removed,
        } => {
            assert_eq!(
                (cookie.name.as_str(), cause, removed),
                ("cart", ChangeCause::Explicit, false)
            );
        }
        other => panic!("{other:?}"),
    }
    ses.flush_storage().unwrap();
    drop(rx);
    drop(ses);
    drop(sessions);
    let sessions = sesh_core::Sessions::builder()
        .user_data_dir(&user_data)
        .build()
        .unwrap();
    let ses = sessions
        .from_partition("persist:c", PartitionOptions::default())
        .unwrap();
    assert_eq!(
        ses.cookies().cookie_header(&url, CookieOptions::default()),
        "cart=3"
    );
}
