//! The loop never waits on one client: large request bodies, slow handlers and large responses
//! to slow readers run on the worker pool, while every other client is answered at once.
//!
//! "At once" is measured against a bound far below the server's wait timeouts (5 s): before
//! the pool, each of these requests waited `recv_wait_timeout` behind the stalled client. The
//! stalled clients are known to be inside their handlers (the handlers say so on a channel)
//! before the other client starts, so nothing here waits on a guess.
mod util;

use std::io::Write;
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use httpd::{Config, ConfigBuilder, Handler, Method, Server};
use util::{start, Client, IO_TIMEOUT};

/// Every quick request must be answered within this while another client is stalled.
const PROMPT: Duration = Duration::from_millis(250);

/// `POST /echo` (and `PUT`): reads the body with `recv`, as ESP-IDF handlers do, and sends it
/// back. Reports on `started` once it has read its first bytes.
fn register_echo(server: &Server, started: Option<mpsc::Sender<()>>) {
    let started = started.map(Mutex::new);
    let started = Arc::new(started);
    for method in [Method::Post, Method::Put] {
        let started = Arc::clone(&started);
        server
            .register(Handler::new("/echo", method, move |req| {
                let mut body = Vec::new();
                let mut buf = [0u8; 4096];
                loop {
                    let n = req.recv(&mut buf)?;
                    if n == 0 {
                        break;
                    }
                    if body.is_empty() {
                        if let Some(tx) = started.as_ref() {
                            let _ = tx.lock().unwrap().send(());
                        }
                    }
                    body.extend_from_slice(&buf[..n]);
                }
                req.set_type("application/octet-stream")?;
                req.send(&body)
            }))
            .unwrap();
    }
}

/// Times `n` keep-alive `GET /hello` requests; returns the slowest.
fn slowest_of(addr: std::net::SocketAddr, n: usize) -> Duration {
    let mut client = Client::connect(addr);
    let mut slowest = Duration::ZERO;
    for _ in 0..n {
        let t = Instant::now();
        let resp = client.get("/hello");
        slowest = slowest.max(t.elapsed());
        assert_eq!(resp.status, 200);
        assert_eq!(resp.text(), "Hello World!");
    }
    // And a fresh connection, accepted and answered as promptly.
    let t = Instant::now();
    assert_eq!(Client::connect(addr).get("/hello").status, 200);
    slowest.max(t.elapsed())
}

fn head(method: &str, path: &str, len: usize) -> String {
    format!("{method} {path} HTTP/1.1\r\nHost: test\r\nContent-Length: {len}\r\n\r\n")
}

/// Sends the head of a 1 MiB `POST /echo` and `sent` bytes of `fill`, and waits until its
/// handler has begun reading.
fn begin_upload(
    addr: std::net::SocketAddr,
    fill: u8,
    sent: usize,
    started: &mpsc::Receiver<()>,
) -> TcpStream {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .write_all(head("POST", "/echo", 1 << 20).as_bytes())
        .unwrap();
    stream.write_all(&vec![fill; sent]).unwrap();
    started
        .recv_timeout(IO_TIMEOUT)
        .expect("the upload's handler reads");
    stream
}

#[test]
fn a_stalled_upload_and_a_trickling_one_do_not_delay_other_clients() {
    let server = start(Config::builder().max_body_len(Some(16 << 20)));
    util::register_hello(&server);
    let (started_tx, started) = mpsc::channel();
    register_echo(&server, Some(started_tx));
    let addr = server.local_addr();

    // One client sends 100,000 bytes of a 1 MiB body, then stalls.
    let mut stalled = begin_upload(addr, b's', 100_000, &started);

    // Another trickles its body, one byte every 100 ms, until told to stop.
    let (stop_tx, stop) = mpsc::channel::<()>();
    let mut trickling = TcpStream::connect(addr).unwrap();
    trickling
        .write_all(head("POST", "/echo", 1 << 20).as_bytes())
        .unwrap();
    let trickler = thread::spawn(move || {
        let mut sent = 0;
        while stop.recv_timeout(Duration::from_millis(100)).is_err() {
            if trickling.write_all(b"t").is_err() {
                break;
            }
            sent += 1;
        }
        (trickling, sent)
    });
    started
        .recv_timeout(IO_TIMEOUT)
        .expect("the trickling upload's handler reads");

    let slowest = slowest_of(addr, 20);
    assert!(
        slowest < PROMPT,
        "a request took {slowest:?} while two uploads were stalled"
    );
    stop_tx.send(()).unwrap();
    let (_trickling, sent) = trickler.join().unwrap();
    assert!(sent >= 1, "the trickler sent bytes throughout");

    // The stalled upload, once resumed, completes byte-exact.
    stalled.write_all(&vec![b's'; (1 << 20) - 100_000]).unwrap();
    let mut client = Client::from_stream(stalled);
    let resp = client.response();
    assert_eq!(resp.status, 200);
    assert_eq!(resp.body.len(), 1 << 20);
    assert!(resp.body.iter().all(|&b| b == b's'));
    // The connection stays usable for the next request.
    assert_eq!(client.get("/hello").status, 200);
}

