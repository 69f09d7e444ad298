//! Recording callbacks as data: [`Recorded`] and [`RecordedListener`] wrap a notifier, pass
//! every callback through unchanged, and report it to a [`CallbackSink`] once it returned
//! (with its result). No callback runs inside another in tcpnotify, so that order is the
//! order the callbacks ran in. Tests render the log as text, one callback per line; the
//! simulator adds simulated time and hosts. Each callback runs inside a `tracing` span
//! ([`crate::spans::CALLBACK`]) that names it, so what a notifier logs names its connection.
//!
//! A layer of its own beside the runtime: it wraps any notifier (notifier middleware) and uses
//! nothing but the notifier traits, so the same recorders serve real sockets and the simulator.

mod callback;
mod name;
mod recorded;
mod sink;

pub use callback::{Callback, Payload, PREVIEW_BYTES};
pub use name::Name;
pub use recorded::{Recorded, RecordedListener};
pub use sink::{CallbackLog, CallbackSink, DataFlow, DataTap, FinalWriteBefore};
