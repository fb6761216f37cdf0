//! Integration tests of sesh-downloads.

mod item;
mod names;
mod partial;
mod resume;
mod server;
mod speed;
mod unique;
