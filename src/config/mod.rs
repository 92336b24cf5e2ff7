//! Configuration: the raw file types ([`raw`]), the compile step that
//! checks everything and reports every problem with its location
//! ([`compile`]), and the reload that swaps in a new
//! [`crate::snapshot::Snapshot`] or keeps the old one ([`reload`]).
pub(crate) mod compile;
pub(crate) mod errors;
pub(crate) mod raw;
pub(crate) mod reload;
mod watch;

pub use compile::{check, compile, load, parse};
pub use reload::ConfigHandle;
