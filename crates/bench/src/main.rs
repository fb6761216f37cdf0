//! The network benchmarks' parts, run by `cargo xtask bench fetch` and
//! `cargo xtask bench download`: a loopback server (hyper: HTTP/1.1, and
//! HTTPS with an rcgen CA offering HTTP/2 and HTTP/1.1 by ALPN), and the same workload driven by sesh and by its
//! peers (reqwest, hyper-util's client, hyper over tokio-rustls), each in a
//! process of its own so that its memory can be measured. Every client
//! prints one line of JSON.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Instant;

use anyhow::{Context as _, bail};
use bytes::Bytes;
use clap::{Parser, Subcommand, ValueEnum};
use http_body_util::{BodyExt, Either, Full};
use hyper::body::{Frame, SizeHint};
use rustls::pki_types::pem::PemObject;
use serde_json::json;
use url::Url;

#[derive(Parser)]
#[command(about = "Benchmark server and clients for cargo xtask bench")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serves `/small` (64 bytes) and `/big/BYTES` over HTTP, HTTPS with
    /// HTTP/1.1 and HTTPS with HTTP/2 offered, on 127.0.0.1; writes the CA
    /// to `DIR/ca.pem` and prints the ports.
    Serve {
        /// Where the CA certificate goes.
        #[arg(long)]
        dir: PathBuf,
    },
    /// Sends GETs and reads their bodies to the end.
    Fetch {
        /// Who sends them.
        #[arg(long, value_enum)]
        client: Client,
        /// The URL.
        #[arg(long)]
        url: Url,
        /// How many requests in all.
        #[arg(long)]
        requests: usize,
        /// How many tasks send them.
        #[arg(long, default_value_t = 1)]
        concurrency: usize,
        /// A CA to trust (PEM file).
        #[arg(long)]
        ca: Option<PathBuf>,
        /// An HTTP proxy (`http://host:port`).
        #[arg(long)]
        proxy: Option<String>,
        /// A new connection for every request.
        #[arg(long)]
        fresh: bool,
        /// sesh only: sockets per host instead of Chromium's 6.
        #[arg(long)]
        per_host: Option<usize>,
        /// sesh only: first store the `sets` of this cookie workload
        /// (`shared/bench/cookies/workload.json`) in the session's jar.
        #[arg(long)]
        jar: Option<PathBuf>,
        /// sesh only: a webRequest hook at each of the eight stages.
        #[arg(long)]
        hooks: bool,
        /// hyper only (https, `--fresh`): offer the cipher suites in
        /// Chromium's order, as sesh does, instead of rustls's — to tell
        /// how much of a difference the suite a server settles on makes.
        #[arg(long)]
        chromium_suites: bool,
        /// hyper only (https, `--fresh`): send sesh's X25519MLKEM768 key
        /// share (with the X25519 share beside it) in every ClientHello, as
        /// sesh and Chromium do — hyper over rustls sends X25519 alone (ring
        /// has no ML-KEM; aws-lc-rs lists the hybrid after X25519).
        #[arg(long)]
        hybrid_share: bool,
        /// hyper only (https, `--fresh`): rustls's aws-lc-rs provider, the
        /// one sesh runs on and hyper-rustls's default, instead of ring.
        #[arg(long)]
        aws_lc: bool,
        /// hyper only (https, `--fresh`): hyper-util's pooling client with
        /// hyper-rustls's connector — hyper as an app on it fetches — rather
        /// than a bare connection made by hand for each request. The TLS
        /// config is the same either way (the options above).
        #[arg(long)]
        hyper_rustls: bool,
        /// reqwest only: send reqwest's own headers rather than sesh's
        /// (every client sends sesh's by default: see `headers`).
        #[arg(long)]
        own_headers: bool,
    },
    /// Prints the request headers every client sends besides Host, one
    /// `Name: value` a line: sesh's (its user agent, Accept-Language and
    /// Accept-Encoding for the URL's scheme), so that the peers make the
    /// same exchange as sesh on the wire.
    Headers {
        /// The URL the requests go to.
        #[arg(long)]
        url: Url,
    },
    /// Streams one response body to a file.
    Download {
        /// Who downloads.
        #[arg(long, value_enum)]
        client: Client,
        /// The URL.
        #[arg(long)]
        url: Url,
        /// The directory the file goes to.
        #[arg(long)]
        dir: PathBuf,
        /// reqwest only: make the file durable at the end (fdatasync), as
        /// sesh and Chromium do before renaming a download into place.
        #[arg(long)]
        sync: bool,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Client {
    Sesh,
    Reqwest,
    Hyper,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        match cli.command {
            Command::Serve { dir } => serve(&dir).await,
            Command::Fetch {
                client,
                url,
                requests,
                concurrency,
                ca,
                proxy,
                fresh,
                per_host,
                jar,
                hooks,
                chromium_suites,
                hybrid_share,
                aws_lc,
                hyper_rustls,
                own_headers,
            } => {
                let ca = ca.map(std::fs::read_to_string).transpose()?;
                let options = FetchOptions {
                    requests,
                    concurrency: concurrency.max(1),
                    ca,
                    proxy,
                    fresh,
                    per_host,
                    jar,
                    hooks,
                    chromium_suites,
                    hybrid_share,
                    aws_lc,
                    hyper_rustls,
                    headers: if own_headers && client == Client::Reqwest {
                        http::HeaderMap::new()
                    } else {
                        sesh_headers(&url)?
                    },
                    url,
                };
                let run = match client {
                    Client::Sesh => fetch_sesh(&options).await?,
                    Client::Reqwest => fetch_reqwest(&options).await?,
                    Client::Hyper => fetch_hyper(&options).await?,
                };
                println!(
                    "{}",
                    json!({"requests": options.requests, "errors": run.errors, "seconds": run.seconds})
                );
                Ok(())
            }
            Command::Headers { url } => {
                for (name, value) in &sesh_headers(&url)? {
                    println!("{name}: {}", value.to_str()?);
                }
                Ok(())
            }
            Command::Download {
                client,
                url,
                dir,
                sync,
            } => {
                let started = Instant::now();
                let bytes = match client {
                    Client::Sesh => download_sesh(&url, &dir).await?,
                    Client::Reqwest => download_reqwest(&url, &dir, sync).await?,
                    Client::Hyper => bail!("the download peers are reqwest, curl and wget"),
                };
                let seconds = started.elapsed().as_secs_f64();
                println!("{}", json!({"bytes": bytes, "seconds": seconds}));
                Ok(())
            }
        }
    })
}

