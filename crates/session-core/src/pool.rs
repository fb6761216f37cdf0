//! The connection pool of a session's network service.
//!
//! Sockets are grouped as Chromium groups them: by the origin they reach,
//! the route (direct or the proxy they go through) and the TLS generation
//! (SSL config and trust rules) they were made under, so a proxy change or
//! an SSL config change never reuses an older socket. A group holds at most
//! [`ConnectionLimits::per_host`] sockets, a proxy carries at most
//! [`ConnectionLimits::per_proxy`] (whatever their origins) and the pool
//! [`ConnectionLimits::total`]; requests beyond wait their turn, the
//! highest [`Priority`] first and in arrival order within one. An HTTP/2
//! connection counts as one socket and carries every request of its group.
//!
//! The accounting rule: a socket is counted from the moment a request is
//! allowed to open it until it is closed. A count is handed on, never
//! dropped and taken again, when a request waits for it, so a waiting
//! request cannot be overtaken by one that arrives later.

use std::collections::{BinaryHeap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::client::conn::{http1, http2};

/// The body type every pooled connection sends.
pub(crate) type ReqBody = http_body_util::combinators::BoxBody<Bytes, BoxError>;

/// An error of a request body stream.
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// How long an idle socket that never carried a request is kept (Chromium:
/// 60 s, `ClientSocketPoolManager::unused_idle_socket_timeout`; it was 10 s
/// on desktop platforms before).
pub const UNUSED_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// How long an idle socket that carried requests is kept (Chromium: 5 min).
pub const USED_IDLE_TIMEOUT: Duration = Duration::from_secs(300);

/// How often idle sockets are looked over, and those the other side closed
/// or that waited too long are closed (Chromium's cleanup timer: 10 s).
pub const IDLE_SWEEP_INTERVAL: Duration = Duration::from_secs(10);

/// A request's priority, Electron's `priority` option of `net.request`:
/// requests waiting for a socket are served highest first.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    /// Served last, after every other priority.
    Throttled,
    /// Electron's default.
    #[default]
    Idle,
    /// Lowest.
    Lowest,
    /// Low.
    Low,
    /// Medium.
    Medium,
    /// Highest.
    Highest,
}

impl Priority {
    /// Chromium's name for it (`IDLE`, `HIGHEST`…), as the net log shows.
    pub fn chromium_name(self) -> &'static str {
        match self {
            Priority::Throttled => "THROTTLED",
            Priority::Idle => "IDLE",
            Priority::Lowest => "LOWEST",
            Priority::Low => "LOW",
            Priority::Medium => "MEDIUM",
            Priority::Highest => "HIGHEST",
        }
    }
}

/// How many sockets a session's pool may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionLimits {
    /// Sockets per group (origin, route and TLS generation); Chromium: 6.
    pub per_host: usize,
    /// Sockets in all; Chromium: 256.
    pub total: usize,
    /// Sockets through one proxy, whatever their origins; Chromium: 32
    /// (`kDefaultMaxSocketsPerProxyChain`). Direct sockets do not count.
    #[serde(default = "default_per_proxy")]
    pub per_proxy: usize,
}

fn default_per_proxy() -> usize {
    32
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            per_host: 6,
            total: 256,
            per_proxy: default_per_proxy(),
        }
    }
}

/// What sockets are grouped by.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct PoolKey {
    /// `https` or `http`.
    pub https: bool,
    /// The origin's host (IPv6 without brackets). Shared: a key is cloned
    /// for the group and for each socket's count.
    pub host: Arc<str>,
    /// The origin's port.
    pub port: u16,
    /// `DIRECT`, or the proxy in Chromium's PAC form.
    pub route: Arc<str>,
    /// The SSL config and trust generations.
    pub tls: (u64, u64),
}

/// The future that drives an HTTP/1.1 connection (hyper's dispatcher):
/// polled by the request that holds the connection, in its own task, never
/// by a task of its own — a response wakes the task that waits for it,
/// with no hop through another task. It ends when the connection does.
pub(crate) type Driver = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

/// The waker a connection's driver and what a request polls beside it
/// (its send, its response, its body) are polled with, in the request's
/// task. They hand each other work through channels, and each hand-over
/// wakes the other's waker: with the task's own waker that wake lands
/// while the task is being polled, and the runtime then reschedules the
/// task — and, multi-threaded, wakes another worker to take it: a futex
/// and a move to another thread, every request. Here such a wake is only
/// noted and the two are polled again at once; a wake from outside (the
/// socket's readiness, a timer) goes to the task.
#[derive(Default)]
pub(crate) struct LocalWake {
    /// The waker of the task polling now (or last).
    task: Mutex<Option<std::task::Waker>>,
    /// [`NOT_POLLING`], [`POLLING`] or [`POLLING_WOKEN`]: one atomic, so a
    /// wake either lands in a poll that will see it or wakes the task.
    state: std::sync::atomic::AtomicU8,
}

/// Nobody polls the driver and its request.
const NOT_POLLING: u8 = 0;
/// They are being polled.
const POLLING: u8 = 1;
/// They are being polled, and one woke the other meanwhile.
const POLLING_WOKEN: u8 = 2;

impl std::task::Wake for LocalWake {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        // Noted for a poll under way (which looks when it ends), else the
        // task is woken.
        match self.state.compare_exchange(
            POLLING,
            POLLING_WOKEN,
            Ordering::SeqCst,
            Ordering::SeqCst,
        ) {
            Ok(_) | Err(POLLING_WOKEN) => return,
            Err(_) => {}
        }
        let task = self
            .task
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if let Some(task) = task {
            task.wake();
        }
    }
}