#[test]
fn a_handler_waiting_for_its_body_times_out_on_its_worker_only() {
    let server = start(
        Config::builder()
            .recv_wait_timeout(Duration::from_millis(300))
            .max_body_len(Some(16 << 20)),
    );
    util::register_hello(&server);
    register_echo(&server, None);
    let addr = server.local_addr();
    let mut stalled = Client::connect(addr);
    stalled.send(head("POST", "/echo", 1 << 20));
    stalled.send(vec![b'x'; 50_000]);
    // The handler's recv gives up after 300 ms: its error answers 408 and closes.
    let resp = stalled.response();
    assert_eq!(resp.status, 408);
    assert!(resp.closes());
    assert!(stalled.is_closed());
    assert_eq!(Client::connect(addr).get("/hello").status, 200);
}

/// Each client sends 8 MiB of its own pattern and reads the echo as it comes back.
fn upload_and_check(addr: std::net::SocketAddr, seed: u8, len: usize) {
    let stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut writer = stream.try_clone().unwrap();
    let body: Vec<u8> = (0..len)
        .map(|i| (i as u8).wrapping_mul(31) ^ seed)
        .collect();
    let expected = body.clone();
    let sender = thread::spawn(move || {
        writer
            .write_all(head("PUT", "/stream", len).as_bytes())
            .unwrap();
        for part in body.chunks(64 * 1024) {
            writer.write_all(part).unwrap();
        }
    });
    let mut client = Client::over(stream);
    let resp = client.response();
    sender.join().unwrap();
    assert_eq!(resp.status, 200);
    assert_eq!(resp.body.len(), len, "client {seed}: length");
    assert!(resp.body == expected, "client {seed}: bytes differ");
}

#[test]
fn twenty_concurrent_8_mib_uploads_are_echoed_byte_exact() {
    // The default pool (16 workers) is smaller than the crowd: four wait for a worker.
    let server = start(Config::builder());
    util::register_hello(&server);
    server
        .register(Handler::new("/stream", Method::Put, |req| {
            // Streams the body back as it arrives: both directions go through the relay.
            req.set_type("application/octet-stream")?;
            let mut buf = vec![0u8; 32 * 1024];
            loop {
                let n = req.recv(&mut buf)?;
                if n == 0 {
                    return req.send_chunk(b"");
                }
                req.send_chunk(&buf[..n])?;
            }
        }))
        .unwrap();
    let addr = server.local_addr();
    let clients: Vec<_> = (0..20u8)
        .map(|seed| thread::spawn(move || upload_and_check(addr, seed, 8 << 20)))
        .collect();
    for c in clients {
        c.join().unwrap();
    }
    assert_eq!(Client::connect(addr).get("/hello").status, 200);
}

/// A handler that takes `work` to answer, and says on `started` when it begins.
fn slow(work: Duration, started: mpsc::Sender<()>) -> Handler {
    let started = Mutex::new(started);
    Handler::new("/slow", Method::Get, move |req| {
        let _ = started.lock().unwrap().send(());
        thread::sleep(work); // the slow work itself (a database call, a computation)
        req.send_str("done")
    })
}

