//! A BERT encoder forward pass written for small CPU batches: the weights packed once at load for
//! the matrix kernel, every text of a batch concatenated into one token matrix (no padding, so
//! no work on padding and no dependence of a text's vector on its batch), attention per text.

use std::collections::HashMap;

use pulp::{Arch, Simd, WithSimd};
use serde::Deserialize;

use crate::kernel::{self, Linear};

/// The errors of reading `config.json` and `model.safetensors`.
#[derive(Debug, thiserror::Error)]
pub(crate) enum WeightsError {
    #[error("config.json: {0}")]
    Config(String),
    #[error("model.safetensors: {0}")]
    Format(String),
    #[error("model.safetensors has no tensor {0}")]
    Missing(String),
    #[error("model.safetensors: {name} has shape {shape:?}, expected {expected:?}")]
    Shape {
        name: String,
        shape: Vec<usize>,
        expected: Vec<usize>,
    },
}

/// The sizes the forward pass needs from `config.json`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Config {
    vocab_size: usize,
    hidden_size: usize,
    num_hidden_layers: usize,
    num_attention_heads: usize,
    intermediate_size: usize,
    max_position_embeddings: usize,
    layer_norm_eps: f64,
    hidden_act: String,
}

impl Config {
    pub(crate) fn parse(json: &[u8]) -> Result<Config, WeightsError> {
        let config: Config =
            serde_json::from_slice(json).map_err(|e| WeightsError::Config(e.to_string()))?;
        if config.hidden_act != "gelu" {
            return Err(WeightsError::Config(format!(
                "hidden_act {:?} is not supported (only gelu)",
                config.hidden_act
            )));
        }
        if config.num_attention_heads == 0
            || !config
                .hidden_size
                .is_multiple_of(config.num_attention_heads)
        {
            return Err(WeightsError::Config(
                "hidden_size is not a multiple of num_attention_heads".into(),
            ));
        }
        Ok(config)
    }

    /// How many tokens a text may have: the position table's length.
    pub(crate) fn max_positions(&self) -> usize {
        self.max_position_embeddings
    }
}

struct Norm {
    gamma: Vec<f32>,
    beta: Vec<f32>,
}

struct Layer {
    /// Query, key and value in one product: 3 × hidden outputs.
    qkv: Linear,
    attention_out: Linear,
    attention_norm: Norm,
    up: Linear,
    down: Linear,
    output_norm: Norm,
}

pub(crate) struct Bert {
    config: Config,
    word: Vec<f32>,
    position: Vec<f32>,
    /// Token type 0's row: every text is a single segment.
    segment: Vec<f32>,
    embedding_norm: Norm,
    layers: Vec<Layer>,
    arch: Arch,
}

/// The per-pass scratch matrices, reused from layer to layer.
#[derive(Default)]
struct Scratch {
    qkv: Vec<f32>,
    context: Vec<f32>,
    projected: Vec<f32>,
    intermediate: Vec<f32>,
    scores: Vec<f32>,
}

impl Bert {
    /// The network from a safetensors file's bytes (f32 tensors, PyTorch `BertModel` names).
    pub(crate) fn load(config: Config, safetensors: &[u8]) -> Result<Bert, WeightsError> {
        let tensors = Tensors::parse(safetensors)?;
        let h = config.hidden_size;
        let f = config.intermediate_size;
        let word = tensors.get("embeddings.word_embeddings.weight", &[config.vocab_size, h])?;
        let position = tensors.get(
            "embeddings.position_embeddings.weight",
            &[config.max_position_embeddings, h],
        )?;
        let types = tensors.get("embeddings.token_type_embeddings.weight", &[0, h])?;
        let embedding_norm = tensors.norm("embeddings.LayerNorm", h)?;
        let layers = (0..config.num_hidden_layers)
            .map(|i| {
                let p = format!("encoder.layer.{i}");
                let qkv = ["query", "key", "value"]
                    .iter()
                    .map(|part| tensors.get(&format!("{p}.attention.self.{part}.weight"), &[h, h]))
                    .collect::<Result<Vec<_>, _>>()?
                    .concat();
                let qkv_bias = ["query", "key", "value"]
                    .iter()
                    .map(|part| tensors.get(&format!("{p}.attention.self.{part}.bias"), &[h]))
                    .collect::<Result<Vec<_>, _>>()?
                    .concat();
                Ok(Layer {
                    qkv: pack(&qkv, qkv_bias, 3 * h, h)?,
                    attention_out: tensors.linear(&format!("{p}.attention.output.dense"), h, h)?,
                    attention_norm: tensors.norm(&format!("{p}.attention.output.LayerNorm"), h)?,
                    up: tensors.linear(&format!("{p}.intermediate.dense"), f, h)?,
                    down: tensors.linear(&format!("{p}.output.dense"), h, f)?,
                    output_norm: tensors.norm(&format!("{p}.output.LayerNorm"), h)?,
                })
            })
            .collect::<Result<Vec<_>, WeightsError>>()?;
        Ok(Bert {
            segment: types[..h].to_vec(),
            config,
            word,
            position,
            embedding_norm,
            layers,
            arch: Arch::new(),
        })
    }