impl LocalWake {
    /// Polls `step` (a connection's driver and what waits on it) with this
    /// waker, again while they woke each other during the poll (a few times
    /// at most; then the task yields).
    pub fn poll<T>(
        self: &Arc<Self>,
        cx: &mut std::task::Context<'_>,
        mut step: impl FnMut(&mut std::task::Context<'_>) -> std::task::Poll<T>,
    ) -> std::task::Poll<T> {
        {
            let mut task = self.task.lock().unwrap_or_else(PoisonError::into_inner);
            if !task.as_ref().is_some_and(|t| t.will_wake(cx.waker())) {
                *task = Some(cx.waker().clone());
            }
        }
        let waker = std::task::Waker::from(Arc::clone(self));
        let mut local = std::task::Context::from_waker(&waker);
        for _ in 0..16 {
            self.state.store(POLLING, Ordering::SeqCst);
            let polled = step(&mut local);
            let woken = self.state.swap(NOT_POLLING, Ordering::SeqCst) == POLLING_WOKEN;
            if polled.is_ready() || !woken {
                return polled;
            }
        }
        // Still waking each other: let the runtime run others first.
        cx.waker().wake_by_ref();
        std::task::Poll::Pending
    }
}

/// An HTTP/1.1 connection with nothing in flight.
pub(crate) struct Idle {
    pub sender: http1::SendRequest<ReqBody>,
    /// `None` once the connection has ended.
    driver: Option<Driver>,
    /// What the driver and the request beside it are polled with.
    wake: Arc<LocalWake>,
    pub addr: SocketAddr,
    pub absolute_form: bool,
    /// The socket in the net log.
    pub socket: crate::netlog::Source,
    /// A second handle on its TCP connection, to see whether the other
    /// side closed it while it waited.
    probe: Option<Arc<std::net::TcpStream>>,
    since: Instant,
    used: bool,
}

impl Idle {
    /// A connection just made, never used.
    pub fn fresh(
        sender: http1::SendRequest<ReqBody>,
        driver: Driver,
        addr: SocketAddr,
        absolute_form: bool,
        socket: crate::netlog::Source,
        probe: Option<Arc<std::net::TcpStream>>,
    ) -> Idle {
        Idle {
            sender,
            driver: Some(driver),
            wake: Arc::default(),
            addr,
            absolute_form,
            socket,
            probe,
            since: Instant::now(),
            used: false,
        }
    }

