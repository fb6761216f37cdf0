//! `sesh cert HOST[:PORT]`: a server's certificate chain and the verdict.

use std::net::{TcpStream, ToSocketAddrs};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use serde::Serialize;
use sesh::tls::{CertVerifier, Certificate, peer_chain};

/// Arguments of `sesh cert`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The server: host, host:port, or [v6]:port (port 443 by default).
    #[arg(value_name = "HOST[:PORT]")]
    target: String,
    /// The name to ask for and verify (default: HOST).
    #[arg(long, value_name = "NAME")]
    servername: Option<String>,
    /// Also trust the certificates of this PEM file (repeatable).
    #[arg(long = "ca", value_name = "PEM")]
    cas: Vec<std::path::PathBuf>,
    /// Print JSON: certificate, verificationResult, errorCode, isIssuedByKnownRoot.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Report {
    certificate: Certificate,
    verification_result: String,
    error_code: i32,
    is_issued_by_known_root: bool,
}

/// `host`, `host:port`, `[v6]`, `[v6]:port`.
fn split_target(target: &str) -> anyhow::Result<(String, u16)> {
    let bad = || anyhow::anyhow!("{target:?} is not HOST, HOST:PORT or [IPv6]:PORT");
    if let Some(rest) = target.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or_else(bad)?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().map_err(|_| bad())?,
            None if after.is_empty() => 443,
            None => return Err(bad()),
        };
        return Ok((host.to_owned(), port));
    }
    match target.split_once(':') {
        Some((host, port)) if !host.is_empty() => {
            Ok((host.to_owned(), port.parse().map_err(|_| bad())?))
        }
        Some(_) => Err(bad()),
        None if !target.is_empty() => Ok((target.to_owned(), 443)),
        None => Err(bad()),
    }
}

/// Exit status 2 with a message: a usage or connection error.
fn fail(e: impl std::fmt::Display) -> anyhow::Result<ExitCode> {
    eprintln!("error: {e}");
    Ok(ExitCode::from(2))
}

pub(crate) fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let (host, port) = match split_target(&args.target) {
        Ok(t) => t,
        Err(e) => return fail(e),
    };
    let servername = args.servername.clone().unwrap_or_else(|| host.clone());
    let verifier = CertVerifier::new();
    for path in &args.cas {
        let pem = match std::fs::read_to_string(path) {
            Ok(p) => p,
            Err(e) => return fail(format!("cannot read {}: {e}", path.display())),
        };
        if let Err(e) = verifier.add_root_pem(&pem) {
            return fail(format!("{}: {e}", path.display()));
        }
    }
    let addr = match (host.as_str(), port)
        .to_socket_addrs()
        .map(|mut a| a.next())
    {
        Ok(Some(addr)) => addr,
        Ok(None) | Err(_) => {
            return fail(format!("net::ERR_NAME_NOT_RESOLVED: cannot resolve {host}"));
        }
    };
    let mut tcp = match TcpStream::connect_timeout(&addr, Duration::from_secs(10)) {
        Ok(t) => t,
        Err(e) => {
            return fail(format!(
                "net::ERR_CONNECTION_FAILED: cannot connect to {addr}: {e}"
            ));
        }
    };
    let _ = tcp.set_read_timeout(Some(Duration::from_secs(10)));
    let conn = match verifier.handshake_blocking(&mut tcp, &servername) {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    let chain = peer_chain(&conn);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .context("cannot start a runtime")?;
    let outcome = runtime.block_on(verifier.verify(&servername, &chain));
    let certificate = match Certificate::from_chain(&chain) {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    let report = Report {
        certificate,
        verification_result: outcome.result.to_string(),
        error_code: outcome.result.code(),
        is_issued_by_known_root: outcome.is_issued_by_known_root,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        for (i, c) in report.certificate.chain().iter().enumerate() {
            println!("{i}: {}", c.subject_name);
            println!("   issuer       {}", c.issuer_name);
            println!("   serial       {}", c.serial_number);
            println!(
                "   valid        {} .. {} (Unix seconds)",
                c.valid_start, c.valid_expiry
            );
            println!("   fingerprint  {}", c.fingerprint);
        }
        println!("verificationResult:  {}", report.verification_result);
        println!("errorCode:           {}", report.error_code);
        println!("isIssuedByKnownRoot: {}", report.is_issued_by_known_root);
    }
    Ok(if outcome.result.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        assert_eq!(
            split_target("example.com").unwrap(),
            ("example.com".into(), 443)
        );
        assert_eq!(
            split_target("127.0.0.1:8443").unwrap(),
            ("127.0.0.1".into(), 8443)
        );
        assert_eq!(split_target("[::1]:8443").unwrap(), ("::1".into(), 8443));
        assert_eq!(split_target("[::1]").unwrap(), ("::1".into(), 443));
        assert!(split_target(":443").is_err());
        assert!(split_target("host:port").is_err());
        assert!(split_target("").is_err());
    }
}