/// A body of `left` bytes, sent in slices of one shared megabyte.
struct Big {
    left: u64,
    chunk: Bytes,
}

impl hyper::body::Body for Big {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if self.left == 0 {
            return Poll::Ready(None);
        }
        let n = self.left.min(self.chunk.len() as u64);
        self.left -= n;
        let data = self.chunk.slice(..n as usize);
        Poll::Ready(Some(Ok(Frame::data(data))))
    }

    fn is_end_stream(&self) -> bool {
        self.left == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.left)
    }
}

type ServerBody = Either<Full<Bytes>, Big>;

fn respond(
    request: &http::Request<hyper::body::Incoming>,
    chunk: &Bytes,
) -> http::Response<ServerBody> {
    let path = request.uri().path();
    let body = if let Some(n) = path.strip_prefix("/big/") {
        Either::Right(Big {
            left: n.parse().unwrap_or(0),
            chunk: chunk.clone(),
        })
    } else {
        Either::Left(Full::new(Bytes::from_static(&[b'x'; 64])))
    };
    let mut response = http::Response::new(body);
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/octet-stream"),
    );
    response
}

async fn serve(dir: &Path) -> anyhow::Result<()> {
    let key = rcgen::KeyPair::generate()?;
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "sesh bench CA");
    let ca = ca_params.self_signed(&key)?;
    let issuer = rcgen::Issuer::from_params(&ca_params, &key);
    let leaf_key = rcgen::KeyPair::generate()?;
    let mut leaf_params =
        rcgen::CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()])?;
    leaf_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "localhost");
    let leaf = leaf_params.signed_by(&leaf_key, &issuer)?;
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join("ca.pem"), ca.pem())?;
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_no_client_auth()
    .with_single_cert(
        vec![leaf.der().clone(), ca.der().clone()],
        rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into()),
    )?;
    // One HTTPS port speaks HTTP/1.1 only; the other HTTP/2 as well, to
    // clients that offer it (as most servers do).
    let mut h2_config = config.clone();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    h2_config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let h2_acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(h2_config));
    let chunk = Bytes::from(vec![b'z'; 1 << 20]);

    let plain = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let tls = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let tls2 = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    println!(
        "{}",
        json!({
            "http": plain.local_addr()?.port(),
            "https": tls.local_addr()?.port(),
            "https2": tls2.local_addr()?.port(),
        })
    );
    let accept = |listener: tokio::net::TcpListener,
                  acceptor: Option<tokio_rustls::TlsAcceptor>| {
        let chunk = chunk.clone();
        async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let (chunk, acceptor) = (chunk.clone(), acceptor.clone());
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        let response = respond(&request, &chunk);
                        async move { Ok::<_, std::convert::Infallible>(response) }
                    });
                    match acceptor {
                        Some(acceptor) => {
                            if let Ok(stream) = acceptor.accept(stream).await {
                                let h2 = stream.get_ref().1.alpn_protocol() == Some(b"h2");
                                let io = hyper_util::rt::TokioIo::new(stream);
                                if h2 {
                                    let _ = hyper::server::conn::http2::Builder::new(
                                        hyper_util::rt::TokioExecutor::new(),
                                    )
                                    .max_concurrent_streams(256)
                                    .serve_connection(io, service)
                                    .await;
                                } else {
                                    let _ = hyper::server::conn::http1::Builder::new()
                                        .serve_connection(io, service)
                                        .await;
                                }
                            }
                        }
                        None => {
                            let io = hyper_util::rt::TokioIo::new(stream);
                            let _ = hyper::server::conn::http1::Builder::new()
                                .serve_connection(io, service)
                                .await;
                        }
                    }
                });
            }
        }
    };
    tokio::join!(
        accept(plain, None),
        accept(tls, Some(acceptor)),
        accept(tls2, Some(h2_acceptor))
    );
    Ok(())
}

