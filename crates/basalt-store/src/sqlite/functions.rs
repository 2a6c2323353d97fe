//! SQL functions the query compiler relies on: `regexp` (SQLite's REGEXP operator), full-text
//! word matching and the geo predicates. Each reuses basalt-core's definition of the rule.

use std::sync::Arc;

use basalt_core::query::text::text_matches;
use basalt_core::query::{TextSearch, distance_radians, point_in_polygon};
use basalt_core::value::{GeoPoint, polygon_points};
use regex::Regex;
use rusqlite::Connection;
use rusqlite::functions::{Context, FunctionFlags};

fn deterministic() -> FunctionFlags {
    FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC
}

/// Registers every function on a new connection.
pub(super) fn register(conn: &Connection) -> rusqlite::Result<()> {
    conn.create_scalar_function("regexp", 2, deterministic(), regexp)?;
    conn.create_scalar_function("basalt_text_match", 4, deterministic(), text_match)?;
    conn.create_scalar_function("basalt_distance", 4, deterministic(), distance)?;
    conn.create_scalar_function("basalt_in_polygon", 3, deterministic(), in_polygon)?;
    conn.create_scalar_function(
        "basalt_polygon_contains",
        3,
        deterministic(),
        polygon_contains,
    )?;
    Ok(())
}

fn regexp(ctx: &mut Context<'_>) -> rusqlite::Result<bool> {
    let re: Arc<Regex> = ctx.get_or_create_aux(
        0,
        |v| -> Result<Regex, Box<dyn std::error::Error + Send + Sync>> {
            Ok(Regex::new(v.as_str()?)?)
        },
    )?;
    Ok(match ctx.get_raw(1) {
        rusqlite::types::ValueRef::Text(t) => std::str::from_utf8(t)
            .map(|s| re.is_match(s))
            .unwrap_or(false),
        _ => false,
    })
}

fn text_match(ctx: &mut Context<'_>) -> rusqlite::Result<bool> {
    let Ok(text) = ctx.get::<String>(0) else {
        return Ok(false);
    };
    let search = TextSearch {
        term: ctx.get(1)?,
        case_sensitive: ctx.get(2)?,
        diacritic_sensitive: ctx.get(3)?,
    };
    Ok(text_matches(&text, &search))
}

fn point(ctx: &mut Context<'_>, lat: usize, lng: usize) -> rusqlite::Result<Option<GeoPoint>> {
    let (a, b) = (ctx.get::<Option<f64>>(lat)?, ctx.get::<Option<f64>>(lng)?);
    Ok(a.zip(b).map(|(latitude, longitude)| GeoPoint {
        latitude,
        longitude,
    }))
}

fn distance(ctx: &mut Context<'_>) -> rusqlite::Result<Option<f64>> {
    let (Some(a), Some(b)) = (point(ctx, 0, 1)?, point(ctx, 2, 3)?) else {
        return Ok(None);
    };
    Ok(Some(distance_radians(a, b)))
}

fn polygon_from_json(ctx: &mut Context<'_>, idx: usize) -> rusqlite::Result<Option<Vec<GeoPoint>>> {
    let Ok(text) = ctx.get::<String>(idx) else {
        return Ok(None);
    };
    let Ok(json) = serde_json::from_str::<serde_json::Value>(&text) else {
        return Ok(None);
    };
    Ok(polygon_points(&json).ok())
}

fn in_polygon(ctx: &mut Context<'_>) -> rusqlite::Result<bool> {
    let Some(p) = point(ctx, 0, 1)? else {
        return Ok(false);
    };
    let Some(poly) = polygon_from_json(ctx, 2)? else {
        return Ok(false);
    };
    Ok(point_in_polygon(p, &poly))
}

fn polygon_contains(ctx: &mut Context<'_>) -> rusqlite::Result<bool> {
    let Some(poly) = polygon_from_json(ctx, 0)? else {
        return Ok(false);
    };
    let Some(p) = point(ctx, 1, 2)? else {
        return Ok(false);
    };
    Ok(point_in_polygon(p, &poly))
}
