//! The year's social contribution expenses, the last lines of the report section: financial
//! assistance (an amount), product donations (quantity × unit price) and facility use (hours ×
//! the unit price of an equivalent outside facility), each by area, site and (through the site)
//! company. A line's value in yen is computed once, exactly, when it is written; the totals are
//! sums of those integers, shown rounded as the report prints them ("approx. ¥0.5 billion",
//! 「約5億円」) with the exact sum beside it. HR and administrators keep the ledger.

use std::collections::{BTreeSet, HashMap, HashSet};

use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::audit;
use crate::auth::{Caller, Role};
use crate::db::schema::{contribution_expenses as ce, sites};
use crate::db::{AnyConnection, Id, Timestamp, per_backend, write_transaction};
use crate::error::{AppError, AppResult, FieldError};
use crate::org::import::{read_csv, rejected};
pub use crate::stats::expenses::{Sum, Totals, approx, totals};

/// The areas a contribution is reported under (codes; the pages name them).
pub const AREAS: [&str; 9] = [
    "academia_research_education",
    "arts_culture_sports",
    "health_medical",
    "social_welfare",
    "environment",
    "disaster_relief",
    "community",
    "international",
    "other",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Money given: `amount_yen`.
    Financial,
    /// Goods given: `quantity` × `unit_price_yen`.
    Product,
    /// Premises lent: `quantity` hours × the hourly `unit_price_yen` of an equivalent outside
    /// facility.
    Facility,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Financial => "financial",
            Kind::Product => "product",
            Kind::Facility => "facility",
        }
    }

    fn parse(s: &str) -> Option<Kind> {
        [Kind::Financial, Kind::Product, Kind::Facility]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// One line of the ledger as written.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewExpense {
    #[schema(minimum = 1900, maximum = 2200)]
    pub fiscal_year: i32,
    pub kind: Kind,
    /// One of `academia_research_education`, `arts_culture_sports`, `health_medical`,
    /// `social_welfare`, `environment`, `disaster_relief`, `community`, `international`, `other`.
    pub area: String,
    pub site_id: uuid::Uuid,
    pub description: String,
    /// Financial assistance: the amount in yen.
    pub amount_yen: Option<i64>,
    /// Products: how many; facilities: how many hours.
    pub quantity: Option<f64>,
    /// Products: yen each; facilities: yen an hour.
    pub unit_price_yen: Option<i64>,
}

/// A line of the ledger.
#[derive(Debug, Serialize, ToSchema)]
pub struct Expense {
    pub id: uuid::Uuid,
    pub fiscal_year: i32,
    pub kind: Kind,
    pub area: String,
    pub site_id: uuid::Uuid,
    pub description: String,
    pub quantity: Option<f64>,
    pub unit_price_yen: Option<i64>,
    /// The line's value in yen (for products and facilities, quantity × unit price, rounded to
    /// the yen once).
    pub amount_yen: i64,
}

fn require_hr(caller: &Caller) -> AppResult<()> {
    caller.require(&[Role::Hr, Role::Admin])
}

