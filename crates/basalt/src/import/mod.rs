//! `basalt import`: copies a Parse Server PostgreSQL database into basalt's store. Schemas
//! (with permissions and indexes) first, then each class's rows in objectId order, in batches
//! written through the engine's import path, which checks them against basalt's rules and
//! records a checkpoint with each batch. An interrupted run resumes at its checkpoint; objects
//! the target already has are never written twice.

mod convert;
mod progress;
mod source;
mod summary;

use std::collections::{BTreeMap, BTreeSet};

use basalt_engine::Engine;
use basalt_engine::import::{ImportObject, ImportProgress};
use basalt_store::RelationChange;
use serde_json::Value;

pub use progress::ProgressMode;
pub use summary::Summary;

use convert::{ClassPlan, convert_row, plan_class};
use progress::ClassProgress;
use source::ParseDatabase;
use summary::ClassOutcome;

/// What to import and how.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// Parse Server's database URL.
    pub from: String,
    /// Only these classes (empty: all).
    pub classes: Vec<String>,
    /// Rows per read and per write transaction.
    pub batch_size: usize,
    /// Stop after this many rows handled in this run.
    pub stop_after: Option<u64>,
    /// How progress is shown.
    pub progress: ProgressMode,
}

/// Classes imported first, in this order: users before the sessions and roles that name
/// them, so a partial import is usable sooner.
const FIRST: &[&str] = &["_User", "_Role", "_Session", "_Installation"];

/// Parse Server's classes that keep their own tables outside `_SCHEMA`, and why each is not
/// imported. `true`: data basalt cannot hold yet (a refusal); `false`: a transient log.
const VOLATILE: &[(&str, bool, &str)] = &[
    (
        "_GlobalConfig",
        true,
        "Parse Config parameters: basalt has no /config yet",
    ),
    (
        "_GraphQLConfig",
        true,
        "GraphQL settings: basalt has no GraphQL API yet",
    ),
    ("_Hooks", true, "webhooks: basalt has no webhooks"),
    (
        "_Audience",
        true,
        "push audiences: push is not active in basalt yet",
    ),
    (
        "_JobSchedule",
        true,
        "scheduled jobs: basalt has no job scheduler yet",
    ),
    (
        "_PushStatus",
        false,
        "status log of pushes Parse Server sent",
    ),
    ("_JobStatus", false, "status log of jobs Parse Server ran"),
    ("_Idempotency", false, "request idempotency log (transient)"),
];

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((auth, host)) = rest.rsplit_once('@') else {
        return url.to_owned();
    };
    match auth.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

fn class_order(names: &mut [String]) {
    names.sort_by_key(|n| {
        let rank = FIRST.iter().position(|f| f == n).unwrap_or(FIRST.len());
        (rank, n.clone())
    });
}

/// Runs the import into the engine's store and returns what it did.
pub async fn run(engine: &Engine, opts: &ImportOptions, target: &str) -> anyhow::Result<Summary> {
    let db = ParseDatabase::connect(&opts.from).await?;
    let result = import_all(&db, engine, opts, target).await;
    db.close();
    result
}

async fn import_all(
    db: &ParseDatabase,
    engine: &Engine,
    opts: &ImportOptions,
    target: &str,
) -> anyhow::Result<Summary> {
    let mut summary = Summary {
        source: redact(&opts.from),
        target: redact(target),
        ..Summary::default()
    };
    let wanted: BTreeSet<&str> = opts.classes.iter().map(String::as_str).collect();
    let selected = |name: &str| wanted.is_empty() || wanted.contains(name);
    let mut entries: BTreeMap<String, Value> = BTreeMap::new();
    for class in db.classes().await? {
        entries.insert(class.name, class.entry);
    }
    for (name, data_loss, why) in VOLATILE {
        if !selected(name) {
            continue;
        }
        let rows = if db.table_exists(name).await? {
            db.count(name).await?
        } else {
            0
        };
        if rows > 0 || entries.contains_key(*name) {
            let why = format!("{rows} rows; {why}");
            if *data_loss {
                summary.refused_classes.push(((*name).to_owned(), why));
            } else {
                summary.skipped_classes.push(((*name).to_owned(), why));
            }
        }
        entries.remove(*name);
    }
    for name in &wanted {
        if !entries.contains_key(*name) && !VOLATILE.iter().any(|(v, _, _)| v == name) {
            summary
                .refused_classes
                .push(((*name).to_owned(), "not in the source database".into()));
        }
    }
    let mut names: Vec<String> = entries.keys().filter(|n| selected(n)).cloned().collect();
    class_order(&mut names);
    let mut budget = opts.stop_after;
    for name in names {
        let entry = &entries[&name];
        let plan = plan_class(&name, entry);
        let merge = match engine.import_schema(&plan.schema).await {
            Ok(m) => m,
            Err(e) => {
                summary.refused_classes.push((name, e.to_string()));
                continue;
            }
        };
        let mut outcome = ClassOutcome {
            class: name.clone(),
            schema_refused: plan.refused.iter().chain(&merge.refused).cloned().collect(),
            ..ClassOutcome::default()
        };
        let finished = import_class(db, engine, opts, &plan, &mut outcome, &mut budget).await?;
        outcome.unfinished = !finished;
        summary.classes.push(outcome);
        if !finished {
            summary.stopped_after = opts.stop_after;
            break;
        }
    }
    Ok(summary)
}

