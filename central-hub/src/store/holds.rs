//! Legal holds (migration 11): an event under hold (a case, an export handed to a court) is
//! kept past its kind's retention, and so are the evidence files it names, until an admin
//! releases it. Retention on both engines skips held events.

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::{PgStore, SqliteStore, StoreError};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hold {
    pub reason: String,
    pub by: String,
    #[serde(with = "matthan_schema::rfc3339_ms")]
    pub since: DateTime<Utc>,
}

pub trait HoldStore {
    /// Holds `event_id`; false when it was already held (the first hold's reason stays).
    fn hold(&mut self, event_id: &str, reason: &str, by: &str) -> Result<bool, StoreError>;
    /// Releases a hold; false when there was none.
    fn release(&mut self, event_id: &str) -> Result<bool, StoreError>;
    fn hold_of(&mut self, event_id: &str) -> Result<Option<Hold>, StoreError>;
}

/// The retention condition both engines add: never an event under hold.
pub(crate) const NOT_HELD: &str = "id NOT IN (SELECT event_id FROM holds)";

fn at(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

impl HoldStore for SqliteStore {
    fn hold(&mut self, event_id: &str, reason: &str, by: &str) -> Result<bool, StoreError> {
        let n = self.conn.execute(
            "INSERT INTO holds (event_id, reason, held_by, held_ms) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT DO NOTHING",
            params![event_id, reason, by, Utc::now().timestamp_millis()],
        )?;
        Ok(n == 1)
    }

    fn release(&mut self, event_id: &str) -> Result<bool, StoreError> {
        Ok(self
            .conn
            .execute("DELETE FROM holds WHERE event_id = ?1", [event_id])?
            == 1)
    }

    fn hold_of(&mut self, event_id: &str) -> Result<Option<Hold>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT reason, held_by, held_ms FROM holds WHERE event_id = ?1",
                [event_id],
                |r| {
                    Ok(Hold {
                        reason: r.get(0)?,
                        by: r.get(1)?,
                        since: at(r.get(2)?),
                    })
                },
            )
            .optional()?)
    }
}

impl HoldStore for PgStore {
    fn hold(&mut self, event_id: &str, reason: &str, by: &str) -> Result<bool, StoreError> {
        let n = self.client.execute(
            "INSERT INTO holds (event_id, reason, held_by, held_ms) VALUES ($1, $2, $3, $4)
             ON CONFLICT DO NOTHING",
            &[&event_id, &reason, &by, &Utc::now().timestamp_millis()],
        )?;
        Ok(n == 1)
    }

    fn release(&mut self, event_id: &str) -> Result<bool, StoreError> {
        Ok(self
            .client
            .execute("DELETE FROM holds WHERE event_id = $1", &[&event_id])?
            == 1)
    }

    fn hold_of(&mut self, event_id: &str) -> Result<Option<Hold>, StoreError> {
        Ok(self
            .client
            .query_opt(
                "SELECT reason, held_by, held_ms FROM holds WHERE event_id = $1",
                &[&event_id],
            )?
            .map(|r| Hold {
                reason: r.get(0),
                by: r.get(1),
                since: at(r.get(2)),
            }))
    }
}
