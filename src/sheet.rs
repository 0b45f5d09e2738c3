//! The one writer for every table tomoni hands to a spreadsheet: CSV (RFC 4180 on the csv
//! crate, UTF-8, CRLF, optional BOM so Excel reads Japanese names) or XLSX (constant-memory
//! mode: rows go to a temporary file, the workbook is zipped at the end). Text that a
//! spreadsheet would run as a formula is neutralised in both, and times are written in the
//! site's zone with its offset. Roster, my hours, the HR exports and the statistics table all
//! write through it, so a CSV rule is fixed once.
//!
//! A leaf module: no crate imports.

use std::borrow::Cow;
use std::io::Write;

use actix_web::web::Bytes;
use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, Timelike};
use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};

/// The two formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Csv { bom: bool },
    Xlsx,
}

impl Kind {
    pub fn content_type(self) -> &'static str {
        match self {
            Kind::Csv { .. } => "text/csv; charset=utf-8",
            Kind::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Kind::Csv { .. } => "csv",
            Kind::Xlsx => "xlsx",
        }
    }
}

/// A cell value.
pub enum Cell<'a> {
    Text(&'a str),
    Number(f64),
    /// A number shown with exactly this many decimals (`44.0`), as a report prints it.
    Fixed(f64, usize),
    /// A site-local time: in CSV RFC 3339 with the zone's offset (`2011-12-01T09:00:00+09:00`),
    /// in XLSX a date-time cell of the local wall time (spreadsheets have no offsets).
    Time(DateTime<FixedOffset>),
    /// A site-local date: `2011-12-01` in CSV, a date cell in XLSX.
    Date(NaiveDate),
}

/// The spreadsheet's serial date-time of a local wall time.
fn excel_time(t: &DateTime<FixedOffset>) -> Result<ExcelDateTime, rust_xlsxwriter::XlsxError> {
    excel_date(&t.date_naive())?.and_hms(t.hour() as u16, t.minute() as u8, t.second())
}

fn excel_date(d: &NaiveDate) -> Result<ExcelDateTime, rust_xlsxwriter::XlsxError> {
    ExcelDateTime::from_ymd(
        u16::try_from(d.year()).unwrap_or(1900),
        d.month() as u8,
        d.day() as u8,
    )
}

/// A table being written to `W` (a response stream, or memory for small tables).
pub enum Sheet<W: Write> {
    Csv(csv::Writer<W>),
    Xlsx {
        book: Box<Workbook>,
        out: W,
        row: u32,
        bold: Format,
        formats: Box<Formats>,
    },
}

/// The cell formats of dates and date-times.
pub struct Formats {
    date: Format,
    time: Format,
}

fn xlsx_err(e: rust_xlsxwriter::XlsxError) -> std::io::Error {
    std::io::Error::other(e.to_string())
}

/// RFC 3339 with the offset, to the second: what a person and a spreadsheet both read.
pub fn format_time(t: DateTime<FixedOffset>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%:z").to_string()
}

impl Sheet<Vec<u8>> {
    /// A CSV table built in memory (rosters, the statistics table: small by nature).
    pub fn csv_in_memory(bom: bool) -> Sheet<Vec<u8>> {
        let mut out = Vec::new();
        if bom {
            out.extend_from_slice(BOM);
        }
        Sheet::Csv(csv_writer(out))
    }
}

/// The UTF-8 byte order mark Excel needs to read a CSV as UTF-8.
const BOM: &[u8] = b"\xEF\xBB\xBF";

fn csv_writer<W: Write>(out: W) -> csv::Writer<W> {
    csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(out)
}

