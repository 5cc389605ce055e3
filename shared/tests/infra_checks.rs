//! infra/ and statemachines/ checked as code: cfn-lint reports nothing on both templates, the
//! ASL passes a real validator (asl-validator), every `${...}` a state machine uses is
//! substituted by the template (and nothing else is), every function is built from a workspace
//! binary, and every policy and input in the example pipeline is one the functions accept.

mod sfn;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use handsoff::invoke::Startup;
use serde_yaml::Value as Yaml;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn tool(relative: &str, installer: &str) -> PathBuf {
    let path = root().join(relative);
    assert!(
        path.exists(),
        "{} is missing: run {installer} (scripts/test does)",
        path.display()
    );
    path
}

fn run(program: &Path, args: &[&str]) -> (i32, String) {
    let output = Command::new(program).current_dir(root()).args(args).output().unwrap();
    let text = String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr);
    (output.status.code().unwrap_or(-1), text)
}

fn template(name: &str) -> Yaml {
    serde_yaml::from_str(&std::fs::read_to_string(root().join("infra").join(name)).unwrap()).unwrap()
}

/// A tagged value (`!Sub "..."`, `!GetAtt X.Arn`) without its tag.
fn untagged(value: &Yaml) -> &Yaml {
    match value {
        Yaml::Tagged(tagged) => untagged(&tagged.value),
        other => other,
    }
}

#[test]
fn cfn_lint_reports_nothing_on_the_template() {
    let cfn_lint = tool(".venv/bin/cfn-lint", "scripts/python-tools");
    let (code, output) = run(&cfn_lint, &["infra/template.yaml"]);
    assert_eq!((code, output.trim()), (0, ""), "cfn-lint found problems");
}

#[test]
fn checkov_finds_nothing_unjustified_in_the_template() {
    let checkov = tool(".venv-checkov/bin/checkov", "scripts/python-tools");
    let (code, output) = run(
        &checkov,
        &[
            "-d",
            "infra",
            "--framework",
            "cloudformation",
            "--compact",
            "--quiet",
            "--skip-download",
        ],
    );
    assert!(
        output.contains("Failed checks: 0,"),
        "checkov found problems:\n{output}"
    );
    assert_eq!(code, 0, "{output}");
    // Every skipped check says why, beside the resource it applies to.
    let text = std::fs::read_to_string(root().join("infra/template.yaml")).unwrap();
    let skips = text.matches("- id: CKV_").count();
    let reasons = text.matches("comment: ").count();
    assert_eq!(skips, reasons, "template.yaml: a checkov skip without a comment");
}

#[test]
fn the_state_machines_pass_the_asl_validator() {
    let validator = tool("tools/asl/node_modules/.bin/asl-validator", "scripts/node-tools");
    for file in [
        "statemachines/safe-stage.asl.json",
        "statemachines/safe-region.asl.json",
        "statemachines/post-stage-validation.asl.json",
    ] {
        let (code, output) = run(&validator, &["--json-path", file]);
        assert_eq!(code, 0, "{file}: {output}");
        assert!(output.contains("is valid"), "{output}");
    }
}

#[test]
fn every_substitution_a_state_machine_uses_is_provided_by_the_template() {
    let template = template("template.yaml");
    let resources = template["Resources"].as_mapping().unwrap();
    let mut machines = 0;
    for (name, resource) in resources {
        if resource["Type"].as_str() != Some("AWS::Serverless::StateMachine") {
            continue;
        }
        machines += 1;
        let uri = resource["Properties"]["DefinitionUri"].as_str().unwrap();
        let definition = std::fs::read_to_string(root().join("infra").join(uri)).unwrap();
        let provided: BTreeSet<String> = resource["Properties"]["DefinitionSubstitutions"]
            .as_mapping()
            .unwrap()
            .keys()
            .map(|key| key.as_str().unwrap().to_string())
            .collect();
        assert_eq!(sfn::substitutions(&definition), provided, "{name:?} ({uri})");
    }
    assert_eq!(machines, 3);
}

