//! Role resolution: the roles a user holds directly (`_Role.users`) and every role above them
//! (a role listed in another role's `roles` relation passes that role's access to its members),
//! walked level by level so cycles end.

use std::collections::BTreeSet;

use basalt_core::Result;
use basalt_core::query::{Condition, FieldPath, Filter};
use basalt_core::value::pointer;
use basalt_store::FindSpec;
use serde_json::Value;

use crate::Engine;

/// Deepest role nesting followed; deeper hierarchies are cut here rather than loop.
const MAX_ROLE_DEPTH: usize = 32;

impl Engine {
    /// Names of every role `user_id` holds, directly or through parent roles.
    pub(crate) async fn roles_of(&self, user_id: &str) -> Result<Vec<String>> {
        let schemas = self.schemas.snapshot();
        if !schemas.contains_key("_Role") {
            return Ok(vec![]);
        }
        let mut seen: BTreeSet<String> = BTreeSet::new();
        let mut names = Vec::new();
        let mut filter = Filter::Field(
            FieldPath::parse("users"),
            Condition::Eq(pointer("_User", user_id)),
        );
        for _ in 0..MAX_ROLE_DEPTH {
            let found = self
                .store
                .find(&schemas, "_Role", &FindSpec::filter(filter))
                .await?;
            let mut frontier = Vec::new();
            for role in found {
                if seen.insert(role.object_id.clone()) {
                    if let Some(name) = role.fields.get("name").and_then(Value::as_str) {
                        names.push(name.to_owned());
                    }
                    frontier.push(pointer("_Role", &role.object_id));
                }
            }
            if frontier.is_empty() {
                break;
            }
            filter = Filter::Field(FieldPath::parse("roles"), Condition::In(frontier));
        }
        Ok(names)
    }
}
