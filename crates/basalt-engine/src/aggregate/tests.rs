//! The pipeline against Parse Server's answers: request errors and forms, every stage, date
//! parts and `distinct`, over five objects shaped as the store returns them.

use std::collections::HashSet;

use basalt_core::ErrorCode;
use basalt_core::schema::FieldType;
use basalt_core::value::Document;
use serde_json::{Value, json};

use super::compare::bson_cmp;
use super::dates::{DatePart, date_from_ms, date_json, date_ms, date_part};
use super::specs::parse_group;
use super::{Pipeline, Stage, distinct, parse_pipeline, run, where_for_schema};

fn doc(v: Value) -> Document {
    v.as_object().cloned().unwrap()
}

fn u1() -> Value {
    json!({"__type": "Pointer", "className": "_User", "objectId": "u1"})
}

/// Five objects shaped as the store returns them.
fn items() -> Vec<Document> {
    let u2 = json!({"__type": "Pointer", "className": "_User", "objectId": "u2"});
    vec![
        doc(
            json!({"objectId": "A", "createdAt": "2024-01-01T10:00:00.000Z", "updatedAt": "2024-01-02T00:00:00.000Z",
            "name": "a", "score": 1, "price": 1.5, "owner": u1(), "tags": ["x", "y"], "stats": {"wins": 1},
            "when": {"__type": "Date", "iso": "2024-03-01T00:00:00.000Z"}, "ACL": {"*": {"read": true}}, "_rperm": ["*"]}),
        ),
        doc(
            json!({"objectId": "B", "createdAt": "2024-01-02T10:00:00.000Z", "updatedAt": "2024-01-02T00:00:00.000Z",
            "name": "a", "score": 2, "price": 2.5, "owner": u2, "tags": ["y"], "stats": {"wins": 2}}),
        ),
        doc(
            json!({"objectId": "C", "createdAt": "2024-02-01T10:00:00.000Z", "updatedAt": "2024-02-01T00:00:00.000Z",
            "name": "b", "score": 3, "price": 3, "owner": u1(), "tags": []}),
        ),
        doc(
            json!({"objectId": "D", "createdAt": "2024-02-02T10:00:00.000Z", "updatedAt": "2024-02-02T00:00:00.000Z",
            "name": "c", "score": 4}),
        ),
        doc(
            json!({"objectId": "E", "createdAt": "2024-03-01T10:00:00.000Z", "updatedAt": "2024-03-01T00:00:00.000Z",
            "score": 5, "tags": null}),
        ),
    ]
}

fn pipeline(stages: Value) -> Pipeline {
    parse_pipeline(&[("pipeline".to_owned(), stages)]).unwrap()
}

fn agg(stages: Value) -> Vec<Value> {
    run(&pipeline(stages), items()).unwrap()
}

/// Results sorted by their JSON text, for stages whose output order MongoDB leaves open.
fn sorted(mut results: Vec<Value>) -> Vec<Value> {
    results.sort_by_key(|v| v.to_string());
    results
}

fn err_of(params: &[(&str, Value)]) -> (ErrorCode, String) {
    let params: Vec<(String, Value)> = params
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect();
    let e = parse_pipeline(&params)
        .and_then(|p| run(&p, items()))
        .unwrap_err();
    (e.code, e.message.into_owned())
}

