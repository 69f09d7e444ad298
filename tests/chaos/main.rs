//! Chaos testing notifiers with [`tcpnotify_sim::explore::Chaos`]: seven deliberately buggy
//! notifiers, each correct on a quiet network, are caught by a sweep of generated fault plans
//! with no fault settings written (the swarm) and their failure shrunk to a plan of a few
//! faults — four of them dial (`conn.dial`): a proxy, two reconnecting clients, a client that
//! gives up, whose bug only the liveness phase shows; a correct echo passes the same kind of
//! sweep with faults firing; and every built-in correct notifier survives every fault that
//! heals (`healing`); a saved regression is replayed before the sweep (`regressions`).
//!
//! Eight more, each with its fixed twin, misread a finer point of the contract: a server
//! that mutes on `throttled` and never unmutes (`mute_on_throttle`), one that mutes and then
//! closes, which is a hard close (`mute_then_close`), a header-then-body protocol that loses
//! the bytes delivered after its header when it switches `expect` (`header_then_body`),
//! `times` taken for a count over the connection (`times_as_a_counter`), `false` from
//! `received` taken for "not consumed" (`false_as_not_consumed`), a pipelining client that
//! counts one answer per `received` against a server that closes after one answer
//! (`pipelined_count`), and two wrappers that drop a callback with a default method: one
//! routed through a relay with `proxy_via` that swallows `unthrottled`
//! (`wrapper_drops_unthrottled`), one framing wrapper that leaves `sentv` unframed
//! (`framing_wrapper_drops_sentv`).
//!
//! Six more, each with its fixed twin: three the swarm catches — `closed` taken
//! for the end of a response (`closed_as_end_of_response`), `expect` carried across a redial
//! as if it were the notifier's (`expect_lost_on_redial`), a server that bills each accepted
//! connection under happy eyeballs (`extra_connection_billed`) — and three it missed until it
//! drew late resets and resets of redials (each also caught by a plan written by hand): a
//! resume offset wrong only after a second lost connection (`second_loss_resume`), a
//! checkpoint wrong only for a loss after the 12th delivery (`late_loss_checkpoint`), and a
//! server committing an upload on its peer's close, whose client only writes
//! (`upload_closed_as_complete`).
//!
//! Two more, each with its fixed twin, that the swarm missed until it timed losses by a
//! server's progress (its accepted connection's `received` and `sent`): a server that counts a
//! partial record, lost with its connection, in the offset it has its client resume from
//! (`resume_offset_counts_unstored`), and one that, restarted after a crash, resumes from its
//! checkpoint but keeps what it wrote after it (`recovery_keeps_uncommitted`).
//!
//! One more, with its fixed twin, that the swarm missed until it reset a client's redials
//! after their `sent` (fifteenth session): a sender whose resend on a redial drains the
//! records it resends from its outbox, lost when that redial is lost before the server read
//! them (`resend_drains_unacked`).
//!
//! One more, with its fixed twin, that the swarm missed until it reset the connections a
//! listener's connection dials (sixteenth session): a sidecar gateway that drops a record it
//! forwarded at its onward connection's `sent`, as if `sent` meant delivered, lost when that
//! connection is lost before the server read it (`gateway_sent_as_delivered`).
//!
//! And one the swarm caught even while it timed refusals and partitions by a client's first
//! events only: a resuming uploader that gives up when a redial's connect fails
//! (`failed_redial_gives_up`); and one it missed until it refused a port as a client's
//! redial connects: a client that dials a report two seconds in and ignores the report's
//! `connect_failed` (`late_report_connect_failed`).
//!
//! Two more, each with its fixed twin, that the swarm missed until it drew partitions later
//! in a session (seventeenth session): a client that takes an answer held past its
//! question's deadline for the answer to its next question (`late_answer_taken_for_next`),
//! and the late report dialled again only when its connect was refused, not when it timed
//! out (in `late_report_connect_failed`). And one it missed until it delayed a server's FIN
//! (seventeenth session): a client fetching an item per connection that takes the late
//! `closed` of a connection it is done with for the loss of the one it uses now
//! (`late_close_taken_for_current`). And one it missed until it drew partitions deep in a
//! session (eighteenth session): a replica that, after a snapshot of 80 pages, takes updates
//! held past its gap timer for lost ones, asks for them again and applies them twice
//! (`held_update_applied_twice`); and one it seldom caught until it crashed servers deep in
//! a session: a journal server that lists a new segment in its manifest only when its
//! connection closes (`manifest_written_on_close`). And one it all but missed until it
//! timed crashes by a listener's later accepted connections (nineteenth session): a collector
//! that acknowledges readings as it buffers them and writes its buffer only when a
//! connection closes, shown by a crash during the data connection that follows a sensor's
//! registration (`acked_before_written`); and the replica of `held_update_applied_twice`
//! following its feed on a connection of its own, caught once the swarm cut redials after
//! their `sent` and `received` too. And one it caught seldom until it cut a later session
//! from the host that session's redial runs to rather than a listening host drawn
//! (twentieth session): a client of a three-node cluster that reads the reply a timed-out
//! request left on its connection as the next request's (`timed_out_reply_read_by_next`);
//! and, once it cut a redial as it connects from the host it dials (twenty-first session),
//! a client of such a cluster that takes a timed-out connect to its leader for the leader
//! being gone (`leader_connect_timeout_gives_up`).
//!
//! And correct notifiers in styles the demos do not use (`correct_styles`): writes, unmutes
//! and closes through a handle from a task of their own, a server pacing its reads, socket
//! options, a fan-out client, tiny buffers, a picky listener, a late reader; each sweep must
//! pass (a failure there is a simulator defect, as the paced server's was); eighteen more
//! styles in `correct_styles_2` (a framing layer across `set_notify`, `expect` framing,
//! happy eyeballs, writes from `closed`, transforms in `sent`, throttle-paced writers, ...);
//! ten more sweeps in `correct_styles_3` (redialling clients under every fault against
//! listeners that close themselves, five addresses, a `proxy_via` chain and a server dialling
//! from its callbacks; `expect` churn, mute and swap churn, empty and one-byte writes,
//! `write_final` echoes, a trailing partial frame, connections disposing each other); six
//! more styles in `correct_styles_4` (a wrapper counting its final writes, a hub writing
//! through its other connections' handles, a listener asking itself about its limit,
//! `expect` changed while muted, a hard close from the `expect` hook, final writes from
//! `throttled` and `unthrottled`); six more sweeps in `correct_styles_5` (length headers
//! queued with `write_final` from `sentv` and `sent`, connections ended from `accepted` and
//! `connected` with a `write_final` after the close, a long ping-pong yielding by `times`,
//! thirty sessions a dial each against a listener of limit 1, frames up to a 64 KiB buffer
//! with `expect` set from `received`); nine more in `correct_styles_6` (timers in tasks of
//! their own: keep-alive pings, endless heartbeats, connects disposed after a patience; a
//! journal in `run_state` across crashes; a listener counting its own connections; sessions
//! through three proxies chosen in `proxy_via`, dialling from `received`; a hundred dials
//! from one callback; `expect` churned to 0 with bytes buffered; huge writes against a server
//! muting while throttled); nine more in `correct_styles_7` (clients failing over among hosts
//! with a preference shared in `run_state`, among the ports of one host past listeners that
//! end connections from `accepted`, and past missing names, ports and hosts; `received`
//! yielding on every call; connections muted through their handles by other connections,
//! of their listener and of other hosts; thousands of one-byte writes and 2 MiB from one
//! callback; connections idle for seconds with keepalive and timers pending at the end). The
//! styles of `correct_styles_3` and `correct_styles_4`, four of `correct_styles_5`'s, all
//! but one of `correct_styles_6`'s and of `correct_styles_7`'s, and the late demos' fixed
//! twins also pass fault settings written by hand, harsher than the swarm draws (`harsh_faults`:
//! byte-sized buffers, writes and reads, long partitions, crashes and refusals, latency near
//! the connect timeout).
//!
//! The buggy tests pin the sweep's seeds (they assert how far a sweep must go); the passing
//! tests honour the environment (`TCPNOTIFY_SEEDS`, `TCPNOTIFY_SEED`, `TCPNOTIFY_JOBS`, fresh
//! random seeds, budgets, ...) as a user's test would, which `environment` checks by running
//! one of them again with the variables set.

