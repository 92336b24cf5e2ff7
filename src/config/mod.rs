//! Configuration: the raw file types ([`raw`]), the compile step that
//! checks everything and reports every problem with its location, and
//! the reload that swaps in a new [`crate::snapshot::Snapshot`] or keeps
//! the old one.
//!
//! PLACEHOLDER: raw types fixed; compile and reload are being written.
pub mod raw;
