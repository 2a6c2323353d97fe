//! `/batch`: many operations in one request, either independently (each succeeds or fails on its
//! own) or as one transaction (all or nothing).

use basalt_core::value::Document;
use basalt_core::{Error, ErrorCode, ParseError, Result};
use basalt_store::{Write, WriteOutcome};

use crate::read::{FindRequest, FindResult, GetRequest};
use crate::write::{Created, Updated};
use crate::{AuthContext, Engine};

/// One operation of a batch.
#[derive(Debug, Clone)]
pub enum BatchOp {
    /// POST /classes/:class
    Create {
        /// Class.
        class: String,
        /// Body.
        body: Document,
    },
    /// PUT /classes/:class/:id
    Update {
        /// Class.
        class: String,
        /// Object id.
        object_id: String,
        /// Body.
        body: Document,
    },
    /// DELETE /classes/:class/:id
    Delete {
        /// Class.
        class: String,
        /// Object id.
        object_id: String,
    },
    /// GET /classes/:class/:id
    Get {
        /// Class.
        class: String,
        /// Object id.
        object_id: String,
        /// Options.
        req: GetRequest,
    },
    /// GET /classes/:class
    Find {
        /// Class.
        class: String,
        /// Options.
        req: FindRequest,
    },
}

/// What one operation of a batch returned.
#[derive(Debug, Clone)]
pub enum BatchOutcome {
    /// An object was created.
    Created(Created),
    /// An object was updated.
    Updated(Updated),
    /// An object was deleted.
    Deleted,
    /// One object was read.
    Object(Document),
    /// A find's results.
    Found(FindResult),
}

impl Engine {
    /// Refuses a batch of more sub-requests than the configured limit (107), before any of
    /// them is looked at.
    pub fn check_batch_size(&self, len: usize) -> Result<()> {
        if len > self.config.batch_request_limit {
            return Err(ParseError::new(
                ErrorCode::InvalidJson,
                format!(
                    "Batch request limit exceeded: at most {} requests are allowed",
                    self.config.batch_request_limit
                ),
            )
            .into());
        }
        Ok(())
    }

    /// Runs a batch. Independent batches answer per operation; a transaction answers all
    /// outcomes, or the first error for the whole batch with nothing written.
    pub async fn batch(
        &self,
        auth: &AuthContext,
        ops: Vec<BatchOp>,
        transaction: bool,
    ) -> Result<Vec<Result<BatchOutcome>>> {
        self.check_batch_size(ops.len())?;
        if transaction {
            return self
                .batch_transaction(auth, ops)
                .await
                .map(|v| v.into_iter().map(Ok).collect());
        }
        let mut out = Vec::with_capacity(ops.len());
        for op in ops {
            out.push(self.run_one(auth, op).await);
        }
        Ok(out)
    }

    async fn run_one(&self, auth: &AuthContext, op: BatchOp) -> Result<BatchOutcome> {
        Ok(match op {
            BatchOp::Create { class, body } => {
                BatchOutcome::Created(self.create(auth, &class, body).await?)
            }
            BatchOp::Update {
                class,
                object_id,
                body,
            } => BatchOutcome::Updated(self.update(auth, &class, &object_id, body).await?),
            BatchOp::Delete { class, object_id } => {
                self.delete(auth, &class, &object_id).await?;
                BatchOutcome::Deleted
            }
            BatchOp::Get {
                class,
                object_id,
                req,
            } => BatchOutcome::Object(self.get(auth, &class, &object_id, req).await?),
            BatchOp::Find { class, req } => {
                BatchOutcome::Found(self.find(auth, &class, req).await?)
            }
        })
    }

    async fn batch_transaction(
        &self,
        auth: &AuthContext,
        ops: Vec<BatchOp>,
    ) -> Result<Vec<BatchOutcome>> {
        enum Slot {
            /// A write: a create's answer, or fields added to an update's answer.
            Write(Option<Created>, Document),
            Read(BatchOp),
        }
        let mut writes: Vec<Write> = Vec::new();
        let mut afters = Vec::new();
        let mut extra_writes: Vec<usize> = Vec::new();
        let mut slots = Vec::with_capacity(ops.len());
        for op in ops {
            match op {
                BatchOp::Create { class, body } => {
                    let (ws, created) = self.plan_create(auth, &class, body).await?;
                    // A sign-up also writes its session; only the first write answers.
                    extra_writes.push(ws.len().saturating_sub(1));
                    writes.extend(ws);
                    slots.push(Slot::Write(Some(created), Document::new()));
                }
                BatchOp::Update {
                    class,
                    object_id,
                    body,
                } => {
                    let (w, after, response) =
                        self.plan_update(auth, &class, &object_id, body).await?;
                    writes.push(w);
                    afters.push(after);
                    extra_writes.push(0);
                    slots.push(Slot::Write(None, response));
                }
                BatchOp::Delete { class, object_id } => {
                    let (w, after) = self.plan_delete(auth, &class, &object_id).await?;
                    writes.push(w);
                    afters.push(after);
                    extra_writes.push(0);
                    slots.push(Slot::Write(None, Document::new()));
                }
                read @ (BatchOp::Get { .. } | BatchOp::Find { .. }) => slots.push(Slot::Read(read)),
            }
        }
        let outcomes = self.commit(writes).await.map_err(|(_, e)| e)?;
        for after in afters {
            self.after_commit(after).await?;
        }
        let mut extra_writes = extra_writes.into_iter();
        let mut outcomes = outcomes.into_iter();
        let mut out = Vec::with_capacity(slots.len());
        for slot in slots {
            out.push(match slot {
                Slot::Read(op) => self.run_one(auth, op).await?,
                Slot::Write(created, response) => match (
                    {
                        let first = outcomes.next();
                        for _ in 0..extra_writes.next().unwrap_or(0) {
                            outcomes.next();
                        }
                        first
                    },
                    created,
                ) {
                    (Some(WriteOutcome::Created), Some(c)) => BatchOutcome::Created(c),
                    (Some(WriteOutcome::Updated { mut echoed, object }), _) => {
                        echoed.extend(response);
                        BatchOutcome::Updated(Updated {
                            updated_at: object.updated_at,
                            echoed,
                        })
                    }
                    (Some(WriteOutcome::Deleted), _) => BatchOutcome::Deleted,
                    other => {
                        return Err(Error::Internal(anyhow::anyhow!(
                            "batch outcome mismatch: {other:?}"
                        )));
                    }
                },
            });
        }
        Ok(out)
    }
}
