//! One writer for tabular exports, as CSV (RFC 4180, UTF-8, optional BOM for Excel) or XLSX
//! (constant-memory mode: rows go to a temporary file, the workbook is zipped at the end).

use std::io::Write;

use rust_xlsxwriter::{Format, Workbook};

use crate::exports::{ChannelWriter, neutralize};

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
}

pub enum Sheet {
    Csv(csv::Writer<ChannelWriter>),
    Xlsx {
        book: Box<Workbook>,
        out: ChannelWriter,
        row: u32,
        bold: Format,
    },
}

fn xlsx_err(e: rust_xlsxwriter::XlsxError) -> std::io::Error {
    std::io::Error::other(e.to_string())
}

impl Sheet {
    pub fn new(kind: Kind, mut out: ChannelWriter, sheet_name: &str) -> std::io::Result<Sheet> {
        match kind {
            Kind::Csv { bom } => {
                if bom {
                    out.write_all(b"\xEF\xBB\xBF")?;
                }
                Ok(Sheet::Csv(
                    csv::WriterBuilder::new()
                        .terminator(csv::Terminator::CRLF)
                        .from_writer(out),
                ))
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
                    }
                    .map_err(std::io::Error::other)?;
                }
                w.write_record(None::<&[u8]>).map_err(std::io::Error::other)
            }
            Sheet::Xlsx { book, row, .. } => {
                let ws = book.worksheet_from_index(0).map_err(xlsx_err)?;
                for (c, cell) in cells.iter().enumerate() {
                    let c = u16::try_from(c).unwrap_or(u16::MAX);
                    match cell {
                        Cell::Text(t) => ws.write_string(*row, c, neutralize(t)).map(drop),
                        Cell::Number(n) => ws.write_number(*row, c, *n).map(drop),
                    }
                    .map_err(xlsx_err)?;
                }
                *row += 1;
                Ok(())
            }
        }
    }

    pub fn finish(self) -> std::io::Result<()> {
        match self {
            Sheet::Csv(w) => {
                let mut out = w.into_inner().map_err(|e| e.into_error())?;
                out.flush()
            }
            Sheet::Xlsx {
                mut book, mut out, ..
            } => {
                book.save_to_writer(&mut out).map_err(xlsx_err)?;
                out.flush()
            }
        }
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
}
