//! The managed-policies scenario on the local stack, shared by its test and the demo: the real
//! time-window gate and the real `handsoff` command against one moto. Policies are stored in
//! layers, a stage's new version changes the very next decision, a stage that lowers a
//! forbidden field is refused, and a freeze on two of three pipelines closes them until lifted.

use serde_json::{Value, json};

use crate::lambda_router::Answer;
use crate::local_stack::{LocalStack, binaries_dir};
use crate::{Said, TempDir};

/// The pipelines the scenario stores policies for; the freeze names the first two.
pub const PIPELINES: [&str; 3] = ["orders", "payments", "search"];

/// A person at the `handsoff` command, against the local stack.
pub struct Operator {
    endpoint: String,
    dir: TempDir,
    written: std::cell::Cell<u32>,
}

impl Operator {
    pub fn new(stack: &LocalStack) -> Operator {
        Operator {
            endpoint: stack.endpoint(),
            dir: TempDir::new("managed-policies"),
            written: std::cell::Cell::new(0),
        }
    }

    pub fn run(&self, args: &[&str]) -> Said {
        crate::run_handsoff(&binaries_dir().join("handsoff"), Some(&self.endpoint), args)
    }

    /// `handsoff policy put` of `layer` (written to a file first) at `scope`.
    pub fn put(&self, scope: &[&str], layer: &Value) -> Said {
        self.written.set(self.written.get() + 1);
        let file = self.dir.join(format!("layer-{}.json", self.written.get()));
        std::fs::write(&file, layer.to_string()).expect("write the layer");
        let file = file.to_string_lossy().into_owned();
        let mut args = vec!["policy", "put", file.as_str()];
        args.extend(scope);
        self.run(&args)
    }
}

/// The time-window gate's answer for a pipeline's Prod stage, given nothing but its context.
pub fn window_decision(stack: &LocalStack, pipeline: &str) -> Result<Value, String> {
    match stack.invoke(
        "time-window-gate",
        &json!({"context": {"pipeline": pipeline, "stage": "Prod"}}),
    ) {
        Answer::Ok(decision) => Ok(decision),
        Answer::Error { error_type, message } => Err(format!("{error_type}: {message}")),
    }
}

/// `org v1 + pipeline orders v1 + ...`: the stored versions a decision names.
pub fn versions(decision: &Value) -> String {
    decision["evidence"]["policy"]["layers"]
        .as_array()
        .map(|layers| {
            layers
                .iter()
                .map(|layer| format!("{} v{}", layer["layer"].as_str().unwrap_or("?"), layer["version"]))
                .collect::<Vec<_>>()
                .join(" + ")
        })
        .unwrap_or_else(|| "(no stored policy)".to_string())
}

/// Everything the scenario saw, in order.
#[derive(Debug, Clone)]
pub struct Run {
    pub first: Value,
    pub after_put: Value,
    pub put: Said,
    pub explain: Said,
    pub lowering: Said,
    pub reopened: Value,
    pub freeze: Said,
    pub freeze_id: String,
    /// Each pipeline's decision during the freeze.
    pub frozen: Vec<(String, Value)>,
    pub lift: Said,
    /// Each pipeline's decision after the lift.
    pub lifted: Vec<(String, Value)>,
}

fn succeeded(said: Said, what: &str) -> Result<Said, String> {
    if said.code == 0 {
        Ok(said)
    } else {
        Err(format!("{what} exited {}: {}", said.code, said.output()))
    }
}

/// Runs the scenario on a fresh stack (its table created here).
pub fn run(stack: &LocalStack) -> Result<Run, String> {
    let operator = Operator::new(stack);
    succeeded(operator.run(&["table", "create"]), "table create")?;
    // The organisation: open all week, at least an hour's bake, which no one may shorten.
    let org = json!({
        "windows": {"timezone": "UTC", "allow": [{"days": "Mon-Sun", "start": "00:00", "end": "24:00"}]},
        "bake": {"duration": "1h"},
        "forbid_lowering": ["bake.duration"]
    });
    succeeded(operator.put(&["--org"], &org), "policy put --org")?;
    for pipeline in PIPELINES {
        let layer = json!({"alarms": {"watch": [{"names": [format!("{pipeline}-high-sev")]}]}});
        succeeded(operator.put(&["--pipeline", pipeline], &layer), "policy put --pipeline")?;
    }
    let stage = ["--pipeline", "orders", "--stage", "Prod"];
    let open = json!({"windows": {"min_time_left": "5m"}});
    succeeded(operator.put(&stage, &open), "policy put (stage)")?;
    let first = window_decision(stack, "orders")?;

    // The team denies yesterday to tomorrow for a migration.
    let today = jiff::Zoned::now().with_time_zone(jiff::tz::TimeZone::UTC).date();
    let (yesterday, tomorrow) = (
        today.yesterday().map_err(|error| error.to_string())?,
        today.tomorrow().map_err(|error| error.to_string())?,
    );
    let deny = json!({"windows": {"deny": [{"from": yesterday.to_string(), "to": tomorrow.to_string(), "reason": "database migration"}]}});
    let put = succeeded(operator.put(&stage, &deny), "policy put (deny)")?;
    let after_put = window_decision(stack, "orders")?;
    let explain = operator.run(&["policy", "explain", "--pipeline", "orders", "--stage", "Prod"]);
    let lowering = operator.put(&stage, &json!({"bake": {"duration": "10m"}}));

    succeeded(operator.put(&stage, &open), "policy put (open again)")?;
    let reopened = window_decision(stack, "orders")?;
    let until = jiff::Timestamp::now()
        .checked_add(jiff::SignedDuration::from_hours(2))
        .map_err(|error| error.to_string())?
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let freeze = succeeded(
        operator.run(&[
            "freeze",
            "create",
            "--to",
            &until,
            "--reason",
            "payments migration",
            "--pipelines",
            "orders,payments",
        ]),
        "freeze create",
    )?;
    let freeze_id = freeze
        .stdout
        .split(" as ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .ok_or_else(|| format!("no freeze id in: {}", freeze.output()))?
        .to_string();
    let decisions = || -> Result<Vec<(String, Value)>, String> {
        PIPELINES
            .iter()
            .map(|pipeline| Ok((pipeline.to_string(), window_decision(stack, pipeline)?)))
            .collect()
    };
    let frozen = decisions()?;
    let lift = succeeded(
        operator.run(&["freeze", "lift", &freeze_id, "--reason", "migration done early"]),
        "freeze lift",
    )?;
    let lifted = decisions()?;
    Ok(Run {
        first,
        after_put,
        put,
        explain,
        lowering,
        reopened,
        freeze,
        freeze_id,
        frozen,
        lift,
        lifted,
    })
}
