//! The lists the pages' filters offer — sites and companies, named as a reader finds them —
//! read the same way wherever a form asks "which site or company".

use serde::Serialize;

use crate::db::{AnyConnection, Id};
use crate::error::AppResult;
use crate::org::sites::Region;

/// One option of a `<select>`.
#[derive(Debug, Clone, Serialize)]
pub struct Choice {
    pub value: String,
    pub name: String,
}

/// A site as a form offers it.
#[derive(Debug, Clone, Serialize)]
pub struct SiteChoice {
    pub id: String,
    pub code: String,
    pub name: String,
}

/// Sites by name (then code); `only` narrows them (a coordinator's own). Closed sites stay:
/// their history can still be asked for, and people can still belong to them.
pub fn site_list(c: &mut AnyConnection, only: Option<Vec<Id>>) -> AppResult<Vec<SiteChoice>> {
    let mut sites: Vec<SiteChoice> = crate::org::sites::list(
        c,
        &crate::org::sites::ListFilter {
            ids: only,
            limit: 10_000,
            ..Default::default()
        },
    )?
    .into_iter()
    .map(|s| SiteChoice {
        id: s.id.to_string(),
        code: s.code,
        name: s.name,
    })
    .collect();
    sites.sort_by(|a, b| (&a.name, &a.code).cmp(&(&b.name, &b.code)));
    Ok(sites)
}

/// Sites as `site:ID` options named "Name (CODE)" (see [`site_list`]).
pub fn sites(c: &mut AnyConnection, only: Option<Vec<Id>>) -> AppResult<Vec<Choice>> {
    Ok(site_list(c, only)?
        .into_iter()
        .map(|s| Choice {
            value: format!("site:{}", s.id),
            name: format!("{} ({})", s.name, s.code),
        })
        .collect())
}

/// What a "whose figures" select names, read back from its value: "" (everything),
/// `site:ID`, `company:ID` or `region:domestic|overseas`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scoped {
    All,
    Site(Id),
    Company(Id),
    Region(Region),
}

/// The choice `value` names; `None` for a value no such select offers.
pub fn scoped(value: &str) -> Option<Scoped> {
    let id = |v: &str| v.parse::<uuid::Uuid>().ok().map(Id::from);
    match value.trim().split_once(':') {
        None if value.trim().is_empty() => Some(Scoped::All),
        Some(("site", v)) => id(v).map(Scoped::Site),
        Some(("company", v)) => id(v).map(Scoped::Company),
        Some(("region", "domestic")) => Some(Scoped::Region(Region::Domestic)),
        Some(("region", "overseas")) => Some(Scoped::Region(Region::Overseas)),
        _ => None,
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scope_value_reads_back_as_its_choice_or_not_at_all() {
        let id = uuid::Uuid::now_v7();
        assert_eq!(scoped(""), Some(Scoped::All));
        assert_eq!(scoped(&format!("site:{id}")), Some(Scoped::Site(id.into())));
        assert_eq!(
            scoped(&format!("company:{id}")),
            Some(Scoped::Company(id.into()))
        );
        assert_eq!(
            scoped("region:overseas"),
            Some(Scoped::Region(Region::Overseas))
        );
        for bad in ["region:mars", "site:42", "planet:1", "site"] {
            assert_eq!(scoped(bad), None, "{bad}");
        }
    }
}
