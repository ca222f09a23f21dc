//! Piecewise-linear lookup in small calibration tables.

/// `points` (x ascending) joined by straight lines and held flat beyond the first and last
/// point, at `x`.
pub fn piecewise_linear(points: &[(f32, f32)], x: f32) -> f32 {
    let (first, last) = (points[0], points[points.len() - 1]);
    if x <= first.0 {
        return first.1;
    }
    points.windows(2).find(|w| x <= w[1].0).map_or(last.1, |w| {
        let t = (x - w[0].0) / (w[1].0 - w[0].0);
        w[0].1 + t * (w[1].1 - w[0].1)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_between_points_flat_beyond_them() {
        let points = [(1.0, 4.0), (3.0, 2.0), (7.0, 2.0)];
        for (x, y) in points {
            assert_eq!(piecewise_linear(&points, x), y);
        }
        assert_eq!(piecewise_linear(&points, -5.0), 4.0);
        assert_eq!(piecewise_linear(&points, 2.0), 3.0);
        assert_eq!(piecewise_linear(&points, 5.0), 2.0);
        assert_eq!(piecewise_linear(&points, 100.0), 2.0);
        assert_eq!(piecewise_linear(&[(1.0, 9.0)], 0.0), 9.0);
        assert_eq!(piecewise_linear(&[(1.0, 9.0)], 2.0), 9.0);
    }
}
