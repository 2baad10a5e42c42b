//! The httpd TLS bench server: the plain bench server's configuration and handler, with the
//! library's `tls` feature and a certificate.

use std::io;

use httpd::TlsConfig;

use super::tls_args::TlsArgs;

/// Serves `GET /plaintext` over TLS on 127.0.0.1 until the process is killed.
pub(crate) fn run(args: TlsArgs) -> io::Result<()> {
    let tls = TlsConfig::builder()
        .cert_chain_file(&args.cert)
        .key_file(&args.key)
        .build()
        .map_err(io::Error::other)?;
    super::httpd::run_with(args.port, |b| b.tls(tls))
}
