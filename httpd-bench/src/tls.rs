//! The TLS section (`httpd-bench tls`): httpd (feature `tls`), hyper over tokio-rustls and
//! nginx, each alone on the server core with the same certificate (ECDSA P-256, made at run
//! time) and wrk (OpenSSL) on the load core. Per server: c=50 keep-alive requests/s and CPU per
//! request; new-connection handshakes/s (`Connection: close`, so each request is a full
//! handshake) and CPU per handshake; the time a new client's handshake and first request take
//! while 6 clients are stalled mid-handshake; and bytes of server memory per idle TLS
//! keep-alive connection (a rustls client opens them, one request each).

use std::fmt::Write as _;
use std::fs;
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

use crate::child::ChildGuard;
use crate::load::{Wrk, WrkReport};
use crate::measure::{self, SERVER_CORE};
use crate::servers::nginx;

/// One server's figures.
struct Row {
    name: &'static str,
    keepalive: WrkReport,
    keepalive_cpu_us: f64,
    handshakes: WrkReport,
    handshake_cpu_us: f64,
    idle_bytes: f64,
    suite: String,
    /// New connection, full handshake and one request while 6 clients are stalled
    /// mid-handshake: median and worst, in µs.
    stalled_us: (f64, f64),
}

/// Clients stalled mid-handshake (half a ClientHello each) during the latency reading.
const STALLED: usize = 6;
/// Sequential new connections timed during the latency reading.
const LATENCY_SAMPLES: usize = 200;

/// Half of a real ClientHello, what a stalled client sends before it stops.
fn half_hello(config: &Arc<ClientConfig>) -> io::Result<Vec<u8>> {
    let name = ServerName::try_from("localhost").map_err(io::Error::other)?;
    let mut conn = ClientConnection::new(Arc::clone(config), name).map_err(io::Error::other)?;
    let mut hello = Vec::new();
    while conn.wants_write() {
        conn.write_tls(&mut hello)?;
    }
    hello.truncate(hello.len() / 2);
    Ok(hello)
}

/// Median and worst time of a new connection's handshake and first request while
/// [`STALLED`] clients sit mid-handshake.
fn stalled_latency(port: u16, config: &Arc<ClientConfig>) -> io::Result<(f64, f64)> {
    let hello = half_hello(config)?;
    let mut stalled = Vec::with_capacity(STALLED);
    for _ in 0..STALLED {
        let mut s = TcpStream::connect(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))?;
        s.write_all(&hello)?;
        stalled.push(s);
    }
    let mut times = Vec::with_capacity(LATENCY_SAMPLES);
    for _ in 0..LATENCY_SAMPLES {
        let start = Instant::now();
        drop(open_one(port, config)?);
        times.push(start.elapsed().as_secs_f64() * 1e6);
    }
    drop(stalled);
    times.sort_by(f64::total_cmp);
    Ok((times[times.len() / 2], times[times.len() - 1]))
}

/// The certificate every server presents.
struct Material {
    cert: PathBuf,
    key: PathBuf,
    der: Vec<u8>,
}

fn material(dir: &Path) -> io::Result<Material> {
    let made = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])
        .map_err(io::Error::other)?;
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    fs::write(&cert, made.cert.pem())?;
    fs::write(&key, made.signing_key.serialize_pem())?;
    Ok(Material {
        cert,
        key,
        der: made.cert.der().to_vec(),
    })
}

fn client_config(m: &Material) -> io::Result<Arc<ClientConfig>> {
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from(m.der.clone()))
        .map_err(io::Error::other)?;
    let config =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(io::Error::other)?
            .with_root_certificates(roots)
            .with_no_client_auth();
    Ok(Arc::new(config))
}

type Tls = StreamOwned<ClientConnection, TcpStream>;

/// A TLS connection that has had one request answered; also the suite it negotiated.
fn open_one(port: u16, config: &Arc<ClientConfig>) -> io::Result<(Tls, String)> {
    let sock = TcpStream::connect(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))?;
    sock.set_read_timeout(Some(Duration::from_secs(5)))?;
    sock.set_nodelay(true)?;
    let name = ServerName::try_from("localhost").map_err(io::Error::other)?;
    let conn = ClientConnection::new(Arc::clone(config), name).map_err(io::Error::other)?;
    let mut tls = StreamOwned::new(conn, sock);
    tls.write_all(b"GET /plaintext HTTP/1.1\r\nHost: localhost\r\n\r\n")?;
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while !got.ends_with(b"Hello, World!") {
        let n = tls.read(&mut buf)?;
        if n == 0 || got.len() > 64 * 1024 {
            return Err(io::Error::other(format!(
                "bad answer: {:?}",
                String::from_utf8_lossy(&got)
            )));
        }
        got.extend_from_slice(&buf[..n]);
    }
    let suite = tls
        .conn
        .negotiated_cipher_suite()
        .and_then(|s| s.suite().as_str())
        .unwrap_or("?")
        .to_owned();
    Ok((tls, suite))
}

