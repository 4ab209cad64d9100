//! The edge's outbox: every event and evidence blob is written here (SQLite, WAL, fsync on
//! commit) before anything tries to publish it, and removed only when the broker has
//! acknowledged it. A dead uplink or a killed process therefore loses nothing that reached the
//! outbox; duplicates after a crash are allowed (the hub upserts by event id).
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
}

/// Where events wait for the broker, and how much of the disk they may take.
#[derive(Debug, Clone)]
pub struct OutboxConfig {
    pub path: PathBuf,
    pub budget_mb: u64,
    pub backlog_rate: u32,
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
            Some(p) => s.path(&p),
            None => s.path(Path::new(&format!("outbox-{edge_id}.db"))),
        };
        Ok(OutboxConfig {
            path,
            budget_mb,
            backlog_rate,
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
    pub topic: String,
    pub payload: Vec<u8>,
    pub retain: bool,
    pub priority: Priority,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub seq: i64,
    pub message: Message,
}

pub struct Outbox {
    conn: Connection,
    budget: u64,
}

impl Outbox {
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
             -- Payload bytes held, kept in step by every insert and delete, so the budget check
             -- does not scan a backlog that may hold hours of events.
             CREATE TABLE IF NOT EXISTS size (id INTEGER PRIMARY KEY CHECK (id = 0), bytes INTEGER NOT NULL);
             INSERT OR IGNORE INTO size (id, bytes) SELECT 0, coalesce(sum(length(payload)), 0) FROM outbox;",
        )?;
        Ok(Self { conn, budget })
    }

    /// Stores messages in one durable transaction, then enforces the budget.
    pub fn push(&mut self, messages: &[Message]) -> Result<(), OutboxError> {
        if messages.is_empty() {
            return Ok(());
        }
        let tx = self.conn.transaction()?;
        {
            let mut st = tx.prepare_cached(
                "INSERT INTO outbox (priority, topic, payload, retain) VALUES (?1, ?2, ?3, ?4)",
            )?;
            for m in messages {
                st.execute(params![m.priority as i64, m.topic, m.payload, m.retain])?;
            }
        }
        Self::enforce_budget(&tx, self.budget)?;
        tx.commit()?;
        Ok(())
    }

    fn enforce_budget(tx: &rusqlite::Transaction, budget: u64) -> Result<(), OutboxError> {
        let mut bytes: i64 = tx.query_row(
            "SELECT coalesce(sum(length(payload)), 0) FROM outbox",
            [],
            |r| r.get(0),
        )?;
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

    /// Up to `limit` rows with `seq > after`, oldest first.
    pub fn after(&self, after: i64, limit: usize) -> Result<Vec<Row>, OutboxError> {
        let mut st = self
            .conn
            .prepare_cached("SELECT seq, priority, topic, payload, retain FROM outbox WHERE seq > ?1 ORDER BY seq LIMIT ?2")?;
        let rows = st
            .query_map(params![after, limit as i64], |r| {
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
                    },
                })
            })?
            .collect::<Result<_, _>>()?;
        Ok(rows)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(topic: &str, bytes: usize, priority: Priority) -> Message {
        Message {
            topic: topic.into(),
            payload: vec![b'x'; bytes],
            retain: false,
            priority,
        }
    }

    #[test]
    fn keeps_order_and_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("o.db");
        let mut o = Outbox::open(&path, 1 << 20).unwrap();
        o.push(&[msg("a", 10, Priority::Track), msg("b", 10, Priority::Event)])
            .unwrap();
        o.push(&[msg("c", 10, Priority::Counts)]).unwrap();
        drop(o);
        let mut o = Outbox::open(&path, 1 << 20).unwrap();
        let rows = o.after(0, 10).unwrap();
        assert_eq!(
            rows.iter()
                .map(|r| r.message.topic.as_str())
                .collect::<Vec<_>>(),
            ["a", "b", "c"]
        );
        o.ack(&[rows[0].seq]).unwrap();
        assert_eq!(o.after(0, 10).unwrap().len(), 2);
        assert_eq!(o.after(rows[1].seq, 10).unwrap()[0].message.topic, "c");
        assert_eq!(o.len().unwrap(), 2);
    }

    #[test]
    fn over_budget_drops_counts_first_then_oldest_and_counts_the_drops() {
        let dir = tempfile::tempdir().unwrap();
        let mut o = Outbox::open(&dir.path().join("o.db"), 100).unwrap();
        o.push(&[
            msg("ev1", 30, Priority::Evidence),
            msg("counts1", 30, Priority::Counts),
            msg("track1", 30, Priority::Track),
        ])
        .unwrap();
        o.push(&[msg("track2", 30, Priority::Track)]).unwrap();
        let left: Vec<String> = o
            .after(0, 10)
            .unwrap()
            .into_iter()
            .map(|r| r.message.topic)
            .collect();
        assert_eq!(left, ["ev1", "track1", "track2"], "counts dropped first");
        o.push(&[msg("ev2", 30, Priority::Evidence)]).unwrap();
        let left: Vec<String> = o
            .after(0, 10)
            .unwrap()
            .into_iter()
            .map(|r| r.message.topic)
            .collect();
        assert_eq!(
            left,
            ["ev1", "track2", "ev2"],
            "then the oldest track; evidence last"
        );
        assert_eq!(
            o.dropped().unwrap(),
            vec![(Priority::Counts, 1), (Priority::Track, 1)]
        );
    }
}
