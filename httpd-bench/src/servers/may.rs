//! The may_minihttp bench server: coroutines on one may worker thread.

use std::io;

use may_minihttp::{HttpServer, HttpService, Request, Response};

#[derive(Clone)]
struct Plaintext;

impl HttpService for Plaintext {
    fn call(&mut self, req: Request<'_, '_, '_>, rsp: &mut Response<'_>) -> io::Result<()> {
        if req.path() == "/plaintext" {
            rsp.header("Content-Type: text/plain").body("Hello, World!");
        } else {
            rsp.status_code(404, "Not Found");
        }
        Ok(())
    }
}

/// Serves `GET /plaintext` on 127.0.0.1:`port` until the process is killed.
pub(crate) fn run(port: u16) -> io::Result<()> {
    may::config().set_workers(1);
    let server = HttpServer(Plaintext).start(("127.0.0.1", port))?;
    server
        .join()
        .map_err(|_| io::Error::other("may_minihttp server panicked"))
}
