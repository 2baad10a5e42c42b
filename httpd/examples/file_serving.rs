//! ESP-IDF's `file_serving` example on httpd: a directory served for download, listed on an
//! HTML page, with uploads and deletes.
//!
//! - `GET /` (and any path ending in `/`): the directory's listing, as ESP-IDF's page shows it:
//!   a link per entry, its type and size in bytes, a delete button per file, and an upload
//!   form (a script posts the chosen file to `/upload/<path>`).
//! - `GET /<path>`: the file, through `StaticFiles` (types, `ETag`, ranges, 304, `.gz`).
//! - `POST /upload/<path>`: stores the body (`Content-Length` or chunked) as a new file,
//!   streamed to disk on a thread of its own; 303 to `/`. An existing file is 409, an invalid
//!   path (empty, trailing `/`, NUL, `..`) 400, a body over `--max-file-size` 413 (ESP-IDF
//!   says 400), four uploads already running 503. A failed upload leaves nothing behind.
//! - `POST /delete/<path>`: removes the file; 303 to `/`; a missing file is 404 (ESP-IDF: 400).
//!
//! ```text
//! cargo run --example file_serving -- --port 8080 --root /tmp/files --max-file-size 1048576
//! curl --data-binary @Cargo.toml http://127.0.0.1:8080/upload/docs/Cargo.toml
//! curl http://127.0.0.1:8080/docs/Cargo.toml
//! curl -X POST http://127.0.0.1:8080/delete/docs/Cargo.toml
//! ```
//!
//! Stop it with Ctrl-C.

mod common;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use httpd::{Config, Error, FileError, Handler, Method, Request, Server, StaticFiles, UriMatch};
use log::{info, warn};

/// Uploads running at once; more are answered 503.
const MAX_UPLOADS: usize = 4;

struct Args {
    port: u16,
    root: PathBuf,
    max_file_size: u64,
}

fn parse() -> Result<Args, String> {
    let usage = "usage: file_serving [--port N] [--root DIR] [--max-file-size BYTES]";
    let mut args = Args {
        port: 8080,
        root: PathBuf::from("files"),
        max_file_size: 64 << 20,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().ok_or(format!("{arg} needs a value\n{usage}"));
        match arg.as_str() {
            "--port" => args.port = value()?.parse().map_err(|_| "invalid --port")?,
            "--root" => args.root = PathBuf::from(value()?),
            "--max-file-size" => {
                args.max_file_size = value()?.parse().map_err(|_| "invalid --max-file-size")?
            }
            _ => return Err(usage.to_owned()),
        }
    }
    Ok(args)
}

fn start(args: &Args) -> Result<Server, Error> {
    std::fs::create_dir_all(&args.root)?;
    let files = Arc::new(StaticFiles::new(&args.root)?.index_file(None));
    info!("Serving files from {}", args.root.display());
    let config = Config::builder().port(args.port).build()?;
    let server = Server::start(config)?;

    let get = Arc::clone(&files);
    server.register(
        Handler::new("/*", Method::Get, move |req| {
            let path = req.path().to_owned();
            if path.ends_with('/') {
                // Links are made from the path: never let them start with `//` (another host).
                let base = format!("/{}", path.trim_start_matches('/'));
                list(req, &get, &base)
            } else {
                get.serve(req, &path)
            }
        })
        .with_match(UriMatch::Wildcard),
    )?;

    let up = Arc::clone(&files);
    let running = Arc::new(AtomicUsize::new(0));
    let max = args.max_file_size;
    server.register(
        Handler::new("/upload/*", Method::Post, move |req| {
            upload(req, &up, &running, max)
        })
        .with_match(UriMatch::Wildcard),
    )?;

    server.register(
        Handler::new("/delete/*", Method::Post, move |req| {
            let rel = req.path()["/delete/".len()..].to_owned();
            match files.remove(&rel) {
                Ok(()) => {
                    info!("Deleted {rel}");
                    see_root(req)
                }
                Err(e) => refuse(req, &rel, &e),
            }
        })
        .with_match(UriMatch::Wildcard),
    )?;
    Ok(server)
}

/// Hands the upload to a thread of its own (a detached request), so a slow or large upload
/// does not hold up the server thread.
fn upload(
    req: &mut Request<'_>,
    files: &Arc<StaticFiles>,
    running: &Arc<AtomicUsize>,
    max: u64,
) -> Result<(), Error> {
    let rel = req.path()["/upload/".len()..].to_owned();
    if running.fetch_add(1, Ordering::AcqRel) >= MAX_UPLOADS {
        running.fetch_sub(1, Ordering::AcqRel);
        req.set_status("503 Busy")?;
        return req.send_str("Too many uploads at once; try again");
    }
    let mut detached = req.detach()?;
    let (files, counter) = (Arc::clone(files), Arc::clone(running));
    let spawned = std::thread::Builder::new()
        .name("upload".into())
        .spawn(move || {
            let Ok(mut req) = detached.request() else {
                counter.fetch_sub(1, Ordering::AcqRel);
                return;
            };
            let saved = files.save_upload(&mut req, &rel, max);
            // The slot is free before the answer goes out, so a client that uploads again as
            // soon as it has the answer finds it free.
            counter.fetch_sub(1, Ordering::AcqRel);
            let result = match saved {
                Ok(n) => {
                    info!("Stored {rel} ({n} bytes)");
                    see_root(&mut req)
                }
                // The client broke off: nothing to answer, the connection closes.
                Err(FileError::Request(e)) => {
                    warn!("Upload of {rel} failed: {e}");
                    req.set_header("Connection", "close")
                }
                Err(e) => refuse(&mut req, &rel, &e),
            };
            if let Err(e) = result {
                warn!("Answering the upload of {rel}: {e}");
            }
        });
    if spawned.is_err() {
        // The closure, and `detached` in it, were dropped unrun: the request completes with a
        // 500, and the slot is given back here.
        running.fetch_sub(1, Ordering::AcqRel);
        return Err(Error::handler("cannot start an upload thread"));
    }
    Ok(())
}

