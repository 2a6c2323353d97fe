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

/// The handle the store keeps.
pub(super) struct Writer {
    queue: mpsc::Sender<Message>,
    thread: std::sync::Mutex<Option<JoinHandle<()>>>,
}

impl Writer {
    /// Starts the writer thread on `conn`.
    pub(super) fn start(conn: Connection) -> std::io::Result<Writer> {
        let (queue, rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("basalt-sqlite-writer".into())
            .spawn(move || run(conn, &rx))?;
        Ok(Writer {
            queue,
            thread: std::sync::Mutex::new(Some(thread)),
        })
    }

    /// Queues a job; false when the writer has stopped.
    pub(super) fn submit(&self, job: Job) -> bool {
        self.queue.send(Message::Job(job)).is_ok()
    }

    /// Stops the writer after the queued jobs, checkpointing the WAL.
    pub(super) async fn close(&self) {
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
