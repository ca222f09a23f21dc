//! The network being trained: its spec, its variables and their initial values (the base
//! weights, or fresh ones drawn from the run's seed). Denoise trains a noise-level estimator
//! beside the network (keys `estimator.*`); base weights of an older architecture for the
//! task warm-start today's architecture from every tensor whose name and shape match.

use super::{Base, TrainConfig};
use crate::models::{is_estimator_key, ModelSpec, Net, NoiseEstimator};
use anyhow::{bail, Result};
use candle_core::{DType, Device, Tensor, Var};
use candle_nn::{VarBuilder, VarMap};
use rand::{Rng, SeedableRng};
use std::collections::HashMap;

/// A trainable network.
pub(super) struct Model {
    pub(super) spec: ModelSpec,
    /// Where the initial values came from: `scratch`, `bundled:denoise`, a path, `hf:…`.
    pub(super) base_name: String,
    pub(super) net: Net,
    /// Denoise: the blind noise-level estimator trained beside the network.
    pub(super) estimator: Option<NoiseEstimator>,
    /// Set when the base had an older architecture: how much of it was reused.
    pub(super) warm_start: Option<String>,
    varmap: VarMap,
}

impl Model {
    /// Builds the network of `cfg`'s kind from its base.
    pub(super) fn start(cfg: &TrainConfig) -> Result<Self> {
        let (h, device) = (&cfg.hyper, &cfg.device);
        let kind = h.kind();
        let default = kind.default_spec();
        let (mut spec, base_name, base_tensors) = match &cfg.base {
            Base::Scratch => (default.clone(), "scratch".to_string(), None),
            Base::Weights(src) => {
                let (spec, origin, tensors) = crate::weights::load_tensors(src, kind, device)?;
                (spec, origin, Some(tensors))
            }
        };
        let transfer = std::mem::discriminant(&spec.arch) != std::mem::discriminant(&default.arch);
        if transfer {
            spec = default.clone();
        }
        if h.mixture.is_realistic() && spec.estimator.is_none() {
            // Denoise weights made before the estimator gain a fresh one.
            spec.estimator = default.estimator;
        }
        let varmap = VarMap::new();
        // Fresh weights are drawn from the run's seed (candle's CPU RNG cannot be seeded, so with
        // `from_varmap` two runs with the same `--seed` would differ); base weights replace them.
        let vb = VarBuilder::from_backend(
            Box::new(SeededInit {
                map: varmap.clone(),
                rng: std::sync::Mutex::new(rand::rngs::StdRng::seed_from_u64(
                    h.seed ^ 0xA5A5_1D1D_5EED_0001,
                )),
            }),
            DType::F32,
            device.clone(),
        );
        let net = Net::new(vb.clone(), &spec)?;
        let estimator = spec
            .estimator
            .as_ref()
            .map(|c| NoiseEstimator::new(vb.pp("estimator"), c))
            .transpose()?;
        let mut model = Self {
            spec,
            base_name,
            net,
            estimator,
            warm_start: None,
            varmap,
        };
        if let Some(tensors) = &base_tensors {
            model.take_base(tensors, transfer)?;
        }
        Ok(model)
    }

    /// Sets the variables from the base weights. With `transfer` (an older architecture) only
    /// tensors of matching name and shape are taken; a base without an estimator keeps the
    /// fresh one.
    fn take_base(&mut self, tensors: &HashMap<String, Tensor>, transfer: bool) -> Result<()> {
        let has_estimator = tensors.keys().any(|k| is_estimator_key(k));
        let vars = self.named_vars();
        let mut taken = 0;
        for (name, var) in &vars {
            match tensors.get(name) {
                Some(t) if !transfer || t.dims() == var.dims() => {
                    var.set(t)?;
                    taken += 1;
                }
                _ if transfer || (!has_estimator && is_estimator_key(name)) => {}
                _ => bail!("{}: missing tensor `{name}`", self.base_name),
            }
        }
        if transfer {
            self.warm_start = Some(format!(
                "aetool: warm start: {taken} of {} tensors taken from {} (an older architecture); the rest start fresh",
                vars.len(),
                self.base_name
            ));
        }
        Ok(())
    }

