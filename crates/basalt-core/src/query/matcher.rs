//! The `where` matcher: evaluates a [`Filter`] against one object in memory, as LiveQuery needs.
//!
//! The rules are the SQL compiler's (basalt-store `sqlite/compile.rs`) and MongoDB's, and both
//! sides are checked against one table of cases (`cases.rs`), so they cannot drift:
//! equality on an array matches any element; `$ne`/`$nin` match missing fields; `null` equality
//! matches missing fields; Dates compare by `iso`; Pointers compare by `objectId`; dotted paths
//! walk into Objects; `$exists` counts a stored `null` as present.
//!
//! No I/O here. Regular expressions are run by a [`RegexEngine`] the caller supplies (core has no
//! regex engine), and `$select`/`$inQuery`/`$relatedTo` ask a [`SubQueryResolver`] for the other
//! objects they depend on. A question neither can answer makes the result unknown (`None`),
//! which [`Matcher::matches`] treats as no match.

use std::borrow::Cow;
use std::cmp::Ordering;

use serde_json::{Number, Value};

use super::text::text_matches;
use super::{
    Cmp, Condition, FieldPath, Filter, SubQuery, distance_radians, expand_regex_quotes,
    point_in_polygon,
};
use crate::schema::{ClassSchema, FieldType};
use crate::time::normalize_iso;
use crate::value::{Document, GeoPoint, polygon_points};

/// Runs regular expressions for the matcher, so that core needs no regex engine. Callers that
/// evaluate many objects should compile each source once and cache it (see [`regex_sources`]).
pub trait RegexEngine {
    /// Whether `text` matches `source`, a pattern built by [`regex_source`] (standard syntax,
    /// inline flags). `None` when the pattern does not compile.
    fn is_match(&self, source: &str, text: &str) -> Option<bool>;
}

/// Answers the questions about other objects that `$select`, `$dontSelect`, `$inQuery`,
/// `$notInQuery` and `$relatedTo` ask. `None` means "not known here": the condition, and any
/// `$and`/`$or`/`$nor` that depends on it, is then undecided.
pub trait SubQueryResolver {
    /// The values of `key` (a field or dotted path) in the objects of `query.class` that match
    /// `query.filter`, in Parse JSON; missing and null values may be left out. `$inQuery` asks
    /// for the key `objectId`.
    fn select_values(&self, query: &SubQuery, key: &str) -> Option<Cow<'_, [Value]>>;

    /// The ids of the objects linked from the Relation field `key` of object `owner_id` of class
    /// `owner_class`.
    fn related_ids(
        &self,
        owner_class: &str,
        owner_id: &str,
        key: &str,
    ) -> Option<Cow<'_, [String]>>;
}

/// A resolver that knows nothing: every sub-query is undecided. Parse's own LiveQuery does not
/// evaluate sub-queries either.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoSubQueries;

impl SubQueryResolver for NoSubQueries {
    fn select_values(&self, _: &SubQuery, _: &str) -> Option<Cow<'_, [Value]>> {
        None
    }

    fn related_ids(&self, _: &str, _: &str, _: &str) -> Option<Cow<'_, [String]>> {
        None
    }
}

/// One piece of outside data a filter depends on, as listed by [`sub_queries`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SubQueryNeed<'f> {
    /// The values of `key` in the results of `query` (`objectId` for `$inQuery`).
    Select {
        /// The sub-query.
        query: &'f SubQuery,
        /// The field whose values are needed.
        key: &'f str,
    },
    /// The ids linked by one object's Relation field.
    Related {
        /// The owning object's class.
        class: &'f str,
        /// The owning object's id.
        object_id: &'f str,
        /// The Relation field.
        key: &'f str,
    },
}

/// Answers worked out beforehand, for example by running each of [`sub_queries`] against the
/// store when a LiveQuery subscription starts. Questions it was not given stay undecided.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SubQueryAnswers {
    selects: Vec<(SubQuery, String, Vec<Value>)>,
    related: Vec<([String; 3], Vec<String>)>,
}

impl SubQueryAnswers {
    /// No answers yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records the values of `key` in the results of `query`.
    pub fn answer_select(&mut self, query: &SubQuery, key: &str, values: Vec<Value>) {
        self.selects.push((query.clone(), key.to_owned(), values));
    }

