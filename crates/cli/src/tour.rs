//! `sesh tour`: a walk through what sesh does, offline, on real storage.
//!
//! Each chapter uses the real library on the default session of the
//! user-data directory (or the one given with `--user-data-dir`) and prints
//! what it did and what came back.

use std::sync::Arc;

use anyhow::Context;
use sesh::proxy::{DnsOp, HostResolver, LocalFetcher, PacOptions, ProxyConfig, ProxyResolver, Url};
use sesh::{PartitionOptions, SessionEvent, Sessions};

/// A small corporate PAC script for the proxy chapter.
const CORP_PAC: &str = r#"function FindProxyForURL(url, host) {
  if (isPlainHostName(host) || dnsDomainIs(host, ".corp.example"))
    return "DIRECT";
  if (isInNet(host, "10.0.0.0", "255.0.0.0"))
    return "DIRECT";
  if (shExpMatch(url, "https://*.bank.example/*"))
    return "HTTPS secure-proxy.corp.example:443";
  if (host == "legacy.example")
    return legacyRoute(host);   // a bug: legacyRoute is not defined
  return "PROXY proxy1.corp.example:8080; PROXY proxy2.corp.example:8080; DIRECT";
}"#;

fn chapter(n: u32, title: &str) {
    println!();
    println!("── {n}. {title} ──");
}

pub(crate) fn run(sessions: &Sessions) -> anyhow::Result<()> {
    println!("sesh tour: Electron's session module, in Rust. Nothing here uses the network.");
    println!(
        "user-data directory: {}",
        sessions.user_data_dir().display()
    );
    sessions_and_partitions(sessions)?;
    settings(sessions)?;
    events(sessions)?;
    proxies(sessions)?;
    tls(sessions)?;
    cookies(sessions)?;
    download_names(sessions)?;
    fetch_and_download(sessions)?;
    through_a_pac_proxy(sessions)?;
    web_request_hooks(sessions)?;
    println!();
    println!("End of the tour. `sesh --help` lists the commands.");
    Ok(())
}

fn sessions_and_partitions(sessions: &Sessions) -> anyhow::Result<()> {
    chapter(1, "Sessions and partitions");
    let default = sessions
        .default_session()
        .context("cannot open the default session")?;
    println!(
        "session.defaultSession        persistent={}  storage={}",
        default.is_persistent(),
        default
            .storage_path()
            .map_or("-".into(), |p| p.display().to_string())
    );
    let work = sessions.from_partition("persist:tour", PartitionOptions::default())?;
    println!(
        "fromPartition('persist:tour')  persistent={}  storage={}",
        work.is_persistent(),
        work.storage_path()
            .map_or("-".into(), |p| p.display().to_string())
    );
    let again = sessions.from_partition("persist:tour", PartitionOptions { cache: false })?;
    println!(
        "asking again returns the same session: {} (and its options stay: cache={})",
        again == work,
        again.options().cache
    );
    let scratch = sessions.from_partition("tour-scratch", PartitionOptions::default())?;
    println!(
        "fromPartition('tour-scratch')  persistent={}  storage={:?}  (in memory: nothing on disk)",
        scratch.is_persistent(),
        scratch.storage_path()
    );
    let profile = sessions.user_data_dir().join("tour-profile");
    let elsewhere = sessions.from_path(&profile, PartitionOptions::default())?;
    println!(
        "fromPath(<user data>/tour-profile)  persistent={}  storage={}  (a directory of the app's choosing)",
        elsewhere.is_persistent(),
        elsewhere
            .storage_path()
            .map_or("-".into(), |p| p.display().to_string())
    );
    if let Err(e) = sessions.from_path("tour-profile", PartitionOptions::default()) {
        println!("  a relative one is refused: {e}");
    }
    let hostile = "persist:../../etc";
    let dir = sesh::partition_dir_name(hostile, "../../etc")?;
    println!("a hostile name {hostile:?} stays inside Partitions/ as {dir:?}");
    match sessions.from_partition("persist:", PartitionOptions::default()) {
        Err(e) => println!("and a bad one is refused: {e}"),
        Ok(_) => anyhow::bail!("persist: with no name was accepted"),
    }
    Ok(())
}

