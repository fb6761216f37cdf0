//! `ses.netLog`: a session's network events written to a file in
//! Chromium's netlog format, readable by Chromium's netlog viewer.
//!
//! While a log runs, the network service reports what each request does —
//! its lifetime, proxy resolution, the socket it is bound to (name
//! resolution, TCP connect, TLS handshake), the request and response
//! headers, redirects, failures — and what PAC scripts say (`alert()`,
//! errors). Events are serialised on the reporting task and written by a
//! thread of the log's own, so the network never waits for the disk; with
//! no log running, reporting costs one atomic load.
//!
//! The file is Chromium's single JSON document (`constants`, `events`,
//! `polledData`), written as it grows: a log cut short by a crash ends in
//! `,\n` and needs `]}` to be read. With a `max_file_size`, events go to
//! ten files in `<path>.inprogress/` used in turn, so the oldest events
//! are dropped, and are joined into `<path>` when logging stops.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU8, AtomicU32, Ordering};
use std::sync::{Arc, Condvar, LazyLock, Mutex, PoisonError};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};
use sesh_cert_verify::NetError;

/// How much a net log records (Electron's `captureMode`).
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(rename_all = "camelCase")]
pub enum CaptureMode {
    /// Request metadata; cookies and credentials in headers are replaced by
    /// `[N bytes were stripped]`.
    #[default]
    Default,
    /// Also cookies and authentication data (`includeSensitive`; Electron
    /// 5–6 spelled it `includePrivacyInfo`, which is accepted too).
    #[serde(alias = "includePrivacyInfo")]
    IncludeSensitive,
    /// Also every byte sent and received on sockets (after TLS decryption).
    Everything,
}

impl CaptureMode {
    /// The name Chromium writes in the `logCaptureMode` constant.
    pub fn chromium_name(self) -> &'static str {
        match self {
            CaptureMode::Default => "Default",
            CaptureMode::IncludeSensitive => "IncludeSensitive",
            CaptureMode::Everything => "Everything",
        }
    }

    /// Whether cookies and credentials are recorded.
    pub fn includes_sensitive(self) -> bool {
        self >= CaptureMode::IncludeSensitive
    }

    /// Whether socket bytes are recorded.
    pub fn includes_socket_bytes(self) -> bool {
        self == CaptureMode::Everything
    }

    fn to_u8(self) -> u8 {
        match self {
            CaptureMode::Default => 1,
            CaptureMode::IncludeSensitive => 2,
            CaptureMode::Everything => 3,
        }
    }

    fn from_u8(value: u8) -> Option<CaptureMode> {
        match value {
            1 => Some(CaptureMode::Default),
            2 => Some(CaptureMode::IncludeSensitive),
            3 => Some(CaptureMode::Everything),
            _ => None,
        }
    }
}

impl std::str::FromStr for CaptureMode {
    type Err = NetLogError;

    /// Electron's strings: `default`, `includeSensitive` (or
    /// `includePrivacyInfo`), `everything`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "default" => Ok(CaptureMode::Default),
            "includeSensitive" | "includePrivacyInfo" => Ok(CaptureMode::IncludeSensitive),
            "everything" => Ok(CaptureMode::Everything),
            _ => Err(NetLogError::InvalidCaptureMode {
                value: s.to_owned(),
            }),
        }
    }
}

/// The options of [`NetLog::start_logging`] (Electron's `options`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct NetLogOptions {
    /// What is recorded.
    pub capture_mode: CaptureMode,
    /// The size the file may reach; the oldest events are dropped beyond
    /// it. Unlimited when `None`.
    pub max_file_size: Option<u64>,
}

impl NetLogOptions {
    /// Options with this capture mode and no size limit.
    pub fn new(capture_mode: CaptureMode) -> Self {
        NetLogOptions {
            capture_mode,
            max_file_size: None,
        }
    }

    /// These options with a size limit.
    pub fn with_max_file_size(mut self, bytes: u64) -> Self {
        self.max_file_size = Some(bytes);
        self
    }
}

/// Why a net log could not start or stop; the messages are Electron's.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NetLogError {
    /// The path is empty.
    #[error("The first parameter must be a valid string")]
    InvalidPath,
    /// A capture mode that is not one of Electron's three.
    #[error("Invalid value for captureMode: {value:?}")]
    InvalidCaptureMode {
        /// What was given.
        value: String,
    },
    /// This session is already logging.
    #[error("There is already a net log running")]
    AlreadyLogging,
    /// `stop_logging` with no log running.
    #[error("No net log in progress")]
    NotLogging,
    /// The file could not be written; `error` is Chromium's code for it
    /// (`net::ERR_FILE_NOT_FOUND`, `net::ERR_ACCESS_DENIED`,
    /// `net::ERR_FAILED`).
    #[error("{error}: {}: {reason}", path.display())]
    File {
        /// Chromium's error.
        error: NetError,
        /// The file.
        path: PathBuf,
        /// What the system said.
        reason: String,
    },
}

