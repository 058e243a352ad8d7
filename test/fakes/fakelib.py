"""Shared state and recording for the maas and juju test doubles.

State lives in $FAKE_STATE_DIR/<cli>.json; every call is appended to $FAKE_STATE_DIR/<cli>.log as one JSON
line {"argv": [...], "env": {PCIPT_*...}} so tests can assert exactly what the CLI was given.
"""
import json
import os
import sys


def state_dir():
    d = os.environ.get("FAKE_STATE_DIR")
    if not d:
        sys.stderr.write("fake: FAKE_STATE_DIR is not set\n")
        sys.exit(99)
    os.makedirs(d, exist_ok=True)
    return d


def load(cli, initial):
    path = os.path.join(state_dir(), cli + ".json")
    if os.path.exists(path):
        with open(path) as f:
            return json.load(f)
    return initial()


def save(cli, state):
    path = os.path.join(state_dir(), cli + ".json")
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(state, f, indent=2, sort_keys=True)
    os.replace(tmp, path)


def record(cli, argv, extra=None):
    entry = {"argv": argv}
    if extra:
        entry.update(extra)
    with open(os.path.join(state_dir(), cli + ".log"), "a") as f:
        f.write(json.dumps(entry) + "\n")


def env_list(name, default=""):
    return [x for x in os.environ.get(name, default).replace(",", " ").split() if x]


def die(message, code=1):
    sys.stderr.write(message + "\n")
    sys.exit(code)
