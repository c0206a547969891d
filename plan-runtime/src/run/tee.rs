//! [`Tee`]: two monitors told the same things, for a reported run that was also given one.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use plan_core::{Ended, Monitor, NodeInfo, PlanError};

/// Tells `first` and `second` everything. Ids are `first`'s; `second`'s are looked up.
pub(super) struct Tee<'m> {
    first: &'m (dyn Monitor + 'm),
    second: &'m (dyn Monitor + 'm),
    // The ids each monitor gave an instance differ; `end` removes the entry, so this holds
    // the instances running now.
    ids: Mutex<HashMap<usize, usize>>,
}

impl<'m> Tee<'m> {
    pub(super) fn new(first: &'m (dyn Monitor + 'm), second: &'m (dyn Monitor + 'm)) -> Self {
        Tee {
            first,
            second,
            ids: Mutex::default(),
        }
    }

    fn theirs(&self, id: usize) -> Option<usize> {
        self.ids
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&id)
            .copied()
    }
}

impl Monitor for Tee<'_> {
    fn start(&self, node: &'static NodeInfo) -> usize {
        let id = self.first.start(node);
        let theirs = self.second.start(node);
        self.ids
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, theirs);
        id
    }

    fn enter(&self, id: usize) {
        self.first.enter(id);
        if let Some(theirs) = self.theirs(id) {
            self.second.enter(theirs);
        }
    }

    fn leave(&self, id: usize) {
        self.first.leave(id);
        if let Some(theirs) = self.theirs(id) {
            self.second.leave(theirs);
        }
    }

    fn end(&self, id: usize, how: Ended<'_>) {
        self.first.end(id, how);
        let theirs = self
            .ids
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id);
        if let Some(theirs) = theirs {
            self.second.end(theirs, how);
        }
    }

    fn retry(&self, attempt: u32, error: &PlanError) {
        self.first.retry(attempt, error);
        self.second.retry(attempt, error);
    }

    fn deadline(&self, after: Duration) {
        self.first.deadline(after);
        self.second.deadline(after);
    }

    fn branch_done(&self) {
        self.first.branch_done();
        self.second.branch_done();
    }

    fn waited(&self, on: &'static str, duration: Duration) {
        self.first.waited(on, duration);
        self.second.waited(on, duration);
    }

    fn count(&self, counter: &'static str, amount: f64) {
        self.first.count(counter, amount);
        self.second.count(counter, amount);
    }

    fn note(&self, key: &'static str, value: &str) {
        self.first.note(key, value);
        self.second.note(key, value);
    }
}