impl<W: Write + Send> Sheet<W> {
    pub fn new(kind: Kind, mut out: W, sheet_name: &str) -> std::io::Result<Sheet<W>> {
        match kind {
            Kind::Csv { bom } => {
                if bom {
                    out.write_all(BOM)?;
                }
                Ok(Sheet::Csv(csv_writer(out)))
            }
            Kind::Xlsx => {
                let mut book = Box::new(Workbook::new());
                book.add_worksheet_with_constant_memory()
                    .and_then(|ws| ws.set_name(sheet_name).map(drop))
                    .map_err(xlsx_err)?;
                Ok(Sheet::Xlsx {
                    book,
                    out,
                    row: 0,
                    bold: Format::new().set_bold(),
                    formats: Box::new(Formats {
                        date: Format::new().set_num_format("yyyy-mm-dd"),
                        time: Format::new().set_num_format("yyyy-mm-dd hh:mm"),
                    }),
                })
            }
        }
    }

    pub fn header(&mut self, columns: &[&str]) -> std::io::Result<()> {
        match self {
            Sheet::Csv(w) => w.write_record(columns).map_err(std::io::Error::other),
            Sheet::Xlsx {
                book, row, bold, ..
            } => {
                let ws = book.worksheet_from_index(0).map_err(xlsx_err)?;
                for (c, name) in columns.iter().enumerate() {
                    let c = u16::try_from(c).unwrap_or(u16::MAX);
                    ws.write_string_with_format(*row, c, *name, bold)
                        .map_err(xlsx_err)?;
                }
                *row += 1;
                Ok(())
            }
        }
    }

    pub fn row(&mut self, cells: &[Cell]) -> std::io::Result<()> {
        match self {
            Sheet::Csv(w) => {
                for cell in cells {
                    match cell {
                        Cell::Text(t) => w.write_field(neutralize(t).as_bytes()),
                        Cell::Number(n) => w.write_field(format_number(*n)),
                        Cell::Fixed(n, d) => w.write_field(format!("{n:.d$}", d = *d)),
                        Cell::Time(t) => w.write_field(format_time(*t)),
                        Cell::Date(d) => w.write_field(d.format("%Y-%m-%d").to_string()),
                    }
                    .map_err(std::io::Error::other)?;
                }
                w.write_record(None::<&[u8]>).map_err(std::io::Error::other)
            }
            Sheet::Xlsx {
                book, row, formats, ..
            } => {
                let ws = book.worksheet_from_index(0).map_err(xlsx_err)?;
                for (c, cell) in cells.iter().enumerate() {
                    let c = u16::try_from(c).unwrap_or(u16::MAX);
                    match cell {
                        Cell::Text(t) => ws.write_string(*row, c, neutralize(t)).map(drop),
                        Cell::Number(n) => ws.write_number(*row, c, *n).map(drop),
                        Cell::Fixed(n, _) => ws.write_number(*row, c, *n).map(drop),
                        Cell::Time(t) => excel_time(t)
                            .and_then(|v| ws.write_datetime_with_format(*row, c, &v, &formats.time))
                            .map(drop),
                        Cell::Date(d) => excel_date(d)
                            .and_then(|v| ws.write_datetime_with_format(*row, c, &v, &formats.date))
                            .map(drop),
                    }
                    .map_err(xlsx_err)?;
                }
                *row += 1;
                Ok(())
            }
        }
    }

    /// Ends the table and hands back the writer, flushed.
    pub fn finish(self) -> std::io::Result<W> {
        let mut out = match self {
            Sheet::Csv(w) => w.into_inner().map_err(|e| e.into_error())?,
            Sheet::Xlsx {
                mut book, mut out, ..
            } => {
                book.save_to_writer(&mut out).map_err(xlsx_err)?;
                out
            }
        };
        out.flush()?;
        Ok(out)
    }
}

/// A text cell a spreadsheet would run as a formula (`= + - @`, tab, CR first) gets a leading
/// apostrophe, in CSV and XLSX alike.
pub fn neutralize(text: &str) -> Cow<'_, str> {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        Cow::Owned(format!("'{text}"))
    } else {
        Cow::Borrowed(text)
    }
}