fn settings(sessions: &Sessions) -> anyhow::Result<()> {
    chapter(2, "Settings: user agent, languages, paths");
    let ses = sessions.default_session()?;
    println!("getUserAgent()   {}", ses.user_agent());
    println!("Accept-Language  {}", ses.accept_language_header());
    let scratch = sessions.from_partition("tour-scratch", PartitionOptions::default())?;
    scratch.set_user_agent("TourBot/1.0", Some("fr-FR,fr,en-US,en"))?;
    println!(
        "setUserAgent('TourBot/1.0', 'fr-FR,fr,en-US,en') → Accept-Language {}",
        scratch.accept_language_header()
    );
    if let Err(e) = scratch.set_user_agent("Bad\r\nX-Injected: 1", None) {
        println!("a user agent that would inject a header is refused: {e}");
    }
    println!("getDownloadPath  {}", ses.download_path().display());
    println!(
        "code cache       {}",
        ses.code_cache_path()
            .map_or("(in memory)".into(), |p| p.display().to_string())
    );
    scratch.set_preloads(["/opt/app/preload.js"])?;
    println!("getPreloads()    {:?}", scratch.preloads());
    if let Err(e) = scratch.set_preloads(["preload.js"]) {
        println!("a relative preload is refused: {e}");
    }
    let id = scratch.register_preload_script(sesh::PreloadScriptRegistration {
        kind: sesh::PreloadScriptType::ServiceWorker,
        id: Some("sw-bridge".into()),
        file_path: "/opt/app/sw-preload.js".into(),
    })?;
    println!("registerPreloadScript({{ type: 'service-worker', … }}) → {id:?}");
    println!(
        "getPreloadScripts() {}",
        serde_json::to_string(&scratch.preload_scripts())?
    );
    ses.flush_storage()?;
    println!("flushed the default session's storage to disk");
    Ok(())
}

fn events(sessions: &Sessions) -> anyhow::Result<()> {
    chapter(3, "Events");
    let ses = sessions.from_partition("tour-scratch", PartitionOptions::default())?;
    let mut events = ses.subscribe();
    let told = ses.notify_preconnect("https://example.com/", true);
    println!("a page hints preconnect to https://example.com/ → {told} subscriber(s) told");
    match events.try_recv() {
        Ok(event @ SessionEvent::Preconnect { .. }) => {
            println!("received: {}", serde_json::to_string(&event)?);
        }
        Ok(other) => anyhow::bail!("unexpected event {other:?}"),
        Err(e) => anyhow::bail!("the preconnect event did not arrive: {e}"),
    }
    Ok(())
}

/// The tour stays offline: PAC helpers that resolve names (`isInNet` on a
/// host name, `dnsResolve`) get "not found" instead of asking DNS.
struct OfflineResolver;

impl HostResolver for OfflineResolver {
    fn resolve(&self, _host: &str, _op: DnsOp) -> Option<Vec<std::net::IpAddr>> {
        None
    }
}

fn proxies(sessions: &Sessions) -> anyhow::Result<()> {
    chapter(4, "Proxies: rules, bypass lists and PAC scripts");
    let ses = sessions.from_partition("tour-scratch", PartitionOptions::default())?;
    let runtime = tokio::runtime::Builder::new_current_thread().build()?;
    let rules = "http=proxy:3128;https=socks5://socks.example;socks=fallback:1080";
    let bypass = "*.internal, 192.168.0.0/16, <local>";
    runtime.block_on(ses.set_proxy(ProxyConfig {
        proxy_rules: Some(rules.into()),
        proxy_bypass_rules: Some(bypass.into()),
        ..Default::default()
    }))?;
    println!("ses.setProxy({{ proxyRules: '{rules}', proxyBypassRules: '{bypass}' }})");
    for url in [
        "http://example.com/",
        "https://example.com/",
        "ftp://files.example.com/",
        "http://wiki.internal/",
        "http://192.168.1.20/",
        "http://printer/",
        "http://localhost:8080/",
    ] {
        let answer = runtime.block_on(ses.resolve_proxy(url))?;
        println!("  ses.resolveProxy({url:<28}) → {answer}");
    }
    let default = sessions.default_session()?;
    let answer = runtime.block_on(default.resolve_proxy("http://example.com/"))?;
    println!(
        "  defaultSession.resolveProxy(http://example.com/) → {answer} (each session has its own)"
    );

    // The resolver also stands alone; this one answers PAC DNS look-ups
    // "not found" so that the tour stays offline.
    let resolver = ProxyResolver::new(Arc::new(LocalFetcher)).with_pac_options(PacOptions {
        resolver: Arc::new(OfflineResolver),
        ..PacOptions::default()
    });
    let pac_path = std::env::temp_dir().join(format!("sesh-tour-{}.pac", std::process::id()));
    std::fs::write(&pac_path, CORP_PAC)
        .with_context(|| format!("cannot write {}", pac_path.display()))?;
    let pac_url = Url::from_file_path(&pac_path)
        .map_err(|()| anyhow::anyhow!("{} is not absolute", pac_path.display()))?;
    resolver.set_proxy(ProxyConfig {
        pac_script: Some(pac_url.to_string()),
        ..Default::default()
    });
    let _ = std::fs::remove_file(&pac_path);
    println!("setProxy({{ pacScript: '{pac_url}' }}), a corporate PAC script:");
    for line in CORP_PAC.lines() {
        println!("    | {line}");
    }
    for url in [
        "http://intranet/",
        "https://git.corp.example/",
        "http://10.1.2.3/",
        "https://www.bank.example/login",
        "http://www.example.com/",
        "http://legacy.example/",
        "http://127.0.0.1:9000/",
    ] {
        let resolution = resolver.resolve(url)?;
        match &resolution.error {
            None => println!("  resolveProxy({url:<31}) → {resolution}"),
            Some(e) => {
                println!("  resolveProxy({url:<31}) → {resolution}   (the script failed: {e})")
            }
        }
    }
    println!(
        "Loopback URLs never reach the script; a script that fails means DIRECT, as in Chromium."
    );
    println!(
        "(Offline, the tour's PAC helpers resolve no names; a session resolves them with its DNS.)"
    );
    Ok(())
}

