//! Properties of beliefs: updates commute, decay is monotone and never crosses the prior,
//! probabilities stay strictly between 0 and 1; and belief updates as plan steps.

use std::time::Duration;

use plan_runtime::prelude::*;
use plan_state::beliefs::{self, BadDelta, Beliefs};
use proptest::prelude::*;

fn delta() -> impl Strategy<Value = f64> {
    prop_oneof![-5.0..5.0, -100.0..100.0]
}

proptest! {
    /// Within the clamp at ±30 log-odds (a probability within 1e-13 of certainty), which
    /// twelve deltas of at most 2 never reach.
    #[test]
    fn updates_commute(deltas in prop::collection::vec(-2.0..2.0, 0..12), seed in any::<u64>()) {
        let mut forward = Beliefs::new();
        for &d in &deltas {
            forward.update("p", d).unwrap();
        }
        let mut shuffled = deltas.clone();
        let n = shuffled.len().max(1) as u64;
        shuffled.rotate_left((seed % n) as usize);
        shuffled.reverse();
        let mut backward = Beliefs::new();
        for &d in &shuffled {
            backward.update("p", d).unwrap();
        }
        let (f, b) = (forward.log_odds("p"), backward.log_odds("p"));
        prop_assert!((f - b).abs() < 1e-9, "{f} vs {b}");
        let mut combined = Beliefs::new();
        combined.combine("p", &deltas).unwrap();
        prop_assert!((combined.log_odds("p") - f).abs() < 1e-9);
    }

    #[test]
    fn probabilities_stay_strictly_between_0_and_1(deltas in prop::collection::vec(delta(), 0..40)) {
        let mut beliefs = Beliefs::new();
        for &d in &deltas {
            beliefs.update("p", d).unwrap();
            let p = beliefs.probability("p");
            prop_assert!(p > 0.0 && p < 1.0, "{p}");
        }
    }

    #[test]
    fn decay_is_monotone_and_never_crosses_the_prior(
        prior in -3.0..3.0,
        start in -20.0..20.0,
        steps in prop::collection::vec(0u64..10_000, 1..20),
        half_life_ms in 1u64..5_000,
    ) {
        let mut beliefs = Beliefs::new().with_prior("p", prior);
        beliefs.update("p", start - prior).unwrap();
        let half_life = Duration::from_millis(half_life_ms);
        let mut distance = (beliefs.log_odds("p") - prior).abs();
        let side = (beliefs.log_odds("p") - prior).signum();
        for ms in steps {
            beliefs.decay(Duration::from_millis(ms), half_life);
            let now = beliefs.log_odds("p") - prior;
            prop_assert!(now.abs() <= distance + 1e-12, "moved away: {now} from {distance}");
            prop_assert!(now == 0.0 || now.signum() == side, "crossed the prior: {now}");
            distance = now.abs();
        }
    }
}

#[derive(Clone, Debug, Default, Lens)]
struct Agent {
    beliefs: Beliefs,
    notes: Vec<String>,
}

#[tokio::test]
async fn belief_updates_are_plan_steps() {
    let think = plan! {
        focus(Agent::beliefs) {
            (beliefs::update("rain", 2.0))
            >> (beliefs::decay(Duration::from_secs(60), Duration::from_secs(60)))
            >> (beliefs::update("wind", -1.0))
        }
    };
    let agent = think.run(Agent::default()).await.unwrap();
    assert_eq!(agent.beliefs.log_odds("rain"), 1.0);
    assert_eq!(agent.beliefs.log_odds("wind"), -1.0);
    assert!(agent.notes.is_empty());

    let broken =
        plan! { focus(Agent::beliefs) { #[name = "observe"] (beliefs::update("rain", f64::NAN)) } };
    let err = broken.run(Agent::default()).await.unwrap_err();
    assert_eq!(err.node().name, "observe");
    assert!(err.step_error::<BadDelta>().is_some(), "{err}");
}

#[test]
fn beliefs_round_trip_through_json() {
    let mut beliefs = Beliefs::new().with_prior("p", -0.5);
    beliefs.update("p", 1.25).unwrap();
    beliefs.update("q", -2.0).unwrap();
    let json = serde_json::to_string(&beliefs).unwrap();
    assert_eq!(serde_json::from_str::<Beliefs>(&json).unwrap(), beliefs);
}
