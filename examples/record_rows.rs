//! The record's floor per task (issue 17, goal 2): what SQLite itself needs to keep one
//! attempt row per task, in a process of its own. It copies the schema of an engine record
//! into a scratch database beside it (`<record>.rows-floor`, which must not exist yet; removed
//! at the end), then commits `N` attempt rows shaped as a thread task's (the same columns,
//! texts of the same lengths) in commits of `B` rows, as the record's writer does, and prints
//! the time per row.
//! No engine code runs: the difference between engine's record share and this is engine's
//! own.
//!
//! ```sh
//! cargo build --release --example record_rows
//! target/release/examples/record_rows .engine/record.sqlite 100000 730
//! ```
//!
//! The tasks end in a different order than their names sort (the critical path's order),
//! which scatters the rows over the table's key; `--sorted` inserts them in key order instead,
//! the best case. `--lean` leaves out the three texts a row repeats (the log path, why it ran,
//! the script), to see what the row's size costs.

use std::time::Instant;

use rusqlite::{Connection, OpenFlags, TransactionBehavior, config::DbConfig, params};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let sorted = args.iter().any(|arg| arg == "--sorted");
    let lean = args.iter().any(|arg| arg == "--lean");
    let words: Vec<&String> = args.iter().filter(|arg| !arg.starts_with("--")).collect();
    let [record, rows, batch] = words[..] else {
        return Err(
            "usage: record_rows RECORD ROWS BATCH [--sorted] [--lean] (RECORD: an engine record, .engine/record.sqlite)"
                .into(),
        );
    };
    let (rows, batch): (u32, u32) = (rows.parse()?, batch.parse()?);
    let scratch = format!("{record}.rows-floor");
    // Only a scratch file this run makes is removed at the end.
    for suffix in ["", "-wal", "-shm"] {
        let path = format!("{scratch}{suffix}");
        if std::fs::symlink_metadata(&path).is_ok() {
            return Err(format!(
                "`{path}` exists: remove it first (a run that was stopped left it)"
            )
            .into());
        }
    }
    // Read only: the record is not written, and not checkpointed when this closes it.
    let schema: Vec<String> =
        Connection::open_with_flags(record, OpenFlags::SQLITE_OPEN_READ_ONLY)?
            .prepare("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL")?
            .query_map([], |row| row.get(0))?
            .collect::<Result<_, _>>()?;
    let mut conn = Connection::open(&scratch)?;
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    for statement in &schema {
        conn.execute_batch(statement)?;
    }
    // A run id and log paths of the lengths engine writes.
    let run = "20261206-073534-797-29011";
    let why = "it has no `inputs`, `outputs` nor `depfile`, so it always runs";
    // The order tasks end in: a fixed shuffle of their names' order.
    let mut order: Vec<u32> = (0..rows).collect();
    if !sorted {
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        for at in (1..order.len()).rev() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let pick = usize::try_from(state % (at as u64 + 1))?;
            order.swap(at, pick);
        }
    }
    let digest = [7_u8; 32];
    let started = Instant::now();
    for chunk in order.chunks(usize::try_from(batch)?) {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let mut insert = tx.prepare_cached(
                "INSERT OR REPLACE INTO attempts (run, task, attempt, status, reason, exit_code, \
                 signal, started_ms, ended_ms, fingerprint, outputs, results, log, why, \
                 command, job_id, queued_ms) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, \
                 ?17)",
            )?;
            for &task in chunk {
                let name = format!("t{task:05}");
                let log = (!lean).then(|| format!("runs/{run}/logs/{name}.log"));
                insert.execute(params![
                    run,
                    name,
                    1,
                    "succeeded",
                    None::<String>,
                    0,
                    None::<i32>,
                    1_765_000_000_000_i64 + i64::from(task),
                    1_765_000_000_001_i64 + i64::from(task),
                    &digest[..],
                    &digest[..],
                    "[]",
                    log,
                    (!lean).then_some(why),
                    (!lean).then_some("()"),
                    None::<String>,
                    None::<i64>
                ])?;
            }
        }
        tx.commit()?;
    }
    let elapsed = started.elapsed();
    drop(conn);
    // The scratch file and SQLite's two beside it, none of which existed before this run.
    let removed: Vec<String> = ["", "-wal", "-shm"]
        .iter()
        .map(|suffix| format!("{scratch}{suffix}"))
        .filter(|path| std::fs::remove_file(path).is_ok())
        .collect();
    println!(
        "{rows} rows in commits of {batch}{}{}: {:.3} s, {:.2} µs a row",
        if sorted { ", in key order" } else { "" },
        if lean { ", lean" } else { "" },
        elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1e6 / f64::from(rows)
    );
    println!("removed the scratch files it made: {}", removed.join(", "));
    Ok(())
}
