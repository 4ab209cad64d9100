//! SQLite engine: one file, WAL, versioned migrations in `user_version`.

use std::path::Path;

use chrono::{DateTime, Utc};
use matthan_schema::Event;
use rusqlite::{Connection, OptionalExtension, params};

use super::holds::NOT_HELD;
use super::{
    DeadLetter, EventStore, Fields, Filter, Param, Row, SetAside, StoreError, bytes_to_vec,
    vec_to_bytes,
};

const MIGRATIONS: &[&str] = &[
    r#"
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
    plate_norm  TEXT,
    direction   TEXT,
    place       TEXT,
    snapshot    TEXT,
    caption     TEXT NOT NULL,
    semantic    TEXT NOT NULL,
    body        TEXT NOT NULL,
    received_ms INTEGER NOT NULL
);
CREATE INDEX events_kind_ts ON events (kind, ts_ms);
CREATE INDEX events_class_ts ON events (class, ts_ms);
CREATE INDEX events_camera_ts ON events (camera, ts_ms);
CREATE TABLE semantics (text TEXT PRIMARY KEY, embedding BLOB NOT NULL);
CREATE TABLE audit (
    seq    INTEGER PRIMARY KEY AUTOINCREMENT,
    ts_ms  INTEGER NOT NULL,
    who    TEXT NOT NULL,
    role   TEXT NOT NULL,
    action TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
"#,
    r#"
CREATE TABLE cameras (site TEXT NOT NULL, camera TEXT NOT NULL, PRIMARY KEY (site, camera));
INSERT INTO cameras SELECT DISTINCT site, camera FROM events;
"#,
    // Which rule raised an alert (and, later, a violation): searched as a filter.
    r#"
ALTER TABLE events ADD COLUMN rule TEXT;
CREATE INDEX events_rule_ts ON events (rule, ts_ms);
"#,
    // Which evidence blobs each event names, so that a blob is deleted when its last event
    // goes (and blobs no event names are swept).
    r#"
CREATE TABLE evidence_refs (sha256 TEXT NOT NULL, event_id TEXT NOT NULL, PRIMARY KEY (sha256, event_id));
CREATE INDEX evidence_refs_event ON evidence_refs (event_id);
INSERT OR IGNORE INTO evidence_refs SELECT snapshot, id FROM events WHERE snapshot IS NOT NULL;
INSERT OR IGNORE INTO evidence_refs
  SELECT json_extract(j.value, '$.sha256'), e.id FROM events e, json_each(e.body, '$.body.evidence') j
  WHERE e.kind = 'violation' AND json_extract(j.value, '$.sha256') IS NOT NULL;
INSERT OR IGNORE INTO evidence_refs
  SELECT json_extract(body, '$.body.manifest'), id FROM events
  WHERE kind = 'violation' AND json_extract(body, '$.body.manifest') IS NOT NULL;
"#,
    // Messages acknowledged without being stored as events: refused ones and quarantined ones.
    r#"
CREATE TABLE dead_letters (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    received_ms INTEGER NOT NULL,
    topic       TEXT NOT NULL,
    site        TEXT NOT NULL,
    why         TEXT NOT NULL,
    reason      TEXT NOT NULL,
    bytes       INTEGER NOT NULL,
    payload     BLOB NOT NULL
);
CREATE INDEX dead_letters_why ON dead_letters (why, seq);
"#,
    // Plates folded over OCR look-alikes, indexed (filled and indexed by `AFTER_MIGRATION`).
    // Embeddings made before the tokenizer stopped padding every text to 128 tokens are
    // recomputed; captions wait in `pending_semantics` until the hub embeds them.
    r#"
ALTER TABLE events ADD COLUMN plate_key TEXT;
DELETE FROM semantics;
CREATE TABLE pending_semantics (text TEXT PRIMARY KEY);
INSERT INTO pending_semantics SELECT DISTINCT semantic FROM events WHERE semantic <> '';
CREATE TABLE plates (plate_key TEXT PRIMARY KEY) WITHOUT ROWID;
-- The attributes searches filter on ride in the class and camera indexes, so SQLite rejects
-- non-matching rows in the index and reads the table only for matches (halved the simple
-- searches over 1 M events; PostgreSQL checks filters on the heap either way).
DROP INDEX events_class_ts;
DROP INDEX events_camera_ts;
CREATE INDEX events_class_ts ON events (class, ts_ms, kind, color, upper_color, lower_color);
CREATE INDEX events_camera_ts ON events (camera, ts_ms, class, kind, color, upper_color, lower_color);
"#,
    // Compass headings of travel (no backfill: before this the edge sent none and the
    // convention was undocumented) and the zone and line names events name, for queries.
    r#"
ALTER TABLE events ADD COLUMN heading INTEGER;
CREATE TABLE places (site TEXT NOT NULL, camera TEXT NOT NULL, place TEXT NOT NULL, PRIMARY KEY (site, camera, place));
INSERT INTO places SELECT DISTINCT site, camera, place FROM events WHERE place IS NOT NULL;
"#,
    // Indexes on columns most events leave empty count only the events that have them, so the
    // planner's statistics see a rule or a place as selective (with the NULLs counted, every
    // rule looked like a million rows and alert searches scanned by class instead).
    r#"
DROP INDEX events_rule_ts;
CREATE INDEX events_rule_ts ON events (rule, ts_ms) WHERE rule IS NOT NULL;
CREATE INDEX events_place_ts ON events (place, ts_ms) WHERE place IS NOT NULL;
"#,
    // Watch lists (danh sách theo dõi) and their hits, each hit once per entry and event.
    r#"
CREATE TABLE watchlist (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    plate      TEXT NOT NULL,
    reason     TEXT NOT NULL,
    added_by   TEXT NOT NULL,
    added_ms   INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL,
    removed_ms INTEGER,
    removed_by TEXT
);
CREATE TABLE watch_hits (
    entry_id INTEGER NOT NULL, listed TEXT NOT NULL, reason TEXT NOT NULL, read TEXT NOT NULL,
    exact INTEGER NOT NULL, event_id TEXT NOT NULL, site TEXT NOT NULL, camera TEXT NOT NULL,
    ts_ms INTEGER NOT NULL, PRIMARY KEY (entry_id, event_id)
);
CREATE INDEX watch_hits_ts ON watch_hits (ts_ms);
"#,
    // The audit log's hash chain (store/audit.rs); rows before it stay unchained.
    r#"
ALTER TABLE audit ADD COLUMN hash TEXT;
"#,
    // Legal holds (store/holds.rs): retention skips held events.
    r#"
CREATE TABLE holds (event_id TEXT PRIMARY KEY, reason TEXT NOT NULL, held_by TEXT NOT NULL, held_ms INTEGER NOT NULL);
"#,
    // Forensic cases and their videos' jobs (store/cases.rs).
    r#"
CREATE TABLE cases (
    id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, created_by TEXT NOT NULL,
    created_ms INTEGER NOT NULL, recorded_ms INTEGER NOT NULL
);
CREATE TABLE case_videos (
    id INTEGER PRIMARY KEY AUTOINCREMENT, case_id INTEGER NOT NULL REFERENCES cases (id),
    name TEXT NOT NULL, source TEXT NOT NULL, state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0, worker TEXT, lease_ms INTEGER,
    duration_ms INTEGER, processed_ms INTEGER NOT NULL DEFAULT 0, sha256 TEXT, error TEXT,
    events INTEGER NOT NULL DEFAULT 0, started_ms INTEGER, finished_ms INTEGER
);
CREATE INDEX case_videos_case ON case_videos (case_id, id);
CREATE INDEX case_videos_open ON case_videos (id) WHERE state IN ('queued', 'running');
"#,
    // PostgreSQL partitions its events table by month here; one SQLite file serves one box's
    // cameras and keeps one table (the number is taken so both engines count alike).
    "SELECT 1;",
];
pub struct SqliteStore {
    pub(super) conn: Connection,
}

