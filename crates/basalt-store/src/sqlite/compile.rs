//! Filters and find specs → SQLite SQL. Field paths are written into the SQL text (they are
//! validated identifiers) so that expression indexes match; values are always bound.

use basalt_core::query::{Cmp, Condition, FieldPath, Filter, SubQuery};
use basalt_core::schema::{ClassSchema, FieldType, SchemaMap};
use basalt_core::time::normalize_iso;
use basalt_core::value::as_pointer;
use rusqlite::types::Value as Sql;
use serde_json::Value;

use super::table_name;
use crate::compile_common::{
    Arrays, Part, compares_dates, invalid, is_date, part_for, safe_segment,
};
use crate::{Direction, FindSpec, StoreResult};

/// A statement and its bound values.
#[derive(Debug, Clone)]
pub(crate) struct SqlPlan {
    pub sql: String,
    pub params: Vec<Sql>,
}

/// The column list every object read selects, in `read.rs`'s order.
pub(crate) const OBJECT_COLUMNS: &str = "t0.objectId, t0.createdAt, t0.updatedAt, t0.doc";

fn is_column(field: &str) -> bool {
    matches!(field, "objectId" | "createdAt" | "updatedAt")
}

/// The JSON path of a field (or part of it) inside `doc`, e.g. `$.score` or `$.when.iso`.
fn json_path(path: &FieldPath, part: Part) -> Option<String> {
    let mut s = String::from("$.");
    if !safe_segment(&path.field) {
        return None;
    }
    s.push_str(&path.field);
    for seg in &path.sub {
        if !safe_segment(seg) {
            return None;
        }
        s.push('.');
        s.push_str(seg);
    }
    match part {
        Part::Whole => {}
        Part::Iso => s.push_str(".iso"),
        Part::PointerId => s.push_str(".objectId"),
    }
    Some(s)
}

/// The SQL expression of an index key or order key; shared with index creation so the two
/// agree to the letter.
pub(crate) fn index_expr(schema: &ClassSchema, key: &str) -> Option<String> {
    if is_column(key) {
        return Some(key.to_owned());
    }
    let path = FieldPath::parse(key);
    let part = part_for(schema.field_type(&path.field), &path);
    json_path(&path, part).map(|p| format!("json_extract(doc, '{p}')"))
}

struct Compiler<'a> {
    schemas: &'a SchemaMap,
    readers: Option<&'a [String]>,
    params: Vec<Sql>,
    depth: usize,
    near_order: Option<String>,
}

/// Joins predicates with `sep` ("AND"/"OR") as a balanced tree of parentheses. SQLite parses a
/// flat chain as a left-deep tree and refuses one deeper than 1000, so a wide `$or` or `$all`
/// would fail; balanced, a million terms are 20 deep.
fn balanced(sqls: &[String], sep: &str) -> String {
    match sqls {
        [] => String::new(),
        [one] => one.clone(),
        _ if sqls.len() <= 8 => format!("({})", sqls.join(sep)),
        _ => {
            let (a, b) = sqls.split_at(sqls.len() / 2);
            format!("({}{sep}{})", balanced(a, sep), balanced(b, sep))
        }
    }
}

/// Lists longer than this are bound as one JSON array and read with `json_each`, so a `$in` of
/// tens of thousands of ids stays within SQLite's limit on bound variables.
const BIND_LIST_MAX: usize = 64;

