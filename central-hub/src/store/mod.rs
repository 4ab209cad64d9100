//! The event store behind one interface, with two engines: SQLite (one file, WAL; the default)
//! and PostgreSQL (when one box is not enough). Both take the same filters and return the same
//! rows; both are tested against the real engine.
//!
//! Events are upserted by id, so a QoS 1 redelivery or an edge replaying its backlog is
//! harmless. Columns that search filters on are pulled out of the body at insert; the body is
//! kept whole for the detail view.

mod audit;
mod cases;
mod holds;
mod partitions;
mod postgres;
mod select;
mod sqlite;
mod watch;

pub use self::audit::{AuditEntry, AuditStore, ChainReport, ChainedEntry, verify_chain};
pub use self::cases::{Case, CaseStore, Job, JobState, MAX_ATTEMPTS, Outcome, Video, VideoSource};
pub use self::holds::{Hold, HoldStore};
pub use self::postgres::PgStore;
pub use self::sqlite::SqliteStore;
pub use self::watch::WatchStore;

use chrono::{DateTime, Utc};
use matthan_schema::{Body, Direction, Event};

use crate::caption::{caption, semantic};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database {path}: {reason}")]
    Open { path: String, reason: String },
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("database: {0}")]
    Postgres(#[from] ::postgres::Error),
    #[error(
        "database {path} has schema version {found}, newer than this hub ({known}); upgrade the hub"
    )]
    TooNew {
        path: String,
        found: i64,
        known: i64,
    },
    #[error("the audit log is append-only")]
    AuditAppendOnly,
}

impl StoreError {
    /// Whether the failure is about the data (retrying the same event cannot help) rather than
    /// the database (locked, busy, full, read-only, unreachable: retrying later can).
    pub fn is_permanent(&self) -> bool {
        use rusqlite::ErrorCode as C;
        match self {
            StoreError::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => matches!(
                e.code,
                C::ConstraintViolation | C::TooBig | C::TypeMismatch | C::ParameterOutOfRange
            ),
            StoreError::Sqlite(
                rusqlite::Error::ToSqlConversionFailure(_)
                | rusqlite::Error::InvalidParameterName(_),
            ) => true,
            // SQLSTATE class 22 (data exception) and 23 (integrity constraint violation); and a
            // value the client cannot encode for its column (no SQLSTATE, and the crate offers
            // no kind to match): the same event fails the same way every time, so retrying it
            // would hold ingest for good.
            StoreError::Postgres(e) => {
                e.code()
                    .is_some_and(|c| c.code().starts_with("22") || c.code().starts_with("23"))
                    || e.to_string().starts_with("error serializing parameter")
            }
            _ => false,
        }
    }
}

/// A stored event as search and the API see it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Row {
    pub id: String,
    pub site: String,
    pub camera: String,
    pub kind: String,
    #[serde(with = "matthan_schema::rfc3339_ms")]
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
    /// The attribute-only caption that free text is ranked against (no ids, no times).
    pub semantic: String,
    /// sha256 of the object's thumbnail (an evidence blob), when the edge sent one.
    pub snapshot: Option<String>,
    /// The rule that raised an alert.
    pub rule: Option<String>,
}

/// A parameter value for a filter clause.
#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    Text(String),
    Int(i64),
}

/// Conditions search puts on rows. Rendered to SQL with numbered placeholders, never by
/// pasting text, so nothing an operator types reaches the SQL parser.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub kinds: Vec<String>,
    pub classes: Vec<String>,
    pub cameras: Vec<String>,
    /// Zone or line names (`place` column).
    pub places: Vec<String>,
    /// Compass heading of travel: tracks within `HEADING_SPREAD` degrees of it.
    pub heading: Option<u16>,
    pub color: Option<String>,
    pub upper_color: Option<String>,
    pub lower_color: Option<String>,
    pub direction: Option<String>,
    /// Alert rule (`loitering`, `crowding`, ...).
    pub rule: Option<String>,
    pub plate: Option<crate::query::Plate>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// Local clock windows (minutes of the day; `to <= from` runs past midnight).
    pub clock: Vec<(u32, u32)>,
}