    /// How long it has waited in the pool, in ms.
    pub fn idle_ms(&self) -> u64 {
        u64::try_from(self.since.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Drives the connection as far as it can go now (sending, reading,
    /// noticing the other side's close); `false` once it has ended.
    pub fn poll_driver(&mut self, cx: &mut std::task::Context<'_>) -> bool {
        if let Some(driver) = &mut self.driver
            && driver.as_mut().poll(cx).is_ready()
        {
            self.driver = None;
        }
        self.driver.is_some() && !self.sender.is_closed()
    }

    /// Whether the connection can carry a request: it has not ended, and
    /// (with `thorough`) nothing came from the other side while it waited
    /// — neither its close nor bytes no request asked for — as Chromium
    /// checks (`IsConnectedAndIdle`) before reusing a socket: what the
    /// connection knows is asked by driving it once (a close the runtime
    /// has seen ends it), and the socket itself is peeked (a syscall),
    /// since a close that has just arrived may not have been seen yet.
    /// The thorough check is for a request that must not reach a closing
    /// server (an unsafe method, which a server that only stopped writing
    /// might still act on) or could not be sent again (a streamed body).
    /// A safe request finds a close when its connection is driven to send
    /// it — before anything is written — and is sent again on another
    /// socket, as Chromium resends: that costs less than the check on
    /// every reuse.
    pub async fn usable(&mut self, thorough: bool) -> bool {
        if !thorough {
            return self.driver.is_some() && !self.sender.is_closed();
        }
        let wake = Arc::clone(&self.wake);
        std::future::poll_fn(|cx| wake.poll(cx, |cx| std::task::Poll::Ready(self.poll_driver(cx))))
            .await
            && !self.peer_closed()
    }

    /// Whether the socket holds the other side's close (or bytes no
    /// request asked for).
    fn peer_closed(&self) -> bool {
        let Some(probe) = &self.probe else {
            return false;
        };
        let mut byte = [0u8; 1];
        match probe.peek(&mut byte) {
            Ok(0) => true,
            // Bytes waiting: TLS records (a session ticket) the connection
            // reads; on a plain socket, an answer nothing asked for.
            Ok(_) => false,
            Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
        }
    }

    /// `fut` (a request being sent on this connection, or its response
    /// awaited), with the connection driven while it waits.
    pub async fn driving<F: std::future::Future>(
        driver: &mut Option<Driver>,
        wake: &Arc<LocalWake>,
        fut: F,
    ) -> F::Output {
        let mut fut = std::pin::pin!(fut);
        std::future::poll_fn(|cx| {
            wake.poll(cx, |cx| {
                if let std::task::Poll::Ready(out) = fut.as_mut().poll(cx) {
                    return std::task::Poll::Ready(out);
                }
                if let Some(d) = driver
                    && d.as_mut().poll(cx).is_ready()
                {
                    *driver = None;
                }
                fut.as_mut().poll(cx)
            })
        })
        .await
    }

    /// The sender, the driver and their waker, to send a request while
    /// driving.
    pub fn parts(
        &mut self,
    ) -> (
        &mut http1::SendRequest<ReqBody>,
        &mut Option<Driver>,
        &Arc<LocalWake>,
    ) {
        (&mut self.sender, &mut self.driver, &self.wake)
    }

    /// `step` (the response's body read from this connection) polled with
    /// the connection driven beside it, under the connection's waker.
    pub fn poll_with<T>(
        &mut self,
        cx: &mut std::task::Context<'_>,
        mut step: impl FnMut(&mut std::task::Context<'_>) -> std::task::Poll<T>,
    ) -> std::task::Poll<T> {
        let wake = Arc::clone(&self.wake);
        wake.poll(cx, |cx| {
            let polled = step(cx);
            if polled.is_ready() {
                return polled;
            }
            self.poll_driver(cx);
            step(cx)
        })
    }

    /// Drives the connection once under its waker (after a body's end, so
    /// that it is ready for the next request).
    pub fn drive_once(&mut self, cx: &mut std::task::Context<'_>) {
        let wake = Arc::clone(&self.wake);
        let _ = wake.poll(cx, |cx| {
            self.poll_driver(cx);
            std::task::Poll::Ready(())
        });
    }

    fn alive(&self, now: Instant) -> bool {
        let limit = if self.used {
            USED_IDLE_TIMEOUT
        } else {
            UNUSED_IDLE_TIMEOUT
        };
        self.driver.is_some() && !self.sender.is_closed() && now.duration_since(self.since) < limit
    }
}

/// What a request gets from the pool.
pub(crate) enum Checkout {
    /// A multiplexed HTTP/2 connection of the group.
    H2(http2::SendRequest<ReqBody>, SocketAddr),
    /// An idle HTTP/1.1 connection, now the request's.
    Idle(Idle, Slot),
    /// The right to open a socket.
    New(Slot),
}

/// What a waiting request is handed.
enum Grant {
    Slot,
    Idle(Idle),
    Retry,
}

struct Waiter {
    priority: Priority,
    seq: u64,
    tx: tokio::sync::oneshot::Sender<Grant>,
}

impl PartialEq for Waiter {
    fn eq(&self, other: &Self) -> bool {
        self.priority == other.priority && self.seq == other.seq
    }
}

impl Eq for Waiter {}

impl PartialOrd for Waiter {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Waiter {
    /// Higher priority first, then earlier arrival.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.priority
            .cmp(&other.priority)
            .then_with(|| other.seq.cmp(&self.seq))
    }
}

#[derive(Default)]
struct Group {
    /// Sockets counted for this group: idle, in use, being opened, HTTP/2.
    sockets: usize,
    idle: Vec<Idle>,
    h2: Vec<(u64, http2::SendRequest<ReqBody>, SocketAddr)>,
    waiters: BinaryHeap<Waiter>,
}

impl Group {
    fn is_empty(&self) -> bool {
        self.sockets == 0 && self.idle.is_empty() && self.h2.is_empty() && self.waiters.is_empty()
    }
}

/// The groups by key. foldhash, randomly seeded: a key is hashed a few
/// times a request, and SipHash cost more than the rest of a checkout.
type Groups = HashMap<PoolKey, Group, foldhash::fast::RandomState>;

struct State {
    groups: Groups,
    total: usize,
    /// Sockets through each proxy (routes other than DIRECT).
    proxied: HashMap<Arc<str>, usize, foldhash::fast::RandomState>,
    limits: ConnectionLimits,
    /// Grows with every `close_all`: counts from before are void.
    epoch: u64,
    seq: u64,
    /// How often idle sockets are looked over.
    sweep_every: Duration,
    /// Whether a task looks over idle sockets (there is one while any
    /// socket waits idle). Outside the lock: the task's end may come while
    /// the lock is held (a runtime shutting down drops a task as it is
    /// spawned).
    sweeping: Arc<AtomicBool>,
}

/// A session's connection pool. Cloning shares it.
#[derive(Clone)]
pub(crate) struct Pool {
    state: Arc<Mutex<State>>,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.lock();
        let groups: Vec<String> = state
            .groups
            .iter()
            .map(|(k, g)| {
                format!(
                    "{}:{}:{} via {}: {} sockets, {} idle, {} h2, {} waiting",
                    if k.https { "https" } else { "http" },
                    k.host,
                    k.port,
                    k.route,
                    g.sockets,
                    g.idle.len(),
                    g.h2.len(),
                    g.waiters.len()
                )
            })
            .collect();
        f.debug_struct("Pool")
            .field("groups", &groups)
            .field("total", &state.total)
            .field("limits", &state.limits)
            .field("epoch", &state.epoch)
            .finish()
    }
}

impl Default for Pool {
    fn default() -> Self {
        Pool {
            state: Arc::new(Mutex::new(State {
                groups: Groups::default(),
                total: 0,
                proxied: HashMap::default(),
                limits: ConnectionLimits::default(),
                epoch: 0,
                seq: 0,
                sweep_every: IDLE_SWEEP_INTERVAL,
                sweeping: Arc::default(),
            })),
        }
    }
}

/// The count of one socket of a group: released (or handed to a waiting
/// request) when dropped.
pub(crate) struct Slot {
    pool: Pool,
    key: PoolKey,
    epoch: u64,
    armed: bool,
}

impl Slot {
    /// The group it counts in.
    pub fn key(&self) -> &PoolKey {
        &self.key
    }

    fn disarm(mut self) {
        self.armed = false;
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if self.armed {
            let mut state = self.pool.lock();
            release_locked(&self.pool, &mut state, &self.key, self.epoch);
        }
    }
}

/// Takes back a grant that reached no one; called with the lock held.
fn undeliverable(pool: &Pool, state: &mut State, key: &PoolKey, epoch: u64, grant: Grant) {
    match grant {
        Grant::Slot => release_locked(pool, state, key, epoch),
        Grant::Idle(idle) => put_idle_locked(pool, state, key, epoch, idle),
        Grant::Retry => {}
    }
}

impl PoolKey {
    /// Whether its sockets go through a proxy.
    fn proxied(&self) -> bool {
        &*self.route != "DIRECT"
    }
}

impl State {
    /// Whether a socket more may go through `key`'s proxy (always, direct).
    fn proxy_room(&self, key: &PoolKey) -> bool {
        !key.proxied() || self.proxied.get(&key.route).copied().unwrap_or(0) < self.limits.per_proxy
    }

    /// One socket more counted for `key` in the pool's and its proxy's
    /// counts (its group's is the caller's).
    fn count(&mut self, key: &PoolKey) {
        self.total += 1;
        if key.proxied() {
            *self.proxied.entry(Arc::clone(&key.route)).or_default() += 1;
        }
    }

    /// One socket fewer counted for `key` in the pool's and its proxy's
    /// counts.
    fn uncount(&mut self, key: &PoolKey) {
        self.total = self.total.saturating_sub(1);
        if key.proxied()
            && let Some(n) = self.proxied.get_mut(&key.route)
        {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.proxied.remove(&key.route);
            }
        }
    }
}

/// One socket of `key` is gone: its count goes to the group's next waiting
/// request, or is freed (and then perhaps taken by a request of another
/// group that waits only on the total limit).
fn release_locked(pool: &Pool, state: &mut State, key: &PoolKey, epoch: u64) {
    if epoch != state.epoch {
        return;
    }
    let Some(group) = state.groups.get_mut(key) else {
        return;
    };
    while let Some(waiter) = group.waiters.pop() {
        if waiter.tx.send(Grant::Slot).is_ok() {
            return;
        }
    }
    group.sockets = group.sockets.saturating_sub(1);
    if group.is_empty() {
        state.groups.remove(key);
    }
    state.uncount(key);
    grant_stalled(pool, state);
}

/// While the total limit allows, hands a new socket to the best request of
/// any group that is under its own limit (and its proxy's).
fn grant_stalled(_pool: &Pool, state: &mut State) {
    let per_host = state.limits.per_host;
    while state.total < state.limits.total {
        let best = state
            .groups
            .iter()
            .filter(|(k, g)| g.sockets < per_host && state.proxy_room(k))
            .filter_map(|(k, g)| {
                g.waiters
                    .peek()
                    .map(|w| (w.priority, std::cmp::Reverse(w.seq), k))
            })
            .max_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)))
            .map(|(_, _, k)| k.clone());
        let Some(key) = best else { return };
        let Some(group) = state.groups.get_mut(&key) else {
            return;
        };
        let Some(waiter) = group.waiters.pop() else {
            return;
        };
        if waiter.tx.send(Grant::Slot).is_ok() {
            group.sockets += 1;
            state.count(&key);
        }
    }
}

