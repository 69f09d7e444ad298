//! Notifiers by name, so scenario files can say `notifier = "echo"`: the built-in ones, and
//! any a user registers from Rust with a builder that reads the file's `params`. Listen
//! notifiers (`TcpListenNotify`) have names of their own, which a listener names with
//! `listen_notifier = "..."` instead of `notifier` ([`Registry::register_listener`]).
//!
//! ```
//! use tcpnotify_sim::notifiers::Echo;
//! use tcpnotify_sim::scenario::{Params, Registry};
//! use tcpnotify_sim::factory;
//!
//! let mut registry = Registry::builtin();
//! registry.register("my-echo", |params: &Params| {
//!     let _greeting = params.string("greeting", "hi")?;
//!     Ok(factory(|| Echo))
//! });
//! let params = Params::new(toml_edit::de::from_str("greeting = 'hello'").unwrap());
//! assert!(registry.build("my-echo", &params).is_ok());
//! let err = registry.build("nope", &Params::default()).err().unwrap();
//! assert!(err.to_string().starts_with("unknown notifier \"nope\""));
//! ```

use super::notifiers::{
    pattern, BulkWriter, Echo, ExpectRewriter, Farewell, FramedEcho, GiveUp, Greeter, HardCloser,
    ImpatientClient, LineClient, LineServer, Proxy, QuietClient, Sender, SlowReader,
};
use super::spec::{factory, ListenNotifierFactory, NotifierFactory};
use crate::validate::{
    listed, quoted, MAX_BUFFER_BYTES, MAX_COUNT, MAX_DURATION_MS, MAX_PAYLOAD_BYTES,
    MAX_TOTAL_PAYLOAD_BYTES,
};
use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

/// A notifier's parameters from a scenario file (`params = { bytes = 1024 }`). Every key must
/// be read by the builder: one it never asks for is reported as unknown.
///
/// Numbers a builder takes should be bounded ([`usize_at_most`](Self::usize_at_most)), and
/// bytes the notifier will send read with [`payload`](Self::payload), which the scenario
/// counts toward its [`MAX_TOTAL_PAYLOAD_BYTES`]: a file must not be able to ask for more
/// memory than the machine has.
#[derive(Debug, Clone, Default)]
pub struct Params {
    table: toml::Table,
    read: RefCell<BTreeSet<String>>,
    payload: Cell<u64>,
}

/// A parameter that is missing, of the wrong type, or unknown.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ParamError {
    /// The parameter's key (empty when the error is about the notifier itself).
    pub key: String,
    /// What is wrong.
    pub message: String,
}

impl ParamError {
    /// An error about parameter `key`.
    pub fn new(key: &str, message: impl Into<String>) -> Self {
        ParamError {
            key: key.to_string(),
            message: message.into(),
        }
    }
}

impl Params {
    /// Parameters from a TOML table.
    pub fn new(table: toml::Table) -> Self {
        Params {
            table,
            read: RefCell::default(),
            payload: Cell::new(0),
        }
    }

    fn get(&self, key: &str) -> Option<&toml::Value> {
        self.read.borrow_mut().insert(key.to_string());
        self.table.get(key)
    }

    /// A whole number ≥ 0, or `default` when absent.
    pub fn usize(&self, key: &str, default: usize) -> Result<usize, ParamError> {
        match self.get(key) {
            None => Ok(default),
            Some(toml::Value::Integer(n)) => usize::try_from(*n)
                .map_err(|_| ParamError::new(key, format!("must not be negative, got {n}"))),
            Some(other) => Err(ParamError::new(
                key,
                format!("expected a whole number, got {}", other.type_str()),
            )),
        }
    }

    /// A whole number from 0 to `limit`, or `default` when absent.
    pub fn usize_at_most(
        &self,
        key: &str,
        default: usize,
        limit: u64,
    ) -> Result<usize, ParamError> {
        let n = self.usize(key, default)?;
        if self.table.contains_key(key) && n as u64 > limit {
            return Err(ParamError::new(
                key,
                format!("{n} is above the limit of {limit}"),
            ));
        }
        Ok(n)
    }

