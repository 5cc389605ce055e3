//! infra/ and statemachines/ checked as code: cfn-lint reports nothing on both templates, the
//! ASL passes a real validator (asl-validator), every `${...}` a state machine uses is
//! substituted by the template (and nothing else is), every function is built from a workspace
//! binary, and every policy and input in the example pipeline is one the functions accept.

mod sfn;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use handsoff::policy::Policy;
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
fn cfn_lint_reports_nothing_on_either_template() {
    let cfn_lint = tool(".venv/bin/cfn-lint", "scripts/python-tools");
    let (code, output) = run(&cfn_lint, &["infra/template.yaml", "infra/example-pipeline.yaml"]);
    assert_eq!((code, output.trim()), (0, ""), "cfn-lint found problems");
}

#[test]
fn the_state_machines_pass_the_asl_validator() {
    let validator = tool("tools/asl/node_modules/.bin/asl-validator", "scripts/node-tools");
    for file in [
        "statemachines/safe-stage.asl.json",
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
    assert_eq!(machines, 2);
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

#[test]
fn the_example_pipeline_passes_policies_and_inputs_the_functions_accept() {
    let pipeline = template("example-pipeline.yaml");
    let stages = pipeline["Resources"]["Pipeline"]["Properties"]["Stages"]
        .as_sequence()
        .unwrap();
    let (mut policies, mut validations) = (0, 0);
    for stage in stages {
        for action in stage["Actions"].as_sequence().unwrap() {
            let configuration = &action["Configuration"];
            if let Some(parameters) = configuration["UserParameters"].as_str() {
                Policy::from_json(parameters).unwrap_or_else(|error| panic!("{:?}: {error}", action["Name"]));
                policies += 1;
            }
            if action["ActionTypeId"]["Provider"].as_str() == Some("StepFunctions") {
                let input = untagged(&configuration["Input"]).as_str().unwrap();
                // `${Parameter}` placeholders stand for plain strings.
                let input: serde_json::Value = serde_json::from_str(&without_placeholders(input)).unwrap();
                assert!(
                    input["pipeline"].is_string() && input["stage"].is_string() && input["vars"].is_object(),
                    "{input}"
                );
                validations += 1;
            }
        }
    }
    assert_eq!((policies, validations), (8, 2));
}

/// Replaces each `${Name}` with `Name`.
fn without_placeholders(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}').unwrap();
        out.push_str(&rest[start + 2..start + end]);
        rest = &rest[start + end + 1..];
    }
    out.push_str(rest);
    out
}