/// An HTTP/1.1 connection is free again: the group's next waiting request
/// gets it, or it waits idle.
fn put_idle_locked(pool: &Pool, state: &mut State, key: &PoolKey, epoch: u64, mut idle: Idle) {
    if epoch != state.epoch {
        return;
    }
    if idle.driver.is_none() || idle.sender.is_closed() {
        release_locked(pool, state, key, epoch);
        return;
    }
    let Some(group) = state.groups.get_mut(key) else {
        return;
    };
    while let Some(waiter) = group.waiters.pop() {
        match waiter.tx.send(Grant::Idle(idle)) {
            Ok(()) => return,
            Err(Grant::Idle(back)) => idle = back,
            Err(_) => return,
        }
    }
    group.idle.push(idle);
    start_sweeping(pool, state);
}

/// Starts the task that looks over idle sockets, if none runs (and a
/// runtime is there to run it). The task holds the pool weakly and ends
/// once no socket waits idle, or with its runtime.
fn start_sweeping(pool: &Pool, state: &mut State) {
    if state.sweeping.load(Ordering::SeqCst) {
        return;
    }
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    state.sweeping.store(true, Ordering::SeqCst);
    let mut sweeper = Sweeper {
        pool: Arc::downgrade(&pool.state),
        sweeping: Arc::clone(&state.sweeping),
        armed: true,
    };
    runtime.spawn(async move {
        loop {
            let Some(every) = sweeper.pool().map(|p| p.lock().sweep_every) else {
                return;
            };
            tokio::time::sleep(every).await;
            let Some(pool) = sweeper.pool() else { return };
            if !pool.sweep() {
                // The sweep marked the pool unswept, under its lock.
                sweeper.disarm();
                return;
            }
        }
    });
}

/// The sweeping task's hold on its pool: when the task ends (or its
/// runtime drops it), the pool knows no task sweeps any more.
struct Sweeper {
    pool: std::sync::Weak<Mutex<State>>,
    /// The pool's flag: whether a task sweeps.
    sweeping: Arc<AtomicBool>,
    /// Whether dropping it must clear the flag.
    armed: bool,
}

impl Sweeper {
    fn pool(&self) -> Option<Pool> {
        self.pool.upgrade().map(|state| Pool { state })
    }

    fn disarm(&mut self) {
        self.armed = false;
    }
}

impl Drop for Sweeper {
    /// Never takes the pool's lock: it may be held here.
    fn drop(&mut self) {
        if self.armed {
            self.sweeping.store(false, Ordering::SeqCst);
        }
    }
}

/// Releases a grant a waiting request received but never used.
struct WaitGuard {
    pool: Pool,
    key: PoolKey,
    epoch: u64,
    rx: Option<tokio::sync::oneshot::Receiver<Grant>>,
}

