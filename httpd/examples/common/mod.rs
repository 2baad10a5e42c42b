//! What every example does around its server: logging at info (`RUST_LOG` changes it), its
//! command line, and a graceful shutdown on Ctrl-C through `Server::shutdown` (requests in
//! progress finish, for up to `GRACE`; exit code 0).

use std::process::ExitCode;
use std::sync::mpsc;
use std::time::Duration;

use httpd::{Error, Server};

/// How long requests in progress may take to finish after Ctrl-C.
const GRACE: Duration = Duration::from_secs(10);

/// Runs an example: parses its arguments with `parse` (on error: the message, exit code 2),
/// starts its server with `start`, and serves until Ctrl-C.
pub(crate) fn main<A>(
    parse: impl FnOnce() -> Result<A, String>,
    start: impl FnOnce(&A) -> Result<Server, Error>,
) -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let args = match parse() {
        Ok(args) => args,
        Err(msg) => {
            eprintln!("{msg}");
            return ExitCode::from(2);
        }
    };
    let (stop_tx, stop_rx) = mpsc::channel();
    if let Err(e) = ctrlc::set_handler(move || {
        let _ = stop_tx.send(());
    }) {
        log::error!("installing the Ctrl-C handler: {e}");
        return ExitCode::FAILURE;
    }
    let server = match start(&args) {
        Ok(server) => server,
        Err(e) => {
            log::error!("starting the server: {e}");
            return ExitCode::FAILURE;
        }
    };
    log::info!("Server ready on {}; Ctrl-C stops it", server.local_addr());
    // Only an error in the Ctrl-C machinery ends the wait early; stop either way.
    let _ = stop_rx.recv();
    log::info!("Shutting down (up to {GRACE:?} for requests in progress)");
    server.shutdown(GRACE);
    ExitCode::SUCCESS
}

/// Parses `--port N` (default 8080), the only argument of most examples.
#[allow(dead_code)] // not every example uses it
pub(crate) fn port_only(usage: &str) -> Result<u16, String> {
    let mut port = 8080;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--port" => {
                let value = args.next().ok_or("--port needs a value")?;
                port = value
                    .parse()
                    .map_err(|_| format!("invalid port {value:?}"))?;
            }
            _ => return Err(usage.to_owned()),
        }
    }
    Ok(port)
}
