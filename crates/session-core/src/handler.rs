//! Handler slots: how a session asks the application for a decision.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, PoisonError, RwLock};

/// A boxed future, as handlers return them.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

type Handler<A, R> = Arc<dyn Fn(A) -> BoxFuture<R> + Send + Sync>;

/// A place for one decision handler, as Electron's `ses.setXxxHandler(fn)`
/// and the events that take a callback or `preventDefault` have.
///
/// Setting a handler replaces the previous one; `None` clears it (Electron's
/// `setXxxHandler(null)`). [`HandlerSlot::call`] asks the current handler and
/// returns `None` when there is none, so the caller applies the default. A
/// call in flight keeps the handler it started with, even if the slot is
/// changed meanwhile.
pub struct HandlerSlot<A, R> {
    handler: RwLock<Option<Handler<A, R>>>,
}

impl<A, R> Default for HandlerSlot<A, R> {
    fn default() -> Self {
        HandlerSlot {
            handler: RwLock::new(None),
        }
    }
}

impl<A, R> fmt::Debug for HandlerSlot<A, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HandlerSlot")
            .field(
                "set",
                &self
                    .handler
                    .read()
                    .unwrap_or_else(PoisonError::into_inner)
                    .is_some(),
            )
            .finish()
    }
}

impl<A: Send + 'static, R: Send + 'static> HandlerSlot<A, R> {
    /// An empty slot.
    pub fn new() -> Self {
        Self::default()
    }

    /// Installs `handler`, or clears the slot with `None`.
    pub fn set<F, Fut>(&self, handler: Option<F>)
    where
        F: Fn(A) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = R> + Send + 'static,
    {
        let boxed: Option<Handler<A, R>> =
            handler.map(|h| Arc::new(move |a: A| Box::pin(h(a)) as BoxFuture<R>) as Handler<A, R>);
        *self.handler.write().unwrap_or_else(PoisonError::into_inner) = boxed;
    }

    /// Clears the slot.
    pub fn clear(&self) {
        *self.handler.write().unwrap_or_else(PoisonError::into_inner) = None;
    }

    /// Whether a handler is installed.
    pub fn is_set(&self) -> bool {
        self.handler
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some()
    }

    /// Asks the installed handler about `arg`; `None` when there is none.
    pub async fn call(&self, arg: A) -> Option<R> {
        let handler = self
            .handler
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        match handler {
            Some(h) => Some(h(arg).await),
            None => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn set_replace_clear() {
        let slot: HandlerSlot<u32, String> = HandlerSlot::new();
        assert!(!slot.is_set());
        assert_eq!(slot.call(1).await, None);
        slot.set(Some(|n: u32| async move { format!("first {n}") }));
        assert_eq!(slot.call(2).await.as_deref(), Some("first 2"));
        slot.set(Some(|n: u32| async move { format!("second {n}") }));
        assert_eq!(slot.call(3).await.as_deref(), Some("second 3"));
        slot.set(None::<fn(u32) -> std::future::Ready<String>>);
        assert!(!slot.is_set());
        assert_eq!(slot.call(4).await, None);
    }

    #[tokio::test]
    async fn a_call_in_flight_keeps_its_handler() {
        let slot: Arc<HandlerSlot<(), &'static str>> = Arc::new(HandlerSlot::new());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let rx = Arc::new(tokio::sync::Mutex::new(Some(rx)));
        slot.set(Some(move |()| {
            let rx = rx.clone();
            async move {
                if let Some(rx) = rx.lock().await.take() {
                    let _ = rx.await;
                }
                "old"
            }
        }));
        let in_flight = tokio::spawn({
            let slot = slot.clone();
            async move { slot.call(()).await }
        });
        tokio::task::yield_now().await;
        slot.set(Some(|()| async { "new" }));
        tx.send(()).unwrap();
        assert_eq!(in_flight.await.unwrap(), Some("old"));
        assert_eq!(slot.call(()).await, Some("new"));
    }
}
