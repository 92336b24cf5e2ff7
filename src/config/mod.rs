//! Configuration: the raw file types ([`raw`]), the compile step that
//! checks everything and reports every problem with its location
//! ([`compile`]), and the reload that swaps in a new
//! [`crate::snapshot::Snapshot`] or keeps the old one ([`reload`]).
pub mod compile;
pub mod errors;
pub mod raw;
pub mod reload;

pub use compile::{check, compile, load, parse};
pub use errors::{ConfigError, ConfigErrors};
pub use reload::ConfigHandle;
