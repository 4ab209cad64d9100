//! PostgreSQL's events table, partitioned by month of `ts_ms` (UTC months).
//!
//! Why: a city's hub holds billions of rows; searches name a time range, so the planner reads
//! only the months in it (each partition with its own, smaller indexes), and retention's
//! deletes touch old partitions only. Months, not days: a cluster of 10,000 cameras stores
//! ≈ 0.5-1 billion events a month (docs/deployment.md), which keeps each partition's indexes
//! within memory on the sizing there while a year is 12 partitions for an id lookup to probe.
//!
//! Partitions are made as events need them: the writer asks for its batch's months before the
//! batch's transaction (so creating one never waits on, or deadlocks with, another hub's
//! insert), and remembers the months it has seen. A DEFAULT partition catches a row whose
//! month is missing anyway (a partition dropped by hand under a running hub); making that
//! month later moves such rows out of it first, so a partition can always be made.

use std::collections::HashSet;

use postgres::Client;

use super::StoreError;

/// Migration 13: the unpartitioned events table becomes a partitioned one, rows kept. The
/// primary key must hold the partition key; an event's `ts_ms` never changes between
/// deliveries of it (the body is the same bytes), so `(id, ts_ms)` still deduplicates.
pub(super) const MIGRATION: &str = r#"
CREATE FUNCTION matthan_events_month(at_ms BIGINT) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    start timestamptz := date_trunc('month', to_timestamp(at_ms / 1000.0) AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
    lo BIGINT := (extract(epoch FROM start) * 1000)::BIGINT;
    hi BIGINT := (extract(epoch FROM start + interval '1 month') * 1000)::BIGINT;
    part TEXT := 'events_' || to_char(start AT TIME ZONE 'UTC', 'YYYY_MM');
BEGIN
    IF to_regclass(part) IS NOT NULL THEN RETURN; END IF;
    -- Hubs making the same month at once: the second finds it made.
    PERFORM pg_advisory_xact_lock(7245618);
    IF to_regclass(part) IS NOT NULL THEN RETURN; END IF;
    EXECUTE format('CREATE TABLE %I (LIKE events INCLUDING DEFAULTS)', part);
    -- Rows of this month that fell into the default partition move to it before it is
    -- attached (attaching refuses while the default holds rows of its range).
    EXECUTE format(
        'WITH moved AS (DELETE FROM events_default WHERE ts_ms >= %s AND ts_ms < %s RETURNING *)
         INSERT INTO %I SELECT * FROM moved', lo, hi, part);
    EXECUTE format('ALTER TABLE events ATTACH PARTITION %I FOR VALUES FROM (%s) TO (%s)', part, lo, hi);
END $$;

ALTER TABLE events RENAME TO events_unpartitioned;
CREATE TABLE events (LIKE events_unpartitioned INCLUDING DEFAULTS) PARTITION BY RANGE (ts_ms);
CREATE TABLE events_default PARTITION OF events DEFAULT;
SELECT matthan_events_month(m) FROM (
    SELECT DISTINCT (extract(epoch FROM date_trunc('month', to_timestamp(ts_ms / 1000.0) AT TIME ZONE 'UTC')) * 1000)::BIGINT AS m
    FROM events_unpartitioned
) months;
INSERT INTO events SELECT * FROM events_unpartitioned;
DROP TABLE events_unpartitioned;
ALTER TABLE events ADD PRIMARY KEY (id, ts_ms);
CREATE INDEX events_kind_ts ON events (kind, ts_ms);
CREATE INDEX events_class_ts ON events (class, ts_ms);
CREATE INDEX events_camera_ts ON events (camera, ts_ms);
CREATE INDEX events_rule_ts ON events (rule, ts_ms) WHERE rule IS NOT NULL;
CREATE INDEX events_place_ts ON events (place, ts_ms) WHERE place IS NOT NULL;
CREATE INDEX events_plate_key ON events (plate_key) WHERE plate_key IS NOT NULL;
"#;

/// The first millisecond of `ts_ms`'s UTC month: the key of its partition.
pub fn month_of(ts_ms: i64) -> i64 {
    use chrono::{Datelike, TimeZone, Utc};
    let t = Utc.timestamp_millis_opt(ts_ms).single().unwrap_or_default();
    Utc.with_ymd_and_hms(t.year(), t.month(), 1, 0, 0, 0)
        .single()
        .map_or(ts_ms, |m| m.timestamp_millis())
}

/// The months this connection knows have a partition.
#[derive(Default)]
pub struct Months(HashSet<i64>);

impl Months {
    /// Makes the partitions of any of `ts_ms`'s months not yet seen, each in its own short
    /// transaction (call it outside the insert's transaction).
    pub fn ensure(
        &mut self,
        client: &mut Client,
        ts_ms: impl IntoIterator<Item = i64>,
    ) -> Result<(), StoreError> {
        let mut wanted: Vec<i64> = ts_ms
            .into_iter()
            .map(month_of)
            .filter(|m| !self.0.contains(m))
            .collect();
        wanted.sort_unstable();
        wanted.dedup();
        for m in wanted {
            client.execute("SELECT matthan_events_month($1)", &[&m])?;
            self.0.insert(m);
        }
        Ok(())
    }
}

/// Each partition of the events table with its rows, oldest first (`events_default` last):
/// for `central-hub` diagnostics and the tests.
pub fn partitions(client: &mut Client) -> Result<Vec<(String, i64)>, StoreError> {
    let rows = client.query(
        "SELECT c.relname::TEXT, coalesce(n.rows, 0)
         FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
         LEFT JOIN (SELECT tableoid, count(*) AS rows FROM events GROUP BY tableoid) n ON n.tableoid = c.oid
         WHERE i.inhparent = 'events'::regclass
         ORDER BY c.relname = 'events_default', c.relname",
        &[],
    )?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

#[cfg(test)]
mod tests {
    use super::month_of;

    #[test]
    fn a_month_starts_at_its_first_utc_millisecond() {
        // 2026-12-03T15:22:34Z → 2026-12-01T00:00:00Z.
        assert_eq!(month_of(1_796_311_354_000), 1_796_083_200_000);
        assert_eq!(month_of(1_796_083_200_000), 1_796_083_200_000);
        // The last millisecond of November is November's.
        assert_eq!(month_of(1_796_083_199_999), 1_793_491_200_000);
        // Before 1970 too (a camera whose clock was never set).
        assert_eq!(month_of(-1), -2_678_400_000);
    }
}
