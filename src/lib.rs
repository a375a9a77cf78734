//! contactd: a contact-center daemon that drives FreeSWITCH over the Event Socket.
//!
//! # Layout
//! - [`config`]: TOML + environment configuration, validated before start.
//! - [`core`]: pure logic (live-channel table, call flows); no I/O, no clock reads.
//! - [`esl`]: adapter over freeswitch-esl-tokio: control link per node (reconnect +
//!   resync), outbound socket server, event path, validated command builders.
//! - [`store`]: PostgreSQL (records, migrations from `sql/`) and Redis (live state, Lua).
//! - [`lists`]: the do-not-call list (contact lists: `core::lists`, `store::lists`).
//! - [`service`]: I/O shells: call records from events, the dialer, inbound call flows, e-mail
//!   and SMS during a call (`service::messages`).
//! - [`http`]: `/healthz`, `/metrics`, token-protected `/api/v1`: `acd` (operators, states,
//!   screen pops, queues) and `readings` (web/messenger readings, same checks as the IVR).
//! - [`cli`]: the subcommands' runners (lists, dnc, campaigns, operators, accounts, readings,
//!   setup-db) and the exit codes.
//! - [`app`]: composition root, systemd notify, graceful drain.
//! - [`notify`]: systemd READY / WATCHDOG / STOPPING.
//! - [`mail`]: the e-mail outbox (never loses a report), its SMTP delivery loop, and how a
//!   campaign report reads (its counts: `core::report`, read by `store::report`).
//! - [`demo`]: `contactd demo`, the daemon against the simulator with a scripted scenario
//!   (and a tiny in-memory SMTP receiver for it).
//! - [`clock`]: the one clock services read (core takes the time as an argument).
//! - [`sim`]: the FreeSWITCH simulator (tests and demo only; shares no code with `esl`).
pub mod app;
pub mod cli;
pub mod clock;
pub mod config;
pub mod core;
pub mod demo;
pub mod esl;
pub mod http;
pub mod lists;
pub mod mail;
pub mod notify;
pub mod service;
pub mod sim;
pub mod store;
