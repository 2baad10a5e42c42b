//! The one argument every bench server takes: `--port P`.

use std::io;

/// The value of `--port` in `args` (the program name excluded).
pub(crate) fn from_args(mut args: impl Iterator<Item = String>) -> io::Result<u16> {
    while let Some(arg) = args.next() {
        if arg == "--port" {
            if let Some(port) = args.next().and_then(|p| p.parse().ok()) {
                return Ok(port);
            }
        }
    }
    Err(io::Error::new(
        io::ErrorKind::InvalidInput,
        "usage: --port P (1..=65535)",
    ))
}