impl Filter {
    /// `WHERE` body with `$1..$n` placeholders (SQLite numbers `$N` names in order of
    /// appearance, PostgreSQL by position, so one rendering serves both).
    pub fn to_sql(&self) -> (String, Vec<Param>) {
        let mut clauses = vec!["1 = 1".to_string()];
        let mut params = Vec::new();
        let push = |p: Param, params: &mut Vec<Param>| {
            params.push(p);
            format!("${}", params.len())
        };
        for (col, vals) in [
            ("kind", &self.kinds),
            ("class", &self.classes),
            ("camera", &self.cameras),
            ("place", &self.places),
        ] {
            if !vals.is_empty() {
                let marks: Vec<String> = vals
                    .iter()
                    .map(|v| push(Param::Text(v.clone()), &mut params))
                    .collect();
                clauses.push(format!("{col} IN ({})", marks.join(", ")));
            }
        }
        for (col, val) in [
            ("color", &self.color),
            ("upper_color", &self.upper_color),
            ("lower_color", &self.lower_color),
            ("direction", &self.direction),
            ("rule", &self.rule),
        ] {
            if let Some(v) = val {
                // "blue|green": either (Vietnamese "xanh").
                let marks: Vec<String> = v
                    .split('|')
                    .map(|one| push(Param::Text(one.to_string()), &mut params))
                    .collect();
                clauses.push(format!("{col} IN ({})", marks.join(", ")));
            }
        }
        if let Some(p) = &self.plate {
            // Both sides folded over OCR look-alikes, so a plate read 515-232.32 is found by
            // 51S-232.32 (search ranks exact readings first). `text` is alphanumerics only
            // (query::Plate): no LIKE wildcard. The distinct plates are searched first (a plate's
            // start is a key range, in binary order: "C" collation on PostgreSQL; a fragment
            // elsewhere scans them), then the events by equality on their plate index.
            let key = fold_plate(&p.text);
            let which = if p.at_start {
                let lo = push(Param::Text(key.clone()), &mut params);
                // '~' sorts after every digit and capital.
                let hi = push(Param::Text(format!("{key}~")), &mut params);
                format!("plate_key >= {lo} AND plate_key < {hi}")
            } else {
                let m = push(Param::Text(format!("%{key}%")), &mut params);
                format!("plate_key LIKE {m}")
            };
            clauses.push(format!(
                "plate_key IN (SELECT plate_key FROM plates WHERE {which})"
            ));
        }
        if let Some(h) = self.heading {
            // Integer degrees 0-359 in both engines: the difference shifted into 0..360, where
            // 180 means "the same heading".
            let m = push(Param::Int(h as i64), &mut params);
            clauses.push(format!(
                "(heading - {m} + 540) % 360 BETWEEN {} AND {}",
                180 - HEADING_SPREAD,
                180 + HEADING_SPREAD
            ));
        }
        if let Some(f) = self.from {
            let m = push(Param::Int(f.timestamp_millis()), &mut params);
            clauses.push(format!("ts_ms >= {m}"));
        }
        if let Some(t) = self.to {
            let m = push(Param::Int(t.timestamp_millis()), &mut params);
            clauses.push(format!("ts_ms < {m}"));
        }
        if !self.clock.is_empty() {
            clauses.push(self.clock_sql(&mut params));
        }
        (clauses.join(" AND "), params)
    }

    /// The local minute of the day from `ts_ms` (integer arithmetic in both databases; the
    /// city's offset is fixed, no daylight saving) within any of the clock windows.
    fn clock_sql(&self, params: &mut Vec<Param>) -> String {
        let offset_min = crate::caption::local_tz().local_minus_utc() as i64 / 60;
        let minute = format!("((ts_ms / 60000 + {offset_min}) % 1440)");
        let windows: Vec<String> = self
            .clock
            .iter()
            .map(|&(a, b)| {
                params.push(Param::Int(a as i64));
                let pa = params.len();
                params.push(Param::Int(b as i64));
                let pb = params.len();
                let join = if b <= a { "OR" } else { "AND" };
                format!("({minute} >= ${pa} {join} {minute} < ${pb})")
            })
            .collect();
        format!("({})", windows.join(" OR "))
    }
}

