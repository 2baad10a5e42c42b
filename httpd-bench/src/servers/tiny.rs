//! The tiny_http bench server.

use std::io;

use tiny_http::{Header, Response, Server};

/// Serves `GET /plaintext` on 127.0.0.1:`port` until the process is killed.
///
/// tiny_http reads each connection on a thread of its own and hands requests to this one.
pub(crate) fn run(port: u16) -> io::Result<()> {
    let server = Server::http(("127.0.0.1", port)).map_err(io::Error::other)?;
    let content_type = Header::from_bytes(&b"Content-Type"[..], &b"text/plain"[..])
        .map_err(|()| io::Error::other("invalid Content-Type header"))?;
    for request in server.incoming_requests() {
        let response = if request.url() == "/plaintext" {
            Response::from_string("Hello, World!").with_header(content_type.clone())
        } else {
            Response::from_string("").with_status_code(404)
        };
        // A client that went away is not the server's failure.
        let _ = request.respond(response);
    }
    Ok(())
}
