//! Cross-instance kicks: this instance's routing notices published through Redis, and the
//! other instances' (and the command line's) received.

use tracing::{debug, info, warn};

use super::{Acd, KICKS_RETRY};

impl Acd {
    /// Publishes this instance's kicks to the others, one at a time: kicks made while one
    /// is on its way are sent as one. Ends at stop.
    pub(super) async fn announce_loop(self) {
        loop {
            tokio::select! {
                () = self.inner.announce.notified() => {}
                () = self.inner.stop.cancelled() => return,
            }
            if let Err(e) = self.inner.store.publish_kick(&self.inner.instance).await {
                // Redis away: nothing routes meanwhile anyway; the others look again when
                // their subscription comes back.
                debug!("acd: kick not published: {e}");
            }
        }
    }

    /// Routes when another instance (or the command line) says it made routing possible.
    /// The subscription is made again when its connection drops (said once per outage),
    /// and each time it is (re)made the dispatcher runs once: a kick sent meanwhile was
    /// not received.
    pub(super) async fn kicks_loop(self) {
        let mut said_down = false;
        loop {
            match self.inner.store.kicks().await {
                Ok(kicks) => {
                    if std::mem::take(&mut said_down) {
                        info!("acd: other instances' routing notices received again");
                    }
                    self.inner.kick.notify_one();
                    let mut kicks = std::pin::pin!(kicks);
                    loop {
                        tokio::select! {
                            k = futures_util::StreamExt::next(&mut kicks) => match k {
                                Some(from) if from != self.inner.instance => {
                                    self.inner.kick.notify_one();
                                }
                                Some(_) => {}
                                None => break,
                            },
                            () = self.inner.stop.cancelled() => return,
                        }
                    }
                }
                Err(e) if !said_down => {
                    warn!("acd: cannot subscribe to other instances' routing notices: {e}");
                    said_down = true;
                }
                Err(e) => debug!("acd: subscribing to routing notices: {e}"),
            }
            tokio::select! {
                () = tokio::time::sleep(KICKS_RETRY) => {}
                () = self.inner.stop.cancelled() => return,
            }
        }
    }
}
