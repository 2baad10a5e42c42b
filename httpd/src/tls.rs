//! TLS configuration (feature `tls`): the certificate chain and key, client authentication,
//! protocol versions, ALPN, session resumption and the handshake deadline, loaded and checked
//! once by [`TlsConfigBuilder::build`]; and [`TlsInfo`], what a handler learns about its
//! connection. The transport that speaks TLS lives in `conn`; this module only prepares
//! rustls's configuration. Uses `error`.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::crypto::CryptoProvider;
use rustls::server::{ServerSessionMemoryCache, WebPkiClientVerifier};
use rustls::{RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::Error;

/// A TLS protocol version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TlsVersion {
    /// TLS 1.2 (RFC 5246).
    Tls12,
    /// TLS 1.3 (RFC 8446).
    Tls13,
}

/// Whether clients must present a certificate signed by the configured CA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// A client without a valid certificate is refused during the handshake (a TLS alert).
    Required,
    /// A client may present a certificate; without one it is served all the same, and
    /// [`TlsInfo::client_cert`] is `None`. A certificate that does not verify is refused.
    Optional,
}

/// How returning clients may skip the full handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Resumption {
    /// No resumption: every connection makes a full handshake.
    Off,
    /// Stateless tickets (TLS 1.2 and 1.3), keys rotated every 6 hours, and a server-side cache
    /// of this many sessions for TLS 1.2 clients that resume by session id. The default, with
    /// 256 sessions.
    Tickets {
        /// Sessions kept in the server-side cache.
        cache: usize,
    },
    /// A server-side cache of this many sessions only (no tickets).
    Cache(usize),
}

/// Where PEM material comes from: a file (named in errors) or bytes.
#[derive(Clone)]
enum Pem {
    File(PathBuf),
    Bytes(Vec<u8>, &'static str),
}

impl Pem {
    fn label(&self) -> String {
        match self {
            Pem::File(path) => path.display().to_string(),
            Pem::Bytes(_, what) => format!("{what} (PEM bytes)"),
        }
    }

    fn read(&self) -> Result<Vec<u8>, Error> {
        match self {
            Pem::File(path) => std::fs::read(path)
                .map_err(|e| Error::Tls(format!("cannot read {}: {e}", path.display()))),
            Pem::Bytes(bytes, _) => Ok(bytes.clone()),
        }
    }

    fn certs(&self) -> Result<Vec<CertificateDer<'static>>, Error> {
        let bytes = self.read()?;
        let certs = CertificateDer::pem_slice_iter(&bytes)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| Error::Tls(format!("{}: bad PEM: {e}", self.label())))?;
        if certs.is_empty() {
            return Err(Error::Tls(format!(
                "{}: no CERTIFICATE in the PEM",
                self.label()
            )));
        }
        Ok(certs)
    }

    fn key(&self) -> Result<PrivateKeyDer<'static>, Error> {
        let bytes = self.read()?;
        PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| match e {
            rustls_pki_types::pem::Error::NoItemsFound => {
                Error::Tls(format!("{}: no PRIVATE KEY in the PEM", self.label()))
            }
            e => Error::Tls(format!("{}: bad PEM: {e}", self.label())),
        })
    }
}

/// A validated TLS configuration for [`ConfigBuilder::tls`](crate::ConfigBuilder::tls): built
/// by [`TlsConfig::builder`] (certificate material loaded and checked), or wrapped around a
/// rustls configuration of your own with [`TlsConfig::from_rustls`]. Cheap to clone.
#[derive(Clone)]
pub struct TlsConfig {
    pub(crate) server: Arc<ServerConfig>,
    pub(crate) handshake_timeout: Duration,
}

impl fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsConfig")
            .field("alpn", &self.server.alpn_protocols)
            .field("handshake_timeout", &self.handshake_timeout)
            .finish_non_exhaustive()
    }
}

/// The default handshake deadline.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

impl TlsConfig {
    /// Starts a configuration.
    ///
    /// ```no_run
    /// use httpd::{ClientAuth, Config, TlsConfig};
    /// let tls = TlsConfig::builder()
    ///     .cert_chain_file("server.pem")
    ///     .key_file("server.key")
    ///     .client_ca_file("clients-ca.pem", ClientAuth::Required)
    ///     .build()?;
    /// let config = Config::builder().port(8443).tls(tls).build()?;
    /// # Ok::<(), httpd::Error>(())
    /// ```
    pub fn builder() -> TlsConfigBuilder {
        TlsConfigBuilder {
            chain: None,
            key: None,
            client_ca: None,
            versions: vec![TlsVersion::Tls12, TlsVersion::Tls13],
            alpn: vec![b"http/1.1".to_vec()],
            resumption: Resumption::Tickets { cache: 256 },
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
        }
    }

