//! The edge's outbox: every event and evidence blob is written here (SQLite, WAL, fsync on
//! commit) before anything tries to publish it, and removed only when a hub's receipt says it
//! is committed (or, with receipts off, when the broker has acknowledged it). A dead uplink, a
//! killed process, a broker that restarts and forgets, or a hub that was not subscribed
//! therefore loses nothing that reached the outbox; duplicates after a resend are allowed (the
//! hub upserts by event id and evidence hash).
//!
//! When the disk budget is exceeded, rows are dropped lowest priority first (counts, then
//! status, then tracks, then crossings and zones, evidence last), oldest first within a
//! priority, and every drop is counted for the edge's status.

use std::path::{Path, PathBuf};

use matthan_schema::Kind;
use rusqlite::{Connection, OptionalExtension, params};

#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error("outbox {path}: {source}")]
    Open {
        path: String,
        source: rusqlite::Error,
    },
    #[error("outbox: {0}")]
    Sql(#[from] rusqlite::Error),
}

/// The `[outbox]` section, as written.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOutbox {
    /// SQLite file; default `outbox-{edge_id}.db` beside the config.
    #[serde(default)]
    path: Option<PathBuf>,
    /// Disk the outbox may use; beyond it the least important messages are dropped first.
    #[serde(default)]
    budget_mb: Option<u64>,
    /// Messages per second the backlog drains at after an outage (live events go first).
    #[serde(default)]
    backlog_rate: Option<u32>,
    /// Keep each message until a hub's receipt says it is stored (default); `false` trusts the
    /// broker's acknowledgement alone (no hub, or a hub too old to send receipts).
    #[serde(default)]
    receipts: Option<bool>,
    /// A message the broker acknowledged but no hub confirmed within this long is sent again.
    #[serde(default)]
    receipt_timeout_s: Option<f64>,
    /// Also keep, in the outbox file's `produced` table, the key and topic of every message
    /// made durable, in the same commit: the edge's own account of what it produced, for
    /// fault tests and audits to compare with a hub. Grows without bound; off by default.
    #[serde(default)]
    record_produced: Option<bool>,
}

/// Where events wait for the broker, and how much of the disk they may take.
#[derive(Debug, Clone)]
pub struct OutboxConfig {
    pub path: PathBuf,
    pub budget_mb: u64,
    pub backlog_rate: u32,
    /// How long to wait for a hub's receipt before sending again; None: the broker's
    /// acknowledgement is enough.
    pub receipt_timeout: Option<std::time::Duration>,
    pub record_produced: bool,
}

impl RawOutbox {
    pub fn validate(
        self,
        s: &crate::config::Scope,
        edge_id: &str,
    ) -> Result<OutboxConfig, crate::config::ConfigError> {
        let budget_mb = self.budget_mb.unwrap_or(512);
        if budget_mb == 0 {
            return Err(s.err("budget_mb", "must be at least 1"));
        }
        let backlog_rate = self.backlog_rate.unwrap_or(200);
        if backlog_rate == 0 {
            return Err(s.err("backlog_rate", "must be at least 1 message per second"));
        }
        let path = match self.path {
            Some(p) => {
                let p = s.path(&p);
                // Caught now rather than at the first event, with the cameras running.
                if let Some(dir) = p.parent()
                    && !dir.as_os_str().is_empty()
                    && !dir.is_dir()
                {
                    return Err(s.err("path", format!("folder {} does not exist", dir.display())));
                }
                p
            }
            // Beside the config file, whose folder exists.
            None => s.path(Path::new(&format!("outbox-{edge_id}.db"))),
        };
        let timeout = self.receipt_timeout_s.unwrap_or(30.0);
        if !(timeout.is_finite() && (1.0..=3600.0).contains(&timeout)) {
            return Err(s.err("receipt_timeout_s", "must be 1..=3600 seconds"));
        }
        let receipt_timeout = self
            .receipts
            .unwrap_or(true)
            .then(|| std::time::Duration::from_secs_f64(timeout));
        Ok(OutboxConfig {
            path,
            budget_mb,
            backlog_rate,
            receipt_timeout,
            record_produced: self.record_produced.unwrap_or(false),
        })
    }
}

/// How much a message matters when the disk is full; higher survives longer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Priority {
    Counts = 0,
    Status = 1,
    Track = 2,
    Event = 3,
    /// Alerts and violations: what an operator acts on, kept as long as their evidence.
    Alert = 4,
    Evidence = 5,
}

impl Priority {
    pub fn of(kind: Kind) -> Self {
        match kind {
            Kind::Counts => Priority::Counts,
            Kind::CameraStatus | Kind::EdgeStatus => Priority::Status,
            Kind::Track => Priority::Track,
            Kind::Crossing | Kind::Zone => Priority::Event,
            Kind::Alert | Kind::Violation => Priority::Alert,
            Kind::SignalRecommendation | Kind::CongestionWarning => Priority::Event,
        }
    }

