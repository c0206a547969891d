//! Beliefs: how strongly an agent holds each proposition, as log-odds.
//!
//! Log-odds make evidence add up: an update is a delta added to the proposition's log-odds
//! (so updates commute), independent evidence combines by summing its deltas, and the
//! probability is the logistic of the log-odds (0 → 0.5, 1 → 0.731). Beliefs decay toward
//! their prior with a half-life: halfway there after one half-life, never past it.
//!
//! An update is a plain plan step on [`Beliefs`] (or, with `focus`, on a field of your state
//! that holds them):
//!
//! ```
//! use plan_runtime::prelude::*;
//! use plan_state::beliefs::{self, Beliefs};
//!
//! #[derive(Clone, Default, Lens)]
//! struct Agent { beliefs: Beliefs, turns: u32 }
//!
//! let observe = plan! {
//!     focus(Agent::beliefs) { (beliefs::update("rain", 1.0)) >> (beliefs::update("rain", 0.5)) }
//! };
//! # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
//! let agent = rt.block_on(observe.run(Agent::default())).unwrap();
//! let p = agent.beliefs.probability("rain");
//! assert!((p - 0.8176).abs() < 1e-4); // logistic(1.5)
//! assert_eq!(agent.beliefs.probability("snow"), 0.5); // never mentioned: its prior
//! ```

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The largest log-odds a belief holds, either way: the logistic of more rounds to exactly 1
/// (or 0) in `f64`, and a probability stays strictly between them.
pub const MAX_LOG_ODDS: f64 = 30.0;

/// One proposition's belief: its log-odds and the prior it decays toward.
///
/// Read back from a store, both are checked to be within ±[`MAX_LOG_ODDS`], as this crate
/// writes them: a value written by hand outside it is an error, not a belief whose decay or
/// probability is no longer a number.
///
/// ```
/// use plan_state::beliefs::Belief;
///
/// let read: Belief = serde_json::from_str(r#"{"log_odds": 2.5, "prior": 0.0}"#).unwrap();
/// assert_eq!(read, Belief { log_odds: 2.5, prior: 0.0 });
/// let err = serde_json::from_str::<Belief>(r#"{"log_odds": 1e300, "prior": 0.0}"#).unwrap_err();
/// assert!(err.to_string().starts_with("a belief's log-odds must be within ±30 (MAX_LOG_ODDS), not 1e300"), "{err}");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "StoredBelief")]
pub struct Belief {
    /// The belief, as log-odds.
    pub log_odds: f64,
    /// The prior, as log-odds (0: even odds).
    pub prior: f64,
}

/// A belief as stored, before it is checked.
#[derive(Deserialize)]
struct StoredBelief {
    log_odds: f64,
    prior: f64,
}

impl TryFrom<StoredBelief> for Belief {
    type Error = String;

    fn try_from(stored: StoredBelief) -> Result<Self, String> {
        for (what, value) in [("log-odds", stored.log_odds), ("prior", stored.prior)] {
            if !(-MAX_LOG_ODDS..=MAX_LOG_ODDS).contains(&value) {
                return Err(format!(
                    "a belief's {what} must be within ±{MAX_LOG_ODDS} (MAX_LOG_ODDS), not {value:e}"
                ));
            }
        }
        Ok(Belief {
            log_odds: stored.log_odds,
            prior: stored.prior,
        })
    }
}

impl Belief {
    /// A belief at its `prior` log-odds.
    pub fn at_prior(prior: f64) -> Self {
        let prior = clamp(prior);
        Belief {
            log_odds: prior,
            prior,
        }
    }

    /// The belief as a probability, strictly between 0 and 1.
    pub fn probability(&self) -> f64 {
        logistic(self.log_odds)
    }

    /// The belief after `delta` more log-odds of evidence.
    pub fn updated(self, delta: f64) -> Self {
        Belief {
            log_odds: clamp(self.log_odds + delta),
            ..self
        }
    }

    /// The belief after `elapsed` of decay toward its prior with `half_life`: the distance to
    /// the prior halves every half-life.
    pub fn decayed(self, elapsed: Duration, half_life: Duration) -> Self {
        if half_life.is_zero() {
            return Belief::at_prior(self.prior);
        }
        let kept = 0.5_f64.powf(elapsed.as_secs_f64() / half_life.as_secs_f64());
        Belief {
            log_odds: self.prior + (self.log_odds - self.prior) * kept,
            ..self
        }
    }
}

/// Beliefs per proposition. A proposition never updated is at the default prior (even odds,
/// unless [`Beliefs::with_prior`] set one). Serializes as a map from proposition to belief.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Beliefs {
    beliefs: BTreeMap<String, Belief>,
}

/// A delta that is not a finite number: a belief update that would make every later reading
/// meaningless, refused before it touches the belief.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("belief update of `{proposition}` by {delta}: a delta must be a finite number")]
pub struct BadDelta {
    /// The proposition.
    pub proposition: String,
    /// The delta given.
    pub delta: f64,
}

