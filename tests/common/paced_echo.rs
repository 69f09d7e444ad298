//! An echo that takes one delivery at a time, shared by the test crates that sweep it
//! (`tests/chaos/correct_styles.rs`) and pin its liveness (`tests/simulation/liveness.rs`).

use std::time::Duration;
use tcpnotify::{ConnectFailure, TcpConnection, TcpConnectionNotify};

/// Echoes each delivery, then mutes and unmutes 1 ms later from a task of its own: a server
/// that paces its work.
pub struct PacedEcho;

impl TcpConnectionNotify for PacedEcho {
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, _times: usize) -> bool {
        conn.write(data);
        conn.mute();
        let handle = conn.handle();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(1)).await;
            handle.unmute();
        });
        false
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}
