#!/usr/bin/env python3
"""The man page's JSON EVENTS section as field paths, compared with events.

  json_events.py show MAN                      every documented event: paths
  json_events.py compare MAN NDJSON TRACE HARD...

The grammar of the section is described at the top of json_events.bats.
`compare` fails (exit 1) on an emitted event or path the man page lacks, a
documented one never emitted (unless listed in HARD as EVENT.PATH, or TRACE
is 0 and the event is one of backlog trace's), an endpoint that is not
{"address", "port"} or {"path"}, and a field emitted with two JSON types
(null aside; an integer and a fraction count as two: 80 is not 80.0).
"""
import json
import re
import sys

ENDPOINT_SHAPES = ({"address", "port"}, {"path"})
TRACE_EVENTS = {"trace_start", "drop", "trace_summary"}
# Fields whose type follows another field, as documented: a sysctl's "value"
# is a number, or an array for the triples (tcp_rmem), fixed per "name".
TYPE_BY_NAME = {("sysctl", "value")}
TOKEN = re.compile(r'\(|\)|"([A-Za-z_][A-Za-z0-9_]*)"|\[\{|\}\]|\{|\}|[^()"\[\]{}]+|.', re.S)


class Doc:
    def __init__(self):
        self.paths = {}  # event -> set of paths
        self.open = {}  # event -> paths whose keys are data
        self.endpoints = {}  # event -> paths that are endpoints


def section(text):
    body = text.split("\n# JSON EVENTS\n", 1)[1]
    return body.split("\n# ", 1)[0]


def split_events(sec):
    """{event: description} and {field: description} of '"NAME" holds:'."""
    events, holds, cur, hold = {}, {}, None, None
    for line in sec.split("\n"):
        m = re.fullmatch(r"\*([a-z_]+)\*", line)
        if m:
            cur, hold = m.group(1), None
            events[cur] = ""
        elif line.startswith("\t") and cur:
            events[cur] += " " + line.strip()
        elif (m := re.match(r'"([a-z_]+)" holds:(.*)', line)):
            cur, hold = None, m.group(1)
            holds[hold] = m.group(2)
        elif line.strip() and hold:
            holds[hold] += " " + line
        else:
            cur = hold = None
    return events, holds


def join(prefix, name):
    return f"{prefix}.{name}" if prefix else name


def parse(text, paths, opens, endpoints, where):
    stack = [""]  # the path each open group adds its fields under
    named = [False]  # whether that group has a quoted field
    last, gap, depth, paren, paren_bound = None, "", 0, "", False
    for m in TOKEN.finditer(text):
        t = m.group(0)
        if t == "(":
            if depth == 0:
                paren, paren_bound = "", last is not None and gap.strip() == ""
            depth += 1
        elif t == ")":
            depth -= 1
            if depth == 0 and paren_bound and paren.lstrip().startswith("endpoint"):
                endpoints.add(last)
        elif depth:
            paren += t
        elif m.group(1):
            last, gap = join(stack[-1], m.group(1)), ""
            paths.add(last)
            named[-1] = True
        elif t in ("{", "[{"):
            if last is None or gap.strip(" :") != "":
                raise ValueError(f"{where}: {t} follows no field (after {gap.strip()!r})")
            stack.append(last + ("[]" if t == "[{" else ""))
            named.append(False)
            last = None
        elif t in ("}", "}]"):
            if len(stack) == 1:
                raise ValueError(f"{where}: unbalanced {t}")
            if not named.pop():
                opens.add(stack[-1])
            stack.pop()
            last, gap = None, "x"
        else:
            gap += t
    if len(stack) != 1 or depth != 0:
        raise ValueError(f"{where}: unclosed brace or parenthesis")


