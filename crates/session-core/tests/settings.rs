//! User agent, languages, preloads, download and code cache paths.

use std::path::PathBuf;

use sesh_core::{CODE_CACHE_DIR, Error, PartitionOptions, Sessions};

use crate::fresh;

#[test]
fn default_user_agent_is_chrome_like_and_names_the_app_and_sesh() {
    let (_tmp, _ud, sessions) = fresh();
    let ua = sessions.default_session().unwrap().user_agent();
    assert!(ua.starts_with("Mozilla/5.0 ("), "{ua}");
    assert!(
        ua.contains("AppleWebKit/537.36 (KHTML, like Gecko)"),
        "{ua}"
    );
    assert!(ua.contains(" sesh-test/"), "{ua}");
    assert!(ua.contains(" Chrome/"), "{ua}");
    assert!(ua.contains(" sesh/"), "{ua}");
    assert!(ua.ends_with(" Safari/537.36"), "{ua}");
}

#[test]
fn set_user_agent_with_and_without_languages() {
    let (_tmp, _ud, sessions) = fresh();
    let ses = sessions
        .from_partition("m", PartitionOptions::default())
        .unwrap();
    ses.set_user_agent("Bot/1", Some("en-US,fr,de,ko,zh-CN,ja"))
        .unwrap();
    assert_eq!(ses.user_agent(), "Bot/1");
    assert_eq!(ses.accept_languages(), "en-US,fr,de,ko,zh-CN,ja");
    assert_eq!(
        ses.accept_language_header(),
        "en-US,fr;q=0.9,de;q=0.8,ko;q=0.7,zh-CN;q=0.6,ja;q=0.5"
    );
    // Without languages, the list is kept.
    ses.set_user_agent("Bot/2", None).unwrap();
    assert_eq!(ses.accept_languages(), "en-US,fr,de,ko,zh-CN,ja");
}

#[test]
fn bad_user_agents_and_languages_change_nothing() {
    let (_tmp, _ud, sessions) = fresh();
    let ses = sessions
        .from_partition("m", PartitionOptions::default())
        .unwrap();
    ses.set_user_agent("Good/1", Some("en")).unwrap();
    let err = ses
        .set_user_agent("Bad\r\nSet-Cookie: x=1", None)
        .unwrap_err();
    assert!(matches!(err, Error::InvalidUserAgent { .. }), "{err:?}");
    let err = ses
        .set_user_agent("Good/2", Some("en,fr;q=0.5"))
        .unwrap_err();
    assert!(err.to_string().contains("\"fr;q=0.5\""), "{err}");
    assert_eq!(ses.user_agent(), "Good/1");
    assert_eq!(ses.accept_languages(), "en");
}

#[test]
fn preloads_must_be_absolute() {
    let (_tmp, _ud, sessions) = fresh();
    let ses = sessions
        .from_partition("m", PartitionOptions::default())
        .unwrap();
    assert!(ses.preloads().is_empty());
    ses.set_preloads(["/app/a.js", "/app/b.js"]).unwrap();
    assert_eq!(
        ses.preloads(),
        [PathBuf::from("/app/a.js"), PathBuf::from("/app/b.js")]
    );
    let err = ses.set_preloads(["/app/c.js", "rel.js"]).unwrap_err();
    assert!(matches!(err, Error::RelativePath { .. }), "{err:?}");
    assert!(err.to_string().contains("rel.js"), "{err}");
    assert_eq!(
        ses.preloads().len(),
        2,
        "a refused list replaced the old one"
    );
    ses.set_preloads(Vec::<PathBuf>::new()).unwrap();
    assert!(ses.preloads().is_empty());
}

#[test]
fn download_path_defaults_to_the_users_downloads_and_persists() {
    let (_tmp, user_data, sessions) = fresh();
    let ses = sessions
        .from_partition("persist:dl", PartitionOptions::default())
        .unwrap();
    let default = ses.download_path();
    assert!(default.is_absolute(), "{}", default.display());
    assert!(
        default.ends_with("Downloads")
            || dirs::download_dir().as_deref() == Some(default.as_path()),
        "{}",
        default.display()
    );
    assert!(ses.set_download_path("relative").is_err());
    ses.set_download_path("/srv/downloads").unwrap();
    assert_eq!(ses.download_path(), PathBuf::from("/srv/downloads"));
    drop(ses);
    drop(sessions);
    // A restarted app finds the setting again.
    let sessions = Sessions::builder()
        .user_data_dir(&user_data)
        .build()
        .unwrap();
    let ses = sessions
        .from_partition("persist:dl", PartitionOptions::default())
        .unwrap();
    assert_eq!(ses.download_path(), PathBuf::from("/srv/downloads"));
    // Other partitions are not affected.
    let other = sessions
        .from_partition("persist:other", PartitionOptions::default())
        .unwrap();
    assert_eq!(other.download_path(), default);
}

#[test]
fn code_cache_path_defaults_and_is_created() {
    let (tmp, user_data, sessions) = fresh();
    let ses = sessions.default_session().unwrap();
    assert_eq!(ses.code_cache_path(), Some(user_data.join(CODE_CACHE_DIR)));
    let target = tmp.path().join("deep/code/cache");
    ses.set_code_cache_path(&target).unwrap();
    assert!(target.is_dir());
    assert_eq!(ses.code_cache_path(), Some(target.clone()));
    let err = ses.set_code_cache_path("relative/cache").unwrap_err();
    assert!(matches!(err, Error::RelativePath { .. }), "{err:?}");
    // A path that cannot be a directory (a file is in the way) is reported.
    let blocker = tmp.path().join("file");
    std::fs::write(&blocker, b"x").unwrap();
    let err = ses.set_code_cache_path(blocker.join("cache")).unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err:?}");
    assert_eq!(ses.code_cache_path(), Some(target));
}