impl NetLogError {
    fn file(path: &Path, e: &io::Error) -> NetLogError {
        let code = match e.kind() {
            io::ErrorKind::NotFound => -6,
            io::ErrorKind::PermissionDenied => -10,
            _ => -2,
        };
        NetLogError::File {
            error: NetError::from_code(code),
            path: path.to_owned(),
            reason: e.to_string(),
        }
    }
}

/// A phase of an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    None = 0,
    Begin = 1,
    End = 2,
}

macro_rules! names {
    ($(#[$meta:meta])* $name:ident { $($variant:ident),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        #[allow(non_camel_case_types, clippy::upper_case_acronyms)]
        pub(crate) enum $name { $($variant),* }

        impl $name {
            const ALL: &[$name] = &[$($name::$variant),*];

            fn name(self) -> &'static str {
                match self { $($name::$variant => stringify!($variant)),* }
            }
        }
    };
}

names! {
    /// The kinds of event sesh records, with Chromium's names.
    EventType {
        REQUEST_ALIVE,
        URL_REQUEST_START_JOB,
        URL_REQUEST_REDIRECTED,
        FAILED,
        CANCELLED,
        PROXY_RESOLUTION_SERVICE,
        PROXY_RESOLUTION_SERVICE_RESOLVED_PROXY_LIST,
        PAC_JAVASCRIPT_ALERT,
        PAC_JAVASCRIPT_ERROR,
        BAD_PROXY_LIST_REPORTED,
        HTTP_CACHE_READ_INFO,
        SOCKET_POOL_BOUND_TO_SOCKET,
        SOCKET_POOL_REUSED_AN_EXISTING_SOCKET,
        HTTP2_SESSION_POOL_FOUND_EXISTING_SESSION,
        SOCKET_ALIVE,
        HOST_RESOLVER_MANAGER_REQUEST,
        TCP_CONNECT,
        SSL_CONNECT,
        SOCKET_BYTES_SENT,
        SOCKET_BYTES_RECEIVED,
        SSL_SOCKET_BYTES_SENT,
        SSL_SOCKET_BYTES_RECEIVED,
        HTTP_TRANSACTION_SEND_REQUEST,
        HTTP_TRANSACTION_SEND_REQUEST_HEADERS,
        HTTP_TRANSACTION_HTTP2_SEND_REQUEST_HEADERS,
        HTTP_TRANSACTION_READ_HEADERS,
        HTTP_TRANSACTION_READ_RESPONSE_HEADERS,
    }
}

names! {
    /// The kinds of source, with Chromium's names.
    SourceType {
        NONE,
        URL_REQUEST,
        SOCKET,
    }
}

/// Ticks (ms) are counted from the first use in the process.
static EPOCH: LazyLock<(Instant, u64)> = LazyLock::new(|| {
    let unix_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    (Instant::now(), unix_ms)
});

static NEXT_SOURCE: AtomicU32 = AtomicU32::new(1);

fn ticks() -> u64 {
    u64::try_from(EPOCH.0.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// The object an event is about (a request, a socket), as Chromium's
/// `NetLogSource`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Source {
    pub id: u32,
    pub kind: SourceType,
    start: u64,
}

impl Source {
    /// A new source with an id of its own in the process.
    pub fn new(kind: SourceType) -> Source {
        Source {
            id: NEXT_SOURCE.fetch_add(1, Ordering::Relaxed),
            kind,
            start: ticks(),
        }
    }

    /// The `source_dependency` parameter pointing at this source.
    pub fn dependency(self) -> Value {
        json!({"id": self.id, "type": self.kind as u32})
    }
}

/// Events waiting for the writer thread.
struct Queue {
    state: Mutex<QueueState>,
    ready: Condvar,
}

struct QueueState {
    events: VecDeque<String>,
    bytes: usize,
    /// Past this many bytes waiting, the oldest are dropped (Chromium caps
    /// its queue at twice the file size).
    cap: usize,
    /// Set when logging stops: the polled data to append, if any.
    stop: Option<Option<String>>,
}

impl Queue {
    fn lock(&self) -> std::sync::MutexGuard<'_, QueueState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn push(&self, line: String) {
        let mut state = self.lock();
        if state.stop.is_some() {
            return;
        }
        state.bytes += line.len();
        state.events.push_back(line);
        while state.bytes > state.cap {
            match state.events.pop_front() {
                Some(old) => state.bytes -= old.len(),
                None => break,
            }
        }
        drop(state);
        self.ready.notify_one();
    }

    fn stop(&self, polled: Option<String>) {
        let mut state = self.lock();
        if state.stop.is_none() {
            state.stop = Some(polled);
        }
        drop(state);
        self.ready.notify_one();
    }
}

