//! The pages' two languages: every string by key in English and Japanese, and dates, times and
//! numbers written the way a reader of each language expects, in the event's zone and named
//! (`Thu 1 Dec 2011, 9:00 JST` / `2011年12月1日(木) 9:00 JST`).
//!
//! The catalogue is a table in the binary, so a page can never miss its text at run time; a
//! test checks that every key a template uses is here.

use chrono::{DateTime, Datelike, Utc};

/// A language the pages are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Ja,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Ja => "ja",
        }
    }

    pub fn parse(code: &str) -> Option<Lang> {
        match code.trim().to_ascii_lowercase().as_str() {
            "en" => Some(Lang::En),
            "ja" => Some(Lang::Ja),
            _ => None,
        }
    }

    /// The first of the reader's languages (an `Accept-Language` value) tomoni speaks.
    pub fn from_accept_language(header: &str) -> Option<Lang> {
        let mut ranked: Vec<(f32, Lang)> = header
            .split(',')
            .filter_map(|part| {
                let mut pieces = part.split(';');
                let tag = pieces.next()?.trim();
                let primary = tag.split('-').next()?;
                let lang = Lang::parse(primary)?;
                let q = pieces
                    .find_map(|p| p.trim().strip_prefix("q="))
                    .and_then(|q| q.parse::<f32>().ok())
                    .unwrap_or(1.0);
                (q > 0.0).then_some((q, lang))
            })
            .collect();
        // Stable: equal weights keep the reader's order.
        ranked.sort_by(|a, b| b.0.total_cmp(&a.0));
        ranked.first().map(|(_, l)| *l)
    }

    /// The text of `key`, if the catalogue has it.
    pub fn lookup(self, key: &str) -> Option<&'static str> {
        let i = MESSAGES.binary_search_by(|(k, _, _)| (*k).cmp(key)).ok()?;
        Some(match self {
            Lang::En => MESSAGES[i].1,
            Lang::Ja => MESSAGES[i].2,
        })
    }

    /// The text of `key`; a missing key shows as itself (and is logged) rather than breaking
    /// the page. A test keeps every key the templates use in the catalogue.
    pub fn text(self, key: &str) -> String {
        match self.lookup(key) {
            Some(t) => t.to_owned(),
            None => {
                tracing::warn!(key, "page text missing from the catalogue");
                key.to_owned()
            }
        }
    }

    /// A whole number with the reader's digit grouping (both languages group by thousands).
    pub fn number(self, n: i64) -> String {
        let digits = n.unsigned_abs().to_string();
        let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
        if n < 0 {
            out.push('-');
        }
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                out.push(',');
            }
            out.push(c);
        }
        out
    }

    /// A day: `Thu 1 Dec 2011` / `2011年12月1日(木)`.
    pub fn day(self, d: chrono::NaiveDate) -> String {
        let wd = d.weekday().num_days_from_monday() as usize;
        match self {
            Lang::En => format!(
                "{} {} {} {}",
                EN_WEEKDAYS[wd],
                d.day(),
                EN_MONTHS[d.month0() as usize],
                d.year()
            ),
            Lang::Ja => format!(
                "{}年{}月{}日({})",
                d.year(),
                d.month(),
                d.day(),
                JA_WEEKDAYS[wd]
            ),
        }
    }

    /// An instant in zone `tz`, named: `Thu 1 Dec 2011, 9:00 JST`.
    pub fn when(self, t: DateTime<Utc>, tz: &str) -> String {
        let (local, zone) = in_zone(t, tz);
        format!(
            "{} {} {zone}",
            self.day_sep(local.date_naive()),
            clock(&local)
        )
    }

    /// A span in zone `tz`: one day shows the day once (`Thu 1 Dec 2011, 9:00–12:00 JST`).
    pub fn span(self, from: DateTime<Utc>, to: DateTime<Utc>, tz: &str) -> String {
        let (a, zone) = in_zone(from, tz);
        let (b, _) = in_zone(to, tz);
        if a.date_naive() == b.date_naive() {
            format!(
                "{} {}–{} {zone}",
                self.day_sep(a.date_naive()),
                clock(&a),
                clock(&b)
            )
        } else {
            format!(
                "{} {} – {} {} {zone}",
                self.day_sep(a.date_naive()),
                clock(&a),
                self.day_sep(b.date_naive()),
                clock(&b)
            )
        }
    }

    fn day_sep(self, d: chrono::NaiveDate) -> String {
        match self {
            Lang::En => format!("{},", self.day(d)),
            Lang::Ja => self.day(d),
        }
    }
}

