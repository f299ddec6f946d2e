//! Probability distributions a scenario may use for any uncertain quantity.
//!
//! A distribution is written in TOML either as a bare number (a fixed value) or as an inline
//! table naming the family in `dist` and its parameters, for example
//! `{ dist = "pert", min = 6, mode = 18, max = 48 }`. Parameters are checked while the file is
//! parsed, so an impossible distribution is reported at its own line and column.

use rand::distr::weighted::WeightedIndex;
use rand::distr::{Bernoulli, Uniform};
use rand_distr::{Beta, Exp, Gamma, LogNormal, Normal, Pert, Poisson, Triangular};
use serde::Deserialize;
use serde::de::Error as _;

use crate::prob::dist::Dist;

/// z-score of the 90th percentile of the standard normal distribution.
const Z90: f64 = 1.281_551_565_544_600_5;

/// Builds a distribution from a TOML value: a number or a `{ dist = ..., ... }` table.
pub fn from_value(value: toml::Value) -> Result<Dist, String> {
    match value {
        toml::Value::Integer(i) => Ok(Dist::Fixed(i as f64)),
        toml::Value::Float(f) => finite("value", f).map(Dist::Fixed),
        toml::Value::Table(t) => {
            if !t.contains_key("dist") {
                return Err(
                    "a distribution table needs `dist = \"...\"` naming one of: fixed, uniform, \
                     triangular, pert, normal, lognormal, beta, exponential, gamma, \
                     poisson, bernoulli, discrete"
                        .into(),
                );
            }
            let spec = Spec::deserialize(toml::Value::Table(t)).map_err(|e| e.to_string())?;
            spec.build()
        }
        other => Err(format!(
            "expected a number or a distribution table like {{ dist = \"uniform\", low = 1, high = 2 }}, found {}",
            other.type_str()
        )),
    }
}

impl<'de> Deserialize<'de> for Dist {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = toml::Value::deserialize(d)?;
        from_value(value).map_err(D::Error::custom)
    }
}

fn finite(name: &str, v: f64) -> Result<f64, String> {
    if v.is_finite() {
        Ok(v)
    } else {
        Err(format!("`{name}` must be a finite number, got {v}"))
    }
}

/// The serde mirror of a distribution table.
#[derive(Deserialize)]
#[serde(tag = "dist", rename_all = "lowercase", deny_unknown_fields)]
enum Spec {
    Fixed {
        value: f64,
    },
    Uniform {
        low: f64,
        high: f64,
    },
    Triangular {
        min: f64,
        mode: f64,
        max: f64,
    },
    Pert {
        min: f64,
        mode: f64,
        max: f64,
    },
    Normal {
        mean: f64,
        sd: f64,
        min: Option<f64>,
        max: Option<f64>,
    },
    Lognormal {
        mu: Option<f64>,
        sigma: Option<f64>,
        median: Option<f64>,
        p90: Option<f64>,
    },
    Beta {
        alpha: f64,
        beta: f64,
    },
    #[serde(alias = "exp")]
    Exponential {
        mean: f64,
    },
    Poisson {
        mean: f64,
    },
    Gamma {
        shape: f64,
        scale: f64,
    },
    Bernoulli {
        p: f64,
    },
    Discrete {
        values: Vec<f64>,
        weights: Vec<f64>,
    },
}