/// A running log: its queue and writer thread.
struct Running {
    queue: Arc<Queue>,
    thread: Option<std::thread::JoinHandle<io::Result<()>>>,
    path: PathBuf,
}

impl Drop for Running {
    /// A log whose session goes away is closed properly (without polled
    /// data), as Chromium does on quit.
    fn drop(&mut self) {
        self.queue.stop(None);
    }
}

/// Where the polled data comes from.
pub(crate) type PolledFn = Box<dyn Fn() -> Value + Send + Sync>;

struct Shared {
    /// 0: not logging; else the capture mode.
    mode: AtomicU8,
    running: Mutex<Option<Running>>,
    polled: Mutex<Option<PolledFn>>,
}

/// A session's net log (`ses.netLog`): [`start_logging`](Self::start_logging)
/// and [`stop_logging`](Self::stop_logging) a file of the session's
/// network events. A cheap handle; clones share the log.
#[derive(Clone)]
pub struct NetLog {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for NetLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NetLog")
            .field("capture_mode", &self.capture())
            .finish_non_exhaustive()
    }
}

impl Default for NetLog {
    fn default() -> Self {
        NetLog {
            shared: Arc::new(Shared {
                mode: AtomicU8::new(0),
                running: Mutex::new(None),
                polled: Mutex::new(None),
            }),
        }
    }
}

impl NetLog {
    /// Sets what `stop_logging` appends as `polledData`.
    pub(crate) fn set_polled(&self, polled: PolledFn) {
        *self
            .shared
            .polled
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(polled);
    }

    /// `netLog.currentlyLogging`.
    pub fn currently_logging(&self) -> bool {
        self.capture().is_some()
    }

    /// The capture mode of the running log, `None` when none runs.
    pub fn capture(&self) -> Option<CaptureMode> {
        CaptureMode::from_u8(self.shared.mode.load(Ordering::Relaxed))
    }

    /// `netLog.startLogging(path[, options])`: creates (or truncates)
    /// `path` and records the session's network events into it until
    /// [`stop_logging`](Self::stop_logging). Returns once recording has
    /// begun.
    ///
    /// # Errors
    ///
    /// An empty path, a log already running for this session, or a file
    /// that cannot be created ([`NetLogError::File`] with Chromium's code).
    pub async fn start_logging(
        &self,
        path: impl AsRef<Path>,
        options: NetLogOptions,
    ) -> Result<(), NetLogError> {
        let path = path.as_ref();
        if path.as_os_str().is_empty() {
            return Err(NetLogError::InvalidPath);
        }
        let mut running = self
            .shared
            .running
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if running.is_some() {
            return Err(NetLogError::AlreadyLogging);
        }
        let constants = constants(options.capture_mode).to_string();
        let sink = match options.max_file_size {
            None => Sink::whole(path, &constants)?,
            Some(max) => Sink::bounded(path, &constants, max)?,
        };
        let cap = options.max_file_size.map_or(usize::MAX, |max| {
            usize::try_from(max.saturating_mul(2)).unwrap_or(usize::MAX)
        });
        let queue = Arc::new(Queue {
            state: Mutex::new(QueueState {
                events: VecDeque::new(),
                bytes: 0,
                cap,
                stop: None,
            }),
            ready: Condvar::new(),
        });
        let thread = {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name("sesh-netlog".into())
                .spawn(move || write_loop(&queue, sink))
                .map_err(|e| NetLogError::file(path, &e))?
        };
        *running = Some(Running {
            queue,
            thread: Some(thread),
            path: path.to_owned(),
        });
        self.shared
            .mode
            .store(options.capture_mode.to_u8(), Ordering::SeqCst);
        Ok(())
    }

    /// `netLog.stopLogging()`: appends the polled data (proxy settings,
    /// host resolver, socket pool), closes the file and returns once it is
    /// complete on disk.
    ///
    /// # Errors
    ///
    /// [`NetLogError::NotLogging`] when no log runs, or the file's error.
    pub async fn stop_logging(&self) -> Result<(), NetLogError> {
        let running = self
            .shared
            .running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let Some(mut running) = running else {
            return Err(NetLogError::NotLogging);
        };
        self.shared.mode.store(0, Ordering::SeqCst);
        let polled = self
            .shared
            .polled
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map(|polled| polled().to_string());
        running.queue.stop(polled);
        let path = running.path.clone();
        let Some(thread) = running.thread.take() else {
            return Ok(());
        };
        let joined = tokio::task::spawn_blocking(move || thread.join())
            .await
            .map_err(|e| NetLogError::File {
                error: NetError::from_code(-2),
                path: path.clone(),
                reason: e.to_string(),
            })?;
        match joined {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(NetLogError::file(&path, &e)),
            Err(_) => Err(NetLogError::File {
                error: NetError::from_code(-2),
                path,
                reason: "the net log writer stopped".into(),
            }),
        }
    }