    /// A number of bytes the notifier sends, from 0 to [`MAX_PAYLOAD_BYTES`], or `default`
    /// when absent; counted in [`payload_bytes`](Self::payload_bytes).
    pub fn payload(&self, key: &str, default: usize) -> Result<usize, ParamError> {
        let n = self.usize_at_most(key, default, MAX_PAYLOAD_BYTES)?;
        self.add_payload(key, n)?;
        Ok(n)
    }

    /// Counts `bytes` (given by parameter `key`) as sent by the notifier.
    pub fn add_payload(&self, key: &str, bytes: usize) -> Result<(), ParamError> {
        let total = self.payload.get().saturating_add(bytes as u64);
        if total > MAX_PAYLOAD_BYTES {
            return Err(ParamError::new(
                key,
                format!("{bytes} bytes to send are above the limit of {MAX_PAYLOAD_BYTES}"),
            ));
        }
        self.payload.set(total);
        Ok(())
    }

    /// The bytes the built notifier sends, as its builder declared them with
    /// [`payload`](Self::payload) and [`add_payload`](Self::add_payload).
    pub fn payload_bytes(&self) -> u64 {
        self.payload.get()
    }

    /// `true` or `false`, or `default` when absent.
    pub fn bool(&self, key: &str, default: bool) -> Result<bool, ParamError> {
        match self.get(key) {
            None => Ok(default),
            Some(toml::Value::Boolean(b)) => Ok(*b),
            Some(other) => Err(ParamError::new(
                key,
                format!("expected true or false, got {}", other.type_str()),
            )),
        }
    }

    /// A string, or `default` when absent.
    pub fn string(&self, key: &str, default: &str) -> Result<String, ParamError> {
        match self.get(key) {
            None => Ok(default.to_string()),
            Some(toml::Value::String(s)) => Ok(s.clone()),
            Some(other) => Err(ParamError::new(
                key,
                format!("expected a string, got {}", other.type_str()),
            )),
        }
    }

    /// The first key no builder asked for, if any.
    pub fn unknown(&self) -> Option<String> {
        let read = self.read.borrow();
        self.table.keys().find(|k| !read.contains(*k)).cloned()
    }

    /// The keys asked for so far, for error messages.
    pub fn known(&self) -> Vec<String> {
        self.read.borrow().iter().cloned().collect()
    }
}

/// Makes a notifier factory from parameters.
pub type NotifierBuilder =
    Arc<dyn Fn(&Params) -> Result<NotifierFactory, ParamError> + Send + Sync>;

/// Makes a listen-notifier factory from parameters.
pub type ListenNotifierBuilder =
    Arc<dyn Fn(&Params) -> Result<ListenNotifierFactory, ParamError> + Send + Sync>;

/// Notifier builders by name: connection notifiers, and listen notifiers apart.
#[derive(Clone, Default)]
pub struct Registry {
    builders: BTreeMap<String, NotifierBuilder>,
    listen_builders: BTreeMap<String, ListenNotifierBuilder>,
}

impl Registry {
    /// A registry with no notifiers.
    pub fn new() -> Self {
        Self::default()
    }

