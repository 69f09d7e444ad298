//! A callback as data: which one, with its arguments and result ([`Callback`]), and the bytes it
//! carried ([`Payload`]). Rendered as deterministic text, one callback per line.

use super::Name;
use crate::proto::ConnectFailure;
use bytes::Bytes;
use smallvec::SmallVec;
use std::fmt;

/// Bytes of data shown in a callback's preview.
pub const PREVIEW_BYTES: usize = 16;

/// One callback and its arguments and result, as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(
    feature = "serde",
    serde(tag = "callback", content = "args", rename_all = "snake_case")
)]
pub enum Callback {
    /// `accepted`.
    Accepted,
    /// `proxy_via(host, service)` and the target it returned. Shared names, as the recorder
    /// keeps them: a target equal to what was asked for shares its text.
    ProxyVia {
        /// Host asked for.
        host: Name,
        /// Service asked for.
        service: Name,
        /// Host and service returned.
        target: (Name, Name),
    },
    /// `connecting(count)`.
    Connecting(u32),
    /// `connected`.
    Connected,
    /// `connect_failed(reason)`.
    ConnectFailed(ConnectFailure),
    /// `auth_failed`.
    AuthFailed,
    /// `sent(data)`: the bytes given and what the notifier returned.
    Sent {
        /// The data written.
        data: Payload,
        /// The data actually queued.
        result: Payload,
    },
    /// `sentv(chunks)`: the chunks written and the chunks the notifier returned.
    Sentv {
        /// The chunks written.
        data: Vec<Payload>,
        /// The chunks actually queued.
        result: Vec<Payload>,
    },
    /// `received(data, times)` and its result.
    Received {
        /// The data delivered.
        data: Payload,
        /// Deliveries in this turn so far.
        times: usize,
        /// `false` asked to yield.
        result: bool,
    },
    /// `expect(qty)` and the size the notifier returned.
    Expect {
        /// Size requested.
        qty: usize,
        /// Size returned.
        result: usize,
    },
    /// `closed`.
    Closed,
    /// `throttled`.
    Throttled,
    /// `unthrottled`.
    Unthrottled,
    /// Listener `listening`, with the bound address.
    Listening(Option<std::net::SocketAddr>),
    /// Listener `not_listening`.
    NotListening,
    /// Listener `connected`: whether it returned a notifier.
    ListenerConnected {
        /// `true` if a notifier was returned (accepted), `false` if rejected.
        accepted: bool,
    },
    /// Listener `closed`.
    ListenerClosed,
}

impl Callback {
    /// The callback's name as in the contract (`received`, `connect_failed`, ...). Listener
    /// callbacks that share a name with connection ones are prefixed `listener.`.
    pub fn name(&self) -> &'static str {
        match self {
            Callback::Accepted => "accepted",
            Callback::ProxyVia { .. } => "proxy_via",
            Callback::Connecting(_) => "connecting",
            Callback::Connected => "connected",
            Callback::ConnectFailed(_) => "connect_failed",
            Callback::AuthFailed => "auth_failed",
            Callback::Sent { .. } => "sent",
            Callback::Sentv { .. } => "sentv",
            Callback::Received { .. } => "received",
            Callback::Expect { .. } => "expect",
            Callback::Closed => "closed",
            Callback::Throttled => "throttled",
            Callback::Unthrottled => "unthrottled",
            Callback::Listening(_) => "listening",
            Callback::NotListening => "not_listening",
            Callback::ListenerConnected { .. } => "listener.connected",
            Callback::ListenerClosed => "listener.closed",
        }
    }
}

impl fmt::Display for Callback {
    /// Deterministic text: the name, then the arguments, then `-> result` where the result
    /// matters: always for `received`, and for the transforms (`proxy_via`, `sent`, `sentv`,
    /// `expect`) only when the notifier changed the value. Listener addresses are left out
    /// because ports differ from run to run.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Callback::ProxyVia {
                host,
                service,
                target,
            } => {
                write!(f, "proxy_via({host}, {service})")?;
                if (host, service) != (&target.0, &target.1) {
                    write!(f, " -> ({}, {})", target.0, target.1)?;
                }
                Ok(())
            }
            Callback::Connecting(n) => write!(f, "connecting({n})"),
            Callback::ConnectFailed(reason) => write!(f, "connect_failed({reason})"),
            Callback::Sent { data, result } => {
                write!(f, "sent({data})")?;
                if result != data {
                    write!(f, " -> {result}")?;
                }
                Ok(())
            }
            Callback::Sentv { data, result } => {
                let bytes = |chunks: &[Payload]| chunks.iter().map(Payload::len).sum::<usize>();
                write!(f, "sentv({} chunks, {}B)", data.len(), bytes(data))?;
                if result != data {
                    write!(f, " -> {} chunks, {}B", result.len(), bytes(result))?;
                }
                Ok(())
            }
            Callback::Received {
                data,
                times,
                result,
            } => write!(f, "received({data}, times={times}) -> {result}"),
            Callback::Expect { qty, result } => {
                write!(f, "expect({qty})")?;
                if qty != result {
                    write!(f, " -> {result}")?;
                }
                Ok(())
            }
            Callback::ListenerConnected { accepted } => {
                write!(
                    f,
                    "listener.connected -> {}",
                    if *accepted { "accept" } else { "reject" }
                )
            }
            other => f.write_str(other.name()),
        }
    }
}

/// The bytes a callback carried: always the count and the first [`PREVIEW_BYTES`] bytes,
/// and the whole data when the recorder keeps it (for checks such as stream integrity).
/// Shown as the count and an escaped preview; serialised the same way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payload(Kept);

