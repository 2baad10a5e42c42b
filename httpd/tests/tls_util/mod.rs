//! Helpers for the TLS tests: a small PKI made at run time (a CA, a server certificate for
//! `localhost` and 127.0.0.1, a client certificate from that CA and one from another CA), a
//! server with the routes the tests use, and an independent TLS client (rustls's client side,
//! ring provider).
#![allow(dead_code, unreachable_pub)]

use std::io;
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, OnceLock};

use httpd::{Config, ConfigBuilder, Handler, Method, Server, TlsConfigBuilder, WsHandler};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

use crate::util::{Client, IO_TIMEOUT};

/// A certificate and its key, PEM and DER.
pub struct Ident {
    pub cert_pem: String,
    pub key_pem: String,
    pub cert_der: Vec<u8>,
    pub key_der: Vec<u8>,
}

pub struct Pki {
    pub ca_pem: String,
    pub ca_der: Vec<u8>,
    pub server: Ident,
    /// Signed by the CA, Common Name "alice".
    pub alice: Ident,
    /// Signed by another CA, Common Name "mallory".
    pub mallory: Ident,
}

fn make_ca(name: &str) -> (rcgen::Certificate, Issuer<'static, KeyPair>) {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    let key = KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    (cert, Issuer::new(params, key))
}

fn leaf(names: &[&str], cn: &str, issuer: &Issuer<'_, KeyPair>) -> Ident {
    let mut params =
        CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
    params.distinguished_name.push(DnType::CommonName, cn);
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, issuer).unwrap();
    Ident {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
        cert_der: cert.der().to_vec(),
        key_der: key.serialize_der(),
    }
}

/// The test PKI, made once per test binary.
pub fn pki() -> &'static Pki {
    static PKI: OnceLock<Pki> = OnceLock::new();
    PKI.get_or_init(|| {
        let (ca_cert, ca) = make_ca("httpd test CA");
        let (_, other_ca) = make_ca("another CA");
        Pki {
            ca_pem: ca_cert.pem(),
            ca_der: ca_cert.der().to_vec(),
            server: leaf(&["localhost", "127.0.0.1"], "localhost", &ca),
            alice: leaf(&["alice.example"], "alice", &ca),
            mallory: leaf(&["mallory.example"], "mallory", &other_ca),
        }
    })
}

/// The server side's TLS settings with the test certificate.
pub fn server_tls() -> TlsConfigBuilder {
    let pki = pki();
    httpd::TlsConfig::builder()
        .cert_chain_pem(pki.server.cert_pem.clone())
        .key_pem(pki.server.key_pem.clone())
}

/// Starts an HTTPS server on 127.0.0.1 (ephemeral port) with the test routes.
pub fn tls_server(builder: ConfigBuilder, tls: TlsConfigBuilder) -> Server {
    let server = crate::util::start(builder.tls(tls.build().expect("valid TLS config")));
    routes(&server);
    server
}

/// An HTTPS server with host-like limits and the default TLS settings.
pub fn default_server() -> Server {
    tls_server(
        Config::builder()
            .max_open_sockets(64)
            .backlog_conn(128)
            .max_uri_handlers(16),
        server_tls(),
    )
}

/// `/hello`; `/info` (what `req.tls()` says); `/echo` (body back, up to 32 MiB); `/big?n=BYTES`;
/// `/whoami` (the client certificate's length, or 404); `/ws` (echo).
pub fn routes(server: &Server) {
    server
        .register(Handler::new("/hello", Method::Get, |req| {
            req.send_str("Hello World!")
        }))
        .unwrap();
    server
        .register(Handler::new("/info", Method::Get, |req| {
            let info = match req.tls() {
                Some(t) => format!(
                    "{:?} {} sni={} alpn={} cert={} resumed={}",
                    t.version,
                    t.cipher_suite,
                    t.sni.as_deref().unwrap_or("-"),
                    t.alpn
                        .as_deref()
                        .map(String::from_utf8_lossy)
                        .unwrap_or("-".into()),
                    t.client_cert.as_ref().map_or(0, Vec::len),
                    t.resumed,
                ),
                None => "plain".to_owned(),
            };
            req.send_str(&info)
        }))
        .unwrap();
    server
        .register(Handler::new("/echo", Method::Post, |req| {
            let body = req.read_body(32 << 20)?;
            req.send(&body)
        }))
        .unwrap();
    server
        .register(Handler::new("/big", Method::Get, |req| {
            let n: usize = req
                .query_value("n")
                .and_then(|n| n.parse().ok())
                .unwrap_or(1 << 20);
            let body: Vec<u8> = (0..n).map(|i| (i % 251) as u8).collect();
            req.send(body)
        }))
        .unwrap();
    server
        .register(Handler::new("/whoami", Method::Get, |req| {
            match req.tls().and_then(|t| t.client_cert) {
                Some(der) if der == pki().alice.cert_der => req.send_str("alice"),
                Some(_) => req.send_str("someone"),
                None => req.send_err(httpd::ErrorCode::NotFound, None),
            }
        }))
        .unwrap();
    server
        .register(
            WsHandler::new("/ws", |conn, frame| {
                let tls = conn.tls().is_some();
                match frame.text() {
                    Some(text) => conn.send_text(&format!("{text} tls={tls}")),
                    None => conn.send_binary(frame.payload()),
                }
            })
            .max_message(1 << 20),
        )
        .unwrap();
}

