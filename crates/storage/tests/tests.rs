//! Integration tests of sesh-storage: one binary, one module per concern.

mod contract;
mod cookies;
mod durability;
mod integrity;