/// How far (degrees) a track's heading may be from the one searched for: the four compass
/// points and the four between them each cover their quarter.
pub const HEADING_SPREAD: u16 = 45;

/// Characters OCR confuses on plates, each with the one it is read as: a letter and the digit
/// it looks like (0/O/D, 1/I, 5/S, 8/B, 2/Z, 6/G).
pub const PLATE_LOOKALIKES: [(char, char); 7] = [
    ('O', '0'),
    ('D', '0'),
    ('I', '1'),
    ('S', '5'),
    ('B', '8'),
    ('Z', '2'),
    ('G', '6'),
];

/// Upper-case alphanumerics of a plate: how the store keeps it for matching.
pub fn plate_norm(p: &str) -> String {
    p.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_uppercase()
}

/// An upper-case plate with every look-alike letter read as its digit.
pub fn fold_plate(s: &str) -> String {
    s.chars()
        .map(|c| {
            PLATE_LOOKALIKES
                .iter()
                .find(|(l, _)| *l == c)
                .map_or(c, |(_, d)| *d)
        })
        .collect()
}

/// The same folding in SQL (`REPLACE` is in SQLite and PostgreSQL alike).
fn fold_plate_sql(col: &str) -> String {
    PLATE_LOOKALIKES.iter().fold(col.to_string(), |e, (l, d)| {
        format!("REPLACE({e}, '{l}', '{d}')")
    })
}

/// SQL a migration needs that is built from tables in code, run after migration `version`
/// in the same transaction (the same text on both engines).
pub(crate) fn after_migration(version: usize) -> Option<String> {
    (version == 6).then(|| {
        format!(
            "UPDATE events SET plate_key = {} WHERE plate_norm IS NOT NULL;
             CREATE INDEX events_plate_key ON events (plate_key) WHERE plate_key IS NOT NULL;
             INSERT INTO plates SELECT DISTINCT plate_key FROM events WHERE plate_key IS NOT NULL;",
            fold_plate_sql("plate_norm")
        )
    })
}

/// Why a message was set aside instead of stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SetAside {
    /// It can never be stored (does not decode, fails validation, refused by the database).
    Refused,
    /// A valid event dated too far in the past (an edge whose clock was reset): kept whole,
    /// out of search and counts, for an admin to look at.
    Quarantined,
}

impl SetAside {
    pub fn as_str(self) -> &'static str {
        match self {
            SetAside::Refused => "refused",
            SetAside::Quarantined => "quarantined",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [SetAside::Refused, SetAside::Quarantined]
            .into_iter()
            .find(|w| w.as_str() == s)
    }
}

/// A message the hub acknowledged without storing it as an event (the dead-letter table):
/// acknowledging lets the stream move on, and this row is why nothing is lost silently.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DeadLetter {
    #[serde(with = "matthan_schema::rfc3339_ms")]
    pub received: DateTime<Utc>,
    pub topic: String,
    pub site: String,
    pub why: SetAside,
    pub reason: String,
    /// The message's full size.
    pub bytes: usize,
    /// Whole for a quarantined event; the first [`DEAD_LETTER_KEEP`] bytes of a refused one.
    #[serde(skip)]
    pub payload: Vec<u8>,
}

/// Bytes of a refused message kept to diagnose it: enough to see its shape, not enough for a
/// flood of 32 MiB junk to fill the disk.
pub const DEAD_LETTER_KEEP: usize = 4096;

impl DeadLetter {
    pub fn new(topic: &str, why: SetAside, reason: String, payload: &[u8]) -> Self {
        let keep = match why {
            SetAside::Refused => payload.len().min(DEAD_LETTER_KEEP),
            SetAside::Quarantined => payload.len(),
        };
        Self {
            received: Utc::now(),
            topic: topic.to_string(),
            site: topic.split('/').nth(1).unwrap_or("").to_string(),
            why,
            reason,
            bytes: payload.len(),
            payload: payload[..keep].to_vec(),
        }
    }
}