/// Waits (bounded) until the server answers over TLS.
fn wait_ready(port: u16, config: &Arc<ClientConfig>, server: &mut ChildGuard) -> io::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match open_one(port, config) {
            Ok(_) => return Ok(()),
            Err(e) if Instant::now() > deadline => return Err(e),
            Err(_) => {}
        }
        if server.try_wait()?.is_some() {
            return Err(io::Error::other("server exited"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn cpu_us_per(
    pid: u32,
    ticks: u64,
    f: impl FnOnce() -> io::Result<WrkReport>,
) -> io::Result<(WrkReport, f64)> {
    let before = measure::cpu_ticks(pid)?;
    let report = f()?;
    let after = measure::cpu_ticks(pid)?;
    let secs = (after - before) as f64 / ticks as f64;
    let per = secs * 1e6 / report.requests.max(1) as f64;
    Ok((report, per))
}

fn measure_one(
    name: &'static str,
    mut cmd: std::process::Command,
    port: u16,
    secs: u64,
    idle: usize,
    wrk: &Wrk,
    config: &Arc<ClientConfig>,
) -> io::Result<Row> {
    eprintln!("tls: {name} ...");
    let ticks = measure::clock_ticks_per_sec();
    let mut server = ChildGuard::spawn(cmd.stdout(std::process::Stdio::null()))?;
    wait_ready(port, config, &mut server)?;
    let pid = server.pid();
    let (_, suite) = open_one(port, config)?;
    wrk.run_tls(port, 50, 1, false)?; // warm-up
    let (keepalive, keepalive_cpu_us) =
        cpu_us_per(pid, ticks, || wrk.run_tls(port, 50, secs, false))?;
    let (handshakes, handshake_cpu_us) =
        cpu_us_per(pid, ticks, || wrk.run_tls(port, 50, secs, true))?;
    let stalled_us = stalled_latency(port, config)?;
    // Let closed connections go before the memory reading.
    std::thread::sleep(Duration::from_millis(500));
    let before = measure::rss_bytes(pid)?;
    let mut conns = Vec::with_capacity(idle);
    for _ in 0..idle {
        conns.push(open_one(port, config)?.0);
    }
    std::thread::sleep(Duration::from_millis(200));
    let after = measure::rss_bytes(pid)?;
    drop(conns);
    drop(server);
    Ok(Row {
        name,
        keepalive,
        keepalive_cpu_us,
        handshakes,
        handshake_cpu_us,
        idle_bytes: after.saturating_sub(before) as f64 / idle as f64,
        suite,
        stalled_us,
    })
}

/// Runs the TLS section and returns its report (markdown).
pub(crate) fn run(secs: u64, idle: usize) -> io::Result<String> {
    let bins = crate::harness::build_servers()?;
    let dir = std::env::temp_dir().join(format!("httpd-bench-tls-{}", std::process::id()));
    fs::create_dir_all(&dir)?;
    let result = run_in(&bins, &dir, secs, idle);
    let _ = fs::remove_dir_all(&dir);
    result
}

fn run_in(bins: &Path, dir: &Path, secs: u64, idle: usize) -> io::Result<String> {
    let _ = measure::raise_nofile(8192);
    let _ = measure::pin_self(crate::load::LOAD_CORE);
    let m = material(dir)?;
    let config = client_config(&m)?;
    let wrk = Wrk::new(dir)?;
    let tls_args = |cmd: &mut std::process::Command, port: u16| {
        cmd.args(["--port", &port.to_string(), "--cert"])
            .arg(&m.cert)
            .arg("--key")
            .arg(&m.key);
    };
    let mut rows = Vec::new();
    for (name, bin) in [
        ("httpd", "bench-httpd-tls"),
        ("hyper+tokio-rustls", "bench-hyper-tls"),
    ] {
        let port = measure::free_port()?;
        let mut cmd = measure::pinned(SERVER_CORE, bins.join(bin));
        tls_args(&mut cmd, port);
        rows.push(measure_one(name, cmd, port, secs, idle, &wrk, &config)?);
    }
    let mut notes = Vec::new();
    if nginx::binary().is_some() {
        let port = measure::free_port()?;
        let ndir = dir.join("nginx");
        let plain = nginx::tls_command(&ndir, port, &m.cert, &m.key)?;
        let mut cmd = measure::pinned(SERVER_CORE, plain.get_program());
        cmd.args(plain.get_args());
        rows.push(measure_one("nginx", cmd, port, secs, idle, &wrk, &config)?);
    } else {
        notes.push("nginx not installed: not measured".to_owned());
    }
    Ok(render(&rows, secs, idle, &notes))
}

fn render(rows: &[Row], secs: u64, idle: usize, notes: &[String]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "## TLS ({secs} s runs, wrk -t1 on the load core, each server alone on the server core)\n"
    );
    let _ = writeln!(
        out,
        "| server | suite | c=50 keep-alive req/s | CPU µs/req | handshakes/s (c=50, Connection: close) | CPU µs/handshake | bytes per idle TLS conn ({idle}) | new conn + handshake + GET with {STALLED} stalled mid-handshake, median / max µs ({LATENCY_SAMPLES}) |"
    );
    let _ = writeln!(out, "|---|---|---:|---:|---:|---:|---:|---:|");
    for r in rows {
        let _ = writeln!(
            out,
            "| {} | {} | {:.0} | {:.1} | {:.0} | {:.0} | {:.0} | {:.0} / {:.0} |",
            r.name,
            r.suite,
            r.keepalive.rps,
            r.keepalive_cpu_us,
            r.handshakes.rps,
            r.handshake_cpu_us,
            r.idle_bytes,
            r.stalled_us.0,
            r.stalled_us.1
        );
        if r.keepalive.socket_errors + r.handshakes.socket_errors + r.keepalive.non_2xx > 0 {
            let _ = writeln!(
                out,
                "|  | errors: keep-alive {} socket / {} non-2xx; handshakes {} socket |  |  |  |  |  |  |",
                r.keepalive.socket_errors, r.keepalive.non_2xx, r.handshakes.socket_errors
            );
        }
    }
    for n in notes {
        let _ = writeln!(out, "\n- {n}");
    }
    out
}
