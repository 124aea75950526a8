//! The API's transport: our own accept loop around hyper's HTTP/1 connection, instead of
//! `axum::serve`, because a public-facing service needs bounds `axum::serve` does not have.
//!
//! With `axum::serve` a client that opens a connection and never finishes its request line and
//! headers holds a file descriptor forever: a thousand such sockets lock the API out at the
//! usual limit of 1 024 descriptors. Here every connection is in one of three phases and each
//! phase has a deadline ([`watchdog`]): reading a request's head (`header_timeout`), reading its
//! body ([`body_timeout`]), or idle between requests (`idle_timeout`). The number of open
//! connections is capped ([`listener`]), and the API can be served over TLS ([`tls`]) so that
//! bearer tokens need not travel in clear.
//!
//! - [`listener`]: the accept loop, the connection cap and graceful shutdown.
//! - [`watchdog`]: the head and idle deadlines of one connection.
//! - [`body_timeout`]: the body deadline of one request.
//! - [`tls`]: the API's TLS identity (server) and the CLI's TLS connector (client).
//! - [`counters`]: open connections and timeouts, for `/metrics`.

pub mod body_timeout;
pub mod counters;
pub mod listener;
pub mod tls;
pub mod watchdog;

pub use counters::Counters;
pub use listener::{serve, Limits};
