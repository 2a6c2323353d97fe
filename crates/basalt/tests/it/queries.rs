//! Queries over REST: operators, ordering, paging, counting, includes and projections.

use serde_json::{Value, json};

use crate::support::TestServer;

fn names(v: &Value) -> Vec<String> {
    v["results"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|o| o["name"].as_str().map(str::to_owned))
        .collect()
}

async fn seeded() -> anyhow::Result<TestServer> {
    let s = TestServer::start().await?;
    for (name, score, tags, loc) in [
        ("ann", 10, json!(["red", "blue"]), (37.77, -122.41)),
        ("bob", 20, json!(["blue"]), (34.05, -118.24)),
        ("cat", 30, json!([]), (40.71, -74.00)),
        ("dan", 40, json!(["red"]), (51.50, -0.12)),
    ] {
        let (status, _) = s
            .create("P", json!({"name": name, "score": score, "tags": tags, "stats": {"wins": score / 10},
                                "loc": {"__type": "GeoPoint", "latitude": loc.0, "longitude": loc.1}}))
            .await?;
        assert_eq!(status, 201);
    }
    Ok(s)
}

#[tokio::test]
async fn operator_table() -> anyhow::Result<()> {
    let s = seeded().await?;
    let cases: Vec<(Value, Vec<&str>)> = vec![
        (
            json!({"score": {"$gt": 15, "$lte": 30}}),
            vec!["bob", "cat"],
        ),
        (json!({"score": {"$in": [10, 40]}}), vec!["ann", "dan"]),
        (json!({"score": {"$nin": [10, 40]}}), vec!["bob", "cat"]),
        (json!({"score": {"$ne": 10}}), vec!["bob", "cat", "dan"]),
        (json!({"tags": "red"}), vec!["ann", "dan"]),
        (json!({"tags": {"$all": ["red", "blue"]}}), vec!["ann"]),
        (
            json!({"tags": {"$containedBy": ["blue"]}}),
            vec!["bob", "cat"],
        ),
        (json!({"name": {"$regex": "^[ab]"}}), vec!["ann", "bob"]),
        (
            json!({"name": {"$regex": "^\\QA\\E", "$options": "i"}}),
            vec!["ann"],
        ),
        (json!({"stats.wins": {"$gte": 3}}), vec!["cat", "dan"]),
        (
            json!({"missing": {"$exists": false}}),
            vec!["ann", "bob", "cat", "dan"],
        ),
        (
            json!({"$or": [{"name": "ann"}, {"score": 40}]}),
            vec!["ann", "dan"],
        ),
        (
            json!({"$nor": [{"name": "ann"}, {"score": 40}]}),
            vec!["bob", "cat"],
        ),
        (
            json!({"loc": {"$within": {"$box": [{"__type": "GeoPoint", "latitude": 30, "longitude": -125},
                                             {"__type": "GeoPoint", "latitude": 38, "longitude": -110}]}}}),
            vec!["ann", "bob"],
        ),
        (
            json!({"loc": {"$nearSphere": {"__type": "GeoPoint", "latitude": 37.0, "longitude": -122.0},
                        "$maxDistanceInKilometers": 700}}),
            vec!["ann", "bob"],
        ),
    ];
    for (where_, expected) in cases {
        let (status, body) = s.query("P", where_.clone(), &[("order", "name")]).await?;
        assert_eq!(status, 200, "{where_}: {body}");
        assert_eq!(names(&body), expected, "{where_}");
    }
    Ok(())
}

#[tokio::test]
async fn order_limit_skip_count_keys() -> anyhow::Result<()> {
    let s = seeded().await?;

    let (_, body) = s
        .query(
            "P",
            json!({}),
            &[
                ("order", "-score"),
                ("limit", "2"),
                ("skip", "1"),
                ("count", "1"),
                ("keys", "name"),
            ],
        )
        .await?;

    assert_eq!(body["count"], 4);
    assert_eq!(names(&body), vec!["cat", "bob"]);
    let first = &body["results"][0];
    assert!(
        first.get("score").is_none(),
        "keys limits the fields: {first}"
    );
    assert!(first.get("objectId").is_some() && first.get("createdAt").is_some());
    Ok(())
}

#[tokio::test]
async fn near_sphere_sorts_by_distance() -> anyhow::Result<()> {
    let s = seeded().await?;

    let (_, body) = s.query("P", json!({"loc": {"$nearSphere": {"__type": "GeoPoint", "latitude": 51.0, "longitude": 0.0}}}), &[]).await?;

    assert_eq!(
        names(&body),
        vec!["dan", "cat", "ann", "bob"],
        "San Francisco is nearer London than Los Angeles is"
    );
    Ok(())
}

#[tokio::test]
async fn include_expands_pointers_and_in_query_follows_them() -> anyhow::Result<()> {
    let s = TestServer::start().await?;
    let (_, team) = s.create("Team", json!({"title": "reds"})).await?;
    let team_ptr = json!({"__type": "Pointer", "className": "Team", "objectId": team["objectId"]});
    s.create("Player", json!({"name": "ann", "team": team_ptr}))
        .await?;
    s.create("Player", json!({"name": "bob"})).await?;

    let (_, with) = s
        .query(
            "Player",
            json!({"team": {"$inQuery": {"className": "Team", "where": {"title": "reds"}}}}),
            &[("include", "team")],
        )
        .await?;

    assert_eq!(names(&with), vec!["ann"]);
    let included = &with["results"][0]["team"];
    assert_eq!(included["__type"], "Object");
    assert_eq!(included["className"], "Team");
    assert_eq!(included["title"], "reds");
    let (_, without) = s
        .query(
            "Player",
            json!({"team": {"$notInQuery": {"className": "Team", "where": {"title": "reds"}}}}),
            &[],
        )
        .await?;
    assert_eq!(names(&without), vec!["bob"]);
    Ok(())
}

#[tokio::test]
async fn relations_link_and_query_with_related_to() -> anyhow::Result<()> {
    let s = TestServer::start().await?;
    let (_, a) = s.create("Tag", json!({"name": "a"})).await?;
    let (_, b) = s.create("Tag", json!({"name": "b"})).await?;
    let ptr =
        |o: &Value| json!({"__type": "Pointer", "className": "Tag", "objectId": o["objectId"]});
    let (_, post) = s
        .create(
            "Post",
            json!({"tags": {"__op": "AddRelation", "objects": [ptr(&a), ptr(&b)]}}),
        )
        .await?;
    let post_id = post["objectId"].as_str().unwrap_or_default().to_owned();
    s.request(
        reqwest::Method::PUT,
        &format!("/classes/Post/{post_id}"),
        Some(json!({"tags": {"__op": "RemoveRelation", "objects": [ptr(&a)]}})),
        false,
    )
    .await?;

    let (_, related) = s.query("Tag", json!({"$relatedTo": {"object": {"__type": "Pointer", "className": "Post", "objectId": post_id}, "key": "tags"}}), &[]).await?;

    assert_eq!(names(&related), vec!["b"]);
    let (_, got) = s.get(&format!("/classes/Post/{post_id}")).await?;
    assert_eq!(
        got["tags"],
        json!({"__type": "Relation", "className": "Tag"})
    );
    Ok(())
}
