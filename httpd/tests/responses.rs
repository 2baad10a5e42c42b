//! The response API over real sockets: defaults, status lines, content type, headers (order,
//! validation, limit), `send`, `send_str`, chunked responses, `send_err`, `send_raw`, the
//! `Date` header, what a failing or panicking handler produces, and HTTP/1.0 clients.
mod util;

use std::io;
use std::sync::mpsc;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use httpd::{Config, Error, ErrorCode, Handler, Method, Request, Server};
use util::{start, Client, Response, IO_TIMEOUT};

/// A server with one GET handler on `/t`.
fn serve(f: impl Fn(&mut Request<'_>) -> Result<(), Error> + Send + Sync + 'static) -> Server {
    serve_with(Config::builder(), f)
}

fn serve_with(
    builder: httpd::ConfigBuilder,
    f: impl Fn(&mut Request<'_>) -> Result<(), Error> + Send + Sync + 'static,
) -> Server {
    let server = start(builder);
    server.register(Handler::new("/t", Method::Get, f)).unwrap();
    server
        .register(Handler::new("/ok", Method::Get, |req| req.send_str("ok")))
        .unwrap();
    server
}

fn assert_next_request_works(c: &mut Client) {
    let r = c.get("/ok");
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.text(), "ok");
}

/// The names of the headers starting with `X-`, in order, with their values.
fn x_headers(r: &Response) -> Vec<(String, String)> {
    r.headers
        .iter()
        .filter(|(n, _)| n.to_ascii_lowercase().starts_with("x-"))
        .cloned()
        .collect()
}

fn count_headers(r: &Response, name: &str) -> usize {
    r.headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .count()
}

#[test]
fn defaults_are_200_ok_and_text_html() {
    let server = serve(|req| req.send_str("body"));
    let mut c = Client::connect(server.local_addr());
    let r = c.get("/t");
    assert_eq!(r.status, 200);
    assert_eq!(r.reason, "OK");
    assert_eq!(r.header("content-type"), Some("text/html"));
    assert_eq!(r.header("content-length"), Some("4"));
    assert_eq!(r.header("transfer-encoding"), None);
    assert_eq!(r.text(), "body");
    assert!(!r.closes());
    assert_next_request_works(&mut c);
}

#[test]
fn set_status_takes_free_text() {
    let server = serve(|req| {
        req.set_status("503 Busy")?;
        req.send_str("try later")
    });
    let mut c = Client::connect(server.local_addr());
    let r = c.get("/t");
    assert_eq!(r.status, 503);
    assert_eq!(r.reason, "Busy");
    assert_eq!(r.text(), "try later");
    assert!(!r.closes());
    assert_next_request_works(&mut c);
}

#[test]
fn invalid_status_lines_are_refused_and_the_status_is_unchanged() {
    let server = serve(|req| {
        let mut report = Vec::new();
        for bad in [
            "20 OK",
            "2000 OK",
            "abc OK",
            "200OK",
            "200 O\r\nK",
            "200 A\nB",
            "",
        ] {
            let result = req.set_status(bad);
            let invalid = matches!(result, Err(Error::InvalidHeader));
            report.push(format!(
                "{bad:?}:{invalid}:{}",
                result.err().map(|e| e.to_string()).unwrap_or_default()
            ));
        }
        req.send_str(&report.join("\n"))
    });
    let mut c = Client::connect(server.local_addr());
    let r = c.get("/t");
    assert_eq!(r.status, 200);
    assert_eq!(r.reason, "OK");
    let msg = Error::InvalidHeader.to_string();
    assert!(!msg.is_empty());
    let expected: Vec<String> = [
        "20 OK",
        "2000 OK",
        "abc OK",
        "200OK",
        "200 O\r\nK",
        "200 A\nB",
        "",
    ]
    .iter()
    .map(|bad| format!("{bad:?}:true:{msg}"))
    .collect();
    assert_eq!(r.text(), expected.join("\n"));
}

#[test]
fn set_type_sets_the_content_type_and_refuses_control_characters() {
    let server = serve(|req| {
        req.set_type("application/json")?;
        let crlf = matches!(
            req.set_type("text/plain\r\nX-Injected: 1"),
            Err(Error::InvalidHeader)
        );
        let empty = matches!(req.set_type(""), Err(Error::InvalidHeader));
        req.send_str(&format!(
            "{{\"crlf_refused\":{crlf},\"empty_refused\":{empty}}}"
        ))
    });
    let mut c = Client::connect(server.local_addr());
    let r = c.get("/t");
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.header("x-injected"), None);
    assert_eq!(r.text(), "{\"crlf_refused\":true,\"empty_refused\":true}");
}

