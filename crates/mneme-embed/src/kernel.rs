//! The numeric kernels of the BERT forward pass: a matrix product against pre-packed weights and
//! the element-wise functions (GELU, exp, layer norm), vectorised through `pulp`, which picks
//! AVX-512, AVX2/FMA or scalar code at run time without `unsafe` in this crate.
//!
//! Every output is one chain of fused multiply-adds over `k` in the same order whatever the other
//! rows are and whatever the register width, so a text's vector does not depend on the batch it
//! is embedded in, nor on whether the machine has AVX-512.

use pulp::{Arch, Simd, WithSimd};

/// Columns per packed weight panel: two AVX2 registers of f32, one AVX-512 register.
pub(crate) const NR: usize = 16;
/// Rows per register block with AVX2: 6 rows × 2 registers of accumulators + 2 weight registers
/// + 1 broadcast fill 15 of the 16 registers.
const MR_AVX2: usize = 6;
/// Rows per register block with AVX-512: 12 accumulators + 1 weight + 1 broadcast of its 32
/// registers; at least 8 independent chains keep both FMA pipes busy through their latency.
const MR_AVX512: usize = 12;

/// The rows per register block for a SIMD width.
fn rows_per_block<S: Simd>() -> usize {
    if S::F32_LANES == NR {
        MR_AVX512
    } else {
        MR_AVX2
    }
}

/// The weights of a linear layer `y = x · Wᵀ + b`, stored as panels of `NR` output columns, each
/// panel `k`-major, so the inner loop reads weights contiguously once per row block.
pub(crate) struct Linear {
    inputs: usize,
    outputs: usize,
    panels: Vec<f32>,
    bias: Vec<f32>,
}

impl Linear {
    /// `weight` is row-major `outputs × inputs`, as PyTorch stores it; `outputs` must be a
    /// multiple of `NR` (true of every BERT size).
    pub(crate) fn pack(
        weight: &[f32],
        bias: Vec<f32>,
        outputs: usize,
        inputs: usize,
    ) -> Option<Linear> {
        if !outputs.is_multiple_of(NR) || weight.len() != outputs * inputs || bias.len() != outputs
        {
            return None;
        }
        let mut panels = Vec::with_capacity(weight.len());
        for panel in 0..outputs / NR {
            for k in 0..inputs {
                for column in 0..NR {
                    panels.push(weight[(panel * NR + column) * inputs + k]);
                }
            }
        }
        Some(Linear {
            inputs,
            outputs,
            panels,
            bias,
        })
    }

    /// `out = x · Wᵀ + b` for `rows` rows of `x`; `out` is resized to `rows × outputs`.
    pub(crate) fn forward(&self, arch: Arch, x: &[f32], rows: usize, out: &mut Vec<f32>) {
        out.clear();
        out.resize(rows * self.outputs, 0.0);
        arch.dispatch(MatMul {
            linear: self,
            x,
            rows,
            out,
        });
    }
}

/// The rows of `x` in blocks of `mr`, each block `k`-major (`block[k * m + r]`), so the kernel
/// reads one block's inputs contiguously.
fn pack_rows(x: &[f32], rows: usize, inputs: usize, mr: usize) -> Vec<f32> {
    let mut packed = Vec::with_capacity(rows * inputs);
    for first in (0..rows).step_by(mr) {
        let m = mr.min(rows - first);
        for k in 0..inputs {
            for r in 0..m {
                packed.push(x[(first + r) * inputs + k]);
            }
        }
    }
    packed
}

struct MatMul<'a> {
    linear: &'a Linear,
    x: &'a [f32],
    rows: usize,
    out: &'a mut [f32],
}

impl WithSimd for MatMul<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        match NR / S::F32_LANES {
            1 if S::F32_LANES == NR => self.run::<S, 1>(simd),
            2 if 2 * S::F32_LANES == NR => self.run::<S, 2>(simd),
            4 if 4 * S::F32_LANES == NR => self.run::<S, 4>(simd),
            _ => self.run_scalar(),
        }
    }
}

