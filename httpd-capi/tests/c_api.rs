//! The C API driven black-box: `tests/c/api_server.c` is compiled with the README's gcc line
//! and run; each test talks to it over loopback and checks what the C functions returned (the
//! handlers report it in their bodies) and what went over the wire.
mod common;
#[path = "../../httpd/tests/util/mod.rs"]
mod util;

use std::time::Duration;

use common::Prog;
use util::Client;

const SRC: &str = "tests/c/api_server.c";

fn start() -> Prog {
    Prog::start(SRC, &[])
}

fn get(c: &mut Client, path: &str) -> util::Response {
    c.get(path)
}

#[test]
fn header_query_and_cookie_getters() {
    let p = start();
    let mut c = Client::connect(p.addr(0));
    c.send("GET /hdr HTTP/1.1\r\nHost: t\r\nX-Test: abcdef\r\n\r\n");
    let r = c.response();
    assert_eq!(
        r.text(),
        "len=6 full=ESP_OK:abcdef trunc=ESP_ERR_HTTPD_RESULT_TRUNC:abc missing=ESP_ERR_NOT_FOUND \
         ptr=ESP_OK:abcdef:6 missing_len=0"
    );
    let r = get(&mut c, "/query?key1=val1&b=x%20y&long=0123456789");
    assert_eq!(
        r.text(),
        "qlen=33 q=ESP_OK:key1=val1&b=x%20y&long=0123456789 small=ESP_ERR_HTTPD_RESULT_TRUNC:zzzz \
         key1=ESP_OK:val1 b=ESP_OK:x%20y long=ESP_ERR_HTTPD_RESULT_TRUNC:zzzz \
         none=ESP_ERR_NOT_FOUND zero=ESP_ERR_INVALID_ARG ptr=ESP_OK:33"
    );
    let r = get(&mut c, "/query");
    assert!(
        r.text().starts_with("qlen=0 q=ESP_ERR_NOT_FOUND"),
        "{}",
        r.text()
    );
    c.send("GET /cookie HTTP/1.1\r\nHost: t\r\nCookie: session=abc123; theme=dark\r\n\r\n");
    assert_eq!(
        c.response().text(),
        "theme=ESP_OK:dark:5 session=ESP_ERR_HTTPD_RESULT_TRUNC:zz:7 none=ESP_ERR_NOT_FOUND"
    );
    let r = get(&mut c, "/cookie");
    assert!(r.text().ends_with("none=ESP_ERR_NOT_FOUND"), "{}", r.text());
}

#[test]
fn raw_request_data_and_raw_socket_receive() {
    let p = start();
    let mut c = Client::connect(p.addr(0));
    c.send("GET /raw_data?x=1 HTTP/1.1\r\nHost: t\r\nX-A: b\r\n\r\n");
    let text = c.response().text();
    assert!(
        text.starts_with("len=") && text.ends_with("r=ESP_OK first=GET /raw_data?x=1 HTTP/1.1"),
        "{text}"
    );
    let len: usize = text[4..text.find(' ').unwrap()].parse().unwrap();
    assert_eq!(
        len,
        "GET /raw_data?x=1 HTTP/1.1\r\nHost: t\r\nX-A: b\r\n\r\n".len()
    );
    assert_eq!(get(&mut c, "/sockrecv").text(), "socket_recv=-3");
}

#[test]
fn recv_is_clamped_and_ends_with_zero() {
    let p = start();
    let mut c = Client::connect(p.addr(0));
    let body: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
    let sum: u32 = body.iter().map(|&b| u32::from(b)).sum();
    let r = c.request("POST", "/recv", &body);
    assert_eq!(
        r.text(),
        format!("content_len=5000 total=5000 sum={sum} end=0 over=0")
    );
    // Keep-alive after a body: the next request on the connection parses cleanly.
    let r = c.request("POST", "/recv", b"abc");
    assert_eq!(r.text(), "content_len=3 total=3 sum=294 end=0 over=0");
}

#[test]
fn recv_times_out_with_httpd_sock_err_timeout() {
    let p = start();
    let mut c = Client::connect(p.addr(0));
    // A body larger than the server buffers before the handler runs (16 KiB) is read by the
    // handler: two bytes arrive, the first recv gets them, the second times out
    // (recv_wait_timeout is 1 s).
    c.send("POST /slow HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\nab");
    assert_eq!(c.response().text(), "first=2 second=-3");
    // A small body that stalls is timed out by the server itself (408), handler or not.
    let mut c = Client::connect(p.addr(0));
    c.send("POST /slow HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nab");
    assert_eq!(c.response().status, 408);
}

