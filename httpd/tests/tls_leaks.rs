//! Failed TLS handshakes free everything (feature `tls`): after hundreds of them, this
//! process's open descriptors are back where they were and its memory has not grown by what
//! the failed sessions held. One test alone in its binary, so nothing else moves the counts.
mod tls_util;
mod util;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

use httpd::{ClientAuth, Config};
use tls_util::*;
use util::IO_TIMEOUT;

/// One failed handshake of kind `i % 4`, waited for until the server closes it.
fn fail_once(addr: SocketAddr, hello: &[u8], i: usize) {
    match i % 4 {
        // Plain HTTP: an alert and a close.
        0 | 1 => {
            let mut s = TcpStream::connect(addr).unwrap();
            s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
            let input: &[u8] = if i % 4 == 0 {
                b"GET / HTTP/1.1\r\n\r\n"
            } else {
                &hello[..hello.len() / 2]
            };
            s.write_all(input).unwrap();
            if i % 4 == 1 {
                // Half a ClientHello, then the client gives up.
                s.shutdown(std::net::Shutdown::Write).unwrap();
            }
            let mut sink = Vec::new();
            let _ = s.read_to_end(&mut sink);
        }
        // No client certificate, or one from another CA: refused in the handshake.
        2 => {
            let config = client_config(Versions::Tls12, &[b"http/1.1"], None);
            assert!(tls_connect(addr, &config).is_err());
        }
        _ => {
            let config = client_config(Versions::Both, &[b"http/1.1"], Some(&pki().mallory));
            if let Ok(mut s) = tls_connect(addr, &config) {
                // TLS 1.3: the refusal arrives after the client's Finished.
                let _ = s.write_all(b"GET /hello HTTP/1.1\r\n\r\n");
                let mut sink = Vec::new();
                assert!(s.read_to_end(&mut sink).is_err() || sink.is_empty());
            }
        }
    }
}

#[test]
fn hundreds_of_failed_handshakes_leave_descriptors_and_memory_where_they_were() {
    let server = tls_server(
        Config::builder()
            .max_open_sockets(64)
            .backlog_conn(128)
            .max_uri_handlers(16),
        server_tls().client_ca_pem(pki().ca_pem.clone(), ClientAuth::Required),
    );
    let addr = server.local_addr();
    let hello = client_hello();
    let good = client_config(Versions::Both, &[b"http/1.1"], Some(&pki().alice));
    // Warm up: the allocator's arenas, the session table, the session cache.
    for i in 0..100 {
        fail_once(addr, &hello, i);
    }
    assert_eq!(https(addr, &good).get("/whoami").text(), "alice");
    wait_until_no_sessions(&server);
    let (fds, mem) = (open_fds(), rss());
    for i in 0..400 {
        fail_once(addr, &hello, i);
    }
    wait_until_no_sessions(&server);
    let (fds_after, mem_after) = (open_fds(), rss());
    eprintln!(
        "400 failed handshakes: descriptors {fds} -> {fds_after}, RSS {} KiB -> {} KiB",
        mem / 1024,
        mem_after / 1024
    );
    assert_eq!(fds_after, fds, "descriptors leaked");
    // A leaked TLS session holds tens of KiB: 400 would be megabytes.
    assert!(
        mem_after < mem + 2 * 1024 * 1024,
        "memory grew from {mem} to {mem_after}"
    );
    assert_eq!(https(addr, &good).get("/whoami").text(), "alice");
}
