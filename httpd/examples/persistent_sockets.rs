//! ESP-IDF's persistent-sockets example on httpd: a per-connection accumulator.
//!
//! `PUT /adder` sets the session's accumulator to the number in the body, `POST /adder` adds the
//! body's number to it and answers the new sum, `GET /adder` answers the current value. The
//! accumulator is the session context: it lives as long as the connection and is dropped (with a
//! log line) when the connection closes. `GET /login` creates it, `GET /logout` drops it.
//!
//! ```text
//! cargo run --example persistent_sockets -- --port 8080
//! cargo run --example adder -- 127.0.0.1 8080 10
//! ```
//!
//! Ctrl-C shuts it down gracefully (requests in progress finish).

mod common;

use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use httpd::{Config, Error, ErrorCode, Handler, Method, Request, Server};
use log::info;

/// The session's accumulator. Dropping it is ESP-IDF's `free_ctx`.
struct Adder {
    sum: i64,
}

impl Drop for Adder {
    fn drop(&mut self) {
        info!("/adder Free Context function called");
    }
}

/// The largest body the handlers accept: a number, with room for a sign and whitespace.
const MAX_NUMBER_LEN: usize = 32;

/// Reads the request body as a number. `Ok(None)` after answering 400 when it is not one.
fn read_number(req: &mut Request<'_>) -> Result<Option<i64>, Error> {
    let body = req.read_body(MAX_NUMBER_LEN)?;
    let number = std::str::from_utf8(&body)
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok());
    if number.is_none() {
        req.send_err(ErrorCode::BadRequest, Some("The body must be a number"))?;
    }
    Ok(number)
}

fn count_visitor(visitors: &AtomicUsize) {
    let n = visitors.fetch_add(1, Ordering::Relaxed) + 1;
    info!("/adder visitor count = {n}");
}

/// `POST /adder`: adds the body's number to the session's accumulator.
fn adder_post(req: &mut Request<'_>, visitors: &AtomicUsize) -> Result<(), Error> {
    count_visitor(visitors);
    let Some(val) = read_number(req)? else {
        return Ok(());
    };
    info!("/adder handler read {val}");
    let adder = req.session_ctx_or_insert_with(|| {
        info!("/adder allocating new session");
        Adder { sum: 0 }
    });
    let Some(sum) = adder.sum.checked_add(val) else {
        return req.send_err(ErrorCode::BadRequest, Some("The sum is out of range"));
    };
    adder.sum = sum;
    req.send_str(&sum.to_string())
}

/// `GET /adder`: answers the session's accumulator.
fn adder_get(req: &mut Request<'_>, visitors: &AtomicUsize) -> Result<(), Error> {
    count_visitor(visitors);
    let sum = req
        .session_ctx_or_insert_with(|| {
            info!("/adder GET allocating new session");
            Adder { sum: 0 }
        })
        .sum;
    info!("/adder GET handler send {sum}");
    req.send_str(&sum.to_string())
}

/// `PUT /adder`: sets the session's accumulator to the body's number.
fn adder_put(req: &mut Request<'_>, visitors: &AtomicUsize) -> Result<(), Error> {
    count_visitor(visitors);
    let Some(val) = read_number(req)? else {
        return Ok(());
    };
    info!("/adder PUT handler read {val}");
    req.session_ctx_or_insert_with(|| {
        info!("/adder PUT allocating new session");
        Adder { sum: 0 }
    })
    .sum = val;
    req.send_str(&val.to_string())
}

/// `GET /login`: starts a session context (an accumulator at 0) unless there is one.
fn login(req: &mut Request<'_>) -> Result<(), Error> {
    let sum = req
        .session_ctx_or_insert_with(|| {
            info!("/login allocating new session");
            Adder { sum: 0 }
        })
        .sum;
    req.send_str(&format!("Logged in; accumulator = {sum}"))
}

/// `GET /logout`: drops the session context, if any.
fn logout(req: &mut Request<'_>) -> Result<(), Error> {
    match req.take_session_ctx::<Adder>() {
        Some(adder) => {
            let sum = adder.sum;
            drop(adder);
            req.send_str(&format!("Logged out; accumulator was {sum}"))
        }
        None => req.send_str("Not logged in"),
    }
}

fn start(port: u16) -> Result<Server, Error> {
    info!("Starting server on port: '{port}'");
    let server = Server::start(Config::builder().port(port).build()?)?;
    info!("Registering URI handlers");
    // The user context of ESP-IDF's example: one visitor count for the whole server.
    let visitors = Arc::new(AtomicUsize::new(0));
    let v = Arc::clone(&visitors);
    server.register(Handler::new("/adder", Method::Post, move |req| {
        adder_post(req, &v)
    }))?;
    let v = Arc::clone(&visitors);
    server.register(Handler::new("/adder", Method::Get, move |req| {
        adder_get(req, &v)
    }))?;
    server.register(Handler::new("/adder", Method::Put, move |req| {
        adder_put(req, &visitors)
    }))?;
    server.register(Handler::new("/login", Method::Get, login))?;
    server.register(Handler::new("/logout", Method::Get, logout))?;
    Ok(server)
}

fn main() -> ExitCode {
    common::main(
        || common::port_only("usage: persistent_sockets [--port N]"),
        |&port| start(port),
    )
}