impl Drop for WaitGuard {
    fn drop(&mut self) {
        if let Some(mut rx) = self.rx.take() {
            rx.close();
            if let Ok(grant) = rx.try_recv() {
                let mut state = self.pool.lock();
                undeliverable(&self.pool, &mut state, &self.key, self.epoch, grant);
            }
        }
    }
}

impl Pool {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The limits in force.
    pub fn limits(&self) -> ConnectionLimits {
        self.lock().limits
    }

    /// New limits; requests waiting that now fit are let through, the
    /// best first.
    pub fn set_limits(&self, limits: ConnectionLimits) {
        let mut state = self.lock();
        state.limits = limits;
        grant_stalled(self, &mut state);
    }

    fn slot(&self, key: &PoolKey, epoch: u64) -> Slot {
        Slot {
            pool: self.clone(),
            key: key.clone(),
            epoch,
            armed: true,
        }
    }

    /// A connection for a request of group `key`: an HTTP/2 connection of
    /// the group, an idle socket, or the right to open one — waiting, in
    /// priority order, while the group or the pool is full.
    pub async fn checkout(&self, key: &PoolKey, priority: Priority) -> Checkout {
        let mut woken = false;
        let mut seq = None;
        loop {
            let (rx, epoch) = {
                let mut state = self.lock();
                let epoch = state.epoch;
                let now = Instant::now();
                let limits = state.limits;
                let group = state.groups.entry(key.clone()).or_default();
                group.h2.retain(|(_, sender, _)| !sender.is_closed());
                if let Some((_, sender, addr)) = group.h2.iter().find(|(_, s, _)| s.is_ready()) {
                    return Checkout::H2(sender.clone(), *addr);
                }
                let mut dead = 0;
                let mut found = None;
                while let Some(idle) = group.idle.pop() {
                    if idle.alive(now) {
                        found = Some(idle);
                        break;
                    }
                    dead += 1;
                }
                for _ in 0..dead {
                    release_locked(self, &mut state, key, epoch);
                }
                if let Some(idle) = found {
                    return Checkout::Idle(idle, self.slot(key, epoch));
                }
                let total_full = state.total >= limits.total;
                let proxy_full = !state.proxy_room(key);
                let group = state.groups.entry(key.clone()).or_default();
                // A request that was woken (or finds no one waiting) may
                // take free room; otherwise it queues behind the others.
                let queue_free = woken || group.waiters.is_empty();
                if group.sockets < limits.per_host && queue_free {
                    if !total_full && !proxy_full {
                        group.sockets += 1;
                        state.count(key);
                        return Checkout::New(self.slot(key, epoch));
                    }
                    // The pool (or the proxy's share of it) is full: close
                    // an idle socket of another group to make room, as
                    // Chromium does — one through the same proxy when that
                    // is what is full.
                    if let Some(other) = state
                        .groups
                        .iter()
                        .find(|(k, g)| {
                            *k != key && !g.idle.is_empty() && (!proxy_full || k.route == key.route)
                        })
                        .map(|(k, _)| k.clone())
                    {
                        if let Some(g) = state.groups.get_mut(&other) {
                            g.idle.pop();
                            g.sockets = g.sockets.saturating_sub(1);
                            if g.is_empty() {
                                state.groups.remove(&other);
                            }
                        }
                        state.uncount(&other);
                        let group = state.groups.entry(key.clone()).or_default();
                        group.sockets += 1;
                        state.count(key);
                        return Checkout::New(self.slot(key, epoch));
                    }
                }
                let seq = *seq.get_or_insert_with(|| {
                    state.seq += 1;
                    state.seq
                });
                let (tx, rx) = tokio::sync::oneshot::channel();
                let group = state.groups.entry(key.clone()).or_default();
                group.waiters.push(Waiter { priority, seq, tx });
                (rx, epoch)
            };
            let mut guard = WaitGuard {
                pool: self.clone(),
                key: key.clone(),
                epoch,
                rx: Some(rx),
            };
            let grant = match guard.rx.as_mut() {
                Some(rx) => rx.await,
                None => continue,
            };
            guard.rx = None;
            woken = true;
            match grant {
                Ok(Grant::Slot) => return Checkout::New(self.slot(key, epoch)),
                Ok(Grant::Idle(idle)) => {
                    if idle.alive(Instant::now()) {
                        return Checkout::Idle(idle, self.slot(key, epoch));
                    }
                    drop(self.slot(key, epoch));
                }
                // HTTP/2 came up, or the pool was cleared: look again.
                Ok(Grant::Retry) | Err(_) => {}
            }
        }
    }

    /// The right to open one more socket in group `key` if it holds fewer
    /// than `want` (and the limits allow), without waiting: for preconnect.
    pub fn room_for(&self, key: &PoolKey, want: usize) -> Option<Slot> {
        let mut state = self.lock();
        let epoch = state.epoch;
        let limits = state.limits;
        if state.total >= limits.total || !state.proxy_room(key) {
            return None;
        }
        let group = state.groups.entry(key.clone()).or_default();
        if group.sockets >= want.min(limits.per_host) || !group.h2.is_empty() {
            if group.is_empty() {
                state.groups.remove(key);
            }
            return None;
        }
        group.sockets += 1;
        state.count(key);
        Some(self.slot(key, epoch))
    }

    /// A request's HTTP/1.1 connection is free again.
    pub fn put_idle(&self, slot: Slot, mut idle: Idle) {
        idle.since = Instant::now();
        idle.used = true;
        let mut state = self.lock();
        let (key, epoch) = (slot.key.clone(), slot.epoch);
        slot.disarm();
        put_idle_locked(self, &mut state, &key, epoch, idle);
    }

