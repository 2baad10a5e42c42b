//! The `file_serving` example, black-box: the listing page, downloads through the static file
//! handler, uploads (Content-Length and chunked) and their failures, deletes, and symlinks that
//! must never be written through, removed through or escaped by. (The browser test is in
//! `file_serving_browser.rs`.)
mod example_util;
mod files_util;
mod util;

use std::path::Path;
use std::time::{Duration, Instant};

use example_util::Server;
use files_util::{get_with, request_with, TempDir};
use util::{Client, Response};

/// The example on `root`, with uploads limited to 64 KiB.
fn start(root: &Path) -> Server {
    Server::start_with(
        "file_serving",
        &["--root", root.to_str().unwrap(), "--max-file-size", "65536"],
    )
}

fn upload(server: &Server, path: &str, body: &[u8]) -> Response {
    let mut c = Client::connect(server.addr());
    c.request("POST", &format!("/upload/{path}"), body)
}

/// Every name in `dir` (temporary `.part` files included).
fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    v.sort();
    v
}

fn data(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 + i / 256) as u8).collect()
}

#[test]
fn upload_list_download_delete() {
    let dir = TempDir::new("fs-ok");
    let root = dir.path().join("root"); // created by the example
    let server = start(&root);
    let body = data(50_000);
    let r = upload(&server, "docs/report%201.bin", &body);
    assert_eq!((r.status, r.header("location")), (303, Some("/")));
    assert_eq!(std::fs::read(root.join("docs/report 1.bin")).unwrap(), body);

    // Chunked.
    let mut c = Client::connect(server.addr());
    c.send("POST /upload/chunked.txt HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n");
    c.send("5\r\nhello\r\n7\r\n, world\r\n0\r\n\r\n");
    assert_eq!(c.response().status, 303);
    assert_eq!(
        std::fs::read(root.join("chunked.txt")).unwrap(),
        b"hello, world"
    );

    // A name that needs escaping in HTML and encoding in a link.
    assert_eq!(
        upload(&server, "%3Cb%3E%20%26%22q%22.txt", b"x").status,
        303
    );

    let page = c.get("/");
    assert_eq!(page.status, 200);
    let html = page.text();
    assert!(
        html.contains("<a href=\"/chunked.txt\">chunked.txt</a>"),
        "{html}"
    );
    assert!(
        html.contains("<td>12</td>"),
        "size as a plain byte count: {html}"
    );
    assert!(html.contains("action=\"/delete/chunked.txt\""), "{html}");
    assert!(html.contains("<a href=\"/docs/\">docs/</a>"), "{html}");
    assert!(
        html.contains("<a href=\"/%3Cb%3E%20%26%22q%22.txt\">&lt;b&gt; &amp;&quot;q&quot;.txt</a>"),
        "{html}"
    );
    assert!(html.contains("type=\"file\"") && html.contains("/upload/"));
    let doubled = c.get("//").text();
    assert!(doubled.contains("<a href=\"/chunked.txt\">") && !doubled.contains("href=\"//"));
    let sub = c.get("/docs/").text();
    assert!(
        sub.contains("<a href=\"/docs/report%201.bin\">report 1.bin</a>"),
        "{sub}"
    );
    assert!(sub.contains("<td>50000</td>"));

    let r = c.get("/docs/report%201.bin");
    assert_eq!(r.status, 200);
    assert!(r.body == body);
    assert_eq!(r.header("content-type"), Some("application/octet-stream"));
    let r = get_with(
        &mut c,
        "/docs/report%201.bin",
        &[("Range", "bytes=100-199")],
    );
    assert_eq!((r.status, &r.body[..]), (206, &body[100..200]));
    let head = request_with(&mut c, "HEAD", "/chunked.txt", &[]);
    assert_eq!(head.header("content-length"), Some("12"));
    assert_eq!(c.request("PUT", "/chunked.txt", b"").status, 405);

    let r = c.request("POST", "/delete/chunked.txt", b"");
    assert_eq!((r.status, r.header("location")), (303, Some("/")));
    assert!(!root.join("chunked.txt").exists());
    assert_eq!(c.request("POST", "/delete/chunked.txt", b"").status, 404);
    assert_eq!(c.request("POST", "/delete/docs", b"").status, 400);
    assert_eq!(c.get("/chunked.txt").status, 404);
    assert_eq!(server.interrupt().code(), Some(0));
}