#[test]
fn request_errors_match_parse() {
    type Case<'a> = (Vec<(&'a str, Value)>, ErrorCode, &'a str);
    let cases: Vec<Case<'_>> = vec![
        (
            vec![("group", json!({"_id": "$name"}))],
            ErrorCode::InvalidQuery,
            "Invalid aggregate stage 'group'.",
        ),
        (
            vec![("pipeline", json!([{"$group": {"objectId": "$name"}}]))],
            ErrorCode::InvalidQuery,
            "Cannot use 'objectId' in aggregation stage $group.",
        ),
        (
            vec![("$group", json!({"n": {"$sum": 1}}))],
            ErrorCode::InvalidQuery,
            "Invalid parameter for query: group. Missing key _id",
        ),
        (
            vec![("pipeline", json!([{"$group": {"_id": null}, "$limit": 1}]))],
            ErrorCode::InvalidQuery,
            "Pipeline stages should only have one key but found $group, $limit.",
        ),
        (
            vec![("pipeline", json!([{}]))],
            ErrorCode::InvalidQuery,
            "Pipeline stages should only have one key but found .",
        ),
        (
            vec![("pipeline", json!("x"))],
            ErrorCode::InvalidQuery,
            "Invalid aggregate stage '0'.",
        ),
        (
            vec![("pipeline", json!(null))],
            ErrorCode::InvalidQuery,
            "Invalid aggregate stage 'pipeline'.",
        ),
        (
            vec![("pipeline", json!([{"$foo": 1}]))],
            ErrorCode::InvalidQuery,
            "Unrecognized pipeline stage name: '$foo'",
        ),
        (
            vec![("pipeline", json!([{"$lookup": {}}]))],
            ErrorCode::InvalidQuery,
            "The aggregate stage $lookup is not supported",
        ),
        (
            vec![("pipeline", json!([{"$limit": 0}]))],
            ErrorCode::InvalidQuery,
            "the limit must be positive",
        ),
        (
            vec![("pipeline", json!([{"$skip": -1}]))],
            ErrorCode::InvalidQuery,
            "the number to skip cannot be negative",
        ),
        (
            vec![("pipeline", json!([{"$sort": {"a": 2}}]))],
            ErrorCode::InvalidQuery,
            "$sort key ordering must be 1 (for ascending) or -1 (for descending)",
        ),
        (
            vec![("pipeline", json!([{"$count": "$n"}]))],
            ErrorCode::InvalidQuery,
            "the count field cannot be a $-prefixed path",
        ),
        (
            vec![("pipeline", json!([{"$unwind": "tags"}]))],
            ErrorCode::InvalidQuery,
            "path option to $unwind stage should be prefixed with a '$': tags",
        ),
        (
            vec![(
                "pipeline",
                json!([{"$group": {"_id": null, "n": {"$median": "$a"}}}]),
            )],
            ErrorCode::InvalidQuery,
            "unknown group operator '$median'",
        ),
        (
            vec![("pipeline", json!([{"$group": {"_id": null, "n": 1}}]))],
            ErrorCode::InvalidQuery,
            "The field 'n' must be an accumulator object",
        ),
        (
            vec![("pipeline", json!([{"$project": {"a": 1, "b": 0}}]))],
            ErrorCode::InvalidQuery,
            "Invalid $project :: caused by :: Cannot do exclusion on field b in inclusion projection",
        ),
        (
            vec![("pipeline", json!([{"$project": {"a": {"$concat": ["x"]}}}]))],
            ErrorCode::InvalidQuery,
            "Unrecognized expression '$concat'",
        ),
        (
            vec![(
                "pipeline",
                json!([{"$skip": 0}, {"$match": {"name": {"$regex": "^a"}}}]),
            )],
            ErrorCode::InvalidQuery,
            "$regex on name is only supported in a $match that is the first stage of the pipeline",
        ),
        (
            vec![("pipeline", json!([{"$match": {"bad-key": 1}}]))],
            ErrorCode::InvalidKeyName,
            "Invalid key name: bad-key",
        ),
        (
            vec![(
                "pipeline",
                json!([{"$project": {"n": {"$add": ["$name", 1]}}}]),
            )],
            ErrorCode::InvalidQuery,
            "$add only supports numeric or date types, not string",
        ),
        (
            vec![("where", json!({})), ("$limit", json!(1))],
            ErrorCode::InvalidQuery,
            "Invalid aggregate stage 'where': it is only read by a distinct request",
        ),
    ];
    for (params, code, message) in cases {
        assert_eq!(err_of(&params), (code, message.to_owned()), "{params:?}");
    }
}

