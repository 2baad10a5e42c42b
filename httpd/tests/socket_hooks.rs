//! Raw-socket hooks (`ConfigBuilder::socket_hooks`, for the C API): the descriptor at open,
//! refusal, ownership of the socket at close, and a `SocketIo` layered over the session.
mod util;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::{OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{channel, Sender};
use std::sync::{Arc, Mutex};

use httpd::{Config, Handler, Method, Opened, SessionId, SocketHooks, SocketIo};
use util::{Client, IO_TIMEOUT};

#[derive(Default)]
struct Counts {
    recv: AtomicUsize,
    send: AtomicUsize,
    pending: AtomicUsize,
}

/// Passes every read and write through (returns `None`), counting them.
struct Counting(Arc<Counts>);

impl SocketIo for Counting {
    fn recv(&mut self, _fd: RawFd, _buf: &mut [u8]) -> Option<std::io::Result<usize>> {
        self.0.recv.fetch_add(1, Ordering::SeqCst);
        None
    }

    fn send(&mut self, _fd: RawFd, _buf: &[u8]) -> Option<std::io::Result<usize>> {
        self.0.send.fetch_add(1, Ordering::SeqCst);
        None
    }

    fn pending(&mut self, _fd: RawFd) -> usize {
        self.0.pending.fetch_add(1, Ordering::SeqCst);
        0
    }
}

struct Hooks {
    refuse_next: AtomicBool,
    opened: Mutex<Sender<(SessionId, RawFd)>>,
    closed: Mutex<Sender<(SessionId, Option<SocketAddr>)>>,
    counts: Arc<Counts>,
}

impl SocketHooks for Hooks {
    fn opened(&self, id: SessionId, _peer: SocketAddr, fd: RawFd) -> Opened {
        let _ = self.opened.lock().unwrap().send((id, fd));
        if self.refuse_next.swap(false, Ordering::SeqCst) {
            return Opened::Refuse;
        }
        Opened::AcceptWith(Box::new(Counting(Arc::clone(&self.counts))))
    }

    fn closed(&self, id: SessionId, socket: Option<OwnedFd>) {
        // The hook owns the socket, still open: it names the peer, and takes a last write
        // unless the server already shut its sending side down.
        let peer = socket.map(|fd| {
            let mut stream = TcpStream::from(fd);
            let _ = stream.write_all(b"bye from the hook");
            stream.peer_addr().expect("an open, connected socket")
        });
        let _ = self.closed.lock().unwrap().send((id, peer));
    }
}

#[test]
fn hooks_see_the_descriptor_own_it_at_close_and_carry_the_io() {
    let (open_tx, open_rx) = channel();
    let (close_tx, close_rx) = channel();
    let counts = Arc::new(Counts::default());
    let hooks = Arc::new(Hooks {
        refuse_next: AtomicBool::new(false),
        opened: Mutex::new(open_tx),
        closed: Mutex::new(close_tx),
        counts: Arc::clone(&counts),
    });
    struct Shared(Arc<Hooks>);
    impl SocketHooks for Shared {
        fn opened(&self, id: SessionId, peer: SocketAddr, fd: RawFd) -> Opened {
            self.0.opened(id, peer, fd)
        }
        fn closed(&self, id: SessionId, socket: Option<OwnedFd>) {
            self.0.closed(id, socket)
        }
    }
    let server = util::start(Config::builder().socket_hooks(Shared(Arc::clone(&hooks))));
    server
        .register(Handler::new("/close", Method::Get, |req| {
            req.set_header("Connection", "close")?;
            req.send_str("closing")
        }))
        .unwrap();
    let addr = server.local_addr();

    let mut c = Client::connect(addr);
    let (id, fd) = open_rx.recv_timeout(IO_TIMEOUT).unwrap();
    assert!(fd >= 0);
    let r = c.get("/close");
    assert_eq!(r.text(), "closing");
    assert!(
        counts.recv.load(Ordering::SeqCst) > 0,
        "reads went through the SocketIo"
    );
    assert!(
        counts.send.load(Ordering::SeqCst) > 0,
        "writes went through the SocketIo"
    );
    assert!(counts.pending.load(Ordering::SeqCst) > 0);
    // The session ends: the hook gets this connection's socket, still open.
    let local = c.stream.local_addr().unwrap();
    assert_eq!(
        close_rx.recv_timeout(IO_TIMEOUT).unwrap(),
        (id, Some(local))
    );
    // Then it closes: the client reaches the end (after the hook's bytes, unless the server had
    // already shut its sending side down).
    let mut rest = Vec::new();
    c.stream.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty() || rest == b"bye from the hook", "{rest:?}");

    // A refused connection is closed at once, and `closed` still runs for its id.
    hooks.refuse_next.store(true, Ordering::SeqCst);
    let mut refused = Client::connect(addr);
    let (rid, _) = open_rx.recv_timeout(IO_TIMEOUT).unwrap();
    let local = refused.stream.local_addr().unwrap();
    assert_eq!(
        close_rx.recv_timeout(IO_TIMEOUT).unwrap(),
        (rid, Some(local))
    );
    let mut rest = Vec::new();
    refused.stream.read_to_end(&mut rest).unwrap();
    assert_eq!(rest, b"bye from the hook");
    server.stop();
}
