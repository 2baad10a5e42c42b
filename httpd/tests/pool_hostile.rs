//! Hostile and random clients against requests that run on workers: uploads cut at random
//! points, bodies that lie about their length, garbage pipelined after a relayed request,
//! clients that never read, a pool too small for the crowd. Each connection must end in a
//! response or a close, never a hang or a panic, and a canary client must keep being served
//! throughout; at the end every session is gone.
mod util;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::mpsc;
use std::time::Duration;

use httpd::{Config, Handler, Method, Server};
use util::{start, Client, Rng, IO_TIMEOUT};

fn server() -> Server {
    let server = start(
        Config::builder()
            .worker_threads(2)
            .worker_queue_len(2)
            .recv_wait_timeout(Duration::from_millis(300))
            .send_wait_timeout(Duration::from_millis(300))
            .max_body_len(Some(1 << 20)),
    );
    util::register_hello(&server);
    for method in [Method::Post, Method::Put] {
        server
            .register(Handler::new("/echo", method, |req| {
                let body = req.read_body(1 << 20)?;
                req.send(&body)
            }))
            .unwrap();
    }
    server
        .register(
            Handler::new("/stream", Method::Post, |req| {
                let mut buf = [0u8; 8192];
                loop {
                    match req.recv(&mut buf)? {
                        0 => return req.send_chunk(b""),
                        n => req.send_chunk(&buf[..n])?,
                    }
                }
            })
            .blocking(),
        )
        .unwrap();
    server
}

/// One hostile or random exchange on a fresh connection.
fn exchange(addr: std::net::SocketAddr, rng: &mut Rng) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    let len = [0, 10, 20_000, 100_000, 300_000][rng.below(5)];
    let path = ["/echo", "/stream"][rng.below(2)];
    let chunked = rng.below(3) == 0;
    let head = if chunked {
        format!("POST {path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
    } else {
        // Sometimes the length is a lie: more or less than what follows.
        let claimed = match rng.below(6) {
            0 => len + 1 + rng.below(1000),
            1 => len.saturating_sub(1 + rng.below(1000)),
            _ => len,
        };
        format!("POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {claimed}\r\n\r\n")
    };
    let mut bytes = head.into_bytes();
    let body = vec![b'b'; len];
    if chunked {
        for part in body.chunks(7000) {
            bytes.extend_from_slice(format!("{:x}\r\n", part.len()).as_bytes());
            bytes.extend_from_slice(part);
            bytes.extend_from_slice(b"\r\n");
        }
        if rng.below(4) == 0 {
            bytes.extend_from_slice(b"zz\r\n"); // a bad chunk line
        } else {
            bytes.extend_from_slice(b"0\r\n\r\n");
        }
    } else {
        bytes.extend_from_slice(&body);
    }
    match rng.below(4) {
        0 => bytes.extend_from_slice(b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"),
        1 => bytes.extend_from_slice(b"\x00\x01garbage\r\n\r\n"),
        _ => {}
    }
    // Cut the upload short sometimes, then close or go silent.
    let cut = rng.below(3) == 0;
    let sent = if cut {
        rng.below(bytes.len())
    } else {
        bytes.len()
    };
    // The server may close first (413, 503, a bad chunk line): a failed write is fine.
    let _ = s.write_all(&bytes[..sent]);
    match rng.below(3) {
        0 => {
            let _ = s.shutdown(Shutdown::Write);
        }
        1 if cut => return, // dropped: the connection closes mid-request
        _ => {}
    }
    // Read until the server closes or goes quiet (a kept-alive connection whose requests were
    // all answered): bounded by the server's 300 ms waits and the read timeout.
    s.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

#[test]
fn random_hostile_uploads_on_a_small_pool_never_hang_the_server() {
    let server = server();
    let addr = server.local_addr();
    let mut canary = Client::connect(addr);
    let rounds = 60;
    let (done_tx, done) = mpsc::channel();
    for t in 0..4u64 {
        let done_tx = done_tx.clone();
        std::thread::spawn(move || {
            let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ (t + 1).wrapping_mul(0x1234_5678_9abc));
            for _ in 0..rounds / 4 {
                exchange(addr, &mut rng);
            }
            let _ = done_tx.send(());
        });
    }
    drop(done_tx);
    let mut finished = 0;
    while finished < 4 {
        assert_eq!(canary.get("/hello").status, 200, "the canary is served");
        match done.recv_timeout(Duration::from_millis(20)) {
            Ok(()) => finished += 1,
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    assert_eq!(finished, 4, "every client thread finished");
    // Nothing is left behind: every hostile session closed (the canary's is the one left).
    let deadline = std::time::Instant::now() + IO_TIMEOUT;
    loop {
        let (tx, rx) = mpsc::channel();
        server
            .queue_work(move |ctx| {
                let _ = tx.send(ctx.clients().len());
            })
            .unwrap();
        let open = rx.recv_timeout(IO_TIMEOUT).unwrap();
        if open == 1 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{open} sessions still open"
        );
        assert_eq!(canary.get("/hello").status, 200);
    }
    // And a large upload still goes through the pool.
    let resp = Client::connect(addr).request("PUT", "/echo", &vec![b'z'; 200_000]);
    assert_eq!(resp.body.len(), 200_000);
}
