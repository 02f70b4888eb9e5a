#!/usr/bin/env python3
"""Keeps docs/openapi.yaml honest.

    check_openapi.py [--spec docs/openapi.yaml] [--routes FILE] [--url http://127.0.0.1:PORT]

Always: loads the spec and checks its structure (every operation has responses and a unique
operationId, every $ref resolves, every request body has a JSON schema, path parameters are
declared, schemas use only the keywords this checker understands, every 4xx/5xx response of
an implemented operation uses the Error schema and names its `codes` in its description).

--routes FILE: FILE holds one "METHOD /pattern" per line (the secure app's router). The
operations of the secure app in the spec (every operation not tagged "read") must be
exactly these routes; the differences are printed both ways.

--url URL: sends an unauthenticated request to every secure operation (path parameters
become their example or 1, bodies are `{}`) and checks that the status is one the
operation documents, that the headers the spec marks required are there, and that the body
matches the documented schema: the Error schema for errors, with a `code` the response's
description names.

Exit status 0 when everything holds, 1 with a list of problems otherwise, 2 on bad usage.
Needs only python3 and PyYAML (Debian: python3-yaml).
"""

import argparse
import json
import os
import re
import sys
import urllib.error
import urllib.parse
import urllib.request

try:
    import yaml
except ImportError:  # pragma: no cover
    sys.stderr.write("check_openapi: PyYAML is missing (apt-get install python3-yaml)\n")
    sys.exit(2)

METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
UNSAFE = ("post", "put", "patch", "delete")
SCHEMA_KEYWORDS = {
    "type", "format", "description", "enum", "required", "properties", "additionalProperties",
    "items", "nullable", "minimum", "maximum", "minLength", "maxLength", "pattern", "default",
    "example", "allOf", "oneOf", "anyOf", "$ref", "minItems", "maxItems", "minProperties",
    "maxProperties", "readOnly", "writeOnly", "title", "deprecated",
}
ERROR_REF = "#/components/schemas/Error"
CODE_RE = re.compile(r"`([a-z][a-z0-9_]*)`")


