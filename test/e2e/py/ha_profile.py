#!/usr/bin/python3
"""Home Assistant's MQTT integration as a paho-mqtt client, for test/e2e/device-profiles.spec.ts.

Written from homeassistant/components/mqtt/client.py (MqttClientSetup, MQTT._async_mqtt_on_connect,
_async_queue_resubscribe, _async_perform_subscriptions, _async_resubscribe_and_publish_birth_message),
mqtt/discovery.py (subscriptions {prefix}/+/+/config and {prefix}/+/+/+/config at QoS 0), mqtt/const.py
(DEFAULT_BIRTH / DEFAULT_WILL: homeassistant/status online / offline, QoS 0, not retained; keepalive 60),
mqtt/abbreviations.py, and hatasmota (the Tasmota integration: tasmota/discovery/#, availability
tele/<t>/LWT, state stat/<t>/RESULT and tele/<t>/STATE, command cmnd/<t>/POWER<n>):
  - paho Client(client_id=base62(uuid4, 22), protocol=MQTTv5, reconnect_on_failure=False), will set;
  - on CONNACK, every tracked subscription (sorted by topic) goes out in ONE SUBSCRIBE; here those are the
    discovery wildcards, the Tasmota integration's tasmota/discovery/# and a YAML-configured Shelly switch
    (state and availability topics at QoS 1, as HA's Shelly MQTT examples configure it);
  - after the SUBACK and the discovery cooldown (5 s in HA; 0.3 s here) the birth message goes out;
  - each discovered entity subscribes its state and availability topics; new subscriptions are batched
    over SUBSCRIBE_COOLDOWN (0.1 s) into one SUBSCRIBE;
  - an automation turns on each discovered switch or light once it reports available (command QoS 0,
    not retained, as HA's entities publish by default);
  - on shutdown HA does not send DISCONNECT ("so the broker publishes the will"): "quit" on stdin ends
    the process without one.
Prints one JSON object per line on stdout: connack, subscribe, suback, message, publish.
Works with paho-mqtt 1.6 (Debian's python3-paho-mqtt) and 2.x.
"""
import argparse
import json
import os
import re
import sys
import threading
import uuid

import paho.mqtt.client as mqtt

PAHO2 = hasattr(mqtt, "CallbackAPIVersion")
OUT = threading.Lock()
ABBREVIATIONS = {
    "avty": "availability", "avty_t": "availability_topic", "cmd_t": "command_topic", "dev": "device",
    "o": "origin", "pl_avail": "payload_available", "pl_not_avail": "payload_not_available",
    "pl_on": "payload_on", "pl_off": "payload_off", "stat_t": "state_topic", "uniq_id": "unique_id",
    "val_tpl": "value_template", "t": "topic",
}


def emit(**event):
    with OUT:
        sys.stdout.write(json.dumps(event, sort_keys=True) + "\n")
        sys.stdout.flush()


def code(rc):
    return int(rc.value) if hasattr(rc, "value") else int(rc)


def expand(config):
    """mqtt/discovery.py: abbreviated keys, also inside availability entries; '~' is the base topic."""
    out = {ABBREVIATIONS.get(k, k): v for k, v in config.items()}
    if "availability" in out:
        out["availability"] = [{ABBREVIATIONS.get(k, k): v for k, v in a.items()} for a in out["availability"]]
    base = out.pop("~", None)
    if base is not None:
        for k, v in list(out.items()):
            if isinstance(v, str) and k.endswith("topic"):
                out[k] = v.replace("~", base, 1)
    return out