/// A JSON value as the SQL value `json_extract` yields for it.
fn sql_value(v: &Value, part: Part) -> Sql {
    match v {
        Value::Null => Sql::Null,
        Value::Bool(b) => Sql::Integer(i64::from(*b)),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Sql::Integer(i),
            None => Sql::Real(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => Sql::Text(s.clone()),
        Value::Object(o) => {
            if let Some(iso) = o
                .get("iso")
                .and_then(Value::as_str)
                .filter(|_| o.get("__type") == Some(&Value::from("Date")))
            {
                return Sql::Text(normalize_iso(iso).unwrap_or_else(|| iso.to_owned()));
            }
            if part == Part::PointerId
                && let Some((_, id)) = as_pointer(v)
            {
                return Sql::Text(id.to_owned());
            }
            Sql::Text(v.to_string())
        }
        Value::Array(_) => Sql::Text(v.to_string()),
    }
}

impl<'a> Compiler<'a> {
    fn alias(&self) -> String {
        format!("t{}", self.depth)
    }

    fn bind(&mut self, v: Sql) -> String {
        self.params.push(v);
        format!("?{}", self.params.len())
    }

    /// The expression reading `path` (or its part) of the current row.
    fn expr(&mut self, path: &FieldPath, part: Part) -> String {
        let alias = self.alias();
        if is_column(&path.field) && path.sub.is_empty() {
            return format!("{alias}.{}", path.field);
        }
        match json_path(path, part) {
            Some(p) => format!("json_extract({alias}.doc, '{p}')"),
            None => {
                let mut quoted = format!("$.\"{}\"", path.field.replace('"', ""));
                for seg in &path.sub {
                    quoted.push_str(&format!(".\"{}\"", seg.replace('"', "")));
                }
                match part {
                    Part::Whole => {}
                    Part::Iso => quoted.push_str(".iso"),
                    Part::PointerId => quoted.push_str(".objectId"),
                }
                let p = self.bind(Sql::Text(quoted));
                format!("json_extract({alias}.doc, {p})")
            }
        }
    }

    fn filter(&mut self, class: &ClassSchema, f: &Filter) -> StoreResult<String> {
        Ok(match f {
            Filter::All => "1".to_owned(),
            Filter::And(parts) => self.join(class, parts, " AND ", "1")?,
            Filter::Or(parts) => self.join(class, parts, " OR ", "0")?,
            Filter::Nor(parts) => {
                format!("NOT coalesce({}, 0)", self.join(class, parts, " OR ", "0")?)
            }
            Filter::RelatedTo {
                class: owner,
                object_id,
                key,
            } => {
                let (a, b, c) = (
                    self.bind(Sql::Text(owner.clone())),
                    self.bind(Sql::Text(key.clone())),
                    self.bind(Sql::Text(object_id.clone())),
                );
                format!(
                    "{}.objectId IN (SELECT related_id FROM _basalt_join WHERE owner_class = {a} AND field = {b} AND owner_id = {c})",
                    self.alias()
                )
            }
            Filter::Field(path, cond) => self.condition(class, path, cond)?,
        })
    }

    fn join(
        &mut self,
        class: &ClassSchema,
        parts: &[Filter],
        sep: &str,
        empty: &str,
    ) -> StoreResult<String> {
        if parts.is_empty() {
            return Ok(empty.to_owned());
        }
        let sqls = parts
            .iter()
            .map(|p| self.filter(class, p))
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(format!("({})", balanced(&sqls, sep)))
    }

    fn array_elements(&mut self, path: &FieldPath) -> String {
        let alias = self.alias();
        match json_path(path, Part::Whole) {
            Some(p) => format!("json_each({alias}.doc, '{p}')"),
            None => {
                let e = self.expr(path, Part::Whole);
                format!("json_each({e})")
            }
        }
    }

    /// `EXISTS (element of the array field satisfying pred(element_expr))`.
    fn any_element(&mut self, path: &FieldPath, pred: &str) -> String {
        let each = self.array_elements(path);
        format!("EXISTS (SELECT 1 FROM {each} AS je WHERE {pred})")
    }

    /// `pred` on each element of an array field, for an Array field (`Always`), a typed
    /// non-array field (`Never`: `scalar` alone) or a dotted path (`Maybe`: either).
    fn per_element(
        &mut self,
        path: &FieldPath,
        arrays: Arrays,
        scalar: &str,
        elem: &str,
    ) -> String {
        match arrays {
            Arrays::Never => scalar.to_owned(),
            Arrays::Always => self.any_element(path, elem),
            Arrays::Maybe => {
                let t = self.json_type(path, Part::Whole);
                let any = self.any_element(path, elem);
                format!("({scalar} OR ({t} = 'array' AND {any}))")
            }
        }
    }

    /// `json_type` of the path (or its part), which tells arrays, objects and text apart.
    fn json_type(&mut self, path: &FieldPath, part: Part) -> String {
        let alias = self.alias();
        match json_path(path, part) {
            Some(p) => format!("json_type({alias}.doc, '{p}')"),
            None => {
                let e = self.expr(path, part);
                format!("json_type({e})")
            }
        }
    }

    /// An element of `je` equals `v`. Pointers compare by objectId and Dates by iso; elements
    /// that are not objects are never read as JSON (json_extract would fail on them).
    fn element_eq(&mut self, v: &Value) -> String {
        let member = |k: &str| {
            format!("(CASE WHEN je.type = 'object' THEN json_extract(je.value, '$.{k}') END)")
        };
        if let Some((_, id)) = as_pointer(v) {
            let p = self.bind(Sql::Text(id.to_owned()));
            format!("{} = {p}", member("objectId"))
        } else if is_date(v) {
            let p = self.bind(sql_value(v, Part::Whole));
            format!("{} = {p}", member("iso"))
        } else if matches!(v, Value::Object(_) | Value::Array(_)) {
            let p = self.bind(Sql::Text(v.to_string()));
            format!("je.value = json({p})")
        } else {
            let p = self.bind(sql_value(v, Part::Whole));
            format!("je.value = {p}")
        }
    }

    /// An element of `je` compares with `v` by `op`, within `v`'s type (MongoDB's brackets).
    fn element_cmp(&mut self, op: &str, v: &Value) -> String {
        let p = self.bind(sql_value(v, Part::Whole));
        let (lhs, ty) = match v {
            Value::Number(_) => ("je.value", "je.type IN ('integer', 'real')"),
            Value::String(_) => ("je.value", "je.type = 'text'"),
            Value::Bool(_) => ("je.value", "je.type IN ('true', 'false')"),
            _ if is_date(v) => (
                "(CASE WHEN je.type = 'object' THEN json_extract(je.value, '$.iso') END)",
                "1",
            ),
            _ => ("je.value", "1"),
        };
        format!("({ty} AND {lhs} {op} {p})")
    }

    /// The condition that keeps an ordering comparison with `v` within `v`'s type.
    fn type_guard(&mut self, path: &FieldPath, part: Part, v: &Value) -> String {
        if is_column(&path.field) && path.sub.is_empty() {
            return if matches!(v, Value::String(_)) || is_date(v) {
                "1"
            } else {
                "0"
            }
            .to_owned();
        }
        let t = self.json_type(path, part);
        match v {
            Value::Number(_) => format!("{t} IN ('integer', 'real')"),
            Value::String(_) => format!("{t} = 'text'"),
            Value::Bool(_) => format!("{t} IN ('true', 'false')"),
            _ if is_date(v) => format!("{t} = 'text'"),
            _ => "1".to_owned(),
        }
    }

    /// The right-hand side of `IN`: bound values, or for a long list one bound JSON array.
    fn in_list(&mut self, values: &[Value], part: Part) -> String {
        let sqls = values
            .iter()
            .filter(|v| !v.is_null())
            .map(|v| sql_value(v, part));
        if values.len() > BIND_LIST_MAX {
            let array: Vec<Value> = sqls
                .map(|s| match s {
                    Sql::Integer(i) => i.into(),
                    Sql::Real(f) => {
                        serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)
                    }
                    Sql::Text(t) => t.into(),
                    Sql::Null | Sql::Blob(_) => Value::Null,
                })
                .collect();
            let p = self.bind(Sql::Text(Value::Array(array).to_string()));
            return format!("(SELECT value FROM json_each({p}))");
        }
        let binds: Vec<String> = sqls.map(|s| self.bind(s)).collect();
        format!("({})", binds.join(", "))
    }

    fn condition(
        &mut self,
        class: &ClassSchema,
        path: &FieldPath,
        cond: &Condition,
    ) -> StoreResult<String> {
        let ft = if path.sub.is_empty() {
            class.field_type(&path.field).cloned()
        } else {
            None
        };
        let is_array = matches!(ft, Some(FieldType::Array));
        let arrays = if is_array {
            Arrays::Always
        } else if path.sub.is_empty() {
            Arrays::Never
        } else {
            Arrays::Maybe
        };
        let mut part = part_for(ft.as_ref(), path);
        if !path.sub.is_empty() && compares_dates(cond) {
            // A Date inside an Object compares by its iso, as a top-level Date field does.
            part = Part::Iso;
        }
        if let Some(FieldType::Relation(_)) = &ft
            && let Some(sql) = self.relation_contains(class, path, cond)
        {
            return Ok(sql);
        }
        Ok(match cond {
            Condition::Eq(v) => self.equals(path, v, arrays, part),
            Condition::Ne(v) => format!("NOT coalesce({}, 0)", self.equals(path, v, arrays, part)),
            Condition::Compare(cmp, v) => {
                let op = match cmp {
                    Cmp::Lt => "<",
                    Cmp::Lte => "<=",
                    Cmp::Gt => ">",
                    Cmp::Gte => ">=",
                };
                let scalar = if arrays == Arrays::Always {
                    String::new()
                } else {
                    let e = self.expr(path, part);
                    // A field the schema types like the value holds nothing else, so the guard
                    // (which the expression index cannot answer) is left out.
                    let typed = matches!(
                        (&ft, v),
                        (Some(FieldType::Number), Value::Number(_))
                            | (Some(FieldType::String), Value::String(_))
                            | (Some(FieldType::Boolean), Value::Bool(_))
                    );
                    let p = self.bind(sql_value(v, part));
                    if typed {
                        format!("{e} {op} {p}")
                    } else {
                        let guard = self.type_guard(path, part, v);
                        format!("({guard} AND {e} {op} {p})")
                    }
                };
                // Element predicates bind values, so build them only when arrays are possible.
                let elem = if arrays == Arrays::Never {
                    String::new()
                } else {
                    self.element_cmp(op, v)
                };
                self.per_element(path, arrays, &scalar, &elem)
            }
            Condition::In(values) | Condition::Nin(values) => {
                let non_null: Vec<&Value> = values.iter().filter(|v| !v.is_null()).collect();
                let mut ors = Vec::new();
                if !non_null.is_empty() {
                    let scalar = if arrays == Arrays::Always {
                        String::new()
                    } else {
                        let e = self.expr(path, part);
                        let list = self.in_list(values, part);
                        format!("{e} IN {list}")
                    };
                    let preds: Vec<String> = if arrays == Arrays::Never {
                        Vec::new()
                    } else {
                        non_null.iter().map(|v| self.element_eq(v)).collect()
                    };
                    ors.push(self.per_element(path, arrays, &scalar, &balanced(&preds, " OR ")));
                }
                if values.iter().any(Value::is_null) {
                    let e = self.expr(path, part);
                    ors.push(format!("{e} IS NULL"));
                }
                let sql = if ors.is_empty() {
                    "0".to_owned()
                } else {
                    format!("({})", ors.join(" OR "))
                };
                if matches!(cond, Condition::Nin(_)) {
                    format!("NOT coalesce({sql}, 0)")
                } else {
                    sql
                }
            }
            Condition::Exists(present) => {
                let e = if is_column(&path.field) && path.sub.is_empty() {
                    return Ok(if *present { "1" } else { "0" }.to_owned());
                } else {
                    let alias = self.alias();
                    match json_path(path, Part::Whole) {
                        Some(p) => format!("json_type({alias}.doc, '{p}')"),
                        None => {
                            let e = self.expr(path, Part::Whole);
                            format!("json_type({e})")
                        }
                    }
                };
                if *present {
                    format!("{e} IS NOT NULL")
                } else {
                    format!("{e} IS NULL")
                }
            }
            Condition::All(values) => {
                if values.is_empty() {
                    return Ok("0".to_owned());
                }
                let parts: Vec<String> = values
                    .iter()
                    .map(|v| {
                        let pred = self.element_eq(v);
                        self.any_element(path, &pred)
                    })
                    .collect();
                format!("({})", balanced(&parts, " AND "))
            }
            Condition::ContainedBy(values) => {
                let preds: Vec<String> = values.iter().map(|v| self.element_eq(v)).collect();
                let inner = if preds.is_empty() {
                    "0".to_owned()
                } else {
                    balanced(&preds, " OR ")
                };
                format!("NOT {}", self.any_element(path, &format!("NOT ({inner})")))
            }
            Condition::Regex { pattern, options } => {
                let full = basalt_core::query::matcher::regex_source(pattern, options);
                regex::Regex::new(&full)
                    .map_err(|e| invalid(format!("Invalid regular expression: {e}")))?;
                let p = self.bind(Sql::Text(full));
                let scalar = if arrays == Arrays::Always {
                    String::new()
                } else {
                    let e = self.expr(path, part);
                    format!("{e} REGEXP {p}")
                };
                self.per_element(path, arrays, &scalar, &format!("je.value REGEXP {p}"))
            }
            Condition::Text(t) => {
                let e = self.expr(path, Part::Whole);
                let term = self.bind(Sql::Text(t.term.clone()));
                let cs = self.bind(Sql::Integer(i64::from(t.case_sensitive)));
                let ds = self.bind(Sql::Integer(i64::from(t.diacritic_sensitive)));
                format!("basalt_text_match({e}, {term}, {cs}, {ds})")
            }
            Condition::Select { query, key, negate } => {
                let e = self.expr(path, part);
                let sub = self.sub_select(query, key)?;
                if *negate {
                    format!("({e} IS NULL OR {e} NOT IN ({sub}))")
                } else {
                    format!("{e} IN ({sub})")
                }
            }
            Condition::InQuery { query, negate } => {
                let sub = self.sub_select(query, "objectId")?;
                let sql = if is_array {
                    self.any_element(
                        path,
                        &format!("(CASE WHEN je.type = 'object' THEN json_extract(je.value, '$.objectId') END) IN ({sub})"),
                    )
                } else {
                    let e = self.expr(path, Part::PointerId);
                    format!("{e} IN ({sub})")
                };
                if *negate {
                    format!("NOT coalesce({sql}, 0)")
                } else {
                    sql
                }
            }
            Condition::Near { point, max_radians } => {
                let d = self.distance(path, point.latitude, point.longitude);
                if self.near_order.is_none() {
                    self.near_order = Some(d.clone());
                }
                match max_radians {
                    Some(max) => {
                        let m = self.bind(Sql::Real(*max));
                        format!("{d} <= {m}")
                    }
                    None => format!("{d} IS NOT NULL"),
                }
            }
            Condition::CenterSphere { center, radians } => {
                let d = self.distance(path, center.latitude, center.longitude);
                let m = self.bind(Sql::Real(*radians));
                format!("{d} <= {m}")
            }
            Condition::WithinBox {
                southwest,
                northeast,
            } => {
                let (lat, lng) = self.lat_lng(path);
                let (s, n) = (
                    self.bind(Sql::Real(southwest.latitude)),
                    self.bind(Sql::Real(northeast.latitude)),
                );
                let (w, e) = (
                    self.bind(Sql::Real(southwest.longitude)),
                    self.bind(Sql::Real(northeast.longitude)),
                );
                let lng_ok = if southwest.longitude <= northeast.longitude {
                    format!("{lng} BETWEEN {w} AND {e}")
                } else {
                    format!("({lng} >= {w} OR {lng} <= {e})")
                };
                format!("({lat} BETWEEN {s} AND {n} AND {lng_ok})")
            }
            Condition::WithinPolygon(points) => {
                let (lat, lng) = self.lat_lng(path);
                let json: Vec<Value> = points
                    .iter()
                    .map(|p| serde_json::json!([p.latitude, p.longitude]))
                    .collect();
                let p = self.bind(Sql::Text(Value::Array(json).to_string()));
                format!("basalt_in_polygon({lat}, {lng}, {p})")
            }
            Condition::Intersects(point) => {
                let coords = self.expr(
                    &FieldPath {
                        field: path.field.clone(),
                        sub: vec!["coordinates".into()],
                    },
                    Part::Whole,
                );
                let (a, b) = (
                    self.bind(Sql::Real(point.latitude)),
                    self.bind(Sql::Real(point.longitude)),
                );
                format!("basalt_polygon_contains({coords}, {a}, {b})")
            }
        })
    }

    fn equals(&mut self, path: &FieldPath, v: &Value, arrays: Arrays, part: Part) -> String {
        if v.is_null() {
            let e = self.expr(path, part);
            return format!("{e} IS NULL");
        }
        if v.is_array() {
            return self.equals_scalar(path, v, part);
        }
        let scalar = if arrays == Arrays::Always {
            String::new()
        } else {
            self.equals_scalar(path, v, part)
        };
        let elem = if arrays == Arrays::Never {
            String::new()
        } else {
            self.element_eq(v)
        };
        self.per_element(path, arrays, &scalar, &elem)
    }

    fn equals_scalar(&mut self, path: &FieldPath, v: &Value, part: Part) -> String {
        let e = self.expr(path, part);
        if part == Part::Whole
            && matches!(v, Value::Object(_) | Value::Array(_))
            && as_pointer(v).is_none()
        {
            let p = self.bind(Sql::Text(v.to_string()));
            return format!("{e} = json({p})");
        }
        let p = self.bind(sql_value(
            v,
            if as_pointer(v).is_some() {
                Part::PointerId
            } else {
                part
            },
        ));
        if part == Part::Whole && as_pointer(v).is_some() {
            let id = self.expr(path, Part::PointerId);
            return format!("{id} = {p}");
        }
        format!("{e} = {p}")
    }

    /// Equality (and `$in`/`$nin`) on a Relation field means "the relation links to this object",
    /// as Parse's `query.equalTo('relation', object)` does.
    fn relation_contains(
        &mut self,
        class: &ClassSchema,
        path: &FieldPath,
        cond: &Condition,
    ) -> Option<String> {
        let (values, negate) = match cond {
            Condition::Eq(v) => (std::slice::from_ref(v), false),
            Condition::In(vs) => (vs.as_slice(), false),
            Condition::Ne(v) => (std::slice::from_ref(v), true),
            Condition::Nin(vs) => (vs.as_slice(), true),
            _ => return None,
        };
        let ids: Vec<String> = values
            .iter()
            .filter_map(|v| as_pointer(v).map(|(_, id)| id.to_owned()))
            .collect();
        if ids.len() != values.len() {
            return None;
        }
        let alias = self.alias();
        let owner = self.bind(Sql::Text(class.class_name.clone()));
        let field = self.bind(Sql::Text(path.field.clone()));
        let binds: Vec<String> = ids.into_iter().map(|id| self.bind(Sql::Text(id))).collect();
        let list = if binds.is_empty() {
            "NULL".to_owned()
        } else {
            binds.join(", ")
        };
        let sql = format!(
            "{alias}.objectId IN (SELECT owner_id FROM _basalt_join WHERE owner_class = {owner} AND field = {field} AND related_id IN ({list}))"
        );
        Some(if negate { format!("NOT ({sql})") } else { sql })
    }

    /// ` AND <row readable by the caller>`, or nothing for callers who read everything.
    fn acl(&mut self) -> String {
        let Some(readers) = self.readers else {
            return String::new();
        };
        let alias = self.alias();
        let ids: Vec<String> = readers
            .iter()
            .map(|r| self.bind(Sql::Text(r.clone())))
            .collect();
        format!(
            " AND ({alias}._rperm IS NULL OR EXISTS (SELECT 1 FROM json_each({alias}._rperm) WHERE value IN ({})))",
            ids.join(", ")
        )
    }

    fn lat_lng(&mut self, path: &FieldPath) -> (String, String) {
        let sub = |k: &str| FieldPath {
            field: path.field.clone(),
            sub: vec![k.to_owned()],
        };
        (
            self.expr(&sub("latitude"), Part::Whole),
            self.expr(&sub("longitude"), Part::Whole),
        )
    }

    fn distance(&mut self, path: &FieldPath, lat: f64, lng: f64) -> String {
        let (la, lo) = self.lat_lng(path);
        let (a, b) = (self.bind(Sql::Real(lat)), self.bind(Sql::Real(lng)));
        format!("basalt_distance({la}, {lo}, {a}, {b})")
    }

    fn sub_select(&mut self, q: &SubQuery, key: &str) -> StoreResult<String> {
        let Some(schema) = self.schemas.get(&q.class).cloned() else {
            return Ok("SELECT NULL WHERE 0".to_owned());
        };
        self.depth += 1;
        let alias = self.alias();
        let key_path = FieldPath::parse(key);
        let part = part_for(schema.field_type(&key_path.field), &key_path);
        let key_expr = self.expr(&key_path, part);
        let saved_near = self.near_order.take();
        let cond = self.filter(&schema, &q.filter);
        let acl = self.acl();
        self.near_order = saved_near;
        self.depth -= 1;
        let cond = format!("{}{acl}", cond?);
        Ok(format!(
            "SELECT {key_expr} FROM {} AS {alias} WHERE ({cond}) AND {key_expr} IS NOT NULL",
            table_name(&q.class)
        ))
    }
}

