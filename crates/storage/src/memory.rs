use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{PoisonError, RwLock};

use crate::{Backend, BackendKind, Batch, BatchOp, Result};

type Tree = BTreeMap<Vec<u8>, Vec<u8>>;

/// A [`Backend`] that keeps everything in memory and never touches the disk.
///
/// Used by in-memory partitions (any partition name without `persist:`). Its
/// data is gone when the last handle to it is dropped.
#[derive(Debug, Default)]
pub struct MemoryBackend {
    trees: RwLock<HashMap<String, Tree>>,
}

impl MemoryBackend {
    /// An empty in-memory store.
    pub fn new() -> Self {
        Self::default()
    }

    fn read<R>(&self, f: impl FnOnce(&HashMap<String, Tree>) -> R) -> R {
        // A panic while holding the lock cannot leave a map half-updated
        // (every mutation is a single map call), so a poisoned lock is safe
        // to keep using.
        let guard = self.trees.read().unwrap_or_else(PoisonError::into_inner);
        f(&guard)
    }

    fn write<R>(&self, f: impl FnOnce(&mut HashMap<String, Tree>) -> R) -> R {
        let mut guard = self.trees.write().unwrap_or_else(PoisonError::into_inner);
        f(&mut guard)
    }
}

impl Backend for MemoryBackend {
    fn kind(&self) -> BackendKind {
        BackendKind::Memory
    }

    fn path(&self) -> Option<&Path> {
        None
    }

    fn get(&self, tree: &str, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.read(|t| t.get(tree).and_then(|t| t.get(key)).cloned()))
    }

    fn insert(&self, tree: &str, key: &[u8], value: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.write(|t| {
            t.entry(tree.to_owned())
                .or_default()
                .insert(key.to_vec(), value.to_vec())
        }))
    }

    fn remove(&self, tree: &str, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.write(|t| t.get_mut(tree).and_then(|t| t.remove(key))))
    }

    fn apply(&self, tree: &str, batch: Batch) -> Result<()> {
        self.write(|t| {
            let tree = t.entry(tree.to_owned()).or_default();
            for op in batch.into_ops() {
                match op {
                    BatchOp::Insert(k, v) => {
                        tree.insert(k, v);
                    }
                    BatchOp::Remove(k) => {
                        tree.remove(&k);
                    }
                }
            }
        });
        Ok(())
    }

    fn scan_prefix(&self, tree: &str, prefix: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        Ok(self.read(|t| {
            t.get(tree)
                .map(|t| {
                    t.range(prefix.to_vec()..)
                        .take_while(|(k, _)| k.starts_with(prefix))
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect()
                })
                .unwrap_or_default()
        }))
    }

    fn len(&self, tree: &str) -> Result<usize> {
        Ok(self.read(|t| t.get(tree).map_or(0, BTreeMap::len)))
    }

    fn clear(&self, tree: &str) -> Result<()> {
        self.write(|t| t.remove(tree));
        Ok(())
    }

    fn tree_names(&self) -> Result<Vec<String>> {
        let mut names: Vec<String> = self.read(|t| {
            t.iter()
                .filter(|(_, tree)| !tree.is_empty())
                .map(|(name, _)| name.clone())
                .collect()
        });
        names.sort();
        Ok(names)
    }

    fn flush(&self) -> Result<()> {
        Ok(())
    }
}
