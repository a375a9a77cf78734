//! `sendmsg`: the call commands of mod_event_socket (execute, hangup, unicast, …) on the
//! channel named or, on an outbound socket, the controlled one.

use super::{command_headers, Conn};
use crate::sim::channel::ChanMsg;
use crate::sim::core::lock;
use crate::sim::parsed;
use crate::sim::session::Sess;
use crate::sim::wire::ClientCmd;

impl Conn {
    pub(super) async fn sendmsg(
        &mut self,
        rest: &str,
        cmd: &ClientCmd,
        read_at: std::time::Instant,
    ) -> bool {
        let u = if rest.is_empty() {
            self.outbound.clone().unwrap_or_default()
        } else {
            rest.to_string()
        };
        self.core.log_api(
            read_at,
            format!(
                "sendmsg {u} {}",
                cmd.headers
                    .iter()
                    .map(|(k, v)| format!("{k}: {v}"))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        );
        let Some(ch) = self.core.chan(&u) else {
            return self.reply(&format!("-ERR invalid session id [{u}]")).await;
        };
        let sess = Sess::new(self.core.clone(), ch);
        if let Some(at) = sess.modify(|s| s.hash_at.take()) {
            lock(&self.core.st).hash_to_command.push(at.elapsed());
        }
        match cmd.header("call-command").unwrap_or("") {
            "execute" => {
                let app = cmd.header("execute-app-name").unwrap_or("").to_string();
                let arg = match (cmd.header("execute-app-arg"), &cmd.body) {
                    (Some(a), _) => a.to_string(),
                    (None, Some(b)) => b.trim_end().to_string(),
                    _ => String::new(),
                };
                let loops = cmd
                    .header("loops")
                    .and_then(|l| l.parse::<u32>().ok())
                    .unwrap_or(1)
                    .max(1);
                let id = cmd
                    .header("Event-UUID")
                    .map(str::to_string)
                    .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
                let name = cmd.header("Event-UUID-Name").map(str::to_string);
                let command = command_headers(cmd);
                sess.modify(|s| {
                    for _ in 0..loops {
                        s.queue.push_back(ChanMsg::Execute {
                            app: app.clone(),
                            arg: arg.clone(),
                            app_uuid: id.clone(),
                            app_uuid_name: name.clone(),
                            broadcast: false,
                            command: command.clone(),
                        });
                    }
                });
            }
            "hangup" => {
                let c = cmd
                    .header("hangup-cause")
                    .unwrap_or("NORMAL_CLEARING")
                    .to_string();
                let s2 = sess.clone();
                let command = command_headers(cmd);
                tokio::spawn(async move {
                    s2.core.sleep(20).await;
                    s2.hangup(&c, "switch");
                    parsed::fire_private_command(&s2, &command);
                });
            }
            "unicast" | "nomedia" | "xferext" => {}
            _ => {}
        }
        self.reply("+OK").await
    }
}