#[test]
fn headers_are_sent_in_the_order_set() {
    let server = serve(|req| {
        req.set_header("X-Zulu", "1")?;
        req.set_header("X-Alpha", "two words")?;
        req.set_header("X-Mike", "3")?;
        req.set_header("X-Alpha", "again")?;
        req.send_str("h")
    });
    let mut c = Client::connect(server.local_addr());
    let r = c.get("/t");
    let pairs = |v: &[(&str, &str)]| -> Vec<(String, String)> {
        v.iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    };
    assert_eq!(
        x_headers(&r),
        pairs(&[
            ("X-Zulu", "1"),
            ("X-Alpha", "two words"),
            ("X-Mike", "3"),
            ("X-Alpha", "again"),
        ])
    );
    // The server's own headers are there once each.
    for name in ["content-type", "content-length", "date"] {
        assert_eq!(count_headers(&r, name), 1, "{name}: {r:?}");
    }
}

#[test]
fn header_values_with_cr_or_lf_are_refused() {
    let server = serve(|req| {
        let mut refused = Vec::new();
        for (name, value) in [
            ("X-Evil", "a\r\nX-Injected: 1"),
            ("X-Evil", "a\nX-Injected: 1"),
            ("X-Evil", "a\rb"),
            ("X-Evil\r\nX-Injected", "1"),
            ("X Space", "1"),
        ] {
            refused.push(matches!(
                req.set_header(name, value),
                Err(Error::InvalidHeader)
            ));
        }
        req.set_header("X-Good", "fine")?;
        req.send_str(&format!("{refused:?}"))
    });
    let mut c = Client::connect(server.local_addr());
    let r = c.get("/t");
    assert_eq!(r.text(), "[true, true, true, true, true]");
    assert_eq!(r.header("x-injected"), None);
    assert_eq!(r.header("x-evil"), None);
    assert_eq!(
        x_headers(&r),
        vec![("X-Good".to_owned(), "fine".to_owned())]
    );
    assert_next_request_works(&mut c);
}

#[test]
fn more_than_max_resp_headers_is_refused() {
    let server = serve_with(Config::builder().max_resp_headers(3), |req| {
        for i in 0..3 {
            req.set_header(&format!("X-H{i}"), &i.to_string())?;
        }
        let fourth = req.set_header("X-H3", "3");
        let refused = matches!(fourth, Err(Error::TooManyHeaders));
        req.send_str(&format!("refused={refused}"))
    });
    let mut c = Client::connect(server.local_addr());
    let r = c.get("/t");
    assert_eq!(r.text(), "refused=true");
    assert_eq!(
        x_headers(&r),
        vec![
            ("X-H0".to_owned(), "0".to_owned()),
            ("X-H1".to_owned(), "1".to_owned()),
            ("X-H2".to_owned(), "2".to_owned()),
        ]
    );
}

#[test]
fn send_frames_with_content_length() {
    let server = serve(|req| req.send([0u8, 1, 2, 255, b'\r', b'\n']));
    let mut c = Client::connect(server.local_addr());
    let r = c.get("/t");
    assert_eq!(r.header("content-length"), Some("6"));
    assert_eq!(r.header("transfer-encoding"), None);
    assert_eq!(r.body, [0u8, 1, 2, 255, b'\r', b'\n']);
    assert_next_request_works(&mut c);
}

#[test]
fn send_str_sends_the_string() {
    let server = serve(|req| req.send_str("héllo wörld"));
    let mut c = Client::connect(server.local_addr());
    let r = c.get("/t");
    assert_eq!(
        r.header("content-length"),
        Some("héllo wörld".len().to_string()).as_deref()
    );
    assert_eq!(r.text(), "héllo wörld");
}

#[test]
fn send_chunk_streams_a_chunked_response() {
    let server = serve(|req| {
        req.set_type("text/plain")?;
        req.send_chunk("Hello")?;
        req.send_chunk(", ")?;
        req.send_chunk(vec![b'w'; 300])?;
        req.send_chunk("")
    });
    let mut c = Client::connect(server.local_addr());
    let r = c.get("/t");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("transfer-encoding"), Some("chunked"));
    assert_eq!(r.header("content-length"), None);
    assert_eq!(r.header("content-type"), Some("text/plain"));
    assert_eq!(r.chunks, Some(vec![5, 2, 300]));
    assert_eq!(r.text(), format!("Hello, {}", "w".repeat(300)));
    assert!(!r.closes());
    assert_next_request_works(&mut c);
}