class Spec:
    def __init__(self, path):
        with open(path, encoding="utf-8") as f:
            self.doc = yaml.safe_load(f)
        self.problems = []

    def problem(self, msg):
        self.problems.append(msg)

    def resolve_ref(self, ref):
        if not isinstance(ref, str) or not ref.startswith("#/"):
            raise KeyError(ref)
        node = self.doc
        for part in ref[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(node, dict) or part not in node:
                raise KeyError(ref)
            node = node[part]
        return node

    def deref(self, node):
        seen = set()
        while isinstance(node, dict) and "$ref" in node:
            ref = node["$ref"]
            if ref in seen:
                raise KeyError("cycle at " + ref)
            seen.add(ref)
            node = self.resolve_ref(ref)
        return node

    # Operations: (method, path, operation dict, path item dict).
    def operations(self):
        for path, item in (self.doc.get("paths") or {}).items():
            for method in METHODS:
                if isinstance(item, dict) and method in item:
                    yield method, path, item[method], item

    @staticmethod
    def is_secure(op):
        return "read" not in (op.get("tags") or []) and op.get("x-implemented", True) is not False


# ---------------------------------------------------------------- structure


def check_structure(spec):
    doc = spec.doc
    if not isinstance(doc, dict):
        spec.problem("the spec is not a YAML mapping")
        return
    if not str(doc.get("openapi", "")).startswith("3.0"):
        spec.problem("openapi must be 3.0.x, not %r" % doc.get("openapi"))
    for key in ("info", "paths", "components"):
        if key not in doc:
            spec.problem("missing top-level '%s'" % key)

    # Every $ref anywhere resolves.
    def walk(node, where):
        if isinstance(node, dict):
            if "$ref" in node:
                try:
                    spec.resolve_ref(node["$ref"])
                except KeyError:
                    spec.problem("%s: $ref %r does not resolve" % (where, node["$ref"]))
            for k, v in node.items():
                walk(v, "%s/%s" % (where, k))
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, "%s/%d" % (where, i))

    walk(doc, "#")

    # Schemas use only known keywords (a typo or a stray YAML key shows up here).
    def walk_schema(schema, where):
        if not isinstance(schema, dict):
            spec.problem("%s: a schema must be a mapping" % where)
            return
        for k in schema:
            if k not in SCHEMA_KEYWORDS and not str(k).startswith("x-"):
                spec.problem("%s: unknown schema keyword %r" % (where, k))
        for k, v in (schema.get("properties") or {}).items():
            walk_schema(v, "%s/properties/%s" % (where, k))
        if isinstance(schema.get("additionalProperties"), dict):
            walk_schema(schema["additionalProperties"], where + "/additionalProperties")
        if "items" in schema:
            walk_schema(schema["items"], where + "/items")
        for k in ("allOf", "oneOf", "anyOf"):
            for i, s in enumerate(schema.get(k) or []):
                walk_schema(s, "%s/%s/%d" % (where, k, i))
        for r in schema.get("required") or []:
            props = set((schema.get("properties") or {}).keys())
            if props and r not in props:
                spec.problem("%s: required %r is not a property" % (where, r))

    for name, schema in ((doc.get("components") or {}).get("schemas") or {}).items():
        walk_schema(schema, "#/components/schemas/" + name)

    op_ids = {}
    for method, path, op, item in spec.operations():
        where = "%s %s" % (method.upper(), path)
        if not isinstance(op, dict):
            spec.problem(where + ": not a mapping")
            continue
        oid = op.get("operationId")
        if not oid:
            spec.problem(where + ": no operationId")
        elif oid in op_ids:
            spec.problem("%s: operationId %r also used by %s" % (where, oid, op_ids[oid]))
        else:
            op_ids[oid] = where
        if not op.get("tags"):
            spec.problem(where + ": no tags")
        responses = op.get("responses")
        if not isinstance(responses, dict) or not responses:
            spec.problem(where + ": no responses")
            responses = {}
        if not any(str(s).startswith("2") or str(s).startswith("3") for s in responses):
            spec.problem(where + ": no success response")
        # Path parameters: each {name} declared (at path or operation level), and no others.
        params = []
        for p in list(item.get("parameters") or []) + list(op.get("parameters") or []):
            try:
                params.append(spec.deref(p))
            except KeyError:
                pass  # reported by the $ref walk
        declared = {p.get("name") for p in params if p.get("in") == "path"}
        in_path = set(re.findall(r"{([^}]+)}", path))
        for name in sorted(in_path - declared):
            spec.problem("%s: path parameter {%s} is not declared" % (where, name))
        for name in sorted(declared - in_path):
            spec.problem("%s: declares path parameter %r that is not in the path" % (where, name))
        for p in params:
            if p.get("in") == "path" and p.get("required") is not True:
                spec.problem("%s: path parameter %r must be required" % (where, p.get("name")))
            if "schema" not in p:
                spec.problem("%s: parameter %r has no schema" % (where, p.get("name")))
        # Request body: a JSON schema.
        if "requestBody" in op:
            try:
                body = spec.deref(op["requestBody"])
                schema = ((body.get("content") or {}).get("application/json") or {}).get("schema")
                if not schema:
                    spec.problem(where + ": requestBody has no application/json schema")
                elif method in ("get", "delete", "head"):
                    spec.problem(where + ": a %s with a request body" % method.upper())
            except KeyError:
                pass
        # Security: stated on every operation (empty list = public).
        if "security" not in op and "security" not in spec.doc:
            spec.problem(where + ": no security requirement (use [] for public operations)")
        for req in op.get("security") or []:
            for scheme in req:
                if scheme not in ((doc.get("components") or {}).get("securitySchemes") or {}):
                    spec.problem("%s: unknown security scheme %r" % (where, scheme))
        # Responses.
        for status, resp in responses.items():
            s = str(status)
            if not re.fullmatch(r"[1-5][0-9][0-9]|default", s):
                spec.problem("%s: response key %r is not a status" % (where, status))
                continue
            try:
                resp = spec.deref(resp)
            except KeyError:
                continue
            if "description" not in resp:
                spec.problem("%s %s: no description" % (where, s))
            if not spec.is_secure(op):
                continue
            if s >= "400" and s != "default":
                schema = ((resp.get("content") or {}).get("application/json") or {}).get("schema")
                if not schema or schema.get("$ref") != ERROR_REF:
                    spec.problem("%s %s: an error response must use %s" % (where, s, ERROR_REF))
                if not CODE_RE.findall(resp.get("description", "")):
                    spec.problem("%s %s: the description names no `code`" % (where, s))
            if s in ("429", "503") and "Retry-After" not in (resp.get("headers") or {}):
                spec.problem("%s %s: must document Retry-After" % (where, s))
            if (method in UNSAFE and s.startswith("2")
                    and "X-Taquilla-LSN" not in (resp.get("headers") or {})):
                spec.problem("%s %s: a successful write must document X-Taquilla-LSN" % (where, s))