    /// Records the ids linked from `class`/`object_id`'s Relation field `key`.
    pub fn answer_related(&mut self, class: &str, object_id: &str, key: &str, ids: Vec<String>) {
        self.related.push((
            [class.to_owned(), object_id.to_owned(), key.to_owned()],
            ids,
        ));
    }
}

impl SubQueryResolver for SubQueryAnswers {
    fn select_values(&self, query: &SubQuery, key: &str) -> Option<Cow<'_, [Value]>> {
        self.selects
            .iter()
            .find(|(q, k, _)| q == query && k == key)
            .map(|(_, _, values)| Cow::Borrowed(values.as_slice()))
    }

    fn related_ids(&self, class: &str, object_id: &str, key: &str) -> Option<Cow<'_, [String]>> {
        self.related
            .iter()
            .find(|([c, o, k], _)| c == class && o == object_id && k == key)
            .map(|(_, ids)| Cow::Borrowed(ids.as_slice()))
    }
}

/// The outside data `filter` needs, each listed once. Sub-queries nested inside a sub-query's
/// own filter are not listed: whoever runs that sub-query resolves them.
pub fn sub_queries(filter: &Filter) -> Vec<SubQueryNeed<'_>> {
    let mut out = Vec::new();
    walk(filter, &mut |f| {
        let need = match f {
            Filter::RelatedTo {
                class,
                object_id,
                key,
            } => SubQueryNeed::Related {
                class,
                object_id,
                key,
            },
            Filter::Field(_, Condition::Select { query, key, .. }) => {
                SubQueryNeed::Select { query, key }
            }
            Filter::Field(_, Condition::InQuery { query, .. }) => SubQueryNeed::Select {
                query,
                key: "objectId",
            },
            _ => return,
        };
        if !out.contains(&need) {
            out.push(need);
        }
    });
    out
}

/// The regular expressions `filter` runs, as [`regex_source`] builds them, each listed once:
/// compile (and so validate) them when a subscription starts.
pub fn regex_sources(filter: &Filter) -> Vec<String> {
    let mut out = Vec::new();
    walk(filter, &mut |f| {
        if let Filter::Field(_, Condition::Regex { pattern, options }) = f {
            let source = regex_source(pattern, options);
            if !out.contains(&source) {
                out.push(source);
            }
        }
    });
    out
}

fn walk<'f>(filter: &'f Filter, visit: &mut dyn FnMut(&'f Filter)) {
    visit(filter);
    if let Filter::And(parts) | Filter::Or(parts) | Filter::Nor(parts) = filter {
        for part in parts {
            walk(part, visit);
        }
    }
}

/// The standard regular expression for Parse's `$regex` and `$options`: `\Q…\E` quoting
/// expanded and the option letters `i`, `m`, `x`, `s` turned into inline flags. The SQL side
/// should build its `REGEXP` argument with this same function.
pub fn regex_source(pattern: &str, options: &str) -> String {
    let mut flags = String::new();
    for c in options.chars() {
        if "imxs".contains(c) && !flags.contains(c) {
            flags.push(c);
        }
    }
    let body = expand_regex_quotes(pattern);
    if flags.is_empty() {
        body
    } else {
        format!("(?{flags}){body}")
    }
}

/// Whether `object` matches `filter`, with no sub-query data (sub-query conditions count as
/// not matching). See [`Matcher`] for the general form.
pub fn matches(
    filter: &Filter,
    object: &Document,
    schema: &ClassSchema,
    regex: &dyn RegexEngine,
) -> bool {
    Matcher::new(regex).matches(filter, object, schema)
}

/// Evaluates filters against objects in Parse REST JSON (`objectId`, `createdAt`, `updatedAt`
/// and the fields, with `createdAt`/`updatedAt` as plain ISO strings).
#[derive(Clone, Copy)]
pub struct Matcher<'a> {
    regex: &'a dyn RegexEngine,
    sub_queries: &'a dyn SubQueryResolver,
}

impl<'a> Matcher<'a> {
    /// A matcher that runs regular expressions with `regex` and knows no sub-query results.
    pub fn new(regex: &'a dyn RegexEngine) -> Self {
        Self {
            regex,
            sub_queries: &NoSubQueries,
        }
    }

