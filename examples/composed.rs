//! Composed notifiers: wrappers stack the way Pony's SSL notifier wraps an application's.
//!
//! [`LengthFramed`] turns the byte stream into messages (a 4-byte big-endian length, then the
//! body) with `expect`; [`Authenticated`] runs a token handshake over those messages; the
//! application inside sees only whole messages of an authenticated peer. A client with the
//! right token gets its messages back in upper case; with a wrong token both applications get
//! `auth_failed`. Every callback of the outer (wire) and inner (app) notifiers is printed.
//!
//! Run with `cargo run --example composed`.

use std::sync::Arc;
use std::time::Duration;
use tcpnotify::record::{Callback, CallbackLog, Recorded};
use tcpnotify::{
    Bytes, ConnectFailure, Network, Role, TcpConnection, TcpConnectionNotify, TcpListenNotify,
    TcpListener, TokioNetwork,
};

/// The length prefix, in bytes.
const HEADER: usize = 4;

/// Writes callbacks that only pass their arguments on to `self.inner`.
macro_rules! pass_through {
    ($($name:ident($($arg:ident: $ty:ty),*) $(-> $ret:ty)?;)*) => {$(
        fn $name(&mut self, $($arg: $ty),*) $(-> $ret)? { self.inner.$name($($arg),*) }
    )*};
}

/// Frames messages with a 4-byte big-endian length prefix around an inner notifier that sends
/// and receives whole messages. Framing is this layer's: the inner notifier must not `expect`.
pub struct LengthFramed<N> {
    inner: N,
    reading_body: bool,
    /// Messages given to the inner notifier in this turn: its `times`.
    delivered: usize,
}

impl<N: TcpConnectionNotify> LengthFramed<N> {
    /// Wraps `inner`.
    pub fn new(inner: N) -> Self {
        LengthFramed {
            inner,
            reading_body: false,
            delivered: 0,
        }
    }
}

/// The length prefix of a message of `len` bytes.
fn header(len: usize) -> [u8; HEADER] {
    (len as u32).to_be_bytes()
}

impl<N: TcpConnectionNotify> TcpConnectionNotify for LengthFramed<N> {
    pass_through! {
        proxy_via(host: &str, service: &str) -> (String, String);
        connecting(conn: &mut TcpConnection, count: u32);
        connect_failed(conn: &mut TcpConnection, reason: ConnectFailure);
        auth_failed(conn: &mut TcpConnection);
        closed(conn: &mut TcpConnection);
        throttled(conn: &mut TcpConnection);
        unthrottled(conn: &mut TcpConnection);
    }
    fn accepted(&mut self, conn: &mut TcpConnection) {
        let _ = conn.expect(HEADER);
        self.inner.accepted(conn);
    }
    fn connected(&mut self, conn: &mut TcpConnection) {
        let _ = conn.expect(HEADER);
        self.inner.connected(conn);
    }
    /// Prefixes the inner notifier's bytes with their length; nothing if it swallowed them.
    fn sent(&mut self, conn: &mut TcpConnection, data: Bytes) -> Bytes {
        let data = self.inner.sent(conn, data);
        if data.is_empty() {
            return data;
        }
        Bytes::from([&header(data.len())[..], &data].concat())
    }
    /// One `writev` is one message: a header chunk, then the inner notifier's chunks.
    fn sentv(&mut self, conn: &mut TcpConnection, chunks: Vec<Bytes>) -> Vec<Bytes> {
        let mut chunks = self.inner.sentv(conn, chunks);
        let len = chunks.iter().map(Bytes::len).sum();
        if len > 0 {
            chunks.insert(0, Bytes::copy_from_slice(&header(len)));
        }
        chunks
    }
    /// A header asks for its body; a body goes to the inner notifier, then the next header.
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, times: usize) -> bool {
        if times == 1 {
            self.delivered = 0;
        }
        if self.reading_body {
            self.reading_body = false;
            let _ = conn.expect(HEADER);
            self.delivered += 1;
            return self.inner.received(conn, data, self.delivered);
        }
        let len = <[u8; HEADER]>::try_from(data).map_or(0, u32::from_be_bytes) as usize;
        self.reading_body = true;
        // An empty message, or one larger than the read buffer, breaks this protocol.
        if len == 0 || conn.expect(len).is_err() {
            conn.hard_close();
        }
        true
    }
}

/// Where a token handshake is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Handshake {
    Waiting,
    Open,
    Failed,
}

/// A token handshake over messages: the client sends the token, the server answers `ok` or
/// reports `auth_failed` inward and closes. The inner notifier is `connected` or `accepted`
/// only once the handshake succeeded, and sees nothing but `auth_failed` when it fails.
pub struct Authenticated<N> {
    inner: N,
    token: Vec<u8>,
    state: Handshake,
    /// Writes of this layer not yet through `sent`: not the inner notifier's to see.
    own_writes: usize,
}

impl<N: TcpConnectionNotify> Authenticated<N> {
    /// Wraps `inner`; a client presents `token`, a server requires it.
    pub fn new(token: &str, inner: N) -> Self {
        Authenticated {
            inner,
            token: token.into(),
            state: Handshake::Waiting,
            own_writes: 0,
        }
    }
}

