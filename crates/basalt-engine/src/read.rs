//! Reads: get, find and count, with `include` resolved by batched lookups per class.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use basalt_core::names::validate_class_name;
use basalt_core::query::{Condition, FieldPath, Filter, parse_where};
use basalt_core::schema::SchemaMap;
use basalt_core::value::{Document, as_pointer};
use basalt_core::{ErrorCode, ParseError, Result};
use basalt_store::{Direction, FindSpec};
use serde_json::Value;

use crate::clp::Action;
use crate::output::{
    PathTree, REVEALED_TOKEN, SEALED_TOKEN, exclude_keys, protected_fields, protected_in, sanitize,
    select_keys, to_json,
};
use crate::write::not_found;
use crate::{AuthContext, Engine};

/// How results are shaped after they are read: `include`, `keys`, `excludeKeys`.
struct Shape<'a> {
    include: Option<&'a str>,
    keys: Option<&'a str>,
    exclude: Option<&'a str>,
}

/// A find, as the REST query parameters give it.
#[derive(Debug, Clone, Default)]
pub struct FindRequest {
    /// The `where` JSON (`Value::Null` for none).
    pub where_: Value,
    /// `order`: comma-separated keys, `-` for descending.
    pub order: Option<String>,
    /// `limit`.
    pub limit: Option<i64>,
    /// `skip`.
    pub skip: Option<i64>,
    /// `keys`: comma-separated keys to return.
    pub keys: Option<String>,
    /// `excludeKeys`: comma-separated keys to leave out.
    pub exclude_keys: Option<String>,
    /// `include`: comma-separated pointer paths to expand.
    pub include: Option<String>,
    /// `count`: also return how many objects match.
    pub count: bool,
}

/// A find's answer.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FindResult {
    /// The objects, as clients receive them.
    pub results: Vec<Document>,
    /// The number of matches, when asked for.
    pub count: Option<u64>,
}

/// A get's options.
#[derive(Debug, Clone, Default)]
pub struct GetRequest {
    /// `keys`.
    pub keys: Option<String>,
    /// `excludeKeys`.
    pub exclude_keys: Option<String>,
    /// `include`.
    pub include: Option<String>,
}

