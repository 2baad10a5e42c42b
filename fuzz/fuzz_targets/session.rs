//! Arbitrary bytes fed to a real session over loopback: the server answers or closes (never
//! hangs past its timeouts, never dies), and keeps serving a well-formed request afterwards.
#![no_main]

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::OnceLock;
use std::time::Duration;

use httpd::{Config, Handler, Method, Server};

fn server() -> SocketAddr {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER
        .get_or_init(|| {
            let config = Config::builder()
                .bind_addr([127, 0, 0, 1].into())
                .port(0)
                .max_open_sockets(16)
                .recv_wait_timeout(Duration::from_millis(200))
                .max_body_len(Some(64 * 1024))
                .build()
                .unwrap();
            let server = Server::start(config).unwrap();
            server
                .register(Handler::new("/hello", Method::Get, |req| req.send_str("Hello World!")))
                .unwrap();
            server
                .register(Handler::new("/echo", Method::Any, |req| {
                    let body = req.read_body(64 * 1024)?;
                    req.send(&body)
                }))
                .unwrap();
            server
        })
        .local_addr()
}

fn exchange(addr: SocketAddr, bytes: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    // Writing may fail once the server has refused the input and closed: that is an answer.
    let _ = stream.write_all(bytes);
    let _ = stream.shutdown(Shutdown::Write);
    let mut reply = Vec::new();
    match stream.read_to_end(&mut reply) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        Err(e) => panic!("server neither answered nor closed: {e}"),
    }
    reply
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let addr = server();
    let reply = exchange(addr, data);
    assert!(reply.is_empty() || reply.starts_with(b"HTTP/1.1 "));
    let check = exchange(addr, b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(check.ends_with(b"Hello World!"), "server stopped serving");
});
