//! The lists the pages' filters offer — sites and companies, named as a reader finds them —
//! read the same way wherever a form asks "which site or company".

use serde::Serialize;

use crate::db::{AnyConnection, Id};
use crate::error::AppResult;

/// One option of a `<select>`.
#[derive(Debug, Clone, Serialize)]
pub struct Choice {
    pub value: String,
    pub name: String,
}

/// Sites as `site:ID` options named "Name (CODE)", by name; `only` narrows them (a
/// coordinator's own). Closed sites stay: their history can still be asked for.
pub fn sites(c: &mut AnyConnection, only: Option<Vec<Id>>) -> AppResult<Vec<Choice>> {
    let mut sites: Vec<Choice> = crate::org::sites::list(
        c,
        &crate::org::sites::ListFilter {
            ids: only,
            limit: 10_000,
            ..Default::default()
        },
    )?
    .into_iter()
    .map(|s| Choice {
        value: format!("site:{}", s.id),
        name: format!("{} ({})", s.name, s.code),
    })
    .collect();
    sites.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(sites)
}

/// Companies as `company:ID` options, by name.
pub fn companies(c: &mut AnyConnection) -> AppResult<Vec<Choice>> {
    let mut list: Vec<Choice> = crate::org::companies::list(c, None, 5_000)?
        .into_iter()
        .map(|co| Choice {
            value: format!("company:{}", co.id),
            name: co.name,
        })
        .collect();
    list.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(list)
}
