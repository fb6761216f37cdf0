//! The PAC engine: QuickJS in a sandbox, with Chromium's helper functions.

mod natives;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use rquickjs::context::EvalOptions;
use rquickjs::{Coerced, Context, Ctx, FromJs, Function, Runtime, Value};
use url::Url;

use crate::resolver::{HostResolver, SystemResolver};
use crate::{Error, Result};

const LIBRARY: &str = include_str!("library.js");

/// The time the date helpers (`weekdayRange`, `dateRange`, `timeRange`)
/// see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacTime {
    /// An instant; local fields follow the process's time zone.
    Instant(SystemTime),
    /// A local wall-clock time (for tests that must not depend on the time
    /// zone): year, month 1-12, day, hour, minute, second.
    Local {
        /// Year.
        year: i32,
        /// Month, 1-12.
        month: u32,
        /// Day of the month, 1-31.
        day: u32,
        /// Hour, 0-23.
        hour: u32,
        /// Minute.
        minute: u32,
        /// Second.
        second: u32,
    },
}

/// Where the date helpers get the time from.
pub trait PacClock: Send + Sync {
    /// The current time.
    fn now(&self) -> PacTime;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl PacClock for SystemClock {
    fn now(&self) -> PacTime {
        PacTime::Instant(SystemTime::now())
    }
}

/// Receives what a PAC script reports: its `alert()` messages. sesh-core
/// sends them to the session's log and netlog.
pub trait PacObserver: Send + Sync {
    /// The script called `alert(message)`.
    fn alert(&self, message: &str);
}

/// The default observer: `alert()` goes to the log (`tracing`, info level).
#[derive(Debug, Clone, Copy, Default)]
pub struct LogObserver;

impl PacObserver for LogObserver {
    fn alert(&self, message: &str) {
        tracing::info!(target: "sesh::pac", "PAC alert: {message}");
    }
}

/// Limits and services of a [`PacScript`].
#[derive(Clone)]
pub struct PacOptions {
    /// Name resolution for `dnsResolve`, `myIpAddress` and friends.
    pub resolver: Arc<dyn HostResolver>,
    /// The clock of the date helpers.
    pub clock: Arc<dyn PacClock>,
    /// Where `alert()` goes.
    pub observer: Arc<dyn PacObserver>,
    /// How long loading the script may take. Default 5 s.
    pub load_timeout: Duration,
    /// How long one `FindProxyForURL` call may take. Default 1 s.
    pub call_timeout: Duration,
    /// How much memory the script may use. Default 64 MiB.
    pub memory_limit: usize,
}

impl Default for PacOptions {
    fn default() -> Self {
        PacOptions {
            resolver: Arc::new(SystemResolver),
            clock: Arc::new(SystemClock),
            observer: Arc::new(LogObserver),
            load_timeout: Duration::from_secs(5),
            call_timeout: Duration::from_secs(1),
            memory_limit: 64 << 20,
        }
    }
}

impl std::fmt::Debug for PacOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PacOptions")
            .field("load_timeout", &self.load_timeout)
            .field("call_timeout", &self.call_timeout)
            .field("memory_limit", &self.memory_limit)
            .finish_non_exhaustive()
    }
}

/// What the natives share with the engine.
pub(crate) struct Shared {
    pub(crate) resolver: Arc<dyn HostResolver>,
    pub(crate) clock: Arc<dyn PacClock>,
    pub(crate) observer: Arc<dyn PacObserver>,
    /// Nanoseconds after `epoch` when the running call must stop; 0: none.
    deadline: AtomicU64,
    epoch: Instant,
}

impl Shared {
    fn set_deadline(&self, limit: Duration) {
        let at = self.epoch.elapsed() + limit;
        let nanos = u64::try_from(at.as_nanos()).unwrap_or(u64::MAX).max(1);
        self.deadline.store(nanos, Ordering::Relaxed);
    }

    fn clear_deadline(&self) {
        self.deadline.store(0, Ordering::Relaxed);
    }

