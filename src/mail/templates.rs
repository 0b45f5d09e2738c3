//! Message texts in English and Japanese, rendered with minijinja. Each kind has a subject and a
//! plain-text body; the HTML part wraps the same paragraphs in a small layout (auto-escaped), so
//! the two parts never say different things.

use minijinja::{Environment, Value, context};

use crate::error::{AppError, AppResult};

const TEXTS: &[(&str, &str)] = &[
    (
        "signup_confirmed.en.subject",
        "You are signed up: {{ event.title }}",
    ),
    (
        "signup_confirmed.en.body",
        "Hello {{ name }},\n\nyou have a place at {{ event.title }}.\n\nWhen: {{ event.when }}\nWhere: {{ event.location or 'see the event page' }}\n\nThe attached calendar entry adds it to your calendar.",
    ),
    (
        "signup_confirmed.ja.subject",
        "参加登録が完了しました: {{ event.title }}",
    ),
    (
        "signup_confirmed.ja.body",
        "{{ name }} さん\n\n{{ event.title }} への参加が確定しました。\n\n日時: {{ event.when }}\n場所: {{ event.location or 'イベントページをご覧ください' }}\n\n添付のカレンダーファイルで予定に追加できます。",
    ),
    (
        "signup_waitlisted.en.subject",
        "On the waitlist: {{ event.title }}",
    ),
    (
        "signup_waitlisted.en.body",
        "Hello {{ name }},\n\n{{ event.title }} is full; you are number {{ position }} on the waitlist.\n\nWhen: {{ event.when }}\n\nWe will write as soon as a seat is yours.",
    ),
    (
        "signup_waitlisted.ja.subject",
        "キャンセル待ちに登録しました: {{ event.title }}",
    ),
    (
        "signup_waitlisted.ja.body",
        "{{ name }} さん\n\n{{ event.title }} は満席のため、キャンセル待ち {{ position }} 番目で登録しました。\n\n日時: {{ event.when }}\n\n席が空き次第お知らせします。",
    ),
    (
        "signup_promoted.en.subject",
        "A seat is yours: {{ event.title }}",
    ),
    (
        "signup_promoted.en.body",
        "Hello {{ name }},\n\na seat became free and it is yours: {{ event.title }}.\n\nWhen: {{ event.when }}\nWhere: {{ event.location or 'see the event page' }}\n\nThe attached calendar entry adds it to your calendar.",
    ),
    (
        "signup_promoted.ja.subject",
        "参加が確定しました: {{ event.title }}",
    ),
    (
        "signup_promoted.ja.body",
        "{{ name }} さん\n\n空きが出たため、{{ event.title }} への参加が確定しました。\n\n日時: {{ event.when }}\n場所: {{ event.location or 'イベントページをご覧ください' }}\n\n添付のカレンダーファイルで予定に追加できます。",
    ),
    (
        "signup_cancelled.en.subject",
        "Sign-up cancelled: {{ event.title }}",
    ),
    (
        "signup_cancelled.en.body",
        "Hello {{ name }},\n\nyour sign-up for {{ event.title }} ({{ event.when }}) is cancelled{% if by_coordinator %} by the event's coordinator{% endif %}.",
    ),
    (
        "signup_cancelled.ja.subject",
        "参加登録を取り消しました: {{ event.title }}",
    ),
    (
        "signup_cancelled.ja.body",
        "{{ name }} さん\n\n{{ event.title }}（{{ event.when }}）の参加登録が{% if by_coordinator %}コーディネーターにより{% endif %}取り消されました。",
    ),
    ("event_cancelled.en.subject", "Cancelled: {{ event.title }}"),
    (
        "event_cancelled.en.body",
        "Hello {{ name }},\n\n{{ event.title }} on {{ event.when }} has been cancelled.{% if reason %}\n\nReason: {{ reason }}{% endif %}\n\nWe are sorry; we hope to see you at another event.",
    ),
    (
        "event_cancelled.ja.subject",
        "中止のお知らせ: {{ event.title }}",
    ),
    (
        "event_cancelled.ja.body",
        "{{ name }} さん\n\n{{ event.when }} の {{ event.title }} は中止になりました。{% if reason %}\n\n理由: {{ reason }}{% endif %}\n\nまたの機会にご参加ください。",
    ),
    (
        "hours_approved.en.subject",
        "Volunteer hours approved: {{ event.title }}",
    ),
    (
        "hours_approved.en.body",
        "Hello {{ name }},\n\nyour {{ hours }} hours at {{ event.title }} ({{ event.when }}) are approved. Thank you!",
    ),
    (
        "hours_approved.ja.subject",
        "活動時間が承認されました: {{ event.title }}",
    ),
    (
        "hours_approved.ja.body",
        "{{ name }} さん\n\n{{ event.title }}（{{ event.when }}）の活動時間 {{ hours }} 時間が承認されました。ありがとうございました。",
    ),
    (
        "hours_rejected.en.subject",
        "Volunteer hours not approved: {{ event.title }}",
    ),
    (
        "hours_rejected.en.body",
        "Hello {{ name }},\n\nyour hours at {{ event.title }} ({{ event.when }}) were not approved.\n\nReason: {{ reason }}\n\nPlease contact the event's coordinator if this is a mistake.",
    ),
    (
        "hours_rejected.ja.subject",
        "活動時間が承認されませんでした: {{ event.title }}",
    ),
    (
        "hours_rejected.ja.body",
        "{{ name }} さん\n\n{{ event.title }}（{{ event.when }}）の活動時間は承認されませんでした。\n\n理由: {{ reason }}\n\n誤りの場合はコーディネーターにご連絡ください。",
    ),
];