/// A line's value in yen, or what is wrong with it (fields named as the API's body names them).
fn amount_of(e: &NewExpense) -> Result<i64, Vec<FieldError>> {
    let mut errors = Vec::new();
    if !AREAS.contains(&e.area.as_str()) {
        errors.push(FieldError::new(
            "area",
            "invalid_choice",
            format!("one of {}", AREAS.join(", ")),
        ));
    }
    let text = e.description.trim();
    if text.is_empty() || text.chars().count() > 500 {
        errors.push(FieldError::new(
            "description",
            "invalid_length",
            "1 to 500 characters",
        ));
    }
    if !(1900..=2200).contains(&e.fiscal_year) {
        errors.push(FieldError::new(
            "fiscal_year",
            "out_of_range",
            "a fiscal year from 1900 to 2200",
        ));
    }
    // At most a trillion yen a line: far above any real line, far below overflow in a sum.
    const MAX_YEN: f64 = 1e12;
    let amount = match e.kind {
        Kind::Financial => {
            if e.quantity.is_some() || e.unit_price_yen.is_some() {
                errors.push(FieldError::new(
                    "quantity",
                    "not_for_kind",
                    "financial assistance has an amount, not a quantity and unit price",
                ));
            }
            match e.amount_yen {
                Some(a) if a > 0 && (a as f64) <= MAX_YEN => Some(a),
                _ => {
                    errors.push(FieldError::new(
                        "amount_yen",
                        "out_of_range",
                        "a whole number of yen above 0",
                    ));
                    None
                }
            }
        }
        Kind::Product | Kind::Facility => {
            if e.amount_yen.is_some() {
                errors.push(FieldError::new(
                    "amount_yen",
                    "not_for_kind",
                    "products and facilities are counted as quantity × unit price",
                ));
            }
            let quantity = e.quantity.filter(|q| q.is_finite() && *q > 0.0);
            if quantity.is_none() {
                errors.push(FieldError::new(
                    "quantity",
                    "out_of_range",
                    "a number above 0 (items, or hours for a facility)",
                ));
            }
            let price = e.unit_price_yen.filter(|p| *p > 0);
            if price.is_none() {
                errors.push(FieldError::new(
                    "unit_price_yen",
                    "out_of_range",
                    "a whole number of yen above 0",
                ));
            }
            match (quantity, price) {
                (Some(q), Some(p)) => {
                    let yen = (q * p as f64).round();
                    if (1.0..=MAX_YEN).contains(&yen) {
                        Some(yen as i64)
                    } else {
                        errors.push(FieldError::new(
                            "quantity",
                            "out_of_range",
                            "quantity × unit price must come to 1 yen or more (at most 10^12)",
                        ));
                        None
                    }
                }
                _ => None,
            }
        }
    };
    match amount {
        Some(a) if errors.is_empty() => Ok(a),
        _ => Err(errors),
    }
}

fn insert(
    conn: &mut AnyConnection,
    by: Option<Id>,
    e: &NewExpense,
    amount: i64,
) -> QueryResult<Id> {
    let id = Id::new();
    diesel::insert_into(ce::table)
        .values((
            ce::id.eq(id),
            ce::fiscal_year.eq(e.fiscal_year),
            ce::kind.eq(e.kind.as_str()),
            ce::area.eq(&e.area),
            ce::site_id.eq(Id::from(e.site_id)),
            ce::description.eq(e.description.trim()),
            ce::quantity.eq(e.quantity),
            ce::unit_price_yen.eq(e.unit_price_yen),
            ce::amount_yen.eq(amount),
            ce::created_by.eq(by),
            ce::created_at.eq(Timestamp::now()),
        ))
        .execute(conn)?;
    Ok(id)
}

type Row = (
    Id,
    i32,
    String,
    String,
    Id,
    String,
    Option<f64>,
    Option<i64>,
    i64,
);

/// The columns a [`Row`] is read from.
type Columns = (
    ce::id,
    ce::fiscal_year,
    ce::kind,
    ce::area,
    ce::site_id,
    ce::description,
    ce::quantity,
    ce::unit_price_yen,
    ce::amount_yen,
);

const COLUMNS: Columns = (
    ce::id,
    ce::fiscal_year,
    ce::kind,
    ce::area,
    ce::site_id,
    ce::description,
    ce::quantity,
    ce::unit_price_yen,
    ce::amount_yen,
);

fn expense((id, fy, kind, area, site, description, quantity, unit, amount): Row) -> Expense {
    Expense {
        id: id.into(),
        fiscal_year: fy,
        kind: Kind::parse(&kind).unwrap_or(Kind::Financial),
        area,
        site_id: site.into(),
        description,
        quantity,
        unit_price_yen: unit,
        amount_yen: amount,
    }
}

fn find(conn: &mut AnyConnection, id: Id) -> AppResult<Expense> {
    let row: Row = ce::table
        .filter(ce::id.eq(id))
        .select(COLUMNS)
        .first(conn)?;
    Ok(expense(row))
}

