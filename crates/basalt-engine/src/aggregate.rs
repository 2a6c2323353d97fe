//! Placeholder until the pipeline module lands.
use basalt_core::ParseError;
use basalt_core::value::Document;
/// A parsed pipeline.
pub struct Pipeline {
    /// leading match
    pub leading_match: Option<serde_json::Value>,
    /// rest
    pub stages: Vec<()>,
}
/// Parses.
pub fn parse_pipeline(_params: &[(String, serde_json::Value)]) -> Result<Pipeline, ParseError> {
    Ok(Pipeline {
        leading_match: None,
        stages: vec![],
    })
}
/// Runs.
pub fn run(_p: &Pipeline, docs: Vec<Document>) -> Result<Vec<serde_json::Value>, ParseError> {
    Ok(docs.into_iter().map(serde_json::Value::Object).collect())
}
/// Distinct.
pub fn distinct(_f: &str, _d: &[Document]) -> Vec<serde_json::Value> {
    vec![]
}
