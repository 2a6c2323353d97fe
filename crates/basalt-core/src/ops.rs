//! Update operators (`__op`): decoding a request body into a typed patch, and applying a patch
//! to a stored document. The store applies patches inside its write transaction, so operators
//! such as Increment are atomic.

use serde_json::{Map, Number, Value};

use crate::error::{ErrorCode, ParseError, perr};
use crate::names::field_name_is_valid;
use crate::value::{Document, as_pointer, normalize};

/// One change to one field.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// Replace the value.
    Set(Value),
    /// Remove the field.
    Delete,
    /// Add a number to the current value (or to 0).
    Increment(Number),
    /// Append values to the array.
    Add(Vec<Value>),
    /// Append the values not already in the array.
    AddUnique(Vec<Value>),
    /// Remove every occurrence of each value from the array.
    Remove(Vec<Value>),
    /// Set only when the object is created.
    SetOnInsert(Value),
    /// Replace the value only if it is still `expected` (`None`: the field is absent), else
    /// fail the write with `refusal`. Never decoded from a request: the server's own
    /// compare-and-set, which holds across nodes because every store applies a patch to the
    /// row it has locked.
    Swap {
        /// The value the caller read.
        expected: Option<Value>,
        /// The value to store.
        value: Value,
        /// The error the write fails with when the value changed since.
        refusal: ParseError,
    },
    /// Link and unlink objects of `class` in a Relation field.
    Relation {
        /// The class of the related objects.
        class: String,
        /// Object ids to link.
        add: Vec<String>,
        /// Object ids to unlink.
        remove: Vec<String>,
    },
}

impl Op {
    /// The operator's name, as the wire spells it.
    pub fn name(&self) -> &'static str {
        match self {
            Op::Set(_) => "Set",
            Op::Delete => "Delete",
            Op::Increment(_) => "Increment",
            Op::Add(_) => "Add",
            Op::AddUnique(_) => "AddUnique",
            Op::Remove(_) => "Remove",
            Op::SetOnInsert(_) => "SetOnInsert",
            Op::Swap { .. } => "Swap",
            Op::Relation { .. } => "Relation",
        }
    }

    /// True when the update response echoes the field's new value (Parse's
    /// `sanitizeDatabaseResult`).
    pub fn echoes_result(&self) -> bool {
        matches!(
            self,
            Op::Increment(_) | Op::Add(_) | Op::AddUnique(_) | Op::Remove(_)
        )
    }
}

/// A field (possibly a dotted path into an Object field) and its change.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldChange {
    /// The top-level field.
    pub field: String,
    /// Keys below the field for dotted paths (`"stats.wins"` → `["wins"]`).
    pub sub: Vec<String>,
    /// What to do.
    pub op: Op,
}

impl FieldChange {
    /// The key as the client wrote it.
    pub fn key(&self) -> String {
        if self.sub.is_empty() {
            self.field.clone()
        } else {
            format!("{}.{}", self.field, self.sub.join("."))
        }
    }
}

/// The changes a create or update asks for, in request order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Patch {
    /// One entry per key of the request body.
    pub changes: Vec<FieldChange>,
}

fn objects_list(o: &Map<String, Value>, op: &str) -> Result<Vec<Value>, ParseError> {
    match o.get("objects") {
        Some(Value::Array(items)) => {
            let mut items = items.clone();
            items.iter_mut().try_for_each(normalize)?;
            Ok(items)
        }
        _ => Err(perr(
            ErrorCode::InvalidJson,
            format!("objects to {op} must be an array"),
        )),
    }
}

fn relation_ids(o: &Map<String, Value>, op: &str) -> Result<(String, Vec<String>), ParseError> {
    let items = objects_list(o, op)?;
    let mut class: Option<String> = None;
    let mut ids = Vec::with_capacity(items.len());
    for item in &items {
        let (c, id) = as_pointer(item).ok_or_else(|| {
            perr(
                ErrorCode::InvalidJson,
                format!("{op} can only be used with pointers"),
            )
        })?;
        match &class {
            Some(prev) if prev != c => {
                return Err(perr(
                    ErrorCode::IncorrectType,
                    "Tried to create a relation with objects of different classes.",
                ));
            }
            _ => class = Some(c.to_owned()),
        }
        ids.push(id.to_owned());
    }
    let class = class.ok_or_else(|| {
        perr(
            ErrorCode::InvalidJson,
            format!("{op} needs at least one object"),
        )
    })?;
    Ok((class, ids))
}

