//! `ProxyResolver`: a configuration in force, and Chromium's answer for a URL.

#[cfg(feature = "pac")]
use std::collections::HashMap;
use std::fmt;
#[cfg(feature = "pac")]
use std::sync::Mutex;
use std::sync::{Arc, PoisonError, RwLock};

use url::Url;

use crate::bypass::matches_implicit_rules;
use crate::config::{
    FixedServers, ProxyConfig, ProxyMode, SystemConfig, WPAD_URL, system_config_from_env,
};
use crate::desktop::{GSettingsCommand, SettingsReader, desktop_uses_gsettings, gsettings_config};
use crate::fetch::{LocalFetcher, PacFetcher};
#[cfg(feature = "pac")]
use crate::pac::{PacOptions, PacScript};
use crate::rules::ProxyRules;
use crate::server::{BadProxies, ProxyList};
use crate::{BypassRules, Error, Result};

/// Reads one environment variable (for `system` mode).
pub type EnvReader = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// The answer for one URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolution {
    /// The proxies to try, in order. Its `Display` is what
    /// `ses.resolveProxy(url)` returns.
    pub list: ProxyList,
    /// What went wrong on the way, when the answer is a fallback: a PAC
    /// script that failed to load or threw. Chromium then goes `DIRECT`.
    pub error: Option<Error>,
}

impl fmt::Display for Resolution {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.list.fmt(f)
    }
}

enum Active {
    Direct,
    Fixed(FixedServers),
    Pac {
        url: String,
        #[cfg(feature = "pac")]
        script: std::result::Result<Arc<PacScript>, Error>,
        #[cfg(not(feature = "pac"))]
        script: std::result::Result<(), Error>,
    },
}

/// A session's proxy settings and the resolution of URLs against them, as
/// Chromium's proxy resolution service does it: fixed rules with their
/// bypass list, PAC scripts (fetched once, reloaded on demand) with the
/// implicit bypass of loopback and link-local destinations, `DIRECT` when a
/// PAC script fails, and the bad-proxy list applied last.
pub struct ProxyResolver {
    config: RwLock<(ProxyConfig, Arc<Active>)>,
    /// PAC answers already parsed: a script returns few distinct strings.
    #[cfg(feature = "pac")]
    parsed: Mutex<HashMap<String, ProxyList>>,
    fetcher: Arc<dyn PacFetcher>,
    env: EnvReader,
    settings: Arc<dyn SettingsReader>,
    #[cfg(feature = "pac")]
    pac_options: PacOptions,
}

impl fmt::Debug for ProxyResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProxyResolver")
            .field("config", &self.config())
            .finish_non_exhaustive()
    }
}

impl Default for ProxyResolver {
    fn default() -> Self {
        Self::new(Arc::new(LocalFetcher))
    }
}

impl ProxyResolver {
    /// A resolver in `direct` mode that fetches PAC scripts with `fetcher`.
    pub fn new(fetcher: Arc<dyn PacFetcher>) -> Self {
        ProxyResolver {
            config: RwLock::new((ProxyConfig::default(), Arc::new(Active::Direct))),
            #[cfg(feature = "pac")]
            parsed: Mutex::new(HashMap::new()),
            fetcher,
            env: Arc::new(|name| std::env::var(name).ok()),
            settings: Arc::new(GSettingsCommand::default()),
            #[cfg(feature = "pac")]
            pac_options: PacOptions::default(),
        }
    }

    /// Uses these PAC engine options (resolver, clock, limits) from now on.
    #[cfg(feature = "pac")]
    pub fn with_pac_options(mut self, options: PacOptions) -> Self {
        self.pac_options = options;
        self
    }

    /// Reads `system` mode's environment through `env` instead of the
    /// process environment.
    pub fn with_env(mut self, env: EnvReader) -> Self {
        self.env = env;
        self
    }

