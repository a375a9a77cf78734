//! Adapter over freeswitch-esl-tokio: the control link per node, the outbound socket
//! server, the event path and the validated command builders. No business decisions.
pub mod channel_ops;
pub mod commands;
pub mod control;
pub mod events;
pub mod outbound;
pub mod span_alarm;
pub mod unconfirmed;
