//! Integration tests of sesh-core: one binary, one module per concern.

mod dns;
mod downloads;
mod escaping;
mod events;
mod fetch;
mod global;
mod locking;
mod netlog;
mod partitions;
mod pool;
mod proxy;
mod settings;
mod storage_data;
mod web_request;

use std::path::{Path, PathBuf};

use sesh_core::Sessions;

/// A fresh user-data directory (not created yet) inside a temporary
/// directory, and the sessions on it.
pub fn fresh() -> (tempfile::TempDir, PathBuf, Sessions) {
    let tmp = tempfile::tempdir().unwrap();
    let user_data = tmp.path().join("user-data");
    let sessions = Sessions::builder()
        .app_name("sesh-test")
        .user_data_dir(&user_data)
        .build()
        .unwrap();
    (tmp, user_data, sessions)
}

/// Every path under `root`, sorted.
pub fn walk(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path.clone());
            }
            out.push(path);
        }
    }
    out.sort();
    out
}
