//! `tcpnotify-sim`: run, sweep, shrink and check scenario files. See `tcpnotify_sim::cli`.

fn main() -> std::process::ExitCode {
    tcpnotify_sim::cli::main()
}
