//! Sites import: `code,name,company_code,country,region,timezone,opened_on,closed_on`, upsert by
//! code. Every row is checked before anything is written; one bad row rejects the whole file
//! with a report of every bad row (line, column, reason).

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::schema::companies;
use crate::db::{AnyConnection, Id, write_transaction};
use crate::error::{AppError, AppResult, FieldError};
use crate::org::sites::{Region, SiteFields, upsert_by_code};

pub const HEADER: [&str; 8] = [
    "code",
    "name",
    "company_code",
    "country",
    "region",
    "timezone",
    "opened_on",
    "closed_on",
];

/// What an import did (or, with `dry_run`, would do).
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportReport {
    pub rows: usize,
    pub created: usize,
    pub updated: usize,
    pub dry_run: bool,
}

/// Well-formed records with their line numbers, and the lines that were not (encoding, column
/// count). A wrong header is an error on its own: nothing else can be read then.
pub type Records = (Vec<(u64, csv::StringRecord)>, Vec<FieldError>);

/// Reads CSV text into records, reporting encoding and shape errors by line.
pub fn read_csv(bytes: &[u8], header: &[&str]) -> Result<Records, Vec<FieldError>> {
    read_csv_versions(bytes, &[header]).map(|(_, records)| records)
}

/// The same for a file that may come in several versions (column sets): the header says which,
/// and the index of the one it matched comes back with the records.
pub fn read_csv_versions(
    bytes: &[u8],
    versions: &[&[&str]],
) -> Result<(usize, Records), Vec<FieldError>> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(bytes);
    let got = match reader.headers() {
        Ok(h) => h.iter().map(|s| s.trim().to_owned()).collect::<Vec<_>>(),
        Err(e) => {
            return Err(vec![
                FieldError::new("header", "unreadable", e.to_string()).at_line(1),
            ]);
        }
    };
    let Some(version) = versions.iter().position(|h| got == *h) else {
        let expected: Vec<String> = versions.iter().map(|h| h.join(",")).collect();
        return Err(vec![
            FieldError::new(
                "header",
                "wrong_header",
                format!("expected the header {}", expected.join(" or ")),
            )
            .at_line(1),
        ]);
    };
    let header = versions[version];
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    let mut lines = Lines::new(bytes);
    for record in reader.records() {
        match record {
            Ok(r) => {
                let line = r.position().map_or(0, |p| lines.at(p.byte()));
                if r.len() != header.len() {
                    errors.push(
                        FieldError::new(
                            "row",
                            "wrong_column_count",
                            format!("{} columns, expected {}", r.len(), header.len()),
                        )
                        .at_line(line),
                    );
                } else if let Some(column) = r
                    .iter()
                    .position(|cell| cell.chars().any(crate::input::is_forbidden_control))
                {
                    // The JSON bodies' rule, for every import: no cell holds NUL or another
                    // control character (line breaks and tabs in a quoted cell are fine).
                    errors.push(
                        FieldError::new(
                            header[column],
                            "control_character",
                            "text may not contain NUL or other control characters",
                        )
                        .at_line(line),
                    );
                } else {
                    rows.push((line, r));
                }
            }
            Err(e) => {
                let line = e.position().map_or(0, |p| lines.at(p.byte()));
                let (code, message) = match e.kind() {
                    csv::ErrorKind::Utf8 { .. } => {
                        ("invalid_utf8", "the line is not valid UTF-8".to_owned())
                    }
                    _ => ("unreadable", e.to_string()),
                };
                errors.push(FieldError::new("row", code, message).at_line(line));
            }
        }
    }
    Ok((version, (rows, errors)))
}

/// The file line (the header is line 1) a record starts on, as a spreadsheet or an editor
/// numbers them: counted from the record's byte offset, so a quoted cell holding line breaks
/// moves the records after it down by as many lines. Records come in file order, so counting
/// goes forward from the last answer.
struct Lines<'a> {
    bytes: &'a [u8],
    offset: usize,
    line: u64,
}

