//! The one writer: a thread that owns the write connection and commits queued writes in groups.
//! Each job runs inside its own savepoint, so one failing job rolls back only itself; the group
//! commits once, and every job's caller hears its result only after that commit. Grouping turns
//! many small concurrent commits into one, and keeps write callers off tokio's blocking pool.

use std::sync::mpsc;
use std::thread::JoinHandle;

use rusqlite::Connection;
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

/// How often the WAL is folded back into the database file, off the commit path.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(500);

/// The handle the store keeps.
pub(super) struct Writer {
    queue: mpsc::Sender<Message>,
    thread: std::sync::Mutex<Option<JoinHandle<()>>>,
    checkpointer: std::sync::Mutex<Option<(mpsc::Sender<()>, JoinHandle<()>)>>,
}

/// Checkpoints the WAL from its own connection (PASSIVE: never blocks readers or the writer),
/// so commits do not pay for it; SQLite's automatic checkpoint would run inside a commit and
/// showed up as the writer's tail latency.
fn checkpoint_loop(conn: Connection, stop: &mpsc::Receiver<()>) {
    while let Err(mpsc::RecvTimeoutError::Timeout) = stop.recv_timeout(CHECKPOINT_EVERY) {
        if let Err(e) = conn.execute_batch("PRAGMA wal_checkpoint(PASSIVE);") {
            tracing::warn!(error = %e, "WAL checkpoint failed; will retry");
        }
    }
}

impl Writer {
    /// Starts the writer thread on `conn`.
    pub(super) fn start(conn: Connection, checkpoint_conn: Connection) -> std::io::Result<Writer> {
        // Checkpoints happen on their own thread instead of inside commits.
        let _ = conn.execute_batch("PRAGMA wal_autocheckpoint = 0;");
        let (stop, stopped) = mpsc::channel();
        let checkpointer = std::thread::Builder::new()
            .name("basalt-sqlite-checkpoint".into())
            .spawn(move || checkpoint_loop(checkpoint_conn, &stopped))?;
        let (queue, rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("basalt-sqlite-writer".into())
            .spawn(move || run(conn, &rx))?;
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

fn run(conn: Connection, rx: &mpsc::Receiver<Message>) {
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
    }
    // Fold the WAL back into the main file so a stopped data dir is one tidy file.
    let _ = conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);");
    let _ = conn.close();
    if let Some(done) = closing {
        let _ = done.send(());
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