#[test]
fn reads_every_request_form() {
    let group = json!({"_id": "$name"});
    let expected = vec![Stage::Group(parse_group(&group).unwrap()), Stage::Limit(2)];
    let forms: Vec<Vec<(&str, Value)>> = vec![
        vec![("pipeline", json!([{"$group": group}, {"$limit": 2}]))],
        vec![("pipeline", json!({"$group": group, "$limit": 2}))],
        vec![
            ("$group", group.clone()),
            ("$limit", json!(2)),
            ("hint", json!("idx")),
            ("rawValues", json!(false)),
        ],
        vec![
            ("pipeline", json!([{"$group": group}, {"$limit": 2}])),
            ("where", json!({"a": 1})),
            ("explain", json!(true)),
        ],
        vec![
            ("$limit", json!(9)),
            ("$group", group),
            ("$limit", json!(2.0)),
        ],
    ];
    for params in forms {
        let params: Vec<(String, Value)> =
            params.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        let p = parse_pipeline(&params).unwrap();
        // Object.assign keeps a repeated key where it first appeared.
        let stages = if params[0].0 == "$limit" {
            vec![expected[1].clone(), expected[0].clone()]
        } else {
            expected.clone()
        };
        assert_eq!(
            p,
            Pipeline {
                leading_match: None,
                stages
            },
            "{params:?}"
        );
    }
    assert_eq!(
        pipeline(json!(5)),
        Pipeline {
            leading_match: None,
            stages: vec![]
        }
    );
    // A distinct request is parsed too, but only AggregateRouter's own checks apply to it.
    let distinct = parse_pipeline(&[
        ("distinct".to_owned(), json!("name")),
        ("where".to_owned(), json!({})),
        ("$where".to_owned(), json!({"name": "bar"})),
        ("$limit".to_owned(), json!(-1)),
    ])
    .unwrap();
    assert_eq!(distinct.stages.len(), 4);
    assert_eq!(
        distinct.error().map(|e| e.message.as_ref()),
        Some("Invalid aggregate stage 'distinct': it is only read by a distinct request")
    );
    assert_eq!(pipeline(json!([{"$limit": 1}])).error(), None);
}

#[test]
fn leading_match_is_handed_to_the_store_in_parse_names() {
    let p = pipeline(
        json!([{"$match": {"_id": "A", "$or": [{"_created_at": {"$gt": "2024"}}, {"_p_owner": "u1"}]}}, {"$match": {"_id": "A"}}]),
    );
    assert_eq!(
        p.leading_match,
        Some(json!({"objectId": "A", "$or": [{"createdAt": {"$gt": "2024"}}, {"owner": "u1"}]}))
    );
    assert_eq!(p.stages.len(), 1);
    let types = |f: &str| match f {
        "owner" => Some(FieldType::Pointer("_User".to_owned())),
        "when" => Some(FieldType::Date),
        _ => None,
    };
    let m = json!({"owner": {"$in": ["u1", "_User$u2"]}, "when": {"$lt": "2024-02-01"}, "createdAt": "2024-01-01T10:00:00Z", "name": "a"});
    assert_eq!(
        where_for_schema(&m, &types),
        json!({
            "owner": {"$in": [u1(), {"__type": "Pointer", "className": "_User", "objectId": "u2"}]},
            "when": {"$lt": {"__type": "Date", "iso": "2024-02-01T00:00:00.000Z"}},
            "createdAt": {"__type": "Date", "iso": "2024-01-01T10:00:00.000Z"},
            "name": "a"
        })
    );
}

#[test]
fn group_sums_counts_and_averages() {
    let results = agg(
        json!([{"$group": {"_id": "$name", "total": {"$sum": "$score"}, "n": {"$sum": 1}, "avg": {"$avg": "$price"}, "c": {"$count": {}}}}]),
    );
    assert_eq!(
        sorted(results),
        vec![
            json!({"objectId": "a", "total": 3, "n": 2, "avg": 2, "c": 2}),
            json!({"objectId": "b", "total": 3, "n": 1, "avg": 3, "c": 1}),
            json!({"objectId": "c", "total": 4, "n": 1, "avg": null, "c": 1}),
            json!({"objectId": null, "total": 5, "n": 1, "avg": null, "c": 1}),
        ]
    );
    // Integral sums of doubles print as integers, the rest as doubles.
    assert_eq!(
        agg(json!([{"$group": {"_id": null, "p": {"$sum": "$price"}, "q": {"$sum": 0.25}}}])),
        vec![json!({"objectId": null, "p": 7, "q": 1.25})]
    );
    assert_eq!(
        run(
            &pipeline(json!([{"$group": {"_id": null, "n": {"$sum": 1}}}])),
            vec![]
        )
        .unwrap(),
        Vec::<Value>::new()
    );
}

