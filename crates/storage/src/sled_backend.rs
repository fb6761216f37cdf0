use std::fs;
use std::io::Write;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::{Backend, BackendKind, Batch, BatchOp, Error, Result};

/// Name of the file that records, beside sled's own files, that the directory
/// holds a sesh store. If it is there but the store inside has lost its
/// marker entry, the data was lost or damaged: that is reported instead of
/// carrying on with an empty database.
const MARKER_FILE: &str = "SESH_STORE";
const MARKER_CONTENT: &[u8] = b"sesh-storage format 1\n";
const META_TREE: &str = "m:meta";
const META_FORMAT_KEY: &[u8] = b"format";
const FORMAT: &[u8] = b"1";
const USER_TREE_PREFIX: &str = "t:";

/// A [`Backend`] backed by a sled database in one directory.
///
/// Used by persistent partitions; one database per partition directory.
/// Opening checks that the data is intact; [`Backend::flush`] is durable.
#[derive(Debug)]
pub struct SledBackend {
    path: PathBuf,
    db: sled::Db,
}

impl SledBackend {
    /// Opens the database in directory `path`, creating it when the
    /// directory does not exist yet or is empty.
    ///
    /// # Errors
    ///
    /// [`Error::Open`] when the database cannot be opened (permissions, a
    /// file in the way, another process holding it), [`Error::Corrupt`] when
    /// it exists but its contents are damaged or were lost. In both cases the
    /// files on disk are left untouched.
    pub fn open(path: impl Into<PathBuf>) -> Result<Self> {
        let path = path.into();
        if path.exists() && !path.is_dir() {
            return Err(Error::Open {
                path,
                reason: "it is not a directory".into(),
            });
        }
        let marker_path = path.join(MARKER_FILE);
        let had_marker = match fs::read(&marker_path) {
            Ok(content) if content == MARKER_CONTENT => true,
            Ok(_) => {
                return Err(Error::Corrupt {
                    path,
                    detail: format!("{} has unexpected contents", marker_path.display()),
                });
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
            Err(e) => {
                return Err(Error::Open {
                    reason: format!("cannot read {}: {e}", marker_path.display()),
                    path,
                });
            }
        };

        if had_marker {
            // Checked before sled opens the files, since sled's recovery
            // would start a fresh log over a missing or empty one.
            let data = path.join("db");
            let size = fs::metadata(&data).map(|m| m.len()).unwrap_or(0);
            if size == 0 {
                return Err(Error::Corrupt {
                    detail: format!(
                        "{MARKER_FILE} says it holds a store, but its data file {} is missing or empty",
                        data.display()
                    ),
                    path,
                });
            }
        }

        let config = sled::Config::new().path(&path);
        let db = match open_sled(&config) {
            Ok(Ok(db)) => db,
            Ok(Err(e)) => return Err(open_error(path, e)),
            Err(_) => {
                return Err(Error::Corrupt {
                    path,
                    detail: "its files could not be read back (the reader gave up on them)".into(),
                });
            }
        };
        let backend = SledBackend { path, db };
        let meta = backend.raw_tree(META_TREE, "open")?;
        let format = meta
            .get(META_FORMAT_KEY)
            .map_err(|e| backend.op_error("open", e))?;
        match (had_marker, format) {
            (_, Some(f)) if f.as_ref() == FORMAT => {}
            (_, Some(f)) => {
                return Err(Error::Open {
                    path: backend.path.clone(),
                    reason: format!(
                        "it has storage format {:?}, this version reads format {:?}",
                        String::from_utf8_lossy(&f),
                        String::from_utf8_lossy(FORMAT)
                    ),
                });
            }
            (true, None) => {
                return Err(Error::Corrupt {
                    path: backend.path.clone(),
                    detail: format!(
                        "{MARKER_FILE} says it holds a store, but its contents are gone \
                         (its database files were removed, truncated or damaged)"
                    ),
                });
            }
            (false, None) => {
                meta.insert(META_FORMAT_KEY, FORMAT)
                    .map_err(|e| backend.op_error("open", e))?;
                backend.flush()?;
            }
        }
        if !had_marker {
            write_durably(&marker_path, MARKER_CONTENT)?;
        }
        tracing::debug!(path = %backend.path.display(), "opened sled store");
        Ok(backend)
    }

    fn raw_tree(&self, name: &str, op: &'static str) -> Result<sled::Tree> {
        self.db.open_tree(name).map_err(|e| self.op_error(op, e))
    }

    fn tree(&self, name: &str, op: &'static str) -> Result<sled::Tree> {
        self.raw_tree(&format!("{USER_TREE_PREFIX}{name}"), op)
    }

    fn op_error(&self, op: &'static str, e: sled::Error) -> Error {
        match e {
            sled::Error::Corruption { at, .. } => Error::Corrupt {
                path: self.path.clone(),
                detail: match at {
                    Some(at) => format!("damaged data found during {op} at {at:?}"),
                    None => format!("damaged data found during {op}"),
                },
            },
            other => Error::Operation {
                op,
                path: Some(self.path.clone()),
                reason: other.to_string(),
            },
        }
    }
}

/// How long to wait for the file lock of a database that this process has
/// just closed: sled's background threads let go of it shortly after the
/// last handle is dropped.
const RELOCK_PATIENCE: Duration = Duration::from_secs(2);

/// Opens sled, turning a panic into `Err(())`: sled may panic on some kinds
/// of damaged files, and a damaged file is input from outside.
fn open_sled(config: &sled::Config) -> std::result::Result<sled::Result<sled::Db>, ()> {
    let start = Instant::now();
    let mut pause = Duration::from_millis(5);
    loop {
        let opened = catch_unwind(AssertUnwindSafe(|| config.open())).map_err(|_| ())?;
        match opened {
            Err(sled::Error::Io(e)) if lock_is_busy(&e) && start.elapsed() < RELOCK_PATIENCE => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(100));
            }
            other => return Ok(other),
        }
    }
}