/// What a [`Payload`] holds: the data itself, or only what the preview needs.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Kept {
    /// Shared with the write it came from when that `Bytes` was shared already (see
    /// [`Payload::shared`]); otherwise a copy.
    Whole(Bytes),
    /// The preview is held inline: a summary is made for every callback that carries data
    /// when payloads are not kept, and needs no allocation then. (A head read back from JSON
    /// is kept as it was, however long.)
    Summary {
        len: usize,
        head: SmallVec<[u8; PREVIEW_BYTES]>,
    },
}

impl Default for Payload {
    fn default() -> Self {
        Payload::summary(&[])
    }
}

impl Payload {
    /// Copies `data` whole.
    pub fn of(data: &[u8]) -> Self {
        Payload(Kept::Whole(Bytes::copy_from_slice(data)))
    }

    /// Keeps `data` whole without a copy: the payload shares its memory (what a recorder
    /// keeps of a write whose `Bytes` was shared already, such as one buffer written many
    /// times; it copies a write nothing else holds, which would otherwise keep its whole
    /// allocation alive).
    ///
    /// ```
    /// use tcpnotify::{record::Payload, Bytes};
    /// let data = Bytes::from(b"hello".to_vec());
    /// let kept = Payload::shared(data.clone());
    /// assert_eq!(kept.bytes().map(<[u8]>::as_ptr), Some(data.as_ptr()));
    /// assert_eq!(kept, Payload::of(b"hello"));
    /// ```
    pub fn shared(data: Bytes) -> Self {
        Payload(Kept::Whole(data))
    }

    /// Keeps only the count and the preview of `data`.
    pub fn summary(data: &[u8]) -> Self {
        Payload(Kept::Summary {
            len: data.len(),
            head: SmallVec::from_slice(&data[..data.len().min(PREVIEW_BYTES)]),
        })
    }

    /// The whole data, if it was kept.
    pub fn bytes(&self) -> Option<&[u8]> {
        match &self.0 {
            Kept::Whole(bytes) => Some(bytes),
            Kept::Summary { .. } => None,
        }
    }

    /// The number of bytes.
    pub fn len(&self) -> usize {
        match &self.0 {
            Kept::Whole(bytes) => bytes.len(),
            Kept::Summary { len, .. } => *len,
        }
    }

    /// Whether there are no bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The first [`PREVIEW_BYTES`] bytes.
    fn head(&self) -> &[u8] {
        match &self.0 {
            Kept::Whole(bytes) => &bytes[..bytes.len().min(PREVIEW_BYTES)],
            Kept::Summary { head, .. } => head,
        }
    }

    /// The first [`PREVIEW_BYTES`] bytes, escaped as ASCII, with `...` if there are more.
    pub fn preview(&self) -> String {
        let head = self.head();
        let mut text = head.escape_ascii().to_string();
        if self.len() > head.len() {
            text.push_str("...");
        }
        text
    }
}

impl fmt::Display for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}B \"{}\"", self.len(), self.preview())
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for Payload {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut state = serializer.serialize_struct("Payload", 2)?;
        state.serialize_field("len", &self.len())?;
        state.serialize_field("head", self.head())?;
        state.end()
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for Payload {
    /// The count and preview come back; the whole data does not.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(serde::Deserialize)]
        struct Shape {
            len: usize,
            head: Vec<u8>,
        }
        let shape = Shape::deserialize(deserializer)?;
        Ok(Payload(Kept::Summary {
            len: shape.len,
            head: SmallVec::from_vec(shape.head),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_transform_shows_its_result_only_when_the_notifier_changed_the_value() {
        let (ab, a) = (Payload::of(b"ab"), Payload::of(b"a"));
        let sentv = |result: Vec<Payload>| Callback::Sentv {
            data: vec![ab.clone(), a.clone()],
            result,
        };
        assert_eq!(
            sentv(vec![ab.clone(), a.clone()]).to_string(),
            "sentv(2 chunks, 3B)"
        );
        assert_eq!(
            sentv(vec![ab.clone()]).to_string(),
            "sentv(2 chunks, 3B) -> 1 chunks, 2B"
        );
        let expect = |result| Callback::Expect { qty: 4, result };
        assert_eq!(expect(4).to_string(), "expect(4)");
        assert_eq!(expect(2).to_string(), "expect(4) -> 2");
        let sent = |result: &Payload| Callback::Sent {
            data: ab.clone(),
            result: result.clone(),
        };
        assert_eq!(sent(&ab).to_string(), "sent(2B \"ab\")");
        assert_eq!(sent(&a).to_string(), "sent(2B \"ab\") -> 1B \"a\"");
    }

    #[test]
    fn a_payload_is_empty_when_it_counts_no_bytes_kept_or_summarised() {
        assert!(Payload::of(b"").is_empty());
        assert!(Payload::summary(b"").is_empty());
        assert!(Payload::default().is_empty());
        assert!(!Payload::of(b"x").is_empty());
        assert!(!Payload::summary(&[0; 100]).is_empty());
        assert_eq!(Payload::summary(&[0; 100]).len(), 100);
    }

    #[test]
    fn a_preview_shows_the_first_bytes_escaped_and_says_when_there_are_more() {
        let long = [b'a'; PREVIEW_BYTES + 1];
        let shown = "a".repeat(PREVIEW_BYTES);
        assert_eq!(Payload::of(&long).preview(), format!("{shown}..."));
        assert_eq!(Payload::summary(&long).preview(), format!("{shown}..."));
        assert_eq!(Payload::of(&long[1..]).preview(), shown);
        assert_eq!(Payload::of(b"a\n\xff").to_string(), "3B \"a\\n\\xff\"");
    }
}
