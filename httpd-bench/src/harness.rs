//! The runs: setup (tools, pinning, descriptor limit, server binaries), then rounds in which
//! each server in turn is started on the server core, measured idle and with idle
//! connections, warmed up and loaded, then killed; and the soak.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::child::ChildGuard;
use crate::load::{Load, Wrk, LOAD_CORE};
use crate::measure::{self, SERVER_CORE};
use crate::report::{MemSample, Results, RunSample, ServerResult};
use crate::servers::{nginx, Kind};

/// What to run.
#[derive(Clone, Debug)]
pub(crate) struct Plan {
    /// Rounds over all servers; each round starts each server afresh.
    pub(crate) rounds: usize,
    /// Seconds per measured run.
    pub(crate) secs: u64,
    /// Seconds of c=50 load before the measured runs of each server start.
    pub(crate) warmup_secs: u64,
    /// The loads, in order.
    pub(crate) loads: Vec<Load>,
    /// The servers, in report order (the run order rotates by round).
    pub(crate) servers: Vec<Kind>,
    /// Idle keep-alive connections held for the memory reading.
    pub(crate) idle_conns: usize,
}

impl Plan {
    /// The full benchmark: 2 rounds, 10 s runs, every load, every server (~10 minutes).
    pub(crate) fn all() -> Plan {
        Plan {
            rounds: 2,
            secs: 10,
            warmup_secs: 2,
            loads: Load::ALL.to_vec(),
            servers: Kind::ALL.to_vec(),
            idle_conns: 1000,
        }
    }

    /// For iterating: 1 round, 3 s runs, c=50 and pipelined only.
    pub(crate) fn quick() -> Plan {
        Plan {
            rounds: 1,
            secs: 3,
            warmup_secs: 1,
            loads: vec![Load::C50, Load::Pipelined],
            ..Plan::all()
        }
    }
}

/// A scratch directory removed on drop.
#[derive(Debug)]
struct WorkDir(PathBuf);

