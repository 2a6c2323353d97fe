use std::borrow::Cow;
use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::*;
use crate::query::cases::{self, Case, World};
use crate::query::text::text_matches;
use crate::query::{TextSearch, parse_where};
use crate::value::{normalize, type_of};

/// The regex crate behind the matcher's seam, as basalt-realtime will provide it.
struct Re;

impl RegexEngine for Re {
    fn is_match(&self, source: &str, text: &str) -> Option<bool> {
        regex::Regex::new(source).ok().map(|r| r.is_match(text))
    }
}

/// Answers sub-queries by running the matcher over the world's objects and the case's players.
struct Memory<'a> {
    world: &'a World,
    players: &'a [Document],
}

impl Memory<'_> {
    fn schema(&self, class: &str) -> Option<&ClassSchema> {
        self.world.schemas.iter().find(|s| s.class_name == class)
    }

    fn objects(&self, class: &str) -> Vec<&Document> {
        let others = self
            .world
            .objects
            .iter()
            .filter(|(c, _)| *c == class)
            .map(|(_, o)| o);
        let players = self.players.iter().filter(|_| class == cases::CLASS);
        others.chain(players).collect()
    }
}

impl SubQueryResolver for Memory<'_> {
    fn select_values(&self, query: &SubQuery, key: &str) -> Option<Cow<'_, [Value]>> {
        let schema = self.schema(&query.class)?;
        let matcher = Matcher::new(&Re).with_sub_queries(self);
        let key = FieldPath::parse(key);
        let values = self
            .objects(&query.class)
            .into_iter()
            .filter(|o| matcher.matches(&query.filter, o, schema))
            .filter_map(|o| lookup(o, &key).filter(|v| !v.is_null()).cloned())
            .collect();
        Some(Cow::Owned(values))
    }

    fn related_ids(&self, class: &str, object_id: &str, key: &str) -> Option<Cow<'_, [String]>> {
        let ids = self
            .world
            .relations
            .iter()
            .filter(|r| r.owner_class == class && r.owner_id == object_id && r.field == key)
            .flat_map(|r| r.related_ids.iter().map(|id| (*id).to_owned()))
            .collect();
        Some(Cow::Owned(ids))
    }
}

fn matching_ids(case: &Case, resolver: &dyn SubQueryResolver) -> Result<BTreeSet<String>, String> {
    let filter = parse_where(&case.where_).map_err(|e| format!("does not parse: {}", e.message))?;
    let schema = cases::schema();
    let matcher = Matcher::new(&Re).with_sub_queries(resolver);
    let mut ids = BTreeSet::new();
    for object in &case.objects {
        let id = object
            .get("objectId")
            .and_then(Value::as_str)
            .unwrap_or_default();
        match matcher.evaluate(&filter, object, &schema) {
            Some(true) => {
                ids.insert(id.to_owned());
            }
            Some(false) => {}
            None => return Err(format!("undecided for {id}")),
        }
    }
    Ok(ids)
}

fn failures(run: impl Fn(&Case) -> Result<BTreeSet<String>, String>) -> Vec<String> {
    let mut failed = Vec::new();
    for case in cases::cases() {
        let want: BTreeSet<String> = case.expect.iter().map(|s| (*s).to_owned()).collect();
        match run(&case) {
            Ok(got) if got == want => {}
            Ok(got) => failed.push(format!("{}: expected {want:?}, got {got:?}", case.name)),
            Err(e) => failed.push(format!("{}: {e}", case.name)),
        }
    }
    failed
}

#[test]
fn every_case_matches_exactly_its_expected_objects() {
    let world = cases::world();

    let failed = failures(|case| {
        matching_ids(
            case,
            &Memory {
                world: &world,
                players: &case.objects,
            },
        )
    });

    assert!(
        failed.is_empty(),
        "{} failing cases:\n{}",
        failed.len(),
        failed.join("\n")
    );
}

#[test]
fn answers_computed_from_sub_queries_give_the_same_results() {
    let world = cases::world();

    let failed = failures(|case| {
        let memory = Memory {
            world: &world,
            players: &case.objects,
        };
        let mut answers = SubQueryAnswers::new();
        let filter = parse_where(&case.where_).unwrap();
        for need in sub_queries(&filter) {
            match need {
                SubQueryNeed::Select { query, key } => {
                    let values = memory.select_values(query, key).unwrap().into_owned();
                    answers.answer_select(query, key, values);
                }
                SubQueryNeed::Related {
                    class,
                    object_id,
                    key,
                } => {
                    let ids = memory.related_ids(class, object_id, key).unwrap();
                    answers.answer_related(class, object_id, key, ids.into_owned());
                }
            }
        }
        matching_ids(case, &answers)
    });

    assert!(
        failed.is_empty(),
        "{} failing cases:\n{}",
        failed.len(),
        failed.join("\n")
    );
}

#[test]
fn the_table_is_large_and_well_formed() {
    let all = cases::cases();
    let known: BTreeSet<String> = cases::players()
        .iter()
        .filter_map(|p| p.get("objectId").and_then(Value::as_str).map(str::to_owned))
        .collect();

    let names: BTreeSet<&str> = all.iter().map(|c| c.name).collect();

    assert!(all.len() >= 60, "only {} cases", all.len());
    assert_eq!(names.len(), all.len(), "case names must be unique");
    for case in &all {
        for id in case.expect {
            assert!(known.contains(*id), "{}: unknown id {id}", case.name);
        }
    }
}

