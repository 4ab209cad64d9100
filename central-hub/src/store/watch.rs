//! Watch-list entries and their hits, on both engines (tables from migration 9).

use chrono::{DateTime, Utc};
use rusqlite::params;

use super::{PgStore, SqliteStore, StoreError};
use crate::watch::{WatchEntry, WatchHit};

/// What the watch list needs from a store.
pub trait WatchStore {
    /// Lists a plate (upper-case alphanumerics); returns its entry id.
    fn watch_add(
        &mut self,
        plate: &str,
        reason: &str,
        by: &str,
        expires: DateTime<Utc>,
    ) -> Result<i64, StoreError>;
    /// Ends an entry; false when there was no active entry with that id.
    fn watch_remove(&mut self, id: i64, by: &str) -> Result<bool, StoreError>;
    /// Entries neither removed nor expired at `now`.
    fn watch_entries(&mut self, now: DateTime<Utc>) -> Result<Vec<WatchEntry>, StoreError>;
    /// Records a hit; false when this entry already hit on this event (a redelivery).
    fn record_watch_hit(&mut self, h: &WatchHit) -> Result<bool, StoreError>;
    /// The newest hits first.
    fn watch_hits(&mut self, limit: usize) -> Result<Vec<WatchHit>, StoreError>;
}

fn at(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

const ENTRY_COLUMNS: &str = "id, plate, reason, added_by, added_ms, expires_ms";
const HIT_COLUMNS: &str = "entry_id, listed, reason, read, exact, event_id, site, camera, ts_ms";

impl WatchStore for SqliteStore {
    fn watch_add(
        &mut self,
        plate: &str,
        reason: &str,
        by: &str,
        expires: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        self.conn.execute(
            "INSERT INTO watchlist (plate, reason, added_by, added_ms, expires_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![plate, reason, by, Utc::now().timestamp_millis(), expires.timestamp_millis()],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    fn watch_remove(&mut self, id: i64, by: &str) -> Result<bool, StoreError> {
        let n = self.conn.execute(
            "UPDATE watchlist SET removed_ms = ?2, removed_by = ?3 WHERE id = ?1 AND removed_ms IS NULL",
            params![id, Utc::now().timestamp_millis(), by],
        )?;
        Ok(n == 1)
    }

    fn watch_entries(&mut self, now: DateTime<Utc>) -> Result<Vec<WatchEntry>, StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {ENTRY_COLUMNS} FROM watchlist WHERE removed_ms IS NULL AND expires_ms > ?1 ORDER BY id"
        ))?;
        let rows = stmt
            .query_map([now.timestamp_millis()], |r| {
                Ok(WatchEntry {
                    id: r.get(0)?,
                    plate: r.get(1)?,
                    reason: r.get(2)?,
                    added_by: r.get(3)?,
                    added: at(r.get(4)?),
                    expires: at(r.get(5)?),
                })
            })?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }

    fn record_watch_hit(&mut self, h: &WatchHit) -> Result<bool, StoreError> {
        let n = self.conn.execute(
            &format!("INSERT INTO watch_hits ({HIT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT DO NOTHING"),
            params![h.entry_id, h.listed, h.reason, h.read, h.exact, h.event_id, h.site, h.camera, h.ts.timestamp_millis()],
        )?;
        Ok(n == 1)
    }

    fn watch_hits(&mut self, limit: usize) -> Result<Vec<WatchHit>, StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {HIT_COLUMNS} FROM watch_hits ORDER BY ts_ms DESC LIMIT {limit}"
        ))?;
        let rows = stmt
            .query_map([], |r| {
                Ok(WatchHit {
                    entry_id: r.get(0)?,
                    listed: r.get(1)?,
                    reason: r.get(2)?,
                    read: r.get(3)?,
                    exact: r.get(4)?,
                    event_id: r.get(5)?,
                    site: r.get(6)?,
                    camera: r.get(7)?,
                    ts: at(r.get(8)?),
                    track: None,
                })
            })?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }
}

impl WatchStore for PgStore {
    fn watch_add(
        &mut self,
        plate: &str,
        reason: &str,
        by: &str,
        expires: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        let row = self.client.query_one(
            "INSERT INTO watchlist (plate, reason, added_by, added_ms, expires_ms) VALUES ($1, $2, $3, $4, $5) RETURNING id",
            &[&plate, &reason, &by, &Utc::now().timestamp_millis(), &expires.timestamp_millis()],
        )?;
        Ok(row.get(0))
    }

    fn watch_remove(&mut self, id: i64, by: &str) -> Result<bool, StoreError> {
        let n = self.client.execute(
            "UPDATE watchlist SET removed_ms = $2, removed_by = $3 WHERE id = $1 AND removed_ms IS NULL",
            &[&id, &Utc::now().timestamp_millis(), &by],
        )?;
        Ok(n == 1)
    }

    fn watch_entries(&mut self, now: DateTime<Utc>) -> Result<Vec<WatchEntry>, StoreError> {
        let rows = self.client.query(
            &format!(
                "SELECT {ENTRY_COLUMNS} FROM watchlist WHERE removed_ms IS NULL AND expires_ms > $1 ORDER BY id"
            ),
            &[&now.timestamp_millis()],
        )?;
        Ok(rows
            .iter()
            .map(|r| WatchEntry {
                id: r.get(0),
                plate: r.get(1),
                reason: r.get(2),
                added_by: r.get(3),
                added: at(r.get(4)),
                expires: at(r.get(5)),
            })
            .collect())
    }

    fn record_watch_hit(&mut self, h: &WatchHit) -> Result<bool, StoreError> {
        let n = self.client.execute(
            &format!("INSERT INTO watch_hits ({HIT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING"),
            &[&h.entry_id, &h.listed, &h.reason, &h.read, &h.exact, &h.event_id, &h.site, &h.camera, &h.ts.timestamp_millis()],
        )?;
        Ok(n == 1)
    }

    fn watch_hits(&mut self, limit: usize) -> Result<Vec<WatchHit>, StoreError> {
        let rows = self.client.query(
            &format!("SELECT {HIT_COLUMNS} FROM watch_hits ORDER BY ts_ms DESC LIMIT {limit}"),
            &[],
        )?;
        Ok(rows
            .iter()
            .map(|r| WatchHit {
                entry_id: r.get(0),
                listed: r.get(1),
                reason: r.get(2),
                read: r.get(3),
                exact: r.get(4),
                event_id: r.get(5),
                site: r.get(6),
                camera: r.get(7),
                ts: at(r.get(8)),
                track: None,
            })
            .collect())
    }
}
