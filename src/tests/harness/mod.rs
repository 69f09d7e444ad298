//! Test doubles for the sans-IO state machines: a scriptable transport ([`Wire`]), recording
//! notifiers with pluggable behaviour ([`Script`], [`ListenScript`]) writing to a [`Log`], and
//! [`Conn`], which runs a machine in the runtime's own turn loop, call by call or as the
//! connection task does.

mod conn;
mod script;
mod wire;

pub(crate) use conn::{client, config, server, server_with, Conn};
pub(crate) use script::{show, ListenScript, Log, Script};
pub(crate) use wire::Wire;

use std::net::{Ipv4Addr, SocketAddr};

/// An empty log, for `assert_eq!(log.take(), NOTHING)`.
pub(crate) const NOTHING: [&str; 0] = [];

/// `127.0.0.1:port`.
pub(crate) fn addr(port: u16) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, port))
}
