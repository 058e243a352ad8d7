#!/usr/bin/python3
"""Checks a site's rendered Nova configuration with Nova's own code (Debian python3-nova, Nova 26 Zed).

Run by test/render/nova-*.test.ts with /usr/bin/python3. Input on stdin, one JSON object:

  {"charm": {APP: {option: value}},          # render/nova/charm-options.ts charmOptions
   "groups": [{"name", "application",         # every host group of the site, with
               "devices": [{"alias", "vendor_id", "product_id", "address",   # one host's devices, from config,
                            "sriov_totalvfs", "physfn"}]}],  # and what its sysfs says: VFs it can have, its PF if a VF
   "flavors": [{"name", "extraSpecs"}],       # flavorSpecs(site); each also run through Nova's scheduler filters
   "check_filters": bool,                     # release >= zed: the filter list must exist in Zed
   "extra_spec_cases": [[key, value]],        # optional: Nova's verdict on each (validators.validate)
   "numa_cases": [{"vcpus", "memory_mb", "extra_specs"}]}  # optional: does Nova give the guest a NUMA topology?

Prints a JSON report on stdout, with the groups whose hosts Nova lets take each flavor (by PciDeviceStats, and by
the scheduler's own filters on a host in no aggregate), and exits 0 when every
check holds; otherwise prints "nova-conformance: FAIL: <check>: <reason>" on stderr and exits 1. Which groups
take a flavor is reported, not judged: the test compares it with config's own rule. Nothing here trusts the renderer:
the nova.conf [pci] section is written the way the charms write it and read back by oslo.config, and
each device reaches PciDeviceStats the way nova-compute reports it: libvirt's node device XML, read by
Nova's own libvirt code (python3-libvirt is needed to construct its Host; no connection is made).
"""

import json
import os
import sys
import tempfile

# Nova's eventlet monkey patching is for its services; a checker only needs the parsers.
os.environ.setdefault("OS_NOVA_DISABLE_EVENTLET_PATCHING", "1")

import nova.conf  # noqa: E402
from nova import exception, objects  # noqa: E402

objects.register_all()

from nova.api.validation.extra_specs import validators  # noqa: E402
from nova.pci import request as pci_request  # noqa: E402
from nova.pci import stats as pci_stats  # noqa: E402
from nova.pci import whitelist as pci_whitelist  # noqa: E402
from nova.scheduler import filters as scheduler_filters  # noqa: E402
from nova.scheduler import host_manager  # noqa: E402
from nova.scheduler.filters import aggregate_instance_extra_specs  # noqa: E402
from nova.scheduler.filters import compute_capabilities_filter  # noqa: E402
from nova.scheduler.filters import pci_passthrough_filter  # noqa: E402
from nova.virt import hardware  # noqa: E402
from nova.virt.libvirt import host as libvirt_host  # noqa: E402

CONF = nova.conf.CONF
CONTROLLER = "nova-cloud-controller"


class Failure(Exception):
    def __init__(self, check, reason):
        super().__init__(f"{check}: {reason}")


def expect(cond, check, reason):
    if not cond:
        raise Failure(check, reason)


def alias_lines(text):
    """What both charms write for `pci-alias` (nova_compute_context.py / nova_cc_context.py, Queens on):
    a JSON list becomes one `alias =` line per element, each json.dumps(x, sort_keys=True)."""
    aliases = json.loads(text)
    if isinstance(aliases, list):
        return [json.dumps(a, sort_keys=True) for a in aliases]
    return [json.dumps(aliases, sort_keys=True)]


def load_nova_conf(alias_text, whitelist_text):
    """Writes the [pci] section as the charm's templates do (charm-nova-compute templates/*/nova.conf:
    `passthrough_whitelist = {{ verbatim }}`, `alias = {{ line }}`) and loads it with oslo.config. On Zed
    passthrough_whitelist is the deprecated name of device_spec, so this also proves the rename works."""
    lines = ["[pci]", f"passthrough_whitelist = {whitelist_text}"]
    lines += [f"alias = {line}" for line in alias_lines(alias_text)]
    with tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False) as f:
        f.write("\n".join(lines) + "\n")
        path = f.name
    try:
        CONF(["--config-file", path], project="nova", default_config_files=[], default_config_dirs=[])
        # Read the values while the file exists; oslo.config caches them afterwards.
        return list(CONF.pci.alias), list(CONF.pci.device_spec)
    finally:
        os.unlink(path)


