//! `/schemas`: master key only; classes, fields and indexes.

use reqwest::Method;
use serde_json::json;

use crate::support::TestServer;

#[tokio::test]
async fn schema_routes_need_the_master_key() -> anyhow::Result<()> {
    let s = TestServer::start().await?;

    let (status, body) = s.get("/schemas").await?;

    assert_eq!((status, body), (403, json!({"error": "Permission denied"})));
    Ok(())
}

#[tokio::test]
async fn create_class_add_index_delete_field_drop_class() -> anyhow::Result<()> {
    let s = TestServer::start().await?;

    let (status, created) = s
        .request(Method::POST, "/schemas/Score", Some(json!({"fields": {"points": {"type": "Number"}, "who": {"type": "Pointer", "targetClass": "_User"}}})), true)
        .await?;
    assert_eq!(status, 200, "{created}");
    assert_eq!(
        created["fields"]["who"],
        json!({"type": "Pointer", "targetClass": "_User"})
    );

    let (status, with_index) = s
        .request(
            Method::PUT,
            "/schemas/Score",
            Some(json!({"indexes": {"points_1": {"points": 1}}})),
            true,
        )
        .await?;
    assert_eq!(status, 200);
    assert_eq!(with_index["indexes"]["points_1"], json!({"points": 1}));

    s.create("Score", json!({"points": 3})).await?;
    let (status, refused) = s
        .request(Method::DELETE, "/schemas/Score", None, true)
        .await?;
    assert_eq!(status, 400);
    assert_eq!(refused["code"], 255);

    let (status, dropped_field) = s
        .request(
            Method::PUT,
            "/schemas/Score",
            Some(json!({"fields": {"points": {"__op": "Delete"}}})),
            true,
        )
        .await?;
    assert_eq!(status, 200);
    assert!(dropped_field["fields"].get("points").is_none());
    assert!(
        dropped_field["indexes"].get("points_1").is_none(),
        "an index on a deleted field goes too"
    );
    let (_, objects) = s.query("Score", json!({}), &[]).await?;
    assert!(
        objects["results"][0].get("points").is_none(),
        "values of a deleted field are removed"
    );

    s.request(Method::DELETE, "/purge/Score", None, true)
        .await?;
    let (status, _) = s
        .request(Method::DELETE, "/schemas/Score", None, true)
        .await?;
    assert_eq!(status, 200);
    let (status, missing) = s.request(Method::GET, "/schemas/Score", None, true).await?;
    assert_eq!((status, missing["code"].clone()), (400, json!(103)));
    Ok(())
}
