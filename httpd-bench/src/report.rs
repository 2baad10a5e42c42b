//! The results: medians across rounds, the markdown tables, and the one-line summary.

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};

use crate::load::Load;
use crate::servers::Kind;

/// One measured run of one load against one server.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct RunSample {
    /// Requests per second (wrk).
    pub(crate) rps: f64,
    /// Median latency, microseconds (wrk).
    pub(crate) p50_us: f64,
    /// 99th percentile latency, microseconds (wrk).
    pub(crate) p99_us: f64,
    /// The server's user + system CPU time over the run, per request, microseconds.
    pub(crate) cpu_us_per_req: f64,
    /// Socket errors and non-2xx responses wrk saw.
    pub(crate) errors: u64,
    /// Share of the run the server lost to other processes on its core (0..=1): the time
    /// its threads waited for the CPU, bounded by the core's time spent on others, plus the
    /// hypervisor's steal time on that core.
    pub(crate) server_stolen: f64,
    /// Share of the run wrk's threads waited for their CPU, plus steal time on its core.
    pub(crate) load_stolen: f64,
}

/// Resident memory of one server, idle and holding idle keep-alive connections.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct MemSample {
    /// VmRSS after one request, in bytes.
    pub(crate) idle: u64,
    /// VmRSS with `conns` idle keep-alive connections open, each having had a request.
    pub(crate) with_conns: u64,
    /// How many connections were held.
    pub(crate) conns: usize,
}

impl MemSample {
    /// (with - idle) / conns.
    pub(crate) fn bytes_per_conn(&self) -> f64 {
        (self.with_conns as f64 - self.idle as f64) / self.conns.max(1) as f64
    }
}

/// Everything measured for one server.
#[derive(Clone, Debug)]
pub(crate) struct ServerResult {
    /// Which server.
    pub(crate) kind: Kind,
    /// Runs per load, one per round.
    pub(crate) runs: BTreeMap<Load, Vec<RunSample>>,
    /// Memory readings, one per round.
    pub(crate) mem: Vec<MemSample>,
    /// Size of the stripped binary, bytes.
    pub(crate) size: Option<u64>,
}

impl ServerResult {
    /// A result with nothing measured yet.
    pub(crate) fn new(kind: Kind) -> ServerResult {
        ServerResult {
            kind,
            runs: BTreeMap::new(),
            mem: Vec::new(),
            size: None,
        }
    }

    /// The median across rounds of `metric` under `load`.
    pub(crate) fn run_median(&self, load: Load, metric: impl Fn(&RunSample) -> f64) -> Option<f64> {
        // NaN marks a figure not measured (wrk's latency under pipelining).
        median(
            self.runs
                .get(&load)?
                .iter()
                .map(metric)
                .filter(|v| !v.is_nan())
                .collect(),
        )
    }

    fn mem_median(&self, metric: impl Fn(&MemSample) -> f64) -> Option<f64> {
        median(self.mem.iter().map(metric).collect())
    }
}

/// The whole benchmark.
#[derive(Clone, Debug)]
pub(crate) struct Results {
    /// One entry per server measured (or tried), in column order.
    pub(crate) servers: Vec<ServerResult>,
    /// The loads run, in order.
    pub(crate) loads: Vec<Load>,
    /// Rounds run.
    pub(crate) rounds: usize,
    /// Seconds per measured run.
    pub(crate) secs: u64,
    /// Idle connections held for the memory reading.
    pub(crate) idle_conns: usize,
    /// Things the reader must know: skipped servers, errors, noise.
    pub(crate) notes: Vec<String>,
}

impl Results {
    fn get(&self, kind: Kind) -> Option<&ServerResult> {
        self.servers.iter().find(|s| s.kind == kind)
    }
}

/// The median of `values` (the mean of the middle two for an even count); `None` if empty.
pub(crate) fn median(mut values: Vec<f64>) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    })
}