impl Spec {
    fn build(self) -> Result<Dist, String> {
        match self {
            Spec::Fixed { value } => Ok(Dist::Fixed(finite("value", value)?)),
            Spec::Uniform { low, high } => {
                let (low, high) = (finite("low", low)?, finite("high", high)?);
                if low > high {
                    return Err(format!(
                        "uniform needs low <= high, got low = {low}, high = {high}"
                    ));
                }
                if low == high {
                    return Ok(Dist::Fixed(low));
                }
                let d = Uniform::new(low, high).map_err(|e| format!("uniform: {e}"))?;
                Ok(Dist::Uniform(d, low, high))
            }
            Spec::Triangular { min, mode, max } => {
                let (min, mode, max) = three(min, mode, max, "triangular")?;
                let d = Triangular::new(min, max, mode).map_err(|e| format!("triangular: {e}"))?;
                Ok(Dist::Triangular(d, min, max))
            }
            Spec::Pert { min, mode, max } => {
                let (min, mode, max) = three(min, mode, max, "pert")?;
                if min == max {
                    return Ok(Dist::Fixed(min));
                }
                let d = Pert::new(min, max)
                    .with_mode(mode)
                    .map_err(|e| format!("pert: {e}"))?;
                Ok(Dist::Pert(d, min, max))
            }
            Spec::Normal { mean, sd, min, max } => {
                let (mean, sd) = (finite("mean", mean)?, finite("sd", sd)?);
                if sd < 0.0 {
                    return Err(format!("normal needs sd >= 0, got sd = {sd}"));
                }
                let lo = min.unwrap_or(f64::NEG_INFINITY);
                let hi = max.unwrap_or(f64::INFINITY);
                if lo.is_nan() || hi.is_nan() || lo > hi {
                    return Err(format!(
                        "normal needs min <= max, got min = {lo}, max = {hi}"
                    ));
                }
                let d = Normal::new(mean, sd).map_err(|e| format!("normal: {e}"))?;
                Ok(Dist::Normal(d, lo, hi))
            }
            Spec::Lognormal {
                mu,
                sigma,
                median,
                p90,
            } => {
                let (mu, sigma) = match (mu, sigma, median, p90) {
                    (Some(mu), Some(sigma), None, None) => (mu, sigma),
                    (None, Some(sigma), Some(median), None) => {
                        (positive_ln("median", median)?, sigma)
                    }
                    (None, None, Some(median), Some(p90)) => {
                        let m = positive_ln("median", median)?;
                        let q = positive_ln("p90", p90)?;
                        if q < m {
                            return Err(format!(
                                "lognormal needs p90 >= median, got median = {median}, p90 = {p90}"
                            ));
                        }
                        (m, (q - m) / Z90)
                    }
                    _ => {
                        return Err(
                            "lognormal takes either `mu` and `sigma` (of the logarithm), \
                                    `median` and `sigma`, or `median` and `p90`"
                                .into(),
                        );
                    }
                };
                let (mu, sigma) = (finite("mu", mu)?, finite("sigma", sigma)?);
                if sigma < 0.0 {
                    return Err(format!("lognormal needs sigma >= 0, got {sigma}"));
                }
                let d = LogNormal::new(mu, sigma).map_err(|e| format!("lognormal: {e}"))?;
                Ok(Dist::LogNormal(d))
            }
            Spec::Beta { alpha, beta } => {
                if !(alpha > 0.0 && beta > 0.0 && alpha.is_finite() && beta.is_finite()) {
                    return Err(format!(
                        "beta needs alpha > 0 and beta > 0, got alpha = {alpha}, beta = {beta}"
                    ));
                }
                let d = Beta::new(alpha, beta).map_err(|e| format!("beta: {e}"))?;
                Ok(Dist::Beta(d))
            }
            Spec::Exponential { mean } => {
                if !(mean > 0.0 && mean.is_finite()) {
                    return Err(format!("exponential needs mean > 0, got {mean}"));
                }
                let d = Exp::new(1.0 / mean).map_err(|e| format!("exponential: {e}"))?;
                Ok(Dist::Exp(d))
            }
            Spec::Poisson { mean } => {
                if mean == 0.0 {
                    return Ok(Dist::Fixed(0.0));
                }
                if !(mean > 0.0 && mean.is_finite()) {
                    return Err(format!("poisson needs mean > 0, got {mean}"));
                }
                let d = Poisson::new(mean).map_err(|e| format!("poisson: {e}"))?;
                Ok(Dist::Poisson(d))
            }
            Spec::Gamma { shape, scale } => {
                let ok = |v: f64| v > 0.0 && v.is_finite();
                if !(ok(shape) && ok(scale)) {
                    return Err(format!(
                        "gamma needs shape > 0 and scale > 0, got shape = {shape}, scale = {scale}"
                    ));
                }
                let d = Gamma::new(shape, scale).map_err(|e| format!("gamma: {e}"))?;
                Ok(Dist::Gamma(d))
            }
            Spec::Bernoulli { p } => {
                let d = Bernoulli::new(p)
                    .map_err(|_| format!("bernoulli needs 0 <= p <= 1, got p = {p}"))?;
                Ok(Dist::Bernoulli(d, p))
            }
            Spec::Discrete { values, weights } => {
                if values.is_empty() || values.len() != weights.len() {
                    return Err(format!(
                        "discrete needs as many weights as values (at least one), got {} values and {} weights",
                        values.len(),
                        weights.len()
                    ));
                }
                for v in &values {
                    finite("values", *v)?;
                }
                if weights.iter().any(|w| !(w.is_finite() && *w >= 0.0)) {
                    return Err("discrete weights must be finite and >= 0".into());
                }
                let w = WeightedIndex::new(&weights)
                    .map_err(|e| format!("discrete weights: {e} (at least one must be > 0)"))?;
                Ok(Dist::Discrete(values, w))
            }
        }
    }
}

