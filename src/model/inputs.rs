//! The uncertain inputs of a model: every quantity the scenario gives as a distribution rather
//! than a number (a restriction's severity, an outage's probability, a plant's delay, an entry
//! of an uncertain regime row). Each trial records the value it drew for each one, so that the
//! statistics can rank the inputs by their effect on the shortfall (see
//! [`crate::stats::sensitivity`]).
//!
//! A quantity drawn once per trial (an uncertain probability, a delay, a regime row) is recorded
//! as drawn. One drawn per episode (a severity, a duration, a licensing lag) is recorded from the
//! trial's first episode, and is missing (NaN) in trials without one.

use super::{Length, MAX_STATES, NO_SLOT, RParam, Regime, Shock, ShockKind, Start, Timing};
use crate::prob::dist::Dist;

/// A quantity of a shock that the scenario may give as a distribution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    /// Per-period probability of an outage (Markov).
    PFail,
    /// Per-period probability of recovery (Markov).
    PRecover,
    /// Per-period probability of an event.
    PEvent,
    /// Severity of an outage, event or restriction.
    Severity,
    /// Length of an event or episode, periods.
    Duration,
    /// A planned plant's slip, periods.
    Delay,
    /// A plant's ramp to full capacity, periods.
    Ramp,
    /// Scheduled start of an episode.
    At,
    /// Probability that a scheduled episode happens.
    Probability,
    /// Per-period probability that an episode starts.
    PStart,
    /// Per-period probability that an episode ends.
    PEnd,
    /// Periods until licences flow.
    LicensingLag,
    /// Severity once licences flow.
    LicensedSeverity,
    /// Tariff rate.
    Rate,
}

impl Field {
    /// Number of fields.
    pub const COUNT: usize = 14;

    /// The field's key in the scenario file.
    pub fn key(self) -> &'static str {
        match self {
            Field::PFail => "p_fail",
            Field::PRecover => "p_recover",
            Field::PEvent => "p_event",
            Field::Severity => "severity",
            Field::Duration => "duration",
            Field::Delay => "delay",
            Field::Ramp => "ramp",
            Field::At => "at",
            Field::Probability => "probability",
            Field::PStart => "p_start",
            Field::PEnd => "p_end",
            Field::LicensingLag => "licensing_lag",
            Field::LicensedSeverity => "licensed_severity",
            Field::Rate => "rate",
        }
    }
}

/// One uncertain input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Input {
    /// Its name in outputs: `shock.field`, `shock.field[state]` for a value by regime state, or
    /// `regime.from->to` for an entry of an uncertain regime row.
    pub name: String,
    /// The shock it belongs to (an index into `Model::shocks`), or `None` for the regime.
    pub shock: Option<u32>,
}

/// The model's uncertain inputs and where each trial records them.
#[derive(Clone, Debug, Default)]
pub struct Inputs {
    /// The inputs, in shock order (fields in [`Field`] order), then the regime's entries.
    pub list: Vec<Input>,
    /// Per shock: the input index of each field and regime state,
    /// `shock[i][field as usize * MAX_STATES + state]`, or [`NO_SLOT`] where it is a number.
    pub shock: Vec<Vec<u32>>,
    /// The input index of each entry of the regime's transition matrix, `regime[from * n + to]`,
    /// or [`NO_SLOT`] where its row is fixed.
    pub regime: Vec<u32>,
}

impl Inputs {
    /// The uncertain inputs of `shocks` and `regime`.
    pub fn of(shocks: &[Shock], regime: Option<&Regime>) -> Inputs {
        let mut inputs = Inputs::default();
        for (i, sh) in shocks.iter().enumerate() {
            let mut cols = vec![NO_SLOT; Field::COUNT * MAX_STATES];
            let mut add = |field: Field, state: Option<usize>, d: &Dist| {
                if d.is_fixed() {
                    return;
                }
                let name = match state {
                    None => format!("{}.{}", sh.id, field.key()),
                    Some(g) => format!(
                        "{}.{}[{}]",
                        sh.id,
                        field.key(),
                        regime.map_or(String::new(), |r| r.states[g].clone())
                    ),
                };
                cols[field as usize * MAX_STATES + state.unwrap_or(0)] = inputs.list.len() as u32;
                inputs.list.push(Input {
                    name,
                    shock: Some(i as u32),
                });
            };
            for_each_field(&sh.kind, |field, value| match value {
                Value::Dist(d) => add(field, None, d),
                Value::Param(RParam::Same(d)) => add(field, None, d),
                Value::Param(RParam::ByRegime(ds)) => {
                    for (g, d) in ds.iter().enumerate() {
                        add(field, Some(g), d);
                    }
                }
            });
            inputs.shock.push(cols);
        }
        if let Some(r) = regime {
            let n = r.states.len();
            inputs.regime = vec![NO_SLOT; n * n];
            for (from, row) in r.uncertain.iter().enumerate() {
                if row.is_some() {
                    for to in 0..n {
                        inputs.regime[from * n + to] = inputs.list.len() as u32;
                        inputs.list.push(Input {
                            name: format!("regime.{}->{}", r.states[from], r.states[to]),
                            shock: None,
                        });
                    }
                }
            }
        }
        inputs
    }

    /// Number of inputs.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Whether the model has no uncertain input.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
}

/// A shock's quantity: a distribution, or a parameter that may depend on the regime.
enum Value<'a> {
    Dist(&'a Dist),
    Param(&'a RParam),
}

/// Calls `f` with each quantity of a shock of kind `kind` that the scenario may give as a
/// distribution.
fn for_each_field<'a>(kind: &'a ShockKind, mut f: impl FnMut(Field, Value<'a>)) {
    let timing = |t: &'a Timing, f: &mut dyn FnMut(Field, Value<'a>)| {
        match &t.start {
            Start::Always => {}
            Start::At { at, probability } => {
                f(Field::At, Value::Dist(at));
                f(Field::Probability, Value::Param(probability));
            }
            Start::Hazard { p, .. } => f(Field::PStart, Value::Param(p)),
        }
        match &t.length {
            Length::Forever => {}
            Length::Periods(d) => f(Field::Duration, Value::Dist(d)),
            Length::Hazard(p) => f(Field::PEnd, Value::Param(p)),
        }
    };
    match kind {
        ShockKind::Markov {
            p_fail,
            p_recover,
            severity,
            ..
        } => {
            f(Field::PFail, Value::Param(p_fail));
            f(Field::PRecover, Value::Param(p_recover));
            f(Field::Severity, Value::Dist(severity));
        }
        ShockKind::Events {
            p_event,
            duration,
            severity,
            ..
        } => {
            f(Field::PEvent, Value::Param(p_event));
            f(Field::Duration, Value::Dist(duration));
            f(Field::Severity, Value::Dist(severity));
        }
        ShockKind::Delay { delay, ramp, .. } => {
            f(Field::Delay, Value::Dist(delay));
            f(Field::Ramp, Value::Dist(ramp));
        }
        ShockKind::Restriction {
            severity,
            licensing_lag,
            licensed_severity,
            timing: t,
            ..
        } => {
            timing(t, &mut f);
            f(Field::Severity, Value::Dist(severity));
            if let Some(d) = licensing_lag {
                f(Field::LicensingLag, Value::Dist(d));
            }
            if let Some(d) = licensed_severity {
                f(Field::LicensedSeverity, Value::Dist(d));
            }
        }
        ShockKind::Tariff {
            rate, timing: t, ..
        } => {
            timing(t, &mut f);
            f(Field::Rate, Value::Dist(rate));
        }
    }
}