    /// The same matcher, answering sub-queries with `resolver`.
    pub fn with_sub_queries(self, resolver: &'a dyn SubQueryResolver) -> Self {
        Self {
            sub_queries: resolver,
            ..self
        }
    }

    /// Whether `object`, of the class `schema` describes, matches `filter`. Undecided
    /// conditions (unknown sub-query results, a pattern that does not compile) count as no match.
    pub fn matches(&self, filter: &Filter, object: &Document, schema: &ClassSchema) -> bool {
        self.evaluate(filter, object, schema) == Some(true)
    }

    /// Three-valued evaluation: `Some(true)` or `Some(false)` when decided, `None` when the
    /// answer depends on something this matcher cannot evaluate.
    pub fn evaluate(
        &self,
        filter: &Filter,
        object: &Document,
        schema: &ClassSchema,
    ) -> Option<bool> {
        match filter {
            Filter::All => Some(true),
            Filter::And(parts) => all(parts.iter().map(|p| self.evaluate(p, object, schema))),
            Filter::Or(parts) => any(parts.iter().map(|p| self.evaluate(p, object, schema))),
            Filter::Nor(parts) => {
                any(parts.iter().map(|p| self.evaluate(p, object, schema))).map(|b| !b)
            }
            Filter::RelatedTo {
                class,
                object_id,
                key,
            } => {
                let ids = self.sub_queries.related_ids(class, object_id, key)?;
                let id = object.get("objectId").and_then(Value::as_str);
                Some(id.is_some_and(|id| ids.iter().any(|i| i == id)))
            }
            Filter::Field(path, cond) => {
                let field = Field {
                    value: lookup(object, path),
                    part: part_for(schema, path),
                };
                self.condition(&field, cond)
            }
        }
    }

    fn condition(&self, field: &Field<'_>, cond: &Condition) -> Option<bool> {
        Some(match cond {
            Condition::Eq(v) => field.equals(v),
            Condition::Ne(v) => !field.equals(v),
            Condition::Compare(cmp, v) => field.compare(*cmp, v),
            Condition::In(values) => values.iter().any(|v| field.equals(v)),
            Condition::Nin(values) => !values.iter().any(|v| field.equals(v)),
            Condition::Exists(want) => field.value.is_some() == *want,
            Condition::All(values) => field.contains_all(values),
            Condition::ContainedBy(values) => field.contained_by(values),
            Condition::Regex { pattern, options } => return self.regex(field, pattern, options),
            Condition::Text(search) => field.text().is_some_and(|t| text_matches(&t, search)),
            Condition::Select { query, key, negate } => {
                let values = self.sub_queries.select_values(query, key)?;
                values.iter().any(|v| !v.is_null() && field.equals(v)) != *negate
            }
            Condition::InQuery { query, negate } => {
                let ids = self.sub_queries.select_values(query, "objectId")?;
                field.points_into(&ids) != *negate
            }
            Condition::Near { point, max_radians } => field
                .point()
                .is_some_and(|p| max_radians.is_none_or(|max| distance_radians(p, *point) <= max)),
            Condition::CenterSphere { center, radians } => field
                .point()
                .is_some_and(|p| distance_radians(p, *center) <= *radians),
            Condition::WithinBox {
                southwest,
                northeast,
            } => field
                .point()
                .is_some_and(|p| in_box(p, *southwest, *northeast)),
            Condition::WithinPolygon(points) => {
                field.point().is_some_and(|p| point_in_polygon(p, points))
            }
            Condition::Intersects(point) => field
                .polygon()
                .is_some_and(|poly| point_in_polygon(*point, &poly)),
        })
    }

    fn regex(&self, field: &Field<'_>, pattern: &str, options: &str) -> Option<bool> {
        let source = regex_source(pattern, options);
        // An invalid pattern leaves the whole condition undecided, whatever the field holds.
        self.regex.is_match(&source, "")?;
        let test = |v: &Value| match atom(v, field.part) {
            Atom::Text(s) => self.regex.is_match(&source, &s),
            _ => Some(false),
        };
        match field.value {
            None => Some(false),
            // MongoDB matches an array when any element matches.
            Some(Value::Array(items)) => any(items.iter().map(test)),
            Some(v) => test(v),
        }
    }
}

