//! The composed-notifier example (`examples/composed.rs`): a length-framing wrapper around a
//! token handshake wrapper around an application, on both ends.

use crate::composed_example::run_over;
use crate::world::World;
use std::sync::Arc;
use tcpnotify::record::CallbackLog;

conformance! {
    composed_stack_with_the_right_token_passes_messages_through: |w| composed(w, "sesame");
    composed_stack_with_a_wrong_token_reports_auth_failed_on_both_sides: |w| composed(w, "wrong");
}

/// The example's run, the client presenting `token`. Only the wire-level notifiers are
/// connections to the contract checker: the applications inside see a connection only once
/// the handshake succeeded, and `auth_failed` instead when it fails.
async fn composed<W: World>(w: W, token: &'static str) -> String {
    let log = Arc::new(CallbackLog::new());
    w.check_log(&log, &["client.wire", "server.wire"]);
    run_over(w.net(), w.host(), token, log).await
}
