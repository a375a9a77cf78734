//! `contactd demo` configured for Russian (the default: prompts, report language, Moscow
//! time, `;` CSV) mails the campaign report to a real SMTP server (aiosmtpd): the auditor's
//! message is Russian with local times, and its `.xlsx` opens (calamine) with Russian sheets,
//! a row per subscriber and the outcomes in words. The demo runs with the generated prompts,
//! which the simulator, like the switch, insists exist.

use crate::common;

use std::io::Cursor;
use std::process::Command;

use calamine::{open_workbook_from_rs, Data, Reader, Xlsx};
use common::smtp::{attachment, free_port, unhex, Sink};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_russian_demo_mails_a_russian_report_with_a_workbook() {
    let prompts = tempfile::tempdir().unwrap();
    let made = Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/prompts.sh"))
        .arg(prompts.path())
        .output()
        .expect("scripts/prompts.sh runs (espeak-ng and sox: make tools)");
    assert!(made.status.success());
    let port = free_port();
    let sink = Sink::start(port, None).await;
    let out = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_contactd"))
            .args(["demo", "--smtp-port", &port.to_string(), "--prompts"])
            .arg(prompts.path())
            .env_remove("RUST_LOG")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "demo failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // the printed report is the auditors' one: Russian, Moscow time
    assert!(stdout.contains("Абонентов в кампании: 20"), "{stdout}");
    assert!(stdout.contains("(Europe/Moscow, UTC+3)"), "{stdout}");
    // numbers were spoken from word prompts that exist (no `say` without sound packs)
    assert!(
        stdout.contains("read back to the caller (word prompts): n12 thousand_5 n500 n40"),
        "{stdout}"
    );

    // the supervision part: the day's KPIs, tomorrow's staffing, the digest mailed
    assert!(stdout.contains("/wallboard"), "{stdout}");
    assert!(
        stdout.contains("contactd kpi --from") && stdout.contains("general"),
        "{stdout}"
    );
    assert!(stdout.contains("operators  with shrinkage"), "{stdout}");

    // the predictive campaign gets past the pacer's warm-up and shows how it paced then
    let pacing: Vec<&str> = stdout
        .lines()
        .filter(|l| l.trim_start().starts_with("pacing "))
        .collect();
    assert!(
        pacing
            .iter()
            .any(|l| l.contains("predictive dial level") && !l.contains("warming up")),
        "no predictive decision after the warm-up: {pacing:#?}"
    );
    let paced = stdout
        .lines()
        .find_map(|l| {
            l.split(" decisions while warming up (progressive), ")
                .nth(1)
        })
        .and_then(|rest| rest.split(' ').next()?.parse::<u32>().ok())
        .unwrap_or_else(|| panic!("no count of paced decisions:\n{stdout}"));
    assert!(paced >= 1, "{stdout}");
    assert!(stdout.contains("  occupancy: "), "{stdout}");
    assert!(stdout.contains("  abandon rate: "), "{stdout}");

    let msgs = sink.messages();
    assert_eq!(msgs.len(), 2, "the campaign report and the digest");
    let digest = msgs
        .iter()
        .find(|m| {
            m["subject"]
                .as_str()
                .is_some_and(|s| s.starts_with("Ежедневная сводка"))
        })
        .expect("the daily digest, in Russian");
    let charts = digest["attachments"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["content_type"] == "image/png")
        .count();
    assert_eq!(charts, 3, "{:#}", digest["attachments"]);
    let m = msgs
        .iter()
        .find(|m| {
            m["subject"]
                .as_str()
                .is_some_and(|s| s.starts_with("Кампания "))
        })
        .expect("the campaign report");
    let subject = m["subject"].as_str().unwrap();
    assert!(subject.starts_with("Кампания "), "{subject}");
    assert!(subject.contains("дозвонились до "), "{subject}");
    let text = m["text"].as_str().expect("a text/plain part");
    assert!(text.contains("Начало: "), "{text}");
    assert!(text.contains("(Europe/Moscow, UTC+3)"), "{text}");
    assert!(!text.contains("Started at"), "{text}");
    assert!(m["html"].as_str().is_some_and(|h| h.contains("<table")));

    let csv = attachment(m, ".csv");
    let csv_text = csv["content"].as_str().unwrap_or_default().to_string();
    assert!(
        csv_text.starts_with('\u{feff}'),
        "BOM for Excel: {csv_text:.60}"
    );
    assert!(csv_text.lines().next().unwrap().contains(';'));

    let bytes = unhex(attachment(m, ".xlsx")["content_hex"].as_str().unwrap());
    let mut wb: Xlsx<_> = open_workbook_from_rs(Cursor::new(bytes)).unwrap();
    let summary = wb.worksheet_range("Сводка").unwrap();
    let cells: Vec<String> = summary
        .rows()
        .flat_map(|r| r.iter().map(|c| c.to_string()))
        .collect();
    assert!(
        cells.iter().any(|c| c == "Абонентов в кампании"),
        "{cells:?}"
    );
    let subs = wb.worksheet_range("Абоненты").unwrap();
    assert_eq!(subs.height(), 1 + 20, "header and one row per subscriber");
    let header: Vec<String> = subs
        .rows()
        .next()
        .unwrap()
        .iter()
        .map(|c| c.to_string())
        .collect();
    assert!(header.iter().any(|h| h == "Телефон"), "{header:?}");
    let outcome_col = header
        .iter()
        .position(|h| h == "Результат")
        .unwrap_or_else(|| panic!("no outcome column in {header:?}"));
    let outcomes: Vec<String> = subs
        .rows()
        .skip(1)
        .map(|r| match &r[outcome_col] {
            Data::String(s) => s.clone(),
            other => panic!("outcome cell {other:?}"),
        })
        .collect();
    // the scenario's subscribers ending in 3 are busy; nobody's outcome is a code
    assert!(outcomes.iter().any(|o| o == "Занято"), "{outcomes:?}");
    assert!(
        outcomes
            .iter()
            .all(|o| o.chars().any(|c| ('\u{0400}'..='\u{04FF}').contains(&c))),
        "{outcomes:?}"
    );
}