#[test]
fn every_function_is_built_from_a_workspace_binary() {
    let template = template("template.yaml");
    let mut binaries = BTreeSet::new();
    for (_, resource) in template["Resources"].as_mapping().unwrap() {
        if resource["Type"].as_str() == Some("AWS::Serverless::Function") {
            assert_eq!(resource["Metadata"]["BuildMethod"].as_str(), Some("rust-cargolambda"));
            binaries.insert(
                resource["Metadata"]["BuildProperties"]["Binary"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            );
        }
    }
    let crates: BTreeSet<String> = std::fs::read_dir(root().join("functions"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(binaries, crates);
    assert_eq!(
        untagged(&template["Globals"]["Function"]["Runtime"]).as_str(),
        Some("provided.al2023")
    );
}

/// The value a function gets for `key`: its own, else the template's Globals.
fn function_setting(template: &Yaml, function: &Yaml, key: &str) -> u64 {
    function["Properties"][key]
        .as_u64()
        .or_else(|| template["Globals"]["Function"][key].as_u64())
        .unwrap()
}

#[test]
fn cargo_lambda_deploys_each_function_as_the_template_does() {
    let cargo_lambda = tool(".venv/bin/cargo-lambda", "scripts/python-tools");
    // `--dry` packages without deploying; any x86_64 ELF file stands in for the binary.
    let lambda_dir = handsoff_e2e::TempDir::new("deploy-dry");
    let template = template("template.yaml");
    let mut checked = 0;
    for (_, function) in template["Resources"].as_mapping().unwrap() {
        let Some(binary) = function["Metadata"]["BuildProperties"]["Binary"].as_str() else {
            continue;
        };
        std::fs::create_dir_all(lambda_dir.join(binary)).unwrap();
        std::fs::copy("/bin/true", lambda_dir.join(binary).join("bootstrap")).unwrap();
        let output = Command::new(&cargo_lambda)
            .current_dir(root())
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .args(["lambda", "deploy", "--dry", "--output-format", "json", "--iam-role"])
            .arg(format!("arn:aws:iam::123456789012:role/handsoff-{binary}"))
            .arg("--lambda-dir")
            .arg(lambda_dir.as_os_str())
            .arg(binary)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{binary}: {stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        // A progress line comes before the JSON.
        let json: serde_json::Value = serde_json::from_str(&stdout[stdout.find('{').unwrap()..]).unwrap();
        let config = &json["config"];
        assert_eq!(
            config["memory"].as_u64(),
            Some(function_setting(&template, function, "MemorySize")),
            "{binary}"
        );
        assert_eq!(
            config["timeout"].as_u64(),
            Some(function_setting(&template, function, "Timeout")),
            "{binary}"
        );
        assert_eq!(config["runtime"], "provided.al2023");
        assert_eq!(config["tracing"], "Active");
        assert_eq!(json["tags"], format!("app=handsoff&component={binary}"));
        let needs_table = std::fs::read_to_string(root().join("functions").join(binary).join("src/main.rs"))
            .unwrap()
            .contains("Startup::from_env");
        let env = config["env_var"].as_array().unwrap();
        assert_eq!(
            env.contains(&"HANDSOFF_TABLE=handsoff".into()),
            needs_table,
            "{binary}: {env:?}"
        );
        checked += 1;
    }
    assert_eq!(checked, 6);

    // The deploy script prints and runs one deploy per function.
    let output = Command::new(root().join("scripts/deploy"))
        .current_dir(root())
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("HANDSOFF_ROLE_ARN_PREFIX", "arn:aws:iam::123456789012:role/handsoff-")
        .env("HANDSOFF_TABLE", "team-gates")
        .env("HANDSOFF_LAMBDA_DIR", lambda_dir.as_os_str())
        .args(["--dry", "--skip-build"])
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{printed}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let commands: Vec<&str> = printed.lines().filter(|line| line.starts_with("+ ")).collect();
    assert_eq!(commands.len(), 6, "{printed}");
    assert!(commands.iter().any(
        |line| line.contains("--iam-role arn:aws:iam::123456789012:role/handsoff-alarm-blocker")
            && line.contains("HANDSOFF_TABLE=team-gates")
    ));
}

/// The `service:Operation` names a port's source reports its calls by.
fn calls_named_in(text: &str) -> BTreeSet<String> {
    let mut calls = BTreeSet::new();
    for piece in text.split('"') {
        let Some((service, action)) = piece.split_once(':') else {
            continue;
        };
        let is_service = !service.is_empty() && service.bytes().all(|byte| byte.is_ascii_lowercase() || byte == b'-');
        let is_action = action.chars().next().is_some_and(|first| first.is_ascii_uppercase())
            && action.chars().all(|ch| ch.is_ascii_alphanumeric());
        if is_service && is_action {
            calls.insert(piece.to_string());
        }
    }
    calls
}

/// Every source file under `shared/src/ports`.
fn port_sources() -> Vec<PathBuf> {
    fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, found);
            } else if path.extension().is_some_and(|extension| extension == "rs") {
                found.push(path);
            }
        }
    }
    let mut found = Vec::new();
    walk(&root().join("shared/src/ports"), &mut found);
    found
}

