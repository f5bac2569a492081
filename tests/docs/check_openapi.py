#!/usr/bin/env python3
"""The admin API's OpenAPI document against the router's actual routes.

Fails unless docs/admin-api.openapi.yaml is an OpenAPI 3 document whose operations are
exactly the admin routes the server serves (every route documented, nothing documented that
is not served), each with a summary, its path parameters declared and its responses given,
and unless docs/http-api.md names every data-plane route.

usage: check_openapi.py PRINT_ROUTES_BINARY REPO_ROOT
"""
import re
import subprocess
import sys

import yaml

routes_binary, root = sys.argv[1], sys.argv[2]
served = [line.split(" ", 1) for line in
          subprocess.run([routes_binary], check=True, capture_output=True,
                         text=True).stdout.splitlines()]
problems = []

with open(f"{root}/docs/admin-api.openapi.yaml") as f:
    spec = yaml.safe_load(f)
if not str(spec.get("openapi", "")).startswith("3."):
    problems.append("docs/admin-api.openapi.yaml: 'openapi' must be 3.x")
def resolve(parameter):
    """A parameter object, following a local $ref ("#/components/parameters/model")."""
    ref = parameter.get("$ref")
    if not ref:
        return parameter
    node = spec
    for part in ref.lstrip("#/").split("/"):
        node = node.get(part, {})
    return node


documented = set()
for path, item in (spec.get("paths") or {}).items():
    for method, op in item.items():
        if method == "parameters":
            continue
        documented.add((method.upper(), path))
        where = f"{method.upper()} {path}"
        if not op.get("summary"):
            problems.append(f"{where}: no summary")
        if not op.get("responses"):
            problems.append(f"{where}: no responses")
        parameters = [resolve(p) for p in (item.get("parameters") or []) + (op.get("parameters") or [])]
        declared = {p.get("name") for p in parameters if p.get("in") == "path"}
        for name in re.findall(r"\{(\w+)\}", path):
            if name not in declared:
                problems.append(f"{where}: path parameter {{{name}}} is not declared")

admin = {(m, p) for m, p in served if p.startswith("/admin/")}
for m, p in sorted(admin - documented):
    problems.append(f"served but not in docs/admin-api.openapi.yaml: {m} {p}")
for m, p in sorted(documented - admin):
    problems.append(f"in docs/admin-api.openapi.yaml but not served: {m} {p}")

with open(f"{root}/docs/http-api.md") as f:
    http_doc = f.read()
for m, p in served:
    if p.startswith("/v2") and f"`{m} {p}`" not in http_doc:
        problems.append(f"docs/http-api.md does not name `{m} {p}`")

for problem in problems:
    print(problem, file=sys.stderr)
print(f"check_openapi: {len(admin)} admin routes, {len(served) - len(admin)} data-plane "
      f"routes, {len(problems)} problems")
sys.exit(1 if problems else 0)
