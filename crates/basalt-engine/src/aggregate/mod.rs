//! The aggregate pipeline of `GET /aggregate/:className`, and `distinct`, run in memory.
//!
//! Owns: reading Parse's request parameters into a [`Pipeline`] the way `AggregateRouter`
//! does (including its error messages), running every stage after an optional leading `$match`
//! over documents the store has already filtered, and shaping results the way Parse Server's
//! MongoDB adapter returns them: the group `_id` as `objectId`, dates as `{"__type":"Date"}`
//! except top-level `createdAt`/`updatedAt` (ISO strings), hidden keys removed.
//! Knows nothing of SQL, HTTP, schemas or async; the leading `$match` is handed back as a Parse
//! `where` for the caller to push down.
//!
//! MongoDB spellings Parse passes through are accepted: `_id`, `_created_at`, `_updated_at` and
//! `_p_<field>` mean `objectId`, `createdAt`, `updatedAt` and `<field>`.
//!
//! This file holds the public API and the parsed pipeline's types. The rest, by concern:
//! `request` (request parameters → stages), `specs` (each stage's specification), `matching`
//! (`$match`, leading and in memory), `expr` (expressions and accumulators), `stages` (running
//! them), `paths` (field paths), `compare` (numbers and MongoDB's order), `dates` and
//! `distinct`.

mod compare;
mod dates;
mod distinct;
mod expr;
mod matching;
mod paths;
mod request;
mod specs;
mod stages;
#[cfg(test)]
mod tests;

use basalt_core::error::perr;
use basalt_core::query::Filter;
use basalt_core::{ErrorCode, ParseError};
use serde_json::Value;

pub use dates::DatePart;
pub use distinct::distinct;
pub use expr::{Expr, ExprOp};
pub use matching::where_for_schema;
pub use request::parse_pipeline;
pub use stages::run;

/// A parsed pipeline: an optional leading `$match` that the caller turns into SQL, and the rest.
#[derive(Debug, Clone, PartialEq)]
pub struct Pipeline {
    /// The first stage when it is a `$match`, as a Parse `where` object with MongoDB key names
    /// already mapped (`_id` → `objectId`, …). It parses with `parse_where`; values may still
    /// use MongoDB's forms (an objectId for a Pointer, an ISO string for a Date), which
    /// [`where_for_schema`] rewrites once the class schema is known.
    pub leading_match: Option<Value>,
    /// The stages after it, run in memory by [`run`].
    pub stages: Vec<Stage>,
}

/// One stage run in memory.
#[derive(Debug, Clone, PartialEq)]
pub enum Stage {
    /// `$match` after the first stage.
    Match(Filter),
    /// `$group`.
    Group(Group),
    /// `$project` and `$unset`.
    Project(Projection),
    /// `$addFields` and `$set`: paths and the expressions that fill them.
    AddFields(Vec<(Vec<String>, Expr)>),
    /// `$replaceRoot` (`newRoot`) and `$replaceWith`.
    ReplaceRoot(Expr),
    /// `$sort`, by keys in order.
    Sort(Vec<SortKey>),
    /// `$limit`.
    Limit(usize),
    /// `$skip`.
    Skip(usize),
    /// `$unwind`.
    Unwind(Unwind),
    /// `$count`: the name of the one output field.
    Count(String),
    /// `$sample`: how many documents to pick at random.
    Sample(usize),
    /// A stage Parse's storage adapter would reject, or a `where`/`distinct` parameter listed
    /// as a stage. A `distinct` request never reads its stages, so only [`run`] reports this.
    Invalid(ParseError),
}

impl Pipeline {
    /// The error [`run`] will return whatever the documents, if any: check it before fetching.
    pub fn error(&self) -> Option<&ParseError> {
        self.stages.iter().find_map(|s| {
            if let Stage::Invalid(e) = s {
                Some(e)
            } else {
                None
            }
        })
    }
}

/// A `$group` stage: the key expression and the named accumulators.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    key: Expr,
    fields: Vec<(String, Accumulator)>,
}

/// One accumulator of a `$group`.
#[derive(Debug, Clone, PartialEq)]
pub struct Accumulator {
    op: AccOp,
    arg: Expr,
}

/// The accumulators `$group` supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccOp {
    /// `$sum`
    Sum,
    /// `$avg`
    Avg,
    /// `$min`
    Min,
    /// `$max`
    Max,
    /// `$first`
    First,
    /// `$last`
    Last,
    /// `$push`
    Push,
    /// `$addToSet`
    AddToSet,
    /// `$count`
    Count,
}

/// A `$project` or `$unset`: either the paths kept (plus computed fields) or the paths dropped.
#[derive(Debug, Clone, PartialEq)]
pub struct Projection {
    include: bool,
    keep_id: bool,
    paths: Vec<Vec<String>>,
    computed: Vec<(Vec<String>, Expr)>,
}

/// One key of a `$sort`.
#[derive(Debug, Clone, PartialEq)]
pub struct SortKey {
    path: Vec<String>,
    descending: bool,
}

/// An `$unwind` stage.
#[derive(Debug, Clone, PartialEq)]
pub struct Unwind {
    path: Vec<String>,
    index_field: Option<String>,
    preserve: bool,
}

fn bad(message: impl Into<String>) -> ParseError {
    perr(ErrorCode::InvalidQuery, message.into())
}