const ROW_COLUMNS: &str = "id, site, camera, kind, ts_ms, track_id, class, color, upper_color, lower_color, plate, direction, place, caption, semantic, snapshot, rule";

impl SqliteStore {
    /// One query; `select` asks it one kind at a time.
    fn select_one(&mut self, filter: &Filter, limit: usize) -> Result<Vec<Row>, StoreError> {
        let (where_sql, params) = filter.to_sql();
        let sql = format!(
            "SELECT {ROW_COLUMNS} FROM events WHERE {where_sql} ORDER BY ts_ms DESC LIMIT {limit}"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let values: Vec<_> = params.iter().map(to_sql).collect();
        let rows = stmt
            .query_map(rusqlite::params_from_iter(values.iter()), row)?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }

    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let p = path.display().to_string();
        let open_err = |e: rusqlite::Error| StoreError::Open {
            path: p.clone(),
            reason: e.to_string(),
        };
        let conn = Connection::open(path).map_err(open_err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(open_err)?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        // 64 MiB of page cache: index inserts land at random pages (ids and times arrive out of
        // order across cameras), and the 2 MiB default makes every one a read.
        conn.pragma_update(None, "cache_size", -65536)?;
        // Searches read a few thousand scattered rows; mapped pages are read in place instead of
        // copied through `pread` into each connection's cache.
        conn.pragma_update(None, "mmap_size", 1i64 << 34)?;
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
            if let Some(more) = super::after_migration(i + 1) {
                tx.execute_batch(&more)?;
            }
            tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        }
        tx.commit()?;
        Ok(())
    }
}