/// `Some(true)` if every item is, `Some(false)` if any is, else undecided.
fn all(items: impl Iterator<Item = Option<bool>>) -> Option<bool> {
    let mut result = Some(true);
    for item in items {
        match item {
            Some(false) => return Some(false),
            None => result = None,
            Some(true) => {}
        }
    }
    result
}

/// `Some(true)` if any item is, `Some(false)` if every item is false, else undecided.
fn any(items: impl Iterator<Item = Option<bool>>) -> Option<bool> {
    let mut result = Some(false);
    for item in items {
        match item {
            Some(true) => return Some(true),
            None => result = None,
            Some(false) => {}
        }
    }
    result
}

fn in_box(p: GeoPoint, sw: GeoPoint, ne: GeoPoint) -> bool {
    let lat_ok = (sw.latitude..=ne.latitude).contains(&p.latitude);
    // A box whose west edge is east of its east edge crosses the antimeridian.
    let lng_ok = if sw.longitude <= ne.longitude {
        (sw.longitude..=ne.longitude).contains(&p.longitude)
    } else {
        p.longitude >= sw.longitude || p.longitude <= ne.longitude
    };
    lat_ok && lng_ok
}

/// The value at `path` in `object`: `None` when missing, `Some(Null)` when stored as null.
pub fn lookup<'d>(object: &'d Document, path: &FieldPath) -> Option<&'d Value> {
    let mut v = object.get(&path.field)?;
    for seg in &path.sub {
        v = v.as_object()?.get(seg)?;
    }
    Some(v)
}

/// Which part of a field's value its comparisons use; the SQL compiler's `Part`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Whole,
    /// A Date field (including `createdAt`/`updatedAt`): its ISO string.
    Iso,
    /// A Pointer field: its objectId, so a bare id string compares with it as well.
    PointerId,
}

fn part_for(schema: &ClassSchema, path: &FieldPath) -> Part {
    if !path.sub.is_empty() {
        return Part::Whole;
    }
    match schema.field_type(&path.field) {
        Some(FieldType::Date) => Part::Iso,
        Some(FieldType::Pointer(_)) => Part::PointerId,
        _ => Part::Whole,
    }
}

