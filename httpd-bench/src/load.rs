//! The load: wrk pinned to the load core, its runs, and the parser for its `--latency`
//! report.

use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use crate::child::ChildGuard;

/// The core the load generator runs on (the server gets [`crate::measure::SERVER_CORE`]).
pub(crate) const LOAD_CORE: usize = 1;

/// Requests per write in the pipelined load.
pub(crate) const PIPELINE_DEPTH: usize = 16;

/// One kind of load: keep-alive connections, one request in flight each, or pipelined.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Load {
    C1,
    C50,
    C500,
    Pipelined,
}

impl Load {
    /// Every load, in the report's order.
    pub(crate) const ALL: [Load; 4] = [Load::C1, Load::C50, Load::C500, Load::Pipelined];

    /// Open connections.
    pub(crate) fn connections(self) -> usize {
        match self {
            Load::C1 => 1,
            Load::C50 | Load::Pipelined => 50,
            Load::C500 => 500,
        }
    }

    /// A short label for the report.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Load::C1 => "c=1",
            Load::C50 => "c=50",
            Load::C500 => "c=500",
            Load::Pipelined => "c=50 x16 pipelined",
        }
    }
}

/// The figures of one wrk run.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct WrkReport {
    /// Responses received.
    pub(crate) requests: u64,
    /// Length of the run, in seconds.
    pub(crate) seconds: f64,
    /// `Requests/sec`.
    pub(crate) rps: f64,
    /// Median latency, microseconds.
    pub(crate) p50_us: f64,
    /// 99th percentile latency, microseconds.
    pub(crate) p99_us: f64,
    /// Connect, read, write and timeout errors together.
    pub(crate) socket_errors: u64,
    /// Responses with a status other than 2xx or 3xx.
    pub(crate) non_2xx: u64,
}

/// What is wrong with a wrk report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ParseError {
    /// A line the report must have is not there.
    Missing(&'static str),
    /// A figure that does not parse.
    BadValue(String),
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::Missing(what) => write!(f, "wrk output has no {what}"),
            ParseError::BadValue(v) => write!(f, "wrk output: cannot read {v:?}"),
        }
    }
}

/// A wrk duration (`420.00us`, `1.23ms`, `2.00s`, `10.00m`, `1.00h`) in microseconds.
fn parse_time_us(s: &str) -> Result<f64, ParseError> {
    let bad = || ParseError::BadValue(s.to_owned());
    let split = s.find(|c: char| c.is_ascii_alphabetic()).ok_or_else(bad)?;
    let (num, unit) = s.split_at(split);
    let value: f64 = num.parse().map_err(|_| bad())?;
    let scale = match unit {
        "us" => 1.0,
        "ms" => 1e3,
        "s" => 1e6,
        "m" => 60e6,
        "h" => 3600e6,
        _ => return Err(bad()),
    };
    Ok(value * scale)
}

fn parse_u64(s: &str) -> Result<u64, ParseError> {
    s.trim_end_matches(',')
        .parse()
        .map_err(|_| ParseError::BadValue(s.to_owned()))
}

/// Reads the figures out of `wrk --latency` output.
pub(crate) fn parse(output: &str) -> Result<WrkReport, ParseError> {
    let mut requests = None;
    let mut rps = None;
    let mut p50 = None;
    let mut p99 = None;
    let mut socket_errors = 0;
    let mut non_2xx = 0;
    for line in output.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["50%", t] => p50 = Some(parse_time_us(t)?),
            ["99%", t] => p99 = Some(parse_time_us(t)?),
            [n, "requests", "in", t, ..] => {
                let secs = parse_time_us(t.trim_end_matches(','))? / 1e6;
                requests = Some((parse_u64(n)?, secs));
            }
            ["Requests/sec:", r] => {
                rps = Some(
                    r.parse::<f64>()
                        .map_err(|_| ParseError::BadValue((*r).to_owned()))?,
                );
            }
            ["Socket", "errors:", rest @ ..] => {
                // connect N, read N, write N, timeout N
                for pair in rest.chunks(2) {
                    if let [_, n] = pair {
                        socket_errors += parse_u64(n)?;
                    }
                }
            }
            ["Non-2xx", "or", "3xx", "responses:", n] => non_2xx = parse_u64(n)?,
            _ => {}
        }
    }
    let (requests, seconds) = requests.ok_or(ParseError::Missing("request count"))?;
    Ok(WrkReport {
        requests,
        seconds,
        rps: rps.ok_or(ParseError::Missing("Requests/sec"))?,
        p50_us: p50.ok_or(ParseError::Missing("50% latency"))?,
        p99_us: p99.ok_or(ParseError::Missing("99% latency"))?,
        socket_errors,
        non_2xx,
    })
}

