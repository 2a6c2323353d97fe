//! Names and fixed SQL: the store's own tables and the SQL functions the query compiler uses.
//! Every function repeats a rule basalt-core defines (distance, polygons, `$text` words), so
//! the in-memory matcher, the SQLite functions and these agree on the shared case table.

/// PostgreSQL truncates identifiers past this many bytes.
const MAX_IDENT: usize = 63;

/// 64-bit FNV-1a: a stable short stand-in for names too long to be identifiers.
fn fnv64(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            // A separator byte no UTF-8 text contains, so ("ab", "c") and ("a", "bc") differ.
            h ^= 0xff;
            h = h.wrapping_mul(0x100_0000_01b3);
        }
        for b in p.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x100_0000_01b3);
        }
    }
    h
}

/// `prefix_a_b…` when it fits an identifier, else `prefix_<hash>`; always the same for the
/// same parts, so a name can be recomputed instead of remembered.
pub(crate) fn ident(prefix: &str, parts: &[&str]) -> String {
    let plain = format!("{prefix}_{}", parts.join("_"));
    if plain.len() <= MAX_IDENT {
        plain
    } else {
        format!("{prefix}_{:016x}", fnv64(parts))
    }
}

/// Quotes an identifier.
pub(crate) fn quote(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

/// A string literal (standard_conforming_strings, on by default since PostgreSQL 9.1).
pub(crate) fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The unquoted name of a class's table. Class names longer than 59 bytes would be truncated
/// by PostgreSQL and could collide, so they are refused when the class is created.
pub(crate) fn table_ident(class: &str) -> String {
    format!("cls_{class}")
}

/// Whether the class's table name fits an identifier.
pub(crate) fn class_name_fits(class: &str) -> bool {
    table_ident(class).len() <= MAX_IDENT
}

/// The quoted table of a class.
pub(crate) fn table(class: &str) -> String {
    quote(&table_ident(class))
}

/// The name of the index a schema declares.
pub(crate) fn schema_index(class: &str, name: &str) -> String {
    ident("ix", &[class, name])
}

/// The name of the unique index on a field.
pub(crate) fn unique_index(class: &str, field: &str) -> String {
    ident("uq", &[class, field])
}

/// The advisory-lock key that serialises DDL on one class across every node.
pub(crate) fn class_lock(class: &str) -> i64 {
    i64::from_ne_bytes(fnv64(&["basalt-class", class]).to_ne_bytes())
}

/// The advisory-lock key one node holds (at session level) while it builds or drops a class's
/// indexes concurrently. It differs from [`class_lock`]: a concurrent build waits for every
/// open transaction, so it must never wait for a lock such a transaction holds.
pub(crate) fn index_lock(class: &str) -> i64 {
    i64::from_ne_bytes(fnv64(&["basalt-index", class]).to_ne_bytes())
}

/// The advisory-lock key held while the store's own tables and functions are set up.
pub(crate) const INIT_LOCK: i64 = 0x6261_7361_6c74_0001;

/// The store's own tables.
pub(crate) const INIT_TABLES: &str = r#"
CREATE TABLE IF NOT EXISTS _basalt_schema (
    class_name text COLLATE "C" PRIMARY KEY,
    body jsonb NOT NULL
);
CREATE TABLE IF NOT EXISTS _basalt_join (
    owner_class text COLLATE "C" NOT NULL,
    field text COLLATE "C" NOT NULL,
    owner_id text COLLATE "C" NOT NULL,
    related_id text COLLATE "C" NOT NULL,
    PRIMARY KEY (owner_class, field, owner_id, related_id)
);
CREATE INDEX IF NOT EXISTS _basalt_join_related ON _basalt_join (owner_class, field, related_id);
"#;

/// PostGIS, when the server has it (as Parse Server's PostgreSQL adapter also enables it), and
/// the geography of a GeoPoint that GeoPoint fields' GiST indexes are built on. Run after
/// `INIT_FUNCTIONS` under a savepoint: where the extension is missing or may not be created,
/// the store goes on without it.
pub(crate) const INIT_POSTGIS: &str = r#"
CREATE EXTENSION IF NOT EXISTS postgis;
CREATE OR REPLACE FUNCTION basalt_geog(j jsonb) RETURNS geography
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN jsonb_typeof(j -> 'latitude') = 'number'
                 AND jsonb_typeof(j -> 'longitude') = 'number'
        THEN ST_SetSRID(ST_MakePoint((j ->> 'longitude')::float8, (j ->> 'latitude')::float8),
                        4326)::geography
    END
$$;
"#;

/// The SQL functions. `CREATE OR REPLACE` keeps a restart (or a newer node) idempotent.
pub(crate) const INIT_FUNCTIONS: &str = r#"
CREATE OR REPLACE FUNCTION basalt_num(j jsonb) RETURNS float8
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN jsonb_typeof(j) = 'number' THEN j::float8 END
$$;

CREATE OR REPLACE FUNCTION basalt_elements(j jsonb) RETURNS SETOF jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT jsonb_array_elements(CASE WHEN jsonb_typeof(j) = 'array' THEN j ELSE '[]'::jsonb END)
$$;

CREATE OR REPLACE FUNCTION basalt_distance(lat1 float8, lng1 float8, lat2 float8, lng2 float8)
RETURNS float8 LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT 2 * asin(least(1.0, sqrt(
        power(sin((radians(lat2) - radians(lat1)) / 2), 2)
        + cos(radians(lat1)) * cos(radians(lat2)) * power(sin(radians(lng2 - lng1) / 2), 2))))
$$;

CREATE OR REPLACE FUNCTION basalt_points(poly jsonb) RETURNS float8[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT array_agg(v ORDER BY n, k)
    FROM basalt_elements(poly) WITH ORDINALITY AS p(item, n),
    LATERAL (VALUES
        (1, CASE WHEN jsonb_typeof(item) = 'array' THEN basalt_num(item -> 0)
                 ELSE basalt_num(item -> 'latitude') END),
        (2, CASE WHEN jsonb_typeof(item) = 'array' THEN basalt_num(item -> 1)
                 ELSE basalt_num(item -> 'longitude') END)) AS c(k, v)
$$;

-- The latitude/longitude bounding box of a Polygon value, NULL where `basalt_in_polygon` finds
-- no polygon to test (fewer than three points, or a coordinate that is not a number).
CREATE OR REPLACE FUNCTION basalt_polygon_box(polygon jsonb) RETURNS box
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN count(*) >= 6 AND count(v) = count(*) THEN
        box(point(min(v) FILTER (WHERE i % 2 = 1), min(v) FILTER (WHERE i % 2 = 0)),
            point(max(v) FILTER (WHERE i % 2 = 1), max(v) FILTER (WHERE i % 2 = 0)))
    END
    FROM unnest(basalt_points(polygon -> 'coordinates')) WITH ORDINALITY AS u(v, i)
$$;

CREATE OR REPLACE FUNCTION basalt_in_polygon(lat float8, lng float8, poly jsonb) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    pts float8[] := basalt_points(poly);
    n int := coalesce(array_length(pts, 1), 0) / 2;
    inside boolean := false;
    j int;
    xi float8; yi float8; xj float8; yj float8;
BEGIN
    IF lat IS NULL OR lng IS NULL OR n < 3 OR array_position(pts, NULL) IS NOT NULL THEN
        RETURN false;
    END IF;
    j := n;
    FOR i IN 1 .. n LOOP
        xi := pts[2 * i - 1]; yi := pts[2 * i];
        xj := pts[2 * j - 1]; yj := pts[2 * j];
        IF ((yi > lng) <> (yj > lng)) AND lat < (xj - xi) * (lng - yi) / (yj - yi) + xi THEN
            inside := NOT inside;
        END IF;
        j := i;
    END LOOP;
    RETURN inside;
END
$$;

CREATE OR REPLACE FUNCTION basalt_fold(s text, case_sensitive boolean, diacritic_sensitive boolean)
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN case_sensitive THEN f ELSE lower(f) END
    FROM (SELECT CASE WHEN diacritic_sensitive THEN s
                 ELSE regexp_replace(normalize(s, NFD), '[\u0300-\u036f]', '', 'g') END) AS x(f)
$$;

CREATE OR REPLACE FUNCTION basalt_words(s text) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(array_agg(w), '{}') FROM regexp_split_to_table(s, '[^[:alnum:]]+') AS w
    WHERE w <> ''
$$;

CREATE OR REPLACE FUNCTION basalt_text_match(body text, term text, case_sensitive boolean,
                                             diacritic_sensitive boolean)
RETURNS boolean LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    t text;
    q text;
    body_words text[];
    parts text[];
    rest text := '';
    token text;
    phrase text;
    any_hit boolean := false;
    wanted boolean := false;
    has_phrase boolean := false;
BEGIN
    IF body IS NULL OR term IS NULL THEN
        RETURN false;
    END IF;
    t := basalt_fold(body, case_sensitive, diacritic_sensitive);
    q := basalt_fold(term, case_sensitive, diacritic_sensitive);
    body_words := basalt_words(t);
    parts := string_to_array(q, '"');
    FOR i IN 1 .. coalesce(array_length(parts, 1), 0) LOOP
        IF i % 2 = 0 THEN
            has_phrase := true;
            phrase := regexp_replace(parts[i], '^\s+|\s+$', '', 'g');
            IF phrase <> '' AND strpos(t, phrase) = 0 THEN
                RETURN false;
            END IF;
        ELSE
            rest := rest || parts[i] || ' ';
        END IF;
    END LOOP;
    FOREACH token IN ARRAY regexp_split_to_array(rest, '\s+') LOOP
        CONTINUE WHEN token = '';
        IF left(token, 1) = '-' THEN
            IF basalt_words(substr(token, 2)) && body_words THEN
                RETURN false;
            END IF;
            CONTINUE;
        END IF;
        IF cardinality(basalt_words(token)) > 0 THEN
            wanted := true;
            any_hit := any_hit OR (basalt_words(token) && body_words);
        END IF;
    END LOOP;
    RETURN any_hit OR (NOT wanted AND has_phrase);
END
$$;
"#;