#[test]
fn response_functions() {
    let mut p = start();
    let mut c = Client::connect(p.addr(0));
    let r = get(&mut c, "/resp");
    assert_eq!(r.status, 201);
    assert_eq!(r.reason, "Created");
    assert_eq!(r.header("content-type"), Some("text/plain"));
    assert_eq!(r.header("x-a"), Some("1"));
    assert_eq!(r.header("x-b"), Some("2"));
    assert_eq!(r.header("x-c"), None);
    assert_eq!(
        r.text(),
        "null=ESP_ERR_INVALID_ARG status=ESP_OK type=ESP_OK crlf=ESP_ERR_INVALID_ARG a=ESP_OK \
         b=ESP_OK third=ESP_ERR_HTTPD_RESP_HDR"
    );
    p.wait_for_log("resp sent=ESP_OK late=ESP_ERR_INVALID_STATE");

    let r = get(&mut c, "/chunk");
    assert_eq!(r.chunks, Some(vec![6, 8, 6]));
    assert_eq!(r.text(), "Hello chunked world!");
    p.wait_for_log("chunk end=ESP_OK after=ESP_ERR_INVALID_STATE");

    // ESP-IDF's /any: a response, then an empty chunk, which sends nothing here.
    c.send("DELETE /any HTTP/1.1\r\nHost: t\r\n\r\n");
    let r = c.response();
    assert_eq!(r.text(), "any method=0");
    p.wait_for_log("any second=ESP_ERR_INVALID_STATE");
    let r = c.request("PATCH", "/any", b"");
    assert_eq!(r.text(), "any method=28");
    assert!(
        c.is_silent_for(Duration::from_millis(200)),
        "nothing after the response"
    );

    let r = get(&mut c, "/raw");
    assert_eq!((r.status, r.text().as_str()), (200, "raw"));
    p.wait_for_log("raw sent=41 of 41");
}

#[test]
fn error_responses_and_error_handlers() {
    let mut p = start();
    let mut c = Client::connect(p.addr(0));
    let r = get(&mut c, "/err403");
    assert_eq!(
        (r.status, r.header("content-type")),
        (403, Some("text/html"))
    );
    assert_eq!(r.text(), "Request forbidden -- authorization will not help");
    let r = get(&mut c, "/err501");
    assert_eq!(
        (r.status, r.reason.as_str(), r.text().as_str()),
        (501, "Method Not Implemented", "custom")
    );
    let r = get(&mut c, "/custom");
    assert_eq!((r.status, r.reason.as_str()), (418, "I'm a teapot"));
    assert_eq!(r.text(), "short and stout");
    let r = get(&mut c, "/send404");
    assert_eq!(
        (r.status, r.text().as_str()),
        (404, "Nothing matches the given URI")
    );
    // The registered 404 handler (it returns ESP_OK: the connection stays open).
    let r = get(&mut c, "/nowhere");
    assert_eq!(
        (r.status, r.text().as_str()),
        (404, "custom 6 for /nowhere")
    );
    // httpd_req_handle_err without a 400 handler: the default page, then ESP_FAIL closes.
    let r = get(&mut c, "/handle_err");
    assert_eq!((r.status, r.text().as_str()), (400, "Bad request syntax"));
    assert!(c.is_closed());
    p.wait_for_log("handle_err=ESP_FAIL");
}

#[test]
fn failing_and_silent_handlers() {
    let p = start();
    // ESP_FAIL without a response: nothing is sent and the connection closes.
    let mut c = Client::connect(p.addr(0));
    c.send("GET /fail HTTP/1.1\r\nHost: t\r\n\r\n");
    assert!(c.is_closed());
    // ESP_FAIL after a response: the response, then the close.
    let mut c = Client::connect(p.addr(0));
    assert_eq!(get(&mut c, "/fail_after").text(), "partial");
    assert!(c.is_closed());
    // ESP_OK without a response: nothing is sent (as on the chip), the connection stays.
    let mut c = Client::connect(p.addr(0));
    c.send("GET /silent HTTP/1.1\r\nHost: t\r\n\r\n");
    assert!(c.is_silent_for(Duration::from_millis(300)));
    assert!(get(&mut c, "/fd").text().starts_with("fd="));
}

