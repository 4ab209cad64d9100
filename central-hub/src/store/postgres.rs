//! PostgreSQL engine, for deployments that outgrow one box. Same tables and queries as SQLite;
//! migrations are versioned in `matthan_schema_version`.

use chrono::{DateTime, Utc};
use matthan_schema::Event;
use postgres::{Client, NoTls, types::ToSql};

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
    ts_ms       BIGINT NOT NULL,
    track_id    BIGINT,
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
    received_ms BIGINT NOT NULL
);
CREATE INDEX events_kind_ts ON events (kind, ts_ms);
CREATE INDEX events_class_ts ON events (class, ts_ms);
CREATE INDEX events_camera_ts ON events (camera, ts_ms);
CREATE TABLE semantics (text TEXT PRIMARY KEY, embedding BYTEA NOT NULL);
CREATE TABLE audit (
    seq    BIGSERIAL PRIMARY KEY,
    ts_ms  BIGINT NOT NULL,
    who    TEXT NOT NULL,
    role   TEXT NOT NULL,
    action TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS
  $$ BEGIN RAISE EXCEPTION 'audit log is append-only'; END $$;
CREATE TRIGGER audit_no_change BEFORE UPDATE OR DELETE ON audit FOR EACH ROW EXECUTE FUNCTION audit_append_only();
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
    // Which evidence blobs each event names (see the SQLite migration).
    r#"
CREATE TABLE evidence_refs (sha256 TEXT NOT NULL, event_id TEXT NOT NULL, PRIMARY KEY (sha256, event_id));
CREATE INDEX evidence_refs_event ON evidence_refs (event_id);
INSERT INTO evidence_refs SELECT snapshot, id FROM events WHERE snapshot IS NOT NULL
  ON CONFLICT DO NOTHING;
INSERT INTO evidence_refs
  SELECT x->>'sha256', e.id FROM events e, jsonb_array_elements(e.body::jsonb->'body'->'evidence') x
  WHERE e.kind = 'violation' AND x->>'sha256' IS NOT NULL ON CONFLICT DO NOTHING;
INSERT INTO evidence_refs
  SELECT body::jsonb->'body'->>'manifest', id FROM events
  WHERE kind = 'violation' AND body::jsonb->'body'->>'manifest' IS NOT NULL ON CONFLICT DO NOTHING;
"#,
    // Messages acknowledged without being stored as events (see the SQLite migration).
    r#"
CREATE TABLE dead_letters (
    seq         BIGSERIAL PRIMARY KEY,
    received_ms BIGINT NOT NULL,
    topic       TEXT NOT NULL,
    site        TEXT NOT NULL,
    why         TEXT NOT NULL,
    reason      TEXT NOT NULL,
    bytes       BIGINT NOT NULL,
    payload     BYTEA NOT NULL
);
CREATE INDEX dead_letters_why ON dead_letters (why, seq);
"#,
    // Folded plates (see the SQLite migration), in binary order so that a plate's start is an
    // index range whatever the database's locale.
    r#"
ALTER TABLE events ADD COLUMN plate_key TEXT COLLATE "C";
DELETE FROM semantics;
CREATE TABLE pending_semantics (text TEXT PRIMARY KEY);
INSERT INTO pending_semantics SELECT DISTINCT semantic FROM events WHERE semantic <> '';
CREATE TABLE plates (plate_key TEXT COLLATE "C" PRIMARY KEY);
"#,
    // Compass headings of travel (no backfill: before this the edge sent none and the
    // convention was undocumented) and the zone and line names events name, for queries.
    r#"
ALTER TABLE events ADD COLUMN heading BIGINT;
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
    id         BIGSERIAL PRIMARY KEY,
    plate      TEXT NOT NULL,
    reason     TEXT NOT NULL,
    added_by   TEXT NOT NULL,
    added_ms   BIGINT NOT NULL,
    expires_ms BIGINT NOT NULL,
    removed_ms BIGINT,
    removed_by TEXT
);
CREATE TABLE watch_hits (
    entry_id BIGINT NOT NULL, listed TEXT NOT NULL, reason TEXT NOT NULL, read TEXT NOT NULL,
    exact BOOLEAN NOT NULL, event_id TEXT NOT NULL, site TEXT NOT NULL, camera TEXT NOT NULL,
    ts_ms BIGINT NOT NULL, PRIMARY KEY (entry_id, event_id)
);
CREATE INDEX watch_hits_ts ON watch_hits (ts_ms);
"#,
    // The audit log's hash chain (store/audit.rs); rows before it stay unchained.
    r#"
