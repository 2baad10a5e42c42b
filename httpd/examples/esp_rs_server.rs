//! esp-rs handler code on a host: the handlers in `esp_rs_server/handlers.rs` are written
//! against embedded-svc 0.29 for an ESP32 running esp-idf-svc 0.53, and served here by httpd's
//! `EspHttpServer` facade (feature `embedded-svc`). On the chip the same module compiles with
//! its one `use` line changed; this file plays the part of the firmware's `main` (without the
//! Wi-Fi set-up).
//!
//! ```text
//! cargo run --features embedded-svc --example esp_rs_server -- --port 8080
//! ```
//!
//! Then open `http://127.0.0.1:8080/`. Stop it with Ctrl-C.

#[allow(dead_code)] // only `port_only` is used here
mod common;
#[path = "esp_rs_server/handlers.rs"]
mod handlers;

use std::process::ExitCode;
use std::sync::mpsc;

use httpd::svc as server;

/// esp-idf-svc's example raises the stack for its handlers; the facade raises it further for a
/// host build.
const STACK_SIZE: usize = 10240;

fn run(port: u16) -> anyhow::Result<()> {
    let (stop_tx, stop_rx) = mpsc::channel();
    ctrlc::set_handler(move || {
        let _ = stop_tx.send(());
    })?;
    let conf = server::Configuration {
        http_port: port,
        stack_size: STACK_SIZE,
        ..Default::default()
    };
    let mut server = server::EspHttpServer::new(&conf)?;
    handlers::register(&mut server)?;
    log::info!("Server ready on {}; Ctrl-C stops it", server.local_addr());
    let _ = stop_rx.recv();
    log::info!("Stopping server");
    drop(server);
    Ok(())
}

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let port = match common::port_only("usage: esp_rs_server [--port N]") {
        Ok(port) => port,
        Err(msg) => {
            eprintln!("{msg}");
            return ExitCode::from(2);
        }
    };
    match run(port) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            log::error!("{e:#}");
            ExitCode::FAILURE
        }
    }
}
