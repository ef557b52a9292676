//! Extraction and chunking speed, per megabyte of input, on the repository's document fixtures.
//!
//! `cargo run --release -p mneme-documents --example throughput [-- ROUNDS]`
//! (results and how to read them: bench/documents/README.md).

// A command-line report: printing is its output.
#![allow(clippy::print_stdout)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use mneme_documents::{ChunkOptions, DocumentKind, chunk, extract, lines};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/documents")
}

struct Sample {
    name: String,
    kind: DocumentKind,
    bytes: Vec<u8>,
}

fn samples() -> std::io::Result<Vec<Sample>> {
    let dir = fixtures();
    let pdf = std::fs::read(dir.join("memgpt_paper.pdf"))?;
    let prose = std::fs::read(dir.join("long_test.txt"))?;
    let html = std::fs::read(dir.join("sample.html"))?;
    // Small files are repeated to about 4 MB so timer resolution does not dominate.
    let grow = |b: &[u8]| b.repeat((4 << 20) / b.len().max(1));
    Ok(vec![
        Sample {
            name: "memgpt_paper.pdf (13 pages)".into(),
            kind: DocumentKind::Pdf,
            bytes: pdf,
        },
        Sample {
            name: "long_test.txt x77".into(),
            kind: DocumentKind::Text,
            bytes: grow(&prose),
        },
        Sample {
            name: "sample.html repeated".into(),
            kind: DocumentKind::Html,
            bytes: grow(&html),
        },
    ])
}

fn per_mb(elapsed: Duration, rounds: u32, bytes: usize) -> f64 {
    let mb = bytes as f64 / (1024.0 * 1024.0);
    elapsed.as_secs_f64() * 1000.0 / f64::from(rounds) / mb
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let rounds: u32 = std::env::args()
        .nth(1)
        .map(|r| r.parse())
        .transpose()?
        .unwrap_or(5);
    let opts = ChunkOptions::default();
    println!(
        "| input | bytes | text chars | passages | lines | extract ms/MB | chunk ms/MB | lines ms/MB |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for s in samples()? {
        let t = Instant::now();
        let mut text = String::new();
        for _ in 0..rounds {
            text = extract(s.kind, &s.bytes)?.text;
        }
        let extract_time = t.elapsed();
        let t = Instant::now();
        let mut passages = 0;
        for _ in 0..rounds {
            passages = chunk(s.kind, &text, &opts).len();
        }
        let chunk_time = t.elapsed();
        let t = Instant::now();
        let mut line_count = 0;
        for _ in 0..rounds {
            line_count = lines(s.kind, &text).len();
        }
        let lines_time = t.elapsed();
        println!(
            "| {} | {} | {} | {passages} | {line_count} | {:.1} | {:.1} | {:.1} |",
            s.name,
            s.bytes.len(),
            text.chars().count(),
            per_mb(extract_time, rounds, s.bytes.len()),
            per_mb(chunk_time, rounds, text.len()),
            per_mb(lines_time, rounds, text.len()),
        );
    }
    Ok(())
}