#[test]
fn chunked_response_left_unterminated_by_the_handler_is_terminated() {
    let server = serve(|req| {
        req.send_chunk("abc")?;
        req.send_chunk("de")
    });
    let mut c = Client::connect(server.local_addr());
    let r = c.get("/t");
    assert_eq!(r.chunks, Some(vec![3, 2]));
    assert_eq!(r.text(), "abcde");
    assert!(!r.closes());
    assert_next_request_works(&mut c);
}

#[test]
fn response_api_after_the_response_is_complete_is_refused() {
    let (tx, rx) = mpsc::channel();
    let tx = Mutex::new(tx);
    let server = serve(move |req| {
        req.send_str("first")?;
        let report = [
            matches!(req.set_status("500 X"), Err(Error::ResponseStarted)),
            matches!(req.set_header("X-Late", "1"), Err(Error::ResponseStarted)),
            matches!(req.set_type("text/plain"), Err(Error::ResponseStarted)),
            matches!(req.send_str("second"), Err(Error::ResponseStarted)),
            matches!(req.send_chunk("third"), Err(Error::ResponseStarted)),
            matches!(
                req.send_err(ErrorCode::NotFound, None),
                Err(Error::ResponseStarted)
            ),
            req.response_started(),
        ];
        tx.lock().unwrap().send(report).unwrap();
        Ok(())
    });
    let mut c = Client::connect(server.local_addr());
    let r = c.get("/t");
    assert_eq!(rx.recv_timeout(IO_TIMEOUT).unwrap(), [true; 7]);
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "first");
    assert_eq!(r.header("x-late"), None);
    assert_next_request_works(&mut c);
}

#[test]
fn send_err_uses_the_table_and_the_default_message() {
    let server = serve(|req| req.send_err(ErrorCode::Forbidden, None));
    let mut c = Client::connect(server.local_addr());
    let r = c.get("/t");
    assert_eq!(r.status, 403);
    assert_eq!(r.reason, "Forbidden");
    assert_eq!(r.header("content-type"), Some("text/html"));
    assert_eq!(r.text(), "Request forbidden -- authorization will not help");
    // The handler returned Ok: the connection stays open.
    assert!(!r.closes());
    assert_next_request_works(&mut c);
}

#[test]
fn send_err_with_a_custom_message() {
    let server = serve(|req| {
        req.set_type("application/json")?;
        req.send_err(ErrorCode::BadRequest, Some("missing field 'x'"))
    });
    let mut c = Client::connect(server.local_addr());
    let r = c.get("/t");
    assert_eq!(r.status, 400);
    assert_eq!(r.reason, "Bad Request");
    assert_eq!(r.header("content-type"), Some("text/html"));
    assert_eq!(r.text(), "missing field 'x'");
    assert_next_request_works(&mut c);
}

#[test]
fn send_err_status_lines_match_the_table() {
    let server = start(Config::builder());
    server
        .register(Handler::new("/err", Method::Get, |req| {
            let status: u16 = req.query().and_then(|q| q.parse().ok()).unwrap_or(0);
            let code = ErrorCode::from_status(status).ok_or(Error::handler("bad code"))?;
            req.send_err(code, None)
        }))
        .unwrap();
    let mut c = Client::connect(server.local_addr());
    let table = [
        (400, "Bad Request", "Bad request syntax"),
        (
            401,
            "Unauthorized",
            "No permission -- see authorization schemes",
        ),
        (
            403,
            "Forbidden",
            "Request forbidden -- authorization will not help",
        ),
        (404, "Not Found", "Nothing matches the given URI"),
        (
            405,
            "Method Not Allowed",
            "Specified method is invalid for this resource",
        ),
        (408, "Request Timeout", "Server closed this connection"),
        (411, "Length Required", "Client must specify Content-Length"),
        (413, "Content Too Large", "Content is too large"),
        (414, "URI Too Long", "URI is too long"),
        (
            431,
            "Request Header Fields Too Large",
            "Header fields are too long",
        ),
        (
            500,
            "Internal Server Error",
            "Server has encountered an unexpected error",
        ),
        (
            501,
            "Not Implemented",
            "Server does not support this method",
        ),
        (
            505,
            "HTTP Version Not Supported",
            "HTTP version not supported by server",
        ),
    ];
    for (status, reason, message) in table {
        let r = c.get(&format!("/err?{status}"));
        assert_eq!(r.status, status);
        assert_eq!(r.reason, reason);
        assert_eq!(r.text(), message);
    }
}