/// Decodes one value of a request body into an operator.
pub fn decode_op(v: Value) -> Result<Op, ParseError> {
    let Value::Object(o) = &v else {
        let mut v = v;
        normalize(&mut v)?;
        return Ok(Op::Set(v));
    };
    let Some(op) = o.get("__op") else {
        let mut v = v;
        normalize(&mut v)?;
        return Ok(Op::Set(v));
    };
    let op = op.as_str().unwrap_or_default();
    Ok(match op {
        "Delete" => Op::Delete,
        "Increment" => match o.get("amount") {
            Some(Value::Number(n)) => Op::Increment(n.clone()),
            _ => {
                return Err(perr(
                    ErrorCode::InvalidJson,
                    "incrementing must provide a number",
                ));
            }
        },
        "Add" => Op::Add(objects_list(o, "add")?),
        "AddUnique" => Op::AddUnique(objects_list(o, "add")?),
        "Remove" => Op::Remove(objects_list(o, "remove")?),
        "SetOnInsert" => {
            let mut amount = o.get("amount").cloned().unwrap_or(Value::Null);
            normalize(&mut amount)?;
            Op::SetOnInsert(amount)
        }
        "AddRelation" => {
            let (class, add) = relation_ids(o, "AddRelation")?;
            Op::Relation {
                class,
                add,
                remove: vec![],
            }
        }
        "RemoveRelation" => {
            let (class, remove) = relation_ids(o, "RemoveRelation")?;
            Op::Relation {
                class,
                add: vec![],
                remove,
            }
        }
        "Batch" => decode_batch(o)?,
        other => {
            return Err(perr(
                ErrorCode::CommandUnavailable,
                format!("The {other} operator is not supported yet."),
            ));
        }
    })
}

fn decode_batch(o: &Map<String, Value>) -> Result<Op, ParseError> {
    let ops = o.get("ops").and_then(Value::as_array).ok_or_else(|| {
        perr(
            ErrorCode::InvalidJson,
            "Batch operator needs an array of ops",
        )
    })?;
    let mut class: Option<String> = None;
    let (mut add, mut remove) = (vec![], vec![]);
    for inner in ops {
        match decode_op(inner.clone())? {
            Op::Relation {
                class: c,
                add: a,
                remove: r,
            } => {
                if class.as_ref().is_some_and(|prev| prev != &c) {
                    return Err(perr(
                        ErrorCode::IncorrectType,
                        "Tried to create a relation with objects of different classes.",
                    ));
                }
                class = Some(c);
                add.extend(a);
                remove.extend(r);
            }
            _ => {
                return Err(perr(
                    ErrorCode::InvalidJson,
                    "Batch operator only supports AddRelation and RemoveRelation",
                ));
            }
        }
    }
    let class = class.ok_or_else(|| perr(ErrorCode::InvalidJson, "Batch operator needs ops"))?;
    Ok(Op::Relation { class, add, remove })
}

/// Decodes a create or update body (reserved keys already removed) into a patch. Checks every key
/// name, so a bad key fails the whole request before anything is written.
pub fn decode_patch(body: Document) -> Result<Patch, ParseError> {
    let mut changes = Vec::with_capacity(body.len());
    for (key, value) in body {
        let mut parts = key.split('.');
        let field = parts.next().unwrap_or_default().to_owned();
        if !field_name_is_valid(&field) && field != "ACL" {
            return Err(perr(
                ErrorCode::InvalidKeyName,
                format!("Invalid field name: {key}."),
            ));
        }
        let sub: Vec<String> = parts.map(str::to_owned).collect();
        if sub.iter().any(|s| s.is_empty() || s.contains('$')) {
            return Err(perr(
                ErrorCode::InvalidKeyName,
                format!("Invalid field name: {key}."),
            ));
        }
        let op = decode_op(value)?;
        if !sub.is_empty() && matches!(op, Op::Relation { .. }) {
            return Err(perr(
                ErrorCode::InvalidKeyName,
                format!("invalid field name: {key}"),
            ));
        }
        changes.push(FieldChange { field, sub, op });
    }
    Ok(Patch { changes })
}