fn parse_order(order: &str) -> Result<Vec<(FieldPath, Direction)>> {
    let mut out = Vec::new();
    for key in order.split(',').map(str::trim).filter(|k| !k.is_empty()) {
        let (name, dir) = match key.strip_prefix('-') {
            Some(rest) => (rest, Direction::Descending),
            None => (key, Direction::Ascending),
        };
        if name == "$score" {
            continue;
        }
        let path = FieldPath::parse(name);
        let ok = !path.field.is_empty()
            && path
                .field
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
            && path
                .sub
                .iter()
                .all(|s| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
        if !ok {
            return Err(ParseError::new(
                ErrorCode::InvalidKeyName,
                format!("Invalid field name: {name}."),
            )
            .into());
        }
        out.push((path, dir));
    }
    Ok(out)
}

impl Engine {
    fn limit(&self, limit: Option<i64>) -> Result<usize> {
        match limit {
            None => Ok(self.config.default_limit),
            Some(l) if l < 0 => Ok(self.config.default_limit),
            Some(l) => Ok(usize::try_from(l)
                .unwrap_or(usize::MAX)
                .min(self.config.max_limit)),
        }
    }

    /// Finds objects.
    pub async fn find(
        &self,
        auth: &AuthContext,
        class: &str,
        req: FindRequest,
    ) -> Result<FindResult> {
        validate_class_name(class)?;
        let filter = parse_where(&req.where_)?;
        let order = match &req.order {
            Some(o) => parse_order(o)?,
            None => vec![],
        };
        self.check_read_rules(auth, class, &filter, &order)?;
        let filter = if class == "_Session" {
            hash_session_tokens(filter)
        } else {
            filter
        };
        let skip = match req.skip {
            None => 0,
            Some(s) if s < 0 => {
                return Err(ParseError::new(
                    ErrorCode::InvalidQuery,
                    "Invalid skip: it must be a non-negative number",
                )
                .into());
            }
            Some(s) => usize::try_from(s).unwrap_or(usize::MAX),
        };
        let limit = self.limit(req.limit)?;
        let grant = self.check_clp(
            auth,
            class,
            if req.count && req.limit == Some(0) {
                Action::Count
            } else {
                Action::Find
            },
        )?;
        let filter = Self::restrict(filter, auth, &grant);
        let schemas = self.schemas.snapshot();
        let count = if req.count {
            Some(
                self.store
                    .count(&schemas, class, &filter, auth.readers().as_deref())
                    .await?,
            )
        } else {
            None
        };
        if limit == 0 {
            return Ok(FindResult {
                results: vec![],
                count,
            });
        }
        let spec = FindSpec {
            filter,
            order,
            limit: Some(limit),
            skip,
            readers: auth.readers(),
        };
        let found = self.store.find(&schemas, class, &spec).await?;
        let schema = schemas.get(class).cloned();
        let mut results: Vec<Document> = found
            .into_iter()
            .map(|o| to_json(schema.as_deref(), o, self.config.file_url_base.as_deref()))
            .collect();
        self.finish(
            auth,
            class,
            &schemas,
            &mut results,
            Shape {
                include: req.include.as_deref(),
                keys: req.keys.as_deref(),
                exclude: req.exclude_keys.as_deref(),
            },
        )
        .await?;
        Ok(FindResult { results, count })
    }

    /// Counts objects matching `where`.
    pub async fn count(&self, auth: &AuthContext, class: &str, where_: &Value) -> Result<u64> {
        validate_class_name(class)?;
        let filter = parse_where(where_)?;
        self.check_read_rules(auth, class, &filter, &[])?;
        let grant = self.check_clp(auth, class, Action::Count)?;
        let filter = Self::restrict(filter, auth, &grant);
        let schemas = self.schemas.snapshot();
        Ok(self
            .store
            .count(&schemas, class, &filter, auth.readers().as_deref())
            .await?)
    }

    /// Gets one object by id.
    pub async fn get(
        &self,
        auth: &AuthContext,
        class: &str,
        object_id: &str,
        req: GetRequest,
    ) -> Result<Document> {
        validate_class_name(class)?;
        self.check_read_rules(auth, class, &Filter::All, &[])?;
        let grant = self.check_clp(auth, class, Action::Get)?;
        let schemas = self.schemas.snapshot();
        let filter = Filter::Field(
            FieldPath::parse("objectId"),
            Condition::Eq(Value::String(object_id.to_owned())),
        );
        let filter = Self::restrict(filter, auth, &grant);
        let spec = FindSpec {
            filter,
            order: vec![],
            limit: Some(1),
            skip: 0,
            readers: auth.readers(),
        };
        let found = self.store.find(&schemas, class, &spec).await?;
        let schema = schemas.get(class).cloned();
        let mut results: Vec<Document> = found
            .into_iter()
            .map(|o| to_json(schema.as_deref(), o, self.config.file_url_base.as_deref()))
            .collect();
        if results.is_empty() {
            return Err(not_found());
        }
        self.finish(
            auth,
            class,
            &schemas,
            &mut results,
            Shape {
                include: req.include.as_deref(),
                keys: req.keys.as_deref(),
                exclude: req.exclude_keys.as_deref(),
            },
        )
        .await?;
        let mut found = results.pop().ok_or_else(not_found)?;
        if let Some(me) = auth
            .user
            .as_ref()
            .filter(|u| class == "_User" && u.user_id == object_id)
        {
            found.insert(
                "sessionToken".into(),
                Value::String(me.session_token.clone()),
            );
        }
        Ok(found)
    }

    /// Rules a read must pass before it runs: sessions need a signed-in caller, and a query
    /// may not filter or sort on fields hidden from the caller.
    fn check_read_rules(
        &self,
        auth: &AuthContext,
        class: &str,
        filter: &Filter,
        order: &[(FieldPath, Direction)],
    ) -> Result<()> {
        if auth.reads_all() {
            return Ok(());
        }
        if class == "_Session" && auth.user.is_none() {
            return Err(crate::users::permission_denied(ErrorCode::InvalidSessionToken).into());
        }
        self.check_master_only(auth, class)?;
        self.check_class_exists_for(auth, class)?;
        if class == "_Installation" {
            // Installations hold every device's push token: listing them is for the master key.
            return Err(crate::users::permission_denied(ErrorCode::OperationForbidden).into());
        }
        // Every class a query touches (sub-queries included) may only be filtered on fields
        // the caller may see, or a yes/no query could read a hidden value letter by letter.
        let mut used: Vec<(&str, &str)> = Vec::new();
        filter_fields(class, filter, &mut used);
        used.extend(order.iter().map(|(p, _)| (class, p.field.as_str())));
        for (cls, field) in used {
            if self
                .hidden_from_queries(auth, cls)
                .iter()
                .any(|h| h == field)
            {
                return Err(crate::users::permission_denied(ErrorCode::OperationForbidden).into());
            }
        }
        Ok(())
    }

    /// Fields of `class` a non-master caller may not filter or sort on.
    fn hidden_from_queries(&self, auth: &AuthContext, class: &str) -> Vec<String> {
        let mut hidden = self
            .schemas
            .get(class)
            .map(|s| protected_fields(&s, auth))
            .unwrap_or_default();
        if class == "_User" {
            // Parse's server-wide defaults protect users' e-mail and their linked identities.
            hidden.extend(["email", "authData", "sessionToken"].map(str::to_owned));
        }
        hidden
    }

    async fn finish(
        &self,
        auth: &AuthContext,
        class: &str,
        schemas: &SchemaMap,
        results: &mut [Document],
        shape: Shape<'_>,
    ) -> Result<()> {
        let Shape {
            include,
            keys,
            exclude,
        } = shape;
        if let Some(inc) = include {
            let tree = PathTree::parse(inc);
            if !tree.is_empty() {
                self.include(auth, schemas, results, &tree).await?;
            }
        }
        hide(
            class,
            schemas,
            results,
            auth,
            self.config.token_key.as_deref(),
        );
        if let Some(k) = keys {
            let tree = PathTree::parse(k);
            if !tree.is_empty() {
                results.iter_mut().for_each(|d| select_keys(d, &tree));
            }
        }
        if let Some(x) = exclude {
            let tree = PathTree::parse(x);
            results.iter_mut().for_each(|d| exclude_keys(d, &tree));
        }
        Ok(())
    }

    /// Replaces pointers on the tree's paths with the objects they point to, one query per class
    /// and level.
    async fn include(
        &self,
        auth: &AuthContext,
        schemas: &SchemaMap,
        docs: &mut [Document],
        tree: &PathTree,
    ) -> Result<()> {
        let mut level: Vec<(String, PathTree)> = Vec::new();
        for (key, sub) in &tree.0 {
            if key == "*" {
                let mut names = BTreeSet::new();
                for d in docs.iter() {
                    for (k, v) in d {
                        if pointer_like(v) {
                            names.insert(k.clone());
                        }
                    }
                }
                level.extend(names.into_iter().map(|n| (n, PathTree::default())));
            } else {
                level.push((key.clone(), sub.clone()));
            }
        }
        for (key, sub) in level {
            let mut wanted: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
            for d in docs.iter() {
                collect_pointers(d.get(&key), &mut wanted);
            }
            let mut fetched: HashMap<(String, String), Document> = HashMap::new();
            for (class, ids) in wanted {
                let filter = Filter::Field(
                    FieldPath::parse("objectId"),
                    Condition::In(ids.into_iter().map(Value::String).collect()),
                );
                let spec = FindSpec {
                    readers: auth.readers(),
                    ..FindSpec::filter(filter)
                };
                let found = self.store.find(schemas, &class, &spec).await?;
                let schema = schemas.get(&class).cloned();
                let mut objects: Vec<Document> = found
                    .into_iter()
                    .map(|o| to_json(schema.as_deref(), o, self.config.file_url_base.as_deref()))
                    .collect();
                if !sub.is_empty() {
                    Box::pin(self.include(auth, schemas, &mut objects, &sub)).await?;
                }
                hide(
                    &class,
                    schemas,
                    &mut objects,
                    auth,
                    self.config.token_key.as_deref(),
                );
                for mut o in objects {
                    let id = o
                        .get("objectId")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned();
                    o.insert("__type".into(), Value::String("Object".into()));
                    o.insert("className".into(), Value::String(class.clone()));
                    fetched.insert((class.clone(), id), o);
                }
            }
            for d in docs.iter_mut() {
                let keep = d.get_mut(&key).map(|v| replace_pointers(v, &fetched));
                if keep == Some(Keep::No) {
                    d.remove(&key);
                }
            }
        }
        Ok(())
    }
}

/// Sessions keep only the hash of their token; a query on `sessionToken` means that hash.
fn hash_session_tokens(f: Filter) -> Filter {
    match f {
        Filter::And(p) => Filter::And(p.into_iter().map(hash_session_tokens).collect()),
        Filter::Or(p) => Filter::Or(p.into_iter().map(hash_session_tokens).collect()),
        Filter::Nor(p) => Filter::Nor(p.into_iter().map(hash_session_tokens).collect()),
        Filter::Field(path, Condition::Eq(Value::String(t)))
            if path.field == "sessionToken" && path.sub.is_empty() =>
        {
            Filter::Field(
                path,
                Condition::Eq(Value::String(basalt_auth::token::hash_token(&t))),
            )
        }
        other => other,
    }
}

/// The top-level fields a filter reads.
fn filter_fields<'a>(class: &'a str, f: &'a Filter, out: &mut Vec<(&'a str, &'a str)>) {
    match f {
        Filter::All | Filter::RelatedTo { .. } => {}
        Filter::And(parts) | Filter::Or(parts) | Filter::Nor(parts) => {
            parts.iter().for_each(|p| filter_fields(class, p, out))
        }
        Filter::Field(path, cond) => {
            out.push((class, path.field.as_str()));
            match cond {
                Condition::InQuery { query, .. } => filter_fields(&query.class, &query.filter, out),
                Condition::Select { query, key, .. } => {
                    out.push((
                        query.class.as_str(),
                        key.split('.').next().unwrap_or_default(),
                    ));
                    filter_fields(&query.class, &query.filter, out);
                }
                _ => {}
            }
        }
    }
}

