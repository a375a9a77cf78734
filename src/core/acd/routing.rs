//! Which operator gets a call: the longest-idle ready operator who has the needed skill at or
//! above the needed level. Pure: the caller supplies the ready operators; the Redis `reserve`
//! script applies the same rule atomically, and this is its reference.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::AgentId;

/// Skill name → level (1 = basic; higher = more able).
pub type Skills = BTreeMap<String, u8>;

/// An operator group as callers reach it: the skill its calls need, at what level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub name: String,
    pub skill: String,
    pub min_level: u8,
}

/// A ready operator as routing sees them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadyOperator {
    pub agent: AgentId,
    pub skills: Skills,
    pub idle_since: DateTime<Utc>,
}

impl ReadyOperator {
    pub fn can_take(&self, group: &Group) -> bool {
        self.skills
            .get(&group.skill)
            .is_some_and(|&level| level >= group.min_level)
    }
}

/// The operator to offer the group's next call to, if any. Ties on idle-since go to the
/// smallest operator id: the same order a Redis sorted set gives members of equal score, so
/// the pure model and the live store agree.
pub fn pick<'a>(ready: &'a [ReadyOperator], group: &Group) -> Option<&'a ReadyOperator> {
    ready
        .iter()
        .filter(|o| o.can_take(group))
        .min_by(|a, b| (a.idle_since, &a.agent).cmp(&(b.idle_since, &b.agent)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(secs: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_000 + secs, 0).unwrap()
    }

    fn op(agent: &str, idle: i64, skills: &[(&str, u8)]) -> ReadyOperator {
        ReadyOperator {
            agent: agent.into(),
            skills: skills.iter().map(|(s, l)| (s.to_string(), *l)).collect(),
            idle_since: t(idle),
        }
    }

    fn group(skill: &str, min_level: u8) -> Group {
        Group {
            name: format!("{skill}-{min_level}"),
            skill: skill.into(),
            min_level,
        }
    }

    #[test]
    fn longest_idle_with_the_skill_wins() {
        let ready = [
            op("ann", 30, &[("billing", 2)]),
            op("bob", 10, &[("outage", 3)]),
            op("cid", 20, &[("billing", 1), ("outage", 1)]),
        ];
        assert_eq!(pick(&ready, &group("billing", 1)).unwrap().agent, "cid");
        assert_eq!(pick(&ready, &group("outage", 1)).unwrap().agent, "bob");
    }

    #[test]
    fn level_below_the_minimum_is_skipped() {
        let ready = [
            op("ann", 30, &[("billing", 3)]),
            op("cid", 20, &[("billing", 1)]),
        ];
        assert_eq!(pick(&ready, &group("billing", 2)).unwrap().agent, "ann");
        assert_eq!(pick(&ready, &group("billing", 4)), None);
        assert_eq!(pick(&ready, &group("meters", 1)), None);
        assert_eq!(pick(&[], &group("billing", 1)), None);
    }

    #[test]
    fn ties_go_to_the_smallest_id_whatever_the_input_order() {
        let a = [
            op("zed", 5, &[("billing", 1)]),
            op("amy", 5, &[("billing", 1)]),
        ];
        let b = [a[1].clone(), a[0].clone()];
        assert_eq!(pick(&a, &group("billing", 1)).unwrap().agent, "amy");
        assert_eq!(pick(&b, &group("billing", 1)).unwrap().agent, "amy");
    }
}
