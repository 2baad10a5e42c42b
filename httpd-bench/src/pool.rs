//! The worker-pool benchmark: what handing requests to workers costs and buys. Each server
//! runs alone on the server core (its workers too), the load on the other:
//!
//! - `GET /plaintext` at c=50: the fast path, which stays on the server thread;
//! - `GET /work` at c=50, a handler computing for ~50 us, marked `blocking()`: with the pool
//!   off (`worker_threads(0)`, everything on the server thread, as ESP-IDF) and on (default);
//! - `POST /upload` of 1 MiB at c=20 (wrk), the body read with `recv` and counted: httpd (on
//!   a worker, bytes relayed by the loop), hyper (read through, counted) and nginx (`return
//!   200`, which reads and discards the body).

use std::io;
use std::path::{Path, PathBuf};

use crate::child::ChildGuard;
use crate::harness::build_servers;
use crate::load::{Wrk, LOAD_CORE};
use crate::measure::{self, SERVER_CORE};
use crate::servers::nginx;

const UPLOAD: usize = 1 << 20;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Server {
    /// httpd with this many workers (`None`: the default pool).
    Httpd(Option<usize>),
    Hyper,
    Nginx,
}

/// One measured run.
struct Run {
    rps: f64,
    cpu_us_per_req: f64,
    errors: u64,
    p99_ms: f64,
}

struct Setup {
    bins: PathBuf,
    dir: PathBuf,
    wrk: Wrk,
    upload_script: PathBuf,
    clock_ticks: u64,
}

impl Setup {
    fn start(&self, server: Server) -> io::Result<(ChildGuard, u16)> {
        let port = measure::free_port()?;
        let mut cmd = match server {
            Server::Httpd(workers) => {
                let mut cmd = measure::server_command(&self.bins, "bench-httpd", port);
                if let Some(n) = workers {
                    cmd.env("HTTPD_BENCH_WORKERS", n.to_string());
                }
                cmd
            }
            Server::Hyper => measure::server_command(&self.bins, "bench-hyper", port),
            Server::Nginx => {
                measure::pinned_server(&nginx::command(&self.dir.join("nginx"), port)?)
            }
        };
        Ok((ChildGuard::spawn_server(&mut cmd, port)?, port))
    }

    /// `secs` seconds against `path` on a fresh server, after one second of warm-up.
    fn run(
        &self,
        server: Server,
        path: &str,
        conns: usize,
        script: Option<&Path>,
        secs: u64,
    ) -> io::Result<Run> {
        let (child, port) = self.start(server)?;
        let pid = child.pid();
        let url = format!("http://127.0.0.1:{port}{path}");
        Wrk::finish(self.wrk.start_url(&url, conns, 1, script)?)?;
        let before = measure::cpu_ticks(pid)?;
        let report = Wrk::finish(self.wrk.start_url(&url, conns, secs, script)?)?;
        let ticks = measure::cpu_ticks(pid)?.saturating_sub(before);
        drop(child);
        Ok(Run {
            rps: report.rps,
            cpu_us_per_req: ticks as f64 / self.clock_ticks as f64 * 1e6
                / report.requests.max(1) as f64,
            errors: report.socket_errors + report.non_2xx,
            p99_ms: report.p99_us / 1000.0,
        })
    }
}

