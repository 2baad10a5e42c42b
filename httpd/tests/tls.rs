//! HTTPS and WSS (feature `tls`), black-box over loopback with an independent TLS client
//! (rustls's client side) and tungstenite over it: keep-alive, pipelining, versions, ALPN,
//! large bodies both ways, WebSocket, mutual TLS, resumption, the plain-HTTP second port,
//! the raw-socket hooks (the C API) and configuration errors. Hostile clients are in `tls_hostile.rs`, leaks in `tls_leaks.rs`,
//! curl and openssl in `tls_tools.rs`.
mod tls_util;
mod util;

use std::io::{Read, Write};
use std::time::Duration;

use httpd::{ClientAuth, Config, Error, Resumption, TlsConfig, TlsVersion};
use tls_util::*;
use util::Client;

#[test]
fn keep_alive_serves_many_requests_on_one_tls_connection() {
    let server = default_server();
    let ids = util::register_id_handler(&server);
    let mut c = https(server.local_addr(), &default_client());
    let first = c.get("/id");
    for _ in 0..20 {
        let r = c.get("/hello");
        assert_eq!((r.status, r.text().as_str()), (200, "Hello World!"));
        assert!(!r.closes());
    }
    let again = c.get("/id");
    assert_eq!(first.text(), again.text(), "one session for all requests");
    assert_eq!(ids.try_iter().count(), 2);
}

