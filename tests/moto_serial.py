"""moto_server, one request at a time.

DynamoDB evaluates a conditional write atomically; moto checks the condition and writes in
separate steps, so under concurrent requests two "attribute_not_exists" writes can both pass.
The exactly-once tests need DynamoDB's guarantee, so this runs moto's own WSGI app (same request
handler, same threads per connection) behind one lock.

Usage: python moto_serial.py -H 127.0.0.1 -p PORT
"""
import argparse
import threading

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import run_simple


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, required=True)
    args = parser.parse_args()
    app = DomainDispatcherApplication(create_backend_app)
    lock = threading.Lock()

    def serial(environ, start_response):
        with lock:
            return list(app(environ, start_response))

    run_simple(args.host, args.port, serial, threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
