#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The oracle test: castle's selection (spec/select.c, through tests/oracle/castle-select)
against Ceph's own DriveSelection (ceph.deployment.drive_selection, python3-ceph-common) on the
same inventories, which cephadm reads as ceph-volume's inventory JSON: castle's rendering of it
(cli/cvformat.c, `castlectl inventory --format ceph-volume`) is what castle-select hands back.

Cases: the captured trees in tests/data (through `castlectl inventory --sysroot`) and
generated inventories (sizes across ceph-volume's unit boundaries, models, vendors,
rotational, availability, ceph devices with and without osdspec_affinity) over generated
specs (the four size forms, model/vendor substrings, rotational, limit, all, AND/OR, paths,
db/wal selections, existing daemons).

Usage: drive_selection.py CASTLE_SELECT [--castlectl PATH] [--datadir DIR] [--cases N]
                          [--seed S] [--verbose]
Exit 0 when every case agrees (or differs only where docs/specs.md says castle differs),
1 otherwise, 77 when this python cannot import ceph.deployment.
"""
import argparse
import json
import logging
import os
import random
import re
import subprocess
import sys

try:
    from ceph.deployment.drive_group import DriveGroupSpec, DeviceSelection, DriveGroupValidationError
    from ceph.deployment.drive_selection.selector import DriveSelection
    from ceph.deployment.inventory import Devices
    from ceph.deployment.service_spec import PlacementSpec
except ImportError as e:
    print(f"SKIP: {sys.executable} cannot import ceph.deployment ({e}): install python3-ceph-common")
    sys.exit(77)

logging.disable(logging.CRITICAL)

GIB = 1024 ** 3
MODELS = ["MZ7LH960HAJR", "MZ7KM480", "ST4000NM0035", "SAMSUNG MZQL2", "INTEL SSDPE2KX", "QEMU HARDDISK",
          "Micron_5300", "", "HUS726T4TALA6L4"]
VENDORS = ["ATA", "SEAGATE", "SAMSUNG", "INTEL", "QEMU", "", "HGST", "NVME"]
MODEL_FILTERS = ["MZ7", "ST4000", "SAMSUNG", "INTEL", "QEMU", "Micron", "HUS", "mz7", "SSD", "X"]
VENDOR_FILTERS = ["ATA", "SEAGATE", "SAM", "INTEL", "QEMU", "HGST", "NV", "ata"]
REASONS = ["Has a FileSystem", "Insufficient space (<5GB)", "Has partitions", "LVM detected",
           "Device type is not acceptable", "locked"]
SPECS = ["alpha", "beta", "gamma"]


def interesting_size(rnd):
    """Sizes around ceph-volume's unit boundaries and round figures."""
    k = rnd.choice([2, 3, 3, 3, 3, 4])
    unit = 1024 ** k
    choice = rnd.random()
    if choice < 0.25:
        n = rnd.choice([1, 2, 5, 10, 20, 40, 100, 500, 960, 1000, 1023])
        return n * unit
    if choice < 0.45:
        # just under / over a unit: 1023.99 MB, 1.00 GB, 1024.00 ...
        return unit * 1024 - rnd.randint(0, unit * 2)
    if choice < 0.6:
        # decimal figures the filters use: 10G = 10e9 bytes
        return rnd.choice([1, 5, 10, 20, 40, 100, 250, 480, 960, 1000, 2000, 4000]) * 10 ** rnd.choice([9, 12]) \
            + rnd.randint(-1000, 1000)
    if choice < 0.61:
        return rnd.choice([0, 512, 1000, 1023, 1024, 1025, 2 ** 50, 2 ** 50 + 10 ** 12, 3 * 2 ** 50])
    return rnd.randint(1, 20 * 1024) * 1024 ** 3 // rnd.choice([1, 3, 7, 10])


