//! Model tests with small random weights: shapes, identity at init, gradients reach every weight.

use super::*;
use crate::testing::{random_net, small_specs};
use candle_core::{DType, Device, Module, Tensor, Var};
use candle_nn::VarMap;

fn input_channels(spec: &ModelSpec) -> usize {
    spec.kind().expect("a known kind").channels().0
}

#[test]
fn output_shapes() -> candle_core::Result<()> {
    for spec in small_specs() {
        let (net, _) = random_net(&spec, 0.0);
        let a = net.align();
        let x = Tensor::rand(
            0f32,
            1.,
            (2, 3 * a, 5 * a, input_channels(&spec)),
            &Device::Cpu,
        )?;
        let y = net.forward(&x)?;
        let s = spec.scale();
        let want = match &spec.arch {
            // The colour classifier: logits over the ab classes on a coarser grid.
            Arch::Colornet(c) => {
                let stride = 1 << c.out_level;
                [2, 3 * a / stride, 5 * a / stride, c.bins]
            }
            _ => [2, 3 * a * s, 5 * a * s, 3],
        };
        assert_eq!(y.dims(), &want, "{spec:?}");
        assert!(net.params() > 0 && net.macs_per_pixel() > 0.0);
    }
    Ok(())
}

#[test]
fn untrained_residual_nets_start_at_their_skip_path() -> candle_core::Result<()> {
    // The last conv starts at zero: denoise returns its RGB input, upscale returns bicubic.
    let specs = small_specs();
    let vm = VarMap::new();
    let dev = Device::Cpu;
    let denoise = Net::new(
        VarBuilder::from_varmap(&vm, DType::F32, &dev).pp("d"),
        &specs[0],
    )?;
    let x = Tensor::rand(0f32, 1., (1, 8, 8, 4), &dev)?;
    let diff = (denoise.forward(&x)? - x.narrow(3, 0, 3)?)?
        .abs()?
        .max_all()?
        .to_scalar::<f32>()?;
    assert!(diff < 1e-6);
    // Bicubic of a constant image is that constant.
    let up = Net::new(
        VarBuilder::from_varmap(&vm, DType::F32, &dev).pp("u"),
        &specs[1],
    )?;
    let flat = Tensor::full(0.3f32, (1, 6, 7, 3), &dev)?;
    let y = up.forward(&flat)?;
    // Away from the zero-padded border the output is exactly flat.
    let inner = y.narrow(1, 4, 4)?.narrow(2, 4, 6)?;
    assert!((inner - 0.3)?.abs()?.max_all()?.to_scalar::<f32>()? < 1e-5);
    Ok(())
}

#[test]
fn gradients_reach_every_weight() -> candle_core::Result<()> {
    for spec in small_specs() {
        // Move the zero-initialised last layer off zero so every gradient path is live.
        let (net, vm) = random_net(&spec, 0.1);
        let a = net.align();
        let shape = (1, 2 * a, 2 * a, input_channels(&spec));
        let mut rng = crate::testing::Rng(7);
        let pixels = (0..shape.0 * shape.1 * shape.2 * shape.3)
            .map(|_| rng.unit())
            .collect::<Vec<_>>();
        let x = Var::from_vec(pixels, shape, &Device::Cpu)?;
        let loss = net.forward(x.as_tensor())?.sqr()?.mean_all()?;
        let grads = loss.backward()?;
        // The noise estimator shares the map (`estimator.*`) but is a separate network.
        let net_vars = vm
            .data()
            .lock()
            .unwrap()
            .iter()
            .filter(|(name, _)| !name.starts_with("estimator."))
            .map(|(_, var)| var.clone())
            .collect::<Vec<_>>();
        for var in net_vars {
            let g = grads.get(&var).expect("every weight gets a gradient");
            assert!(
                g.abs()?.sum_all()?.to_scalar::<f32>()? > 0.0,
                "{spec:?}: zero gradient"
            );
        }
        assert!(grads.get(&x).is_some());
    }
    Ok(())
}

