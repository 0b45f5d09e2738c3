//! The hours summary: per employee and fiscal year, the approved events, hours and person-days
//! (for volunteer leave and recognition).

use std::collections::HashMap;

use diesel::dsl::{count_star, sum};
use diesel::prelude::*;

use crate::db::schema::{attendance, events, sites, users};
use crate::db::{AnyConnection, Id};
use crate::sheet::{Cell, Sheet};
use crate::time::FiscalCalendar;

pub const VERSION: &str = "hours/1";

pub const COLUMNS: [&str; 7] = [
    "employee_number",
    "employee_name",
    "home_site",
    "fiscal_year",
    "events",
    "hours",
    "person_days",
];

/// Writes one row per employee with approved attendance in `fy`, by employee number.
pub fn write(
    conn: &mut AnyConnection,
    fiscal: FiscalCalendar,
    fy: i32,
    sheet: &mut Sheet<crate::sheet::ChannelWriter>,
) -> Result<u64, Box<dyn std::error::Error + Send + Sync>> {
    let Some((first, last)) = fiscal.dates(fy) else {
        return Ok(0);
    };
    let totals: Vec<(Id, i64, Option<i64>, Option<i64>)> = attendance::table
        .inner_join(events::table)
        .filter(attendance::status.eq("attended"))
        .filter(attendance::approval.eq("approved"))
        .filter(events::starts_on.between(first, last))
        .group_by(attendance::user_id)
        .select((
            attendance::user_id,
            count_star(),
            sum(attendance::minutes),
            sum(attendance::days),
        ))
        .load(conn)?;
    let totals: HashMap<Id, (i64, i64, i64)> = totals
        .into_iter()
        .map(|(u, n, m, d)| (u, (n, m.unwrap_or(0), d.unwrap_or(0))))
        .collect();
    let site_codes: HashMap<Id, String> = sites::table
        .select((sites::id, sites::code))
        .load(conn)?
        .into_iter()
        .collect();
    sheet.header(&COLUMNS)?;
    let mut written = 0;
    let mut after = String::new();
    loop {
        // Employees in number order, in batches; only those with hours are written.
        let people: Vec<(Id, String, String, Option<Id>)> = users::table
            .filter(users::employee_number.gt(&after))
            .select((
                users::id,
                users::employee_number,
                users::display_name,
                users::site_id,
            ))
            .order(users::employee_number)
            .limit(5000)
            .load(conn)?;
        let Some(last_row) = people.last() else { break };
        after = last_row.1.clone();
        for (id, number, name, home) in &people {
            let Some((n, minutes, days)) = totals.get(id) else {
                continue;
            };
            let home = home
                .and_then(|h| site_codes.get(&h))
                .map_or("", String::as_str);
            sheet.row(&[
                Cell::Text(number),
                Cell::Text(name),
                Cell::Text(home),
                Cell::Number(f64::from(fy)),
                Cell::Number(*n as f64),
                Cell::Number(*minutes as f64 / 60.0),
                Cell::Number(*days as f64),
            ])?;
            written += 1;
        }
    }
    Ok(written)
}