/// A value reduced to what comparisons look at.
#[derive(Debug)]
enum Atom<'v> {
    Null,
    Bool(bool),
    Num(&'v Number),
    /// Strings, and Dates as their ISO string.
    Text(Cow<'v, str>),
    /// A Pointer's objectId.
    Ptr(&'v str),
    /// Anything else, compared structurally.
    Json(&'v Value),
}

fn atom(v: &Value, part: Part) -> Atom<'_> {
    match v {
        Value::Null => Atom::Null,
        Value::Bool(b) => Atom::Bool(*b),
        Value::Number(n) => Atom::Num(n),
        Value::String(s) => Atom::Text(Cow::Borrowed(s)),
        Value::Array(_) => Atom::Json(v),
        Value::Object(o) => {
            let str_of = |k: &str| o.get(k).and_then(Value::as_str);
            match (o.get("__type").and_then(Value::as_str), part) {
                (Some("Date"), _) => str_of("iso").map_or(Atom::Json(v), |s| Atom::Text(iso(s))),
                (Some("Pointer"), Part::PointerId) => {
                    str_of("objectId").map_or(Atom::Json(v), |s| Atom::Text(Cow::Borrowed(s)))
                }
                (Some("Pointer"), _) => str_of("objectId").map_or(Atom::Json(v), Atom::Ptr),
                _ => Atom::Json(v),
            }
        }
    }
}

/// A Date's ISO string in Parse's canonical form, so `…T12:00:00Z` and `…T12:00:00.000Z`
/// compare equal and order correctly.
fn iso(s: &str) -> Cow<'_, str> {
    let canonical = s.len() == 24 && s.ends_with('Z') && s.as_bytes().get(19) == Some(&b'.');
    if canonical {
        return Cow::Borrowed(s);
    }
    normalize_iso(s).map_or(Cow::Borrowed(s), Cow::Owned)
}

fn num_cmp(a: &Number, b: &Number) -> Option<Ordering> {
    if let (Some(x), Some(y)) = (a.as_i64(), b.as_i64()) {
        return Some(x.cmp(&y));
    }
    if let (Some(x), Some(y)) = (a.as_u64(), b.as_u64()) {
        return Some(x.cmp(&y));
    }
    a.as_f64()?.partial_cmp(&b.as_f64()?)
}

/// Ordering within one type; values of different types do not compare (MongoDB's brackets).
fn atom_cmp(a: &Atom<'_>, b: &Atom<'_>) -> Option<Ordering> {
    match (a, b) {
        (Atom::Num(x), Atom::Num(y)) => num_cmp(x, y),
        (Atom::Text(x), Atom::Text(y)) => Some(x.cmp(y)),
        (Atom::Bool(x), Atom::Bool(y)) => Some(x.cmp(y)),
        (Atom::Ptr(x), Atom::Ptr(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

fn atom_eq(a: &Atom<'_>, b: &Atom<'_>) -> bool {
    match (a, b) {
        (Atom::Null, Atom::Null) => true,
        (Atom::Json(x), Atom::Json(y)) => x == y,
        _ => atom_cmp(a, b) == Some(Ordering::Equal),
    }
}

/// One field of the object under test.
struct Field<'d> {
    value: Option<&'d Value>,
    part: Part,
}

impl Field<'_> {
    /// The stored value as a list: an array's elements, or the value itself. `None` if missing.
    fn elements(&self) -> Option<Vec<&Value>> {
        Some(match self.value? {
            Value::Array(items) => items.iter().collect(),
            v => vec![v],
        })
    }

    fn equals(&self, q: &Value) -> bool {
        match self.value {
            None | Some(Value::Null) => q.is_null(),
            Some(_) if q.is_null() => false,
            Some(Value::Array(items)) if !q.is_array() => items.iter().any(|e| element_eq(e, q)),
            Some(v) => atom_eq(&atom(v, self.part), &atom(q, self.part)),
        }
    }

    fn compare(&self, cmp: Cmp, q: &Value) -> bool {
        let q = atom(q, self.part);
        let holds = |v: &Value, part: Part| {
            atom_cmp(&atom(v, part), &q).is_some_and(|o| match cmp {
                Cmp::Lt => o.is_lt(),
                Cmp::Lte => o.is_le(),
                Cmp::Gt => o.is_gt(),
                Cmp::Gte => o.is_ge(),
            })
        };
        match self.value {
            None => false,
            Some(Value::Array(items)) if !matches!(q, Atom::Json(_)) => {
                items.iter().any(|e| holds(e, Part::Whole))
            }
            Some(v) => holds(v, self.part),
        }
    }

    fn contains_all(&self, values: &[Value]) -> bool {
        let Some(elements) = self.elements() else {
            return false;
        };
        !values.is_empty()
            && values
                .iter()
                .all(|v| elements.iter().any(|e| element_eq(e, v)))
    }

    fn contained_by(&self, values: &[Value]) -> bool {
        let Some(elements) = self.elements() else {
            return true;
        };
        elements
            .iter()
            .all(|e| e.is_null() || values.iter().any(|v| element_eq(e, v)))
    }

    /// The Pointer (or any Pointer in an array) points at one of `ids`.
    fn points_into(&self, ids: &[Value]) -> bool {
        let Some(elements) = self.elements() else {
            return false;
        };
        elements
            .into_iter()
            .filter_map(object_id)
            .any(|id| ids.iter().any(|i| i == id))
    }

    /// The text `$text` searches: a string, or an array's strings one per line.
    fn text(&self) -> Option<Cow<'_, str>> {
        match self.value? {
            Value::String(s) => Some(Cow::Borrowed(s)),
            Value::Array(items) => {
                let lines: Vec<&str> = items.iter().filter_map(Value::as_str).collect();
                Some(Cow::Owned(lines.join("\n")))
            }
            _ => None,
        }
    }

    fn point(&self) -> Option<GeoPoint> {
        GeoPoint::from_json(self.value?)
    }

    fn polygon(&self) -> Option<Vec<GeoPoint>> {
        polygon_points(self.value?.get("coordinates")?).ok()
    }
}

fn object_id(v: &Value) -> Option<&str> {
    v.as_object()?.get("objectId")?.as_str()
}

/// Equality of one array element with a query value; `null` matches no element.
fn element_eq(e: &Value, q: &Value) -> bool {
    !q.is_null() && atom_eq(&atom(e, Part::Whole), &atom(q, Part::Whole))
}

#[cfg(test)]
#[path = "matcher_tests.rs"]
mod tests;