mod acked_before_written;
mod closed_as_end_of_response;
mod correct_echo;
mod correct_styles;
mod correct_styles_2;
mod correct_styles_3;
mod correct_styles_4;
mod correct_styles_5;
mod correct_styles_6;
mod correct_styles_7;
#[path = "../common/counts_final.rs"]
mod counts_final;
mod duplicate_on_retry;
mod eager_writer;
mod environment;
mod expect_lost_on_redial;
mod extra_connection_billed;
mod failed_redial_gives_up;
mod false_as_not_consumed;
mod forgotten_connect_failed;
mod framing_wrapper_drops_sentv;
mod gateway_sent_as_delivered;
mod gives_up_too_soon;
mod harsh_faults;
mod header_then_body;
mod healing;
mod held_update_applied_twice;
mod late_answer_taken_for_next;
mod late_close_taken_for_current;
mod late_loss_checkpoint;
mod late_report_connect_failed;
mod leader_connect_timeout_gives_up;
mod manifest_written_on_close;
mod mute_on_throttle;
mod mute_then_close;
mod naive_framing;
#[path = "../common/paced_echo.rs"]
mod paced_echo;
mod pipelined_count;
mod proxy_redial_drops;
mod recovery_keeps_uncommitted;
mod regressions;
mod resend_drains_unacked;
mod resume_from_written;
mod resume_offset_counts_unstored;
mod second_loss_resume;
mod support;
mod timed_out_reply_read_by_next;
mod times_as_a_counter;
mod upload_closed_as_complete;
mod wrapper_drops_unthrottled;
