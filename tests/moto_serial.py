"""moto_server, one request at a time, with CloudWatch's rpc-v2-cbor protocol bridged.

DynamoDB evaluates a conditional write atomically; moto checks the condition and writes in
separate steps, so under concurrent requests two "attribute_not_exists" writes can both pass.
The exactly-once tests need DynamoDB's guarantee, so this runs moto's own WSGI app (same request
handler, same threads per connection) behind one lock.

aws-sdk-cloudwatch speaks only rpc-v2-cbor (POST /service/GraniteServiceVersion20100801/
operation/NAME, a CBOR body); moto_server answers CloudWatch in its JSON and query protocols
only. The bridge decodes the CBOR request, hands moto the same operation in the JSON protocol,
and encodes moto's answer (or error) back to CBOR with botocore's own CBOR codec and service
model, so timestamps and numbers keep the types the SDK expects. moto has no
DescribeAlarmHistory at all: the bridge answers it from the state changes moto records on each
alarm (SetAlarmState), the way CloudWatch reports them (StateUpdate items with old and new state).

Usage: python moto_serial.py -H 127.0.0.1 -p PORT
"""
import argparse
import datetime
import io
import json
import re
import threading

import botocore.session
from botocore.parsers import RpcV2CBORParser
from botocore.serialize import RpcV2CBORSerializer
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import run_simple

CBOR_PATH = re.compile(r"^/service/GraniteServiceVersion20100801/operation/(\w+)$")


class CloudWatchCborBridge:
    def __init__(self, app):
        self.app = app
        self.model = botocore.session.get_session().get_service_model("cloudwatch")
        self.parser = RpcV2CBORParser()
        self.serializer = RpcV2CBORSerializer()

    def __call__(self, environ, start_response):
        match = CBOR_PATH.match(environ.get("PATH_INFO", ""))
        if not match:
            return self.app(environ, start_response)
        operation = match.group(1)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        request = self.parser.parse_data_item(self.parser.get_peekable_stream_from_bytes(body)) if body else {}
        if operation == "DescribeAlarmHistory":
            return self.respond(start_response, "200 OK", operation, alarm_history(request, _region(environ)))
        payload = json.dumps(request, default=_epoch_seconds).encode()
        inner = dict(environ)
        inner.update({
            "PATH_INFO": "/",
            "CONTENT_TYPE": "application/x-amz-json-1.0",
            "HTTP_X_AMZ_TARGET": f"GraniteServiceVersion20100801.{operation}",
            "CONTENT_LENGTH": str(len(payload)),
            "wsgi.input": io.BytesIO(payload),
        })
        inner.pop("HTTP_SMITHY_PROTOCOL", None)
        answered = {}

        def capture(status, headers, exc_info=None):
            answered["status"] = status
            answered["headers"] = headers
            return lambda data: None

        chunks = self.app(inner, capture)
        raw = b"".join(chunks)
        status = answered["status"]
        code = int(status.split()[0])
        try:
            document = json.loads(raw) if raw.strip() else {}
        except ValueError:
            document = {}
        if code < 300:
            return self.respond(start_response, status, operation, document)
        encoded = bytearray()
        error = {
            "__type": document.get("__type", str(code)),
            "message": document.get("message", document.get("Message", raw.decode("utf-8", "replace"))),
        }
        encoded.extend(bytes([0xA0 | len(error)]))
        for key, value in error.items():
            self.serializer._serialize_type_string(encoded, key, None, None)
            self.serializer._serialize_type_string(encoded, str(value), None, None)
        return self.send(start_response, status, encoded)

    def respond(self, start_response, status, operation, document):
        encoded = bytearray()
        shape = self.model.operation_model(operation).output_shape
        if shape is not None:
            self.serializer._serialize_data_item(encoded, document, shape)
        else:
            encoded.extend(b"\xa0")  # an empty map
        return self.send(start_response, status, encoded)

    @staticmethod
    def send(start_response, status, encoded):
        start_response(status, [
            ("Content-Type", "application/cbor"),
            ("smithy-protocol", "rpc-v2-cbor"),
            ("Content-Length", str(len(encoded))),
        ])
        return [bytes(encoded)]


def _region(environ):
    # Credential=KEY/DATE/REGION/SERVICE/aws4_request
    try:
        return environ.get("HTTP_AUTHORIZATION", "").split("Credential=")[1].split("/")[2]
    except IndexError:
        return "us-east-1"


def alarm_history(request, region):
    """StateUpdate items, newest first, from moto's record of each alarm's earlier states."""
    from moto.cloudwatch.models import cloudwatch_backends
    from moto.core import DEFAULT_ACCOUNT_ID

    backend = cloudwatch_backends[DEFAULT_ACCOUNT_ID][region]
    start, end = request.get("StartDate"), request.get("EndDate")
    wanted = request.get("AlarmName")
    items = []
    for alarm in list(backend.alarms.values()):
        if wanted and alarm.name != wanted:
            continue
        # Each history entry is a state the alarm left: (type, reason, data, value, since).
        states = [(entry[3], entry[1], entry[4]) for entry in alarm.history if entry[0] == "StateUpdate"]
        states.append((alarm.state_value, alarm.state_reason, alarm.state_updated_timestamp))
        for (old, old_reason, _), (new, new_reason, at) in zip(states, states[1:]):
            at = at if at.tzinfo else at.replace(tzinfo=datetime.timezone.utc)
            if (start and at < start) or (end and at > end):
                continue
            items.append({
                "AlarmName": alarm.name,
                "AlarmType": "MetricAlarm",
                "Timestamp": at,
                "HistoryItemType": "StateUpdate",
                "HistorySummary": f"Alarm updated from {old} to {new}",
                "HistoryData": json.dumps({
                    "version": "1.0",
                    "oldState": {"stateValue": old, "stateReason": old_reason},
                    "newState": {"stateValue": new, "stateReason": new_reason},
                }),
            })
    items.sort(key=lambda item: item["Timestamp"], reverse=True)
    return {"AlarmHistoryItems": items}


def _epoch_seconds(value):
    if isinstance(value, datetime.datetime):
        return value.timestamp()
    if isinstance(value, (bytes, bytearray)):
        return value.decode("latin-1")
    raise TypeError(f"cannot forward {type(value).__name__} to moto")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, required=True)
    args = parser.parse_args()
    app = CloudWatchCborBridge(DomainDispatcherApplication(create_backend_app))
    lock = threading.Lock()

    def serial(environ, start_response):
        with lock:
            return list(app(environ, start_response))

    run_simple(args.host, args.port, serial, threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
