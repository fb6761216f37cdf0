//! A loopback HTTP/1.1 file server that can honour or ignore ranges,
//! change its ETag, drop the connection after N bytes, and count what it
//! wrote; and a `Transport` speaking HTTP/1.1 to it over tokio.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use http::header::{HeaderMap, HeaderName, HeaderValue};
use http::{StatusCode, Version};
use sesh_downloads::{Body, BoxFuture, FetchRequest, FetchResponse, InterruptReason, Transport};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// What the server serves and how.
#[derive(Clone, Debug)]
pub struct Resource {
    pub body: Vec<u8>,
    pub etag: Option<String>,
    /// Sent with a `Date` an hour later, so that it is a strong validator.
    pub last_modified: Option<String>,
    pub ranges: bool,
    pub content_disposition: Option<String>,
    /// Close the connection after this many body bytes, once.
    pub drop_after: Option<usize>,
    pub status: u16,
}

impl Resource {
    pub fn new(body: Vec<u8>) -> Self {
        Resource {
            body,
            etag: Some("\"v1\"".into()),
            last_modified: None,
            ranges: true,
            content_disposition: None,
            drop_after: None,
            status: 200,
        }
    }
}

/// One request as the server saw it.
#[derive(Clone, Debug, Default)]
pub struct Seen {
    pub range: Option<String>,
    pub if_range: Option<String>,
    pub authorization: Option<String>,
}

pub struct Server {
    pub addr: SocketAddr,
    pub resource: Arc<Mutex<Resource>>,
    pub seen: Arc<Mutex<Vec<Seen>>>,
    pub body_bytes_written: Arc<AtomicU64>,
}

impl Server {
    pub fn start(resource: Resource) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let resource = Arc::new(Mutex::new(resource));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let written = Arc::new(AtomicU64::new(0));
        let (r, s, w) = (resource.clone(), seen.clone(), written.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (r, s, w) = (r.clone(), s.clone(), w.clone());
                std::thread::spawn(move || {
                    let _ = serve(stream, &r, &s, &w);
                });
            }
        });
        Server {
            addr,
            resource,
            seen,
            body_bytes_written: written,
        }
    }

    pub fn url(&self, path: &str) -> url::Url {
        url::Url::parse(&format!("http://{}{path}", self.addr)).unwrap()
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

fn serve(
    stream: TcpStream,
    resource: &Mutex<Resource>,
    seen: &Mutex<Vec<Seen>>,
    written: &AtomicU64,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request = Seen::default();
    let mut line = String::new();
    reader.read_line(&mut line)?;
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
        if let Some((k, v)) = line.trim_end().split_once(':') {
            let v = v.trim().to_owned();
            match k.to_ascii_lowercase().as_str() {
                "range" => request.range = Some(v),
                "if-range" => request.if_range = Some(v),
                "authorization" => request.authorization = Some(v),
                _ => {}
            }
        }
    }
    seen.lock().unwrap().push(request.clone());
    let (res, drop_after) = {
        let mut r = resource.lock().unwrap();
        let drop_after = r.drop_after.take();
        (r.clone(), drop_after)
    };
    let mut out = stream;
    if res.status != 200 {
        write!(
            out,
            "HTTP/1.1 {} Nope\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            res.status
        )?;
        return Ok(());
    }
    let validator_matches = match &request.if_range {
        None => true,
        Some(v) => Some(v) == res.etag.as_ref() || Some(v) == res.last_modified.as_ref(),
    };
    let start = request
        .range
        .as_deref()
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| r.strip_suffix('-'))
        .and_then(|n| n.parse::<usize>().ok())
        .filter(|_| res.ranges && validator_matches);
    let mut head = String::new();
    let body = match start {
        Some(start) if start >= res.body.len() => {
            write!(
                out,
                "HTTP/1.1 416 Range Not Satisfiable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            )?;
            return Ok(());
        }
        Some(start) => {
            head.push_str("HTTP/1.1 206 Partial Content\r\n");
            head.push_str(&format!(
                "Content-Range: bytes {start}-{}/{}\r\n",
                res.body.len() - 1,
                res.body.len()
            ));
            &res.body[start..]
        }
        None => {
            head.push_str("HTTP/1.1 200 OK\r\n");
            &res.body[..]
        }
    };
    head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    head.push_str("Content-Type: application/octet-stream\r\nConnection: close\r\n");
    if res.ranges {
        head.push_str("Accept-Ranges: bytes\r\n");
    }
    if let Some(etag) = &res.etag {
        head.push_str(&format!("ETag: {etag}\r\n"));
    }
    if let Some(lm) = &res.last_modified {
        head.push_str(&format!(
            "Last-Modified: {lm}\r\nDate: Sun, 22 Nov 2026 09:00:00 GMT\r\n"
        ));
    }
    if let Some(cd) = &res.content_disposition {
        head.push_str(&format!("Content-Disposition: {cd}\r\n"));
    }
    head.push_str("\r\n");
    out.write_all(head.as_bytes())?;
    let limit = drop_after.unwrap_or(usize::MAX).min(body.len());
    for chunk in body[..limit].chunks(16 * 1024) {
        out.write_all(chunk)?;
        written.fetch_add(chunk.len() as u64, Ordering::SeqCst);
    }
    out.flush()?;
    Ok(())
}