/// The Lua script that makes wrk send [`PIPELINE_DEPTH`] requests per write (as in
/// TechEmpower's plaintext test).
fn pipeline_script() -> String {
    format!(
        "init = function(args)\n  local r = {{}}\n  for i = 1, {PIPELINE_DEPTH} do\n    \
         r[i] = wrk.format(nil, \"/plaintext\")\n  end\n  req = table.concat(r)\nend\n\
         request = function()\n  return req\nend\n"
    )
}

/// The wrk binary, found or installed, and the pipelining script.
#[derive(Debug)]
pub(crate) struct Wrk {
    binary: PathBuf,
    script: PathBuf,
}

impl Wrk {
    /// Finds wrk (installing it with apt-get when missing) and writes the pipelining
    /// script into `work_dir`.
    pub(crate) fn new(work_dir: &Path) -> io::Result<Wrk> {
        let binary = crate::measure::find_or_install("wrk", "wrk")?;
        let script = work_dir.join("pipeline.lua");
        fs::write(&script, pipeline_script())?;
        Ok(Wrk { binary, script })
    }

    /// Starts a run of `secs` seconds of `load` against 127.0.0.1:`port`, on the load core.
    pub(crate) fn start(&self, port: u16, load: Load, secs: u64) -> io::Result<ChildGuard> {
        let script = (load == Load::Pipelined).then_some(self.script.as_path());
        let url = format!("http://127.0.0.1:{port}/plaintext");
        self.start_url(&url, load.connections(), secs, script)
    }

    /// Starts a run of `secs` seconds with `conns` connections against `url`, on the load
    /// core, with an optional Lua script.
    pub(crate) fn start_url(
        &self,
        url: &str,
        conns: usize,
        secs: u64,
        script: Option<&Path>,
    ) -> io::Result<ChildGuard> {
        let mut cmd = crate::measure::pinned(LOAD_CORE, &self.binary);
        cmd.arg("-t1")
            .arg(format!("-c{conns}"))
            .arg(format!("-d{secs}s"))
            .arg("--timeout")
            .arg("5s")
            .arg("--latency");
        if let Some(script) = script {
            cmd.arg("-s").arg(script);
        }
        cmd.arg(url)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        ChildGuard::spawn(&mut cmd)
    }

    /// Runs `secs` seconds of GET /plaintext over TLS on `conns` connections; with
    /// `new_connections`, every request on a connection of its own (a full handshake each:
    /// wrk does not resume sessions).
    pub(crate) fn run_tls(
        &self,
        port: u16,
        conns: usize,
        secs: u64,
        new_connections: bool,
    ) -> io::Result<WrkReport> {
        let close = self.script.with_file_name("close.lua");
        if new_connections {
            fs::write(&close, "wrk.headers[\"Connection\"] = \"close\"\n")?;
        }
        let url = format!("https://127.0.0.1:{port}/plaintext");
        let script = new_connections.then_some(close.as_path());
        Wrk::finish(self.start_url(&url, conns, secs, script)?)
    }

