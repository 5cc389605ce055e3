//! What handsoff published: an EventBridge rule for `source: handsoff` routed to an SQS queue on
//! moto, read back in order. (moto serves both; a rule is how EventBridge shows what it got.)

use serde_json::Value;

pub struct EventTap {
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
}

/// One event as EventBridge delivered it: its `detail-type` and `detail`.
#[derive(Debug, Clone, PartialEq)]
pub struct Seen {
    pub detail_type: String,
    pub detail: Value,
}

impl EventTap {
    /// A queue and a rule on the default bus of the configuration's region.
    pub async fn start(config: &aws_config::SdkConfig, name: &str) -> Result<EventTap, String> {
        let sqs = aws_sdk_sqs::Client::new(config);
        let queue_url = sqs
            .create_queue()
            .queue_name(name)
            .send()
            .await
            .map_err(|error| format!("CreateQueue: {error:?}"))?
            .queue_url()
            .unwrap_or_default()
            .to_string();
        let region = config.region().map(|region| region.to_string()).unwrap_or_default();
        let events = aws_sdk_eventbridge::Client::new(config);
        events
            .put_rule()
            .name(name)
            .event_pattern(r#"{"source": ["handsoff"]}"#)
            .send()
            .await
            .map_err(|error| format!("PutRule: {error:?}"))?;
        events
            .put_targets()
            .rule(name)
            .targets(
                aws_sdk_eventbridge::types::Target::builder()
                    .id("tap")
                    .arn(format!("arn:aws:sqs:{region}:123456789012:{name}"))
                    .build()
                    .map_err(|error| error.to_string())?,
            )
            .send()
            .await
            .map_err(|error| format!("PutTargets: {error:?}"))?;
        Ok(EventTap { sqs, queue_url })
    }

    /// Everything published since the last call, oldest first.
    pub async fn drain(&self) -> Result<Vec<Seen>, String> {
        let mut seen = Vec::new();
        loop {
            let received = self
                .sqs
                .receive_message()
                .queue_url(&self.queue_url)
                .max_number_of_messages(10)
                .send()
                .await
                .map_err(|error| format!("ReceiveMessage: {error:?}"))?;
            let messages = received.messages();
            if messages.is_empty() {
                return Ok(seen);
            }
            for message in messages {
                let body: Value = serde_json::from_str(message.body().unwrap_or("{}")).unwrap_or_default();
                seen.push(Seen {
                    detail_type: body["detail-type"].as_str().unwrap_or_default().to_string(),
                    detail: body["detail"].clone(),
                });
                if let Some(handle) = message.receipt_handle() {
                    let _ = self
                        .sqs
                        .delete_message()
                        .queue_url(&self.queue_url)
                        .receipt_handle(handle)
                        .send()
                        .await;
                }
            }
        }
    }

    /// How many of what was published since the last call had each detail-type.
    pub async fn count(&self) -> Result<std::collections::BTreeMap<String, usize>, String> {
        let mut counts = std::collections::BTreeMap::new();
        for seen in self.drain().await? {
            *counts.entry(seen.detail_type).or_insert(0) += 1;
        }
        Ok(counts)
    }
}