#[test]
fn group_keys_take_parse_shapes() {
    let cases = vec![
        (json!("$owner"), vec![json!("u1"), json!("u2"), Value::Null]),
        (
            json!("$_p_owner"),
            vec![json!("u1"), json!("u2"), Value::Null],
        ),
        (json!(""), vec![Value::Null]),
        (json!({}), vec![Value::Null]),
        (json!([]), vec![Value::Null]),
        (
            json!({"n": "$name", "o": "$owner"}),
            vec![
                json!({"n": "a", "o": "u1"}),
                json!({"n": "a", "o": "u2"}),
                json!({"n": "b", "o": "u1"}),
                json!({"n": "c"}),
                Value::Null,
            ],
        ),
        (
            json!({"y": {"$year": "$createdAt"}, "m": {"$month": "$_created_at"}}),
            vec![
                json!({"y": 2024, "m": 1}),
                json!({"y": 2024, "m": 2}),
                json!({"y": 2024, "m": 3}),
            ],
        ),
        (
            json!("$when"),
            vec![
                json!({"__type": "Date", "iso": "2024-03-01T00:00:00.000Z"}),
                Value::Null,
            ],
        ),
        (
            json!("$updatedAt"),
            vec![
                json!({"__type": "Date", "iso": "2024-01-02T00:00:00.000Z"}),
                json!({"__type": "Date", "iso": "2024-02-01T00:00:00.000Z"}),
                json!({"__type": "Date", "iso": "2024-02-02T00:00:00.000Z"}),
                json!({"__type": "Date", "iso": "2024-03-01T00:00:00.000Z"}),
            ],
        ),
    ];
    for (key, expected) in cases {
        let ids: Vec<Value> = agg(json!([{"$group": {"_id": key}}, {"$sort": {"_id": 1}}]))
            .into_iter()
            .map(|r| r["objectId"].clone())
            .collect();
        let mut expected = expected;
        expected.sort_by(bson_cmp);
        let mut ids_sorted = ids.clone();
        ids_sorted.sort_by(bson_cmp);
        assert_eq!(ids_sorted, expected, "{key}");
    }
}

#[test]
fn accumulators_collect_values() {
    let results = agg(json!([
        {"$sort": {"score": 1}},
        {"$group": {"_id": null,
            "min": {"$min": "$price"}, "max": {"$max": "$name"}, "first": {"$first": "$name"}, "last": {"$last": "$name"},
            "push": {"$push": "$name"}, "set": {"$addToSet": "$name"}, "latest": {"$max": "$createdAt"},
            "owners": {"$addToSet": "$owner"}}}
    ]));
    assert_eq!(
        results,
        vec![
            json!({"objectId": null, "min": 1.5, "max": "c", "first": "a", "last": null,
            "push": ["a", "a", "b", "c"], "set": ["a", "b", "c"],
            "latest": {"__type": "Date", "iso": "2024-03-01T10:00:00.000Z"},
            "owners": [u1(), {"__type": "Pointer", "className": "_User", "objectId": "u2"}]})
        ]
    );
}

#[test]
fn project_includes_excludes_and_computes() {
    let cases = vec![
        (json!({"name": 1}), json!({"objectId": "A", "name": "a"})),
        (
            json!({"_id": 0, "createdAt": 1, "stats.wins": 1}),
            json!({"createdAt": "2024-01-01T10:00:00.000Z", "stats": {"wins": 1}}),
        ),
        (
            json!({"objectId": 0, "stats": {"wins": 1}}),
            json!({"stats": {"wins": 1}}),
        ),
        (
            json!({"tags": 0, "owner": 0, "when": 0, "createdAt": 0, "updatedAt": 0, "price": 0}),
            json!({"objectId": "A", "name": "a", "score": 1, "stats": {"wins": 1}}),
        ),
        (
            json!({"total": {"$multiply": ["$score", "$price"]}, "c": "$createdAt", "half": {"$divide": ["$score", 2]}, "lit": {"$literal": "$x"}}),
            json!({"objectId": "A", "total": 1.5, "c": {"__type": "Date", "iso": "2024-01-01T10:00:00.000Z"}, "half": 0.5, "lit": "$x"}),
        ),
        (
            json!({"_id": "$name", "s": {"$add": ["$score", 1]}}),
            json!({"objectId": "a", "s": 2}),
        ),
    ];
    for (spec, expected) in cases {
        let results = agg(json!([{"$sort": {"score": 1}}, {"$limit": 1}, {"$project": spec}]));
        assert_eq!(results, vec![expected], "{spec}");
    }
}