/// The figures of the last line.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Summary {
    httpd_rps_c50: f64,
    ratio_vs_ceiling: f64,
    best_peer: Option<&'static str>,
    ratio_vs_best_peer: f64,
    cpu_us_per_req: f64,
    best_peer_cpu_us_per_req: f64,
    pipelined_ratio_vs_ceiling: f64,
    bytes_per_idle_conn: f64,
}

impl Summary {
    /// Computes the summary; figures that were not measured are NaN.
    pub(crate) fn of(results: &Results) -> Summary {
        let rps = |kind, load| {
            results
                .get(kind)
                .and_then(|s| s.run_median(load, |r| r.rps))
                .unwrap_or(f64::NAN)
        };
        let cpu = |kind| {
            results
                .get(kind)
                .and_then(|s| s.run_median(Load::C50, |r| r.cpu_us_per_req))
                .unwrap_or(f64::NAN)
        };
        let httpd = rps(Kind::Httpd, Load::C50);
        let best = results
            .servers
            .iter()
            .filter(|s| !matches!(s.kind, Kind::Httpd | Kind::Ceiling))
            .filter_map(|s| Some((s.kind, s.run_median(Load::C50, |r| r.rps)?)))
            .max_by(|a, b| a.1.total_cmp(&b.1));
        Summary {
            httpd_rps_c50: httpd,
            ratio_vs_ceiling: httpd / rps(Kind::Ceiling, Load::C50),
            best_peer: best.map(|(k, _)| k.name()),
            ratio_vs_best_peer: best.map_or(f64::NAN, |(_, r)| httpd / r),
            cpu_us_per_req: cpu(Kind::Httpd),
            best_peer_cpu_us_per_req: best.map_or(f64::NAN, |(k, _)| cpu(k)),
            pipelined_ratio_vs_ceiling: rps(Kind::Httpd, Load::Pipelined)
                / rps(Kind::Ceiling, Load::Pipelined),
            bytes_per_idle_conn: results
                .get(Kind::Httpd)
                .and_then(|s| s.mem_median(MemSample::bytes_per_conn))
                .unwrap_or(f64::NAN),
        }
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "summary: httpd_rps_c50={:.0} ratio_vs_ceiling={:.2} best_peer={} \
             ratio_vs_best_peer={:.2} cpu_us_per_req={:.1} best_peer_cpu_us_per_req={:.1} \
             pipelined_ratio_vs_ceiling={:.2} bytes_per_idle_conn={:.0}",
            self.httpd_rps_c50,
            self.ratio_vs_ceiling,
            self.best_peer.unwrap_or("none"),
            self.ratio_vs_best_peer,
            self.cpu_us_per_req,
            self.best_peer_cpu_us_per_req,
            self.pipelined_ratio_vs_ceiling,
            self.bytes_per_idle_conn,
        )
    }
}

/// An integer with thousands separators.
fn grouped(n: f64) -> String {
    let digits = format!("{:.0}", n.abs());
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0.0 && digits != "0" {
        out.insert(0, '-');
    }
    out
}

fn latency(us: f64) -> String {
    if us < 1000.0 {
        format!("{us:.0} us")
    } else if us < 1e6 {
        format!("{:.2} ms", us / 1e3)
    } else {
        format!("{:.2} s", us / 1e6)
    }
}

fn kib(bytes: f64) -> String {
    format!("{} KiB", grouped(bytes / 1024.0))
}

/// One row of the main table: a figure per server, each peer's followed by httpd ÷ peer;
/// no row when no server has the figure.
fn row(
    out: &mut String,
    results: &Results,
    label: &str,
    value: impl Fn(&ServerResult) -> Option<f64>,
    show: impl Fn(f64) -> String,
) {
    if results.servers.iter().all(|s| value(s).is_none()) {
        return; // not measured for anyone (wrk's latency under pipelining)
    }
    let httpd = results.get(Kind::Httpd).and_then(&value);
    let _ = write!(out, "| {label} |");
    for s in &results.servers {
        match value(s) {
            None => out.push_str(" – |"),
            Some(v) if s.kind == Kind::Httpd => {
                let _ = write!(out, " **{}** |", show(v));
            }
            Some(v) => match httpd {
                Some(h) if v != 0.0 => {
                    let _ = write!(out, " {} ({:.2}) |", show(v), h / v);
                }
                _ => {
                    let _ = write!(out, " {} |", show(v));
                }
            },
        }
    }
    out.push('\n');
}