def read_doc(man):
    events, holds = split_events(section(open(man).read()))
    held = {}
    for name, text in holds.items():
        p, o, e = set(), set(), set()
        parse(text, p, o, e, f'"{name}" holds')
        held[name] = (p, o, e)
    doc = Doc()
    for ev, text in events.items():
        p, o, e = set(), set(), set()
        parse(text, p, o, e, ev)
        for path in list(p):
            name = path.split(".")[-1]
            if name in held:
                hp, ho, he = held[name]
                p |= {join(path, x) for x in hp}
                o |= {join(path, x) for x in ho}
                e |= {join(path, x) for x in he}
        if not p and "No fields" not in text:
            raise ValueError(f"{ev}: no quoted field (an event without fields says 'No fields.')")
        doc.paths[ev], doc.open[ev], doc.endpoints[ev] = p, o, e
    return doc


types = {}  # (event, path) -> JSON types seen (int and float apart: 80 is not 80.0)


def walk(v, prefix, ev, doc, seen, problems):
    if isinstance(v, list):
        for x in v:
            walk(x, prefix + "[]", ev, doc, seen, problems)
        return
    if not isinstance(v, dict):
        return
    if prefix in doc.endpoints.get(ev, ()):
        if set(v) not in ENDPOINT_SHAPES:
            problems.add(f"{ev}.{prefix}: endpoint {json.dumps(v)} is not {{address, port}} or {{path}}")
    for k, x in v.items():
        if prefix in doc.open.get(ev, ()):
            seen.add(join(prefix, "*"))
            continue
        p = join(prefix, k)
        seen.add(p)
        if x is not None:
            types.setdefault((ev, p), set()).add(type(x).__name__)
        if p in doc.endpoints.get(ev, ()) and not isinstance(x, dict):
            problems.add(f"{ev}.{p}: endpoint {json.dumps(x)} is not an object")
        walk(x, p, ev, doc, seen, problems)


def compare(man, ndjson, trace, hard):
    doc = read_doc(man)
    emitted, problems = {}, set()
    for line in open(ndjson):
        if not line.startswith("{"):
            continue
        obj = json.loads(line)
        ev = obj.pop("event", None)
        if ev is None:
            problems.add(f"a line without \"event\": {line.strip()}")
            continue
        seen = emitted.setdefault(ev, set())
        walk(obj, "", ev, doc, seen, problems)
    for ev, seen in sorted(emitted.items()):
        if ev not in doc.paths:
            problems.add(f"{ev}: emitted, not documented in JSON EVENTS (fields {sorted(seen)})")
            continue
        allowed = doc.paths[ev] | {join(p, "*") for p in doc.open[ev]}
        allowed |= {join(e, k) for e in doc.endpoints[ev] for s in ENDPOINT_SHAPES for k in s}
        for p in sorted(seen - allowed):
            problems.add(f"{ev}.{p}: emitted, not documented")
    for ev, paths in sorted(doc.paths.items()):
        if trace == "0" and ev in TRACE_EVENTS:
            continue
        if ev not in emitted:
            problems.add(f"{ev}: documented, never emitted")
            continue
        for p in sorted(paths - emitted[ev]):
            if f"{ev}.{p}" not in hard:
                problems.add(f"{ev}.{p}: documented, never emitted")
    for (ev, p), ts in sorted(types.items()):
        if len(ts) > 1 and (ev, p) not in TYPE_BY_NAME:
            problems.add(f"{ev}.{p}: emitted as {' and '.join(sorted(ts))}: a field keeps one type")
    for h in hard:
        ev, _, p = h.partition(".")
        if p not in doc.paths.get(ev, ()):
            problems.add(f"{h}: in HARD but not documented (remove it from the list)")
    for p in sorted(problems):
        print(p)
    print(f"{len(emitted)} events emitted, {len(doc.paths)} documented, {len(problems)} problems")
    return 1 if problems else 0


def main():
    if sys.argv[1] == "show":
        doc = read_doc(sys.argv[2])
        for ev in doc.paths:
            print(f"{ev}: {' '.join(sorted(doc.paths[ev]))}"
                  f"{' open: ' + ' '.join(sorted(doc.open[ev])) if doc.open[ev] else ''}"
                  f"{' endpoints: ' + ' '.join(sorted(doc.endpoints[ev])) if doc.endpoints[ev] else ''}")
        return 0
    return compare(sys.argv[2], sys.argv[3], sys.argv[4], set(sys.argv[5:]))


if __name__ == "__main__":
    sys.exit(main())
