//! Integration tests of sesh-cert-verify against real rustls servers on
//! 127.0.0.1, with certificates made by rcgen.

mod certificate;
mod proc;
mod ssl;
mod support;
mod verification;