    fn past_deadline(&self) -> bool {
        let deadline = self.deadline.load(Ordering::Relaxed);
        deadline != 0 && self.epoch.elapsed().as_nanos() > u128::from(deadline)
    }
}

/// A loaded PAC script, compiled once and called for each URL.
///
/// The script runs in QuickJS with nothing but the language itself and the
/// PAC helpers: no file, network, module or WebAssembly access. Each call
/// has a time limit and the script a memory limit; a script that passes
/// either is stopped and the call reported as an error. A `PacScript` can
/// be shared between threads; calls are made one at a time.
pub struct PacScript {
    // Field order matters: the context must be dropped before the runtime
    // it lives in.
    context: Context,
    runtime: Runtime,
    shared: Arc<Shared>,
    call_timeout: Duration,
    memory_limit: usize,
    /// Serialises calls, so that one call's deadline is not another's.
    calls: Mutex<()>,
}

impl std::fmt::Debug for PacScript {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PacScript").finish_non_exhaustive()
    }
}

impl PacScript {
    /// Loads `script`: runs it once (helpers may be called at load time) and
    /// finds its `FindProxyForURL` (or, failing that, `FindProxyForURLEx`).
    ///
    /// # Errors
    ///
    /// [`Error::PacLoad`] for a syntax error, an exception while loading, a
    /// load that passes its time or memory limit, or a script without
    /// `FindProxyForURL`.
    pub fn load(script: &str, options: PacOptions) -> Result<Self> {
        let load_err = |message: String| Error::PacLoad { message };
        let runtime =
            Runtime::new().map_err(|e| load_err(format!("cannot start the engine: {e}")))?;
        runtime.set_memory_limit(options.memory_limit);
        runtime.set_max_stack_size(1 << 20);
        let shared = Arc::new(Shared {
            resolver: options.resolver.clone(),
            clock: options.clock.clone(),
            observer: options.observer.clone(),
            deadline: AtomicU64::new(0),
            epoch: Instant::now(),
        });
        let watch = shared.clone();
        runtime.set_interrupt_handler(Some(Box::new(move || watch.past_deadline())));
        let context = Context::full(&runtime)
            .map_err(|e| load_err(format!("cannot start the engine: {e}")))?;

        shared.set_deadline(options.load_timeout);
        let loaded = context.with(|ctx| -> std::result::Result<(), String> {
            natives::register(&ctx, &shared)
                .map_err(|e| describe(&ctx, e, &shared, options.memory_limit))?;
            // Remove what a PAC script has no business with.
            let globals = ctx.globals();
            for name in ["WebAssembly", "eval"] {
                let _ = globals.remove(name);
            }
            // PAC scripts are sloppy-mode scripts (`x = 3` makes a global).
            let sloppy = || {
                let mut o = EvalOptions::default();
                o.global = true;
                o.strict = false;
                o
            };
            ctx.eval_with_options::<(), _>(LIBRARY, sloppy())
                .map_err(|e| describe(&ctx, e, &shared, options.memory_limit))?;
            ctx.eval_with_options::<(), _>(script, sloppy())
                .map_err(|e| describe(&ctx, e, &shared, options.memory_limit))?;
            entry_point(&ctx).map(|_| ())
        });
        shared.clear_deadline();
        loaded.map_err(load_err)?;
        Ok(PacScript {
            context,
            runtime,
            shared,
            call_timeout: options.call_timeout,
            memory_limit: options.memory_limit,
            calls: Mutex::new(()),
        })
    }

    /// Calls `FindProxyForURL` for `url` and returns its raw answer (a PAC
    /// string such as `PROXY a:80; DIRECT`). The script sees the URL as
    /// Chromium passes it: for `https`/`wss` only scheme, host and port;
    /// for others without credentials and fragment; the host without the
    /// brackets of an IPv6 literal.
    ///
    /// # Errors
    ///
    /// [`Error::PacResolve`] when the script throws, returns something other
    /// than a string, or passes its time or memory limit.
    pub fn find_proxy(&self, url: &Url) -> Result<String> {
        let script_url = script_url(url);
        let host = url
            .host_str()
            .unwrap_or("")
            .trim_start_matches('[')
            .trim_end_matches(']');
        self.find_proxy_for(&script_url, host)
    }