impl MatMul<'_> {
    /// `V` registers per panel row. Panels outermost: a panel (24 KB at 384 inputs) stays in L1
    /// while every row block passes over it, so the weights come from memory once per call.
    #[inline(always)]
    fn run<S: Simd, const V: usize>(self, simd: S) {
        let MatMul {
            linear,
            x,
            rows,
            out,
        } = self;
        let k = linear.inputs;
        let n = linear.outputs;
        let mr = rows_per_block::<S>();
        let packed = pack_rows(x, rows, k, mr);
        for (panel_index, panel) in linear.panels.chunks_exact(k * NR).enumerate() {
            let column = panel_index * NR;
            let (panel, _) = S::as_simd_f32s(panel);
            let (bias, _) = S::as_simd_f32s(&linear.bias[column..column + NR]);
            let mut first = 0;
            while first < rows {
                let m = mr.min(rows - first);
                let block = &packed[first * k..(first + m) * k];
                let out = &mut out[first * n..];
                let args = (simd, block, panel, bias, out, n, column);
                match m {
                    1 => block_kernel::<S, V, 1>(args),
                    2 => block_kernel::<S, V, 2>(args),
                    3 => block_kernel::<S, V, 3>(args),
                    4 => block_kernel::<S, V, 4>(args),
                    5 => block_kernel::<S, V, 5>(args),
                    6 => block_kernel::<S, V, 6>(args),
                    // Only AVX-512 blocks (one register a row) are taller than 6 rows.
                    7 => block_kernel::<S, V, 7>(args),
                    8 => block_kernel::<S, V, 8>(args),
                    9 => block_kernel::<S, V, 9>(args),
                    10 => block_kernel::<S, V, 10>(args),
                    11 => block_kernel::<S, V, 11>(args),
                    _ => block_kernel::<S, V, MR_AVX512>(args),
                }
                first += m;
            }
        }
    }

    /// For SIMD widths that do not divide a panel (none on x86 or aarch64 today).
    fn run_scalar(self) {
        let k = self.linear.inputs;
        let n = self.linear.outputs;
        let packed = pack_rows(self.x, self.rows, k, MR_AVX2);
        let mut first = 0;
        while first < self.rows {
            let m = MR_AVX2.min(self.rows - first);
            let block = &packed[first * k..(first + m) * k];
            for (panel_index, panel) in self.linear.panels.chunks_exact(k * NR).enumerate() {
                for r in 0..m {
                    for c in 0..NR {
                        let column = panel_index * NR + c;
                        let mut sum = self.linear.bias[column];
                        for i in 0..k {
                            sum = block[i * m + r].mul_add(panel[i * NR + c], sum);
                        }
                        self.out[(first + r) * n + column] = sum;
                    }
                }
            }
            first += m;
        }
    }
}

/// What a block kernel works on: the SIMD token, the block's packed rows, the weight panel, the
/// panel's bias, the output from the block's first row, the output width and the panel's column.
type BlockArgs<'a, S> = (
    S,
    &'a [f32],
    &'a [<S as Simd>::f32s],
    &'a [<S as Simd>::f32s],
    &'a mut [f32],
    usize,
    usize,
);

/// `M` rows × one panel: `M × V` accumulators in registers across the whole `k` loop.
#[inline(always)]
fn block_kernel<S: Simd, const V: usize, const M: usize>(args: BlockArgs<'_, S>) {
    let (simd, block, panel, bias, out, n, column) = args;
    let mut acc: [[S::f32s; V]; M] = [std::array::from_fn(|v| bias[v]); M];
    for (x, w) in block.chunks_exact(M).zip(panel.chunks_exact(V)) {
        for r in 0..M {
            let a = simd.splat_f32s(x[r]);
            for v in 0..V {
                acc[r][v] = simd.mul_add_f32s(a, w[v], acc[r][v]);
            }
        }
    }
    for (r, row) in acc.iter().enumerate() {
        let start = r * n + column;
        let (dst, _) = S::as_mut_simd_f32s(&mut out[start..start + NR]);
        dst.copy_from_slice(row);
    }
}

/// `Σ a[i]·b[i]` with `S`'s registers; the attention's query·key products.
#[inline(always)]
pub(crate) fn dot<S: Simd>(simd: S, a: &[f32], b: &[f32]) -> f32 {
    let (a_head, a_tail) = S::as_simd_f32s(a);
    let (b_head, b_tail) = S::as_simd_f32s(b);
    let mut acc = simd.splat_f32s(0.0);
    for (x, y) in a_head.iter().zip(b_head) {
        acc = simd.mul_add_f32s(*x, *y, acc);
    }
    let tail: f32 = a_tail.iter().zip(b_tail).map(|(x, y)| x * y).sum();
    simd.reduce_sum_f32s(acc) + tail
}