#[test]
fn finite_difference_check_of_a_tiny_unet() -> candle_core::Result<()> {
    let spec = ModelSpec {
        task: Task::Colorize,
        arch: Arch::Unet(UNetConfig {
            in_channels: 1,
            out_channels: 2,
            widths: vec![2, 3],
            blocks: 1,
            residual: false,
        }),
        estimator: None,
    };
    let dev = Device::Cpu;
    let vm = VarMap::new();
    let net = Net::new(VarBuilder::from_varmap(&vm, DType::F32, &dev), &spec)?;
    // Seeded values and a fixed variable order: the check is deterministic (no run can land a
    // finite-difference step across a ReLU kink by chance).
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let mut seeded = |shape: &candle_core::Shape, scale: f32| -> candle_core::Result<Tensor> {
        let v: Vec<f32> = (0..shape.elem_count())
            .map(|_| rng.random_range(-1.0f32..1.0) * scale)
            .collect();
        Tensor::from_vec(v, shape, &dev)
    };
    let mut vars: Vec<(String, Var)> = vm
        .data()
        .lock()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    vars.sort_by(|a, b| a.0.cmp(&b.0));
    for (_, var) in &vars {
        var.set(&seeded(var.shape(), 0.5)?)?;
    }
    let x = seeded(&(1, 4, 4, 1).into(), 1.0)?;
    let target = seeded(&(1, 4, 4, 2).into(), 1.0)?;
    let loss_of = |net: &Net| -> candle_core::Result<f32> {
        (net.forward(&x)? - &target)?
            .sqr()?
            .sum_all()?
            .to_scalar::<f32>()
    };
    let grads = (net.forward(&x)? - &target)?.sqr()?.sum_all()?.backward()?;
    let eps = 1e-3f32;
    for (_, var) in &vars {
        let g = grads.get(var).unwrap().flatten_all()?.to_vec1::<f32>()?;
        let base = var.as_tensor().flatten_all()?.to_vec1::<f32>()?;
        for i in [0, base.len() / 2] {
            let mut shifted = base.clone();
            shifted[i] += eps;
            var.set(&Tensor::from_vec(shifted.clone(), var.shape(), &dev)?)?;
            let up = loss_of(&net)?;
            shifted[i] -= 2.0 * eps;
            var.set(&Tensor::from_vec(shifted, var.shape(), &dev)?)?;
            let down = loss_of(&net)?;
            var.set(&Tensor::from_vec(base.clone(), var.shape(), &dev)?)?;
            let numeric = (up - down) / (2.0 * eps);
            assert!(
                (numeric - g[i]).abs() <= 2e-2 * (1.0 + g[i].abs()),
                "numeric {numeric} vs autograd {}",
                g[i]
            );
        }
    }
    Ok(())
}

/// Sets every variable to the scale of a trained net: weights He-normal (std √(2 / fan_in)),
/// biases std 0.05.
fn trained_scale(vm: &VarMap) -> candle_core::Result<()> {
    for var in vm.all_vars() {
        let std = match var.dims() {
            [fan_in, _] => (2.0 / *fan_in as f32).sqrt(),
            _ => 0.05,
        };
        var.set(&Tensor::randn(0f32, std, var.shape(), &Device::Cpu)?)?;
    }
    Ok(())
}

#[test]
fn winograd_matches_the_direct_path_on_every_shipped_architecture() -> candle_core::Result<()> {
    use crate::testing::winograd_error;
    let dev = Device::Cpu;
    for kind in ModelKind::ALL {
        let spec = kind.default_spec();
        let (mut net, vm) = random_net(&spec, 0.0);
        trained_scale(&vm)?;
        net.prepare_inference()?;
        let side = if kind.scale() > 1 { 48 } else { 64 };
        let x = Tensor::rand(0f32, 1., (1, side, side, kind.channels().0), &dev)?;
        let e = winograd_error(|| net.forward(&x))?;
        eprintln!("{kind}: Winograd error {e:.2e} of the output range");
        // Zero would mean the Winograd path never ran.
        assert!(e > 0.0 && e < 1e-4, "{kind}: Winograd error {e:.2e}");
        if let Some(cfg) = &spec.estimator {
            let vb = VarBuilder::from_varmap(&vm, DType::F32, &dev);
            let mut est = NoiseEstimator::new(vb.pp("estimator"), cfg)?;
            est.prepare_inference()?;
            // Crops of different contrast, so that the estimates differ.
            let crops = (0..8)
                .map(|i| Tensor::rand(0f32, 0.1 + 0.1 * i as f32, (1, 32, 32, 3), &dev))
                .collect::<candle_core::Result<Vec<_>>>()?;
            let crops = Tensor::cat(&crops, 0)?;
            let e = winograd_error(|| est.forward(&crops))?;
            eprintln!("{kind} noise estimator: Winograd error {e:.2e}");
            assert!(
                e > 0.0 && e < 1e-4,
                "{kind} estimator: Winograd error {e:.2e}"
            );
        }
    }
    Ok(())
}
