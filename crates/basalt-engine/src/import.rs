//! Importing objects another Parse deployment wrote: class schemas merged into the target's,
//! objects checked against basalt's rules and stored with their own ids and timestamps, and a
//! per-class checkpoint written in the same transaction as each batch, so an interrupted import
//! resumes where it stopped and never stores an object twice. Reading the other deployment's
//! database is the caller's job; nothing here knows where the objects came from.

#[cfg(test)]
mod tests;

use std::collections::HashSet;
use std::sync::Arc;

use basalt_auth::token::hash_token;
use basalt_core::names::{
    DEFAULT_FIELDS, class_name_is_valid, object_id_is_valid, validate_field_name,
};
use basalt_core::ops::{FieldChange, Op, Patch};
use basalt_core::query::{Condition, FieldPath, Filter};
use basalt_core::schema::{ClassSchema, FieldDef, FieldType, SchemaMap};
use basalt_core::time::normalize_iso;
use basalt_core::value::{Document, normalize, type_of};
use basalt_core::{Error, ErrorCode, ParseError, Result};
use basalt_store::{FindSpec, RelationChange, StoreError, StoredObject, Write};
use serde_json::{Map, Value, json};

use crate::Engine;
use crate::classes::normalize_clp;
use crate::output::SEALED_TOKEN;
use crate::schema_cache::mismatch;
use crate::validate::{check_acl, check_new_field};

/// The internal class holding import checkpoints, one object per class being imported (its
/// object id is the class name). Its name is not a valid class name, so no request can reach
/// it, and the schema cache leaves it out.
pub(crate) const STATE_CLASS: &str = "_ImportState";

/// Most refusal reasons a checkpoint keeps per class (the count keeps going).
const KEPT_REFUSALS: usize = 1_000;

/// Hidden `_User` fields carried over: the password hash (bcrypt from Parse Server; it verifies
/// and is upgraded on the next log-in), pending e-mail verification and password reset tokens,
/// lock-out state and password history.
const USER_HIDDEN_FIELDS: &[&str] = &[
    "_hashed_password",
    "_email_verify_token",
    "_email_verify_token_expires_at",
    "_perishable_token",
    "_perishable_token_expires_at",
    "_failed_login_count",
    "_account_lockout_expires_at",
    "_password_changed_at",
    "_password_history",
];

/// One object to import: its identity, timestamps and fields (ACL and hidden fields included)
/// in Parse JSON, and its Relation links.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportObject {
    /// The object as it is to be stored.
    pub object: StoredObject,
    /// Links of its Relation fields (only `add` is used).
    pub relations: Vec<RelationChange>,
}

/// One object that was not imported, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    /// The object's id in the source.
    pub object_id: String,
    /// What basalt's rules refused.
    pub reason: String,
}

/// How far the import of one class has come, over every run. Stored as the class's checkpoint.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImportProgress {
    /// The last source object id handled (imported, present or refused); the next run reads
    /// the objects after it.
    pub after: Option<String>,
    /// Objects stored.
    pub imported: u64,
    /// Objects skipped because the target already had an object with their id.
    pub present: u64,
    /// Objects refused.
    pub refused_count: u64,
    /// The first refusals, with their reasons.
    pub refused: Vec<Refusal>,
    /// Whether a checkpoint record exists in the store.
    stored: bool,
}

/// What merging one source schema into the target changed, and what it left out.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SchemaMerge {
    /// Fields, permissions and indexes that could not be carried over, with the reason.
    pub refused: Vec<String>,
}

fn progress_doc(p: &ImportProgress) -> Document {
    let refused: Vec<Value> = p
        .refused
        .iter()
        .map(|r| json!({"objectId": r.object_id, "reason": r.reason}))
        .collect();
    let mut d = Document::new();
    d.insert("after".into(), json!(p.after));
    d.insert("imported".into(), json!(p.imported));
    d.insert("present".into(), json!(p.present));
    d.insert("refusedCount".into(), json!(p.refused_count));
    d.insert("refused".into(), Value::Array(refused));
    d
}

fn progress_from(o: &StoredObject) -> ImportProgress {
    let n = |k: &str| o.fields.get(k).and_then(Value::as_u64).unwrap_or(0);
    let refused = o
        .fields
        .get("refused")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|r| Refusal {
            object_id: r["objectId"].as_str().unwrap_or_default().to_owned(),
            reason: r["reason"].as_str().unwrap_or_default().to_owned(),
        })
        .collect();
    ImportProgress {
        after: o
            .fields
            .get("after")
            .and_then(Value::as_str)
            .map(str::to_owned),
        imported: n("imported"),
        present: n("present"),
        refused_count: n("refusedCount"),
        refused,
        stored: true,
    }
}