/// `y += alpha · x`; the attention's weighted sum of values.
#[inline(always)]
pub(crate) fn axpy<S: Simd>(simd: S, alpha: f32, x: &[f32], y: &mut [f32]) {
    let (x_head, x_tail) = S::as_simd_f32s(x);
    let (y_head, y_tail) = S::as_mut_simd_f32s(y);
    let a = simd.splat_f32s(alpha);
    for (xv, yv) in x_head.iter().zip(y_head) {
        *yv = simd.mul_add_f32s(a, *xv, *yv);
    }
    for (xs, ys) in x_tail.iter().zip(y_tail) {
        *ys = alpha.mul_add(*xs, *ys);
    }
}

/// `e^x` to about 2 ulp for `x` in [-87, 88], in plain arithmetic the compiler vectorises
/// (Cephes' `expf`: 2^n times a degree-6 polynomial); `f32::exp` is a libm call per element.
#[inline(always)]
pub(crate) fn exp(x: f32) -> f32 {
    let x = x.clamp(-87.0, 88.0);
    let n = (x * std::f32::consts::LOG2_E + 0.5).floor();
    let r = x - n * 0.693_359_4 + n * 2.121_944_4e-4;
    let mut p = 1.987_569_1e-4_f32;
    p = p.mul_add(r, 1.398_199_9e-3);
    p = p.mul_add(r, 8.333_452e-3);
    p = p.mul_add(r, 4.166_579_6e-2);
    p = p.mul_add(r, 1.666_666_5e-1);
    p = p.mul_add(r, 0.5);
    let y = p.mul_add(r * r, r) + 1.0;
    // n is in [-126, 127]: a normal power of two.
    y * f32::from_bits(((n as i32 + 127) as u32) << 23)
}

/// `erf(x)` to a few ulp, a rational approximation on [-4, 4] (Eigen's and XLA's), without a
/// libm call so that GELU vectorises; outside that range erf is ±1 in f32.
#[inline(always)]
pub(crate) fn erf(x: f32) -> f32 {
    let x = x.clamp(-4.0, 4.0);
    let x2 = x * x;
    let mut p = -2.726_142_3e-10_f32;
    p = p.mul_add(x2, 2.770_681_4e-8);
    p = p.mul_add(x2, -2.101_024e-6);
    p = p.mul_add(x2, -5.692_506_4e-5);
    p = p.mul_add(x2, -7.349_906_3e-4);
    p = p.mul_add(x2, -2.954_6e-3);
    p = p.mul_add(x2, -1.609_603_3e-2);
    let mut q = -1.456_607_2e-5_f32;
    q = q.mul_add(x2, -2.133_740_6e-4);
    q = q.mul_add(x2, -1.682_827e-3);
    q = q.mul_add(x2, -7.373_329e-3);
    q = q.mul_add(x2, -1.426_474e-2);
    x * p / q
}

/// BERT's GELU, the exact (erf) form, in place.
pub(crate) fn gelu(arch: Arch, values: &mut [f32]) {
    arch.dispatch(
        #[inline(always)]
        || {
            for v in values.iter_mut() {
                *v = 0.5 * *v * (1.0 + erf(*v * std::f32::consts::FRAC_1_SQRT_2));
            }
        },
    );
}

/// `x ← LayerNorm(x + residual)` row by row, over `gamma.len()` columns.
pub(crate) fn add_layer_norm(
    arch: Arch,
    x: &mut [f32],
    residual: &[f32],
    gamma: &[f32],
    beta: &[f32],
    eps: f32,
) {
    arch.dispatch(
        #[inline(always)]
        || {
            let width = gamma.len();
            for (row, res) in x.chunks_exact_mut(width).zip(residual.chunks_exact(width)) {
                row.iter_mut().zip(res).for_each(|(v, r)| *v += r);
                normalize_row(row, gamma, beta, eps);
            }
        },
    );
}

