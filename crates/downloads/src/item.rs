//! `DownloadItem`: one download, its state, its events, and the task that
//! moves its bytes through a [`Transport`].

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use http::header::{CONTENT_DISPOSITION, CONTENT_LENGTH, CONTENT_TYPE, HeaderMap};
use http::{StatusCode, Version};
use tokio::sync::{mpsc, watch};
use url::Url;

use crate::filename::generate_file_name;
use crate::partial::PartialFile;
use crate::resume::{BodyStart, InterruptReason, Validators, check_response, resume_headers};
use crate::speed::RateEstimator;
use crate::unique::unique_path;

/// A boxed, sendable future.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A request the download makes.
#[derive(Debug, Clone)]
pub struct FetchRequest {
    /// The URL (the first of the chain).
    pub url: Url,
    /// Headers to add (`Range` and `If-Range` when resuming).
    pub headers: HeaderMap,
}

/// A response's head and its body.
pub struct FetchResponse {
    /// The status.
    pub status: StatusCode,
    /// The HTTP version.
    pub version: Version,
    /// The headers.
    pub headers: HeaderMap,
    /// Every URL of the request, redirects included; the last is the final
    /// one. Empty means just the request's URL.
    pub url_chain: Vec<Url>,
    /// The body.
    pub body: Box<dyn Body>,
}

/// A response body, read chunk by chunk: a download reads the next chunk
/// only when it has written the last, so a paused download reads nothing.
pub trait Body: Send {
    /// The next chunk; `None` at the end.
    fn next_chunk(&mut self) -> BoxFuture<'_, Result<Option<bytes::Bytes>, InterruptReason>>;
}

/// How a download reaches the network. sesh-core implements it with the
/// session's network service (proxies, TLS, cookies apply).
pub trait Transport: Send + Sync + 'static {
    /// Sends `request` and returns the response head and body.
    fn fetch(
        &self,
        request: FetchRequest,
    ) -> BoxFuture<'static, Result<FetchResponse, InterruptReason>>;
}

/// `item.getState()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DownloadState {
    /// In progress (also while paused).
    Progressing,
    /// Finished; the file has its name.
    Completed,
    /// Cancelled; the partial file is gone.
    Cancelled,
    /// Stopped by an error; live and resumable when
    /// [`DownloadItem::can_resume`] says so.
    Interrupted,
}

impl DownloadState {
    /// Electron's string: `progressing`, `completed`, `cancelled`,
    /// `interrupted`.
    pub fn as_str(self) -> &'static str {
        match self {
            DownloadState::Progressing => "progressing",
            DownloadState::Completed => "completed",
            DownloadState::Cancelled => "cancelled",
            DownloadState::Interrupted => "interrupted",
        }
    }
}

/// The item's events, in Electron's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DownloadEvent {
    /// `updated`: progress, a pause or resume, or a resumable interruption.
    Updated(DownloadState),
    /// `done`: a terminal state, exactly once.
    Done(DownloadState),
}

/// Electron's `createInterruptedDownload(options)`: a download to continue,
/// as a previous item recorded it ([`DownloadItem::to_interrupted`]). The
/// JSON is Electron's.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InterruptedDownload {
    /// The absolute path of the download (its partial file is beside it).
    pub path: PathBuf,
    /// The URL chain; the first is requested again.
    pub url_chain: Vec<Url>,
    /// The MIME type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
    /// Bytes already received.
    pub offset: u64,
    /// The total length (0 when unknown).
    pub length: u64,
    /// The `Last-Modified` validator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified: Option<String>,
    /// The `ETag` validator.
    #[serde(default, rename = "eTag", skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    /// When the download started, in seconds since the Unix epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<f64>,
}

