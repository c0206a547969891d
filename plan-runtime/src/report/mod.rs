//! Seeing runs: what each node did and where the time went.
//!
//! A run report is one call away:
//!
//! ```
//! use plan_runtime::prelude::*;
//! use std::time::Duration;
//!
//! async fn intro(topic: String) -> String { pause(10).await; topic }
//! async fn body(topic: String) -> String { pause(40).await; format!("body of {topic}") }
//! async fn conclusion(topic: String) -> String { pause(30).await; format!("end of {topic}") }
//! fn join((b, c): (String, String)) -> String { format!("{b}\n{c}") }
//! async fn pause(ms: u64) { tokio::time::sleep(Duration::from_millis(ms)).await }
//!
//! let writer = plan! { intro >> par(all) { body, conclusion } >> join };
//!
//! # let rt = tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap();
//! # rt.block_on(async {
//! let (text, report) = writer.run("plans".to_owned()).reported().await;
//! assert!(text.is_ok());
//! assert_eq!(report.wall, Duration::from_millis(50));
//! assert_eq!(report.find("body").unwrap().start, Duration::from_millis(10));
//! let (_, barrier) = report.groups().next().unwrap();
//! assert_eq!(barrier.wait, Duration::from_millis(10)); // conclusion waited for body
//! println!("{report}"); // the timeline, then wall/busy/concurrency and barrier waits
//! # });
//! ```
//!
//! * [`RunReport`] holds, for every node instance, its start and end (monotonic, from tokio's
//!   clock: exact virtual times under a paused test clock), attempts, outcome, parent, path
//!   and the time it waited for shared limits ([`Monitor::waited`](plan_core::Monitor::waited)),
//!   plus the derived figures: wall time, busy time of the leaves, concurrency
//!   (busy / wall) and every `par`/`each` group's barrier wait. It serializes with serde.
//! * [`RunReport::timeline`] renders it as a text Gantt chart, and
//!   [`RunReport::chrome_trace`] as Chrome trace events for Perfetto.
//! * [`Recorder::with_events`] streams [`Event`]s while the plan runs, for progress displays.
//!
//! Reporting is opt-in: a run without a recorder checks one `Option` per node (and every
//! node's future carries a few words for it). With one, every node start and end reads the
//! clock and takes a short lock, and every poll pushes to a thread-local stack.
//!
//! A node that never started (a branch cut off by a `limit` and a deadline, an arm not
//! chosen) has no record; [`Describe::graph`](crate::Describe::graph) shows the plan's full
//! shape.

mod chrome;
mod event;
mod record;
mod recorder;
mod timeline;

pub use chrome::{ChromeTrace, TraceArgs, TraceEvent};
pub use event::{Event, EventKind, Events};
pub use record::{Barrier, NodeRecord, Outcome, RunReport};
pub use recorder::Recorder;
pub use timeline::Timeline;
