//! Which operators can take a queue's calls: those with the queue's skill at its minimum
//! level or above, and never below level 1 (a level 0 is "has not got it"). The Redis
//! `reserve` script offers the longest-idle of them (`acd:ready` is ordered by idle-since,
//! ties by id); the estimated wait counts them. Both take the level from here, so a caller
//! is never told a wait based on operators who would not be offered the call.

/// A queue's operator group as routing sees it: the skill its calls need, at what level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Need<'a> {
    pub skill: &'a str,
    pub min_level: u8,
}

impl Need<'_> {
    /// The lowest level that qualifies.
    pub fn level(&self) -> u8 {
        self.min_level.max(1)
    }

    /// Whether an operator with `level` in `skill` can take the call.
    pub fn met_by(&self, skill: &str, level: u8) -> bool {
        skill == self.skill && level >= self.level()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_level_is_at_least_the_minimum_and_at_least_one() {
        let need = Need {
            skill: "billing",
            min_level: 2,
        };
        assert!(!need.met_by("billing", 1));
        assert!(need.met_by("billing", 2));
        assert!(need.met_by("billing", 9));
        assert!(!need.met_by("outage", 9), "another skill");
        let any = Need {
            skill: "billing",
            min_level: 0,
        };
        assert_eq!(any.level(), 1);
        assert!(!any.met_by("billing", 0), "level 0 is not having the skill");
        assert!(any.met_by("billing", 1));
    }
}
