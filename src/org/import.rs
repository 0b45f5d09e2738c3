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
    let mut rows = Vec::new();
    let (version, errors) = each_csv_record(bytes, versions, |line, r| rows.push((line, r)))?;
    Ok((version, (rows, errors)))
}

/// Reads CSV from `source` one record at a time, so a file of any length needs no more memory
/// than a record: checks the header against `versions` (a wrong one is the only error then),
/// hands each well-formed record with its line to `each`, and returns the index of the version
/// with the lines that were not well-formed (encoding, column count, control characters).
pub fn each_csv_record(
    source: impl std::io::Read,
    versions: &[&[&str]],
    mut each: impl FnMut(u64, csv::StringRecord),
) -> Result<(usize, Vec<FieldError>), Vec<FieldError>> {
    let source = Counted::new(source);
    let mut lines = Lines {
        breaks: source.breaks.clone(),
        line: 1,
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(source);
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
    let mut errors = Vec::new();
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
                    each(line, r);
                }
            }
            Err(e) => {
                let line = e.position().map_or(0, |p| lines.at(p.byte()));
                let (code, message) = match e.kind() {
                    csv::ErrorKind::Io(_) => ("unreadable", e.to_string()),
                    csv::ErrorKind::Utf8 { .. } => {
                        ("invalid_utf8", "the line is not valid UTF-8".to_owned())
                    }
                    _ => ("unreadable", e.to_string()),
                };
                errors.push(FieldError::new("row", code, message).at_line(line));
                if matches!(e.kind(), csv::ErrorKind::Io(_)) {
                    break;
                }
            }
        }
    }
    Ok((version, errors))
}

/// Where the line breaks are, as the CSV reader reads ahead: (offset, byte) of every CR and LF
/// read but not yet passed by a record.
type Breaks = std::rc::Rc<std::cell::RefCell<std::collections::VecDeque<(u64, u8)>>>;

/// The source without a leading UTF-8 byte-order mark, noting its line breaks for [`Lines`].
struct Counted<R> {
    inner: R,
    /// Offset (after the mark) of the next byte handed out.
    offset: u64,
    /// Bytes read while looking for the mark, not handed out yet.
    start: Option<Vec<u8>>,
    breaks: Breaks,
}

impl<R: std::io::Read> Counted<R> {
    fn new(inner: R) -> Counted<R> {
        Counted {
            inner,
            offset: 0,
            start: None,
            breaks: Breaks::default(),
        }
    }
}

impl<R: std::io::Read> std::io::Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.offset == 0 && self.start.is_none() {
            let mut head = Vec::with_capacity(3);
            while head.len() < 3 {
                let mut byte = [0u8; 1];
                if self.inner.read(&mut byte)? == 0 {
                    break;
                }
                head.push(byte[0]);
            }
            if head == b"\xEF\xBB\xBF" {
                head.clear();
            }
            self.start = Some(head);
        }
        let n = match self.start.as_mut().filter(|head| !head.is_empty()) {
            Some(head) => {
                let n = head.len().min(buf.len());
                buf[..n].copy_from_slice(&head[..n]);
                head.drain(..n);
                n
            }
            None => self.inner.read(buf)?,
        };
        let mut breaks = self.breaks.borrow_mut();
        for (i, byte) in buf[..n].iter().enumerate() {
            if matches!(byte, b'\r' | b'\n') {
                breaks.push_back((self.offset + i as u64, *byte));
            }
        }
        self.offset += n as u64;
        Ok(n)
    }
}

/// The file line (the header is line 1) a record starts on, as a spreadsheet or an editor
/// numbers them: counted from the record's byte offset, so a quoted cell holding line breaks
/// moves the records after it down by as many lines. Records come in file order, so counting
/// goes forward from the last answer, and the breaks behind it are let go.
struct Lines {
    breaks: Breaks,
    line: u64,
}

impl Lines {
    fn at(&mut self, byte: u64) -> u64 {
        let mut breaks = self.breaks.borrow_mut();
        let mut byte = byte;
        while let Some(&(at, b)) = breaks.front() {
            // Before the record; or, after a CRLF, the reader may place the next record on the
            // LF: the record itself starts after the line break (blank lines are skipped, so
            // none starts with one).
            if at <= byte {
                if at == byte {
                    byte += 1;
                }
                if b == b'\n' {
                    self.line += 1;
                }
                breaks.pop_front();
            } else {
                break;
            }
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

    /// A source that hands out one byte per read, as a slow pipe might: the byte-order mark and
    /// the line breaks are found however the reads fall.
    struct Trickle<'a>(&'a [u8]);

    impl std::io::Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            match (self.0.split_first(), buf.is_empty()) {
                (Some((first, rest)), false) => {
                    buf[0] = *first;
                    self.0 = rest;
                    Ok(1)
                }
                _ => Ok(0),
            }
        }
    }

    #[test]
    fn a_stream_read_a_byte_at_a_time_numbers_lines_alike() {
        let text = "\u{feff}a,b\r\n1,x\r\n2,\"two\r\nlines\"\r\n\r\n3,y\n";
        let mut lines = Vec::new();
        let (_, errors) = each_csv_record(Trickle(text.as_bytes()), &[&["a", "b"]], |line, r| {
            lines.push((line, r.get(0).unwrap_or_default().to_owned()));
        })
        .unwrap();
        assert!(errors.is_empty(), "{errors:?}");
        let want = [(2, "1"), (3, "2"), (6, "3")].map(|(l, a)| (l, a.to_owned()));
        assert_eq!(lines, want);
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