/// The registry cannot fall behind the code: every call an adapter names is registered (with
/// the IAM actions it needs), and every adapter the registry names exists.
#[test]
fn every_call_the_ports_make_is_in_the_registry() {
    use handsoff::ports::calls;
    let mut named = BTreeSet::new();
    for file in port_sources() {
        if file.ends_with("calls.rs") {
            continue;
        }
        named.extend(calls_named_in(&std::fs::read_to_string(&file).unwrap()));
    }
    let missing: Vec<&String> = named.iter().filter(|name| !calls::is_registered(name)).collect();
    assert!(
        missing.is_empty(),
        "calls the ports make but the registry lacks: {missing:?}"
    );
    let sources: String = port_sources()
        .iter()
        .map(|file| std::fs::read_to_string(file).unwrap())
        .collect();
    for port in calls::ports() {
        assert!(
            sources.contains(&format!("pub struct {port}")),
            "the registry names {port}, which is no adapter"
        );
    }
}

/// What each function's code may call, from the adapters its `main.rs` builds and the
/// registry of their calls.
fn callable(function: &str) -> BTreeSet<String> {
    let main = std::fs::read_to_string(root().join("functions").join(function).join("src/main.rs")).unwrap();
    let mut actions: BTreeSet<String> = [
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
    ]
    .map(String::from)
    .into();
    let mut ports: Vec<&str> = handsoff::ports::calls::ports()
        .into_iter()
        .filter(|port| main.contains(port))
        .collect();
    if main.contains("Startup::from_env") {
        ports.extend(Startup::PORTS);
    }
    if main.contains(".run_gate(") {
        ports.extend(Startup::GATE_PORTS);
    }
    for port in ports {
        actions.extend(handsoff::ports::calls::actions_of(port).map(String::from));
    }
    actions
}

/// Actions whose APIs take no resource-level permissions: the only ones `Resource: "*"` may carry.
const STAR_RESOURCE_APIS: [&str; 7] = [
    "codepipeline:PutJobSuccessResult",
    "codepipeline:PutJobFailureResult",
    "codepipeline:GetJobDetails",
    "cloudwatch:GetMetricData",
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "logs:DescribeLogGroups",
];

/// The statements of a policy document, with `!If [condition, statement, NoValue]` opened.
fn statements(document: &Yaml) -> Vec<&Yaml> {
    document["Statement"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|statement| match statement {
            Yaml::Tagged(tagged) if tagged.tag == "!If" => &tagged.value.as_sequence().unwrap()[1],
            other => other,
        })
        .collect()
}

fn strings(value: &Yaml) -> Vec<String> {
    match untagged(value) {
        Yaml::String(text) => vec![text.clone()],
        Yaml::Sequence(items) => items.iter().flat_map(strings).collect(),
        _ => vec![],
    }
}