    /// Records an event about `source`; `params` is called only while a
    /// log runs, with its capture mode.
    #[inline]
    pub(crate) fn add(
        &self,
        source: Source,
        kind: EventType,
        phase: Phase,
        params: impl FnOnce(CaptureMode) -> Option<Value>,
    ) {
        if let Some(mode) = self.capture() {
            self.record(source, kind, phase, mode, params);
        }
    }

    /// [`add`](Self::add) while a log runs. Out of line and cold: the
    /// parameters' JSON is built here, not in the network service's own
    /// code, which then stays compact in the instruction cache when no
    /// log runs.
    #[cold]
    #[inline(never)]
    fn record(
        &self,
        source: Source,
        kind: EventType,
        phase: Phase,
        mode: CaptureMode,
        params: impl FnOnce(CaptureMode) -> Option<Value>,
    ) {
        let params = params(mode);
        let line = event_line(source, kind, phase, params.as_ref());
        let queue = self
            .shared
            .running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map(|r| r.queue.clone());
        if let Some(queue) = queue {
            queue.push(line);
        }
    }

    /// Records an event with no phase about a new source of type `NONE`
    /// (Chromium's global entries).
    #[cfg_attr(not(feature = "pac"), allow(dead_code))]
    pub(crate) fn add_global(
        &self,
        kind: EventType,
        params: impl FnOnce(CaptureMode) -> Option<Value>,
    ) {
        if self.currently_logging() {
            self.add(Source::new(SourceType::NONE), kind, Phase::None, params);
        }
    }

    /// Records `net_error` ending a `kind` begun on `source`.
    pub(crate) fn end_with(&self, source: Source, kind: EventType, net_error: Option<i32>) {
        self.add(source, kind, Phase::End, |_| {
            net_error.map(|code| json!({"net_error": code}))
        });
    }
}

/// A PAC script's `alert()`: to the log, and to the net log as Chromium's
/// `PAC_JAVASCRIPT_ALERT`.
#[cfg(feature = "pac")]
pub(crate) struct PacAlerts(pub NetLog);

#[cfg(feature = "pac")]
impl sesh_proxy_rules::PacObserver for PacAlerts {
    fn alert(&self, message: &str) {
        tracing::info!(target: "sesh::pac", "PAC alert: {message}");
        self.0.add_global(EventType::PAC_JAVASCRIPT_ALERT, |_| {
            Some(json!({"message": message}))
        });
    }
}

/// A request's place in the net log: its `URL_REQUEST` source, and the
/// end of its `REQUEST_ALIVE` when it is dropped (with the request's
/// failure, if it failed).
pub(crate) struct ReqLog {
    pub log: NetLog,
    pub source: Source,
    error: std::sync::atomic::AtomicI32,
    /// The response's body was read to its end.
    done: std::sync::atomic::AtomicBool,
    /// The request's part in the session's webRequest hooks.
    pub hooks: crate::web_request::Tracking,
}

impl ReqLog {
    /// A new request: `REQUEST_ALIVE` begins.
    pub fn begin(
        log: &NetLog,
        url: &url::Url,
        priority: &str,
        hooks: crate::web_request::Tracking,
    ) -> ReqLog {
        let source = Source::new(SourceType::URL_REQUEST);
        log.add(source, EventType::REQUEST_ALIVE, Phase::Begin, |_| {
            Some(json!({"url": url.as_str(), "priority": priority}))
        });
        ReqLog {
            log: log.clone(),
            source,
            error: std::sync::atomic::AtomicI32::new(0),
            done: std::sync::atomic::AtomicBool::new(false),
            hooks,
        }
    }

    /// An event about the request.
    pub fn add(
        &self,
        kind: EventType,
        phase: Phase,
        params: impl FnOnce(CaptureMode) -> Option<Value>,
    ) {
        self.log.add(self.source, kind, phase, params);
    }

    /// The request failed with `code`: a `FAILED` event, and the code ends
    /// `REQUEST_ALIVE`.
    pub fn fail(&self, code: i32) {
        self.error.store(code, Ordering::Relaxed);
        self.add(EventType::FAILED, Phase::None, |_| {
            Some(json!({"net_error": code}))
        });
    }

    /// The response's body has been read to its end: the request is
    /// complete.
    pub fn complete(&self) {
        self.done.store(true, Ordering::Relaxed);
        self.hooks.completed();
    }

