use tcpnotify_sim::notifiers::{Echo, Sender};
use tcpnotify_sim::scenario::{factory, Scenario};
use tcpnotify_sim::seed::Seed;

fn main() {
    let scenario = Scenario::new("echo")
        .listener("server", "server", 7000, factory(|| Echo))
        .client("c1", "client", "server", 7000, factory(|| Sender::pattern(100).chunked(30)));
    let plan = scenario.plan_for(Seed(1));
    let outcome = tcpnotify_sim::runner::run(&scenario, &plan).unwrap();
    print!("{}", outcome.trace.render_text());
    println!("{:?}", outcome.ended);
}