impl WorkDir {
    fn new() -> io::Result<WorkDir> {
        let dir = std::env::temp_dir().join(format!("httpd-bench-{}", std::process::id()));
        fs::create_dir_all(&dir)?;
        Ok(WorkDir(dir))
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Everything the runs need.
struct Bench {
    /// Restores the session's scheduling priority when the runs are over.
    _priority: Option<measure::SessionPriority>,
    work: WorkDir,
    bins: PathBuf,
    wrk: Wrk,
    nginx: Option<PathBuf>,
    clock_ticks: u64,
    notes: Vec<String>,
}

/// Builds the bench server binaries (same profile as this one) and returns their folder.
pub(crate) fn build_servers() -> io::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let bins = exe
        .parent()
        .ok_or_else(|| io::Error::other("current_exe has no folder"))?
        .to_path_buf();
    if let Some(cargo) = std::env::var_os("CARGO") {
        eprintln!("building the bench servers ...");
        let mut cmd = Command::new(cargo);
        cmd.args(["build", "-q", "-p", "httpd-bench", "--bins"])
            .current_dir(env!("CARGO_MANIFEST_DIR"));
        if !cfg!(debug_assertions) {
            cmd.arg("--release");
        }
        let status = cmd.status()?;
        if !status.success() {
            return Err(io::Error::other(format!("cargo build: {status}")));
        }
    }
    for kind in Kind::ALL {
        if let Some(bin) = kind.binary() {
            if !bins.join(bin).is_file() {
                return Err(io::Error::new(
                    io::ErrorKind::NotFound,
                    format!(
                        "{} missing: run through `cargo run --release -p httpd-bench`",
                        bins.join(bin).display()
                    ),
                ));
            }
        }
    }
    Ok(bins)
}

fn setup(plan: &Plan) -> io::Result<Bench> {
    let mut notes = Vec::new();
    if cfg!(debug_assertions) {
        notes.push("DEBUG BUILD: figures are meaningless; use --release".to_owned());
    }
    let cores = thread::available_parallelism().map_or(1, |n| n.get());
    if cores < 2 {
        notes.push(format!(
            "only {cores} core: server and load share it, pinning is moot"
        ));
    }
    if let Err(e) = measure::pin_self(LOAD_CORE) {
        notes.push(format!(
            "could not pin the harness to core {LOAD_CORE}: {e}"
        ));
    }
    let priority = match measure::prioritise_session() {
        Ok(guard) => guard,
        Err(e) => {
            notes.push(format!(
                "could not raise this session's scheduling group (other sessions' work shares \
                 the cores equally): {e}"
            ));
            None
        }
    };
    let want = (plan.idle_conns + 1000) as u64;
    let nofile = measure::raise_nofile(want)?;
    if nofile < want {
        notes.push(format!("RLIMIT_NOFILE is only {nofile} (wanted {want})"));
    }
    measure::find_or_install("taskset", "util-linux")?;
    measure::find_or_install("nice", "coreutils")?;
    measure::find_or_install("strip", "binutils")?;
    let work = WorkDir::new()?;
    let wrk = Wrk::new(&work.0)?;
    let nginx = if plan.servers.contains(&Kind::Nginx) {
        match measure::find_or_install("nginx", "nginx") {
            Ok(path) => Some(path),
            Err(e) => {
                notes.push(format!("nginx skipped: {e}"));
                None
            }
        }
    } else {
        None
    };
    let bins = build_servers()?;
    notes.push(httpd_source());
    Ok(Bench {
        _priority: priority,
        bins,
        work,
        wrk,
        nginx,
        clock_ticks: measure::clock_ticks_per_sec(),
        notes,
    })
}

/// Which httpd was measured: the commit, and whether httpd/ had uncommitted changes.
fn httpd_source() -> String {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let git = |args: &[&str]| {
        Command::new("git")
            .arg("-C")
            .arg(&repo)
            .args(args)
            .stderr(Stdio::null())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    match git(&["rev-parse", "--short", "HEAD"]) {
        None => "httpd source: not a git checkout".to_owned(),
        Some(head) => {
            let dirty =
                git(&["status", "--porcelain", "--", "httpd"]).map_or(0, |s| s.lines().count());
            if dirty == 0 {
                format!("httpd source: commit {head}, clean")
            } else {
                format!("httpd source: commit {head} plus uncommitted changes to {dirty} file(s) in httpd/")
            }
        }
    }
}

/// The tail of a server's log, for error messages.
fn log_tail(path: &Path) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let tail: Vec<&str> = text.lines().rev().take(5).collect();
    tail.into_iter().rev().collect::<Vec<_>>().join(" / ")
}

impl Bench {
    /// Starts `kind` on the server core, on a fresh port, and waits until it answers.
    fn start(&self, kind: Kind) -> io::Result<(ChildGuard, u16)> {
        let port = measure::free_port()?;
        let mut cmd = match kind.binary() {
            Some(bin) => measure::server_command(&self.bins, bin, port),
            None => measure::pinned_server(&nginx::command(&self.work.0.join("nginx"), port)?),
        };
        let log = self.work.0.join(format!("{}.log", kind.name()));
        cmd.stdin(Stdio::null())
            .stdout(File::create(&log)?)
            .stderr(File::create(&log)?);
        let mut server = ChildGuard::spawn(&mut cmd)?;
        measure::wait_ready(port, 250, || {
            server.try_wait().map_or(true, |status| status.is_some())
        })
        .map_err(|e| io::Error::new(e.kind(), format!("{e}; log: {}", log_tail(&log))))?;
        Ok((server, port))
    }

    /// Memory idle and with idle connections, on a server that has answered one request.
    fn measure_memory(&self, pid: u32, port: u16, n: usize) -> io::Result<MemSample> {
        thread::sleep(Duration::from_millis(200));
        let idle = measure::rss_bytes(pid)?;
        let conns = measure::open_idle(port, n)?;
        thread::sleep(Duration::from_millis(500));
        let with_conns = measure::rss_bytes(pid)?;
        drop(conns);
        // Let the server see the closes before the load starts.
        thread::sleep(Duration::from_millis(300));
        Ok(MemSample {
            idle,
            with_conns,
            conns: n,
        })
    }

