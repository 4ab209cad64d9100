//! The case queue on SQLite: one writer at a time, so a lease's pick and update cannot race.

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};

use super::*;

fn video_row(r: &rusqlite::Row) -> rusqlite::Result<VideoRow> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get(8)?,
        r.get(9)?,
        r.get(10)?,
        r.get(11)?,
        r.get(12)?,
        r.get(13)?,
    ))
}

fn case_row(r: &rusqlite::Row) -> rusqlite::Result<(i64, String, String, i64, i64)> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
}

impl CaseStore for SqliteStore {
    fn create_case(
        &mut self,
        name: &str,
        by: &str,
        recorded_at: DateTime<Utc>,
        videos: &[(String, VideoSource)],
    ) -> Result<i64, StoreError> {
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT INTO cases (name, created_by, created_ms, recorded_ms) VALUES (?1, ?2, ?3, ?4)",
            params![
                name,
                by,
                Utc::now().timestamp_millis(),
                recorded_at.timestamp_millis()
            ],
        )?;
        let id = tx.last_insert_rowid();
        for (n, s) in videos {
            tx.execute(
                "INSERT INTO case_videos (case_id, name, source, state) VALUES (?1, ?2, ?3, 'queued')",
                params![id, n, s.encode()],
            )?;
        }
        tx.commit()?;
        Ok(id)
    }

    fn add_video(
        &mut self,
        case: i64,
        name: &str,
        source: &VideoSource,
    ) -> Result<Option<i64>, StoreError> {
        let n = self.conn.execute(
            "INSERT INTO case_videos (case_id, name, source, state)
             SELECT id, ?2, ?3, 'queued' FROM cases WHERE id = ?1",
            params![case, name, source.encode()],
        )?;
        Ok((n == 1).then(|| self.conn.last_insert_rowid()))
    }

    fn cases(&mut self) -> Result<Vec<Case>, StoreError> {
        let mut st = self.conn.prepare(&format!(
            "SELECT {CASE_COLUMNS} FROM cases ORDER BY id DESC"
        ))?;
        let rows = st.query_map([], case_row)?.collect::<Result<Vec<_>, _>>()?;
        Ok(rows.into_iter().map(case).collect())
    }

    fn open_jobs(&mut self) -> Result<i64, StoreError> {
        Ok(self.conn.query_row(OPEN_JOBS, [], |r| r.get(0))?)
    }

    fn job_source(&mut self, job: i64) -> Result<Option<VideoSource>, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT source FROM case_videos WHERE id = ?1", [job], |r| {
                r.get::<_, String>(0)
            })
            .optional()?
            .map(|s| VideoSource::decode(&s)))
    }

    fn case(&mut self, id: i64) -> Result<Option<(Case, Vec<Video>)>, StoreError> {
        let Some(c) = self
            .conn
            .query_row(
                &format!("SELECT {CASE_COLUMNS} FROM cases WHERE id = ?1"),
                [id],
                case_row,
            )
            .optional()?
        else {
            return Ok(None);
        };
        let mut st = self.conn.prepare(&format!(
            "SELECT {VIDEO_COLUMNS} FROM case_videos WHERE case_id = ?1 ORDER BY id"
        ))?;
        let videos = st
            .query_map([id], video_row)?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Some((case(c), videos.into_iter().map(video).collect())))
    }

    fn lease(
        &mut self,
        worker: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Option<Job>, StoreError> {
        let now = now.timestamp_millis();
        let tx = self.conn.transaction()?;
        tx.execute(&sqlite_sql(GIVE_UP), params![now, MAX_ATTEMPTS])?;
        let picked = tx
            .query_row(
                &sqlite_sql(LEASE),
                params![worker, until.timestamp_millis(), now],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, i64>(4)?,
                    ))
                },
            )
            .optional()?;
        let job = match picked {
            None => None,
            Some((id, case_id, name, source, attempt)) => {
                let recorded: i64 = tx.query_row(
                    "SELECT recorded_ms FROM cases WHERE id = ?1",
                    [case_id],
                    |r| r.get(0),
                )?;
                Some(Job {
                    id,
                    case_id,
                    name,
                    source: VideoSource::decode(&source),
                    attempt,
                    recorded_at: at(recorded),
                })
            }
        };
        tx.commit()?;
        Ok(job)
    }

    fn progress(
        &mut self,
        job: i64,
        worker: &str,
        processed_s: f64,
        duration_s: Option<f64>,
        sha256: Option<&str>,
        until: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let n = self.conn.execute(
            &sqlite_sql(PROGRESS),
            params![
                job,
                worker,
                (processed_s * 1000.0) as i64,
                duration_s.map(|d| (d * 1000.0) as i64),
                sha256,
                until.timestamp_millis()
            ],
        )?;
        Ok(n == 1)
    }

    fn finish(&mut self, job: i64, worker: &str, outcome: Outcome) -> Result<bool, StoreError> {
        let (state, events, error) = outcome_columns(&outcome);
        let n = self.conn.execute(
            &sqlite_sql(FINISH),
            params![
                job,
                worker,
                state,
                events,
                error,
                Utc::now().timestamp_millis()
            ],
        )?;
        Ok(n == 1)
    }
}