#[test]
fn sort_skip_and_limit() {
    let ids = |stages: Value| -> Vec<Value> {
        agg(stages)
            .into_iter()
            .map(|r| r["objectId"].clone())
            .collect()
    };
    assert_eq!(
        ids(json!([{"$sort": {"score": -1}}, {"$skip": 1}, {"$limit": 2}])),
        vec![json!("D"), json!("C")]
    );
    assert_eq!(
        ids(json!([{"$sort": {"name": 1}}])),
        vec![json!("E"), json!("A"), json!("B"), json!("C"), json!("D")]
    );
    assert_eq!(
        ids(json!([{"$sort": {"createdAt": -1}}, {"$limit": 1}])),
        vec![json!("E")]
    );
    // Arrays sort by their smallest element ascending, largest descending.
    assert_eq!(
        ids(json!([{"$sort": {"tags": -1}}, {"$limit": 2}])),
        vec![json!("A"), json!("B")]
    );
}

#[test]
fn unwind_forms() {
    let tags = |spec: Value| -> Vec<(Value, Value, Value)> {
        agg(json!([{"$sort": {"score": 1}}, {"$unwind": spec}]))
            .into_iter()
            .map(|r| {
                (
                    r["objectId"].clone(),
                    r.get("tags").cloned().unwrap_or(json!("MISSING")),
                    r.get("i").cloned().unwrap_or(json!("-")),
                )
            })
            .collect()
    };
    assert_eq!(
        tags(json!("$tags")),
        vec![
            (json!("A"), json!("x"), json!("-")),
            (json!("A"), json!("y"), json!("-")),
            (json!("B"), json!("y"), json!("-"))
        ]
    );
    assert_eq!(
        tags(
            json!({"path": "$tags", "includeArrayIndex": "i", "preserveNullAndEmptyArrays": true})
        ),
        vec![
            (json!("A"), json!("x"), json!(0)),
            (json!("A"), json!("y"), json!(1)),
            (json!("B"), json!("y"), json!(0)),
            (json!("C"), json!("MISSING"), json!(null)),
            (json!("D"), json!("MISSING"), json!(null)),
            (json!("E"), json!(null), json!(null)),
        ]
    );
    assert_eq!(
        agg(json!([{"$unwind": "$score"}, {"$count": "n"}])),
        vec![json!({"n": 5})]
    );
}

#[test]
fn count_and_sample() {
    assert_eq!(agg(json!([{"$count": "total"}])), vec![json!({"total": 5})]);
    assert_eq!(
        run(&pipeline(json!([{"$count": "total"}])), vec![]).unwrap(),
        Vec::<Value>::new()
    );
    let picked = agg(json!([{"$sample": {"size": 3}}]));
    assert_eq!(picked.len(), 3);
    let ids: HashSet<String> = picked.iter().map(|r| r["objectId"].to_string()).collect();
    assert_eq!(ids.len(), 3);
    assert_eq!(agg(json!([{"$sample": {"size": 50}}])).len(), 5);
}