/// Chunks sent to the response as they are written. Blocking: meant for the thread that reads
/// the database; a full channel (slow client) makes the writer wait, so memory stays bounded.
pub struct ChannelWriter {
    tx: Chunks,
    buf: Vec<u8>,
    /// How long a chunk may wait for the client to take it; `None`: as long as it takes.
    stall: Option<std::time::Duration>,
}

/// What the response stream receives: data, or the error that ends it (the client then sees a
/// broken transfer rather than a file that looks complete).
pub type Chunks = tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>;

/// Bytes buffered before a chunk is sent.
const CHUNK: usize = 64 * 1024;

impl ChannelWriter {
    pub fn new(tx: Chunks) -> ChannelWriter {
        ChannelWriter {
            tx,
            buf: Vec::with_capacity(CHUNK),
            stall: None,
        }
    }

    /// Gives up (an error, which ends the download) when the client takes nothing for `stall`:
    /// a download nobody reads must not keep its connection and its export slot for ever.
    pub fn stalling_after(mut self, stall: std::time::Duration) -> ChannelWriter {
        self.stall = Some(stall);
        self
    }

    fn send(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK)));
        let gone = || std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the client went away");
        let Some(stall) = self.stall else {
            return self.tx.blocking_send(Ok(chunk)).map_err(|_| gone());
        };
        // Runs on a blocking thread of the runtime: waiting here blocks no request.
        let sent =
            tokio::runtime::Handle::current().block_on(self.tx.send_timeout(Ok(chunk), stall));
        match sent {
            Ok(()) => Ok(()),
            Err(tokio::sync::mpsc::error::SendTimeoutError::Timeout(_)) => Err(
                std::io::Error::new(std::io::ErrorKind::TimedOut, "the client stopped reading"),
            ),
            Err(tokio::sync::mpsc::error::SendTimeoutError::Closed(_)) => Err(gone()),
        }
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.send()
    }
}

/// Numbers as a spreadsheet reads them: integers without a decimal point, others with at most
/// two decimals.
pub fn format_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        let s = format!("{n:.2}");
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_written_plainly() {
        assert_eq!(format_number(3.0), "3");
        assert_eq!(format_number(1.5), "1.5");
        assert_eq!(format_number(2.0 / 3.0), "0.67");
        assert_eq!(format_number(-4.0), "-4");
    }

    #[test]
    fn formulas_are_neutralized_and_other_text_left_alone() {
        for risky in ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(neutralize(risky), format!("'{risky}"));
        }
        assert_eq!(neutralize("Beach clean-up"), "Beach clean-up");
        assert_eq!(neutralize(""), "");
    }

    #[test]
    fn csv_cells_are_quoted_and_formulas_neutralised() {
        let mut sheet = Sheet::csv_in_memory(false);
        sheet
            .row(&[
                Cell::Text("plain"),
                Cell::Text("a,b"),
                Cell::Text("say \"hi\""),
                Cell::Text("=1+1"),
                Cell::Text("@SUM(A1)"),
                Cell::Text("-5"),
                Cell::Number(1.5),
            ])
            .unwrap();
        let out = String::from_utf8(sheet.finish().unwrap()).unwrap();
        assert_eq!(
            out,
            "plain,\"a,b\",\"say \"\"hi\"\"\",'=1+1,'@SUM(A1),'-5,1.5\r\n"
        );
    }

    #[test]
    fn a_bom_leads_and_times_keep_their_offset() {
        use chrono::TimeZone;
        let tokyo = FixedOffset::east_opt(9 * 3600).unwrap();
        let mut sheet = Sheet::csv_in_memory(true);
        sheet
            .row(&[Cell::Time(
                tokyo.with_ymd_and_hms(2011, 12, 1, 9, 0, 0).unwrap(),
            )])
            .unwrap();
        let out = sheet.finish().unwrap();
        assert_eq!(out, b"\xEF\xBB\xBF2011-12-01T09:00:00+09:00\r\n");
    }
}
