//! The Redis scripts against the core's rules: random sequences of ACD operations (arrivals,
//! reservations, answers, ring timeouts, hang-ups, the end of after-call work, abandons and
//! the operators' own commands), sent through two contactd instances' connections in turn,
//! are applied to a plain model built on `core::acd` (`next` for every state change, `Need`
//! for who qualifies, `order_score` and `admits` for the queue) and to the real scripts. After every step both must give the same
//! answer and show the same live state: the queue in order and every operator's entry.

use std::collections::BTreeMap;

use contactd::core::acd::agent::{next, AgentInput, Command, StateName};
use contactd::core::acd::queue::{admits, order_score};
use contactd::core::acd::routing::Need;
use contactd::store::acd::{Abandoned, AcdStore, AgentInfo, Enqueued, Reservation};
use contactd::store::redis::LiveState;
use contactd::store::scratch::run_id;
use proptest::prelude::*;

const QUEUE: &str = "billing";
const SKILL: &str = "billing";
const MAX_WAITING: usize = 4;
/// Operators and their level in the skill: one without it (0), the rest at 1 to 3.
const AGENTS: [(&str, u8); 4] = [("ann", 2), ("bob", 1), ("cid", 3), ("dan", 0)];
const CALLS: [&str; 6] = ["c0", "c1", "c2", "c3", "c4", "c5"];

fn redis_url() -> String {
    std::env::var("CONTACTD_TEST_REDIS").unwrap_or_else(|_| "redis://127.0.0.1:6379/0".into())
}

#[derive(Debug, Clone)]
enum Op {
    Arrive {
        call: usize,
        priority: u8,
    },
    Reserve {
        min_level: u8,
    },
    Command {
        agent: usize,
        command: Command,
    },
    /// The operator answers their current offer (or a stale one, if it changed).
    Answer {
        agent: usize,
    },
    RingTimeout {
        agent: usize,
    },
    HangUp {
        agent: usize,
    },
    WrapUpDone {
        agent: usize,
    },
    Abandon {
        call: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let agent = 0..AGENTS.len();
    let call = 0..CALLS.len();
    prop_oneof![
        (call.clone(), 0u8..3).prop_map(|(call, priority)| Op::Arrive { call, priority }),
        (0u8..4).prop_map(|min_level| Op::Reserve { min_level }),
        (agent.clone(), prop::sample::select(Command::ALL.to_vec()))
            .prop_map(|(agent, command)| Op::Command { agent, command }),
        agent.clone().prop_map(|agent| Op::Answer { agent }),
        agent.clone().prop_map(|agent| Op::RingTimeout { agent }),
        agent.clone().prop_map(|agent| Op::HangUp { agent }),
        agent.prop_map(|agent| Op::WrapUpDone { agent }),
        call.prop_map(|call| Op::Abandon { call }),
    ]
}

/// What a step answered, in the same terms for the model and for Redis.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Answer {
    Enqueued(Enqueued),
    Reserved(Option<Reservation>),
    Changed(bool),
    Requeued(Option<u64>),
    Abandoned(Abandoned),
}

#[derive(Debug, Clone)]
struct Call {
    priority: u8,
    seq: u64,
}

/// The live state as the core's rules say it must be.
#[derive(Debug, Default)]
struct Model {
    /// The event clock (arrival numbers, offer numbers, requeues).
    clock: u64,
    calls: BTreeMap<String, Call>,
    /// Waiting calls; ordered by (priority desc, seq) when read.
    waiting: Vec<String>,
    agents: BTreeMap<String, AgentInfo>,
    /// Call → operator it is offered to or talking with.
    offers: BTreeMap<String, String>,
    /// The last offer each operator got, to answer or time out.
    last_offer: BTreeMap<String, Reservation>,
}

impl Model {
    fn order(&self) -> Vec<String> {
        let mut w = self.waiting.clone();
        w.sort_by_key(|c| {
            let i = &self.calls[c];
            order_score(i.priority, i.seq)
        });
        w
    }

    fn state(&self, agent: &str) -> StateName {
        self.agents
            .get(agent)
            .map_or(StateName::LoggedOut, |i| i.state)
    }

    fn set(
        &mut self,
        agent: &str,
        state: StateName,
        at: i64,
        idle: Option<i64>,
        offer: Option<u64>,
        call: Option<&str>,
    ) {
        self.agents.insert(
            agent.to_string(),
            AgentInfo {
                state,
                at_ms: at,
                idle_ms: idle,
                offer,
                call: call.map(str::to_string),
            },
        );
    }