def other_address(address, taken):
    """The same slot, another function (e.g. a GPU's HDMI audio at .1), not configured."""
    head, func = address.rsplit(".", 1)
    for step in range(1, 8):
        candidate = f"{head}.{(int(func) + step) % 8}"
        if candidate not in taken:
            return candidate
    raise Failure("whitelist", f"no free function next to {address}")


def pci_address_xml(address):
    domain, bus, rest = address.split(":")
    slot, function = rest.split(".")
    return f"<address domain='0x{domain}' bus='0x{bus}' slot='0x{slot}' function='0x{int(function, 16)}'/>"


def nodedev_name(address):
    return "pci_" + address.replace(":", "_").replace(".", "_")


def nodedev_xml(dev):
    """The node device XML libvirt gives nova-compute for a PCI function (libvirt
    src/conf/node_device_conf.c virNodeDeviceCapPCIDefFormat). A function whose sysfs sriov_totalvfs is
    above 0 gets <capability type='virt_functions' maxCount='N'/> even when no VF is created: libvirt sets
    the flag when num_virtual_functions > 0 || max_virtual_functions > 0 (virNodeDeviceGetPCISRIOVCaps,
    max from sriov_totalvfs). A VF gets <capability type='phys_function'> with its PF's address."""
    domain, bus, rest = dev["address"].split(":")
    slot, function = rest.split(".")
    caps = []
    if dev.get("physfn"):
        caps.append(f"<capability type='phys_function'>{pci_address_xml(dev['physfn'])}</capability>")
    if dev["sriov_totalvfs"] > 0:
        caps.append(f"<capability type='virt_functions' maxCount='{dev['sriov_totalvfs']}'/>")
    return "\n".join([
        "<device>",
        f"  <name>{nodedev_name(dev['address'])}</name>",
        "  <parent>computer</parent>",
        "  <capability type='pci'>",
        f"    <domain>{int(domain, 16)}</domain>",
        f"    <bus>{int(bus, 16)}</bus>",
        f"    <slot>{int(slot, 16)}</slot>",
        f"    <function>{int(function, 16)}</function>",
        f"    <product id='0x{dev['product_id']}'/>",
        f"    <vendor id='0x{dev['vendor_id']}'/>",
        *(f"    {c}" for c in caps),
        "    <numa node='0'/>",
        "  </capability>",
        "</device>",
    ])


class NodeDevice:
    """What Nova calls on a libvirt.virNodeDevice while reading a PCI device."""

    def __init__(self, dev):
        self._name = nodedev_name(dev["address"])
        self._xml = nodedev_xml(dev)

    def name(self):
        return self._name

    def XMLDesc(self, flags):
        return self._xml

    def parent(self):
        return "computer"


def reported(dev):
    """The device as nova-compute's libvirt driver reports it (Host._get_pcidev_info: dev_type type-PF for
    a function with virt_functions, type-VF with phys_function, type-PCI otherwise)."""
    host = libvirt_host.Host("qemu:///system")
    return host._get_pcidev_info(nodedev_name(dev["address"]), NodeDevice(dev), [], [], [])


def pci_device(dev):
    """The PciDevice the resource tracker makes of a reported device (nova/pci/manager.py _set_hvdevs)."""
    device = objects.PciDevice.create(None, reported(dev))
    device.compute_node_id = 1
    return device


def host_stats(whitelist, devices):
    stats = pci_stats.PciDeviceStats(None, dev_filter=whitelist)
    for dev in devices:
        stats.add_device(pci_device(dev))
    return stats


def requests_for(extra_specs):
    flavor = objects.Flavor(extra_specs=dict(extra_specs))
    return pci_request.get_pci_requests_from_flavor(flavor).requests


# The filters that read a flavor's extra specs, in the order the default list has them: ComputeCapabilitiesFilter
# (the `capabilities:` scope, and un-namespaced keys naming a host attribute), AggregateInstanceExtraSpecsFilter
# (un-namespaced keys and the `aggregate_instance_extra_specs:` scope, against the host's aggregates' metadata) and
# PciPassthroughFilter (the PCI requests the flavor's alias makes, against the host's PciDeviceStats).
SPEC_FILTERS = [
    compute_capabilities_filter.ComputeCapabilitiesFilter,
    aggregate_instance_extra_specs.AggregateInstanceExtraSpecsFilter,
    pci_passthrough_filter.PciPassthroughFilter,
]