#[test]
fn each_role_grants_only_what_its_function_calls() {
    let template = template("template.yaml");
    let resources = template["Resources"].as_mapping().unwrap();
    let by_name = |name: &str| &template["Resources"][name];
    let mut checked = 0;
    for (_, function) in resources {
        let Some(binary) = function["Metadata"]["BuildProperties"]["Binary"].as_str() else {
            continue;
        };
        let role_name = untagged(&function["Properties"]["Role"])
            .as_str()
            .unwrap()
            .trim_end_matches(".Arn")
            .to_string();
        let role = by_name(&role_name);
        let mut documents: Vec<&Yaml> = role["Properties"]["Policies"]
            .as_sequence()
            .into_iter()
            .flatten()
            .map(|policy| &policy["PolicyDocument"])
            .collect();
        for managed in role["Properties"]["ManagedPolicyArns"]
            .as_sequence()
            .into_iter()
            .flatten()
        {
            let name = untagged(managed).as_str().unwrap();
            documents.push(&by_name(name)["Properties"]["PolicyDocument"]);
        }
        let allowed = callable(binary);
        let granted: BTreeSet<String> = documents
            .iter()
            .flat_map(|document| statements(document))
            .flat_map(|statement| strings(&statement["Action"]))
            .collect();
        // A gate decides with its stage's stored policy when a job names none: it must be able
        // to ask which stage it runs for, and read the policy.
        if binary != "validation-test-runner" {
            for needed in ["codepipeline:GetJobDetails", "dynamodb:GetItem"] {
                assert!(granted.contains(needed), "{binary}: {role_name} lacks {needed}");
            }
        }
        for document in documents {
            for statement in statements(document) {
                let actions = strings(&statement["Action"]);
                for action in &actions {
                    assert!(!action.contains('*'), "{binary}: wildcard action {action}");
                    assert!(
                        allowed.contains(action),
                        "{binary}: {role_name} grants {action}, which its code never calls"
                    );
                }
                if strings(&statement["Resource"]).iter().any(|resource| resource == "*") {
                    for action in &actions {
                        assert!(
                            STAR_RESOURCE_APIS.contains(&action.as_str()),
                            "{binary}: {action} on Resource \"*\", but its API takes resource-level permissions"
                        );
                    }
                }
            }
        }
        checked += 1;
    }
    assert_eq!(checked, 6);
}

/// The partition-key prefixes the code writes records under (`"PREFIX#` in the ports).
fn key_prefixes_in_code() -> BTreeSet<String> {
    let mut prefixes = BTreeSet::new();
    let mut files = port_sources();
    files.push(root().join("shared/src/layers/mod.rs"));
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for piece in text.split('"').skip(1).step_by(2) {
            if let Some((prefix, _)) = piece.split_once('#')
                && !prefix.is_empty()
                && prefix.bytes().all(|byte| byte.is_ascii_uppercase() || byte == b'_')
            {
                prefixes.insert(prefix.to_string());
            }
        }
    }
    prefixes
}

/// Every role of the template, by name: its policy documents (inline and managed).
fn roles(template: &Yaml) -> Vec<(String, Vec<&Yaml>)> {
    let resources = template["Resources"].as_mapping().unwrap();
    let mut found = Vec::new();
    for (name, resource) in resources {
        let name = name.as_str().unwrap().to_string();
        let documents: Vec<&Yaml> = match resource["Type"].as_str() {
            Some("AWS::IAM::Role") => resource["Properties"]["Policies"]
                .as_sequence()
                .into_iter()
                .flatten()
                .map(|policy| &policy["PolicyDocument"])
                .collect(),
            // A state machine's role is made by SAM from its policy documents.
            Some("AWS::Serverless::StateMachine") => resource["Properties"]["Policies"]
                .as_sequence()
                .into_iter()
                .flatten()
                .filter(|policy| !policy["Statement"].is_null())
                .collect(),
            _ => continue,
        };
        found.push((name, documents));
    }
    found
}

