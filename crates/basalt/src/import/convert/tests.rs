use serde_json::json;

use super::*;

fn schema_entry() -> Value {
    // As Parse Server 9 stores it in `_SCHEMA.schema` (internal fields included).
    json!({
        "className": "Place",
        "fields": {
            "objectId": {"type": "String"}, "createdAt": {"type": "Date"},
            "updatedAt": {"type": "Date"}, "ACL": {"type": "ACL"},
            "_rperm": {"type": "Array", "contents": {"type": "String"}},
            "_wperm": {"type": "Array", "contents": {"type": "String"}},
            "name": {"type": "String", "required": true},
            "owner": {"type": "Pointer", "targetClass": "_User"},
            "fans": {"type": "Relation", "targetClass": "_User"},
            "at": {"type": "GeoPoint"}, "area": {"type": "Polygon"},
            "when": {"type": "Date"}, "photo": {"type": "File"},
            "tags": {"type": "Array"}, "score": {"type": "Number"},
            "odd": {"type": "Vector"}
        },
        "classLevelPermissions": {"find": {"*": true}, "get": {"*": true}},
        "indexes": {"_id_": {"_id": 1}, "name_1": {"name": 1}}
    })
}

#[test]
fn schema_entries_become_class_schemas() {
    let plan = plan_class("Place", &schema_entry());

    assert_eq!(plan.relations, vec!["fans"]);
    assert!(
        plan.columns
            .contains(&("owner".into(), FieldType::Pointer("_User".into())))
    );
    assert!(!plan.schema.fields.contains_key("_rperm"));
    assert!(plan.schema.fields["name"].required);
    assert_eq!(plan.schema.clp["find"], json!({"*": true}));
    assert_eq!(
        plan.schema.indexes["name_1"],
        *json!({"name": 1}).as_object().unwrap()
    );
    assert_eq!(plan.refused.len(), 1);
    assert!(plan.refused[0].starts_with("field odd: invalid field type: Vector"));

    let bare = plan_class("Bare", &json!({"fields": {}}));
    assert_eq!(
        bare.schema.clp,
        default_clp(),
        "no stored CLP reads as open"
    );
}

#[test]
fn rows_become_parse_json() {
    let plan = plan_class("Place", &schema_entry());
    let row = json!({
        "objectId": "p1",
        "createdAt": "2024-05-06T07:08:09.123+00:00",
        "updatedAt": "2024-05-06T07:08:10.5+00:00",
        "_rperm": ["*", "u1"], "_wperm": ["u1"],
        "name": "café", "owner": "u1",
        "at": "(2.35,48.85)",
        "area": "((2,48),(3,48),(3,49),(2,48))",
        "when": "2020-01-01T00:00:00+00:00",
        "photo": "abc_photo.png",
        "tags": ["a", 1], "score": 2.5, "password": null
    });

    let o = convert_row(&plan, row.as_object().unwrap()).unwrap();

    assert_eq!(o.object_id, "p1");
    assert_eq!(o.created_at, "2024-05-06T07:08:09.123Z");
    assert_eq!(o.updated_at, "2024-05-06T07:08:10.500Z");
    assert_eq!(
        Value::Object(o.fields),
        json!({
            "ACL": {"*": {"read": true}, "u1": {"read": true, "write": true}},
            "name": "café",
            "owner": {"__type": "Pointer", "className": "_User", "objectId": "u1"},
            "at": {"__type": "GeoPoint", "latitude": 48.85, "longitude": 2.35},
            "area": {"__type": "Polygon", "coordinates": [[48, 2], [48, 3], [49, 3], [48, 2]]},
            "when": {"__type": "Date", "iso": "2020-01-01T00:00:00.000Z"},
            "photo": {"__type": "File", "name": "abc_photo.png"},
            "tags": ["a", 1], "score": 2.5
        })
    );
}

#[test]
fn acls_keep_parse_semantics() {
    assert_eq!(acl_of(None, None), None);
    assert_eq!(
        acl_of(Some(&json!([])), Some(&json!([]))),
        Some(json!({})),
        "empty lists: nobody but the master key"
    );
    assert_eq!(
        acl_of(Some(&json!(["role:admin"])), None),
        Some(json!({"role:admin": {"read": true}, "*": {"write": true}})),
        "a missing list is public, as Parse's queries read it"
    );
}

#[test]
fn user_rows_keep_password_hashes_and_token_state() {
    let entry = json!({"fields": {"username": {"type": "String"}, "email": {"type": "String"},
        "emailVerified": {"type": "Boolean"}, "authData": {"type": "Object"},
        "_hashed_password": {"type": "String"}}});
    let plan = plan_class("_User", &entry);
    let row = json!({
        "objectId": "u1", "createdAt": "2024-01-01T00:00:00+00:00",
        "updatedAt": "2024-01-01T00:00:00+00:00", "username": "ada",
        "_hashed_password": "$2b$10$abc", "_perishable_token": "tok",
        "_perishable_token_expires_at": "2030-01-01T00:00:00+00:00",
        "_failed_login_count": 2, "_password_history": ["$2b$10$old"],
        "_something_else": "x", "emailVerified": false
    });

    let o = convert_row(&plan, row.as_object().unwrap()).unwrap();

    assert_eq!(o.fields["_hashed_password"], "$2b$10$abc");
    assert_eq!(
        o.fields["_perishable_token_expires_at"],
        json!({"__type": "Date", "iso": "2030-01-01T00:00:00.000Z"})
    );
    assert_eq!(o.fields["_failed_login_count"], 2);
    assert_eq!(o.fields["_password_history"], json!(["$2b$10$old"]));
    assert_eq!(o.fields["emailVerified"], false);
    assert!(!o.fields.contains_key("_something_else"));
}

#[test]
fn unreadable_rows_are_refused_with_the_field_named() {
    let plan = plan_class("Place", &schema_entry());
    let row = |extra: Value| {
        let mut r = json!({"objectId": "p1", "createdAt": "2024-01-01T00:00:00+00:00"});
        r.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        r
    };

    let nan = convert_row(&plan, row(json!({"score": "NaN"})).as_object().unwrap());
    let point = convert_row(&plan, row(json!({"at": "(1;2)"})).as_object().unwrap());
    let no_date = convert_row(&plan, json!({"objectId": "p1"}).as_object().unwrap());

    assert_eq!(nan.unwrap_err(), "field score: not a number: \"NaN\"");
    assert_eq!(point.unwrap_err(), "field at: not a point: (1;2)");
    assert_eq!(no_date.unwrap_err(), "createdAt is missing");
}
