//! Integration tests of sesh-downloads.

mod names;
mod partial;
mod resume;
mod speed;
mod unique;
