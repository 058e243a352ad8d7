"""Shared state and recording for the maas and juju test doubles.

State lives in $FAKE_STATE_DIR/<cli>.json; every call is appended to $FAKE_STATE_DIR/<cli>.log as one JSON
line {"argv": [...], "env": {PCIPT_*...}} so tests can assert exactly what the CLI was given.

The doubles answer as the real CLIs do, byte for byte where the program reads the answer: which stream,
which exit status, which message. Each behaviour cites the real source beside it; test/contract/ holds the
doubles to that (test/components/cli-contract.test.ts).
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
    # A temporary file per process: the real CLIs may be called concurrently (verify's reads run at once).
    tmp = "%s.%d.tmp" % (path, os.getpid())
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


def out(data):
    """Writes bytes (or text as UTF-8) to stdout exactly, with no newline added."""
    sys.stdout.flush()
    sys.stdout.buffer.write(data if isinstance(data, bytes) else data.encode("utf-8"))
    sys.stdout.buffer.flush()


def err(text):
    sys.stderr.flush()
    sys.stderr.buffer.write(text.encode("utf-8"))
    sys.stderr.buffer.flush()


def die(message, code=1):
    err(message + "\n")
    sys.exit(code)


def go_json(value):
    """What Go's encoding/json Marshal writes (juju/cmd FormatJson): compact, map keys as given (callers pass
    maps with sorted keys, as Go sorts them, and structs in field order), UTF-8 kept, and <, >, & escaped as
    \\u003c, \\u003e, \\u0026 (encoding/json HTMLEscape by default), which can only occur inside strings."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    for ch, esc in (("&", "\\u0026"), ("<", "\\u003c"), (">", "\\u003e"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(ch, esc)
    return text


def sorted_map(d):
    """A Go map as encoding/json writes it: keys sorted."""
    return {k: d[k] for k in sorted(d)}