/// Electron's `downloadURL` options.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct DownloadOptions {
    /// Headers sent with every request of the download (`options.headers`):
    /// the first, and each one that resumes it in this process. `Range`
    /// and `If-Range` are the download's own (a resume's): the app's are
    /// not sent. The session's redirect rules apply (`Authorization` is not
    /// sent to another origin). Not kept by
    /// [`DownloadItem::to_interrupted`], as `createInterruptedDownload`
    /// takes none.
    pub headers: HeaderMap,
}

impl DownloadOptions {
    /// Options with these headers.
    pub fn with_headers(headers: HeaderMap) -> Self {
        DownloadOptions { headers }
    }
}

/// Why `create_interrupted_download` refused its options.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InterruptedDownloadError {
    /// `path` is not absolute.
    #[error("the download path {0:?} is not absolute")]
    RelativePath(PathBuf),
    /// `urlChain` is empty.
    #[error("the download's urlChain is empty")]
    NoUrl,
    /// `offset` is past `length`.
    #[error("the download's offset {offset} is past its length {length}")]
    OffsetPastLength {
        /// The offset given.
        offset: u64,
        /// The length given.
        length: u64,
    },
}

/// What a `will-download` handler decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WillDownload {
    /// Go on (with the save path the handler may have set).
    Continue,
    /// `event.preventDefault()`: no file is created; the item ends
    /// `cancelled`.
    Prevent,
}

/// A `will-download` handler: called once, when the response has named the
/// file and before any byte is written.
pub type WillDownloadHandler = Box<dyn FnOnce(&DownloadItem) -> WillDownload + Send>;

/// Where a new download saves its file.
#[derive(Debug, Clone)]
pub enum SaveTo {
    /// This exact path (`item.setSavePath`).
    Path(PathBuf),
    /// A free name in this directory, the one Chromium picks.
    Directory(PathBuf),
}

struct State {
    url_chain: Vec<Url>,
    mime_type: String,
    filename: String,
    content_disposition: String,
    save_path: PathBuf,
    total: u64,
    received: u64,
    state: DownloadState,
    paused: bool,
    validators: Validators,
    reason: Option<InterruptReason>,
    start_time: f64,
    end_time: f64,
    speed: RateEstimator,
    done: bool,
    /// Whether the file was opened: the save path is fixed from then on.
    file_opened: bool,
}

struct Inner {
    transport: Arc<dyn Transport>,
    state: Mutex<State>,
    subscribers: Mutex<Vec<mpsc::UnboundedSender<DownloadEvent>>>,
    pause: watch::Sender<bool>,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
    save_to: SaveTo,
    will_download: Mutex<Option<WillDownloadHandler>>,
    /// The app's request headers (`downloadURL`'s `options.headers`).
    headers: HeaderMap,
}

/// One download: Electron's `DownloadItem`. A cheap handle; clones share
/// the download.
#[derive(Clone)]
pub struct DownloadItem {
    inner: Arc<Inner>,
}

/// How often a download's progress is reported while bytes arrive
/// (Chromium's download file: every 500 ms), besides its first bytes and
/// every change of state.
pub const PROGRESS_PERIOD: std::time::Duration = std::time::Duration::from_millis(500);

/// A handle on a [`DownloadItem`] that does not keep it alive: for
/// observers (a session's download records) that must not outlive the
/// app's interest in the item.
#[derive(Clone)]
pub struct WeakDownloadItem {
    inner: std::sync::Weak<Inner>,
}

impl WeakDownloadItem {
    /// The item, while someone still holds it.
    pub fn upgrade(&self) -> Option<DownloadItem> {
        self.inner.upgrade().map(|inner| DownloadItem { inner })
    }
}

impl std::fmt::Debug for WeakDownloadItem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WeakDownloadItem").finish_non_exhaustive()
    }
}

fn now_seconds() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default()
}

impl DownloadItem {
    /// Starts downloading `url` on the current tokio runtime. Subscribe
    /// before yielding to the runtime to see every event.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime.
    pub fn start(transport: Arc<dyn Transport>, url: Url, save_to: SaveTo) -> DownloadItem {
        let item = Self::new(
            transport,
            vec![url],
            save_to,
            DownloadState::Progressing,
            HeaderMap::new(),
        );
        item.spawn(0);
        item
    }

