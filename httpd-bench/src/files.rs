//! The static files benchmark: httpd's `StaticFiles` against nginx (`sendfile on`), each
//! alone on the server core, the load on the other: 1 KiB files at c=50 (wrk), one client
//! downloading a 64 MiB file over and over, and the peak RSS while 20 clients download a
//! 256 MiB file at once.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::path::PathBuf;
use std::thread;
use std::time::{Duration, Instant};

use crate::child::ChildGuard;
use crate::harness::build_servers;
use crate::load::{Wrk, LOAD_CORE};
use crate::measure::{self, SERVER_CORE};
use crate::servers::nginx;

const SMALL: usize = 1024;
const LARGE: usize = 64 << 20;
const HUGE: usize = 256 << 20;
const HUGE_CLIENTS: usize = 20;

/// One server's figures.
#[derive(Debug, Default)]
struct Figures {
    small_rps: f64,
    small_cpu_us_per_req: f64,
    small_errors: u64,
    large_mb_s: f64,
    large_cpu_us_per_mb: f64,
    huge_peak_rss: u64,
    huge_idle_rss: u64,
    huge_mb_s: f64,
}

/// A scratch directory with the files, removed on drop.
struct Files(PathBuf);

impl Files {
    fn create() -> io::Result<Files> {
        let dir = std::env::temp_dir().join(format!("httpd-bench-files-{}", std::process::id()));
        fs::create_dir_all(dir.join("www"))?;
        let files = Files(dir);
        for (name, len) in [
            ("small.bin", SMALL),
            ("large.bin", LARGE),
            ("huge.bin", HUGE),
        ] {
            let mut f = File::create(files.www().join(name))?;
            let block: Vec<u8> = (0..1 << 20)
                .map(|i: usize| (i * 131 + i / 977) as u8)
                .collect();
            let mut left = len;
            while left > 0 {
                let n = left.min(block.len());
                f.write_all(&block[..n])?;
                left -= n;
            }
        }
        Ok(files)
    }

    fn www(&self) -> PathBuf {
        self.0.join("www")
    }
}

impl Drop for Files {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Peer {
    Httpd,
    Nginx,
}

impl Peer {
    fn name(self) -> &'static str {
        match self {
            Peer::Httpd => "httpd",
            Peer::Nginx => "nginx",
        }
    }
}

struct Setup {
    bins: PathBuf,
    files: Files,
    wrk: Wrk,
    clock_ticks: u64,
}

impl Setup {
    /// Starts `peer` on the server core serving the files under `/files/`.
    fn start(&self, peer: Peer) -> io::Result<(ChildGuard, u16)> {
        let port = measure::free_port()?;
        let mut cmd = match peer {
            Peer::Httpd => {
                let mut cmd = measure::server_command(&self.bins, "bench-httpd", port);
                cmd.env("HTTPD_BENCH_FILES", self.files.www());
                cmd
            }
            Peer::Nginx => {
                let dir = self.files.0.join("nginx");
                let nginx = nginx::command_with_files(&dir, port, Some(&self.files.www()))?;
                measure::pinned_server(&nginx)
            }
        };
        let server = ChildGuard::spawn_server(&mut cmd, port)?;
        // The files must be there, whole.
        let mut c = connect(port)?;
        let got = download(&mut c, "/files/small.bin", &mut vec![0; 64 * 1024])?;
        if got != SMALL as u64 {
            return Err(io::Error::other(format!(
                "{}: small.bin is {got} bytes",
                peer.name()
            )));
        }
        Ok((server, port))
    }

    fn measure(&self, peer: Peer, secs: u64) -> io::Result<Figures> {
        let mut fig = Figures::default();

        // Peak RSS first, on a fresh server: 20 clients download the 256 MiB file at once.
        let (server, port) = self.start(peer)?;
        let pid = server.pid();
        fig.huge_idle_rss = measure::rss_bytes(pid)?;
        let started = Instant::now();
        let clients: Vec<_> = (0..HUGE_CLIENTS)
            .map(|_| {
                thread::spawn(move || -> io::Result<u64> {
                    let mut c = connect(port)?;
                    download(&mut c, "/files/huge.bin", &mut vec![0; 256 * 1024])
                })
            })
            .collect();
        let mut total = 0;
        for c in clients {
            let got = c
                .join()
                .map_err(|_| io::Error::other("client panicked"))??;
            if got != HUGE as u64 {
                return Err(io::Error::other(format!("huge.bin came as {got} bytes")));
            }
            total += got;
        }
        fig.huge_mb_s = total as f64 / 1e6 / started.elapsed().as_secs_f64();
        fig.huge_peak_rss = measure::peak_rss_bytes(pid)?;
        drop(server);

        // Small files at c=50, after a second of warm-up.
        let (server, port) = self.start(peer)?;
        let pid = server.pid();
        let url = format!("http://127.0.0.1:{port}/files/small.bin");
        Wrk::finish(self.wrk.start_url(&url, 50, 1, None)?)?;
        let before = measure::cpu_ticks(pid)?;
        let report = Wrk::finish(self.wrk.start_url(&url, 50, secs, None)?)?;
        let ticks = measure::cpu_ticks(pid)?.saturating_sub(before);
        fig.small_rps = report.rps;
        fig.small_cpu_us_per_req =
            ticks as f64 / self.clock_ticks as f64 * 1e6 / report.requests.max(1) as f64;
        fig.small_errors = report.socket_errors + report.non_2xx;

        // One client downloading the 64 MiB file again and again.
        let mut c = connect(port)?;
        let mut buf = vec![0; 256 * 1024];
        let before = measure::cpu_ticks(pid)?;
        let started = Instant::now();
        let mut bytes = 0u64;
        while started.elapsed() < Duration::from_secs(secs) {
            bytes += download(&mut c, "/files/large.bin", &mut buf)?;
        }
        let elapsed = started.elapsed().as_secs_f64();
        let ticks = measure::cpu_ticks(pid)?.saturating_sub(before);
        let mb = bytes as f64 / 1e6;
        fig.large_mb_s = mb / elapsed;
        fig.large_cpu_us_per_mb = ticks as f64 / self.clock_ticks as f64 * 1e6 / mb;
        drop(server);
        Ok(fig)
    }
}

