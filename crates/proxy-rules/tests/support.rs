//! Test helpers: the conformance files, a fake resolver and clock, an alert
//! recorder, and a real HTTP server on 127.0.0.1 for PAC URLs.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{IpAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use sesh_proxy_rules::{DnsOp, HostResolver, PacClock, PacFetcher, PacObserver, PacTime, Url};

/// A conformance file of `shared/conformance/proxy/`. Missing files fail the
/// test: they are part of the checkout CI runs in.
pub fn conformance(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/conformance/proxy")
        .join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// The `dns` description of a conformance case, as a resolver.
#[derive(Default)]
pub struct FakeResolver {
    mode: String,
    any: Option<IpAddr>,
    resolve: HashMap<String, Vec<IpAddr>>,
    resolve_ex: HashMap<String, Vec<IpAddr>>,
    my_ip: Vec<IpAddr>,
    my_ip_ex: Vec<IpAddr>,
    pub queries: Mutex<Vec<String>>,
}

fn ips(v: Option<&Value>) -> Vec<IpAddr> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|s| s.as_str().unwrap().parse().unwrap())
                .collect()
        })
        .unwrap_or_default()
}

fn ip_map(v: Option<&Value>) -> HashMap<String, Vec<IpAddr>> {
    v.and_then(Value::as_object)
        .map(|m| m.iter().map(|(k, v)| (k.clone(), ips(Some(v)))).collect())
        .unwrap_or_default()
}

impl FakeResolver {
    pub fn from_case(dns: Option<&Value>) -> Self {
        let Some(dns) = dns else {
            return FakeResolver {
                mode: "all_fail".into(),
                ..Default::default()
            };
        };
        FakeResolver {
            mode: dns["mode"].as_str().unwrap().to_owned(),
            any: dns
                .get("result")
                .map(|r| r.as_str().unwrap().parse().unwrap()),
            resolve: ip_map(dns.get("resolve")),
            resolve_ex: ip_map(dns.get("resolve_ex")),
            my_ip: ips(dns.get("my_ip")),
            my_ip_ex: ips(dns.get("my_ip_ex")),
            queries: Mutex::new(Vec::new()),
        }
    }

    /// A resolver answering `dnsResolve` from a fixed name → address map.
    pub fn map(entries: &[(&str, &str)]) -> Self {
        FakeResolver {
            mode: "map".into(),
            resolve: entries
                .iter()
                .map(|(k, v)| (k.to_string(), vec![v.parse().unwrap()]))
                .collect(),
            ..Default::default()
        }
    }
}

impl HostResolver for FakeResolver {
    fn resolve(&self, host: &str, op: DnsOp) -> Option<Vec<IpAddr>> {
        if matches!(op, DnsOp::DnsResolve | DnsOp::DnsResolveEx) {
            self.queries.lock().unwrap().push(host.to_owned());
        }
        match self.mode.as_str() {
            "all_fail" => None,
            "any" => self.any.map(|ip| vec![ip]),
            _ => {
                let found = match op {
                    DnsOp::DnsResolve => self.resolve.get(host).cloned(),
                    DnsOp::DnsResolveEx => self.resolve_ex.get(host).cloned(),
                    DnsOp::MyIpAddress => Some(self.my_ip.clone()),
                    DnsOp::MyIpAddressEx => Some(self.my_ip_ex.clone()),
                };
                found.filter(|v| !v.is_empty())
            }
        }
    }
}

/// A clock stopped at the `now` of a conformance case.
pub struct FixedClock(pub PacTime);

impl PacClock for FixedClock {
    fn now(&self) -> PacTime {
        self.0
    }
}

fn fields(s: &str) -> Vec<u32> {
    s.split(|c: char| !c.is_ascii_digit())
        .filter(|p| !p.is_empty())
        .map(|p| p.parse().unwrap())
        .collect()
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

pub fn clock_of(now: &Value) -> FixedClock {
    if let Some(local) = now.get("local").and_then(Value::as_str) {
        let f = fields(local);
        return FixedClock(PacTime::Local {
            year: f[0] as i32,
            month: f[1],
            day: f[2],
            hour: f[3],
            minute: f[4],
            second: f[5],
        });
    }
    let f = fields(now["utc"].as_str().unwrap());
    let days = days_from_civil(f[0].into(), f[1].into(), f[2].into());
    let secs = days * 86_400 + i64::from(f[3]) * 3600 + i64::from(f[4]) * 60 + i64::from(f[5]);
    FixedClock(PacTime::Instant(
        std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs as u64),
    ))
}

/// Records `alert()` messages.
#[derive(Default)]
pub struct Alerts(pub Mutex<Vec<String>>);

impl PacObserver for Alerts {
    fn alert(&self, message: &str) {
        self.0.lock().unwrap().push(message.to_owned());
    }
}

/// A real HTTP server on 127.0.0.1 serving one PAC text, which a test may
/// replace. It runs until the process ends.
pub struct PacServer {
    pub url: String,
    text: Arc<Mutex<String>>,
}

impl PacServer {
    pub fn start(text: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/proxy.pac", listener.local_addr().unwrap());
        let text = Arc::new(Mutex::new(text.to_owned()));
        let served = text.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                // Read the whole request head before answering.
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let body = served.lock().unwrap().clone();
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/x-ns-proxy-autoconfig\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        PacServer { url, text }
    }

    pub fn serve(&self, text: &str) {
        *self.text.lock().unwrap() = text.to_owned();
    }
}

/// Fetches `http:` URLs on loopback with a plain HTTP/1.1 GET.
pub struct LoopbackHttpFetcher;

impl PacFetcher for LoopbackHttpFetcher {
    fn fetch(&self, url: &Url) -> Result<String, String> {
        let host = url.host_str().ok_or("no host")?;
        let ip: IpAddr = host
            .parse()
            .map_err(|_| format!("{host} is not a loopback address"))?;
        if !ip.is_loopback() {
            return Err(format!("{host} is not a loopback address"));
        }
        let port = url.port_or_known_default().ok_or("no port")?;
        let mut stream = TcpStream::connect((ip, port)).map_err(|e| e.to_string())?;
        let request = format!(
            "GET {} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n",
            url.path()
        );
        stream
            .write_all(request.as_bytes())
            .map_err(|e| e.to_string())?;
        let mut response = String::new();
        stream
            .read_to_string(&mut response)
            .map_err(|e| e.to_string())?;
        let (head, body) = response.split_once("\r\n\r\n").ok_or("no body")?;
        if !head.starts_with("HTTP/1.1 200") {
            return Err(format!("status: {}", head.lines().next().unwrap_or("")));
        }
        Ok(body.to_owned())
    }
}