/// 303 See Other to the listing, as ESP-IDF answers a finished upload or delete.
fn see_root(req: &mut Request<'_>) -> Result<(), Error> {
    req.set_status("303 See Other")?;
    req.set_header("Location", "/")?;
    req.send_str("Done; see /")
}

fn refuse(req: &mut Request<'_>, rel: &str, e: &FileError) -> Result<(), Error> {
    warn!("Refused {rel}: {e}");
    let status = e.status_line();
    req.set_status(status)?;
    req.set_type("text/plain")?;
    req.send_str(match e {
        FileError::Exists => "File already exists",
        FileError::TooLarge => "File too large",
        FileError::BadPath => "Invalid file path",
        FileError::NotFound => "File does not exist",
        _ => &status[4..],
    })
}

/// The listing of the directory at request path `path` (ending in `/`).
fn list(req: &mut Request<'_>, files: &StaticFiles, path: &str) -> Result<(), Error> {
    let dir = match files.locate(path) {
        Ok(dir) if dir.is_dir() => dir,
        Ok(_) => return refuse(req, path, &FileError::NotFound),
        Err(e) => return refuse(req, path, &e),
    };
    let mut entries: Vec<(String, bool, u64)> = match std::fs::read_dir(&dir) {
        Ok(rd) => rd
            .filter_map(Result::ok)
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                let meta = std::fs::metadata(e.path()).ok()?;
                Some((name, meta.is_dir(), meta.len()))
            })
            .collect(),
        Err(e) => return Err(e.into()),
    };
    entries.sort();
    let page = page(path, &entries, root_relative(files.root(), &dir));
    req.set_type("text/html; charset=utf-8")?;
    req.send_str(&page)
}

fn root_relative(root: Option<&Path>, dir: &Path) -> String {
    let rel = root.and_then(|r| dir.strip_prefix(r).ok());
    rel.map(|r| r.display().to_string()).unwrap_or_default()
}

fn page(path: &str, entries: &[(String, bool, u64)], shown: String) -> String {
    let mut html = String::from(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Files</title></head><body>\n",
    );
    let _ = writeln!(html, "<h1>/{}</h1>", escape(&shown));
    html.push_str(UPLOAD_FORM);
    html.push_str(
        "<table id=\"files\" border=\"1\"><thead><tr><th>Name</th><th>Type</th>\
         <th>Size (Bytes)</th><th>Delete</th></tr></thead><tbody>\n",
    );
    for (name, is_dir, size) in entries {
        let mut href = String::from(path);
        encode(name, &mut href);
        if *is_dir {
            href.push('/');
        }
        let _ = write!(
            html,
            "<tr><td><a href=\"{}\">{}{}</a></td><td>{}</td><td>{}</td><td>",
            escape(&href),
            escape(name),
            if *is_dir { "/" } else { "" },
            if *is_dir { "directory" } else { "file" },
            if *is_dir {
                String::new()
            } else {
                size.to_string()
            },
        );
        if !is_dir {
            let _ = write!(
                html,
                "<form method=\"post\" action=\"/delete{}\"><button type=\"submit\">Delete</button></form>",
                escape(&href)
            );
        }
        html.push_str("</td></tr>\n");
    }
    html.push_str("</tbody></table></body></html>\n");
    html
}

/// ESP-IDF's upload form: the file and the path to store it under, posted by a script as the
/// request body (no multipart), then the listing is reloaded.
const UPLOAD_FORM: &str = r#"<form id="upload" onsubmit="return upload()">
<label>Upload a file <input id="newfile" type="file"></label>
<label>Set path on server <input id="filepath" type="text"></label>
<button id="upload-button" type="submit">Upload</button>
</form>
<p id="status"></p>
<script>
function upload() {
  var files = document.getElementById("newfile").files;
  var status = document.getElementById("status");
  if (files.length == 0) { status.textContent = "No file selected!"; return false; }
  var path = document.getElementById("filepath").value || files[0].name;
  var url = "/upload/" + path.split("/").map(encodeURIComponent).join("/");
  status.textContent = "Uploading " + path + "...";
  fetch(url, { method: "POST", body: files[0] }).then(function (r) {
    if (r.ok) { location.reload(); return; }
    return r.text().then(function (t) { status.textContent = r.status + " " + t; });
  }).catch(function (e) { status.textContent = "Upload failed: " + e; });
  return false;
}
</script>
"#;

/// Percent-encodes a name for a link (everything but unreserved characters).
fn encode(name: &str, out: &mut String) {
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn main() -> ExitCode {
    common::main(parse, start)
}
