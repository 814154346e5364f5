//! The in-process event bus: a broadcast channel fed by the outbox dispatcher.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;
use uuid::Uuid;

use crate::OrgId;

/// A domain event, after it was committed and dispatched.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub id: Uuid,
    /// Position in the outbox: increases with commit order on one database.
    pub seq: i64,
    pub org: OrgId,
    pub app: String,
    pub kind: String,
    pub payload: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

/// Delivers committed events to every subscriber in this process.
///
/// Delivery is at least once: a subscriber that falls more than the channel capacity behind
/// gets `RecvError::Lagged` and must catch up from the data itself (search reindexing does).
#[derive(Debug, Clone)]
pub struct EventBus {
    tx: broadcast::Sender<Event>,
}

impl EventBus {
    pub fn new(capacity: usize) -> Self {
        let (tx, _) = broadcast::channel(capacity.max(1));
        Self { tx }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.tx.subscribe()
    }

    /// Returns how many subscribers received the event.
    pub fn publish(&self, event: Event) -> usize {
        self.tx.send(event).unwrap_or(0)
    }
}

impl Default for EventBus {
    fn default() -> Self {
        Self::new(4096)
    }
}
