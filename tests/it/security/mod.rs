//! The security regression suite: each finding of the security review as a
//! test over real sockets (a real gateway with real TLS, real upstreams,
//! real clients), one module per area. `docs/security.md` lists what each
//! checks and the limits it relies on.
mod bounded;
mod findings_a;
mod findings_b;
mod http1_framing;
mod memconn;
mod routing;
