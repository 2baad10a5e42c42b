//! The hyper TLS bench server: hyper 1.x over tokio-rustls (ring provider, rustls's default
//! server settings: TLS 1.2 and 1.3, session tickets off, a session cache of 256), on a tokio
//! current-thread runtime.

use std::io;
use std::sync::Arc;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use super::tls_args::TlsArgs;

/// Serves `GET /plaintext` over TLS on 127.0.0.1 until the process is killed.
pub(crate) fn run(args: TlsArgs) -> io::Result<()> {
    let certs = CertificateDer::pem_file_iter(&args.cert)
        .and_then(|i| i.collect::<Result<Vec<_>, _>>())
        .map_err(io::Error::other)?;
    let key = PrivateKeyDer::from_pem_file(&args.key).map_err(io::Error::other)?;
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(io::Error::other)?
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .map_err(io::Error::other)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()?;
    runtime.block_on(serve(args.port, acceptor))
}

async fn serve(port: u16, acceptor: TlsAcceptor) -> io::Result<()> {
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        if stream.set_nodelay(true).is_err() {
            continue;
        }
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let Ok(tls) = acceptor.accept(stream).await else {
                return;
            };
            let _ = http1::Builder::new()
                .pipeline_flush(true)
                .serve_connection(TokioIo::new(tls), service_fn(super::hyper::plaintext))
                .await;
        });
    }
}
