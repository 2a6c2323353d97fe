//! `aggregate` and `distinct` over a class: a leading `$match` (or `where`) runs in the store as
//! SQL; the remaining stages run in memory over what it returns (see `aggregate`).

use basalt_core::names::validate_class_name;
use basalt_core::query::parse_where;
use basalt_core::{ErrorCode, ParseError, Result};
use basalt_store::FindSpec;
use serde_json::Value;

use crate::aggregate::{distinct, parse_pipeline, run, where_for_schema};
use crate::output::to_json;
use crate::{AuthContext, Engine};

impl Engine {
    /// Runs `/aggregate`: `distinct` (with an optional `where`) or a pipeline.
    pub async fn aggregate(
        &self,
        auth: &AuthContext,
        class: &str,
        params: &[(String, Value)],
    ) -> Result<Vec<Value>> {
        if !auth.reads_all() {
            return Err(ParseError::new(
                ErrorCode::OperationForbidden,
                "aggregate needs the master key",
            )
            .into());
        }
        validate_class_name(class)?;
        let mut where_ = Value::Null;
        let mut distinct_field: Option<String> = None;
        let mut stages = Vec::new();
        for (k, v) in params {
            match k.as_str() {
                "where" => where_ = v.clone(),
                "distinct" => {
                    distinct_field = Some(v.as_str().map_or_else(|| v.to_string(), str::to_owned));
                }
                _ => stages.push((k.clone(), v.clone())),
            }
        }
        if let Some(field) = distinct_field {
            let docs = self.matching_docs(class, &where_).await?;
            return Ok(distinct(&field, &docs));
        }
        let pipeline = parse_pipeline(&stages)?;
        if let Some(e) = pipeline.error() {
            return Err(e.clone().into());
        }
        let where_ = match &pipeline.leading_match {
            Some(m) => self.where_for_class(class, m),
            None => Value::Null,
        };
        let docs = self.matching_docs(class, &where_).await?;
        Ok(run(&pipeline, docs)?)
    }

    /// A leading `$match` as a `where` the store can compile: on the class's Pointer and Date
    /// fields, an objectId or an ISO string becomes the Pointer or Date it stands for.
    fn where_for_class(&self, class: &str, m: &Value) -> Value {
        let schema = self.schemas.snapshot().get(class).cloned();
        where_for_schema(m, &|field| schema.as_ref()?.field_type(field).cloned())
    }

    async fn matching_docs(
        &self,
        class: &str,
        where_: &Value,
    ) -> Result<Vec<basalt_core::value::Document>> {
        let filter = parse_where(where_)?;
        let schemas = self.schemas.snapshot();
        let found = self
            .store
            .find(&schemas, class, &FindSpec::filter(filter))
            .await?;
        let schema = schemas.get(class).cloned();
        Ok(found
            .into_iter()
            .map(|o| {
                let mut doc = to_json(schema.as_deref(), o, self.config.file_url_base.as_deref());
                // Even the master key's analytics never see password hashes or token hashes.
                doc.retain(|k, _| !k.starts_with('_'));
                if class == "_Session" {
                    doc.remove("sessionToken");
                }
                doc
            })
            .collect())
    }
}
