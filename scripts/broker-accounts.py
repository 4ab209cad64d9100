#!/usr/bin/env python3
"""Broker accounts and what each may do, as mosquitto's dynamic-security plugin file.

    python3 scripts/broker-accounts.py ACCOUNTS.toml PASSWORD_DIR OUT.json

ACCOUNTS.toml lists hubs, edge boxes and junction controllers (see configs/broker-accounts.toml);
PASSWORD_DIR/<account> holds each account's password (the same file, mode 600, that the edge or
hub names as `mqtt.password_file`). OUT.json is the plugin's `plugin_opt_config_file`.

Why the plugin and not an `acl_file`: mosquitto 2.0's ACL file never judges subscriptions, so a
stolen edge account could join the hubs' shared subscription; each event the broker handed to
it was then refused by the read rule and never reached a hub (the shipped ACL test caught this
as a race). The plugin refuses the subscription itself. Everything not granted below is denied.
"""

import base64
import hashlib
import json
import os
import re
import secrets
import stat
import sys
import tomllib

# The plugin's own hash: PBKDF2-HMAC-SHA512, a 12-byte salt, a 64-byte hash.
SALT_BYTES = 12
ITERATIONS = 101
ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class Bad(Exception):
    pass


def ident(value, where):
    """Site, camera, junction and account names become topic levels: no wildcards or slashes."""
    if not isinstance(value, str) or not ID.match(value):
        raise Bad(f"{where}: {value!r} is not a name of letters, digits, '-' or '_' (at most 64)")
    return value


def password(pw_dir, account):
    path = os.path.join(pw_dir, account)
    try:
        st = os.stat(path)
    except OSError as e:
        raise Bad(f"password of account {account!r}: {e}") from None
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise Bad(f"{path} can be read by other users: chmod 600 {path}")
    with open(path, encoding="utf-8") as f:
        pw = f.read().rstrip("\r\n")
    if not pw:
        raise Bad(f"{path} is empty")
    return pw


def client(account, pw, role):
    salt = secrets.token_bytes(SALT_BYTES)
    digest = hashlib.pbkdf2_hmac("sha512", pw.encode(), salt, ITERATIONS, 64)
    return {
        "username": account,
        "password": base64.b64encode(digest).decode(),
        "salt": base64.b64encode(salt).decode(),
        "iterations": ITERATIONS,
        "roles": [{"rolename": role}],
    }


def acl(kind, topic):
    return {"acltype": kind, "topic": topic, "priority": 0, "allow": True}


def hub_role():
    # Any share-group name: hubs choose theirs (`ingest.group`); edges get no `$share` at all.
    return {
        "rolename": "hub",
        "acls": [
            acl("subscribePattern", "$share/+/matthan/+/+/+"),
            acl("subscribePattern", "$share/+/matthan-evidence/+/+"),
            acl("publishClientReceive", "matthan/+/+/+"),
            acl("publishClientReceive", "matthan-evidence/+/+"),
            acl("publishClientSend", "matthan-receipt/+"),
            acl("publishClientSend", "matthan-watch/+"),
        ],
    }


def edge_role(name, site, sources, junctions):
    """`sources`: the camera (and edge) ids it may publish events for; `junctions`: those whose
    controllers' requests it answers (live control); None = the whole site."""
    levels = ["+"] if sources is None else sources
    answers = ["+"] if junctions is None else junctions
    reads = [
        f"matthan/{site}/+/signal/state",
        f"matthan-receipt/{site}",
        f"matthan-watch/{site}",
    ] + [f"matthan/{site}/{j}/signal/request" for j in answers]
    return {
        "rolename": name,
        "acls": [acl("publishClientSend", f"matthan/{site}/{lv}/+") for lv in levels]
        + [acl("publishClientSend", f"matthan/{site}/{j}/signal/decision") for j in answers]
        + [acl("publishClientSend", f"matthan-evidence/{site}/+")]
        + [acl("subscribePattern", t) for t in reads]
        + [acl("publishClientReceive", t) for t in reads],
    }


def controller_role(name, site, junction):
    """A junction's controller sets its own signal state, asks for its own greens and reads the
    answers to them; nothing else."""
    decisions = f"matthan/{site}/{junction}/signal/decision"
    return {
        "rolename": name,
        "acls": [
            acl("publishClientSend", f"matthan/{site}/{junction}/signal/state"),
            acl("publishClientSend", f"matthan/{site}/{junction}/signal/request"),
            acl("subscribePattern", decisions),
            acl("publishClientReceive", decisions),
        ],
    }


def id_list(e, key, where):
    """An optional non-empty list of names (None when left out)."""
    v = e.get(key)
    if v is None:
        return None
    if not isinstance(v, list) or not v:
        raise Bad(f"{where}.{key}: a non-empty list of ids, or leave it out")
    return [ident(x, f"{where}.{key}") for x in v]


def build(spec, pw_dir):
    clients, roles, seen = [], [hub_role()], set()

    def add(account, where, role):
        ident(account, f"{where}.account")
        if account in seen:
            raise Bad(f"{where}: account {account!r} is listed twice")
        seen.add(account)
        clients.append(client(account, password(pw_dir, account), role))

    for i, h in enumerate(spec.get("hubs", [])):
        add(h.get("account"), f"hubs[{i}]", "hub")
    for i, e in enumerate(spec.get("edges", [])):
        where = f"edges[{i}]"
        site = ident(e.get("site"), f"{where}.site")
        sources = id_list(e, "sources", where)
        junctions = id_list(e, "junctions", where)
        role = f"edge-{ident(e.get('account'), where + '.account')}"
        roles.append(edge_role(role, site, sources, junctions))
        add(e["account"], where, role)
    for i, c in enumerate(spec.get("controllers", [])):
        where = f"controllers[{i}]"
        site = ident(c.get("site"), f"{where}.site")
        junction = ident(c.get("junction"), f"{where}.junction")
        role = f"signal-{ident(c.get('account'), where + '.account')}"
        roles.append(controller_role(role, site, junction))
        add(c["account"], where, role)
    unknown = set(spec) - {"hubs", "edges", "controllers"}
    if unknown:
        raise Bad(f"unknown section(s): {', '.join(sorted(unknown))}")
    return {
        "defaultACLAccess": {
            "publishClientSend": False,
            "publishClientReceive": False,
            "subscribe": False,
            "unsubscribe": True,
        },
        "clients": clients,
        "groups": [],
        "roles": roles,
    }


def main(argv):
    if len(argv) != 4:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    src, pw_dir, out = argv[1:]
    try:
        with open(src, "rb") as f:
            spec = tomllib.load(f)
        cfg = build(spec, pw_dir)
    except (Bad, OSError, tomllib.TOMLDecodeError, KeyError) as e:
        print(f"broker-accounts: {src}: {e}", file=sys.stderr)
        return 1
    # The file holds password hashes: readable by the broker's user, not by everyone.
    fd = os.open(out + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
    with os.fdopen(fd, "w") as f:
        json.dump(cfg, f, indent=1)
    os.replace(out + ".tmp", out)
    print(f"{out}: {len(cfg['clients'])} accounts, {len(cfg['roles'])} roles")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
