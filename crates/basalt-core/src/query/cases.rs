//! The shared table of `where` cases: objects, a query, and which objects it must return. The
//! in-memory matcher's unit tests and the stores' conformance suites run the same rows, so the
//! matcher and every SQL compiler implement one definition of each rule.
//!
//! Every case queries class [`CLASS`], whose schema is [`schema`]. Sub-query cases also need the
//! [`world`]: the `Team` class, its objects and its Relation links. Objects are Parse REST JSON
//! (`objectId`, `createdAt`/`updatedAt` as plain ISO strings, then the fields), already in the
//! canonical form the engine stores (dates with milliseconds, pointers without extra keys).
//! No I/O here: this is data.

use serde_json::{Value, json};

use crate::schema::{ClassSchema, FieldDef, FieldType};
use crate::value::Document;

/// The class every case queries.
pub const CLASS: &str = "Player";
/// The class sub-query cases look into.
pub const TEAM: &str = "Team";

/// Alice: every field set.
pub const ALICE: &str = "alice00001";
/// bob: lower-case name, `nickname` stored as null.
pub const BOB: &str = "bob0000002";
/// Carol: empty `scores` and `rivals`, no `nickname`.
pub const CAROL: &str = "carol00003";
/// Dave: empty `tags`, empty-string `nickname`.
pub const DAVE: &str = "dave000004";
/// Eve: no `tags`, `born` or `team`; empty `stats`.
pub const EVE: &str = "eve0000005";
/// Frank: no `score`, `active`, `location` or `stats`.
pub const FRANK: &str = "frank00006";
/// Grace: no `team`, `stats` or `bio`.
pub const GRACE: &str = "grace00007";
/// Heidi: `tags` and `team` stored as null, near the antimeridian.
pub const HEIDI: &str = "heidi00008";
/// Team Hawks (Oslo), captain Alice, members Alice and Dave.
pub const HAWKS: &str = "hawks00001";
/// Team Wolves (Bergen), captain Bob, members Bob and Frank.
pub const WOLVES: &str = "wolves0002";
/// Team Bears (Oslo), captain Carol, no members.
pub const BEARS: &str = "bears00003";

const EVERYONE: &[&str] = &[ALICE, BOB, CAROL, DAVE, EVE, FRANK, GRACE, HEIDI];

/// One row: run `where_` on class [`CLASS`] holding `objects`; exactly `expect` match.
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    /// A unique name saying what the row checks.
    pub name: &'static str,
    /// The objects of [`CLASS`] present when the query runs, in Parse REST JSON.
    pub objects: Vec<Document>,
    /// The `where` JSON, as a client sends it.
    pub where_: Value,
    /// The objectIds of the objects that match, in any order.
    pub expect: &'static [&'static str],
}

/// Relation links of one owning object.
#[derive(Debug, Clone, PartialEq)]
pub struct RelationLinks {
    /// The owning object's class.
    pub owner_class: &'static str,
    /// The owning object's id.
    pub owner_id: &'static str,
    /// Its Relation field.
    pub field: &'static str,
    /// The linked objects' ids.
    pub related_ids: Vec<&'static str>,
}

