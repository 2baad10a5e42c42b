//! The ceiling server: a bare mio loop that answers every `\r\n\r\n` it reads with a fixed
//! response, without parsing anything. What one core can do when a request costs only its
//! syscalls: the upper bound for the others.

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr};

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use slab::Slab;

/// The same shape as the others' answers (status, server, type, length, date, body).
const RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\nServer: ceiling\r\nContent-Type: text/plain\r\n\
Content-Length: 13\r\nDate: Mon, 01 Jan 2024 00:00:00 GMT\r\n\r\nHello, World!";

const LISTENER: Token = Token(usize::MAX);

struct Conn {
    stream: TcpStream,
    /// Bytes of `\r\n\r\n` matched at the end of what was read so far (0..=3).
    matched: u8,
    /// Responses not yet taken by the socket; empty (unallocated) while idle.
    out: Vec<u8>,
}

/// Counts the `\r\n\r\n` sequences in `data`, carrying a partial match across reads.
pub(crate) fn count_heads(matched: &mut u8, data: &[u8]) -> usize {
    let mut count = 0;
    let mut state = *matched;
    for &b in data {
        state = match (state, b) {
            (0 | 2, b'\r') => state + 1,
            (1, b'\n') => 2,
            (3, b'\n') => {
                count += 1;
                0
            }
            (_, b'\r') => 1,
            _ => 0,
        };
    }
    *matched = state;
    count
}

/// Serves on 127.0.0.1:`port` until the process is killed.
pub(crate) fn run(port: u16) -> io::Result<()> {
    let mut poll = Poll::new()?;
    let mut listener = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))?;
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)?;
    let mut conns: Slab<Conn> = Slab::new();
    let mut events = Events::with_capacity(1024);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        if let Err(e) = poll.poll(&mut events, None) {
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        for event in &events {
            if event.token() == LISTENER {
                accept(&mut poll, &mut listener, &mut conns);
                continue;
            }
            let key = event.token().0;
            let Some(conn) = conns.get_mut(key) else {
                continue;
            };
            let open = serve(conn, &mut buf);
            if !open {
                let mut conn = conns.remove(key);
                let _ = poll.registry().deregister(&mut conn.stream);
            }
        }
    }
}

fn accept(poll: &mut Poll, listener: &mut TcpListener, conns: &mut Slab<Conn>) {
    loop {
        match listener.accept() {
            Ok((mut stream, _)) => {
                let _ = stream.set_nodelay(true);
                let entry = conns.vacant_entry();
                let token = Token(entry.key());
                if poll
                    .registry()
                    .register(&mut stream, token, Interest::READABLE | Interest::WRITABLE)
                    .is_ok()
                {
                    entry.insert(Conn {
                        stream,
                        matched: 0,
                        out: Vec::new(),
                    });
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            // Out of descriptors or an aborted handshake: the others go on.
            Err(_) => return,
        }
    }
}

/// Reads everything available, answers each request head, writes what the socket takes.
/// Returns whether the connection stays open. Edge-triggered: reads go on until the socket
/// is drained, which a short read already shows (data arriving after it raises a new edge;
/// tokio and httpd save the extra `EAGAIN` read the same way), and writes until done or
/// `WouldBlock`.
fn serve(conn: &mut Conn, buf: &mut [u8]) -> bool {
    loop {
        match conn.stream.read(buf) {
            Ok(0) => return false,
            Ok(n) => {
                let heads = count_heads(&mut conn.matched, &buf[..n]);
                for _ in 0..heads {
                    conn.out.extend_from_slice(RESPONSE);
                }
                if n < buf.len() {
                    break;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
    let mut written = 0;
    while written < conn.out.len() {
        match conn.stream.write(&conn.out[written..]) {
            Ok(0) => return false,
            Ok(n) => written += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
    conn.out.drain(..written);
    if conn.out.is_empty() && conn.out.capacity() > 4096 {
        conn.out = Vec::new();
    }
    true
}

#[cfg(test)]
mod tests {
    use super::count_heads;

    #[test]
    fn counts_heads_split_anywhere() {
        let two = b"GET / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\n\r\n";
        for split in 0..=two.len() {
            let mut matched = 0;
            let n =
                count_heads(&mut matched, &two[..split]) + count_heads(&mut matched, &two[split..]);
            assert_eq!(n, 2, "split at {split}");
            assert_eq!(matched, 0);
        }
        let mut matched = 0;
        assert_eq!(count_heads(&mut matched, b"\r\r\n\r\n\n\r\n"), 1);
        assert_eq!(matched, 2);
    }
}