struct FetchOptions {
    url: Url,
    requests: usize,
    concurrency: usize,
    ca: Option<String>,
    proxy: Option<String>,
    fresh: bool,
    per_host: Option<usize>,
    jar: Option<PathBuf>,
    hooks: bool,
    chromium_suites: bool,
    hybrid_share: bool,
    aws_lc: bool,
    hyper_rustls: bool,
    /// What every request carries besides Host (see [`sesh_headers`]);
    /// sesh's own client adds these itself.
    headers: http::HeaderMap,
}

/// The headers sesh's session sends on a GET of `url` besides Host: its
/// user agent (that of [`bench_partition`], where sesh's clients run),
/// Accept-Language and Accept-Encoding. The peers send them too, so that
/// each client makes the same exchange on the wire and what the server
/// and a proxy do with the headers (tinyproxy reads and writes each line
/// with system calls of its own) weighs on all of them alike.
fn sesh_headers(url: &Url) -> anyhow::Result<http::HeaderMap> {
    let (_dir, ses) = bench_partition()?;
    let mut headers = http::HeaderMap::new();
    headers.insert(http::header::USER_AGENT, ses.user_agent().parse()?);
    headers.insert(
        http::header::ACCEPT_LANGUAGE,
        ses.accept_language_header().parse()?,
    );
    headers.insert(
        http::header::ACCEPT_ENCODING,
        http::HeaderValue::from_static(sesh_core::net::accept_encoding(url.scheme() == "https")),
    );
    Ok(headers)
}

/// Runs `one` `requests` times over `concurrency` tasks; returns how many
/// failed.
/// What a fetch workload measured.
struct Run {
    /// Requests that failed.
    errors: usize,
    /// From the first request sent to the last one answered: the client is
    /// built before the clock starts, whichever client it is (sesh opens a
    /// partition on disk, reqwest loads its roots, hyper has nothing to
    /// build), so the rate is the requests' alone.
    seconds: f64,
}