/// LayerNorm of one row in place: two passes, mean then variance, as PyTorch computes it.
#[inline(always)]
pub(crate) fn normalize_row(row: &mut [f32], gamma: &[f32], beta: &[f32], eps: f32) {
    let width = row.len() as f32;
    let mean = row.iter().sum::<f32>() / width;
    let variance = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / width;
    let scale = 1.0 / (variance + eps).sqrt();
    for ((v, g), b) in row.iter_mut().zip(gamma).zip(beta) {
        *v = (*v - mean) * scale * g + b;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_packed_product_matches_the_naive_one_for_every_row_count() {
        let (inputs, outputs) = (37, 32);
        let weight: Vec<f32> = (0..inputs * outputs)
            .map(|i| ((i * 7919) % 23) as f32 / 23.0 - 0.5)
            .collect();
        let bias: Vec<f32> = (0..outputs).map(|i| i as f32 * 0.1).collect();
        let linear = Linear::pack(&weight, bias.clone(), outputs, inputs).unwrap();
        for rows in 1..=13 {
            let x: Vec<f32> = (0..rows * inputs)
                .map(|i| ((i * 31) % 17) as f32 / 17.0 - 0.3)
                .collect();
            let mut out = Vec::new();
            linear.forward(Arch::new(), &x, rows, &mut out);
            for r in 0..rows {
                for o in 0..outputs {
                    let expected: f32 = bias[o]
                        + (0..inputs)
                            .map(|i| x[r * inputs + i] * weight[o * inputs + i])
                            .sum::<f32>();
                    let got = out[r * outputs + o];
                    assert!(
                        (got - expected).abs() < 1e-4,
                        "{rows} rows: {got} vs {expected}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_row_gets_the_same_bits_alone_or_with_others() {
        let (inputs, outputs) = (64, 16);
        let weight: Vec<f32> = (0..inputs * outputs).map(|i| (i as f32).sin()).collect();
        let linear = Linear::pack(&weight, vec![0.5; outputs], outputs, inputs).unwrap();
        let x: Vec<f32> = (0..9 * inputs).map(|i| (i as f32 * 0.37).cos()).collect();
        let mut all = Vec::new();
        linear.forward(Arch::new(), &x, 9, &mut all);
        let mut alone = Vec::new();
        linear.forward(Arch::new(), &x[8 * inputs..], 1, &mut alone);
        assert_eq!(alone[..], all[8 * outputs..]);
    }

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn avx512_avx2_and_scalar_give_the_same_bits() {
        let (inputs, outputs) = (96, 48);
        let weight: Vec<f32> = (0..inputs * outputs)
            .map(|i| (i as f32 * 0.11).sin())
            .collect();
        let bias: Vec<f32> = (0..outputs).map(|i| (i as f32).cos()).collect();
        let linear = Linear::pack(&weight, bias, outputs, inputs).unwrap();
        let x: Vec<f32> = (0..29 * inputs).map(|i| (i as f32 * 0.37).cos()).collect();
        let run = |arch: Arch| {
            let mut out = Vec::new();
            linear.forward(arch, &x, 29, &mut out);
            out
        };
        let scalar = run(Arch::Scalar);
        // Each machine checks the widths it has; the scalar code runs everywhere.
        if let Some(v3) = pulp::x86::V3::try_new() {
            assert_eq!(run(Arch::V3(v3)), scalar, "AVX2");
        }
        if let Some(v4) = pulp::x86::V4::try_new() {
            assert_eq!(run(Arch::V4(v4)), scalar, "AVX-512");
        }
    }

    #[test]
    fn a_linear_layer_with_a_ragged_width_is_refused() {
        assert!(Linear::pack(&[0.0; 10], vec![0.0; 10], 10, 1).is_none());
    }

    #[test]
    // The tables' digits, as printed.
    #[allow(clippy::excessive_precision)]
    fn exp_and_erf_match_the_reference_values() {
        for x in [
            -87.0_f32, -20.0, -3.3, -1.0, -0.01, 0.0, 0.5, 1.0, 7.25, 80.0,
        ] {
            let (got, want) = (exp(x), x.exp());
            assert!(
                ((got - want) / want).abs() < 1e-6,
                "exp({x}): {got} vs {want}"
            );
        }
        // erf from tables (Abramowitz & Stegun), to 9 digits.
        for (x, want) in [
            (0.0_f32, 0.0_f32),
            (0.1, 0.112_462_916),
            (0.5, 0.520_499_878),
            (1.0, 0.842_700_793),
            (2.0, 0.995_322_265),
            (3.0, 0.999_977_910),
            (-1.0, -0.842_700_793),
            (9.0, 1.0),
        ] {
            assert!(
                (erf(x) - want).abs() < 1e-6,
                "erf({x}): {} vs {want}",
                erf(x)
            );
        }
    }

    #[test]
    fn layer_norm_gives_zero_mean_unit_variance() {
        let mut x = vec![1.0, 2.0, 3.0, 6.0];
        add_layer_norm(Arch::new(), &mut x, &[0.0; 4], &[1.0; 4], &[0.0; 4], 1e-12);
        let mean = x.iter().sum::<f32>() / 4.0;
        let variance = x.iter().map(|v| v * v).sum::<f32>() / 4.0;
        assert!(mean.abs() < 1e-6 && (variance - 1.0).abs() < 1e-5, "{x:?}");
    }
}
