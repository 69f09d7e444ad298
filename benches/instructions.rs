//! A fixed workload for counting instructions under callgrind, where a wall-clock benchmark is
//! too noisy to compare small changes. It runs either side of `loopback` (the same code, from
//! `common`) on a current-thread runtime: `cycles N` runs N sequential connect/accept/close
//! cycles (each client dialled with `connect` and awaited with `finished`, as `loopback`'s
//! `connect cycles`), `cycles-in-task N` the same with `connect_in_task` (its `cycles in
//! task`), `echo BYTES` has one client echo BYTES through the server; `tokio-cycles N` and
//! `tokio-echo BYTES` do the same with the plain tokio baseline, and `tokio-echo-yielding BYTES`
//! with plain tokio yielding to the runtime after every 16 KiB read, as a Pony actor does under
//! rule R4 (tcpnotify does so in the simulator; on tokio's sockets it goes on in the same poll
//! while its task has tokio's budget, see `Network::poll_after_yield`). A cycle
//! count repeats from run to run to within a few instructions; echo varies more (how much each
//! read finds depends on the kernel), so take the lowest of a few runs.
//!
//! ```sh
//! cargo bench --bench instructions --no-run     # prints the binary's path
//! valgrind --tool=callgrind target/release/deps/instructions-HASH cycles 500
//! valgrind --tool=callgrind target/release/deps/instructions-HASH cycles 1500
//! ```
//! The difference of the two totals over 1000 is the instructions per cycle without the
//! set-up; `echo 16777216` and `echo 50331648` give the instructions per byte the same way.
//! Instructions count only user space: the kernel's share (system calls, TCP) is not in them.
//! Plain tokio's server zeroes a fresh 16 KiB read buffer per connection, about 16,400 of its
//! instructions per cycle under callgrind (`memset`); subtract them to compare the rest.
//! Under `cargo bench` (no workload given) it runs a small one of each, as a smoke test.

mod common;

use common::{
    chunk, notify_cycle, notify_server, stop_notify_server, tokio_cycle, tokio_drain_connection,
    tokio_echo_client, tokio_echo_client_yielding, tokio_echo_connection,
    tokio_echo_connection_yielding, tokio_server, BulkClient, Dial, Drain, EchoServer,
};
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
            for what in ["cycles", "cycles-in-task", "tokio-cycles"] {
                run(what, 100);
            }
            for what in ["echo", "tokio-echo", "tokio-echo-yielding"] {
                run(what, 1 << 20);
            }
        }
        _ => panic!(
            "usage: instructions [cycles N | cycles-in-task N | echo BYTES | tokio-cycles N | \
             tokio-echo BYTES | tokio-echo-yielding BYTES]"
        ),
    }
}

/// Runs one workload: `n` connection cycles, or `n` bytes echoed, by tcpnotify or plain tokio.
fn run(what: &str, n: u64) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        match what {
            "cycles" | "cycles-in-task" => {
                let (listener, port) = notify_server(|| Box::new(Drain)).await;
                let connected = Arc::new(AtomicU64::new(0));
                let dial = if what == "cycles" {
                    Dial::Connect
                } else {
                    Dial::InTask
                };
                for _ in 0..n {
                    notify_cycle(dial, &connected, &port).await;
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
            "tokio-cycles" => {
                let (addr, server) = tokio_server(tokio_drain_connection).await;
                for _ in 0..n {
                    tokio_cycle(addr).await;
                }
                server.abort();
            }
            "tokio-echo" => {
                let (addr, server) = tokio_server(tokio_echo_connection).await;
                let echoed = tokio_echo_client(addr, &chunk(), n).await;
                assert_eq!(echoed, n, "echo lost bytes");
                server.abort();
            }
            "tokio-echo-yielding" => {
                let (addr, server) = tokio_server(tokio_echo_connection_yielding).await;
                let echoed = tokio_echo_client_yielding(addr, &chunk(), n).await;
                assert_eq!(echoed, n, "echo lost bytes");
                server.abort();
            }
            other => panic!(
                "unknown workload {other:?}: cycles, cycles-in-task, echo, tokio-cycles, \
                 tokio-echo or tokio-echo-yielding"
            ),
        }
    });
}
