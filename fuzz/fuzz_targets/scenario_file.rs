//! Fuzzes the scenario-file loader and a short run of what loads: see
//! `tcpnotify_sim::explore::check_fuzz_input` for what counts as a finding.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    tcpnotify_sim::explore::check_fuzz_input(data);
});