ALTER TABLE audit ADD COLUMN hash TEXT;
"#,
    // Legal holds (store/holds.rs): retention skips held events.
    r#"
CREATE TABLE holds (event_id TEXT PRIMARY KEY, reason TEXT NOT NULL, held_by TEXT NOT NULL, held_ms BIGINT NOT NULL);
"#,
    // Forensic cases and their videos' jobs (store/cases.rs).
    r#"
CREATE TABLE cases (
    id BIGSERIAL PRIMARY KEY, name TEXT NOT NULL, created_by TEXT NOT NULL,
    created_ms BIGINT NOT NULL, recorded_ms BIGINT NOT NULL
);
CREATE TABLE case_videos (
    id BIGSERIAL PRIMARY KEY, case_id BIGINT NOT NULL REFERENCES cases (id),
    name TEXT NOT NULL, source TEXT NOT NULL, state TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0, worker TEXT, lease_ms BIGINT,
    duration_ms BIGINT, processed_ms BIGINT NOT NULL DEFAULT 0, sha256 TEXT, error TEXT,
    events BIGINT NOT NULL DEFAULT 0, started_ms BIGINT, finished_ms BIGINT
);
CREATE INDEX case_videos_case ON case_videos (case_id, id);
CREATE INDEX case_videos_open ON case_videos (id) WHERE state IN ('queued', 'running');
"#,
    // The events table partitioned by month (store/partitions.rs).
    super::partitions::MIGRATION,
];
/// A caption no embedding exists for yet waits to be embedded (see `missing_embeddings`).
const PENDING_SQL: &str = "INSERT INTO pending_semantics (text) SELECT $1::text
     WHERE NOT EXISTS (SELECT 1 FROM semantics WHERE text = $1::text) ON CONFLICT DO NOTHING";

pub struct PgStore {
    pub(super) client: Client,
    /// The months of events this connection has made sure have their partition.
    months: super::partitions::Months,
}

const ROW_COLUMNS: &str = "id, site, camera, kind, ts_ms, track_id, class, color, upper_color, lower_color, plate, direction, place, caption, semantic, snapshot, rule";

impl PgStore {
    /// One query; `select` asks it one kind at a time.
    fn select_one(&mut self, filter: &Filter, limit: usize) -> Result<Vec<Row>, StoreError> {
        let (where_sql, params) = filter.to_sql();
        let sql = format!(
            "SELECT {ROW_COLUMNS} FROM events WHERE {where_sql} ORDER BY ts_ms DESC LIMIT {limit}"
        );
        let boxed: Vec<Box<dyn ToSql + Sync>> = params
            .iter()
            .map(|p| -> Box<dyn ToSql + Sync> {
                match p {
                    Param::Text(s) => Box::new(s.clone()),
                    Param::Int(i) => Box::new(*i),
                }
            })
            .collect();
        let refs: Vec<&(dyn ToSql + Sync)> = boxed.iter().map(|b| b.as_ref()).collect();
        Ok(self.client.query(&sql, &refs)?.iter().map(row).collect())
    }

    /// Each partition of the events table and its rows (see `store::partitions`).
    pub fn partitions(&mut self) -> Result<Vec<(String, i64)>, StoreError> {
        super::partitions::partitions(&mut self.client)
    }

