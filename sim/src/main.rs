//! `tcpnotify-sim`: run, sweep, shrink and check scenario files. See `tcpnotify_sim::cli`.

fn main() -> std::process::ExitCode {
    restore_sigpipe();
    tcpnotify_sim::cli::main()
}

/// Lets `tcpnotify-sim run ... | head` end quietly, as other command-line tools do, instead of
/// panicking on a closed pipe (Rust ignores SIGPIPE by default).
fn restore_sigpipe() {
    #[cfg(unix)]
    // SAFETY: called first thing in main, before any other thread exists; SIG_DFL is a
    // valid disposition for SIGPIPE.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