    /// Serves with a rustls configuration built elsewhere (any certificate resolver, verifier
    /// or crypto provider), with the default handshake deadline.
    pub fn from_rustls(config: Arc<ServerConfig>) -> TlsConfig {
        TlsConfig {
            server: config,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
        }
    }

    /// Replaces the handshake deadline (see [`TlsConfigBuilder::handshake_timeout`]).
    pub fn with_handshake_timeout(mut self, timeout: Duration) -> TlsConfig {
        self.handshake_timeout = timeout;
        self
    }

    /// How long a client has from its connection to the end of its handshake.
    pub fn handshake_timeout(&self) -> Duration {
        self.handshake_timeout
    }
}

/// Builds a [`TlsConfig`]. The certificate chain and key are required; everything else has
/// a default.
#[derive(Clone)]
pub struct TlsConfigBuilder {
    chain: Option<Pem>,
    key: Option<Pem>,
    client_ca: Option<(Pem, ClientAuth)>,
    versions: Vec<TlsVersion>,
    alpn: Vec<Vec<u8>>,
    resumption: Resumption,
    handshake_timeout: Duration,
}

impl fmt::Debug for TlsConfigBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsConfigBuilder")
            .field("chain", &self.chain.as_ref().map(Pem::label))
            .field("key", &self.key.as_ref().map(Pem::label))
            .field(
                "client_ca",
                &self.client_ca.as_ref().map(|(p, a)| (p.label(), a)),
            )
            .field("versions", &self.versions)
            .field("resumption", &self.resumption)
            .field("handshake_timeout", &self.handshake_timeout)
            .finish_non_exhaustive()
    }
}

impl TlsConfigBuilder {
    /// The server's certificate chain, leaf first, from a PEM file. Required (or
    /// [`cert_chain_pem`](Self::cert_chain_pem)).
    pub fn cert_chain_file(mut self, path: impl AsRef<Path>) -> Self {
        self.chain = Some(Pem::File(path.as_ref().to_owned()));
        self
    }