fn three(min: f64, mode: f64, max: f64, name: &str) -> Result<(f64, f64, f64), String> {
    let (min, mode, max) = (
        finite("min", min)?,
        finite("mode", mode)?,
        finite("max", max)?,
    );
    if !(min <= mode && mode <= max) {
        return Err(format!(
            "{name} needs min <= mode <= max, got min = {min}, mode = {mode}, max = {max}"
        ));
    }
    Ok((min, mode, max))
}

fn positive_ln(name: &str, v: f64) -> Result<f64, String> {
    if v > 0.0 && v.is_finite() {
        Ok(v.ln())
    } else {
        Err(format!("lognormal needs `{name}` > 0, got {v}"))
    }
}

/// A per-period probability or other parameter that may depend on the geopolitical regime.
///
/// Written as a distribution (sampled once per trial), or as a table from regime state names to
/// distributions: `{ truce = 0.01, tension = 0.05, escalation = 0.3 }`.
#[derive(Clone, Debug)]
pub enum Param {
    /// The same in every regime state.
    Same(Dist),
    /// One distribution per named regime state, in the order written.
    ByRegime(Vec<(String, Dist)>),
}

impl<'de> Deserialize<'de> for Param {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = toml::Value::deserialize(d)?;
        match value {
            toml::Value::Table(t) if !t.contains_key("dist") => {
                let mut out = Vec::with_capacity(t.len());
                for (k, v) in t {
                    let dist = from_value(v)
                        .map_err(|e| D::Error::custom(format!("regime state `{k}`: {e}")))?;
                    out.push((k, dist));
                }
                Ok(Param::ByRegime(out))
            }
            v => from_value(v).map(Param::Same).map_err(D::Error::custom),
        }
    }
}

impl Param {
    /// The smallest and largest value over every regime state.
    pub fn support(&self) -> (f64, f64) {
        match self {
            Param::Same(d) => d.support(),
            Param::ByRegime(v) => {
                v.iter()
                    .fold((f64::INFINITY, f64::NEG_INFINITY), |acc, (_, d)| {
                        let (a, b) = d.support();
                        (acc.0.min(a), acc.1.max(b))
                    })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Dist, String> {
        let v: toml::Value = toml::from_str(&format!("x = {s}")).unwrap();
        from_value(v.get("x").unwrap().clone())
    }

    #[test]
    fn numbers_are_fixed() {
        assert!(matches!(parse("3").unwrap(), Dist::Fixed(v) if v == 3.0));
        assert!(matches!(parse("0.5").unwrap(), Dist::Fixed(v) if v == 0.5));
    }

    #[test]
    fn impossible_parameters_are_rejected() {
        assert!(
            parse("{ dist = \"uniform\", low = 3, high = 1 }")
                .unwrap_err()
                .contains("low <= high")
        );
        assert!(
            parse("{ dist = \"pert\", min = 3, mode = 1, max = 4 }")
                .unwrap_err()
                .contains("min <= mode")
        );
        assert!(
            parse("{ dist = \"beta\", alpha = 0, beta = 1 }")
                .unwrap_err()
                .contains("alpha > 0")
        );
        assert!(
            parse("{ dist = \"bernoulli\", p = 1.5 }")
                .unwrap_err()
                .contains("0 <= p <= 1")
        );
        assert!(
            parse("{ dist = \"normal\", mean = 1, sd = -1 }")
                .unwrap_err()
                .contains("sd >= 0")
        );
        assert!(
            parse("{ dist = \"discrete\", values = [1], weights = [1, 2] }")
                .unwrap_err()
                .contains("as many weights")
        );
        assert!(
            parse("{ dist = \"weibull\", k = 1 }")
                .unwrap_err()
                .contains("unknown variant")
        );
        assert!(
            parse("{ dist = \"gamma\", shape = 0, scale = 1 }")
                .unwrap_err()
                .contains("shape > 0")
        );
        assert!(
            parse("{ dist = \"uniform\", low = 1, hihg = 2 }")
                .unwrap_err()
                .contains("unknown field")
        );
        assert!(parse("nan").unwrap_err().contains("finite"));
    }

    #[test]
    fn lognormal_from_median_and_p90() {
        let d = parse("{ dist = \"lognormal\", median = 18, p90 = 42 }").unwrap();
        let Dist::LogNormal(ln) = d else { panic!() };
        // The 90% quantile of the built distribution is the requested p90.
        assert!((ln.from_zscore(Z90) - 42.0).abs() < 1e-9);
        assert!((ln.from_zscore(0.0) - 18.0).abs() < 1e-9);
    }
}