    /// One measured run: wrk's figures, the server's CPU time over it, and how much CPU
    /// time other processes took from the server and from wrk.
    fn measure_run(&self, pid: u32, port: u16, load: Load, secs: u64) -> io::Result<RunSample> {
        let cpu_before = measure::cpu_ticks(pid)?;
        let server_core_before = measure::core_ticks(SERVER_CORE)?;
        let load_core_before = measure::core_ticks(LOAD_CORE)?;
        let delay_before = measure::run_delay_ns(pid)?;
        let started = Instant::now();
        let mut wrk = self.wrk.start(port, load, secs)?;
        let wrk_pid = wrk.pid();
        let wrk_delay_before = measure::run_delay_ns(wrk_pid).unwrap_or(0);
        let mut wrk_delay = wrk_delay_before;
        // wrk's counters vanish when it exits: keep the last reading.
        while wrk.try_wait()?.is_none() {
            if let Ok(d) = measure::run_delay_ns(wrk_pid) {
                wrk_delay = d;
            }
            thread::sleep(Duration::from_millis(50));
        }
        let report = Wrk::finish(wrk)?;
        let wall_ns = started.elapsed().as_nanos().max(1) as f64;
        let cpu_after = measure::cpu_ticks(pid)?;
        let server_core_after = measure::core_ticks(SERVER_CORE)?;
        let load_core_after = measure::core_ticks(LOAD_CORE)?;
        let delay_after = measure::run_delay_ns(pid)?;
        let server_ticks = cpu_after.saturating_sub(cpu_before);
        let share = |before: measure::CoreTicks, after: measure::CoreTicks, ticks: u64| {
            ticks as f64 / after.total.saturating_sub(before.total).max(1) as f64
        };
        let core_busy = server_core_after
            .busy
            .saturating_sub(server_core_before.busy);
        let others_on_core = share(
            server_core_before,
            server_core_after,
            core_busy.saturating_sub(server_ticks),
        );
        let steal = |before: measure::CoreTicks, after: measure::CoreTicks| {
            share(before, after, after.steal.saturating_sub(before.steal))
        };
        // A multi-threaded server also waits for its own threads: count only what others took.
        let server_waited = delay_after.saturating_sub(delay_before) as f64 / wall_ns;
        Ok(RunSample {
            rps: report.rps,
            // wrk's percentiles are wrong under pipelining: its coordinated-omission
            // correction assumes one response per round trip per connection (p99 comes out 0).
            p50_us: if load == Load::Pipelined {
                f64::NAN
            } else {
                report.p50_us
            },
            p99_us: if load == Load::Pipelined {
                f64::NAN
            } else {
                report.p99_us
            },
            cpu_us_per_req: server_ticks as f64 / self.clock_ticks as f64 * 1e6
                / report.requests.max(1) as f64,
            errors: report.socket_errors + report.non_2xx,
            server_stolen: server_waited.min(others_on_core)
                + steal(server_core_before, server_core_after),
            load_stolen: wrk_delay.saturating_sub(wrk_delay_before) as f64 / wall_ns
                + steal(load_core_before, load_core_after),
        })
    }

