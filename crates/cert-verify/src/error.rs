/// Result of a cert-verify operation.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a configuration or input was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A certificate could not be read.
    #[error("invalid certificate: {reason}")]
    InvalidCertificate {
        /// What is wrong with it.
        reason: String,
    },
    /// An SSL version name Electron does not know.
    #[error("invalid SSL version {name:?} for {field}: expected tls1, tls1.1, tls1.2 or tls1.3")]
    InvalidSslVersion {
        /// `minVersion` or `maxVersion`.
        field: &'static str,
        /// The name given.
        name: String,
    },
    /// `maxVersion` below `minVersion`, or below TLS 1.2.
    #[error("no SSL version is left: minVersion {min} is above maxVersion {max}")]
    NoSslVersions {
        /// The minimum given.
        min: String,
        /// The maximum given.
        max: String,
    },
    /// Every cipher suite was disabled.
    #[error("every cipher suite is disabled; at least one must remain")]
    NoCipherSuites,
}