def filter_verdicts(stats, extra_specs):
    """Each filter's verdict on a host of a group that is in no aggregate (HostState.aggregates empty, as
    host_manager leaves a host no aggregate lists), asked as nova-scheduler asks: HostFilterHandler's
    get_filtered_objects over a RequestSpec holding the flavor and the PCI requests its extra specs make (what
    nova/compute/api.py puts in a RequestSpec from the flavor)."""
    host = host_manager.HostState("gpu-host", "gpu-host", None)
    host.pci_stats = stats
    host.aggregates = []
    flavor = objects.Flavor(extra_specs=dict(extra_specs), vcpus=1, memory_mb=1024, root_gb=1, ephemeral_gb=0, swap=0)
    spec = objects.RequestSpec(
        instance_uuid="00000000-0000-0000-0000-000000000001",
        flavor=flavor,
        pci_requests=objects.InstancePCIRequests(requests=requests_for(extra_specs)),
    )
    handler = scheduler_filters.HostFilterHandler()
    return {cls.__name__: bool(handler.get_filtered_objects([cls()], [host], spec)) for cls in SPEC_FILTERS}


def check_whitelist(whitelist, group, others):
    """The group application's whitelist hands exactly its own devices to guests: each configured device is
    assignable; another model at its address, a neighbouring function, and every other group's device (at the
    same slot when two kinds of host share one) are not, unless this group has that very model there too."""
    devices = group["devices"]
    taken = {d["address"] for d in devices}
    own = {(d["vendor_id"], d["product_id"], d["address"]) for d in devices}
    check = f"whitelist of {group['application']}"
    assignable, refused, foreign = [], [], []
    for d in devices:
        dev = {k: d[k] for k in ("vendor_id", "product_id", "address")}
        expect(whitelist.device_assignable(dev), check, f"configured device {dev} is not assignable")
        assignable.append(dev)
        other_model = dict(dev, product_id=f"{(int(dev['product_id'], 16) + 1) % 0x10000:04x}")
        other_slot = dict(dev, address=other_address(dev["address"], taken))
        for other in (other_model, other_slot):
            expect(not whitelist.device_assignable(other), check, f"unconfigured device {other} is assignable")
            refused.append(other)
    for g in others:
        for d in g["devices"]:
            if (d["vendor_id"], d["product_id"], d["address"]) in own:
                continue
            dev = {k: d[k] for k in ("vendor_id", "product_id", "address")}
            expect(not whitelist.device_assignable(dev), check, f"device {dev} of group {g['name']} is assignable")
            foreign.append(dev)
    return {"assignable": assignable, "refused": refused, "foreign_refused": foreign}