/// Whether opening failed only because the file lock is held. sled reports
/// it as an `Other` error whose text carries the `WouldBlock` of `flock`.
fn lock_is_busy(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::WouldBlock
        || (e.kind() == std::io::ErrorKind::Other && {
            let text = e.to_string();
            text.starts_with("could not acquire lock") && text.contains("WouldBlock")
        })
}

fn open_error(path: PathBuf, e: sled::Error) -> Error {
    match e {
        sled::Error::Corruption { at, .. } => Error::Corrupt {
            path,
            detail: match at {
                Some(at) => format!("damaged data at {at:?}"),
                None => "damaged data".into(),
            },
        },
        sled::Error::Io(io) => Error::Open {
            path,
            reason: io.to_string(),
        },
        other => Error::Open {
            path,
            reason: other.to_string(),
        },
    }
}

fn write_durably(path: &Path, content: &[u8]) -> Result<()> {
    let io = |source| Error::Io {
        action: "cannot write",
        path: path.to_path_buf(),
        source,
    };
    let mut file = fs::File::create(path).map_err(io)?;
    file.write_all(content).map_err(io)?;
    file.sync_all().map_err(io)?;
    if let Some(dir) = path.parent() {
        // Make the new directory entry itself durable.
        if let Ok(dir) = fs::File::open(dir) {
            dir.sync_all().map_err(io)?;
        }
    }
    Ok(())
}

fn to_vec(v: Option<sled::IVec>) -> Option<Vec<u8>> {
    v.map(|v| v.to_vec())
}

impl Backend for SledBackend {
    fn kind(&self) -> BackendKind {
        BackendKind::Sled
    }

    fn path(&self) -> Option<&Path> {
        Some(&self.path)
    }

    fn get(&self, tree: &str, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let t = self.tree(tree, "get")?;
        t.get(key).map(to_vec).map_err(|e| self.op_error("get", e))
    }

    fn insert(&self, tree: &str, key: &[u8], value: &[u8]) -> Result<Option<Vec<u8>>> {
        let t = self.tree(tree, "insert")?;
        t.insert(key, value)
            .map(to_vec)
            .map_err(|e| self.op_error("insert", e))
    }

    fn remove(&self, tree: &str, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let t = self.tree(tree, "remove")?;
        t.remove(key)
            .map(to_vec)
            .map_err(|e| self.op_error("remove", e))
    }

    fn apply(&self, tree: &str, batch: Batch) -> Result<()> {
        let t = self.tree(tree, "apply")?;
        let mut b = sled::Batch::default();
        for op in batch.into_ops() {
            match op {
                BatchOp::Insert(k, v) => b.insert(k, v),
                BatchOp::Remove(k) => b.remove(k),
            }
        }
        t.apply_batch(b).map_err(|e| self.op_error("apply", e))
    }

    fn scan_prefix(&self, tree: &str, prefix: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let t = self.tree(tree, "scan")?;
        t.scan_prefix(prefix)
            .map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec())))
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| self.op_error("scan", e))
    }

    fn len(&self, tree: &str) -> Result<usize> {
        Ok(self.tree(tree, "len")?.len())
    }

    fn clear(&self, tree: &str) -> Result<()> {
        let t = self.tree(tree, "clear")?;
        t.clear().map_err(|e| self.op_error("clear", e))
    }

    fn tree_names(&self) -> Result<Vec<String>> {
        let mut names = Vec::new();
        for raw in self.db.tree_names() {
            let Some(name) = std::str::from_utf8(&raw)
                .ok()
                .and_then(|n| n.strip_prefix(USER_TREE_PREFIX))
            else {
                continue;
            };
            if !self.is_empty(name)? {
                names.push(name.to_owned());
            }
        }
        names.sort();
        Ok(names)
    }

    fn flush(&self) -> Result<()> {
        self.db
            .flush()
            .map(|_| ())
            .map_err(|e| self.op_error("flush", e))
    }
}
