//! The example's handlers, written against embedded-svc 0.29 as firmware for an ESP32 with
//! esp-idf-svc 0.53 would be: moved to the chip, only the `use ... as server;` line changes
//! (to `use esp_idf_svc::http::server;`). After esp-idf-svc's `http_server` and
//! `http_ws_server` examples, rewritten:
//!
//! - `GET /`: a page with a form and a WebSocket echo box.
//! - `POST /post`: the form (`first_name`, `age`, `birthplace`, URL-encoded); bodies over
//!   `MAX_LEN` bytes get 413.
//! - `/ws`: a WebSocket echo. Each new session gets a welcome and a detached sender; the text
//!   `async` is answered from another thread through it.
//! - `POST /broadcast`: sends its body to every open `/ws` session from another thread.

use httpd::svc as server; // on the chip: use esp_idf_svc::http::server;

use std::collections::BTreeMap;
use std::ffi::CStr;
use std::sync::{Arc, Mutex};
use std::thread;

use embedded_svc::http::{Headers, Method};
use embedded_svc::io::{Read, Write};
use embedded_svc::ws::FrameType;
use log::{info, warn};

use server::ws::EspHttpWsDetachedSender;

/// The largest form body accepted.
pub(crate) const MAX_LEN: usize = 128;
/// The largest WebSocket frame echoed.
pub(crate) const MAX_WS_LEN: usize = 1024;

/// The page at `/`.
pub(crate) static INDEX_HTML: &str = r#"<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>esp-rs on a host</title></head>
<body>
<h1>Tell us about you</h1>
<form method="post" action="/post">
  <label>First name <input name="first_name"></label>
  <label>Age <input name="age" type="number"></label>
  <label>Birthplace <input name="birthplace"></label>
  <button>Send</button>
</form>
<h1>Echo</h1>
<input id="msg" value="Hello"> <button onclick="ws.send(msg.value)">Send</button>
<pre id="log"></pre>
<script>
const ws = new WebSocket(`ws://${location.host}/ws`);
ws.onmessage = (event) => { log.textContent += event.data + "\n"; };
</script>
</body></html>
"#;

type Sessions = Arc<Mutex<BTreeMap<i32, EspHttpWsDetachedSender>>>;

/// Registers every handler on `server`.
pub(crate) fn register(server: &mut server::EspHttpServer<'static>) -> anyhow::Result<()> {
    server.fn_handler("/", Method::Get, |req| {
        req.into_ok_response()?
            .write_all(INDEX_HTML.as_bytes())
            .map(|_| ())
    })?;

    server.fn_handler::<anyhow::Error, _>("/post", Method::Post, |mut req| {
        let len = req.content_len().unwrap_or(0) as usize;
        if len > MAX_LEN {
            req.into_status_response(413)?
                .write_all("Request too big".as_bytes())?;
            return Ok(());
        }
        let mut buf = vec![0; len];
        req.read_exact(&mut buf)?;
        let mut resp = req.into_ok_response()?;
        match Form::parse(&buf) {
            Some(form) => write!(
                resp,
                "Hello, {}-year-old {} from {}!",
                form.age, form.first_name, form.birthplace
            )?,
            None => resp.write_all("Form error".as_bytes())?,
        }
        Ok(())
    })?;

    let sessions: Sessions = Arc::default();

    let broadcast_to = Arc::clone(&sessions);
    server.fn_handler::<anyhow::Error, _>("/broadcast", Method::Post, move |mut req| {
        let len = req.content_len().unwrap_or(0) as usize;
        if len > MAX_WS_LEN {
            req.into_status_response(413)?
                .write_all("Request too big".as_bytes())?;
            return Ok(());
        }
        let mut text = vec![0; len];
        req.read_exact(&mut text)?;
        let senders: Vec<EspHttpWsDetachedSender> =
            broadcast_to.lock().unwrap().values().cloned().collect();
        let count = senders.len();
        // Detached senders wait for the server task, so they are used from another thread.
        thread::spawn(move || {
            for mut sender in senders {
                if let Err(e) = sender.send(FrameType::Text(false), &text) {
                    warn!("broadcast to session {}: {e:?}", sender.session());
                }
            }
        });
        write!(req.into_ok_response()?, "Sent to {count} sessions")?;
        Ok(())
    })?;

    server.ws_handler("/ws", None, move |ws| {
        if ws.is_new() {
            sessions
                .lock()
                .unwrap()
                .insert(ws.session(), ws.create_detached_sender()?);
            info!("New WebSocket session {}", ws.session());
            ws.send(FrameType::Text(false), "Welcome to the echo".as_bytes())?;
            return Ok(());
        } else if ws.is_closed() {
            sessions.lock().unwrap().remove(&ws.session());
            info!("Closed WebSocket session {}", ws.session());
            return Ok(());
        }

        // The size first (nothing is consumed), then the frame into a buffer that fits it.
        let (frame_type, len) = ws.recv(&mut [])?;
        if len > MAX_WS_LEN {
            ws.send(FrameType::Text(false), "Request too big".as_bytes())?;
            ws.send(FrameType::Close, &[])?;
            anyhow::bail!("frame of {len} bytes");
        }
        let mut buf = vec![0; len];
        ws.recv(&mut buf)?;

        match frame_type {
            FrameType::Text(_) => {
                // A text frame comes with a NUL after it.
                let text = CStr::from_bytes_until_nul(&buf)?.to_str()?;
                if text == "async" {
                    let sender = sessions.lock().unwrap().get(&ws.session()).cloned();
                    if let Some(mut sender) = sender {
                        thread::spawn(move || {
                            if let Err(e) =
                                sender.send(FrameType::Text(false), "Async hello".as_bytes())
                            {
                                warn!("async send: {e:?}");
                            }
                        });
                    }
                } else {
                    ws.send(FrameType::Text(false), text.as_bytes())?;
                }
            }
            FrameType::Binary(_) => ws.send(FrameType::Binary(false), &buf)?,
            _ => {}
        }
        Ok::<(), anyhow::Error>(())
    })?;

    Ok(())
}

/// The form's fields.
pub(crate) struct Form {
    pub(crate) first_name: String,
    pub(crate) age: u32,
    pub(crate) birthplace: String,
}

impl Form {
    /// Parses `first_name=..&age=..&birthplace=..` (URL-encoded); `None` if a field is
    /// missing or the age is not a number.
    pub(crate) fn parse(body: &[u8]) -> Option<Form> {
        let body = std::str::from_utf8(body).ok()?;
        let field = |name: &str| {
            body.split('&')
                .filter_map(|pair| pair.split_once('='))
                .find(|(k, _)| *k == name)
                .map(|(_, v)| url_decode(v))
        };
        Some(Form {
            first_name: field("first_name")?,
            age: field("age")?.trim().parse().ok()?,
            birthplace: field("birthplace")?,
        })
    }
}

/// `+` to space and `%XX` to its byte; a bad escape is kept as it is.
fn url_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let hex = |at: usize| bytes.get(at).and_then(|b| (*b as char).to_digit(16));
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => match (hex(i + 1), hex(i + 2)) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