# ---------------------------------------------------------------- routes


def normalize_route(line):
    parts = line.split()
    if len(parts) != 2:
        return None
    return "%s %s" % (parts[0].upper(), parts[1])


def check_routes(spec, routes_file):
    routes = set()
    with open(routes_file, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            r = normalize_route(line)
            if r is None:
                spec.problem("%s:%d: not 'METHOD /pattern': %r" % (routes_file, n, line))
            else:
                routes.add(r)
    documented = {"%s %s" % (m.upper(), p) for m, p, op, _ in spec.operations()
                  if spec.is_secure(op)}
    missing = sorted(routes - documented)
    extra = sorted(documented - routes)
    for r in missing:
        spec.problem("route not in the spec: " + r)
    for r in extra:
        spec.problem("spec operation the server does not route: " + r)
    return len(routes), len(documented)


# ---------------------------------------------------------------- schemas


def validate(spec, schema, value, where, errors):
    """A small validator for the OpenAPI 3.0 schema subset the spec uses."""
    try:
        schema = spec.deref(schema)
    except KeyError as e:
        errors.append("%s: unresolvable schema %s" % (where, e))
        return
    if value is None:
        if schema.get("nullable") or not schema:
            return
        # allOf with a nullable wrapper is handled by the wrapper's own nullable.
        errors.append("%s: null is not allowed" % where)
        return
    for sub in schema.get("allOf") or []:
        validate(spec, sub, value, where, errors)
    for key in ("oneOf", "anyOf"):
        if key in schema:
            ok = 0
            for sub in schema[key]:
                e = []
                validate(spec, sub, value, where, e)
                ok += not e
            if (key == "oneOf" and ok != 1) or (key == "anyOf" and ok == 0):
                errors.append("%s: matches %d of the %s alternatives" % (where, ok, key))
    t = schema.get("type")
    checks = {
        "object": lambda v: isinstance(v, dict),
        "array": lambda v: isinstance(v, list),
        "string": lambda v: isinstance(v, str),
        "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
        "boolean": lambda v: isinstance(v, bool),
    }
    if t and not checks[t](value):
        errors.append("%s: %r is not of type %s" % (where, value, t))
        return
    if "enum" in schema and value not in schema["enum"]:
        errors.append("%s: %r is not one of %s" % (where, value, schema["enum"]))
    if isinstance(value, str):
        if "minLength" in schema and len(value) < schema["minLength"]:
            errors.append("%s: shorter than %d" % (where, schema["minLength"]))
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            errors.append("%s: longer than %d" % (where, schema["maxLength"]))
        if "pattern" in schema and not re.search(schema["pattern"], value):
            errors.append("%s: %r does not match %s" % (where, value, schema["pattern"]))
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            errors.append("%s: %r is below %r" % (where, value, schema["minimum"]))
        if "maximum" in schema and value > schema["maximum"]:
            errors.append("%s: %r is above %r" % (where, value, schema["maximum"]))
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        for r in schema.get("required") or []:
            if r not in value:
                errors.append("%s: required property %r is missing" % (where, r))
        extra = schema.get("additionalProperties", True)
        for k, v in value.items():
            if k in props:
                validate(spec, props[k], v, "%s.%s" % (where, k), errors)
            elif extra is False:
                errors.append("%s: property %r is not in the schema" % (where, k))
            elif isinstance(extra, dict):
                validate(spec, extra, v, "%s.%s" % (where, k), errors)
    if isinstance(value, list) and "items" in schema:
        for i, v in enumerate(value):
            validate(spec, schema["items"], v, "%s[%d]" % (where, i), errors)


# ---------------------------------------------------------------- live server


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def send(base, method, path, body):
    data = None
    headers = {"Accept": "application/json", "User-Agent": "check_openapi"}
    if body is not None:
        data = body.encode("utf-8")
        headers["Content-Type"] = "application/json"
    req = urllib.request.Request(base + path, data=data, method=method, headers=headers)
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(req, timeout=30) as res:
            return res.status, dict(res.headers.items()), res.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers.items()), e.read()


