//! httpd-bench: httpd side by side with peer HTTP/1.1 servers (tiny_http, hyper, may_minihttp,
//! nginx) and a no-parsing ceiling server, each alone on one core with wrk on the other.
//!
//! ```text
//! cargo run --release -p httpd-bench -- all      # ~10 min: 2 rounds, c=1/50/500 + pipelined, memory, sizes
//! cargo run --release -p httpd-bench -- quick    # 1 round, 3 s runs, c=50 and pipelined
//! cargo run --release -p httpd-bench -- soak --secs 600   # c=50 on httpd, RSS at start and end
//! cargo run --release -p httpd-bench -- serve hyper --port 8080
//! cargo run --release -p httpd-bench -- latency  # GET /hello round trips, alone and with 6 stuck clients; WebSocket echo
//! cargo run --release -p httpd-bench -- tls [--secs S] [--idle N]  # HTTPS: httpd, hyper+tokio-rustls, nginx
//! cargo run --release -p httpd-bench -- files    # static files against nginx: 1 KiB req/s, 64 MiB MB/s, RSS with 20 x 256 MiB
//! cargo run --release -p httpd-bench -- pool     # worker pool: plaintext and 50 us CPU work, pool off/on; 1 MiB uploads c=20 vs hyper, nginx
//! ```
//!
//! `all` and `quick` may be narrowed with `--only httpd,ceiling`; `all` takes `--rounds N`
//! and `--secs S`. The report (markdown) goes to stdout and ends with the `summary:` line;
//! progress goes to stderr.

mod child;
mod files;
mod harness;
mod latency;
mod load;
mod measure;
mod pool;
mod report;
mod servers;
mod tls;

use std::process::ExitCode;

use harness::Plan;
use servers::Kind;

const USAGE: &str =
    "usage: httpd-bench all [--rounds N] [--secs S] [--only a,b] | quick [--only a,b] \
                     | soak [--secs S] | serve <name> --port P | latency [--n N] [--stuck K] \
                     | tls [--secs S] [--idle N]\n\
                     | files [--secs S] | pool [--secs S]\n\
                     servers: httpd ceiling hyper may_minihttp nginx tiny_http";

/// The value following `flag` in `args`, parsed.
fn flag<T: std::str::FromStr>(args: &[String], flag: &str) -> Result<Option<T>, String> {
    match args.iter().position(|a| a == flag) {
        None => Ok(None),
        Some(i) => args
            .get(i + 1)
            .and_then(|v| v.parse().ok())
            .map(Some)
            .ok_or_else(|| format!("{flag} needs a value\n{USAGE}")),
    }
}

fn plan(mut plan: Plan, args: &[String]) -> Result<Plan, String> {
    if let Some(rounds) = flag(args, "--rounds")? {
        plan.rounds = rounds;
    }
    if let Some(secs) = flag(args, "--secs")? {
        plan.secs = secs;
    }
    if let Some(only) = flag::<String>(args, "--only")? {
        plan.servers = only
            .split(',')
            .map(|n| Kind::from_name(n).ok_or_else(|| format!("unknown server {n:?}\n{USAGE}")))
            .collect::<Result<_, _>>()?;
        plan.servers.sort();
    }
    Ok(plan)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let outcome = match args.first().map(String::as_str) {
        Some("all") => plan(Plan::all(), &args)
            .and_then(|p| harness::run(&p).map_err(|e| e.to_string()))
            .map(|r| print!("{}", report::render(&r))),
        Some("quick") => plan(Plan::quick(), &args)
            .and_then(|p| harness::run(&p).map_err(|e| e.to_string()))
            .map(|r| print!("{}", report::render(&r))),
        Some("soak") => flag(&args, "--secs")
            .and_then(|secs| harness::soak(secs.unwrap_or(600)).map_err(|e| e.to_string()))
            .map(|out| print!("{out}")),
        Some("latency") => flag(&args, "--n").and_then(|n| {
            let n = n.unwrap_or(10_000);
            let stuck = flag(&args, "--stuck")?.unwrap_or(6);
            latency::print("GET /hello, one keep-alive connection", &latency::rtt(n));
            let (alone, stalled) = latency::stalls(n, stuck);
            latency::print("GET /hello, no other clients", &alone);
            latency::print(
                &format!("GET /hello, {stuck} clients stuck mid-header"),
                &stalled,
            );
            latency::print(
                "WebSocket echo, 16-byte binary message",
                &latency::ws_rtt(n),
            );
            Ok(())
        }),
        Some("tls") => flag(&args, "--secs").and_then(|secs| {
            let idle = flag(&args, "--idle")?.unwrap_or(1000);
            tls::run(secs.unwrap_or(5), idle)
                .map(|out| print!("{out}"))
                .map_err(|e| e.to_string())
        }),
        Some("files") => flag(&args, "--secs")
            .and_then(|secs| files::run(secs.unwrap_or(10)).map_err(|e| e.to_string()))
            .map(|out| print!("{out}")),
        Some("pool") => flag(&args, "--secs")
            .and_then(|secs| pool::run(secs.unwrap_or(5)).map_err(|e| e.to_string()))
            .map(|out| print!("{out}")),
        Some("serve") => match args.get(1).and_then(|n| Kind::from_name(n)) {
            Some(kind) => servers::port::from_args(args.into_iter().skip(2))
                .and_then(|port| kind.serve(port))
                .map_err(|e| e.to_string()),
            None => Err(USAGE.to_owned()),
        },
        _ => Err(USAGE.to_owned()),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("httpd-bench: {e}");
            ExitCode::FAILURE
        }
    }
}
