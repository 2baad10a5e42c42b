//! Fairness and hostile clients: no client can starve or stall another. "Not delayed" is shown
//! by order, not by timing: the stuck clients' timeouts are long (30 s), and the normal client
//! must be done while they are all still open.
mod util;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::Duration;

use httpd::{Config, Handler, Method, Server};
use util::{start, Client};

const LONG: Duration = Duration::from_secs(30);

fn server(builder: httpd::ConfigBuilder) -> Server {
    let server = start(builder);
    server
        .register(Handler::new("/hello", Method::Get, |req| {
            req.send_str("Hello World!")
        }))
        .unwrap();
    server
        .register(Handler::new("/big", Method::Get, |req| {
            req.send(vec![b'x'; 6 * 1024 * 1024])
        }))
        .unwrap();
    server
        .register(Handler::new("/echo", Method::Post, |req| {
            let body = req.read_body(1 << 20)?;
            req.send(&body)
        }))
        .unwrap();
    server
}

/// The server's open sessions, as seen from its own thread.
fn open_sessions(server: &Server) -> usize {
    let (tx, rx) = mpsc::channel();
    server
        .queue_work(move |ctx| {
            let _ = tx.send(ctx.clients().len());
        })
        .unwrap();
    rx.recv_timeout(util::IO_TIMEOUT).expect("queued work runs")
}

#[test]
fn a_pipelining_client_does_not_starve_another() {
    // Large enough that the flood takes far longer than 20 round trips, even on a loaded machine.
    const PIPELINED: usize = 100_000;
    let server = server(Config::builder());
    let addr = server.local_addr();
    let flood = TcpStream::connect(addr).unwrap();
    flood.set_read_timeout(Some(util::IO_TIMEOUT)).unwrap();
    let mut writer = flood.try_clone().unwrap();
    thread::spawn(move || {
        let requests = b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n".repeat(PIPELINED);
        let _ = writer.write_all(&requests);
    });
    // Count complete responses as they arrive.
    let received = Arc::new(AtomicUsize::new(0));
    let (first_tx, first_rx) = mpsc::channel();
    let reader = {
        let received = Arc::clone(&received);
        let mut flood = flood;
        thread::spawn(move || {
            let mut buf = vec![0u8; 64 * 1024];
            let mut tail = Vec::new();
            let mut first = Some(first_tx);
            while received.load(Ordering::SeqCst) < PIPELINED {
                let n = flood.read(&mut buf).expect("flood responses keep coming");
                assert!(n > 0, "flood connection closed");
                tail.extend_from_slice(&buf[..n]);
                let whole = tail.windows(12).filter(|w| w == b"Hello World!").count();
                received.fetch_add(whole, Ordering::SeqCst);
                let keep = tail.len().min(11);
                tail.drain(..tail.len() - keep);
                if let Some(tx) = first.take() {
                    let _ = tx.send(());
                }
            }
        })
    };
    first_rx
        .recv_timeout(util::IO_TIMEOUT)
        .expect("the flood is being served");
    let mut other = Client::connect(addr);
    for _ in 0..20 {
        assert_eq!(other.get("/hello").status, 200);
    }
    let when_done = received.load(Ordering::SeqCst);
    assert!(
        when_done < PIPELINED,
        "the other client waited for all {PIPELINED} pipelined requests"
    );
    reader.join().expect("every pipelined request answered");
}

#[test]
fn clients_stuck_mid_head_or_mid_body_delay_nobody() {
    let server = server(
        Config::builder()
            .max_open_sockets(16)
            .recv_wait_timeout(LONG)
            .header_timeout(LONG),
    );
    let addr = server.local_addr();
    let mut stuck = Vec::new();
    for i in 0..6 {
        let mut c = Client::connect(addr);
        if i % 2 == 0 {
            c.send(format!("GET /hello HTTP/1.1\r\nHost: x\r\nX-Slow-{i}: "));
        } else {
            c.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly part of it");
        }
        stuck.push(c);
    }
    let mut normal = Client::connect(addr);
    for _ in 0..200 {
        let r = normal.get("/hello");
        assert_eq!((r.status, r.text().as_str()), (200, "Hello World!"));
    }
    let r = normal.request("POST", "/echo", b"small body");
    assert_eq!(r.text(), "small body");
    assert_eq!(
        open_sessions(&server),
        7,
        "all stuck clients still waiting: nobody waited for them"
    );
    // They are still served when they finish.
    stuck[0].send("1\r\n\r\n");
    assert_eq!(stuck[0].response().status, 200);
    stuck[1].send("x".repeat(85));
    assert_eq!(stuck[1].response().body.len(), 100);
}

#[test]
fn a_client_that_stops_reading_a_large_response_delays_nobody() {
    let server = server(Config::builder().send_wait_timeout(LONG));
    let addr = server.local_addr();
    let mut stalled = Client::connect(addr);
    stalled.send("GET /big HTTP/1.1\r\nHost: x\r\n\r\n");
    // The 6 MiB response is accepted by the server at once (held for the client), so the next
    // client is served while the first one reads nothing.
    let mut normal = Client::connect(addr);
    for _ in 0..100 {
        assert_eq!(normal.get("/hello").status, 200);
    }
    assert_eq!(
        open_sessions(&server),
        2,
        "the stalled reader is still held, not waited for"
    );
    let r = stalled.response();
    assert_eq!(r.body.len(), 6 * 1024 * 1024);
}

#[test]
fn a_flood_of_idle_connections_leaves_the_server_serving_with_lru() {
    let server = server(
        Config::builder()
            .max_open_sockets(16)
            .lru_purge_enable(true)
            .backlog_conn(128),
    );
    let addr = server.local_addr();
    let flood: Vec<TcpStream> = (0..300)
        .filter_map(|_| TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok())
        .collect();
    assert!(
        flood.len() >= 100,
        "only {} connections opened",
        flood.len()
    );
    let mut c = Client::connect(addr);
    let r = c.get("/hello");
    assert_eq!((r.status, r.text().as_str()), (200, "Hello World!"));
    assert!(open_sessions(&server) <= 16);
}

#[test]
fn a_flood_of_garbage_connections_leaves_the_server_serving() {
    let server = server(Config::builder().max_open_sockets(8).backlog_conn(128));
    let addr = server.local_addr();
    let garbage: Vec<thread::JoinHandle<()>> = (0..200)
        .map(|i| {
            thread::spawn(move || {
                let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_secs(5)) else {
                    return;
                };
                s.set_read_timeout(Some(util::IO_TIMEOUT)).unwrap();
                let _ = s.write_all(format!("\x16\x03garbage {i}\r\n\r\n").as_bytes());
                let mut reply = Vec::new();
                let _ = s.read_to_end(&mut reply);
                assert!(
                    reply.is_empty() || reply.starts_with(b"HTTP/1.1 400 "),
                    "{reply:?}"
                );
            })
        })
        .collect();
    for g in garbage {
        g.join().expect("garbage connection answered 400 or closed");
    }
    let mut c = Client::connect(addr);
    assert_eq!(c.get("/hello").status, 200);
}
