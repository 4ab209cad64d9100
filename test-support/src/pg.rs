//! A fresh, empty database on the PostgreSQL `scripts/pg.sh` started (`MATTHAN_PG_URL`), for
//! the store tests, the cluster fault test and the cluster bench.

use std::sync::atomic::{AtomicU32, Ordering};

/// The URL of a new empty database named after `prefix`, this process and a counter.
pub fn pg_database(prefix: &str) -> String {
    let admin = std::env::var("MATTHAN_PG_URL").expect(
        "MATTHAN_PG_URL is not set: the PostgreSQL tests need `bash scripts/pg.sh start` (scripts/test.sh does it)",
    );
    static N: AtomicU32 = AtomicU32::new(0);
    let name = format!(
        "{prefix}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    );
    let mut c =
        postgres::Client::connect(&admin, postgres::NoTls).expect("connect to test PostgreSQL");
    // Separate statements: a multi-statement batch runs as one transaction, which CREATE DATABASE refuses.
    c.execute(&format!("DROP DATABASE IF EXISTS {name}"), &[])
        .unwrap();
    c.execute(&format!("CREATE DATABASE {name}"), &[]).unwrap();
    let (base, _) = admin.rsplit_once('/').unwrap();
    format!("{base}/{name}")
}
