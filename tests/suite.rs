//! Every integration test, as modules of one test binary: one link instead of one per
//! file (they were 80 binaries of ~170 MB each, most of `make test`'s build), and one
//! pool of test threads over the whole suite instead of a slow test holding its file's
//! binary up. `cargo test --test suite NAME` runs the tests whose path contains NAME
//! (e.g. `scale_e2e::`). A new tests/*.rs file must be added below:
//! `every_test_file_is_in_the_suite` fails otherwise. The fault matrix (tests/chaos) is its
//! own binary (custom harness).

mod acd_support;
mod campaign_support;
mod common;
mod faults_support;
mod install_support;
mod instances_support;
mod messages_support;
mod meter_support;
mod opcamp_support;
mod qa_support;
mod sim_support;
mod trunks_support;
mod wallboard_support;

mod acd_answer_kill;
mod acd_callback_kill;
mod acd_campaign_lost;
mod acd_card;
mod acd_consult_kill;
mod acd_e2e;
mod acd_endpoints;
mod acd_faults;
mod acd_flows;
mod acd_http;
mod acd_hungup_by;
mod acd_login;
mod acd_model_vs_redis;
mod acd_orphan_legs;
mod acd_reserve_race;
mod amd_classify;
mod amd_limits;
mod amd_notice;
mod busy_unlinked;
mod call_records_batch;
mod campaign_bad_rules;
mod campaign_claim_crash;
mod campaign_confirm;
mod campaign_control;
mod campaign_crash;
mod campaign_dnc_outage;
mod campaign_e2e;
mod campaign_line_guard;
mod campaign_line_reuse;
mod campaign_settle;
mod cli;
mod daemon_lifecycle;
mod deb;
mod demo_report;
mod dialstring_props;
mod digest;
mod esl_link;
mod faults_link;
mod faults_pg;
mod faults_redis;
mod forecast;
mod fs_conf;
mod input_edges;
mod install;
mod instances_fence;
mod instances_takeover;
mod ivr_reconnect;
mod journal;
mod kpi;
mod leases_audit;
mod leases_guard;

mod lists_dnc;
mod lists_import;
mod mail_outbox;
mod mail_reports;
mod messages;
mod messages_crash;
mod messages_rules;
mod messages_senders;
mod messages_tls;
mod meter_hangup;
mod meter_http;
mod meter_import;
mod meter_ivr;
mod migrations;
mod opcamp_abandon;
mod opcamp_answer_kill;
mod opcamp_bridge_unseen;
mod opcamp_dispose_retry;
mod opcamp_durable;
mod opcamp_missed;
mod opcamp_pg_outage;
mod opcamp_preview;
mod opcamp_progressive;
mod opcamp_redis_wipe;
mod opcamp_supervision;
mod operators;
mod outbound_flow;
mod outbound_tasks;
mod prompts;
mod proptest_inputs;
mod qa;
mod report_locale;
mod scale_e2e;
mod sentinel_failover;
mod sim_acd;
mod sim_basic;
mod sim_failures;
mod sim_media;
mod sim_sched;
mod sim_sleep;
mod sim_truth;
mod systemd_unit;
mod takeover_unsent;
mod trace_replay;
mod trunks_group;
mod trunks_link_drop;
mod trunks_span_alarm;
mod wallboard;
mod wallboard_http;

/// Cargo no longer finds tests/*.rs by itself (`autotests = false`): a file left out of the
/// list above would silently never run.
#[test]
fn every_test_file_is_in_the_suite() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let me = std::fs::read_to_string(dir.join("suite.rs")).unwrap();
    let mut missing = Vec::new();
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        let (Some(stem), Some("rs")) = (
            p.file_stem().and_then(|s| s.to_str()),
            p.extension().and_then(|s| s.to_str()),
        ) else {
            continue;
        };
        if stem != "suite" && !me.lines().any(|l| l == format!("mod {stem};")) {
            missing.push(stem.to_string());
        }
    }
    assert!(
        missing.is_empty(),
        "tests/*.rs not in tests/suite.rs: {missing:?}"
    );
}