    /// One server, one round: start, memory, warm-up, every load, kill.
    fn round(
        &self,
        plan: &Plan,
        kind: Kind,
        result: &mut ServerResult,
        notes: &mut Vec<String>,
        round: usize,
    ) -> io::Result<()> {
        let (server, port) = self.start(kind)?;
        let pid = server.pid();
        let mem = self.measure_memory(pid, port, plan.idle_conns)?;
        eprintln!(
            "  {:<13} rss idle {} KiB, with {} conns {} KiB ({:.0} B/conn)",
            kind.name(),
            mem.idle / 1024,
            mem.conns,
            mem.with_conns / 1024,
            mem.bytes_per_conn()
        );
        result.mem.push(mem);
        self.wrk.run(port, Load::C50, plan.warmup_secs)?;
        for &load in &plan.loads {
            let sample = self.measure_run(pid, port, load, plan.secs)?;
            let latency = if sample.p50_us.is_nan() {
                String::new()
            } else {
                format!(
                    "  p50 {:>7.0} us  p99 {:>7.0} us",
                    sample.p50_us, sample.p99_us
                )
            };
            let noise = if sample.server_stolen.max(sample.load_stolen) > 0.01 {
                format!(
                    "  (lost to other processes: server {:.1}%, wrk {:.1}%)",
                    sample.server_stolen * 100.0,
                    sample.load_stolen * 100.0
                )
            } else {
                String::new()
            };
            eprintln!(
                "  {:<13} {:<18} {:>9.0} req/s{latency}  cpu {:>5.2} us/req{noise}",
                kind.name(),
                load.label(),
                sample.rps,
                sample.cpu_us_per_req,
            );
            if sample.errors > 0 {
                notes.push(format!(
                    "{} {} round {round}: {} socket errors or non-2xx responses",
                    kind.name(),
                    load.label(),
                    sample.errors
                ));
            }
            if sample.server_stolen.max(sample.load_stolen) > 0.03 {
                notes.push(format!(
                    "{} {} round {round}: other processes took {:.0}% of the server's time and \
                     {:.0}% of wrk's",
                    kind.name(),
                    load.label(),
                    sample.server_stolen * 100.0,
                    sample.load_stolen * 100.0
                ));
            }
            result.runs.entry(load).or_default().push(sample);
        }
        drop(server);
        Ok(())
    }
}

/// Runs `plan` and returns the results.
pub(crate) fn run(plan: &Plan) -> io::Result<Results> {
    let started = Instant::now();
    let bench = setup(plan)?;
    let mut notes = bench.notes.clone();
    let servers: Vec<Kind> = plan
        .servers
        .iter()
        .copied()
        .filter(|&k| k != Kind::Nginx || bench.nginx.is_some())
        .collect();
    let mut results: Vec<ServerResult> = servers.iter().map(|&k| ServerResult::new(k)).collect();
    notes.push(format!("load average at start: {}", measure::loadavg()));
    for round in 1..=plan.rounds {
        eprintln!(
            "round {round}/{} ({} s so far, load average {})",
            plan.rounds,
            started.elapsed().as_secs(),
            measure::loadavg()
        );
        // Rotate the order each round, so that drift does not always hit the same server.
        let mut order: Vec<usize> = (0..servers.len()).collect();
        order.rotate_left((round - 1) % servers.len().max(1));
        for i in order {
            let kind = servers[i];
            if let Err(e) = bench.round(plan, kind, &mut results[i], &mut notes, round) {
                eprintln!("  {}: {e}", kind.name());
                notes.push(format!("{} round {round} failed: {e}", kind.name()));
            }
        }
    }
    for result in &mut results {
        let binary = match result.kind.binary() {
            Some(bin) => bench.bins.join(bin),
            None => match &bench.nginx {
                Some(path) => path.clone(),
                None => continue,
            },
        };
        match measure::stripped_size(&binary, &bench.work.0) {
            Ok(size) => result.size = Some(size),
            Err(e) => notes.push(format!("size of {}: {e}", binary.display())),
        }
    }
    notes.push(
        "stripped binary: each server's own bench binary (a hello server and nothing else; \
         for httpd, `bench-httpd`); nginx: Debian's /usr/sbin/nginx; all dynamically linked \
         against glibc"
            .to_owned(),
    );
    notes.push(format!(
        "load average at end: {}; took {} s",
        measure::loadavg(),
        started.elapsed().as_secs()
    ));
    Ok(Results {
        servers: results,
        loads: plan.loads.clone(),
        rounds: plan.rounds,
        secs: plan.secs,
        idle_conns: plan.idle_conns,
        notes,
    })
}

/// c=50 against httpd for `secs` seconds, RSS sampled along the way; returns the report.
pub(crate) fn soak(secs: u64) -> io::Result<String> {
    let plan = Plan {
        servers: vec![Kind::Httpd],
        ..Plan::quick()
    };
    let bench = setup(&plan)?;
    let (server, port) = bench.start(Kind::Httpd)?;
    let pid = server.pid();
    bench.wrk.run(port, Load::C50, 5)?;
    let start_rss = measure::rss_bytes(pid)?;
    let cpu_before = measure::cpu_ticks(pid)?;
    let started = Instant::now();
    let mut run = bench.wrk.start(port, Load::C50, secs)?;
    let every = Duration::from_secs((secs / 10).max(1));
    let mut samples = vec![(0, start_rss)];
    let mut next = every;
    while run.try_wait()?.is_none() {
        thread::sleep(Duration::from_millis(100));
        if started.elapsed() >= next {
            let rss = measure::rss_bytes(pid)?;
            let t = started.elapsed().as_secs();
            eprintln!("  soak t={t:>4} s  rss {} KiB", rss / 1024);
            samples.push((t, rss));
            next += every;
        }
    }
    let report = Wrk::finish(run)?;
    let end_rss = measure::rss_bytes(pid)?;
    let cpu = measure::cpu_ticks(pid)?.saturating_sub(cpu_before);
    thread::sleep(Duration::from_secs(1));
    let settled_rss = measure::rss_bytes(pid)?;
    drop(server);
    let mut out = String::new();
    out.push_str(&format!(
        "## httpd soak: c=50 keep-alive for {secs} s (server on core {SERVER_CORE}, wrk on core {LOAD_CORE})\n\n"
    ));
    out.push_str(&format!(
        "requests {}, {:.0} req/s, p50 {:.0} us, p99 {:.0} us, cpu {:.2} us/req, socket errors {}, non-2xx {}\n\n",
        report.requests,
        report.rps,
        report.p50_us,
        report.p99_us,
        cpu as f64 / bench.clock_ticks as f64 * 1e6 / report.requests.max(1) as f64,
        report.socket_errors,
        report.non_2xx
    ));
    out.push_str("| t (s) | VmRSS (KiB) |\n|---:|---:|\n");
    for (t, rss) in &samples {
        out.push_str(&format!("| {t} | {} |\n", rss / 1024));
    }
    out.push_str(&format!(
        "| end | {} |\n| end + 1 s idle | {} |\n",
        end_rss / 1024,
        settled_rss / 1024
    ));
    let growth = end_rss as i64 - start_rss as i64;
    out.push_str(&format!(
        "\nsoak: rss_start_kib={} rss_end_kib={} growth_kib={} growth_pct={:.1}\n",
        start_rss / 1024,
        end_rss / 1024,
        growth / 1024,
        growth as f64 / start_rss as f64 * 100.0
    ));
    Ok(out)
}
