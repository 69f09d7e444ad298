//! Adapts a backend [`Stream`] to the state machine's non-blocking [`Transport`].
//!
//! Each operation polls the stream once with a waker that forwards to the driver task's
//! current waker (the one its mailbox holds), so a `WouldBlock` leaves the task registered for readiness.

use crate::backend::Stream;
use crate::transport::Transport;
use std::io::{self, ErrorKind, IoSlice};
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use tokio::io::ReadBuf;

/// A [`Stream`] seen through the [`Transport`] interface.
pub(crate) struct StreamTransport<S> {
    stream: S,
    waker: Waker,
}

impl<S: Stream> StreamTransport<S> {
    /// `waker` wakes the driver task whichever poll it is in (see `Mailbox::waker`).
    pub(crate) fn new(stream: S, waker: Waker) -> Self {
        StreamTransport { stream, waker }
    }

    fn poll<T>(
        &mut self,
        op: impl FnOnce(Pin<&mut S>, &mut Context<'_>) -> Poll<io::Result<T>>,
    ) -> io::Result<T> {
        let mut cx = Context::from_waker(&self.waker);
        match op(Pin::new(&mut self.stream), &mut cx) {
            Poll::Ready(result) => result,
            Poll::Pending => Err(ErrorKind::WouldBlock.into()),
        }
    }
}

impl<S: Stream> Transport for StreamTransport<S> {
    fn read(&mut self, buf: &mut ReadBuf<'_>) -> io::Result<()> {
        self.poll(|s, cx| s.poll_read(cx, buf))
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.poll(|s, cx| s.poll_write_vectored(cx, bufs))
    }

    fn shutdown_write(&mut self) -> io::Result<()> {
        self.poll(|s, cx| s.poll_shutdown(cx))
    }

    fn set_nodelay(&mut self, nodelay: bool) -> io::Result<()> {
        self.stream.set_nodelay(nodelay)
    }

    fn nodelay(&self) -> io::Result<bool> {
        self.stream.nodelay()
    }

    fn set_keepalive(&mut self, secs: u32) -> io::Result<()> {
        self.stream.set_keepalive(secs)
    }

    fn local_address(&self) -> Option<SocketAddr> {
        self.stream.local_address().ok()
    }

    fn remote_address(&self) -> Option<SocketAddr> {
        self.stream.remote_address().ok()
    }
}
