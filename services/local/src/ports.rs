//! Picking free TCP ports.

use std::net::{Ipv4Addr, TcpListener};

/// Returns a TCP port on 127.0.0.1 that was free a moment ago.
///
/// It binds port 0, reads the port the OS chose and closes the socket, so
/// another process could still take it before the caller binds it.
///
/// # Panics
/// If the OS cannot bind a socket on the loopback interface at all.
pub fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("bind 127.0.0.1:0 to find a free port")
}
