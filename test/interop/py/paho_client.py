#!/usr/bin/python3
"""Interop driver: Eclipse paho-mqtt (Debian python3-paho-mqtt) against an MQTT broker.

Run by test/interop/paho.spec.ts as /usr/bin/python3 paho_client.py --scenario S --host H --port P --protocol 4|5 --base TOPIC.
Prints exactly one JSON object on stdout: what paho saw (CONNACK, SUBACK, received messages with their properties).
The mocha spec makes the assertions. Exit code 0 when the scenario ran to the end, 3 on a timeout or an error
(the JSON then carries "error").

Works with paho-mqtt 1.6 (callbacks without a version argument) and 2.x (CallbackAPIVersion.VERSION2).
"""
import argparse
import json
import sys
import threading
import time

import paho.mqtt
import paho.mqtt.client as mqtt

try:  # MQTT 5 support (paho >= 1.5)
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties
except ImportError:  # pragma: no cover - very old paho
    PacketTypes = None
    Properties = None

PAHO2 = hasattr(mqtt, "CallbackAPIVersion")
TIMEOUT = 8.0


class ScenarioError(Exception):
    pass


def code_of(rc):
    """paho gives ints (1.6, MQTT 3.1.1) or ReasonCode objects (MQTT 5, and paho 2.x always)."""
    if hasattr(rc, "value"):
        return int(rc.value)
    return int(rc)


def props_to_json(props):
    if props is None:
        return None
    out = {}
    for name in ("ContentType", "ResponseTopic", "MessageExpiryInterval", "PayloadFormatIndicator",
                 "SubscriptionIdentifier", "AssignedClientIdentifier", "MaximumQoS", "RetainAvailable",
                 "SharedSubscriptionAvailable", "TopicAliasMaximum", "ReceiveMaximum"):
        if hasattr(props, name):
            out[name] = getattr(props, name)
    if hasattr(props, "CorrelationData"):
        out["CorrelationDataHex"] = bytes(props.CorrelationData).hex()
    if hasattr(props, "UserProperty"):
        out["UserProperty"] = [[k, v] for (k, v) in props.UserProperty]
    return out


class Conn:
    """One paho client with its network loop in a thread and everything it saw recorded."""

    def __init__(self, args, client_id, clean=True, session_expiry=None):
        self.args = args
        self.v5 = args.protocol == 5
        proto = mqtt.MQTTv5 if self.v5 else mqtt.MQTTv311
        kwargs = {"client_id": client_id, "protocol": proto}
        if not self.v5:
            kwargs["clean_session"] = clean
        if PAHO2:
            self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, **kwargs)
        else:
            self.client = mqtt.Client(**kwargs)
        self.clean = clean
        self.session_expiry = session_expiry
        self.lock = threading.Lock()
        self.connack = None
        self.connected = threading.Event()
        self.subacks = {}
        self.messages = []
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message

    # signatures: 1.6 v3 (c, u, flags, rc); 1.6 v5 and 2.x (c, u, flags, rc, properties)
    def _on_connect(self, client, userdata, flags, rc, properties=None):
        if isinstance(flags, dict):
            sp = bool(flags.get("session present", 0))
        else:
            sp = bool(getattr(flags, "session_present", False))
        self.connack = {"rc": code_of(rc), "session_present": sp, "properties": props_to_json(properties)}
        self.connected.set()

    # signatures: 1.6 v3 (c, u, mid, granted_qos); 1.6 v5 and 2.x (c, u, mid, reason_codes, properties)
    def _on_subscribe(self, client, userdata, mid, granted, properties=None):
        with self.lock:
            self.subacks[mid] = [code_of(g) for g in granted]

    def _on_message(self, client, userdata, msg):
        m = {
            "topic": msg.topic,
            "payload_hex": bytes(msg.payload).hex(),
            "qos": msg.qos,
            "retain": bool(msg.retain),
            "dup": bool(msg.dup),
        }
        if self.v5:
            m["properties"] = props_to_json(getattr(msg, "properties", None))
        with self.lock:
            self.messages.append(m)

    def connect(self):
        if self.v5:
            props = None
            if self.session_expiry is not None:
                props = Properties(PacketTypes.CONNECT)
                props.SessionExpiryInterval = self.session_expiry
            self.client.connect(self.args.host, self.args.port, keepalive=30, clean_start=self.clean, properties=props)
        else:
            self.client.connect(self.args.host, self.args.port, keepalive=30)
        self.client.loop_start()
        if not self.connected.wait(TIMEOUT):
            raise ScenarioError("no CONNACK")
        return self.connack

    def subscribe(self, topic, qos, sub_id=None):
        props = None
        if sub_id is not None:
            props = Properties(PacketTypes.SUBSCRIBE)
            props.SubscriptionIdentifier = sub_id
        if self.v5:
            rc, mid = self.client.subscribe(topic, qos=qos, properties=props)
        else:
            rc, mid = self.client.subscribe(topic, qos)
        if code_of(rc) != 0:
            raise ScenarioError("subscribe not sent: rc=%s" % rc)
        wait_until(lambda: mid in self.subacks, "SUBACK for %s" % topic)
        return self.subacks[mid]

    def publish(self, topic, payload, qos, retain=False, props=None):
        info = self.client.publish(topic, payload, qos=qos, retain=retain, properties=props) if self.v5 \
            else self.client.publish(topic, payload, qos=qos, retain=retain)
        if code_of(info.rc) != 0:
            raise ScenarioError("publish not sent: rc=%s" % info.rc)
        wait_until(info.is_published, "acknowledgement of publish to %s (QoS %d)" % (topic, qos))

    def received(self):
        with self.lock:
            return list(self.messages)

    def close(self):
        try:
            self.client.disconnect()
        finally:
            self.client.loop_stop()


