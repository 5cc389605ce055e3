//! Validation suites: the tests a stage must pass after it deploys, declared as data
//! ([`model`]), checked without side effects ([`expect`], [`jsonpath`], [`vars`], [`redact`]),
//! run against the world through ports ([`run`]), and reported ([`report`]).

pub mod egress;
pub mod expect;
pub mod jsonpath;
pub mod model;
pub mod redact;
pub mod report;
pub mod run;
pub mod vars;

pub use model::{Suite, SuiteError};
pub use report::{Outcome, RunSummary, TestResult};
pub use run::{Progress, Runner};