    /// Calls `FindProxyForURL(script_url, host)` with both already in the
    /// form Chromium passes them.
    pub(crate) fn find_proxy_for(&self, script_url: &str, host: &str) -> Result<String> {
        let _one_at_a_time = self.calls.lock().unwrap_or_else(PoisonError::into_inner);
        self.shared.set_deadline(self.call_timeout);
        let result = self
            .context
            .with(|ctx| -> std::result::Result<String, String> {
                let entry = entry_point(&ctx)?;
                let value: Value<'_> = entry
                    .call((script_url, host))
                    .map_err(|e| describe(&ctx, e, &self.shared, self.memory_limit))?;
                match value.as_string() {
                    Some(s) => {
                        let s = s
                            .to_string()
                            .map_err(|e| describe(&ctx, e, &self.shared, self.memory_limit))?;
                        if s.is_ascii() {
                            Ok(s)
                        } else {
                            Err("FindProxyForURL() returned a non-ASCII string.".to_owned())
                        }
                    }
                    None => Err("FindProxyForURL() did not return a string.".to_owned()),
                }
            });
        self.shared.clear_deadline();
        result.map_err(|message| Error::PacResolve {
            url: script_url.to_owned(),
            message,
        })
    }

    /// Memory the script's engine uses now, in bytes.
    pub fn memory_used(&self) -> u64 {
        u64::try_from(self.runtime.memory_usage().memory_used_size).unwrap_or(0)
    }
}

/// `FindProxyForURL`, or failing that `FindProxyForURLEx`, looked up on
/// each call as Chromium does (a script may replace it).
fn entry_point<'js>(ctx: &Ctx<'js>) -> std::result::Result<Function<'js>, String> {
    let globals = ctx.globals();
    for name in ["FindProxyForURL", "FindProxyForURLEx"] {
        if let Ok(value) = globals.get::<_, Value<'js>>(name)
            && let Some(f) = value.as_function()
        {
            return Ok(f.clone());
        }
    }
    Err("FindProxyForURL is undefined or not a function.".to_owned())
}

/// The URL as Chromium hands it to `FindProxyForURL`.
pub fn script_url(url: &Url) -> String {
    if matches!(url.scheme(), "https" | "wss") {
        let host = url.host_str().unwrap_or("");
        return match url.port() {
            Some(port) => format!("{}://{host}:{port}/", url.scheme()),
            None => format!("{}://{host}/", url.scheme()),
        };
    }
    if url.username().is_empty() && url.password().is_none() && url.fragment().is_none() {
        return url.as_str().to_owned();
    }
    let mut u = url.clone();
    let _ = u.set_username("");
    let _ = u.set_password(None);
    u.set_fragment(None);
    u.to_string()
}

/// Turns an engine error into Chromium-like text (`Uncaught TypeError: …`),
/// recognising the time and memory limits.
fn describe(ctx: &Ctx<'_>, e: rquickjs::Error, shared: &Shared, memory_limit: usize) -> String {
    if shared.past_deadline() {
        return "the script ran past its time limit and was stopped".to_owned();
    }
    if !e.is_exception() {
        return e.to_string();
    }
    let thrown = ctx.catch();
    let text = Coerced::<String>::from_js(ctx, thrown)
        .map(|c| c.0)
        .unwrap_or_else(|_| "an exception that cannot be printed".to_owned());
    if text.contains("out of memory") {
        return format!("the script ran out of memory (limit {memory_limit} bytes)");
    }
    if text == "InternalError: interrupted" {
        return "the script ran past its time limit and was stopped".to_owned();
    }
    format!("Uncaught {text}")
}
