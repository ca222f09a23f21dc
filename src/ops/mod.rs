//! Tensor operations that candle lacks or runs slowly on the CPU.
//!
//! The models keep activations channels-last (`[N, H, W, C]`). On the CPU a k×k convolution is
//! [`conv2d_nhwc`]: one fused op (blocked implicit GEMM + bias + optional ReLU, with its own
//! backward; 3×3 convs over 8+ channels run its forward and input-gradient convs through
//! [`Winograd`], the kernel transformed per call); on a GPU [`crate::models::Conv`] uses candle's
//! own conv2d. A residual block in training is one op, [`res_block_nhwc`], built on the same
//! pieces. Inference nets (loaded weights: `Net::prepare_inference`) run their 3×3 convs
//! through [`Winograd`] with the kernel transformed once, at load.
//!
//! For tests and the benchmark (`examples/aetool-bench.rs`) only — the `bench` feature, which
//! the crate's dev-dependency on itself turns on — [`im2col`] is the older, unfused path (a
//! materialised gather followed by one matrix product on candle's matmul), kept as a reference,
//! and [`set_conv_impl`] switches the CPU path of every [`crate::models::Conv`].

mod conv;
#[cfg(any(test, feature = "bench"))]
mod im2col;
mod res_block;
mod winograd;

pub use conv::conv2d_nhwc;
#[cfg(any(test, feature = "bench"))]
pub use im2col::im2col;
pub use res_block::res_block_nhwc;
#[cfg(any(test, feature = "bench"))]
pub use switch::{conv_impl, set_conv_impl, ConvImpl};
pub use winograd::Winograd;

#[cfg(any(test, feature = "bench"))]
mod switch {
    use std::cell::Cell;

    /// How [`crate::models::Conv`] runs on the CPU. GPU devices always use candle's own conv2d.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub enum ConvImpl {
        /// The product's path (the default): [`super::Winograd`] for the 3×3 convs that
        /// `prepare_inference` prepared, [`super::conv2d_nhwc`] (Winograd inside for 3×3 convs
        /// over 8+ channels) for every other conv.
        #[default]
        Winograd,
        /// [`super::conv2d_nhwc`] for every conv, prepared or not, always on its implicit GEMM:
        /// fused implicit GEMM, bias and ReLU (the direct path), forward and backward.
        Fused,
        /// [`super::im2col`] + candle matmul + broadcast bias add + separate ReLU.
        Im2col,
        /// candle's NCHW `conv2d` on permuted tensors (stock candle; for comparison only).
        Candle,
    }

    thread_local! {
        static CONV_IMPL: Cell<ConvImpl> = const { Cell::new(ConvImpl::Winograd) };
    }

    /// Selects the CPU convolution path of every [`crate::models::Conv`] run from the calling
    /// thread (a benchmarking and testing knob; every thread starts at the default,
    /// [`ConvImpl::Winograd`]).
    pub fn set_conv_impl(imp: ConvImpl) {
        CONV_IMPL.with(|c| c.set(imp));
    }

    /// The CPU convolution path in use on the calling thread.
    pub fn conv_impl() -> ConvImpl {
        CONV_IMPL.with(Cell::get)
    }
}

/// Borrows the contiguous f32 data of a CPU storage (the custom ops' inputs).
pub(crate) fn f32_slice<'a>(
    storage: &'a candle_core::CpuStorage,
    layout: &candle_core::Layout,
    op: &str,
) -> candle_core::Result<&'a [f32]> {
    let candle_core::CpuStorage::F32(data) = storage else {
        candle_core::bail!("{op}: only f32 tensors are supported")
    };
    match layout.contiguous_offsets() {
        Some((start, end)) => Ok(&data[start..end]),
        None => candle_core::bail!("{op}: input must be contiguous"),
    }
}

/// As [`f32_slice`], mutable (the in-place ops' destinations).
pub(crate) fn f32_slice_mut<'a>(
    storage: &'a mut candle_core::CpuStorage,
    layout: &candle_core::Layout,
    op: &str,
) -> candle_core::Result<&'a mut [f32]> {
    let candle_core::CpuStorage::F32(data) = storage else {
        candle_core::bail!("{op}: only f32 tensors are supported")
    };
    match layout.contiguous_offsets() {
        Some((start, end)) => Ok(&mut data[start..end]),
        None => candle_core::bail!("{op}: input must be contiguous"),
    }
}

/// `dst[m×n] (+)= lhs[m×k] · rhs[k×n]`: `dst` and `rhs` row-major, `lhs` with the given
/// `(row, column)` strides (they may overlap: an implicit im2col view), single-threaded.
#[allow(clippy::too_many_arguments)]
fn sgemm(
    m: usize,
    n: usize,
    k: usize,
    dst: &mut [f32],
    accumulate: bool,
    lhs: &[f32],
    (lhs_rs, lhs_cs): (usize, usize),
    rhs: &[f32],
) {
    if m == 0 || n == 0 {
        return;
    }
    assert!(dst.len() >= m * n && rhs.len() >= k * n);
    assert!(k == 0 || lhs.len() > (m - 1) * lhs_rs + (k - 1) * lhs_cs);
    // SAFETY: the asserts above bound every element gemm reads or writes; `dst` does not alias
    // `lhs`/`rhs` (distinct borrows).
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            lhs.as_ptr(),
            lhs_cs as isize,
            lhs_rs as isize,
            rhs.as_ptr(),
            1,
            n as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}