/// A TLS server on 127.0.0.1 for the TLS chapter: it presents `chain` and
/// closes each connection after the handshake.
fn tour_tls_server(
    chain: Vec<rustls::pki_types::CertificateDer<'static>>,
    key: Vec<u8>,
) -> anyhow::Result<std::net::SocketAddr> {
    use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_no_client_auth()
    .with_single_cert(chain, PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key)))?;
    let config = Arc::new(config);
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let Ok(mut conn) = rustls::ServerConnection::new(config.clone()) else {
                continue;
            };
            while conn.is_handshaking() {
                if conn.complete_io(&mut stream).is_err() {
                    break;
                }
            }
        }
    });
    Ok(addr)
}

fn tls(sessions: &Sessions) -> anyhow::Result<()> {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use sesh::tls::{Certificate, VerifyRequest};

    chapter(5, "TLS: certificate verification and the verify proc");
    // A private CA and a server certificate for two names, made now.
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new())?;
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "sesh tour CA");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca_key = rcgen::KeyPair::generate()?;
    let ca_cert = ca_params.self_signed(&ca_key)?;
    let issuer = rcgen::Issuer::from_params(&ca_params, &ca_key);
    let mut leaf_params = rcgen::CertificateParams::new(vec![
        "app.tour.test".to_owned(),
        "legacy.tour.test".to_owned(),
    ])?;
    leaf_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "app.tour.test");
    let leaf_key = rcgen::KeyPair::generate()?;
    let leaf = leaf_params.signed_by(&leaf_key, &issuer)?;
    let addr = tour_tls_server(vec![leaf.der().clone()], leaf_key.serialize_der())?;
    println!("a TLS server on {addr}, with a certificate from a private CA");

    let ses = sessions.from_partition("tour-scratch", PartitionOptions::default())?;
    let verifier = ses.cert_verifier().clone();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()?;
    let connect = |host: &str| -> anyhow::Result<String> {
        let mut tcp = std::net::TcpStream::connect(addr)?;
        Ok(match verifier.connect_blocking(&runtime, &mut tcp, host) {
            Ok((_, outcome)) => format!(
                "{}{}",
                outcome.result,
                if outcome.from_cache { " (cached)" } else { "" }
            ),
            Err(e) => format!("{}", e.error),
        })
    };
    println!(
        "  default verification, {:<18} → {}",
        "app.tour.test",
        connect("app.tour.test")?
    );

    let asked = Arc::new(AtomicUsize::new(0));
    let counter = asked.clone();
    ses.set_certificate_verify_proc(Some(move |req: VerifyRequest| {
        counter.fetch_add(1, Ordering::SeqCst);
        let answer = if req.hostname == "app.tour.test" {
            0
        } else {
            -2
        };
        async move { answer }
    }));
    println!("setCertificateVerifyProc: accept app.tour.test (0), reject the rest (-2)");
    for host in ["app.tour.test", "legacy.tour.test", "app.tour.test"] {
        println!("  {host:<18} → {}", connect(host)?);
    }
    println!(
        "  the proc was asked {} times: verdicts are cached per host and chain",
        asked.load(Ordering::SeqCst)
    );

    ses.set_certificate_verify_proc(None::<fn(VerifyRequest) -> std::future::Ready<i32>>);
    verifier.add_root_pem(&ca_cert.pem())?;
    println!("without the proc, but trusting the private CA:");
    println!("  {:<18} → {}", "app.tour.test", connect("app.tour.test")?);
    let cert = Certificate::from_chain(&[leaf.der().to_vec(), ca_cert.der().to_vec()])?;
    println!(
        "the Certificate Electron shows: subjectName {:?}, issuerName {:?}, fingerprint {}",
        cert.subject_name, cert.issuer_name, cert.fingerprint
    );
    Ok(())
}