#[test]
fn pipelined_requests_in_one_record_are_answered_in_order() {
    let server = default_server();
    let mut c = https(server.local_addr(), &default_client());
    let mut batch = String::new();
    for i in 0..10 {
        batch.push_str(&format!(
            "GET /big?n={} HTTP/1.1\r\nHost: x\r\n\r\n",
            100 + i
        ));
    }
    batch.push_str("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    c.send(batch);
    for i in 0..10 {
        let r = c.response();
        assert_eq!((r.status, r.body.len()), (200, 100 + i));
    }
    assert_eq!(c.response().text(), "Hello World!");
}

#[test]
fn tls12_only_and_tls13_only_clients_are_served_and_see_their_version() {
    let server = default_server();
    for (versions, expect) in [
        (Versions::Tls12, "Tls12 TLS_ECDHE"),
        (Versions::Tls13, "Tls13 TLS13_"),
    ] {
        let mut c = https(
            server.local_addr(),
            &client_config(versions, &[b"http/1.1"], None),
        );
        let info = c.get("/info").text();
        assert!(info.starts_with(expect), "{versions:?}: {info}");
        assert!(
            info.contains("sni=localhost alpn=http/1.1 cert=0"),
            "{info}"
        );
    }
}

#[test]
fn a_server_limited_to_one_version_refuses_the_other() {
    let server = tls_server(
        Config::builder().max_uri_handlers(16),
        server_tls().versions(&[TlsVersion::Tls13]),
    );
    let addr = server.local_addr();
    assert!(tls_connect(addr, &client_config(Versions::Tls12, &[], None)).is_err());
    let mut c = https(addr, &client_config(Versions::Both, &[], None));
    assert!(c.get("/info").text().starts_with("Tls13"));
}

#[test]
fn alpn_http11_is_agreed_absent_alpn_is_served_and_h2_only_is_refused() {
    let server = default_server();
    let addr = server.local_addr();
    let mut c = https(
        addr,
        &client_config(Versions::Both, &[b"h2", b"http/1.1"], None),
    );
    assert!(c.get("/info").text().contains("alpn=http/1.1"));
    assert_eq!(c.stream.conn.alpn_protocol(), Some(&b"http/1.1"[..]));
    let mut c = https(addr, &client_config(Versions::Both, &[], None));
    assert!(c.get("/info").text().contains("alpn=-"));
    let refused = tls_connect(addr, &client_config(Versions::Both, &[b"h2"], None));
    assert!(refused.is_err(), "no common application protocol");
}

#[test]
fn large_bodies_go_both_ways() {
    let server = default_server();
    let mut c = https(server.local_addr(), &default_client());
    // Larger than the session's buffer: the handler reads it from the TLS transport.
    let body: Vec<u8> = (0..5_000_000u32).map(|i| (i % 253) as u8).collect();
    let r = c.request("POST", "/echo", &body);
    assert_eq!(r.status, 200);
    assert!(r.body == body, "echoed body differs");
    // Held by the session and written by the loop as the client reads.
    let r = c.get("/big?n=6000000");
    assert_eq!(r.body.len(), 6_000_000);
    assert!(r
        .body
        .iter()
        .enumerate()
        .all(|(i, &b)| b == (i % 251) as u8));
    // Beyond the pending-output budget: the handler waits for the client to take it.
    let r = c.get("/big?n=12000000");
    assert_eq!(r.body.len(), 12_000_000);
    assert_eq!(c.get("/hello").text(), "Hello World!", "still in step");
}

#[test]
fn wss_echo_over_tls_with_tungstenite() {
    use tungstenite::client::IntoClientRequest;
    use tungstenite::Message;
    let server = default_server();
    let addr = server.local_addr();
    let stream = tls_connect(addr, &default_client()).unwrap();
    let req = format!("ws://localhost:{}/ws", addr.port())
        .into_client_request()
        .unwrap();
    let (mut ws, resp) = tungstenite::client(req, stream).expect("WebSocket handshake");
    assert_eq!(resp.status(), 101);
    for text in ["hello", "second message", &"x".repeat(100_000)] {
        ws.send(Message::text(text)).unwrap();
        match ws.read().unwrap() {
            Message::Text(t) => assert_eq!(t.as_str(), format!("{text} tls=true")),
            other => panic!("expected text, got {other:?}"),
        }
    }
    let payload = vec![7u8; 300_000];
    ws.send(Message::binary(payload.clone())).unwrap();
    assert_eq!(ws.read().unwrap().into_data().as_ref(), &payload[..]);
    ws.close(None).unwrap();
    loop {
        match ws.read() {
            Ok(Message::Close(_)) | Err(_) => break,
            Ok(_) => {}
        }
    }
}

fn mtls_server(auth: ClientAuth) -> httpd::Server {
    tls_server(
        Config::builder().max_uri_handlers(16),
        server_tls().client_ca_pem(pki().ca_pem.clone(), auth),
    )
}

/// Whether a client with `cert` gets an HTTP answer: `Some(body)` or `None` for a refused
/// handshake (an alert, then a close; never an HTTP response).
fn whoami(addr: std::net::SocketAddr, cert: Option<&Ident>) -> Option<String> {
    let config = client_config(Versions::Both, &[b"http/1.1"], cert);
    let Ok(stream) = tls_connect(addr, &config) else {
        return None;
    };
    let mut c = Client::over(stream);
    c.send("GET /whoami HTTP/1.1\r\nHost: x\r\n\r\n");
    match c.try_response() {
        Ok(r) if r.status == 200 => Some(r.text()),
        Ok(r) => Some(format!("status {}", r.status)),
        Err(e) => {
            // TLS 1.3 reports the refusal after the client's Finished: an alert on read.
            let msg = e.to_string();
            assert!(
                msg.contains("received fatal alert") || msg.contains("reset"),
                "refused with an alert, got {msg}"
            );
            None
        }
    }
}

#[test]
fn mutual_tls_required_accepts_the_ca_s_clients_and_refuses_others() {
    let server = mtls_server(ClientAuth::Required);
    let addr = server.local_addr();
    assert_eq!(whoami(addr, Some(&pki().alice)).as_deref(), Some("alice"));
    assert_eq!(whoami(addr, None), None, "no certificate");
    assert_eq!(whoami(addr, Some(&pki().mallory)), None, "another CA");
    // Refusals cost nothing lasting: the next good client is served.
    assert_eq!(whoami(addr, Some(&pki().alice)).as_deref(), Some("alice"));
}

#[test]
fn mutual_tls_optional_serves_clients_without_a_certificate() {
    let server = mtls_server(ClientAuth::Optional);
    let addr = server.local_addr();
    assert_eq!(whoami(addr, Some(&pki().alice)).as_deref(), Some("alice"));
    assert_eq!(whoami(addr, None).as_deref(), Some("status 404"));
    assert_eq!(
        whoami(addr, Some(&pki().mallory)),
        None,
        "a bad certificate"
    );
}

#[test]
fn sessions_resume_with_tls13_tickets_and_tls12_ids_or_tickets() {
    let server = default_server();
    let addr = server.local_addr();
    for versions in [Versions::Tls13, Versions::Tls12] {
        let config = client_config(versions, &[b"http/1.1"], None);
        let mut first = https(addr, &config);
        assert!(first.get("/info").text().contains("resumed=false"));
        let mut second = https(addr, &config);
        assert_eq!(
            second.stream.conn.handshake_kind(),
            Some(rustls::HandshakeKind::Resumed),
            "{versions:?}"
        );
        assert!(second.get("/info").text().contains("resumed=true"));
    }
    // Resumption off: every handshake is full.
    let server = tls_server(
        Config::builder().max_uri_handlers(16),
        server_tls().resumption(Resumption::Off),
    );
    let config = default_client();
    drop(https(server.local_addr(), &config).get("/hello"));
    let mut again = https(server.local_addr(), &config);
    assert_eq!(
        again.stream.conn.handshake_kind(),
        Some(rustls::HandshakeKind::Full)
    );
    assert!(again.get("/info").text().contains("resumed=false"));
}

#[test]
fn the_same_handlers_are_served_over_plain_http_on_the_second_port() {
    let server = tls_server(
        Config::builder().max_uri_handlers(16).http_port(0),
        server_tls(),
    );
    let plain = server.http_addr().expect("a plain-HTTP listener");
    assert_ne!(plain, server.local_addr());
    let mut c = Client::connect(plain);
    assert_eq!(c.get("/hello").text(), "Hello World!");
    assert_eq!(c.get("/info").text(), "plain");
    let mut s = https(server.local_addr(), &default_client());
    assert!(s.get("/info").text().starts_with("Tls13"));
    // A TLS client at the plain port gets an HTTP error, not a hang.
    assert!(tls_connect(plain, &default_client()).is_err());
}

#[test]
fn a_client_without_sni_gets_the_configured_certificate() {
    let server = default_server();
    let stream = tls_connect_as(server.local_addr(), &default_client(), "127.0.0.1").unwrap();
    let mut c = Client::over(stream);
    assert!(c.get("/info").text().contains("sni=-"));
}

#[test]
fn bad_material_is_reported_by_build_naming_the_file() {
    let missing = std::env::temp_dir().join("httpd-no-such-cert.pem");
    let err = TlsConfig::builder()
        .cert_chain_file(&missing)
        .key_pem(pki().server.key_pem.clone())
        .build()
        .unwrap_err();
    assert!(
        matches!(&err, Error::Tls(m) if m.contains("httpd-no-such-cert.pem")),
        "{err}"
    );

    let junk = std::env::temp_dir().join(format!("httpd-junk-{}.pem", std::process::id()));
    std::fs::write(&junk, "not a certificate").unwrap();
    let err = TlsConfig::builder()
        .cert_chain_file(&junk)
        .key_pem(pki().server.key_pem.clone())
        .build()
        .unwrap_err();
    let _ = std::fs::remove_file(&junk);
    assert!(
        matches!(&err, Error::Tls(m) if m.contains("httpd-junk-")),
        "{err}"
    );

    // A key that is not the certificate's.
    let err = TlsConfig::builder()
        .cert_chain_pem(pki().server.cert_pem.clone())
        .key_pem(pki().alice.key_pem.clone())
        .build()
        .unwrap_err();
    assert!(matches!(err, Error::Tls(_)), "{err}");
    let err = TlsConfig::builder()
        .cert_chain_pem(pki().server.cert_pem.clone())
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("private key"), "{err}");
}

