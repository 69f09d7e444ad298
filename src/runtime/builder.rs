//! Builders that start connections and listeners, with Pony's defaults, on any [`Network`].

use super::backend::Network;
use super::connection_task::ConnectionTask;
use super::handle::ConnectionHandle;
use super::listener_task::{spawn_listener, ListenerHandle};
use super::tokio_net::TokioNetwork;
use crate::proto::{
    ConnectionConfig, TcpConnection, TcpConnectionNotify, TcpListenNotify, TcpListener,
};
use std::future::Future;

impl TcpConnection {
    /// Dials `host` and `service` over the real network with default settings, in a new task.
    /// Must be called inside a tokio runtime.
    ///
    /// ```no_run
    /// # use tcpnotify::*;
    /// # struct Client;
    /// # impl TcpConnectionNotify for Client {
    /// #     fn connect_failed(&mut self, _: &mut TcpConnection, _: ConnectFailure) {}
    /// # }
    /// # #[tokio::main] async fn main() {
    /// let conn = TcpConnection::connect(Client, "localhost", "7000");
    /// conn.write("hello");
    /// conn.finished().await;
    /// # }
    /// ```
    pub fn connect(
        notify: impl TcpConnectionNotify,
        host: &str,
        service: &str,
    ) -> ConnectionHandle {
        Self::builder().connect(notify, host, service)
    }

    /// A builder for a client connection with custom settings or another network.
    pub fn builder() -> ConnectionBuilder<TokioNetwork> {
        ConnectionBuilder {
            net: TokioNetwork::new(),
            config: ConnectionConfig::default(),
        }
    }
}

/// Settings for a client connection (see [`TcpConnection::builder`]).
#[derive(Debug, Clone)]
pub struct ConnectionBuilder<N> {
    net: N,
    config: ConnectionConfig,
}

impl<N: Network> ConnectionBuilder<N> {
    /// Uses another network (the simulator's, or a tokio network with a host table).
    pub fn network<M: Network>(self, net: M) -> ConnectionBuilder<M> {
        ConnectionBuilder {
            net,
            config: self.config,
        }
    }

    /// Replaces all buffer and yield settings.
    pub fn config(mut self, config: ConnectionConfig) -> Self {
        self.config = config;
        self
    }

    /// Sets the read buffer size, also the largest `expect` (default
    /// [`DEFAULT_READ_BUFFER_SIZE`](crate::DEFAULT_READ_BUFFER_SIZE)).
    pub fn read_buffer_size(mut self, bytes: usize) -> Self {
        self.config.set_read_buffer_size(bytes);
        self
    }

    /// Sets the bytes read per turn before yielding (default
    /// [`DEFAULT_YIELD_AFTER_READING`](crate::DEFAULT_YIELD_AFTER_READING)).
    pub fn yield_after_reading(mut self, bytes: usize) -> Self {
        self.config.set_yield_after_reading(bytes);
        self
    }

    /// Sets the bytes written per turn before yielding (default
    /// [`DEFAULT_YIELD_AFTER_WRITING`](crate::DEFAULT_YIELD_AFTER_WRITING)).
    pub fn yield_after_writing(mut self, bytes: usize) -> Self {
        self.config.set_yield_after_writing(bytes);
        self
    }

    /// Dials `host` and `service` in a new task: `proxy_via`, resolution, then every
    /// resolved address at once. Must be called inside a tokio runtime.
    pub fn connect(
        self,
        notify: impl TcpConnectionNotify,
        host: &str,
        service: &str,
    ) -> ConnectionHandle {
        let net = self.net.clone();
        let (handle, run) = self.connect_in_task(notify, host, service);
        net.spawn(run);
        handle
    }

    /// Dials `host` and `service` as [`connect`](Self::connect) does, but in the task that
    /// awaits the returned future rather than a new one: the future runs the connection and
    /// resolves once it ended, as [`ConnectionHandle::finished`] would. For a caller that
    /// would spawn a task only to await the end of the connection it starts (one task per
    /// connection instead of two). Nothing happens until the future is first polled.
    ///
    /// Two differences from [`connect`](Self::connect) follow from running in the caller's
    /// task: dropping the future before it resolves abandons the connection with no further
    /// callback (no `closed`, no `connect_failed`; the handle's
    /// [`finished`](ConnectionHandle::finished) returns), and a notifier that panics unwinds
    /// the caller's task rather than a task of its own.
    ///
    /// ```no_run
    /// # use tcpnotify::*;
    /// # struct Client;
    /// # impl TcpConnectionNotify for Client {
    /// #     fn connect_failed(&mut self, _: &mut TcpConnection, _: ConnectFailure) {}
    /// # }
    /// # #[tokio::main] async fn main() {
    /// let (conn, run) = TcpConnection::builder().connect_in_task(Client, "localhost", "7000");
    /// conn.write("hello");
    /// run.await;
    /// # }
    /// ```
    pub fn connect_in_task(
        self,
        notify: impl TcpConnectionNotify,
        host: &str,
        service: &str,
    ) -> (ConnectionHandle, impl Future<Output = ()> + Send + 'static) {
        ConnectionTask::client(self.net, Box::new(notify), self.config, host, service)
    }
}

impl TcpListener {
    /// Listens on `host` and `service` (`""`/`"0"`: any address, any port) over the real network,
    /// with no connection limit, in a new task. Must be called inside a tokio runtime.
    pub fn listen(notify: impl TcpListenNotify, host: &str, service: &str) -> ListenerHandle {
        Self::builder().listen(notify, host, service)
    }

    /// A builder for a listener with a limit, custom connection settings or another network.
    pub fn builder() -> ListenerBuilder<TokioNetwork> {
        ListenerBuilder {
            net: TokioNetwork::new(),
            config: ConnectionConfig::default(),
            limit: 0,
        }
    }
}

/// Settings for a listener (see [`TcpListener::builder`]).
#[derive(Debug, Clone)]
pub struct ListenerBuilder<N> {
    net: N,
    config: ConnectionConfig,
    limit: usize,
}

impl<N: Network> ListenerBuilder<N> {
    /// Uses another network.
    pub fn network<M: Network>(self, net: M) -> ListenerBuilder<M> {
        ListenerBuilder {
            net,
            config: self.config,
            limit: self.limit,
        }
    }

    /// The most accepted-and-not-closed connections at once; 0 (the default) is unlimited.
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }

    /// Settings passed on to every accepted connection.
    pub fn config(mut self, config: ConnectionConfig) -> Self {
        self.config = config;
        self
    }

    /// Binds and listens in a new task. Must be called inside a tokio runtime.
    pub fn listen(self, notify: impl TcpListenNotify, host: &str, service: &str) -> ListenerHandle {
        spawn_listener(
            self.net,
            Box::new(notify),
            self.limit,
            self.config,
            host,
            service,
        )
    }
}
