//! The simulator's assertions and run state on real sockets: a notifier may keep them in
//! production code. Outside a simulated run they record nothing, say so (`false`, `None`), and
//! leave the connection alone.

use crate::support::Echoes;
use std::sync::{Arc, Mutex};
use tcpnotify::{ConnectFailure, TcpConnection, TcpConnectionNotify, TcpListener};
use tcpnotify_sim::{always, in_run, reachable, run_state, sometimes};

/// What the client's assertions returned, and what `run_state` gave.
#[derive(Default, Debug, PartialEq, Eq)]
struct Said {
    recorded: Vec<bool>,
    state: Option<()>,
    in_run: bool,
    echoed: Vec<u8>,
}

/// Sends `hi`, asserts things that fail, and closes on the echo.
struct Asserting(Arc<Mutex<Said>>);

impl TcpConnectionNotify for Asserting {
    fn connected(&mut self, conn: &mut TcpConnection) {
        conn.write("hi");
    }
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, _times: usize) -> bool {
        let mut said = self.0.lock().unwrap_or_else(|e| e.into_inner());
        said.recorded = vec![
            always(
                "never-on-real-sockets",
                false,
                "a failure with no run to fail",
            ),
            sometimes("echoed", true),
            reachable("received"),
        ];
        said.state = run_state::<u32>().map(|_| ());
        said.in_run = in_run();
        said.echoed.extend(data);
        conn.close();
        true
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, reason: ConnectFailure) {
        panic!("loopback connect failed: {reason}");
    }
}

#[tokio::test]
async fn assertions_and_run_state_on_real_sockets_record_nothing_and_leave_the_connection_alone() {
    let listener = TcpListener::listen(Echoes, "127.0.0.1", "0");
    let address = listener.listening().await.expect("listens");
    let said = Arc::new(Mutex::new(Said::default()));
    let client = TcpConnection::connect(
        Asserting(said.clone()),
        "127.0.0.1",
        &address.port().to_string(),
    );
    client.finished().await;
    listener.dispose();
    let said = said.lock().unwrap_or_else(|e| e.into_inner());
    assert_eq!(
        *said,
        Said {
            recorded: vec![false, false, false],
            state: None,
            in_run: false,
            echoed: b"hi".to_vec(),
        }
    );
    assert!(client.is_finished(), "closed as asked");
}