    /// `ses.createInterruptedDownload(options)`: an item in state
    /// `interrupted` that starts only on [`DownloadItem::resume`], asking
    /// for the bytes after `offset` (or all of them again when there is no
    /// validator to guard a range).
    ///
    /// # Errors
    ///
    /// [`InterruptedDownloadError`] naming the bad option.
    pub fn create_interrupted(
        transport: Arc<dyn Transport>,
        options: InterruptedDownload,
    ) -> Result<DownloadItem, InterruptedDownloadError> {
        if !options.path.is_absolute() {
            return Err(InterruptedDownloadError::RelativePath(options.path));
        }
        if options.url_chain.is_empty() {
            return Err(InterruptedDownloadError::NoUrl);
        }
        if options.length > 0 && options.offset > options.length {
            return Err(InterruptedDownloadError::OffsetPastLength {
                offset: options.offset,
                length: options.length,
            });
        }
        let item = Self::new(
            transport,
            options.url_chain,
            SaveTo::Path(options.path.clone()),
            DownloadState::Interrupted,
            HeaderMap::new(),
        );
        {
            let mut s = item.lock();
            s.filename = options
                .path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            s.mime_type = options.mime_type.unwrap_or_default();
            s.received = options.offset;
            s.total = options.length;
            s.validators = Validators {
                etag: options.etag.unwrap_or_default(),
                last_modified: options.last_modified.unwrap_or_default(),
                accept_ranges: true,
            };
            if let Some(start) = options.start_time {
                s.start_time = start;
            }
        }
        Ok(item)
    }

    /// What `create_interrupted_download` needs to continue this download
    /// later (after a restart, say); `None` until the response named the
    /// file.
    pub fn to_interrupted(&self) -> Option<InterruptedDownload> {
        let s = self.lock();
        if s.save_path.as_os_str().is_empty() {
            return None;
        }
        let some = |v: &str| (!v.is_empty()).then(|| v.to_owned());
        Some(InterruptedDownload {
            path: s.save_path.clone(),
            url_chain: s.url_chain.clone(),
            mime_type: some(&s.mime_type),
            offset: s.received,
            length: s.total,
            last_modified: some(&s.validators.last_modified),
            etag: some(&s.validators.etag),
            start_time: Some(s.start_time),
        })
    }

    /// [`DownloadItem::start`] with a `will-download` handler, which sees
    /// the item once its name, type and size are known and may set its save
    /// path or prevent it.
    pub fn start_with_handler(
        transport: Arc<dyn Transport>,
        url: Url,
        save_to: SaveTo,
        will_download: WillDownloadHandler,
    ) -> DownloadItem {
        Self::start_with_options(
            transport,
            url,
            save_to,
            DownloadOptions::default(),
            will_download,
        )
    }

    /// [`DownloadItem::start_with_handler`] with `downloadURL`'s options
    /// (request headers).
    pub fn start_with_options(
        transport: Arc<dyn Transport>,
        url: Url,
        save_to: SaveTo,
        options: DownloadOptions,
        will_download: WillDownloadHandler,
    ) -> DownloadItem {
        let mut headers = options.headers;
        headers.remove(http::header::RANGE);
        headers.remove(http::header::IF_RANGE);
        let item = Self::new(
            transport,
            vec![url],
            save_to,
            DownloadState::Progressing,
            headers,
        );
        *item
            .inner
            .will_download
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(will_download);
        item.spawn(0);
        item
    }

    /// `setSavePath(path)`: where the file goes. Taken until the first byte
    /// is written (in `will-download`, typically); `false` once too late.
    pub fn set_save_path(&self, path: impl Into<PathBuf>) -> bool {
        let mut s = self.lock();
        if s.file_opened || s.done {
            return false;
        }
        s.save_path = path.into();
        true
    }

