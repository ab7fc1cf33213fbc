//! Picking free TCP ports.

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, TcpListener};
use std::sync::Mutex;

/// Returns a TCP port on 127.0.0.1 that was free a moment ago, and that this
/// process has not handed out before.
///
/// It binds port 0, reads the port the OS chose and closes the socket, so
/// another process could still take it before the caller binds it. The OS
/// may choose a just-closed port again: two callers in one process (say the
/// targets of `malha up --split`) once got the same port, so a port is never
/// returned twice.
///
/// # Panics
/// If the OS cannot bind a socket on the loopback interface at all.
pub fn free_port() -> u16 {
    static GIVEN: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());
    loop {
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .and_then(|listener| listener.local_addr())
            .map(|addr| addr.port())
            .expect("bind 127.0.0.1:0 to find a free port");
        let mut given = GIVEN
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if given.insert(port) {
            return port;
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_port_is_handed_out_once() {
        let ports: std::collections::BTreeSet<u16> = (0..200).map(|_| super::free_port()).collect();
        assert_eq!(ports.len(), 200);
    }
}
