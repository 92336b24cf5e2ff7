//! Configuration: the raw file types ([`raw`]), the compile step that
//! checks everything and reports every problem with its location
//! ([`compile`]), and the reload that swaps in a new
//! [`crate::snapshot::Snapshot`] or keeps the old one ([`reload`]).
/// The gateway's own HTTP client, moved to [`crate::http_client`]; this
/// path is kept while the layering moves land.
pub use crate::http_client as client;
pub mod compile;
pub mod errors;
pub mod raw;
pub mod reload;

pub use compile::{check, compile, load, parse};
pub use errors::{ConfigError, ConfigErrors};
pub use reload::ConfigHandle;
