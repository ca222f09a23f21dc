//! Pure numerics shared by inference, training and evaluation: colour spaces, noise
//! estimation, quality metrics, resizing. No I/O, no models.

pub mod color;
pub mod colour_bins;
pub mod colour_metrics;
pub mod guided;
pub mod metrics;
pub mod noise;
pub mod piecewise;
pub mod resample;
