//! The year's social contribution expenses added up, as the report prints them. The ledger is
//! kept by `contributions`; the totals are read here, beside the other figures of the report,
//! so a closed year freezes them with its table (`closing::Snapshot::expenses`).

use std::collections::BTreeMap;

use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::db::schema::{companies, contribution_expenses as ce, sites};
use crate::db::{AnyConnection, Id};
use crate::error::AppResult;

/// A total and how the report prints it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Sum {
    /// The group: a kind, an area code or a company id (absent for the year's total).
    pub key: Option<String>,
    pub yen: i64,
}

/// The year's expenses added up.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Totals {
    pub fiscal_year: i32,
    /// The exact sum of every line, in yen.
    pub total_yen: i64,
    /// As the report prints it in English ("approx. ¥0.5 billion").
    pub approx_en: String,
    /// As the report prints it in Japanese (「約5億円」).
    pub approx_ja: String,
    pub lines: i64,
    pub by_kind: Vec<Sum>,
    pub by_area: Vec<Sum>,
    pub by_company: Vec<Sum>,
    /// A closed year's published version these totals are from (`null`: as the ledger is now).
    #[serde(default)]
    pub published_version: Option<i32>,
}

/// "approx. ¥0.5 billion" / 「約5億円」: the report's rounding — billions to one decimal (億 to
/// the unit) from ¥100 million, millions (万 to the unit) below, the exact yen under ¥10,000.
pub fn approx(yen: i64) -> (String, String) {
    let y = yen as f64;
    let en = if yen >= 100_000_000 {
        format!("approx. ¥{:.1} billion", y / 1e9)
    } else if yen >= 1_000_000 {
        format!("approx. ¥{:.0} million", y / 1e6)
    } else {
        format!("¥{yen}")
    };
    let ja = if yen >= 100_000_000 {
        format!("約{:.0}億円", y / 1e8)
    } else if yen >= 10_000 {
        format!("約{:.0}万円", y / 1e4)
    } else {
        format!("{yen}円")
    };
    (en, ja)
}

/// The year's totals: every line summed exactly, by kind, area and company (everyone signed in
/// reads these aggregates).
pub fn totals(conn: &mut AnyConnection, fy: i32) -> AppResult<Totals> {
    let rows: Vec<(String, String, Id, i64)> = ce::table
        .inner_join(sites::table.inner_join(companies::table))
        .filter(ce::fiscal_year.eq(fy))
        .select((ce::kind, ce::area, companies::id, ce::amount_yen))
        .load(conn)?;
    let mut total = 0i64;
    let mut kinds: BTreeMap<String, i64> = BTreeMap::new();
    let mut areas: BTreeMap<String, i64> = BTreeMap::new();
    let mut companies_sum: BTreeMap<String, i64> = BTreeMap::new();
    for (kind, area, company, yen) in &rows {
        total += yen;
        *kinds.entry(kind.clone()).or_default() += yen;
        *areas.entry(area.clone()).or_default() += yen;
        *companies_sum.entry(company.to_string()).or_default() += yen;
    }
    let sums = |m: BTreeMap<String, i64>| -> Vec<Sum> {
        m.into_iter()
            .map(|(k, yen)| Sum { key: Some(k), yen })
            .collect()
    };
    let (approx_en, approx_ja) = approx(total);
    Ok(Totals {
        fiscal_year: fy,
        total_yen: total,
        approx_en,
        approx_ja,
        lines: rows.len() as i64,
        by_kind: sums(kinds),
        by_area: sums(areas),
        by_company: sums(companies_sum),
        published_version: None,
    })
}