#[test]
fn a_slow_reader_of_a_large_tls_response_delays_nobody() {
    let server = tls_server(
        Config::builder()
            .max_uri_handlers(16)
            .send_wait_timeout(Duration::from_secs(30)),
        server_tls(),
    );
    let addr = server.local_addr();
    let mut stalled = https(addr, &default_client());
    stalled.send("GET /big?n=6000000 HTTP/1.1\r\nHost: x\r\n\r\n");
    let mut normal = https(addr, &default_client());
    for _ in 0..50 {
        assert_eq!(normal.get("/hello").status, 200);
    }
    let r = stalled.response();
    assert_eq!(r.body.len(), 6_000_000);
}

#[test]
fn the_client_closing_with_close_notify_or_abruptly_closes_the_session() {
    let server = default_server();
    let addr = server.local_addr();
    let mut c = https(addr, &default_client());
    assert_eq!(c.get("/hello").status, 200);
    c.stream.conn.send_close_notify();
    c.stream.flush().unwrap();
    let mut rest = Vec::new();
    // The server answers with its own close_notify (a clean end, not a truncation) and closes.
    c.stream
        .read_to_end(&mut rest)
        .expect("close_notify, then the end");
    assert!(rest.is_empty());
    let mut raw = https(addr, &default_client());
    assert_eq!(raw.get("/hello").status, 200);
    raw.stream.sock.shutdown(std::net::Shutdown::Both).unwrap();
    wait_until_no_sessions(&server);
}

/// Raw-socket hooks (the C API) see a TLS session's descriptor at open and own its socket at
/// close, still open (the TLS state is gone; the hook closes it, once).
#[test]
fn socket_hooks_own_a_tls_sessions_socket_at_close() {
    use std::net::{SocketAddr, TcpStream};
    use std::os::fd::{AsRawFd, OwnedFd, RawFd};
    use std::sync::mpsc::{channel, Sender};
    use std::sync::Mutex;

    use httpd::{Opened, SessionId, SocketHooks};

    /// Sends (descriptor at open, descriptor and local address of the socket at close).
    struct Hooks(
        Mutex<Sender<(RawFd, Option<(RawFd, SocketAddr)>)>>,
        Mutex<RawFd>,
    );
    impl SocketHooks for Hooks {
        fn opened(&self, _id: SessionId, _peer: SocketAddr, fd: RawFd) -> Opened {
            *self.1.lock().unwrap() = fd;
            Opened::Accept
        }
        fn closed(&self, _id: SessionId, socket: Option<OwnedFd>) {
            let opened = *self.1.lock().unwrap();
            let owned = socket.map(|s| {
                let fd = s.as_raw_fd();
                (fd, TcpStream::from(s).local_addr().expect("an open socket"))
            });
            let _ = self.0.lock().unwrap().send((opened, owned));
        }
    }

    let (tx, rx) = channel();
    let server = tls_server(
        Config::builder().socket_hooks(Hooks(Mutex::new(tx), Mutex::new(-1))),
        server_tls(),
    );
    let mut c = https(server.local_addr(), &default_client());
    assert_eq!(c.get("/hello").text(), "Hello World!");
    drop(c);
    let (opened, owned) = rx.recv_timeout(util::IO_TIMEOUT).expect("closed hook");
    assert_eq!(owned, Some((opened, server.local_addr())));
}
