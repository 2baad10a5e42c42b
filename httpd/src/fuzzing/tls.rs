//! The TLS session layer under arbitrary bytes (feature `tls`): a server core whose sessions
//! speak TLS over in-memory pipes, a rustls client driven by hand, and the checks.

use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore};

use crate::conn::pipe::PipeClient;
use crate::runtime::harness::Harness;
use crate::tls::TlsConfig;
use crate::Config;

/// A fixed self-signed certificate for `localhost` (ECDSA P-256, valid until 2126) and its
/// key: test material only.
const CERT: &str = include_str!("test_cert.pem");
const KEY: &str = include_str!("test_key.pem");

fn harness() -> Harness {
    let tls = TlsConfig::builder()
        .cert_chain_pem(CERT)
        .key_pem(KEY)
        .build()
        .expect("the test certificate loads");
    let config = Config::builder()
        .max_open_sockets(4)
        .recv_wait_timeout(Duration::from_millis(50))
        .max_body_len(Some(64 * 1024))
        .tls(tls)
        .build()
        .expect("valid config");
    Harness::new(config, super::handlers())
}

fn client() -> ClientConnection {
    let mut roots = RootCertStore::empty();
    let cert = CertificateDer::from_pem_slice(CERT.as_bytes()).expect("test certificate");
    roots.add(cert).expect("a root");
    let config = ClientConfig::builder_with_provider(crate::tls::crypto_provider())
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = ServerName::try_from("localhost").expect("a name");
    ClientConnection::new(Arc::new(config), name).expect("a client")
}

/// Moves records between the client and the session until neither has more to say; returns
/// the plaintext the client received, or `Err` once the client saw a TLS error (an alert).
fn pump(
    h: &mut Harness,
    slot: usize,
    pipe: &PipeClient,
    c: &mut ClientConnection,
) -> Result<Vec<u8>, ()> {
    let mut plain = Vec::new();
    for _ in 0..64 {
        let mut out = Vec::new();
        while c.wants_write() {
            c.write_tls(&mut out).map_err(|_| ())?;
        }
        pipe.send(&out);
        h.run(slot, false, 1000);
        let back = pipe.received();
        if out.is_empty() && back.is_empty() {
            break;
        }
        let mut rd = &back[..];
        while !rd.is_empty() {
            let _ = std::io::Read::read_to_end(&mut c.reader(), &mut plain);
            if c.read_tls(&mut rd).is_err() || c.process_new_packets().is_err() {
                return Err(());
            }
        }
        let _ = std::io::Read::read_to_end(&mut c.reader(), &mut plain);
    }
    Ok(plain)
}

/// Whether `bytes` are TLS records (a server's answer to anything: handshake, alerts,
/// application data), judged by the first record's content type and version.
fn looks_like_tls(bytes: &[u8]) -> bool {
    matches!(bytes, [0x14..=0x17, 0x03, 0x01..=0x04, ..])
}

/// Feeds arbitrary bytes to TLS sessions of a server core, and checks that it answers only
/// in TLS records, closes, never panics or hangs, and still serves HTTPS afterwards:
/// - `data` as raw bytes to a session before its handshake;
/// - after a real handshake, `data[1..]` as plaintext HTTP through the client (`data[0]`
///   even) or as raw bytes between the records (odd).
///
/// # Panics
/// When one of those does not hold.
pub fn tls_session(data: &[u8]) {
    let mut h = harness();

    let (slot, pipe) = h.connect_tls().expect("a free slot");
    pipe.send(data);
    pipe.close();
    h.run(slot, true, 10_000);
    let reply = pipe.received();
    assert!(reply.is_empty() || looks_like_tls(&reply), "{reply:?}");
    assert!(h.closed(slot), "session open after the client closed");

    let (slot, pipe) = h.connect_tls().expect("a free slot");
    let mut c = client();
    pump(&mut h, slot, &pipe, &mut c).expect("a clean handshake");
    assert!(!c.is_handshaking(), "handshake did not complete");
    let (mode, rest) = data.split_first().map_or((0, &[][..]), |(m, r)| (*m, r));
    if mode % 2 == 0 {
        std::io::Write::write_all(&mut c.writer(), rest).expect("plaintext buffered");
        if let Ok(plain) = pump(&mut h, slot, &pipe, &mut c) {
            assert!(
                plain.is_empty() || plain.starts_with(b"HTTP/1.1 "),
                "{plain:?}"
            );
        }
    } else {
        pipe.send(rest);
        h.run(slot, false, 1000);
        let reply = pipe.received();
        assert!(reply.is_empty() || looks_like_tls(&reply), "{reply:?}");
    }
    pipe.close();
    h.run(slot, true, 10_000);
    assert!(h.closed(slot), "session open after the client closed");

    let (slot, pipe) = h.connect_tls().expect("a free slot");
    let mut c = client();
    std::io::Write::write_all(&mut c.writer(), b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("plaintext buffered");
    let plain = pump(&mut h, slot, &pipe, &mut c).expect("a clean exchange");
    assert!(plain.ends_with(b"Hello World!"), "server stopped serving");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_handshake_and_a_request_over_the_pipe() {
        tls_session(b"\x00GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    }

    /// Randomized inputs (the stable-toolchain companion of the `tls_session` fuzz target):
    /// mutations of a real ClientHello, of HTTP requests and of raw records.
    #[test]
    fn random_bytes_before_and_after_the_handshake() {
        let mut hello = Vec::new();
        let mut c = client();
        while c.wants_write() {
            c.write_tls(&mut hello).unwrap();
        }
        let seeds: [&[u8]; 5] = [
            &hello,
            b"\x00GET /hello HTTP/1.1\r\nHost: x\r\n\r\nGET /hello HTTP/1.1\r\n\r\n",
            b"\x02POST /echo HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello",
            b"\x01\x17\x03\x03\x00\x10aaaaaaaaaaaaaaaa",
            b"\x01\x15\x03\x03\x00\x02\x01\x00",
        ];
        let mut state = std::env::var("HTTPD_RANDOM_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0x7153_u64);
        let mut next = move || {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            state.wrapping_mul(0x2545_f491_4f6c_dd1d)
        };
        for round in 0..150 {
            let mut input = seeds[round % seeds.len()].to_vec();
            for _ in 0..=(next() % 4) {
                let at = (next() as usize) % (input.len() + 1);
                match next() % 3 {
                    0 if at < input.len() => input[at] = next() as u8,
                    1 if at < input.len() => input.truncate(at.max(1)),
                    _ => input.insert(at, next() as u8),
                }
            }
            tls_session(&input);
        }
    }
}