    /// Mean-pooled, unnormalised last hidden states, one per text; `texts` are token ids, each
    /// non-empty, at most `max_positions` long and below the vocabulary size.
    pub(crate) fn mean_pooled(&self, texts: &[&[u32]]) -> Vec<Vec<f32>> {
        let h = self.config.hidden_size;
        let rows: usize = texts.iter().map(|t| t.len()).sum();
        let mut x = self.embed_tokens(texts);
        let mut scratch = Scratch::default();
        for layer in &self.layers {
            self.layer(layer, texts, rows, &mut x, &mut scratch);
        }
        let mut pooled = Vec::with_capacity(texts.len());
        let mut start = 0;
        for text in texts {
            let mut sum = vec![0.0_f32; h];
            for row in x[start * h..(start + text.len()) * h].chunks_exact(h) {
                sum.iter_mut().zip(row).for_each(|(s, v)| *s += v);
            }
            let count = text.len() as f32;
            sum.iter_mut().for_each(|s| *s /= count);
            pooled.push(sum);
            start += text.len();
        }
        pooled
    }

    /// Word + position + segment embeddings, layer-normalised. Out-of-range ids or positions
    /// are clamped (the caller guarantees they do not occur; clamping keeps this panic-free).
    fn embed_tokens(&self, texts: &[&[u32]]) -> Vec<f32> {
        let h = self.config.hidden_size;
        let mut x = Vec::with_capacity(texts.iter().map(|t| t.len()).sum::<usize>() * h);
        for text in texts {
            for (position, &id) in text.iter().enumerate() {
                let id = (id as usize).min(self.config.vocab_size - 1);
                let position = position.min(self.config.max_position_embeddings - 1);
                let word = &self.word[id * h..(id + 1) * h];
                let pos = &self.position[position * h..(position + 1) * h];
                let start = x.len();
                x.extend(
                    word.iter()
                        .zip(pos)
                        .zip(&self.segment)
                        .map(|((w, p), s)| w + p + s),
                );
                let row = &mut x[start..];
                let norm = &self.embedding_norm;
                kernel::normalize_row(row, &norm.gamma, &norm.beta, self.eps());
            }
        }
        x
    }

    fn eps(&self) -> f32 {
        self.config.layer_norm_eps as f32
    }

    /// One post-norm transformer layer over all the texts' tokens.
    fn layer(&self, layer: &Layer, texts: &[&[u32]], rows: usize, x: &mut [f32], s: &mut Scratch) {
        let arch = self.arch;
        layer.qkv.forward(arch, x, rows, &mut s.qkv);
        s.context.clear();
        s.context.resize(rows * self.config.hidden_size, 0.0);
        let mut start = 0;
        for text in texts {
            arch.dispatch(Attention {
                qkv: &s.qkv,
                context: &mut s.context,
                scores: &mut s.scores,
                start,
                len: text.len(),
                hidden: self.config.hidden_size,
                heads: self.config.num_attention_heads,
            });
            start += text.len();
        }
        layer
            .attention_out
            .forward(arch, &s.context, rows, &mut s.projected);
        let norm = &layer.attention_norm;
        kernel::add_layer_norm(arch, x, &s.projected, &norm.gamma, &norm.beta, self.eps());
        layer.up.forward(arch, x, rows, &mut s.intermediate);
        kernel::gelu(arch, &mut s.intermediate);
        layer
            .down
            .forward(arch, &s.intermediate, rows, &mut s.projected);
        let norm = &layer.output_norm;
        kernel::add_layer_norm(arch, x, &s.projected, &norm.gamma, &norm.beta, self.eps());
    }
}

/// Scaled dot-product attention of one text, every head: rows `start..start + len` of `qkv`
/// (query | key | value) into the same rows of `context`.
struct Attention<'a> {
    qkv: &'a [f32],
    context: &'a mut [f32],
    scores: &'a mut Vec<f32>,
    start: usize,
    len: usize,
    hidden: usize,
    heads: usize,
}