def gen_device(rnd, i, used_paths):
    while True:
        if rnd.random() < 0.3:
            kname = f"nvme{rnd.randint(0, 9)}n{rnd.randint(1, 3)}"
        else:
            kname = "sd" + rnd.choice("abcdefghijklmnopqrstuvwxyz") + rnd.choice(["", "", "", "a", "b"])
        path = "/dev/" + kname
        if path not in used_paths:
            used_paths.add(path)
            break
    rot = rnd.random() < 0.5
    d = {
        "stable_id": f"id-{kname}-{i}",
        "kname": kname,
        "path": path,
        "size": interesting_size(rnd),
        "rotational": rot,
        "model": rnd.choice(MODELS),
        "vendor": rnd.choice(VENDORS),
        "available": rnd.random() < 0.7,
        "device_id": f"dev_{kname}",
        "logical_sector_size": 512,
    }
    if not d["available"]:
        d["reasons"] = [{"message": m} for m in rnd.sample(REASONS, rnd.randint(0, 2))]
        if rnd.random() < 0.5:
            # an LVM OSD (or a VG with other LVs)
            lvs = []
            for j in range(rnd.randint(1, 2)):
                tags = []
                if rnd.random() < 0.85:
                    fsid = f"fsid-{kname}-{j}"
                    tags = [{"key": "ceph.osd_id", "value": str(rnd.randint(0, 99))},
                            {"key": "ceph.osd_fsid", "value": fsid},
                            {"key": "ceph.type", "value": rnd.choice(["block", "block", "db"])}]
                    r = rnd.random()
                    if r < 0.5:
                        tags.append({"key": "ceph.osdspec_affinity", "value": rnd.choice(SPECS)})
                    elif r < 0.6:
                        tags.append({"key": "ceph.osdspec_affinity", "value": ""})
                lvs.append({"name": f"lv{j}", "tags": tags})
            d["lvm"] = {"vg_name": "ceph-x", "lvs": lvs}
    return d


def gen_size_filter(rnd, devices):
    """The four forms, values near the devices' sizes in decimal units."""
    def one(allow_dot):
        if devices and rnd.random() < 0.5:
            sz = rnd.choice(devices)["size"]
            # the human size re-read as decimal: what the exact form can equal
            v, u = sz, 0
            while v >= 1024 and u < 5:
                v /= 1024
                u += 1
            unit = ["", "K", "M", "G", "T", "P"][u] or "K"
            if unit == "P":
                unit = "T"
            if allow_dot and rnd.random() < 0.5:
                n = f"{v:.2f}"
            else:
                n = str(int(v) + rnd.choice([-1, 0, 0, 1]))
                if n.startswith("-"):
                    n = "0"
        else:
            n = str(rnd.choice([0, 1, 5, 10, 20, 100, 500, 960, 1000, 1023, 1024, 2000]))
            unit = rnd.choice("KMGT")
        return n + unit + (rnd.choice(["", "B"]))
    if rnd.random() < 0.03:
        return rnd.choice(["10XB", "ten", "10g", "1.5G:", ":2.5T", "10G:5", "G", "10PB", "5B"])
    form = rnd.randint(0, 3)
    if form == 0:
        return one(True)
    if form == 1:
        return one(False) + ":"
    if form == 2:
        return ":" + one(False)
    return one(False) + ":" + one(False)


def gen_selection(rnd, devices, role):
    sel = {}
    if role == "data" and rnd.random() < 0.15:
        return {"all": True, **({"limit": rnd.randint(1, 4)} if rnd.random() < 0.3 else {})}
    if rnd.random() < 0.07 and devices:
        paths = [d["path"] for d in rnd.sample(devices, rnd.randint(1, min(3, len(devices))))]
        if rnd.random() < 0.2:
            paths.append("/dev/nosuch")
        return {"paths": paths}
    keys = rnd.sample(["size", "model", "vendor", "rotational"], rnd.randint(1, 3))
    for k in keys:
        if k == "size":
            sel["size"] = gen_size_filter(rnd, devices)
        elif k == "model":
            sel["model"] = rnd.choice(MODEL_FILTERS)
        elif k == "vendor":
            sel["vendor"] = rnd.choice(VENDOR_FILTERS)
        else:
            sel["rotational"] = rnd.random() < 0.5
    if rnd.random() < 0.3:
        sel["limit"] = rnd.randint(1, 5)
    return sel