    /// Waits for a run started by [`Wrk::start`] and reads its report.
    pub(crate) fn finish(run: ChildGuard) -> io::Result<WrkReport> {
        let output = run.wait_output()?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        if !output.status.success() {
            return Err(io::Error::other(format!(
                "wrk: {}: {}{}",
                output.status,
                stdout,
                String::from_utf8_lossy(&output.stderr)
            )));
        }
        parse(&stdout).map_err(|e| io::Error::other(format!("{e}\n{stdout}")))
    }

    /// Runs `secs` seconds of `load` against 127.0.0.1:`port` and returns the report.
    pub(crate) fn run(&self, port: u16, load: Load, secs: u64) -> io::Result<WrkReport> {
        Wrk::finish(self.start(port, load, secs)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLEAN: &str = "\
Running 10s test @ http://127.0.0.1:8080/plaintext
  1 threads and 50 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   431.22us   92.12us   3.56ms   88.10%
    Req/Sec   116.43k     3.21k  120.11k    80.00%
  Latency Distribution
     50%  420.00us
     75%  460.00us
     90%  510.00us
     99%  780.00us
  1164389 requests in 10.00s, 145.47MB read
Requests/sec: 116432.50
Transfer/sec:     14.55MB
";

    const ERRORS: &str = "\
Running 10m test @ http://127.0.0.1:8080/plaintext
  1 threads and 500 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     5.01ms    1.20ms   2.00s    90.00%
    Req/Sec    90.00k     3.21k  120.11k    80.00%
  Latency Distribution
     50%    4.50ms
     75%    5.00ms
     90%    6.00ms
     99%    1.02s
  54000000 requests in 10.00m, 6.00GB read
  Socket errors: connect 3, read 4, write 5, timeout 6
  Non-2xx or 3xx responses: 7
Requests/sec:  90000.00
Transfer/sec:     10.00MB
";

    #[test]
    fn parses_a_clean_run() {
        let r = parse(CLEAN).unwrap();
        assert_eq!(r.requests, 1_164_389);
        assert_eq!(r.seconds, 10.0);
        assert_eq!(r.rps, 116_432.5);
        assert_eq!(r.p50_us, 420.0);
        assert_eq!(r.p99_us, 780.0);
        assert_eq!((r.socket_errors, r.non_2xx), (0, 0));
    }

    #[test]
    fn parses_errors_and_larger_units() {
        let r = parse(ERRORS).unwrap();
        assert_eq!(r.requests, 54_000_000);
        assert_eq!(r.seconds, 600.0);
        assert_eq!(r.p50_us, 4500.0);
        assert_eq!(r.p99_us, 1_020_000.0);
        assert_eq!(r.socket_errors, 3 + 4 + 5 + 6);
        assert_eq!(r.non_2xx, 7);
    }

    #[test]
    fn time_units() {
        for (s, us) in [
            ("1.50us", 1.5),
            ("2.00ms", 2000.0),
            ("3s", 3e6),
            ("1.00m", 60e6),
            ("1.00h", 3600e6),
        ] {
            assert_eq!(parse_time_us(s).unwrap(), us, "{s}");
        }
        for bad in ["", "12", "ms", "1.0xs", "x1ms"] {
            assert!(parse_time_us(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn missing_figures_are_errors() {
        assert_eq!(parse(""), Err(ParseError::Missing("request count")));
        let no_p99: String = CLEAN
            .lines()
            .filter(|l| !l.contains("99%"))
            .collect::<Vec<_>>()
            .join("\n");
        assert_eq!(parse(&no_p99), Err(ParseError::Missing("99% latency")));
        let garbled = CLEAN.replace("116432.50", "lots");
        assert!(matches!(parse(&garbled), Err(ParseError::BadValue(_))));
    }

    #[test]
    fn pipeline_script_sends_sixteen_requests_per_write() {
        let script = pipeline_script();
        assert!(script.contains("for i = 1, 16 do"));
        assert!(script.contains("request = function()"));
    }
}
