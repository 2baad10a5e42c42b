//! Routing over real sockets: exact and wildcard matching, custom matchers, first match wins,
//! the query is not part of the match, 404 / 405 with ESP-IDF's default bodies (connection
//! kept), `Method::Any`, HEAD answered by the GET handler, and absolute-form targets.
mod util;

use httpd::{Config, Handler, Method, Server, UriMatch};
use util::{start, Client, Response};

/// A handler that answers with a fixed text.
fn text(uri: &str, method: Method, body: &'static str) -> Handler {
    Handler::new(uri, method, move |req| req.send_str(body))
}

/// A handler that answers with its own name and the path it saw.
fn named(uri: &str, method: Method, name: &'static str) -> Handler {
    Handler::new(uri, method, move |req| {
        let body = format!("{name} {}", req.path());
        req.send_str(&body)
    })
}

fn assert_ok(r: &Response, body: &str) {
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.text(), body);
    assert!(!r.closes(), "{r:?}");
}

fn assert_not_found(r: &Response) {
    assert_eq!(r.status, 404, "{r:?}");
    assert_eq!(r.reason, "Not Found");
    assert_eq!(r.text(), "Nothing matches the given URI");
    assert_eq!(r.header("content-type"), Some("text/html"));
    assert!(!r.closes(), "404 keeps the connection: {r:?}");
}

fn assert_method_not_allowed(r: &Response) {
    assert_eq!(r.status, 405, "{r:?}");
    assert_eq!(r.reason, "Method Not Allowed");
    assert_eq!(r.text(), "Specified method is invalid for this resource");
    assert_eq!(r.header("content-type"), Some("text/html"));
    assert!(!r.closes(), "405 keeps the connection: {r:?}");
}

fn wildcard_server() -> Server {
    start(Config::builder().uri_match(UriMatch::Wildcard))
}

#[test]
fn exact_match_only_matches_the_same_path() {
    let server = start(Config::builder());
    server
        .register(text("/hello", Method::Get, "hello"))
        .unwrap();
    let mut c = Client::connect(server.local_addr());
    assert_ok(&c.get("/hello"), "hello");
    for path in ["/hello/", "/hell", "/hello2", "/HELLO", "/", "/hello/x"] {
        assert_not_found(&c.get(path));
    }
    assert_ok(&c.get("/hello"), "hello");
}

#[test]
fn path_is_matched_without_the_query() {
    let server = start(Config::builder());
    server.register(named("/hello", Method::Get, "h")).unwrap();
    let mut c = Client::connect(server.local_addr());
    assert_ok(&c.get("/hello?x=1&y=2"), "h /hello");
    assert_ok(&c.get("/hello?"), "h /hello");
    assert_ok(&c.get("/hello?/other"), "h /hello");
    assert_not_found(&c.get("/other?/hello"));
}

#[test]
fn first_registered_match_wins() {
    let server = wildcard_server();
    // `/files/x` is registered first: it wins over the later `/files/*` for that path.
    server
        .register(named("/files/x", Method::Get, "exact"))
        .unwrap();
    server
        .register(named("/files/*", Method::Get, "any"))
        .unwrap();
    let mut c = Client::connect(server.local_addr());
    assert_ok(&c.get("/files/x"), "exact /files/x");
    assert_ok(&c.get("/files/y"), "any /files/y");
    assert_ok(&c.get("/files/x/deeper"), "any /files/x/deeper");
}

#[test]
fn method_specific_handler_registered_before_any_wins() {
    let server = start(Config::builder());
    server.register(named("/r", Method::Get, "get")).unwrap();
    server.register(named("/r", Method::Any, "any")).unwrap();
    let mut c = Client::connect(server.local_addr());
    assert_ok(&c.get("/r"), "get /r");
    assert_ok(&c.request("POST", "/r", b"x"), "any /r");
    assert_ok(&c.request("DELETE", "/r", b""), "any /r");
}

#[test]
fn not_found_keeps_the_connection_open() {
    let server = start(Config::builder());
    server
        .register(text("/hello", Method::Get, "hello"))
        .unwrap();
    let mut c = Client::connect(server.local_addr());
    assert_not_found(&c.get("/nothing"));
    assert_not_found(&c.request("POST", "/nothing", b"some body"));
    assert_ok(&c.get("/hello"), "hello");
}

#[test]
fn not_found_with_no_handlers_at_all() {
    let server = start(Config::builder());
    let mut c = Client::connect(server.local_addr());
    assert_not_found(&c.get("/"));
    assert_not_found(&c.get("/"));
}

