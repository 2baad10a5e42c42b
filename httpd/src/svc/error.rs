//! The facade's error types: what esp-idf-svc calls `EspError` (server calls, WebSocket frames)
//! and `EspIOError` (the embedded-io side of a connection), here wrapping an httpd [`Error`].

use std::fmt;
use std::io;

use embedded_svc::io::ErrorKind;

use crate::Error;

/// An error from the server facade or a WebSocket connection: esp-idf-svc's `EspError`, here
/// carrying the httpd [`Error`] behind it. `std::error::Error + Send + Sync + 'static`, so `?`
/// turns it into an `anyhow::Error` as on the chip.
#[derive(Debug)]
pub struct EspError(Error);

impl EspError {
    /// The httpd error behind this one.
    pub fn error(&self) -> &Error {
        &self.0
    }

    /// Takes the httpd error out.
    pub fn into_inner(self) -> Error {
        self.0
    }

    /// The closest embedded-io error kind.
    pub fn kind(&self) -> ErrorKind {
        match &self.0 {
            Error::Io(e) => io_kind(e.kind()),
            Error::Timeout => ErrorKind::TimedOut,
            Error::ConnectionClosed | Error::NoSuchSession | Error::CloseSent => {
                ErrorKind::ConnectionReset
            }
            Error::Stopped => ErrorKind::NotConnected,
            Error::BadBody => ErrorKind::InvalidData,
            Error::BodyTooLarge | Error::HandlerTableFull | Error::QueueFull => {
                ErrorKind::OutOfMemory
            }
            Error::HandlerExists => ErrorKind::AlreadyExists,
            Error::HandlerNotFound => ErrorKind::NotFound,
            Error::InvalidHeader
            | Error::TooManyHeaders
            | Error::InvalidFrame
            | Error::InvalidConfig(_)
            | Error::ResponseStarted
            | Error::LengthMismatch
            | Error::AlreadyDetached => ErrorKind::InvalidInput,
            _ => ErrorKind::Other,
        }
    }
}

fn io_kind(kind: io::ErrorKind) -> ErrorKind {
    match kind {
        io::ErrorKind::NotFound => ErrorKind::NotFound,
        io::ErrorKind::PermissionDenied => ErrorKind::PermissionDenied,
        io::ErrorKind::ConnectionRefused => ErrorKind::ConnectionRefused,
        io::ErrorKind::ConnectionReset => ErrorKind::ConnectionReset,
        io::ErrorKind::ConnectionAborted => ErrorKind::ConnectionAborted,
        io::ErrorKind::NotConnected => ErrorKind::NotConnected,
        io::ErrorKind::AddrInUse => ErrorKind::AddrInUse,
        io::ErrorKind::AddrNotAvailable => ErrorKind::AddrNotAvailable,
        io::ErrorKind::BrokenPipe => ErrorKind::BrokenPipe,
        io::ErrorKind::AlreadyExists => ErrorKind::AlreadyExists,
        io::ErrorKind::InvalidInput => ErrorKind::InvalidInput,
        io::ErrorKind::InvalidData => ErrorKind::InvalidData,
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => ErrorKind::TimedOut,
        io::ErrorKind::Interrupted => ErrorKind::Interrupted,
        io::ErrorKind::Unsupported => ErrorKind::Unsupported,
        io::ErrorKind::OutOfMemory => ErrorKind::OutOfMemory,
        io::ErrorKind::WriteZero => ErrorKind::WriteZero,
        _ => ErrorKind::Other,
    }
}

impl From<Error> for EspError {
    fn from(e: Error) -> Self {
        EspError(e)
    }
}

impl fmt::Display for EspError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for EspError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

impl embedded_svc::io::Error for EspError {
    fn kind(&self) -> ErrorKind {
        EspError::kind(self)
    }
}

/// The error of a connection's embedded-io `Read` and `Write` (esp-idf-svc's `EspIOError`).
#[derive(Debug)]
pub struct EspIOError(pub EspError);

impl From<Error> for EspIOError {
    fn from(e: Error) -> Self {
        EspIOError(EspError(e))
    }
}

impl From<EspError> for EspIOError {
    fn from(e: EspError) -> Self {
        EspIOError(e)
    }
}

impl fmt::Display for EspIOError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for EspIOError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

impl embedded_svc::io::Error for EspIOError {
    fn kind(&self) -> ErrorKind {
        self.0.kind()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_std_error<E: std::error::Error + Send + Sync + 'static>() {}

    #[test]
    fn errors_travel_in_anyhow_and_keep_their_kind() {
        assert_std_error::<EspError>();
        assert_std_error::<EspIOError>();
        let e = EspIOError::from(Error::Timeout);
        assert_eq!(embedded_svc::io::Error::kind(&e), ErrorKind::TimedOut);
        assert_eq!(e.to_string(), Error::Timeout.to_string());
        let io = EspError::from(Error::Io(io::ErrorKind::BrokenPipe.into()));
        assert_eq!(io.kind(), ErrorKind::BrokenPipe);
        assert!(matches!(io.into_inner(), Error::Io(_)));
    }
}
