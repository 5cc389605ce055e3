//! Every AWS call the ports make, in one place: its name (what an error or a log line says,
//! `service:Operation`), the IAM actions it needs, and the adapter that makes it. The
//! least-privilege test derives each function's allowed actions from here (by the adapters its
//! `main.rs` builds) and checks the SAM roles against them; another test checks that every call
//! an adapter names is registered here, so the registry cannot fall behind the code.

/// One AWS call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Call {
    /// The adapter that makes it, by its type name (`DynamoStore`).
    pub port: &'static str,
    /// `service:Operation`, as errors name it.
    pub call: &'static str,
    /// The IAM actions it needs (a transaction needs each write it holds).
    pub actions: &'static [&'static str],
    /// Made only by people's commands (listing, creating the table), never by a function.
    pub people_only: bool,
}

const fn call(port: &'static str, call: &'static str, actions: &'static [&'static str]) -> Call {
    Call {
        port,
        call,
        actions,
        people_only: false,
    }
}

const fn by_people(port: &'static str, name: &'static str, actions: &'static [&'static str]) -> Call {
    Call {
        people_only: true,
        ..call(port, name, actions)
    }
}

pub const CALLS: &[Call] = &[
    call(
        "CodePipelineJobs",
        "codepipeline:GetJobDetails",
        &["codepipeline:GetJobDetails"],
    ),
    call(
        "CodePipelineJobs",
        "codepipeline:PutJobSuccessResult",
        &["codepipeline:PutJobSuccessResult"],
    ),
    call(
        "CodePipelineJobs",
        "codepipeline:PutJobFailureResult",
        &["codepipeline:PutJobFailureResult"],
    ),
    call(
        "CloudWatchAlarms",
        "cloudwatch:DescribeAlarms",
        &["cloudwatch:DescribeAlarms"],
    ),
    call(
        "CloudWatchAlarms",
        "cloudwatch:DescribeAlarmHistory",
        &["cloudwatch:DescribeAlarmHistory"],
    ),
    // Alarms of another account or region, through the role the policy names.
    call("CloudWatchAlarms", "sts:AssumeRole", &["sts:AssumeRole"]),
    call(
        "CloudWatchMetrics",
        "cloudwatch:GetMetricData",
        &["cloudwatch:GetMetricData"],
    ),
    call("LambdaAliases", "lambda:GetAlias", &["lambda:GetAlias"]),
    call("AwsDeploymentControl", "lambda:GetAlias", &["lambda:GetAlias"]),
    call("AwsDeploymentControl", "lambda:UpdateAlias", &["lambda:UpdateAlias"]),
    call(
        "AwsDeploymentControl",
        "codedeploy:ListDeployments",
        &["codedeploy:ListDeployments"],
    ),
    call(
        "AwsDeploymentControl",
        "codedeploy:StopDeployment",
        &["codedeploy:StopDeployment"],
    ),
    call(
        "AwsDeploymentControl",
        "codepipeline:ListPipelineExecutions",
        &["codepipeline:ListPipelineExecutions"],
    ),
    call(
        "AwsDeploymentControl",
        "codepipeline:RollbackStage",
        &["codepipeline:RollbackStage"],
    ),
    call(
        "AwsDeploymentControl",
        "codepipeline:StopPipelineExecution",
        &["codepipeline:StopPipelineExecution"],
    ),
    call("DynamoStore", "dynamodb:GetItem", &["dynamodb:GetItem"]),
    call("DynamoStore", "dynamodb:Query", &["dynamodb:Query"]),
    call("DynamoStore", "dynamodb:PutItem", &["dynamodb:PutItem"]),
    call("DynamoStore", "dynamodb:UpdateItem", &["dynamodb:UpdateItem"]),
    // IAM has no action of its own for a transaction: each write in it is authorized.
    call(
        "DynamoStore",
        "dynamodb:TransactWriteItems",
        &[
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:DeleteItem",
            "dynamodb:ConditionCheckItem",
        ],
    ),
    by_people("DynamoStore", "dynamodb:Scan", &["dynamodb:Scan"]),
    by_people("DynamoStore", "dynamodb:CreateTable", &["dynamodb:CreateTable"]),
    by_people(
        "DynamoStore",
        "dynamodb:UpdateTimeToLive",
        &["dynamodb:UpdateTimeToLive"],
    ),
    call("SsmCalendars", "ssm:GetCalendarState", &["ssm:GetCalendarState"]),
    call("LambdaInvoker", "lambda:InvokeFunction", &["lambda:InvokeFunction"]),
    // A suite's signed HTTP request to an API Gateway stage.
    call("SdkHttpSender", "execute-api:Invoke", &["execute-api:Invoke"]),
    call("EventBridgeSink", "events:PutEvents", &["events:PutEvents"]),
];

/// The IAM actions a function that builds `port` may need.
pub fn actions_of(port: &str) -> impl Iterator<Item = &'static str> + '_ {
    CALLS
        .iter()
        .filter(move |call| call.port == port && !call.people_only)
        .flat_map(|call| call.actions.iter().copied())
}

/// Whether `name` (`service:Operation`) is a registered call.
pub fn is_registered(name: &str) -> bool {
    CALLS.iter().any(|call| call.call == name)
}

/// The adapters the registry knows.
pub fn ports() -> std::collections::BTreeSet<&'static str> {
    CALLS.iter().map(|call| call.port).collect()
}
