//! What a waiting caller hears from contactd: music on hold (started again from whatever
//! plays now) and the position and estimated-wait announcement.

use tracing::debug;

use super::Caller;
use crate::core::speech;

impl Caller {
    /// Starts the music; false if the switch refused it (or the link was down).
    pub(super) async fn music(&self) -> bool {
        let moh = self.acd.cfg().music_on_hold.clone();
        if let Err(e) = self.link().execute(&self.call, "playback", &moh).await {
            debug!(call = %self.call, "acd: music: {e}");
            return false;
        }
        true
    }

    /// Music again, from whatever the caller hears now (the hold extension's music, the end
    /// of an announcement, or nothing): `uuid_break` first, so nothing is run inside the
    /// music the dialplan plays.
    pub(super) async fn hold_music(&self) {
        self.break_media().await;
        self.music().await;
    }

    pub(super) async fn break_media(&self) {
        if let Err(e) = self.link().break_all(&self.call).await {
            debug!(call = %self.call, "acd: uuid_break: {e}");
        }
    }

    /// "You are number N in the queue; the expected wait is M minutes", then music again.
    pub(super) async fn announce(&self, queue: &str, position: u64) {
        let wait = self.acd.estimated_wait(queue, position).await;
        let minutes = wait.as_secs().div_ceil(60).max(1);
        let prompts = &self.acd.inner.config.prompts;
        let lang = prompts.speech_lang();
        let spoken = |words: Vec<String>| prompts.spoken(&words);
        self.break_media().await;
        let steps = [
            ("playback", self.acd.prompt("acd_position")),
            (
                "playback",
                spoken(speech::number(lang, position, speech::Gender::Masc)),
            ),
            ("playback", self.acd.prompt("acd_wait_minutes")),
            (
                "playback",
                spoken(speech::count(lang, minutes, speech::MINUTE)),
            ),
            ("playback", self.acd.cfg().music_on_hold.clone()),
        ];
        for (app, arg) in steps {
            if let Err(e) = self.link().execute(&self.call, app, &arg).await {
                debug!(call = %self.call, "acd: announce: {e}");
                return;
            }
        }
    }
}
