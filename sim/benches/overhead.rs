//! Overhead of tcpnotify over the fault layer against raw turmoil, on the same echo workload:
//! 10 clients each echo 1 MiB through one server, with 1..5ms latency, no faults firing.
//! Prints wall time per simulation, simulations per second, and the ratio (target: at most 1.2).
//!
//! `cargo bench -p tcpnotify-sim --bench overhead`; `TCPNOTIFY_BENCH_RUNS` sets the repetitions,
//! `TCPNOTIFY_BENCH_PROFILE=plain|integrity` runs only that variant (for a profiler).

use std::time::{Duration, Instant, UNIX_EPOCH};
use tcpnotify_sim::fault::{FaultPlan, Latency};
use tcpnotify_sim::notifiers::{Echo, Sender};
use tcpnotify_sim::{factory, Scenario, Seed};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const CLIENTS: usize = 10;
const BYTES: usize = 1024 * 1024;
const CHUNK: usize = 16 * 1024;

fn raw_turmoil() {
    let mut sim = turmoil::Builder::new()
        .rng_seed(1)
        .epoch(UNIX_EPOCH + Duration::from_secs(1_704_067_200))
        .tick_duration(Duration::from_millis(1))
        .min_message_latency(Duration::from_millis(1))
        .max_message_latency(Duration::from_millis(5))
        .simulation_duration(Duration::from_secs(600))
        .build();
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
    for i in 0..CLIENTS {
        sim.client(format!("client{i}"), async {
            let stream = turmoil::net::TcpStream::connect("server:7000").await?;
            let (mut reader, mut writer) = stream.into_split();
            let payload = tcpnotify_sim::notifiers::pattern(0, BYTES);
            let expected = payload.clone();
            let write = async move {
                for chunk in payload.chunks(CHUNK) {
                    writer.write_all(chunk).await?;
                }
                Ok::<_, std::io::Error>(writer)
            };
            // Checks the echo byte for byte, as the tcpnotify client (`Sender`) does.
            let read = async move {
                let mut got = 0;
                let mut buf = vec![0u8; CHUNK];
                while got < BYTES {
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
            assert_eq!(got, BYTES);
            Ok(())
        });
    }
    if let Err(e) = sim.run() {
        panic!("raw turmoil run failed: {e}");
    }
}

fn scenario() -> Scenario {
    let mut scenario =
        Scenario::new("overhead").listener("server", "server", 7000, factory(|| Echo));
    for i in 0..CLIENTS {
        scenario = scenario.client(
            &format!("c{i}"),
            &format!("client{i}"),
            "server",
            7000,
            factory(|| Sender::pattern(BYTES).chunked(CHUNK)),
        );
    }
    scenario.duration_ms(600_000).plan(FaultPlan {
        latency: Some(Latency {
            min_ms: 1,
            max_ms: 5,
        }),
        ..FaultPlan::quiet(Seed(1))
    })
}

fn through_tcpnotify(scenario: &Scenario) {
    let plan = scenario.plan_for(Seed(1));
    let outcome = tcpnotify_sim::run::run(scenario, &plan).expect("valid scenario");
    assert_eq!(outcome.ended, tcpnotify_sim::run::Ended::AllFinished);
    assert!(outcome.fired.is_empty(), "no fault may fire");
}

fn time(runs: usize, mut f: impl FnMut()) -> Duration {
    f(); // warm-up
    let start = Instant::now();
    for _ in 0..runs {
        f();
    }
    start.elapsed() / runs as u32
}

fn main() {
    let runs = std::env::var("TCPNOTIFY_BENCH_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5usize);
    let checked = scenario();
    let mut unchecked = scenario();
    unchecked.options.check_integrity = false;
    // `TCPNOTIFY_BENCH_PROFILE=plain|integrity` runs only that variant, for a profiler.
    let profiled = match std::env::var("TCPNOTIFY_BENCH_PROFILE").as_deref() {
        Ok("plain") => Some(&unchecked),
        Ok("integrity") => Some(&checked),
        _ => None,
    };
    if let Some(scenario) = profiled {
        time(runs, || through_tcpnotify(scenario));
        return;
    }
    let raw = time(runs, raw_turmoil);
    let plain = time(runs, || through_tcpnotify(&unchecked));
    let with_integrity = time(runs, || through_tcpnotify(&checked));
    println!(
        "echo, {CLIENTS} clients x {} KiB, latency 1..5ms, {runs} runs each",
        BYTES / 1024
    );
    let line = |name: &str, t: Duration| {
        println!(
            "{name:<44} {:>8.1} ms/sim {:>7.2} sims/s  ratio {:.2}",
            t.as_secs_f64() * 1e3,
            1.0 / t.as_secs_f64(),
            t.as_secs_f64() / raw.as_secs_f64()
        )
    };
    line("raw turmoil", raw);
    line("tcpnotify + fault layer + trace", plain);
    line(
        "tcpnotify + fault layer + trace + integrity",
        with_integrity,
    );
    println!("target: tcpnotify + fault layer at most 1.20 x raw turmoil wall time");
}