fn state_schema() -> ClassSchema {
    let mut s = ClassSchema::new(STATE_CLASS);
    for (name, ty) in [
        ("after", FieldType::String),
        ("imported", FieldType::Number),
        ("present", FieldType::Number),
        ("refusedCount", FieldType::Number),
        ("refused", FieldType::Array),
    ] {
        s.fields.insert(name.into(), FieldDef::of(ty));
    }
    // Nobody but the importer reads it; keep it closed even if it were ever reachable.
    s.clp = json!({"find": {}, "get": {}, "count": {}, "create": {}, "update": {},
        "delete": {}, "addField": {}, "protectedFields": {}});
    s
}

fn id_filter(ids: Vec<String>) -> Filter {
    Filter::Field(
        FieldPath::parse("objectId"),
        Condition::In(ids.into_iter().map(Value::String).collect()),
    )
}

fn refusal_reason(e: &Error) -> String {
    match e {
        Error::Parse(p) => format!("{} (code {})", p.message, p.code.code()),
        Error::Internal(e) => format!("{e:#}"),
    }
}

/// Adds `field` to `schema` when basalt's rules allow it and the target does not already hold
/// it with another type; returns the reason otherwise.
fn merge_field(
    schema: &mut ClassSchema,
    name: &str,
    def: &FieldDef,
) -> std::result::Result<(), String> {
    if let Some(existing) = schema.fields.get(name) {
        if existing.field_type == def.field_type {
            return Ok(());
        }
        return Err(mismatch(
            &schema.class_name,
            name,
            &existing.field_type,
            &def.field_type,
        )
        .message
        .into_owned());
    }
    validate_field_name(name).map_err(|e| e.message.into_owned())?;
    if let Some(t) = def.field_type.target_class()
        && !class_name_is_valid(t)
    {
        return Err(format!("field {name} refers to an invalid class name {t}"));
    }
    if def.field_type == FieldType::Acl {
        return Err(format!("field {name} cannot have type ACL"));
    }
    check_new_field(schema, name, &def.field_type).map_err(|e| e.message.into_owned())?;
    schema.fields.insert(name.to_owned(), def.clone());
    Ok(())
}

/// Adds an index whose fields the schema has and whose directions are 1 or -1.
fn merge_index(
    schema: &mut ClassSchema,
    name: &str,
    keys: &Map<String, Value>,
) -> std::result::Result<(), String> {
    if name == "_id_" || schema.indexes.contains_key(name) {
        return Ok(());
    }
    if keys.is_empty() {
        return Err(format!("index {name} names no field"));
    }
    for (field, dir) in keys {
        let top = field.split('.').next().unwrap_or_default();
        if !schema.fields.contains_key(top) || top.starts_with('_') {
            return Err(format!("index {name}: field {field} is not in the schema"));
        }
        if dir.as_i64() != Some(1) && dir.as_i64() != Some(-1) {
            return Err(format!(
                "index {name}: only ascending (1) and descending (-1) keys are supported, not {dir}"
            ));
        }
    }
    schema.indexes.insert(name.to_owned(), keys.clone());
    Ok(())
}

/// Checks and canonicalises one object for `schema`; the reason when basalt's rules refuse it.
fn check_object(schema: &ClassSchema, o: &mut ImportObject) -> std::result::Result<(), String> {
    let class = schema.class_name.as_str();
    let obj = &mut o.object;
    if !object_id_is_valid(&obj.object_id) {
        return Err(format!("invalid objectId {:?}", obj.object_id));
    }
    for (what, stamp) in [
        ("createdAt", &mut obj.created_at),
        ("updatedAt", &mut obj.updated_at),
    ] {
        *stamp = normalize_iso(stamp).ok_or_else(|| format!("{what} is not a date: {stamp}"))?;
    }
    obj.fields.retain(|_, v| !v.is_null());
    for (name, value) in obj.fields.iter_mut() {
        if name == "ACL" {
            check_acl(value).map_err(|e| e.message.into_owned())?;
            continue;
        }
        if name.starts_with('_') {
            if class == "_User" && USER_HIDDEN_FIELDS.contains(&name.as_str()) {
                continue;
            }
            return Err(format!(
                "internal field {name} is not imported into {class}"
            ));
        }
        if DEFAULT_FIELDS.contains(&name.as_str()) {
            return Err(format!("{name} cannot be a field"));
        }
        let field = |e: ParseError| format!("field {name}: {}", e.message);
        normalize(value).map_err(field)?;
        let Some(expected) = schema.field_type(name) else {
            return Err(format!("field {name} is not in the schema of {class}"));
        };
        match type_of(value).map_err(field)? {
            Some(got) if &got == expected => {}
            Some(got) => return Err(mismatch(class, name, expected, &got).message.into_owned()),
            None => {}
        }
    }
    for link in &o.relations {
        match schema.field_type(&link.field) {
            Some(FieldType::Relation(_)) => {}
            _ => return Err(format!("{} is not a Relation field of {class}", link.field)),
        }
        if let Some(bad) = link.add.iter().find(|id| !object_id_is_valid(id)) {
            return Err(format!("{}: invalid related objectId {bad:?}", link.field));
        }
    }
    if class == "_Role"
        && !matches!(obj.fields.get("name"), Some(Value::String(n)) if !n.is_empty())
    {
        return Err("a role needs a name".into());
    }
    Ok(())
}