    /// Ready operators, longest idle first, ties by id (a Redis sorted set's order).
    fn ready(&self) -> Vec<(String, i64)> {
        let mut r: Vec<(String, i64)> = self
            .agents
            .iter()
            .filter(|(_, i)| i.state == StateName::Ready)
            .map(|(a, i)| {
                (
                    a.clone(),
                    i.idle_ms.expect("a ready operator has an idle time"),
                )
            })
            .collect();
        r.sort_by(|a, b| (a.1, &a.0).cmp(&(b.1, &b.0)));
        r
    }

    fn apply(&mut self, op: &Op, now: i64) -> Answer {
        match *op {
            Op::Arrive { call, priority } => {
                let call = CALLS[call];
                if let Some(info) = self.calls.get(call) {
                    let seq = info.seq;
                    return Answer::Enqueued(match self.order().iter().position(|c| c == call) {
                        Some(i) => Enqueued::Waiting {
                            position: i as u64 + 1,
                            seq,
                        },
                        None => Enqueued::AlreadyOffered,
                    });
                }
                if !admits(self.waiting.len(), MAX_WAITING) {
                    return Answer::Enqueued(Enqueued::Refused);
                }
                self.clock += 1;
                let seq = self.clock;
                self.calls.insert(call.to_string(), Call { priority, seq });
                self.waiting.push(call.to_string());
                let position = self.order().iter().position(|c| c == call).unwrap() as u64 + 1;
                Answer::Enqueued(Enqueued::Waiting { position, seq })
            }
            Op::Reserve { min_level } => {
                let need = Need {
                    skill: SKILL,
                    min_level,
                };
                let Some(call) = self.order().first().cloned() else {
                    return Answer::Reserved(None);
                };
                let pick = self.ready().into_iter().find(|(a, _)| {
                    let level = AGENTS.iter().find(|(n, _)| n == a).unwrap().1;
                    need.met_by(SKILL, level) && next(self.state(a), AgentInput::Offer).is_ok()
                });
                let Some((agent, idle)) = pick else {
                    return Answer::Reserved(None);
                };
                self.clock += 1;
                let offer = self.clock;
                self.waiting.retain(|c| *c != call);
                let to = next(StateName::Ready, AgentInput::Offer).unwrap();
                self.set(&agent, to, now, Some(idle), Some(offer), Some(&call));
                self.offers.insert(call.clone(), agent.clone());
                let r = Reservation {
                    call,
                    agent: agent.clone(),
                    offer,
                };
                self.last_offer.insert(agent, r.clone());
                Answer::Reserved(Some(r))
            }
            Op::Command { agent, command } => {
                let agent = AGENTS[agent].0;
                let Ok(to) = next(self.state(agent), command.input()) else {
                    return Answer::Changed(false);
                };
                let idle = (to == StateName::Ready).then_some(now);
                self.set(agent, to, now, idle, None, None);
                Answer::Changed(true)
            }
            Op::Answer { agent } => {
                let agent = AGENTS[agent].0;
                let Some(r) = self.last_offer.get(agent).cloned() else {
                    return Answer::Changed(false);
                };
                let info = self.agents.get(agent).cloned();
                match (info, next(self.state(agent), AgentInput::Answer)) {
                    (Some(i), Ok(to))
                        if i.call.as_deref() == Some(&r.call) && i.offer == Some(r.offer) =>
                    {
                        self.set(agent, to, now, None, Some(r.offer), Some(&r.call));
                        Answer::Changed(true)
                    }
                    _ => Answer::Changed(false),
                }
            }
            Op::RingTimeout { agent } => {
                let agent = AGENTS[agent].0;
                let Some(r) = self.last_offer.get(agent).cloned() else {
                    return Answer::Requeued(None);
                };
                let info = self.agents.get(agent).cloned();
                match (info, next(self.state(agent), AgentInput::RingTimeout)) {
                    (Some(i), Ok(to))
                        if i.call.as_deref() == Some(&r.call) && i.offer == Some(r.offer) =>
                    {
                        self.set(agent, to, now, None, None, None);
                        self.offers.remove(&r.call);
                        self.waiting.push(r.call.clone());
                        self.clock += 1;
                        Answer::Requeued(Some(self.clock))
                    }
                    _ => Answer::Requeued(None),
                }
            }
            Op::HangUp { agent } => {
                let agent = AGENTS[agent].0;
                let Some(call) = self.agents.get(agent).and_then(|i| i.call.clone()) else {
                    return Answer::Changed(false);
                };
                let Ok(to) = next(self.state(agent), AgentInput::HangUp) else {
                    return Answer::Changed(false);
                };
                self.set(agent, to, now, None, None, Some(&call));
                self.offers.remove(&call);
                self.calls.remove(&call);
                Answer::Changed(true)
            }
            Op::WrapUpDone { agent } => {
                let agent = AGENTS[agent].0;
                let Ok(to) = next(self.state(agent), AgentInput::WrapUpDone) else {
                    return Answer::Changed(false);
                };
                self.set(agent, to, now, Some(now), None, None);
                Answer::Changed(true)
            }
            Op::Abandon { call } => {
                let call = CALLS[call];
                if self.waiting.iter().any(|c| c == call) {
                    self.waiting.retain(|c| c != call);
                    self.calls.remove(call);
                    return Answer::Abandoned(Abandoned::WasWaiting);
                }
                let Some(agent) = self.offers.get(call).cloned() else {
                    return Answer::Abandoned(Abandoned::NotFound);
                };
                let info = self.agents[&agent].clone();
                match next(info.state, AgentInput::CallerGone) {
                    Ok(to) if info.call.as_deref() == Some(call) => {
                        let idle = info.idle_ms;
                        self.set(&agent, to, idle.unwrap(), idle, None, None);
                        self.offers.remove(call);
                        self.calls.remove(call);
                        Answer::Abandoned(Abandoned::WasRinging)
                    }
                    _ => Answer::Abandoned(Abandoned::NotFound),
                }
            }
        }
    }
}