/// Imports one class from its checkpoint on; false when the row budget ran out first.
async fn import_class(
    db: &ParseDatabase,
    engine: &Engine,
    opts: &ImportOptions,
    plan: &ClassPlan,
    outcome: &mut ClassOutcome,
    budget: &mut Option<u64>,
) -> anyhow::Result<bool> {
    let class = plan.schema.class_name.as_str();
    let mut progress = engine.import_progress(class).await?;
    outcome.resumed = progress.after.is_some();
    let total = if db.table_exists(class).await? {
        db.count(class).await?
    } else {
        // Parse creates a class's table on its first write; no table, no rows.
        outcome.progress = progress;
        engine.finish_import(class).await?;
        return Ok(true);
    };
    let mut bar = ClassProgress::start(opts.progress, class, total, progress.handled());
    loop {
        let limit = match budget {
            Some(0) => {
                bar.finish("stopped");
                outcome.progress = progress;
                return Ok(false);
            }
            Some(left) => opts
                .batch_size
                .min(usize::try_from(*left).unwrap_or(usize::MAX)),
            None => opts.batch_size,
        };
        let rows = db
            .rows_after(class, progress.after.as_deref(), limit)
            .await?;
        let Some(last_id) = rows
            .last()
            .and_then(|r| r.get("objectId"))
            .and_then(Value::as_str)
            .map(str::to_owned)
        else {
            break;
        };
        if let Some(left) = budget.as_mut() {
            *left = left.saturating_sub(rows.len() as u64);
        }
        let objects = convert_batch(db, plan, rows, &mut progress).await?;
        engine
            .import_batch(class, objects, &last_id, &mut progress)
            .await
            .map_err(|e| anyhow::anyhow!("importing {class}: {e}"))?;
        bar.set(progress.handled());
    }
    engine.finish_import(class).await?;
    bar.finish(&format!(
        "{} imported, {} present, {} refused",
        progress.imported, progress.present, progress.refused_count
    ));
    outcome.progress = progress;
    Ok(true)
}

/// Converts a batch of rows and attaches their Relation links; rows that cannot be read are
/// recorded as refused.
async fn convert_batch(
    db: &ParseDatabase,
    plan: &ClassPlan,
    rows: Vec<serde_json::Map<String, Value>>,
    progress: &mut ImportProgress,
) -> anyhow::Result<Vec<ImportObject>> {
    let mut objects = Vec::with_capacity(rows.len());
    for row in rows {
        match convert_row(plan, &row) {
            Ok(object) => objects.push(ImportObject {
                object,
                relations: vec![],
            }),
            Err(reason) => {
                let id = row
                    .get("objectId")
                    .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                    .unwrap_or_default();
                progress.refuse(id, reason);
            }
        }
    }
    if plan.relations.is_empty() || objects.is_empty() {
        return Ok(objects);
    }
    let ids: Vec<String> = objects.iter().map(|o| o.object.object_id.clone()).collect();
    for field in &plan.relations {
        let mut by_owner: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (owner, related) in db.links(&plan.schema.class_name, field, &ids).await? {
            by_owner.entry(owner).or_default().push(related);
        }
        for o in &mut objects {
            if let Some(add) = by_owner.remove(&o.object.object_id) {
                o.relations.push(RelationChange {
                    field: field.clone(),
                    add,
                    remove: vec![],
                });
            }
        }
    }
    Ok(objects)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_print() {
        assert_eq!(
            redact("postgres://parse:s3cret@db.example:5432/app"),
            "postgres://parse:***@db.example:5432/app"
        );
        assert_eq!(redact("postgres://db/app"), "postgres://db/app");
        assert_eq!(redact("/var/lib/basalt"), "/var/lib/basalt");
    }

    #[test]
    fn users_come_first() {
        let mut names: Vec<String> = ["Game", "_Session", "Alpha", "_User", "_Role"]
            .map(str::to_owned)
            .to_vec();
        class_order(&mut names);
        assert_eq!(names, ["_User", "_Role", "_Session", "Alpha", "Game"]);
    }
}
