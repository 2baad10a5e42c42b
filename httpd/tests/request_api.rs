//! The request accessors as a handler sees them over a real connection: method, target, path
//! and query, query values (raw and decoded), headers, cookies, body framing, the peer's
//! address and the session id. Handlers report what they saw in the response body or over a
//! channel, and the test asserts on it.
mod util;

use std::sync::mpsc;
use std::sync::Mutex;
use std::time::Duration;

use httpd::{Config, Handler, Method, Request, Server};
use util::{start, Client, IO_TIMEOUT};

/// A server with one handler on `/t` (any method) answering with `report(req)`.
fn reporting(report: impl Fn(&mut Request<'_>) -> String + Send + Sync + 'static) -> Server {
    let server = start(Config::builder());
    server
        .register(Handler::new("/t", Method::Any, move |req| {
            let body = report(req);
            req.set_type("text/plain")?;
            req.send_str(&body)
        }))
        .unwrap();
    server
}

/// Sends `head` (a full request head) and returns the body of the 200 response.
fn ask(server: &Server, head: &str) -> String {
    let mut c = Client::connect(server.local_addr());
    c.send(head);
    let r = c.response();
    assert_eq!(r.status, 200, "{r:?}");
    r.text()
}

#[test]
fn method_uri_path_and_query() {
    let server = reporting(|req| {
        format!(
            "{}|{}|{}|{:?}",
            req.method(),
            req.uri(),
            req.path(),
            req.query()
        )
    });
    let mut c = Client::connect(server.local_addr());
    assert_eq!(c.get("/t").text(), "GET|/t|/t|None");
    assert_eq!(c.get("/t?a=1&b").text(), "GET|/t?a=1&b|/t|Some(\"a=1&b\")");
    assert_eq!(c.get("/t?").text(), "GET|/t?|/t|Some(\"\")");
    assert_eq!(
        c.request("POST", "/t?x=%20", b"body").text(),
        "POST|/t?x=%20|/t|Some(\"x=%20\")"
    );
    assert_eq!(c.request("DELETE", "/t", b"").text(), "DELETE|/t|/t|None");
}

#[test]
fn version_is_reported() {
    let server = reporting(|req| format!("{:?}", req.version()));
    let mut c = Client::connect(server.local_addr());
    assert_eq!(c.get("/t").text(), "Http11");
    c.send("GET /t HTTP/1.0\r\n\r\n");
    assert_eq!(c.response().text(), "Http10");
}

#[test]
fn query_value_is_raw_with_case_insensitive_keys() {
    let server = reporting(|req| {
        ["query1", "QUERY1", "Flag", "x", "empty", "missing", "plus"]
            .iter()
            .map(|k| format!("{k}={:?}", req.query_value(k)))
            .collect::<Vec<_>>()
            .join(" ")
    });
    let mut c = Client::connect(server.local_addr());
    let r = c.get("/t?Query1=a%20b&flag&x=1&x=2&empty=&plus=a+b");
    assert_eq!(
        r.text(),
        "query1=Some(\"a%20b\") QUERY1=Some(\"a%20b\") Flag=Some(\"\") x=Some(\"1\") \
         empty=Some(\"\") missing=None plus=Some(\"a+b\")"
    );
    // Without a query every key is absent.
    assert_eq!(
        c.get("/t").text(),
        "query1=None QUERY1=None Flag=None x=None empty=None missing=None plus=None"
    );
}

#[test]
fn query_value_decoded_handles_percent_escapes_and_plus() {
    let server = reporting(|req| {
        ["sp", "plus", "utf8", "bad", "plain", "missing"]
            .iter()
            .map(|k| {
                format!(
                    "{k}={:?}",
                    req.query_value_decoded(k).map(|v| v.into_owned())
                )
            })
            .collect::<Vec<_>>()
            .join(" ")
    });
    let mut c = Client::connect(server.local_addr());
    let r = c.get("/t?sp=a%20b&plus=c+d+e&utf8=%E2%9C%93&bad=100%25%zz&plain=xyz");
    assert_eq!(
        r.text(),
        "sp=Some(\"a b\") plus=Some(\"c d e\") utf8=Some(\"\u{2713}\") \
         bad=Some(\"100%%zz\") plain=Some(\"xyz\") missing=None"
    );
}

#[test]
fn header_lookup_is_case_insensitive_first_match_trimmed() {
    let server = reporting(|req| {
        [
            "x-test",
            "X-TEST",
            "host",
            "X-Spaces",
            "x-missing",
            "x-empty",
        ]
        .iter()
        .map(|k| format!("{k}={:?}", req.header(k)))
        .collect::<Vec<_>>()
        .join(" ")
    });
    let body = ask(
        &server,
        "GET /t HTTP/1.1\r\nHost: example\r\nX-Test: first\r\nx-spaces: \t padded value \t \r\n\
         X-EMPTY:\r\nx-test: second\r\n\r\n",
    );
    assert_eq!(
        body,
        "x-test=Some(\"first\") X-TEST=Some(\"first\") host=Some(\"example\") \
         X-Spaces=Some(\"padded value\") x-missing=None x-empty=Some(\"\")"
    );
}

#[test]
fn headers_iterate_in_the_order_received() {
    let server = reporting(|req| {
        req.headers()
            .map(|(n, v)| format!("{n}:{v}"))
            .collect::<Vec<_>>()
            .join("|")
    });
    let body = ask(
        &server,
        "GET /t HTTP/1.1\r\nZeta: 1\r\nHost: h\r\nalpha: 2\r\nZeta: 3\r\nMiddle-Name:  4 \r\n\r\n",
    );
    assert_eq!(body, "Zeta:1|Host:h|alpha:2|Zeta:3|Middle-Name:4");
}

#[test]
fn cookie_values_from_one_or_several_cookie_headers() {
    let server = reporting(|req| {
        [
            "a", "session", "theme", "other", "Session", "missing", "sess",
        ]
        .iter()
        .map(|k| format!("{k}={:?}", req.cookie(k)))
        .collect::<Vec<_>>()
        .join(" ")
    });
    let body = ask(
        &server,
        "GET /t HTTP/1.1\r\nHost: h\r\nCookie: a=1; session=xyz123;theme=dark\r\n\
         cookie: other=2\r\n\r\n",
    );
    assert_eq!(
        body,
        "a=Some(\"1\") session=Some(\"xyz123\") theme=Some(\"dark\") other=Some(\"2\") \
         Session=None missing=None sess=None"
    );
}

#[test]
fn content_length_and_chunked_framing_are_reported() {
    let server = reporting(|req| {
        let before = format!("{:?} {}", req.content_length(), req.is_chunked());
        let body = req.read_body(1024).map(|b| b.len());
        format!("{before} read={body:?}")
    });
    let mut c = Client::connect(server.local_addr());
    assert_eq!(c.get("/t").text(), "Some(0) false read=Ok(0)");
    assert_eq!(
        c.request("POST", "/t", b"hello").text(),
        "Some(5) false read=Ok(5)"
    );
    c.send(
        "POST /t HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    );
    assert_eq!(c.response().text(), "None true read=Ok(3)");
    // Content-Length: 0 is no body.
    c.send("POST /t HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n");
    assert_eq!(c.response().text(), "Some(0) false read=Ok(0)");
}

#[test]
fn remote_addr_is_the_clients_loopback_address() {
    let server = reporting(|req| req.remote_addr().to_string());
    let mut c = Client::connect(server.local_addr());
    let local = c.stream.local_addr().unwrap();
    let body = c.get("/t").text();
    assert_eq!(body, local.to_string());
    assert!(body.starts_with("127.0.0.1:"), "{body}");
}

#[test]
fn session_id_is_stable_on_a_connection_and_differs_across_connections() {
    let (tx, rx) = mpsc::channel();
    let tx = Mutex::new(tx);
    let server = start(Config::builder());
    server
        .register(Handler::new("/id", Method::Get, move |req| {
            let id = req.session_id();
            tx.lock().unwrap().send(id).unwrap();
            req.send_str(&id.to_string())
        }))
        .unwrap();
    let mut a = Client::connect(server.local_addr());
    let mut b = Client::connect(server.local_addr());
    let a1 = a.get("/id").text();
    let id_a1 = rx.recv_timeout(IO_TIMEOUT).unwrap();
    let b1 = b.get("/id").text();
    let id_b1 = rx.recv_timeout(IO_TIMEOUT).unwrap();
    let a2 = a.get("/id").text();
    let id_a2 = rx.recv_timeout(IO_TIMEOUT).unwrap();
    let b2 = b.get("/id").text();
    let id_b2 = rx.recv_timeout(IO_TIMEOUT).unwrap();

    assert_eq!(id_a1, id_a2);
    assert_eq!(id_b1, id_b2);
    assert_ne!(id_a1, id_b1);
    assert_eq!(a1, a2);
    assert_eq!(b1, b2);
    assert_ne!(a1, b1);
    assert_eq!(a1, id_a1.to_string());

    // The server lists both sessions while they are open.
    let clients = server.clients();
    assert!(
        clients.contains(&id_a1) && clients.contains(&id_b1),
        "{clients:?}"
    );

    // A later connection, even after one closed (its slot may be reused), has a new id.
    drop(a);
    let mut c = Client::connect(server.local_addr());
    c.get("/id");
    let id_c = rx.recv_timeout(IO_TIMEOUT).unwrap();
    assert_ne!(id_c, id_a1);
    assert_ne!(id_c, id_b1);
    assert!(rx.recv_timeout(Duration::from_millis(1)).is_err());
}