/// What a test client offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Versions {
    Both,
    Tls12,
    Tls13,
}

pub fn client_config(
    versions: Versions,
    alpn: &[&[u8]],
    cert: Option<&Ident>,
) -> Arc<ClientConfig> {
    client_config_trusting(&pki().ca_der, versions, alpn, cert)
}

/// A client trusting `ca_der` (a CA, or a self-signed server certificate).
pub fn client_config_trusting(
    ca_der: &[u8],
    versions: Versions,
    alpn: &[&[u8]],
    cert: Option<&Ident>,
) -> Arc<ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    roots.add(CertificateDer::from(ca_der.to_vec())).unwrap();
    let v: &[&'static rustls::SupportedProtocolVersion] = match versions {
        Versions::Both => &[&rustls::version::TLS13, &rustls::version::TLS12],
        Versions::Tls12 => &[&rustls::version::TLS12],
        Versions::Tls13 => &[&rustls::version::TLS13],
    };
    let builder = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(v)
        .unwrap()
        .with_root_certificates(roots);
    let mut config = match cert {
        None => builder.with_no_client_auth(),
        Some(id) => builder
            .with_client_auth_cert(
                vec![CertificateDer::from(id.cert_der.clone())],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(id.key_der.clone())),
            )
            .unwrap(),
    };
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Arc::new(config)
}

/// The default client: TLS 1.2 or 1.3, ALPN http/1.1, no certificate.
pub fn default_client() -> Arc<ClientConfig> {
    client_config(Versions::Both, &[b"http/1.1"], None)
}

pub type TlsStream = StreamOwned<ClientConnection, TcpStream>;

/// Connects and completes the handshake (SNI `localhost`), so a refused handshake is an
/// `Err` here.
pub fn tls_connect(addr: SocketAddr, config: &Arc<ClientConfig>) -> io::Result<TlsStream> {
    tls_connect_as(addr, config, "localhost")
}

pub fn tls_connect_as(
    addr: SocketAddr,
    config: &Arc<ClientConfig>,
    name: &str,
) -> io::Result<TlsStream> {
    let mut sock = TcpStream::connect(addr)?;
    sock.set_read_timeout(Some(IO_TIMEOUT))?;
    sock.set_write_timeout(Some(IO_TIMEOUT))?;
    sock.set_nodelay(true)?;
    let name = ServerName::try_from(name.to_owned()).unwrap();
    let mut conn = ClientConnection::new(Arc::clone(config), name).map_err(io::Error::other)?;
    while conn.is_handshaking() {
        conn.complete_io(&mut sock)?;
    }
    // TLS 1.3: the server's verdict on a client certificate comes after the client's
    // Finished; a refused one shows on the first read.
    Ok(StreamOwned::new(conn, sock))
}

/// An HTTP client over a completed TLS connection.
pub fn https(addr: SocketAddr, config: &Arc<ClientConfig>) -> Client<TlsStream> {
    Client::over(tls_connect(addr, config).expect("TLS handshake"))
}

/// The first flight of a real client (its ClientHello records), for clients that stop
/// halfway through.
pub fn client_hello() -> Vec<u8> {
    let name = ServerName::try_from("localhost").unwrap();
    let mut conn = ClientConnection::new(default_client(), name).unwrap();
    let mut out = Vec::new();
    while conn.wants_write() {
        conn.write_tls(&mut out).unwrap();
    }
    out
}

/// Waits (bounded) until the server has closed every session.
pub fn wait_until_no_sessions(server: &Server) {
    let deadline = std::time::Instant::now() + IO_TIMEOUT;
    while !server.clients().is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "sessions still open: {:?}",
            server.clients()
        );
        std::thread::yield_now();
    }
}

/// Descriptors open in this process.
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}

/// Resident memory of this process, in bytes.
pub fn rss() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: usize = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}
