//! Round-trip latency on one connection, measured request by request: plain keep-alive
//! `GET /hello`, the same while other clients are stuck in the middle of their request heads,
//! and a WebSocket echo. The server is httpd, in this process, on loopback.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use httpd::{Config, Handler, Method, Server, WsHandler};

/// Latency figures of one run, in microseconds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Latency {
    /// Round trips measured.
    pub(crate) n: usize,
    /// Median.
    pub(crate) p50_us: f64,
    /// 99th percentile.
    pub(crate) p99_us: f64,
    /// Slowest.
    pub(crate) max_us: f64,
}

impl Latency {
    fn from_samples(mut samples: Vec<Duration>) -> Latency {
        samples.sort_unstable();
        let at = |q: f64| {
            let i = ((samples.len() as f64 - 1.0) * q).round() as usize;
            samples[i].as_secs_f64() * 1e6
        };
        Latency {
            n: samples.len(),
            p50_us: at(0.5),
            p99_us: at(0.99),
            max_us: at(1.0),
        }
    }
}

fn server(recv_wait: Duration) -> Server {
    let config = Config::builder()
        .bind_addr([127, 0, 0, 1].into())
        .port(0)
        .max_open_sockets(32)
        .recv_wait_timeout(recv_wait)
        .header_timeout(recv_wait)
        .build()
        .expect("valid config");
    let server = Server::start(config).expect("server starts");
    server
        .register(Handler::new("/hello", Method::Get, |req| {
            req.send_str("Hello World!")
        }))
        .expect("register /hello");
    server
        .register(WsHandler::new("/ws", |conn, frame| {
            conn.send_binary(frame.payload())
        }))
        .expect("register /ws");
    server
}

/// Times `n` sequential `GET /hello` round trips on one keep-alive connection.
fn hello_round_trips(addr: SocketAddr, n: usize) -> Latency {
    const REQUEST: &[u8] = b"GET /hello HTTP/1.1\r\nHost: bench\r\n\r\n";
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut buf = [0u8; 1024];
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let start = Instant::now();
        stream.write_all(REQUEST).expect("send");
        let mut got = 0;
        // The response ends with its 12-byte body.
        while !buf[..got].ends_with(b"Hello World!") {
            let k = stream.read(&mut buf[got..]).expect("response");
            assert!(k > 0, "server closed the connection");
            got += k;
        }
        samples.push(start.elapsed());
    }
    Latency::from_samples(samples)
}

/// Plain keep-alive round trips (`rtt`).
pub(crate) fn rtt(n: usize) -> Latency {
    let server = server(Duration::from_secs(5));
    hello_round_trips(server.local_addr(), n / 10 + 1); // warm-up
    let result = hello_round_trips(server.local_addr(), n);
    server.stop();
    result
}

/// Round trips while `stuck` other clients have sent half a request head and gone silent
/// (`stalls`). Their timeouts are long, so they stay stuck for the whole measurement.
pub(crate) fn stalls(n: usize, stuck: usize) -> (Latency, Latency) {
    let server = server(Duration::from_secs(300));
    let addr = server.local_addr();
    hello_round_trips(addr, n / 10 + 1); // warm-up
    let baseline = hello_round_trips(addr, n);
    let held: Vec<TcpStream> = (0..stuck)
        .map(|i| {
            let mut s = TcpStream::connect(addr).expect("connect");
            s.write_all(
                format!("GET /hello HTTP/1.1\r\nHost: bench\r\nX-Stuck-{i}: half a head")
                    .as_bytes(),
            )
            .expect("send half a head");
            s
        })
        .collect();
    let with_stuck = hello_round_trips(addr, n);
    drop(held);
    server.stop();
    (baseline, with_stuck)
}

/// Times `n` WebSocket echo round trips of a 16-byte binary message (`ws-rtt`).
pub(crate) fn ws_rtt(n: usize) -> Latency {
    let server = server(Duration::from_secs(5));
    let addr = server.local_addr();
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    stream
        .write_all(
            b"GET /ws HTTP/1.1\r\nHost: bench\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        )
        .expect("handshake");
    let mut head = Vec::new();
    let mut byte = [0u8];
    while !head.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte).expect("101");
        head.push(byte[0]);
    }
    assert!(head.starts_with(b"HTTP/1.1 101 "), "handshake refused");
    // A masked 16-byte binary frame, as a client sends it; the echo is 2 + 16 bytes.
    let mut frame = vec![0x82, 0x80 | 16, 1, 2, 3, 4];
    frame.extend((0..16u8).map(|i| i ^ [1, 2, 3, 4][usize::from(i % 4)]));
    let mut echo = [0u8; 18];
    let mut round = |stream: &mut TcpStream| {
        let start = Instant::now();
        stream.write_all(&frame).expect("send frame");
        stream.read_exact(&mut echo).expect("echo");
        debug_assert_eq!(&echo[2..], &(0..16u8).collect::<Vec<_>>()[..]);
        start.elapsed()
    };
    for _ in 0..n / 10 + 1 {
        round(&mut stream);
    }
    let samples = (0..n).map(|_| round(&mut stream)).collect();
    server.stop();
    Latency::from_samples(samples)
}

/// Prints one line for a run.
pub(crate) fn print(name: &str, l: &Latency) {
    println!(
        "{name}: n={} p50={:.1}us p99={:.1}us max={:.1}us",
        l.n, l.p50_us, l.p99_us, l.max_us
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles() {
        let l = Latency::from_samples((1..=100).map(Duration::from_micros).collect());
        assert_eq!(
            (l.n, l.p50_us.round(), l.p99_us.round(), l.max_us),
            (100, 51.0, 99.0, 100.0)
        );
    }

    #[test]
    fn every_mode_runs() {
        assert_eq!(rtt(50).n, 50);
        let (base, stuck) = stalls(50, 6);
        assert_eq!((base.n, stuck.n), (50, 50));
        assert_eq!(ws_rtt(50).n, 50);
    }
}
