//! The participation export: one row per attendance record, in the documented column set
//! `participations/2`, read in keyset batches inside one read-only snapshot.

use std::collections::HashMap;

use chrono::NaiveDate;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;

use crate::attendance::model::Approval;
use crate::db::schema::{
    attendance, companies, events, program_categories, programs, sites, users,
};
use crate::db::{AnyConnection, Id};
use crate::sheet::{Cell, Sheet};
use crate::time::FiscalCalendar;

/// The column set; a change of columns gets a new version. Version 2 split `company` into the
/// employee's home company and the organising site's company (an employee of a subsidiary who
/// joins the parent's event is the subsidiary's), and added `person_days`.
pub const VERSION: &str = "participations/2";

pub const COLUMNS: [&str; 16] = [
    "employee_number",
    "employee_name",
    "home_site",
    "home_company",
    "organising_site",
    "organising_company",
    "program_code",
    "program_title",
    "categories",
    "event_date",
    "fiscal_year",
    "status",
    "minutes",
    "hours",
    "person_days",
    "approval",
];

/// Rows read per query.
const BATCH: i64 = 5000;

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Filter {
    pub fiscal_year: Option<i32>,
    pub site_id: Option<Id>,
    pub company_id: Option<Id>,
    pub approval: Option<Approval>,
    /// Coordinators: only these organising sites.
    pub sites: Option<Vec<Id>>,
}

/// One attendance record as read per batch; everything else comes from maps loaded once.
type Row = (Id, Id, Option<NaiveDate>, Id, String, i32, i32, String);

/// A programme as the export shows it.
struct Programme {
    site: Id,
    code: String,
    title: String,
    categories: String,
}

/// Writes every matching record; returns how many. Errors after the first row cannot change
/// the response any more: the caller ends the stream with them.
///
/// People, programmes, sites and companies are loaded once (they number in the tens of
/// thousands at most); each batch then reads only attendance joined with its event. Joining
/// users in every batch made PostgreSQL look each one up per row, which cost more than the rest
/// of the export together.
pub fn write(
    conn: &mut AnyConnection,
    fiscal: FiscalCalendar,
    f: &Filter,
    sheet: &mut Sheet<crate::sheet::ChannelWriter>,
) -> Result<u64, Box<dyn std::error::Error + Send + Sync>> {
    conn.transaction(|conn| {
        if let AnyConnection::Postgresql(c) = conn {
            // One snapshot for every batch: the file is what the database held at one moment.
            c.batch_execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")?;
        }
        let site_codes: HashMap<Id, (String, Id)> = sites::table
            .select((sites::id, sites::code, sites::company_id))
            .load::<(Id, String, Id)>(conn)?
            .into_iter()
            .map(|(id, code, company)| (id, (code, company)))
            .collect();
        let company_codes: HashMap<Id, String> = companies::table
            .select((companies::id, companies::code))
            .load(conn)?
            .into_iter()
            .collect();
        let people: HashMap<Id, (String, String, Option<Id>)> = users::table
            .select((
                users::id,
                users::employee_number,
                users::display_name,
                users::site_id,
            ))
            .load::<(Id, String, String, Option<Id>)>(conn)?
            .into_iter()
            .map(|(id, number, name, site)| (id, (number, name, site)))
            .collect();
        let mut categories: HashMap<Id, Vec<String>> = HashMap::new();
        for (p, c) in program_categories::table
            .select((program_categories::program_id, program_categories::category))
            .order((program_categories::program_id, program_categories::category))
            .load::<(Id, String)>(conn)?
        {
            categories.entry(p).or_default().push(c);
        }
        let programmes: HashMap<Id, Programme> = programs::table
            .select((
                programs::id,
                programs::site_id,
                programs::code,
                programs::title,
            ))
            .load::<(Id, Id, String, String)>(conn)?
            .into_iter()
            .map(|(id, site, code, title)| {
                let categories = categories.get(&id).map(|c| c.join(";")).unwrap_or_default();
                (
                    id,
                    Programme {
                        site,
                        code,
                        title,
                        categories,
                    },
                )
            })
            .collect();
        let dates = f.fiscal_year.and_then(|fy| fiscal.dates(fy));
        sheet.header(&COLUMNS)?;
        let mut after: Option<Id> = None;
        let mut written = 0u64;
        let none = Programme {
            site: Id::default(),
            code: String::new(),
            title: String::new(),
            categories: String::new(),
        };
        loop {
            // Attendance and its event only: the programme comes from the map, and the site
            // filters are sub-queries on the event's programme, so PostgreSQL looks up one row
            // per record, not two.
            let mut q = attendance::table
                .inner_join(events::table)
                .select((
                    attendance::id,
                    attendance::user_id,
                    events::starts_on,
                    events::program_id,
                    attendance::status,
                    attendance::minutes,
                    attendance::days,
                    attendance::approval,
                ))
                .into_boxed();
            if let Some((first, last)) = dates {
                q = q.filter(events::starts_on.between(first, last));
            }
            if let Some(s) = f.site_id {
                q = q.filter(
                    events::program_id.eq_any(
                        programs::table
                            .filter(programs::site_id.eq(s))
                            .select(programs::id),
                    ),
                );
            }
            if let Some(c) = f.company_id {
                q = q.filter(
                    events::program_id.eq_any(
                        programs::table
                            .filter(programs::site_id.eq_any(crate::org::sites::of_company(c)))
                            .select(programs::id),
                    ),
                );
            }
            if let Some(a) = f.approval {
                q = q.filter(attendance::approval.eq(a.as_str()));
            }
            if let Some(allowed) = &f.sites {
                q = q.filter(
                    events::program_id.eq_any(
                        programs::table
                            .filter(programs::site_id.eq_any(allowed.clone()))
                            .select(programs::id),
                    ),
                );
            }
            if let Some(a) = after {
                q = q.filter(attendance::id.gt(a));
            }
            let rows: Vec<Row> = q.order(attendance::id).limit(BATCH).load(conn)?;
            let Some(last) = rows.last() else { break };
            after = Some(last.0);
            for (_, user, on, program, status, minutes, days, approval) in &rows {
                let (number, name, home) = people
                    .get(user)
                    .map(|(n, d, h)| (n.as_str(), d.as_str(), *h))
                    .unwrap_or(("", "", None));
                let site_and_company = |site: Option<Id>| {
                    site.and_then(|s| site_codes.get(&s))
                        .map_or(("", ""), |(code, company)| {
                            (
                                code.as_str(),
                                company_codes.get(company).map_or("", String::as_str),
                            )
                        })
                };
                let (home_site, home_company) = site_and_company(home);
                let p = programmes.get(program).unwrap_or(&none);
                let (site_code, company) = site_and_company(Some(p.site));
                let fy = on.map_or(0.0, |d| f64::from(fiscal.year_of(d)));
                sheet.row(&[
                    Cell::Text(number),
                    Cell::Text(name),
                    Cell::Text(home_site),
                    Cell::Text(home_company),
                    Cell::Text(site_code),
                    Cell::Text(company),
                    Cell::Text(&p.code),
                    Cell::Text(&p.title),
                    Cell::Text(&p.categories),
                    on.map_or(Cell::Text(""), Cell::Date),
                    Cell::Number(fy),
                    Cell::Text(status),
                    Cell::Number(f64::from(*minutes)),
                    Cell::Number(f64::from(*minutes) / 60.0),
                    Cell::Number(f64::from(*days)),
                    Cell::Text(approval),
                ])?;
                written += 1;
            }
            if rows.len() < BATCH as usize {
                break;
            }
        }
        Ok(written)
    })
}
