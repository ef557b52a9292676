//! `mneme-fake-llm`: the scripted fake LLM (OpenAI, Gemini and Ollama protocols) as a standalone process, for the
//! Python SDK suite and benchmarks. Script it through the `/_fake/` control API.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use clap::Parser;
use mneme_testkit::FakeLlm;

/// A scripted LLM server (OpenAI, Gemini and Ollama protocols) for tests (never for production).
#[derive(Parser)]
#[command(version)]
struct Args {
    #[arg(long, default_value = "127.0.0.1")]
    host: IpAddr,
    /// 0 picks a free port; the chosen one is printed as "listening on HOST:PORT".
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// A delay before every response.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let fake = FakeLlm::bind(SocketAddr::new(args.host, args.port)).await?;
    fake.set_latency(Duration::from_millis(args.latency_ms));
    // Test harnesses learn the port from this line, as they do for mneme itself.
    eprintln!("listening on {}", fake.addr());
    shutdown_signal().await?;
    drop(fake);
    Ok(())
}

/// Resolves on SIGTERM or Ctrl-C.
async fn shutdown_signal() -> std::io::Result<()> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => result,
        _ = term.recv() => Ok(()),
    }
}
