//! Parse Server's PostgreSQL layout → basalt's stored form. Pure functions: a class's `_SCHEMA`
//! entry becomes a `ClassSchema` and the list of typed columns to read, and one row (as
//! `row_to_json` gives it) becomes a `StoredObject` in Parse JSON. Parse's own reader
//! (`postgresObjectToParseObject`, `untransformObjectACL`) is the reference for each mapping.

#[cfg(test)]
mod tests;

use basalt_core::names::DEFAULT_FIELDS;
use basalt_core::schema::{ClassSchema, FieldDef, FieldType, default_clp};
use basalt_core::time::normalize_iso;
use basalt_core::value::{Document, number, pointer};
use basalt_store::StoredObject;
use serde_json::{Map, Value, json};

/// Hidden `_User` columns carried over, and whether each holds a timestamp (converted to a
/// Date value, as Parse's reader does).
const USER_HIDDEN_COLUMNS: &[(&str, bool)] = &[
    ("_hashed_password", false),
    ("_email_verify_token", false),
    ("_email_verify_token_expires_at", true),
    ("_perishable_token", false),
    ("_perishable_token_expires_at", true),
    ("_failed_login_count", false),
    ("_account_lockout_expires_at", true),
    ("_password_changed_at", true),
    ("_password_history", false),
];

/// What to import of one class, read from its `_SCHEMA` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassPlan {
    /// The schema to merge into the target.
    pub schema: ClassSchema,
    /// The columns holding field values, with their types.
    pub columns: Vec<(String, FieldType)>,
    /// Relation fields (their links live in `_Join:<field>:<class>` tables).
    pub relations: Vec<String>,
    /// Fields left out, with the reason.
    pub refused: Vec<String>,
}

/// Reads a class's `_SCHEMA` entry (`{fields, classLevelPermissions, indexes}`). Internal
/// fields (`_rperm`, `_wperm`, `_hashed_password`…) are not schema fields; a field of a type
/// basalt does not know is left out and reported.
pub fn plan_class(class: &str, entry: &Value) -> ClassPlan {
    let mut schema = ClassSchema::new(class);
    let mut columns = Vec::new();
    let mut relations = Vec::new();
    let mut refused = Vec::new();
    let fields = entry.get("fields").and_then(Value::as_object);
    for (name, def) in fields.into_iter().flatten() {
        if name.starts_with('_') || DEFAULT_FIELDS.contains(&name.as_str()) {
            continue;
        }
        match FieldDef::from_json(def) {
            Ok(def) => {
                match &def.field_type {
                    FieldType::Relation(_) => relations.push(name.clone()),
                    ty => columns.push((name.clone(), ty.clone())),
                }
                schema.fields.insert(name.clone(), def);
            }
            Err(e) => refused.push(format!(
                "field {name}: {}; its values are not imported",
                e.message
            )),
        }
    }
    // Parse reads a class without stored permissions as open to everyone.
    schema.clp = match entry.get("classLevelPermissions") {
        Some(clp) if clp.is_object() => clp.clone(),
        _ => default_clp(),
    };
    if let Some(indexes) = entry.get("indexes").and_then(Value::as_object) {
        for (name, keys) in indexes {
            if let Some(keys) = keys.as_object() {
                schema.indexes.insert(name.clone(), keys.clone());
            }
        }
    }
    ClassPlan {
        schema,
        columns,
        relations,
        refused,
    }
}

/// Converts one row of the class's table; the reason when it cannot be read.
pub fn convert_row(plan: &ClassPlan, row: &Map<String, Value>) -> Result<StoredObject, String> {
    let object_id = match row.get("objectId") {
        Some(Value::String(id)) => id.clone(),
        other => return Err(format!("objectId is not a string: {other:?}")),
    };
    let created_at = timestamp(row.get("createdAt")).ok_or("createdAt is missing")?;
    let updated_at = timestamp(row.get("updatedAt")).unwrap_or_else(|| created_at.clone());
    let mut fields = Document::new();
    if let Some(acl) = acl_of(row.get("_rperm"), row.get("_wperm")) {
        fields.insert("ACL".into(), acl);
    }
    for (name, ty) in &plan.columns {
        match row.get(name) {
            None | Some(Value::Null) => {}
            Some(v) => {
                let value = convert_value(ty, v).map_err(|why| format!("field {name}: {why}"))?;
                fields.insert(name.clone(), value);
            }
        }
    }
    if plan.schema.class_name == "_User" {
        for (name, is_time) in USER_HIDDEN_COLUMNS {
            match (row.get(*name), is_time) {
                (None | Some(Value::Null), _) => {}
                (Some(v), true) => {
                    let iso = timestamp(Some(v)).ok_or_else(|| format!("{name} is not a date"))?;
                    fields.insert((*name).to_owned(), json!({"__type": "Date", "iso": iso}));
                }
                (Some(v), false) => {
                    fields.insert((*name).to_owned(), v.clone());
                }
            }
        }
    }
    Ok(StoredObject {
        object_id,
        created_at,
        updated_at,
        fields,
    })
}

