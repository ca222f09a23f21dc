//! Tensor operations that candle lacks or runs slowly on the CPU.
//!
//! The models keep activations channels-last (`[N, H, W, C]`), so a k×k convolution is an
//! [`im2col`] gather followed by one matrix product on candle's `gemm`-backed matmul, and its
//! gradients are matrix products plus the [`col2im`] scatter (the gather's adjoint).

mod im2col;

pub use im2col::{col2im, im2col};
