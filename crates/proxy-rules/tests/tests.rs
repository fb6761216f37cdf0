//! Integration tests of sesh-proxy-rules: one binary, one module per concern.

mod conformance;
mod engine;
mod retry;
mod support;