    /// The server's certificate chain, leaf first, as PEM bytes.
    pub fn cert_chain_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.chain = Some(Pem::Bytes(pem.into(), "certificate chain"));
        self
    }

    /// The private key of the leaf certificate (PKCS#8, PKCS#1 or SEC1) from a PEM file.
    /// Required (or [`key_pem`](Self::key_pem)).
    pub fn key_file(mut self, path: impl AsRef<Path>) -> Self {
        self.key = Some(Pem::File(path.as_ref().to_owned()));
        self
    }

    /// The private key as PEM bytes.
    pub fn key_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.key = Some(Pem::Bytes(pem.into(), "private key"));
        self
    }

    /// Authenticates clients against the CA certificates in a PEM file. Default: no client
    /// authentication.
    pub fn client_ca_file(mut self, path: impl AsRef<Path>, auth: ClientAuth) -> Self {
        self.client_ca = Some((Pem::File(path.as_ref().to_owned()), auth));
        self
    }

    /// Authenticates clients against CA certificates given as PEM bytes.
    pub fn client_ca_pem(mut self, pem: impl Into<Vec<u8>>, auth: ClientAuth) -> Self {
        self.client_ca = Some((Pem::Bytes(pem.into(), "client CA bundle"), auth));
        self
    }

    /// The protocol versions offered. Default: TLS 1.2 and TLS 1.3.
    pub fn versions(mut self, versions: &[TlsVersion]) -> Self {
        self.versions = versions.to_vec();
        self
    }

    /// The ALPN protocols accepted, in order of preference. Default: `http/1.1`. A client that
    /// offers ALPN without any of these is refused; one that offers none is served.
    pub fn alpn(mut self, protocols: &[&[u8]]) -> Self {
        self.alpn = protocols.iter().map(|p| p.to_vec()).collect();
        self
    }

    /// Session resumption. Default: [`Resumption::Tickets`] with a cache of 256 sessions.
    pub fn resumption(mut self, resumption: Resumption) -> Self {
        self.resumption = resumption;
        self
    }

    /// How long a client has from its connection to the end of its handshake; then it is
    /// closed. The connection counts toward `max_open_sockets` meanwhile. Default 10 s.
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// Loads and checks the material and builds rustls's configuration (ring provider).
    ///
    /// # Errors
    /// [`Error::Tls`] naming the file (or the PEM bytes) that cannot be read or parsed, a key
    /// that does not match the certificate, a missing chain or key, no versions, or a zero
    /// handshake timeout.
    pub fn build(self) -> Result<TlsConfig, Error> {
        if self.handshake_timeout.is_zero() {
            return Err(Error::Tls("handshake_timeout must be non-zero".into()));
        }
        let chain_pem = self
            .chain
            .as_ref()
            .ok_or_else(|| Error::Tls("no certificate chain configured".into()))?;
        let key_pem = self
            .key
            .as_ref()
            .ok_or_else(|| Error::Tls("no private key configured".into()))?;
        let chain = chain_pem.certs()?;
        let key = key_pem.key()?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut versions = Vec::new();
        if self.versions.contains(&TlsVersion::Tls13) {
            versions.push(&rustls::version::TLS13);
        }
        if self.versions.contains(&TlsVersion::Tls12) {
            versions.push(&rustls::version::TLS12);
        }
        if versions.is_empty() {
            return Err(Error::Tls("no TLS version enabled".into()));
        }
        let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_protocol_versions(&versions)
            .map_err(|e| Error::Tls(format!("protocol versions: {e}")))?;
        let builder = match &self.client_ca {
            None => builder.with_no_client_auth(),
            Some((pem, auth)) => {
                let mut roots = RootCertStore::empty();
                for cert in pem.certs()? {
                    roots
                        .add(cert)
                        .map_err(|e| Error::Tls(format!("{}: {e}", pem.label())))?;
                }
                let verifier =
                    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone());
                let verifier = match auth {
                    ClientAuth::Required => verifier,
                    ClientAuth::Optional => verifier.allow_unauthenticated(),
                };
                let verifier = verifier
                    .build()
                    .map_err(|e| Error::Tls(format!("{}: {e}", pem.label())))?;
                builder.with_client_cert_verifier(verifier)
            }
        };
        let mut server = builder.with_single_cert(chain, key).map_err(|e| {
            Error::Tls(format!(
                "{} with {}: {e}",
                chain_pem.label(),
                key_pem.label()
            ))
        })?;
        server.alpn_protocols = self.alpn;
        match self.resumption {
            Resumption::Off => {
                server.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
                server.send_tls13_tickets = 0;
            }
            Resumption::Cache(n) => {
                server.session_storage = ServerSessionMemoryCache::new(n.max(1));
            }
            Resumption::Tickets { cache } => {
                server.session_storage = ServerSessionMemoryCache::new(cache.max(1));
                server.ticketer = rustls::crypto::ring::Ticketer::new()
                    .map_err(|e| Error::Tls(format!("session tickets: {e}")))?;
            }
        }
        Ok(TlsConfig {
            server: Arc::new(server),
            handshake_timeout: self.handshake_timeout,
        })
    }
}

/// What a handler can learn about its TLS connection ([`Request::tls`](crate::Request::tls)).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TlsInfo {
    /// The negotiated protocol version.
    pub version: TlsVersion,
    /// The negotiated cipher suite's IANA name, e.g. `TLS13_AES_128_GCM_SHA256`.
    pub cipher_suite: &'static str,
    /// The server name the client asked for (SNI), if it sent one.
    pub sni: Option<String>,
    /// The ALPN protocol agreed, if the client offered ALPN.
    pub alpn: Option<Vec<u8>>,
    /// The client's certificate (DER, the leaf of its chain) in a mutually authenticated
    /// session.
    pub client_cert: Option<Vec<u8>>,
    /// Whether this session was resumed (no full handshake).
    pub resumed: bool,
}

impl TlsInfo {
    /// The facts of a connection whose handshake is complete.
    pub(crate) fn of(conn: &rustls::ServerConnection) -> Option<TlsInfo> {
        let version = match conn.protocol_version()? {
            rustls::ProtocolVersion::TLSv1_2 => TlsVersion::Tls12,
            rustls::ProtocolVersion::TLSv1_3 => TlsVersion::Tls13,
            _ => return None,
        };
        let suite = conn.negotiated_cipher_suite()?;
        Some(TlsInfo {
            version,
            cipher_suite: suite.suite().as_str().unwrap_or("unknown"),
            sni: conn.server_name().map(str::to_owned),
            alpn: conn.alpn_protocol().map(<[u8]>::to_vec),
            client_cert: conn
                .peer_certificates()
                .and_then(|c| c.first())
                .map(|c| c.as_ref().to_vec()),
            resumed: matches!(conn.handshake_kind(), Some(rustls::HandshakeKind::Resumed)),
        })
    }
}

/// The crypto provider httpd builds with (ring), for callers building their own rustls
/// configuration to hand to [`TlsConfig::from_rustls`].
pub fn crypto_provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}