    /// The log of a new socket opened for this request.
    pub fn socket(&self) -> SocketLog {
        SocketLog {
            log: self.log.clone(),
            socket: Source::new(SourceType::SOCKET),
            request: self.source,
            probe: Arc::default(),
        }
    }
}

impl std::fmt::Debug for ReqLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReqLog")
            .field("source", &self.source.id)
            .finish_non_exhaustive()
    }
}

impl Drop for ReqLog {
    /// The end of `REQUEST_ALIVE`: with the request's error, or, for a
    /// request given up before its end, Chromium's `CANCELLED` and
    /// `ERR_ABORTED`.
    fn drop(&mut self) {
        let mut code = self.error.load(Ordering::Relaxed);
        if code == 0 && !self.done.load(Ordering::Relaxed) {
            code = -3;
            self.add(EventType::CANCELLED, Phase::None, |_| None);
        }
        self.log.end_with(
            self.source,
            EventType::REQUEST_ALIVE,
            (code != 0).then_some(code),
        );
    }
}

/// A socket's place in the net log, and the request it was opened for.
/// It also carries, while the socket is being made, a second handle on its
/// TCP connection, with which the pool checks an idle socket before reuse.
#[derive(Clone)]
pub(crate) struct SocketLog {
    pub log: NetLog,
    pub socket: Source,
    pub request: Source,
    probe: Arc<Mutex<Option<std::net::TcpStream>>>,
}

impl SocketLog {
    /// Keeps `probe`, a handle on the socket's TCP connection (the first
    /// one made: to the server, or to the proxy).
    pub fn set_probe(&self, probe: std::net::TcpStream) {
        let mut slot = self.probe.lock().unwrap_or_else(PoisonError::into_inner);
        if slot.is_none() {
            *slot = Some(probe);
        }
    }

    /// The handle kept by [`set_probe`](Self::set_probe), once.
    pub fn take_probe(&self) -> Option<std::net::TcpStream> {
        self.probe
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    /// A socket opened for no request (a preconnect).
    pub fn detached(log: &NetLog) -> SocketLog {
        SocketLog {
            log: log.clone(),
            socket: Source::new(SourceType::SOCKET),
            request: Source::new(SourceType::NONE),
            probe: Arc::default(),
        }
    }

    /// An event about the socket.
    pub fn add(
        &self,
        kind: EventType,
        phase: Phase,
        params: impl FnOnce(CaptureMode) -> Option<Value>,
    ) {
        self.log.add(self.socket, kind, phase, params);
    }

    /// An event about the request the socket is opened for.
    pub fn add_request(
        &self,
        kind: EventType,
        phase: Phase,
        params: impl FnOnce(CaptureMode) -> Option<Value>,
    ) {
        self.log.add(self.request, kind, phase, params);
    }

    /// `io` with what it sends and receives recorded on this socket
    /// (`SSL_SOCKET_BYTES_*` over TLS, `SOCKET_BYTES_*` otherwise).
    pub fn wrap<T>(&self, io: T, tls: bool) -> LoggedIo<T> {
        LoggedIo {
            io,
            log: self.log.clone(),
            source: self.socket,
            tls,
        }
    }
}

/// A stream whose bytes go to the net log while one runs: the count
/// always, the bytes themselves (base64) in `everything` mode.
pub(crate) struct LoggedIo<T> {
    io: T,
    log: NetLog,
    source: Source,
    tls: bool,
}

impl<T> LoggedIo<T> {
    fn record(&self, sent: bool, bytes: &[u8]) {
        let kind = match (sent, self.tls) {
            (true, true) => EventType::SSL_SOCKET_BYTES_SENT,
            (false, true) => EventType::SSL_SOCKET_BYTES_RECEIVED,
            (true, false) => EventType::SOCKET_BYTES_SENT,
            (false, false) => EventType::SOCKET_BYTES_RECEIVED,
        };
        self.log.add(self.source, kind, Phase::None, |mode| {
            Some(if mode.includes_socket_bytes() {
                json!({"byte_count": bytes.len(), "bytes": bytes_value(bytes)})
            } else {
                json!({"byte_count": bytes.len()})
            })
        });
    }
}

impl<T: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for LoggedIo<T> {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = std::pin::Pin::new(&mut this.io).poll_read(cx, buf);
        if matches!(polled, std::task::Poll::Ready(Ok(())))
            && buf.filled().len() > before
            && this.log.currently_logging()
        {
            this.record(false, &buf.filled()[before..]);
        }
        polled
    }
}

