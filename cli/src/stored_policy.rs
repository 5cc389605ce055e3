//! Stored policies: `handsoff policy put|get|list|history|diff|explain`. A layer (the
//! organisation's default, a pipeline's, a stage's) is checked against the layers below it
//! before it is stored, and stored as one transaction conditioned on the version read.

use clap::Args;
use handsoff::layers::{self, LayerDoc, Scope, StoredLayer};
use handsoff::ports::policies::PolicyStore;
use jiff::Timestamp;
use serde_json::{Value, json};

use crate::aws::{AwsArgs, TableArgs, caller, check_name, store};

/// Which layer: `--org`, `--pipeline P`, or `--pipeline P --stage S`.
#[derive(Debug, Args)]
pub struct ScopeArgs {
    /// The organisation's default, under every pipeline.
    #[arg(long, conflicts_with_all = ["pipeline", "stage"])]
    org: bool,
    /// A pipeline's layer (with --stage: that stage's layer).
    #[arg(long, value_name = "PIPELINE")]
    pipeline: Option<String>,
    /// A stage's layer; needs --pipeline.
    #[arg(long, value_name = "STAGE", requires = "pipeline")]
    stage: Option<String>,
}

impl ScopeArgs {
    fn scope(&self) -> Result<Scope, crate::error::CliError> {
        match (self.org, &self.pipeline, &self.stage) {
            (true, None, None) => Ok(Scope::Org),
            (false, Some(pipeline), None) => {
                check_name("--pipeline", pipeline)?;
                Ok(Scope::Pipeline(pipeline.clone()))
            }
            (false, Some(pipeline), Some(stage)) => {
                check_name("--pipeline", pipeline)?;
                check_name("--stage", stage)?;
                Ok(Scope::Stage(pipeline.clone(), stage.clone()))
            }
            _ => Err("give --org, --pipeline P, or --pipeline P --stage S".into()),
        }
    }
}

/// The layers at and below `scope`, lowest first: what a layer is checked against.
fn chain_to(scope: &Scope) -> Vec<Scope> {
    match scope {
        Scope::Org => vec![Scope::Org],
        Scope::Pipeline(pipeline) => vec![Scope::Org, Scope::Pipeline(pipeline.clone())],
        Scope::Stage(pipeline, stage) => Scope::chain(pipeline, stage).to_vec(),
    }
}

#[derive(Debug, Args)]
pub struct PutArgs {
    /// The layer's document (JSON): policy sections, and `forbid_lowering`.
    file: String,
    #[command(flatten)]
    scope: ScopeArgs,
    /// Check it against the stored layers below it, and store nothing.
    #[arg(long)]
    dry_run: bool,
    #[command(flatten)]
    table: TableArgs,
    /// Print one JSON value instead of a sentence.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct GetArgs {
    #[command(flatten)]
    scope: ScopeArgs,
    /// That version instead of the current one.
    #[arg(long)]
    version: Option<i64>,
    #[command(flatten)]
    table: TableArgs,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// One JSON array instead of a table.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    table: TableArgs,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    #[command(flatten)]
    scope: ScopeArgs,
    /// One JSON array instead of a table.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    table: TableArgs,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    #[command(flatten)]
    scope: ScopeArgs,
    /// The older version [default: the one before --to].
    #[arg(long)]
    from: Option<i64>,
    /// The newer version [default: the current one].
    #[arg(long)]
    to: Option<i64>,
    /// Compare this file against the current version instead.
    #[arg(long, conflicts_with_all = ["from", "to"])]
    file: Option<String>,
    #[command(flatten)]
    table: TableArgs,
    /// Print one JSON value instead of a sentence.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    #[command(flatten)]
    at: crate::aws::StageArgs,
    /// One JSON object: the effective policy, its layers, and where each field came from.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    table: TableArgs,
}

fn load(file: &str) -> Result<LayerDoc, crate::error::CliError> {
    let text = std::fs::read_to_string(file).map_err(|error| format!("{file}: {error}"))?;
    LayerDoc::from_json(&text).map_err(|error| format!("{file}: {error}").into())
}

