//! Routing verified events to handlers by type.

use std::collections::HashMap;
use std::future::Future;

use futures_util::future::BoxFuture;
use futures_util::FutureExt;

use crate::Event;

type Handler<T> = Box<dyn Fn(Event) -> BoxFuture<'static, T> + Send + Sync>;

/// Routes events to async handlers: an exact type (`order.paid`) wins over a prefix
/// (`order.*`, the longest prefix first), which wins over the fallback.
///
/// ```
/// # futures_executor::block_on(async {
/// use herald_sdk::{Dispatcher, Event};
/// let d = Dispatcher::new()
///     .on("order.paid", |e: Event| async move { format!("paid {}", e.id) })
///     .on("order.*", |_| async { "some order event".to_string() })
///     .fallback(|_| async { "ignored".to_string() });
/// let e = Event::from_parts("evt_1", "order.paid", "{}").unwrap();
/// assert_eq!(d.dispatch(e).await.as_deref(), Some("paid evt_1"));
/// let e = Event::from_parts("evt_2", "order.refunded", "{}").unwrap();
/// assert_eq!(d.dispatch(e).await.as_deref(), Some("some order event"));
/// # });
/// ```
pub struct Dispatcher<T = ()> {
    exact: HashMap<String, Handler<T>>,
    prefixes: Vec<(String, Handler<T>)>,
    fallback: Option<Handler<T>>,
}

impl<T: Send + 'static> Default for Dispatcher<T> {
    fn default() -> Self {
        Dispatcher {
            exact: HashMap::new(),
            prefixes: Vec::new(),
            fallback: None,
        }
    }
}

fn boxed<T, F, Fut>(f: F) -> Handler<T>
where
    F: Fn(Event) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = T> + Send + 'static,
{
    Box::new(move |e| f(e).boxed())
}

impl<T: Send + 'static> Dispatcher<T> {
    /// An empty dispatcher.
    ///
    /// ```
    /// let d: herald_sdk::Dispatcher = herald_sdk::Dispatcher::new();
    /// # let _ = d;
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a handler for an exact type, or for a prefix when `pattern` ends in `.*`
    /// (`*` alone matches everything).
    ///
    /// ```
    /// let d = herald_sdk::Dispatcher::new().on("user.*", |_| async {});
    /// # let _ = d;
    /// ```
    pub fn on<F, Fut>(mut self, pattern: &str, handler: F) -> Self
    where
        F: Fn(Event) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = T> + Send + 'static,
    {
        if pattern == "*" {
            self.prefixes.push((String::new(), boxed(handler)));
        } else if let Some(prefix) = pattern.strip_suffix(".*") {
            self.prefixes.push((format!("{prefix}."), boxed(handler)));
        } else {
            self.exact.insert(pattern.to_string(), boxed(handler));
        }
        // Longest prefix first.
        self.prefixes.sort_by_key(|p| std::cmp::Reverse(p.0.len()));
        self
    }

    /// The handler for events no other handler takes.
    ///
    /// ```
    /// let d = herald_sdk::Dispatcher::new().fallback(|_| async {});
    /// # let _ = d;
    /// ```
    pub fn fallback<F, Fut>(mut self, handler: F) -> Self
    where
        F: Fn(Event) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = T> + Send + 'static,
    {
        self.fallback = Some(boxed(handler));
        self
    }

    /// Runs the matching handler; `None` when nothing matches and there is no fallback.
    ///
    /// ```
    /// let d: herald_sdk::Dispatcher = herald_sdk::Dispatcher::new();
    /// let e = herald_sdk::Event::from_parts("evt_1", "a.b", "{}").unwrap();
    /// assert!(futures_executor::block_on(d.dispatch(e)).is_none());
    /// ```
    pub async fn dispatch(&self, event: Event) -> Option<T> {
        let handler = self.exact.get(&event.event_type).or_else(|| {
            self.prefixes
                .iter()
                .find(|(p, _)| event.event_type.starts_with(p.as_str()))
                .map(|(_, h)| h)
                .or(self.fallback.as_ref())
        })?;
        Some(handler(event).await)
    }
}
