//! Integration tests: one binary, a module per area.

#[path = "../support/mod.rs"]
mod support;

mod peers_selftest;