fn quick_requests_during_slow_work(builder: ConfigBuilder, blocking: bool) {
    let server = start(builder);
    util::register_hello(&server);
    let (tx, started) = mpsc::channel();
    let handler = slow(Duration::from_millis(200), tx);
    let handler = if blocking {
        handler.blocking()
    } else {
        handler
    };
    server.register(handler).unwrap();
    let addr = server.local_addr();
    let slow_client = thread::spawn(move || {
        let t = Instant::now();
        let resp = Client::connect(addr).get("/slow");
        (resp, t.elapsed())
    });
    started.recv_timeout(IO_TIMEOUT).unwrap();
    let slowest = slowest_of(addr, 10);
    let (resp, took) = slow_client.join().unwrap();
    assert_eq!(resp.text(), "done");
    assert!(took >= Duration::from_millis(200));
    assert!(
        slowest < Duration::from_millis(150),
        "a quick request took {slowest:?} during 200 ms of another handler's work"
    );
}

#[test]
fn a_blocking_handler_runs_on_the_pool_while_quick_requests_are_answered() {
    quick_requests_during_slow_work(Config::builder(), true);
}

#[test]
fn handlers_on_pool_runs_every_handler_on_a_worker() {
    quick_requests_during_slow_work(Config::builder().handlers_on_pool(true), false);
}

#[test]
fn without_a_pool_a_blocking_handler_runs_on_the_server_thread() {
    // ESP-IDF's model: with no workers, `blocking()` changes nothing and the handler runs.
    let server = start(ConfigBuilder::esp_idf());
    let (tx, started) = mpsc::channel();
    server
        .register(slow(Duration::from_millis(10), tx).blocking())
        .unwrap();
    assert_eq!(
        Client::connect(server.local_addr()).get("/slow").text(),
        "done"
    );
    started.try_recv().unwrap();
    assert_eq!(Config::esp_idf().worker_threads(), 0);
}