    /// The built-in notifiers: `echo`, `framed-echo`, `line-server`, `slow-reader` for
    /// listeners; `sender`, `bulk-writer`, `throttle-ignoring-writer`, `line-client` for
    /// clients. Also `hard-closer`, `pausing-reader` and `greeter` (speaks first, then
    /// closes: `then = "close"` or `"hard_close"`) for listeners, and `impatient-client`,
    /// `inflating-sender` and `quiet-client` (writes nothing, reads until its peer closes)
    /// for clients; `proxy` for a listener that forwards each accepted connection to
    /// `target`:`port` over a connection it dials (up to `attempts` tries).
    pub fn builtin() -> Self {
        let mut r = Registry::new();
        r.register("proxy", |p: &Params| {
            let target = p.string("target", "")?;
            if target.is_empty() {
                return Err(ParamError::new("target", "missing: the host to forward to"));
            }
            let port = p.usize_at_most("port", 0, u64::from(u16::MAX))?;
            let port = u16::try_from(port)
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| ParamError::new("port", "missing or 0: the port to forward to"))?;
            let attempts = p.usize_at_most("attempts", 1, MAX_COUNT)?;
            let proxy =
                Proxy::new(&target, port).attempts(u32::try_from(attempts).unwrap_or(u32::MAX));
            Ok(factory(move || proxy.clone()))
        });
        r.register("echo", |_: &Params| Ok(factory(|| Echo)));
        r.register("framed-echo", |_: &Params| Ok(factory(FramedEcho::new)));
        r.register("line-server", |_: &Params| Ok(factory(LineServer::default)));
        r.register("slow-reader", |p: &Params| {
            let delay =
                Duration::from_millis(p.usize_at_most("delay_ms", 0, MAX_DURATION_MS)? as u64);
            let reader = SlowReader::new(
                delay,
                p.usize_at_most("bytes", usize::MAX, MAX_TOTAL_PAYLOAD_BYTES)?,
            )
            .yielding_every(p.usize_at_most("yield_every", 0, MAX_COUNT)?);
            Ok(factory(move || reader))
        });
        r.register("sender", |p: &Params| {
            let mut sender = Sender::new(text_or_bytes(p)?);
            if let Some(chunk) =
                Some(p.usize_at_most("chunk", 0, MAX_PAYLOAD_BYTES)?).filter(|c| *c > 0)
            {
                sender = sender.chunked(chunk);
            }
            if !p.bool("echo", true)? {
                sender = sender.without_echo();
            }
            let sender = sender.expecting(p.usize_at_most("expect", 0, MAX_BUFFER_BYTES)?);
            Ok(factory(move || sender.clone()))
        });
        let bulk = |p: &Params| -> Result<BulkWriter, ParamError> {
            Ok(BulkWriter::new(
                p.payload("bytes", 64 * 1024)?,
                p.usize_at_most("chunk", 1024, MAX_PAYLOAD_BYTES)?,
            ))
        };
        r.register("bulk-writer", move |p: &Params| {
            let writer = bulk(p)?;
            Ok(factory(move || writer))
        });
        r.register("throttle-ignoring-writer", move |p: &Params| {
            let writer = bulk(p)?.ignoring_throttle();
            Ok(factory(move || writer))
        });
        r.register("line-client", |p: &Params| {
            let requests = p.usize_at_most("requests", 3, MAX_COUNT)?;
            Ok(factory(move || LineClient::new(requests)))
        });
        r.register("hard-closer", |p: &Params| {
            let closer = HardCloser::new(
                p.usize_at_most("expect", 0, MAX_BUFFER_BYTES)?,
                p.usize_at_most("after", 1, MAX_COUNT)?,
            );
            Ok(factory(move || closer))
        });
        r.register("greeter", |p: &Params| {
            let farewell = match p.string("then", "close")?.as_str() {
                "close" => Farewell::Close,
                "hard_close" => Farewell::HardClose,
                other => {
                    return Err(ParamError::new(
                        "then",
                        format!("expected close or hard_close, got {}", quoted(other)),
                    ))
                }
            };
            let greeter = Greeter::new(text_or_bytes(p)?, farewell);
            Ok(factory(move || greeter.clone()))
        });
        r.register("quiet-client", |_: &Params| Ok(factory(|| QuietClient)));
        r.register("pausing-reader", |p: &Params| {
            let pause =
                Duration::from_millis(p.usize_at_most("pause_ms", 100, MAX_DURATION_MS)? as u64);
            let every = p.usize_at_most("every", 0, MAX_TOTAL_PAYLOAD_BYTES)?;
            let bytes = p.usize_at_most("bytes", usize::MAX, MAX_TOTAL_PAYLOAD_BYTES)?;
            let reader = SlowReader::new(pause, bytes).pausing_every(every);
            Ok(factory(move || reader))
        });
        r.register("impatient-client", |p: &Params| {
            let how = match p.string("how", "close")?.as_str() {
                "close" => GiveUp::Close,
                "hard_close" => GiveUp::HardClose,
                "dispose" => GiveUp::Dispose,
                other => {
                    return Err(ParamError::new(
                        "how",
                        format!(
                            "expected close, hard_close or dispose, got {}",
                            quoted(other)
                        ),
                    ))
                }
            };
            let mut client = ImpatientClient::new(how);
            if let Some(at) = Some(p.usize_at_most("at", 0, MAX_COUNT)?).filter(|n| *n > 0) {
                client = client.at_count(u32::try_from(at).unwrap_or(u32::MAX));
            }
            Ok(factory(move || client))
        });
        r.register("inflating-sender", |p: &Params| {
            let sender = Sender::pattern(p.payload("bytes", 64)?.max(1))
                .expecting(p.usize_at_most("expect", 0, MAX_BUFFER_BYTES)?);
            let hook = p.usize_at_most("hook", 0, MAX_BUFFER_BYTES)?;
            Ok(factory(move || ExpectRewriter::new(sender.clone(), hook)))
        });
        r
    }

    /// Registers (or replaces) the notifier `name`.
    pub fn register(
        &mut self,
        name: &str,
        builder: impl Fn(&Params) -> Result<NotifierFactory, ParamError> + Send + Sync + 'static,
    ) -> &mut Self {
        self.builders.insert(name.to_string(), Arc::new(builder));
        self
    }

    /// Every registered name, sorted.
    pub fn names(&self) -> Vec<&str> {
        self.builders.keys().map(String::as_str).collect()
    }

    /// Registers (or replaces) the listen notifier `name`, for a listener's
    /// `listen_notifier = "name"`.
    ///
    /// ```
    /// use tcpnotify_sim::notifiers::{Accept, Echo};
    /// use tcpnotify_sim::scenario::{listen_factory, Params, Registry};
    ///
    /// let mut registry = Registry::builtin();
    /// registry.register_listener("echo-server", |_: &Params| {
    ///     Ok(listen_factory(|| Accept(|| Box::new(Echo) as _)))
    /// });
    /// assert!(registry.build_listener("echo-server", &Params::default()).is_ok());
    /// let err = registry.build_listener("echo", &Params::default()).err().unwrap();
    /// assert!(err.to_string().starts_with("unknown listen notifier \"echo\""));
    /// ```
    pub fn register_listener(
        &mut self,
        name: &str,
        builder: impl Fn(&Params) -> Result<ListenNotifierFactory, ParamError> + Send + Sync + 'static,
    ) -> &mut Self {
        self.listen_builders
            .insert(name.to_string(), Arc::new(builder));
        self
    }

    /// Every registered listen-notifier name, sorted.
    pub fn listener_names(&self) -> Vec<&str> {
        self.listen_builders.keys().map(String::as_str).collect()
    }

    /// Builds listen notifier `name` from `params`; every parameter must be one it knows.
    pub fn build_listener(
        &self,
        name: &str,
        params: &Params,
    ) -> Result<ListenNotifierFactory, ParamError> {
        build(&self.listen_builders, "listen notifier", name, params)
    }

    /// Builds notifier `name` from `params`; every parameter must be one it knows.
    pub fn build(&self, name: &str, params: &Params) -> Result<NotifierFactory, ParamError> {
        build(&self.builders, "notifier", name, params)
    }
}