pub trait EventStore: WatchStore + AuditStore + HoldStore + CaseStore + Send {
    /// A cheap round trip: the pool checks a connection before handing it out.
    fn ping(&mut self) -> Result<(), StoreError>;
    /// Records messages acknowledged without being stored as events.
    fn set_aside(&mut self, letters: &[DeadLetter]) -> Result<(), StoreError>;
    /// Deletes dead letters received before `before`; returns how many.
    fn expire_dead_letters(&mut self, before: DateTime<Utc>) -> Result<usize, StoreError>;
    /// Newest first, optionally of one kind.
    fn dead_letters(
        &mut self,
        why: Option<SetAside>,
        limit: usize,
    ) -> Result<Vec<DeadLetter>, StoreError>;
    /// Stores a batch in one transaction; returns how many were new (the rest were duplicates).
    fn insert(&mut self, events: &[Event]) -> Result<usize, StoreError>;
    fn get(&mut self, id: &str) -> Result<Option<Event>, StoreError>;
    /// Newest first.
    fn select(&mut self, filter: &Filter, limit: usize) -> Result<Vec<Row>, StoreError>;
    fn count(&mut self) -> Result<i64, StoreError>;
    fn cameras(&mut self) -> Result<Vec<(String, String)>, StoreError>;
    /// The newest event of `kind` per camera.
    fn latest_per_camera(&mut self, kind: &str) -> Result<Vec<Event>, StoreError>;
    /// Deletes events of `kind` captured before `before`; returns how many.
    /// Deletes the kind's events older than `before`, with their evidence references.
    fn expire(&mut self, kind: &str, before: DateTime<Utc>) -> Result<usize, StoreError>;
    /// Which of these evidence blobs some stored event names.
    /// Zone and line names events have named (for reading them in queries).
    fn places(&mut self) -> Result<Vec<String>, StoreError>;
    /// Forgets plates no stored event has any more and refreshes the planner's statistics
    /// (a plate search is planned on them). Run by the hub's maintenance pass.
    fn optimize(&mut self) -> Result<(), StoreError>;
    fn referenced(
        &mut self,
        shas: &[String],
    ) -> Result<std::collections::HashSet<String>, StoreError>;
    /// Cached embeddings of semantic captions.
    fn embeddings(&mut self, texts: &[String]) -> Result<Vec<(String, Vec<f32>)>, StoreError>;
    fn put_embeddings(&mut self, items: &[(String, Vec<f32>)]) -> Result<(), StoreError>;
    /// Semantic captions that have no embedding yet.
    fn missing_embeddings(&mut self, limit: usize) -> Result<Vec<String>, StoreError>;
}

/// Opens `postgres://...` URLs with PostgreSQL, anything else as a SQLite file path.
pub fn open(location: &str) -> Result<Box<dyn EventStore>, StoreError> {
    if location.starts_with("postgres://") || location.starts_with("postgresql://") {
        Ok(Box::new(PgStore::connect(location)?))
    } else {
        let path = location.strip_prefix("sqlite://").unwrap_or(location);
        Ok(Box::new(SqliteStore::open(std::path::Path::new(path))?))
    }
}

/// The searchable columns of one event.
#[derive(Default)]
pub(crate) struct Fields {
    pub track_id: Option<i64>,
    pub class: Option<String>,
    pub color: Option<String>,
    pub upper_color: Option<String>,
    pub lower_color: Option<String>,
    pub plate: Option<String>,
    pub plate_norm: Option<String>,
    /// `plate_norm` with OCR look-alikes folded (`fold_plate`): what plate searches index.
    pub plate_key: Option<String>,
    /// Compass heading of travel, whole degrees 0-359.
    pub heading: Option<i64>,
    pub direction: Option<&'static str>,
    pub place: Option<String>,
    pub snapshot: Option<String>,
    pub rule: Option<String>,
    /// Every evidence blob the event names (snapshots, a violation's files and manifest): a
    /// blob is kept while some stored event names it.
    pub refs: Vec<String>,
    pub caption: String,
    pub semantic: String,
    pub body: String,
}