def check(data):
    report = {}
    charm = data["charm"]
    groups = data["groups"]

    alias_text = charm[CONTROLLER]["pci-alias"]
    for g in groups:
        expect(charm[g["application"]]["pci-alias"] == alias_text, "pci-alias",
               f"differs between nova-cloud-controller and {g['application']}")

    # Each group's hosts as nova-compute on them sees them: nova.conf with the group application's own
    # whitelist and the cloud's alias, its devices reported through Nova's libvirt code.
    hosts = {}
    report["groups"] = {}
    for g in groups:
        app = g["application"]
        alias_conf, spec_conf = load_nova_conf(alias_text, charm[app]["pci-passthrough-whitelist"])
        try:
            aliases = pci_request._get_alias_from_config()
        except exception.PciInvalidAlias as exc:
            raise Failure("pci-alias", f"Nova rejects it: {exc}")
        try:
            whitelist = pci_whitelist.Whitelist(spec_conf)
        except exception.NovaException as exc:
            raise Failure(f"pci-passthrough-whitelist of {app}", f"Nova rejects it: {exc}")
        others = [h for h in groups if h is not g]
        per_host = {}
        for d in g["devices"]:
            per_host[d["alias"]] = per_host.get(d["alias"], 0) + 1
        hosts[g["name"]] = {"stats": host_stats(whitelist, g["devices"]), "empty": host_stats(whitelist, []),
                            "per_host": per_host}
        report["groups"][g["name"]] = {
            "whitelist": check_whitelist(whitelist, g, others),
            "reported": {d["address"]: reported(d)["dev_type"] for d in g["devices"]},
        }
    report["aliases"] = {name: {"numa_policy": policy, "specs": specs}
                         for name, (policy, specs) in sorted(aliases.items())}
    report["alias_lines"] = alias_conf

    # Every flavor on a host of every group: PciDeviceStats.support_requests is what PciPassthroughFilter asks
    # (nova/scheduler/filters/pci_passthrough_filter.py). The verdict is reported, not judged: the test compares
    # the groups that fit with config's own rule.
    flavors = {}
    for f in data["flavors"]:
        name, specs = f["name"], f["extraSpecs"]
        for key, value in specs.items():
            try:
                validators.validate(key, value)
            except exception.ValidationError as exc:
                raise Failure(f"flavor {name}", f"extra spec {key}={value!r}: {exc}")
        try:
            requests = requests_for(specs)
        except (exception.PciRequestAliasNotDefined, exception.PciInvalidAlias) as exc:
            raise Failure(f"flavor {name}", str(exc))
        asked = {r.alias_name: r.count for r in requests}
        fits, over = [], {}
        # Which groups' hosts, in no aggregate, every filter that reads extra specs passes.
        verdicts = {g["name"]: filter_verdicts(hosts[g["name"]]["stats"], specs) for g in groups}
        scheduled = [name for name, v in verdicts.items() if all(v.values())]
        refused_by = sorted({f for v in verdicts.values() for f, ok in v.items() if not ok})
        for g in groups:
            host = hosts[g["name"]]
            expect(not host["empty"].support_requests(requests), f"flavor {name}",
                   f"a host of group {g['name']} without devices takes it")
            if not host["stats"].support_requests(requests):
                continue
            fits.append(g["name"])
            # One device more than the group's hosts have is refused: Nova counts the devices, not the aliases.
            over[g["name"]] = {}
            for alias in asked:
                more = f"{alias}:{host['per_host'].get(alias, 0) + 1}"
                over[g["name"]][alias] = more
                expect(not host["stats"].support_requests(requests_for({"pci_passthrough:alias": more})),
                       f"flavor {name}", f"a host of group {g['name']} with {host['per_host']} takes {more}")
        flavors[name] = {"requests": asked, "fits": fits, "one_more_refused": over, "scheduled": scheduled, "refused_by": refused_by}
    report["flavors"] = flavors

    filters = charm[CONTROLLER]["scheduler-default-filters"].split(",")
    known = {cls.__name__ for cls in scheduler_filters.all_filters()}
    report["numa_filter_registered"] = "NUMATopologyFilter" in known
    if data.get("check_filters"):
        unknown = [f for f in filters if f not in known]
        expect(not unknown, "scheduler-default-filters",
               f"not in Nova's filter registry (nova-scheduler raises SchedulerHostFilterNotFound): {unknown}")
        report["filters"] = {"checked": filters}
    else:
        report["filters"] = {"checked": []}

    if "extra_spec_cases" in data:
        # What the Compute API answers at microversion 2.86: None (accepted) or the 400's message.
        verdicts = []
        for key, value in data["extra_spec_cases"]:
            try:
                validators.validate(key, value)
                verdicts.append(None)
            except exception.ValidationError as exc:
                verdicts.append(str(exc))
        report["extra_spec_verdicts"] = verdicts
        report["extra_spec_namespaces"] = sorted(validators.NAMESPACES)

    if "numa_cases" in data:
        # Whether the guest gets a NUMA topology from the flavor alone (an image without properties); only
        # then do NUMATopologyFilter and the PCI NUMA policies act.
        image = objects.ImageMeta.from_dict({})
        topologies = []
        for case in data["numa_cases"]:
            flavor = objects.Flavor(vcpus=case["vcpus"], memory_mb=case["memory_mb"], extra_specs=dict(case["extra_specs"]))
            topologies.append(hardware.numa_get_constraints(flavor, image) is not None)
        report["numa_topology"] = topologies
    return report


def main():
    try:
        report = check(json.load(sys.stdin))
    except Failure as exc:
        print(f"nova-conformance: FAIL: {exc}", file=sys.stderr)
        return 1
    json.dump(report, sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
