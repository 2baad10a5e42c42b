//! Transport overrides (`httpd_sess_set_recv_override` / `send_override` /
//! `pending_override`): each connection's reads and writes go through a [`CSocketIo`], which
//! calls the program's functions once they are set and lets httpd use the socket otherwise.

use std::ffi::{c_char, c_int, c_void};
use std::io;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use httpd::SocketIo;

use crate::abi::*;
use crate::server::Inner;

/// A connection's override functions, as addresses (0: not set), so they can be set from any
/// thread while the server reads.
#[derive(Debug, Default)]
pub(crate) struct Overrides {
    recv: AtomicUsize,
    send: AtomicUsize,
    pending: AtomicUsize,
}

type RecvFn = unsafe extern "C" fn(httpd_handle_t, c_int, *mut c_char, usize, c_int) -> c_int;
type SendFn = unsafe extern "C" fn(httpd_handle_t, c_int, *const c_char, usize, c_int) -> c_int;
type PendingFn = unsafe extern "C" fn(httpd_handle_t, c_int) -> c_int;

impl Overrides {
    pub(crate) fn set_recv(&self, f: RecvFn) {
        self.recv.store(f as *const () as usize, Ordering::Release);
    }

    pub(crate) fn set_send(&self, f: SendFn) {
        self.send.store(f as *const () as usize, Ordering::Release);
    }

    pub(crate) fn set_pending(&self, f: PendingFn) {
        self.pending
            .store(f as *const () as usize, Ordering::Release);
    }

    pub(crate) fn recv_fn(&self) -> Option<RecvFn> {
        match self.recv.load(Ordering::Acquire) {
            0 => None,
            // SAFETY: a non-zero value was stored by `set_recv` from a function pointer of
            // exactly this type; function pointers round-trip through usize on every target
            // this crate builds for.
            f => Some(unsafe { std::mem::transmute::<usize, RecvFn>(f) }),
        }
    }

    pub(crate) fn send_fn(&self) -> Option<SendFn> {
        match self.send.load(Ordering::Acquire) {
            0 => None,
            // SAFETY: as in `recv_fn`, stored by `set_send` from a `SendFn`.
            f => Some(unsafe { std::mem::transmute::<usize, SendFn>(f) }),
        }
    }

    fn pending_fn(&self) -> Option<PendingFn> {
        match self.pending.load(Ordering::Acquire) {
            0 => None,
            // SAFETY: as in `recv_fn`, stored by `set_pending` from a `PendingFn`.
            f => Some(unsafe { std::mem::transmute::<usize, PendingFn>(f) }),
        }
    }
}

/// An ESP-IDF socket result as an `io::Result`.
pub(crate) fn sock_result(ret: c_int) -> io::Result<usize> {
    match ret {
        n if n >= 0 => Ok(n as usize),
        HTTPD_SOCK_ERR_TIMEOUT => Err(io::ErrorKind::WouldBlock.into()),
        HTTPD_SOCK_ERR_INVALID => Err(io::ErrorKind::InvalidInput.into()),
        _ => Err(io::ErrorKind::ConnectionReset.into()),
    }
}

/// The ESP-IDF socket error for the current `errno` (ESP-IDF's mapping).
pub(crate) fn sock_err_from_errno(e: &io::Error) -> c_int {
    match e.raw_os_error() {
        Some(libc::EAGAIN) | Some(libc::EINTR) => HTTPD_SOCK_ERR_TIMEOUT,
        Some(libc::EINVAL) | Some(libc::EBADF) | Some(libc::EFAULT) | Some(libc::ENOTSOCK) => {
            HTTPD_SOCK_ERR_INVALID
        }
        _ => HTTPD_SOCK_ERR_FAIL,
    }
}

/// The reads and writes of one connection of a C server.
pub(crate) struct CSocketIo {
    inner: Arc<Inner>,
    io: Arc<Overrides>,
}

impl CSocketIo {
    pub(crate) fn new(inner: Arc<Inner>, io: Arc<Overrides>) -> Self {
        CSocketIo { inner, io }
    }
}

impl SocketIo for CSocketIo {
    fn recv(&mut self, fd: RawFd, buf: &mut [u8]) -> Option<io::Result<usize>> {
        let f = self.io.recv_fn()?;
        // SAFETY: the program's recv override, called as ESP-IDF calls it: the handle, the
        // connection's descriptor, and a buffer valid for `buf.len()` bytes.
        let ret = unsafe {
            f(
                self.inner.handle(),
                fd,
                buf.as_mut_ptr().cast::<c_char>(),
                buf.len(),
                0,
            )
        };
        Some(sock_result(ret).map(|n| n.min(buf.len())))
    }

    fn send(&mut self, fd: RawFd, buf: &[u8]) -> Option<io::Result<usize>> {
        let f = self.io.send_fn()?;
        // SAFETY: the program's send override, called as ESP-IDF calls it, with a buffer valid
        // for `buf.len()` bytes.
        let ret = unsafe {
            f(
                self.inner.handle(),
                fd,
                buf.as_ptr().cast::<c_char>(),
                buf.len(),
                0,
            )
        };
        Some(sock_result(ret).map(|n| n.min(buf.len())))
    }

    fn pending(&mut self, fd: RawFd) -> usize {
        match self.io.pending_fn() {
            // SAFETY: the program's pending override, called as ESP-IDF calls it.
            Some(f) => usize::try_from(unsafe { f(self.inner.handle(), fd) }).unwrap_or(0),
            None => 0,
        }
    }
}

/// `recv(2)` on a descriptor, as ESP-IDF's default receive does.
pub(crate) fn default_recv(fd: c_int, buf: *mut c_void, len: usize, flags: c_int) -> c_int {
    // SAFETY: recv writes at most `len` bytes to `buf`, which the caller (the C program's
    // `httpd_socket_recv` call) provides with that size; a bad descriptor only fails.
    let n = unsafe { libc::recv(fd, buf, len, flags) };
    if n < 0 {
        return sock_err_from_errno(&io::Error::last_os_error());
    }
    c_int::try_from(n).unwrap_or(c_int::MAX)
}