fn cookies(sessions: &Sessions) -> anyhow::Result<()> {
    use sesh::storage::cookies::{CookieDetails, CookieFilter, CookieOptions, SameSite};

    chapter(
        6,
        "Cookies: Chromium's rules, Electron's API, kept across restarts",
    );
    let partition = "persist:tour-cookies";
    let url = url::Url::parse("https://www.shop.example/cart/view")?;
    {
        // A sessions set of its own, so that the partition can be closed
        // and opened again, as an app restart would.
        let own = Sessions::builder()
            .user_data_dir(sessions.user_data_dir())
            .build()?;
        let ses = own.from_partition(partition, PartitionOptions::default())?;
        let mut changes = ses.subscribe();
        for line in [
            "cart=3; Max-Age=86400; Path=/",
            "sid=s3cr3t; Secure; HttpOnly; SameSite=Lax",
            "theme=dark; Domain=shop.example; Max-Age=86400",
            "tracker=1; Domain=example",
        ] {
            match ses.cookies().set_from_header(&url, line) {
                Ok(()) => println!("Set-Cookie: {line:<46} stored"),
                Err(e) => println!("Set-Cookie: {line:<46} refused: {e}"),
            }
        }
        ses.cookies().set(&CookieDetails {
            url: "https://www.shop.example/".into(),
            name: Some("consent".into()),
            value: Some("yes".into()),
            expiration_date: Some(4_102_444_800.0),
            same_site: Some(SameSite::Strict),
            ..Default::default()
        })?;
        println!("cookies.set({{ name: 'consent', sameSite: 'strict', expirationDate }}) stored");
        ses.local_storage("https://www.shop.example")?
            .set("recently-viewed", "[42, 7]")?;
        println!("localStorage of https://www.shop.example: recently-viewed = [42, 7]");
        let mut n = 0;
        while changes.try_recv().is_ok() {
            n += 1;
        }
        println!("'changed' events received: {n}");
        println!(
            "Cookie header for {url}: {}",
            ses.cookies().cookie_header(&url, CookieOptions::default())
        );
        ses.flush_storage()?;
    }
    // The app restarts: the partition is opened again from disk.
    let own = Sessions::builder()
        .user_data_dir(sessions.user_data_dir())
        .build()?;
    let ses = own.from_partition(partition, PartitionOptions::default())?;
    println!(
        "after a restart (session cookies are gone): {}",
        ses.cookies().cookie_header(&url, CookieOptions::default())
    );
    let removed = ses.cookies().remove(&url, "cart");
    println!("cookies.remove(url, 'cart') removed {removed}");
    for c in ses.cookies().get(&CookieFilter {
        domain: Some("shop.example".into()),
        ..Default::default()
    }) {
        println!(
            "  left: {}={} (domain {}, session {})",
            c.name, c.value, c.domain, c.session
        );
    }
    println!(
        "localStorage after the restart: recently-viewed = {:?}",
        ses.local_storage("https://www.shop.example")?
            .get("recently-viewed")?
    );
    ses.clear_storage_data(&sesh::ClearStorageDataOptions {
        origin: Some("https://www.shop.example".into()),
        storages: Some(vec!["cookies".into(), "localstorage".into()]),
        quotas: None,
    })?;
    println!(
        "clearStorageData({{ origin: 'https://www.shop.example', storages: ['cookies', 'localstorage'] }})"
    );
    println!(
        "  cookies left: {}, localStorage: {:?}",
        ses.cookies().len(),
        ses.local_storage("https://www.shop.example")?
            .get("recently-viewed")?
    );
    // clearData clears cookies by registrable domain.
    for (url, header) in [
        ("https://www.shop.example/", "basket=1; Max-Age=600"),
        ("https://help.shop.example/", "chat=2; Max-Age=600"),
        ("https://news.example/", "edition=uk; Max-Age=600"),
    ] {
        ses.cookies()
            .set_from_header(&url::Url::parse(url)?, header)?;
    }
    ses.clear_data(&sesh::ClearDataOptions {
        data_types: Some(vec!["cookies".into()]),
        origins: Some(vec!["https://help.shop.example".into()]),
        ..Default::default()
    })?;
    let left: Vec<String> = ses
        .cookies()
        .get(&CookieFilter::default())
        .into_iter()
        .map(|c| format!("{}={}", c.name, c.value))
        .collect();
    println!(
        "clearData({{ dataTypes: ['cookies'], origins: ['https://help.shop.example'] }}) → left: {} (all of shop.example went)",
        left.join("; ")
    );
    ses.clear_data(&sesh::ClearDataOptions::default())?;
    ses.flush_storage()?;
    Ok(())
}

