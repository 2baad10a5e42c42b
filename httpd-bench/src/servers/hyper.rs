//! The hyper 1.x bench server: HTTP/1 on a tokio current-thread runtime.

use std::convert::Infallible;
use std::io;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{header, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// Serves `GET /plaintext` on 127.0.0.1:`port` until the process is killed.
pub(crate) fn run(port: u16) -> io::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()?;
    runtime.block_on(serve(port))
}

async fn serve(port: u16) -> io::Result<()> {
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            // Out of descriptors or an aborted handshake: keep serving the others.
            Err(_) => continue,
        };
        if stream.set_nodelay(true).is_err() {
            continue;
        }
        tokio::spawn(async move {
            let _ = http1::Builder::new()
                .pipeline_flush(true)
                .serve_connection(TokioIo::new(stream), service_fn(plaintext))
                .await;
        });
    }
}

pub(crate) async fn plaintext(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    if req.uri().path() == "/upload" {
        // The pool benchmark's uploads: the body read through and counted.
        let mut body = req.into_body();
        let mut total = 0usize;
        while let Some(frame) = body.frame().await {
            match frame {
                Ok(frame) => total += frame.data_ref().map_or(0, |d| d.len()),
                Err(_) => break,
            }
        }
        return Ok(Response::new(Full::new(Bytes::from(total.to_string()))));
    }
    let mut response = Response::new(Full::new(Bytes::from_static(b"Hello, World!")));
    if req.uri().path() == "/plaintext" {
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, "text/plain".parse().expect("static"));
    } else {
        *response.body_mut() = Full::new(Bytes::new());
        *response.status_mut() = StatusCode::NOT_FOUND;
    }
    Ok(response)
}
