//! Integration tests of sesh-storage: one binary, one module per concern.

mod contract;
mod durability;
mod integrity;
