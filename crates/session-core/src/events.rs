//! Notifications a session sends to its subscribers.

use serde::{Deserialize, Serialize};

/// A notification from a session: the Electron events that expect no answer.
///
/// Receive them with [`crate::Session::subscribe`]. Events that take a
/// decision (`will-download`, `select-hid-device`…) are handler setters on
/// the session instead. The enum grows as sesh does, hence
/// `#[non_exhaustive]`. Its JSON is the event's name in `event` and
/// Electron's argument names in camelCase.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
}
