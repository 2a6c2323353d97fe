//! The one writer: a thread that owns the write connection and commits queued writes in groups.
//! Each job runs inside its own savepoint, so one failing job rolls back only itself; the group
//! commits once, and every job's caller hears its result only after that commit. Grouping turns
//! many small concurrent commits into one, and keeps write callers off tokio's blocking pool.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;

use rusqlite::Connection;
use rusqlite::wal::CheckpointMode;
use tokio::sync::oneshot;

/// Most jobs committed together.
const MAX_GROUP: usize = 128;

/// Work for the writer: runs inside a savepoint and says whether to keep it (`true`) or roll
/// it back; the returned closure is called once the group's commit is known (true: committed).
pub(super) type Job = Box<dyn FnOnce(&Connection) -> (bool, Box<dyn FnOnce(bool) + Send>) + Send>;

enum Message {
    Job(Job),
    Close(oneshot::Sender<()>),
}

/// When the WAL is folded back into the database file.
///
/// A background thread checkpoints every `checkpoint_every`, off the commit path. That alone never
/// lets the WAL start over under a steady write load: SQLite rewinds the log only when a write
/// transaction begins with every frame copied back, and the writer appends frames while the
/// checkpoint runs. The WAL then grew without bound (4 GB after a minute of the update
/// benchmark), and the kernel's writeback of it stalled commits. So once the log is
/// `restart_frames` long, the background thread repeats its pass until a pass finds at most
/// `catch_up_frames` new frames, and then the writer copies the last few itself between two
/// groups; its next transaction starts the log over.
#[derive(Clone, Copy, Debug)]
pub(super) struct WalPolicy {
    pub(super) checkpoint_every: std::time::Duration,
    pub(super) restart_frames: i32,
    pub(super) catch_up_frames: i32,
}

impl Default for WalPolicy {
    fn default() -> Self {
        WalPolicy {
            // Under the update benchmark (about 60,000 frames a second) a pass every 200 ms kept
            // the WAL near 60 MB; every 500 ms, near 140 MB with a slower tail.
            checkpoint_every: std::time::Duration::from_millis(200),
            // 16 MiB with SQLite's 4 KiB pages.
            restart_frames: 4096,
            // The writer's share: about 1 MiB to copy and sync, under a millisecond here.
            catch_up_frames: 256,
        }
    }
}

/// Most background passes in a row while waiting for the writer's share to become small.
const MAX_PASSES: usize = 6;

/// The WAL file is cut back to this size when the log starts over. Cutting it costs the next
/// commit a truncate (10-25 ms here at 100 MB), so the limit sits well above the WAL's steady
/// size and only trims what a burst left behind.
const WAL_SIZE_LIMIT_BYTES: i64 = 256 * 1024 * 1024;

/// The handle the store keeps.
pub(super) struct Writer {
    queue: mpsc::Sender<Message>,
    thread: std::sync::Mutex<Option<JoinHandle<()>>>,
    checkpointer: std::sync::Mutex<Option<(mpsc::Sender<()>, JoinHandle<()>)>>,
}

/// Checkpoints the WAL from its own connection (PASSIVE: never blocks readers or the writer),
/// so commits do not pay for copying pages back and syncing the file; SQLite's automatic
/// checkpoint would run inside a commit and showed up as the writer's tail latency. Hands the
/// writer the last few frames when the log has grown long.
fn checkpoint_loop(
    conn: &Connection,
    stop: &mpsc::Receiver<()>,
    policy: WalPolicy,
    catch_up: &AtomicBool,
) {
    while let Err(mpsc::RecvTimeoutError::Timeout) = stop.recv_timeout(policy.checkpoint_every) {
        let mut previous_log = None;
        for _ in 0..MAX_PASSES {
            match passive_checkpoint(conn) {
                Ok((log, _)) if log >= policy.restart_frames => {
                    // `log - previous` frames arrived while the last pass ran.
                    if previous_log.is_some_and(|p| log - p <= policy.catch_up_frames) {
                        catch_up.store(true, Ordering::Release);
                        break;
                    }
                    previous_log = Some(log);
                }
                Ok(_) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "WAL checkpoint failed; will retry");
                    break;
                }
            }
        }
    }
}

/// Copies what it can of the WAL back without waiting for anyone: (frames in the log, frames
/// copied so far).
fn passive_checkpoint(conn: &Connection) -> rusqlite::Result<(i32, i32)> {
    conn.wal_checkpoint_v2(None::<&str>, CheckpointMode::PASSIVE)
}

