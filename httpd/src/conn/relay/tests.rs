//! The relay between a worker and the loop, over the in-memory pipe: bytes both ways, bounded,
//! end of stream, a broken connection, and what is left when the session comes back.

use std::thread;
use std::time::Duration;

use mio::{Poll, Token, Waker};

use super::*;
use crate::conn::pipe::{Pipe, PipeClient};
use crate::conn::transport::Transport;

const WAIT: Duration = Duration::from_secs(10);

struct Rig {
    session: Session,
    proxy: Box<Proxy>,
    client: PipeClient,
    bufs: Buffers,
    _poll: Poll,
}

fn rig() -> Rig {
    let poll = Poll::new().unwrap();
    let waker = Arc::new(Waker::new(poll.registry(), Token(0)).unwrap());
    let (pipe, client) = Pipe::pair();
    let mut session = Session::new(
        SessionId::new(3, 0),
        Stream::Pipe(pipe),
        ([127, 0, 0, 1], 1).into(),
        0,
    );
    session.input.data = vec![0; 1024];
    let proxy = split(&mut session, Attention::new(waker), 3);
    Rig {
        session,
        proxy,
        client,
        bufs: Buffers::default(),
        _poll: poll,
    }
}

impl Rig {
    /// One loop step for the relay, as after a readiness event.
    fn pump(&mut self) {
        self.proxy.readable = true;
        self.proxy.pump(&mut self.bufs).unwrap();
    }
}

#[test]
fn bytes_reach_the_worker_and_its_reply_the_client() {
    let mut r = rig();
    // The worker's side, on its own thread.
    let mut transport = std::mem::replace(&mut r.session.transport, Stream::Pipe(Pipe::pair().0));
    let body: Vec<u8> = (0..700_000u32).map(|i| (i % 251) as u8).collect();
    let expected = body.clone();
    let worker = thread::spawn(move || {
        let mut got = Vec::new();
        let mut buf = vec![0; 10_000];
        while got.len() < expected.len() {
            let n = transport.read_wait(&mut buf, WAIT).unwrap();
            got.extend_from_slice(&buf[..n]);
        }
        assert!(got == expected);
        let reply = vec![b'r'; 600_000];
        let (n, result) = transport.write_wait(&reply, WAIT);
        result.unwrap();
        assert_eq!(n, reply.len());
        transport.shutdown_write();
    });
    // The client sends in pieces; the loop pumps until the worker has replied.
    let mut received = Vec::new();
    for part in body.chunks(50_000) {
        r.client.send(part);
        r.pump();
    }
    while !worker.is_finished() || r.proxy.wants_writable() {
        r.pump();
        received.extend(r.client.received());
        thread::yield_now();
    }
    worker.join().unwrap();
    r.pump();
    received.extend(r.client.received());
    assert_eq!(received.len(), 600_000);
}

#[test]
fn a_full_relay_stops_the_loop_reading() {
    let mut r = rig();
    r.client.send(&vec![1u8; 3 * RELAY_CAP]);
    r.pump();
    // The relay holds at most RELAY_CAP; the rest stays with the client (flow control).
    assert_eq!(r.proxy.shared.lock().inbound.len(), RELAY_CAP);
    assert!(r.proxy.shared.lock().loop_waits_for_room);
    // The worker reads some: the loop is asked to pump again.
    let mut buf = vec![0; 1000];
    assert_eq!(r.session.transport.read(&mut buf).unwrap(), 1000);
    assert!(r.proxy.shared.flagged.load(Ordering::Acquire));
}

#[test]
fn end_of_stream_and_a_broken_connection_reach_the_worker() {
    let mut r = rig();
    r.client.send(b"abc");
    r.client.close();
    r.pump();
    r.pump();
    let mut buf = [0u8; 8];
    assert_eq!(r.session.transport.read(&mut buf).unwrap(), 3);
    assert_eq!(r.session.transport.read(&mut buf).unwrap(), 0);

    let mut r = rig();
    let mut buf = [0u8; 8];
    let e = r.session.transport.read(&mut buf).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
    assert_eq!(
        r.session
            .transport
            .read_wait(&mut buf, Duration::from_millis(20))
            .unwrap_err()
            .kind(),
        io::ErrorKind::TimedOut
    );
    r.proxy.break_off(io::ErrorKind::ConnectionAborted);
    let e = r.session.transport.read_wait(&mut buf, WAIT).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::ConnectionAborted);
    assert_eq!(
        r.session.transport.write(b"x").unwrap_err().kind(),
        io::ErrorKind::ConnectionAborted
    );
}

#[test]
fn what_the_relay_holds_goes_back_to_the_session() {
    let mut r = rig();
    r.session.input.data[..4].copy_from_slice(b"HEAD");
    r.session.input.end = 4;
    r.client.send(b"next request");
    r.pump();
    // The worker wrote a reply the loop has not taken yet.
    assert_eq!(r.session.transport.write(b"reply").unwrap(), 5);
    r.session.output.data.extend_from_slice(b" and more");
    let poll = Poll::new().unwrap();
    let broken = r
        .proxy
        .merge_into(&mut r.session, poll.registry(), &mut r.bufs);
    assert!(!broken);
    assert!(matches!(r.session.transport, Stream::Pipe(_)));
    assert_eq!(
        &r.session.input.data[..r.session.input.end],
        b"HEADnext request"
    );
    assert_eq!(
        &r.session.output.data[r.session.output.pos..],
        b"reply and more"
    );
}