impl Fields {
    pub fn of(e: &Event) -> Self {
        let mut f = match &e.body {
            Body::Track(t) => Fields {
                track_id: Some(t.track_id as i64),
                class: Some(t.class.clone()),
                color: t.attributes.color.clone(),
                upper_color: t.attributes.upper_color.clone(),
                lower_color: t.attributes.lower_color.clone(),
                plate: t.attributes.plate.clone(),
                heading: t
                    .attributes
                    .heading_deg
                    .map(|h| (h.rem_euclid(360.0).round() as i64) % 360),
                place: t.zones.last().cloned(),
                snapshot: t.snapshot.clone(),
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
            Body::Alert(a) => Fields {
                track_id: a.track_ids.first().map(|t| *t as i64),
                class: a.class.clone(),
                place: a.zone.clone(),
                snapshot: a.snapshot.clone(),
                rule: Some(a.rule.as_str().to_string()),
                ..Fields::default()
            },
            Body::Violation(v) => Fields {
                track_id: Some(v.track_id as i64),
                class: Some(v.class.clone()),
                color: v.color.clone(),
                plate: v.plate.clone(),
                place: v.zone.clone().or_else(|| v.line.clone()),
                // The vehicle crop is what a result card shows.
                snapshot: v
                    .evidence
                    .iter()
                    .find(|a| a.name.starts_with("vehicle"))
                    .or_else(|| v.evidence.iter().find(|a| a.mime == "image/jpeg"))
                    .map(|a| a.sha256.clone()),
                rule: Some(v.rule.as_str().to_string()),
                ..Fields::default()
            },
            _ => Fields::default(),
        };
        f.plate_norm = f.plate.as_deref().map(plate_norm);
        f.plate_key = f.plate_norm.as_deref().map(fold_plate);
        f.refs = evidence_refs(e);
        f.caption = caption(e);
        f.semantic = semantic(e);
        f.body = serde_json::to_string(e).expect("events serialise");
        f
    }
}

/// The evidence blobs (sha256s) an event names.
pub fn evidence_refs(e: &Event) -> Vec<String> {
    let mut out: Vec<String> = match &e.body {
        Body::Track(t) => t.snapshot.iter().chain(&t.plate_image).cloned().collect(),
        Body::Alert(a) => a.snapshot.iter().cloned().collect(),
        Body::Violation(v) => v
            .evidence
            .iter()
            .map(|a| a.sha256.clone())
            .chain(v.manifest.iter().cloned())
            .collect(),
        _ => vec![],
    };
    out.sort();
    out.dedup();
    out
}

pub(crate) fn vec_to_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

pub(crate) fn bytes_to_vec(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

/// Opens store connections for [`r2d2`]: the API takes one per request, so searches run side
/// by side (SQLite in WAL mode lets readers go while the ingest writer commits; PostgreSQL
/// serves each connection on its own).
pub struct Manager {
    location: String,
}

impl r2d2::ManageConnection for Manager {
    type Connection = Box<dyn EventStore>;
    type Error = StoreError;

    fn connect(&self) -> Result<Self::Connection, StoreError> {
        open(&self.location)
    }

    fn is_valid(&self, conn: &mut Self::Connection) -> Result<(), StoreError> {
        conn.ping()
    }

    fn has_broken(&self, _: &mut Self::Connection) -> bool {
        false
    }
}

pub type Pool = r2d2::Pool<Manager>;

/// A pool of `size` connections to `location`; fails if the first cannot be opened.
pub fn pool(location: &str, size: u32) -> Result<Pool, StoreError> {
    // The first open runs migrations: do it once here so the pool's connections never race.
    open(location)?;
    r2d2::Pool::builder()
        .max_size(size)
        .min_idle(Some(1))
        .connection_timeout(std::time::Duration::from_secs(10))
        .build(Manager {
            location: location.to_string(),
        })
        .map_err(|e| StoreError::Open {
            path: location.rsplit('@').next().unwrap_or(location).to_string(),
            reason: e.to_string(),
        })
}