    fn end_prevented(&self) {
        {
            let mut s = self.lock();
            if s.done {
                return;
            }
            s.state = DownloadState::Cancelled;
            s.done = true;
            s.end_time = now_seconds();
        }
        self.emit(DownloadEvent::Done(DownloadState::Cancelled));
    }

    fn new(
        transport: Arc<dyn Transport>,
        url_chain: Vec<Url>,
        save_to: SaveTo,
        state: DownloadState,
        headers: HeaderMap,
    ) -> DownloadItem {
        let save_path = match &save_to {
            SaveTo::Path(p) => p.clone(),
            SaveTo::Directory(_) => PathBuf::new(),
        };
        DownloadItem {
            inner: Arc::new(Inner {
                transport,
                state: Mutex::new(State {
                    url_chain,
                    mime_type: String::new(),
                    filename: String::new(),
                    content_disposition: String::new(),
                    save_path,
                    total: 0,
                    received: 0,
                    state,
                    paused: false,
                    validators: Validators::default(),
                    reason: None,
                    start_time: now_seconds(),
                    end_time: 0.0,
                    speed: RateEstimator::new(Instant::now()),
                    done: false,
                    file_opened: false,
                }),
                subscribers: Mutex::new(Vec::new()),
                pause: watch::Sender::new(false),
                task: Mutex::new(None),
                will_download: Mutex::new(None),
                save_to,
                headers,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// A handle that does not keep the item alive.
    pub fn downgrade(&self) -> WeakDownloadItem {
        WeakDownloadItem {
            inner: Arc::downgrade(&self.inner),
        }
    }

    /// Every event from now on, in order; none is dropped. The channel
    /// closes when the item is dropped.
    pub fn subscribe(&self) -> mpsc::UnboundedReceiver<DownloadEvent> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.inner
            .subscribers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(tx);
        rx
    }

    fn emit(&self, event: DownloadEvent) {
        self.inner
            .subscribers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|tx| tx.send(event).is_ok());
    }

    /// `getState()`.
    pub fn state(&self) -> DownloadState {
        self.lock().state
    }

    /// Why the download is interrupted, when it is.
    pub fn interrupt_reason(&self) -> Option<InterruptReason> {
        self.lock().reason
    }

    /// `getSavePath()` (empty until the response named the file).
    pub fn save_path(&self) -> PathBuf {
        self.lock().save_path.clone()
    }

    /// `getURL()`: the last URL of the chain.
    pub fn url(&self) -> Url {
        let s = self.lock();
        s.url_chain
            .last()
            .cloned()
            .unwrap_or_else(|| s.url_chain[0].clone())
    }

    /// `getURLChain()`.
    pub fn url_chain(&self) -> Vec<Url> {
        self.lock().url_chain.clone()
    }

    /// `getMimeType()`.
    pub fn mime_type(&self) -> String {
        self.lock().mime_type.clone()
    }

    /// `getFilename()`: the name Chromium suggests.
    pub fn filename(&self) -> String {
        self.lock().filename.clone()
    }

    /// `getContentDisposition()`.
    pub fn content_disposition(&self) -> String {
        self.lock().content_disposition.clone()
    }

    /// `getTotalBytes()` (0 when unknown).
    pub fn total_bytes(&self) -> u64 {
        self.lock().total
    }

    /// `getReceivedBytes()`.
    pub fn received_bytes(&self) -> u64 {
        self.lock().received
    }

    /// `getPercentComplete()`: -1 when the total is unknown, 100 once
    /// complete.
    pub fn percent_complete(&self) -> i32 {
        let s = self.lock();
        if s.state == DownloadState::Completed {
            return 100;
        }
        match s.received.saturating_mul(100).checked_div(s.total) {
            Some(percent) => i32::try_from(percent.min(100)).unwrap_or(100),
            None => -1,
        }
    }

    /// `getCurrentBytesPerSecond()`.
    pub fn current_bytes_per_second(&self) -> u64 {
        self.lock().speed.bytes_per_second(Instant::now())
    }

    /// `getETag()`.
    pub fn etag(&self) -> String {
        self.lock().validators.etag.clone()
    }

    /// `getLastModifiedTime()`.
    pub fn last_modified_time(&self) -> String {
        self.lock().validators.last_modified.clone()
    }

    /// `getStartTime()`: seconds since the Unix epoch.
    pub fn start_time(&self) -> f64 {
        self.lock().start_time
    }

    /// `getEndTime()`: seconds since the Unix epoch (0 until it ends).
    pub fn end_time(&self) -> f64 {
        self.lock().end_time
    }

    /// `isPaused()`.
    pub fn is_paused(&self) -> bool {
        self.lock().paused
    }

    /// `isDone()`: completed, cancelled, or interrupted beyond resuming.
    pub fn is_done(&self) -> bool {
        self.lock().done
    }

    /// `canResume()`: paused, or interrupted with bytes the server can be
    /// asked to continue (or restart) from.
    pub fn can_resume(&self) -> bool {
        let s = self.lock();
        match s.state {
            DownloadState::Progressing => s.paused,
            DownloadState::Interrupted => !s.done,
            _ => false,
        }
    }

    /// `pause()`: the transfer stops reading; the server sees no more reads.
    pub fn pause(&self) {
        {
            let mut s = self.lock();
            if s.state != DownloadState::Progressing || s.paused {
                return;
            }
            s.paused = true;
        }
        self.inner.pause.send_replace(true);
        self.emit(DownloadEvent::Updated(DownloadState::Progressing));
    }

    /// `resume()`: continues a paused download, or an interrupted one from
    /// its received bytes (or from zero when the server cannot continue).
    pub fn resume(&self) {
        let offset = {
            let mut s = self.lock();
            match s.state {
                DownloadState::Progressing if s.paused => {
                    s.paused = false;
                    None
                }
                DownloadState::Interrupted if !s.done => {
                    let restart = s.reason.is_some_and(InterruptReason::restarts_from_zero)
                        || !s.validators.can_continue();
                    if restart {
                        s.received = 0;
                    }
                    s.state = DownloadState::Progressing;
                    s.paused = false;
                    s.reason = None;
                    Some(s.received)
                }
                _ => return,
            }
        };
        self.inner.pause.send_replace(false);
        self.emit(DownloadEvent::Updated(DownloadState::Progressing));
        if let Some(offset) = offset {
            self.spawn(offset);
        }
    }

    /// `cancel()`: stops the transfer, removes the partial file, and ends
    /// with `done('cancelled')`.
    pub fn cancel(&self) {
        let save_path = {
            let mut s = self.lock();
            if s.done {
                return;
            }
            // Marked done first: a transfer that is finishing sees it and
            // throws its file away instead of completing.
            s.state = DownloadState::Cancelled;
            s.reason = None;
            s.done = true;
            s.paused = false;
            s.end_time = now_seconds();
            s.save_path.clone()
        };
        self.stop_transfer();
        if !save_path.as_os_str().is_empty() {
            let _ = std::fs::remove_file(crate::partial::partial_path(&save_path));
        }
        self.emit(DownloadEvent::Done(DownloadState::Cancelled));
    }

    /// Aborts the transfer task, if one runs.
    fn stop_transfer(&self) {
        let task = self
            .inner
            .task
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(task) = task {
            task.abort();
        }
    }

    /// Stops the transfer as an application shutting down does: the item is
    /// `interrupted` (`USER_SHUTDOWN`) and resumable, its bytes kept.
    pub fn shut_down(&self) {
        self.stop_transfer();
        let progressing = self.lock().state == DownloadState::Progressing;
        if progressing {
            self.interrupt(InterruptReason::UserShutdown);
        }
    }

    fn interrupt(&self, reason: InterruptReason) {
        {
            let mut s = self.lock();
            if s.done {
                return;
            }
            s.state = DownloadState::Interrupted;
            s.reason = Some(reason);
            s.paused = false;
        }
        self.emit(DownloadEvent::Updated(DownloadState::Interrupted));
    }

    fn spawn(&self, offset: u64) {
        let item = self.clone();
        let task = tokio::spawn(async move {
            if let Err(reason) = item.transfer(offset).await {
                item.interrupt(reason);
            }
        });
        *self
            .inner
            .task
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(task);
    }

    /// One request: from `offset`, to completion or an interruption.
    async fn transfer(&self, offset: u64) -> Result<(), InterruptReason> {
        let (url, validators) = {
            let s = self.lock();
            (s.url_chain[0].clone(), s.validators.clone())
        };
        let response = self
            .inner
            .transport
            .fetch(FetchRequest {
                url,
                headers: {
                    let mut headers = self.inner.headers.clone();
                    headers.extend(resume_headers(offset, &validators));
                    headers
                },
            })
            .await?;
        let start = check_response(response.status, &response.headers, offset)?;
        self.record_response(&response, start, offset);
        let handler = self
            .inner
            .will_download
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(handler) = handler
            && handler(self) == WillDownload::Prevent
        {
            self.end_prevented();
            return Ok(());
        }
        let mut file = self.open_file(start, offset)?;
        if self.is_done() {
            // Cancelled while the response was being read.
            let _ = file.discard();
            return Ok(());
        }
        let mut body = response.body;
        let mut paused = self.inner.pause.subscribe();
        // Progress is reported on the first bytes, then every
        // PROGRESS_PERIOD as Chromium's download file does, not per chunk.
        let mut last_progress: Option<Instant> = None;
        let mut unreported = false;
        loop {
            // A paused download does not read: the server's writes stall.
            while *paused.borrow_and_update() {
                if paused.changed().await.is_err() {
                    return Err(InterruptReason::UserShutdown);
                }
            }
            // Bytes not reported yet are reported when the period ends,
            // even if no more arrive (a stalled server).
            let next = {
                let mut next = body.next_chunk();
                loop {
                    let due = last_progress
                        .filter(|_| unreported)
                        .map(|t| tokio::time::Instant::from_std(t + PROGRESS_PERIOD));
                    tokio::select! {
                        chunk = &mut next => break chunk,
                        () = async {
                            match due {
                                Some(due) => tokio::time::sleep_until(due).await,
                                None => std::future::pending().await,
                            }
                        } => {
                            unreported = false;
                            last_progress = Some(Instant::now());
                            self.emit(DownloadEvent::Updated(DownloadState::Progressing));
                        }
                    }
                }
            };
            let chunk = match next {
                Ok(chunk) => chunk,
                Err(reason) => {
                    let _ = file.sync();
                    self.lock().received = file.received();
                    return Err(reason);
                }
            };
            let Some(chunk) = chunk else { break };
            file.write(&chunk).map_err(|e| file_reason(&e))?;
            let now = Instant::now();
            {
                let mut s = self.lock();
                s.received = file.received();
                s.speed.record(now, chunk.len() as u64);
            }
            if last_progress.is_none_or(|t| now.duration_since(t) >= PROGRESS_PERIOD) {
                last_progress = Some(now);
                unreported = false;
                self.emit(DownloadEvent::Updated(DownloadState::Progressing));
            } else {
                unreported = true;
            }
        }
        let (total, strong) = {
            let s = self.lock();
            (s.total, s.validators.can_continue())
        };
        if total > 0 && file.received() < total && strong {
            let _ = file.sync();
            return Err(InterruptReason::ServerContentLengthMismatch);
        }
        // Completion and cancel exclude each other through the state lock.
        let mut s = self.lock();
        if s.done {
            drop(s);
            let _ = file.discard();
            return Ok(());
        }
        match file.finish() {
            Ok(_) => {
                s.state = DownloadState::Completed;
                s.done = true;
                s.end_time = now_seconds();
                drop(s);
                self.emit(DownloadEvent::Done(DownloadState::Completed));
                Ok(())
            }
            Err(e) => Err(file_reason(&e)),
        }
    }

    /// Records what the response says and opens the file its body goes to.
    fn record_response(&self, response: &FetchResponse, start: BodyStart, offset: u64) {
        let header = |name| {
            response
                .headers
                .get(name)
                .map(|v: &http::HeaderValue| String::from_utf8_lossy(v.as_bytes()).into_owned())
                .unwrap_or_default()
        };
        let content_length: Option<u64> = header(CONTENT_LENGTH).trim().parse().ok();
        let mut s = self.lock();
        if !response.url_chain.is_empty() {
            s.url_chain = response.url_chain.clone();
        }
        let fresh = start == BodyStart::FromZero;
        if fresh {
            s.validators =
                Validators::from_response(response.status, response.version, &response.headers);
            s.content_disposition = header(CONTENT_DISPOSITION);
            s.mime_type = header(CONTENT_TYPE)
                .split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase();
            let url = s
                .url_chain
                .last()
                .cloned()
                .unwrap_or_else(|| s.url_chain[0].clone());
            let cd = response
                .headers
                .get(CONTENT_DISPOSITION)
                .map(|v| v.as_bytes());
            s.filename = generate_file_name(&url, cd, Some(s.mime_type.as_str()));
            s.total = content_length.unwrap_or(0);
            s.received = 0;
        } else if let Some(n) = content_length {
            s.total = offset + n;
        }
    }

    /// Opens the file the body goes to, choosing its path when no one did.
    fn open_file(&self, start: BodyStart, offset: u64) -> Result<PartialFile, InterruptReason> {
        let mut s = self.lock();
        s.file_opened = true;
        if s.save_path.as_os_str().is_empty() {
            let SaveTo::Directory(dir) = &self.inner.save_to else {
                return Err(InterruptReason::FileFailed);
            };
            std::fs::create_dir_all(dir).map_err(|e| file_reason(&e))?;
            s.save_path = unique_path(dir, &s.filename).map_err(|e| file_reason(&e))?;
        }
        let target = s.save_path.clone();
        drop(s);
        if let Some(parent) = target.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| file_reason(&e))?;
        }
        match start {
            BodyStart::Append => PartialFile::reopen(&target, offset),
            BodyStart::FromZero
                if offset == 0 && !crate::partial::partial_path(&target).exists() =>
            {
                PartialFile::create(&target).map_err(|e| file_reason(&e))
            }
            BodyStart::FromZero => {
                let mut file = match PartialFile::reopen(&target, 0) {
                    Ok(file) => file,
                    Err(_) => PartialFile::create(&target).map_err(|e| file_reason(&e))?,
                };
                file.restart().map_err(|e| file_reason(&e))?;
                Ok(file)
            }
        }
    }

    /// Waits for the `done` event's state.
    pub async fn wait_done(&self) -> DownloadState {
        let mut events = self.subscribe();
        if self.is_done() {
            return self.state();
        }
        while let Some(event) = events.recv().await {
            if let DownloadEvent::Done(state) = event {
                return state;
            }
        }
        self.state()
    }
}

/// The interrupt reason of a file error.
fn file_reason(e: &std::io::Error) -> InterruptReason {
    use std::io::ErrorKind::*;
    match e.kind() {
        PermissionDenied | ReadOnlyFilesystem => InterruptReason::FileAccessDenied,
        StorageFull => InterruptReason::FileNoSpace,
        InvalidFilename => InterruptReason::FileNameTooLong,
        FileTooLarge => InterruptReason::FileTooLarge,
        _ => InterruptReason::FileFailed,
    }
}

impl std::fmt::Debug for DownloadItem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self.lock();
        f.debug_struct("DownloadItem")
            .field("url", &s.url_chain.last().map(Url::as_str))
            .field("state", &s.state)
            .field("received", &s.received)
            .field("total", &s.total)
            .finish_non_exhaustive()
    }
}