impl Writer {
    /// Starts the writer thread on `conn` and the checkpoint thread on `checkpoint_conn`.
    pub(super) fn start(
        conn: Connection,
        checkpoint_conn: Connection,
        policy: WalPolicy,
    ) -> std::io::Result<Writer> {
        let _ = conn.execute_batch(&format!(
            "PRAGMA wal_autocheckpoint = 0; PRAGMA journal_size_limit = {WAL_SIZE_LIMIT_BYTES};"
        ));
        let catch_up = Arc::new(AtomicBool::new(false));
        let (stop, stopped) = mpsc::channel();
        let checkpointer = std::thread::Builder::new()
            .name("basalt-sqlite-checkpoint".into())
            .spawn({
                let catch_up = Arc::clone(&catch_up);
                move || checkpoint_loop(&checkpoint_conn, &stopped, policy, &catch_up)
            })?;
        let (queue, rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("basalt-sqlite-writer".into())
            .spawn(move || run(conn, &rx, &catch_up))?;
        Ok(Writer {
            queue,
            thread: std::sync::Mutex::new(Some(thread)),
            checkpointer: std::sync::Mutex::new(Some((stop, checkpointer))),
        })
    }

    /// Queues a job; false when the writer has stopped.
    pub(super) fn submit(&self, job: Job) -> bool {
        self.queue.send(Message::Job(job)).is_ok()
    }

    /// Stops the writer after the queued jobs, checkpointing the WAL.
    pub(super) async fn close(&self) {
        let checkpointer = self
            .checkpointer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some((stop, handle)) = checkpointer {
            let _ = stop.send(());
            let _ = tokio::task::spawn_blocking(move || handle.join()).await;
        }
        let (tx, rx) = oneshot::channel();
        if self.queue.send(Message::Close(tx)).is_ok() {
            let _ = rx.await;
        }
        let handle = self
            .thread
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(h) = handle {
            let _ = tokio::task::spawn_blocking(move || h.join()).await;
        }
    }
}

fn run(conn: Connection, rx: &mpsc::Receiver<Message>, catch_up: &AtomicBool) {
    let mut closing: Option<oneshot::Sender<()>> = None;
    while closing.is_none() {
        let Ok(first) = rx.recv() else { break };
        let mut jobs = Vec::new();
        match first {
            Message::Job(j) => jobs.push(j),
            Message::Close(done) => closing = Some(done),
        }
        while closing.is_none() && jobs.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(Message::Job(j)) => jobs.push(j),
                Ok(Message::Close(done)) => closing = Some(done),
                Err(_) => break,
            }
        }
        if !jobs.is_empty() {
            commit_group(&conn, jobs);
        }
        if catch_up.swap(false, Ordering::Acquire) {
            catch_up_checkpoint(&conn);
        }
    }
    // Fold the WAL back into the main file so a stopped data dir is one tidy file.
    let _ = conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);");
    let _ = conn.close();
    if let Some(done) = closing {
        let _ = done.send(());
    }
}

/// Copies the frames the background passes left, so that the next write transaction starts
/// the log over. When that cannot happen now (a reader still needs old frames), the background
/// thread asks again after a later pass.
fn catch_up_checkpoint(conn: &Connection) {
    if let Err(e) = passive_checkpoint(conn) {
        tracing::debug!(error = %e, "WAL catch-up checkpoint in the writer did not run");
    }
}

fn commit_group(conn: &Connection, jobs: Vec<Job>) {
    if conn.execute_batch("BEGIN IMMEDIATE").is_err() {
        for job in jobs {
            // Without a transaction, run each job alone in autocommit mode.
            let (keep, finish) = job(conn);
            finish(keep);
        }
        return;
    }
    let mut finishers = Vec::with_capacity(jobs.len());
    for job in jobs {
        let kept = if conn.execute_batch("SAVEPOINT job").is_ok() {
            let (keep, finish) = job(conn);
            let closed = if keep {
                conn.execute_batch("RELEASE job")
            } else {
                conn.execute_batch("ROLLBACK TO job; RELEASE job")
            };
            finishers.push((keep && closed.is_ok(), finish));
            closed.is_ok()
        } else {
            false
        };
        if !kept {
            tracing::error!("sqlite writer could not open or close a savepoint");
        }
    }
    let committed = conn.execute_batch("COMMIT").is_ok();
    if !committed {
        let _ = conn.execute_batch("ROLLBACK");
        tracing::error!("sqlite writer: group commit failed; the group was rolled back");
    }
    for (kept, finish) in finishers {
        // A job that rolled itself back reports its own error whatever the commit did.
        finish(committed || !kept);
    }
}