#[test]
fn match_in_memory() {
    let cases = vec![
        (json!({"name": "a"}), vec!["A", "B"]),
        (json!({"score": {"$gt": 1, "$lte": 3}}), vec!["B", "C"]),
        (json!({"score": {"$gte": "2"}}), vec![]),
        (json!({"name": {"$ne": "a"}}), vec!["C", "D", "E"]),
        (json!({"name": {"$in": [null, "c"]}}), vec!["D", "E"]),
        (json!({"name": {"$nin": ["a", "b"]}}), vec!["D", "E"]),
        (json!({"name": null}), vec!["E"]),
        (json!({"tags": {"$exists": false}}), vec!["D"]),
        (json!({"tags": "y"}), vec!["A", "B"]),
        (json!({"tags": {"$all": ["x", "y"]}}), vec!["A"]),
        (json!({"owner": "u1"}), vec!["A", "C"]),
        (json!({"owner": u1()}), vec!["A", "C"]),
        (json!({"_id": "B"}), vec!["B"]),
        (json!({"stats.wins": {"$gte": 2}}), vec!["B"]),
        (
            json!({"createdAt": {"$gte": "2024-02-01T00:00:00.000Z"}}),
            vec!["C", "D", "E"],
        ),
        (
            json!({"createdAt": {"$lt": {"__type": "Date", "iso": "2024-01-02T10:00:00.000Z"}}}),
            vec!["A"],
        ),
        (json!({"when": "2024-03-01T00:00:00Z"}), vec!["A"]),
        (
            json!({"$or": [{"score": {"$lt": 2}}, {"name": "c"}]}),
            vec!["A", "D"],
        ),
        (
            json!({"$and": [{"score": {"$gt": 1}}, {"price": {"$exists": true}}]}),
            vec!["B", "C"],
        ),
        (
            json!({"$nor": [{"name": "a"}, {"score": 5}]}),
            vec!["C", "D"],
        ),
        (json!({"price": 3.0}), vec!["C"]),
    ];
    for (m, expected) in cases {
        let ids: Vec<Value> = agg(json!([{"$skip": 0}, {"$match": m}]))
            .into_iter()
            .map(|r| r["objectId"].clone())
            .collect();
        let expected: Vec<Value> = expected.into_iter().map(Value::from).collect();
        assert_eq!(ids, expected, "{m}");
    }
    // After a $group, `_id` and `objectId` both name the key.
    let after_group = agg(
        json!([{"$group": {"_id": "$name", "n": {"$sum": 1}}}, {"$match": {"_id": "a", "n": {"$gt": 1}}}]),
    );
    assert_eq!(after_group, vec![json!({"objectId": "a", "n": 2})]);
}

#[test]
fn results_hide_internal_keys() {
    let results = agg(json!([{"$sort": {"score": 1}}, {"$limit": 1}]));
    let first = results[0].as_object().unwrap();
    assert_eq!(first.get("ACL"), None);
    assert_eq!(first.get("_rperm"), None);
    assert_eq!(first["createdAt"], json!("2024-01-01T10:00:00.000Z"));
    assert_eq!(first["owner"], u1());
    let renamed = agg(
        json!([{"$group": {"_id": null, "createdAt": {"$max": "$createdAt"}, "_x": {"$sum": 1}}}]),
    );
    assert_eq!(
        renamed,
        vec![json!({"objectId": null, "createdAt": "2024-03-01T10:00:00.000Z"})]
    );
}

#[test]
fn other_stages() {
    let cases = vec![
        (
            json!([{"$sortByCount": "$name"}, {"$limit": 1}]),
            vec![json!({"objectId": "a", "count": 2})],
        ),
        (
            json!([{"$match": {"_id": "A"}}, {"$addFields": {"double": {"$multiply": ["$score", 2]}, "stats.losses": 0}}, {"$project": {"double": 1, "stats": 1}}]),
            vec![json!({"objectId": "A", "double": 2, "stats": {"wins": 1, "losses": 0}})],
        ),
        (
            json!([{"$match": {"_id": "A"}}, {"$replaceRoot": {"newRoot": "$stats"}}]),
            vec![json!({"wins": 1})],
        ),
        (
            json!([{"$match": {"_id": "D"}}, {"$unset": ["createdAt", "updatedAt", "_id"]}]),
            vec![json!({"name": "c", "score": 4})],
        ),
        (
            json!([{"$match": {"_id": "A"}}, {"$project": {"age": {"$subtract": ["$updatedAt", "$createdAt"]}, "later": {"$add": ["$createdAt", 86_400_000]}, "_id": 0}}]),
            vec![
                json!({"age": 50_400_000, "later": {"__type": "Date", "iso": "2024-01-02T10:00:00.000Z"}}),
            ],
        ),
        (
            json!([{"$match": {"_id": "A"}}, {"$project": {"r": "$$ROOT.name", "m": {"$mod": [7, 4]}, "_id": 0}}]),
            vec![json!({"r": "a", "m": 3})],
        ),
    ];
    for (stages, expected) in cases {
        // The leading $match is the store's job; here the documents arrive filtered.
        let p = pipeline(stages.clone());
        let filtered: Vec<Document> = items()
            .into_iter()
            .filter(|d| {
                p.leading_match
                    .as_ref()
                    .is_none_or(|m| m["objectId"] == d["objectId"])
            })
            .collect();
        assert_eq!(run(&p, filtered).unwrap(), expected, "{stages}");
    }
}