    pub const ALL: [Priority; 6] = [
        Priority::Counts,
        Priority::Status,
        Priority::Track,
        Priority::Event,
        Priority::Alert,
        Priority::Evidence,
    ];
}

/// One message waiting for the broker.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// What a hub's receipt names it by: the event's id, or the evidence blob's sha256.
    pub key: String,
    pub topic: String,
    pub payload: Vec<u8>,
    pub retain: bool,
    pub priority: Priority,
}

/// How far a file camera got: every frame up to `pts_ms` is analysed and its events are in
/// the outbox. `source` names the file (path, size, modification time), so a different file
/// under the same camera starts from its beginning.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    pub camera: String,
    pub source: String,
    pub pts_ms: i64,
}

/// `pts_ms` of a file analysed to its end.
pub const DONE: i64 = i64::MAX;

#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub seq: i64,
    pub message: Message,
}

pub struct Outbox {
    conn: Connection,
    budget: u64,
    /// Rows without a key (from an outbox older than receipts) remain: checked once at open so
    /// the acknowledgement path does not query for them on every PUBACK.
    legacy: bool,
    /// Whether pushes are also recorded in `produced` (see `RawOutbox::record_produced`).
    produced: bool,
}

impl Outbox {
    /// From now on, records the key and topic of every pushed message in `produced`.
    pub fn record_produced(&mut self) -> Result<(), OutboxError> {
        self.conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS produced (key TEXT NOT NULL, topic TEXT NOT NULL)",
        )?;
        self.produced = true;
        Ok(())
    }

    /// Opens (or creates) the outbox at `path`, keeping at most `budget` bytes of payload.
    pub fn open(path: &Path, budget: u64) -> Result<Self, OutboxError> {
        let p = path.display().to_string();
        let open_err = |source| OutboxError::Open {
            path: p.clone(),
            source,
        };
        let conn = Connection::open(path).map_err(open_err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(open_err)?;
        // FULL: a commit is on disk before it returns, so SIGKILL or power loss keeps it.
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS outbox (
                 seq      INTEGER PRIMARY KEY AUTOINCREMENT,
                 priority INTEGER NOT NULL,
                 topic    TEXT NOT NULL,
                 payload  BLOB NOT NULL,
                 retain   INTEGER NOT NULL
             );
             CREATE INDEX IF NOT EXISTS outbox_priority ON outbox (priority, seq);
             CREATE TABLE IF NOT EXISTS dropped (priority INTEGER PRIMARY KEY, n INTEGER NOT NULL);
             -- How far each file camera got, committed with the events of the frames before it.
             CREATE TABLE IF NOT EXISTS progress (camera TEXT PRIMARY KEY, source TEXT NOT NULL, pts_ms INTEGER NOT NULL);
             -- Payload bytes held, kept in step by every insert and delete, so the budget check
             -- does not scan a backlog that may hold hours of events.
             CREATE TABLE IF NOT EXISTS size (id INTEGER PRIMARY KEY CHECK (id = 0), bytes INTEGER NOT NULL);
             -- Recounted once at open (one scan), so a total that drifted can never persist.
             INSERT OR REPLACE INTO size (id, bytes) SELECT 0, coalesce(sum(length(payload)), 0) FROM outbox;",
        )?;
        // Receipts (added later): the key a hub confirms a row by, and when the broker
        // acknowledged it. Rows from an older outbox have no key and go on the broker's word.
        let has_key: bool = conn
            .prepare("SELECT 1 FROM pragma_table_info('outbox') WHERE name = 'key'")?
            .exists([])?;
        if !has_key {
            conn.execute_batch(
                "ALTER TABLE outbox ADD COLUMN key TEXT NOT NULL DEFAULT '';
                 ALTER TABLE outbox ADD COLUMN sent_ms INTEGER;",
            )?;
        }
        conn.execute_batch(
            "CREATE INDEX IF NOT EXISTS outbox_key ON outbox (key);
             CREATE INDEX IF NOT EXISTS outbox_sent ON outbox (sent_ms) WHERE sent_ms IS NOT NULL;",
        )?;
        let legacy = conn
            .prepare("SELECT 1 FROM outbox WHERE key = '' LIMIT 1")?
            .exists([])?;
        Ok(Self {
            conn,
            budget,
            legacy,
            produced: false,
        })
    }

    /// Stores messages in one durable transaction, then enforces the budget.
    pub fn push(&mut self, messages: &[Message]) -> Result<(), OutboxError> {
        self.push_with(messages, &[])
    }

    /// The same, recording in the same commit how far file cameras got: a crash can never
    /// leave a position ahead of the events it covers, nor events ahead of their position.
    pub fn push_with(
        &mut self,
        messages: &[Message],
        progress: &[Progress],
    ) -> Result<(), OutboxError> {
        if messages.is_empty() && progress.is_empty() {
            return Ok(());
        }
        let tx = self.conn.transaction()?;
        {
            let mut st = tx.prepare_cached(
                "INSERT INTO progress (camera, source, pts_ms) VALUES (?1, ?2, ?3)
                 ON CONFLICT (camera) DO UPDATE SET source = excluded.source, pts_ms = excluded.pts_ms",
            )?;
            for p in progress {
                st.execute(params![p.camera, p.source, p.pts_ms])?;
            }
        }
        {
            let mut st = tx.prepare_cached(
                "INSERT INTO outbox (priority, topic, payload, retain, key) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for m in messages {
                st.execute(params![
                    m.priority as i64,
                    m.topic,
                    m.payload,
                    m.retain,
                    m.key
                ])?;
            }
        }
        if self.produced {
            let mut st = tx.prepare_cached("INSERT INTO produced (key, topic) VALUES (?1, ?2)")?;
            for m in messages {
                st.execute(params![m.key, m.topic])?;
            }
        }
        let added: i64 = messages.iter().map(|m| m.payload.len() as i64).sum();
        tx.execute("UPDATE size SET bytes = bytes + ?1 WHERE id = 0", [added])?;
        Self::enforce_budget(&tx, self.budget)?;
        tx.commit()?;
        Ok(())
    }

    fn enforce_budget(tx: &rusqlite::Transaction, budget: u64) -> Result<(), OutboxError> {
        // The running total, not a scan: the backlog may hold hours of events.
        let mut bytes: i64 =
            tx.query_row("SELECT bytes FROM size WHERE id = 0", [], |r| r.get(0))?;
        while bytes as u64 > budget {
            let victim: Option<(i64, i64, i64)> = tx
                .query_row(
                    "SELECT seq, priority, length(payload) FROM outbox ORDER BY priority, seq LIMIT 1",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()?;
            let Some((seq, priority, len)) = victim else {
                break;
            };
            tx.execute("DELETE FROM outbox WHERE seq = ?1", [seq])?;
            tx.execute("UPDATE size SET bytes = bytes - ?1 WHERE id = 0", [len])?;
            tx.execute(
                "INSERT INTO dropped (priority, n) VALUES (?1, 1) ON CONFLICT (priority) DO UPDATE SET n = n + 1",
                [priority],
            )?;
            bytes -= len;
        }
        Ok(())
    }

    /// Where a file camera got to: the file's identity and the last analysed position.
    pub fn progress(&self, camera: &str) -> Result<Option<(String, i64)>, OutboxError> {
        Ok(self
            .conn
            .query_row(
                "SELECT source, pts_ms FROM progress WHERE camera = ?1",
                [camera],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
    }

    /// Up to `limit` rows with `seq > after`, oldest first.
    pub fn after(&self, after: i64, limit: usize) -> Result<Vec<Row>, OutboxError> {
        let mut st = self
            .conn
            .prepare_cached("SELECT seq, priority, topic, payload, retain, key FROM outbox WHERE seq > ?1 ORDER BY seq LIMIT ?2")?;
        let rows = st
            .query_map(params![after, limit as i64], row)?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }

    /// The broker acknowledged these rows: they now wait for a hub's receipt. Rows with no key
    /// (from an outbox older than receipts) cannot be confirmed and are forgotten now.
    pub fn sent(&mut self, seqs: &[i64], now_ms: i64) -> Result<(), OutboxError> {
        let tx = self.conn.transaction()?;
        {
            let mut st = tx.prepare_cached("UPDATE outbox SET sent_ms = ?2 WHERE seq = ?1")?;
            for s in seqs {
                st.execute(params![s, now_ms])?;
            }
        }
        tx.commit()?;
        if !self.legacy {
            return Ok(());
        }
        let legacy: Vec<i64> = {
            let mut st = self
                .conn
                .prepare_cached("SELECT seq FROM outbox WHERE key = '' AND sent_ms IS NOT NULL")?;
            st.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?
        };
        if !legacy.is_empty() {
            self.ack(&legacy)?;
        }
        self.legacy = self
            .conn
            .prepare_cached("SELECT 1 FROM outbox WHERE key = '' LIMIT 1")?
            .exists([])?;
        Ok(())
    }

    /// A hub confirmed these keys (stored, or refused for good): forget their rows. Returns
    /// how many rows went.
    pub fn confirm<'a>(
        &mut self,
        keys: impl IntoIterator<Item = &'a str>,
    ) -> Result<usize, OutboxError> {
        let tx = self.conn.transaction()?;
        let mut n = 0;
        {
            let mut st =
                tx.prepare_cached("DELETE FROM outbox WHERE key = ?1 RETURNING length(payload)")?;
            let mut freed = 0i64;
            for k in keys {
                if k.is_empty() {
                    continue;
                }
                let lens: Vec<i64> = st.query_map([k], |r| r.get(0))?.collect::<Result<_, _>>()?;
                n += lens.len();
                freed += lens.iter().sum::<i64>();
            }
            tx.execute("UPDATE size SET bytes = bytes - ?1 WHERE id = 0", [freed])?;
        }
        tx.commit()?;
        Ok(n)
    }

    /// Up to `limit` rows the broker acknowledged before `before_ms` that no hub has confirmed:
    /// they are sent again (and their clock restarts now).
    pub fn overdue(
        &mut self,
        before_ms: i64,
        now_ms: i64,
        limit: usize,
    ) -> Result<Vec<Row>, OutboxError> {
        let tx = self.conn.transaction()?;
        let rows: Vec<Row> = {
            let mut st = tx.prepare_cached(
                "SELECT seq, priority, topic, payload, retain, key FROM outbox
                 WHERE sent_ms IS NOT NULL AND sent_ms < ?1 ORDER BY seq LIMIT ?2",
            )?;
            st.query_map(params![before_ms, limit as i64], row)?
                .collect::<Result<_, _>>()?
        };
        {
            let mut st = tx.prepare_cached("UPDATE outbox SET sent_ms = ?2 WHERE seq = ?1")?;
            for r in &rows {
                st.execute(params![r.seq, now_ms])?;
            }
        }
        tx.commit()?;
        Ok(rows)
    }

    /// Rows the broker has and a hub has not yet confirmed.
    pub fn awaiting_receipt(&self) -> Result<u64, OutboxError> {
        Ok(self.conn.query_row(
            "SELECT count(*) FROM outbox WHERE sent_ms IS NOT NULL",
            [],
            |r| r.get::<_, i64>(0),
        )? as u64)
    }

    /// The broker has the message: forget it.
    pub fn ack(&mut self, seqs: &[i64]) -> Result<(), OutboxError> {
        let tx = self.conn.transaction()?;
        {
            let mut st =
                tx.prepare_cached("DELETE FROM outbox WHERE seq = ?1 RETURNING length(payload)")?;
            let mut freed = 0i64;
            for s in seqs {
                // A row already dropped for space (or acked twice) frees nothing.
                if let Some(len) = st.query_row([s], |r| r.get::<_, i64>(0)).optional()? {
                    freed += len;
                }
            }
            tx.execute("UPDATE size SET bytes = bytes - ?1 WHERE id = 0", [freed])?;
        }
        tx.commit()?;
        Ok(())
    }

    pub fn len(&self) -> Result<u64, OutboxError> {
        Ok(self
            .conn
            .query_row("SELECT count(*) FROM outbox", [], |r| r.get::<_, i64>(0))?
            as u64)
    }

    pub fn is_empty(&self) -> Result<bool, OutboxError> {
        Ok(self.len()? == 0)
    }

    /// Payload bytes held.
    pub fn bytes(&self) -> Result<u64, OutboxError> {
        Ok(self
            .conn
            .query_row("SELECT bytes FROM size WHERE id = 0", [], |r| {
                r.get::<_, i64>(0)
            })? as u64)
    }

    pub fn max_seq(&self) -> Result<i64, OutboxError> {
        Ok(self
            .conn
            .query_row("SELECT coalesce(max(seq), 0) FROM outbox", [], |r| r.get(0))?)
    }

    /// Messages dropped for lack of disk since the outbox was created, per priority.
    pub fn dropped(&self) -> Result<Vec<(Priority, u64)>, OutboxError> {
        let mut st = self
            .conn
            .prepare_cached("SELECT priority, n FROM dropped ORDER BY priority")?;
        let rows = st
            .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))?
            .filter_map(Result::ok)
            .filter_map(|(p, n)| {
                Priority::ALL
                    .into_iter()
                    .find(|x| *x as i64 == p)
                    .map(|p| (p, n as u64))
            })
            .collect();
        Ok(rows)
    }
}

fn row(r: &rusqlite::Row) -> rusqlite::Result<Row> {
    let p: i64 = r.get(1)?;
    Ok(Row {
        seq: r.get(0)?,
        message: Message {
            priority: Priority::ALL
                .into_iter()
                .find(|x| *x as i64 == p)
                .unwrap_or(Priority::Evidence),
            topic: r.get(2)?,
            payload: r.get(3)?,
            retain: r.get(4)?,
            key: r.get(5)?,
        },
    })
}

#[cfg(test)]
mod tests;