#[test]
fn send_raw_bytes_are_the_response() {
    let server = serve(|req| {
        req.send_raw(b"HTTP/1.1 299 Raw\r\nContent-Length: 3\r\n")?;
        req.send_raw(b"X-Raw: yes\r\n\r\nraw")
    });
    let mut c = Client::connect(server.local_addr());
    let r = c.get("/t");
    assert_eq!(r.status, 299);
    assert_eq!(r.reason, "Raw");
    assert_eq!(r.header("x-raw"), Some("yes"));
    assert_eq!(r.header("date"), None, "nothing but the raw bytes: {r:?}");
    assert_eq!(r.text(), "raw");
    assert_next_request_works(&mut c);
}

#[test]
fn status_and_headers_without_a_body_give_an_empty_response() {
    let server = serve(|req| {
        req.set_status("201 Created")?;
        req.set_header("Location", "/t/1")?;
        Ok(())
    });
    let mut c = Client::connect(server.local_addr());
    let r = c.get("/t");
    assert_eq!(r.status, 201);
    assert_eq!(r.header("location"), Some("/t/1"));
    assert_eq!(r.header("content-length"), Some("0"));
    assert!(r.body.is_empty());
    assert_next_request_works(&mut c);
}

#[test]
fn handler_sending_nothing_gives_an_empty_200() {
    let server = serve(|_| Ok(()));
    let mut c = Client::connect(server.local_addr());
    let r = c.get("/t");
    assert_eq!(r.status, 200);
    assert_eq!(r.reason, "OK");
    assert_eq!(r.header("content-type"), Some("text/html"));
    assert_eq!(r.header("content-length"), Some("0"));
    assert!(r.body.is_empty());
    assert!(!r.closes());
    assert_next_request_works(&mut c);
}

#[test]
fn no_content_has_neither_length_nor_body() {
    let server = serve(|req| {
        req.set_status("204 No Content")?;
        req.send_str("")
    });
    let mut c = Client::connect(server.local_addr());
    let r = c.get("/t");
    assert_eq!(r.status, 204);
    assert_eq!(r.header("content-length"), None);
    assert_eq!(r.header("transfer-encoding"), None);
    assert_next_request_works(&mut c);
}

#[test]
fn no_content_started_with_send_chunk_has_no_transfer_encoding() {
    // RFC 9112 6.1: no Transfer-Encoding in a 204 response (it has no body to frame).
    let server = serve(|req| {
        req.set_status("204 No Content")?;
        req.send_chunk("ignored")?;
        req.send_chunk("")
    });
    let mut c = Client::connect(server.local_addr());
    c.send("GET /t HTTP/1.1\r\nHost: h\r\n\r\n");
    let r = c.head_response();
    assert_eq!(r.status, 204);
    assert_eq!(r.header("transfer-encoding"), None, "{r:?}");
    assert_eq!(r.header("content-length"), None, "{r:?}");
    assert_next_request_works(&mut c);
}

/// Checks the IMF-fixdate layout `Www, DD Mon YYYY HH:MM:SS GMT` character by character.
fn is_imf_fixdate(s: &str) -> bool {
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    b.len() == 29
        && DAYS.contains(&&s[0..3])
        && &s[3..5] == ", "
        && digits(5..7)
        && b[7] == b' '
        && MONTHS.contains(&&s[8..11])
        && b[11] == b' '
        && digits(12..16)
        && b[16] == b' '
        && digits(17..19)
        && b[19] == b':'
        && digits(20..22)
        && b[22] == b':'
        && digits(23..25)
        && &s[25..] == " GMT"
}

#[test]
fn date_header_is_an_imf_fixdate_close_to_now() {
    let server = serve(|req| req.send_str("d"));
    let mut c = Client::connect(server.local_addr());
    let before = SystemTime::now();
    let r = c.get("/t");
    let after = SystemTime::now();
    assert_eq!(count_headers(&r, "date"), 1);
    let date = r.header("date").unwrap();
    assert!(is_imf_fixdate(date), "{date:?}");
    let when = httpdate::parse_http_date(date).expect("a valid HTTP date");
    // Whole seconds, cached per second: allow a little slack either side.
    let slack = Duration::from_secs(3);
    assert!(when + slack >= before, "{date} is before the request");
    assert!(when <= after + slack, "{date} is after the response");
}