    /// The variables sorted by name (the safetensors keys).
    pub(super) fn named_vars(&self) -> Vec<(String, Var)> {
        let map = self.varmap.data().lock().expect("varmap lock");
        let mut v: Vec<_> = map.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    /// The variables the optimiser changes (sorted by name): all of them, or the estimator's
    /// with [`Hyper::estimator_only`](super::Hyper).
    pub(super) fn trained_vars(&self, h: &super::Hyper) -> Vec<(String, Var)> {
        let mut vars = self.named_vars();
        if h.estimator_only {
            vars.retain(|(name, _)| is_estimator_key(name));
        }
        vars
    }

    /// Rebuilds the network on `device` from its current values as constants
    /// (`--estimator-only`, see [`Net::from_constants`]). The variables keep the same values,
    /// so the output still holds them.
    pub(super) fn freeze_net(&mut self, device: &Device) -> Result<()> {
        self.net = Net::from_constants(self.tensors(), &self.spec, device)?;
        Ok(())
    }

    /// The current values, for writing.
    pub(super) fn tensors(&self) -> Vec<(String, Tensor)> {
        self.named_vars()
            .into_iter()
            .map(|(n, v)| (n, v.as_tensor().clone()))
            .collect()
    }
}

/// A [`VarMap`] backend that draws new variables' initial values from a seeded RNG (in the
/// order the network asks for them), so a `--from scratch` run is reproducible.
struct SeededInit {
    map: VarMap,
    rng: std::sync::Mutex<rand::rngs::StdRng>,
}

impl candle_nn::var_builder::SimpleBackend for SeededInit {
    fn get(
        &self,
        shape: candle_core::Shape,
        name: &str,
        init: candle_nn::Init,
        dtype: DType,
        dev: &Device,
    ) -> candle_core::Result<Tensor> {
        use candle_nn::init::NormalOrUniform;
        use candle_nn::Init;
        if self
            .map
            .data()
            .lock()
            .expect("varmap lock")
            .contains_key(name)
        {
            return self.map.get(shape, name, init, dtype, dev);
        }
        let n = shape.elem_count();
        let mut guard = self.rng.lock().expect("init rng lock");
        let rng = &mut *guard;
        let uniform = |rng: &mut rand::rngs::StdRng, lo: f64, up: f64| -> Vec<f32> {
            (0..n).map(|_| rng.random_range(lo..up) as f32).collect()
        };
        let normal = |rng: &mut rand::rngs::StdRng, mean: f64, std: f64| -> Vec<f32> {
            (0..n)
                .map(|_| {
                    let z: f64 = rand_distr::Distribution::sample(&rand_distr::StandardNormal, rng);
                    (mean + z * std) as f32
                })
                .collect()
        };
        let values: Vec<f32> = match init {
            Init::Const(c) => vec![c as f32; n],
            Init::Uniform { lo, up } => uniform(rng, lo, up),
            Init::Randn { mean, stdev } => normal(rng, mean, stdev),
            Init::Kaiming {
                dist,
                fan,
                non_linearity,
            } => {
                let std = non_linearity.gain() / (fan.for_shape(&shape) as f64).sqrt();
                match dist {
                    NormalOrUniform::Uniform => {
                        let bound = 3f64.sqrt() * std;
                        uniform(rng, -bound, bound)
                    }
                    NormalOrUniform::Normal => normal(rng, 0.0, std),
                }
            }
        };
        let var =
            candle_core::Var::from_tensor(&Tensor::from_vec(values, shape, dev)?.to_dtype(dtype)?)?;
        let tensor = var.as_tensor().clone();
        self.map
            .data()
            .lock()
            .expect("varmap lock")
            .insert(name.to_string(), var);
        Ok(tensor)
    }

    fn get_unchecked(&self, name: &str, _: DType, _: &Device) -> candle_core::Result<Tensor> {
        candle_core::bail!("{name}: a fresh model's variables need a shape")
    }

    fn contains_tensor(&self, name: &str) -> bool {
        self.map
            .data()
            .lock()
            .expect("varmap lock")
            .contains_key(name)
    }
}
