//! The case queue on PostgreSQL: several hubs lease from one table; `FOR UPDATE SKIP LOCKED`
//! gives each a different job.

use chrono::{DateTime, Utc};

use super::*;

fn video_row(r: &postgres::Row) -> VideoRow {
    (
        r.get(0),
        r.get(1),
        r.get(2),
        r.get(3),
        r.get(4),
        r.get(5),
        r.get(6),
        r.get(7),
        r.get(8),
        r.get(9),
        r.get(10),
        r.get(11),
        r.get(12),
        r.get(13),
    )
}

fn case_row(r: &postgres::Row) -> (i64, String, String, i64, i64) {
    (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4))
}

impl CaseStore for PgStore {
    fn create_case(
        &mut self,
        name: &str,
        by: &str,
        recorded_at: DateTime<Utc>,
        videos: &[(String, VideoSource)],
    ) -> Result<i64, StoreError> {
        let mut tx = self.client.transaction()?;
        let id: i64 = tx
            .query_one(
                "INSERT INTO cases (name, created_by, created_ms, recorded_ms) VALUES ($1, $2, $3, $4)
                 RETURNING id",
                &[&name, &by, &Utc::now().timestamp_millis(), &recorded_at.timestamp_millis()],
            )?
            .get(0);
        for (n, s) in videos {
            tx.execute(
                "INSERT INTO case_videos (case_id, name, source, state) VALUES ($1, $2, $3, 'queued')",
                &[&id, n, &s.encode()],
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
        Ok(self
            .client
            .query_opt(
                "INSERT INTO case_videos (case_id, name, source, state)
                 SELECT id, $2, $3, 'queued' FROM cases WHERE id = $1 RETURNING id",
                &[&case, &name, &source.encode()],
            )?
            .map(|r| r.get(0)))
    }

    fn cases(&mut self) -> Result<Vec<Case>, StoreError> {
        let rows = self.client.query(
            &format!("SELECT {CASE_COLUMNS} FROM cases ORDER BY id DESC"),
            &[],
        )?;
        Ok(rows.iter().map(|r| case(case_row(r))).collect())
    }

    fn open_jobs(&mut self) -> Result<i64, StoreError> {
        Ok(self.client.query_one(OPEN_JOBS, &[])?.get(0))
    }

    fn job_source(&mut self, job: i64) -> Result<Option<VideoSource>, StoreError> {
        Ok(self
            .client
            .query_opt("SELECT source FROM case_videos WHERE id = $1", &[&job])?
            .map(|r| VideoSource::decode(&r.get::<_, String>(0))))
    }

    fn case(&mut self, id: i64) -> Result<Option<(Case, Vec<Video>)>, StoreError> {
        let Some(c) = self.client.query_opt(
            &format!("SELECT {CASE_COLUMNS} FROM cases WHERE id = $1"),
            &[&id],
        )?
        else {
            return Ok(None);
        };
        let videos = self.client.query(
            &format!("SELECT {VIDEO_COLUMNS} FROM case_videos WHERE case_id = $1 ORDER BY id"),
            &[&id],
        )?;
        Ok(Some((
            case(case_row(&c)),
            videos.iter().map(|r| video(video_row(r))).collect(),
        )))
    }

    fn lease(
        &mut self,
        worker: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Option<Job>, StoreError> {
        let now = now.timestamp_millis();
        let mut tx = self.client.transaction()?;
        tx.execute(GIVE_UP, &[&now, &MAX_ATTEMPTS])?;
        let picked = tx.query_opt(&pg_sql(LEASE), &[&worker, &until.timestamp_millis(), &now])?;
        let job = match picked {
            None => None,
            Some(r) => {
                let case_id: i64 = r.get(1);
                let recorded: i64 = tx
                    .query_one("SELECT recorded_ms FROM cases WHERE id = $1", &[&case_id])?
                    .get(0);
                Some(Job {
                    id: r.get(0),
                    case_id,
                    name: r.get(2),
                    source: VideoSource::decode(&r.get::<_, String>(3)),
                    attempt: r.get(4),
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
        let n = self.client.execute(
            PROGRESS,
            &[
                &job,
                &worker,
                &((processed_s * 1000.0) as i64),
                &duration_s.map(|d| (d * 1000.0) as i64),
                &sha256,
                &until.timestamp_millis(),
            ],
        )?;
        Ok(n == 1)
    }

    fn finish(&mut self, job: i64, worker: &str, outcome: Outcome) -> Result<bool, StoreError> {
        let (state, events, error) = outcome_columns(&outcome);
        let n = self.client.execute(
            FINISH,
            &[
                &job,
                &worker,
                &state,
                &events,
                &error,
                &Utc::now().timestamp_millis(),
            ],
        )?;
        Ok(n == 1)
    }
}
