//! The audit log, tamper-evident: each row carries the sha256 of the row before it and its own
//! fields (`hash`, migration 10), so a row edited or deleted in the database file, past the
//! append-only triggers, breaks the chain at that row (`central-hub audit verify`). Deleting the
//! newest rows leaves a shorter valid chain: the head hash `audit verify` prints is what to
//! record elsewhere (a daily report) to catch that.

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::{PgStore, SqliteStore, StoreError};

/// One row of the append-only audit log.
#[derive(Debug, Clone, Serialize)]
pub struct AuditEntry {
    #[serde(with = "matthan_schema::rfc3339_ms")]
    pub ts: DateTime<Utc>,
    pub who: String,
    pub role: String,
    pub action: String,
    pub detail: String,
}

/// A stored row with its place in the chain.
#[derive(Debug, Clone)]
pub struct ChainedEntry {
    pub seq: i64,
    pub entry: AuditEntry,
    /// None for rows written before the chain existed (schema < 10).
    pub hash: Option<String>,
}

pub trait AuditStore {
    /// Appends a row, chained to the newest one.
    fn audit(&mut self, entry: &AuditEntry) -> Result<(), StoreError>;
    /// The newest rows first.
    fn audit_log(&mut self, limit: usize) -> Result<Vec<AuditEntry>, StoreError>;
    /// Every row, oldest first, for verification.
    fn audit_chain(&mut self) -> Result<Vec<ChainedEntry>, StoreError>;
}

/// The row's hash: sha256 over the previous hash and the row's fields as one JSON array (so
/// no choice of field text can make two different rows hash alike).
pub fn chain_hash(prev: &str, e: &AuditEntry) -> String {
    let fields = serde_json::json!([
        prev,
        e.ts.timestamp_millis(),
        e.who,
        e.role,
        e.action,
        e.detail
    ]);
    crate::config::sha256_hex(fields.to_string().as_bytes())
}

/// What `audit verify` found: rows checked, rows before the chain began, the head hash, and
/// each row that does not chain (edited, or the row before it deleted).
#[derive(Debug, Default)]
pub struct ChainReport {
    pub checked: usize,
    pub before_chain: usize,
    pub head: Option<String>,
    pub problems: Vec<String>,
}

pub fn verify_chain(rows: &[ChainedEntry]) -> ChainReport {
    let mut r = ChainReport::default();
    let mut prev: Option<String> = None;
    for row in rows {
        match (&row.hash, &prev) {
            (None, None) => r.before_chain += 1,
            (None, Some(_)) => r.problems.push(format!(
                "row {}: its hash was removed ({} {} by {})",
                row.seq, row.entry.ts, row.entry.action, row.entry.who
            )),
            (Some(h), _) => {
                let want = chain_hash(prev.as_deref().unwrap_or(""), &row.entry);
                if *h != want {
                    r.problems.push(format!(
                        "row {}: does not chain: the row was edited or the row before it deleted ({} {} by {})",
                        row.seq, row.entry.ts, row.entry.action, row.entry.who
                    ));
                }
                r.checked += 1;
                // Chain on from what is stored: one edit is reported once, not at every row after.
                prev = Some(h.clone());
            }
        }
    }
    r.head = prev;
    r
}

const COLUMNS: &str = "seq, ts_ms, who, role, action, detail, hash";

fn at(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

impl AuditStore for SqliteStore {
    fn audit(&mut self, a: &AuditEntry) -> Result<(), StoreError> {
        // IMMEDIATE: the newest hash is read and the row written under one write lock, so two
        // connections never chain onto the same row.
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let prev: Option<Option<String>> = tx
            .query_row(
                "SELECT hash FROM audit ORDER BY seq DESC LIMIT 1",
                [],
                |r| r.get(0),
            )
            .optional()?;
        let hash = chain_hash(&prev.flatten().unwrap_or_default(), a);
        tx.execute(
            "INSERT INTO audit (ts_ms, who, role, action, detail, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![a.ts.timestamp_millis(), a.who, a.role, a.action, a.detail, hash],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn audit_log(&mut self, limit: usize) -> Result<Vec<AuditEntry>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM audit ORDER BY seq DESC LIMIT {limit}");
        Ok(sqlite_rows(self, &sql)?
            .into_iter()
            .map(|c| c.entry)
            .collect())
    }

    fn audit_chain(&mut self) -> Result<Vec<ChainedEntry>, StoreError> {
        sqlite_rows(self, &format!("SELECT {COLUMNS} FROM audit ORDER BY seq"))
    }
}

fn sqlite_rows(s: &mut SqliteStore, sql: &str) -> Result<Vec<ChainedEntry>, StoreError> {
    let mut stmt = s.conn.prepare_cached(sql)?;
    let rows = stmt
        .query_map([], |r| {
            Ok(ChainedEntry {
                seq: r.get(0)?,
                entry: AuditEntry {
                    ts: at(r.get(1)?),
                    who: r.get(2)?,
                    role: r.get(3)?,
                    action: r.get(4)?,
                    detail: r.get(5)?,
                },
                hash: r.get(6)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// Any fixed number: the advisory lock that orders audit appends across hub connections.
const PG_AUDIT_LOCK: i64 = 0x006d_6174_7468_616e;

impl AuditStore for PgStore {
    fn audit(&mut self, a: &AuditEntry) -> Result<(), StoreError> {
        let mut tx = self.client.transaction()?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&PG_AUDIT_LOCK])?;
        let prev: Option<String> = tx
            .query_opt("SELECT hash FROM audit ORDER BY seq DESC LIMIT 1", &[])?
            .and_then(|r| r.get(0));
        let hash = chain_hash(&prev.unwrap_or_default(), a);
        let ts = a.ts.timestamp_millis();
        tx.execute(
            "INSERT INTO audit (ts_ms, who, role, action, detail, hash) VALUES ($1, $2, $3, $4, $5, $6)",
            &[&ts, &a.who, &a.role, &a.action, &a.detail, &hash],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn audit_log(&mut self, limit: usize) -> Result<Vec<AuditEntry>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM audit ORDER BY seq DESC LIMIT {limit}");
        Ok(pg_rows(self, &sql)?.into_iter().map(|c| c.entry).collect())
    }

    fn audit_chain(&mut self) -> Result<Vec<ChainedEntry>, StoreError> {
        pg_rows(self, &format!("SELECT {COLUMNS} FROM audit ORDER BY seq"))
    }
}

fn pg_rows(s: &mut PgStore, sql: &str) -> Result<Vec<ChainedEntry>, StoreError> {
    Ok(s.client
        .query(sql, &[])?
        .iter()
        .map(|r| ChainedEntry {
            seq: r.get(0),
            entry: AuditEntry {
                ts: at(r.get(1)),
                who: r.get(2),
                role: r.get(3),
                action: r.get(4),
                detail: r.get(5),
            },
            hash: r.get(6),
        })
        .collect())
}