impl Beliefs {
    /// No beliefs.
    pub fn new() -> Self {
        Beliefs::default()
    }

    /// The same beliefs, with `proposition` at `prior` log-odds (its current belief kept, if
    /// it has one).
    pub fn with_prior(mut self, proposition: impl Into<String>, prior: f64) -> Self {
        let prior = clamp(prior);
        self.beliefs
            .entry(proposition.into())
            .and_modify(|b| b.prior = prior)
            .or_insert_with(|| Belief::at_prior(prior));
        self
    }

    /// The belief in `proposition`, if it has one.
    pub fn get(&self, proposition: &str) -> Option<Belief> {
        self.beliefs.get(proposition).copied()
    }

    /// The belief in `proposition` as log-odds (0 for one never mentioned).
    pub fn log_odds(&self, proposition: &str) -> f64 {
        self.get(proposition).map_or(0.0, |b| b.log_odds)
    }

    /// The belief in `proposition` as a probability (0.5 for one never mentioned).
    pub fn probability(&self, proposition: &str) -> f64 {
        logistic(self.log_odds(proposition))
    }

    /// Adds `delta` log-odds of evidence to `proposition`.
    pub fn update(&mut self, proposition: &str, delta: f64) -> Result<(), BadDelta> {
        if !delta.is_finite() {
            return Err(BadDelta {
                proposition: proposition.to_owned(),
                delta,
            });
        }
        let belief = self
            .beliefs
            .entry(proposition.to_owned())
            .or_insert(Belief::at_prior(0.0));
        *belief = belief.updated(delta);
        Ok(())
    }

    /// Adds the evidence of several independent observations at once: their deltas sum.
    pub fn combine(&mut self, proposition: &str, deltas: &[f64]) -> Result<(), BadDelta> {
        let total: f64 = deltas.iter().sum();
        self.update(proposition, total)
    }

    /// Decays every belief toward its prior by `elapsed` with `half_life`.
    pub fn decay(&mut self, elapsed: Duration, half_life: Duration) {
        for belief in self.beliefs.values_mut() {
            *belief = belief.decayed(elapsed, half_life);
        }
    }

    /// The propositions and their beliefs, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, Belief)> {
        self.beliefs.iter().map(|(p, b)| (p.as_str(), *b))
    }
}

/// A plan step adding `delta` log-odds to `proposition`: `Beliefs -> Beliefs`, failing (as a
/// step error naming the node) on a delta that is not finite.
pub fn update(
    proposition: impl Into<String>,
    delta: f64,
) -> impl Fn(Beliefs) -> Result<Beliefs, BadDelta> + Clone + Send + Sync + 'static {
    let proposition = proposition.into();
    move |mut beliefs: Beliefs| {
        beliefs.update(&proposition, delta)?;
        Ok(beliefs)
    }
}

/// A plan step decaying every belief by `elapsed` with `half_life`: `Beliefs -> Beliefs`.
pub fn decay(
    elapsed: Duration,
    half_life: Duration,
) -> impl Fn(Beliefs) -> Beliefs + Clone + Send + Sync + 'static {
    move |mut beliefs: Beliefs| {
        beliefs.decay(elapsed, half_life);
        beliefs
    }
}

fn clamp(log_odds: f64) -> f64 {
    log_odds.clamp(-MAX_LOG_ODDS, MAX_LOG_ODDS)
}

fn logistic(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readings_at_zero_and_one() {
        let mut beliefs = Beliefs::new();
        assert_eq!(beliefs.probability("p"), 0.5);
        beliefs.update("p", 1.0).unwrap();
        assert!((beliefs.probability("p") - 0.731_058_6).abs() < 1e-6);
    }

    #[test]
    fn a_non_finite_delta_is_refused_and_changes_nothing() {
        let mut beliefs = Beliefs::new();
        beliefs.update("p", 2.0).unwrap();
        for delta in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let err = beliefs.update("p", delta).unwrap_err();
            assert!(err.to_string().contains("a delta must be a finite number"));
        }
        assert_eq!(beliefs.log_odds("p"), 2.0);
    }

    #[test]
    fn decay_halves_the_distance_to_the_prior_per_half_life() {
        let beliefs = Beliefs::new().with_prior("p", -1.0);
        let mut b = beliefs.clone();
        b.update("p", 4.0).unwrap(); // 3.0, 4 above the prior
        b.decay(Duration::from_secs(10), Duration::from_secs(10));
        assert!((b.log_odds("p") - 1.0).abs() < 1e-12);
        // Two more half-lives: 2 above the prior, then 0.5.
        b.decay(Duration::from_secs(20), Duration::from_secs(10));
        assert!((b.log_odds("p") + 0.5).abs() < 1e-12);
        b.decay(Duration::from_secs(1), Duration::ZERO);
        assert_eq!(b.log_odds("p"), -1.0);
    }
}