#[test]
fn pipelined_requests_are_answered_in_order_across_the_pool() {
    let server = start(Config::builder().handlers_on_pool(true));
    // Later requests finish their work sooner: order must come from the server, not timing.
    server
        .register(Handler::new("/n", Method::Post, |req| {
            let n: u64 = req.query_value("i").unwrap().parse().unwrap();
            let body = req.read_body(1 << 20)?;
            thread::sleep(Duration::from_millis(20u64.saturating_sub(n)));
            req.send(format!("{n}:{}", body.len()))
        }))
        .unwrap();
    server
        .register(
            Handler::new("/q", Method::Get, |req| {
                let i = req.query_value("i").unwrap().to_owned();
                req.send(format!("{i}:q"))
            })
            .nonblocking(),
        )
        .unwrap();
    let mut client = Client::connect(server.local_addr());
    let mut all = Vec::new();
    let mut expected = Vec::new();
    for i in 0..20usize {
        if i % 3 == 2 {
            // On the server thread, between requests on workers.
            all.extend_from_slice(format!("GET /q?i={i} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
            expected.push(format!("{i}:q"));
        } else {
            // Bodies alternate between buffered (small) and relayed (past 16 KiB).
            let len = if i % 2 == 0 { 100 } else { 40_000 };
            all.extend_from_slice(head("POST", &format!("/n?i={i}"), len).as_bytes());
            all.extend(std::iter::repeat_n(b'b', len));
            expected.push(format!("{i}:{len}"));
        }
    }
    client.send(&all);
    for want in expected {
        assert_eq!(client.response().text(), want);
    }
}

/// Registers `GET /gate`, a `blocking()` handler that holds its worker until the test lets it
/// go. Returns the sender that opens the gate (once per request) and the receiver told when a
/// request has entered the handler.
fn register_gate(server: &Server) -> (mpsc::Sender<()>, mpsc::Receiver<()>) {
    let (open, gate) = mpsc::channel::<()>();
    let (entered_tx, entered) = mpsc::channel();
    let gate = Mutex::new(gate);
    let entered_tx = Mutex::new(entered_tx);
    server
        .register(
            Handler::new("/gate", Method::Get, move |req| {
                let _ = entered_tx.lock().unwrap().send(());
                let _ = gate.lock().unwrap().recv_timeout(IO_TIMEOUT);
                req.send_str("through")
            })
            .blocking(),
        )
        .unwrap();
    (open, entered)
}

/// A client whose `GET /gate` holds a worker (see [`register_gate`]), once it has entered.
fn take_worker(addr: std::net::SocketAddr, entered: &mpsc::Receiver<()>) -> Client {
    let mut client = Client::connect(addr);
    client.send("GET /gate HTTP/1.1\r\nHost: t\r\n\r\n");
    entered
        .recv_timeout(IO_TIMEOUT)
        .expect("the gate handler is entered");
    client
}

#[test]
fn past_the_wait_queue_requests_get_503_and_waiting_ones_complete() {
    let server = start(Config::builder().worker_threads(1).worker_queue_len(1));
    util::register_hello(&server);
    let (open, entered) = register_gate(&server);
    let addr = server.local_addr();
    // The one worker is taken.
    let mut first = take_worker(addr, &entered);
    // The second waits in the queue, unanswered.
    let mut second = Client::connect(addr);
    second.send("GET /gate HTTP/1.1\r\nHost: t\r\n\r\n");
    // Requests are taken in order, so once a later connection's request is answered the
    // second one has been queued.
    assert_eq!(Client::connect(addr).get("/hello").status, 200);
    // The third finds the queue full.
    let mut third = Client::connect(addr);
    let resp = third.get("/gate");
    assert_eq!(resp.status, 503);
    assert_eq!(resp.header("retry-after"), Some("1"));
    assert!(resp.closes());
    // Quick requests on the server thread are unaffected.
    assert_eq!(Client::connect(addr).get("/hello").status, 200);
    assert!(second.is_silent_for(Duration::from_millis(50)));
    // Let both through: the waiting one runs when the worker is free.
    open.send(()).unwrap();
    assert_eq!(first.response().text(), "through");
    entered.recv_timeout(IO_TIMEOUT).unwrap();
    open.send(()).unwrap();
    assert_eq!(second.response().text(), "through");
    assert_eq!(second.get("/hello").status, 200);
}

/// Pending-output caps far below the responses of the tests that use them.
fn small_output_caps() -> ConfigBuilder {
    Config::builder()
        .max_pending_response(64 * 1024)
        .max_pending_total(256 * 1024)
}

#[test]
fn a_large_response_to_a_reader_that_stalls_holds_up_only_its_worker() {
    let server = start(small_output_caps());
    util::register_hello(&server);
    let (entered_tx, entered) = mpsc::channel();
    let entered_tx = Mutex::new(entered_tx);
    let sent = Arc::new(AtomicUsize::new(0));
    let sent_by_handler = Arc::clone(&sent);
    server
        .register(
            Handler::new("/big", Method::Get, move |req| {
                let _ = entered_tx.lock().unwrap().send(());
                let chunk = vec![b'z'; 64 * 1024];
                for _ in 0..256 {
                    req.send_chunk(&chunk)?;
                    sent_by_handler.fetch_add(chunk.len(), Ordering::Relaxed);
                }
                req.send_chunk(b"")
            })
            .blocking(),
        )
        .unwrap();
    let addr = server.local_addr();
    let mut reader = TcpStream::connect(addr).unwrap();
    reader
        .write_all(b"GET /big HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    entered.recv_timeout(IO_TIMEOUT).unwrap();
    // The reader reads nothing: the handler soon waits for it.
    let slowest = slowest_of(addr, 10);
    assert!(slowest < PROMPT, "a request took {slowest:?}");
    assert!(
        sent.load(Ordering::Relaxed) < 16 << 20,
        "the handler was held back by its reader"
    );
    // Now it reads the whole 16 MiB response.
    reader.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    let mut client = Client::over(reader);
    let resp = client.response();
    assert_eq!(resp.body.len(), 16 << 20);
}

#[test]
fn stop_with_busy_workers_returns_and_closes_their_connections() {
    let server = start(Config::builder().max_body_len(Some(16 << 20)));
    let (started_tx, started) = mpsc::channel();
    register_echo(&server, Some(started_tx));
    let (open, entered) = register_gate(&server);
    let addr = server.local_addr();
    let mut uploading = Client::connect(addr);
    uploading.send(head("POST", "/echo", 1 << 20));
    uploading.send(vec![b'u'; 30_000]);
    started.recv_timeout(IO_TIMEOUT).unwrap();
    let mut gated_client = take_worker(addr, &entered);

    let t = Instant::now();
    server.stop();
    assert!(
        t.elapsed() < Duration::from_secs(2),
        "stop waited {:?} for busy workers",
        t.elapsed()
    );
    assert!(uploading.is_closed());
    assert!(gated_client.is_closed());
    drop(open);
    assert!(TcpStream::connect(addr).is_err());
}

#[test]
fn graceful_shutdown_lets_an_upload_on_a_worker_finish() {
    let server = start(Config::builder().max_body_len(Some(16 << 20)));
    let (started_tx, started) = mpsc::channel();
    register_echo(&server, Some(started_tx));
    let addr = server.local_addr();
    let mut uploading = begin_upload(addr, b'g', 200_000, &started);

    let stopper = server.clone();
    let shutdown = thread::spawn(move || stopper.shutdown(Duration::from_secs(20)));
    // New connections are refused once the shutdown has begun.
    let deadline = Instant::now() + IO_TIMEOUT;
    while TcpStream::connect(addr).is_ok() {
        assert!(Instant::now() < deadline, "the listener stayed open");
        thread::yield_now();
    }
    uploading
        .write_all(&vec![b'g'; (1 << 20) - 200_000])
        .unwrap();
    let mut client = Client::from_stream(uploading);
    let resp = client.response();
    assert_eq!(resp.status, 200);
    assert_eq!(resp.body.len(), 1 << 20);
    assert!(resp.closes());
    shutdown.join().unwrap();
}

#[test]
fn a_small_body_stays_on_the_server_thread_and_a_large_one_goes_to_a_worker() {
    let server = start(Config::builder());
    let (tx, threads) = mpsc::channel();
    let tx = Mutex::new(tx);
    server
        .register(Handler::new("/where", Method::Post, move |req| {
            let body = req.read_body(1 << 20)?;
            let name = thread::current().name().unwrap_or("").to_owned();
            let _ = tx.lock().unwrap().send(name);
            req.send(body.len().to_string())
        }))
        .unwrap();
    let mut client = Client::connect(server.local_addr());
    assert_eq!(client.request("POST", "/where", &[1; 1000]).text(), "1000");
    assert_eq!(threads.recv().unwrap(), "httpd");
    assert_eq!(
        client.request("POST", "/where", &[1; 100_000]).text(),
        "100000"
    );
    assert_eq!(threads.recv().unwrap(), "httpd-worker");
    // Chunked bodies larger than the buffer, too.
    client.send("POST /where HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n");
    for _ in 0..10 {
        client.send(format!("{:x}\r\n", 10_000));
        client.send(vec![2u8; 10_000]);
        client.send("\r\n");
    }
    client.send("0\r\n\r\n");
    assert_eq!(client.response().text(), "100000");
    assert_eq!(threads.recv().unwrap(), "httpd-worker");
    assert_eq!(client.request("POST", "/where", b"x").text(), "1");
    assert_eq!(threads.recv().unwrap(), "httpd");
}

#[test]
fn a_handler_on_a_worker_may_detach_its_request() {
    let server = start(Config::builder());
    server
        .register(
            Handler::new("/later", Method::Post, |req| {
                let mut detached = req.detach()?;
                thread::spawn(move || {
                    if let Ok(mut req) = detached.request() {
                        let body = req.read_body(1 << 20).unwrap_or_default();
                        let _ = req.send(format!("later:{}", body.len()));
                    }
                });
                Ok(())
            })
            .blocking(),
        )
        .unwrap();
    util::register_hello(&server);
    let mut client = Client::connect(server.local_addr());
    // A body past the buffer: read by the detached request through the relay.
    assert_eq!(
        client.request("POST", "/later", &[7; 100_000]).text(),
        "later:100000"
    );
    assert_eq!(client.request("POST", "/later", b"abc").text(), "later:3");
    assert_eq!(client.get("/hello").status, 200);
}

#[test]
fn a_handler_on_a_worker_may_stop_the_server() {
    let server = start(Config::builder());
    let handle = server.clone();
    server
        .register(
            Handler::new("/stop", Method::Get, move |req| {
                req.send_str("stopping")?;
                handle.stop();
                Ok(())
            })
            .blocking(),
        )
        .unwrap();
    let addr = server.local_addr();
    let mut client = Client::connect(addr);
    client.send("GET /stop HTTP/1.1\r\nHost: t\r\n\r\n");
    // The response may or may not get out before the stop cuts the connection; the server
    // stops either way, without deadlocking its worker.
    let _ = client.try_response();
    let deadline = Instant::now() + IO_TIMEOUT;
    while TcpStream::connect(addr).is_ok() {
        assert!(Instant::now() < deadline, "the server did not stop");
        thread::yield_now();
    }
}

#[test]
fn a_large_response_sent_at_once_from_the_server_thread_does_not_wait_for_its_reader() {
    // Past both pending caps, from a handler on the server thread: the body is in memory
    // already, so the loop holds it and writes it as the reader reads, instead of waiting.
    let server = start(small_output_caps());
    util::register_hello(&server);
    let (tx, sent) = mpsc::channel();
    let tx = Mutex::new(tx);
    server
        .register(Handler::new("/whole", Method::Get, move |req| {
            let result = req.send(vec![b'w'; 32 << 20]);
            let _ = tx
                .lock()
                .unwrap()
                .send(thread::current().name() == Some("httpd"));
            result
        }))
        .unwrap();
    let addr = server.local_addr();
    let mut reader = TcpStream::connect(addr).unwrap();
    reader
        .write_all(b"GET /whole HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    // The handler returned, on the server thread, though nothing was read (well before
    // `send_wait_timeout`, 5 s, which a wait for the reader would have taken).
    let on_server_thread = sent
        .recv_timeout(Duration::from_secs(2))
        .expect("the handler returned without waiting for its reader");
    assert!(on_server_thread);
    let slowest = slowest_of(addr, 10);
    assert!(slowest < PROMPT, "a request took {slowest:?}");
    reader.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    let mut client = Client::over(reader);
    assert_eq!(client.response().body.len(), 32 << 20);
    assert_eq!(client.get("/hello").status, 200);
}

#[test]
fn a_request_that_waited_for_a_worker_is_announced_once() {
    let (tx, events) = mpsc::channel();
    let tx = Mutex::new(tx);
    let server = start(Config::builder().worker_threads(1).on_event(move |e| {
        if let httpd::Event::RequestHead { id, uri, .. } = e {
            let _ = tx.lock().unwrap().send((*id, uri.to_string()));
        }
    }));
    let (open, entered) = register_gate(&server);
    let addr = server.local_addr();
    let mut first = take_worker(addr, &entered);
    let mut second = Client::connect(addr);
    second.send("GET /gate?second HTTP/1.1\r\nHost: t\r\n\r\n");
    // Announced when it arrived, though it waits for the worker.
    let (_, uri) = events.recv_timeout(IO_TIMEOUT).unwrap();
    assert_eq!(uri, "/gate");
    let (second_id, uri) = events.recv_timeout(IO_TIMEOUT).unwrap();
    assert_eq!(uri, "/gate?second");
    open.send(()).unwrap();
    assert_eq!(first.response().text(), "through");
    entered.recv_timeout(IO_TIMEOUT).unwrap();
    open.send(()).unwrap();
    assert_eq!(second.response().text(), "through");
    // The next request on that connection: announced once too.
    open.send(()).unwrap();
    assert_eq!(second.get("/gate").text(), "through");
    // Besides the waiting request's announcement (taken above), only the next request's: none
    // when the waiting one was dispatched to the freed worker.
    let announced: Vec<_> = events
        .try_iter()
        .filter(|(id, _)| *id == second_id)
        .collect();
    assert_eq!(announced.len(), 1, "{announced:?}");
}

#[test]
fn requests_waiting_for_a_worker_get_one_in_arrival_order() {
    let server = start(Config::builder().worker_threads(1));
    util::register_hello(&server);
    let (open, gate) = mpsc::channel::<()>();
    let (entered_tx, entered) = mpsc::channel::<String>();
    let gate = Mutex::new(gate);
    let entered_tx = Mutex::new(entered_tx);
    server
        .register(
            Handler::new("/turn", Method::Get, move |req| {
                let who = req.query().unwrap_or_default().to_owned();
                let _ = entered_tx.lock().unwrap().send(who.clone());
                let _ = gate.lock().unwrap().recv_timeout(IO_TIMEOUT);
                req.send(who)
            })
            .blocking(),
        )
        .unwrap();
    let addr = server.local_addr();
    let mut clients = Vec::new();
    for who in ["a", "b", "c", "d"] {
        let mut c = Client::connect(addr);
        c.send(format!("GET /turn?{who} HTTP/1.1\r\nHost: t\r\n\r\n"));
        // Requests are taken in the order they are read: once a later connection's request
        // is answered, this one has been dispatched or queued.
        assert_eq!(Client::connect(addr).get("/hello").status, 200);
        clients.push(c);
    }
    for (who, c) in ["a", "b", "c", "d"].into_iter().zip(&mut clients) {
        assert_eq!(entered.recv_timeout(IO_TIMEOUT).unwrap(), who);
        open.send(()).unwrap();
        assert_eq!(c.response().text(), who);
    }
}