/// Everything besides a case's own objects that the cases rely on.
#[derive(Debug, Clone, PartialEq)]
pub struct World {
    /// Every class's schema, [`CLASS`] included.
    pub schemas: Vec<ClassSchema>,
    /// Objects of other classes, as `(class, object)`.
    pub objects: Vec<(&'static str, Document)>,
    /// Relation links, created with their owning objects.
    pub relations: Vec<RelationLinks>,
}

fn class(name: &str, fields: &[(&str, FieldType)]) -> ClassSchema {
    let mut schema = ClassSchema::new(name);
    for (field, ty) in fields {
        schema
            .fields
            .insert((*field).to_owned(), FieldDef::of(ty.clone()));
    }
    schema
}

/// The schema of [`CLASS`].
pub fn schema() -> ClassSchema {
    use FieldType as T;
    class(
        CLASS,
        &[
            ("name", T::String),
            ("score", T::Number),
            ("active", T::Boolean),
            ("nickname", T::String),
            ("hometown", T::String),
            ("tags", T::Array),
            ("scores", T::Array),
            ("rivals", T::Array),
            ("born", T::Date),
            ("team", T::Pointer(TEAM.to_owned())),
            ("stats", T::Object),
            ("location", T::GeoPoint),
            ("zone", T::Polygon),
            ("bio", T::String),
        ],
    )
}

fn team_schema() -> ClassSchema {
    use FieldType as T;
    class(
        TEAM,
        &[
            ("name", T::String),
            ("city", T::String),
            ("founded", T::Date),
            ("captain", T::Pointer(CLASS.to_owned())),
            ("members", T::Relation(CLASS.to_owned())),
        ],
    )
}

/// The other classes, their objects and relation links.
pub fn world() -> World {
    let team = |id, name, city, founded, captain| {
        doc(json!({
            "objectId": id, "createdAt": "2023-06-01T12:00:00.000Z",
            "updatedAt": "2023-06-01T12:00:00.000Z", "name": name, "city": city,
            "founded": date(founded), "captain": ptr(CLASS, captain)
        }))
    };
    let links = |owner_id, related_ids| RelationLinks {
        owner_class: TEAM,
        owner_id,
        field: "members",
        related_ids,
    };
    World {
        schemas: vec![schema(), team_schema()],
        objects: vec![
            (
                TEAM,
                team(HAWKS, "Hawks", "Oslo", "1999-03-01T00:00:00.000Z", ALICE),
            ),
            (
                TEAM,
                team(WOLVES, "Wolves", "Bergen", "2004-08-15T00:00:00.000Z", BOB),
            ),
            (
                TEAM,
                team(BEARS, "Bears", "Oslo", "2012-01-20T00:00:00.000Z", CAROL),
            ),
        ],
        relations: vec![
            links(HAWKS, vec![ALICE, DAVE]),
            links(WOLVES, vec![BOB, FRANK]),
        ],
    }
}

fn doc(v: Value) -> Document {
    match v {
        Value::Object(o) => o,
        _ => Document::new(),
    }
}

fn date(iso: &str) -> Value {
    json!({"__type": "Date", "iso": iso})
}

fn ptr(class: &str, id: &str) -> Value {
    json!({"__type": "Pointer", "className": class, "objectId": id})
}

fn geo(latitude: f64, longitude: f64) -> Value {
    json!({"__type": "GeoPoint", "latitude": latitude, "longitude": longitude})
}

/// The players every case starts from; see the table in each case's expectations.
pub fn players() -> Vec<Document> {
    let created = |day: u32| format!("2024-01-{day:02}T09:00:00.000Z");
    vec![
        json!({
            "objectId": ALICE, "createdAt": created(10), "updatedAt": "2024-02-01T10:00:00.000Z",
            "ACL": {"*": {"read": true}, "alice00001": {"read": true, "write": true}},
            "name": "Alice", "score": 10, "active": true, "nickname": "Ace", "hometown": "Oslo",
            "tags": ["red", "blue"], "scores": [90, 75],
            "rivals": [ptr(CLASS, BOB), ptr(CLASS, CAROL)],
            "born": date("1990-05-01T00:00:00.000Z"), "team": ptr(TEAM, HAWKS),
            "stats": {"langs": ["en", "no"], "lastSeen": date("2024-03-01T08:00:00.000Z"),
                      "level": "gold", "wins": 5},
            "location": geo(59.9139, 10.7522),
            "zone": {"__type": "Polygon", "coordinates":
                     [[0, 0], [0, 10], [10, 10], [10, 0], [0, 0]]},
            "bio": "Loves chess and café culture"
        }),
        json!({
            "objectId": BOB, "createdAt": created(11), "updatedAt": created(11),
            "name": "bob", "score": 25.5, "active": false, "nickname": null, "hometown": "Bergen",
            "tags": ["blue", "green"], "scores": [60], "rivals": [ptr(CLASS, ALICE)],
            "born": date("1985-12-24T18:30:00.000Z"), "team": ptr(TEAM, WOLVES),
            "stats": {"langs": ["no"], "lastSeen": date("2024-01-15T12:00:00.000Z"),
                      "level": "silver", "wins": 12},
            "location": geo(60.3913, 5.3221),
            "zone": {"__type": "Polygon",
                     "coordinates": [[20, 20], [20, 30], [30, 25], [20, 20]]},
            "bio": "Plays chess online every night"
        }),
        json!({
            "objectId": CAROL, "createdAt": created(12), "updatedAt": "2024-03-05T16:45:00.000Z",
            "name": "Carol", "score": 7, "active": true, "hometown": "Oslo",
            "tags": ["red"], "scores": [], "rivals": [],
            "born": date("2001-07-04T12:00:00.000Z"), "team": ptr(TEAM, BEARS),
            "stats": {"level": "bronze", "wins": 0},
            "location": geo(59.3293, 18.0686), "bio": "Brown fox enthusiast"
        }),
        json!({
            "objectId": DAVE, "createdAt": created(13), "updatedAt": created(13),
            "name": "Dave", "score": 0, "active": false, "nickname": "", "hometown": "Trondheim",
            "tags": [], "born": date("1990-05-01T00:00:00.000Z"), "team": ptr(TEAM, HAWKS),
            "stats": {"level": "silver", "wins": 5},
            "location": geo(51.5074, -0.1278), "bio": "The quick brown fox jumps"
        }),
        json!({
            "objectId": EVE, "createdAt": created(14), "updatedAt": created(14),
            "name": "Eve", "score": -3, "active": true, "hometown": "Bergen", "stats": {},
            "location": geo(40.7128, -74.006), "bio": "CHESS grandmaster\nSince 2001"
        }),
        json!({
            "objectId": FRANK, "createdAt": created(15), "updatedAt": created(15),
            "name": "Frank", "hometown": "St. Petersburg", "tags": ["green", "red", "blue"],
            "born": date("2010-01-01T00:00:00.000Z"), "team": ptr(TEAM, WOLVES)
        }),
        json!({
            "objectId": GRACE, "createdAt": created(16), "updatedAt": created(16),
            "name": "Grace Hopper", "score": 100, "active": true, "tags": ["Blue"],
            "scores": [99, 100], "born": date("1906-12-09T00:00:00.000Z"),
            "location": geo(35.6762, 139.6503)
        }),
        json!({
            "objectId": HEIDI, "createdAt": created(17), "updatedAt": created(17),
            "name": "Heidi", "score": 25.5, "tags": null, "team": null,
            "location": geo(-17.7134, 178.065)
        }),
    ]
    .into_iter()
    .map(doc)
    .collect()
}

fn case(name: &'static str, where_: Value, expect: &'static [&'static str]) -> Case {
    Case {
        name,
        objects: players(),
        where_,
        expect,
    }
}

/// The table.
pub fn cases() -> Vec<Case> {
    let mut all = Vec::new();
    all.extend(equality_cases());
    all.extend(array_cases());
    all.extend(date_and_pointer_cases());
    all.extend(nested_and_logic_cases());
    all.extend(regex_and_text_cases());
    all.extend(geo_cases());
    all.extend(sub_query_cases());
    all
}

#[rustfmt::skip] // one row per line reads as a table; rustfmt would split each row
fn equality_cases() -> Vec<Case> {
    vec![
        case("equals_string", json!({"name": "Alice"}), &[ALICE]),
        case("equals_string_is_case_sensitive", json!({"name": "alice"}), &[]),
        case("equals_number", json!({"score": 25.5}), &[BOB, HEIDI]),
        case("equals_integer_written_as_float", json!({"score": 10.0}), &[ALICE]),
        case("equals_true", json!({"active": true}), &[ALICE, CAROL, EVE, GRACE]),
        case("equals_false", json!({"active": false}), &[BOB, DAVE]),
        case("eq_operator", json!({"name": {"$eq": "Carol"}}), &[CAROL]),
        case("equals_empty_string", json!({"nickname": ""}), &[DAVE]),
        case("null_matches_null_and_missing", json!({"nickname": null}),
            &[BOB, CAROL, EVE, FRANK, GRACE, HEIDI]),
        case("ne_null_matches_present_values", json!({"nickname": {"$ne": null}}), &[ALICE, DAVE]),
        case("ne_matches_missing", json!({"score": {"$ne": 10}}),
            &[BOB, CAROL, DAVE, EVE, FRANK, GRACE, HEIDI]),
        case("ne_true_matches_false_and_missing", json!({"active": {"$ne": true}}),
            &[BOB, DAVE, FRANK, HEIDI]),
        case("object_id_equals", json!({"objectId": CAROL}), &[CAROL]),
        case("object_id_in", json!({"objectId": {"$in": [ALICE, "nosuch0000"]}}), &[ALICE]),
        case("gt_and_lte", json!({"score": {"$gt": 7, "$lte": 25.5}}), &[ALICE, BOB, HEIDI]),
        case("lt_negative", json!({"score": {"$lt": 0}}), &[EVE]),
        case("gte_skips_missing", json!({"score": {"$gte": 0}}),
            &[ALICE, BOB, CAROL, DAVE, GRACE, HEIDI]),
        case("string_gt_is_binary_order", json!({"name": {"$gt": "D"}}),
            &[BOB, DAVE, EVE, FRANK, GRACE, HEIDI]),
        case("gte_and_ne_on_one_field", json!({"score": {"$gte": 7, "$ne": 10}}),
            &[BOB, CAROL, GRACE, HEIDI]),
        case("number_never_orders_against_strings", json!({"name": {"$gt": 5}}), &[]),
        case("in_numbers", json!({"score": {"$in": [0, 100]}}), &[DAVE, GRACE]),
        case("nin_matches_missing", json!({"score": {"$nin": [0, 100]}}),
            &[ALICE, BOB, CAROL, EVE, FRANK, HEIDI]),
        case("in_with_null_matches_missing", json!({"score": {"$in": [7, null]}}), &[CAROL, FRANK]),
        case("nin_with_null_excludes_null_and_missing",
            json!({"nickname": {"$nin": [null, "Ace"]}}), &[DAVE]),
        case("in_empty_matches_nothing", json!({"name": {"$in": []}}), &[]),
        case("nin_empty_matches_everything", json!({"name": {"$nin": []}}), EVERYONE),
        case("exists_true_counts_null", json!({"nickname": {"$exists": true}}),
            &[ALICE, BOB, DAVE]),
        case("exists_false", json!({"nickname": {"$exists": false}}),
            &[CAROL, EVE, FRANK, GRACE, HEIDI]),
        case("exists_false_on_geopoint", json!({"location": {"$exists": false}}), &[FRANK]),
        case("exists_on_object_id", json!({"objectId": {"$exists": true}}), EVERYONE),
        case("empty_where_matches_everything", json!({}), EVERYONE),
        case("string_with_nul_matches_nothing", json!({"name": "Alice\u{0}"}), &[]),
        case("in_skips_strings_with_nul", json!({"name": {"$in": ["Alice\u{0}", "Carol"]}}),
            &[CAROL]),
    ]
}

#[rustfmt::skip] // one row per line reads as a table; rustfmt would split each row
fn array_cases() -> Vec<Case> {
    vec![
        case("array_contains_value", json!({"tags": "red"}), &[ALICE, CAROL, FRANK]),
        case("array_ne_value", json!({"tags": {"$ne": "red"}}), &[BOB, DAVE, EVE, GRACE, HEIDI]),
        case("array_equals_whole_array", json!({"tags": ["red", "blue"]}), &[ALICE]),
        case("array_equals_empty_array", json!({"tags": []}), &[DAVE]),
        case("array_in", json!({"tags": {"$in": ["green", "Blue"]}}), &[BOB, FRANK, GRACE]),
        case("array_nin", json!({"tags": {"$nin": ["red", "green"]}}), &[DAVE, EVE, GRACE, HEIDI]),
        case("array_in_with_null_matches_missing_and_null",
            json!({"tags": {"$in": ["green", null]}}), &[BOB, EVE, FRANK, HEIDI]),
        case("all", json!({"tags": {"$all": ["red", "blue"]}}), &[ALICE, FRANK]),
        case("all_one_value", json!({"tags": {"$all": ["green"]}}), &[BOB, FRANK]),
        case("all_empty_matches_nothing", json!({"tags": {"$all": []}}), &[]),
        case("all_pointers", json!({"rivals": {"$all": [ptr(CLASS, BOB), ptr(CLASS, CAROL)]}}),
            &[ALICE]),
        case("contained_by_matches_empty_null_and_missing",
            json!({"tags": {"$containedBy": ["red", "blue"]}}), &[ALICE, CAROL, DAVE, EVE, HEIDI]),
        case("array_contains_pointer", json!({"rivals": ptr(CLASS, ALICE)}), &[BOB]),
        case("pointer_against_string_array_matches_nothing", json!({"tags": ptr(CLASS, ALICE)}),
            &[]),
        case("array_exists", json!({"tags": {"$exists": true}}),
            &[ALICE, BOB, CAROL, DAVE, FRANK, GRACE, HEIDI]),
        case("array_compare_matches_any_element", json!({"scores": {"$gt": 95}}), &[GRACE]),
    ]
}

#[rustfmt::skip] // one row per line reads as a table; rustfmt would split each row
fn date_and_pointer_cases() -> Vec<Case> {
    let d = date;
    vec![
        case("date_lt", json!({"born": {"$lt": d("1990-01-01T00:00:00.000Z")}}), &[BOB, GRACE]),
        case("date_equals", json!({"born": d("1990-05-01T00:00:00.000Z")}), &[ALICE, DAVE]),
        case("date_range",
            json!({"born": {"$gte": d("1990-05-01T00:00:00.000Z"),
                            "$lt": d("2005-01-01T00:00:00.000Z")}}),
            &[ALICE, CAROL, DAVE]),
        case("date_ne_matches_missing", json!({"born": {"$ne": d("1990-05-01T00:00:00.000Z")}}),
            &[BOB, CAROL, EVE, FRANK, GRACE, HEIDI]),
        case("date_in",
            json!({"born": {"$in": [d("1906-12-09T00:00:00.000Z"),
                                    d("2010-01-01T00:00:00.000Z")]}}),
            &[FRANK, GRACE]),
        case("date_without_milliseconds_compares_as_a_date",
            json!({"born": {"$gte": d("2001-07-04T12:00:00Z")}}), &[CAROL, FRANK]),
        case("created_at_gte", json!({"createdAt": {"$gte": d("2024-01-15T09:00:00.000Z")}}),
            &[FRANK, GRACE, HEIDI]),
        case("updated_at_gt", json!({"updatedAt": {"$gt": d("2024-01-31T00:00:00.000Z")}}),
            &[ALICE, CAROL]),
        case("nested_date_compares_by_iso",
            json!({"stats.lastSeen": {"$gt": d("2024-02-01T00:00:00.000Z")}}), &[ALICE]),
        case("pointer_equals", json!({"team": ptr(TEAM, HAWKS)}), &[ALICE, DAVE]),
        case("pointer_ne_matches_missing_and_null", json!({"team": {"$ne": ptr(TEAM, HAWKS)}}),
            &[BOB, CAROL, EVE, FRANK, GRACE, HEIDI]),
        case("pointer_in", json!({"team": {"$in": [ptr(TEAM, HAWKS), ptr(TEAM, BEARS)]}}),
            &[ALICE, CAROL, DAVE]),
        case("pointer_nin", json!({"team": {"$nin": [ptr(TEAM, WOLVES)]}}),
            &[ALICE, CAROL, DAVE, EVE, GRACE, HEIDI]),
        case("pointer_null", json!({"team": null}), &[EVE, GRACE, HEIDI]),
        case("pointer_exists_false_excludes_null", json!({"team": {"$exists": false}}),
            &[EVE, GRACE]),
    ]
}

#[rustfmt::skip] // one row per line reads as a table; rustfmt would split each row
fn nested_and_logic_cases() -> Vec<Case> {
    let hawks = ptr(TEAM, HAWKS);
    let bears = ptr(TEAM, BEARS);
    vec![
        case("dotted_equals", json!({"stats.wins": 5}), &[ALICE, DAVE]),
        case("dotted_gte", json!({"stats.wins": {"$gte": 5}}), &[ALICE, BOB, DAVE]),
        case("dotted_in", json!({"stats.level": {"$in": ["gold", "bronze"]}}), &[ALICE, CAROL]),
        case("dotted_exists_false", json!({"stats.wins": {"$exists": false}}),
            &[EVE, FRANK, GRACE, HEIDI]),
        case("dotted_ne_matches_missing", json!({"stats.level": {"$ne": "silver"}}),
            &[ALICE, CAROL, EVE, FRANK, GRACE, HEIDI]),
        case("object_equals_whole_object", json!({"stats": {"level": "bronze", "wins": 0}}),
            &[CAROL]),
        case("dotted_path_into_array_matches_any_element", json!({"stats.langs": "no"}),
            &[ALICE, BOB]),
        case("or", json!({"$or": [{"score": {"$gt": 50}}, {"name": "Alice"}]}), &[ALICE, GRACE]),
        case("or_single_branch", json!({"$or": [{"hometown": "Oslo"}]}), &[ALICE, CAROL]),
        case("and", json!({"$and": [{"active": true}, {"score": {"$gt": 5}}]}),
            &[ALICE, CAROL, GRACE]),
        case("nor", json!({"$nor": [{"active": true}, {"tags": "green"}]}), &[DAVE, HEIDI]),
        case("nor_keeps_missing", json!({"$nor": [{"score": {"$lt": 10}}]}),
            &[ALICE, BOB, FRANK, GRACE, HEIDI]),
        case("or_of_and",
            json!({"$or": [{"$and": [{"score": {"$gte": 10}}, {"active": false}]},
                           {"tags": {"$exists": false}}]}),
            &[BOB, EVE]),
        case("field_and_or", json!({"active": true, "$or": [{"team": hawks}, {"team": bears}]}),
            &[ALICE, CAROL]),
    ]
}

#[rustfmt::skip] // one row per line reads as a table; rustfmt would split each row
fn regex_and_text_cases() -> Vec<Case> {
    let text = |search: Value| json!({"bio": {"$text": {"$search": search}}});
    vec![
        case("regex_prefix", json!({"name": {"$regex": "^A."}}), &[ALICE]),
        case("regex_suffix", json!({"name": {"$regex": "e$"}}), &[ALICE, DAVE, EVE]),
        case("regex_i", json!({"name": {"$regex": "^[a-c]", "$options": "i"}}),
            &[ALICE, BOB, CAROL]),
        case("regex_m", json!({"bio": {"$regex": "^Since", "$options": "m"}}), &[EVE]),
        case("regex_without_m", json!({"bio": {"$regex": "^Since"}}), &[]),
        case("regex_s", json!({"bio": {"$regex": "grandmaster.Since", "$options": "s"}}), &[EVE]),
        case("regex_without_s", json!({"bio": {"$regex": "grandmaster.Since"}}), &[]),
        case("regex_x",
            json!({"name": {"$regex": "^ grace \\s hopper $ # full name", "$options": "xi"}}),
            &[GRACE]),
        case("regex_quoted_prefix", json!({"hometown": {"$regex": "^\\QSt. P\\E"}}), &[FRANK]),
        case("regex_quoted_dot_is_literal", json!({"name": {"$regex": "^\\QA.\\E"}}), &[]),
        case("regex_quoted_contains", json!({"bio": {"$regex": "\\Qbrown fox\\E"}}), &[DAVE]),
        case("regex_skips_null_and_missing", json!({"nickname": {"$regex": ".*"}}), &[ALICE, DAVE]),
        case("regex_dotted", json!({"stats.level": {"$regex": "^s"}}), &[BOB, DAVE]),
        case("regex_on_array_matches_any_element", json!({"tags": {"$regex": "^gr"}}),
            &[BOB, FRANK]),
        case("text_word", text(json!({"$term": "chess"})), &[ALICE, BOB, EVE]),
        case("text_case_sensitive", text(json!({"$term": "chess", "$caseSensitive": true})),
            &[ALICE, BOB]),
        case("text_ignores_diacritics", text(json!({"$term": "cafe"})), &[ALICE]),
        case("text_diacritic_sensitive",
            text(json!({"$term": "cafe", "$diacriticSensitive": true})), &[]),
        case("text_phrase", text(json!({"$term": "\"brown fox\""})), &[CAROL, DAVE]),
        case("text_negation", text(json!({"$term": "fox -quick"})), &[CAROL]),
        case("text_any_word", text(json!({"$term": "online grandmaster"})), &[BOB, EVE]),
    ]
}

#[rustfmt::skip] // one row per line reads as a table; rustfmt would split each row
fn geo_cases() -> Vec<Case> {
    let oslo = geo(59.9139, 10.7522);
    let london = geo(51.5074, -0.1278);
    vec![
        case("near_within_kilometers",
            json!({"location": {"$nearSphere": oslo, "$maxDistanceInKilometers": 500}}),
            &[ALICE, BOB, CAROL]),
        case("near_without_limit_needs_a_location", json!({"location": {"$nearSphere": oslo}}),
            &[ALICE, BOB, CAROL, DAVE, EVE, GRACE, HEIDI]),
        case("near_within_miles",
            json!({"location": {"$nearSphere": oslo, "$maxDistanceInMiles": 100}}), &[ALICE]),
        case("near_within_radians",
            json!({"location": {"$nearSphere": london, "$maxDistance": 0.2}}),
            &[ALICE, BOB, DAVE]),
        case("within_box",
            json!({"location": {"$within": {"$box": [geo(50.0, -10.0), geo(61.0, 20.0)]}}}),
            &[ALICE, BOB, CAROL, DAVE]),
        case("within_box_across_antimeridian",
            json!({"location": {"$within": {"$box": [geo(-30.0, 170.0), geo(0.0, -170.0)]}}}),
            &[HEIDI]),
        case("within_polygon_of_geopoints",
            json!({"location": {"$geoWithin": {"$polygon":
                [geo(55.0, 4.0), geo(55.0, 20.0), geo(62.0, 20.0), geo(62.0, 4.0)]}}}),
            &[ALICE, BOB, CAROL]),
        case("within_polygon_of_pairs",
            json!({"location": {"$geoWithin": {"$polygon":
                [[30, 130], [30, 150], [40, 150], [40, 130]]}}}),
            &[GRACE]),
        case("center_sphere_legacy_lng_lat",
            json!({"location": {"$geoWithin": {"$centerSphere": [[10.7522, 59.9139], 0.01]}}}),
            &[ALICE]),
        case("center_sphere_geopoint",
            json!({"location": {"$geoWithin": {"$centerSphere": [london, 0.2]}}}),
            &[ALICE, BOB, DAVE]),
        case("polygon_intersects_point",
            json!({"zone": {"$geoIntersects": {"$point": geo(5.0, 5.0)}}}), &[ALICE]),
        case("polygon_intersects_nothing",
            json!({"zone": {"$geoIntersects": {"$point": geo(15.0, 15.0)}}}), &[]),
    ]
}

#[rustfmt::skip] // one row per line reads as a table; rustfmt would split each row
fn sub_query_cases() -> Vec<Case> {
    let oslo_teams = json!({"className": TEAM, "where": {"city": "Oslo"}});
    let related = |team: &str| json!({"object": ptr(TEAM, team), "key": "members"});
    vec![
        case("in_query", json!({"team": {"$inQuery": oslo_teams}}), &[ALICE, CAROL, DAVE]),
        case("not_in_query_matches_missing_and_null", json!({"team": {"$notInQuery": oslo_teams}}),
            &[BOB, EVE, FRANK, GRACE, HEIDI]),
        case("in_query_on_pointer_array",
            json!({"rivals": {"$inQuery": {"className": CLASS, "where": {"name": "Alice"}}}}),
            &[BOB]),
        case("in_query_nested",
            json!({"team": {"$inQuery": {"className": TEAM, "where":
                {"captain": {"$inQuery": {"className": CLASS, "where": {"name": "Carol"}}}}}}}),
            &[CAROL]),
        case("select",
            json!({"hometown": {"$select":
                {"query": {"className": TEAM, "where": {"name": "Hawks"}}, "key": "city"}}}),
            &[ALICE, CAROL]),
        case("dont_select_matches_missing",
            json!({"hometown": {"$dontSelect": {"query": {"className": TEAM}, "key": "city"}}}),
            &[DAVE, FRANK, GRACE, HEIDI]),
        case("related_to", json!({"$relatedTo": related(HAWKS)}), &[ALICE, DAVE]),
        case("related_to_and_field", json!({"$relatedTo": related(HAWKS), "score": {"$gt": 5}}),
            &[ALICE]),
        case("related_to_in_or", json!({"$or": [{"$relatedTo": related(WOLVES)}, {"name": "Eve"}]}),
            &[BOB, EVE, FRANK]),
    ]
}