#[test]
fn method_not_allowed_when_only_other_methods_match_and_connection_stays_open() {
    let server = start(Config::builder());
    server
        .register(text("/submit", Method::Post, "posted"))
        .unwrap();
    server
        .register(text("/submit", Method::Put, "put"))
        .unwrap();
    let mut c = Client::connect(server.local_addr());
    assert_method_not_allowed(&c.get("/submit"));
    assert_method_not_allowed(&c.request("DELETE", "/submit", b"abc"));
    assert_ok(&c.request("POST", "/submit", b"x"), "posted");
    assert_ok(&c.request("PUT", "/submit", b"x"), "put");
    // A path no handler matches at all is still 404, not 405.
    assert_not_found(&c.get("/other"));
}

#[test]
fn head_to_a_path_with_only_post_is_method_not_allowed() {
    let server = start(Config::builder());
    server
        .register(text("/submit", Method::Post, "posted"))
        .unwrap();
    let mut c = Client::connect(server.local_addr());
    c.send("HEAD /submit HTTP/1.1\r\nHost: test\r\n\r\n");
    let r = c.head_response();
    assert_eq!(r.status, 405);
    assert_eq!(
        r.header("content-length"),
        Some(
            "Specified method is invalid for this resource"
                .len()
                .to_string()
        )
        .as_deref()
    );
    assert!(!r.closes());
    assert_ok(&c.request("POST", "/submit", b""), "posted");
}

#[test]
fn method_any_answers_every_method() {
    let server = start(Config::builder());
    server
        .register(Handler::new("/any", Method::Any, |req| {
            let body = format!("{} {}", req.method(), req.method().as_str());
            req.send_str(&body)
        }))
        .unwrap();
    let mut c = Client::connect(server.local_addr());
    assert_ok(&c.get("/any"), "GET GET");
    for m in ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"] {
        assert_ok(&c.request(m, "/any", b"b"), &format!("{m} {m}"));
    }
    assert_not_found(&c.get("/any/"));
}

#[test]
fn wildcard_trailing_star_matches_any_suffix_but_not_the_bare_prefix() {
    let server = wildcard_server();
    server
        .register(named("/path/*", Method::Get, "star"))
        .unwrap();
    let mut c = Client::connect(server.local_addr());
    assert_ok(&c.get("/path/"), "star /path/");
    assert_ok(&c.get("/path/abc"), "star /path/abc");
    assert_ok(&c.get("/path/a/b/c?q=1"), "star /path/a/b/c");
    assert_not_found(&c.get("/path"));
    assert_not_found(&c.get("/pathb"));
    assert_not_found(&c.get("/other/"));
}

#[test]
fn wildcard_trailing_question_mark_makes_the_last_character_optional() {
    let server = wildcard_server();
    server
        .register(named("/path/?", Method::Get, "opt"))
        .unwrap();
    let mut c = Client::connect(server.local_addr());
    assert_ok(&c.get("/path"), "opt /path");
    assert_ok(&c.get("/path/"), "opt /path/");
    assert_not_found(&c.get("/path/x"));
    assert_not_found(&c.get("/pathx"));
    assert_not_found(&c.get("/pat"));
}

#[test]
fn wildcard_question_star_combines_both() {
    let server = wildcard_server();
    server
        .register(named("/path/?*", Method::Get, "both"))
        .unwrap();
    let mut c = Client::connect(server.local_addr());
    assert_ok(&c.get("/path"), "both /path");
    assert_ok(&c.get("/path/"), "both /path/");
    assert_ok(&c.get("/path/abc"), "both /path/abc");
    assert_not_found(&c.get("/pathb"));
    assert_not_found(&c.get("/pat"));
}

#[test]
fn wildcard_star_and_question_mark_elsewhere_are_literal() {
    let server = wildcard_server();
    server.register(named("/a*b", Method::Get, "lit")).unwrap();
    let mut c = Client::connect(server.local_addr());
    assert_ok(&c.get("/a*b"), "lit /a*b");
    assert_not_found(&c.get("/axb"));
    assert_not_found(&c.get("/ab"));
}

#[test]
fn wildcard_405_when_the_pattern_matches_only_another_method() {
    let server = wildcard_server();
    server
        .register(named("/api/*", Method::Post, "api"))
        .unwrap();
    let mut c = Client::connect(server.local_addr());
    assert_method_not_allowed(&c.get("/api/thing"));
    assert_ok(&c.request("POST", "/api/thing", b"1"), "api /api/thing");
}