fn to_sql(p: &Param) -> rusqlite::types::Value {
    match p {
        Param::Text(s) => rusqlite::types::Value::Text(s.clone()),
        Param::Int(i) => rusqlite::types::Value::Integer(*i),
    }
}

fn row(r: &rusqlite::Row) -> rusqlite::Result<Row> {
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
        semantic: r.get(14)?,
        snapshot: r.get(15)?,
        rule: r.get(16)?,
    })
}

impl EventStore for SqliteStore {
    fn ping(&mut self) -> Result<(), StoreError> {
        self.conn.query_row("SELECT 1", [], |_| Ok(()))?;
        Ok(())
    }

    fn set_aside(&mut self, letters: &[DeadLetter]) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO dead_letters (received_ms, topic, site, why, reason, bytes, payload)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?;
            for d in letters {
                stmt.execute(params![
                    d.received.timestamp_millis(),
                    d.topic,
                    d.site,
                    d.why.as_str(),
                    d.reason,
                    d.bytes as i64,
                    d.payload
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn expire_dead_letters(&mut self, before: DateTime<Utc>) -> Result<usize, StoreError> {
        Ok(self.conn.execute(
            "DELETE FROM dead_letters WHERE received_ms < ?1",
            [before.timestamp_millis()],
        )?)
    }

    fn dead_letters(
        &mut self,
        why: Option<SetAside>,
        limit: usize,
    ) -> Result<Vec<DeadLetter>, StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT received_ms, topic, site, why, reason, bytes, payload FROM dead_letters
             WHERE ?1 IS NULL OR why = ?1 ORDER BY seq DESC LIMIT {limit}"
        ))?;
        let rows = stmt
            .query_map([why.map(SetAside::as_str)], |r| {
                Ok(DeadLetter {
                    received: DateTime::from_timestamp_millis(r.get(0)?).unwrap_or_default(),
                    topic: r.get(1)?,
                    site: r.get(2)?,
                    why: SetAside::parse(&r.get::<_, String>(3)?).unwrap_or(SetAside::Refused),
                    reason: r.get(4)?,
                    bytes: r.get::<_, i64>(5)? as usize,
                    payload: r.get(6)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }

    fn insert(&mut self, events: &[Event]) -> Result<usize, StoreError> {
        let now = Utc::now().timestamp_millis();
        let tx = self.conn.transaction()?;
        let mut new = 0;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO events (id, site, camera, kind, ts_ms, track_id, class, color, upper_color, lower_color,
                                     plate, plate_norm, direction, place, snapshot, caption, semantic, body, received_ms, rule, plate_key, heading)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22)
                 ON CONFLICT (id) DO NOTHING",
            )?;
            let mut cams = tx.prepare_cached(
                "INSERT INTO cameras (site, camera) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
            )?;
            let mut refs = tx.prepare_cached(
                "INSERT INTO evidence_refs (sha256, event_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
            )?;
            // A caption no embedding exists for yet waits to be embedded (`missing_embeddings`).
            let mut pending = tx.prepare_cached(
                "INSERT INTO pending_semantics (text) SELECT ?1
                 WHERE NOT EXISTS (SELECT 1 FROM semantics WHERE text = ?1) ON CONFLICT DO NOTHING",
            )?;
            let mut plates = tx.prepare_cached(
                "INSERT INTO plates (plate_key) VALUES (?1) ON CONFLICT DO NOTHING",
            )?;
            let mut places = tx.prepare_cached(
                "INSERT INTO places (site, camera, place) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
            )?;
            let mut named = std::collections::HashSet::new();
            let mut seen = std::collections::HashSet::new();
            let mut captions = std::collections::HashSet::new();
            for e in events {
                if seen.insert((e.site.as_str(), e.camera.as_str())) {
                    cams.execute(params![e.site, e.camera])?;
                }
                let f = Fields::of(e);
                if !f.semantic.is_empty() && captions.insert(f.semantic.clone()) {
                    pending.execute([&f.semantic])?;
                }
                if let Some(k) = &f.plate_key {
                    plates.execute([k])?;
                }
                if let Some(p) = &f.place
                    && named.insert((e.site.as_str(), e.camera.as_str(), p.clone()))
                {
                    places.execute(params![e.site, e.camera, p])?;
                }
                for sha in &f.refs {
                    refs.execute(params![sha, e.id.to_string()])?;
                }
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
                    f.plate_norm,
                    f.direction,
                    f.place,
                    f.snapshot,
                    f.caption,
                    f.semantic,
                    f.body,
                    now,
                    f.rule,
                    f.plate_key,
                    f.heading,
                ])?;
            }
        }
        tx.commit()?;
        Ok(new)
    }

    fn get(&mut self, id: &str) -> Result<Option<Event>, StoreError> {
        let body: Option<String> = self
            .conn
            .query_row("SELECT body FROM events WHERE id = ?1", [id], |r| r.get(0))
            .optional()?;
        Ok(body.and_then(|b| serde_json::from_str(&b).ok()))
    }

    fn select(&mut self, filter: &Filter, limit: usize) -> Result<Vec<Row>, StoreError> {
        super::select::select_by_kind(filter, limit, |f| self.select_one(f, limit))
    }

    fn count(&mut self) -> Result<i64, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT count(*) FROM events", [], |r| r.get(0))?)
    }

    fn cameras(&mut self) -> Result<Vec<(String, String)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT site, camera FROM cameras ORDER BY site, camera")?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }

    fn latest_per_camera(&mut self, kind: &str) -> Result<Vec<Event>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT e.body FROM events e
             JOIN (SELECT site, camera, max(ts_ms) AS ts FROM events WHERE kind = ?1 GROUP BY site, camera) l
               ON e.site = l.site AND e.camera = l.camera AND e.ts_ms = l.ts
             WHERE e.kind = ?1 ORDER BY e.site, e.camera",
        )?;
        let bodies: Vec<String> = stmt
            .query_map([kind], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        Ok(bodies
            .iter()
            .filter_map(|b| serde_json::from_str(b).ok())
            .collect())
    }

    fn expire(&mut self, kind: &str, before: DateTime<Utc>) -> Result<usize, StoreError> {
        let tx = self.conn.transaction()?;
        let ts = before.timestamp_millis();
        tx.execute(
            &format!(
                "DELETE FROM evidence_refs WHERE event_id IN
                   (SELECT id FROM events WHERE kind = ?1 AND ts_ms < ?2 AND {NOT_HELD})"
            ),
            params![kind, ts],
        )?;
        let n = tx.execute(
            &format!("DELETE FROM events WHERE kind = ?1 AND ts_ms < ?2 AND {NOT_HELD}"),
            params![kind, ts],
        )?;
        tx.commit()?;
        Ok(n)
    }

    fn places(&mut self) -> Result<Vec<String>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT DISTINCT place FROM places ORDER BY place")?;
        let rows = stmt
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }

    fn optimize(&mut self) -> Result<(), StoreError> {
        // One writer at a time in SQLite: no event can name a plate while this runs.
        self.conn.execute(
            "DELETE FROM plates WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.plate_key = plates.plate_key)",
            [],
        )?;
        self.conn.execute_batch("ANALYZE")?;
        Ok(())
    }

    fn referenced(
        &mut self,
        shas: &[String],
    ) -> Result<std::collections::HashSet<String>, StoreError> {
        let mut out = std::collections::HashSet::new();
        let mut stmt = self
            .conn
            .prepare_cached("SELECT 1 FROM evidence_refs WHERE sha256 = ?1 LIMIT 1")?;
        for sha in shas {
            if stmt.exists(params![sha])? {
                out.insert(sha.clone());
            }
        }
        Ok(out)
    }

    fn embeddings(&mut self, texts: &[String]) -> Result<Vec<(String, Vec<f32>)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT embedding FROM semantics WHERE text = ?1")?;
        let mut out = Vec::new();
        for t in texts {
            if let Some(b) = stmt.query_row([t], |r| r.get::<_, Vec<u8>>(0)).optional()? {
                out.push((t.clone(), bytes_to_vec(&b)));
            }
        }
        Ok(out)
    }

    fn put_embeddings(&mut self, items: &[(String, Vec<f32>)]) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        {
            let mut stmt = tx.prepare_cached("INSERT INTO semantics (text, embedding) VALUES (?1, ?2) ON CONFLICT (text) DO NOTHING")?;
            let mut done = tx.prepare_cached("DELETE FROM pending_semantics WHERE text = ?1")?;
            for (t, v) in items {
                stmt.execute(params![t, vec_to_bytes(v)])?;
                done.execute([t])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn missing_embeddings(&mut self, limit: usize) -> Result<Vec<String>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!("SELECT text FROM pending_semantics LIMIT {limit}"))?;
        let rows = stmt
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }
}