const MORE: &[(&str, &str)] = &[
    ("reminder.en.subject", "Reminder: {{ event.title }}"),
    (
        "reminder.en.body",
        "Hello {{ name }},\n\na reminder that {{ event.title }} is coming up.\n\nWhen: {{ event.when }}\nWhere: {{ event.location or 'see the event page' }}\n\nIf you cannot come, please cancel so someone on the waitlist gets your seat.",
    ),
    ("reminder.ja.subject", "リマインダー: {{ event.title }}"),
    (
        "reminder.ja.body",
        "{{ name }} さん\n\n{{ event.title }} が近づいてきました。\n\n日時: {{ event.when }}\n場所: {{ event.location or 'イベントページをご覧ください' }}\n\n参加できなくなった場合は、キャンセル待ちの方のために取り消しをお願いします。",
    ),
    ("event_changed.en.subject", "Changed: {{ event.title }}"),
    (
        "event_changed.en.body",
        "Hello {{ name }},\n\n{{ event.title }} has changed.\n\nNow: {{ event.when }}, {{ event.location or 'see the event page' }}\nBefore: {{ before.when }}, {{ before.location or '-' }}\n\nIf the new time does not suit you, please cancel your sign-up.",
    ),
    (
        "event_changed.ja.subject",
        "変更のお知らせ: {{ event.title }}",
    ),
    (
        "event_changed.ja.body",
        "{{ name }} さん\n\n{{ event.title }} の内容が変更されました。\n\n変更後: {{ event.when }}、{{ event.location or 'イベントページをご覧ください' }}\n変更前: {{ before.when }}、{{ before.location or '-' }}\n\nご都合が合わない場合は参加登録を取り消してください。",
    ),
    (
        "invitation.en.subject",
        "Your volunteering account is ready",
    ),
    (
        "invitation.en.body",
        "Hello {{ name }},\n\nan account on the company's volunteering service has been made for you ({{ email }}). Choose your password here to sign in:\n\n{{ link }}\n\nThe link works once, for the next {{ hours }} hours. If it has expired, ask HR for a new invitation or use \"forgot password\" on the sign-in page.",
    ),
    (
        "invitation.ja.subject",
        "ボランティア活動サービスのアカウントのご案内",
    ),
    (
        "invitation.ja.body",
        "{{ name }} さん\n\nボランティア活動サービスのアカウント（{{ email }}）を作成しました。次のリンクからパスワードを設定してサインインしてください。\n\n{{ link }}\n\nこのリンクは1回限り、{{ hours }}時間有効です。期限が切れた場合は人事部に再送を依頼するか、サインイン画面の「パスワードを忘れた場合」をご利用ください。",
    ),
    ("password_reset.en.subject", "Set a new password"),
    (
        "password_reset.en.body",
        "Hello {{ name }},\n\nsomeone (hopefully you) asked to set a new password for {{ email }}. Choose it here:\n\n{{ link }}\n\nThe link works once, for the next {{ minutes }} minutes. Setting a password signs you out everywhere else. If you did not ask for this, ignore this message: your password stays as it is.",
    ),
    ("password_reset.ja.subject", "パスワードの再設定"),
    (
        "password_reset.ja.body",
        "{{ name }} さん\n\n{{ email }} のパスワード再設定のご依頼を受け付けました。次のリンクから新しいパスワードを設定してください。\n\n{{ link }}\n\nこのリンクは1回限り、{{ minutes }}分間有効です。パスワードを設定すると、ほかの端末ではサインアウトされます。お心当たりのない場合はこのメールを破棄してください。パスワードは変わりません。",
    ),
];

const LAYOUT: &str = "<!DOCTYPE html>\n<html lang=\"{{ locale }}\"><head><meta charset=\"utf-8\"><title>{{ subject }}</title></head>\n<body style=\"font-family: sans-serif; line-height: 1.5\">\n{% for p in paragraphs %}<p>{% for line in p %}{{ line }}{% if not loop.last %}<br>{% endif %}{% endfor %}</p>\n{% endfor %}<p style=\"color: #777; font-size: 12px\">tomoni — employee volunteering</p>\n</body></html>\n";

/// A rendered message.
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

pub struct Templates {
    env: Environment<'static>,
}

