//! Partition strings and where their data lives.

use std::fmt;

use crate::{Error, Result};

/// The prefix that makes a partition persistent.
pub const PERSIST_PREFIX: &str = "persist:";

/// The longest directory name most filesystems accept, in bytes.
const MAX_DIR_NAME_BYTES: usize = 255;

/// What a partition string means, by Electron's rules.
///
/// - `""` is the default session (persistent, stored in the user-data
///   directory itself);
/// - `persist:NAME` is a persistent session stored in
///   `<user-data>/Partitions/<dir name>`;
/// - anything else is an in-memory session that never touches the disk.
///
/// A session of `session.fromPath(path)` has no partition string: it is
/// [`Partition::Path`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Partition {
    /// The default session.
    Default,
    /// A persistent session.
    Persistent {
        /// The name after `persist:`, as given.
        name: String,
        /// The directory name under `Partitions/` (see [`partition_dir_name`]).
        dir_name: String,
    },
    /// An in-memory session, named by the whole partition string.
    InMemory(String),
    /// A persistent session stored in a directory of the app's choosing
    /// (`session.fromPath(path)`), absolute.
    Path(std::path::PathBuf),
}

impl Partition {
    /// Interprets a partition string.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidPartition`] for `persist:` with nothing after it, or
    /// for a persistent name too long to be a directory name.
    pub fn parse(partition: &str) -> Result<Self> {
        if partition.is_empty() {
            return Ok(Partition::Default);
        }
        match partition.strip_prefix(PERSIST_PREFIX) {
            Some(name) => Ok(Partition::Persistent {
                name: name.to_owned(),
                dir_name: partition_dir_name(partition, name)?,
            }),
            None => Ok(Partition::InMemory(partition.to_owned())),
        }
    }

    /// Whether the session keeps its data on disk.
    pub fn is_persistent(&self) -> bool {
        !matches!(self, Partition::InMemory(_))
    }
}

impl fmt::Display for Partition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Partition::Default => Ok(()),
            Partition::Persistent { name, .. } => write!(f, "{PERSIST_PREFIX}{name}"),
            Partition::InMemory(name) => f.write_str(name),
            Partition::Path(path) => write!(f, "{}", path.display()),
        }
    }
}

/// The directory name, under `<user-data>/Partitions/`, of the persistent
/// partition `persist:NAME`.
///
/// Like Electron, the name is lower-cased (ASCII only) and then escaped, so
/// sesh and Electron lay out the same partition in the same directory; two
/// names that differ only in ASCII case therefore share one directory (and
/// one session). Unlike Electron, whose escaping keeps `/` and `..`, the
/// result can never leave `Partitions/`: every byte other than ASCII letters,
/// digits and `-_.~!$&'()*+,;=:@` is written as `%XX`, which covers `/`, `\`,
/// NUL and all control characters, and the names `.` and `..` become `%2E`
/// and `%2E%2E`.
///
/// `partition` is the whole partition string, for error messages.
///
/// # Errors
///
/// [`Error::InvalidPartition`] when `name` is empty or its escaped form is
/// longer than a directory name may be (255 bytes).
pub fn partition_dir_name(partition: &str, name: &str) -> Result<String> {
    let invalid = |reason: String| Error::InvalidPartition {
        partition: partition.to_owned(),
        reason,
    };
    if name.is_empty() {
        return Err(invalid(format!(
            "a persistent partition needs a name after {PERSIST_PREFIX:?}"
        )));
    }
    let lower = name.to_ascii_lowercase();
    let escaped = if lower == "." || lower == ".." {
        "%2E".repeat(lower.len())
    } else {
        let mut out = String::with_capacity(lower.len());
        for &b in lower.as_bytes() {
            if b.is_ascii_alphanumeric() || b"-_.~!$&'()*+,;=:@".contains(&b) {
                out.push(char::from(b));
            } else {
                out.push_str(&format!("%{b:02X}"));
            }
        }
        out
    };
    if escaped.len() > MAX_DIR_NAME_BYTES {
        return Err(invalid(format!(
            "the name is too long: its directory name would be {} bytes, at most {MAX_DIR_NAME_BYTES} are allowed",
            escaped.len()
        )));
    }
    Ok(escaped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds() {
        assert_eq!(Partition::parse("").unwrap(), Partition::Default);
        assert!(matches!(
            Partition::parse("persist:work").unwrap(),
            Partition::Persistent { ref name, ref dir_name } if name == "work" && dir_name == "work"
        ));
        assert_eq!(
            Partition::parse("work").unwrap(),
            Partition::InMemory("work".into())
        );
        // The prefix is case-sensitive in Electron.
        assert!(!Partition::parse("Persist:work").unwrap().is_persistent());
        assert!(Partition::parse("persist:").is_err());
    }

    #[test]
    fn display_round_trips() {
        for s in ["", "persist:Work", "temp"] {
            assert_eq!(Partition::parse(s).unwrap().to_string(), s);
        }
    }
}