impl<'a> Lines<'a> {
    fn new(bytes: &'a [u8]) -> Lines<'a> {
        Lines {
            bytes,
            offset: 0,
            line: 1,
        }
    }

    fn at(&mut self, byte: u64) -> u64 {
        let mut byte = usize::try_from(byte).map_or(self.bytes.len(), |b| b.min(self.bytes.len()));
        // After a CRLF the reader may place the next record on the LF; the record itself starts
        // after the line break (blank lines are skipped, so none starts with one).
        while matches!(self.bytes.get(byte), Some(b'\r' | b'\n')) {
            byte += 1;
        }
        if byte > self.offset {
            let breaks = self.bytes[self.offset..byte]
                .iter()
                .filter(|b| **b == b'\n')
                .count();
            self.line += breaks as u64;
            self.offset = byte;
        }
        self.line
    }
}

pub fn rejected(errors: Vec<FieldError>) -> AppError {
    let n = errors
        .iter()
        .filter_map(|e| e.line)
        .collect::<HashSet<_>>()
        .len()
        .max(1);
    let mut err = AppError::new(
        actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
        "import_rejected",
        format!("{n} line(s) are invalid; nothing was imported"),
    );
    for e in errors {
        err = err.with_field(e);
    }
    err
}

/// Validates the whole file, then (unless `dry_run`) upserts every row in one transaction.
pub fn import_sites(
    conn: &mut AnyConnection,
    caller: &crate::auth::Caller,
    bytes: &[u8],
    dry_run: bool,
) -> AppResult<ImportReport> {
    super::require_admin(caller)?;
    let (rows, mut errors) = read_csv(bytes, &HEADER).map_err(rejected)?;
    let companies: HashMap<String, Id> = companies::table
        .select((companies::code, companies::id))
        .load::<(String, Id)>(conn)?
        .into_iter()
        .collect();
    let mut seen = HashSet::new();
    let mut parsed = Vec::new();
    for (line, r) in &rows {
        let line = *line;
        let mut row_errors = Vec::new();
        let get = |i: usize| r.get(i).unwrap_or_default().trim().to_owned();
        let code = get(0);
        if !seen.insert(code.clone()) {
            row_errors.push(FieldError::new(
                "code",
                "duplicate",
                "the code appears twice in the file",
            ));
        }
        let company = companies.get(&get(2)).copied();
        if company.is_none() {
            row_errors.push(FieldError::new(
                "company_code",
                "unknown_company",
                "no company with this code",
            ));
        }
        let region = match get(4).as_str() {
            "domestic" => Some(Region::Domestic),
            "overseas" => Some(Region::Overseas),
            _ => {
                row_errors.push(FieldError::new(
                    "region",
                    "invalid_value",
                    "domestic or overseas",
                ));
                None
            }
        };
        let date =
            |i: usize, field: &'static str, errors: &mut Vec<FieldError>| -> Option<NaiveDate> {
                let text = get(i);
                match NaiveDate::parse_from_str(&text, "%Y-%m-%d") {
                    Ok(d) => Some(d),
                    Err(_) => {
                        errors.push(FieldError::new(
                            field,
                            "invalid_date",
                            "a date as YYYY-MM-DD",
                        ));
                        None
                    }
                }
            };
        let opened_on = date(6, "opened_on", &mut row_errors);
        let closed_on = if get(7).is_empty() {
            None
        } else {
            date(7, "closed_on", &mut row_errors)
        };
        if let (Some(company_id), Some(region), Some(opened_on)) = (company, region, opened_on) {
            let fields = SiteFields {
                code,
                name: get(1),
                company_id,
                country: get(3).to_uppercase(),
                region,
                timezone: get(5),
                opened_on,
                closed_on,
            };
            row_errors.extend(fields.errors());
            parsed.push(fields);
        }
        errors.extend(row_errors.into_iter().map(|e| e.at_line(line)));
    }
    if !errors.is_empty() {
        errors.sort_by_key(|e| e.line);
        return Err(rejected(errors));
    }
    if dry_run {
        let existing: i64 = crate::db::schema::sites::table
            .filter(
                crate::db::schema::sites::code
                    .eq_any(parsed.iter().map(|f| f.code.clone()).collect::<Vec<_>>()),
            )
            .count()
            .get_result(conn)?;
        let updated = usize::try_from(existing).unwrap_or(0);
        return Ok(ImportReport {
            rows: parsed.len(),
            created: parsed.len() - updated,
            updated,
            dry_run,
        });
    }
    write_transaction(conn, |conn| {
        let mut report = ImportReport {
            rows: parsed.len(),
            created: 0,
            updated: 0,
            dry_run,
        };
        for fields in &parsed {
            let (_, created) = upsert_by_code(conn, caller, fields)?;
            if created {
                report.created += 1;
            } else {
                report.updated += 1;
            }
        }
        Ok(report)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_numbered_by_file_line() {
        let text = "a,b\n1,x\n2,\"two\nlines\"\n3,y\r\n4,z\n";
        let (rows, errors) = read_csv(text.as_bytes(), &["a", "b"]).unwrap();
        assert!(errors.is_empty(), "{errors:?}");
        let lines: Vec<u64> = rows.iter().map(|(line, _)| *line).collect();
        assert_eq!(lines, [2, 3, 5, 6]);
    }

    #[test]
    fn bad_lines_name_their_file_line_after_a_multi_line_cell() {
        let text = "\u{feff}a,b\n\"one\ntwo\nthree\",x\nonly-one-column\n";
        let (rows, errors) = read_csv(text.as_bytes(), &["a", "b"]).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].0, 2);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].line, Some(5), "{errors:?}");
    }
}