fn download_names(sessions: &Sessions) -> anyhow::Result<()> {
    use sesh::downloads::{generate_file_name, unique_path};

    chapter(7, "Download names, as Chromium picks them");
    let cases: [(&str, Option<&str>, Option<&str>); 7] = [
        ("https://example.com/files/report.pdf", None, None),
        (
            "https://example.com/export.php?id=7",
            None,
            Some("text/csv"),
        ),
        ("https://example.com/dir/", None, Some("text/html")),
        (
            "https://example.com/get",
            Some("attachment; filename*=UTF-8''%E2%82%AC%20rates.pdf"),
            None,
        ),
        (
            "https://example.com/get",
            Some("attachment; filename==?UTF-8?Q?=E8=8A=B8=E8=A1=93_3=2Epng?="),
            None,
        ),
        (
            "https://evil.example/get",
            Some("attachment; filename=\"../../.ssh/authorized_keys\""),
            None,
        ),
        ("https://evil.example/%E2%80%AEfdp.exe", None, None),
    ];
    for (url, cd, mime) in cases {
        let name = generate_file_name(&url.parse()?, cd.map(str::as_bytes), mime);
        let mut from = url.to_owned();
        if let Some(cd) = cd {
            from.push_str(&format!("  Content-Disposition: {cd}"));
        }
        if let Some(mime) = mime {
            from.push_str(&format!("  Content-Type: {mime}"));
        }
        println!("  {from}\n      → {name}");
    }
    // Names already taken in the download directory get a number.
    let dir = sessions
        .user_data_dir()
        .join(format!("tour-downloads-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let result = (|| -> anyhow::Result<()> {
        for _ in 0..3 {
            let path = unique_path(&dir, "report.pdf")?;
            std::fs::File::create_new(&path)
                .with_context(|| format!("cannot create {}", path.display()))?;
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            println!("  three downloads of report.pdf: {name}");
        }
        Ok(())
    })();
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// The bytes the tour's server offers: 3 MiB, different on every line.
fn tour_file() -> Vec<u8> {
    (0..3u32 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect()
}

/// A loopback HTTP/1.1 server for the tour: `/hello`, and `/report.bin`
/// with an ETag and byte ranges, whose first transfer the server cuts
/// after `cut` bytes.
fn tour_http_server(file: Arc<Vec<u8>>, cut: usize) -> anyhow::Result<std::net::SocketAddr> {
    use std::io::{BufRead, BufReader, Write};
    use std::sync::atomic::{AtomicBool, Ordering};

    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let cut_done = Arc::new(AtomicBool::new(false));
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let (file, cut_done) = (file.clone(), cut_done.clone());
            std::thread::spawn(move || -> std::io::Result<()> {
                let mut reader = BufReader::new(stream.try_clone()?);
                let mut first = String::new();
                reader.read_line(&mut first)?;
                let mut range_start = None;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line)? == 0 || line == "\r\n" {
                        break;
                    }
                    let lower = line.to_ascii_lowercase();
                    if let Some(v) = lower.strip_prefix("range: bytes=") {
                        range_start = v.trim().trim_end_matches('-').parse::<usize>().ok();
                    }
                }
                let mut out = stream;
                if first.starts_with("GET /hello ") {
                    let body = "hello from loopback";
                    write!(
                        out,
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nSet-Cookie: visit=1\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    )?;
                    return Ok(());
                }
                let start = range_start.unwrap_or(0).min(file.len());
                let status = if range_start.is_some() {
                    format!(
                        "206 Partial Content\r\nContent-Range: bytes {start}-{}/{}",
                        file.len() - 1,
                        file.len()
                    )
                } else {
                    "200 OK".to_owned()
                };
                write!(
                    out,
                    "HTTP/1.1 {status}\r\nContent-Length: {}\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"quarterly report.bin\"\r\nETag: \"tour-1\"\r\nAccept-Ranges: bytes\r\nConnection: close\r\n\r\n",
                    file.len() - start
                )?;
                let end = if cut_done.swap(true, Ordering::SeqCst) {
                    file.len()
                } else {
                    cut.min(file.len())
                };
                for chunk in file[start..end.max(start)].chunks(64 * 1024) {
                    out.write_all(chunk)?;
                }
                Ok(())
            });
        }
    });
    Ok(addr)
}

