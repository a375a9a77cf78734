//! The names of a campaign's states as stored in PostgreSQL (`campaigns.state`, checked
//! there by a CHECK constraint). One home, so no service spells them itself.

/// Where a campaign stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CampaignState {
    /// Its subscribers are dialed.
    Running,
    /// Nobody new is dialed until it is resumed; calls in progress finish.
    Paused,
    /// Nobody not yet called will be; its report still goes out.
    Cancelled,
    /// Every subscriber is done.
    Finished,
}

impl CampaignState {
    pub const ALL: [CampaignState; 4] = [
        CampaignState::Running,
        CampaignState::Paused,
        CampaignState::Cancelled,
        CampaignState::Finished,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CampaignState::Running => "running",
            CampaignState::Paused => "paused",
            CampaignState::Cancelled => "cancelled",
            CampaignState::Finished => "finished",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for st in CampaignState::ALL {
            assert_eq!(CampaignState::parse(st.as_str()), Some(st));
        }
        assert_eq!(CampaignState::parse("RUNNING"), None);
    }
}
