//! The arguments of the TLS bench servers: `--port P --cert PEM --key PEM`.

use std::io;
use std::path::PathBuf;

/// Where to listen and what to present.
pub(crate) struct TlsArgs {
    pub(crate) port: u16,
    pub(crate) cert: PathBuf,
    pub(crate) key: PathBuf,
}

/// Parses `--port P --cert PEM --key PEM` (the program name excluded).
pub(crate) fn from_args(args: impl Iterator<Item = String>) -> io::Result<TlsArgs> {
    let args: Vec<String> = args.collect();
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let usage = || {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "usage: --port P --cert PEM --key PEM",
        )
    };
    Ok(TlsArgs {
        port: value("--port")
            .and_then(|p| p.parse().ok())
            .ok_or_else(usage)?,
        cert: value("--cert").ok_or_else(usage)?.into(),
        key: value("--key").ok_or_else(usage)?.into(),
    })
}