def wait_until(cond, what, timeout=TIMEOUT):
    end = time.time() + timeout
    while not cond():
        if time.time() > end:
            raise ScenarioError("timed out waiting for " + what)
        time.sleep(0.01)


def scenario_connect(args, out, conns):
    c = Conn(args, "paho-c-%d" % args.nonce)
    conns.append(c)
    out["connack"] = c.connect()
    if args.protocol == 5:
        # [MQTT-3.1.3-6] [MQTT-3.2.2-16]: an empty client id gets an Assigned Client Identifier
        anon = Conn(args, "")
        conns.append(anon)
        out["connack_empty_id"] = anon.connect()


def scenario_roundtrip(args, out, conns):
    sub = Conn(args, "paho-s-%d" % args.nonce)
    pub = Conn(args, "paho-p-%d" % args.nonce)
    conns.extend([sub, pub])
    sub.connect()
    pub.connect()
    out["granted"] = sub.subscribe(args.base, 2)
    sent = []
    for qos in (1, 2):
        for i in range(5):
            payload = ("qos%d-%d" % (qos, i)).encode()
            if i == 4:
                payload = bytes(range(256)) + payload  # every byte value
            pub.publish(args.base, payload, qos)
            sent.append({"payload_hex": payload.hex(), "qos": qos})
    out["sent"] = sent
    wait_until(lambda: len(sub.received()) >= len(sent), "%d messages" % len(sent))
    time.sleep(0.3)  # anything extra would show up now
    out["received"] = sub.received()


def scenario_retained(args, out, conns):
    pub = Conn(args, "paho-p-%d" % args.nonce)
    conns.append(pub)
    pub.connect()
    pub.publish(args.base + "/kept", b"kept value", 1, retain=True)
    pub.publish(args.base + "/gone", b"to be deleted", 1, retain=True)

    first = Conn(args, "paho-s1-%d" % args.nonce)
    conns.append(first)
    first.connect()
    first.subscribe(args.base + "/#", 1)
    wait_until(lambda: len(first.received()) >= 2, "2 retained messages")
    pub.publish(args.base + "/gone", b"", 1, retain=True)  # delete
    wait_until(lambda: len(first.received()) >= 3, "the empty publish forwarded live")
    out["first"] = first.received()

    second = Conn(args, "paho-s2-%d" % args.nonce)
    conns.append(second)
    second.connect()
    second.subscribe(args.base + "/#", 1)
    wait_until(lambda: len(second.received()) >= 1, "the kept retained message")
    time.sleep(0.4)
    pub.publish(args.base + "/live", b"live", 1, retain=False)
    wait_until(lambda: any(m["topic"] == args.base + "/live" for m in second.received()), "the live message")
    out["second"] = second.received()


def scenario_props(args, out, conns):
    sub = Conn(args, "paho-s-%d" % args.nonce)
    pub = Conn(args, "paho-p-%d" % args.nonce)
    conns.extend([sub, pub])
    out["connack"] = sub.connect()
    pub.connect()
    out["granted"] = sub.subscribe(args.base, 1, sub_id=77)
    props = Properties(PacketTypes.PUBLISH)
    props.UserProperty = ("a", "1")
    props.UserProperty = ("b", "2")
    props.UserProperty = ("a", "3")
    props.ContentType = "application/json"
    props.ResponseTopic = args.base + "/reply"
    props.CorrelationData = b"\x00\x01corr\xff"
    props.MessageExpiryInterval = 300
    props.PayloadFormatIndicator = 1
    pub.publish(args.base, b'{"v":1}', 1, props=props)
    wait_until(lambda: len(sub.received()) >= 1, "the message with properties")
    time.sleep(0.2)
    out["received"] = sub.received()


def scenario_session(args, out, conns):
    cid = "paho-sess-%d" % args.nonce
    first = Conn(args, cid, clean=False, session_expiry=300)
    conns.append(first)
    out["connack1"] = first.connect()
    first.subscribe(args.base, 1)
    first.close()
    conns.remove(first)
    time.sleep(0.3)  # let the broker finish the DISCONNECT before publishing
    pub = Conn(args, "paho-p-%d" % args.nonce)
    conns.append(pub)
    pub.connect()
    for i in range(3):
        pub.publish(args.base, ("offline-%d" % i).encode(), 1)
    second = Conn(args, cid, clean=False, session_expiry=300)
    conns.append(second)
    out["connack2"] = second.connect()
    wait_until(lambda: len(second.received()) >= 3, "3 queued messages")
    time.sleep(0.3)
    out["received"] = second.received()


SCENARIOS = {
    "connect": scenario_connect,
    "roundtrip": scenario_roundtrip,
    "retained": scenario_retained,
    "props": scenario_props,
    "session": scenario_session,
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--scenario", required=True, choices=sorted(SCENARIOS))
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--protocol", type=int, choices=(4, 5), required=True)
    ap.add_argument("--base", required=True)
    ap.add_argument("--nonce", type=int, default=0)
    args = ap.parse_args()
    out = {"paho_version": paho.mqtt.__version__, "paho2_api": PAHO2, "scenario": args.scenario, "protocol": args.protocol}
    conns = []
    code = 0
    try:
        SCENARIOS[args.scenario](args, out, conns)
    except Exception as e:  # report, do not hang
        out["error"] = "%s: %s" % (type(e).__name__, e)
        code = 3
    finally:
        for c in conns:
            try:
                c.close()
            except Exception:
                pass
    sys.stdout.write(json.dumps(out) + "\n")
    sys.stdout.flush()
    return code


if __name__ == "__main__":
    sys.exit(main())