/// The same step through one instance's connection to the real scripts.
async fn apply(store: &AcdStore, model: &Model, op: &Op, now: i64) -> Answer {
    match *op {
        Op::Arrive { call, priority } => Answer::Enqueued(
            store
                .enqueue(QUEUE, CALLS[call], priority, MAX_WAITING, now)
                .await
                .unwrap(),
        ),
        Op::Reserve { min_level } => {
            let need = Need {
                skill: SKILL,
                min_level,
            };
            Answer::Reserved(store.reserve(QUEUE, need, now).await.unwrap())
        }
        Op::Command { agent, command } => Answer::Changed(
            store
                .agent_command(AGENTS[agent].0, command, now)
                .await
                .unwrap(),
        ),
        Op::Answer { agent } => match model.last_offer.get(AGENTS[agent].0) {
            Some(r) => Answer::Changed(store.answer(r, now).await.unwrap()),
            None => Answer::Changed(false),
        },
        Op::RingTimeout { agent } => match model.last_offer.get(AGENTS[agent].0) {
            Some(r) => Answer::Requeued(store.release_missed(QUEUE, r, now).await.unwrap()),
            None => Answer::Requeued(None),
        },
        Op::HangUp { agent } => {
            let agent = AGENTS[agent].0;
            let call = store.agent_info(agent).await.unwrap().and_then(|i| i.call);
            match call {
                Some(call) => Answer::Changed(store.finish(&call, agent, now).await.unwrap()),
                None => Answer::Changed(false),
            }
        }
        Op::WrapUpDone { agent } => {
            let agent = AGENTS[agent].0;
            let began = store
                .agent_info(agent)
                .await
                .unwrap()
                .map_or(0, |i| i.at_ms);
            Answer::Changed(store.wrap_up_done(agent, began, now).await.unwrap())
        }
        Op::Abandon { call } => Answer::Abandoned(store.abandon(QUEUE, CALLS[call]).await.unwrap()),
    }
}

async fn run(ops: Vec<(bool, Op)>) -> Result<(), TestCaseError> {
    let prefix = format!("contactd_test:{}:", run_id());
    let mut instances = Vec::new();
    for _ in 0..2 {
        instances.push(AcdStore::connect(&redis_url(), &prefix).await.unwrap());
    }
    for (agent, level) in AGENTS {
        instances[0]
            .set_skills(agent, &[(SKILL, level)])
            .await
            .unwrap();
    }
    let mut model = Model::default();
    let mut outcome = Ok(());
    // Times well before 2024, so the event clock starts at 0 in Redis as in the model.
    for (step, (second, op)) in ops.iter().enumerate() {
        let now = step as i64 + 1;
        let store = &instances[usize::from(*second)];
        let got = apply(store, &model, op, now).await;
        let want = model.apply(op, now);
        let same_state = async {
            prop_assert_eq!(&got, &want, "step {} {:?}", step, op);
            let waiting = store.waiting(QUEUE).await.unwrap();
            prop_assert_eq!(waiting, model.order(), "queue after step {} {:?}", step, op);
            for (agent, _) in AGENTS {
                let live = store.agent_info(agent).await.unwrap();
                prop_assert_eq!(
                    live.as_ref(),
                    model.agents.get(agent),
                    "{} after step {} {:?}",
                    agent,
                    step,
                    op
                );
            }
            Ok(())
        };
        outcome = same_state.await;
        if outcome.is_err() {
            break;
        }
    }
    if let Ok(live) = LiveState::connect(&redis_url(), &prefix).await {
        let _ = live.purge_prefix().await;
    }
    outcome
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn the_scripts_do_what_the_core_model_does(
        ops in prop::collection::vec((any::<bool>(), op()), 1..60)
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(run(ops))?;
    }
}