impl WithSimd for Attention<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        let Attention {
            qkv,
            context,
            scores,
            start,
            len,
            hidden,
            heads,
        } = self;
        let width = 3 * hidden;
        let head_size = hidden / heads;
        let scale = 1.0 / (head_size as f32).sqrt();
        let qkv = &qkv[start * width..(start + len) * width];
        let context = &mut context[start * hidden..(start + len) * hidden];
        scores.clear();
        scores.resize(len, 0.0);
        for head in 0..heads {
            let q_at = head * head_size;
            let k_at = hidden + q_at;
            let v_at = 2 * hidden + q_at;
            for (query_row, out_row) in qkv
                .chunks_exact(width)
                .zip(context.chunks_exact_mut(hidden))
            {
                let query = &query_row[q_at..q_at + head_size];
                for (score, key_row) in scores.iter_mut().zip(qkv.chunks_exact(width)) {
                    *score = kernel::dot(simd, query, &key_row[k_at..k_at + head_size]) * scale;
                }
                let max = scores.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
                let mut total = 0.0;
                for score in scores.iter_mut() {
                    *score = kernel::exp(*score - max);
                    total += *score;
                }
                let out = &mut out_row[q_at..q_at + head_size];
                for (score, value_row) in scores.iter().zip(qkv.chunks_exact(width)) {
                    let value = &value_row[v_at..v_at + head_size];
                    kernel::axpy(simd, score / total, value, out);
                }
            }
        }
    }
}

fn pack(
    weight: &[f32],
    bias: Vec<f32>,
    outputs: usize,
    inputs: usize,
) -> Result<Linear, WeightsError> {
    Linear::pack(weight, bias, outputs, inputs).ok_or_else(|| {
        WeightsError::Format(format!(
            "a {outputs} × {inputs} layer does not fit {} -column panels",
            kernel::NR
        ))
    })
}

#[derive(Deserialize)]
struct TensorInfo {
    dtype: String,
    shape: Vec<usize>,
    data_offsets: (usize, usize),
}

/// The tensors of a safetensors file: an 8-byte little-endian header length, a JSON header of
/// names, dtypes, shapes and byte ranges, then the data.
struct Tensors<'a> {
    header: HashMap<String, TensorInfo>,
    data: &'a [u8],
}

impl<'a> Tensors<'a> {
    fn parse(bytes: &'a [u8]) -> Result<Tensors<'a>, WeightsError> {
        let format = |message: &str| WeightsError::Format(message.to_owned());
        let (length, rest) = bytes
            .split_first_chunk::<8>()
            .ok_or_else(|| format("shorter than its header"))?;
        let length = usize::try_from(u64::from_le_bytes(*length))
            .map_err(|_| format("header length out of range"))?;
        if length > rest.len() {
            return Err(format("header length past the end of the file"));
        }
        let (header, data) = rest.split_at(length);
        // The header maps names to tensors, plus an optional `__metadata__` of strings.
        let mut raw: HashMap<String, serde_json::Value> =
            serde_json::from_slice(header).map_err(|e| WeightsError::Format(e.to_string()))?;
        raw.remove("__metadata__");
        let header = raw
            .into_iter()
            .map(|(name, value)| {
                let info: TensorInfo = serde_json::from_value(value)
                    .map_err(|e| WeightsError::Format(format!("{name}: {e}")))?;
                Ok((name, info))
            })
            .collect::<Result<_, WeightsError>>()?;
        Ok(Tensors { header, data })
    }

    /// An f32 tensor's values; a 0 in `expected` accepts any size in that dimension.
    fn get(&self, name: &str, expected: &[usize]) -> Result<Vec<f32>, WeightsError> {
        let info = self
            .header
            .get(name)
            .ok_or_else(|| WeightsError::Missing(name.to_owned()))?;
        let fits = info.shape.len() == expected.len()
            && info
                .shape
                .iter()
                .zip(expected)
                .all(|(s, e)| *e == 0 || s == e);
        if !fits || info.shape.contains(&0) {
            return Err(WeightsError::Shape {
                name: name.to_owned(),
                shape: info.shape.clone(),
                expected: expected.to_vec(),
            });
        }
        if info.dtype != "F32" {
            return Err(WeightsError::Format(format!(
                "{name} is {}, expected F32",
                info.dtype
            )));
        }
        let (from, to) = info.data_offsets;
        let count: usize = info.shape.iter().product();
        let bytes = self
            .data
            .get(from..to)
            .filter(|b| b.len() == count * 4)
            .ok_or_else(|| WeightsError::Format(format!("{name}: byte range out of bounds")))?;
        Ok(bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect())
    }

    fn linear(&self, prefix: &str, outputs: usize, inputs: usize) -> Result<Linear, WeightsError> {
        let weight = self.get(&format!("{prefix}.weight"), &[outputs, inputs])?;
        let bias = self.get(&format!("{prefix}.bias"), &[outputs])?;
        pack(&weight, bias, outputs, inputs)
    }

    fn norm(&self, prefix: &str, width: usize) -> Result<Norm, WeightsError> {
        Ok(Norm {
            gamma: self.get(&format!("{prefix}.weight"), &[width])?,
            beta: self.get(&format!("{prefix}.bias"), &[width])?,
        })
    }
}
