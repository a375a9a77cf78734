//! A batch of the event stream's call-record writes in one statement each (written one
//! round trip at a time, the records fell behind the switch).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{hungup_by_of, CallEnd, Calls};
use crate::store::journal::{Param, Write};
use crate::store::postgres::StoreError;

impl Calls {
    /// [`Calls::mark_answered`] for a batch of calls in one statement (the event stream's
    /// records fall behind the switch when written one round trip at a time). The first
    /// answer of a call wins, as one at a time.
    pub async fn mark_answered_all(
        &self,
        answers: &[(Uuid, DateTime<Utc>)],
    ) -> Result<(), StoreError> {
        let mut first: HashMap<Uuid, DateTime<Utc>> = HashMap::new();
        for (u, at) in answers {
            first.entry(*u).or_insert(*at);
        }
        if first.is_empty() {
            return Ok(());
        }
        // rows locked in one order, whoever else updates several
        let mut rows: Vec<_> = first.into_iter().collect();
        rows.sort_unstable_by_key(|r| r.0);
        let (uuids, ats): (Vec<Uuid>, Vec<Option<DateTime<Utc>>>) =
            rows.into_iter().map(|(u, at)| (u, Some(at))).unzip();
        self.writer
            .write(Write::new(
                format!("{} calls answered", uuids.len()),
                "UPDATE calls c SET state = 'answered', answered_at = COALESCE(c.answered_at, x.at)
                 FROM unnest($1::uuid[], $2::timestamptz[]) AS x(uuid, at)
                 WHERE c.uuid = x.uuid AND c.state IN ('dialing', 'ringing')",
                vec![Param::Uuids(uuids), Param::Tss(ats)],
            ))
            .await
    }

    /// [`Calls::set_app_response`] for a batch, in one statement: per call, the last
    /// response and the first who-ended it says (as applied one after the other, where a
    /// known `hungup_by` is never replaced).
    pub async fn set_app_responses(&self, responses: &[(Uuid, &str)]) -> Result<(), StoreError> {
        let mut folded: HashMap<Uuid, (&str, Option<&str>)> = HashMap::new();
        for (u, r) in responses {
            let e = folded.entry(*u).or_insert((r, None));
            e.0 = r;
            e.1 = e.1.or(hungup_by_of(r));
        }
        if folded.is_empty() {
            return Ok(());
        }
        let mut rows: Vec<_> = folded.into_iter().collect();
        rows.sort_unstable_by_key(|r| r.0);
        let (mut uuids, mut resps, mut bys) = (Vec::new(), Vec::new(), Vec::new());
        for (u, (r, by)) in rows {
            uuids.push(u);
            resps.push(Some(r.to_string()));
            bys.push(by.map(str::to_string));
        }
        self.writer
            .write(Write::new(
                format!("{} calls' application responses", uuids.len()),
                "UPDATE calls c SET app_response = x.resp,
                        hungup_by = CASE WHEN x.by IS NOT NULL AND c.direction = 'outbound'
                                              AND (c.hungup_by IS NULL OR c.hungup_by = 'unknown')
                                         THEN x.by ELSE c.hungup_by END
                 FROM unnest($1::uuid[], $2::text[], $3::text[]) AS x(uuid, resp, by)
                 WHERE c.uuid = x.uuid",
                vec![Param::Uuids(uuids), Param::Texts(resps), Param::Texts(bys)],
            ))
            .await
    }

    /// [`Calls::record_end`] for a batch, in one statement, with the same rule: the first
    /// end recorded wins, later ones (in the batch too) only fill in what is missing.
    pub async fn record_ends(&self, ends: &[CallEnd<'_>]) -> Result<(), StoreError> {
        let mut folded: HashMap<Uuid, EndRow> = HashMap::new();
        for e in ends {
            folded
                .entry(e.uuid)
                .and_modify(|r| r.fill_from(e))
                .or_insert_with(|| EndRow::of(e));
        }
        if folded.is_empty() {
            return Ok(());
        }
        let mut rows: Vec<_> = folded.into_iter().collect();
        rows.sort_unstable_by_key(|r| r.0);
        let n = rows.len();
        let mut cols = EndColumns::default();
        for (u, r) in rows {
            cols.push(u, r);
        }
        self.writer
            .write(Write::new(
                format!("{n} calls ended"),
                "UPDATE calls c SET
                    state = CASE WHEN c.state IN ('ended', 'failed') THEN c.state ELSE x.state END,
                    hangup_cause = COALESCE(c.hangup_cause, x.cause),
                    q850 = COALESCE(c.q850, x.q850),
                    billsec = COALESCE(c.billsec, x.billsec),
                    answered_at = COALESCE(c.answered_at, x.answered_at),
                    ended_at = COALESCE(c.ended_at, x.ended_at),
                    hungup_by = COALESCE(c.hungup_by, x.by)
                 FROM unnest($1::uuid[], $2::text[], $3::text[], $4::int4[], $5::int4[],
                             $6::timestamptz[], $7::timestamptz[], $8::text[])
                      AS x(uuid, state, cause, q850, billsec, answered_at, ended_at, by)
                 WHERE c.uuid = x.uuid",
                cols.params(),
            ))
            .await
    }
}

/// One call's end in a batch: the first report, with what later ones fill in.
struct EndRow {
    state: String,
    cause: String,
    q850: Option<i32>,
    billsec: Option<i32>,
    answered_at: Option<DateTime<Utc>>,
    ended_at: DateTime<Utc>,
    hungup_by: String,
}

impl EndRow {
    fn of(e: &CallEnd<'_>) -> Self {
        Self {
            state: e.state.to_string(),
            cause: e.cause.to_string(),
            q850: e.q850,
            billsec: e.billsec,
            answered_at: e.answered_at,
            ended_at: e.ended_at,
            hungup_by: e.hungup_by.to_string(),
        }
    }

    /// As MARK_ENDED applied again: only what is still missing.
    fn fill_from(&mut self, e: &CallEnd<'_>) {
        self.q850 = self.q850.or(e.q850);
        self.billsec = self.billsec.or(e.billsec);
        self.answered_at = self.answered_at.or(e.answered_at);
    }
}

/// A batch of ends as the statement's arrays.
#[derive(Default)]
struct EndColumns {
    uuids: Vec<Uuid>,
    states: Vec<Option<String>>,
    causes: Vec<Option<String>>,
    q850s: Vec<Option<i32>>,
    billsecs: Vec<Option<i32>>,
    answered: Vec<Option<DateTime<Utc>>>,
    ended: Vec<Option<DateTime<Utc>>>,
    bys: Vec<Option<String>>,
}

impl EndColumns {
    fn push(&mut self, uuid: Uuid, r: EndRow) {
        self.uuids.push(uuid);
        self.states.push(Some(r.state));
        self.causes.push(Some(r.cause));
        self.q850s.push(r.q850);
        self.billsecs.push(r.billsec);
        self.answered.push(r.answered_at);
        self.ended.push(Some(r.ended_at));
        self.bys.push(Some(r.hungup_by));
    }

    fn params(self) -> Vec<Param> {
        vec![
            Param::Uuids(self.uuids),
            Param::Texts(self.states),
            Param::Texts(self.causes),
            Param::I32s(self.q850s),
            Param::I32s(self.billsecs),
            Param::Tss(self.answered),
            Param::Tss(self.ended),
            Param::Texts(self.bys),
        ]
    }
}
