//! Hostile clients at the TLS port (feature `tls`): stalled mid-handshake, half a ClientHello,
//! plain HTTP or garbage. None of them delays another client; stalled ones are closed at the
//! handshake deadline, and bytes that cannot be TLS get an alert and a close at once.
mod tls_util;
mod util;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use httpd::Config;
use tls_util::*;
use util::IO_TIMEOUT;

/// Reads until the server closes; returns what came and when the close was seen.
fn read_until_close(s: &mut TcpStream) -> (Vec<u8>, Instant) {
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return (got, Instant::now()),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                return (got, Instant::now())
            }
            Err(e) => panic!("no close within {IO_TIMEOUT:?}: {e}"),
        }
    }
}

fn raw(addr: std::net::SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    s
}

#[test]
fn six_clients_stalled_mid_handshake_delay_no_normal_client() {
    const DEADLINE: Duration = Duration::from_secs(2);
    let server = tls_server(
        // A host-sized backlog: with ESP-IDF's 5, a burst of 7 connections can overflow it
        // before the loop accepts, and the kernel's SYN retry costs a client 1 s.
        Config::builder()
            .max_open_sockets(64)
            .backlog_conn(128)
            .max_uri_handlers(16),
        server_tls().handshake_timeout(DEADLINE),
    );
    let addr = server.local_addr();
    let hello = client_hello();
    let opened = Instant::now();
    let mut stalled = Vec::new();
    for i in 0..6 {
        let mut s = raw(addr);
        match i % 3 {
            0 => {}                                               // connects, says nothing
            1 => s.write_all(&hello[..hello.len() / 2]).unwrap(), // half a ClientHello
            _ => s.write_all(&hello[..5]).unwrap(),               // a record header only
        }
        stalled.push(s);
    }
    let config = default_client();
    let mut worst = Duration::ZERO;
    for _ in 0..5 {
        let start = Instant::now();
        let mut c = https(addr, &config);
        let r = c.get("/hello");
        let took = start.elapsed();
        assert_eq!(r.status, 200);
        worst = worst.max(took);
    }
    eprintln!("normal client, full handshake + request, 6 stalled: worst {worst:?}");
    assert!(
        worst < Duration::from_millis(250),
        "a normal client took {worst:?} while 6 clients were stalled"
    );
    assert!(
        opened.elapsed() < DEADLINE,
        "the stalled clients were still mid-handshake throughout"
    );
    for mut s in stalled {
        let (got, closed) = read_until_close(&mut s);
        let after = closed - opened;
        assert!(
            after >= DEADLINE - Duration::from_millis(100) && after < DEADLINE * 3,
            "closed {after:?} after connecting, deadline {DEADLINE:?}"
        );
        // Nothing HTTP ever came back.
        assert!(!got.starts_with(b"HTTP/"));
    }
}

#[test]
fn plain_http_and_garbage_get_an_alert_and_a_close_at_once() {
    let server = default_server();
    let addr = server.local_addr();
    let inputs: [&[u8]; 4] = [
        b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n",
        b"\x00\x01\x02\x03garbage garbage garbage",
        // A handshake record that is not a ClientHello.
        b"\x16\x03\x01\x00\x04\x0e\x00\x00\x00",
        // A record longer than TLS allows.
        b"\x16\x03\x01\xff\xff",
    ];
    for input in inputs {
        let mut s = raw(addr);
        let start = Instant::now();
        s.write_all(input).unwrap();
        let (got, closed) = read_until_close(&mut s);
        let took = closed - start;
        assert!(
            took < Duration::from_secs(2),
            "{input:?}: closed after {took:?}"
        );
        // A TLS alert record (content type 21), never an HTTP answer.
        assert_eq!(got.first(), Some(&0x15), "{input:?}: got {got:?}");
        assert!(!got.starts_with(b"HTTP/"));
    }
    let mut c = https(addr, &default_client());
    assert_eq!(c.get("/hello").status, 200, "still serving");
}

#[test]
fn a_client_that_hangs_up_mid_handshake_is_closed_at_once() {
    let server = default_server();
    let addr = server.local_addr();
    let hello = client_hello();
    let mut s = raw(addr);
    s.write_all(&hello[..hello.len() / 2]).unwrap();
    s.shutdown(std::net::Shutdown::Write).unwrap();
    let start = Instant::now();
    let (_, closed) = read_until_close(&mut s);
    assert!(closed - start < Duration::from_secs(2));
    wait_until_no_sessions(&server);
}

#[test]
fn connections_in_their_handshake_count_toward_max_open_sockets() {
    const DEADLINE: Duration = Duration::from_millis(600);
    let server = tls_server(
        Config::builder().max_open_sockets(2).max_uri_handlers(16),
        server_tls().handshake_timeout(DEADLINE),
    );
    let addr = server.local_addr();
    let start = Instant::now();
    let _a = raw(addr);
    let _b = raw(addr);
    // Both sessions are open (in their handshakes) before the third client comes.
    let deadline = Instant::now() + IO_TIMEOUT;
    while server.clients().len() < 2 {
        assert!(Instant::now() < deadline, "stalled clients not accepted");
        std::thread::yield_now();
    }
    let mut c = https(addr, &default_client());
    assert_eq!(c.get("/hello").status, 200);
    let waited = start.elapsed();
    assert!(
        waited >= DEADLINE - Duration::from_millis(50),
        "served after {waited:?}: the table was full until a handshake deadline"
    );
}