fn slot<'a>(
    doc: &'a mut Document,
    change: &FieldChange,
) -> Result<Option<&'a mut Value>, ParseError> {
    if change.sub.is_empty() {
        return Ok(doc.get_mut(&change.field));
    }
    let mut cur = match doc.get_mut(&change.field) {
        Some(v) => v,
        None => return Ok(None),
    };
    for key in &change.sub {
        cur = match cur {
            Value::Object(o) => match o.get_mut(key) {
                Some(v) => v,
                None => return Ok(None),
            },
            _ => return Ok(None),
        };
    }
    Ok(Some(cur))
}

fn set_path(
    doc: &mut Document,
    change: &FieldChange,
    value: Option<Value>,
) -> Result<(), ParseError> {
    if change.sub.is_empty() {
        match value {
            Some(v) => doc.insert(change.field.clone(), v),
            None => doc.remove(&change.field),
        };
        return Ok(());
    }
    let mut cur = doc
        .entry(change.field.clone())
        .or_insert_with(|| Value::Object(Map::new()));
    let (last, parents) = change.sub.split_last().unwrap_or((&change.field, &[]));
    for key in parents {
        let Value::Object(o) = cur else {
            return Err(not_an_object(change));
        };
        cur = o
            .entry(key.clone())
            .or_insert_with(|| Value::Object(Map::new()));
    }
    let Value::Object(o) = cur else {
        return Err(not_an_object(change));
    };
    match value {
        Some(v) => o.insert(last.clone(), v),
        None => o.remove(last),
    };
    Ok(())
}

fn not_an_object(change: &FieldChange) -> ParseError {
    perr(
        ErrorCode::IncorrectType,
        format!("cannot set {}: its parent is not an Object", change.key()),
    )
}

fn add_numbers(a: &Number, b: &Number) -> Value {
    if let (Some(x), Some(y)) = (a.as_i64(), b.as_i64())
        && let Some(sum) = x.checked_add(y)
    {
        return Value::from(sum);
    }
    let sum = a.as_f64().unwrap_or(0.0) + b.as_f64().unwrap_or(0.0);
    Number::from_f64(sum).map_or(Value::Null, Value::Number)
}

fn current_array(current: Option<&Value>, change: &FieldChange) -> Result<Vec<Value>, ParseError> {
    match current {
        None | Some(Value::Null) => Ok(vec![]),
        Some(Value::Array(a)) => Ok(a.clone()),
        Some(_) => Err(perr(
            ErrorCode::IncorrectType,
            format!(
                "cannot apply {} to {}: it is not an Array",
                change.op.name(),
                change.key()
            ),
        )),
    }
}

fn same_item(a: &Value, b: &Value) -> bool {
    match (as_pointer(a), as_pointer(b)) {
        (Some((ca, ia)), Some((cb, ib))) => ca == cb && ia == ib,
        _ => a == b,
    }
}

/// When an operator runs: on an existing object, or while creating one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applying {
    /// Creating the object.
    Create,
    /// Updating a stored object.
    Update,
}

