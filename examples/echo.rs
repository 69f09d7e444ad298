//! Echo over loopback: a listener whose connections write back what they receive, and a
//! client that sends three lines, waits for them to come back, and closes. Prints every
//! callback of both sides, in order.
//!
//! Run with `cargo run --example echo`.

use std::sync::Arc;
use tcpnotify::record::{CallbackLog, Recorded, RecordedListener};
use tcpnotify::{ConnectFailure, TcpConnection, TcpConnectionNotify, TcpListenNotify, TcpListener};

/// Server side: writes back whatever arrives.
struct EchoServer;

impl TcpConnectionNotify for EchoServer {
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, _times: usize) -> bool {
        conn.write(data);
        true
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

/// Accepts every connection with an `EchoServer`.
struct EchoListener;

impl TcpListenNotify for EchoListener {
    fn connected(&mut self, _listener: &mut TcpListener) -> Option<Box<dyn TcpConnectionNotify>> {
        Some(Box::new(EchoServer))
    }
    fn not_listening(&mut self, _listener: &mut TcpListener) {
        eprintln!("echo: could not listen");
    }
}

/// Client side: sends lines, and closes once every byte came back.
struct EchoClient {
    lines: Vec<&'static str>,
    expected: usize,
    echoed: Vec<u8>,
}

impl TcpConnectionNotify for EchoClient {
    fn connected(&mut self, conn: &mut TcpConnection) {
        let _ = conn.set_nodelay(true);
        for line in &self.lines {
            conn.write(*line);
        }
    }
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, _times: usize) -> bool {
        self.echoed.extend_from_slice(&data);
        if self.echoed.len() >= self.expected {
            conn.close();
        }
        true
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, reason: ConnectFailure) {
        eprintln!("echo: connect failed: {reason}");
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let log = CallbackLog::new();
    let sink = Arc::new(log.clone());
    let listener = TcpListener::listen(
        RecordedListener::new(EchoListener, "server", sink.clone()),
        "127.0.0.1",
        "0",
    );
    let address = match listener.listening().await {
        Ok(address) => address,
        Err(e) => {
            eprintln!("echo: listen failed: {e}");
            std::process::exit(1);
        }
    };
    let lines = vec!["hello\n", "from\n", "tcpnotify\n"];
    let client = EchoClient {
        expected: lines.iter().map(|l| l.len()).sum(),
        lines,
        echoed: Vec::new(),
    };
    let conn = TcpConnection::connect(
        Recorded::new(client, "client", sink),
        "127.0.0.1",
        &address.port().to_string(),
    );
    conn.finished().await;
    listener.dispose();
    listener.closed().await;
    print!("{}", log.render());
}
