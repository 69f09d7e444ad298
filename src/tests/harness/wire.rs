//! A scriptable socket: a test keeps a [`Wire`], the machine owns the [`Transport`] made from
//! it; reads come from a script, writes are taken up to a capacity and recorded.

use super::addr;
use crate::proto::{ReadBuf, Transport};
use std::collections::VecDeque;
use std::io::{self, ErrorKind, IoSlice};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

/// One scripted result of `read`.
pub(crate) enum Read {
    Data(Vec<u8>),
    WouldBlock,
    Eof,
    Error(ErrorKind),
}

/// The scripted socket state, shared between a test and the transport the machine owns.
#[derive(Default)]
pub(crate) struct WireState {
    /// What the next reads return; empty means `WouldBlock`.
    reads: VecDeque<Read>,
    /// Bytes the socket still takes before `WouldBlock`; `None` is unlimited.
    capacity: Option<usize>,
    /// Most bytes one write call takes, to force partial writes; `None` is unlimited.
    per_call: Option<usize>,
    /// Every write fails with this error.
    write_error: Option<ErrorKind>,
    /// The next write alone fails with this error.
    next_write_error: Option<ErrorKind>,
    /// How many of the next writes give way (`WouldBlock` with the runtime's budget spent).
    give_way: usize,
    /// Whether the last write gave way.
    gave_way: bool,
    written: Vec<u8>,
    /// Where the bytes each write took were read from: (address, length) per slice taken.
    taken_from: Vec<(usize, usize)>,
    write_calls: usize,
    /// Calls of `local_address` and `remote_address`.
    address_calls: usize,
    read_sizes: Vec<usize>,
    shut: bool,
    /// The next shutdown fails with this error instead.
    next_shutdown_error: Option<ErrorKind>,
    nodelay: bool,
    keepalive: u32,
    dropped: bool,
}

/// A scriptable socket: a test keeps one clone, the machine owns the transport made from it.
#[derive(Clone)]
pub(crate) struct Wire {
    state: Arc<Mutex<WireState>>,
    port: u16,
}

impl Wire {
    /// A socket that takes every write, whose transport reports `127.0.0.1:port` as its address.
    pub(crate) fn new(port: u16) -> Wire {
        Wire {
            state: Arc::default(),
            port,
        }
    }

    fn lock(&self) -> MutexGuard<'_, WireState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The transport to hand to the machine.
    pub(crate) fn transport(&self) -> Box<dyn Transport> {
        Box::new(FakeTransport { wire: self.clone() })
    }

    /// The peer sends `data`: one read returns it (or its first `max` bytes).
    pub(crate) fn push(&self, data: impl Into<Vec<u8>>) -> &Self {
        let data = data.into();
        assert!(
            !data.is_empty(),
            "an empty read is end of stream: use push_eof"
        );
        self.lock().reads.push_back(Read::Data(data));
        self
    }

    /// The next read says there is nothing yet.
    pub(crate) fn push_would_block(&self) -> &Self {
        self.lock().reads.push_back(Read::WouldBlock);
        self
    }

    /// The peer closes: a read returns `Ok(0)`.
    pub(crate) fn push_eof(&self) -> &Self {
        self.lock().reads.push_back(Read::Eof);
        self
    }

    /// A read fails with `kind`.
    pub(crate) fn push_error(&self, kind: ErrorKind) -> &Self {
        self.lock().reads.push_back(Read::Error(kind));
        self
    }

    /// Scripted reads not consumed yet.
    pub(crate) fn unread(&self) -> usize {
        self.lock().reads.len()
    }

    /// The `max` of every read call so far.
    pub(crate) fn read_sizes(&self) -> Vec<usize> {
        self.lock().read_sizes.clone()
    }

    /// From now on writes would block until [`grant`](Self::grant).
    pub(crate) fn block_writes(&self) -> &Self {
        self.lock().capacity = Some(0);
        self
    }

    /// The socket takes `n` more bytes.
    pub(crate) fn grant(&self, n: usize) -> &Self {
        let mut state = self.lock();
        state.capacity = Some(state.capacity.unwrap_or(0) + n);
        drop(state);
        self
    }

    /// Writes are taken whole again (no more capacity limit).
    pub(crate) fn unblock_writes(&self) -> &Self {
        self.lock().capacity = None;
        self
    }

    /// One write call takes at most `n` bytes.
    pub(crate) fn per_call(&self, n: usize) -> &Self {
        self.lock().per_call = Some(n);
        self
    }

    /// The next `n` writes would block because the task must give way to others (as a tokio
    /// socket does once its task's cooperative budget is spent), not because the socket is
    /// full.
    pub(crate) fn give_way(&self, n: usize) -> &Self {
        self.lock().give_way = n;
        self
    }

    /// Every write fails with `kind`.
    pub(crate) fn fail_writes(&self, kind: ErrorKind) -> &Self {
        self.lock().write_error = Some(kind);
        self
    }