def gen_spec(rnd, devices):
    spec = {"service_id": rnd.choice(SPECS), "data_devices": gen_selection(rnd, devices, "data")}
    if rnd.random() < 0.4:
        spec["db_devices"] = gen_selection(rnd, devices, "db")
    if rnd.random() < 0.25:
        spec["wal_devices"] = gen_selection(rnd, devices, "wal")
    if rnd.random() < 0.3:
        spec["filter_logic"] = "OR"
    return spec


def python_selection(spec, cv, existing):
    def ds(s):
        if s is None:
            return None
        return DeviceSelection(paths=s.get("paths"), model=s.get("model"), size=s.get("size"),
                               rotational=s.get("rotational"), limit=s.get("limit"), vendor=s.get("vendor"),
                               all=s.get("all", False))
    dg = DriveGroupSpec(placement=PlacementSpec(host_pattern="*"), service_id=spec["service_id"],
                        data_devices=ds(spec.get("data_devices")), db_devices=ds(spec.get("db_devices")),
                        wal_devices=ds(spec.get("wal_devices")), filter_logic=spec.get("filter_logic", "AND"))
    inventory = Devices.from_json(cv)
    try:
        sel = DriveSelection(dg, inventory.devices, existing_daemons=existing)
    except DriveGroupValidationError as e:
        return {"error": str(e)}
    return {k: [d.path for d in getattr(sel, f"{k}_devices")()] for k in ("data", "db", "wal")}


def plan_problem(case, out):
    """The plan must account for every device: an OSD's data, DB or WAL, or skipped with a
    reason; its OSDs' data devices are the selection's (the plan counts the spec's existing
    OSDs itself, so it is compared only when the case has none)."""
    plan = out.get("plan")
    if not plan or not plan["placed"]:
        return None
    used = {o[k] for o in plan["osds"] for k in ("data", "db", "wal") if o[k]}
    skipped = {s["device"] for s in plan["skipped"]}
    if any(not s["reasons"] for s in plan["skipped"]):
        return "a skipped device without a reason"
    if plan["error"]:
        return None
    if used & skipped:
        return f"taken and skipped: {sorted(used & skipped)}"
    sid = case["spec"]["service_id"]
    own = any(t["key"] == "ceph.osdspec_affinity" and t["value"] == sid
              for d in case["devices"] for lv in (d.get("lvm") or {}).get("lvs", []) for t in lv["tags"])
    if "error" not in out and case["existing"] == 0 and not own and not case["spec"]["data_devices"].get("paths"):
        if [o["data"] for o in plan["osds"]][::max(1, case["spec"].get("osds_per_device", 1))] != out["data"]:
            return "the plan's data devices are not the selection's"
    missing = {d["path"] for d in case["devices"]} - used - skipped
    if missing:
        return f"neither taken nor skipped: {sorted(missing)}"
    return None


def captured_inventories(castlectl, datadir):
    if not castlectl or not datadir:
        return []
    out = []
    for tree in sorted(os.listdir(datadir)):
        root = os.path.join(datadir, tree)
        if not os.path.exists(os.path.join(root, "CAPTURED")):
            continue
        r = subprocess.run([castlectl, "inventory", "--sysroot", root, "--format", "json"],
                           capture_output=True, text=True)
        if r.returncode != 0:
            print(f"castlectl inventory --sysroot {root} failed: {r.stderr.strip()}")
            sys.exit(1)
        out.append((tree, json.loads(r.stdout)["devices"]))
    return out