def concrete_path(spec, path, op, item):
    params = {}
    for p in list(item.get("parameters") or []) + list(op.get("parameters") or []):
        p = spec.deref(p)
        if p.get("in") == "path":
            ex = p.get("example", (p.get("schema") or {}).get("example", 1))
            params[p["name"]] = str(ex)
    return re.sub(r"{([^}]+)}", lambda m: params.get(m.group(1), "1"), path)


def check_response(spec, where, responses, status, headers, raw):
    """Checks one answer against the operation's documented responses."""
    doc = responses.get(str(status), responses.get("default"))
    if doc is None:
        spec.problem("%s: answered %d, which the spec does not document (documented: %s); "
                     "body: %s" % (where, status, ", ".join(sorted(map(str, responses))),
                                   raw[:300].decode("utf-8", "replace")))
        return
    doc = spec.deref(doc)
    lower = {k.lower(): v for k, v in headers.items()}
    for name, h in (doc.get("headers") or {}).items():
        h = spec.deref(h)
        if h.get("required") and name.lower() not in lower:
            spec.problem("%s: %d lacks the header %s" % (where, status, name))
        elif name.lower() in lower and "schema" in h:
            v = lower[name.lower()]
            if (h["schema"].get("type") == "integer"):
                v = int(v) if re.fullmatch(r"[0-9]+", v) else v
            errs = []
            validate(spec, h["schema"], v, "%s header %s" % (where, name), errs)
            for e in errs:
                spec.problem(e)
    content = doc.get("content") or {}
    if not content:
        if raw:
            spec.problem("%s: %d documents no body but has %d bytes" % (where, status, len(raw)))
        return
    schema = (content.get("application/json") or {}).get("schema")
    if schema is None:
        return
    ctype = lower.get("content-type", "")
    if not ctype.startswith("application/json"):
        spec.problem("%s: %d has Content-Type %r, not JSON" % (where, status, ctype))
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        spec.problem("%s: %d body is not JSON (%s): %r" % (where, status, e, raw[:200]))
        return
    errs = []
    validate(spec, schema, body, "%s %d body" % (where, status), errs)
    for e in errs:
        spec.problem(e)
    if status >= 400:
        err_errs = []
        validate(spec, {"$ref": ERROR_REF}, body, "%s %d body" % (where, status), err_errs)
        for e in err_errs:
            if e not in errs:
                spec.problem(e)
        if not err_errs:
            code = body["error"]["code"]
            codes = CODE_RE.findall(doc.get("description", ""))
            if code not in codes:
                spec.problem("%s: %d code %r is not among the documented %s" %
                             (where, status, code, codes))


def check_live(spec, base):
    base = base.rstrip("/")
    count = 0
    for method, path, op, item in spec.operations():
        if not spec.is_secure(op):
            continue
        target = concrete_path(spec, path, op, item)
        body = "{}" if "requestBody" in op else None
        where = "%s %s" % (method.upper(), target)
        try:
            status, headers, raw = send(base, method.upper(), target, body)
        except OSError as e:
            spec.problem("%s: no answer: %s" % (where, e))
            continue
        count += 1
        check_response(spec, where, op.get("responses") or {}, status, headers, raw)
    # Paths and methods the spec does not have answer with the documented error shape.
    for method, path, expect in (("GET", "/api/v1/no-such-thing", 404),
                                 ("PUT", "/healthz", 405)):
        status, headers, raw = send(base, method, path, None)
        where = "%s %s" % (method, path)
        count += 1
        if status != expect:
            spec.problem("%s: answered %d, not %d" % (where, status, expect))
            continue
        errs = []
        try:
            validate(spec, {"$ref": ERROR_REF}, json.loads(raw), where, errs)
        except ValueError:
            errs.append("%s: body is not JSON" % where)
        for e in errs:
            spec.problem(e)
    return count