#[test]
fn socket_descriptors_are_the_real_ones() {
    let p = start();
    let mut c = Client::connect(p.addr(0));
    let local = c.stream.local_addr().unwrap().port();
    let text = get(&mut c, "/fd").text();
    // getpeername() on the descriptor the C code got gives this client's own port.
    assert!(text.ends_with(&format!("peer={local} ok=0")), "{text}");
    let r = get(&mut c, "/clients");
    assert_eq!(
        r.text(),
        "r=ESP_OK count=1 mine=1 zero=ESP_ERR_INVALID_ARG one=ESP_OK"
    );
    let mut c2 = Client::connect(p.addr(0));
    let r = get(&mut c2, "/clients");
    assert_eq!(
        r.text(),
        "r=ESP_OK count=2 mine=1 zero=ESP_ERR_INVALID_ARG one=ESP_ERR_INVALID_ARG"
    );
    assert_eq!(
        get(&mut c, "/lru").text(),
        "own=ESP_OK bogus=ESP_ERR_NOT_FOUND null=ESP_ERR_INVALID_ARG"
    );
}

#[test]
fn session_context_lives_with_the_connection() {
    let p = start();
    let mut c = Client::connect(p.addr(0));
    assert_eq!(get(&mut c, "/sess").text(), "count=1 same=1");
    assert_eq!(get(&mut c, "/sess").text(), "count=2 same=1");
    let mut other = Client::connect(p.addr(0));
    assert_eq!(get(&mut other, "/sess").text(), "count=1 same=1");
    assert!(get(&mut other, "/stats").text().contains("freed=0"));
    // A replaced context is freed after the handler; an ignored change is not.
    assert_eq!(get(&mut c, "/replace").text(), "replaced");
    assert!(get(&mut other, "/stats").text().contains("freed=1"));
    assert_eq!(get(&mut c, "/ignore").text(), "ignored");
    assert!(get(&mut other, "/stats").text().contains("freed=1"));
    // Closing the connection frees its context (the one /ignore set).
    drop(c);
    let deadline = std::time::Instant::now() + common::WAIT;
    loop {
        let stats = get(&mut other, "/stats").text();
        if stats.contains("freed=2") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "context never freed: {stats}"
        );
        std::thread::yield_now();
    }
}

#[test]
fn open_fn_refuses_and_close_fn_owns_the_socket() {
    let mut p = start();
    let mut c = Client::connect(p.addr(0));
    assert_eq!(get(&mut c, "/refuse_next").text(), "ok");
    // The next connection is refused by open_fn: closed at once, and close_fn still runs.
    let mut refused = Client::connect(p.addr(0));
    refused.send("GET /fd HTTP/1.1\r\nHost: t\r\n\r\n");
    assert!(refused.is_closed());
    p.wait_for_log("refuse=1");
    let stats = get(&mut c, "/stats").text();
    assert!(stats.contains("refused=1"), "{stats}");
    // close_fn keeps the next closed descriptor open; httpd must not have closed it.
    assert_eq!(get(&mut c, "/defer_close").text(), "ok");
    let mut d = Client::connect(p.addr(0));
    assert!(get(&mut d, "/fd").text().starts_with("fd="));
    drop(d);
    p.wait_for_log("deferred=1");
    // Other connections open and close meanwhile (a double close would hit one of them).
    for _ in 0..3 {
        let mut e = Client::connect(p.addr(0));
        assert!(get(&mut e, "/fd").text().starts_with("fd="));
    }
    assert_eq!(get(&mut c, "/check_fds").text(), "deferred=1 open=1");
    let logs = p.logs();
    assert!(
        logs.iter()
            .filter(|l| l.contains("close_fn"))
            .all(|l| l.contains("open=1")),
        "close_fn always gets an open descriptor:\n{}",
        logs.join("\n")
    );
}

#[test]
fn trigger_close_work_queue_and_socket_send() {
    let mut p = start();
    let mut c = Client::connect(p.addr(0));
    let r = get(&mut c, "/work");
    assert_eq!(r.text(), "queued ESP_OK");
    // The work function's httpd_socket_send (a whole response, framed by the C code) follows
    // the handler's response on the connection.
    assert_eq!(c.response().text(), "WORK");
    p.wait_for_log("work ran: socket_send=42 of 42");
    let r = get(&mut c, "/close_me");
    assert_eq!(r.text(), "bye ESP_OK");
    assert!(c.is_closed());
}

#[test]
fn async_handlers() {
    let mut p = start();
    let mut c = Client::connect(p.addr(0));
    let r = get(&mut c, "/async");
    assert_eq!(r.text(), "async /async done");
    p.wait_for_log("async complete=ESP_OK");
    // Completing without a response sends nothing; the connection is served again.
    c.send("GET /async_silent HTTP/1.1\r\nHost: t\r\n\r\n");
    p.wait_for_log("async silent complete=ESP_OK");
    assert!(c.is_silent_for(Duration::from_millis(200)));
    assert_eq!(get(&mut c, "/async").text(), "async /async done");
}