/// Applies a patch to a document. Relation changes are skipped here: they live outside the
/// document and the store applies them. Returns the fields the response echoes.
pub fn apply_patch(
    doc: &mut Document,
    patch: &Patch,
    when: Applying,
) -> Result<Document, ParseError> {
    let mut echoed = Document::new();
    for change in &patch.changes {
        let current = slot(doc, change)?.map(|v| v.clone());
        let new_value = match &change.op {
            Op::Set(v) => Some(v.clone()),
            Op::Delete => None,
            Op::Swap {
                expected,
                value,
                refusal,
            } => {
                if current.as_ref() != expected.as_ref() {
                    return Err(refusal.clone());
                }
                Some(value.clone())
            }
            Op::SetOnInsert(v) => match when {
                Applying::Create => Some(v.clone()),
                Applying::Update => continue,
            },
            Op::Increment(n) => match &current {
                None | Some(Value::Null) => Some(Value::Number(n.clone())),
                Some(Value::Number(cur)) => Some(add_numbers(cur, n)),
                Some(_) => {
                    return Err(perr(
                        ErrorCode::InvalidJson,
                        format!(
                            "Cannot increment a field that is not a number: {}",
                            change.key()
                        ),
                    ));
                }
            },
            Op::Add(items) => {
                let mut arr = current_array(current.as_ref(), change)?;
                arr.extend(items.iter().cloned());
                Some(Value::Array(arr))
            }
            Op::AddUnique(items) => {
                let mut arr = current_array(current.as_ref(), change)?;
                for item in items {
                    if !arr.iter().any(|x| same_item(x, item)) {
                        arr.push(item.clone());
                    }
                }
                Some(Value::Array(arr))
            }
            Op::Remove(items) => {
                let mut arr = current_array(current.as_ref(), change)?;
                arr.retain(|x| !items.iter().any(|item| same_item(x, item)));
                Some(Value::Array(arr))
            }
            Op::Relation { .. } => continue,
        };
        if change.op.echoes_result() {
            echoed.insert(change.key(), new_value.clone().unwrap_or(Value::Null));
        }
        set_path(doc, change, new_value)?;
    }
    Ok(echoed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn patch(v: Value) -> Patch {
        decode_patch(v.as_object().cloned().unwrap()).unwrap()
    }

    #[test]
    fn swap_replaces_only_the_value_it_expects() {
        let refusal = perr(ErrorCode::MfaError, "spent");
        let swap = |expected: Option<Value>| Patch {
            changes: vec![FieldChange {
                field: "state".into(),
                sub: vec![],
                op: Op::Swap {
                    expected,
                    value: json!("new"),
                    refusal: refusal.clone(),
                },
            }],
        };
        let mut doc = json!({"state": "old"}).as_object().cloned().unwrap();

        let stale = apply_patch(&mut doc, &swap(Some(json!("older"))), Applying::Update);
        assert_eq!(stale, Err(refusal.clone()));
        assert_eq!(doc["state"], "old", "nothing changed");
        assert_eq!(
            apply_patch(&mut doc, &swap(None), Applying::Update),
            Err(refusal.clone()),
            "absent is not the value stored"
        );

        apply_patch(&mut doc, &swap(Some(json!("old"))), Applying::Update).unwrap();
        assert_eq!(doc["state"], "new");
        let mut empty = Document::new();
        apply_patch(&mut empty, &swap(None), Applying::Update).unwrap();
        assert_eq!(empty["state"], "new", "absent, as expected");
    }

    #[test]
    fn applies_operators() {
        let mut doc = json!({"n": 1, "tags": ["a", "b", "a"], "obj": {"x": 1}})
            .as_object()
            .cloned()
            .unwrap();
        let p = patch(json!({
            "n": {"__op": "Increment", "amount": 2},
            "tags": {"__op": "Remove", "objects": ["a"]},
            "more": {"__op": "AddUnique", "objects": [1, 1, 2]},
            "obj.y": 5,
            "obj.x": {"__op": "Delete"},
        }));
        let echoed = apply_patch(&mut doc, &p, Applying::Update).unwrap();
        assert_eq!(
            Value::Object(doc),
            json!({"n": 3, "tags": ["b"], "more": [1, 2], "obj": {"y": 5}})
        );
        assert_eq!(
            Value::Object(echoed),
            json!({"n": 3, "tags": ["b"], "more": [1, 2]})
        );
    }

    #[test]
    fn rejects_bad_keys_and_ops() {
        let bad = decode_patch(json!({"1x": 1}).as_object().cloned().unwrap()).unwrap_err();
        assert_eq!(bad.code, ErrorCode::InvalidKeyName);
        let bad = decode_op(json!({"__op": "Frobnicate"})).unwrap_err();
        assert_eq!(bad.code, ErrorCode::CommandUnavailable);
        let mixed = decode_op(json!({"__op": "AddRelation", "objects": [
            {"__type":"Pointer","className":"A","objectId":"1"},
            {"__type":"Pointer","className":"B","objectId":"2"}]}));
        assert_eq!(mixed.unwrap_err().code, ErrorCode::IncorrectType);
    }
}