#[test]
fn upload_failures_leave_nothing_behind() {
    let dir = TempDir::new("fs-fail");
    let root = dir.path().to_path_buf();
    let mut server = start(&root);
    assert_eq!(upload(&server, "exists.txt", b"first").status, 303);
    // (path, body, status)
    let big = data(65_537);
    let cases: &[(&str, &[u8], u16)] = &[
        ("exists.txt", b"second", 409),
        ("", b"x", 400),
        ("dir/", b"x", 400),
        ("a%00b", b"x", 400),
        ("..%2fescape.txt", b"x", 400),
        ("../escape.txt", b"x", 400),
        ("%2e%2e/escape.txt", b"x", 400),
        ("exists.txt/child", b"x", 400),
        ("big.bin", &big, 413),
    ];
    for (path, body, status) in cases {
        let r = upload(&server, path, body);
        assert_eq!(r.status, *status, "{path}: {}", r.text());
    }
    assert_eq!(std::fs::read(root.join("exists.txt")).unwrap(), b"first");

    // Too large, chunked: found while streaming; the partial file is removed.
    let mut c = Client::connect(server.addr());
    c.send("POST /upload/big2.bin HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n");
    for _ in 0..9 {
        c.send(format!("2000\r\n{}\r\n", "x".repeat(0x2000)));
    }
    c.send("0\r\n\r\n");
    assert_eq!(c.response().status, 413);

    // Cut off mid-body: the server notices, and removes the partial file.
    let mut c = Client::connect(server.addr());
    c.send("POST /upload/cut.bin HTTP/1.1\r\nHost: t\r\nContent-Length: 60000\r\n\r\n");
    c.send(data(20_000));
    drop(c);
    server.wait_for_log("Upload of cut.bin failed");
    // Its thread may still be removing the temporary file: wait for it, bounded.
    let deadline = Instant::now() + Duration::from_secs(10);
    while names(&root) != ["exists.txt"] && Instant::now() < deadline {
        std::thread::yield_now();
    }
    assert_eq!(names(&root), ["exists.txt"]);
    assert_eq!(server.interrupt().code(), Some(0));
}

#[test]
fn a_slow_upload_does_not_hold_up_other_clients() {
    let dir = TempDir::new("fs-slow");
    let server = start(dir.path());
    let mut slow = Client::connect(server.addr());
    slow.send("POST /upload/slow.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 30000\r\n\r\n");
    slow.send("a".repeat(20_000));
    for _ in 0..5 {
        let started = Instant::now();
        assert_eq!(Client::connect(server.addr()).get("/").status, 200);
        assert!(started.elapsed() < Duration::from_secs(2));
    }
    slow.send("b".repeat(10_000));
    assert_eq!(slow.response().status, 303);
    assert_eq!(
        std::fs::read(dir.path().join("slow.txt")).unwrap().len(),
        30_000
    );
}

#[test]
fn symlinks_are_never_written_through_or_escaped() {
    let dir = TempDir::new("fs-links");
    let outside = dir.path().join("outside");
    dir.write("outside/target.txt", "outside file");
    let root = dir.path().join("root");
    std::fs::create_dir_all(&root).unwrap();
    let link =
        |target: &Path, name: &str| std::os::unix::fs::symlink(target, root.join(name)).unwrap();
    link(&outside.join("target.txt"), "link.txt");
    link(&outside.join("new.txt"), "dangling.txt");
    link(&outside, "outdir");
    dir.write("root/inside/file.txt", "inside");
    link(Path::new("inside"), "indir");
    let server = start(&root);
    let mut c = Client::connect(server.addr());

    // Uploads onto a symlink are refused (it exists); nothing is created or changed outside.
    assert_eq!(upload(&server, "link.txt", b"overwrite").status, 409);
    assert_eq!(upload(&server, "dangling.txt", b"create").status, 409);
    assert_eq!(upload(&server, "outdir/x.txt", b"escape").status, 403);
    assert_eq!(upload(&server, "outdir/sub/x.txt", b"escape").status, 403);
    assert_eq!(
        std::fs::read_to_string(outside.join("target.txt")).unwrap(),
        "outside file"
    );
    assert_eq!(names(&outside), ["target.txt"]);
    // A symlink to a directory inside the root is followed.
    assert_eq!(upload(&server, "indir/up.txt", b"ok").status, 303);
    assert_eq!(std::fs::read(root.join("inside/up.txt")).unwrap(), b"ok");

    // Downloads and listings do not leave the root either.
    assert_eq!(c.get("/link.txt").status, 403);
    assert_eq!(c.get("/outdir/target.txt").status, 403);
    assert_eq!(c.get("/outdir/").status, 403);
    assert_eq!(c.get("/indir/file.txt").text(), "inside");

    // Deletes: through an outside directory refused; a symlink is removed itself.
    assert_eq!(
        c.request("POST", "/delete/outdir/target.txt", b"").status,
        403
    );
    assert_eq!(
        c.request("POST", "/delete/%2e%2e/outside/target.txt", b"")
            .status,
        400
    );
    assert_eq!(c.request("POST", "/delete/link.txt", b"").status, 303);
    assert!(root.join("link.txt").symlink_metadata().is_err());
    assert_eq!(
        std::fs::read_to_string(outside.join("target.txt")).unwrap(),
        "outside file"
    );
    assert_eq!(server.interrupt().code(), Some(0));
}