#[test]
fn registration_and_invalid_arguments() {
    let p = start();
    let mut c = Client::connect(p.addr(0));
    assert_eq!(
        get(&mut c, "/reg").text(),
        "first=ESP_OK again=ESP_ERR_HTTPD_HANDLER_EXISTS wrong_method=ESP_ERR_NOT_FOUND \
         full=ESP_ERR_HTTPD_HANDLERS_FULL unreg=ESP_OK none=ESP_ERR_NOT_FOUND"
    );
    assert_eq!(
        get(&mut c, "/invalid").text(),
        "recv_null=-2 recv_nullbuf=-2 send_null=-2 sock_send=-2 sock_recv=-2 sockfd_null=-1 \
         hdr_len_null=0 hdr_len_nofield=0 query_len_null=0 sess_get_bad=1 \
         start_null=ESP_ERR_INVALID_ARG stop_bad=ESP_ERR_INVALID_ARG resp_null=ESP_ERR_INVALID_ARG \
         resp_neg=ESP_ERR_INVALID_ARG set_hdr_null=ESP_ERR_INVALID_ARG kv_null=ESP_ERR_INVALID_ARG \
         reg_null=ESP_ERR_INVALID_ARG work_null=ESP_ERR_INVALID_ARG close_bad=ESP_ERR_NOT_FOUND \
         list_null=ESP_ERR_INVALID_ARG complete_null=ESP_ERR_INVALID_ARG \
         fake_send=ESP_ERR_HTTPD_INVALID_REQ fake_sockfd=-1 ws_on_http=ESP_ERR_INVALID_STATE \
         fd_info=0 list_n=ESP_ERR_INVALID_ARG err_bad=ESP_ERR_INVALID_ARG \
         method=ESP_ERR_NOT_SUPPORTED"
    );
    // The server is still fine.
    assert_eq!(get(&mut c, "/wildtable").text(), "rows=16 bad=0 upto=1");
}

#[test]
fn wildcard_matcher_routes_and_refuses_clashes() {
    let mut p = start();
    p.wait_for_log("wildcard clash get=ESP_ERR_HTTPD_HANDLER_EXISTS put=ESP_OK");
    let mut c = Client::connect(p.addr(1));
    for (path, want) in [
        ("/files/a/b", Some("files:/files/a/b")),
        ("/files/", Some("files:/files/")),
        ("/files", None),
        ("/path", Some("path:/path")),
        ("/path/", Some("path:/path/")),
        ("/path/x", None),
    ] {
        let r = get(&mut c, path);
        match want {
            Some(body) => assert_eq!((r.status, r.text().as_str()), (200, body), "{path}"),
            None => {
                assert_eq!(r.status, 404, "{path}");
                c = Client::connect(p.addr(1)); // ESP-IDF's 404 closes the connection
            }
        }
    }
    // PUT /files/x was registered alongside GET /files/*.
    let r = c.request("PUT", "/files/x", b"");
    assert_eq!(r.text(), "clash:/files/x");
}

#[test]
fn transport_overrides_carry_the_bytes() {
    let mut p = start();
    let mut c = Client::connect(p.addr(2));
    let first = "GET /ovr HTTP/1.1\r\nHost: t\r\n\r\n";
    c.send(first);
    let r = c.response();
    p.wait_for_log("overrides set: ESP_OK ESP_OK ESP_OK");
    let text = r.text();
    assert!(
        text.starts_with(&format!("recv={} send=0 pending_calls=", first.len())),
        "{text}"
    );
    assert!(text.ends_with("tctx=tctx"), "{text}");
    // The first response went out through the send override: its size is counted now.
    let sent_before = text.len()
        + format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nDate: {}\r\n\r\n",
            text.len(),
            r.header("date").unwrap()
        )
        .len();
    c.send(first);
    let r2 = c.response();
    let want = format!("recv={} send={sent_before} ", 2 * first.len());
    assert!(r2.text().starts_with(&want), "{} vs {want}", r2.text());
}

#[test]
fn a_client_leaving_mid_response_does_not_kill_the_program() {
    let mut p = start();
    for _ in 0..3 {
        let mut c = Client::connect(p.addr(0));
        c.send("GET /big HTTP/1.1\r\nHost: t\r\n\r\n");
        // Leave at once with the response unread: the server's writes fail (EPIPE or reset),
        // which on a host would raise SIGPIPE without MSG_NOSIGNAL.
        drop(c);
    }
    p.wait_for_log("big: the client left");
    let mut c = Client::connect(p.addr(0));
    assert!(
        c.get("/fd").text().starts_with("fd="),
        "the program still serves"
    );
}

