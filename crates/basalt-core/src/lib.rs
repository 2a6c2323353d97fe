//! Parse's data model without I/O: error codes, validated names and ids, dates, schema types,
//! the `where` query AST and update operators. Nothing here knows HTTP, SQL or async.

pub mod error;
pub mod names;
pub mod ops;
pub mod query;
pub mod schema;
pub mod time;
pub mod value;

pub use error::{Error, ErrorCode, ParseError, Result};