/// The key prefixes a statement's `dynamodb:LeadingKeys` condition allows, or None when it has
/// none (or one that a request without a partition key would pass).
fn leading_keys(statement: &Yaml) -> Option<BTreeSet<String>> {
    let condition = &statement["Condition"];
    let keys = strings(&condition["ForAllValues:StringLike"]["dynamodb:LeadingKeys"]);
    let present = condition["Null"]["dynamodb:LeadingKeys"].as_str() == Some("false");
    (!keys.is_empty() && present).then(|| keys.into_iter().collect())
}

const READS: [&str; 3] = ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:Scan"];

/// Each role touches only its own records (IAM `dynamodb:LeadingKeys`): a suite's run can never
/// write an override, only the operator role may write overrides or lift a block, and every
/// prefix a role is granted is one the code uses.
#[test]
fn each_role_reads_and_writes_only_its_own_records() {
    let template = template("template.yaml");
    let in_code = key_prefixes_in_code();
    assert!(
        [
            "OVERRIDE", "BLOCK", "AUDIT", "ROLLBACK", "BAKE", "SUITE", "RUN", "POLICY", "FREEZE"
        ]
        .iter()
        .all(|prefix| in_code.contains(*prefix)),
        "{in_code:?}"
    );
    let mut writes: std::collections::BTreeMap<String, BTreeSet<String>> = Default::default();
    for (role, documents) in roles(&template) {
        for document in documents {
            for statement in statements(document) {
                let actions: Vec<String> = strings(&statement["Action"])
                    .into_iter()
                    .filter(|action| action.starts_with("dynamodb:"))
                    .collect();
                if actions.is_empty() {
                    continue;
                }
                let Some(prefixes) = leading_keys(statement) else {
                    // Only a person reads the whole table (listing every pipeline's overrides).
                    assert!(
                        role == "OperatorRole" && actions.iter().all(|action| READS.contains(&action.as_str())),
                        "{role}: {actions:?} without a dynamodb:LeadingKeys condition"
                    );
                    continue;
                };
                for prefix in &prefixes {
                    let bare = prefix
                        .strip_suffix("#*")
                        .unwrap_or_else(|| panic!("{role}: {prefix} is not PREFIX#*"));
                    assert!(in_code.contains(bare), "{role}: {prefix} is no record the code writes");
                }
                if actions.iter().any(|action| !READS.contains(&action.as_str())) {
                    writes.entry(role.clone()).or_default().extend(prefixes);
                }
                if actions.iter().any(|action| action == "dynamodb:DeleteItem") {
                    assert_eq!(role, "OperatorRole", "only a person deletes (lifts a block)");
                }
            }
        }
    }
    let set = |prefixes: &[&str]| {
        prefixes
            .iter()
            .map(|prefix| format!("{prefix}#*"))
            .collect::<BTreeSet<_>>()
    };
    assert_eq!(writes["ValidationTestRunnerRole"], set(&["RUN"]));
    assert_eq!(writes["AlarmBlockerRole"], set(&["AUDIT"]));
    assert_eq!(writes["CanaryEvaluatorRole"], set(&["AUDIT"]));
    assert_eq!(writes["BakeTimeWaiterRole"], set(&["BAKE", "AUDIT"]));
    assert_eq!(writes["RollbackTriggerRole"], set(&["ROLLBACK", "BLOCK", "AUDIT"]));
    for (role, prefixes) in &writes {
        if role != "OperatorRole" {
            assert!(
                !prefixes.iter().any(|prefix| ["OVERRIDE", "SUITE", "POLICY", "FREEZE"]
                    .iter()
                    .any(|kind| prefix.starts_with(kind))),
                "{role} may write overrides, suites, policies or freezes: {prefixes:?}"
            );
        }
    }
    assert_eq!(
        writes["OperatorRole"],
        set(&["OVERRIDE", "OVERRIDE_ID", "BLOCK", "AUDIT", "SUITE", "POLICY", "FREEZE"])
    );
}