const EN_WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const JA_WEEKDAYS: [&str; 7] = ["月", "火", "水", "木", "金", "土", "日"];
const EN_MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

fn clock(t: &DateTime<chrono_tz::Tz>) -> String {
    t.format("%-H:%M").to_string()
}

/// The instant in its zone and the zone's name at that instant (`JST`, `CET`/`CEST`); UTC when
/// the zone is unknown (it never is: zones are checked on the way in).
fn in_zone(t: DateTime<Utc>, tz: &str) -> (DateTime<chrono_tz::Tz>, String) {
    let zone = tz.parse::<chrono_tz::Tz>().unwrap_or(chrono_tz::UTC);
    let local = t.with_timezone(&zone);
    let name = local.format("%Z").to_string();
    (local, name)
}

/// Every text of the pages, from `web/messages.tsv` (key, English, Japanese, tab-separated,
/// sorted by key): a file translators can edit, compiled into the binary.
const CATALOGUE: &str = include_str!("../../web/messages.tsv");

/// The catalogue's entries, sorted by key (a test checks the file is sorted and complete).
static MESSAGES: std::sync::LazyLock<Vec<(&'static str, &'static str, &'static str)>> =
    std::sync::LazyLock::new(|| {
        let mut entries: Vec<_> = CATALOGUE
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .filter_map(|l| {
                let mut cols = l.split('\t');
                Some((cols.next()?, cols.next()?, cols.next()?))
            })
            .collect();
        entries.sort_by(|a, b| a.0.cmp(b.0));
        entries
    });

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalogue_is_sorted_unique_and_complete() {
        let lines: Vec<&str> = CATALOGUE
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect();
        for line in &lines {
            let cols: Vec<&str> = line.split('\t').collect();
            assert_eq!(cols.len(), 3, "key, English, Japanese: {line:?}");
            assert!(
                cols.iter().all(|c| !c.trim().is_empty()),
                "empty text: {line:?}"
            );
        }
        assert_eq!(MESSAGES.len(), lines.len());
        for pair in lines.windows(2) {
            let key = |l: &str| l.split('\t').next().unwrap_or_default().to_owned();
            assert!(
                key(pair[0]) < key(pair[1]),
                "{} before {}",
                key(pair[0]),
                key(pair[1])
            );
        }
    }

    #[test]
    fn accept_language_picks_the_first_spoken_language() {
        assert_eq!(
            Lang::from_accept_language("ja-JP,ja;q=0.9,en;q=0.8"),
            Some(Lang::Ja)
        );
        assert_eq!(
            Lang::from_accept_language("fr-FR, en;q=0.5, ja;q=0.4"),
            Some(Lang::En)
        );
        assert_eq!(Lang::from_accept_language("de, fr"), None);
        assert_eq!(Lang::from_accept_language("en;q=0, ja"), Some(Lang::Ja));
    }

    #[test]
    fn dates_read_as_each_language_writes_them() {
        let t = "2011-12-01T00:00:00Z".parse::<DateTime<Utc>>().unwrap();
        let end = "2011-12-01T03:00:00Z".parse::<DateTime<Utc>>().unwrap();
        assert_eq!(Lang::En.when(t, "Asia/Tokyo"), "Thu 1 Dec 2011, 9:00 JST");
        assert_eq!(Lang::Ja.when(t, "Asia/Tokyo"), "2011年12月1日(木) 9:00 JST");
        assert_eq!(
            Lang::En.span(t, end, "Asia/Tokyo"),
            "Thu 1 Dec 2011, 9:00–12:00 JST"
        );
        let later = "2011-12-03T08:00:00Z".parse::<DateTime<Utc>>().unwrap();
        assert_eq!(
            Lang::Ja.span(t, later, "Asia/Tokyo"),
            "2011年12月1日(木) 9:00 – 2011年12月3日(土) 17:00 JST"
        );
        assert_eq!(Lang::En.number(1234567), "1,234,567");
        assert_eq!(Lang::Ja.number(-8032), "-8,032");
    }
}
