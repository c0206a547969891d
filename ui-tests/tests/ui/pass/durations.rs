//! Durations: literals with every unit, fractions, and any `Duration` expression (a constant,
//! a call, a field of a configuration value, a block), wherever a duration is taken.

use plan_runtime::prelude::*;

const DEADLINE: Duration = Duration::from_millis(750);

struct Settings {
    deadline: Duration,
    backoff: Duration,
}

fn inc(n: u32) -> u32 {
    n + 1
}

fn main() {
    let cfg = Settings { deadline: Duration::from_secs(2), backoff: Duration::from_millis(5) };
    let plan = plan! {
        #[timeout(250ms)] inc
        >> #[timeout(2s)] inc
        >> #[timeout(1.5s)] inc
        >> #[timeout(1m)] inc
        >> #[timeout(1h)] inc
        >> #[timeout(10us)] inc
        >> #[timeout(500ns)] inc
        >> #[timeout(0.25ms)] inc
        >> #[timeout(DEADLINE)] inc
        >> #[timeout(cfg.deadline)] inc
        >> #[timeout(Duration::from_millis(40) * 2)] inc
        >> #[timeout({ let base = Duration::from_secs(1); base + base })] inc
        >> #[retry(2, backoff = 100ms)] inc
        >> #[retry(2, backoff = cfg.backoff)] inc
        >> #[retry(1 + 1, backoff = Duration::ZERO)] inc
        >> par(all, timeout = 3s) { inc, inc }
        >> (|(a, b): (u32, u32)| a + b)
        >> par(first, timeout = cfg.deadline, limit = 1) { inc, inc }
        >> (|n: u32| vec![n, n])
        >> each(all, timeout = DEADLINE) { inc }
    };
    // Built, not run: a 500ns deadline would be a race.
    assert!(!plan.graph().to_mermaid().is_empty());
}
