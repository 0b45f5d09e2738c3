//! HR exports and imports: participation records and hours as CSV or XLSX, streamed in keyset
//! batches so memory stays flat for any size; participation history imported all-or-nothing.

pub mod handlers;
pub mod hours;
pub mod import;
pub mod participations;
pub mod sheet;

use std::borrow::Cow;
use std::io::Write;

use actix_web::web::Bytes;

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
        }
    }

    fn send(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK)));
        self.tx.blocking_send(Ok(chunk)).map_err(|_| {
            std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the client went away")
        })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_neutralized_and_other_text_left_alone() {
        for risky in ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(neutralize(risky), format!("'{risky}"));
        }
        assert_eq!(neutralize("Beach clean-up"), "Beach clean-up");
        assert_eq!(neutralize(""), "");
    }
}