    /// The next shutdown of the write side fails with `kind`; later ones succeed.
    pub(crate) fn fail_next_shutdown(&self, kind: ErrorKind) -> &Self {
        self.lock().next_shutdown_error = Some(kind);
        self
    }

    /// The next write call fails with `kind`; later ones go on as before.
    pub(crate) fn fail_next_write(&self, kind: ErrorKind) -> &Self {
        self.lock().next_write_error = Some(kind);
        self
    }

    /// Everything written so far, in order.
    pub(crate) fn written(&self) -> Vec<u8> {
        self.lock().written.clone()
    }

    /// [`written`](Self::written) as text.
    pub(crate) fn written_str(&self) -> String {
        String::from_utf8_lossy(&self.lock().written).into_owned()
    }

    /// The memory every write read its bytes from, in order: the address and length of each
    /// slice it took (the part of it taken, for the last one of a partial write). A test
    /// compares them with the buffers it wrote, to see that they reached the socket without
    /// a copy.
    pub(crate) fn taken_from(&self) -> Vec<(usize, usize)> {
        self.lock().taken_from.clone()
    }

    /// Calls of `write_vectored`, including the ones that would block or failed.
    pub(crate) fn write_calls(&self) -> usize {
        self.lock().write_calls
    }

    /// Calls of `local_address` and `remote_address`.
    pub(crate) fn address_calls(&self) -> usize {
        self.lock().address_calls
    }

    /// Whether the write side was shut (FIN sent).
    pub(crate) fn is_shut(&self) -> bool {
        self.lock().shut
    }

    /// Whether the machine dropped the transport (the socket was closed).
    pub(crate) fn is_dropped(&self) -> bool {
        self.lock().dropped
    }

    /// Nagle off?
    pub(crate) fn nodelay(&self) -> bool {
        self.lock().nodelay
    }

    /// The keepalive set last.
    pub(crate) fn keepalive(&self) -> u32 {
        self.lock().keepalive
    }
}

/// The [`Transport`] over a [`Wire`].
struct FakeTransport {
    wire: Wire,
}

impl Transport for FakeTransport {
    fn read(&mut self, buf: &mut ReadBuf<'_>) -> io::Result<()> {
        let mut state = self.wire.lock();
        let max = buf.remaining();
        state.read_sizes.push(max);
        match state.reads.pop_front() {
            None | Some(Read::WouldBlock) => Err(ErrorKind::WouldBlock.into()),
            Some(Read::Eof) => Ok(()),
            Some(Read::Error(kind)) => Err(kind.into()),
            Some(Read::Data(data)) => {
                let n = buf.put_slice(&data);
                if n < data.len() {
                    state.reads.push_front(Read::Data(data[n..].to_vec()));
                }
                Ok(())
            }
        }
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        let mut state = self.wire.lock();
        state.write_calls += 1;
        state.gave_way = state.give_way > 0;
        if state.gave_way {
            state.give_way -= 1;
            return Err(ErrorKind::WouldBlock.into());
        }
        if let Some(kind) = state.next_write_error.take().or(state.write_error) {
            return Err(kind.into());
        }
        let offered: usize = bufs.iter().map(|b| b.len()).sum();
        let take = offered
            .min(state.per_call.unwrap_or(usize::MAX))
            .min(state.capacity.unwrap_or(usize::MAX));
        if take == 0 {
            return Err(ErrorKind::WouldBlock.into());
        }
        let mut left = take;
        for buf in bufs {
            let n = buf.len().min(left);
            if n == 0 {
                continue;
            }
            state.written.extend_from_slice(&buf[..n]);
            state.taken_from.push((buf.as_ptr() as usize, n));
            left -= n;
        }
        if let Some(capacity) = state.capacity.as_mut() {
            *capacity -= take;
        }
        Ok(take)
    }

    fn gave_way(&self) -> bool {
        self.wire.lock().gave_way
    }

    fn shutdown_write(&mut self) -> io::Result<()> {
        let mut state = self.wire.lock();
        if let Some(kind) = state.next_shutdown_error.take() {
            return Err(kind.into());
        }
        state.shut = true;
        Ok(())
    }

    fn set_nodelay(&mut self, nodelay: bool) -> io::Result<()> {
        self.wire.lock().nodelay = nodelay;
        Ok(())
    }

    fn nodelay(&self) -> io::Result<bool> {
        Ok(self.wire.lock().nodelay)
    }

    fn set_keepalive(&mut self, secs: u32) -> io::Result<()> {
        self.wire.lock().keepalive = secs;
        Ok(())
    }

    fn local_address(&self) -> Option<SocketAddr> {
        self.wire.lock().address_calls += 1;
        Some(addr(self.wire.port))
    }

    fn remote_address(&self) -> Option<SocketAddr> {
        self.wire.lock().address_calls += 1;
        Some(addr(9))
    }
}

impl Drop for FakeTransport {
    fn drop(&mut self) {
        self.wire.lock().dropped = true;
    }
}