    /// Reads the desktop's proxy settings (`system` mode on GNOME-family
    /// desktops) through `settings` instead of the `gsettings` command.
    pub fn with_settings(mut self, settings: Arc<dyn SettingsReader>) -> Self {
        self.settings = settings;
        self
    }

    /// `ses.setProxy(config)`: applies `config`. A PAC script is fetched and
    /// loaded now; if that fails, the error is kept (see
    /// [`ProxyResolver::pac_error`]) and URLs go `DIRECT`, as in Chromium,
    /// where a PAC script is not mandatory.
    pub fn set_proxy(&self, config: ProxyConfig) {
        let active = self.activate(&config);
        *self.config.write().unwrap_or_else(PoisonError::into_inner) = (config, Arc::new(active));
    }

    /// `ses.forceReloadProxyConfig()`: applies the current configuration
    /// again, fetching the PAC script again and re-reading the system
    /// settings.
    pub fn reload(&self) {
        let config = self.config();
        self.set_proxy(config);
    }

    /// The configuration in force.
    pub fn config(&self) -> ProxyConfig {
        self.config
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .0
            .clone()
    }

    /// Why the PAC script in force could not be fetched or loaded, if so.
    pub fn pac_error(&self) -> Option<Error> {
        match &*self.active() {
            Active::Pac { script: Err(e), .. } => Some(e.clone()),
            _ => None,
        }
    }

    fn active(&self) -> Arc<Active> {
        self.config
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .1
            .clone()
    }

    fn activate(&self, config: &ProxyConfig) -> Active {
        let text = |s: &Option<String>| s.clone().unwrap_or_default();
        match config.effective_mode() {
            ProxyMode::Direct => Active::Direct,
            ProxyMode::FixedServers => Active::Fixed(FixedServers {
                rules: ProxyRules::parse(&text(&config.proxy_rules)),
                bypass: BypassRules::parse(&text(&config.proxy_bypass_rules)),
            }),
            ProxyMode::PacScript => self.load_pac(&text(&config.pac_script)),
            ProxyMode::AutoDetect => self.load_pac(WPAD_URL),
            ProxyMode::System => match self.system_config() {
                SystemConfig::Direct => Active::Direct,
                SystemConfig::AutoDetect => self.load_pac(WPAD_URL),
                SystemConfig::PacUrl(url) => self.load_pac(&url),
                SystemConfig::Fixed(fixed) => Active::Fixed(fixed),
            },
        }
    }

    /// `system` mode's configuration: the desktop's settings on a
    /// GNOME-family desktop when they give one, else the environment, as
    /// Chromium's Linux proxy configuration service does.
    pub fn system_config(&self) -> SystemConfig {
        if desktop_uses_gsettings(&*self.env)
            && let Some(config) = gsettings_config(&*self.settings)
        {
            return config;
        }
        system_config_from_env(&*self.env)
    }

    fn load_pac(&self, url: &str) -> Active {
        let expected = Url::parse(url).is_ok_and(|u| !self.fetcher.ready_for(&u));
        let fetched = Url::parse(url)
            .map_err(|e| e.to_string())
            .and_then(|u| self.fetcher.fetch(&u))
            .map_err(|reason| Error::PacFetch {
                url: url.to_owned(),
                reason,
            });
        #[cfg(feature = "pac")]
        let script =
            fetched.and_then(|text| PacScript::load(&text, self.pac_options.clone()).map(Arc::new));
        #[cfg(not(feature = "pac"))]
        let script = fetched.and(Err(Error::PacUnavailable));
        match &script {
            Err(e) if expected => tracing::debug!(target: "sesh::proxy", "{e}; to be loaded later"),
            Err(e) => tracing::warn!(target: "sesh::proxy", "{e}; requests go DIRECT"),
            Ok(_) => {}
        }
        Active::Pac {
            url: url.to_owned(),
            script,
        }
    }