fn where_clause(
    schemas: &SchemaMap,
    class: &ClassSchema,
    filter: &Filter,
    readers: Option<&[String]>,
) -> StoreResult<(String, Vec<Sql>, Option<String>)> {
    let mut c = Compiler {
        schemas,
        readers,
        params: Vec::new(),
        depth: 0,
        near_order: None,
    };
    let sql = c.filter(class, filter)?;
    let acl = c.acl();
    // Leaves room for LIMIT and OFFSET under SQLite's limit of 32766 bound variables.
    if c.params.len() > 32_000 {
        return Err(invalid(format!(
            "This query compares {} values; at most 32000 fit in one query. Split it.",
            c.params.len()
        )));
    }
    Ok((format!("{sql}{acl}"), c.params, c.near_order))
}

/// The SELECT for a find, or None when the class has no storage yet (no results).
pub(crate) fn find_sql(
    schemas: &SchemaMap,
    class: &str,
    spec: &FindSpec,
) -> StoreResult<Option<SqlPlan>> {
    let Some(schema) = schemas.get(class) else {
        return Ok(None);
    };
    compiled_find_sql(schemas, schema, class, spec).map(Some)
}

/// The SELECT for a find, through the general compiler.
fn compiled_find_sql(
    schemas: &SchemaMap,
    schema: &ClassSchema,
    class: &str,
    spec: &FindSpec,
) -> StoreResult<SqlPlan> {
    let (cond, mut params, near) =
        where_clause(schemas, schema, &spec.filter, spec.readers.as_deref())?;
    let mut order: Vec<String> = Vec::new();
    for (path, dir) in &spec.order {
        let mut c = Compiler {
            schemas,
            readers: None,
            params: Vec::new(),
            depth: 0,
            near_order: None,
        };
        let part = part_for(schema.field_type(&path.field), path);
        let expr = c.expr(path, part);
        // Order keys never bind (paths are validated), so the fresh compiler has no params.
        if !c.params.is_empty() {
            return Err(invalid(format!("Invalid order key: {}", path.field)));
        }
        order.push(format!(
            "{expr} {}",
            match dir {
                Direction::Ascending => "ASC",
                Direction::Descending => "DESC",
            }
        ));
    }
    if order.is_empty()
        && let Some(d) = near
    {
        order.push(format!("{d} ASC"));
    }
    let mut sql = format!(
        "SELECT {OBJECT_COLUMNS} FROM {} AS t0 WHERE {cond}",
        table_name(class)
    );
    if !order.is_empty() {
        sql.push_str(" ORDER BY ");
        sql.push_str(&order.join(", "));
    }
    let limit = spec
        .limit
        .map_or(-1, |l| i64::try_from(l).unwrap_or(i64::MAX));
    params.push(Sql::Integer(limit));
    params.push(Sql::Integer(i64::try_from(spec.skip).unwrap_or(i64::MAX)));
    sql.push_str(&format!(
        " LIMIT ?{} OFFSET ?{}",
        params.len() - 1,
        params.len()
    ));
    Ok(SqlPlan { sql, params })
}

/// The COUNT for a filter, or None when the class has no storage yet (zero).
pub(crate) fn count_sql(
    schemas: &SchemaMap,
    class: &str,
    filter: &Filter,
    readers: Option<&[String]>,
) -> StoreResult<Option<SqlPlan>> {
    let Some(schema) = schemas.get(class) else {
        return Ok(None);
    };
    let (cond, params, _) = where_clause(schemas, schema, filter, readers)?;
    let sql = format!(
        "SELECT COUNT(*) FROM {} AS t0 WHERE {cond}",
        table_name(class)
    );
    Ok(Some(SqlPlan { sql, params }))
}