/// Adds one line (HR, admins; audited).
pub fn create(
    conn: &mut AnyConnection,
    caller: &Caller,
    e: &NewExpense,
    request_id: Option<String>,
) -> AppResult<Expense> {
    require_hr(caller)?;
    let amount = amount_of(e).map_err(AppError::validation)?;
    let id = write_transaction(conn, |conn| -> AppResult<Id> {
        let known: bool = diesel::select(diesel::dsl::exists(
            sites::table.filter(sites::id.eq(Id::from(e.site_id))),
        ))
        .get_result(conn)?;
        if !known {
            return Err(AppError::validation(vec![FieldError::new(
                "site_id",
                "unknown_site",
                "no such site",
            )]));
        }
        let id = insert(conn, Some(caller.id), e, amount)?;
        // A closed year's totals are published figures: a line added to it restates them.
        crate::stats::closing::guard(conn, caller, &BTreeSet::from([e.fiscal_year]))?;
        audit::record(
            conn,
            audit::Entry {
                actor: Some(caller.id),
                action: "expense.create",
                entity_type: "contribution_expense",
                entity_id: Some(id.to_string()),
                details: json!({"fiscal_year": e.fiscal_year, "kind": e.kind, "amount_yen": amount}),
                request_id,
            },
        )?;
        Ok(id)
    })?;
    find(conn, id)
}

/// Adds a line for the system (the demo seed): checked as any line, not audited.
pub fn seed(conn: &mut AnyConnection, e: &NewExpense) -> AppResult<()> {
    let amount = amount_of(e).map_err(AppError::validation)?;
    insert(conn, None, e, amount)?;
    Ok(())
}

/// A year's lines, oldest first, `limit + 1` from after `after` (keyset).
pub fn list(
    conn: &mut AnyConnection,
    caller: &Caller,
    fy: i32,
    after: Option<Id>,
    limit: i64,
) -> AppResult<Vec<Expense>> {
    require_hr(caller)?;
    let mut q = ce::table
        .filter(ce::fiscal_year.eq(fy))
        .order(ce::id)
        .select(COLUMNS)
        .limit(limit + 1)
        .into_boxed();
    if let Some(a) = after {
        q = q.filter(ce::id.gt(a));
    }
    let rows: Vec<Row> = q.load(conn)?;
    Ok(rows.into_iter().map(expense).collect())
}

/// The ledger file's columns.
pub const HEADER: [&str; 8] = [
    "fiscal_year",
    "kind",
    "area",
    "site_code",
    "description",
    "amount_yen",
    "quantity",
    "unit_price_yen",
];

/// What an import did (or, with `dry_run`, would do).
#[derive(Debug, Serialize, ToSchema)]
pub struct ExpenseImportReport {
    pub rows: usize,
    pub total_yen: i64,
    pub dry_run: bool,
}