/// HTTP/1.1 over a tokio `TcpStream`, enough for the test server.
pub struct TcpTransport;

impl Transport for TcpTransport {
    fn fetch(
        &self,
        request: FetchRequest,
    ) -> BoxFuture<'static, Result<FetchResponse, InterruptReason>> {
        Box::pin(async move {
            let host = request.url.host_str().unwrap_or_default().to_owned();
            let port = request.url.port().unwrap_or(80);
            let mut stream = tokio::net::TcpStream::connect((host.as_str(), port))
                .await
                .map_err(|_| InterruptReason::NetworkServerDown)?;
            let mut head = format!(
                "GET {} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n",
                request.url.path()
            );
            for (k, v) in &request.headers {
                head.push_str(&format!("{k}: {}\r\n", v.to_str().unwrap()));
            }
            head.push_str("\r\n");
            stream
                .write_all(head.as_bytes())
                .await
                .map_err(|_| InterruptReason::NetworkFailed)?;
            let mut buf = Vec::new();
            let head_end = loop {
                let mut chunk = [0u8; 4096];
                let n = stream
                    .read(&mut chunk)
                    .await
                    .map_err(|_| InterruptReason::NetworkFailed)?;
                if n == 0 {
                    return Err(InterruptReason::NetworkFailed);
                }
                buf.extend_from_slice(&chunk[..n]);
                if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    break i;
                }
            };
            let text = String::from_utf8_lossy(&buf[..head_end]).into_owned();
            let mut lines = text.split("\r\n");
            let status: u16 = lines
                .next()
                .and_then(|l| l.split(' ').nth(1))
                .and_then(|s| s.parse().ok())
                .ok_or(InterruptReason::NetworkFailed)?;
            let mut headers = HeaderMap::new();
            for line in lines {
                if let Some((k, v)) = line.split_once(':') {
                    headers.append(
                        HeaderName::from_bytes(k.trim().as_bytes()).unwrap(),
                        HeaderValue::from_str(v.trim()).unwrap(),
                    );
                }
            }
            let length = headers
                .get("content-length")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok());
            let leftover = buf[head_end + 4..].to_vec();
            Ok(FetchResponse {
                status: StatusCode::from_u16(status).unwrap(),
                version: Version::HTTP_11,
                headers,
                url_chain: Vec::new(),
                body: Box::new(TcpBody {
                    stream,
                    leftover,
                    remaining: length,
                }),
            })
        })
    }
}

struct TcpBody {
    stream: tokio::net::TcpStream,
    leftover: Vec<u8>,
    remaining: Option<u64>,
}

impl Body for TcpBody {
    fn next_chunk(&mut self) -> BoxFuture<'_, Result<Option<bytes::Bytes>, InterruptReason>> {
        Box::pin(async move {
            if self.remaining == Some(0) {
                return Ok(None);
            }
            let chunk = if !self.leftover.is_empty() {
                std::mem::take(&mut self.leftover)
            } else {
                let mut buf = vec![0u8; 64 * 1024];
                let n = self
                    .stream
                    .read(&mut buf)
                    .await
                    .map_err(|_| InterruptReason::NetworkDisconnected)?;
                if n == 0 {
                    // The connection closed before Content-Length bytes.
                    return match self.remaining {
                        None => Ok(None),
                        Some(_) => Err(InterruptReason::NetworkDisconnected),
                    };
                }
                buf.truncate(n);
                buf
            };
            if let Some(r) = &mut self.remaining {
                *r = r.saturating_sub(chunk.len() as u64);
            }
            Ok(Some(bytes::Bytes::from(chunk)))
        })
    }
}