/// A `timestamptz` as `row_to_json` writes it, in Parse's ISO form.
fn timestamp(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::as_str).and_then(normalize_iso)
}

/// `_rperm`/`_wperm` → ACL. No lists means no ACL (public). A missing list next to a present
/// one is public for that permission, as Parse's queries treat it (`_rperm IS NULL` matches
/// everyone), so it becomes a `*` entry rather than a closed one.
fn acl_of(rperm: Option<&Value>, wperm: Option<&Value>) -> Option<Value> {
    let list = |v: Option<&Value>| -> Option<Vec<String>> {
        v.and_then(Value::as_array).map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
    };
    let (read, write) = (list(rperm), list(wperm));
    if read.is_none() && write.is_none() {
        return None;
    }
    let read = read.unwrap_or_else(|| vec!["*".to_owned()]);
    let write = write.unwrap_or_else(|| vec!["*".to_owned()]);
    let mut acl = Map::new();
    for (ids, perm) in [(read, "read"), (write, "write")] {
        for id in ids {
            let entry = acl.entry(id).or_insert_with(|| json!({}));
            if let Some(o) = entry.as_object_mut() {
                o.insert(perm.into(), Value::Bool(true));
            }
        }
    }
    Some(Value::Object(acl))
}

/// One column value → its Parse JSON, by the field's schema type.
fn convert_value(ty: &FieldType, v: &Value) -> Result<Value, String> {
    match ty {
        FieldType::Pointer(target) => match v {
            Value::String(id) => Ok(pointer(target, id)),
            other => Err(format!("a Pointer column holds {other}")),
        },
        FieldType::Date => {
            let iso = timestamp(Some(v)).ok_or_else(|| format!("not a date: {v}"))?;
            Ok(json!({"__type": "Date", "iso": iso}))
        }
        FieldType::File => match v {
            Value::String(name) => Ok(json!({"__type": "File", "name": name})),
            other => Err(format!("a File column holds {other}")),
        },
        FieldType::GeoPoint => {
            let s = v.as_str().ok_or_else(|| format!("not a point: {v}"))?;
            let (x, y) = point(s).ok_or_else(|| format!("not a point: {s}"))?;
            // PostgreSQL points are (x, y) = (longitude, latitude).
            Ok(json!({"__type": "GeoPoint", "latitude": number(y), "longitude": number(x)}))
        }
        FieldType::Polygon => {
            let s = v.as_str().ok_or_else(|| format!("not a polygon: {v}"))?;
            let coordinates = polygon(s).ok_or_else(|| format!("not a polygon: {s}"))?;
            Ok(json!({"__type": "Polygon", "coordinates": coordinates}))
        }
        // `row_to_json` writes NaN and the infinities as strings; no Parse value holds them.
        FieldType::Number if !v.is_number() => Err(format!("not a number: {v}")),
        FieldType::Number
        | FieldType::String
        | FieldType::Boolean
        | FieldType::Object
        | FieldType::Array
        | FieldType::Bytes
        | FieldType::Acl
        | FieldType::Relation(_) => Ok(v.clone()),
    }
}

/// `(x,y)` → (x, y).
fn point(s: &str) -> Option<(f64, f64)> {
    let inner = s.trim().strip_prefix('(')?.strip_suffix(')')?;
    let (x, y) = inner.split_once(',')?;
    Some((x.trim().parse().ok()?, y.trim().parse().ok()?))
}

/// `((x1,y1),(x2,y2),…)` → `[[y1, x1], …]`: Parse writes polygon vertices `[lat, lng]` as
/// `(lng, lat)` points and swaps them back when reading.
fn polygon(s: &str) -> Option<Vec<Value>> {
    let inner = s.trim().strip_prefix('(')?.strip_suffix(')')?;
    let mut out = Vec::new();
    let mut rest = inner.trim();
    while !rest.is_empty() {
        let end = rest.find(')')?;
        let (x, y) = point(&rest[..=end])?;
        out.push(json!([number(y), number(x)]));
        rest = rest[end + 1..].trim_start_matches(',').trim();
    }
    (!out.is_empty()).then_some(out)
}
