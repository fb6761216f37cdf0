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

/// A SOCKS4/4a proxy on 127.0.0.1 and what it was asked to reach
/// (`address a.b.c.d` or `name NAME`).
pub struct Socks4Proxy {
    /// Its port.
    pub port: u16,
    /// What it was asked to reach, in order.
    pub asked: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

/// Answers SOCKS4 requests for an address with `reply` (0x5A grants, and
/// the connection is relayed), and SOCKS4a requests for a name itself: it
/// knows `proxy-only.sesh.test` (127.0.0.1) and refuses other names.
pub async fn socks4_proxy(reply: u8) -> Socks4Proxy {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let asked: std::sync::Arc<std::sync::Mutex<Vec<String>>> = std::sync::Arc::default();
    let log = asked.clone();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let log = log.clone();
            tokio::spawn(async move {
                let mut head = [0u8; 8];
                if client.read_exact(&mut head).await.is_err() || head[0] != 4 || head[1] != 1 {
                    return;
                }
                let _user = nul_terminated(&mut client).await;
                let (ip, reply) = if head[4..7] == [0, 0, 0] && head[7] != 0 {
                    let name = nul_terminated(&mut client).await;
                    log.lock().unwrap().push(format!("name {name}"));
                    if name == "proxy-only.sesh.test" {
                        ([127, 0, 0, 1], reply)
                    } else {
                        ([0; 4], 0x5B)
                    }
                } else {
                    log.lock().unwrap().push(format!(
                        "address {}.{}.{}.{}",
                        head[4], head[5], head[6], head[7]
                    ));
                    ([head[4], head[5], head[6], head[7]], reply)
                };
                let _ = client.write_all(&[0, reply, 0, 0, 0, 0, 0, 0]).await;
                if reply != 0x5A {
                    return;
                }
                let target =
                    std::net::SocketAddr::from((ip, u16::from_be_bytes([head[2], head[3]])));
                if let Ok(mut upstream) = tokio::net::TcpStream::connect(target).await {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
                }
            });
        }
    });
    Socks4Proxy { port, asked }
}

/// A NUL-terminated string of a SOCKS4 request.
async fn nul_terminated(client: &mut tokio::net::TcpStream) -> String {
    use tokio::io::AsyncReadExt;

    let mut out = Vec::new();
    let mut byte = [0u8; 1];
    while client.read_exact(&mut byte).await.is_ok() && byte[0] != 0 {
        out.push(byte[0]);
    }
    String::from_utf8_lossy(&out).into_owned()
}
