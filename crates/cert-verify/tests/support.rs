//! The shared PKI and TLS server, and a client that verifies and talks.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

use rustls::StreamOwned;
use sesh_cert_verify::{CertVerifier, ConnectError, VerifyOutcome};
pub use sesh_test_support::{Ca, Leaf, ServerOptions, serve_tls as serve};

/// A current-thread runtime for the verify proc.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap()
}

/// Connects to `addr` as `hostname`, verifies, and (when trusted) talks.
pub fn connect(
    verifier: &CertVerifier,
    addr: SocketAddr,
    hostname: &str,
) -> Result<VerifyOutcome, ConnectError> {
    let rt = runtime();
    let mut tcp = TcpStream::connect(addr).unwrap();
    let (conn, outcome) = verifier.connect_blocking(&rt, &mut tcp, hostname)?;
    let mut tls = StreamOwned::new(conn, tcp);
    tls.write_all(b"hello").unwrap();
    let mut answer = [0u8; 5];
    tls.read_exact(&mut answer).unwrap();
    assert_eq!(&answer, b"hello");
    Ok(outcome)
}