#[test]
fn date_parts_follow_the_calendar() {
    let cases = vec![
        // 2021-01-01 is a Friday in ISO week 53 of 2020.
        (
            "2021-01-01T05:06:07.089Z",
            vec![
                ("$year", 2021),
                ("$month", 1),
                ("$dayOfMonth", 1),
                ("$hour", 5),
                ("$minute", 6),
                ("$second", 7),
                ("$millisecond", 89),
                ("$dayOfYear", 1),
                ("$dayOfWeek", 6),
                ("$isoDayOfWeek", 5),
                ("$week", 0),
                ("$isoWeek", 53),
                ("$isoWeekYear", 2020),
            ],
        ),
        // 2024-12-30 is a Monday in ISO week 1 of 2025; 2024 is a leap year.
        (
            "2024-12-30T00:00:00.000Z",
            vec![
                ("$dayOfYear", 365),
                ("$dayOfWeek", 2),
                ("$week", 52),
                ("$isoWeek", 1),
                ("$isoWeekYear", 2025),
            ],
        ),
        (
            "2023-01-01T00:00:00.000Z",
            vec![
                ("$dayOfWeek", 1),
                ("$week", 1),
                ("$isoWeek", 52),
                ("$isoWeekYear", 2022),
            ],
        ),
    ];
    for (iso, parts) in cases {
        let date = date_json(iso);
        for (name, expected) in parts {
            let part = DatePart::from_name(name).unwrap();
            assert_eq!(
                date_part(part, &date).unwrap(),
                json!(expected),
                "{iso} {name}"
            );
        }
        assert_eq!(date_from_ms(date_ms(&date).unwrap()), date, "{iso}");
    }
    assert_eq!(
        date_part(DatePart::Year, &json!(5)).unwrap_err().message,
        "can't convert from BSON type int to Date"
    );
}

#[test]
fn distinct_values() {
    let cases = vec![
        ("name", vec![json!("a"), json!("b"), json!("c")]),
        (
            "score",
            vec![json!(1), json!(2), json!(3), json!(4), json!(5)],
        ),
        ("tags", vec![json!("x"), json!("y")]),
        ("stats.wins", vec![json!(1), json!(2)]),
        (
            "owner",
            vec![
                u1(),
                json!({"__type": "Pointer", "className": "_User", "objectId": "u2"}),
            ],
        ),
        (
            "when",
            vec![json!({"__type": "Date", "iso": "2024-03-01T00:00:00.000Z"})],
        ),
        (
            "updatedAt",
            vec![
                json!({"__type": "Date", "iso": "2024-01-02T00:00:00.000Z"}),
                json!({"__type": "Date", "iso": "2024-02-01T00:00:00.000Z"}),
                json!({"__type": "Date", "iso": "2024-02-02T00:00:00.000Z"}),
                json!({"__type": "Date", "iso": "2024-03-01T00:00:00.000Z"}),
            ],
        ),
        (
            "objectId",
            vec![json!("A"), json!("B"), json!("C"), json!("D"), json!("E")],
        ),
        ("nothing", vec![]),
    ];
    for (field, expected) in cases {
        assert_eq!(distinct(field, &items()), expected, "{field}");
    }
    let mixed = [
        doc(json!({"v": 2})),
        doc(json!({"v": 2.0})),
        doc(json!({"v": "2"})),
        doc(json!({"v": null})),
        doc(json!({"v": true})),
    ];
    assert_eq!(
        distinct("v", &mixed),
        vec![json!(2), json!("2"), json!(true)]
    );
}