/// The markdown report: the main table, the per-round table, the notes, and the summary
/// line last.
pub(crate) fn render(results: &Results) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "## httpd-bench: {} round(s), {} s per run, server on core 0, wrk on core 1\n",
        results.rounds, results.secs
    );
    out.push_str(
        "Medians across rounds. In each peer's cell, (x.xx) = httpd ÷ peer: above 1 \
                  httpd is higher (better for req/s, worse for latency, CPU and memory).\n\n",
    );
    out.push_str("| |");
    for s in &results.servers {
        let _ = write!(out, " {} |", s.kind.name());
    }
    out.push_str("\n|---|");
    for _ in &results.servers {
        out.push_str("---:|");
    }
    out.push('\n');
    for &load in &results.loads {
        let l = load.label();
        row(
            &mut out,
            results,
            &format!("{l} req/s"),
            |s| s.run_median(load, |r| r.rps),
            grouped,
        );
        row(
            &mut out,
            results,
            &format!("{l} p50"),
            |s| s.run_median(load, |r| r.p50_us),
            latency,
        );
        row(
            &mut out,
            results,
            &format!("{l} p99"),
            |s| s.run_median(load, |r| r.p99_us),
            latency,
        );
        row(
            &mut out,
            results,
            &format!("{l} CPU us/req"),
            |s| s.run_median(load, |r| r.cpu_us_per_req),
            |v| format!("{v:.2}"),
        );
    }
    let n = results.idle_conns;
    row(
        &mut out,
        results,
        "RSS idle",
        |s| s.mem_median(|m| m.idle as f64),
        kib,
    );
    row(
        &mut out,
        results,
        &format!("RSS with {n} idle conns"),
        |s| s.mem_median(|m| m.with_conns as f64),
        kib,
    );
    row(
        &mut out,
        results,
        "bytes per idle conn",
        |s| s.mem_median(MemSample::bytes_per_conn),
        grouped,
    );
    row(
        &mut out,
        results,
        "stripped binary",
        |s| s.size.map(|b| b as f64),
        kib,
    );

    if results.rounds > 1 {
        out.push_str("\nreq/s by round (drift):\n\n| server, load |");
        for r in 1..=results.rounds {
            let _ = write!(out, " round {r} |");
        }
        out.push_str(" median | spread |\n|---|");
        for _ in 0..results.rounds + 2 {
            out.push_str("---:|");
        }
        out.push('\n');
        for s in &results.servers {
            for (load, runs) in &s.runs {
                let _ = write!(out, "| {} {} |", s.kind.name(), load.label());
                for r in runs {
                    let _ = write!(out, " {} |", grouped(r.rps));
                }
                for _ in runs.len()..results.rounds {
                    out.push_str(" – |");
                }
                let rps: Vec<f64> = runs.iter().map(|r| r.rps).collect();
                let med = median(rps.clone()).unwrap_or(f64::NAN);
                let max = rps.iter().copied().fold(f64::MIN, f64::max);
                let min = rps.iter().copied().fold(f64::MAX, f64::min);
                let _ = writeln!(
                    out,
                    " {} | {:.1}% |",
                    grouped(med),
                    (max - min) / med * 100.0
                );
            }
        }
    }

    let mut notes = results.notes.clone();
    if results.loads.contains(&Load::Pipelined) {
        notes.push(
            "no latency for the pipelined load: wrk's coordinated-omission correction assumes \
             one response per round trip, so its percentiles are wrong there (p99 reads 0)"
                .to_owned(),
        );
    }
    if !notes.is_empty() {
        out.push_str("\nNotes:\n");
        for note in &notes {
            let _ = writeln!(out, "- {note}");
        }
    }
    let _ = writeln!(out, "\n{}", Summary::of(results));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(rps: f64, cpu: f64) -> RunSample {
        RunSample {
            rps,
            p50_us: 400.0,
            p99_us: 1500.0,
            cpu_us_per_req: cpu,
            errors: 0,
            server_stolen: 0.0,
            load_stolen: 0.0,
        }
    }

    fn server(kind: Kind, c50: [f64; 2], pipelined: f64, cpu: f64) -> ServerResult {
        let mut s = ServerResult::new(kind);
        s.runs
            .insert(Load::C50, c50.iter().map(|&r| run(r, cpu)).collect());
        s.runs
            .insert(Load::Pipelined, vec![run(pipelined, cpu / 4.0)]);
        s.mem.push(MemSample {
            idle: 1_000_000,
            with_conns: 1_000_000 + 512 * 1000,
            conns: 1000,
        });
        s.size = Some(400 * 1024);
        s
    }

    fn results() -> Results {
        Results {
            servers: vec![
                server(Kind::Httpd, [90_000.0, 100_000.0], 500_000.0, 9.0),
                server(Kind::Ceiling, [120_000.0, 118_000.0], 1_000_000.0, 7.0),
                server(Kind::Hyper, [110_000.0, 112_000.0], 560_000.0, 8.25),
                server(Kind::TinyHttp, [38_000.0, 39_000.0], 40_000.0, 25.0),
            ],
            loads: vec![Load::C50, Load::Pipelined],
            rounds: 2,
            secs: 10,
            idle_conns: 1000,
            notes: vec!["nginx skipped: not installed".to_owned()],
        }
    }

    #[test]
    fn medians() {
        assert_eq!(median(vec![]), None);
        assert_eq!(median(vec![3.0]), Some(3.0));
        assert_eq!(median(vec![4.0, 1.0]), Some(2.5));
        assert_eq!(median(vec![5.0, 1.0, 3.0]), Some(3.0));
    }

    #[test]
    fn summary_line_format() {
        let line = Summary::of(&results()).to_string();
        assert_eq!(
            line,
            "summary: httpd_rps_c50=95000 ratio_vs_ceiling=0.80 best_peer=hyper \
             ratio_vs_best_peer=0.86 cpu_us_per_req=9.0 best_peer_cpu_us_per_req=8.2 \
             pipelined_ratio_vs_ceiling=0.50 bytes_per_idle_conn=512"
        );
    }

    #[test]
    fn summary_without_peers_says_so() {
        let mut r = results();
        r.servers.truncate(1);
        let line = Summary::of(&r).to_string();
        assert!(
            line.starts_with("summary: httpd_rps_c50=95000 ratio_vs_ceiling=NaN best_peer=none "),
            "{line}"
        );
    }

    #[test]
    fn report_ends_with_the_summary_and_shows_ratios() {
        let text = render(&results());
        let last = text.lines().last().unwrap();
        assert!(last.starts_with("summary: "), "{last}");
        assert!(
            text.contains(
                "| c=50 req/s | **95,000** | 119,000 (0.80) | 111,000 (0.86) | 38,500 (2.47) |"
            ),
            "{text}"
        );
        assert!(text.contains("| bytes per idle conn | **512** |"), "{text}");
        assert!(
            text.contains("| httpd c=50 | 90,000 | 100,000 | 95,000 | 10.5% |"),
            "{text}"
        );
        assert!(text.contains("- nginx skipped: not installed"));
    }

    #[test]
    fn grouping() {
        for (n, s) in [
            (0.0, "0"),
            (999.0, "999"),
            (1000.0, "1,000"),
            (1_234_567.4, "1,234,567"),
            (-2048.0, "-2,048"),
        ] {
            assert_eq!(grouped(n), s);
        }
    }
}