    #[cfg(feature = "pac")]
    fn parse_pac_answer(&self, answer: String) -> ProxyList {
        /// Enough for any sensible script; a script that returns ever new
        /// strings just clears the cache now and then.
        const MAX_PARSED: usize = 256;
        let mut parsed = self.parsed.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(list) = parsed.get(&answer) {
            return list.clone();
        }
        let list = ProxyList::from_pac_string(&answer);
        if parsed.len() >= MAX_PARSED {
            parsed.clear();
        }
        parsed.insert(answer, list.clone());
        list
    }

    /// Whether resolving runs a PAC script (which may take long: call it
    /// off the async runtime's threads then); without one, resolution is a
    /// few hundred nanoseconds of matching.
    pub fn runs_script(&self) -> bool {
        matches!(&*self.active(), Active::Pac { script: Ok(_), .. })
    }

    /// `ses.resolveProxy(url)`: the proxies for `url`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidUrl`] when `url` does not parse.
    pub fn resolve(&self, url: &str) -> Result<Resolution> {
        let active = self.active();
        // DIRECT needs nothing from the URL but that it is one.
        if let Active::Direct = &*active
            && crate::fast_url::fast_target(url).is_some()
        {
            return Ok(Resolution {
                list: ProxyList::direct(),
                error: None,
            });
        }
        if let Active::Fixed(fixed) = &*active
            && let Some(target) = crate::fast_url::fast_target(url)
        {
            return Ok(Resolution {
                list: fixed.resolve_target(&target),
                error: None,
            });
        }
        #[cfg(feature = "pac")]
        if let Active::Pac {
            script: Ok(script),
            url: pac_url,
        } = &*active
            && let Some((target, script_url)) = crate::fast_url::fast_pac_url(url)
        {
            if target.is_implicitly_bypassed() {
                return Ok(Resolution {
                    list: ProxyList::direct(),
                    error: None,
                });
            }
            return Ok(
                self.pac_resolution(script.find_proxy_for(&script_url, target.host), pac_url)
            );
        }
        let parsed = Url::parse(url).map_err(|e| Error::InvalidUrl {
            url: url.to_owned(),
            reason: e.to_string(),
        })?;
        Ok(self.resolve_url(&parsed, None))
    }

    /// The list for a PAC script's answer; `DIRECT` (with the error) when
    /// the script failed.
    #[cfg(feature = "pac")]
    fn pac_resolution(&self, answer: Result<String>, pac_url: &str) -> Resolution {
        match answer {
            Ok(answer) => Resolution {
                list: self.parse_pac_answer(answer),
                error: None,
            },
            Err(e) => {
                tracing::warn!(target: "sesh::proxy", pac = %pac_url, "{e}; going DIRECT");
                Resolution {
                    list: ProxyList::direct(),
                    error: Some(e),
                }
            }
        }
    }

    /// The proxies for `url`, with the proxies `bad` marks as failing moved
    /// to the end (or removed).
    pub fn resolve_url(&self, url: &Url, bad: Option<&dyn BadProxies>) -> Resolution {
        let active = self.active();
        let mut resolution = match &*active {
            Active::Direct => Resolution {
                list: ProxyList::direct(),
                error: None,
            },
            Active::Fixed(fixed) => Resolution {
                list: fixed.resolve(url),
                error: None,
            },
            Active::Pac {
                script,
                url: pac_url,
            } => {
                if matches_implicit_rules(url) {
                    Resolution {
                        list: ProxyList::direct(),
                        error: None,
                    }
                } else {
                    match script {
                        #[cfg(feature = "pac")]
                        Ok(script) => self.pac_resolution(script.find_proxy(url), pac_url),
                        #[cfg(not(feature = "pac"))]
                        Ok(()) => Resolution {
                            list: ProxyList::direct(),
                            error: Some(Error::PacUnavailable),
                        },
                        Err(e) => {
                            let _ = pac_url;
                            Resolution {
                                list: ProxyList::direct(),
                                error: Some(e.clone()),
                            }
                        }
                    }
                }
            }
        };
        if let Some(bad) = bad {
            resolution.list = resolution.list.deprioritize(bad);
        }
        resolution
    }
}
