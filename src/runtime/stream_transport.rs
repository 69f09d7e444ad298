//! Adapts a backend [`Stream`] to the state machine's non-blocking [`Transport`].
//!
//! Each operation polls the stream once with a waker that forwards to the connection task's
//! current waker (the one its mailbox holds), so a `WouldBlock` leaves the task registered for
//! readiness.

use super::backend::Stream;
use crate::proto::{ReadBuf, Transport};
use std::io::{self, ErrorKind, IoSlice};
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

/// A [`Stream`] seen through the [`Transport`] interface.
pub(crate) struct StreamTransport<S> {
    stream: S,
    waker: Waker,
}

impl<S: Stream> StreamTransport<S> {
    /// `waker` wakes the connection task whichever poll it is in (see `Mailbox::waker`).
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
        let space = buf.unfilled();
        let start = space.as_ptr().cast::<u8>();
        let mut tokio_buf = tokio::io::ReadBuf::uninit(space);
        self.poll(|s, cx| s.poll_read(cx, &mut tokio_buf))?;
        let filled = tokio_buf.filled();
        if filled.as_ptr() != start {
            // Only a stream that swapped in a buffer of its own gets here.
            return Err(io::Error::other("stream replaced the read buffer"));
        }
        let n = filled.len();
        // SAFETY: tokio's `ReadBuf` guarantees its first `n` bytes were initialised, and they
        // are the first `n` bytes of `buf`'s unfilled space (checked above).
        unsafe { buf.assume_filled(n) };
        Ok(())
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        match bufs {
            // A lone buffer, the usual case, as a plain write: on a tokio socket that is
            // `send`, whose path through the kernel is shorter than `writev`'s.
            [one] => self.poll(|s, cx| s.poll_write(cx, one)),
            _ => self.poll(|s, cx| s.poll_write_vectored(cx, bufs)),
        }
    }

    /// A stream that spends tokio's cooperative budget answers `Pending` once the task spent
    /// it, and has the task woken (`Stream::spends_task_budget`); a `Pending` with budget left
    /// is the socket's. Outside a tokio task there is no budget, and this is false.
    fn gave_way(&self) -> bool {
        self.stream.task_budget_spent()
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::MaybeUninit;
    use tokio::io::{AsyncRead, AsyncWrite};

    /// A test stream's socket options and addresses: none, as no socket is behind it.
    macro_rules! unconnected_stream {
        ($stream:ty) => {
            unconnected_stream!($stream, false);
        };
        ($stream:ty, $spends_task_budget:expr) => {
            impl Stream for $stream {
                fn spends_task_budget(&self) -> bool {
                    $spends_task_budget
                }
                fn set_nodelay(&self, _: bool) -> io::Result<()> {
                    Ok(())
                }
                fn nodelay(&self) -> io::Result<bool> {
                    Ok(false)
                }
                fn set_keepalive(&self, _: u32) -> io::Result<()> {
                    Ok(())
                }
                fn local_address(&self) -> io::Result<SocketAddr> {
                    Err(ErrorKind::NotConnected.into())
                }
                fn remote_address(&self) -> io::Result<SocketAddr> {
                    Err(ErrorKind::NotConnected.into())
                }
            }
        };
    }

    /// Fills a buffer of its own instead of the one it was given.
    struct Swapper;

    impl AsyncRead for Swapper {
        fn poll_read(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &mut tokio::io::ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            let own: &'static mut [u8] = Box::leak(vec![7u8; 4].into_boxed_slice());
            *buf = tokio::io::ReadBuf::new(own);
            buf.advance(4);
            Poll::Ready(Ok(()))
        }
    }

    impl AsyncWrite for Swapper {
        fn poll_write(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            _: &[u8],
        ) -> Poll<io::Result<usize>> {
            Poll::Ready(Ok(0))
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    unconnected_stream!(Swapper);

    /// A waker that wakes nobody.
    fn nobody() -> Waker {
        struct Nobody;
        impl std::task::Wake for Nobody {
            fn wake(self: std::sync::Arc<Self>) {}
        }
        Waker::from(std::sync::Arc::new(Nobody))
    }

    #[test]
    fn a_stream_that_fills_another_buffer_is_an_error_not_uninitialised_bytes() {
        let mut transport = StreamTransport::new(Swapper, nobody());
        let mut space = [MaybeUninit::uninit(); 16];
        let mut buf = ReadBuf::uninit(&mut space);
        let err = transport.read(&mut buf).unwrap_err();
        assert!(
            err.to_string().contains("replaced the read buffer"),
            "{err}"
        );
        assert_eq!(buf.remaining(), 16, "nothing counted as filled");
    }

    /// Takes every write whole and notes which call took it.
    #[derive(Default)]
    struct Calls(Vec<&'static str>);

    impl AsyncRead for Calls {
        fn poll_read(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            _: &mut tokio::io::ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    impl AsyncWrite for Calls {
        fn poll_write(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            self.0.push("write");
            Poll::Ready(Ok(buf.len()))
        }
        fn poll_write_vectored(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            bufs: &[IoSlice<'_>],
        ) -> Poll<io::Result<usize>> {
            self.0.push("write_vectored");
            Poll::Ready(Ok(bufs.iter().map(|b| b.len()).sum()))
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    unconnected_stream!(Calls);

    /// A stream that says it spends tokio's budget and whose writes always wait.
    struct Waits;

    impl AsyncRead for Waits {
        fn poll_read(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            _: &mut tokio::io::ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            Poll::Pending
        }
    }

    impl AsyncWrite for Waits {
        fn poll_write(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            _: &[u8],
        ) -> Poll<io::Result<usize>> {
            Poll::Pending
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    unconnected_stream!(Waits, true);

    /// Whether a write to [`Waits`] in a task with `budget_spent` or not gave way.
    async fn gave_way(budget_spent: bool) -> bool {
        let mut transport = StreamTransport::new(Waits, nobody());
        std::future::poll_fn(|cx| {
            if budget_spent {
                while let Poll::Ready(progress) = tokio::task::coop::poll_proceed(cx) {
                    progress.made_progress();
                }
            }
            let write = transport.write_vectored(&[IoSlice::new(b"abc")]);
            assert_eq!(write.map_err(|e| e.kind()), Err(ErrorKind::WouldBlock));
            Poll::Ready(())
        })
        .await;
        transport.gave_way()
    }

    #[tokio::test]
    async fn a_wait_with_the_task_budget_spent_gives_way_and_one_with_budget_left_is_the_sockets() {
        assert!(gave_way(true).await);
        // The task's next poll has a fresh budget.
        tokio::task::yield_now().await;
        assert!(!gave_way(false).await);
        // Outside a tokio task there is no budget to spend.
        let mut transport = StreamTransport::new(Waits, nobody());
        assert!(transport.write_vectored(&[IoSlice::new(b"abc")]).is_err());
        assert!(!transport.gave_way());
    }

    #[test]
    fn a_lone_buffer_goes_as_a_plain_write_and_several_as_one_vectored_write() {
        let mut transport = StreamTransport::new(Calls::default(), nobody());
        let one = transport.write_vectored(&[IoSlice::new(b"abc")]);
        let two = transport.write_vectored(&[IoSlice::new(b"ab"), IoSlice::new(b"cd")]);
        assert_eq!((one.ok(), two.ok()), (Some(3), Some(4)));
        assert_eq!(transport.stream.0, ["write", "write_vectored"]);
    }
}