    /// A socket opened ahead of time waits idle, unused.
    pub fn put_fresh(&self, slot: Slot, idle: Idle) {
        let mut state = self.lock();
        let (key, epoch) = (slot.key.clone(), slot.epoch);
        slot.disarm();
        put_idle_locked(self, &mut state, &key, epoch, idle);
    }

    /// An HTTP/2 connection now serves the group: it keeps the slot's
    /// count until [`Pool::h2_closed`], and every waiting request of the
    /// group looks again. Returns its id.
    pub fn register_h2(
        &self,
        slot: Slot,
        sender: http2::SendRequest<ReqBody>,
        addr: SocketAddr,
    ) -> u64 {
        let mut state = self.lock();
        let (key, epoch) = (slot.key.clone(), slot.epoch);
        slot.disarm();
        state.seq += 1;
        let id = state.seq;
        if epoch != state.epoch {
            return id;
        }
        if let Some(group) = state.groups.get_mut(&key) {
            group.h2.push((id, sender, addr));
            for waiter in std::mem::take(&mut group.waiters) {
                let _ = waiter.tx.send(Grant::Retry);
            }
        }
        id
    }

    /// The HTTP/2 connection `id` of `key` ended (opened in `epoch`).
    pub fn h2_closed(&self, key: &PoolKey, id: u64, epoch: u64) {
        let mut state = self.lock();
        if epoch != state.epoch {
            return;
        }
        let Some(group) = state.groups.get_mut(key) else {
            return;
        };
        let before = group.h2.len();
        group.h2.retain(|(i, _, _)| *i != id);
        if group.h2.len() != before {
            release_locked(self, &mut state, key, epoch);
        }
    }

    /// The epoch a slot was counted in.
    pub fn epoch_of(slot: &Slot) -> u64 {
        slot.epoch
    }

    /// How often idle sockets are looked over ([`IDLE_SWEEP_INTERVAL`]
    /// by default); a sweep already waiting keeps its old interval once.
    pub fn set_sweep_interval(&self, every: Duration) {
        self.lock().sweep_every = every.max(Duration::from_millis(1));
    }

    /// Closes the idle sockets the other side closed (or sent bytes no
    /// request asked for) and those that waited longer than their
    /// timeout, as Chromium's cleanup timer does; their counts go to
    /// waiting requests or are freed. Returns whether any socket still
    /// waits idle — the sweeping task stops when none does.
    pub fn sweep(&self) -> bool {
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        let now = Instant::now();
        let mut closed = Vec::new();
        let mut state = self.lock();
        let epoch = state.epoch;
        let mut dead_by_group = Vec::new();
        for (key, group) in &mut state.groups {
            let before = closed.len();
            let mut kept = Vec::with_capacity(group.idle.len());
            for mut idle in group.idle.drain(..) {
                // Driven once, nobody to wake: the connection notices a
                // close that arrived, and ends.
                if idle.alive(now) && idle.poll_driver(&mut cx) && !idle.peer_closed() {
                    kept.push(idle);
                } else {
                    closed.push(idle);
                }
            }
            group.idle = kept;
            if closed.len() > before {
                dead_by_group.push((key.clone(), closed.len() - before));
            }
        }
        for (key, dead) in dead_by_group {
            for _ in 0..dead {
                release_locked(self, &mut state, &key, epoch);
            }
        }
        let any_idle = state.groups.values().any(|g| !g.idle.is_empty());
        if !any_idle {
            state.sweeping.store(false, Ordering::SeqCst);
        }
        drop(state);
        // Closed outside the lock.
        drop(closed);
        any_idle
    }

    /// Drops every idle socket (in use ones close when their requests
    /// end).
    pub fn close_idle(&self) {
        let mut state = self.lock();
        let epoch = state.epoch;
        let keys: Vec<PoolKey> = state.groups.keys().cloned().collect();
        for key in keys {
            let idle = state
                .groups
                .get_mut(&key)
                .map(|g| std::mem::take(&mut g.idle))
                .unwrap_or_default();
            for _ in idle {
                release_locked(self, &mut state, &key, epoch);
            }
        }
    }

    /// Forgets every socket: counts start again from zero (the sockets
    /// themselves are being closed by the caller), and waiting requests
    /// look again.
    pub fn clear(&self) {
        let mut state = self.lock();
        state.epoch += 1;
        state.total = 0;
        state.proxied.clear();
        let groups = std::mem::take(&mut state.groups);
        drop(state);
        for (_, group) in groups {
            for waiter in group.waiters {
                let _ = waiter.tx.send(Grant::Retry);
            }
        }
    }

    /// Each group (its route and origin) with its counts, for the net
    /// log's polled data.
    pub fn group_info(&self) -> serde_json::Value {
        let state = self.lock();
        let mut groups: Vec<(String, serde_json::Value)> = state
            .groups
            .iter()
            .map(|(key, group)| {
                let scheme = if key.https { "https" } else { "http" };
                let host = if key.host.contains(':') {
                    format!("[{}]", key.host)
                } else {
                    key.host.to_string()
                };
                (
                    format!("{} {scheme}://{host}:{}", key.route, key.port),
                    serde_json::json!({
                        "socket_count": group.sockets,
                        "idle_socket_count": group.idle.len(),
                        "http2_session_count": group.h2.len(),
                        "pending_request_count": group.waiters.len(),
                    }),
                )
            })
            .collect();
        groups.sort_by(|a, b| a.0.cmp(&b.0));
        serde_json::Value::Object(groups.into_iter().collect())
    }