#[test]
fn a_damaged_store_is_reported_by_from_partition() {
    let (_tmp, user_data, sessions) = fresh();
    let ses = sessions
        .from_partition("persist:hurt", PartitionOptions::default())
        .unwrap();
    ses.set_download_path("/srv/x").unwrap();
    let db = ses.storage_path().unwrap().join(sesh_core::DATABASE_DIR);
    drop(ses);
    drop(sessions);
    std::fs::remove_file(db.join("db")).unwrap();
    let sessions = Sessions::builder()
        .user_data_dir(&user_data)
        .build()
        .unwrap();
    let err = sessions
        .from_partition("persist:hurt", PartitionOptions::default())
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Storage(sesh_core::storage::Error::Corrupt { .. })
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains(&db.display().to_string()), "{err}");
}

#[tokio::test]
async fn the_verify_proc_and_ssl_config_are_the_sessions() {
    use sesh_core::tls::{NetError, SslConfig, VerifyRequest};
    let (_tmp, _ud, sessions) = fresh();
    let ses = sessions
        .from_partition("m", PartitionOptions::default())
        .unwrap();
    let ca = rcgen::generate_simple_self_signed(vec!["intranet.corp".to_string()]).unwrap();
    let chain = vec![ca.cert.der().clone()];
    let verifier = ses.cert_verifier();
    assert_eq!(
        verifier.verify("intranet.corp", &chain).await.result,
        NetError::CERT_AUTHORITY_INVALID
    );
    ses.set_certificate_verify_proc(Some(|r: VerifyRequest| async move {
        if r.hostname == "intranet.corp" { 0 } else { -3 }
    }));
    assert_eq!(
        verifier.verify("intranet.corp", &chain).await.result,
        NetError::OK
    );
    // Another session of the same app has its own verifier.
    let other = sessions
        .from_partition("n", PartitionOptions::default())
        .unwrap();
    assert_eq!(
        other
            .cert_verifier()
            .verify("intranet.corp", &chain)
            .await
            .result,
        NetError::CERT_AUTHORITY_INVALID
    );

    let err = ses
        .set_ssl_config(SslConfig {
            min_version: Some("ssl3".into()),
            ..Default::default()
        })
        .unwrap_err();
    assert!(matches!(err, Error::Tls(_)), "{err:?}");
    let generation = verifier.ssl_generation();
    ses.set_ssl_config(SslConfig {
        min_version: Some("tls1.3".into()),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(verifier.ssl_generation(), generation + 1);
}

#[test]
fn preload_scripts_are_registered_by_id_and_set_preloads_replaces_the_frame_ones() {
    use sesh_core::{PreloadScriptRegistration, PreloadScriptType};
    let (_tmp, _ud, sessions) = fresh();
    let ses = sessions
        .from_partition("m", PartitionOptions::default())
        .unwrap();
    let register = |kind, id: Option<&str>, path: &str| {
        ses.register_preload_script(PreloadScriptRegistration {
            kind,
            id: id.map(str::to_owned),
            file_path: path.into(),
        })
    };
    assert_eq!(
        register(PreloadScriptType::ServiceWorker, Some("sw"), "/app/sw.js").unwrap(),
        "sw"
    );
    // Without an id: a random UUID, a new one each time.
    let a = register(PreloadScriptType::Frame, None, "/app/a.js").unwrap();
    let b = register(PreloadScriptType::Frame, None, "/app/b.js").unwrap();
    assert_ne!(a, b);
    assert_eq!(a.len(), 36, "{a}");
    assert_eq!(a.matches('-').count(), 4, "{a}");
    let err = register(PreloadScriptType::Frame, Some("sw"), "/app/c.js").unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid argument: Cannot register preload script with existing ID 'sw'"
    );
    let err = register(PreloadScriptType::Frame, Some("c"), "c.js").unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid argument: Preload script must have absolute path: c.js"
    );
    let scripts = ses.preload_scripts();
    assert_eq!(
        scripts
            .iter()
            .map(|s| (s.kind, s.id.as_str(), s.file_path.to_str().unwrap()))
            .collect::<Vec<_>>(),
        [
            (PreloadScriptType::ServiceWorker, "sw", "/app/sw.js"),
            (PreloadScriptType::Frame, a.as_str(), "/app/a.js"),
            (PreloadScriptType::Frame, b.as_str(), "/app/b.js"),
        ]
    );
    // Electron's JSON for them.
    assert_eq!(
        serde_json::to_value(&scripts[0]).unwrap(),
        serde_json::json!({"type": "service-worker", "id": "sw", "filePath": "/app/sw.js"})
    );
    // getPreloads: the frame ones; setPreloads replaces only those.
    assert_eq!(
        ses.preloads(),
        [PathBuf::from("/app/a.js"), PathBuf::from("/app/b.js")]
    );
    ses.set_preloads(["/app/new.js"]).unwrap();
    let scripts = ses.preload_scripts();
    assert_eq!(scripts.len(), 2);
    assert_eq!(scripts[0].id, "sw");
    assert_eq!(scripts[1].file_path, PathBuf::from("/app/new.js"));
    assert_eq!(scripts[1].kind, PreloadScriptType::Frame);

    ses.unregister_preload_script("sw").unwrap();
    let err = ses.unregister_preload_script("sw").unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid argument: Cannot unregister preload script with non-existing ID 'sw'"
    );
    assert_eq!(ses.preloads(), [PathBuf::from("/app/new.js")]);
}