def deliberate(case, py, castle, cv):
    """Where castle differs from cephadm by design (docs/specs.md), checked: castle's answer
    must then be what cephadm's own code gives with that difference made in it."""
    e = py.get("error", "")
    if ("Unit 'B' not supported" in e or "Unit 'PB' not supported" in e) and "error" not in castle:
        # castle compares B and PB human sizes (decimal factors) where cephadm raises
        from ceph.deployment.drive_selection.matchers import SizeMatcher
        saved = SizeMatcher.SUFFIXES, SizeMatcher.supported_suffixes
        SizeMatcher.SUFFIXES = (["KB", "MB", "GB", "TB", "PB", "B"], ["K", "M", "G", "T", "P", "B"],
                                [1e+3, 1e+6, 1e+9, 1e+12, 1e+15, 1.0])
        SizeMatcher.supported_suffixes = SizeMatcher.SUFFIXES[0] + SizeMatcher.SUFFIXES[1]
        try:
            if any(s and re.search(r"\d(PB?|B)(:|$)", s.get("size", ""))
                   for s in (case["spec"].get(k) for k in ("data_devices", "db_devices", "wal_devices"))):
                return None  # a P or B filter: castle refuses those units in filters, as cephadm
            again = python_selection(case["spec"], cv, case["existing"])
        finally:
            SizeMatcher.SUFFIXES, SizeMatcher.supported_suffixes = saved
        return "a device of 1 PiB or more, or under 1 KiB, under a size filter" if again == castle else None
    if "error" in castle and "is not a device of this node" in castle["error"] and "error" not in py:
        return "a paths entry that is not on the node"
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("castle_select")
    ap.add_argument("--castlectl")
    ap.add_argument("--datadir")
    ap.add_argument("--cases", type=int, default=int(os.environ.get("ORACLE_CASES", "12000")))
    ap.add_argument("--seed", type=int, default=15)
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    rnd = random.Random(args.seed)

    cases = []
    for name, devices in captured_inventories(args.castlectl, args.datadir):
        for _ in range(200):
            cases.append(({"spec": gen_spec(rnd, devices), "devices": devices,
                           "existing": rnd.choice([0, 0, 0, 1, 2])}, name))
    while len(cases) < args.cases:
        used = set()
        devices = [gen_device(rnd, i, used) for i in range(rnd.randint(0, 12))]
        cases.append(({"spec": gen_spec(rnd, devices), "devices": devices,
                       "existing": rnd.choice([0, 0, 0, 1, 2, 3]), "plan": True}, "generated"))

    stdin = "".join(json.dumps(c) + "\n" for c, _ in cases)
    r = subprocess.run([args.castle_select], input=stdin, capture_output=True, text=True)
    if r.returncode != 0:
        print(f"castle-select failed: {r.stderr.strip()}")
        return 1
    outs = [json.loads(line) for line in r.stdout.splitlines()]
    if len(outs) != len(cases):
        print(f"castle-select answered {len(outs)} of {len(cases)} cases")
        return 1

    agree = 0
    selected = errors = 0
    differ = {}
    bad = []
    for (case, origin), out in zip(cases, outs):
        problem = plan_problem(case, out)
        if problem:
            bad.append((case, origin, problem, out.get("plan")))
            continue
        py = python_selection(case["spec"], out["cv"], case["existing"])
        castle = {k: out[k] for k in ("data", "db", "wal")} if "error" not in out else {"error": out["error"]}
        if ("error" in py) == ("error" in castle) and ("error" in py or py == castle):
            agree += 1
            errors += "error" in py
            selected += bool(py.get("data"))
            continue
        why = deliberate(case, py, castle, out["cv"])
        if why:
            differ[why] = differ.get(why, 0) + 1
            continue
        bad.append((case, origin, py, castle))

    total = len(cases)
    print(f"oracle: {agree:,} of {total:,} cases agree with cephadm's DriveSelection"
          + "".join(f"; {n:,} differ by design ({w}, docs/specs.md)" for w, n in differ.items())
          + f"; {len(bad):,} disagree"
          + f" (agreeing: {selected:,} select data devices, {errors:,} are errors in both)")
    for case, origin, py, castle in bad[:5 if not args.verbose else len(bad)]:
        print(f"--- {origin}: spec {json.dumps(case['spec'])} existing {case['existing']}")
        for d in case["devices"]:
            print(f"    {d['path']} size {d['size']} rot {d.get('rotational')} model {d.get('model')!r} "
                  f"vendor {d.get('vendor')!r} avail {d.get('available')} lvm {json.dumps(d.get('lvm'))}")
        print(f"    cephadm: {py}\n    castle:  {castle}")
    return 0 if not bad else 1


if __name__ == "__main__":
    sys.exit(main())