async fn spread<F, Fut>(options: &FetchOptions, one: F) -> Run
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send,
{
    let next = Arc::new(AtomicUsize::new(0));
    let errors = Arc::new(AtomicUsize::new(0));
    let total = options.requests;
    let started = Instant::now();
    let tasks: Vec<_> = (0..options.concurrency)
        .map(|_| {
            let (next, errors, one) = (next.clone(), errors.clone(), one.clone());
            tokio::spawn(async move {
                while next.fetch_add(1, Ordering::Relaxed) < total {
                    if let Err(e) = one().await {
                        // The first few, to tell what went wrong.
                        if errors.fetch_add(1, Ordering::Relaxed) < 3 {
                            eprintln!("error: {e:#}");
                        }
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        let _ = task.await;
    }
    Run {
        errors: errors.load(Ordering::Relaxed),
        seconds: started.elapsed().as_secs_f64(),
    }
}

/// The in-memory partition every sesh client of the bench runs in (the
/// app name is part of its user agent), in a user-data directory of its
/// own.
fn bench_partition() -> anyhow::Result<(tempfile::TempDir, sesh_core::Session)> {
    let dir = tempfile::tempdir()?;
    let sessions = sesh_core::Sessions::builder()
        .app_name("sesh-bench")
        .user_data_dir(dir.path())
        .build()?;
    let ses = sessions.from_partition("bench", sesh_core::PartitionOptions::default())?;
    Ok((dir, ses))
}

async fn sesh_session(
    ca: Option<&str>,
    proxy: Option<&str>,
) -> anyhow::Result<(tempfile::TempDir, sesh_core::Session)> {
    let (dir, ses) = bench_partition()?;
    // The system's roots are part of building the client, as reqwest's
    // are: loaded here, before the clock starts, rather than (as a session
    // would otherwise do) on a thread of their own that the first HTTPS
    // connection may still wait for.
    sesh_core::tls::load_system_roots();
    if let Some(ca) = ca {
        ses.cert_verifier().add_root_pem(ca)?;
    }
    let config = match proxy {
        Some(proxy) => sesh_core::proxy::ProxyConfig {
            proxy_rules: Some(proxy.to_owned()),
            proxy_bypass_rules: Some("<-loopback>".into()),
            ..Default::default()
        },
        None => sesh_core::proxy::ProxyConfig {
            mode: Some(sesh_core::proxy::ProxyMode::Direct),
            ..Default::default()
        },
    };
    ses.set_proxy(config).await?;
    Ok((dir, ses))
}

async fn fetch_sesh(options: &FetchOptions) -> anyhow::Result<Run> {
    let (_dir, ses) = sesh_session(options.ca.as_deref(), options.proxy.as_deref()).await?;
    if let Some(per_host) = options.per_host {
        ses.connections()
            .set_limits(sesh_core::net::ConnectionLimits {
                per_host,
                total: 256.max(per_host),
                per_proxy: 32.max(per_host),
            });
    }
    if let Some(jar) = &options.jar {
        let workload: serde_json::Value = serde_json::from_slice(&std::fs::read(jar)?)?;
        let sets = workload["sets"]
            .as_array()
            .context("no sets in the workload")?;
        for set in sets {
            let (Some(url), Some(line)) = (set[0].as_str(), set[1].as_str()) else {
                bail!("a set is not [url, Set-Cookie]: {set}");
            };
            // A cookie the jar refuses is part of the workload.
            let _ = ses.cookies().set_from_header(&Url::parse(url)?, line);
        }
    }
    if options.hooks {
        install_hooks(&ses);
    }
    let url = options.url.clone();
    let fresh = options.fresh;
    // A run that stops making progress says what the pool holds.
    let done = Arc::new(AtomicUsize::new(0));
    let watchdog = {
        let (ses, done) = (ses.clone(), done.clone());
        tokio::spawn(async move {
            let mut last = usize::MAX;
            loop {
                tokio::time::sleep(std::time::Duration::from_secs(10)).await;
                let now = done.load(Ordering::Relaxed);
                if now == last {
                    eprintln!("no progress for 10 s: {:?}", ses.connections());
                }
                last = now;
            }
        })
    };
    let run = spread(options, move || {
        let (ses, url, done) = (ses.clone(), url.clone(), done.clone());
        async move {
            let mut request = sesh_core::net::Request::get(url);
            if fresh {
                request.headers.insert(
                    http::header::CONNECTION,
                    http::HeaderValue::from_static("close"),
                );
            }
            let mut response = ses.fetch(request).await?;
            if response.status != 200 {
                bail!("status {}", response.status);
            }
            while response.chunk().await?.is_some() {}
            done.fetch_add(1, Ordering::Relaxed);
            Ok(())
        }
    })
    .await;
    watchdog.abort();
    Ok(run)
}

/// A hook at each stage of webRequest, each doing a little work (counting
/// the headers it is shown) and letting the request go on.
fn install_hooks(ses: &sesh_core::Session) {
    use sesh_core::web_request::{
        BeforeRequestAction, BeforeSendHeadersAction, HeadersReceivedAction,
    };
    let seen = Arc::new(AtomicUsize::new(0));
    let web = ses.web_request();
    let s = seen.clone();
    web.on_before_request(None, move |d| {
        s.fetch_add(d.request.url.len(), Ordering::Relaxed);
        async { BeforeRequestAction::Continue }
    });
    let s = seen.clone();
    web.on_before_send_headers(None, move |d| {
        s.fetch_add(d.request_headers.len(), Ordering::Relaxed);
        async { BeforeSendHeadersAction::Continue }
    });
    let s = seen.clone();
    web.on_send_headers(None, move |d| {
        s.fetch_add(d.request_headers.len(), Ordering::Relaxed);
    });
    let s = seen.clone();
    web.on_headers_received(None, move |d| {
        s.fetch_add(d.response.response_headers.len(), Ordering::Relaxed);
        async { HeadersReceivedAction::Continue }
    });
    let s = seen.clone();
    web.on_response_started(None, move |d| {
        s.fetch_add(usize::from(d.response.status_code), Ordering::Relaxed);
    });
    let s = seen.clone();
    web.on_before_redirect(None, move |d| {
        s.fetch_add(d.redirect_url.len(), Ordering::Relaxed);
    });
    let s = seen.clone();
    web.on_completed(None, move |d| {
        s.fetch_add(d.error.len(), Ordering::Relaxed);
    });
    web.on_error_occurred(None, move |d| {
        seen.fetch_add(d.error.len(), Ordering::Relaxed);
    });
}

fn reqwest_client(options: &FetchOptions) -> anyhow::Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder();
    if let Some(ca) = &options.ca {
        builder = builder.add_root_certificate(reqwest::Certificate::from_pem(ca.as_bytes())?);
    }
    builder = match &options.proxy {
        Some(proxy) => builder.proxy(reqwest::Proxy::all(proxy)?),
        None => builder.no_proxy(),
    };
    if options.fresh {
        builder = builder.pool_max_idle_per_host(0);
    }
    Ok(builder.build()?)
}

async fn fetch_reqwest(options: &FetchOptions) -> anyhow::Result<Run> {
    let client = reqwest_client(options)?;
    let url = options.url.clone();
    let fresh = options.fresh;
    let headers = options.headers.clone();
    Ok(spread(options, move || {
        let (client, url) = (client.clone(), url.clone());
        let headers = headers.clone();
        async move {
            let mut request = client.get(url).headers(headers);
            if fresh {
                // The same exchange as every client's: the request asks the
                // server to close.
                request = request.header(http::header::CONNECTION, "close");
            }
            let mut response = request.send().await?;
            if response.status() != 200 {
                bail!("status {}", response.status());
            }
            while response.chunk().await?.is_some() {}
            Ok(())
        }
    })
    .await)
}

/// hyper-util's pooled client for http; for https with `--fresh`, hyper's
/// connection API over tokio-rustls, one connection a request (what
/// hyper-rustls does).
async fn fetch_hyper(options: &FetchOptions) -> anyhow::Result<Run> {
    if options.proxy.is_some() {
        bail!("the hyper peer runs without a proxy");
    }
    let url = options.url.clone();
    if url.scheme() == "http" {
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build_http::<Full<Bytes>>();
        return fetch_legacy(options, client).await;
    }
    if !options.fresh {
        bail!("the hyper peer does https only with --fresh");
    }
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::CertificateDer::pem_slice_iter(
        options.ca.as_deref().unwrap_or_default().as_bytes(),
    ) {
        roots.add(cert?)?;
    }
    let mut provider = if options.aws_lc {
        rustls::crypto::aws_lc_rs::default_provider()
    } else {
        rustls::crypto::ring::default_provider()
    };
    if options.chromium_suites {
        let order = sesh_core::tls::chromium_cipher_suites(sesh_core::tls::has_aes_hardware());
        provider.cipher_suites.sort_by_key(|s| {
            let n = u16::from(s.suite());
            order.iter().position(|&o| o == n).unwrap_or(order.len())
        });
    }
    if options.hybrid_share {
        let hybrid = sesh_core::tls::kx::X25519MLKEM768;
        provider.kx_groups.retain(|g| g.name() != hybrid.name());
        provider.kx_groups.insert(0, hybrid);
    }
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(provider))
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    if options.hybrid_share {
        // Without the key-share hint rustls keeps, so that every
        // ClientHello carries the hybrid share.
        config.resumption =
            rustls::client::Resumption::store(Arc::new(sesh_core::tls::SessionCache::default()));
    }
    if options.hyper_rustls {
        return fetch_hyper_rustls(options, config).await;
    }
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let addr: SocketAddr = format!(
        "{}:{}",
        url.host_str().unwrap_or_default(),
        url.port_or_known_default().unwrap_or(443)
    )
    .parse()?;
    let name =
        rustls::pki_types::ServerName::try_from(url.host_str().unwrap_or_default().to_owned())?;
    let headers = options.headers.clone();
    Ok(spread(options, move || {
        let (connector, name, url) = (connector.clone(), name.clone(), url.clone());
        let headers = headers.clone();
        async move {
            let tcp = tokio::net::TcpStream::connect(addr).await?;
            tcp.set_nodelay(true)?;
            let tls = connector.connect(name, tcp).await?;
            let (mut sender, connection) =
                hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls)).await?;
            tokio::spawn(connection);
            let mut request = http::Request::get(url.path())
                .header(http::header::HOST, url.host_str().unwrap_or_default())
                // The same exchange as every client's: the request asks
                // the server to close.
                .header(http::header::CONNECTION, "close")
                .body(Full::new(Bytes::new()))?;
            request.headers_mut().extend(headers);
            let mut response = sender.send_request(request).await?;
            while let Some(frame) = response.body_mut().frame().await {
                frame?;
            }
            Ok(())
        }
    })
    .await)
}

/// Fresh TLS connections through hyper-util's legacy client and
/// hyper-rustls's connector (HTTP/1.1, `TCP_NODELAY` as the other clients),
/// with `config` as TLS config.
async fn fetch_hyper_rustls(
    options: &FetchOptions,
    config: rustls::ClientConfig,
) -> anyhow::Result<Run> {
    let mut http = hyper_util::client::legacy::connect::HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(config)
        .https_only()
        .enable_http1()
        .wrap_connector(http);
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build::<_, Full<Bytes>>(connector);
    fetch_legacy(options, client).await
}

/// GETs through one of hyper-util's legacy clients, each asking the server
/// to close with `--fresh` (so that each makes a connection).
async fn fetch_legacy<C>(
    options: &FetchOptions,
    client: hyper_util::client::legacy::Client<C, Full<Bytes>>,
) -> anyhow::Result<Run>
where
    C: hyper_util::client::legacy::connect::Connect + Clone + Send + Sync + 'static,
{
    let uri: http::Uri = options.url.as_str().parse()?;
    let (headers, fresh) = (options.headers.clone(), options.fresh);
    Ok(spread(options, move || {
        let (client, uri, headers) = (client.clone(), uri.clone(), headers.clone());
        async move {
            let mut request = http::Request::get(uri);
            if fresh {
                request = request.header(http::header::CONNECTION, "close");
            }
            let mut request = request.body(Full::new(Bytes::new()))?;
            request.headers_mut().extend(headers);
            let mut response = client.request(request).await?;
            while let Some(frame) = response.body_mut().frame().await {
                frame?;
            }
            Ok(())
        }
    })
    .await)
}

/// A download through the session's download manager (`download_url`):
/// a `.crdownload` file renamed on completion.
async fn download_sesh(url: &Url, dir: &Path) -> anyhow::Result<u64> {
    let (_session_dir, ses) = sesh_session(None, None).await?;
    ses.set_download_path(dir)?;
    let item = ses.download_url(url.clone());
    let state = item.wait_done().await;
    if state != sesh_core::downloads::DownloadState::Completed {
        bail!("the download ended {}", state.as_str());
    }
    Ok(std::fs::metadata(item.save_path())
        .with_context(|| format!("{}", item.save_path().display()))?
        .len())
}

/// reqwest streaming to a file through a 1 MiB buffer.
async fn download_reqwest(url: &Url, dir: &Path, sync: bool) -> anyhow::Result<u64> {
    use std::io::Write;

    let client = reqwest::Client::builder().no_proxy().build()?;
    let mut response = client.get(url.clone()).send().await?;
    let mut file =
        std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(dir.join("reqwest.bin"))?);
    let mut bytes = 0;
    while let Some(chunk) = response.chunk().await? {
        bytes += chunk.len() as u64;
        file.write_all(&chunk)?;
    }
    file.flush()?;
    if sync {
        file.get_ref().sync_data()?;
    }
    Ok(bytes)
}
