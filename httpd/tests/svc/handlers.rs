//! A test set of handlers written as esp-rs firmware would write them (embedded-svc traits and
//! the `server` module only), each exercising one behaviour of the facade. What the handlers
//! see is reported on channels for the tests to check.

use httpd::svc as server; // on the chip: use esp_idf_svc::http::server;

use std::cell::Cell;
use std::sync::mpsc::Sender;
use std::sync::Mutex;

use embedded_svc::http::server::{
    CompositeHandler, Connection, Handler, Middleware, Request as SvcRequest,
};
use embedded_svc::http::{Headers, Method, Query};
use embedded_svc::io::{Read, Write};
use embedded_svc::ws::FrameType;

use server::ws::{EspHttpWsConnection, EspHttpWsDetachedSender};
use server::EspHttpConnection;

/// What the WebSocket handler saw, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum WsEvent {
    New(i32),
    /// Session, frame type, the length `recv(&mut [])` reported, the length the second `recv`
    /// reported, and the bytes received.
    Frame(i32, FrameType, usize, usize, Vec<u8>),
    /// A `recv` after the frame was consumed failed.
    SecondRecvFailed(i32),
    Closed(i32),
}

/// A `Handler` that is `Send` but not `Sync` (a `Cell`), counting its calls.
pub(crate) struct Counter {
    calls: Cell<u32>,
}

impl<C: Connection> Handler<C> for Counter {
    type Error = C::Error;

    fn handle(&self, connection: &mut C) -> Result<(), Self::Error> {
        self.calls.set(self.calls.get() + 1);
        let body = format!("call {}", self.calls.get());
        connection.initiate_response(200, Some("OK"), &[("Content-Type", "text/plain")])?;
        connection.write_all(body.as_bytes())
    }
}

/// A middleware that refuses requests without `X-Key: open` and marks the others.
pub(crate) struct KeyCheck;

impl<C, H> Middleware<C, H> for KeyCheck
where
    C: Connection,
    H: Handler<C>,
    H::Error: std::fmt::Debug,
{
    type Error = anyhow::Error;

    fn handle(&self, connection: &mut C, handler: &H) -> Result<(), Self::Error> {
        if connection.header("X-Key") != Some("open") {
            connection
                .initiate_response(403, Some("Forbidden"), &[])
                .map_err(|e| anyhow::anyhow!("{e:?}"))?;
            connection
                .write_all(b"no key")
                .map_err(|e| anyhow::anyhow!("{e:?}"))?;
            return Ok(());
        }
        handler
            .handle(connection)
            .map_err(|e| anyhow::anyhow!("inner handler: {e:?}"))
    }
}

