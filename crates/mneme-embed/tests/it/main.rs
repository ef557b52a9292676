//! mneme-embed against real things: the OpenAI-compatible, Gemini and Ollama embedders against
//! mneme-testkit's fake LLM and a canned HTTP responder, the router, and the real all-MiniLM-L6-v2 on disk.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod fetch;
mod gemini;
#[cfg(feature = "local")]
mod local;
mod ollama;
mod openai;
mod router;

/// Length and dot product, the two measures every test here needs.
fn norm(v: &[f32]) -> f32 {
    v.iter().map(|x| x * x).sum::<f32>().sqrt()
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn strings(texts: &[&str]) -> Vec<String> {
    texts.iter().map(|t| (*t).to_owned()).collect()
}
