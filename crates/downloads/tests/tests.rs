//! Integration tests of sesh-downloads.

mod names;
mod unique;
