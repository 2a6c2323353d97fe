//! Dates, all in UTC: Parse's `{"__type":"Date"}` values and ISO strings, milliseconds since
//! the epoch, and the calendar fields the date operators (`$year`, `$isoWeek`, …) read.

use basalt_core::ParseError;
use basalt_core::time::normalize_iso;
use basalt_core::value::special_type;
use serde_json::{Value, json};

use super::bad;
use super::expr::type_name;

/// The date operators, all in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatePart {
    /// `$year`
    Year,
    /// `$month` (1–12)
    Month,
    /// `$dayOfMonth` (1–31)
    DayOfMonth,
    /// `$hour`
    Hour,
    /// `$minute`
    Minute,
    /// `$second`
    Second,
    /// `$millisecond`
    Millisecond,
    /// `$dayOfYear` (1–366)
    DayOfYear,
    /// `$dayOfWeek` (1 = Sunday … 7)
    DayOfWeek,
    /// `$week` (0–53, weeks start on Sunday)
    Week,
    /// `$isoWeek` (1–53)
    IsoWeek,
    /// `$isoWeekYear`
    IsoWeekYear,
    /// `$isoDayOfWeek` (1 = Monday … 7)
    IsoDayOfWeek,
}

impl DatePart {
    pub(super) fn from_name(name: &str) -> Option<DatePart> {
        Some(match name {
            "$year" => DatePart::Year,
            "$month" => DatePart::Month,
            "$dayOfMonth" => DatePart::DayOfMonth,
            "$hour" => DatePart::Hour,
            "$minute" => DatePart::Minute,
            "$second" => DatePart::Second,
            "$millisecond" => DatePart::Millisecond,
            "$dayOfYear" => DatePart::DayOfYear,
            "$dayOfWeek" => DatePart::DayOfWeek,
            "$week" => DatePart::Week,
            "$isoWeek" => DatePart::IsoWeek,
            "$isoWeekYear" => DatePart::IsoWeekYear,
            "$isoDayOfWeek" => DatePart::IsoDayOfWeek,
            _ => return None,
        })
    }
}

pub(super) fn date_json(iso: &str) -> Value {
    json!({"__type": "Date", "iso": iso})
}

pub(super) fn is_date(v: &Value) -> bool {
    special_type(v) == Some("Date")
}

/// The normalised ISO string of a Date, or of a string that parses as one.
pub(super) fn date_iso(v: &Value) -> Option<String> {
    let iso = match v {
        Value::String(s) => s.as_str(),
        Value::Object(o) if is_date(v) => o.get("iso")?.as_str()?,
        _ => return None,
    };
    normalize_iso(iso)
}

/// A UTC instant's calendar fields.
#[derive(Debug, Clone, Copy)]
struct Civil {
    year: i64,
    month: i64,
    day: i64,
    hour: i64,
    minute: i64,
    second: i64,
    milli: i64,
}

/// Reads `YYYY-MM-DDTHH:MM:SS.mmmZ`, the form `normalize_iso` writes.
fn civil_of(v: &Value) -> Option<Civil> {
    let iso = date_iso(v)?;
    let field = |from: usize, to: usize| -> Option<i64> { iso.get(from..to)?.parse().ok() };
    if iso.len() != 24 {
        return None;
    }
    Some(Civil {
        year: field(0, 4)?,
        month: field(5, 7)?,
        day: field(8, 10)?,
        hour: field(11, 13)?,
        minute: field(14, 16)?,
        second: field(17, 19)?,
        milli: field(20, 23)?,
    })
}

/// Days since 1970-01-01 (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

const MS_PER_DAY: i64 = 86_400_000;

/// Milliseconds since the epoch of a Date value (not of a plain string).
pub(super) fn date_ms(v: &Value) -> Option<i64> {
    if !is_date(v) {
        return None;
    }
    let c = civil_of(v)?;
    let time = ((c.hour * 60 + c.minute) * 60 + c.second) * 1000 + c.milli;
    Some(days_from_civil(c.year, c.month, c.day) * MS_PER_DAY + time)
}

pub(super) fn date_from_ms(ms: i64) -> Value {
    let (y, m, d) = civil_from_days(ms.div_euclid(MS_PER_DAY));
    let t = ms.rem_euclid(MS_PER_DAY);
    let iso = format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        t / 3_600_000,
        t / 60_000 % 60,
        t / 1000 % 60,
        t % 1000
    );
    date_json(&iso)
}

pub(super) fn date_part(part: DatePart, v: &Value) -> Result<Value, ParseError> {
    let c = civil_of(v).ok_or_else(|| {
        bad(format!(
            "can't convert from BSON type {} to Date",
            type_name(v)
        ))
    })?;
    let days = days_from_civil(c.year, c.month, c.day);
    let weekday = (days + 4).rem_euclid(7); // 0 = Sunday
    let day_of_year = days - days_from_civil(c.year, 1, 1) + 1;
    let iso_weekday = if weekday == 0 { 7 } else { weekday };
    let n = match part {
        DatePart::Year => c.year,
        DatePart::Month => c.month,
        DatePart::DayOfMonth => c.day,
        DatePart::Hour => c.hour,
        DatePart::Minute => c.minute,
        DatePart::Second => c.second,
        DatePart::Millisecond => c.milli,
        DatePart::DayOfYear => day_of_year,
        DatePart::DayOfWeek => weekday + 1,
        DatePart::IsoDayOfWeek => iso_weekday,
        DatePart::Week => (day_of_year - 1 + 7 - weekday) / 7,
        DatePart::IsoWeek => iso_week(c.year, day_of_year, iso_weekday).1,
        DatePart::IsoWeekYear => iso_week(c.year, day_of_year, iso_weekday).0,
    };
    Ok(Value::from(n))
}

/// ISO 8601 (year, week): week 1 holds the year's first Thursday.
fn iso_week(year: i64, day_of_year: i64, iso_weekday: i64) -> (i64, i64) {
    let week = (day_of_year - iso_weekday + 10) / 7;
    if week < 1 {
        (year - 1, iso_weeks_in(year - 1))
    } else if week > iso_weeks_in(year) {
        (year + 1, 1)
    } else {
        (year, week)
    }
}

fn iso_weeks_in(year: i64) -> i64 {
    let p = |y: i64| (y + y.div_euclid(4) - y.div_euclid(100) + y.div_euclid(400)).rem_euclid(7);
    if p(year) == 4 || p(year - 1) == 3 {
        53
    } else {
        52
    }
}
