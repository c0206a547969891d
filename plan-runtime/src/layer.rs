//! Layers: wrappers around plans, as tower's `Layer` wraps a `Service` — what `#[timeout]`,
//! `#[retry]`, `#[hedge]` and `#[durable]` build, what `plan_tools`' limits are, and how your own
//! middleware (a cache, an audit log) wraps any step.
//!
//! A [`Middleware`] is one method, what to do around one call of the plan inside; [`around`]
//! makes it a [`Layer`], and the plan it gives has the input, output, graph and node names of
//! the plan it wraps (errors inside still name the node that failed). `#[layer(EXPR)]` puts
//! any layer around an item of a `plan!`, as `#[timeout]` does:
//!
//! ```
//! use std::collections::HashMap;
//! use std::sync::{Arc, Mutex};
//! use plan_runtime::layer::{Middleware, around};
//! use plan_runtime::prelude::*;
//! use plan_runtime::{Cx, NodeRef};
//!
//! /// Remembers what a step answered for each input.
//! #[derive(Clone, Default)]
//! struct Cache(Arc<Mutex<HashMap<String, usize>>>);
//!
//! impl Describe for Cache {}
//! impl<C: Sync> Middleware<String, usize, C> for Cache {
//!     async fn around<P>(&self, url: String, cx: Cx<'_, C>, next: &P) -> Result<usize, PlanError>
//!     where
//!         P: Plan<String, C, Out = usize>,
//!     {
//!         if let Some(hit) = self.0.lock().unwrap().get(&url) {
//!             return Ok(*hit);
//!         }
//!         let out = next.call(url.clone(), cx).await?;
//!         self.0.lock().unwrap().insert(url, out);
//!         Ok(out)
//!     }
//! }
//!
//! async fn fetch(url: String) -> Result<usize, std::io::Error> {
//!     if url.is_empty() {
//!         return Err(std::io::Error::other("no URL"));
//!     }
//!     Ok(url.len())
//! }
//!
//! let cache = around(Cache::default());
//! let page = plan! { #[layer(cache)] fetch };
//! # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
//! # rt.block_on(async {
//! assert_eq!(page.run("https://a.b".to_string()).await.unwrap(), 11);
//! // The graph is that of the plan without the cache, and errors name the step.
//! assert_eq!(page.graph().to_mermaid(), plan! { fetch }.graph().to_mermaid());
//! let err = page.run(String::new()).await.unwrap_err();
//! assert_eq!(err.node().name, "fetch");
//! # });
//! ```
//!
//! # Order
//!
//! Wrappers stack in one order, outermost first: durable → timeout → retry → hedge → your
//! middleware → budget → circuit breaker → concurrency limit → rate limit → the call. Attributes are
//! written in it (`#[durable]` is outermost wherever it is written), and
//! `plan_tools::limit::Limits` applies the last four in it; the
//! [reference](crate::reference#the-order-of-layers) says why each sits where it does.

pub use crate::durable::Durable;
pub use crate::hedge::Hedge;
pub use crate::retry::Retry;
pub use crate::timeout::Timeout;
pub use plan_core::layer::{Around, Identity, Layer, Layered, Layers, Middleware, Stack, around};