/// Builds `name`, a `kind` of notifier, with its builder in `builders` from `params`; every
/// parameter must be one it knows.
fn build<T, B>(
    builders: &BTreeMap<String, Arc<B>>,
    kind: &str,
    name: &str,
    params: &Params,
) -> Result<T, ParamError>
where
    B: Fn(&Params) -> Result<T, ParamError> + ?Sized,
{
    let builder = builders.get(name).ok_or_else(|| {
        let known = listed(builders.keys());
        ParamError::new(
            "",
            format!("unknown {kind} {} (registered: {known})", quoted(name)),
        )
    })?;
    let made = builder(params)?;
    all_read(name, params).map(|()| made)
}

/// An error naming the first parameter of `params` that the builder of `name` never read.
fn all_read(name: &str, params: &Params) -> Result<(), ParamError> {
    match params.unknown() {
        Some(key) => {
            let known = listed(params.known());
            Err(ParamError::new(
                &key,
                format!("unknown parameter of {name} (it takes: {known})"),
            ))
        }
        None => Ok(()),
    }
}

/// The payload of a notifier that takes exactly one of `text` (those bytes) and `bytes` (that
/// many of the test pattern), both counted against the file's payload limit.
fn text_or_bytes(p: &Params) -> Result<Vec<u8>, ParamError> {
    let text = p.string("text", "")?;
    p.add_payload("text", text.len())?;
    match (text.is_empty(), p.payload("bytes", 0)?) {
        (false, 0) => Ok(text.into_bytes()),
        (true, n) if n > 0 => Ok(pattern(0, n)),
        _ => Err(ParamError::new(
            "bytes",
            "give exactly one of `text` and `bytes`",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(text: &str) -> Params {
        Params::new(toml_edit::de::from_str(text).expect("a table"))
    }

    #[test]
    fn an_unknown_notifier_of_either_kind_lists_the_registered_ones_or_says_none() {
        let empty = Registry::new();
        let err = |e: Option<ParamError>| e.expect("refused").to_string();
        assert_eq!(
            err(empty.build("echo", &Params::default()).err()),
            "unknown notifier \"echo\" (registered: none)"
        );
        assert_eq!(
            err(empty.build_listener("gate", &Params::default()).err()),
            "unknown listen notifier \"gate\" (registered: none)"
        );
        let mut two = Registry::new();
        two.register("b", |_: &Params| Ok(factory(|| Echo)));
        two.register("a", |_: &Params| Ok(factory(|| Echo)));
        assert_eq!(
            err(two.build("c", &Params::default()).err()),
            "unknown notifier \"c\" (registered: a, b)"
        );
    }

    #[test]
    fn an_unknown_parameter_lists_the_ones_the_builder_takes_or_says_none() {
        let registry = Registry::builtin();
        let e = registry
            .build("echo", &params("bytes = 1"))
            .err()
            .expect("refused");
        assert_eq!(e.key, "bytes");
        assert_eq!(e.to_string(), "unknown parameter of echo (it takes: none)");
        let e = (registry
            .build("line-client", &params("requests = 2\nrequets = 3"))
            .err())
        .expect("refused");
        assert_eq!(
            (e.key.as_str(), e.to_string()),
            (
                "requets",
                "unknown parameter of line-client (it takes: requests)".to_string()
            )
        );
    }

    #[test]
    fn a_greeter_takes_a_greeting_and_how_it_ends() {
        let registry = Registry::builtin();
        let refused = |text: &str| {
            let e = registry.build("greeter", &params(text)).err();
            let e = e.expect("refused");
            (e.key.clone(), e.to_string())
        };
        assert!(registry.build("greeter", &params("text = \"hi\"")).is_ok());
        let hard = "bytes = 64\nthen = \"hard_close\"";
        assert!(registry.build("greeter", &params(hard)).is_ok());
        assert_eq!(
            refused("text = \"hi\"\nthen = \"linger\""),
            (
                "then".into(),
                "expected close or hard_close, got \"linger\"".into()
            )
        );
        assert_eq!(
            refused("text = \"hi\"\nbytes = 2").0,
            "bytes",
            "one greeting"
        );
        assert_eq!(refused("").0, "bytes", "a greeting is needed");
    }
}
