//! Detached (async) requests: ESP-IDF's `httpd_req_async_handler_begin/complete`.
//!
//! A handler calls [`Request::detach`] and gets an [`AsyncRequest`] at once. When the handler
//! returns, the loop moves the session out of its table (keeping the slot reserved: the session
//! is neither polled nor purged) and hands it over. Another thread reads the body and sends the
//! response through [`AsyncRequest::request`]; when the `AsyncRequest` is dropped, the response is
//! completed (500 if none was sent), flushed, and the session goes back to the loop, which
//! continues it (keep-alive) or closes it, as the response decided.

use std::sync::mpsc::Sender;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use mio::Waker;

use super::exchange::{Env, Exchange};
use super::request::Request;
use crate::conn::session::Session;
use crate::{Error, ErrorCode};

/// A session on its way back to the loop, with the exchange it served.
pub(crate) struct Detached {
    pub(crate) session: Box<Session>,
    pub(crate) ex: Box<Exchange>,
    pub(crate) env: Env,
}

/// The way back to the loop: an unbounded channel (a returning session is never refused) and
/// the loop's waker.
#[derive(Clone)]
pub(crate) struct ResumeTx {
    pub(crate) tx: Sender<Box<Detached>>,
    pub(crate) waker: Arc<Waker>,
}

impl ResumeTx {
    pub(crate) fn send(&self, detached: Box<Detached>) {
        // If the server has stopped, the session is dropped here (closing its connection).
        if self.tx.send(detached).is_ok() {
            if let Err(e) = self.waker.wake() {
                log::error!("waking the server thread: {e}");
            }
        }
    }
}

enum State {
    /// The handler has not returned yet.
    Waiting,
    Ready(Box<Detached>),
    /// The `AsyncRequest` was dropped before the loop handed the session over: the loop
    /// completes the request itself.
    Dropped,
    /// The handler failed after detaching: the loop answered, nothing is handed over.
    Refused,
}

/// Where the loop leaves the session for the detached request.
pub(crate) struct Handoff {
    state: Mutex<State>,
    ready: Condvar,
}

impl std::fmt::Debug for Handoff {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match *self.lock() {
            State::Waiting => "waiting",
            State::Ready(_) => "ready",
            State::Dropped => "dropped",
            State::Refused => "refused",
        };
        f.debug_struct("Handoff").field("state", &state).finish()
    }
}

impl Handoff {
    pub(crate) fn new() -> Arc<Handoff> {
        Arc::new(Handoff {
            state: Mutex::new(State::Waiting),
            ready: Condvar::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The loop's side: hands the session over. Gives it back if the `AsyncRequest` is gone.
    pub(crate) fn hand_over(&self, detached: Box<Detached>) -> Result<(), Box<Detached>> {
        let mut state = self.lock();
        match *state {
            State::Waiting => {
                *state = State::Ready(detached);
                self.ready.notify_all();
                Ok(())
            }
            _ => Err(detached),
        }
    }

    /// The loop's side: the handler failed, there is nothing to hand over.
    pub(crate) fn refuse(&self) {
        let mut state = self.lock();
        if matches!(*state, State::Waiting) {
            *state = State::Refused;
            self.ready.notify_all();
        }
    }
}

/// A request detached from the server thread by [`Request::detach`]: `Send + 'static`, so a
/// worker thread can read its body and send its response while the server serves others.
///
/// Dropping it completes the exchange: a response never started is answered with 500, a
/// chunked response is ended; then the connection continues (keep-alive) or closes.
///
/// ```no_run
/// use httpd::{Config, Handler, Method, Server};
/// let server = Server::start(Config::builder().port(8080).build()?)?;
/// server.register(Handler::new("/slow", Method::Get, |req| {
///     let mut detached = req.detach()?;
///     std::thread::spawn(move || {
///         if let Ok(mut req) = detached.request() {
///             for i in 0..3 {
///                 let _ = req.send_chunk(format!("tick {i}\n"));
///             }
///         }
///     });
///     Ok(())
/// }))?;
/// # Ok::<(), httpd::Error>(())
/// ```
pub struct AsyncRequest {
    handoff: Arc<Handoff>,
    taken: Option<Box<Detached>>,
    resume: ResumeTx,
}

impl std::fmt::Debug for AsyncRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncRequest")
            .field("handoff", &self.handoff)
            .field("session", &self.taken.as_ref().map(|d| d.session.id))
            .finish_non_exhaustive()
    }
}

impl AsyncRequest {
    pub(crate) fn new(handoff: Arc<Handoff>, resume: ResumeTx) -> Self {
        AsyncRequest {
            handoff,
            taken: None,
            resume,
        }
    }

    /// The request, with the whole request and response API. The first call waits until the
    /// handler that detached it has returned (do not wait for the worker in that handler).
    ///
    /// # Errors
    /// [`Error::Stopped`] if the handler failed after detaching, so the server answered the
    /// request itself.
    pub fn request(&mut self) -> Result<Request<'_>, Error> {
        if self.taken.is_none() {
            let mut state = self.handoff.lock();
            loop {
                match std::mem::replace(&mut *state, State::Waiting) {
                    State::Waiting => {
                        state = self
                            .handoff
                            .ready
                            .wait(state)
                            .unwrap_or_else(|p| p.into_inner());
                    }
                    State::Ready(d) => {
                        self.taken = Some(d);
                        break;
                    }
                    other => {
                        *state = other;
                        return Err(Error::Stopped);
                    }
                }
            }
        }
        let d = self.taken.as_mut().ok_or(Error::Stopped)?;
        d.env.date.refresh(std::time::SystemTime::now());
        Ok(Request::new(&mut d.session, &mut d.ex, &d.env))
    }
}

impl Drop for AsyncRequest {
    fn drop(&mut self) {
        let mut detached = match self.taken.take() {
            Some(d) => d,
            None => {
                let mut state = self.handoff.lock();
                match std::mem::replace(&mut *state, State::Dropped) {
                    State::Ready(d) => d,
                    State::Waiting => return, // the loop completes it when the handler returns
                    other => {
                        *state = other;
                        return;
                    }
                }
            }
        };
        {
            let d = &mut detached;
            d.env.date.refresh(std::time::SystemTime::now());
            let mut req = Request::new(&mut d.session, &mut d.ex, &d.env);
            req.complete(Ok(()), Some(ErrorCode::InternalServerError));
            let timeout = d.env.config.send_wait_timeout;
            if d.session
                .flush_blocking(0, timeout, &d.env.config.events)
                .is_err()
            {
                d.ex.resp.broken = true;
            }
        }
        self.resume.send(detached);
    }
}
