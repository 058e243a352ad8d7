"""The Juju test double's charms (test/fakes/juju): each charm's options as its config.yaml declares them
(charm-options.json beside this file), and how the controller applies a value to one (juju/charm config.go,
apiserver application SetConfig), with Juju's own error output.
"""
import json
import os

from fakelib import die, sorted_map

with open(os.path.join(os.path.dirname(os.path.realpath(__file__)), "charm-options.json")) as _f:
    CHARMS = json.load(_f)["charms"]


def error(message, code=1):
    """juju/cmd WriteError: "ERROR " and the message on stderr. Exit 2 for Init/flag errors, 1 for Run's."""
    die("ERROR " + message, code)


def charm_options(state, charm):
    """A charm's options: charm-options.json, or a revision a test put in the state ("charm_revisions"),
    e.g. one without an option."""
    return state.get("charm_revisions", {}).get(charm) or CHARMS[charm]


def parse_option(state, charm, name, value):
    """Config.option: an option the charm's config.yaml lacks is `unknown option "x"`; a value is parsed
    (string) or checked (YAML types) against the option's type: `option "x" expected int, got ...`."""
    options = charm_options(state, charm)
    if name not in options:
        error('unknown option "%s"' % name)
    kind = options[name]["type"]
    if value is None:
        return None
    if isinstance(value, str):
        try:
            return {"string": str, "int": int, "float": float, "boolean": lambda s: {"true": True, "false": False}[s.lower()]}[kind](value)
        except (KeyError, ValueError):
            error('option "%s" expected %s, got %s' % (name, kind, json.dumps(value)))
    ok = {"string": isinstance(value, str), "int": isinstance(value, int) and not isinstance(value, bool),
          "float": isinstance(value, (int, float)) and not isinstance(value, bool), "boolean": isinstance(value, bool)}[kind]
    if not ok:
        error('option "%s" expected %s, got %r' % (name, kind, value))
    return value


def describe(state, charm, settings):
    """apiserver/facades/client/application describe(): every option of the charm with its description,
    type and source (unset, default, user), its default when it has one, and its value when set or
    defaulted."""
    result = {}
    for name, opt in charm_options(state, charm).items():
        info = {"description": "", "type": opt["type"], "source": "unset"}
        value = settings.get(name)
        if value is not None and value != opt.get("default"):
            info["value"], info["source"] = value, "user"
        if "default" in opt:
            info["default"] = opt["default"]
            if info["source"] != "user":
                info["value"], info["source"] = opt["default"], "default"
        result[name] = sorted_map(info)
    return sorted_map(result)