#[test]
fn handler_error_before_sending_gives_500_and_closes() {
    let server = serve(|_| Err(Error::handler("boom")));
    let mut c = Client::connect(server.local_addr());
    let r = c.get("/t");
    assert_eq!(r.status, 500);
    assert_eq!(r.reason, "Internal Server Error");
    assert_eq!(r.text(), "Server has encountered an unexpected error");
    assert!(r.closes(), "{r:?}");
    assert!(c.is_closed());
}

#[test]
fn handler_error_after_sending_keeps_the_response_and_closes() {
    let server = serve(|req| {
        req.set_header("X-Sent", "yes")?;
        req.send_str("complete response")?;
        Err(Error::handler("failed afterwards"))
    });
    let mut c = Client::connect(server.local_addr());
    let r = c.get("/t");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-sent"), Some("yes"));
    assert_eq!(r.text(), "complete response");
    assert!(c.is_closed());
}

#[test]
fn handler_error_in_the_middle_of_a_chunked_response_closes() {
    let server = serve(|req| {
        req.send_chunk("part one")?;
        Err(Error::handler("failed mid-stream"))
    });
    let mut c = Client::connect(server.local_addr());
    c.send("GET /t HTTP/1.1\r\nHost: h\r\n\r\n");
    // The response cannot complete: the client sees the first chunk, then the close, and no
    // last chunk that would make the truncated body look complete.
    let err = c.try_response().expect_err("a truncated response parsed");
    assert!(
        matches!(
            err.kind(),
            io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset
        ),
        "expected a close, got {err:?}"
    );
}

#[test]
fn panicking_handler_gives_500_closes_and_the_server_keeps_serving() {
    let server = serve(|_| panic!("handler panics on purpose"));
    let mut c = Client::connect(server.local_addr());
    let r = c.get("/t");
    assert_eq!(r.status, 500);
    assert_eq!(r.text(), "Server has encountered an unexpected error");
    assert!(r.closes(), "{r:?}");
    assert!(c.is_closed());
    // Again, and other connections are served.
    let mut c = Client::connect(server.local_addr());
    assert_eq!(c.get("/t").status, 500);
    let mut other = Client::connect(server.local_addr());
    assert_next_request_works(&mut other);
    assert_next_request_works(&mut other);
    assert!(server.is_running());
}

#[test]
fn http10_request_is_answered_and_closed() {
    let server = serve(|req| req.send_str("old client"));
    let mut c = Client::connect(server.local_addr());
    c.send("GET /t HTTP/1.0\r\n\r\n");
    let r = c.response();
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-length"), Some("10"));
    assert_eq!(r.text(), "old client");
    assert!(r.closes(), "{r:?}");
    assert!(c.is_closed());
}

#[test]
fn http10_keep_alive_stays_open_and_says_so() {
    let server = serve(|req| req.send_str("kept"));
    let mut c = Client::connect(server.local_addr());
    for _ in 0..3 {
        c.send("GET /t HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        let r = c.response();
        assert_eq!(r.status, 200);
        assert_eq!(r.text(), "kept");
        assert_eq!(r.header("connection"), Some("keep-alive"), "{r:?}");
    }
    // Without the header, the next one closes.
    c.send("GET /t HTTP/1.0\r\n\r\n");
    let r = c.response();
    assert!(r.closes(), "{r:?}");
    assert!(c.is_closed());
}

#[test]
fn send_chunk_to_http10_is_unframed_and_closes() {
    let server = serve(|req| {
        req.send_chunk("abc")?;
        req.send_chunk("def")?;
        req.send_chunk("")
    });
    let mut c = Client::connect(server.local_addr());
    // Even a keep-alive HTTP/1.0 client: the body can only end with the connection.
    c.send("GET /t HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    let r = c.response();
    assert_eq!(r.status, 200);
    assert_eq!(r.header("transfer-encoding"), None);
    assert_eq!(r.header("content-length"), None);
    assert!(r.closes(), "{r:?}");
    assert_eq!(r.chunks, None);
    assert_eq!(r.text(), "abcdef");
}
