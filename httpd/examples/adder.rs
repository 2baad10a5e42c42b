//! The client for the `persistent_sockets` example (ESP-IDF's `scripts/adder.py`).
//!
//! Over ONE persistent connection it sends `PUT /adder` with `0`, `POST /adder` with each
//! number from 1 to N, then `GET /adder`, prints every reply, and checks that the result is
//! N(N+1)/2. It exits with status 1 when the result is wrong or anything fails.
//!
//! ```text
//! cargo run --example persistent_sockets
//! cargo run --example adder -- 127.0.0.1 8080 10
//! ```
//!
//! The HTTP/1.1 client is written out here (a few dozen lines over `std::net::TcpStream`), so
//! the example needs nothing but the standard library.

use std::fmt;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::process;
use std::time::Duration;

/// No connect, read or write waits longer than this: the client never hangs.
const TIMEOUT: Duration = Duration::from_secs(10);
/// Refuse response heads and bodies larger than this (the server only sends small numbers).
const MAX_LEN: u64 = 1024 * 1024;

/// A response: status code and reason, headers, body.
struct Response {
    status: u16,
    reason: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

impl fmt::Display for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {:?}", self.status, self.reason, self.text())
    }
}

fn invalid(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

/// One keep-alive HTTP/1.1 connection.
struct Connection {
    reader: BufReader<TcpStream>,
    host: String,
}

impl Connection {
    fn open(host: &str, port: u16) -> io::Result<Connection> {
        let addrs: Vec<SocketAddr> = (host, port).to_socket_addrs()?.collect();
        let mut last_err = io::Error::new(io::ErrorKind::NotFound, "no address for host");
        for addr in addrs {
            match TcpStream::connect_timeout(&addr, TIMEOUT) {
                Ok(stream) => {
                    stream.set_read_timeout(Some(TIMEOUT))?;
                    stream.set_write_timeout(Some(TIMEOUT))?;
                    stream.set_nodelay(true)?;
                    return Ok(Connection {
                        reader: BufReader::new(stream),
                        host: format!("{host}:{port}"),
                    });
                }
                Err(e) => last_err = e,
            }
        }
        Err(last_err)
    }

    /// Sends one request and reads its response.
    fn request(&mut self, method: &str, path: &str, body: Option<&[u8]>) -> io::Result<Response> {
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\n", self.host);
        if let Some(body) = body {
            head.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        head.push_str("\r\n");
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(body.unwrap_or_default());
        self.reader.get_mut().write_all(&bytes)?;
        self.response()
    }

    fn line(&mut self) -> io::Result<String> {
        let mut line = String::new();
        let n = (&mut self.reader).take(MAX_LEN).read_line(&mut line)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the server closed the connection",
            ));
        }
        if !line.ends_with("\r\n") {
            return Err(invalid(format!("line without CRLF: {line:?}")));
        }
        line.truncate(line.len() - 2);
        Ok(line)
    }

    fn exact(&mut self, len: u64) -> io::Result<Vec<u8>> {
        if len > MAX_LEN {
            return Err(invalid(format!("body of {len} bytes is too large")));
        }
        let mut buf = vec![0; len as usize];
        self.reader.read_exact(&mut buf)?;
        Ok(buf)
    }

    fn response(&mut self) -> io::Result<Response> {
        let status_line = self.line()?;
        let mut parts = status_line.splitn(3, ' ');
        let (Some(version), Some(code)) = (parts.next(), parts.next()) else {
            return Err(invalid(format!("bad status line {status_line:?}")));
        };
        if !version.starts_with("HTTP/1.") {
            return Err(invalid(format!("bad status line {status_line:?}")));
        }
        let status: u16 = code
            .parse()
            .map_err(|_| invalid(format!("bad status line {status_line:?}")))?;
        let reason = parts.next().unwrap_or_default().to_owned();
        let mut headers = Vec::new();
        loop {
            let line = self.line()?;
            if line.is_empty() {
                break;
            }
            let (name, value) = line
                .split_once(':')
                .ok_or_else(|| invalid(format!("bad header line {line:?}")))?;
            headers.push((name.trim().to_owned(), value.trim().to_owned()));
        }
        let mut resp = Response {
            status,
            reason,
            headers,
            body: Vec::new(),
        };
        let chunked = resp
            .header("transfer-encoding")
            .is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
        if chunked {
            loop {
                let line = self.line()?;
                let size = line.split(';').next().unwrap_or_default().trim();
                let size = u64::from_str_radix(size, 16)
                    .map_err(|_| invalid(format!("bad chunk size {line:?}")))?;
                if size == 0 {
                    // Trailers, up to the blank line.
                    while !self.line()?.is_empty() {}
                    break;
                }
                if resp.body.len() as u64 + size > MAX_LEN {
                    return Err(invalid("chunked body is too large"));
                }
                let chunk = self.exact(size)?;
                resp.body.extend_from_slice(&chunk);
                if !self.line()?.is_empty() {
                    return Err(invalid("chunk not followed by CRLF"));
                }
            }
        } else if let Some(len) = resp.header("content-length") {
            let len: u64 = len
                .parse()
                .map_err(|_| invalid(format!("bad Content-Length {len:?}")))?;
            resp.body = self.exact(len)?;
        } else if status >= 200 && status != 204 && status != 304 {
            // No framing: the body runs to the close.
            (&mut self.reader)
                .take(MAX_LEN)
                .read_to_end(&mut resp.body)?;
        }
        Ok(resp)
    }
}

/// Sends one request, prints the reply, and insists on `200` and a keep-alive connection.
fn exchange(conn: &mut Connection, method: &str, body: Option<&str>) -> Result<String, String> {
    let resp = conn
        .request(method, "/adder", body.map(str::as_bytes))
        .map_err(|e| format!("{method} /adder: {e}"))?;
    match body {
        Some(body) => println!("{method} /adder {body} -> {resp}"),
        None => println!("{method} /adder -> {resp}"),
    }
    if resp.status != 200 {
        return Err(format!("{method} /adder answered {resp}"));
    }
    if resp
        .header("connection")
        .is_some_and(|v| v.eq_ignore_ascii_case("close"))
    {
        return Err(format!("{method} /adder: the server closes the connection"));
    }
    Ok(resp.text())
}

fn run(host: &str, port: u16, n: u64) -> Result<(), String> {
    let mut conn = Connection::open(host, port).map_err(|e| format!("connecting: {e}"))?;
    println!("Reset the accumulator to 0");
    exchange(&mut conn, "PUT", Some("0"))?;
    println!("Summing numbers from 1 to {n}");
    for i in 1..=n {
        exchange(&mut conn, "POST", Some(&i.to_string()))?;
    }
    let result = exchange(&mut conn, "GET", None)?;
    println!("Result: {result}");
    let expected = u128::from(n) * (u128::from(n) + 1) / 2;
    if result.trim() != expected.to_string() {
        return Err(format!("expected {expected}, received {result:?}"));
    }
    Ok(())
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [host, port, n] = args.as_slice() else {
        eprintln!("usage: adder <IP> <port> <N>");
        process::exit(2);
    };
    let (Ok(port), Ok(n)) = (port.parse::<u16>(), n.parse::<u64>()) else {
        eprintln!("usage: adder <IP> <port> <N> (port 0-65535, N a non-negative integer)");
        process::exit(2);
    };
    if let Err(msg) = run(host, port, n) {
        eprintln!("Fail: {msg}");
        process::exit(1);
    }
    println!("OK");
}