/// Stores `FILE` as the next version of a layer, if the layers below it (as stored now) and
/// it make a valid policy that lowers nothing forbidden.
pub async fn put(args: &PutArgs, aws: &AwsArgs) -> Result<String, crate::error::CliError> {
    let scope = args.scope.scope()?;
    let doc = load(&args.file)?;
    let store = store(aws, &args.table).await?;
    let chain = chain_to(&scope);
    let mut stack = store.current(&chain).await?;
    let read = match stack.last() {
        Some(layer) if layer.scope == scope => stack.pop().map_or(0, |layer| layer.version),
        _ => 0,
    };
    // The versions checked against, which the write is conditioned on too.
    let below: Vec<(Scope, i64)> = chain[..chain.len() - 1]
        .iter()
        .map(|lower| {
            let version = stack
                .iter()
                .find(|layer| &layer.scope == lower)
                .map_or(0, |layer| layer.version);
            (lower.clone(), version)
        })
        .collect();
    let now = Timestamp::now();
    let by = caller(aws).await?;
    stack.push(StoredLayer {
        scope: scope.clone(),
        version: read + 1,
        updated_at: now,
        updated_by: by.clone(),
        doc: doc.clone(),
    });
    layers::merge_checked(&stack).map_err(|error| format!("{}: refused: {error}", args.file))?;
    if args.dry_run {
        return Ok(format!(
            "{}: would be stored as the {} policy version {} (--dry-run: nothing stored)",
            args.file,
            scope.label(),
            read + 1
        ));
    }
    let version = store.put(&scope, &doc, read, &below, &by, now).await?;
    if args.json {
        return Ok(json!({"layer": scope.label(), "version": version, "previous": read, "by": by}).to_string());
    }
    Ok(match read {
        0 => format!("stored the {} policy as version {version}", scope.label()),
        _ => format!(
            "stored the {} policy as version {version} (was {read}); the next decision uses it",
            scope.label()
        ),
    })
}

async fn version_of(
    store: &handsoff::ports::store::DynamoStore,
    scope: &Scope,
    version: Option<i64>,
) -> Result<StoredLayer, crate::error::CliError> {
    let found = match version {
        None => store.current(std::slice::from_ref(scope)).await?.pop(),
        Some(version) => store
            .history(scope)
            .await?
            .into_iter()
            .find(|layer| layer.version == version),
    };
    found.ok_or_else(|| match version {
        None => crate::error::CliError::NotFound(format!("no {} policy is stored", scope.label())),
        Some(version) => {
            crate::error::CliError::NotFound(format!("the {} policy has no version {version}", scope.label()))
        }
    })
}

/// Prints a layer's document, ready to edit and put back.
pub async fn get(args: &GetArgs, aws: &AwsArgs) -> Result<String, crate::error::CliError> {
    let scope = args.scope.scope()?;
    let store = store(aws, &args.table).await?;
    let layer = version_of(&store, &scope, args.version).await?;
    Ok(pretty(&layer.doc.to_value()))
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(&handsoff::json::sorted(value)).unwrap_or_default()
}

fn row(layer: &StoredLayer) -> Value {
    json!({
        "layer": layer.scope.label(),
        "version": layer.version,
        "updated_at": layer.updated_at.to_string(),
        "updated_by": layer.updated_by,
    })
}

fn table_of(layers: &[StoredLayer]) -> String {
    let mut lines = vec![format!("{:<36} {:>7} {:<22} UPDATED BY", "LAYER", "VERSION", "UPDATED")];
    for layer in layers {
        lines.push(format!(
            "{:<36} {:>7} {:<22} {}",
            layer.scope.label(),
            layer.version,
            layer.updated_at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
            layer.updated_by
        ));
    }
    lines.join("\n")
}