    /// Sockets counted: `(idle, all)`.
    pub fn counts(&self) -> (usize, usize) {
        let state = self.lock();
        (
            state.groups.values().map(|g| g.idle.len()).sum(),
            state.total,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(host: &str) -> PoolKey {
        PoolKey {
            https: false,
            host: host.into(),
            port: 80,
            route: "DIRECT".into(),
            tls: (0, 0),
        }
    }

    /// New sockets for `full` (each must get one), and a task asking for
    /// one more for `next`, which answers whether it got a new socket.
    async fn fill_then_ask(
        pool: &Pool,
        full: [PoolKey; 3],
        next: PoolKey,
    ) -> (Vec<Slot>, tokio::task::JoinHandle<bool>) {
        let mut slots = Vec::new();
        for k in full {
            match pool.checkout(&k, Priority::Idle).await {
                Checkout::New(slot) => slots.push(slot),
                _ => panic!("expected room"),
            }
        }
        let pool = pool.clone();
        let waiting = tokio::spawn(async move {
            matches!(pool.checkout(&next, Priority::Idle).await, Checkout::New(_))
        });
        (slots, waiting)
    }

    #[tokio::test]
    async fn a_full_group_makes_requests_wait_and_serves_them_by_priority() {
        let pool = Pool::default();
        pool.set_limits(ConnectionLimits {
            per_host: 2,
            total: 256,
            ..ConnectionLimits::default()
        });
        let k = key("a");
        let mut slots = Vec::new();
        for _ in 0..2 {
            match pool.checkout(&k, Priority::Idle).await {
                Checkout::New(slot) => slots.push(slot),
                _ => panic!("expected room for a new socket"),
            }
        }
        let (done_tx, mut done_rx) = tokio::sync::mpsc::unbounded_channel();
        for (name, priority) in [
            ("low", Priority::Low),
            ("highest", Priority::Highest),
            ("low2", Priority::Low),
            ("idle", Priority::Idle),
        ] {
            let pool = pool.clone();
            let k = k.clone();
            let done = done_tx.clone();
            tokio::spawn(async move {
                let checkout = pool.checkout(&k, priority).await;
                let _ = done.send((name, checkout));
            });
            tokio::task::yield_now().await;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(done_rx.try_recv().is_err(), "nobody gets past a full group");
        assert_eq!(pool.counts().1, 2);
        let mut order = Vec::new();
        while let Some(slot) = slots.pop() {
            drop(slot);
            let (name, checkout) = done_rx.recv().await.unwrap();
            order.push(name);
            if let Checkout::New(s) = checkout {
                slots.insert(0, s);
            }
            if order.len() == 4 {
                break;
            }
        }
        assert_eq!(order, ["highest", "low", "low2", "idle"]);
        assert_eq!(
            pool.counts().1,
            2,
            "the count was handed on, never exceeded"
        );
    }

    #[tokio::test]
    async fn the_total_limit_holds_across_groups() {
        let pool = Pool::default();
        pool.set_limits(ConnectionLimits {
            per_host: 6,
            total: 3,
            ..ConnectionLimits::default()
        });
        let (mut slots, waiting) =
            fill_then_ask(&pool, [key("a"), key("b"), key("c")], key("d")).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(
            !waiting.is_finished(),
            "a fourth socket waits for the total"
        );
        drop(slots.remove(0));
        assert!(
            waiting.await.unwrap_or(false),
            "a socket freed elsewhere lets it through"
        );
    }

    #[tokio::test]
    async fn sockets_through_one_proxy_are_limited_whatever_their_origins() {
        let through = |host: &str, proxy: &str| PoolKey {
            route: proxy.into(),
            ..key(host)
        };
        let pool = Pool::default();
        pool.set_limits(ConnectionLimits {
            per_proxy: 3,
            ..ConnectionLimits::default()
        });
        let p = "PROXY p:1";
        let (mut slots, waiting) = fill_then_ask(
            &pool,
            [through("a", p), through("b", p), through("c", p)],
            through("d", p),
        )
        .await;
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(
            !waiting.is_finished(),
            "a fourth socket through the proxy waits, for another origin too"
        );
        // Direct sockets and another proxy's are not held back.
        for other in [key("d"), through("d", "PROXY q:1")] {
            assert!(matches!(
                pool.checkout(&other, Priority::Idle).await,
                Checkout::New(_)
            ));
        }
        drop(slots.remove(0));
        assert!(
            waiting.await.unwrap_or(false),
            "a socket freed through the proxy lets it through"
        );
        // b's and c's sockets are left: every other count was given back,
        // the proxy's too — one more fits through it, and no more.
        assert_eq!(pool.counts().1, 2);
        let Checkout::New(_third) = pool
            .checkout(&through("e", "PROXY p:1"), Priority::Idle)
            .await
        else {
            panic!("expected room for a third socket through the proxy");
        };
        assert!(
            pool.room_for(&through("f", "PROXY p:1"), 1).is_none(),
            "and not for a fourth"
        );
    }

    #[tokio::test]
    async fn a_waiter_that_gives_up_passes_its_turn_on() {
        let pool = Pool::default();
        pool.set_limits(ConnectionLimits {
            per_host: 1,
            total: 256,
            ..ConnectionLimits::default()
        });
        let k = key("a");
        let Checkout::New(slot) = pool.checkout(&k, Priority::Idle).await else {
            panic!("expected room");
        };
        let quitter = {
            let pool = pool.clone();
            let k = k.clone();
            tokio::spawn(async move { pool.checkout(&k, Priority::Highest).await })
        };
        let patient = {
            let pool = pool.clone();
            let k = k.clone();
            tokio::spawn(async move { pool.checkout(&k, Priority::Low).await })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        quitter.abort();
        let _ = quitter.await;
        drop(slot);
        let got = patient.await.unwrap();
        assert!(matches!(got, Checkout::New(_)));
        assert_eq!(pool.counts().1, 1, "one socket: the patient's");
        drop(got);
        assert_eq!(pool.counts().1, 0);
    }

    #[test]
    fn a_socket_pooled_while_its_runtime_shuts_down_does_not_hang_the_pool() {
        use crate::netlog::{Source, SourceType};
        use hyper_util::rt::TokioIo;

        let live = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let pool = Pool::default();
        let k = key("a");
        let (idle, slot) = live.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
            let (sender, conn) = http1::handshake::<_, ReqBody>(TokioIo::new(stream))
                .await
                .unwrap();
            let Checkout::New(slot) = pool.checkout(&k, Priority::Idle).await else {
                panic!("expected room");
            };
            let driver: Driver = Box::pin(async move {
                let _ = conn.await;
            });
            let socket = Source::new(SourceType::SOCKET);
            (Idle::fresh(sender, driver, addr, false, socket, None), slot)
        });
        // A runtime that is gone: a task spawned on it is dropped at once,
        // on this thread, while the pool's lock is held.
        let dead = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let handle = dead.handle().clone();
        dead.shutdown_background();
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        let pooled = pool.clone();
        std::thread::spawn(move || {
            let _entered = handle.enter();
            pooled.put_fresh(slot, idle);
            let _ = done_tx.send(pooled.counts());
        });
        let counts = done_rx
            .recv_timeout(Duration::from_secs(5))
            .expect("the pool hung");
        assert_eq!(counts, (1, 1));
        drop(live);
    }

    /// A task's waker that counts its wakes.
    #[derive(Default)]
    struct Count(std::sync::atomic::AtomicUsize);

    impl std::task::Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn a_wake_given_while_polling_polls_again_instead_of_waking_the_task() {
        use std::task::{Context, Poll, Waker};

        let task = Arc::new(Count::default());
        let task_waker = Waker::from(Arc::clone(&task));
        let mut cx = Context::from_waker(&task_waker);
        let wake = Arc::new(LocalWake::default());

        // One half hands the other work (and wakes it) on the first poll;
        // the second poll finds it done.
        let mut polls = 0;
        let polled = wake.poll(&mut cx, |cx| {
            polls += 1;
            if polls == 1 {
                cx.waker().wake_by_ref();
                Poll::Pending
            } else {
                Poll::Ready(polls)
            }
        });
        assert_eq!(polled, Poll::Ready(2), "polled again at once");
        assert_eq!(task.0.load(Ordering::SeqCst), 0, "the task was not woken");

        // A wake that comes when nobody polls (the socket's readiness)
        // reaches the task.
        let mut kept = None;
        let polled: Poll<()> = wake.poll(&mut cx, |cx| {
            kept = Some(cx.waker().clone());
            Poll::Pending
        });
        assert!(polled.is_pending());
        kept.expect("a waker").wake();
        assert_eq!(task.0.load(Ordering::SeqCst), 1);

        // Halves that keep waking each other give the task a turn.
        let polled: Poll<()> = wake.poll(&mut cx, |cx| {
            cx.waker().wake_by_ref();
            Poll::Pending
        });
        assert!(polled.is_pending());
        assert_eq!(task.0.load(Ordering::SeqCst), 2, "the task yields");
    }

    #[test]
    fn a_wake_from_another_thread_as_the_poll_ends_is_never_lost() {
        use std::task::{Context, Poll, Waker};

        // Another thread plays the socket: as soon as it has the waker it
        // makes its data ready and wakes it, racing the end of the poll.
        let (give, given) = std::sync::mpsc::channel::<(Waker, Arc<AtomicBool>)>();
        let (done_tx, done) = std::sync::mpsc::channel::<()>();
        let socket = std::thread::spawn(move || {
            for (waker, ready) in given {
                ready.store(true, Ordering::SeqCst);
                waker.wake();
                let _ = done_tx.send(());
            }
        });
        let mut lost = 0;
        for _ in 0..20_000 {
            let task = Arc::new(Count::default());
            let task_waker = Waker::from(Arc::clone(&task));
            let mut cx = Context::from_waker(&task_waker);
            let wake = Arc::new(LocalWake::default());
            let ready = Arc::new(AtomicBool::new(false));
            let mut handed = false;
            let polled = wake.poll(&mut cx, |cx| {
                if ready.load(Ordering::SeqCst) {
                    return Poll::Ready(());
                }
                if !handed {
                    handed = true;
                    let _ = give.send((cx.waker().clone(), Arc::clone(&ready)));
                    std::hint::spin_loop();
                }
                Poll::Pending
            });
            done.recv().unwrap();
            // Pending with the data ready and the task never woken would
            // leave the request hanging.
            if polled.is_pending() && task.0.load(Ordering::SeqCst) == 0 {
                lost += 1;
            }
        }
        drop(give);
        socket.join().unwrap();
        assert_eq!(lost, 0, "wakes lost");
    }

    #[tokio::test]
    async fn clearing_voids_old_counts() {
        let pool = Pool::default();
        let k = key("a");
        let Checkout::New(slot) = pool.checkout(&k, Priority::Idle).await else {
            panic!("expected room");
        };
        assert_eq!(pool.counts().1, 1);
        pool.clear();
        assert_eq!(pool.counts().1, 0);
        drop(slot);
        assert_eq!(
            pool.counts().1,
            0,
            "a slot from before the clear releases nothing"
        );
    }
}