impl Engine {
    /// Merges a schema read from another deployment into the target: the class is created
    /// when missing, fields the target lacks are added (a field the target holds with another
    /// type is refused), the class-level permissions replace the target's, and indexes are
    /// added. Permissions basalt cannot read are replaced by master-key-only ones (refusing
    /// must never open a class). An invalid class name is an error.
    pub async fn import_schema(&self, source: &ClassSchema) -> Result<SchemaMerge> {
        let class = source.class_name.as_str();
        if !class_name_is_valid(class) {
            return Err(basalt_core::names::invalid_class_name(class).into());
        }
        let _guard = self.schemas.lock_changes().await;
        let mut schema = self
            .schemas
            .get(class)
            .map(|s| ClassSchema::clone(&s))
            .unwrap_or_else(|| ClassSchema::new(class));
        let mut merge = SchemaMerge::default();
        for (name, def) in &source.fields {
            if DEFAULT_FIELDS.contains(&name.as_str()) {
                continue;
            }
            if let Err(why) = merge_field(&mut schema, name, def) {
                merge.refused.push(format!("field {name}: {why}"));
            }
        }
        match normalize_clp(&source.clp, &schema) {
            Ok(clp) => schema.clp = clp,
            Err(e) => {
                schema.clp = state_schema().clp;
                merge.refused.push(format!(
                    "classLevelPermissions: {}; the class is closed to everyone but the master key",
                    refusal_reason(&e)
                ));
            }
        }
        for (name, keys) in &source.indexes {
            if let Err(why) = merge_index(&mut schema, name, keys) {
                merge.refused.push(why);
            }
        }
        self.store.save_schema(&schema).await?;
        self.schemas.publish_locked(Some(schema), class);
        Ok(merge)
    }

    /// The checkpoint of an import of `class` that has not finished, if any.
    pub async fn import_progress(&self, class: &str) -> Result<ImportProgress> {
        let schemas = self.import_schemas();
        if !self.schemas_with_state().await? {
            return Ok(ImportProgress::default());
        }
        let found = self
            .store
            .find(
                &schemas,
                STATE_CLASS,
                &FindSpec::filter(id_filter(vec![class.to_owned()])),
            )
            .await?;
        Ok(found.first().map(progress_from).unwrap_or_default())
    }

    /// Imports one batch of `class` (whose schema was imported first), in the source's object
    /// id order: objects the target already has are skipped, objects basalt's rules refuse are
    /// recorded with the reason, the rest are stored with their ids, timestamps, ACLs and
    /// links. `last_id` is the last source id the batch covers; it becomes the checkpoint,
    /// written in the same transaction as the objects.
    pub async fn import_batch(
        &self,
        class: &str,
        objects: Vec<ImportObject>,
        last_id: &str,
        progress: &mut ImportProgress,
    ) -> Result<()> {
        let schema = self.schemas.get(class).ok_or_else(|| {
            ParseError::new(
                ErrorCode::InvalidClassName,
                format!("Class {class} does not exist."),
            )
        })?;
        let present = self.present_ids(class, &objects).await?;
        let mut next = progress.clone();
        let mut ready: Vec<ImportObject> = Vec::with_capacity(objects.len());
        for mut o in objects {
            if present.contains(&o.object.object_id) {
                next.present += 1;
                continue;
            }
            match check_object(&schema, &mut o) {
                Ok(()) => {
                    self.prepare_stored(class, &mut o.object);
                    ready.push(o);
                }
                Err(reason) => next.refuse(o.object.object_id, reason),
            }
        }
        next.after = Some(last_id.to_owned());
        self.ensure_state_class().await?;
        loop {
            let mut committed = next.clone();
            committed.imported += ready.len() as u64;
            let mut writes: Vec<Write> = ready
                .iter()
                .map(|o| Write::Create {
                    class: class.to_owned(),
                    object: o.object.clone(),
                    relations: o.relations.clone(),
                })
                .collect();
            writes.push(checkpoint_write(class, &committed));
            match self.commit(writes).await {
                Ok(_) => {
                    committed.stored = true;
                    *progress = committed;
                    break;
                }
                // One object broke a rule only the database sees (a unique user name or
                // e-mail): refuse it and store the others.
                Err((i, e)) if i < ready.len() => {
                    let o = ready.remove(i);
                    next.refuse(o.object.object_id, refusal_reason(&e));
                }
                Err((_, e)) => return Err(e),
            }
        }
        if matches!(class, "_User" | "_Role" | "_Session") {
            self.sessions.clear();
        }
        Ok(())
    }