fn fetch_and_download(sessions: &Sessions) -> anyhow::Result<()> {
    use sesh::downloads::{DownloadEvent, DownloadState, WillDownload};

    chapter(8, "Fetch and a download that survives a dropped connection");
    let file = Arc::new(tour_file());
    let addr = tour_http_server(file.clone(), 1_200_000)?;
    let ses = sessions.from_partition("tour-scratch", PartitionOptions::default())?;
    let dir = std::env::temp_dir().join(format!("sesh-tour-downloads-{}", std::process::id()));
    ses.set_download_path(&dir)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let result = runtime.block_on(async {
        let hello = Url::parse(&format!("http://{addr}/hello"))?;
        let response = ses.fetch(sesh::net::Request::get(hello.clone())).await?;
        let status = response.status;
        let body = String::from_utf8_lossy(&response.bytes().await?).into_owned();
        println!("ses.fetch({hello}) → {status} {body:?}");
        println!(
            "  the session kept its cookie: {}",
            ses.cookies()
                .cookie_header(&hello, sesh::storage::cookies::CookieOptions::default())
        );

        ses.set_will_download_handler(Some(Arc::new(|item: &sesh::downloads::DownloadItem| {
            println!(
                "  will-download: {:?}, {} bytes, {}",
                item.filename(),
                item.total_bytes(),
                item.mime_type()
            );
            WillDownload::Continue
        })));
        let url = Url::parse(&format!("http://{addr}/report.bin"))?;
        let item = ses.download_url(url.clone());
        let mut events = item.subscribe();
        println!("ses.downloadURL({url})");
        // Pause at the first progress, then go on.
        while let Some(event) = events.recv().await {
            if event == DownloadEvent::Updated(DownloadState::Progressing) {
                break;
            }
        }
        item.pause();
        println!(
            "  paused at {} bytes: isPaused={} canResume={}",
            item.received_bytes(),
            item.is_paused(),
            item.can_resume()
        );
        item.resume();
        while let Some(event) = events.recv().await {
            if let DownloadEvent::Updated(DownloadState::Interrupted) = event {
                break;
            }
        }
        println!(
            "  the server dropped the connection: state={} after {} of {} bytes ({}%), canResume={}",
            item.state().as_str(),
            item.received_bytes(),
            item.total_bytes(),
            item.percent_complete(),
            item.can_resume()
        );
        // The session records an interrupted download by itself (its
        // record keeper runs beside the item), so a restarted app lists it.
        let mut listed = Vec::new();
        for _ in 0..100 {
            listed = ses.interrupted_downloads()?;
            if !listed.is_empty() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        let record = listed.into_iter().next();
        println!(
            "  ses.interrupted_downloads() → {} recorded by the session for a restart (offset {})",
            if record.is_some() { "1" } else { "none" },
            record.as_ref().map(|r| r.offset).unwrap_or_default()
        );
        item.resume();
        let state = item.wait_done().await;
        let saved = std::fs::read(item.save_path())?;
        let digest = |b: &[u8]| ring::digest::digest(&ring::digest::SHA256, b);
        let same = digest(&saved).as_ref() == digest(&file).as_ref();
        println!(
            "  resumed with Range: bytes={}- → {}: {} ({} bytes, SHA-256 identical to the server's: {same})",
            record.as_ref().map(|r| r.offset).unwrap_or_default(),
            state.as_str(),
            item.save_path()
                .file_name()
                .unwrap_or_default()
                .to_string_lossy(),
            saved.len()
        );
        let mut left = ses.interrupted_downloads()?.len();
        for _ in 0..100 {
            if left == 0 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            left = ses.interrupted_downloads()?.len();
        }
        println!("  completed, so the record is gone: {left} interrupted download(s) left");
        ses.set_will_download_handler(None);
        anyhow::Ok(())
    });
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// An HTTPS server for the tour that answers every request with `body`.
fn tour_https_server(
    chain: Vec<rustls::pki_types::CertificateDer<'static>>,
    key: Vec<u8>,
    body: &'static str,
) -> anyhow::Result<std::net::SocketAddr> {
    use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
    use std::io::{BufRead, BufReader, Write};

    let config = Arc::new(
        rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key)))?,
    );
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let config = config.clone();
            std::thread::spawn(move || {
                let Ok(conn) = rustls::ServerConnection::new(config) else {
                    return;
                };
                let mut tls = BufReader::new(rustls::StreamOwned::new(conn, stream));
                // Keep-alive: every request of the connection is answered.
                loop {
                    loop {
                        let mut line = String::new();
                        if tls.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        if line == "\r\n" {
                            break;
                        }
                    }
                    let out = tls.get_mut();
                    let _ = write!(
                        out,
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = out.flush();
                }
            });
        }
    });
    Ok(addr)
}

/// A CONNECT proxy for the tour: it knows `intranet.tour.test` (the name
/// resolves nowhere else) and counts the tunnels it opens.
fn tour_connect_proxy(
    intranet: std::net::SocketAddr,
    tunnels: Arc<std::sync::atomic::AtomicUsize>,
) -> anyhow::Result<std::net::SocketAddr> {
    use std::io::{BufRead, BufReader, Write};

    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let tunnels = tunnels.clone();
            std::thread::spawn(move || -> std::io::Result<()> {
                let mut reader = BufReader::new(client.try_clone()?);
                let mut first = String::new();
                reader.read_line(&mut first)?;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line)? == 0 || line == "\r\n" {
                        break;
                    }
                }
                let mut client = client;
                let target = first.split_whitespace().nth(1).unwrap_or_default();
                if !first.starts_with("CONNECT ") || !target.starts_with("intranet.tour.test:") {
                    client.write_all(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")?;
                    return Ok(());
                }
                let server = std::net::TcpStream::connect(intranet)?;
                client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")?;
                tunnels.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let (mut from_client, mut to_server) = (client.try_clone()?, server.try_clone()?);
                let upstream = std::thread::spawn(move || {
                    let _ = std::io::copy(&mut from_client, &mut to_server);
                    let _ = to_server.shutdown(std::net::Shutdown::Write);
                });
                let (mut from_server, mut to_client) = (server, client);
                let _ = std::io::copy(&mut from_server, &mut to_client);
                let _ = upstream.join();
                Ok(())
            });
        }
    });
    Ok(addr)
}