/// Applies `sanitize` and the class's protected fields to objects about to be returned.
fn hide(
    class: &str,
    schemas: &SchemaMap,
    docs: &mut [Document],
    auth: &AuthContext,
    token_key: Option<&basalt_auth::sealed::SealingKey>,
) {
    let schema = schemas.get(class);
    for d in docs.iter_mut() {
        if let (Some(key), Some(Value::String(sealed))) = (token_key, d.get(SEALED_TOKEN))
            && let Some(token) = key.open(sealed)
        {
            d.insert(REVEALED_TOKEN.into(), Value::String(token));
        }
        let protected = schema.map(|s| protected_in(s, auth, d)).unwrap_or_default();
        sanitize(class, d, auth);
        for f in &protected {
            d.remove(f);
        }
    }
}

fn pointer_like(v: &Value) -> bool {
    as_pointer(v).is_some()
}

fn collect_pointers(v: Option<&Value>, wanted: &mut BTreeMap<String, BTreeSet<String>>) {
    match v {
        Some(Value::Array(items)) => items.iter().for_each(|i| collect_pointers(Some(i), wanted)),
        Some(v) => {
            if let Some((class, id)) = as_pointer(v) {
                wanted
                    .entry(class.to_owned())
                    .or_default()
                    .insert(id.to_owned());
            }
        }
        None => {}
    }
}

fn replace_pointers(v: &mut Value, fetched: &HashMap<(String, String), Document>) -> Keep {
    if let Value::Array(items) = v {
        items.retain_mut(|i| replace_pointers(i, fetched) == Keep::Yes);
        return Keep::Yes;
    }
    let key = as_pointer(v).map(|(c, id)| (c.to_owned(), id.to_owned()));
    let Some(key) = key else { return Keep::Yes };
    match fetched.get(&key) {
        Some(o) => {
            *v = Value::Object(o.clone());
            Keep::Yes
        }
        // Parse leaves out an included pointer the caller may not read.
        None => Keep::No,
    }
}

/// Whether an included value stays in the result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Keep {
    Yes,
    No,
}
