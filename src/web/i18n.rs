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
        let i = MESSAGES.binary_search_by(|(k, _, _)| k.cmp(&key)).ok()?;
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

/// Every string of the pages: (key, English, Japanese), sorted by key (binary search; a test
/// checks the order). `{name}` marks a value the page fills in.
pub const MESSAGES: &[(&str, &str, &str)] = &[
    ("app.name", "tomoni", "tomoni"),
    ("app.skip", "Skip to content", "本文へスキップ"),
    (
        "app.tagline",
        "Volunteering together",
        "みんなでボランティア",
    ),
    (
        "calendar.add",
        "Add to calendar (.ics)",
        "カレンダーに追加 (.ics)",
    ),
    ("error.back", "Back to the events", "イベント一覧に戻る"),
    (
        "error.title",
        "Something went wrong",
        "エラーが発生しました",
    ),
    ("event.cancel", "Cancel my sign-up", "参加を取り消す"),
    ("event.cancel_deadline", "Cancel by", "取消期限"),
    (
        "event.cancelled_note",
        "This event has been cancelled.",
        "このイベントは中止になりました。",
    ),
    ("event.capacity", "Places", "定員"),
    ("event.closed", "Sign-up is closed.", "受付は終了しました。"),
    (
        "event.join_waitlist",
        "Join the waitlist",
        "キャンセル待ちに登録",
    ),
    ("event.location", "Place", "場所"),
    ("event.partner", "Partner", "協力団体"),
    ("event.program", "Programme", "プログラム"),
    ("event.sign_up", "Sign up", "参加する"),
    ("event.signup_deadline", "Sign up by", "申込期限"),
    ("event.site", "Site", "拠点"),
    (
        "event.status_cancelled",
        "You cancelled your sign-up.",
        "参加を取り消しました。",
    ),
    (
        "event.status_confirmed",
        "You are signed up.",
        "参加が確定しています。",
    ),
    (
        "event.status_waitlisted",
        "You are number {position} on the waitlist.",
        "キャンセル待ち {position} 番目です。",
    ),
    ("event.time", "When", "日時"),
    ("event.unlimited", "No limit", "定員なし"),
    ("event.your_status", "Your sign-up", "あなたの申込状況"),
    ("events.category", "Category", "カテゴリー"),
    ("events.company", "Company", "会社"),
    (
        "events.empty",
        "No events match these filters.",
        "条件に合うイベントはありません。",
    ),
    ("events.filter", "Show events", "絞り込む"),
    ("events.filters", "Filters", "絞り込み"),
    (
        "events.free_only",
        "Only events with free places",
        "空きのあるイベントのみ",
    ),
    ("events.from", "From", "開始日"),
    ("events.full", "Full", "満席"),
    ("events.heading", "Upcoming events", "これからのイベント"),
    ("events.more", "More events", "さらに表示"),
    ("events.region", "Region", "地域"),
    ("events.region_domestic", "Domestic", "国内"),
    ("events.region_overseas", "Overseas", "海外"),
    ("events.reset", "Clear filters", "条件をクリア"),
    ("events.seats_left", "{n} places left", "残り {n} 席"),
    ("events.site", "Site", "拠点"),
    (
        "events.site_hint",
        "Choose a company to pick any of its sites.",
        "会社を選ぶと、その会社の拠点から選べます。",
    ),
    ("events.text", "Title contains", "タイトル"),
    ("events.theme", "Theme", "テーマ"),
    ("events.to", "To", "終了日"),
    ("events.waitlist", "{n} waiting", "キャンセル待ち {n} 人"),
    ("filter.any", "Any", "すべて"),
    ("lang.switch", "日本語", "English"),
    ("lang.switch_label", "Language", "言語"),
    (
        "mine.empty",
        "You have not signed up for anything yet.",
        "まだ申し込みはありません。",
    ),
    ("mine.heading", "My sign-ups", "参加予定・履歴"),
    ("mine.past", "Past", "終了したもの"),
    ("mine.upcoming", "Upcoming", "これから"),
    ("nav.events", "Events", "イベント"),
    ("nav.main", "Main", "メイン"),
    ("nav.mine", "My sign-ups", "参加予定"),
    ("nav.sign_out", "Sign out", "ログアウト"),
    (
        "nav.signed_in_as",
        "Signed in as {name}",
        "{name} さんでログイン中",
    ),
    (
        "problem.already_signed_up",
        "You are already signed up for this event.",
        "このイベントには申込済みです。",
    ),
    (
        "problem.cancel_closed",
        "The cancellation deadline has passed; ask the event's coordinator.",
        "取消期限を過ぎています。イベントのコーディネーターにご連絡ください。",
    ),
    (
        "problem.cross_site",
        "This form was sent from another site, so it was refused. Open the page in tomoni and try again.",
        "別のサイトから送信されたため、受け付けませんでした。tomoni のページから操作し直してください。",
    ),
    (
        "problem.database_unavailable",
        "tomoni cannot reach its database right now. Try again in a minute.",
        "ただいまデータベースに接続できません。しばらくしてからお試しください。",
    ),
    (
        "problem.event_full",
        "The event is full and has no waitlist.",
        "満席で、キャンセル待ちもありません。",
    ),
    (
        "problem.event_not_open",
        "The event is not open for sign-up.",
        "このイベントは申込を受け付けていません。",
    ),
    (
        "problem.expired_form",
        "This form has expired (you may have signed in again elsewhere). Reload the page and try again.",
        "フォームの有効期限が切れました（別の画面で再ログインした可能性があります）。ページを再読み込みしてやり直してください。",
    ),
    (
        "problem.not_found",
        "There is nothing here.",
        "ページが見つかりません。",
    ),
    (
        "problem.overlapping_signup",
        "You already have a confirmed event at the same time.",
        "同じ時間帯に参加が確定している別のイベントがあります。",
    ),
    (
        "problem.signup_closed",
        "The sign-up deadline has passed.",
        "申込期限を過ぎています。",
    ),
    ("signin.email", "Email", "メールアドレス"),
    ("signin.heading", "Sign in", "ログイン"),
    (
        "signin.invalid",
        "Wrong email or password.",
        "メールアドレスまたはパスワードが違います。",
    ),
    ("signin.password", "Password", "パスワード"),
    (
        "signin.required",
        "Enter your email and password.",
        "メールアドレスとパスワードを入力してください。",
    ),
    (
        "signin.signed_out",
        "You are signed out.",
        "ログアウトしました。",
    ),
    ("signin.submit", "Sign in", "ログイン"),
    (
        "signin.too_many",
        "Too many attempts. Try again in {minutes} minutes.",
        "試行回数が多すぎます。{minutes} 分後にもう一度お試しください。",
    ),
    ("status.cancelled", "Cancelled", "取消"),
    ("status.confirmed", "Confirmed", "確定"),
    (
        "status.waitlisted",
        "Waitlist #{position}",
        "キャンセル待ち {position} 番",
    ),
    ("theme.community", "Community", "地域社会"),
    ("theme.education", "Education", "教育"),
    ("theme.nature", "Nature", "自然"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalogue_is_sorted_and_unique() {
        for pair in MESSAGES.windows(2) {
            assert!(pair[0].0 < pair[1].0, "{} before {}", pair[0].0, pair[1].0);
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