fn connect(port: u16) -> io::Result<TcpStream> {
    let s = TcpStream::connect((Ipv4Addr::LOCALHOST, port))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    s.set_nodelay(true)?;
    Ok(s)
}

/// GETs `path` on a keep-alive connection and reads the body (by `Content-Length`) into
/// `buf` piece by piece, discarding it. Returns the body's length.
fn download(c: &mut TcpStream, path: &str, buf: &mut [u8]) -> io::Result<u64> {
    write!(c, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")?;
    let mut head = Vec::new();
    let body_start = loop {
        let n = c.read(buf)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        head.extend_from_slice(&buf[..n]);
        if let Some(i) = head.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let text = String::from_utf8_lossy(&head[..body_start]).to_ascii_lowercase();
    if !text.starts_with("http/1.1 200") {
        return Err(io::Error::other(format!(
            "{path}: {}",
            text.lines().next().unwrap_or("")
        )));
    }
    let len: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| io::Error::other("no Content-Length"))?;
    let mut got = (head.len() - body_start) as u64;
    while got < len {
        let want = buf.len().min((len - got) as usize);
        let n = c.read(&mut buf[..want])?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        got += n as u64;
    }
    Ok(len)
}

fn ratio(a: f64, b: f64) -> String {
    if b > 0.0 {
        format!("{:.2}", a / b)
    } else {
        "-".to_owned()
    }
}

/// Runs the files benchmark (`secs` per measured run) and returns the report.
pub(crate) fn run(secs: u64) -> io::Result<String> {
    if let Err(e) = measure::pin_self(LOAD_CORE) {
        eprintln!("could not pin the harness to core {LOAD_CORE}: {e}");
    }
    measure::raise_nofile(4096)?;
    measure::find_or_install("taskset", "util-linux")?;
    measure::find_or_install("nginx", "nginx")?;
    let bins = build_servers()?;
    eprintln!("writing the files (1 KiB, 64 MiB, 256 MiB) ...");
    let files = Files::create()?;
    let wrk = Wrk::new(&files.0)?;
    let setup = Setup {
        bins,
        files,
        wrk,
        clock_ticks: measure::clock_ticks_per_sec(),
    };
    let mut out = String::from("| | httpd | nginx | httpd / nginx |\n|---|---:|---:|---:|\n");
    let mut figs = Vec::new();
    for peer in [Peer::Httpd, Peer::Nginx] {
        eprintln!(
            "measuring {} (load average {}) ...",
            peer.name(),
            measure::loadavg()
        );
        figs.push(setup.measure(peer, secs)?);
    }
    let (h, n) = (&figs[0], &figs[1]);
    let rows: [(&str, f64, f64, usize); 7] = [
        ("1 KiB file, c=50: req/s", h.small_rps, n.small_rps, 0),
        (
            "1 KiB file, c=50: server CPU us/req",
            h.small_cpu_us_per_req,
            n.small_cpu_us_per_req,
            2,
        ),
        (
            "64 MiB download, 1 client: MB/s",
            h.large_mb_s,
            n.large_mb_s,
            0,
        ),
        (
            "64 MiB download: server CPU us/MB",
            h.large_cpu_us_per_mb,
            n.large_cpu_us_per_mb,
            1,
        ),
        ("256 MiB x 20 clients: MB/s", h.huge_mb_s, n.huge_mb_s, 0),
        (
            "256 MiB x 20 clients: peak RSS KiB",
            h.huge_peak_rss as f64 / 1024.0,
            n.huge_peak_rss as f64 / 1024.0,
            0,
        ),
        (
            "idle RSS KiB (before)",
            h.huge_idle_rss as f64 / 1024.0,
            n.huge_idle_rss as f64 / 1024.0,
            0,
        ),
    ];
    for (name, a, b, digits) in rows {
        out.push_str(&format!(
            "| {name} | {a:.digits$} | {b:.digits$} | {} |\n",
            ratio(a, b)
        ));
    }
    out.push_str(&format!(
        "\nwrk errors at c=50: httpd {}, nginx {}; {secs} s per run; server on core {SERVER_CORE}, \
         load on core {LOAD_CORE}\n",
        h.small_errors, n.small_errors
    ));
    Ok(out)
}
