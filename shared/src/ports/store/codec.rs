//! The one item codec: every record's item is a serde struct, written and read by serde_dynamo,
//! so a record's layout is its type. Reading fails closed: a missing attribute, a wrong type or
//! an unparsable value is a malformed item naming the attribute, never a default.

use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use aws_sdk_dynamodb::types::AttributeValue;

use super::{Item, StoreError, malformed};
use crate::json::without_value;
use crate::ports::{PortError, PortErrorKind};

/// The item of `record`, ready for PutItem or a transaction.
pub(crate) fn to_item<T: Serialize>(record: &T) -> Result<Item, StoreError> {
    serde_dynamo::to_item(record).map_err(|error| {
        StoreError::Port(PortError {
            call: "dynamodb:PutItem".into(),
            kind: PortErrorKind::Rejected,
            message: format!("the item could not be encoded: {error}"),
        })
    })
}

/// One attribute's value, for an update expression.
pub(crate) fn to_value<T: Serialize>(value: &T) -> Result<AttributeValue, StoreError> {
    serde_dynamo::to_attribute_value(value).map_err(|error| {
        StoreError::Port(PortError {
            call: "dynamodb:UpdateItem".into(),
            kind: PortErrorKind::Rejected,
            message: format!("the value could not be encoded: {error}"),
        })
    })
}

/// Why an item could not be read: the attribute, and what is wrong with it (never its value: a
/// record may hold what logs must not).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub(crate) struct Unreadable(String);

/// Reads `item` as a `T`, or says which attribute is wrong.
pub(crate) fn decode<T: DeserializeOwned>(item: &Item) -> Result<T, Unreadable> {
    // An attribute type newer than this SDK cannot be read, and must not crash the reader.
    if let Some((name, _)) = item.iter().find(|(_, value)| holds_unknown(value)) {
        return Err(Unreadable(format!(
            "`{name}`: an attribute type this reader does not know"
        )));
    }
    let item: serde_dynamo::Item = item.clone().into();
    let deserializer = serde_dynamo::Deserializer::from_attribute_value(serde_dynamo::AttributeValue::M(item.into()));
    serde_path_to_error::deserialize(deserializer).map_err(|error| {
        let why = safe_reason(&error.inner().to_string());
        match error.path().to_string().as_str() {
            "." => Unreadable(why),
            path => Unreadable(format!("`{path}`: {why}")),
        }
    })
}

fn holds_unknown(value: &AttributeValue) -> bool {
    match value {
        AttributeValue::L(values) => values.iter().any(holds_unknown),
        AttributeValue::M(map) => map.values().any(holds_unknown),
        other => other.is_unknown(),
    }
}

/// Why a value could not be read, in words that never quote it: serde's own messages for a
/// wrong type or a missing field (their values taken out), a fixed phrase for anything else
/// (a parser's message may echo what it could not parse).
fn safe_reason(message: &str) -> String {
    let known = [
        "invalid type: ",
        "invalid value: ",
        "invalid length ",
        "missing field `",
    ];
    if known.iter().any(|lead| message.starts_with(lead)) {
        without_value(message)
    } else if message.starts_with("not the expected JSON") || message.starts_with("not epoch seconds") {
        message.to_string()
    } else {
        "a value that does not parse as this attribute's type".to_string()
    }
}

/// For an optional attribute (with `#[serde(default)]`): absent reads as none, but present it
/// must hold the value; a NULL is a malformed item, never "not set" (a NULL `revoked_at` must
/// not read as "not revoked").
pub(crate) fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(deserializer: D) -> Result<Option<T>, D::Error> {
    T::deserialize(deserializer).map(Some)
}

/// Reads `item` as a `T`; anything unreadable is a malformed item naming the attribute.
pub(crate) fn from_item<T: DeserializeOwned>(item: &Item, call: &str) -> Result<T, StoreError> {
    decode(item).map_err(|why| malformed(call, &why.to_string()))
}

/// Only a record's key, for reads that list which records there are.
#[derive(Deserialize)]
pub(crate) struct RecordKey {
    pub pk: String,
    pub sk: String,
}

/// An attribute holding a JSON document as text (an audit record, a block marker, a freeze).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct JsonText<T>(pub T);

impl<T: Serialize> Serialize for JsonText<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let text = serde_json::to_string(&self.0).map_err(serde::ser::Error::custom)?;
        serializer.serialize_str(&text)
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for JsonText<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        serde_json::from_str(&text)
            .map(JsonText)
            .map_err(|error| D::Error::custom(format!("not the expected JSON ({})", without_value(&error.to_string()))))
    }
}

/// A time kept as epoch seconds (a number), as DynamoDB's TTL reads it.
pub(crate) mod epoch_seconds {
    use super::*;
    use jiff::Timestamp;

    pub(crate) fn serialize<S: Serializer>(at: &Timestamp, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_i64(at.as_second())
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Timestamp, D::Error> {
        let seconds = i64::deserialize(deserializer)?;
        Timestamp::from_second(seconds).map_err(|_| D::Error::custom("not epoch seconds in range"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::Timestamp;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Sample {
        pk: String,
        #[serde(with = "epoch_seconds")]
        expires_at: Timestamp,
        body: JsonText<Vec<u32>>,
        #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    }

    fn sample() -> Sample {
        Sample {
            pk: "A#b".into(),
            expires_at: Timestamp::from_second(1_800_000_000).unwrap(),
            body: JsonText(vec![1, 2]),
            note: None,
        }
    }

    #[test]
    fn a_record_is_written_as_the_attributes_its_type_names_and_read_back() {
        let item = to_item(&sample()).unwrap();
        assert_eq!(item["pk"], AttributeValue::S("A#b".into()));
        assert_eq!(item["expires_at"], AttributeValue::N("1800000000".into()));
        assert_eq!(item["body"], AttributeValue::S("[1,2]".into()));
        assert!(!item.contains_key("note"), "an absent option writes no attribute");
        assert_eq!(from_item::<Sample>(&item, "dynamodb:GetItem").unwrap(), sample());
    }

    #[test]
    fn an_unreadable_attribute_is_a_malformed_item_naming_it_without_its_value() {
        let good = to_item(&sample()).unwrap();
        for (field, value) in [
            ("pk", None),
            ("note", Some(AttributeValue::Null(true))),
            ("expires_at", Some(AttributeValue::N("1e999".into()))),
            ("expires_at", Some(AttributeValue::S("soon".into()))),
            ("body", Some(AttributeValue::S("{\"secret\": \"hunter2\"}".into()))),
            ("body", Some(AttributeValue::N("7".into()))),
        ] {
            let mut item = good.clone();
            match &value {
                Some(value) => item.insert(field.to_string(), value.clone()),
                None => item.remove(field),
            };
            let error = from_item::<Sample>(&item, "dynamodb:Query").unwrap_err().to_string();
            assert!(error.contains("malformed item"), "{field}: {error}");
            assert!(error.contains(&format!("`{field}`")), "{field}: {error}");
            assert!(!error.contains("hunter2"), "{field}: {error}");
            if let Some(AttributeValue::S(text) | AttributeValue::N(text)) = &value {
                assert!(!error.contains(text.as_str()), "{field}: {error}");
            }
        }
    }
}