impl<N: TcpConnectionNotify> TcpConnectionNotify for Authenticated<N> {
    pass_through! {
        proxy_via(host: &str, service: &str) -> (String, String);
        connecting(conn: &mut TcpConnection, count: u32);
        connect_failed(conn: &mut TcpConnection, reason: ConnectFailure);
        sentv(conn: &mut TcpConnection, chunks: Vec<Bytes>) -> Vec<Bytes>;
        expect(conn: &mut TcpConnection, qty: usize) -> usize;
    }
    fn connected(&mut self, conn: &mut TcpConnection) {
        self.own_writes += 1;
        conn.write(self.token.clone());
    }
    /// The token goes out before anything of the inner notifier, which is told nothing yet.
    fn sent(&mut self, conn: &mut TcpConnection, data: Bytes) -> Bytes {
        if self.own_writes > 0 {
            self.own_writes -= 1;
            return data;
        }
        self.inner.sent(conn, data)
    }
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, times: usize) -> bool {
        match (self.state, conn.role()) {
            (Handshake::Open, _) => return self.inner.received(conn, data, times),
            (Handshake::Failed, _) => {}
            (Handshake::Waiting, Role::Server) if data == self.token => {
                self.state = Handshake::Open;
                self.own_writes += 1;
                conn.write("ok");
                self.inner.accepted(conn);
            }
            (Handshake::Waiting, Role::Client) if data == b"ok" => {
                self.state = Handshake::Open;
                self.inner.connected(conn);
            }
            (Handshake::Waiting, _) => {
                self.state = Handshake::Failed;
                self.inner.auth_failed(conn);
                conn.close();
            }
        }
        true
    }
    fn closed(&mut self, conn: &mut TcpConnection) {
        match self.state {
            Handshake::Open => self.inner.closed(conn),
            // The peer hung up mid-handshake, as a server does on a bad token.
            Handshake::Waiting => self.inner.auth_failed(conn),
            Handshake::Failed => {}
        }
    }
    fn throttled(&mut self, conn: &mut TcpConnection) {
        if self.state == Handshake::Open {
            self.inner.throttled(conn);
        }
    }
    fn unthrottled(&mut self, conn: &mut TcpConnection) {
        if self.state == Handshake::Open {
            self.inner.unthrottled(conn);
        }
    }
}

/// Server application: answers each message in upper case.
struct Shout;

impl TcpConnectionNotify for Shout {
    fn received(&mut self, conn: &mut TcpConnection, data: Vec<u8>, _times: usize) -> bool {
        conn.write(data.to_ascii_uppercase());
        true
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

/// Client application: sends its messages one at a time, each after the previous answer,
/// then closes.
struct Chat(std::vec::IntoIter<&'static str>);

impl Chat {
    fn send_next(&mut self, conn: &mut TcpConnection) {
        match self.0.next() {
            Some(message) => conn.write(message),
            None => conn.close(),
        }
    }
}

impl TcpConnectionNotify for Chat {
    fn connected(&mut self, conn: &mut TcpConnection) {
        self.send_next(conn);
    }
    fn received(&mut self, conn: &mut TcpConnection, _data: Vec<u8>, _times: usize) -> bool {
        self.send_next(conn);
        true
    }
    fn connect_failed(&mut self, _conn: &mut TcpConnection, _reason: ConnectFailure) {}
}

/// Accepts connections with the whole server stack, recorded outside and inside.
struct Server(Arc<CallbackLog>);

impl TcpListenNotify for Server {
    fn connected(&mut self, _listener: &mut TcpListener) -> Option<Box<dyn TcpConnectionNotify>> {
        let app = Recorded::new(Shout, "server.app", self.0.clone());
        let stack = LengthFramed::new(Authenticated::new("sesame", app));
        let wire = Recorded::new(stack, "server.wire", self.0.clone());
        Some(Box::new(wire))
    }
    fn not_listening(&mut self, _listener: &mut TcpListener) {}
}

/// Runs one client presenting `token` against a server that requires `sesame`, on loopback;
/// returns every layer's callbacks, one section each, with the port shown as `PORT`.
pub async fn run(token: &str) -> String {
    run_over(
        TokioNetwork::new(),
        "127.0.0.1",
        token,
        Arc::new(CallbackLog::new()),
    )
    .await
}

/// [`run`] over any network: the server listens on `host`, the client dials it, and every
/// layer's callbacks go to `log` (the tests run this over the simulator too).
pub async fn run_over<N: Network>(
    net: N,
    host: &str,
    token: &str,
    log: Arc<CallbackLog>,
) -> String {
    let listener =
        TcpListener::builder()
            .network(net.clone())
            .listen(Server(log.clone()), host, "0");
    let port = listener.listening().await.expect("listen").port();
    let chat = Chat(vec!["hello", "world"].into_iter());
    let app = Recorded::new(chat, "client.app", log.clone());
    let stack = LengthFramed::new(Authenticated::new(token, app));
    let client = Recorded::new(stack, "client.wire", log.clone());
    let conn = TcpConnection::builder()
        .network(net)
        .connect(client, host, &port.to_string());
    let server_closed = async {
        while !log.of("server.wire").contains(&Callback::Closed) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    let both = async { tokio::join!(conn.finished(), server_closed) };
    tokio::time::timeout(Duration::from_secs(10), both)
        .await
        .expect("both sides close");
    listener.dispose();
    listener.closed().await;
    ["client.app", "client.wire", "server.wire", "server.app"]
        .iter()
        .map(|who| format!("[{who}]\n{}", log.render_of(who)))
        .collect::<String>()
        .replace(&format!(", {port})"), ", PORT)")
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    for token in ["sesame", "wrong"] {
        println!("== client token {token:?} ==");
        print!("{}", run(token).await);
    }
}
