//! The schema API (`/schemas`): reading schemas, creating classes with typed fields, adding and
//! deleting fields and indexes, changing class-level permissions, dropping empty classes.

use basalt_core::names::{DEFAULT_FIELDS, validate_class_name, validate_field_name};
use basalt_core::query::Filter;
use basalt_core::schema::{ClassSchema, FieldDef, FieldType};
use basalt_core::{ErrorCode, ParseError, Result};
use serde_json::{Map, Value};

use crate::validate::check_new_field;
use crate::{AuthContext, Engine};

fn schema_error(message: String) -> basalt_core::Error {
    ParseError::new(ErrorCode::InvalidSchemaOperation, message).into()
}

fn is_delete_op(v: &Value) -> bool {
    v.get("__op").and_then(Value::as_str) == Some("Delete")
}

/// Operations a CLP governs; each missing one becomes `{}` (nobody) when a CLP is set.
const CLP_OPERATIONS: &[&str] = &[
    "find", "get", "count", "create", "update", "delete", "addField",
];

fn clp_error(message: String) -> basalt_core::Error {
    ParseError::new(ErrorCode::InvalidJson, message).into()
}

/// Checks a CLP document as Parse does and returns it complete: a `PUT /schemas` replaces the
/// whole CLP, so operations it leaves out are closed.
pub(crate) fn normalize_clp(clp: &Value, schema: &ClassSchema) -> Result<Value> {
    let o = clp
        .as_object()
        .ok_or_else(|| clp_error("classLevelPermissions must be an object".to_owned()))?;
    let mut out = Map::new();
    for (k, v) in o {
        match k.as_str() {
            op if CLP_OPERATIONS.contains(&op) => {
                let entries = v.as_object().ok_or_else(|| {
                    clp_error(format!(
                        "'{v}' is not a valid value for class level permissions {op}"
                    ))
                })?;
                for (who, allowed) in entries {
                    let ok = match who.as_str() {
                        "pointerFields" => allowed
                            .as_array()
                            .is_some_and(|a| a.iter().all(Value::is_string)),
                        _ => allowed == &Value::Bool(true),
                    };
                    if !ok {
                        return Err(clp_error(format!(
                            "'{allowed}' is not a valid value for class level permissions acl {op}:{who}"
                        )));
                    }
                }
            }
            "readUserFields" | "writeUserFields" => {
                if !v.as_array().is_some_and(|a| a.iter().all(Value::is_string)) {
                    return Err(clp_error(format!(
                        "'{v}' is not a valid value for class level permissions {k}"
                    )));
                }
            }
            "protectedFields" => {
                let groups = v.as_object().ok_or_else(|| {
                    clp_error(format!(
                        "'{v}' is not a valid value for class level permissions protectedFields"
                    ))
                })?;
                for (group, fields) in groups {
                    let list = fields.as_array().ok_or_else(|| {
                        clp_error(format!(
                            "'{fields}' is not a valid value for protectedFields[{group}]"
                        ))
                    })?;
                    for f in list {
                        let name = f.as_str().unwrap_or_default();
                        if !schema.fields.contains_key(name) {
                            return Err(clp_error(format!(
                                "Field '{name}' in protectedFields:{group} does not exist"
                            )));
                        }
                    }
                }
            }
            "ACL" => {}
            other => {
                return Err(clp_error(format!(
                    "{other} is not a valid operation for class level permissions"
                )));
            }
        }
        out.insert(k.clone(), v.clone());
    }
    for op in CLP_OPERATIONS {
        out.entry((*op).to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
    }
    out.entry("protectedFields".to_owned())
        .or_insert_with(|| Value::Object(Map::new()));
    Ok(Value::Object(out))
}

impl Engine {
    /// Every class schema.
    pub fn schemas(&self, _auth: &AuthContext) -> Vec<Value> {
        let snap = self.schemas.snapshot();
        let mut all: Vec<&ClassSchema> = snap.values().map(AsRef::as_ref).collect();
        all.sort_by(|a, b| a.class_name.cmp(&b.class_name));
        all.into_iter().map(ClassSchema::to_json).collect()
    }

    /// One class schema.
    pub fn schema(&self, _auth: &AuthContext, class: &str) -> Result<Value> {
        self.schemas.get(class).map(|s| s.to_json()).ok_or_else(|| {
            ParseError::new(
                ErrorCode::InvalidClassName,
                format!("Class {class} does not exist."),
            )
            .into()
        })
    }

    /// Creates a class from a schema body (`fields`, `classLevelPermissions`, `indexes`).
    pub async fn create_class(
        &self,
        _auth: &AuthContext,
        class: &str,
        body: &Map<String, Value>,
    ) -> Result<Value> {
        if let Some(named) = body.get("className").and_then(Value::as_str)
            && named != class
        {
            return Err(ParseError::new(
                ErrorCode::InvalidClassName,
                format!("Class name mismatch between {named} and {class}."),
            )
            .into());
        }
        validate_class_name(class)?;
        let _guard = self.schemas.lock_changes().await;
        if self
            .schemas
            .stored_locked(self.store.as_ref(), class)
            .await?
            .is_some()
        {
            return Err(ParseError::new(
                ErrorCode::InvalidClassName,
                format!("Class {class} already exists."),
            )
            .into());
        }
        let mut schema = ClassSchema::new(class);
        self.apply_schema_body(&mut schema, body, true)?;
        self.store.save_schema(&schema).await?;
        let json = schema.to_json();
        self.schemas.publish_locked(Some(schema), class);
        Ok(json)
    }

    /// Changes a class: fields to add or delete, indexes to add or delete, new permissions.
    pub async fn update_class(
        &self,
        _auth: &AuthContext,
        class: &str,
        body: &Map<String, Value>,
    ) -> Result<Value> {
        if let Some(named) = body.get("className").and_then(Value::as_str)
            && named != class
        {
            return Err(ParseError::new(
                ErrorCode::InvalidClassName,
                format!("Class name mismatch between {named} and {class}."),
            )
            .into());
        }
        let _guard = self.schemas.lock_changes().await;
        let current = self
            .schemas
            .stored_locked(self.store.as_ref(), class)
            .await?
            .ok_or_else(|| {
                ParseError::new(
                    ErrorCode::InvalidClassName,
                    format!("Class {class} does not exist."),
                )
            })?;
        let mut schema = ClassSchema::clone(&current);
        let deleted = self.apply_schema_body(&mut schema, body, false)?;
        for field in &deleted {
            self.store.delete_field(class, field).await?;
        }
        self.store.save_schema(&schema).await?;
        let json = schema.to_json();
        self.schemas.publish_locked(Some(schema), class);
        Ok(json)
    }

    /// Applies `fields`, `classLevelPermissions` and `indexes` to a schema; returns the fields
    /// deleted.
    fn apply_schema_body(
        &self,
        schema: &mut ClassSchema,
        body: &Map<String, Value>,
        creating: bool,
    ) -> Result<Vec<String>> {
        let class = schema.class_name.clone();
        let mut deleted = Vec::new();
        if let Some(fields) = body.get("fields") {
            let fields = fields.as_object().ok_or_else(|| {
                ParseError::new(ErrorCode::InvalidJson, "fields must be an object")
            })?;
            for (name, def) in fields {
                if is_delete_op(def) {
                    if creating || !schema.fields.contains_key(name) {
                        return Err(schema_error(format!(
                            "Field {name} does not exist, cannot delete."
                        )));
                    }
                    if DEFAULT_FIELDS.contains(&name.as_str()) {
                        return Err(schema_error(format!("field {name} cannot be changed")));
                    }
                    schema.fields.remove(name);
                    schema.indexes.retain(|_, keys| !keys.contains_key(name));
                    deleted.push(name.clone());
                    continue;
                }
                validate_field_name(name)?;
                if DEFAULT_FIELDS.contains(&name.as_str()) || schema.fields.contains_key(name) {
                    return Err(schema_error(format!("Field {name} exists, cannot update.")));
                }
                let def = FieldDef::from_json(def)?;
                if let Some(t) = def.field_type.target_class() {
                    validate_class_name(t)?;
                }
                if def.field_type == FieldType::Acl {
                    return Err(ParseError::new(
                        ErrorCode::IncorrectType,
                        "invalid field type: ACL",
                    )
                    .into());
                }
                check_new_field(schema, name, &def.field_type)?;
                schema.fields.insert(name.clone(), def);
            }
        }
        if let Some(clp) = body.get("classLevelPermissions")
            && !clp.is_null()
        {
            schema.clp = normalize_clp(clp, schema)?;
        }
        if let Some(indexes) = body.get("indexes") {
            let indexes = indexes.as_object().ok_or_else(|| {
                ParseError::new(ErrorCode::InvalidQuery, "indexes must be an object")
            })?;
            for (name, keys) in indexes {
                if is_delete_op(keys) {
                    if schema.indexes.remove(name).is_none() {
                        return Err(schema_error(format!(
                            "Index {name} does not exist, cannot delete."
                        )));
                    }
                    continue;
                }
                if name == "_id_" || schema.indexes.contains_key(name) {
                    return Err(schema_error(format!("Index {name} exists, cannot update.")));
                }
                let keys = keys.as_object().filter(|k| !k.is_empty()).ok_or_else(|| {
                    ParseError::new(
                        ErrorCode::InvalidQuery,
                        format!("Index {name} must name at least one field"),
                    )
                })?;
                for field in keys.keys() {
                    let top = field.split('.').next().unwrap_or_default();
                    if !schema.fields.contains_key(top) {
                        return Err(schema_error(format!(
                            "Field {field} does not exist, cannot add index."
                        )));
                    }
                }
                schema.indexes.insert(name.clone(), keys.clone());
            }
        }
        let _ = class;
        Ok(deleted)
    }

    /// Deletes every object of a class (`/purge`).
    pub async fn purge(&self, _auth: &AuthContext, class: &str) -> Result<()> {
        validate_class_name(class)?;
        if self.schemas.get(class).is_some() {
            self.store.purge(class).await?;
        }
        Ok(())
    }

    /// Drops a class, which must have no objects.
    pub async fn delete_class(&self, _auth: &AuthContext, class: &str) -> Result<()> {
        validate_class_name(class)?;
        let _guard = self.schemas.lock_changes().await;
        if self
            .schemas
            .stored_locked(self.store.as_ref(), class)
            .await?
            .is_none()
        {
            return Ok(());
        }
        let snap = self.schemas.snapshot();
        let n = self.store.count(&snap, class, &Filter::All, None).await?;
        if n > 0 {
            return Err(schema_error(format!(
                "Class {class} is not empty, contains {n} objects, cannot drop schema."
            )));
        }
        match self.store.delete_class(class).await {
            Ok(()) | Err(basalt_store::StoreError::NotFound) => {}
            Err(e) => return Err(e.into()),
        }
        self.schemas.publish_locked(None, class);
        Ok(())
    }
}