/// Registers the test set.
pub(crate) fn register(
    server: &mut server::EspHttpServer<'static>,
    ws_events: Sender<WsEvent>,
    senders: Sender<EspHttpWsDetachedSender>,
) -> anyhow::Result<()> {
    // Headers, query and method through the connection and through `split`.
    server.fn_handler::<anyhow::Error, _>("/inspect", Method::Post, |mut req| {
        let uri = req.uri().to_owned();
        let agent = req.header("x-AGENT").unwrap_or("-").to_owned();
        let (head, body) = req.split();
        let split_view = format!(
            "{:?} {} {}",
            head.method(),
            head.uri(),
            head.content_len().unwrap_or(0)
        );
        let mut data = Vec::new();
        let mut buf = [0u8; 7];
        loop {
            let n = body.read(&mut buf)?;
            if n == 0 {
                break;
            }
            data.extend_from_slice(&buf[..n]);
        }
        let mut resp = req.into_response(
            201,
            Some("Made"),
            &[("Content-Type", "text/plain"), ("X-Seen", &agent)],
        )?;
        write!(
            resp,
            "{uri}|{split_view}|{}",
            String::from_utf8_lossy(&data)
        )?;
        Ok(())
    })?;

    // Several chunks, and a Content-Length the server must drop.
    server.fn_handler::<anyhow::Error, _>("/chunks", Method::Get, |req| {
        let mut resp = req.into_response(200, None, &[("Content-Length", "3")])?;
        resp.write_all(b"first,")?;
        resp.write_all(b"")?;
        resp.write_all(b"second,")?;
        resp.write_all(b"third")?;
        resp.flush()?;
        Ok(())
    })?;

    // A response initiated without a body; and a handler that sends nothing at all.
    server.fn_handler("/status-only", Method::Get, |req| {
        req.into_status_response(204).map(|_| ())
    })?;
    server.fn_handler("/nothing", Method::Get, |_req| Ok::<(), anyhow::Error>(()))?;

    // Failures before and after the response started.
    server.fn_handler("/fail", Method::Get, |_req| {
        Err::<(), _>(anyhow::anyhow!("sensor <b>offline</b>"))
    })?;
    server.fn_handler::<anyhow::Error, _>("/fail-late", Method::Get, |req| {
        let mut resp = req.into_ok_response()?;
        resp.write_all(b"partial")?;
        anyhow::bail!("gave up half way")
    })?;

    // A panic (the chip would abort): caught by the server.
    server.fn_handler("/panic", Method::Get, |_req| -> Result<(), anyhow::Error> {
        panic!("handler bug")
    })?;

    // Misuse the chip panics on: an error here.
    server.fn_handler::<anyhow::Error, _>("/misuse", Method::Get, |mut req| {
        let write_early = SvcRequest::connection(&mut req).write(b"x").is_err();
        let mut resp = req.into_ok_response()?;
        let read_late = resp.connection().read(&mut [0u8; 4]).is_err();
        let again = resp.connection().initiate_response(200, None, &[]).is_err();
        write!(resp, "{write_early} {read_late} {again}")?;
        Ok(())
    })?;

    // The raw connection: the handler frames its response itself.
    server.fn_handler::<anyhow::Error, _>("/raw", Method::Get, |mut req| {
        let raw = SvcRequest::connection(&mut req).raw_connection()?;
        raw.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nX-Raw: yes\r\n\r\nraw")?;
        Ok(())
    })?;

    // A Handler impl that is not Sync, and the same behind a middleware.
    server.handler(
        "/counter",
        Method::Get,
        Counter {
            calls: Cell::new(0),
        },
    )?;
    server.handler(
        "/guarded",
        Method::Get,
        CompositeHandler::new(
            KeyCheck,
            Counter {
                calls: Cell::new(0),
            },
        ),
    )?;
    server.handler(
        "/composed",
        Method::Get,
        KeyCheck.compose(server::fn_handler(
            |req: SvcRequest<&mut EspHttpConnection>| req.into_ok_response()?.write_all(b"inside"),
        )),
    )?;

    // A registration chain.
    server.handler_chain(
        server::ChainRoot
            .get(
                "/chain/a",
                server::fn_handler(|req| req.into_ok_response()?.write_all(b"a")),
            )
            .post(
                "/chain/b",
                server::fn_handler(|req| req.into_ok_response()?.write_all(b"b")),
            ),
    )?;

    // WebSocket: an error (here on the is_new call) is logged; the connection stays.
    server.ws_handler("/ws-grumpy", None, |ws: &mut EspHttpWsConnection| {
        if ws.is_new() {
            ws.send(FrameType::Text(false), b"grr")?;
            anyhow::bail!("refusing to be new");
        }
        if ws.is_closed() {
            return Ok(());
        }
        let (_, len) = ws.recv(&mut [])?;
        let mut buf = vec![0u8; len];
        ws.recv(&mut buf)?;
        ws.send(FrameType::Binary(false), &buf)?;
        Ok(())
    })?;

    // WebSocket: reports what it sees, hands detached senders to the test.
    let ws_events = Mutex::new(ws_events);
    let senders = Mutex::new(senders);
    server.ws_handler(
        "/ws",
        Some("chat, superchat"),
        move |ws: &mut EspHttpWsConnection| {
            let events = ws_events.lock().unwrap();
            let session = ws.session();
            if ws.is_new() {
                events.send(WsEvent::New(session))?;
                senders.lock().unwrap().send(ws.create_detached_sender()?)?;
                ws.send(FrameType::Text(false), b"hello")?;
                return Ok(());
            }
            if ws.is_closed() {
                events.send(WsEvent::Closed(session))?;
                return Ok::<(), anyhow::Error>(());
            }
            let (frame_type, peeked) = ws.recv(&mut [])?;
            let mut buf = vec![0u8; peeked];
            let (_, got) = ws.recv(&mut buf)?;
            if ws.recv(&mut buf).is_err() {
                events.send(WsEvent::SecondRecvFailed(session))?;
            }
            events.send(WsEvent::Frame(
                session,
                frame_type,
                peeked,
                got,
                buf.clone(),
            ))?;
            match frame_type {
                FrameType::Text(_) => {
                    let text = &buf[..got - 1]; // the NUL the chip appends
                    match text {
                        b"fail" => anyhow::bail!("the handler failed"),
                        b"bye" => ws.send(FrameType::Close, &[0x03, 0xe8, b'o', b'k'])?,
                        b"ping" => ws.send(FrameType::Ping, b"p")?,
                        b"parts" => {
                            ws.send(FrameType::Text(true), b"one ")?;
                            ws.send(FrameType::Continue(false), b"two ")?;
                            ws.send(FrameType::Continue(true), b"three")?;
                        }
                        _ => ws.send(FrameType::Text(false), text)?,
                    }
                }
                _ => ws.send(FrameType::Binary(false), &buf[..got])?,
            }
            Ok(())
        },
    )?;
    Ok(())
}
