//! The `tracing` spans tcpnotify opens, by name, so that a subscriber can tell which
//! connection an event belongs to: the simulator's trace stamps each event with its
//! connection this way, and `tracing-subscriber`'s `fmt` prints them as the event's context
//! (`connection:callback{who=c1}: ...`).
//!
//! Each span is created where its task or callback starts, so it is a child of whatever span
//! was current there (an accepted connection's span is a child of its listener's).

/// Around every poll of a connection's task (level `debug`, no fields): what a connection logs
/// outside its callbacks (`read failed; closing`) is logged inside it.
pub const CONNECTION: &str = "connection";

/// Around every poll of a listener's task (level `debug`, no fields).
pub const LISTENER: &str = "listener";

/// Around each callback a recorder ([`Recorded`](crate::record::Recorded),
/// [`RecordedListener`](crate::record::RecordedListener)) passes to its notifier (level
/// `info`), with one field, `who`: the name the recorder records the callback under. What a
/// notifier logs in a callback is logged inside it.
pub const CALLBACK: &str = "callback";
