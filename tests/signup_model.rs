//! Property test: random sequences of sign-ups, cancellations and capacity changes, sent to the
//! real service, must behave exactly like a tiny in-memory model of seats and a FIFO waitlist.

mod common;

use chrono::{Duration, Utc};
use common::{Backend, TestApp, TestUser};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Value, json};

const PEOPLE: usize = 6;

#[derive(Debug, Clone)]
enum Op {
    SignUp(usize),
    Cancel(usize),
    /// `None` = unlimited.
    Capacity(Option<i32>),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..PEOPLE).prop_map(Op::SignUp),
        3 => (0..PEOPLE).prop_map(Op::Cancel),
        1 => prop_oneof![(1..5i32).prop_map(Some), Just(None)].prop_map(Op::Capacity),
    ]
}

/// Seats and a FIFO line, nothing else.
#[derive(Debug, Default)]
struct Model {
    capacity: Option<i32>,
    confirmed: Vec<usize>,
    line: Vec<usize>,
}

impl Model {
    fn live(&self, p: usize) -> bool {
        self.confirmed.contains(&p) || self.line.contains(&p)
    }
    fn free(&self) -> bool {
        self.capacity
            .is_none_or(|c| (self.confirmed.len() as i32) < c)
    }
    fn fill(&mut self) {
        while self.free() && !self.line.is_empty() {
            let p = self.line.remove(0);
            self.confirmed.push(p);
        }
    }
}

struct World {
    app: TestApp,
    coordinator: String,
    program: String,
    people: Vec<TestUser>,
    tokens: Vec<String>,
    /// Each case gets its own time slot, so the overlap rule never links two cases.
    slot: std::sync::atomic::AtomicI64,
}

async fn world(backend: Backend) -> World {
    let app = TestApp::spawn(backend).await;
    let site = app.site("A");
    let coordinator = app.token(&app.coordinator(&[site]));
    let program = app
        .program(
            &coordinator,
            site,
            json!({"code": "P", "title": "P", "theme": "community"}),
        )
        .await;
    let people = app.employees(PEOPLE, Some(site));
    let tokens = people.iter().map(|p| app.token(p)).collect();
    World {
        program,
        app,
        coordinator,
        people,
        tokens,
        slot: std::sync::atomic::AtomicI64::new(0),
    }
}

async fn run_case(w: &World, ops: &[Op]) -> Result<(), TestCaseError> {
    let app = &w.app;
    let slot = w.slot.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let start = Utc::now() + Duration::days(30) + Duration::hours(2 * slot);
    let ev = app
        .published_event(&w.coordinator, &w.program, start, 1, json!({"capacity": 2}))
        .await;
    let mut model = Model {
        capacity: Some(2),
        ..Model::default()
    };
    let mut signup_ids: Vec<Option<String>> = vec![None; PEOPLE];

    for op in ops {
        match *op {
            Op::SignUp(p) => {
                let (status, _, body) = app
                    .call(
                        "POST",
                        &format!("/api/v1/events/{ev}/signups"),
                        Some(&w.tokens[p]),
                        Some(json!({})),
                    )
                    .await;
                if model.live(p) {
                    prop_assert_eq!(status, 409, "{:?}: {}", op, body);
                } else {
                    prop_assert_eq!(status, 201, "{:?}: {}", op, body);
                    if model.free() {
                        model.confirmed.push(p);
                        prop_assert_eq!(&body["status"], "confirmed");
                    } else {
                        model.line.push(p);
                        prop_assert_eq!(&body["status"], "waitlisted");
                        prop_assert_eq!(
                            body["waitlist_position"].as_u64(),
                            Some(model.line.len() as u64)
                        );
                    }
                    signup_ids[p] = body["id"].as_str().map(str::to_owned);
                }
            }
            Op::Cancel(p) => {
                let Some(id) = signup_ids[p].take() else {
                    continue;
                };
                let (status, _, body) = app
                    .call(
                        "DELETE",
                        &format!("/api/v1/signups/{id}"),
                        Some(&w.tokens[p]),
                        None,
                    )
                    .await;
                prop_assert_eq!(status, 200, "{:?}: {}", op, body);
                model.confirmed.retain(|&q| q != p);
                model.line.retain(|&q| q != p);
                model.fill();
            }
            Op::Capacity(c) => {
                let (status, _, body) = app
                    .call(
                        "PATCH",
                        &format!("/api/v1/events/{ev}"),
                        Some(&w.coordinator),
                        Some(json!({"capacity": c})),
                    )
                    .await;
                if c.is_some_and(|c| (model.confirmed.len() as i32) > c) {
                    prop_assert_eq!(status, 409, "{:?}: {}", op, body);
                } else {
                    prop_assert_eq!(status, 200, "{:?}: {}", op, body);
                    model.capacity = c;
                    model.fill();
                }
            }
        }
    }

    let (_, _, roster) = app
        .get_as(&w.coordinator, &format!("/api/v1/events/{ev}/roster"))
        .await;
    let person = |e: &Value| {
        w.people
            .iter()
            .position(|p| p.id.to_string() == e["user_id"].as_str().unwrap())
            .unwrap()
    };
    let mut confirmed: Vec<usize> = roster
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["status"] == "confirmed")
        .map(person)
        .collect();
    let line: Vec<usize> = roster
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["status"] == "waitlisted")
        .map(person)
        .collect();
    confirmed.sort();
    let mut expected = model.confirmed.clone();
    expected.sort();
    prop_assert_eq!(confirmed, expected, "seats; ops {:?}", ops);
    prop_assert_eq!(
        line,
        model.line.clone(),
        "the line, in order; ops {:?}",
        ops
    );
    Ok(())
}

fn check(backend: Backend) {
    let system = actix_web::rt::System::new();
    let w = system.block_on(world(backend));
    let mut runner = TestRunner::new(Config {
        cases: 32,
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&proptest::collection::vec(op(), 1..25), |ops| {
        system.block_on(run_case(&w, &ops))
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

#[test]
fn signups_match_the_model_sqlite() {
    check(Backend::Sqlite);
}

#[test]
fn signups_match_the_model_postgres() {
    if let Some(backend) = common::postgres() {
        check(backend);
    }
}