pub async fn list(args: &ListArgs, aws: &AwsArgs) -> Result<String, crate::error::CliError> {
    let store = store(aws, &args.table).await?;
    let layers = store.stored_policies().await?;
    if args.json {
        return Ok(Value::Array(layers.iter().map(row).collect()).to_string());
    }
    if layers.is_empty() {
        return Ok("no stored policies: gates use the policies their calls carry".to_string());
    }
    Ok(table_of(&layers))
}

pub async fn history(args: &HistoryArgs, aws: &AwsArgs) -> Result<String, crate::error::CliError> {
    let scope = args.scope.scope()?;
    let store = store(aws, &args.table).await?;
    let layers = store.history(&scope).await?;
    if args.json {
        return Ok(Value::Array(layers.iter().map(row).collect()).to_string());
    }
    if layers.is_empty() {
        return Ok(format!("no {} policy has been stored", scope.label()));
    }
    Ok(table_of(&layers))
}

/// What changes between two versions, or from the current version to a file.
pub async fn diff(args: &DiffArgs, aws: &AwsArgs) -> Result<String, crate::error::CliError> {
    let scope = args.scope.scope()?;
    let store = store(aws, &args.table).await?;
    let (before, after, title) = match &args.file {
        Some(file) => {
            let current = version_of(&store, &scope, None).await?;
            let doc = load(file)?;
            (
                current.doc.to_value(),
                doc.to_value(),
                format!("{} v{} -> {file}", scope.label(), current.version),
            )
        }
        None => {
            let to = version_of(&store, &scope, args.to).await?;
            let from_version = args.from.unwrap_or(to.version - 1);
            let from = version_of(&store, &scope, Some(from_version)).await?;
            (
                from.doc.to_value(),
                to.doc.to_value(),
                format!("{} v{} -> v{}", scope.label(), from.version, to.version),
            )
        }
    };
    let lines = layers::diff(&before, &after);
    if args.json {
        return Ok(json!({"compared": title, "changes": lines}).to_string());
    }
    if lines.is_empty() {
        return Ok(format!("{title}: no change"));
    }
    Ok(format!("{title}\n{}", lines.join("\n")))
}

/// The effective policy of a stage, and which layer each field came from.
pub async fn explain(args: &ExplainArgs, aws: &AwsArgs) -> Result<String, crate::error::CliError> {
    args.at.checked()?;
    let store = store(aws, &args.table).await?;
    let stack = store.current(&Scope::chain(&args.at.pipeline, &args.at.stage)).await?;
    let effective = layers::effective(&args.at.pipeline, &args.at.stage, &stack).map_err(|error| {
        format!(
            "the stored policy of {}/{} is refused: {error}",
            args.at.pipeline, args.at.stage
        )
    })?;
    let origins = layers::explain(&effective.value, &stack);
    let forbidden = layers::forbidden(&stack);
    if args.json {
        return Ok(json!({
            "pipeline": args.at.pipeline,
            "stage": args.at.stage,
            "policy": handsoff::json::sorted(&effective.value),
            "layers": effective.source.layers,
            "fields": origins.iter().map(|(path, value, from)| json!({"field": path, "value": value, "from": from})).collect::<Vec<_>>(),
            "forbid_lowering": forbidden.iter().map(|(path, by)| json!({"field": path, "by": by})).collect::<Vec<_>>(),
        })
        .to_string());
    }
    let width = origins
        .iter()
        .map(|(path, value, _)| path.len() + value.to_string().len() + 3)
        .max()
        .unwrap_or(0)
        .min(80);
    let mut lines = vec![format!(
        "effective policy of {}/{}: {}",
        args.at.pipeline,
        args.at.stage,
        effective.source.summary()
    )];
    for (path, value, from) in &origins {
        let field = format!("{path} = {value}");
        lines.push(format!("  {field:<width$}  from {from}"));
    }
    for (path, by) in &forbidden {
        lines.push(format!("  {path} may not be lowered (forbid_lowering in {by})"));
    }
    Ok(lines.join("\n"))
}