def check_read_live(spec, base):
    """Every read operation against a running read server: first with the spec's example
    parameters (an unknown id is a documented 404), then with real ids from its lists."""
    base = base.rstrip("/")
    count = 0

    def call(op, target):
        nonlocal count
        where = "GET %s" % target
        try:
            status, headers, raw = send(base, "GET", target, None)
        except OSError as e:
            spec.problem("%s: no answer: %s" % (where, e))
            return None, None
        count += 1
        check_response(spec, where, op.get("responses") or {}, status, headers, raw)
        return status, raw

    ops = {}
    for method, path, op, item in spec.operations():
        if "read" not in (op.get("tags") or []) or method != "get":
            continue
        ops[path] = op
        call(op, concrete_path(spec, path, op, item))
    # Real documents: an event of a site, its venue and performers, a search.
    status, raw = send(base, "GET", "/api/v1/sites/es/events?per_page=3", None)[0::2]
    items = json.loads(raw).get("items", []) if status == 200 else []
    if not items:
        spec.problem("GET /api/v1/sites/es/events: no events to check documents with")
        return count
    ev = items[0]
    for path, target in (
            ("/api/v1/sites/{site}/events/{id}", "/api/v1/sites/es/events/%d" % ev["id"]),
            ("/api/v1/sites/{site}/venues/{id}", "/api/v1/sites/es/venues/%d" % ev["venue"]["id"]),
            ("/api/v1/sites/{site}/search", "/api/v1/sites/es/search?q=%s&per_page=5" %
             urllib.parse.quote(ev["title"].split()[0])),
            ("/api/v1/sites/{site}/events", "/api/v1/sites/es/events?sort=price&per_page=5"),
            ("/api/v1/sites/{site}/categories", "/api/v1/sites/es/categories?lang=es")):
        if path not in ops:
            spec.problem("the spec has no read operation %s" % path)
            continue
        got, body = call(ops[path], target)
        if got != 200:
            spec.problem("GET %s: answered %s, not 200" % (target, got))
        if path.endswith("/events/{id}") and got == 200:
            for perf in json.loads(body).get("performers", [])[:1]:
                call(ops["/api/v1/sites/{site}/performers/{id}"],
                     "/api/v1/sites/es/performers/%d" % perf["id"])
    return count


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--spec", default=os.path.join(here, "..", "..", "docs", "openapi.yaml"))
    ap.add_argument("--routes", help="file of 'METHOD /pattern' lines the server routes")
    ap.add_argument("--url", help="base URL of a running secure app")
    ap.add_argument("--read-url", help="base URL of a running read server")
    args = ap.parse_args()

    try:
        spec = Spec(args.spec)
    except (OSError, yaml.YAMLError) as e:
        print("check_openapi: cannot load %s: %s" % (args.spec, e))
        return 1
    check_structure(spec)
    structural = len(spec.problems)
    ops = sum(1 for _ in spec.operations())
    secure = sum(1 for _, _, op, _ in spec.operations() if spec.is_secure(op))
    print("spec: %d operations (%d of the secure app)" % (ops, secure))
    if args.routes:
        n, d = check_routes(spec, args.routes)
        print("routes: %d routed, %d documented" % (n, d))
    if args.url and not structural:
        n = check_live(spec, args.url)
        print("live: %d requests to %s" % (n, args.url))
    elif args.url:
        print("live: skipped until the spec's own problems are fixed")
    if args.read_url and not structural:
        n = check_read_live(spec, args.read_url)
        print("read: %d requests to %s" % (n, args.read_url))
    if spec.problems:
        print("%d problem(s):" % len(spec.problems))
        for p in spec.problems:
            print("  - " + p)
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
