//! The record's floor for a one-task run (issue 17, goal 4): what SQLite itself needs, in a
//! process of its own, to open engine's record as a run does (WAL, `synchronous = NORMAL`, no
//! checkpoint on close), read its schema version, commit the run's row, then commit the
//! task's attempt and the run's end. No engine code runs: the difference between this and a
//! bare process start is what keeping the record costs at the least.
//!
//! ```sh
//! cargo build --release --example record_floor
//! target/release/examples/record_floor .engine/record.sqlite    # a record a run made
//! ```
//!
//! `bench/startup_parts.py` times it beside engine and make. It writes a run row named
//! `floor-<pid>` into the record (`engine runs` of no workflow shows it).

use rusqlite::{Connection, TransactionBehavior, config::DbConfig, params};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let Some(path) = std::env::args().nth(1) else {
        return Err("usage: record_floor RECORD (an engine record, .engine/record.sqlite)".into());
    };
    let mut conn = Connection::open(&path)?;
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    let _version: i32 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    let id = format!("floor-{}", std::process::id());
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute(
        "INSERT INTO runs (id, workflow, workflow_hash, started_ms, pid, args, tasks) \
         VALUES (?1, 'record-floor.yaml', '', 1, 1, '[]', 1)",
        params![id],
    )?;
    tx.commit()?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute(
        "INSERT OR REPLACE INTO attempts (run, task, attempt, status, started_ms, ended_ms, log) \
         VALUES (?1, 't0', 1, 'succeeded', 1, 2, 'runs/floor/logs/t0.log')",
        params![id],
    )?;
    tx.execute(
        "UPDATE runs SET ended_ms = 2, outcome = 'succeeded', succeeded = 1 WHERE id = ?1",
        params![id],
    )?;
    tx.commit()?;
    Ok(())
}
