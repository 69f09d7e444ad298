//! What to run: a [`Scenario`] (hosts, names, listeners, clients, the notifier each uses,
//! fault settings or an explicit plan, [`Expectations`] of its end, its own [`Properties`],
//! its active duration and liveness phase), read from a scenario
//! file ([`ScenarioFile`]) with notifiers built by name ([`Registry`]) or built in Rust; and
//! the built-in [`notifiers`]; the [`LogFilter`] that picks the `tracing` events a run
//! records.

mod comments;
mod expect;
mod field;
mod file;
mod locate;
mod log_filter;
pub mod notifiers;
mod property;
mod proxy;
mod registry;
mod spec;

pub use expect::Expectations;
pub use file::{PlanFile, ScenarioFile, MAX_CLIENT_COUNT};
pub use locate::ScenarioError;
pub use log_filter::{LogFilter, LogFilterError, LOG_ENV};
pub use property::{Properties, Property, PropertyKind};
pub use registry::{ListenNotifierBuilder, NotifierBuilder, ParamError, Params, Registry};
pub use spec::{
    factory, listen_factory, ClientSpec, ListenNotifierFactory, ListenerNotifier, ListenerSpec,
    NotifierFactory, RunOptions, Scenario, DEFAULT_SETTLE_MS,
};
