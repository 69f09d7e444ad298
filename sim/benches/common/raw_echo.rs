//! The raw turmoil baseline the simulator's benches race tcpnotify against: the same echo
//! workload written directly on turmoil, with the plan and capacities tcpnotify's run uses.

use std::time::Duration;
use tcpnotify_sim::fault::{FaultPlan, Latency};
use tcpnotify_sim::run::tcp_capacity;
use tcpnotify_sim::Seed;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The size of the echo's reads and writes, on both sides.
pub const CHUNK: usize = 16 * 1024;

/// The plan of the benches' echo workloads: links of 1–5 ms, no fault.
pub fn echo_plan() -> FaultPlan {
    FaultPlan {
        latency: Some(Latency {
            min_ms: 1,
            max_ms: 5,
        }),
        ..FaultPlan::quiet(Seed(1))
    }
}

/// A raw turmoil simulation under [`echo_plan`] with an echo server on host `server`, port
/// 7000, that serves each connection in a task of its own until its peer closes, with the
/// capacity tcpnotify's run sets when `hosts` hosts run something, the server's among them
/// ([`tcp_capacity`]): its backlog holds every client connecting at once.
pub fn echo_simulation<'a>(hosts: usize) -> turmoil::Sim<'a> {
    let plan = echo_plan();
    let mut builder = tcpnotify_sim::run::simulation_builder(&plan, Duration::from_secs(600));
    builder.tcp_capacity(tcp_capacity(hosts));
    // The same 1..5ms as tcpnotify's links, drawn as raw turmoil draws it: per message, from
    // its own random stream. `simulation_builder` fixes turmoil's latency at the plan's least
    // (tcpnotify's run sets each link's latency itself, `run/latency.rs`), so without this raw
    // turmoil would echo at 1ms while tcpnotify's links average 3ms, and take a fifth of the
    // simulated steps.
    if let Some(l) = plan.latency {
        builder
            .min_message_latency(Duration::from_millis(l.min_ms))
            .max_message_latency(Duration::from_millis(l.max_ms));
    }
    let mut sim = builder.build();
    sim.host("server", || async {
        let listener = turmoil::net::TcpListener::bind("0.0.0.0:7000").await?;
        loop {
            let (mut stream, _) = listener.accept().await?;
            tokio::spawn(async move {
                let mut buf = vec![0u8; CHUNK];
                loop {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            if stream.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                        }
                    }
                }
            });
        }
    });
    sim
}

/// A client of [`echo_simulation`]'s server: echoes `bytes` of the test pattern in
/// [`CHUNK`]s, checking what comes back byte for byte as `Sender` does.
pub async fn echo_client(bytes: usize) -> std::io::Result<()> {
    let stream = turmoil::net::TcpStream::connect("server:7000").await?;
    let (mut reader, mut writer) = stream.into_split();
    let payload = tcpnotify_sim::notifiers::pattern(0, bytes);
    let expected = payload.clone();
    let write = async move {
        for chunk in payload.chunks(CHUNK) {
            writer.write_all(chunk).await?;
        }
        Ok::<_, std::io::Error>(writer)
    };
    let read = async move {
        let mut got = 0;
        let mut buf = vec![0u8; CHUNK];
        while got < bytes {
            let n = reader.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            assert_eq!(buf[..n], expected[got..got + n], "echo differs at {got}");
            got += n;
        }
        Ok::<_, std::io::Error>(got)
    };
    let (_writer, got) = tokio::try_join!(write, read)?;
    assert_eq!(got, bytes);
    Ok(())
}