    /// Removes the checkpoint of a class whose import finished, and the checkpoint class once
    /// no import is left unfinished.
    pub async fn finish_import(&self, class: &str) -> Result<()> {
        if !self.schemas_with_state().await? {
            return Ok(());
        }
        let delete = Write::Delete {
            class: STATE_CLASS.into(),
            object_id: class.to_owned(),
            writers: None,
        };
        match self.store.write(vec![delete]).await {
            Ok(_) | Err((_, StoreError::NotFound)) => {}
            Err((_, e)) => return Err(e.into()),
        }
        let left = self
            .store
            .count(&self.import_schemas(), STATE_CLASS, &Filter::All, None)
            .await?;
        if left == 0 {
            self.store.delete_class(STATE_CLASS).await?;
        }
        Ok(())
    }

    /// Stores a session as basalt keeps them: the token hashed (lookups) and sealed (shown to
    /// its owner), never in clear; and an owner-only ACL when Parse stored none.
    fn prepare_stored(&self, class: &str, object: &mut StoredObject) {
        if class != "_Session" {
            return;
        }
        if let Some(Value::String(token)) = object.fields.remove("sessionToken") {
            object
                .fields
                .insert("sessionToken".into(), Value::String(hash_token(&token)));
            if let Some(sealed) = self.config.token_key.as_ref().and_then(|k| k.seal(&token)) {
                object
                    .fields
                    .insert(SEALED_TOKEN.into(), Value::String(sealed));
            }
        }
        if !object.fields.contains_key("ACL")
            && let Some(user) = object
                .fields
                .get("user")
                .and_then(|u| u.get("objectId"))
                .and_then(Value::as_str)
        {
            let acl = json!({ user: {"read": true, "write": true} });
            object.fields.insert("ACL".into(), acl);
        }
    }

    async fn present_ids(&self, class: &str, objects: &[ImportObject]) -> Result<HashSet<String>> {
        if objects.is_empty() {
            return Ok(HashSet::new());
        }
        let ids: Vec<String> = objects.iter().map(|o| o.object.object_id.clone()).collect();
        let spec = FindSpec::filter(id_filter(ids));
        let found = self
            .store
            .find(&self.schemas.snapshot(), class, &spec)
            .await?;
        Ok(found.into_iter().map(|o| o.object_id).collect())
    }

    /// The schema snapshot with the checkpoint class added (the cache leaves it out).
    fn import_schemas(&self) -> SchemaMap {
        let mut map = SchemaMap::clone(&self.schemas.snapshot());
        map.insert(STATE_CLASS.to_owned(), Arc::new(state_schema()));
        map
    }

    async fn schemas_with_state(&self) -> Result<bool> {
        let all = self.store.load_schemas().await?;
        Ok(all.iter().any(|s| s.class_name == STATE_CLASS))
    }

    async fn ensure_state_class(&self) -> Result<()> {
        if !self.schemas_with_state().await? {
            self.store.save_schema(&state_schema()).await?;
        }
        Ok(())
    }
}

impl ImportProgress {
    /// Records an object that was not imported (the reason is kept for the first ones).
    pub fn refuse(&mut self, object_id: String, reason: String) {
        self.refused_count += 1;
        if self.refused.len() < KEPT_REFUSALS {
            self.refused.push(Refusal { object_id, reason });
        }
    }

    /// Source objects handled so far: imported, present or refused.
    pub fn handled(&self) -> u64 {
        self.imported + self.present + self.refused_count
    }
}

/// The write storing a checkpoint: a create the first time, then updates.
fn checkpoint_write(class: &str, p: &ImportProgress) -> Write {
    let doc = progress_doc(p);
    if p.stored {
        let changes = doc
            .into_iter()
            .map(|(field, v)| FieldChange {
                field,
                sub: vec![],
                op: Op::Set(v),
            })
            .collect();
        Write::Update {
            class: STATE_CLASS.into(),
            object_id: class.to_owned(),
            patch: Patch { changes },
            updated_at: basalt_core::time::now_iso(),
            relations: vec![],
            writers: None,
        }
    } else {
        let now = basalt_core::time::now_iso();
        Write::Create {
            class: STATE_CLASS.into(),
            object: StoredObject {
                object_id: class.to_owned(),
                created_at: now.clone(),
                updated_at: now,
                fields: doc,
            },
            relations: vec![],
        }
    }
}