impl<T: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for LoggedIo<T> {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = std::pin::Pin::new(&mut this.io).poll_write(cx, buf);
        if let std::task::Poll::Ready(Ok(n)) = polled
            && n > 0
            && this.log.currently_logging()
        {
            this.record(true, &buf[..n.min(buf.len())]);
        }
        polled
    }

    fn poll_write_vectored(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> std::task::Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = std::pin::Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        if let std::task::Poll::Ready(Ok(n)) = polled
            && n > 0
            && this.log.currently_logging()
        {
            let mut sent = Vec::with_capacity(n);
            for buf in bufs {
                let take = (n - sent.len()).min(buf.len());
                sent.extend_from_slice(&buf[..take]);
                if sent.len() == n {
                    break;
                }
            }
            this.record(true, &sent);
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        std::pin::Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        std::pin::Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

/// One event as its line of the file.
fn event_line(source: Source, kind: EventType, phase: Phase, params: Option<&Value>) -> String {
    let mut line = String::with_capacity(160);
    line.push('{');
    if let Some(params) = params.filter(|p| !p.as_object().is_some_and(Map::is_empty)) {
        line.push_str("\"params\":");
        line.push_str(&params.to_string());
        line.push(',');
    }
    line.push_str(&format!(
        "\"phase\":{},\"source\":{{\"id\":{},\"start_time\":\"{}\",\"type\":{}}},\"time\":\"{}\",\"type\":{}}}",
        phase as u8,
        source.id,
        source.start,
        source.kind as u32,
        ticks(),
        kind as u32
    ));
    line
}

/// The `constants` object.
fn constants(mode: CaptureMode) -> Value {
    let enumerate = |names: &mut dyn Iterator<Item = &'static str>| {
        Value::Object(
            names
                .enumerate()
                .map(|(i, name)| (name.to_owned(), json!(i)))
                .collect(),
        )
    };
    let net_errors: Map<String, Value> = NetError::known()
        .filter_map(|e| {
            let name = e.short_name()?;
            let name = if name == "OK" {
                "OK".to_owned()
            } else {
                format!("ERR_{name}")
            };
            Some((name, json!(e.code())))
        })
        .collect();
    json!({
        "logFormatVersion": 1,
        "logEventTypes": enumerate(&mut EventType::ALL.iter().map(|t| t.name())),
        "logSourceType": enumerate(&mut SourceType::ALL.iter().map(|t| t.name())),
        "logEventPhase": {"PHASE_NONE": 0, "PHASE_BEGIN": 1, "PHASE_END": 2},
        "netError": net_errors,
        "loadFlag": {"NORMAL": 0, "VALIDATE_CACHE": 1, "BYPASS_CACHE": 2, "SKIP_CACHE_VALIDATION": 4, "ONLY_FROM_CACHE": 8, "DISABLE_CACHE": 16},
        "addressFamily": {"ADDRESS_FAMILY_UNSPECIFIED": 0, "ADDRESS_FAMILY_IPV4": 1, "ADDRESS_FAMILY_IPV6": 2},
        "timeTickOffset": EPOCH.1,
        "clientInfo": {
            "name": "sesh",
            "version": env!("CARGO_PKG_VERSION"),
            "command_line": std::env::args().collect::<Vec<_>>().join(" "),
        },
        "activeFieldTrialGroups": [],
        "logCaptureMode": mode.chromium_name(),
    })
}

/// Where the events go.
enum Sink {
    /// Straight into the file.
    Whole { file: BufWriter<File>, events: u64 },
    /// Into ten files used in turn, joined at the end.
    Bounded {
        path: PathBuf,
        dir: PathBuf,
        per_file: u64,
        /// File numbers holding events, oldest first.
        order: VecDeque<usize>,
        current: Option<(usize, BufWriter<File>, u64)>,
    },
}

const EVENT_FILES: usize = 10;

impl Sink {
    fn whole(path: &Path, constants: &str) -> Result<Sink, NetLogError> {
        let file = File::create(path).map_err(|e| NetLogError::file(path, &e))?;
        let mut file = BufWriter::new(file);
        write!(file, "{{\"constants\":{constants},\n\"events\": [\n")
            .and_then(|()| file.flush())
            .map_err(|e| NetLogError::file(path, &e))?;
        Ok(Sink::Whole { file, events: 0 })
    }

    fn bounded(path: &Path, constants: &str, max: u64) -> Result<Sink, NetLogError> {
        // The final file is made now, so a path that cannot be written
        // fails here and not at the end.
        File::create(path).map_err(|e| NetLogError::file(path, &e))?;
        let mut dir = path.as_os_str().to_owned();
        dir.push(".inprogress");
        let dir = PathBuf::from(dir);
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(|e| NetLogError::file(&dir, &e))?;
        }
        std::fs::create_dir_all(&dir).map_err(|e| NetLogError::file(&dir, &e))?;
        std::fs::write(dir.join("constants.json"), constants)
            .map_err(|e| NetLogError::file(&dir, &e))?;
        Ok(Sink::Bounded {
            path: path.to_owned(),
            dir,
            per_file: max / EVENT_FILES as u64,
            order: VecDeque::new(),
            current: None,
        })
    }

    fn write(&mut self, line: &str) -> io::Result<()> {
        match self {
            Sink::Whole { file, events } => {
                *events += 1;
                file.write_all(line.as_bytes())?;
                file.write_all(b",\n")
            }
            Sink::Bounded {
                dir,
                per_file,
                order,
                current,
                ..
            } => {
                let full = current
                    .as_ref()
                    .is_none_or(|(_, _, size)| *size >= *per_file);
                if full {
                    let next = match current.take() {
                        Some((n, mut file, _)) => {
                            file.flush()?;
                            (n + 1) % EVENT_FILES
                        }
                        None => 0,
                    };
                    order.retain(|n| *n != next);
                    order.push_back(next);
                    let file = File::create(dir.join(format!("event_file_{next}.json")))?;
                    *current = Some((next, BufWriter::new(file), 0));
                }
                if let Some((_, file, size)) = current {
                    file.write_all(line.as_bytes())?;
                    file.write_all(b",\n")?;
                    *size += line.len() as u64 + 2;
                }
                Ok(())
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Sink::Whole { file, .. } => file.flush(),
            Sink::Bounded { current, .. } => match current {
                Some((_, file, _)) => file.flush(),
                None => Ok(()),
            },
        }
    }

    /// Closes the event list, appends the polled data and ends the
    /// document.
    fn finish(self, polled: Option<String>) -> io::Result<()> {
        let tail = |file: &mut File, any: bool| -> io::Result<()> {
            if any {
                // Over the last ",\n".
                let len = file.seek(SeekFrom::End(0))?;
                file.set_len(len.saturating_sub(2))?;
                file.seek(SeekFrom::End(0))?;
            }
            file.write_all(b"]")?;
            if let Some(polled) = &polled {
                write!(file, ",\n\"polledData\": {polled}\n")?;
            }
            file.write_all(b"}\n")?;
            file.sync_all()
        };
        match self {
            Sink::Whole { file, events } => {
                let mut file = file.into_inner().map_err(|e| e.into_error())?;
                tail(&mut file, events > 0)
            }
            Sink::Bounded {
                path,
                dir,
                order,
                mut current,
                ..
            } => {
                if let Some((_, file, _)) = &mut current {
                    file.flush()?;
                }
                drop(current);
                if let Some(polled) = &polled {
                    std::fs::write(dir.join("end_netlog.json"), polled)?;
                }
                let mut out = File::create(&path)?;
                out.write_all(b"{\"constants\":")?;
                io::copy(&mut File::open(dir.join("constants.json"))?, &mut out)?;
                out.write_all(b",\n\"events\": [\n")?;
                let mut any = false;
                for n in order {
                    let mut events = Vec::new();
                    File::open(dir.join(format!("event_file_{n}.json")))?
                        .read_to_end(&mut events)?;
                    any |= !events.is_empty();
                    out.write_all(&events)?;
                }
                tail(&mut out, any)?;
                std::fs::remove_dir_all(&dir)
            }
        }
    }
}

/// The writer thread: events as they come, flushed whenever the queue is
/// empty; the end of the document when logging stops.
fn write_loop(queue: &Queue, mut sink: Sink) -> io::Result<()> {
    loop {
        let (events, stop) = {
            let mut state = queue.lock();
            while state.events.is_empty() && state.stop.is_none() {
                state = queue
                    .ready
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            state.bytes = 0;
            (std::mem::take(&mut state.events), state.stop.clone())
        };
        for line in &events {
            sink.write(line)?;
        }
        match stop {
            Some(polled) => return sink.finish(polled),
            None => sink.flush()?,
        }
    }
}

/// A header value as the log shows it in `mode`: cookies and credentials
/// stripped unless sensitive data is captured, and the token of an auth
/// challenge other than Basic or Digest (Chromium's rule).
pub(crate) fn elide_header(mode: CaptureMode, name: &str, value: &str) -> String {
    if mode.includes_sensitive() {
        return value.to_owned();
    }
    let stripped = |n: usize| format!("[{n} bytes were stripped]");
    let is = |h: &str| name.eq_ignore_ascii_case(h);
    if is("set-cookie")
        || is("set-cookie2")
        || is("cookie")
        || is("authorization")
        || is("proxy-authorization")
    {
        return stripped(value.len());
    }
    if (is("www-authenticate") || is("proxy-authenticate")) && !value.contains(',') {
        let is_space = |c: char| c.is_ascii_whitespace();
        let scheme_start = value.len() - value.trim_start_matches(is_space).len();
        let rest = &value[scheme_start..];
        let scheme_end = scheme_start + rest.find(is_space).unwrap_or(rest.len());
        let scheme = &value[scheme_start..scheme_end];
        let after = &value[scheme_end..];
        let params_start = value.len() - after.trim_start_matches(is_space).len();
        let params_end = scheme_end + after.trim_end_matches(is_space).len();
        if !scheme.is_empty()
            && !scheme.eq_ignore_ascii_case("basic")
            && !scheme.eq_ignore_ascii_case("digest")
            && params_start < params_end
        {
            return format!(
                "{}{}{}",
                &value[..params_start],
                stripped(params_end - params_start),
                &value[params_end..]
            );
        }
    }
    value.to_owned()
}

/// Headers as netlog lines (`Name: value`), elided for `mode`.
pub(crate) fn header_lines(mode: CaptureMode, headers: &http::HeaderMap) -> Vec<Value> {
    headers
        .iter()
        .map(|(name, value)| {
            let value = String::from_utf8_lossy(value.as_bytes());
            Value::String(format!(
                "{}: {}",
                name.as_str(),
                elide_header(mode, name.as_str(), &value)
            ))
        })
        .collect()
}

/// Bytes as Chromium's netlog binary values: base64.
pub(crate) fn bytes_value(bytes: &[u8]) -> Value {
    use base64::Engine as _;
    Value::String(base64::engine::general_purpose::STANDARD.encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_and_credentials_are_stripped_unless_sensitive_data_is_captured() {
        let d = CaptureMode::Default;
        assert_eq!(
            elide_header(d, "Cookie", "name=value"),
            "[10 bytes were stripped]"
        );
        assert_eq!(
            elide_header(d, "set-cookie", "a=b"),
            "[3 bytes were stripped]"
        );
        assert_eq!(
            elide_header(d, "Proxy-Authorization", "Basic Zm9vOmJhcg=="),
            "[18 bytes were stripped]"
        );
        assert_eq!(
            elide_header(CaptureMode::IncludeSensitive, "Cookie", "name=value"),
            "name=value"
        );
        assert_eq!(elide_header(d, "Accept", "*/*"), "*/*");
        // Challenges: Basic and Digest are public; other schemes' tokens
        // are stripped, lists (with commas) are kept.
        assert_eq!(
            elide_header(d, "WWW-Authenticate", "Basic realm=\"x\""),
            "Basic realm=\"x\""
        );
        assert_eq!(
            elide_header(d, "WWW-Authenticate", "Negotiate abcdefgh"),
            "Negotiate [8 bytes were stripped]"
        );
        assert_eq!(
            elide_header(d, "Proxy-Authenticate", "NTLM  abc "),
            "NTLM  [3 bytes were stripped] "
        );
        assert_eq!(
            elide_header(d, "WWW-Authenticate", "Negotiate a, NTLM"),
            "Negotiate a, NTLM"
        );
        assert_eq!(
            elide_header(d, "WWW-Authenticate", "Negotiate"),
            "Negotiate"
        );
    }

    #[test]
    fn capture_modes_parse_from_electrons_strings() {
        assert_eq!(
            "includeSensitive".parse::<CaptureMode>().unwrap(),
            CaptureMode::IncludeSensitive
        );
        assert_eq!(
            "includePrivacyInfo".parse::<CaptureMode>().unwrap(),
            CaptureMode::IncludeSensitive
        );
        assert_eq!(
            "everything".parse::<CaptureMode>().unwrap(),
            CaptureMode::Everything
        );
        let err = "verbose".parse::<CaptureMode>().unwrap_err();
        assert!(err.to_string().starts_with("Invalid value for captureMode"));
    }

    #[test]
    fn events_are_lines_with_sorted_keys_and_no_empty_params() {
        let source = Source::new(SourceType::URL_REQUEST);
        let line = event_line(source, EventType::REQUEST_ALIVE, Phase::Begin, None);
        let value: Value = serde_json::from_str(&line).unwrap();
        assert!(value.get("params").is_none());
        assert_eq!(value["phase"], 1);
        assert_eq!(value["source"]["id"], source.id);
        assert!(value["time"].is_string());
        let keys: Vec<&str> = line
            .match_indices("\":")
            .map(|(i, _)| {
                let start = line[..i].rfind('"').unwrap_or(0) + 1;
                &line[start..i]
            })
            .collect();
        assert_eq!(
            keys,
            [
                "phase",
                "source",
                "id",
                "start_time",
                "type",
                "time",
                "type"
            ]
        );
        let with = event_line(
            source,
            EventType::FAILED,
            Phase::None,
            Some(&json!({"net_error": -2})),
        );
        assert!(with.starts_with("{\"params\":{\"net_error\":-2},\"phase\":0,"));
        let empty = event_line(source, EventType::FAILED, Phase::None, Some(&json!({})));
        assert!(empty.starts_with("{\"phase\":0,"));
    }
}
