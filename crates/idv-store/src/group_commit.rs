//! Group commit for the SQLite writer: the writes of concurrent requests are run one after another inside one
//! `BEGIN IMMEDIATE` … `COMMIT`, so durability (`synchronous=FULL`: the WAL is synced at every commit) costs one
//! sync per batch instead of one per request. Each write runs under its own savepoint, so one that fails is
//! undone alone and the others of its batch still commit. Every caller gets its answer only after the commit
//! that made its write durable; if that commit fails, every write of the batch reports the failure, and none of
//! them took effect.
//!
//! Only the hot writes of the merchant API go through here (the nonce, the new transaction, the audit entry);
//! the rest use the writer pool directly. Both share the pool's single connection: the committer holds it for
//! one batch at a time, so the other writers wait at most one batch.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use sqlx::Connection;
use sqlx::sqlite::{SqliteConnection, SqlitePool};
use tokio::sync::{mpsc, oneshot};

use crate::{Result, StoreError};

/// At most this many writes share one commit: a bound on the batch's lock hold and on the work a failed commit
/// has to report back.
pub(crate) const MAX_BATCH: usize = 256;

type BoxFuture<'c, T> = Pin<Box<dyn Future<Output = T> + Send + 'c>>;

/// Delivers one write's answer once its batch's commit is known (`Err` carries the commit's failure).
type Deliver = Box<dyn FnOnce(std::result::Result<(), String>) + Send>;

/// One queued write: runs its statements on the batch's connection and says whether they succeeded (a failed
/// write's savepoint is rolled back) together with what to do once the commit is known.
type Job = Box<dyn for<'c> FnOnce(&'c mut SqliteConnection) -> BoxFuture<'c, (bool, Deliver)> + Send>;

/// Counts of what the committer did, for tests and benchmarks.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct GroupCommitStats {
    /// Commits issued (batches, successful or not).
    pub batches: u64,
    /// Writes run inside them.
    pub writes: u64,
    /// Writes submitted whose batch has not finished yet (still queued, or in the batch being run).
    pub queued: u64,
}

#[derive(Default)]
struct Counters {
    batches: AtomicU64,
    writes: AtomicU64,
    submitted: AtomicU64,
}

pub(crate) struct GroupCommit {
    queue: mpsc::UnboundedSender<Job>,
    counters: Arc<Counters>,
}

impl GroupCommit {
    /// Starts the committer task on the current tokio runtime. It ends when the last sender is dropped (with
    /// the store), after the writes already queued.
    pub(crate) fn start(writer: SqlitePool) -> Self {
        let (queue, jobs) = mpsc::unbounded_channel();
        let counters = Arc::new(Counters::default());
        tokio::spawn(run(writer, jobs, Arc::clone(&counters)));
        Self { queue, counters }
    }

    pub(crate) fn stats(&self) -> GroupCommitStats {
        let writes = self.counters.writes.load(Ordering::Acquire);
        let submitted = self.counters.submitted.load(Ordering::Acquire);
        GroupCommitStats {
            batches: self.counters.batches.load(Ordering::Acquire),
            writes,
            queued: submitted.saturating_sub(writes),
        }
    }

    /// Runs `op` in the next batch and answers once that batch is durable. `op` must not begin or end
    /// transactions itself (it runs inside a savepoint of the batch's transaction).
    pub(crate) async fn write<T, F>(&self, op: F) -> Result<T>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut SqliteConnection) -> BoxFuture<'c, Result<T>> + Send + 'static,
    {
        let (answer, answered) = oneshot::channel::<Result<T>>();
        let job: Job = Box::new(move |conn| {
            Box::pin(async move {
                let outcome = op(conn).await;
                let ok = outcome.is_ok();
                let deliver: Deliver = Box::new(move |commit| {
                    let _ = answer.send(match commit {
                        Ok(()) => outcome,
                        // The write itself may have been fine; it is not durable, so it did not happen.
                        Err(why) => Err(StoreError::NotCommitted(why)),
                    });
                });
                (ok, deliver)
            })
        });
        self.counters.submitted.fetch_add(1, Ordering::AcqRel);
        self.queue.send(job).map_err(|_| StoreError::NotCommitted("the store's writer has stopped".into()))?;
        answered.await.map_err(|_| StoreError::NotCommitted("the write was not run (see the log)".into()))?
    }
}

async fn run(writer: SqlitePool, mut jobs: mpsc::UnboundedReceiver<Job>, counters: Arc<Counters>) {
    while let Some(first) = jobs.recv().await {
        // Waiting for the connection (another writer may hold it) lets more writes queue up for this batch.
        let acquired = writer.acquire().await;
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(j) => batch.push(j),
                Err(_) => break,
            }
        }
        let n = batch.len() as u64;
        let outcome = match acquired {
            Ok(mut conn) => run_batch(&mut conn, batch).await,
            // Dropped unrun, every caller is told its write did not happen.
            Err(e) => Err(e.to_string()),
        };
        counters.writes.fetch_add(n, Ordering::AcqRel);
        counters.batches.fetch_add(1, Ordering::AcqRel);
        match outcome {
            Ok((delivers, commit)) => {
                if let Err(why) = &commit {
                    tracing::error!(error = %why, writes = n, "a write batch did not commit");
                }
                for d in delivers {
                    d(commit.clone());
                }
            }
            Err(why) => tracing::error!(error = %why, writes = n, "a write batch could not run"),
        }
    }
}

/// Runs the batch in one transaction and returns each run write's deliverer with the commit's outcome; `Err`
/// when the transaction could not begin. Writes that were not run (the transaction broke before them) are
/// dropped, and their callers are told their write did not happen.
async fn run_batch(
    conn: &mut SqliteConnection,
    batch: Vec<Job>,
) -> std::result::Result<(Vec<Deliver>, std::result::Result<(), String>), String> {
    let mut tx = conn.begin_with("BEGIN IMMEDIATE").await.map_err(|e| e.to_string())?;
    let mut delivers = Vec::with_capacity(batch.len());
    let mut broken: Option<String> = None;
    for job in batch {
        let mut sp = match tx.begin().await {
            Ok(sp) => sp,
            Err(e) => {
                broken = Some(e.to_string());
                break;
            }
        };
        let (ok, deliver) = job(&mut sp).await;
        delivers.push(deliver);
        // A failed write is undone alone; the batch goes on.
        let closed = if ok { sp.commit().await } else { sp.rollback().await };
        if let Err(e) = closed {
            broken = Some(e.to_string());
            break;
        }
    }
    let commit = match broken {
        Some(why) => {
            let _ = tx.rollback().await;
            Err(why)
        }
        None => tx.commit().await.map_err(|e| e.to_string()),
    };
    Ok((delivers, commit))
}
