use chrono::{DateTime, Utc};

use super::*;

pub(super) fn sample() -> CampaignReport {
    CampaignReport::new(
            CampaignInfo {
                id: 12,
                name: "Water outage Lenina st.".into(),
                list_number: 7,
                list_name: Some("Lenina".into()),
                created_by: "2001".into(),
                created_at: DateTime::parse_from_rfc3339("2025-06-02T06:00:00Z")
                    .unwrap()
                    .with_timezone(&Utc),
                finished_at: None,
                state: "finished".into(),
                lines: 5,
                trunk: "e1".into(),
                confirm: true,
            },
            ReportCounts {
                total: 300,
                reached: 240,
                listened_full: 200,
                listened_partial: 40,
                ..Default::default()
            },
            "1".into(),
            format!(
                "{}\n+79161234567,\"=HYPERLINK(\"\"x\"\")\",LS-1,listened_partial,2,NORMAL_CLEARING,16,8.2,no,,2025-06-02T06:10:05Z\n",
                CSV_HEADER.join(",")
            ),
        )
}

pub(super) fn moscow(language: Language) -> ReportLocale {
    ReportLocale::new(language, chrono_tz::Europe::Moscow)
}

#[test]
fn subject_and_labels_say_what_happened() {
    let r = sample();
    let en = ReportLocale::default();
    assert_eq!(
        r.subject(&en),
        "Campaign 12 'Water outage Lenina st.' finished: 240 of 300 reached"
    );
    let text = r.render_text(&en);
    assert!(text.contains("\nListened to the end: 200\n"), "{text}");
    assert!(text.contains("\nHung up before the end: 40\n"), "{text}");
    assert!(
        text.contains("\nReached, percent of subscribers: 80\n"),
        "{text}"
    );
    assert!(text.contains("Finished at: not finished"), "{text}");
    assert!(
        text.contains("Started at: 2025-06-02 06:00 (UTC)\n"),
        "{text}"
    );
}

#[test]
fn russian_text_has_no_english_or_codes() {
    let r = sample();
    let ru = moscow(Language::Ru);
    assert_eq!(
        r.subject(&ru),
        "Кампания 12 «Water outage Lenina st.» завершена: дозвонились до 240 из 300"
    );
    let text = r.render_text(&ru);
    assert!(text.starts_with("Кампания 12 «Water outage Lenina st.»: завершена\n"));
    assert!(
        text.contains("\nНачало: 02.06.2025 09:00 (Europe/Moscow, UTC+3)\n"),
        "{text}"
    );
    assert!(text.contains("\nОкончание: не завершена\n"), "{text}");
    assert!(text.contains("\nПрослушали до конца: 200\n"), "{text}");
    assert!(text.contains("\nЛиний: 5, транк e1\n"), "{text}");
    for english in ["Listened", "Started", "listened_full", "finished", "yes"] {
        assert!(!text.contains(english), "{english:?} in:\n{text}");
    }
}

#[test]
fn the_locale_comes_from_the_mail_config() {
    let mut m = MailConfig::default();
    assert_eq!(report_locale(&m), Ok(ReportLocale::default()));
    m.report_language = "ru".into();
    m.report_time_zone = "Europe/Moscow".into();
    m.csv_separator = Some("\t".into());
    let ru = report_locale(&m).unwrap();
    assert_eq!((ru.language, ru.csv_separator), (Language::Ru, b'\t'));
    m.report_language = "de".into();
    assert_eq!(report_locale(&m).unwrap_err()[0].0, "mail.report_language");
}

#[test]
fn html_escapes_what_people_typed() {
    let mut r = sample();
    r.campaign.name = "<b>Vodokanal & Co</b>".into();
    let html = r.render_html(&moscow(Language::Ru));
    assert!(
        html.contains("«&lt;b&gt;Vodokanal &amp; Co&lt;/b&gt;»"),
        "{html}"
    );
    assert!(!html.contains("<b>"), "{html}");
    assert!(html.contains("<table"), "{html}");
    assert!(html.contains("<html lang=\"ru\">"), "{html}");
}

#[test]
fn the_outbox_body_round_trips() {
    let r = sample();
    let body = r.to_outbox_body();
    let back = CampaignReport::from_outbox(&body, Some(r.render_csv().to_string())).unwrap();
    assert_eq!(back, r);
    let legacy = CampaignReport::from_outbox("Campaign 12 'x': finished\n", Some("a".into()));
    assert_eq!(legacy, Err(Some("a".to_string())));
    assert!(CampaignReport::from_outbox("{\"format\":\"other\"}", None).is_err());
}

#[test]
fn a_workbook_too_large_for_mail_keeps_the_summary_only() {
    use calamine::{open_workbook_from_rs, Data, Reader, Xlsx};
    let r = sample();
    let ru = moscow(Language::Ru);
    let full = r.render_mail(&ru, usize::MAX).unwrap();
    assert!(full.xlsx_rows);
    assert!(
        full.text.contains("campaign-12.csv и campaign-12.xlsx"),
        "{}",
        full.text
    );
    let small = r.render_mail(&ru, full.xlsx.len() - 1).unwrap();
    assert!(!small.xlsx_rows);
    assert_eq!(small.csv, full.csv, "the CSV has every row either way");
    for body in [&small.text, &small.html] {
        assert!(body.contains("campaign-12.xlsx: только сводка"), "{body}");
    }
    let mut wb: Xlsx<_> = open_workbook_from_rs(std::io::Cursor::new(small.xlsx)).unwrap();
    assert_eq!(wb.sheet_names(), ["Сводка"]);
    let summary = wb.worksheet_range("Сводка").unwrap();
    let last = summary.rows().next_back().unwrap();
    assert!(
        matches!(&last[0], Data::String(s) if s.starts_with("Результат по каждому абоненту: только в CSV")),
        "{last:?}"
    );
    assert_eq!(last[1], Data::String("campaign-12.csv".into()));
}
