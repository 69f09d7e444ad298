//! A fixed workload for counting instructions under callgrind, where a wall-clock benchmark is
//! too noisy to compare small changes. It runs the tcpnotify side of `loopback` (the same
//! notifiers, from `common`) on a current-thread runtime: `cycles N` runs N sequential
//! connect/accept/close cycles, `echo BYTES` has one client echo BYTES through the server.
//! A cycle count repeats from run to run to within a few instructions; echo varies more (how
//! much each read finds depends on the kernel), so take the lowest of a few runs.
//!
//! ```sh
//! cargo bench --bench instructions --no-run     # prints the binary's path
//! valgrind --tool=callgrind target/release/deps/instructions-HASH cycles 500
//! valgrind --tool=callgrind target/release/deps/instructions-HASH cycles 1500
//! ```
//! The difference of the two totals over 1000 is the instructions per cycle without the
//! set-up; `echo 16777216` and `echo 50331648` give the instructions per byte the same way.
//! Under `cargo bench` (no workload given) it runs a small one of each, as a smoke test.

mod common;

use common::{chunk, notify_server, stop_notify_server, BulkClient, Closer, Drain, EchoServer};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tcpnotify::TcpConnection;

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    match args.as_slice() {
        [what, n] => run(what, n.parse().expect("a count or a byte total")),
        [] => {
            run("cycles", 100);
            run("echo", 1 << 20);
        }
        _ => panic!("usage: instructions [cycles N | echo BYTES]"),
    }
}

/// Runs one workload: `n` connection cycles, or `n` bytes echoed.
fn run(what: &str, n: u64) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        match what {
            "cycles" => {
                let (listener, port) = notify_server(|| Box::new(Drain)).await;
                let connected = Arc::new(AtomicU64::new(0));
                for _ in 0..n {
                    TcpConnection::connect(Closer(connected.clone()), "127.0.0.1", &port)
                        .finished()
                        .await;
                }
                assert_eq!(connected.load(Ordering::Relaxed), n, "cycles failed");
                stop_notify_server(listener).await;
            }
            "echo" => {
                let (listener, port) = notify_server(|| Box::new(EchoServer)).await;
                let echoed = Arc::new(AtomicU64::new(0));
                let client = BulkClient::new(chunk(), n, echoed.clone());
                TcpConnection::connect(client, "127.0.0.1", &port)
                    .finished()
                    .await;
                assert_eq!(echoed.load(Ordering::Relaxed), n, "echo lost bytes");
                stop_notify_server(listener).await;
            }
            other => panic!("unknown workload {other:?}: cycles or echo"),
        }
    });
}