class HomeAssistant:
    def __init__(self, args):
        self.args = args
        self.entities = []
        self.subscribed = set()
        self.pending = []
        self.timer = None
        self.lock = threading.RLock()
        self.first_mid = None
        client_id = mqtt.base62(uuid.uuid4().int, padding=22)
        kwargs = {"protocol": mqtt.MQTTv5, "transport": "tcp", "reconnect_on_failure": False}
        if PAHO2:
            kwargs["callback_api_version"] = mqtt.CallbackAPIVersion.VERSION1
        self.client = mqtt.Client(client_id, **kwargs)
        self.client.will_set("homeassistant/status", "offline", qos=0, retain=False)
        self.client.on_connect = self.on_connect
        self.client.on_subscribe = self.on_subscribe
        self.client.on_message = self.on_message
        # YAML: a Shelly 1 as an MQTT switch (state, availability, QoS 1), no automation on it.
        shelly = "shellies/%s" % args.shelly
        self.entities.append({"name": "shelly", "state": [shelly + "/relay/0"],
                              "availability": [(shelly + "/online", "true", None)], "qos": 1, "command": None})
        self.tracked = [("homeassistant/+/+/config", 0), ("homeassistant/+/+/+/config", 0),
                        ("tasmota/discovery/#", 0), (shelly + "/relay/0", 1), (shelly + "/online", 1)]

    def run(self):
        self.client.connect(self.args.host, self.args.port, keepalive=60)
        self.client.loop_start()
        for line in sys.stdin:
            if line.strip() == "quit":
                break
        # Home Assistant stops without DISCONNECT so that the broker publishes its will.
        os._exit(0)

    def on_connect(self, client, userdata, flags, rc, properties=None):
        emit(ev="connack", rc=code(rc), session_present=bool(flags.get("session present")))
        topics = sorted(self.tracked)
        self.subscribed.update(t for t, _ in topics)
        emit(ev="subscribe", topics=[[t, q] for t, q in topics])
        result, self.first_mid = client.subscribe(topics)

    def on_subscribe(self, client, userdata, mid, granted, properties=None):
        emit(ev="suback", granted=[code(g) for g in granted])
        if mid == self.first_mid:
            threading.Timer(0.3, self.birth).start()

    def birth(self):
        emit(ev="publish", topic="homeassistant/status", payload="online", qos=0, retain=False)
        self.client.publish("homeassistant/status", "online", qos=0, retain=False)

    def queue(self, topics):
        with self.lock:
            for topic, qos in topics:
                if topic not in self.subscribed:
                    self.subscribed.add(topic)
                    self.pending.append((topic, qos))
            if self.pending and self.timer is None:
                self.timer = threading.Timer(0.1, self.flush)
                self.timer.start()

    def flush(self):
        with self.lock:
            topics, self.pending, self.timer = self.pending, [], None
            emit(ev="subscribe", topics=[[t, q] for t, q in topics])
            self.client.subscribe(topics)

    def on_message(self, client, userdata, msg):
        payload = msg.payload.decode("utf-8", "replace")
        emit(ev="message", topic=msg.topic, payload=payload, qos=msg.qos, retain=bool(msg.retain))
        with self.lock:
            if re.match(r"^homeassistant/(switch|light)/([^/]+/)?[^/]+/config$", msg.topic) and payload:
                self.discovered_mqtt(msg.topic.split("/")[1], expand(json.loads(payload)))
            elif re.match(r"^tasmota/discovery/[0-9A-F]{12}/config$", msg.topic) and payload:
                self.discovered_tasmota(json.loads(payload))
            else:
                self.update(msg.topic, payload)

    def discovered_mqtt(self, component, c):
        avail = []
        if "availability_topic" in c:
            avail.append((c["availability_topic"], c.get("payload_available", "online"), None))
        for a in c.get("availability", []):
            m = re.search(r"value_json\.(\w+)", a.get("value_template", ""))
            avail.append((a["topic"], a.get("payload_available", "online"), m.group(1) if m else None))
        on = json.dumps({"state": "ON"}, separators=(",", ":")) if c.get("schema") == "json" else c.get("payload_on", "ON")
        qos = int(c.get("qos", 0))
        self.add({"name": c.get("unique_id"), "state": [c["state_topic"]], "availability": avail,
                  "qos": qos, "command": (c["command_topic"], on)})

    def discovered_tasmota(self, c):
        def topic(prefix):
            return c["ft"].replace("%prefix%", prefix).replace("%topic%", c["t"]).replace("%hostname%", c["hn"]).replace("%id%", c["mac"])
        cmnd, stat, tele = (topic(p) for p in c["tp"])
        if c["rl"][0] == 1:
            self.add({"name": c["mac"] + "_relay_1", "state": [stat + "RESULT", tele + "STATE"],
                      "availability": [(tele + "LWT", c["onln"], None)], "qos": 0,
                      "command": (cmnd + "POWER1", c["state"][1])})

    def add(self, entity):
        self.entities.append(entity)
        self.queue([(t, entity["qos"]) for t in entity["state"]] + [(a[0], entity["qos"]) for a in entity["availability"]])

    def update(self, topic, payload):
        for e in self.entities:
            for avail_topic, available, key in e["availability"]:
                if topic != avail_topic:
                    continue
                value = payload
                if key is not None:
                    try:
                        value = json.loads(payload).get(key)
                    except ValueError:
                        value = None
                e["available"] = value == available
                if e["available"] and e["command"] and not e.get("commanded"):
                    e["commanded"] = True
                    cmd_topic, cmd_payload = e["command"]
                    emit(ev="publish", topic=cmd_topic, payload=cmd_payload, qos=e["qos"], retain=False)
                    self.client.publish(cmd_topic, cmd_payload, qos=e["qos"], retain=False)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--shelly", required=True)
    HomeAssistant(p.parse_args()).run()


if __name__ == "__main__":
    main()