#[test]
fn fixture_objects_are_canonical_and_fit_their_schema() {
    let world = cases::world();
    let players = cases::players();
    let objects = players
        .iter()
        .map(|p| (cases::CLASS, p))
        .chain(world.objects.iter().map(|(c, o)| (*c, o)));

    for (class, object) in objects {
        let schema = world
            .schemas
            .iter()
            .find(|s| s.class_name == class)
            .unwrap();
        for (key, value) in object {
            if matches!(key.as_str(), "objectId" | "createdAt" | "updatedAt" | "ACL") {
                continue;
            }
            let declared = schema
                .field_type(key)
                .unwrap_or_else(|| panic!("{class}.{key}"));
            if let Some(actual) = type_of(value).unwrap() {
                assert_eq!(&actual, declared, "{class}.{key}");
            }
            let mut canonical = value.clone();
            normalize(&mut canonical).unwrap();
            assert_eq!(&canonical, value, "{class}.{key} is not in stored form");
        }
    }
}

#[test]
fn unknown_sub_query_results_leave_the_answer_undecided() {
    let schema = cases::schema();
    let alice = &cases::players()[0];
    let in_query = parse_where(&json!({"team": {"$inQuery": {"className": "Team"}}})).unwrap();
    let nor = Filter::Nor(vec![in_query.clone()]);
    let or_true = Filter::Or(vec![in_query.clone(), Filter::All]);
    let and_false = Filter::And(vec![in_query.clone(), Filter::Nor(vec![Filter::All])]);
    let matcher = Matcher::new(&Re);

    assert_eq!(matcher.evaluate(&in_query, alice, &schema), None);
    assert_eq!(matcher.evaluate(&nor, alice, &schema), None);
    assert_eq!(matcher.evaluate(&or_true, alice, &schema), Some(true));
    assert_eq!(matcher.evaluate(&and_false, alice, &schema), Some(false));
    assert!(!matches(&in_query, alice, &schema, &Re));
    assert!(!matches(&nor, alice, &schema, &Re));
}

#[test]
fn an_invalid_pattern_is_undecided_even_on_a_missing_field() {
    let schema = cases::schema();
    let frank = &cases::players()[5];
    let filter = parse_where(&json!({"bio": {"$regex": "("}})).unwrap();

    assert_eq!(Matcher::new(&Re).evaluate(&filter, frank, &schema), None);
}

#[test]
fn regex_sources_are_listed_once_with_their_flags() {
    let filter = parse_where(&json!({
        "name": {"$regex": "\\Qa.b\\E", "$options": "ixi"},
        "$or": [{"bio": {"$regex": "^x"}}, {"hometown": {"$regex": "^x"}}],
        "team": {"$inQuery": {"className": "Team", "where": {"name": {"$regex": "inner"}}}}
    }))
    .unwrap();

    let sources: BTreeSet<String> = regex_sources(&filter).into_iter().collect();

    let want: BTreeSet<String> = ["(?ix)a\\.b", "^x"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    assert_eq!(sources, want);
}

#[test]
fn sub_queries_are_listed_once_and_not_from_inside_other_sub_queries() {
    let filter = parse_where(&json!({
        "team": {"$inQuery": {"className": "Team", "where":
            {"captain": {"$inQuery": {"className": "Player"}}}}},
        "$or": [
            {"hometown": {"$select": {"query": {"className": "Team"}, "key": "city"}}},
            {"hometown": {"$dontSelect": {"query": {"className": "Team"}, "key": "city"}}}
        ],
        "$relatedTo": {"object": {"__type": "Pointer", "className": "Team", "objectId": "t"},
                       "key": "members"}
    }))
    .unwrap();

    let needs = sub_queries(&filter);

    assert_eq!(needs.len(), 3, "{needs:?}");
    assert!(needs.contains(&SubQueryNeed::Related {
        class: "Team",
        object_id: "t",
        key: "members"
    }));
    assert!(needs.iter().any(|n| matches!(
        n,
        SubQueryNeed::Select {
            key: "objectId",
            ..
        }
    )));
    assert!(
        needs
            .iter()
            .any(|n| matches!(n, SubQueryNeed::Select { key: "city", .. }))
    );
}

#[test]
fn text_search_semantics() {
    let search = |term: &str, case: bool, diacritic: bool| TextSearch {
        term: term.to_owned(),
        case_sensitive: case,
        diacritic_sensitive: diacritic,
    };

    assert!(text_matches(
        "The Quick brown fox",
        &search("quick", false, false)
    ));
    assert!(!text_matches(
        "The Quick brown fox",
        &search("quick", true, false)
    ));
    assert!(text_matches("café au lait", &search("cafe", false, false)));
    assert!(!text_matches("café au lait", &search("cafe", false, true)));
    assert!(text_matches("brown fox", &search("cat fox", false, false)));
    assert!(!text_matches(
        "brown fox",
        &search("fox -brown", false, false)
    ));
    assert!(text_matches(
        "a brown fox",
        &search("\"brown fox\"", false, false)
    ));
    assert!(!text_matches(
        "a fox brown",
        &search("\"brown fox\"", false, false)
    ));
}
