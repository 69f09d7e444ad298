use tcpnotify_sim::notifiers::*;
use tcpnotify_sim::plan::*;
use tcpnotify_sim::scenario::{factory, Scenario};
use tcpnotify_sim::seed::Seed;

fn show(scenario: &Scenario) {
    let plan = scenario.plan_for(Seed(1));
    let outcome = tcpnotify_sim::runner::run(scenario, &plan).unwrap();
    println!("=== {}", scenario.name);
    print!("{}", outcome.trace.render_text());
    println!("{:?}\n", outcome.ended);
}

fn main() {
    let which = std::env::args().nth(1).unwrap_or_default();
    let quiet = |faults| FaultPlan {
        faults,
        ..FaultPlan::quiet(Seed(0))
    };
    let echo = |name: &str, faults| {
        Scenario::new(name)
            .listener("server", "server", 7000, factory(|| Echo))
            .client(
                "c1",
                "client",
                "server",
                7000,
                factory(|| Sender::pattern(2048).chunked(256)),
            )
            .plan(quiet(faults))
    };
    match which.as_str() {
        "crash" => show(
            &echo(
                "crash",
                vec![Fault {
                    at_ms: None,
                    after: Some(EventTrigger {
                        conn: "c1".into(),
                        callback: "received".into(),
                        nth: 1,
                    }),
                    kind: FaultKind::Crash {
                        host: "server".into(),
                        restart_after_ms: Some(100),
                    },
                }],
            )
            .duration_ms(2000),
        ),
        "partition" => show(&echo(
            "partition",
            vec![Fault {
                at_ms: Some(2),
                after: None,
                kind: FaultKind::Partition {
                    a: "client".into(),
                    b: "server".into(),
                    duration_ms: 500,
                    one_way: false,
                },
            }],
        )),
        "reset" => show(&echo(
            "reset",
            vec![Fault {
                at_ms: None,
                after: Some(EventTrigger {
                    conn: "c1".into(),
                    callback: "received".into(),
                    nth: 2,
                }),
                kind: FaultKind::Reset { conn: "c1".into() },
            }],
        )),
        "throttle" => show(
            &Scenario::new("throttle")
                .listener(
                    "server",
                    "server",
                    7000,
                    factory(|| SlowReader::new(std::time::Duration::from_millis(200), 16384)),
                )
                .client(
                    "c1",
                    "client",
                    "server",
                    7000,
                    factory(|| BulkWriter::new(16384, 1024)),
                )
                .plan(FaultPlan {
                    send_buffer: Some(2048),
                    ..FaultPlan::quiet(Seed(0))
                }),
        ),
        _ => {}
    }
}
