#!/usr/bin/python3
"""Listener interop driver: Eclipse paho-mqtt (Debian python3-paho-mqtt) over WebSocket.

Run by test/listeners/websocket.spec.ts as
  /usr/bin/python3 paho_ws.py --host H --port P --path /mqtt --protocol 4|5 --topic T [--cafile CA]
Connects with transport="websockets" (wss when --cafile is given), subscribes to T at QoS 1,
publishes one QoS 1 message to T and waits for it. Prints one JSON object: the CONNACK code,
the granted QoS and the message received. Exit code 0 when it ran to the end, 3 otherwise.
"""
import argparse
import json
import ssl
import sys
import threading

import paho.mqtt
import paho.mqtt.client as mqtt

TIMEOUT = 10.0


def code_of(rc):
    if hasattr(rc, "value"):
        return int(rc.value)
    if isinstance(rc, (list, tuple)):
        return [code_of(x) for x in rc]
    return int(rc)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--path", default="/")
    ap.add_argument("--protocol", type=int, default=4)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--cafile")
    args = ap.parse_args()

    out = {"paho_version": paho.mqtt.__version__}
    proto = mqtt.MQTTv5 if args.protocol == 5 else mqtt.MQTTv311
    kwargs = {"client_id": "paho-ws-%d" % args.port, "protocol": proto, "transport": "websockets"}
    if hasattr(mqtt, "CallbackAPIVersion"):
        kwargs["callback_api_version"] = mqtt.CallbackAPIVersion.VERSION1
    client = mqtt.Client(**kwargs)
    client.ws_set_options(path=args.path)
    if args.cafile:
        client.tls_set(ca_certs=args.cafile, cert_reqs=ssl.CERT_REQUIRED)

    connected = threading.Event()
    subscribed = threading.Event()
    received = threading.Event()

    def on_connect(c, userdata, flags, rc, properties=None):
        out["connack"] = code_of(rc)
        connected.set()

    def on_subscribe(c, userdata, mid, granted, properties=None):
        out["granted"] = code_of(granted)
        subscribed.set()

    def on_message(c, userdata, msg):
        out["received"] = {"topic": msg.topic, "payload": msg.payload.decode(), "qos": msg.qos}
        received.set()

    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    client.on_message = on_message
    try:
        client.connect(args.host, args.port, keepalive=30)
        client.loop_start()
        if not connected.wait(TIMEOUT):
            raise RuntimeError("no CONNACK")
        client.subscribe(args.topic, qos=1)
        if not subscribed.wait(TIMEOUT):
            raise RuntimeError("no SUBACK")
        client.publish(args.topic, "hello over websockets", qos=1)
        if not received.wait(TIMEOUT):
            raise RuntimeError("message not received")
        client.disconnect()
        client.loop_stop()
    except Exception as e:  # report, the spec asserts
        out["error"] = "%s: %s" % (type(e).__name__, e)
        print(json.dumps(out))
        sys.stdout.flush()
        sys.exit(3)
    print(json.dumps(out))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
