//! Integration tests of sesh-storage: one binary, one module per concern.

mod contract;
mod cookie_properties;
mod cookies;
mod durability;
mod http_cache;
mod integrity;
mod origin;