impl Templates {
    pub fn new() -> Templates {
        let mut env = Environment::new();
        env.set_auto_escape_callback(|name| {
            if name.ends_with(".html") {
                minijinja::AutoEscape::Html
            } else {
                minijinja::AutoEscape::None
            }
        });
        for (name, source) in TEXTS.iter().chain(MORE) {
            // The table is compiled in and covered by tests; a broken entry is a bug.
            if let Err(e) = env.add_template(name, source) {
                tracing::error!(template = name, error = %e, "mail template does not compile");
            }
        }
        if let Err(e) = env.add_template("layout.html", LAYOUT) {
            tracing::error!(error = %e, "mail layout does not compile");
        }
        Templates { env }
    }

    /// Renders `kind` in `locale` (English unless `ja`).
    pub fn render(&self, kind: &str, locale: &str, ctx: Value) -> AppResult<Rendered> {
        let locale = if locale == "ja" { "ja" } else { "en" };
        let get = |part: &str| -> AppResult<String> {
            self.env
                .get_template(&format!("{kind}.{locale}.{part}"))
                .and_then(|t| t.render(&ctx))
                .map_err(AppError::internal)
        };
        let subject = get("subject")?;
        let mut text = get("body")?;
        // Every mail about an event ends with the address of its page.
        let link = ctx
            .get_attr("event")
            .and_then(|e| e.get_attr("link"))
            .ok()
            .filter(|l| !l.is_undefined() && !l.is_none())
            .map(|l| l.to_string());
        if let Some(link) = link {
            let label = if locale == "ja" {
                "イベントページ"
            } else {
                "Event page"
            };
            text = format!("{text}\n\n{label}: {link}");
        }
        let paragraphs: Vec<Vec<String>> = text
            .split("\n\n")
            .map(|p| p.lines().map(str::to_owned).collect())
            .collect();
        let html = self
            .env
            .get_template("layout.html")
            .and_then(|t| t.render(context! { locale, subject => &subject, paragraphs }))
            .map_err(AppError::internal)?;
        Ok(Rendered {
            subject,
            text,
            html,
        })
    }
}

impl Default for Templates {
    fn default() -> Self {
        Templates::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KINDS: [&str; 9] = [
        "reminder",
        "event_changed",
        "signup_confirmed",
        "signup_waitlisted",
        "signup_promoted",
        "signup_cancelled",
        "event_cancelled",
        "hours_approved",
        "hours_rejected",
    ];

    fn ctx() -> Value {
        context! {
            name => "Aiko <Sato>",
            event => context! { title => "Beach & bay clean-up", when => "2026-12-01 09:00-12:00 (Asia/Tokyo, +09:00)", location => "Shonan" },
            position => 3, hours => "2.5", reason => "not on the roster", by_coordinator => true,
            before => context! { when => "2026-11-30 09:00-12:00 (Asia/Tokyo, +09:00)", location => "Zushi" },
        }
    }

    #[test]
    fn event_mails_end_with_the_event_page() {
        let t = Templates::new();
        let ctx = context! {
            name => "Aiko",
            event => context! { title => "Beach", when => "x", location => "y",
                link => "https://volunteer.example.com/events/1" },
        };
        for (locale, label) in [("en", "Event page"), ("ja", "イベントページ")] {
            let r = t.render("signup_confirmed", locale, ctx.clone()).unwrap();
            assert!(
                r.text
                    .ends_with(&format!("{label}: https://volunteer.example.com/events/1")),
                "{}",
                r.text
            );
            assert!(r.html.contains("volunteer.example.com"), "{}", r.html);
        }
    }

    #[test]
    fn every_kind_renders_in_both_languages() {
        let t = Templates::new();
        for kind in KINDS {
            for locale in ["en", "ja"] {
                let r = t.render(kind, locale, ctx()).unwrap();
                assert!(
                    r.subject.contains("Beach & bay clean-up"),
                    "{kind} {locale}"
                );
                assert!(r.text.contains("Aiko <Sato>"), "{kind} {locale}");
                assert!(
                    r.html.contains("Aiko &lt;Sato&gt;"),
                    "escaped in HTML: {kind} {locale}"
                );
            }
        }
        let ja = t.render("signup_waitlisted", "ja", ctx()).unwrap();
        assert!(ja.text.contains("キャンセル待ち 3 番目"));
    }

    #[test]
    fn link_mails_carry_the_link_in_both_languages() {
        let t = Templates::new();
        let ctx = context! { name => "Aiko", email => "aiko@example.com",
        link => "https://volunteer.example.com/set-password?token=abc", hours => 168, minutes => 60 };
        for kind in ["invitation", "password_reset"] {
            for locale in ["en", "ja"] {
                let r = t.render(kind, locale, ctx.clone()).unwrap();
                assert!(
                    r.text
                        .contains("https://volunteer.example.com/set-password?token=abc"),
                    "{kind} {locale}"
                );
                assert!(r.text.contains("aiko@example.com"), "{kind} {locale}");
                assert!(r.html.contains("set-password?token=abc"), "{kind} {locale}");
            }
        }
        let ja = t.render("invitation", "ja", ctx).unwrap();
        assert!(ja.text.contains("168時間有効"), "{}", ja.text);
    }

    #[test]
    fn unknown_locales_fall_back_to_english() {
        let r = Templates::new()
            .render("signup_confirmed", "fr", ctx())
            .unwrap();
        assert!(r.subject.starts_with("You are signed up"));
    }
}
