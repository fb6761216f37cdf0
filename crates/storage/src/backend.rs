use std::fmt;
use std::path::Path;

use crate::Result;

/// Which implementation a [`Backend`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BackendKind {
    /// [`crate::SledBackend`]: on disk.
    Sled,
    /// [`crate::MemoryBackend`]: in memory only.
    Memory,
}

/// One write of a [`Batch`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchOp {
    /// Set `key` to `value`.
    Insert(Vec<u8>, Vec<u8>),
    /// Delete `key` (nothing happens if it is absent).
    Remove(Vec<u8>),
}

/// Writes applied to one tree atomically by [`Backend::apply`]: either all of
/// them are visible (and, after a flush, durable) or none is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Batch {
    ops: Vec<BatchOp>,
}

impl Batch {
    /// Adds a write of `value` under `key`.
    pub fn insert(&mut self, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) {
        self.ops.push(BatchOp::Insert(key.into(), value.into()));
    }

    /// Adds a deletion of `key`.
    pub fn remove(&mut self, key: impl Into<Vec<u8>>) {
        self.ops.push(BatchOp::Remove(key.into()));
    }

    /// The writes, in the order they were added (a later write to the same key
    /// wins).
    pub fn ops(&self) -> &[BatchOp] {
        &self.ops
    }

    /// Number of writes in the batch.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Whether the batch holds no write.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    pub(crate) fn into_ops(self) -> Vec<BatchOp> {
        self.ops
    }
}

/// A key-value store made of named trees of ordered byte keys.
///
/// Implementations are shared between threads. Writes are visible to readers
/// of the same backend at once; [`Backend::flush`] makes them durable.
pub trait Backend: Send + Sync + fmt::Debug {
    /// Which implementation this is.
    fn kind(&self) -> BackendKind;

    /// The directory holding the data, or `None` for an in-memory backend.
    fn path(&self) -> Option<&Path>;

    /// The value stored under `key` in `tree`.
    fn get(&self, tree: &str, key: &[u8]) -> Result<Option<Vec<u8>>>;

    /// Stores `value` under `key` in `tree`, returning the previous value.
    fn insert(&self, tree: &str, key: &[u8], value: &[u8]) -> Result<Option<Vec<u8>>>;

    /// Removes `key` from `tree`, returning the value it had.
    fn remove(&self, tree: &str, key: &[u8]) -> Result<Option<Vec<u8>>>;

    /// Applies every write of `batch` to `tree` atomically.
    fn apply(&self, tree: &str, batch: Batch) -> Result<()>;

    /// Every entry of `tree` whose key starts with `prefix`, in key order.
    fn scan_prefix(&self, tree: &str, prefix: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>>;

    /// Number of entries in `tree`.
    fn len(&self, tree: &str) -> Result<usize>;

    /// Whether `tree` holds no entry.
    fn is_empty(&self, tree: &str) -> Result<bool> {
        Ok(self.len(tree)? == 0)
    }

    /// Removes every entry of `tree`.
    fn clear(&self, tree: &str) -> Result<()>;

    /// Names of the trees that hold at least one entry, sorted.
    fn tree_names(&self) -> Result<Vec<String>>;

    /// Makes every write made so far durable: when this returns `Ok`, the data
    /// is on disk and survives the process being killed. A no-op for the
    /// in-memory backend, which has nothing to persist.
    fn flush(&self) -> Result<()>;
}
