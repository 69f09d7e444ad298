//! The composed-notifier example (`examples/composed.rs`): a length-framing wrapper around a
//! token handshake wrapper around an application, on both ends.

use crate::composed_example::run;

#[tokio::test]
async fn composed_stack_with_the_right_token_passes_messages_through() {
    insta::assert_snapshot!(run("sesame").await);
}

#[tokio::test]
async fn composed_stack_with_a_wrong_token_reports_auth_failed_on_both_sides() {
    insta::assert_snapshot!(run("wrong").await);
}
