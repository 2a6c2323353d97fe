//! Stored objects → the JSON objects clients receive, and the key projections (`keys`,
//! `excludeKeys`) applied to them.

use std::collections::BTreeMap;

use basalt_core::schema::{ClassSchema, FieldType};
use basalt_core::value::Document;
use basalt_store::StoredObject;
use serde_json::{Value, json};

/// A stored object as Parse returns it: `objectId`, `createdAt`, `updatedAt`, its fields, and a
/// `{"__type":"Relation"}` marker for each Relation field of the class.
pub(crate) fn to_json(
    schema: Option<&ClassSchema>,
    o: StoredObject,
    file_base: Option<&str>,
) -> Document {
    let mut out = o.fields;
    if let Some(base) = file_base {
        for v in out.values_mut() {
            rewrite_file_url(v, base);
        }
    }
    out.insert("objectId".into(), Value::String(o.object_id));
    out.insert("createdAt".into(), Value::String(o.created_at));
    out.insert("updatedAt".into(), Value::String(o.updated_at));
    if let Some(schema) = schema {
        for (name, def) in &schema.fields {
            if let FieldType::Relation(target) = &def.field_type {
                out.insert(
                    name.clone(),
                    json!({"__type": "Relation", "className": target}),
                );
            }
        }
    }
    out
}

/// Points a File value at this server's file route.
fn rewrite_file_url(v: &mut Value, base: &str) {
    if let Value::Object(o) = v
        && o.get("__type").and_then(Value::as_str) == Some("File")
        && let Some(name) = o.get("name").and_then(Value::as_str)
    {
        let url = format!("{base}/{name}");
        o.insert("url".into(), Value::String(url));
    }
}

/// A tree of dotted paths: `a.b,a.c,d` → {a: {b, c}, d}.
#[derive(Debug, Default, Clone)]
pub(crate) struct PathTree(pub BTreeMap<String, PathTree>);

impl PathTree {
    /// Parses a comma-separated list of dotted paths.
    pub(crate) fn parse(list: &str) -> PathTree {
        let mut tree = PathTree::default();
        for path in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let mut node = &mut tree;
            for seg in path.split('.') {
                node = node.0.entry(seg.to_owned()).or_default();
            }
        }
        tree
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

const ALWAYS_KEPT: &[&str] = &[
    "objectId",
    "createdAt",
    "updatedAt",
    "ACL",
    "__type",
    "className",
];

/// Keeps only the listed keys (and the ones every object keeps), descending into included objects
/// for dotted keys.
pub(crate) fn select_keys(doc: &mut Document, keys: &PathTree) {
    doc.retain(|k, _| keys.0.contains_key(k) || ALWAYS_KEPT.contains(&k.as_str()));
    for (k, sub) in &keys.0 {
        if sub.is_empty() {
            continue;
        }
        match doc.get_mut(k) {
            Some(Value::Object(inner)) if inner.get("__type") == Some(&json!("Object")) => {
                select_keys(inner, sub)
            }
            Some(Value::Array(items)) => {
                for item in items {
                    if let Value::Object(inner) = item
                        && inner.get("__type") == Some(&json!("Object"))
                    {
                        select_keys(inner, sub);
                    }
                }
            }
            _ => {}
        }
    }
}

/// Removes the listed keys, descending into included objects for dotted keys.
pub(crate) fn exclude_keys(doc: &mut Document, keys: &PathTree) {
    for (k, sub) in &keys.0 {
        if sub.is_empty() {
            if !matches!(k.as_str(), "objectId" | "createdAt" | "updatedAt") {
                doc.remove(k);
            }
        } else if let Some(Value::Object(inner)) = doc.get_mut(k) {
            exclude_keys(inner, sub);
        }
    }
}

/// Removes what the caller may not see: hidden fields (names starting with `_`), other users'
/// e-mail and authData, session tokens of sessions other than the caller's own (stored tokens
/// are hashes; the caller's own token is put back).
pub(crate) fn sanitize(class: &str, doc: &mut Document, auth: &crate::AuthContext) {
    if class == "_Session" {
        // The stored token is a hash; the caller's own token, or one the engine unsealed for
        // the session's owner, is what is shown. Sessions carry an owner-only ACL for
        // enforcement; Parse shows none.
        let revealed = doc.remove(REVEALED_TOKEN);
        doc.remove("sessionToken");
        doc.remove("ACL");
        let current = auth
            .user
            .as_ref()
            .filter(|u| doc.get("objectId").and_then(Value::as_str) == Some(u.session_id.as_str()));
        match (current, revealed) {
            (Some(u), _) => {
                doc.insert(
                    "sessionToken".into(),
                    Value::String(u.session_token.clone()),
                );
            }
            (None, Some(token)) => {
                doc.insert("sessionToken".into(), token);
            }
            (None, None) => {}
        }
    }
    doc.retain(|k, _| !k.starts_with('_') || k == "__type");
    if class == "_User" {
        // Only the caller's own token is ever shown, and the engine adds it after this.
        doc.remove("sessionToken");
        let own = auth
            .user_id()
            .is_some_and(|me| doc.get("objectId").and_then(Value::as_str) == Some(me));
        if !own && !auth.reads_all() {
            doc.remove("email");
            doc.remove("authData");
        }
    }
}

/// Where the engine puts a session's unsealed token for `sanitize`.
pub(crate) const REVEALED_TOKEN: &str = "_revealed_token";

/// The hidden field holding a session's sealed token.
pub(crate) const SEALED_TOKEN: &str = "_sealed_token";

/// The fields hidden from the caller in one object: like `protected_fields`, plus the
/// `userField:<field>` groups that apply when the object's `<field>` points at the caller.
pub(crate) fn protected_in(
    schema: &ClassSchema,
    auth: &crate::AuthContext,
    doc: &Document,
) -> Vec<String> {
    if auth.reads_all() {
        return vec![];
    }
    let Some(entries) = schema.clp.get("protectedFields").and_then(Value::as_object) else {
        return vec![];
    };
    let me = auth.user_id();
    let points_at_me = |v: Option<&Value>| -> bool {
        let Some(me) = me else { return false };
        match v {
            Some(Value::Array(items)) => items.iter().any(|i| crate::value_points_to(i, me)),
            Some(v) => crate::value_points_to(v, me),
            None => false,
        }
    };
    let mut groups: Vec<&Value> = auth
        .acl_ids()
        .iter()
        .filter_map(|id| entries.get(id))
        .collect();
    for (key, list) in entries {
        if let Some(field) = key.strip_prefix("userField:")
            && points_at_me(doc.get(field))
        {
            groups.push(list);
        }
    }
    let mut result: Option<Vec<String>> = None;
    for list in groups {
        let fields: Vec<String> = list
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect();
        result = Some(match result {
            None => fields,
            Some(prev) => prev.into_iter().filter(|f| fields.contains(f)).collect(),
        });
    }
    result.unwrap_or_default()
}

/// The fields the class's `protectedFields` hide from this caller: the intersection of the
/// lists of every entry that applies to it (`*`, its user id, its roles).
pub(crate) fn protected_fields(schema: &ClassSchema, auth: &crate::AuthContext) -> Vec<String> {
    // With no object, only the caller's own groups apply (no `userField:` group can).
    protected_in(schema, auth, &Document::new())
}