/// Runs the pool benchmark (`secs` per measured run) and returns the report.
pub(crate) fn run(secs: u64) -> io::Result<String> {
    if let Err(e) = measure::pin_self(LOAD_CORE) {
        eprintln!("could not pin the harness to core {LOAD_CORE}: {e}");
    }
    measure::raise_nofile(4096)?;
    measure::find_or_install("taskset", "util-linux")?;
    measure::find_or_install("nginx", "nginx")?;
    let bins = build_servers()?;
    let dir = std::env::temp_dir().join(format!("httpd-bench-pool-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let wrk = Wrk::new(&dir)?;
    let upload_script = dir.join("upload.lua");
    std::fs::write(
        &upload_script,
        format!(
            "wrk.method = \"POST\"\nwrk.body = string.rep(\"u\", {UPLOAD})\n\
             wrk.headers[\"Content-Type\"] = \"application/octet-stream\"\n"
        ),
    )?;
    let setup = Setup {
        bins,
        dir,
        wrk,
        upload_script,
        clock_ticks: measure::clock_ticks_per_sec(),
    };
    let result = report(&setup, secs);
    let _ = std::fs::remove_dir_all(&setup.dir);
    result
}

fn report(setup: &Setup, secs: u64) -> io::Result<String> {
    let mut out = String::from(
        "| row | server | req/s | server CPU us/req | p99 ms | errors |\n\
         |---|---|---:|---:|---:|---:|\n",
    );
    let mut line = |row: &str, name: &str, r: &Run| {
        out.push_str(&format!(
            "| {row} | {name} | {:.0} | {:.1} | {:.2} | {} |\n",
            r.rps, r.cpu_us_per_req, r.p99_ms, r.errors
        ));
    };
    eprintln!(
        "plaintext and work rows (load average {}) ...",
        measure::loadavg()
    );
    let plain = setup.run(Server::Httpd(None), "/plaintext", 50, None, secs)?;
    line("GET /plaintext c=50", "httpd (pool on)", &plain);
    let plain_off = setup.run(Server::Httpd(Some(0)), "/plaintext", 50, None, secs)?;
    line("GET /plaintext c=50", "httpd (pool off)", &plain_off);
    let off = setup.run(Server::Httpd(Some(0)), "/work", 50, None, secs)?;
    line("GET /work (50 us CPU) c=50", "httpd, pool off", &off);
    let on = setup.run(Server::Httpd(None), "/work", 50, None, secs)?;
    line("GET /work (50 us CPU) c=50", "httpd, pool on", &on);

    eprintln!("upload rows (load average {}) ...", measure::loadavg());
    let script = Some(setup.upload_script.as_path());
    let mut uploads = Vec::new();
    for (server, name) in [
        (Server::Httpd(None), "httpd"),
        (Server::Hyper, "hyper"),
        (Server::Nginx, "nginx"),
    ] {
        let r = setup.run(server, "/upload", 20, script, secs)?;
        line("POST 1 MiB c=20", name, &r);
        uploads.push((name, r));
    }
    out.push_str("\n| 1 MiB uploads, c=20 | MB/s | server CPU us/MB | MB/s vs httpd |\n|---|---:|---:|---:|\n");
    let httpd_mb_s = uploads[0].1.rps * UPLOAD as f64 / 1e6;
    for (name, r) in &uploads {
        let mb_s = r.rps * UPLOAD as f64 / 1e6;
        let cpu_per_mb = r.cpu_us_per_req / (UPLOAD as f64 / 1e6);
        out.push_str(&format!(
            "| {name} | {mb_s:.0} | {cpu_per_mb:.0} | {:.2} |\n",
            mb_s / httpd_mb_s.max(f64::MIN_POSITIVE)
        ));
    }
    out.push_str(&format!(
        "\n{secs} s per run after 1 s of warm-up; server (and its workers) on core \
         {SERVER_CORE}, wrk on core {LOAD_CORE}\n"
    ));
    out.push_str(&format!(
        "summary: pool_plaintext_rps_c50={:.0} pool_off_plaintext_rps_c50={:.0} \
         work_rps_pool_off={:.0} work_rps_pool_on={:.0} upload_mb_s_httpd={:.0} \
         upload_mb_s_hyper={:.0} upload_mb_s_nginx={:.0}\n",
        plain.rps,
        plain_off.rps,
        off.rps,
        on.rps,
        httpd_mb_s,
        uploads[1].1.rps * UPLOAD as f64 / 1e6,
        uploads[2].1.rps * UPLOAD as f64 / 1e6,
    ));
    Ok(out)
}
