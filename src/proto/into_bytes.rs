//! What a write takes: anything that becomes the [`Bytes`] that `sent` receives and the
//! connection writes. `Into<Bytes>` alone would refuse borrowed data that is not `'static`
//! (`&self.buf[..n]`, `&vec`), which a write must keep accepting; this trait takes both, and
//! says which of them is copied.

use bytes::{Bytes, BytesMut};
use std::borrow::Cow;

/// Data a connection can write ([`TcpConnection::write`](crate::TcpConnection::write),
/// `writev`, `write_final`, and a [`ConnectionHandle`](crate::ConnectionHandle)'s), turned
/// into the [`Bytes`] that `sent` receives and the socket is given.
///
/// Owned data moves in without a copy: a `Bytes` (shared or not: a clone of one written many
/// times is never copied), a `BytesMut`, `Vec<u8>`, `String`, `Box<[u8]>`, and a `&Bytes`,
/// which is cloned (a reference count, not the bytes). Borrowed data (`&[u8]`, `&[u8; N]`,
/// `&str`, `&Vec<u8>`, `&String`) and arrays are copied once.
///
/// ```
/// use tcpnotify::{Bytes, IntoBytes};
///
/// // A shared chunk: each write hands on the same memory.
/// let chunk = Bytes::from(vec![7u8; 4096]);
/// let written = chunk.slice(..1024).into_bytes();
/// assert_eq!(written.as_ptr(), chunk.as_ptr());
///
/// // An owned buffer moves in as it is.
/// let buffer = b"owned".to_vec();
/// let at = buffer.as_ptr();
/// assert_eq!(buffer.into_bytes().as_ptr(), at);
///
/// // Borrowed data is copied.
/// let text = String::from("borrowed");
/// assert_eq!(text.as_str().into_bytes(), "borrowed");
/// ```
pub trait IntoBytes {
    /// The data as `Bytes`, copied only if it was borrowed.
    fn into_bytes(self) -> Bytes;
}

/// Owned types that become `Bytes` without a copy through the `bytes` crate's own conversion.
macro_rules! moved {
    ($($owned:ty),* $(,)?) => {$(
        impl IntoBytes for $owned {
            #[inline]
            fn into_bytes(self) -> Bytes {
                Bytes::from(self)
            }
        }
    )*};
}

moved!(Bytes, Vec<u8>, String, Box<[u8]>);

impl IntoBytes for BytesMut {
    #[inline]
    fn into_bytes(self) -> Bytes {
        self.freeze()
    }
}

impl IntoBytes for &Bytes {
    #[inline]
    fn into_bytes(self) -> Bytes {
        self.clone()
    }
}

/// Borrowed types: copied once.
macro_rules! copied {
    ($($borrowed:ty),* $(,)?) => {$(
        impl IntoBytes for $borrowed {
            #[inline]
            fn into_bytes(self) -> Bytes {
                Bytes::copy_from_slice(self.as_ref())
            }
        }
    )*};
}

copied!(&[u8], &mut [u8], &str, &Vec<u8>, &String, &BytesMut);

impl<const N: usize> IntoBytes for &[u8; N] {
    #[inline]
    fn into_bytes(self) -> Bytes {
        Bytes::copy_from_slice(self)
    }
}

impl<const N: usize> IntoBytes for [u8; N] {
    #[inline]
    fn into_bytes(self) -> Bytes {
        Bytes::copy_from_slice(&self)
    }
}

/// Moved when owned, copied when borrowed.
impl IntoBytes for Cow<'_, [u8]> {
    #[inline]
    fn into_bytes(self) -> Bytes {
        match self {
            Cow::Owned(owned) => owned.into_bytes(),
            Cow::Borrowed(borrowed) => borrowed.into_bytes(),
        }
    }
}

/// Moved when owned, copied when borrowed.
impl IntoBytes for Cow<'_, str> {
    #[inline]
    fn into_bytes(self) -> Bytes {
        match self {
            // Not `owned.into_bytes()`: `String`'s own method of that name gives a `Vec<u8>`.
            Cow::Owned(owned) => IntoBytes::into_bytes(owned),
            Cow::Borrowed(borrowed) => borrowed.into_bytes(),
        }
    }
}
