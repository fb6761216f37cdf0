//! Notifications a session sends to its subscribers.

use serde::{Deserialize, Serialize};
use sesh_storage::cookies::{ChangeCause, Cookie};

/// A notification from a session: the Electron events that expect no answer.
///
/// Receive them with [`crate::Session::subscribe`]. Events that take a
/// decision (`will-download`, `select-hid-device`…) are handler setters on
/// the session instead. The enum grows as sesh does, hence
/// `#[non_exhaustive]`. Its JSON is the event's name in `event` and
/// Electron's argument names in camelCase.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum SessionEvent {
    /// Electron's `preconnect`: a page asked for a connection to be opened
    /// ahead of time (a resource hint). The embedder reports it with
    /// [`crate::Session::notify_preconnect`].
    #[serde(rename_all = "camelCase")]
    Preconnect {
        /// The URL being requested for preconnection.
        preconnect_url: String,
        /// Whether the connection should include credentials.
        allow_credentials: bool,
    },
    /// Electron's `cookies.on('changed')`: a cookie was added, changed or
    /// removed, by any means.
    #[serde(rename_all = "camelCase")]
    CookieChanged {
        /// The cookie.
        cookie: Cookie,
        /// Why.
        cause: ChangeCause,
        /// `false` only for a plain insertion.
        removed: bool,
    },
}