/// Imports a ledger file all or nothing (HR, admins): every bad line is reported with its line
/// and column, and nothing is written unless every line is good.
pub fn import(
    conn: &mut AnyConnection,
    caller: &Caller,
    bytes: &[u8],
    dry_run: bool,
    request_id: Option<String>,
) -> AppResult<ExpenseImportReport> {
    require_hr(caller)?;
    let (rows, mut errors) = read_csv(bytes, &HEADER).map_err(rejected)?;
    let site_ids: HashMap<String, Id> = sites::table
        .select((sites::code, sites::id))
        .load::<(String, Id)>(conn)?
        .into_iter()
        .collect();
    let mut parsed = Vec::new();
    let mut seen = HashSet::new();
    for (line, r) in &rows {
        let get = |i: usize| r.get(i).unwrap_or_default().trim().to_owned();
        let mut row_errors = Vec::new();
        let number = |i: usize, field: &'static str, errors: &mut Vec<FieldError>| {
            let text = get(i).replace(',', "");
            if text.is_empty() {
                return None;
            }
            match text.parse::<f64>() {
                Ok(v) if v.is_finite() => Some(v),
                _ => {
                    errors.push(FieldError::new(field, "invalid_number", "a number"));
                    None
                }
            }
        };
        let fiscal_year = get(0).parse::<i32>().unwrap_or_else(|_| {
            row_errors.push(FieldError::new(
                "fiscal_year",
                "invalid_number",
                "a fiscal year such as 2026",
            ));
            0
        });
        let kind = Kind::parse(&get(1));
        if kind.is_none() {
            row_errors.push(FieldError::new(
                "kind",
                "invalid_choice",
                "financial, product or facility",
            ));
        }
        let site = site_ids.get(&get(3)).copied();
        if site.is_none() {
            row_errors.push(FieldError::new(
                "site_code",
                "unknown_site",
                "no site with this code",
            ));
        }
        let whole = |v: Option<f64>| v.filter(|x| x.fract() == 0.0).map(|x| x as i64);
        let amount = number(5, "amount_yen", &mut row_errors);
        let quantity = number(6, "quantity", &mut row_errors);
        let unit = number(7, "unit_price_yen", &mut row_errors);
        if amount.is_some_and(|a| a.fract() != 0.0) || unit.is_some_and(|u| u.fract() != 0.0) {
            row_errors.push(FieldError::new(
                "amount_yen",
                "invalid_number",
                "yen are whole numbers",
            ));
        }
        if let (Some(kind), Some(site)) = (kind, site) {
            let e = NewExpense {
                fiscal_year,
                kind,
                area: get(2),
                site_id: site.into(),
                description: get(4),
                amount_yen: whole(amount),
                quantity,
                unit_price_yen: whole(unit),
            };
            match amount_of(&e) {
                // The same line twice in one file is almost always a copy-paste slip.
                Ok(a) if !seen.insert((fiscal_year, get(1), get(2), get(3), get(4), a)) => {
                    row_errors.push(FieldError::new(
                        "description",
                        "duplicate",
                        "the same line appears twice in the file",
                    ));
                }
                Ok(a) => parsed.push((e, a)),
                Err(errs) => row_errors.extend(errs),
            }
        }
        errors.extend(row_errors.into_iter().map(|e| e.at_line(*line)));
    }
    if !errors.is_empty() {
        errors.sort_by_key(|e| e.line);
        return Err(rejected(errors));
    }
    let total_yen = parsed.iter().map(|(_, a)| a).sum();
    let report = ExpenseImportReport {
        rows: parsed.len(),
        total_yen,
        dry_run,
    };
    let years: BTreeSet<i32> = parsed.iter().map(|(e, _)| e.fiscal_year).collect();
    // The check says what the import will: a closed year needs a reason.
    crate::stats::closing::require_reason(conn, caller, &years)?;
    if dry_run {
        return Ok(report);
    }
    write_transaction(conn, |conn| -> AppResult<()> {
        let now = Timestamp::now();
        for chunk in parsed.chunks(500) {
            let values: Vec<_> = chunk
                .iter()
                .map(|(e, a)| {
                    (
                        ce::id.eq(Id::new()),
                        ce::fiscal_year.eq(e.fiscal_year),
                        ce::kind.eq(e.kind.as_str()),
                        ce::area.eq(e.area.clone()),
                        ce::site_id.eq(Id::from(e.site_id)),
                        ce::description.eq(e.description.trim().to_owned()),
                        ce::quantity.eq(e.quantity),
                        ce::unit_price_yen.eq(e.unit_price_yen),
                        ce::amount_yen.eq(*a),
                        ce::created_by.eq(Some(caller.id)),
                        ce::created_at.eq(now),
                    )
                })
                .collect();
            per_backend!(&mut *conn, |c| diesel::insert_into(ce::table)
                .values(&values)
                .execute(c))?;
        }
        crate::stats::closing::guard(conn, caller, &years)?;
        audit::record(
            conn,
            audit::Entry {
                actor: Some(caller.id),
                action: "import.expenses",
                entity_type: "import",
                entity_id: None,
                details: json!({"rows": report.rows, "total_yen": report.total_yen}),
                request_id,
            },
        )?;
        Ok(())
    })?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::approx;

    #[test]
    fn totals_read_as_the_report_prints_them() {
        assert_eq!(
            approx(512_345_678),
            ("approx. ¥0.5 billion".into(), "約5億円".into())
        );
        assert_eq!(
            approx(812_000_000),
            ("approx. ¥0.8 billion".into(), "約8億円".into())
        );
        assert_eq!(
            approx(23_456_789),
            ("approx. ¥23 million".into(), "約2346万円".into())
        );
        assert_eq!(approx(9_800), ("¥9800".into(), "9800円".into()));
    }
}