fn through_a_pac_proxy(sessions: &Sessions) -> anyhow::Result<()> {
    use std::sync::atomic::{AtomicUsize, Ordering};

    chapter(9, "HTTPS through a proxy chosen by a PAC script");
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new())?;
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "sesh tour intranet CA");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca_key = rcgen::KeyPair::generate()?;
    let ca_cert = ca_params.self_signed(&ca_key)?;
    let issuer = rcgen::Issuer::from_params(&ca_params, &ca_key);
    let leaf_params = rcgen::CertificateParams::new(vec!["intranet.tour.test".to_owned()])?;
    let leaf_key = rcgen::KeyPair::generate()?;
    let leaf = leaf_params.signed_by(&leaf_key, &issuer)?;
    let intranet = tour_https_server(
        vec![leaf.der().clone(), ca_cert.der().clone()],
        leaf_key.serialize_der(),
        "hello from the intranet",
    )?;
    let tunnels = Arc::new(AtomicUsize::new(0));
    let proxy = tour_connect_proxy(intranet, tunnels.clone())?;
    println!(
        "an HTTPS server for intranet.tour.test, reachable only through a CONNECT proxy on {proxy}"
    );

    let pac = format!(
        "function FindProxyForURL(url, host) {{ alert(\"routing \" + host); if (dnsDomainIs(host, \".tour.test\")) return \"PROXY {proxy}\"; return \"DIRECT\"; }}"
    );
    let pac_url = format!(
        "data:application/x-ns-proxy-autoconfig,{}",
        pac.replace('%', "%25")
            .replace(' ', "%20")
            .replace('"', "%22")
    );
    let ses = sessions.from_partition("tour-scratch", PartitionOptions::default())?;
    ses.cert_verifier().add_root_pem(&ca_cert.pem())?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let log_path = sessions.user_data_dir().join("tour-net-log.json");
    runtime.block_on(async {
        ses.net_log()
            .start_logging(&log_path, sesh::net::NetLogOptions::default())
            .await?;
        println!("ses.netLog.startLogging({})", log_path.display());
        ses.set_proxy(ProxyConfig {
            pac_script: Some(pac_url),
            ..Default::default()
        })
        .await?;
        println!("ses.setProxy({{ pacScript }}): {pac}");
        let url = Url::parse("https://intranet.tour.test/")?;
        println!(
            "  ses.resolveProxy({url}) → {}",
            ses.resolve_proxy(url.as_str()).await?
        );
        let response = ses.fetch(sesh::net::Request::get(url.clone())).await?;
        let status = response.status;
        let via = response
            .remote_addr
            .map(|a| a.to_string())
            .unwrap_or_default();
        let body = String::from_utf8_lossy(&response.bytes().await?).into_owned();
        println!("  ses.fetch({url}) → {status} {body:?} (connected to {via}, the proxy)");
        for _ in 0..2 {
            ses.fetch(sesh::net::Request::get(url.clone()))
                .await?
                .bytes()
                .await?;
        }
        println!(
            "  two more fetches; tunnels the proxy opened: {} (the session's pool kept the tunnelled connection alive), {} idle in the pool",
            tunnels.load(Ordering::SeqCst),
            ses.connections().idle()
        );
        println!("  the certificate was checked against the tour's CA, once per connection");
        let limits = ses.connections().limits();
        println!(
            "  the pool's limits (Chromium's): {} sockets per host, {} through one proxy, {} in all; idle sockets looked over every {} s",
            limits.per_host,
            limits.per_proxy,
            limits.total,
            sesh::net::IDLE_SWEEP_INTERVAL.as_secs()
        );
        let v4 = sesh::net::ResolveHostOptions {
            query_type: Some(sesh::net::QueryType::A),
            ..Default::default()
        };
        let found = ses.resolve_host("localhost", &v4).await?;
        println!(
            "  ses.resolveHost('localhost', {{ queryType: 'A' }}) → {}",
            serde_json::to_string(&found)?
        );
        let local_only = sesh::net::ResolveHostOptions {
            source: sesh::net::HostResolverSource::LocalOnly,
            ..Default::default()
        };
        match ses.resolve_host("intranet.tour.test", &local_only).await {
            Ok(found) => println!("  ses.resolveHost('intranet.tour.test', {{ source: 'localOnly' }}) → {found:?}"),
            Err(e) => println!(
                "  ses.resolveHost('intranet.tour.test', {{ source: 'localOnly' }}) → {} (the proxy resolved it; this side never did)",
                e.error
            ),
        }
        ses.set_proxy(ProxyConfig::default()).await?;
        ses.net_log().stop_logging().await?;
        anyhow::Ok(())
    })?;
    summarize_net_log(&log_path)
}