    pub fn connect(url: &str) -> Result<Self, StoreError> {
        // The URL may hold a password: name only the host part in errors.
        let shown = url.rsplit('@').next().unwrap_or("postgres").to_string();
        let client = Client::connect(url, NoTls).map_err(|e| StoreError::Open {
            path: shown.clone(),
            reason: e.to_string(),
        })?;
        let mut s = Self {
            client,
            months: Default::default(),
        };
        s.migrate(&shown)?;
        Ok(s)
    }

    fn migrate(&mut self, path: &str) -> Result<(), StoreError> {
        let mut tx = self.client.transaction()?;
        // Hubs of a cluster start together on one database: the first migrates, the others
        // wait here (two concurrent CREATE TABLE IF NOT EXISTS collide in PostgreSQL's catalog).
        tx.batch_execute("SELECT pg_advisory_xact_lock(7245617)")?;
        tx.batch_execute("CREATE TABLE IF NOT EXISTS matthan_schema_version (version BIGINT NOT NULL); LOCK TABLE matthan_schema_version;")?;
        let v: i64 = tx
            .query_opt("SELECT version FROM matthan_schema_version", &[])?
            .map_or(0, |r| r.get(0));
        let known = MIGRATIONS.len() as i64;
        if v > known {
            return Err(StoreError::TooNew {
                path: path.to_string(),
                found: v,
                known,
            });
        }
        for (i, m) in MIGRATIONS.iter().enumerate().skip(v as usize) {
            tx.batch_execute(m)?;
            if let Some(more) = super::after_migration(i + 1) {
                tx.batch_execute(&more)?;
            }
        }
        tx.execute("DELETE FROM matthan_schema_version", &[])?;
        tx.execute(
            "INSERT INTO matthan_schema_version (version) VALUES ($1)",
            &[&known],
        )?;
        tx.commit()?;
        Ok(())
    }
}

fn row(r: &postgres::Row) -> Row {
    Row {
        id: r.get(0),
        site: r.get(1),
        camera: r.get(2),
        kind: r.get(3),
        ts: DateTime::from_timestamp_millis(r.get(4)).unwrap_or_default(),
        track_id: r.get(5),
        class: r.get(6),
        color: r.get(7),
        upper_color: r.get(8),
        lower_color: r.get(9),
        plate: r.get(10),
        direction: r.get(11),
        place: r.get(12),
        caption: r.get(13),
        semantic: r.get(14),
        snapshot: r.get(15),
        rule: r.get(16),
    }
}

impl EventStore for PgStore {
    fn ping(&mut self) -> Result<(), StoreError> {
        self.client.simple_query("SELECT 1")?;
        Ok(())
    }