#[test]
fn servers_stop_cleanly_and_free_global_contexts() {
    let p = start();
    let mut c = Client::connect(p.addr(0));
    assert!(get(&mut c, "/stats").text().contains("global=global-ctx"));
    let (status, logs) = p.finish();
    assert!(status.success(), "{status}\n{}", logs.join("\n"));
    assert!(
        logs.iter().any(|l| l == "global ctx freed: global-ctx"),
        "{}",
        logs.join("\n")
    );
    assert!(logs.iter().any(|l| l == "stop[0]=ESP_OK"));
    assert!(logs.iter().any(|l| l == "stopped"));
}

#[test]
fn a_handler_can_stop_its_own_server() {
    let mut p = start();
    let mut c = Client::connect(p.addr(0));
    assert_eq!(get(&mut c, "/stop_self").text(), "stopping");
    p.wait_for_log("stop_self=ESP_OK");
    p.wait_for_log("global ctx freed: global-ctx");
    assert!(c.is_closed());
    // The other servers still run.
    let mut w = Client::connect(p.addr(1));
    assert_eq!(get(&mut w, "/files/a").text(), "files:/files/a");
    let (status, logs) = p.finish();
    assert!(status.success(), "{status}\n{}", logs.join("\n"));
    assert!(
        logs.iter().any(|l| l == "stop[0]=ESP_ERR_INVALID_ARG"),
        "{}",
        logs.join("\n")
    );
    assert!(logs.iter().any(|l| l == "stop[1]=ESP_OK"));
}

#[test]
fn the_default_config_starts_as_it_is() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let exe = common::compile("tests/c/default_config.c");
    let mut child = Command::new(exe)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut next = || lines.next().expect("a line").expect("text");
    let (default, second, lo, nosuch) = (next(), next(), next(), next());
    // Port 80 may be taken by another program on this machine: then only the bind fails.
    assert!(
        default == "default=ESP_OK" || default == "default=ESP_ERR_HTTPD_TASK",
        "{default}"
    );
    assert_eq!(second, "second=ESP_OK");
    assert_eq!(nosuch, "nosuch=ESP_ERR_INVALID_ARG");
    let port: u16 = lo
        .strip_prefix("lo=ESP_OK lo_port=")
        .expect(&lo)
        .parse()
        .unwrap();
    let mut c = Client::connect(([127, 0, 0, 1], port).into());
    assert_eq!(
        c.get("/none").status,
        404,
        "the server on lo answers on 127.0.0.1"
    );
    drop(child.stdin.take());
    if default == "default=ESP_OK" {
        assert_eq!(next(), "port=80");
    }
    let out = child.wait_with_output().expect("exit");
    assert!(out.status.success(), "{}", out.status);
    if default != "default=ESP_OK" {
        assert!(String::from_utf8_lossy(&out.stderr).contains("Address already in use"));
    }
}

#[test]
fn server_events_reach_registered_handlers() {
    let p = start();
    let mut c = Client::connect(p.addr(0));
    assert_eq!(get(&mut c, "/fd").status, 200);
    assert_eq!(get(&mut c, "/nowhere").status, 404);
    drop(c);
    let mut c = Client::connect(p.addr(0));
    let deadline = std::time::Instant::now() + common::WAIT;
    let text = loop {
        let text = get(&mut c, "/events").text();
        // Three servers started (each posts START from its own thread); two connections so
        // far, the first one closed.
        if text.contains("disconnected=1") && text.starts_with("start=3 ") {
            break text;
        }
        assert!(std::time::Instant::now() < deadline, "{text}");
        std::thread::yield_now();
    };
    let count = |name: &str| -> i64 {
        let field = text
            .split(' ')
            .find(|f| f.starts_with(&format!("{name}=")))
            .unwrap();
        field[name.len() + 1..].parse().unwrap()
    };
    assert_eq!(count("start"), 3, "{text}");
    assert_eq!(count("connected"), 2, "{text}");
    assert!(count("header") >= 3, "{text}");
    assert!(count("headers_sent") >= 2, "{text}");
    assert!(count("sent") >= 2, "{text}");
    assert_eq!(
        count("fd_ok"),
        1,
        "ON_CONNECTED carries the open descriptor: {text}"
    );
    // The 404 was an ERROR event; the state is the last event's (the /events request head).
    assert!(count("error") >= 1, "{text}");
    assert_eq!(count("state"), 3, "{text}");
}
