//! What the bus tests share; each test file declares `mod common;`. The conformance suite
//! itself is the crate's `testkit`.
#![allow(dead_code)]

use plan_agents::bus::Name;

pub fn name(name: &str) -> Name {
    Name::new(name).unwrap()
}