    fn set_aside(&mut self, letters: &[DeadLetter]) -> Result<(), StoreError> {
        let mut tx = self.client.transaction()?;
        let stmt = tx.prepare(
            "INSERT INTO dead_letters (received_ms, topic, site, why, reason, bytes, payload)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )?;
        for d in letters {
            tx.execute(
                &stmt,
                &[
                    &d.received.timestamp_millis(),
                    &d.topic,
                    &d.site,
                    &d.why.as_str(),
                    &d.reason,
                    &(d.bytes as i64),
                    &d.payload,
                ],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    fn expire_dead_letters(&mut self, before: DateTime<Utc>) -> Result<usize, StoreError> {
        Ok(self.client.execute(
            "DELETE FROM dead_letters WHERE received_ms < $1",
            &[&before.timestamp_millis()],
        )? as usize)
    }

    fn dead_letters(
        &mut self,
        why: Option<SetAside>,
        limit: usize,
    ) -> Result<Vec<DeadLetter>, StoreError> {
        let why = why.map(SetAside::as_str);
        let rows = self.client.query(
            &format!(
                "SELECT received_ms, topic, site, why, reason, bytes, payload FROM dead_letters
                 WHERE $1::TEXT IS NULL OR why = $1 ORDER BY seq DESC LIMIT {limit}"
            ),
            &[&why],
        )?;
        Ok(rows
            .iter()
            .map(|r| DeadLetter {
                received: DateTime::from_timestamp_millis(r.get(0)).unwrap_or_default(),
                topic: r.get(1),
                site: r.get(2),
                why: SetAside::parse(r.get(3)).unwrap_or(SetAside::Refused),
                reason: r.get(4),
                bytes: r.get::<_, i64>(5) as usize,
                payload: r.get(6),
            })
            .collect())
    }

    fn insert(&mut self, events: &[Event]) -> Result<usize, StoreError> {
        let now = Utc::now().timestamp_millis();
        self.months.ensure(
            &mut self.client,
            events.iter().map(|e| e.ts.timestamp_millis()),
        )?;
        let mut tx = self.client.transaction()?;
        let stmt = tx.prepare(
            "INSERT INTO events (id, site, camera, kind, ts_ms, track_id, class, color, upper_color, lower_color,
                                 plate, plate_norm, direction, place, snapshot, caption, semantic, body, received_ms, rule, plate_key, heading)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)
             ON CONFLICT (id, ts_ms) DO NOTHING",
        )?;
        let cams = tx
            .prepare("INSERT INTO cameras (site, camera) VALUES ($1, $2) ON CONFLICT DO NOTHING")?;
        let refs = tx.prepare(
            "INSERT INTO evidence_refs (sha256, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )?;
        let pending = tx.prepare(PENDING_SQL)?;
        let plates =
            tx.prepare("INSERT INTO plates (plate_key) VALUES ($1) ON CONFLICT DO NOTHING")?;
        let places = tx.prepare(
            "INSERT INTO places (site, camera, place) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        )?;
        let mut named = std::collections::HashSet::new();
        let mut seen = std::collections::HashSet::new();
        let mut captions = std::collections::HashSet::new();
        let mut new = 0;
        for e in events {
            if seen.insert((e.site.as_str(), e.camera.as_str())) {
                tx.execute(&cams, &[&e.site, &e.camera])?;
            }
            let f = Fields::of(e);
            if !f.semantic.is_empty() && captions.insert(f.semantic.clone()) {
                tx.execute(&pending, &[&f.semantic])?;
            }
            if let Some(k) = &f.plate_key {
                tx.execute(&plates, &[k])?;
            }
            if let Some(p) = &f.place
                && named.insert((e.site.as_str(), e.camera.as_str(), p.clone()))
            {
                tx.execute(&places, &[&e.site, &e.camera, p])?;
            }
            let id = e.id.to_string();
            for sha in &f.refs {
                tx.execute(&refs, &[sha, &id])?;
            }
            let kind = e.kind().as_str();
            let ts = e.ts.timestamp_millis();
            new += tx.execute(
                &stmt,
                &[
                    &id,
                    &e.site,
                    &e.camera,
                    &kind,
                    &ts,
                    &f.track_id,
                    &f.class,
                    &f.color,
                    &f.upper_color,
                    &f.lower_color,
                    &f.plate,
                    &f.plate_norm,
                    &f.direction,
                    &f.place,
                    &f.snapshot,
                    &f.caption,
                    &f.semantic,
                    &f.body,
                    &now,
                    &f.rule,
                    &f.plate_key,
                    &f.heading,
                ],
            )? as usize;
        }
        tx.commit()?;
        Ok(new)
    }

    fn get(&mut self, id: &str) -> Result<Option<Event>, StoreError> {
        let r = self
            .client
            .query_opt("SELECT body FROM events WHERE id = $1", &[&id])?;
        Ok(r.and_then(|r| serde_json::from_str(r.get::<_, &str>(0)).ok()))
    }

    fn select(&mut self, filter: &Filter, limit: usize) -> Result<Vec<Row>, StoreError> {
        super::select::select_by_kind(filter, limit, |f| self.select_one(f, limit))
    }

    fn count(&mut self) -> Result<i64, StoreError> {
        Ok(self
            .client
            .query_one("SELECT count(*) FROM events", &[])?
            .get(0))
    }

    fn cameras(&mut self) -> Result<Vec<(String, String)>, StoreError> {
        Ok(self
            .client
            .query(
                "SELECT site, camera FROM cameras ORDER BY site, camera",
                &[],
            )?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect())
    }

    fn latest_per_camera(&mut self, kind: &str) -> Result<Vec<Event>, StoreError> {
        let rows = self.client.query(
            "SELECT DISTINCT ON (site, camera) body FROM events WHERE kind = $1 ORDER BY site, camera, ts_ms DESC",
            &[&kind],
        )?;
        Ok(rows
            .iter()
            .filter_map(|r| serde_json::from_str(r.get::<_, &str>(0)).ok())
            .collect())
    }

    fn expire(&mut self, kind: &str, before: DateTime<Utc>) -> Result<usize, StoreError> {
        let ts = before.timestamp_millis();
        let mut tx = self.client.transaction()?;
        tx.execute(
            &format!(
                "DELETE FROM evidence_refs WHERE event_id IN
                   (SELECT id FROM events WHERE kind = $1 AND ts_ms < $2 AND {NOT_HELD})"
            ),
            &[&kind, &ts],
        )?;
        let n = tx.execute(
            &format!("DELETE FROM events WHERE kind = $1 AND ts_ms < $2 AND {NOT_HELD}"),
            &[&kind, &ts],
        )? as usize;
        tx.commit()?;
        Ok(n)
    }

    fn places(&mut self) -> Result<Vec<String>, StoreError> {
        let rows = self
            .client
            .query("SELECT DISTINCT place FROM places ORDER BY place", &[])?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    fn optimize(&mut self) -> Result<(), StoreError> {
        let mut tx = self.client.transaction()?;
        // Holds back ingest's plate inserts until this commits, and waits for those in flight:
        // a plate whose first event is being stored is never taken away.
        tx.batch_execute(
            "LOCK TABLE plates IN EXCLUSIVE MODE;
             DELETE FROM plates WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.plate_key = plates.plate_key);",
        )?;
        tx.commit()?;
        self.client
            .batch_execute("ANALYZE events; ANALYZE plates;")?;
        Ok(())
    }

    fn referenced(
        &mut self,
        shas: &[String],
    ) -> Result<std::collections::HashSet<String>, StoreError> {
        let rows = self.client.query(
            "SELECT DISTINCT sha256 FROM evidence_refs WHERE sha256 = ANY($1)",
            &[&shas],
        )?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    fn embeddings(&mut self, texts: &[String]) -> Result<Vec<(String, Vec<f32>)>, StoreError> {
        let rows = self.client.query(
            "SELECT text, embedding FROM semantics WHERE text = ANY($1)",
            &[&texts],
        )?;
        Ok(rows
            .iter()
            .map(|r| (r.get(0), bytes_to_vec(r.get::<_, &[u8]>(1))))
            .collect())
    }

    fn put_embeddings(&mut self, items: &[(String, Vec<f32>)]) -> Result<(), StoreError> {
        let mut tx = self.client.transaction()?;
        for (t, v) in items {
            tx.execute(
                "INSERT INTO semantics (text, embedding) VALUES ($1, $2) ON CONFLICT (text) DO NOTHING",
                &[t, &vec_to_bytes(v)],
            )?;
            tx.execute("DELETE FROM pending_semantics WHERE text = $1", &[t])?;
        }
        tx.commit()?;
        Ok(())
    }

    fn missing_embeddings(&mut self, limit: usize) -> Result<Vec<String>, StoreError> {
        let rows = self.client.query(
            &format!("SELECT text FROM pending_semantics LIMIT {limit}"),
            &[],
        )?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }
}
