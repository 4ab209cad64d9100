//! The event store: one SQLite file in WAL mode. Events are upserted by id, so a QoS 1
//! redelivery or an edge replaying its backlog is harmless. Columns that search filters on are
//! pulled out of the JSON body at insert; the body is kept whole for the detail view.

use std::path::Path;

use chrono::{DateTime, Utc};
use matthan_schema::{Body, Direction, Event};
use rusqlite::{Connection, OptionalExtension, params};

use crate::caption::caption;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database {path}: {source}")]
    Open {
        path: String,
        source: rusqlite::Error,
    },
    #[error("database: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error(
        "database {path} has schema version {found}, newer than this hub ({known}); upgrade the hub"
    )]
    TooNew {
        path: String,
        found: i64,
        known: i64,
    },
}

/// Versioned migrations; `user_version` records how many have run.
const MIGRATIONS: &[&str] = &[r#"
CREATE TABLE events (
    id          TEXT PRIMARY KEY,
    site        TEXT NOT NULL,
    camera      TEXT NOT NULL,
    kind        TEXT NOT NULL,
    ts_ms       INTEGER NOT NULL,
    track_id    INTEGER,
    class       TEXT,
    color       TEXT,
    upper_color TEXT,
    lower_color TEXT,
    plate       TEXT,
    direction   TEXT,
    place       TEXT,
    caption     TEXT NOT NULL,
    body        TEXT NOT NULL,
    received_ms INTEGER NOT NULL
);
CREATE INDEX events_ts ON events (ts_ms);
CREATE INDEX events_kind_ts ON events (kind, ts_ms);
CREATE INDEX events_class_ts ON events (class, ts_ms);
CREATE INDEX events_track ON events (site, camera, track_id);
"#];

pub struct Store {
    conn: Connection,
}

/// A stored event row as search and the CLI see it.
#[derive(Debug, Clone)]
pub struct Row {
    pub id: String,
    pub site: String,
    pub camera: String,
    pub kind: String,
    pub ts: DateTime<Utc>,
    pub track_id: Option<i64>,
    pub class: Option<String>,
    pub color: Option<String>,
    pub upper_color: Option<String>,
    pub lower_color: Option<String>,
    pub plate: Option<String>,
    pub direction: Option<String>,
    pub place: Option<String>,
    pub caption: String,
}

impl Store {
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let p = path.display().to_string();
        let conn = Connection::open(path).map_err(|source| StoreError::Open {
            path: p.clone(),
            source,
        })?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let mut s = Self { conn };
        s.migrate(&p)?;
        Ok(s)
    }

    fn migrate(&mut self, path: &str) -> Result<(), StoreError> {
        let v: i64 = self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))?;
        let known = MIGRATIONS.len() as i64;
        if v > known {
            return Err(StoreError::TooNew {
                path: path.to_string(),
                found: v,
                known,
            });
        }
        let tx = self.conn.transaction()?;
        for (i, m) in MIGRATIONS.iter().enumerate().skip(v as usize) {
            tx.execute_batch(m)?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Stores a batch in one transaction; returns how many were new (the rest were duplicates).
    pub fn insert(&mut self, events: &[Event]) -> Result<usize, StoreError> {
        let now = Utc::now().timestamp_millis();
        let tx = self.conn.transaction()?;
        let mut new = 0;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO events (id, site, camera, kind, ts_ms, track_id, class, color, upper_color, lower_color,
                                     plate, direction, place, caption, body, received_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)
                 ON CONFLICT (id) DO NOTHING",
            )?;
            for e in events {
                let f = Fields::of(e);
                new += stmt.execute(params![
                    e.id.to_string(),
                    e.site,
                    e.camera,
                    e.kind().as_str(),
                    e.ts.timestamp_millis(),
                    f.track_id,
                    f.class,
                    f.color,
                    f.upper_color,
                    f.lower_color,
                    f.plate,
                    f.direction,
                    f.place,
                    caption(e),
                    serde_json::to_string(e).expect("events serialise"),
                    now,
                ])?;
            }
        }
        tx.commit()?;
        Ok(new)
    }

    pub fn count(&self) -> Result<i64, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT count(*) FROM events", [], |r| r.get(0))?)
    }

    pub fn get(&self, id: &str) -> Result<Option<Event>, StoreError> {
        let body: Option<String> = self
            .conn
            .query_row("SELECT body FROM events WHERE id = ?1", [id], |r| r.get(0))
            .optional()?;
        Ok(body.and_then(|b| serde_json::from_str(&b).ok()))
    }

    pub fn ids(&self) -> Result<Vec<String>, StoreError> {
        let mut stmt = self.conn.prepare("SELECT id FROM events")?;
        let ids = stmt
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        Ok(ids)
    }

    pub fn cameras(&self) -> Result<Vec<(String, String)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT DISTINCT site, camera FROM events")?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }

    /// Rows matching a parameterised WHERE clause built by `search` (never from raw text).
    pub(crate) fn select(
        &self,
        where_sql: &str,
        args: &[rusqlite::types::Value],
        limit: usize,
    ) -> Result<Vec<Row>, StoreError> {
        let sql = format!(
            "SELECT id, site, camera, kind, ts_ms, track_id, class, color, upper_color, lower_color, plate, direction, place, caption
             FROM events WHERE {where_sql} ORDER BY ts_ms DESC LIMIT {limit}"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt
            .query_map(rusqlite::params_from_iter(args.iter()), |r| {
                Ok(Row {
                    id: r.get(0)?,
                    site: r.get(1)?,
                    camera: r.get(2)?,
                    kind: r.get(3)?,
                    ts: DateTime::from_timestamp_millis(r.get(4)?).unwrap_or_default(),
                    track_id: r.get(5)?,
                    class: r.get(6)?,
                    color: r.get(7)?,
                    upper_color: r.get(8)?,
                    lower_color: r.get(9)?,
                    plate: r.get(10)?,
                    direction: r.get(11)?,
                    place: r.get(12)?,
                    caption: r.get(13)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }
}

/// The searchable columns of one event.
#[derive(Default)]
struct Fields {
    track_id: Option<i64>,
    class: Option<String>,
    color: Option<String>,
    upper_color: Option<String>,
    lower_color: Option<String>,
    plate: Option<String>,
    direction: Option<&'static str>,
    place: Option<String>,
}

impl Fields {
    fn of(e: &Event) -> Self {
        match &e.body {
            Body::Track(t) => Fields {
                track_id: Some(t.track_id as i64),
                class: Some(t.class.clone()),
                color: t.attributes.color.clone(),
                upper_color: t.attributes.upper_color.clone(),
                lower_color: t.attributes.lower_color.clone(),
                plate: t.attributes.plate.clone(),
                place: t.zones.last().cloned(),
                ..Fields::default()
            },
            Body::Crossing(c) => Fields {
                track_id: Some(c.track_id as i64),
                class: Some(c.class.clone()),
                direction: Some(match c.direction {
                    Direction::In => "in",
                    Direction::Out => "out",
                }),
                place: Some(c.line.clone()),
                ..Fields::default()
            },
            Body::Zone(z) => Fields {
                track_id: Some(z.track_id as i64),
                class: Some(z.class.clone()),
                place: Some(z.zone.clone()),
                ..Fields::default()
            },
            _ => Fields::default(),
        }
    }
}