fn web_request_hooks(sessions: &Sessions) -> anyhow::Result<()> {
    use sesh::web_request::{
        BeforeRequestAction, BeforeSendHeadersAction, HeadersReceivedAction, WebRequestFilter,
    };

    chapter(10, "webRequest: hooks on every request");
    let addr = tour_http_server(Arc::new(tour_file()), usize::MAX)?;
    let ses = sessions.from_partition("tour-hooks", PartitionOptions::default())?;
    let web = ses.web_request();
    web.on_before_request(Some(WebRequestFilter::new(["*://*/ads/*"])?), |d| {
        println!(
            "  onBeforeRequest #{} {} → cancel",
            d.request.id, d.request.url
        );
        async { BeforeRequestAction::Cancel }
    });
    web.on_before_send_headers(None, |d| {
        let mut headers = d.request_headers;
        let _ = headers.insert("X-Tour", "10");
        println!(
            "  onBeforeSendHeaders #{}: {} headers, X-Tour added",
            d.request.id,
            headers.len()
        );
        async move { BeforeSendHeadersAction::Headers(headers) }
    });
    web.on_headers_received(Some(WebRequestFilter::new(["*://*/hello"])?), |d| {
        let mut headers = d.response.response_headers;
        let removed: Vec<String> = headers.get_all("Set-Cookie").map(str::to_owned).collect();
        headers.remove("Set-Cookie");
        println!(
            "  onHeadersReceived #{} {}: Set-Cookie {removed:?} removed",
            d.request.id, d.response.status_line
        );
        async move {
            HeadersReceivedAction::Headers {
                headers,
                status_line: None,
            }
        }
    });
    web.on_completed(None, |d| {
        println!(
            "  onCompleted #{} {} {}",
            d.request.id, d.request.url, d.error
        );
    });
    web.on_error_occurred(None, |d| {
        println!(
            "  onErrorOccurred #{} {} {}",
            d.request.id, d.request.url, d.error
        );
    });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let hello = Url::parse(&format!("http://{addr}/hello"))?;
        println!("ses.fetch({hello})");
        let body = ses
            .fetch(sesh::net::Request::get(hello.clone()))
            .await?
            .bytes()
            .await?;
        println!(
            "  → {:?}; cookies kept: {:?} (the hook took Set-Cookie away)",
            String::from_utf8_lossy(&body),
            ses.cookies()
                .cookie_header(&hello, sesh::storage::cookies::CookieOptions::default())
        );
        let ad = Url::parse(&format!("http://{addr}/ads/banner.png"))?;
        println!("ses.fetch({ad})");
        if let Err(e) = ses.fetch(sesh::net::Request::get(ad)).await {
            println!("  → {} (never sent)", e.error);
        }
        anyhow::Ok(())
    })
}

/// What the tour's net log holds: its size, the first request's events in
/// order, and what the PAC script said.
fn summarize_net_log(path: &std::path::Path) -> anyhow::Result<()> {
    let log: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path)?)?;
    let names: std::collections::HashMap<u64, &str> = log["constants"]["logEventTypes"]
        .as_object()
        .map(|types| {
            types
                .iter()
                .filter_map(|(name, n)| Some((n.as_u64()?, name.as_str())))
                .collect()
        })
        .unwrap_or_default();
    let events = log["events"].as_array().cloned().unwrap_or_default();
    let name = |e: &serde_json::Value| {
        e["type"]
            .as_u64()
            .and_then(|n| names.get(&n).copied())
            .unwrap_or("?")
    };
    println!(
        "ses.netLog.stopLogging(): {} events in Chromium's netlog format (open it in Chromium's netlog viewer)",
        events.len()
    );
    if let Some(first) = events.iter().find(|e| name(e) == "REQUEST_ALIVE") {
        let id = &first["source"]["id"];
        let mut steps: Vec<&str> = Vec::new();
        for e in events.iter().filter(|e| e["source"]["id"] == *id) {
            let step = name(e);
            if steps.last() != Some(&step) && !step.contains("BYTES") {
                steps.push(step);
            }
        }
        println!("  the first request: {}", steps.join(" → "));
    }
    if let Some(tls) = events
        .iter()
        .find(|e| name(e) == "SSL_CONNECT" && e["params"]["key_exchange_group"].is_u64())
    {
        let group = match tls["params"]["key_exchange_group"].as_u64() {
            Some(0x11ec) => "X25519MLKEM768".to_owned(),
            Some(0x1d) => "X25519".to_owned(),
            Some(other) => format!("group {other:#x}"),
            None => "?".to_owned(),
        };
        let suite = match tls["params"]["cipher_suite"].as_u64() {
            Some(0x1301) => "TLS_AES_128_GCM_SHA256".to_owned(),
            Some(0x1302) => "TLS_AES_256_GCM_SHA384".to_owned(),
            Some(0x1303) => "TLS_CHACHA20_POLY1305_SHA256".to_owned(),
            Some(other) => format!("suite {other:#06x}"),
            None => "?".to_owned(),
        };
        println!(
            "  SSL_CONNECT: sesh offered X25519MLKEM768 first (its share in every ClientHello) and\n               Chromium's cipher suites in Chromium's order; this server chose {group} and {suite}"
        );
    }
    for alert in events.iter().filter(|e| name(e) == "PAC_JAVASCRIPT_ALERT") {
        println!(
            "  PAC_JAVASCRIPT_ALERT: {}",
            alert["params"]["message"].as_str().unwrap_or_default()
        );
    }
    Ok(())
}
