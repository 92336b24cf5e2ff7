#![allow(clippy::unwrap_used, clippy::expect_used)]
mod attributes;
mod chain;
mod journal;
mod support;
mod verify;