#[test]
fn custom_matcher_decides_with_template_and_path() {
    // Case-insensitive paths, with an optional `.html` suffix.
    let server = start(
        Config::builder().uri_match(UriMatch::custom(|template, path| {
            let path = path.strip_suffix(".html").unwrap_or(path);
            template.eq_ignore_ascii_case(path)
        })),
    );
    server
        .register(named("/Index", Method::Get, "index"))
        .unwrap();
    let mut c = Client::connect(server.local_addr());
    assert_ok(&c.get("/Index"), "index /Index");
    assert_ok(&c.get("/index"), "index /index");
    assert_ok(&c.get("/INDEX.html?x=y"), "index /INDEX.html");
    assert_not_found(&c.get("/index.htm"));
    assert_not_found(&c.get("/Index/"));
}

#[test]
fn head_is_answered_by_the_get_handler_without_a_body() {
    const BODY: &str = "this is the GET body";
    let server = start(Config::builder());
    server
        .register(Handler::new("/doc", Method::Get, |req| {
            req.set_header("X-Method", req.method().as_str())?;
            req.send_str(BODY)
        }))
        .unwrap();
    let mut c = Client::connect(server.local_addr());
    c.send("HEAD /doc HTTP/1.1\r\nHost: test\r\n\r\n");
    let r = c.head_response();
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-method"), Some("HEAD"), "handler sees HEAD");
    assert_eq!(
        r.header("content-length"),
        Some(BODY.len().to_string()).as_deref()
    );
    assert!(!r.closes());
    // No body bytes were sent: the next response on the connection parses from its start.
    let r = c.get("/doc");
    assert_ok(&r, BODY);
    assert_eq!(r.header("x-method"), Some("GET"));
}

#[test]
fn head_to_a_chunked_get_handler_sends_no_chunks() {
    let server = start(Config::builder());
    server
        .register(Handler::new("/chunks", Method::Get, |req| {
            req.send_chunk("abc")?;
            req.send_chunk("defg")?;
            req.send_chunk("")
        }))
        .unwrap();
    let mut c = Client::connect(server.local_addr());
    c.send("HEAD /chunks HTTP/1.1\r\nHost: test\r\n\r\n");
    let r = c.head_response();
    assert_eq!(r.status, 200);
    assert!(!r.closes());
    let r = c.get("/chunks");
    assert_ok(&r, "abcdefg");
    assert_eq!(r.chunks, Some(vec![3, 4]));
}

#[test]
fn head_handler_is_preferred_when_registered() {
    let server = start(Config::builder());
    server
        .register(text("/doc", Method::Get, "get body"))
        .unwrap();
    server
        .register(Handler::new("/doc", Method::Head, |req| {
            req.set_header("X-Head", "yes")?;
            req.send_str("123456789012345")
        }))
        .unwrap();
    let mut c = Client::connect(server.local_addr());
    c.send("HEAD /doc HTTP/1.1\r\nHost: test\r\n\r\n");
    let r = c.head_response();
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-head"), Some("yes"));
    assert_eq!(r.header("content-length"), Some("15"));
    let r = c.get("/doc");
    assert_ok(&r, "get body");
    assert_eq!(r.header("x-head"), None);
}

#[test]
fn absolute_form_target_is_routed_on_its_path() {
    let server = start(Config::builder());
    server
        .register(Handler::new("/hello", Method::Get, |req| {
            let body = format!("path={} query={:?}", req.path(), req.query());
            req.send_str(&body)
        }))
        .unwrap();
    let mut c = Client::connect(server.local_addr());
    c.send("GET http://example.com/hello HTTP/1.1\r\nHost: example.com\r\n\r\n");
    assert_ok(&c.response(), "path=/hello query=None");
    c.send("GET http://example.com:8080/hello?a=1 HTTP/1.1\r\nHost: example.com\r\n\r\n");
    assert_ok(&c.response(), "path=/hello query=Some(\"a=1\")");
    c.send("GET http://example.com/other HTTP/1.1\r\nHost: example.com\r\n\r\n");
    assert_not_found(&c.response());
}

#[test]
fn absolute_form_target_without_a_path_is_routed_to_the_root() {
    let server = start(Config::builder());
    server.register(named("/", Method::Get, "root")).unwrap();
    let mut c = Client::connect(server.local_addr());
    c.send("GET http://example.com HTTP/1.1\r\nHost: example.com\r\n\r\n");
    assert_ok(&c.response(), "root /");
    c.send("GET HTTP://EXAMPLE.COM:80?q=1 HTTP/1.1\r\nHost: example.com\r\n\r\n");
    assert_ok(&c.response(), "root /");
}

#[test]
fn handlers_registered_and_unregistered_while_running_take_effect() {
    let server = start(Config::builder());
    let mut c = Client::connect(server.local_addr());
    assert_not_found(&c.get("/late"));
    server.register(text("/late", Method::Get, "late")).unwrap();
    assert_ok(&c.get("/late"), "late");
    server.unregister("/late", Method::Get).unwrap();
    assert_not_found(&c.get("/late"));
}
